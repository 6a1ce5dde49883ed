//! The Python client (`clients/python`, README "Python client") against a real node: its
//! pytest suite, with `ERGON_BIN` pointing at this build's binary. The suite starts its own
//! `ergon node --dev` (temporary base path, free loopback port) and kills it at the end.
//!
//! Skipped, saying why on stderr, where python3 or the test packages (pytest, requests,
//! websockets, pynacl: `clients/python/requirements-test.txt`, which `make deps` installs)
//! are missing.

use super::*;
use std::os::unix::process::CommandExt;

/// The whole suite takes seconds; this is for a node or a test that hangs.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Prints the modules the suite imports that python3 cannot (a websockets older than 13 has
/// no `websockets.asyncio`).
const PROBE: &str = r#"
import importlib
missing = []
for name in ("pytest", "requests", "websockets.asyncio.client", "websockets.sync.client", "nacl.signing"):
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
print(" ".join(missing))
"#;

/// The import names of the packages the suite needs that python3 cannot find, or why python3
/// cannot be run.
fn missing_python_packages() -> Result<Vec<String>, String> {
    let out = Command::new("python3")
        .args(["-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("python3 cannot be run ({e})"))?;
    if !out.status.success() {
        return Err(format!("python3 failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect())
}

#[test]
fn python_client_passes_its_tests_against_a_real_node() {
    match missing_python_packages() {
        Err(why) => {
            eprintln!("SKIPPED: the Python client's tests need python3: {why}");
            return;
        }
        Ok(missing) if !missing.is_empty() => {
            eprintln!(
                "SKIPPED: the Python client's tests need {} (pip install -r \
                 clients/python/requirements-test.txt, which `make deps` runs)",
                missing.join(", ")
            );
            return;
        }
        Ok(_) => {}
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "clients/python/tests"])
        .current_dir(root)
        .env("ERGON_BIN", BIN)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout also ends the node the suite started.
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn python3 -m pytest");
    let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
    let t_out = collect_lines(child.stdout.take().expect("stdout"), out.clone());
    let t_err = collect_lines(child.stderr.take().expect("stderr"), err.clone());
    let take = |s: &Arc<Mutex<String>>| s.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let deadline = Instant::now() + PYTEST_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait pytest") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            let _ = (t_out.join(), t_err.join());
            panic!("pytest did not finish within {PYTEST_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}", take(&out), take(&err));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = (t_out.join(), t_err.join());
    let (stdout, stderr) = (take(&out), take(&err));
    assert!(status.success(), "pytest failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let summary = stdout.lines().rev().find(|l| l.contains(" passed")).unwrap_or_default();
    assert!(!summary.is_empty() && !summary.contains("skipped"), "every test must run: {stdout}");
    eprintln!("clients/python: {summary}");
}
