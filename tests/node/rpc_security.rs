//! What a web page can make a browser do to a node on localhost: a cross-site POST or
//! WebSocket carries the page's `Origin`, a DNS-rebinding request carries the attacker's name
//! in `Host`. Both are refused with 403 (issue 14, item 3), while requests from localhost
//! pages and from programs that send no Origin go on working.

use super::*;

const ATTACKER: &str = "http://attacker.example";

fn mint_request(to: &str, amount: u64) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "admin_mintFaucet", "params": [to, amount]}).to_string().into_bytes()
}

/// A JSON-RPC POST with this `Host` and, if given, an `Origin`.
fn post_with(port: u16, host: &str, origin: Option<&str>, body: Vec<u8>) -> HttpResponse {
    let mut headers = vec![("host", host), ("content-type", "application/json")];
    headers.extend(origin.map(|o| ("origin", o)));
    http_send(port, None, http_request(port, "POST", "/", &headers, body))
}

/// A WebSocket upgrade request from a page at `origin`; only the refusal has a body to read.
fn ws_upgrade(port: u16, origin: &str) -> HttpResponse {
    let headers = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("origin", origin),
    ];
    http_send(port, None, http_request(port, "GET", "/", &headers, Vec::new()))
}

fn ws_client_with_origin(
    rt: &tokio::runtime::Runtime,
    port: u16,
    origin: &str,
) -> Result<jsonrpsee::ws_client::WsClient, jsonrpsee::core::client::Error> {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::ORIGIN, http::HeaderValue::from_str(origin).expect("origin header"));
    rt.block_on(
        jsonrpsee::ws_client::WsClientBuilder::default().set_headers(headers).build(format!("ws://127.0.0.1:{port}")),
    )
}

fn assert_forbidden(r: &HttpResponse, flag: &str, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.text());
    assert!(r.text().contains(flag), "{what}: the refusal names {flag}: {}", r.text());
}

#[test]
fn foreign_origins_and_hosts_are_refused_and_localhost_pages_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let port = node.port;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let victim = addr(&Keypair::from_secret([41u8; 32]));
    let rebound = addr(&Keypair::from_secret([42u8; 32]));
    let local = format!("http://localhost:{port}");

    // A cross-site POST and a WebSocket from the attacker's page, and a rebinding POST.
    let host = format!("127.0.0.1:{port}");
    let r = post_with(port, &host, Some(ATTACKER), mint_request(&victim, 1000));
    assert_forbidden(&r, "--rpc-cors", "POST from a foreign origin");
    assert!(r.header("access-control-allow-origin").is_none(), "{r:?}");
    assert_forbidden(&ws_upgrade(port, ATTACKER), "--rpc-cors", "WebSocket from a foreign origin");
    let err = ws_client_with_origin(&rt, port, ATTACKER).expect_err("the WebSocket client is refused");
    assert!(err.to_string().contains("403"), "{err}");
    let r = post_with(port, &format!("attacker.example:{port}"), None, mint_request(&rebound, 1000));
    assert_forbidden(&r, "--rpc-allowed-hosts", "POST with a foreign Host");
    let r = post_with(port, &format!("attacker.example:{port}"), Some(&local), mint_request(&rebound, 1));
    assert_forbidden(&r, "--rpc-allowed-hosts", "a localhost Origin does not excuse a foreign Host");

    // A preflight from a localhost page is answered, and its POST works and may be read.
    let localhost = format!("localhost:{port}");
    let preflight = [
        ("host", localhost.as_str()),
        ("origin", local.as_str()),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let r = http_send(port, None, http_request(port, "OPTIONS", "/", &preflight, Vec::new()));
    assert!(r.status == 200 || r.status == 204, "preflight: {r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(local.as_str()), "{r:?}");
    assert!(r.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")), "{r:?}");
    assert!(r.header("access-control-allow-headers").is_some_and(|h| h.contains("content-type")), "{r:?}");
    let fresh = addr(&Keypair::from_secret([43u8; 32]));
    let r = post_with(port, &localhost, Some(&local), mint_request(&fresh, 700));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(local.as_str()), "{r:?}");
    let h1 = r.json()["result"]["txHash"].as_str().unwrap_or_else(|| panic!("{}", r.text())).to_string();

    // A WebSocket from a localhost page works, unsafe methods included.
    let client = ws_client_with_origin(&rt, port, &local).expect("a localhost page may open a WebSocket");
    let r: Value = rt
        .block_on(jsonrpsee::core::client::ClientT::request(
            &client,
            "admin_mintFaucet",
            jsonrpsee::rpc_params![fresh.clone(), 300],
        ))
        .expect("admin_mintFaucet over WebSocket");
    let h2 = r["txHash"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();

    // No Origin at all (curl, the CLI) works as before.
    let h3 = call(port, "admin_mintFaucet", json!([fresh, 5]))["txHash"].as_str().unwrap().to_string();
    for h in [&h1, &h2, &h3] {
        node.wait_included(h);
    }
    assert_eq!(node.account(&fresh).0, 1005);
    // The faucet signs drips in the order it takes them, so the refused ones, had they been
    // taken, would be in blocks by now.
    assert_eq!(node.account(&victim), (0, 0), "the cross-site mint moved nothing");
    assert_eq!(node.account(&rebound), (0, 0), "the rebinding mint moved nothing");
}

#[test]
fn rpc_cors_all_admits_a_foreign_page_but_not_to_unsafe_methods() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = ["--dev", "--rpc-cors", "all", "--rpc-allowed-hosts", "node.example"];
    let node = Node::spawn(dir.path(), &flags, &[]);
    let port = node.port;
    let host = format!("127.0.0.1:{port}");
    let origin = Some(ATTACKER);

    let get_head = json!({"jsonrpc": "2.0", "id": 1, "method": "chain_getHead", "params": []}).to_string();
    let r = post_with(port, &host, origin, get_head.into_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ATTACKER), "{r:?}");
    assert!(r.json()["result"]["height"].is_u64(), "{}", r.text());

    // The page is let in, but an unsafe method never answers it.
    let victim = addr(&Keypair::from_secret([44u8; 32]));
    let r = post_with(port, &host, origin, mint_request(&victim, 1000));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], 1020, "{}", r.text());
    // --rpc-cors does not open the host check; a listed name passes it.
    let r = post_with(port, "attacker.example", origin, mint_request(&victim, 1000));
    assert_forbidden(&r, "--rpc-allowed-hosts", "foreign Host with --rpc-cors all");
    let get_head = json!({"jsonrpc": "2.0", "id": 2, "method": "chain_getHead", "params": []}).to_string();
    let r = post_with(port, &format!("node.example:{port}"), None, get_head.into_bytes());
    assert_eq!(r.status, 200, "a listed host: {}", r.text());
}
