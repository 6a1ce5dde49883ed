//! Black-box tests of the `ergon` binary: real node processes on `--dev` chains, driven over
//! JSON-RPC (jsonrpsee's client), plain HTTP (hyper's client: `/metrics`, `/health`, batches,
//! requests with chosen headers) and the CLI. Raw HTTP/1.1 over `TcpStream` is written only
//! where the bytes themselves are the point: an oversized body the node must refuse before
//! reading it, chunked bodies, and WebSocket frames.
//!
//! Every node runs in its own temporary base path, binds RPC to 127.0.0.1 on a free port, and
//! is killed when its guard is dropped. Waits poll with generous deadlines; no assertion rests
//! on a fixed sleep.

use ergon::chainspec::ChainSpec;
use ergon::primitives::{Address, Keypair, Payload, Priority, SignedTx, Transfer, Tx};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "node/bft.rs"]
mod bft;
#[path = "node/compact.rs"]
mod compact;
#[path = "node/crash.rs"]
mod crash;
#[path = "node/economy.rs"]
mod economy;
#[path = "node/explorer.rs"]
mod explorer;
#[path = "node/health.rs"]
mod health;
#[path = "node/interop.rs"]
mod interop;
#[path = "node/js_client.rs"]
mod js_client;
#[path = "node/network.rs"]
mod network;
#[path = "node/peers.rs"]
mod peers;
#[path = "node/python.rs"]
mod python;
#[path = "node/replays.rs"]
mod replays;
#[path = "node/rpc_abuse.rs"]
mod rpc_abuse;
#[path = "node/rpc_security.rs"]
mod rpc_security;
#[path = "node/storage_faults.rs"]
mod storage_faults;

const BIN: &str = env!("CARGO_BIN_EXE_ergon");
const CHAIN_ID: &str = "ergon-dev";
const HRP: &str = "ait";
const BOB: &str = "ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu";
const CHARLIE: &str = "ait136j5lm4xqfdyzygu0pw7x9j5egxhghs8fydzyx";
const EVE: &str = "ait1tsyrg0w6pmlzdtasg3kphwmh9cmlckernnh0em";
const ALICE: &str = "ait1l3n0wflqm95ql4lg3j8ynvd27vekpx282hdy38";
const GENESIS_BALANCE: u128 = 1_000_000_000_000_000;
const ALICE_STAKE: u128 = 10_000_000_000_000;
const BLOCK_REWARD: u128 = 2_000_000_000;
const BLOCK_TIME_MS: u64 = 1000;

/// How long a node may take to print its RPC address (the first start creates RocksDB).
const STARTUP: Duration = Duration::from_secs(90);
/// How long to wait for chain progress: a block should come every second, CI can be slow.
const PROGRESS: Duration = Duration::from_secs(60);

/// Environment variables the binary reads; cleared so the caller's shell cannot change a test.
const ERGON_ENV: [&str; 11] = [
    "CHAIN_ID",
    "MINT_PER_UNIT",
    "COORDINATOR_RATIO",
    "DB_PATH",
    "RPC_BIND",
    "PROPOSER_KEY",
    "ERGON_RPC",
    "RUST_LOG",
    "ERGON_PASSWORD",
    "P2P_BIND",
    "BOOTSTRAP_PEERS",
];

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// Kills (SIGKILL) and reaps its child when dropped, so no test leaves a process behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ergon() -> Command {
    let mut cmd = Command::new(BIN);
    for k in ERGON_ENV {
        cmd.env_remove(k);
    }
    // Plain logs: they are shown when a test fails.
    cmd.env("NO_COLOR", "1");
    cmd.stdin(Stdio::null());
    cmd
}

/// `node --dev --base-path BASE --rpc-addr 127.0.0.1:0`, plus, when the binary has a P2P
/// layer, a loopback listen address on a free port and no mDNS: tests run nodes side by side,
/// and dev nodes that found each other would mix their chains.
/// `ergon node <extra> --base-path BASE --rpc-addr 127.0.0.1:0`, with P2P on a free loopback
/// port and no mDNS, so tests never collide or send traffic beyond 127.0.0.1.
fn node_args(base: &Path, extra: &[&str]) -> Vec<String> {
    let base = base.to_str().expect("utf-8 base path").to_string();
    let mut args: Vec<String> = vec!["node".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(
        ["--base-path", &base, "--rpc-addr", "127.0.0.1:0", "--listen-addr", "/ip4/127.0.0.1/tcp/0", "--no-mdns"]
            .map(String::from),
    );
    args
}

/// Collects a pipe's lines into a shared string on a thread.
fn collect_lines(pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut s = into.lock().unwrap_or_else(|e| e.into_inner());
            s.push_str(&line);
            s.push('\n');
        }
    })
}

struct Node {
    child: ChildGuard,
    port: u16,
    stderr: Arc<Mutex<String>>,
    p2p: Vec<String>,
    peer_id: String,
}

impl Node {
    /// `ergon node --dev --base-path BASE --rpc-addr 127.0.0.1:0`, waiting until it prints its
    /// RPC address.
    fn start(base: &Path, envs: &[(&str, &str)]) -> Node {
        Node::spawn(base, &["--dev"], envs)
    }

