//! RPC abuse from one address (issue 14, items 1 and 2): a WebSocket that sends calls and never
//! reads the replies, idle WebSockets that would take every connection slot, and call floods.
//! Other addresses are simulated by binding the client's end to 127.0.0.2 (the server still
//! listens on 127.0.0.1 only).

use super::*;

/// A TCP connection to the node from `source` (an address on the loopback interface).
fn connect_from(source: &str, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{source}:0").parse().expect("source address")).expect("bind the client's end");
        // A fixed, small window: the kernel does not buffer megabytes of unread replies.
        sock.set_recv_buffer_size(64 << 10).expect("receive buffer");
        sock.connect(([127, 0, 0, 1], port).into()).await.expect("connect")
    });
    let s = s.into_std().expect("std stream");
    s.set_nonblocking(false).expect("blocking");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
    s
}

/// Reads up to the end of an HTTP response head; returns the status and what was read.
fn read_head(s: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while find(&raw, b"\r\n\r\n").is_none() {
        match s.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A WebSocket handshake on `s`; the response's status (101 when upgraded).
fn upgrade(s: &mut TcpStream, port: u16) -> (u16, String) {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write handshake");
    read_head(s)
}

/// One masked WebSocket text frame, as a client sends it.
fn ws_text(text: &str) -> Vec<u8> {
    let p = text.as_bytes();
    let mut f = vec![0x81];
    if p.len() < 126 {
        f.push(0x80 | p.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(p.len() as u16).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    f.extend_from_slice(&mask);
    f.extend(p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// A whole HTTP exchange (`Connection: close`) written raw over `s`: for a connection the node
/// may refuse past its per-address cap, where the 429 comes before the request is read.
fn post_raw_over(mut s: TcpStream, port: u16, body: &str) -> HttpResponse {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw, true).unwrap_or_else(|| panic!("no HTTP response: {}", String::from_utf8_lossy(&raw)))
}

/// A JSON POST over `s` (hyper's client on an already connected socket).
fn post_over(s: TcpStream, port: u16, body: &str) -> HttpResponse {
    let req = http_request(port, "POST", "/", &[("content-type", "application/json")], body.as_bytes().to_vec());
    http_send(port, Some(s), req)
}

const GET_HEAD: &str = r#"{"jsonrpc":"2.0","id":1,"method":"chain_getHead","params":[]}"#;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in kB")
}

/// The node's refusal count for `reason`, read from 127.0.0.3: 127.0.0.1 may be at its cap
/// (a connection just closed by the client can still hold its slot for a moment).
fn refused(node: &Node, reason: &str) -> u64 {
    let s = connect_from("127.0.0.3", node.port);
    let m = http_send(node.port, Some(s), http_request(node.port, "GET", "/metrics", &[], Vec::new())).text();
    let line = format!("ergon_rpc_refused_total{{reason=\"{reason}\"}} ");
    let at = m.lines().find_map(|l| l.strip_prefix(line.as_str())).unwrap_or_else(|| panic!("no {line} in {m}"));
    at.trim().parse().expect("a count")
}

/// One `chain_getHead` from 127.0.0.2 (another client than the attacker at 127.0.0.1), over a
/// fresh connection with hyper's client; its round trip in milliseconds.
fn other_client_ms(port: u16) -> f64 {
    let started = Instant::now();
    let r = post_over(connect_from("127.0.0.2", port), port, GET_HEAD);
    let ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(r.status == 200 && r.json()["result"]["height"].is_u64(), "another client is served: {}", r.text());
    ms
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "no samples");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// 200,000 calls on one WebSocket whose replies are never read used to grow the node by
/// hundreds of MiB (every reply queued). Now the node stops reading that socket while its
/// replies cannot be written: the sender is pushed back by TCP, the node grows by little, and
/// other clients are answered meanwhile, about as fast as without the attack. Their latency
/// is compared with a baseline taken in the same test (before the attack and after it ends,
/// the larger), never with a fixed time, so a slow or busy machine moves both.
#[test]
fn a_websocket_that_never_reads_its_replies_is_held_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let (pid, port) = (node.child.0.id(), node.port);
    node.call("chain_getBlock", json!([0]));
    let before = rss_kib(pid);
    let baseline_before = median((0..30).map(|_| other_client_ms(port)).collect());

    let mut ws = connect_from("127.0.0.1", port);
    let (status, head) = upgrade(&mut ws, port);
    assert_eq!(status, 101, "{head}");
    ws.set_write_timeout(Some(Duration::from_secs(3))).expect("write timeout");
    // Another client calls all the while the attacker writes.
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let meanwhile = {
        let writing = writing.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            // Paced well under --rpc-rate-limit (1,000 calls a second per address).
            while writing.load(std::sync::atomic::Ordering::Relaxed) || samples.is_empty() {
                samples.push(other_client_ms(port));
                std::thread::sleep(Duration::from_millis(5));
            }
            samples
        })
    };
    // Padded (JSON allows the spaces) so that TCP's buffers hold few calls once it stops reading.
    let pad = " ".repeat(1000);
    let mut sent = 0u32;
    let mut batch = Vec::new();
    while sent < 200_000 {
        batch.clear();
        for i in 0..100 {
            let call = format!(r#"{{"jsonrpc":"2.0","id":{},"method":"chain_getBlock","params":[0]{pad}}}"#, sent + i);
            batch.extend_from_slice(&ws_text(&call));
        }
        if ws.write_all(&batch).is_err() {
            break; // held back: the node stopped reading
        }
        sent += 100;
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let while_writing = meanwhile.join().expect("the other client");
    // The attack goes on (the socket open, its replies unread): others are served as before.
    let held_back = median((0..30).map(|_| other_client_ms(port)).collect());
    let grown_mib = rss_kib(pid).saturating_sub(before) / 1024;
    drop(ws);
    assert!(node.call("chain_getHead", json!([]))["height"].as_u64().is_some(), "the node is up");
    let baseline = baseline_before.max(median((0..30).map(|_| other_client_ms(port)).collect()));
    let writing_median = median(while_writing.clone());
    eprintln!(
        "sent {sent} calls before the node pushed back; RSS grew {grown_mib} MiB; another client's median \
         round trip: {baseline:.2} ms without the attack, {writing_median:.2} ms while the attacker wrote \
         ({} calls), {held_back:.2} ms while it was held back",
        while_writing.len()
    );
    assert!(sent < 200_000, "the node read all 200,000 calls of a client that reads no replies");
    assert!(grown_mib < 50, "RSS grew {grown_mib} MiB (sent {sent} calls)");
    assert!(
        held_back <= 5.0 * baseline,
        "another client's median round trip {held_back:.2} ms under the attack, over 5x the {baseline:.2} ms without"
    );
    assert!(
        writing_median <= 10.0 * baseline,
        "another client's median round trip {writing_median:.2} ms while the attacker wrote, over 10x the \
         {baseline:.2} ms without"
    );
}

/// One address may hold `--rpc-max-connections-per-ip` connections; the next gets 429 naming
/// the flag, while other addresses are served. WebSockets draw on their own capacity, so idle
/// WebSockets never starve HTTP; past `--rpc-max-ws-connections` an upgrade gets 503.
#[test]
fn connections_per_address_are_capped_and_websockets_do_not_starve_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--dev", "--rpc-max-connections-per-ip", "4", "--rpc-max-ws-connections", "6"];
    let node = Node::spawn(dir.path(), &args, &[]);
    let port = node.port;
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect_from("127.0.0.1", port);
            let (status, head) = upgrade(&mut s, port);
            assert_eq!(status, 101, "{head}");
            s
        })
        .collect();

    // The fifth from 127.0.0.1 is refused before HTTP; 127.0.0.2 is served.
    let r = post_raw_over(connect_from("127.0.0.1", port), port, GET_HEAD);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("--rpc-max-connections-per-ip"), "{}", r.text());
    let r = post_over(connect_from("127.0.0.2", port), port, GET_HEAD);
    assert_eq!(r.status, 200, "{}", r.text());

    // Two more WebSockets fill the six; the seventh gets 503, HTTP still works.
    for _ in 0..2 {
        let mut s = connect_from("127.0.0.2", port);
        let (status, head) = upgrade(&mut s, port);
        assert_eq!(status, 101, "{head}");
        idle.push(s);
    }
    let (status, head) = upgrade(&mut connect_from("127.0.0.2", port), port);
    assert_eq!(status, 503, "{head}");
    let r = post_over(connect_from("127.0.0.2", port), port, GET_HEAD);
    assert_eq!(r.status, 200, "HTTP is not starved by WebSockets: {}", r.text());

    // A closed connection gives its address's slot back.
    drop(idle.remove(0));
    wait_for("127.0.0.1 to be served again", PROGRESS, || {
        (post_raw_over(connect_from("127.0.0.1", port), port, GET_HEAD).status == 200).then_some(())
    });
    assert!(refused(&node, "per-ip") >= 1);
    assert!(refused(&node, "ws-full") >= 1);
}

