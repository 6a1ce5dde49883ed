//! The explorer a node serves at `/` (issue 13, item 1), driven in headless Chromium by
//! `tests/browser/explorer.mjs` (playwright-core; Debian's `chromium`, which `make deps`
//! installs).

use super::*;

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("browser")
}

/// `GET /` is the page (no CDN: everything it loads is inline), and the page names only
/// read methods.
#[test]
fn the_explorer_is_served_whole_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let page = http_get(node.port, "/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<title>ergon explorer</title>") && html.contains("chain_subscribeNewHeads"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing from elsewhere");
    for unsafe_method in ["admin_", "tx_send", "blob_put", "receipt_submit"] {
        assert!(!html.contains(unsafe_method), "the page calls {unsafe_method}");
    }
}

/// In a real browser against a real node: the page loads, shows a block committed after it
/// loaded within 3 s (over the WebSocket subscription), finds a tx by its hash, and shows
/// the node's own error for a search it cannot answer.
#[test]
fn the_explorer_shows_new_blocks_and_finds_a_tx_in_chromium() {
    let script = browser_dir().join("explorer.mjs");
    let ready = Path::new(CHROMIUM).exists() && browser_dir().join("node_modules").join("playwright-core").exists();
    if !ready {
        eprintln!(
            "SKIPPED: needs {CHROMIUM} (apt-get install chromium) and tests/browser's npm packages \
             (npm ci --prefix tests/browser); `make deps` installs both"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let tx = transfer(&Keypair::dev("alice"), &addr(&Keypair::dev("bob")), 7, 1);
    let hash = node.send(&tx);
    wait_for("the tx to be included", PROGRESS, || {
        (node.call("tx_get", json!([hash]))["status"] == "included").then_some(())
    });
    let url = format!("http://127.0.0.1:{}/", node.port);
    let out =
        Command::new("node").arg(&script).args([url.as_str(), hash.as_str(), CHROMIUM]).output().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let steps: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let step =
        |name: &str| steps.iter().find(|s| s["step"] == name).cloned().unwrap_or_else(|| panic!("no {name}: {stdout}"));
    let load = step("load");
    assert_eq!(load["title"], "Ergon Development explorer", "{load}");
    assert!(load["rows"].as_u64().is_some_and(|n| n >= 1), "{load}");
    let new = step("new-block");
    assert!(new["head"].as_u64() > load["head"].as_u64() && new["ms"].as_u64().is_some_and(|ms| ms <= 3000), "{new}");
    assert_eq!(new["live"], "live", "{new}");
    assert_eq!(step("find-tx")["included"], true, "{stdout}");
    let bad = step("bad-search");
    assert!(bad["error"].as_str().is_some_and(|e| e.contains("address")), "{bad}");
    assert_eq!(step("disputes")["text"], "none", "{stdout}");
    let unknown = step("unknown-id");
    assert!(unknown["error"].as_str().is_some_and(|e| e.contains("receipt")), "searched as a receipt too: {unknown}");
    step("done");
}

/// A page open on a node that goes away says so (the header and the detail pane), rather
/// than going on showing the last head as if nothing happened.
#[test]
fn the_explorer_says_when_its_node_is_down() {
    let script = browser_dir().join("explorer.mjs");
    let ready = Path::new(CHROMIUM).exists() && browser_dir().join("node_modules").join("playwright-core").exists();
    if !ready {
        eprintln!("SKIPPED: needs {CHROMIUM} and tests/browser's npm packages (`make deps` installs both)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[]);
    let url = format!("http://127.0.0.1:{}/", node.port);
    let mut child = Command::new("node")
        .arg(&script)
        .args(["--down", url.as_str(), CHROMIUM])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("read the script's output");
        seen.push(line.clone());
        if line.contains("\"step\":\"loaded\"") || line.contains("\"ok\":false") {
            break;
        }
    }
    assert!(seen.last().is_some_and(|l| l.contains("\"loaded\"")), "the page did not load:\n{}", seen.join("\n"));
    node.kill9();
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("wait for the script");
    let all = seen.join("\n");
    assert!(status.success(), "{all}");
    let down: Value =
        seen.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["step"] == "down").unwrap();
    assert_eq!(down["live"], "node down", "{down}");
    assert!(down["says"].as_str().is_some_and(|s| s.contains("does not answer")), "{down}");
}