    /// `ergon node ARGS...` (see [`node_args`]), waiting until it prints its RPC address.
    fn spawn(base: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Node {
        let mut cmd = ergon();
        cmd.args(node_args(base, extra));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn `ergon node`");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let mut child = ChildGuard(child);
        let stderr = Arc::new(Mutex::new(String::new()));
        collect_lines(stderr_pipe, stderr.clone());
        let (tx, rx) = mpsc::channel::<String>();
        let p2p = Arc::new(Mutex::new(Vec::new()));
        let peer_id = Arc::new(Mutex::new(String::new()));
        let (p2p_w, peer_w) = (p2p.clone(), peer_id.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let line = line.trim();
                if let Some(addr) = line.strip_prefix("RPC listening on http://") {
                    let _ = tx.send(addr.to_string());
                } else if let Some(a) = line.strip_prefix("P2P listening on ") {
                    p2p_w.lock().unwrap_or_else(|e| e.into_inner()).push(a.to_string());
                } else if let Some(id) = line.strip_prefix("Local peer id: ") {
                    *peer_w.lock().unwrap_or_else(|e| e.into_inner()) = id.to_string();
                }
            }
        });
        let log = |s: &Arc<Mutex<String>>| s.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let deadline = Instant::now() + STARTUP;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(addr) => break addr,
                Err(_) => {
                    if let Ok(Some(status)) = child.0.try_wait() {
                        // Let the stderr thread catch up before showing what the node said.
                        std::thread::sleep(Duration::from_millis(200));
                        panic!("node exited ({status}) before it was ready; stderr:\n{}", log(&stderr));
                    }
                    assert!(
                        Instant::now() < deadline,
                        "node did not print its RPC address within {STARTUP:?}; stderr:\n{}",
                        log(&stderr)
                    );
                }
            }
        };
        let port = addr
            .strip_prefix("127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("RPC address {addr:?} is not 127.0.0.1:PORT"));
        assert_ne!(port, 0, "the node must report the port it actually bound");
        // The P2P lines come before the RPC line on the same pipe, so they are in by now.
        let p2p = p2p.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let peer_id = peer_id.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Node { child, port, stderr, p2p, peer_id }
    }

    /// The node's first P2P address, with `/p2p/<peer id>`.
    fn p2p_addr(&self) -> String {
        self.p2p.first().cloned().unwrap_or_else(|| panic!("node printed no P2P address; stderr:\n{}", self.stderr()))
    }

    fn peer_id(&self) -> String {
        self.peer_id.clone()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn call(&self, method: &str, params: Value) -> Value {
        call(self.port, method, params)
    }

    fn call_err(&self, method: &str, params: Value) -> (i64, String) {
        call_err(self.port, method, params)
    }

    fn head(&self) -> (u64, String) {
        let h = self.call("chain_getHead", json!([]));
        let height = h["height"].as_u64().unwrap_or_else(|| panic!("chain_getHead: no height in {h}"));
        let hash = h["hash"].as_str().unwrap_or_else(|| panic!("chain_getHead: no hash in {h}")).to_string();
        (height, hash)
    }

    /// Waits until the head is at least `height`; returns the head height.
    fn wait_height(&self, height: u64) -> u64 {
        wait_for(&format!("head height >= {height}"), PROGRESS, || Some(self.head().0).filter(|h| *h >= height))
    }

    /// (balance, nonce) from `account_get`.
    fn account(&self, address: &str) -> (u128, u64) {
        let a = self.call("account_get", json!([address]));
        assert_eq!(a["address"], address, "account_get echoes the address: {a}");
        (amount(&a["balance"]), a["nonce"].as_u64().unwrap_or_else(|| panic!("nonce is a number: {a}")))
    }

    fn send(&self, tx: &SignedTx) -> String {
        let r = self.call("tx_send", json!([ergon::rpc::types::tx_to_json(tx, HRP)]));
        let hash = r["txHash"].as_str().unwrap_or_else(|| panic!("tx_send: no txHash in {r}")).to_string();
        assert_eq!(hash, tx.hash().to_hex(), "tx_send returns the tx's hash");
        hash
    }

    fn send_err(&self, tx: &SignedTx) -> (i64, String) {
        self.call_err("tx_send", json!([ergon::rpc::types::tx_to_json(tx, HRP)]))
    }

    /// Polls `tx_get` until the tx is in a block; panics if it failed or stays out.
    fn wait_included(&self, hash: &str) -> Value {
        let st = wait_for(&format!("tx {hash} to be in a block"), PROGRESS, || {
            let st = self.call("tx_get", json!([hash]));
            match st["status"].as_str() {
                Some("included") | Some("failed") => Some(st),
                Some("pending") => None,
                other => panic!("tx {hash} has status {other:?} while waiting for inclusion: {st}"),
            }
        });
        assert_eq!(st["status"], "included", "tx {hash} should succeed: {st}");
        assert!(st["error"].is_null(), "an included tx has no error: {st}");
        st
    }

    /// SIGTERM, then waits for the exit status.
    fn terminate(mut self) -> ExitStatus {
        let pid = self.child.0.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill").success();
        assert!(ok, "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "node did not exit within 30 s of SIGTERM; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no chance to flush or shut down cleanly.
    fn kill9(mut self) {
        self.child.0.kill().expect("SIGKILL the node");
        self.child.0.wait().expect("reap the node");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.stderr();
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(60)..].join("\n")
            };
            eprintln!("--- node on port {} stderr (last 60 lines) ---\n{tail}\n---", self.port);
        }
    }
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `ergon ARGS` to completion (killing it after `timeout`).
/// Writes `spec` as `dir/name` for `--chain`; returns the path.
fn write_spec(dir: &Path, name: &str, spec: &ChainSpec) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(spec).expect("spec JSON")).expect("write spec");
    path.display().to_string()
}

