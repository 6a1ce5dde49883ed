//! A damaged store is refused, never opened shorter or started over: a truncated or deleted
//! write-ahead log, a missing `CURRENT`; and `check` says the same without changing anything.

use super::tests::{build_block, commit, dev_spec};
use super::*;

/// A store at `dir` with `blocks` blocks over genesis, closed. RocksDB does not flush its
/// memtables on close, so everything since the last open is only in the write-ahead log.
fn store_with_blocks(dir: &Path, spec: &ChainSpec, blocks: u64) -> BlockRef {
    let store = Store::open(dir, spec).unwrap();
    for _ in 0..blocks {
        let b = build_block(&store, spec, vec![]);
        commit(&store, &b);
    }
    store.head().unwrap()
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

fn newest_wal(dir: &Path) -> PathBuf {
    wal_files(dir).pop().expect("a write-ahead log")
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

#[test]
fn a_truncated_wal_is_refused_not_opened_shorter() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let head = store_with_blocks(dir.path(), &spec, 6);
    assert_eq!(head.height, 6);
    // Cut into the last block's record: RocksDB alone would open at block 5.
    let wal = newest_wal(dir.path());
    let len = std::fs::metadata(&wal).unwrap().len();
    truncate(&wal, len - 16);
    for attempt in 0..2 {
        match Store::open(dir.path(), &spec) {
            Err(StoreError::RolledBack { finalized: 6, head: 5, .. }) => {}
            Err(e) => panic!("attempt {attempt}: expected RolledBack 6 -> 5, got {e}"),
            Ok(s) => panic!("attempt {attempt}: opened at {:?} although 6 was finalized", s.head()),
        }
        // Refused before RocksDB's recovery rewrote anything: the log is as it was left.
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), len - 16, "the refused open changed the log");
    }
    let e = check::check(dir.path(), &spec).unwrap_err();
    assert!(matches!(e, StoreError::RolledBack { finalized: 6, head: 5, .. }), "check: {e}");
    let text = e.to_string();
    assert!(text.contains("--resync") && text.contains("ergon db check"), "the error says what to do: {text}");
}

/// A log cut at a record boundary (here: emptied) is invisible to RocksDB's checksums.
#[test]
fn an_emptied_wal_is_refused_not_started_over() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    store_with_blocks(dir.path(), &spec, 3);
    truncate(&newest_wal(dir.path()), 0);
    match Store::open(dir.path(), &spec) {
        Err(StoreError::Damaged { reason, .. }) => {
            assert!(reason.contains("no blocks at all") && reason.contains("finalized block 3"), "{reason}")
        }
        Err(e) => panic!("expected Damaged, got {e}"),
        Ok(s) => panic!("opened at {:?} although 3 was finalized", s.head()),
    }
}

#[test]
fn a_deleted_wal_after_a_flush_is_refused() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    store_with_blocks(dir.path(), &spec, 3);
    // Reopening recovers the log into a table file; three more blocks go to a new log.
    let head = store_with_blocks(dir.path(), &spec, 3);
    assert_eq!(head.height, 6);
    for wal in wal_files(dir.path()) {
        std::fs::remove_file(wal).unwrap();
    }
    match Store::open(dir.path(), &spec) {
        Err(StoreError::RolledBack { finalized: 6, head: 3, .. }) => {}
        Err(e) => panic!("expected RolledBack 6 -> 3, got {e}"),
        Ok(s) => panic!("opened at {:?} although 6 was finalized", s.head()),
    }
}

#[test]
fn a_directory_without_current_is_refused_and_left_alone() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    store_with_blocks(dir.path(), &spec, 2);
    store_with_blocks(dir.path(), &spec, 1);
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    for wal in wal_files(dir.path()) {
        std::fs::remove_file(wal).unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        before.iter().any(|n| n.to_string_lossy().ends_with(".sst")),
        "the test wants table files without CURRENT: {before:?}"
    );
    let e = Store::open(dir.path(), &spec).err().expect("refused");
    assert!(matches!(e, StoreError::MissingCurrent { .. }), "{e}");
    assert!(e.to_string().contains("no CURRENT"), "{e}");
    assert!(!dir.path().join("CURRENT").exists(), "no new database was created over the old one");
    assert!(matches!(check::check(dir.path(), &spec), Err(StoreError::MissingCurrent { .. })));
}

#[test]
fn new_directories_are_created_and_a_store_from_before_watermarks_opens() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path, &spec).unwrap();
    assert!(store.created(), "a missing directory is a new store");
    drop(store);
    let head = store_with_blocks(&path, &spec, 2);
    assert!(!Store::open(&path, &spec).unwrap().created());
    assert_eq!(watermark::read(&path).unwrap(), Some(head));
    // Before watermarks: no file. The store opens and gets one.
    std::fs::remove_file(path.join(watermark::FILE_NAME)).unwrap();
    let store = Store::open(&path, &spec).unwrap();
    assert_eq!(store.head().unwrap(), head);
    assert_eq!(watermark::read(&path).unwrap(), Some(head));
    // An empty directory is new too (the node creates it before opening).
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(Store::open(&empty, &spec).unwrap().created());
}

#[test]
fn check_walks_a_healthy_store_even_beside_its_writer() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    store_with_blocks(dir.path(), &spec, 4);
    let store = Store::open(dir.path(), &spec).unwrap();
    let b = build_block(&store, &spec, vec![]);
    commit(&store, &b);
    let report = check::check(dir.path(), &spec).unwrap();
    assert_eq!(report.head, BlockRef { height: 5, hash: b.block.hash() });
    assert_eq!(report.finalized, report.head);
    assert_eq!(report.watermark, Some(report.head));
    assert_eq!(report.blocks_checked, 6, "genesis and five blocks");
    assert_eq!(report.genesis, store.genesis_hash().unwrap());
}

#[test]
fn genesis_hash_needs_no_store() {
    for name in ["dev", "local"] {
        let spec = ChainSpec::load(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &spec).unwrap();
        assert_eq!(genesis_hash(&spec).unwrap(), store.genesis_hash().unwrap(), "{name}");
    }
}