/// Calls beyond `--rpc-rate-limit` per second from one address (a batch counts each call)
/// get error 1022 naming the flag; another address has its own budget, and the first gets
/// calls through again once its bucket refills.
#[test]
fn calls_over_the_rate_limit_get_their_own_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::spawn(dir.path(), &["--dev", "--rpc-rate-limit", "5"], &[]);
    let port = node.port;
    let batch = |n: usize| {
        let calls: Vec<Value> =
            (0..n).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "chain_getHead", "params": []})).collect();
        Value::Array(calls).to_string()
    };
    // A burst of twice the rate passes; the same again right after is refused as a whole.
    let ok = post_over(connect_from("127.0.0.1", port), port, &batch(10)).json();
    assert!(ok.as_array().is_some_and(|a| a.len() == 10 && a.iter().all(|r| r.get("result").is_some())), "{ok}");
    let no = post_over(connect_from("127.0.0.1", port), port, &batch(10)).json();
    assert_eq!(no["error"]["code"], 1022, "{no}");
    assert!(no["error"]["message"].as_str().is_some_and(|m| m.contains("--rpc-rate-limit")), "{no}");
    let other = post_over(connect_from("127.0.0.2", port), port, GET_HEAD).json();
    assert!(other.get("result").is_some(), "another address has its own budget: {other}");
    wait_for("the bucket to refill", PROGRESS, || {
        let r = post_over(connect_from("127.0.0.1", port), port, GET_HEAD).json();
        r.get("result").is_some().then_some(())
    });
    assert!(refused(&node, "rate-limited") >= 1);
}