fn run_ergon(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = ergon();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn ergon {args:?}: {e}"));
    let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
    let t_out = collect_lines(child.stdout.take().expect("stdout"), out.clone());
    let t_err = collect_lines(child.stderr.take().expect("stderr"), err.clone());
    let mut child = ChildGuard(child);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            let _ = (t_out.join(), t_err.join());
            panic!(
                "ergon {args:?} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                out.lock().unwrap_or_else(|e| e.into_inner()),
                err.lock().unwrap_or_else(|e| e.into_inner())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = (t_out.join(), t_err.join());
    let take = |s: &Arc<Mutex<String>>| s.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Output { status, stdout: take(&out), stderr: take(&err) }
}

/// Polls `f` every 200 ms until it returns `Some`, panicking after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP and JSON-RPC
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.text()))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; `None` until the terminating chunk has arrived.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Parses a response; `None` if more bytes are needed (at `eof`, a body without a length is
/// whatever arrived).
fn parse_response(raw: &[u8], eof: bool) -> Option<HttpResponse> {
    let head_end = find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[head_end + 4..];
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let body = if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(HttpResponse { status, headers, body })
}

/// One raw HTTP/1.1 exchange on a fresh connection, for probes whose bytes are the point
/// (ordinary requests go through [`http_send`]). The body is written on its own thread while
/// the response is read, so a server that answers before reading the whole body (413) is seen.
fn http_exchange(port: u16, head: String, body: Vec<u8>) -> HttpResponse {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("read timeout");
    stream.set_write_timeout(Some(Duration::from_secs(60))).expect("write timeout");
    stream.write_all(head.as_bytes()).expect("write request head");
    let mut writer = stream.try_clone().expect("clone stream");
    let body_writer = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
        let _ = writer.flush();
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let response = loop {
        match stream.read(&mut buf) {
            Ok(0) => break parse_response(&raw, true),
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if let Some(r) = parse_response(&raw, false) {
                    break Some(r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let got = parse_response(&raw, true);
                assert!(got.is_some(), "reading the response from port {port} failed: {e}");
                break got;
            }
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    let _ = body_writer.join();
    response.unwrap_or_else(|| panic!("incomplete HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

/// One HTTP/1.1 request with hyper's client, over `stream` (already connected, e.g. from
/// another source address) or a fresh connection to `port`; the whole body is read. It runs
/// on a thread of its own, so tests may call it from inside a runtime.
fn http_send(port: u16, stream: Option<TcpStream>, req: http::Request<Vec<u8>>) -> HttpResponse {
    use http_body_util::BodyExt;
    static RT: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("client runtime")
    });
    let what = format!("{} {}", req.method(), req.uri());
    let send = move || {
        RT.block_on(async move {
            let stream = match stream {
                Some(s) => {
                    s.set_nonblocking(true).expect("non-blocking");
                    tokio::net::TcpStream::from_std(s).expect("a tokio stream")
                }
                None => tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect"),
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("HTTP handshake");
            tokio::spawn(conn);
            let (parts, body) = req.into_parts();
            let req = http::Request::from_parts(parts, http_body_util::Full::new(hyper::body::Bytes::from(body)));
            let resp = tokio::time::timeout(PROGRESS, sender.send_request(req)).await.expect("a response in time")?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = resp.into_body().collect().await?.to_bytes().to_vec();
            Ok::<_, hyper::Error>(HttpResponse { status, headers, body })
        })
    };
    std::thread::scope(|s| s.spawn(send).join())
        .expect("client thread")
        .unwrap_or_else(|e| panic!("{what} on port {port}: {e}"))
}

/// A request to `path` with `Host: 127.0.0.1:PORT` and `headers`.
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let mut req = http::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", format!("127.0.0.1:{port}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body).expect("a request")
}

fn http_get(port: u16, path: &str) -> HttpResponse {
    http_send(port, None, http_request(port, "GET", path, &[], Vec::new()))
}

fn http_post_json(port: u16, body: Vec<u8>) -> HttpResponse {
    http_send(port, None, http_request(port, "POST", "/", &[("content-type", "application/json")], body))
}

/// A JSON POST written raw, for a body the node must refuse before it has read it all (hyper's
/// client would report the early answer as a failed write).
fn raw_post_json(port: u16, body: Vec<u8>) -> HttpResponse {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    http_exchange(port, head, body)
}

/// Params as given: an array, an object, or nothing (`null`).
struct RawParams(Value);

impl jsonrpsee::core::traits::ToRpcParams for RawParams {
    fn to_rpc_params(self) -> Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        match self.0 {
            Value::Null => Ok(None),
            v => serde_json::value::to_raw_value(&v).map(Some),
        }
    }
}

/// Calls `method` with jsonrpsee's HTTP client; `Ok(result)` or `Err((code, message))`. The
/// client runs on a thread of its own, so tests may call this from inside a runtime.
fn rpc(port: u16, method: &str, params: Value) -> Result<Value, (i64, String)> {
    use jsonrpsee::core::client::{ClientT, Error};
    static RT: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("client runtime")
    });
    let call = || {
        RT.block_on(async {
            let client = jsonrpsee::http_client::HttpClientBuilder::default()
                .request_timeout(PROGRESS)
                .build(format!("http://127.0.0.1:{port}"))
                .expect("HTTP client");
            client.request::<Value, _>(method, RawParams(params)).await
        })
    };
    match std::thread::scope(|s| s.spawn(call).join()).expect("client thread") {
        Ok(v) => Ok(v),
        Err(Error::Call(e)) => Err((i64::from(e.code()), e.message().to_string())),
        Err(e) => panic!("{method}: {e}"),
    }
}

fn call(port: u16, method: &str, params: Value) -> Value {
    rpc(port, method, params).unwrap_or_else(|(code, msg)| panic!("{method} failed: {code} {msg}"))
}

fn call_err(port: u16, method: &str, params: Value) -> (i64, String) {
    match rpc(port, method, params) {
        Ok(v) => panic!("{method} should have failed, got {v}"),
        Err(e) => e,
    }
}

fn amount(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("expected a decimal-string amount, got {v}"))
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

fn addr(key: &Keypair) -> String {
    Address::from_public_key(&key.public()).to_bech32(HRP)
}

fn parse_addr(s: &str) -> Address {
    Address::parse(s, HRP).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn dev_spec() -> ChainSpec {
    ChainSpec::load("dev").expect("built-in dev spec")
}

fn unsigned_transfer(key: &Keypair, to: &str, amount: u128, nonce: u64, fee: u128) -> Tx {
    Tx {
        chain_id: CHAIN_ID.into(),
        sender: key.public(),
        nonce,
        fee,
        priority: Priority::Normal,
        payload: Payload::Transfer(Transfer { to: parse_addr(to), amount }),
    }
}

/// The minimum fee for `tx` by the library's fee schedule (signatures have a fixed size).
fn min_fee(tx: &Tx) -> u128 {
    ergon::ledger::required_fee(&dev_spec(), tx).expect("fee does not overflow").total
}

/// A transfer signed by `key` paying exactly the minimum fee.
fn transfer(key: &Keypair, to: &str, amount: u128, nonce: u64) -> SignedTx {
    let mut tx = unsigned_transfer(key, to, amount, nonce, 0);
    tx.fee = min_fee(&tx);
    tx.sign(key)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// The receipt-claims bench runs through and prints its figure beside the ceiling, at 50 ms
/// blocks (the miner draw's set-up is the part most sensitive to the block time).
#[test]
fn the_receipts_bench_runs_at_short_block_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().to_str().expect("utf-8 path");
    let args = ["bench", "--receipts", "40", "--block-time-ms", "50", "--base-path", base];
    let out = run_ergon(&args, &[], Duration::from_secs(300));
    assert!(out.status.success(), "bench failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("receipt claims committed:   40 in"), "{}", out.stdout);
    assert!(out.stdout.contains("(the ceiling)"), "{}", out.stdout);
}

#[test]
fn dev_key_addresses_match_the_documented_ones() {
    assert_eq!(addr(&Keypair::dev("alice")), ALICE);
    assert_eq!(addr(&Keypair::dev("bob")), BOB);
    assert_eq!(addr(&Keypair::dev("charlie")), CHARLIE);
    assert_eq!(addr(&Keypair::dev("eve")), EVE);
}

/// `ergon createwallet` seals a key in the keystore; `ergon key list --json` lists it.
#[test]
fn keystore_lists_its_keys_as_json() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path().to_str().expect("utf-8");
    let envs = [("HOME", h), ("ERGON_PASSWORD", "correct horse")];
    let list = |envs: &[(&str, &str)]| -> Value {
        let out = run_ergon(&["key", "list", "--json"], envs, Duration::from_secs(60));
        assert!(out.status.success(), "key list failed: {}", out.stderr);
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
    };
    assert_eq!(list(&envs)["addresses"], json!([]));
    let out = run_ergon(&["createwallet"], &envs, Duration::from_secs(60));
    assert!(out.status.success(), "createwallet failed: {}", out.stderr);
    let v = list(&envs);
    let addrs = v["addresses"].as_array().expect("addresses");
    assert_eq!(addrs.len(), 1, "{v}");
    assert!(addrs[0].as_str().is_some_and(|a| a.starts_with("ait1")), "{v}");
    assert!(out.stdout.contains(addrs[0].as_str().unwrap_or("?")), "createwallet printed the address it listed");
}

#[test]
fn blocks_advance_with_commits_and_http_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);

    // The head moves on by itself, one block per block time.
    let (h0, _) = node.head();
    let h1 = node.wait_height(h0 + 3);
    assert!(h1 >= h0 + 3);
    // A lone node is not warned that Kademlia has nobody to bootstrap from.
    assert!(!node.stderr().contains("bootstrap"), "a lone dev node's log:\n{}", node.stderr());
    let head = node.call("chain_getHead", json!([]));
    let fin = head["finalizedHeight"].as_u64().expect("finalizedHeight");
    assert!(fin <= head["height"].as_u64().expect("height"), "finalized is never above the head: {head}");
    assert!(head["finalizedHash"].is_string(), "{head}");
    assert_eq!(node.call("getHead", json!([]))["height"].as_u64().map(|h| h >= h1), Some(true), "alias getHead");

    // Genesis, and block 1 with the lone validator's commit.
    let genesis = node.call("chain_getBlock", json!([0]));
    assert_eq!(genesis["header"]["height"], 0, "{genesis}");
    let spec = node.call("system_chainSpec", json!([]));
    assert_eq!(spec["genesisHash"], genesis["hash"], "system_chainSpec names block 0 as genesis");
    assert_eq!(spec["chainSpec"]["chain_id"], CHAIN_ID);
    let alice_pk = Keypair::dev("alice").public().to_hex();
    let b1 = node.call("chain_getBlock", json!([1]));
    let header = &b1["header"];
    assert_eq!(header["height"], 1, "{b1}");
    assert_eq!(header["parentHash"], genesis["hash"], "block 1 extends genesis: {b1}");
    assert_eq!(header["proposer"], alice_pk.as_str(), "alice proposes on dev: {b1}");
    assert_eq!(header["txCount"], 0, "{b1}");
    assert_eq!(b1["txs"], json!([]), "{b1}");
    let commit = &b1["commit"];
    assert_eq!(commit["height"], 1, "{b1}");
    assert_eq!(commit["blockHash"], b1["hash"], "the commit certifies this block: {b1}");
    let sigs = commit["signatures"].as_array().unwrap_or_else(|| panic!("commit has signatures: {b1}"));
    assert_eq!(sigs.len(), 1, "one validator, one signature: {b1}");
    assert_eq!(sigs[0]["validator"], alice_pk.as_str(), "{b1}");

    // The same block by hash, by decimal-string height, by named param and through the alias.
    let hash1 = b1["hash"].as_str().expect("hash").to_string();
    assert_eq!(node.call("chain_getBlock", json!([hash1])), b1);
    assert_eq!(node.call("chain_getBlock", json!(["1"])), b1);
    assert_eq!(node.call("chain_getBlock", json!({"id": 1})), b1);
    assert_eq!(node.call("getBlock", json!([1])), b1);
    assert_eq!(node.call("chain_getBlock", json!([1_000_000])), Value::Null, "a future block is null");
    let unknown_hash = format!("0x{}", "ab".repeat(32));
    assert_eq!(node.call("chain_getBlock", json!([unknown_hash])), Value::Null, "an unknown hash is null");

    // Consecutive blocks are linked and at least a block time apart.
    let mut prev = b1;
    for h in 2..=h1 {
        let b = node.call("chain_getBlock", json!([h]));
        assert_eq!(b["header"]["parentHash"], prev["hash"], "block {h} extends block {}", h - 1);
        let dt = b["header"]["timestamp"].as_u64().expect("ts") - prev["header"]["timestamp"].as_u64().expect("ts");
        assert!(dt >= BLOCK_TIME_MS * 9 / 10, "blocks {} and {h} are only {dt} ms apart", h - 1);
        prev = b;
    }

    // Alice earns the block reward every block; the proof's root is the block's state root.
    let reward = node.call("chain_getBlockReward", json!([5]));
    assert_eq!(amount(&reward["reward"]), BLOCK_REWARD, "{reward}");
    assert_eq!(amount(&node.call("getBlockReward", json!([]))["reward"]), BLOCK_REWARD);
    let proof = node.call("state_getProof", json!([ALICE, h1]));
    assert_eq!(proof["height"], h1, "{proof}");
    assert_eq!(amount(&proof["account"]["balance"]), GENESIS_BALANCE + u128::from(h1) * BLOCK_REWARD, "{proof}");
    assert_eq!(amount(&proof["account"]["staked"]), ALICE_STAKE, "{proof}");
    let block = node.call("chain_getBlock", json!([h1]));
    assert_eq!(proof["stateRoot"], block["header"]["stateRoot"], "proof root is block {h1}'s state root");
    assert!(proof["proof"].as_str().is_some_and(|p| p.starts_with("0x") && p.len() > 2), "{proof}");
    let (code, msg) = node.call_err("state_getProof", json!([ALICE, 1_000_000]));
    assert_eq!(code, 1030, "{msg}");
    assert!(msg.contains("above the head"), "{msg}");

    // system_* methods.
    let health = node.call("system_health", json!([]));
    assert_eq!(health["status"], "ok", "{health}");
    let version = node.call("system_version", json!([]));
    assert_eq!(version["name"], "ergon", "{version}");
    assert!(version["version"].as_str().is_some_and(|v| !v.is_empty()), "{version}");

    // GET /metrics and /health beside JSON-RPC.
    let h_now = node.head().0;
    let metrics = http_get(node.port, "/metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    assert!(metrics.header("content-type").is_some_and(|c| c.starts_with("text/plain")), "{metrics:?}");
    let text = metrics.text();
    let line = text
        .lines()
        .find(|l| l.starts_with("ergon_block_height "))
        .unwrap_or_else(|| panic!("no ergon_block_height in /metrics:\n{text}"));
    let reported: u64 = line["ergon_block_height ".len()..].trim().parse().expect("a height");
    assert!(reported >= h_now, "/metrics height {reported} lags the head {h_now}");
    assert!(text.contains("# TYPE ergon_block_height gauge"), "{text}");
    let health = http_get(node.port, "/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let hj = health.json();
    assert_eq!(hj["status"], "ok", "{hj}");
    assert!(hj["height"].as_u64().is_some_and(|h| h >= h_now), "{hj}");
}

#[test]
fn transfer_moves_exact_amounts_and_fee() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let bob = Keypair::dev("bob");
    let amount_sent: u128 = 12_345;

    let (bob_before, bob_nonce) = node.account(BOB);
    let (charlie_before, charlie_nonce) = node.account(CHARLIE);
    assert_eq!((bob_before, bob_nonce), (GENESIS_BALANCE, 0));
    assert_eq!((charlie_before, charlie_nonce), (GENESIS_BALANCE, 0));
    assert_eq!(node.call("getBalance", json!([BOB]))["balance"], GENESIS_BALANCE.to_string(), "alias getBalance");

    // The node's estimate for the (fee-less) tx equals the library's fee schedule.
    let draft = unsigned_transfer(&bob, CHARLIE, amount_sent, bob_nonce + 1, 0).sign(&bob);
    let est = node.call("fee_estimate", json!([ergon::rpc::types::tx_to_json(&draft, HRP)]));
    let fee = amount(&est["fee"]);
    assert_eq!(fee, min_fee(&draft.tx), "fee_estimate agrees with ledger::required_fee: {est}");
    assert!(fee > 0, "{est}");
    assert_eq!(amount(&est["breakdown"]["total"]), fee, "{est}");
    assert_eq!(amount(&node.call("estimateFee", json!([ergon::rpc::types::tx_to_json(&draft, HRP)]))["fee"]), fee);

    let tx = unsigned_transfer(&bob, CHARLIE, amount_sent, bob_nonce + 1, fee).sign(&bob);
    let hash = node.send(&tx);
    let st = node.call("tx_get", json!([hash]));
    assert!(matches!(st["status"].as_str(), Some("pending") | Some("included")), "right after tx_send: {st}");
    let st = node.wait_included(&hash);
    let height = st["blockHeight"].as_u64().unwrap_or_else(|| panic!("blockHeight: {st}"));
    let block = node.call("chain_getBlock", json!([height]));
    assert_eq!(block["hash"], st["blockHash"], "{st} vs {block}");
    assert_eq!(block["txs"], json!([hash]), "the block lists the tx: {block}");
    assert_eq!(block["header"]["txCount"], 1, "{block}");

    let (bob_after, bob_nonce_after) = node.account(BOB);
    let (charlie_after, charlie_nonce_after) = node.account(CHARLIE);
    assert_eq!(bob_after, bob_before - amount_sent - fee, "bob pays amount + fee");
    assert_eq!(bob_nonce_after, 1);
    assert_eq!(charlie_after, charlie_before + amount_sent, "charlie gets exactly the amount");
    assert_eq!(charlie_nonce_after, charlie_nonce, "receiving does not bump the nonce");

    // The state proof at the tx's block shows bob's new account under that block's root.
    let proof = node.call("state_getProof", json!([BOB, height]));
    assert_eq!(amount(&proof["account"]["balance"]), bob_after, "{proof}");
    assert_eq!(proof["account"]["nonce"], 1, "{proof}");
    assert_eq!(proof["stateRoot"], block["header"]["stateRoot"], "{proof}");
    let before = node.call("state_getProof", json!({"address": BOB, "height": height - 1}));
    assert_eq!(amount(&before["account"]["balance"]), bob_before, "bob's balance one block earlier: {before}");

    // Replaying the included tx is refused: its nonce is used up.
    let (code, msg) = node.send_err(&tx);
    assert_eq!(code, 1005, "replay: {msg}");
    assert!(msg.contains("nonce") && msg.contains("too low"), "{msg}");

    // The protobuf form, as a hex string, through the alias sendTx.
    let tx2 = transfer(&bob, CHARLIE, 1, 2);
    let hex_tx = hex::encode(ergon::wire::encode_signed_tx(&tx2));
    let r = node.call("sendTx", json!([hex_tx]));
    let hash2 = r["txHash"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();
    assert_eq!(hash2, tx2.hash().to_hex());
    let st2 = node.wait_included(&hash2);
    assert_eq!(node.call("getTx", json!([hash2]))["status"], "included", "alias getTx: {st2}");
    let (bob_final, nonce_final) = node.account(BOB);
    assert_eq!(nonce_final, 2);
    assert_eq!(bob_final, bob_after - 1 - tx2.tx.fee);
    assert_eq!(node.account(CHARLIE).0, charlie_after + 1);

    // A hash the node never saw.
    let unknown = node.call("tx_get", json!([format!("0x{}", "cd".repeat(32))]));
    assert_eq!(unknown["status"], "unknown", "{unknown}");
}

#[test]
fn bad_input_is_rejected_with_specific_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let bob = Keypair::dev("bob");
    let eve = Keypair::dev("eve");
    let (h0, _) = node.head();
    let mut rejected = Vec::new();

    // Bad signature: one flipped bit.
    let mut bad_sig = transfer(&bob, CHARLIE, 10, 1);
    bad_sig.signature.0[0] ^= 1;
    let (code, msg) = node.send_err(&bad_sig);
    assert_eq!(code, 1001, "bad signature: {msg}");
    assert!(msg.contains("signature"), "{msg}");
    rejected.push(bad_sig.hash());

    // Nonce too low (the next is 1) and too high (beyond the pending window).
    let low = transfer(&bob, CHARLIE, 10, 0);
    let (code, msg) = node.send_err(&low);
    assert_eq!(code, 1005, "nonce 0: {msg}");
    assert!(msg.contains("nonce 0") && msg.contains("too low"), "{msg}");
    rejected.push(low.hash());
    let high = transfer(&bob, CHARLIE, 10, 100);
    let (code, msg) = node.send_err(&high);
    assert_eq!(code, 1006, "nonce 100: {msg}");
    assert!(msg.contains("nonce 100") && msg.contains("too far ahead"), "{msg}");
    rejected.push(high.hash());
    // A nonce ahead of the next but within the window waits (charlie's, to keep bob's queue
    // clean); with the gap it can never be included.
    let gapped = transfer(&Keypair::dev("charlie"), BOB, 10, 5);
    let gapped_hash = node.send(&gapped);
    assert_eq!(node.call("tx_get", json!([gapped_hash]))["status"], "pending");

    // Insufficient balance: eve sends her whole balance, which leaves nothing for the fee.
    let (eve_balance, _) = node.account(EVE);
    let broke = transfer(&eve, CHARLIE, eve_balance, 1);
    let (code, msg) = node.send_err(&broke);
    assert_eq!(code, 1007, "insufficient balance: {msg}");
    assert!(msg.contains("insufficient balance") && msg.contains(&eve_balance.to_string()), "{msg}");
    rejected.push(broke.hash());

    // Fee one below the minimum.
    let mut cheap = unsigned_transfer(&bob, CHARLIE, 10, 1, 0);
    let required = min_fee(&cheap);
    cheap.fee = required - 1;
    let cheap = cheap.sign(&bob);
    let (code, msg) = node.send_err(&cheap);
    assert_eq!(code, 1004, "fee too low: {msg}");
    assert!(msg.contains("fee") && msg.contains(&required.to_string()), "names the required fee: {msg}");
    rejected.push(cheap.hash());

    // Another chain's tx.
    let mut foreign = unsigned_transfer(&bob, CHARLIE, 10, 1, 0);
    foreign.chain_id = "other-chain".into();
    foreign.fee = min_fee(&foreign);
    let foreign = foreign.sign(&bob);
    let (code, msg) = node.send_err(&foreign);
    assert_eq!(code, 1002, "wrong chain: {msg}");
    assert!(msg.contains("other-chain") && msg.contains(CHAIN_ID), "{msg}");

    // Undecodable txs.
    let (code, msg) = node.call_err("tx_send", json!(["0xzz"]));
    assert_eq!(code, 1000, "bad hex: {msg}");
    assert!(msg.contains("hex"), "{msg}");
    let (code, msg) = node.call_err("tx_send", json!(["0x0a0b0c"]));
    assert_eq!(code, 1000, "bad protobuf: {msg}");
    let mut no_sig = ergon::rpc::types::tx_to_json(&transfer(&bob, CHARLIE, 10, 1), HRP);
    no_sig.as_object_mut().expect("object").remove("sig");
    let (code, msg) = node.call_err("tx_send", json!([no_sig]));
    assert_eq!(code, 1000, "missing sig: {msg}");
    assert!(msg.contains("sig"), "{msg}");

    // Malformed JSON.
    let resp = http_post_json(node.port, br#"{"jsonrpc":"2.0","id":1,"method":"#.to_vec());
    let v = resp.json();
    assert_eq!(v["error"]["code"], -32700, "malformed JSON (HTTP {}): {v}", resp.status);
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.to_lowercase().contains("parse")), "{v}");

    // Unknown method.
    let (code, msg) = node.call_err("chain_noSuchMethod", json!([]));
    assert_eq!(code, -32601, "{msg}");
    assert!(msg.to_lowercase().contains("method not found"), "{msg}");

    // Bodies: 1.5 MiB is within the 2 MiB limit; 3 MiB is refused as too big.
    let filler = |n: usize| {
        let req = json!({"jsonrpc": "2.0", "id": 7, "method": "system_health", "params": {"pad": "x".repeat(n)}});
        req.to_string().into_bytes()
    };
    let ok = http_post_json(node.port, filler(3 << 19));
    let okv = ok.json();
    assert!(okv.get("error").is_none_or(|e| e["code"] != -32007), "1.5 MiB is not too big: {okv}");
    let big = raw_post_json(node.port, filler(3 << 20));
    assert_eq!(big.status, 413, "3 MiB body: HTTP {}: {}", big.status, big.text());
    let bv = big.json();
    assert_eq!(bv["error"]["code"], -32007, "{bv}");
    let bmsg = bv["error"]["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(bmsg.contains("too big"), "{bv}");
    assert!(
        bv["error"]["data"].as_str().is_some_and(|d| d.contains(&(2u32 << 20).to_string())),
        "names the limit: {bv}"
    );

    // Invalid params.
    let (code, msg) = node.call_err("account_get", json!(["ait1notanaddress"]));
    assert_eq!(code, -32602, "{msg}");
    assert!(msg.contains("address") && msg.contains("ait1notanaddress"), "{msg}");
    let (code, msg) = node.call_err("account_get", json!([]));
    assert_eq!(code, -32602, "{msg}");
    assert!(msg.contains("missing param `address`"), "{msg}");
    let (code, msg) = node.call_err("account_get", json!({"addr": BOB}));
    assert_eq!(code, -32602, "{msg}");
    assert!(msg.contains("unknown param `addr`"), "{msg}");

    // The node keeps producing blocks, none of the rejected txs got in, and it still takes a good tx.
    node.wait_height(h0.max(node.head().0) + 2);
    for h in rejected {
        let st = node.call("tx_get", json!([h.to_hex()]));
        assert_eq!(st["status"], "unknown", "rejected tx {h} must not be pending or included: {st}");
    }
    assert_eq!(node.account(BOB), (GENESIS_BALANCE, 0), "rejected txs change nothing");
    assert_eq!(node.account(EVE), (eve_balance, 0));
    let st = node.call("tx_get", json!([gapped_hash]));
    assert_eq!(st["status"], "pending", "a tx behind a nonce gap stays pending: {st}");
    assert_eq!(node.account(CHARLIE).1, 0);
    let good = transfer(&bob, CHARLIE, 10, 1);
    let hash = node.send(&good);
    node.wait_included(&hash);
    assert_eq!(node.account(BOB).1, 1);
}

#[test]
fn kill9_and_restart_keeps_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bob = Keypair::dev("bob");
    let node = Node::start(dir.path(), &[]);
    let tx = transfer(&bob, CHARLIE, 777, 1);
    let hash = node.send(&tx);
    let st = node.wait_included(&hash);
    let tx_height = st["blockHeight"].as_u64().expect("blockHeight");
    node.wait_height(tx_height + 3);
    let (height, head_hash) = node.head();
    let (bob_balance, bob_nonce) = node.account(BOB);
    assert_eq!(bob_nonce, 1);
    assert_eq!(bob_balance, GENESIS_BALANCE - 777 - tx.tx.fee);
    node.kill9();

    let node = Node::start(dir.path(), &[]);
    let (restart_height, _) = node.head();
    assert!(restart_height >= height, "head went back from {height} to {restart_height} across kill -9");
    let block = node.call("chain_getBlock", json!([height]));
    assert_eq!(block["hash"], head_hash.as_str(), "block {height} changed across kill -9: {block}");
    assert_eq!(node.account(BOB), (bob_balance, bob_nonce), "bob's account survives kill -9");
    let st2 = node.call("tx_get", json!([hash]));
    assert_eq!(st2["status"], "included", "{st2}");
    assert_eq!(st2["blockHeight"], tx_height, "{st2}");

    // Blocks continue on top of what was there, and the restarted node takes txs.
    let more = node.wait_height(restart_height + 2);
    let b = node.call("chain_getBlock", json!([restart_height + 1]));
    let parent = node.call("chain_getBlock", json!([restart_height]));
    assert_eq!(b["header"]["parentHash"], parent["hash"], "the first new block extends the stored head");
    assert!(more > height);
    let tx2 = transfer(&bob, CHARLIE, 1, 2);
    let hash2 = node.send(&tx2);
    node.wait_included(&hash2);
    assert_eq!(node.account(BOB).1, 2);
}

