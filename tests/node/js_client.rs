//! The JavaScript client (`clients/js`, README "JavaScript client") against a real node: its
//! `node --test` suite, built with `tsc` by `npm test`, with `ERGON_BIN` pointing at this
//! build's binary. The suite checks the golden vectors, then starts its own `ergon node --dev`
//! nodes (temporary base paths, free loopback ports), drives them over JSON-RPC and WebSocket
//! and runs the js-libp2p peer example against one, and kills them at the end.
//!
//! Skipped, saying why on stderr, where Node.js or npm is missing or the package's pinned
//! dependencies are not installed (`npm ci --prefix clients/js`, which `scripts/deps.sh` runs).

use super::*;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// The whole suite takes well under a minute; this is for a node or a test that hangs.
const NPM_TEST_TIMEOUT: Duration = Duration::from_secs(300);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients").join("js")
}

/// Why the suite cannot run here, if it cannot.
fn js_client_missing() -> Option<String> {
    for tool in ["node", "npm"] {
        match Command::new(tool).arg("--version").stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return Some(format!("`{tool} --version` failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
            }
            Err(e) => return Some(format!("{tool} is not installed (`{tool}`: {e})")),
        }
    }
    let modules = js_dir().join("node_modules");
    ["typescript", "libp2p", "protobufjs", "ws", "@noble/ed25519"]
        .iter()
        .find(|p| !modules.join(p).is_dir())
        .map(|p| format!("{} has no {p}: run `npm ci --prefix clients/js`", modules.display()))
}

/// The count a `node --test` TAP summary line gives (`# pass 27`).
fn tap_count(stdout: &str, what: &str) -> Option<u64> {
    let prefix = format!("# {what} ");
    stdout.lines().rev().find_map(|l| l.trim().strip_prefix(prefix.as_str()).and_then(|n| n.trim().parse().ok()))
}

#[test]
fn js_client_passes_its_tests_against_a_real_node() {
    if let Some(why) = js_client_missing() {
        eprintln!("SKIPPED: the JavaScript client's tests cannot run: {why}");
        return;
    }
    let mut cmd = Command::new("npm");
    cmd.arg("test")
        .current_dir(js_dir())
        .env("ERGON_BIN", BIN)
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("npm_config_update_notifier", "false")
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout also ends the nodes and peers the suite started.
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn npm test");
    let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
    let t_out = collect_lines(child.stdout.take().expect("stdout"), out.clone());
    let t_err = collect_lines(child.stderr.take().expect("stderr"), err.clone());
    let take = |s: &Arc<Mutex<String>>| s.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let deadline = Instant::now() + NPM_TEST_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait npm test") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            let _ = (t_out.join(), t_err.join());
            panic!(
                "npm test did not finish within {NPM_TEST_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                take(&out),
                take(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = (t_out.join(), t_err.join());
    let (stdout, stderr) = (take(&out), take(&err));
    assert!(status.success(), "npm test failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let count = |what| {
        tap_count(&stdout, what).unwrap_or_else(|| panic!("no `# {what} N` line in the suite's output:\n{stdout}"))
    };
    let (pass, fail, skipped) = (count("pass"), count("fail"), count("skipped"));
    assert!(pass > 0 && fail == 0, "the suite must pass: {pass} passed, {fail} failed\n{stdout}");
    assert_eq!(skipped, 0, "every test must run (ERGON_BIN is this build's binary):\n{stdout}");
    eprintln!("clients/js: {pass} passed, {fail} failed, {skipped} skipped");
}