/// Small edges (issue 14, item 10): a subscription called over HTTP says it needs a
/// WebSocket, and a tx whose field has the wrong type names the field.
#[test]
fn a_subscription_over_http_and_a_mistyped_field_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let (code, msg) = node.call_err("chain_subscribeNewHeads", json!([]));
    assert_eq!(code, 1023, "{msg}");
    assert!(msg.contains("chain_subscribeNewHeads") && msg.contains("WebSocket"), "{msg}");
    let tx = json!({"type": "TRANSFER", "nonce": "1", "payload": {"to": BOB, "amount": "1"}});
    let (code, msg) = node.call_err("tx_send", json!([tx]));
    assert_eq!(code, 1000, "{msg}");
    assert!(msg.contains("nonce") && msg.contains("invalid type"), "the error names the field: {msg}");
    let tx = json!({"type": "TRANSFER", "payload": {"to": BOB, "amount": []}});
    let (code, msg) = node.call_err("fee_estimate", json!([tx]));
    assert_eq!(code, 1000, "{msg}");
    assert!(msg.contains("amount"), "the error names the payload's field: {msg}");

    // A chunked body over the 2 MiB limit is too large (413), as one with a length is.
    let pad = "x".repeat(3 << 20);
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"system_health","params":{{"pad":"{pad}"}}}}"#);
    let mut chunked = Vec::new();
    for piece in body.as_bytes().chunks(64 << 10) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        node.port
    );
    let big = http_exchange(node.port, head.clone(), chunked);
    assert_eq!(big.status, 413, "a 3 MiB chunked body: HTTP {}: {}", big.status, big.text());
    assert_eq!(big.json()["error"]["code"], -32007);
    // A small chunked body is served.
    let small = br#"{"jsonrpc":"2.0","id":2,"method":"chain_getHead"}"#;
    let mut chunked = format!("{:x}\r\n", small.len()).into_bytes();
    chunked.extend_from_slice(small);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let ok = http_exchange(node.port, head, chunked).json();
    assert!(ok["result"]["height"].is_u64(), "{ok}");

    // Ids JSON-RPC 2.0 does not allow, or that cannot be echoed exactly, are invalid requests.
    for id in ["{}", "[1]", "1.5", "-3", "18446744073709551616"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"chain_getHead"}}"#);
        let r = http_post_json(node.port, body.into_bytes());
        assert_eq!(r.status, 200, "id {id}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], -32600, "id {id}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("`id`"), "id {id}: {v}");
        assert_eq!(v["id"], Value::Null);
    }

    // A height of 2^64 or more is named as written, not as a float.
    let body = br#"{"jsonrpc":"2.0","id":3,"method":"chain_getBlockReward","params":[18446744073709551616]}"#;
    let v = http_post_json(node.port, body.to_vec()).json();
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("18446744073709551616") && !msg.contains("e19"), "{msg}");
}