#[test]
fn faucet_mints_to_a_fresh_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let fresh = addr(&Keypair::from_secret([7u8; 32]));
    assert_eq!(node.account(&fresh), (0, 0), "a fresh address starts empty");

    let r = node.call("admin_mintFaucet", json!([fresh, 1000]));
    let h1 = r["txHash"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();
    // A second drip right away, by named params and the alias: the faucet's nonces must not clash.
    let r2 = node.call("mintFaucet", json!({"address": fresh, "amount": "500"}));
    let h2 = r2["txHash"].as_str().unwrap_or_else(|| panic!("{r2}")).to_string();
    assert_ne!(h1, h2);
    wait_for(&format!("{fresh} to hold 1500"), PROGRESS, || (node.account(&fresh).0 == 1500).then_some(()));
    node.wait_included(&h1);
    node.wait_included(&h2);
    assert_eq!(node.account(&fresh), (1500, 0), "receiving does not bump the nonce");

    // Out-of-range drips are refused with the faucet's error code.
    for bad in [json!(0), json!("100000000000001")] {
        let (code, msg) = node.call_err("admin_mintFaucet", json!([fresh, bad]));
        assert_eq!(code, 1021, "amount {bad}: {msg}");
        assert!(msg.contains("amount") && msg.contains("100000000000000"), "names the limit: {msg}");
    }
    let (code, msg) = node.call_err("admin_mintFaucet", json!(["ait1bogus", 5]));
    assert_eq!(code, -32602, "{msg}");
    assert_eq!(node.account(&fresh).0, 1500);
}

