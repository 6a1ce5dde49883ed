//! A damaged data directory (issue 14, items 4 and 5). A node whose write-ahead log was cut,
//! or whose `CURRENT` is gone, refuses to start instead of opening shorter or starting a new
//! chain, `ergon db check` says why, and `--resync` is the way back. A validator's double-sign
//! guard lives beside the database: losing the database keeps it (the validator signs nothing
//! below it), losing the guard alone is refused unless `--unsafe-reset-sign-state`, and
//! `ergon sign-state export|import` moves it between machines.

use super::*;

/// The dev spec with quick blocks and rounds: a lone validator's chain counts as `halted`
/// after 3.8 s without a block.
fn quick_dev_spec(dir: &Path) -> String {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.consensus.block_time_ms = 200;
    spec.consensus.propose_timeout_ms = 500;
    spec.consensus.vote_timeout_ms = 200;
    spec.consensus.timeout_delta_ms = 100;
    write_spec(dir, "quick-dev.json", &spec)
}

fn chain_dir(base: &Path) -> std::path::PathBuf {
    base.join("chains").join(CHAIN_ID)
}

fn db_dir(base: &Path) -> std::path::PathBuf {
    chain_dir(base).join("db")
}

fn guard_file(base: &Path) -> std::path::PathBuf {
    chain_dir(base).join("sign-state.json")
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// `ergon node ARGS` on `base`, which must exit with an error (not serve): its stderr.
fn refused_start(base: &Path, extra: &[&str]) -> String {
    let args = node_args(base, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_ergon(&args, &[], STARTUP);
    assert!(!out.status.success(), "the node should refuse to start; stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("RPC listening"), "a refused node serves nothing:\n{}", out.stdout);
    out.stderr
}

fn db_check(base: &Path, spec: &str) -> Output {
    let base = base.to_str().unwrap();
    run_ergon(&["db", "check", "--chain", spec, "--base-path", base], &[], PROGRESS)
}

/// The guard file's record for `key`: (height, round, step).
fn last_signed(base: &Path, key: &Keypair) -> (u64, u64, String) {
    let path = guard_file(base);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
    let pubkey = key.public().to_hex();
    let r = v["data"].as_array().and_then(|d| d.iter().find(|r| r["pubkey"] == pubkey.as_str()));
    let r = r.unwrap_or_else(|| panic!("no record for {pubkey} in {v}"));
    let p = &r["last_signed"];
    (p["height"].as_u64().unwrap(), p["round"].as_u64().unwrap(), p["step"].as_str().unwrap().to_string())
}

fn block_hash(node: &Node, height: u64) -> String {
    node.call("chain_getBlock", json!([height]))["hash"].as_str().unwrap_or_else(|| panic!("no block {height}")).into()
}

#[test]
fn a_truncated_wal_is_refused_checked_and_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let spec = quick_dev_spec(dir.path());
    let v = Node::spawn(&dir.path().join("v"), &["--chain", &spec, "--validator-key", "alice"], &[]);
    let f_base = dir.path().join("f");
    let follower = |extra: &[&str]| {
        let boot = v.p2p_addr();
        let mut args = vec!["--chain", spec.as_str(), "--bootnodes", boot.as_str()];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = follower(&[]);
    let f = Node::spawn(&f_base, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let finalized = f.wait_height(25);
    f.kill9();

    // Started once and killed: every block is in the write-ahead log alone. Cut it to 60%.
    let wal = files_ending(&db_dir(&f_base), ".log").pop().expect("a write-ahead log");
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&wal).unwrap().set_len(len * 6 / 10).unwrap();

    let err = refused_start(&f_base, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("this node had finalized block"), "the refusal says what was lost:\n{err}");
    assert!(err.contains("--resync") && err.contains("ergon db check"), "and what to do:\n{err}");
    // `db check` gives the same verdict, and changes nothing either.
    let check = db_check(&f_base, &spec);
    assert!(!check.status.success(), "db check passes a rolled-back store:\n{}", check.stdout);
    assert!(check.stderr.contains("this node had finalized block"), "{}", check.stderr);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), len * 6 / 10, "nothing rewrote the cut log");
    // On a healthy store, even beside its running node, the check passes.
    let check = db_check(&dir.path().join("v"), &spec);
    assert!(check.status.success(), "db check of the validator's store failed:\n{}", check.stderr);
    assert!(check.stdout.contains("result     ok"), "{}", check.stdout);

    // --resync: the damaged store goes and the chain comes back from the validator, the same.
    let args = follower(&["--resync"]);
    let f = Node::spawn(&f_base, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    wait_for("the resync to be logged", PROGRESS, || {
        f.stderr().contains("--resync: deleted the chain database").then_some(())
    });
    let target = v.head().0;
    f.wait_height(target);
    for h in [1, finalized, target] {
        assert_eq!(block_hash(&f, h), block_hash(&v, h), "block {h} after the resync");
    }
    let check = db_check(&f_base, &spec);
    assert!(check.status.success(), "db check after the resync failed:\n{}", check.stderr);
}

#[test]
fn a_db_without_current_is_refused_not_reinitialised() {
    let dir = tempfile::tempdir().unwrap();
    let spec = quick_dev_spec(dir.path());
    let base = dir.path().join("n");
    let args = ["--chain", spec.as_str(), "--validator-key", "alice"];
    let n = Node::spawn(&base, &args, &[]);
    n.wait_height(5);
    assert!(n.terminate().success());
    // The restart recovers the log into table files.
    let n = Node::spawn(&base, &args, &[]);
    let head = n.wait_height(10);
    n.kill9();
    let db = db_dir(&base);
    let tables = files_ending(&db, ".sst");
    assert!(!tables.is_empty(), "the test wants table files");
    std::fs::remove_file(db.join("CURRENT")).unwrap();
    for wal in files_ending(&db, ".log") {
        std::fs::remove_file(wal).unwrap();
    }

    let err = refused_start(&base, &args);
    assert!(err.contains("no CURRENT file"), "the refusal names what is missing:\n{err}");
    assert!(err.contains("--resync"), "{err}");
    assert!(!db.join("CURRENT").exists(), "no new chain was started over the old one");
    assert_eq!(files_ending(&db, ".sst"), tables, "the table files are untouched");
    let check = db_check(&base, &spec);
    assert!(!check.status.success() && check.stderr.contains("no CURRENT file"), "{}", check.stderr);
    assert!(head >= 10);
}

#[test]
fn a_validator_that_lost_its_database_keeps_its_guard_and_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = quick_dev_spec(dir.path());
    let alice = Keypair::dev("alice");
    let base = dir.path().join("a");
    let args = ["--chain", spec.as_str(), "--validator-key", "alice"];
    let n = Node::spawn(&base, &args, &[]);
    let head = n.wait_height(8);
    n.kill9();
    let before = guard_file(&base).exists().then(|| last_signed(&base, &alice));
    std::fs::remove_dir_all(db_dir(&base)).unwrap();

    // A new, empty database; the guard beside it is still there, so alice, the only
    // validator, signs nothing at the heights she already signed: no block 1 of a new chain.
    // Her own health says three rounds' worth of time went by without a block.
    let n = Node::spawn(&base, &args, &[]);
    wait_for("health to report halted (no new chain under the guard)", PROGRESS, || {
        let h = n.call("system_health", json!([]));
        h["reasons"].as_array().is_some_and(|r| r.iter().any(|r| r == "halted")).then_some(())
    });
    assert_eq!(n.head().0, 0, "a validator without its database must not build a new chain under its guard");
    wait_for("the warning that the guard is above the chain", PROGRESS, || {
        n.stderr().contains("signs nothing until the chain passes").then_some(())
    });
    let guard = last_signed(&base, &alice);
    assert!(guard.0 >= head, "the guard covers what was signed: {guard:?}, head {head}");
    assert_eq!(Some(guard.clone()), before, "nothing was signed since the database was lost");

    // Export while the node runs; import beside it is refused.
    let b = base.to_str().unwrap();
    let export = dir.path().join("alice-guard.json");
    let out = run_ergon(
        &["sign-state", "export", "--chain", &spec, "--base-path", b, "--output", export.to_str().unwrap()],
        &[],
        PROGRESS,
    );
    assert!(out.status.success(), "export failed: {}", out.stderr);
    let out = run_ergon(
        &["sign-state", "import", export.to_str().unwrap(), "--chain", &spec, "--base-path", b],
        &[],
        PROGRESS,
    );
    assert!(!out.status.success() && out.stderr.contains("in use"), "import beside a running node: {}", out.stderr);

    // Onto a new machine: import, then a lower copy (kept) and another chain's (refused).
    let new_base = dir.path().join("new");
    let nb = new_base.to_str().unwrap();
    let import = |file: &Path| {
        run_ergon(&["sign-state", "import", file.to_str().unwrap(), "--chain", &spec, "--base-path", nb], &[], PROGRESS)
    };
    let out = import(&export);
    assert!(out.status.success() && out.stdout.contains("added"), "import failed: {}{}", out.stdout, out.stderr);
    assert_eq!(last_signed(&new_base, &alice), guard);
    let mut lower: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    lower["data"][0]["last_signed"]["height"] = json!(1);
    let lower_file = dir.path().join("lower.json");
    std::fs::write(&lower_file, lower.to_string()).unwrap();
    let out = import(&lower_file);
    assert!(out.status.success() && out.stdout.contains("kept"), "{}{}", out.stdout, out.stderr);
    assert_eq!(last_signed(&new_base, &alice), guard, "an import never lowers the guard");
    let mut foreign = lower.clone();
    foreign["metadata"]["genesis_hash"] = json!(format!("0x{}", "00".repeat(32)));
    let foreign_file = dir.path().join("foreign.json");
    std::fs::write(&foreign_file, foreign.to_string()).unwrap();
    let out = import(&foreign_file);
    assert!(!out.status.success() && out.stderr.contains("genesis"), "{}", out.stderr);
    assert_eq!(last_signed(&new_base, &alice), guard);
}

#[test]
fn a_validator_whose_guard_is_missing_is_refused_unless_reset() {
    let dir = tempfile::tempdir().unwrap();
    let spec = quick_dev_spec(dir.path());
    let base = dir.path().join("a");
    let args = ["--chain", spec.as_str(), "--validator-key", "alice"];
    let n = Node::spawn(&base, &args, &[]);
    let head = n.wait_height(5);
    assert!(n.terminate().success());
    std::fs::remove_file(guard_file(&base)).expect("the guard lives beside the database");

    let err = refused_start(&base, &args);
    assert!(err.contains("double-sign guard") && err.contains("is missing"), "{err}");
    assert!(err.contains("--unsafe-reset-sign-state") && err.contains("ergon sign-state import"), "{err}");
    // A node that does not validate needs no guard.
    let full = Node::spawn(&base, &["--chain", &spec], &[]);
    assert!(full.head().0 >= head);
    assert!(full.terminate().success());
    assert!(!guard_file(&base).exists(), "a full node does not make up a guard");

    // The operator's word: an empty guard, and the chain goes on.
    let mut reset = args.to_vec();
    reset.push("--unsafe-reset-sign-state");
    let n = Node::spawn(&base, &reset, &[]);
    wait_for("the reset to be logged", PROGRESS, || n.stderr().contains("double-sign guard reset").then_some(()));
    let more = n.wait_height(head + 3);
    // A lone validator commits on its own precommit and writes the guard right after: the
    // head can be seen a moment before the guard that covers it.
    wait_for("the new guard to cover the new blocks", PROGRESS, || {
        (last_signed(&base, &Keypair::dev("alice")).0 >= more).then_some(())
    });
}

/// Free bytes on the file system holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let fs = rustix::fs::statvfs(path).expect("statvfs");
    fs.f_bavail * fs.f_frsize
}