/// A WebSocket that makes no calls and holds no subscription is closed after
/// `--rpc-ws-idle-secs`, with a close frame naming the flag (answering pings does not count);
/// one that calls, or holds a subscription it opened, is kept; closing its subscription makes
/// it idle too. Before, an idle WebSocket held its slots for as long as it answered pings.
#[test]
fn an_idle_websocket_is_closed_and_busy_ones_are_kept() {
    use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::spawn(dir.path(), &["--dev", "--rpc-ws-idle-secs", "2"], &[]);
    let port = node.port;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let url = format!("ws://127.0.0.1:{port}");
        let subscriber = jsonrpsee::ws_client::WsClientBuilder::default().build(&url).await.expect("ws connect");
        let mut heads = subscriber
            .subscribe::<Value, _>("chain_subscribeNewHeads", jsonrpsee::rpc_params![], "chain_unsubscribeNewHeads")
            .await
            .expect("subscribe");
        let caller = jsonrpsee::ws_client::WsClientBuilder::default().build(&url).await.expect("ws connect");
        let opened = Instant::now();
        let idle = tokio::task::spawn_blocking(move || {
            let mut s = connect_from("127.0.0.1", port);
            let (status, head) = upgrade(&mut s, port);
            assert_eq!(status, 101, "{head}");
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw); // up to the node's close (30 s read timeout)
            raw
        });
        // The caller calls every 500 ms and the subscriber only listens, until the idle
        // socket is closed and three idle periods beyond.
        let mut closed_at = None;
        let mut idle = Some(idle);
        let mut received = 0;
        while closed_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_secs(6)) {
            let h: Value =
                caller.request("chain_getHead", jsonrpsee::rpc_params![]).await.expect("the caller is served");
            assert!(h["height"].is_u64());
            while let Ok(Some(head)) = tokio::time::timeout(Duration::from_millis(1), heads.next()).await {
                head.expect("a head");
                received += 1;
            }
            if idle.as_ref().is_some_and(|t| t.is_finished()) {
                let raw = idle.take().unwrap().await.unwrap();
                assert!(opened.elapsed() >= Duration::from_secs(2), "closed before its idle time");
                // After the server's first ping: a close frame (1000) whose reason names the flag.
                let close = find(&raw, &[0x03, 0xe8]).and_then(|i| i.checked_sub(2)).map(|i| &raw[i..]);
                let close = close.unwrap_or_else(|| panic!("no close frame in {raw:?}"));
                assert_eq!(close[0], 0x88, "a close frame: {raw:?}");
                let reason = String::from_utf8_lossy(&close[4..2 + usize::from(close[1])]);
                assert!(reason.contains("--rpc-ws-idle-secs"), "the close names the flag: {reason}");
                closed_at = Some(Instant::now());
            }
            assert!(opened.elapsed() < PROGRESS, "the idle WebSocket was never closed");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(caller.is_connected(), "a WebSocket that calls is kept");
        assert!(subscriber.is_connected(), "a WebSocket with a subscription is kept");
        assert!(received >= 3, "the subscription delivered heads throughout: {received}");
        // Its subscription closed, the subscriber is idle too.
        heads.unsubscribe().await.expect("unsubscribe");
        tokio::time::timeout(PROGRESS, subscriber.on_disconnect()).await.expect("the unsubscribed WebSocket is closed");
    });
    assert!(refused(&node, "ws-idle") >= 2, "idle closes are counted");
}