/// The Grafana dashboard in contrib/ names only series a node serves: every `ergon_*` name in
/// its queries has a `# TYPE` line in a dev node's `/metrics`.
#[test]
fn the_grafana_dashboard_names_only_series_the_node_serves() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/grafana/ergon.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard")).expect("JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(String::from))
        .collect();
    let mut names: Vec<String> = exprs
        .iter()
        .flat_map(|e| e.match_indices("ergon_").map(move |(i, _)| &e[i..]))
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect())
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let metrics = http_get(node.port, "/metrics").text();
    for name in names {
        assert!(metrics.contains(&format!("# TYPE {name} ")), "the dashboard's {name} is not served:\n{metrics}");
    }
}

/// The value of `series` (name and labels, as printed) in a `/metrics` text; 0 when absent.
fn metric(metrics: &str, series: &str) -> u128 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0, |v| v.trim().parse().unwrap_or_else(|_| panic!("{series} is not a count: {v}")))
}

/// `/metrics` counts RPC calls and errors per method (batch entries each under their own,
/// names the node does not serve under `unknown`), committed txs by type and result, the
/// mempool's bytes, the database's size and the head's supply.
#[test]
fn metrics_count_rpc_calls_per_method_txs_by_type_and_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let before = http_get(node.port, "/metrics").text();
    for _ in 0..3 {
        node.head();
    }
    let (code, _) = node.call_err("nope_nothing", json!([]));
    assert_eq!(code, -32601);
    let batch = json!([
        {"jsonrpc": "2.0", "id": 7, "method": "chain_getHead", "params": []},
        {"jsonrpc": "2.0", "id": "x", "method": "account_get", "params": ["ait1bogus"]},
        {"jsonrpc": "2.0", "id": 9, "method": "also_not_served", "params": []},
    ]);
    let reply = http_post_json(node.port, serde_json::to_vec(&batch).unwrap()).json();
    assert_eq!(reply.as_array().map(Vec::len), Some(3), "{reply}");
    let fresh = addr(&Keypair::from_secret([42; 32]));
    let drip = node.call("admin_mintFaucet", json!([fresh, 1000]));
    node.wait_included(drip["txHash"].as_str().expect("txHash"));

    let after = http_get(node.port, "/metrics").text();
    let delta = |series: &str| metric(&after, series) - metric(&before, series);
    // Three single calls and one in the batch; the batch's bad address is an error.
    assert!(delta("ergon_rpc_calls_total{method=\"chain_getHead\"}") >= 4, "{after}");
    assert!(delta("ergon_rpc_errors_total{method=\"account_get\"}") >= 1, "{after}");
    assert_eq!(delta("ergon_rpc_calls_total{method=\"unknown\"}"), 2, "one single, one in the batch:\n{after}");
    assert_eq!(delta("ergon_rpc_errors_total{method=\"unknown\"}"), 2, "{after}");
    assert!(!after.contains("nope_nothing") && !after.contains("also_not_served"), "client names are not labels");
    assert!(metric(&after, "ergon_txs_committed_total{type=\"TRANSFER\",result=\"ok\"}") >= 1, "{after}");
    assert_eq!(metric(&after, "ergon_txs_committed_total{type=\"RECEIPT_CLAIM\",result=\"ok\"}"), 0);
    assert!(metric(&after, "ergon_db_size_bytes") > 0, "{after}");
    assert!(after.contains("# TYPE ergon_mempool_bytes gauge"), "{after}");
    let supply = node.call("economy_supply", json!([]));
    let total: u128 = supply["total"].as_str().and_then(|t| t.parse().ok()).expect("total");
    // The supply as of the head when scraped (blocks since may have minted rewards).
    let scraped = metric(&after, "ergon_supply{kind=\"total\"}");
    assert!(scraped > 0 && scraped <= total, "{scraped} vs {total} now:\n{after}");
    // A lone validator decides every height in its first round.
    assert_eq!(metric(&after, "ergon_consensus_rounds_total"), 0, "{after}");
    assert_eq!(metric(&after, "ergon_consensus_timeouts_total{step=\"propose\"}"), 0, "{after}");
}