/// Unmounts on drop (lazily: the node's files may still be open).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Item 7: a full disk. Writes stop short of it (`--min-free-disk`), so RocksDB never meets
/// it: block production pauses, txs are refused with 1024 and health says `storage-error`;
/// freeing space resumes production without a restart. The disk is a 96 MiB tmpfs: mounting
/// needs root, as on this project's machines and CI; elsewhere the test says so and stops.
#[test]
fn a_full_disk_pauses_production_and_freeing_space_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(&disk)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED a_full_disk_pauses_production_and_freeing_space_resumes_it: cannot mount a tmpfs here");
        return;
    }
    let _unmount = Unmount(disk.clone());
    let node = Node::spawn(&disk.join("n"), &["--dev", "--min-free-disk", "32"], &[]);
    node.wait_height(2);

    // Leave 8 MiB free: below the node's 32 MiB, well above what writes in flight need.
    let filler = disk.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5a; 1 << 20];
        while free_bytes(&disk) > 9 << 20 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    let health = wait_for("health to report storage-error", PROGRESS, || {
        let h = node.call("system_health", json!([]));
        h["reasons"].as_array().is_some_and(|r| r.iter().any(|r| r == "storage-error")).then_some(h)
    });
    assert!(health["storageError"].as_str().unwrap().contains("--min-free-disk"), "{health}");
    let stuck = node.head().0;
    let bob = Keypair::dev("bob");
    let nonce = node.account(BOB).1;
    let (code, msg) = node.send_err(&transfer(&bob, CHARLIE, 5, nonce + 1));
    assert_eq!(code, 1024, "{msg}");
    assert!(msg.contains("min-free-disk"), "the refusal says why: {msg}");

    std::fs::remove_file(&filler).unwrap();
    node.wait_height(stuck + 2);
    wait_for("health to be ok again", PROGRESS, || {
        (node.call("system_health", json!([]))["status"] == "ok").then_some(())
    });
    let hash = node.send(&transfer(&bob, CHARLIE, 5, nonce + 1));
    node.wait_included(&hash);
    assert!(node.stderr().contains("storage is back"), "the node says it resumed");
}

/// Item 6: damaged block data. A block body whose table block fails RocksDB's checksum gives
/// the caller -32603 as before; now the node also logs it at error level, counts it in
/// `ergon_storage_read_errors_total` and reports `storage-error` from `/health` (503) until
/// it restarts. Before, only the caller heard of it.
#[test]
fn a_damaged_block_read_is_logged_counted_and_reported_by_health() {
    let dir = tempfile::tempdir().unwrap();
    let spec = quick_dev_spec(dir.path());
    let base = dir.path().join("n");
    let args = ["--chain", spec.as_str(), "--validator-key", "alice"];
    let n = Node::spawn(&base, &args, &[]);
    n.wait_height(30);
    assert!(n.terminate().success());
    // The restart recovers the log into table files, one per column family.
    let n = Node::spawn(&base, &args, &[]);
    let head = n.wait_height(32);
    block_hash(&n, 1); // readable before the damage
    assert!(n.terminate().success());
    let db = db_dir(&base);
    let bodies = files_ending(&db, ".sst")
        .into_iter()
        .find(|p| find(&std::fs::read(p).unwrap(), b"bodies").is_some())
        .expect("a table file of the bodies column family");
    // Spoil a few bytes of its first data block, which holds the lowest heights.
    let mut bytes = std::fs::read(&bodies).unwrap();
    bytes[16..24].iter_mut().for_each(|b| *b ^= 0xff);
    std::fs::write(&bodies, bytes).unwrap();

    let n = Node::spawn(&base, &args, &[]);
    assert!(n.head().0 >= head, "the node opened at its head");
    assert_eq!(metric(&http_get(n.port, "/metrics").text(), "ergon_storage_read_errors_total"), 0);
    let (code, msg) = n.call_err("chain_getBlock", json!([1]));
    assert_eq!(code, -32603, "{msg}");
    assert!(msg.to_lowercase().contains("checksum") || msg.contains("Corruption"), "{msg}");
    assert_eq!(metric(&http_get(n.port, "/metrics").text(), "ergon_storage_read_errors_total"), 1);
    let logged = n.stderr();
    assert!(
        logged.lines().any(|l| l.contains("ERROR") && l.contains("a read of stored data failed")),
        "an error-level log line:\n{logged}"
    );
    let health = http_get(n.port, "/health");
    assert_eq!(health.status, 503, "{}", health.text());
    let h = health.json();
    assert!(h["reasons"].as_array().unwrap().iter().any(|r| r == "storage-error"), "{h}");
    assert!(h["storageError"].as_str().unwrap().contains("db check"), "{h}");
}