/// `ergon completions SHELL` prints a completion script naming the subcommands and their
/// flags; an unknown shell is refused with the ones there are.
#[test]
fn cli_prints_shell_completions() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef ergon"), ("fish", "complete -c ergon")] {
        let out = run_ergon(&["completions", shell], &[], Duration::from_secs(30));
        assert!(out.status.success(), "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: {}", &out.stdout[..out.stdout.len().min(300)]);
        for word in ["node", "getbalance", "sign-state", "--validator-key", "completions"] {
            assert!(out.stdout.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = run_ergon(&["completions", "tcsh"], &[], Duration::from_secs(30));
    assert!(!out.status.success() && out.stderr.contains("bash") && out.stderr.contains("fish"), "{}", out.stderr);
}

/// `ergon tx transfer --offline --chain dev --nonce N` signs with no node running (a dev name
/// as the recipient, an amount in AIT) and prints the tx; sent later as protobuf hex, it lands
/// exactly as signed. Without --nonce, or with a node URL that answers nothing, nothing is
/// dialled and the error says which flag is missing.
#[test]
fn cli_signs_offline_and_the_tx_lands_later() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_env = home.path().to_str().expect("utf-8 temp path").to_string();
    let envs = [("HOME", home_env.as_str())];
    let args = ["tx", "transfer", "--from", "bob", "--to", "charlie", "--amount", "1.5AIT", "--offline"];
    let out = run_ergon(&[&args[..], &["--chain", "dev"]].concat(), &envs, Duration::from_secs(60));
    assert!(!out.status.success() && out.stderr.contains("--nonce"), "{}", out.stderr);
    // A bare decimal could mean base units or AIT: refused, with the spelling that works.
    let bare = ["tx", "transfer", "--from", "bob", "--to", "charlie", "--amount", "1.5", "--offline"];
    let out = run_ergon(&[&bare[..], &["--chain", "dev", "--nonce", "1"]].concat(), &envs, Duration::from_secs(60));
    assert!(!out.status.success() && out.stderr.contains("write 1.5AIT for tokens"), "{}", out.stderr);
    // Nothing listens on port 1: an offline signer never asks.
    let offline = [&args[..], &["--chain", "dev", "--nonce", "1", "--rpc", "http://127.0.0.1:1"]].concat();
    let out = run_ergon(&offline, &envs, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "offline signing failed
stdout:
{}
stderr:
{}",
        out.stdout,
        out.stderr
    );
    let signed: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(signed["tx"]["payload"]["to"], CHARLIE, "{signed}");
    assert_eq!(signed["tx"]["payload"]["amount"], "1500000000", "{signed}");

    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let (charlie_before, _) = node.account(CHARLIE);
    let sent = node.call("tx_send", json!([signed["protobufHex"]]));
    assert_eq!(sent["txHash"], signed["txHash"], "{sent}");
    node.wait_included(signed["txHash"].as_str().expect("txHash"));
    assert_eq!(node.account(CHARLIE).0, charlie_before + 1_500_000_000);
    assert_eq!(node.account(BOB).1, 1);
}

/// Base units as the CLI prints tokens (9 decimals, trailing zeros dropped).
fn tokens(v: u128) -> String {
    ergon::primitives::serde_amount::format_tokens(v, "AIT", 9).trim_end_matches(" AIT").to_string()
}

#[test]
fn cli_transfer_getbalance_and_chainspec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let home_env = home.path().to_str().expect("utf-8 temp path").to_string();
    let envs = [("HOME", home_env.as_str())];
    let node = Node::start(dir.path(), &[]);
    let url = node.url();
    let (charlie_before, _) = node.account(CHARLIE);

    let out = run_ergon(
        &["tx", "transfer", "--from", "bob", "--to", CHARLIE, "--amount", "10", "--rpc", &url, "--wait", "--json"],
        &envs,
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "tx transfer failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let line = out.stdout.lines().rev().find(|l| !l.trim().is_empty()).expect("tx transfer prints JSON");
    let st: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout));
    assert_eq!(st["status"], "included", "{st}");
    assert!(st["blockHeight"].as_u64().is_some(), "{st}");
    assert_eq!(node.account(CHARLIE).0, charlie_before + 10);
    assert_eq!(node.account(BOB).1, 1, "the CLI used bob's next nonce");

    let out = run_ergon(&["getbalance", CHARLIE, "--rpc", &url, "--json"], &envs, Duration::from_secs(60));
    assert!(out.status.success(), "getbalance failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let bal: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout));
    assert_eq!(bal["address"], CHARLIE, "{bal}");
    assert_eq!(amount(&bal["balance"]), charlie_before + 10, "{bal}");
    assert_eq!(bal["nonce"], 0, "{bal}");

    // For people: AIT with the base units beside; --json above keeps base units for scripts.
    let out = run_ergon(&["getbalance", "charlie", "--rpc", &url], &envs, Duration::from_secs(60));
    assert!(out.status.success(), "getbalance failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let shown = format!("{} AIT ({})", tokens(charlie_before + 10), charlie_before + 10);
    assert!(out.stdout.contains(&format!("Balance:   {shown}")), "{shown} in:\n{}", out.stdout);
    let out = run_ergon(&["history", "charlie", "--rpc", &url], &envs, Duration::from_secs(60));
    assert!(out.stdout.contains("balance +0.00000001 AIT (+10)"), "history in AIT:\n{}{}", out.stdout, out.stderr);
    let out = run_ergon(&["validators", "--rpc", &url], &envs, Duration::from_secs(60));
    assert!(out.status.success() && out.stdout.contains(" AIT ("), "validators in AIT:\n{}{}", out.stdout, out.stderr);
    // A dev name where jobs are filtered by client, as wherever an address is asked.
    let out = run_ergon(&["job", "list", "--client", "bob", "--rpc", &url], &envs, Duration::from_secs(60));
    assert!(out.status.success() && out.stdout.contains("no jobs"), "{}{}", out.stdout, out.stderr);

    let out = run_ergon(&["getbalance", "ait1bogus", "--rpc", &url], &envs, Duration::from_secs(60));
    assert!(!out.status.success(), "a bad address must fail: {}", out.stdout);
    assert!(out.stderr.contains("address"), "error names the address problem: {}", out.stderr);

    let out = run_ergon(&["chainspec", "--chain", "local"], &envs, Duration::from_secs(60));
    assert!(out.status.success(), "chainspec failed: {}", out.stderr);
    let spec: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout));
    let validators = spec["validators"].as_array().unwrap_or_else(|| panic!("no validators: {spec}"));
    assert_eq!(validators.len(), 4, "{spec}");
    assert!(spec["chain_id"].is_string(), "{spec}");
}

/// `ergon chainspec build` makes a spec a node starts on with the generated validator key, and
/// refuses to overwrite it without --force.
#[test]
fn chainspec_build_makes_a_chain_one_validator_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("testnet");
    let out_arg = out_dir.to_str().expect("utf-8 temp path");
    let build =
        ["chainspec", "build", "--validators", "1", "--accounts", "2", "--chain-id", "ergon-it", "--out", out_arg];
    let out = run_ergon(&build, &[], Duration::from_secs(60));
    assert!(out.status.success(), "chainspec build failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let spec_path = out_dir.join("chainspec.json");
    let spec_arg = spec_path.to_str().expect("utf-8 temp path");
    let key_path = out_dir.join("keys").join("validator-1.key");
    let key_arg = key_path.to_str().expect("utf-8 temp path");
    let spec = ChainSpec::load(spec_arg).expect("the built spec loads");
    assert_eq!(spec.chain_id, "ergon-it");
    assert_eq!((spec.validators.len(), spec.accounts.len()), (1, 3), "{spec:?}");
    let hash = ergon::storage::genesis_hash(&spec).expect("genesis hash").to_hex();
    assert!(out.stdout.contains(&hash) && out.stdout.contains(&spec.validators[0].address), "{}", out.stdout);
    let cmdline = format!("ergon node --chain {spec_arg} --validator-key {key_arg}");
    assert!(out.stdout.contains(&cmdline), "prints how to start validator 1:\n{}", out.stdout);

    let again = run_ergon(&build, &[], Duration::from_secs(60));
    assert!(!again.status.success(), "a second build must not overwrite the spec: {}", again.stdout);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(ChainSpec::load(spec_arg).expect("still loads"), spec, "the refused build left the spec alone");

    // Dev key names mean nothing on the built chain.
    let base = dir.path().join("base");
    let out = run_ergon(
        &node_args(&base, &["--chain", spec_arg, "--validator-key", "alice"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
        Duration::from_secs(60),
    );
    assert!(!out.status.success() && out.stderr.contains("dev key names are not accepted"), "{}", out.stderr);

    let node = Node::spawn(&base, &["--chain", spec_arg, "--validator-key", key_arg], &[]);
    node.wait_height(2);
    let (balance, _) = node.account(&spec.accounts[1].address);
    assert_eq!(balance, spec.accounts[1].balance, "the generated account is funded at genesis");
}

#[test]
fn genesis_mismatch_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path();
    let node = Node::start(base, &[]);
    // Let it commit a block, so the restart below has a chain to find.
    let h = node.wait_height(1);
    assert!(base.join("chains").join(CHAIN_ID).join("db").is_dir(), "the db lives at <base>/chains/<chain_id>/db");
    let status = node.terminate();
    assert!(status.success(), "SIGTERM is a clean shutdown, got {status}");

    // Same chain id (same db directory), different spec: the stored genesis does not match.
    let args = node_args(base, &["--dev"]);
    let out = run_ergon(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("MINT_PER_UNIT", "7")],
        Duration::from_secs(60),
    );
    assert!(!out.status.success(), "a node on another chain's db must not start\nstderr:\n{}", out.stderr);
    assert!(!out.stdout.contains("RPC listening"), "it must not serve RPC: {}", out.stdout);
    let err = out.stderr.to_lowercase();
    assert!(
        err.contains("another chain") && err.contains("genesis"),
        "stderr should explain the mismatch:\n{}",
        out.stderr
    );

    // The refused start left the database as it was.
    let node = Node::start(base, &[]);
    assert!(node.head().0 >= h, "the db still holds the chain");
    node.wait_height(h + 1);
}

#[test]
fn websocket_subscriptions_deliver_new_and_finalized_heads() {
    use jsonrpsee::core::client::SubscriptionClientT;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let url = format!("ws://127.0.0.1:{}", node.port);
        let client = jsonrpsee::ws_client::WsClientBuilder::default().build(&url).await.expect("ws connect");
        for (sub, unsub) in [
            ("chain_subscribeNewHeads", "chain_unsubscribeNewHeads"),
            ("chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads"),
        ] {
            let mut s = client
                .subscribe::<Value, _>(sub, jsonrpsee::rpc_params![], unsub)
                .await
                .unwrap_or_else(|e| panic!("{sub}: {e}"));
            let mut heads = Vec::new();
            for _ in 0..2 {
                let h = tokio::time::timeout(PROGRESS, s.next()).await.expect("a head in time");
                heads.push(h.expect("subscription open").expect("a JSON head"));
            }
            let (a, b) = (&heads[0], &heads[1]);
            assert_eq!(b["height"].as_u64(), a["height"].as_u64().map(|h| h + 1), "{sub}: consecutive heads");
            assert_eq!(b["parentHash"], a["hash"], "{sub}: linked heads");
            let block = node.call("chain_getBlock", json!([b["height"]]));
            assert_eq!(block["hash"], b["hash"], "{sub}: the head is the stored block");
            assert_eq!(block["header"]["stateRoot"], b["stateRoot"]);
        }
    });
}

/// Commands whose output is data print one JSON object with `--json`: swarm keys, built chain
/// specs, database checks, double-sign guard exports and imports.
#[test]
fn data_commands_print_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json_of = |out: &Output| -> Value {
        assert!(out.status.success(), "failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{}", out.stdout))
    };
    let key = dir.path().join("swarm.key");
    let key_arg = key.to_str().expect("utf-8 temp path");
    let v = json_of(&run_ergon(&["key", "generate-swarm-key", "--output", key_arg, "--json"], &[], PROGRESS));
    assert_eq!(v["file"], key_arg, "{v}");
    assert!(v["fingerprint"].as_str().is_some_and(|f| !f.is_empty()), "{v}");

    let out_dir = dir.path().join("spec");
    let out_arg = out_dir.to_str().expect("utf-8 temp path");
    let v =
        json_of(&run_ergon(&["chainspec", "build", "--validators", "2", "--out", out_arg, "--json"], &[], PROGRESS));
    assert_eq!(v["chainId"], "ergon-testnet", "{v}");
    assert_eq!(v["validators"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(Path::new(v["validators"][0]["key"].as_str().expect("key path")).exists(), "{v}");
    assert!(v["genesisHash"].as_str().is_some_and(|h| h.len() == 66), "{v}");

    let base = dir.path().join("node");
    let b = base.to_str().expect("utf-8 temp path");
    let node = Node::start(&base, &[]);
    node.wait_height(2);
    let v = json_of(&run_ergon(&["db", "check", "--chain", "dev", "--base-path", b, "--json"], &[], PROGRESS));
    assert_eq!(v["result"], "ok", "{v}");
    assert!(v["head"]["height"].as_u64().is_some_and(|h| h >= 2), "{v}");
    assert_eq!(v["signState"]["present"], true, "{v}");
    let export = dir.path().join("guard.json");
    let e = export.to_str().expect("utf-8 temp path");
    let args = ["sign-state", "export", "--chain", "dev", "--base-path", b, "--output", e, "--json"];
    let v = json_of(&run_ergon(&args, &[], PROGRESS));
    assert_eq!((v["file"].as_str(), v["keys"].as_u64()), (Some(e), Some(1)), "{v}");
    let nb = dir.path().join("new");
    let nb = nb.to_str().expect("utf-8 temp path");
    let v =
        json_of(&run_ergon(&["sign-state", "import", e, "--chain", "dev", "--base-path", nb, "--json"], &[], PROGRESS));
    assert_eq!(v["keys"][0]["result"], "added", "{v}");
    assert_eq!(v["keys"][0]["pubkey"], Keypair::dev("alice").public().to_hex(), "{v}");
}
