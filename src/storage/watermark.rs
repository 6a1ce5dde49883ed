//! The finalized watermark: the last block this store has finalized, in a small file inside
//! the database directory ([`FILE_NAME`]), synced after every commit.
//!
//! Why a file beside RocksDB's own: a committed block is durable because its write batch is
//! synced to RocksDB's write-ahead log. If that log is later truncated or deleted (a disk or
//! filesystem fault, an operator's mistake, a bad restore), RocksDB recovers to the last record
//! it still has and says so only in its own LOG: a node would open at an earlier block and then
//! serve, build on and vote on a chain shorter than the one it had finalized, forking its own
//! history. RocksDB cannot tell a WAL cut at a record boundary from one that simply ended, nor
//! a torn, unacknowledged last write from the loss of acknowledged ones; only a record kept
//! outside the log can. The watermark is written after the block's batch is synced, so it never
//! claims more than the log held: opening below it means acknowledged blocks were lost.
//!
//! Layout: two fixed slots of [`SLOT_BYTES`], written alternately (by height parity), each the
//! SCALE bytes of a [`BlockRef`] followed by a checksum over them. A torn write spoils only the
//! slot being written; the other still holds the previous block. The highest valid slot wins.

use super::BlockRef;
use crate::primitives::Hash;
use parity_scale_codec::{Decode, Encode};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The watermark's name inside the database directory. RocksDB ignores names it did not make.
pub const FILE_NAME: &str = "ERGON-FINALIZED";

const TAG: &[u8] = b"ergon/finalized-watermark/v1";
/// A `BlockRef` (8 + 32 bytes) and its 32-byte checksum.
const SLOT_BYTES: usize = 72;
const RECORD_BYTES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("cannot {action} the finalized watermark {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error(
        "the finalized watermark {path} is unreadable (no slot has a valid checksum): the database directory is \
         damaged. Run `ergon db check`; to sync the chain again from peers, start with --resync"
    )]
    Corrupt { path: String },
}

pub type Result<T> = std::result::Result<T, WatermarkError>;

fn slot_bytes(b: &BlockRef) -> [u8; SLOT_BYTES] {
    let mut out = [0u8; SLOT_BYTES];
    let record = b.encode();
    let sum = Hash::digest(TAG, &record);
    out[..RECORD_BYTES].copy_from_slice(&record);
    out[RECORD_BYTES..].copy_from_slice(&sum.0);
    out
}

fn parse_slot(bytes: &[u8]) -> Option<BlockRef> {
    let (record, sum) = (bytes.get(..RECORD_BYTES)?, bytes.get(RECORD_BYTES..SLOT_BYTES)?);
    if Hash::digest(TAG, record).0[..] != *sum {
        return None;
    }
    BlockRef::decode(&mut &record[..]).ok()
}

/// The watermark in the database directory `dir`: `None` if there is none (a store created
/// before watermarks, or not yet initialised).
pub fn read(dir: &Path) -> Result<Option<BlockRef>> {
    let path = dir.join(FILE_NAME);
    let shown = || path.display().to_string();
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(|source| WatermarkError::Io { action: "read", path: shown(), source })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(WatermarkError::Io { action: "open", path: shown(), source }),
    };
    // A file created and never written (a crash in between) holds nothing yet.
    if bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    bytes
        .chunks(SLOT_BYTES)
        .filter_map(parse_slot)
        .max_by_key(|b| b.height)
        .map(Some)
        .ok_or(WatermarkError::Corrupt { path: shown() })
}

/// The open watermark of a writable store.
pub struct Watermark {
    file: Mutex<File>,
    path: PathBuf,
}

impl Watermark {
    /// Opens (creating, durably) the watermark in the database directory `dir`.
    pub fn open(dir: &Path) -> Result<Watermark> {
        let path = dir.join(FILE_NAME);
        let io = |action, source| WatermarkError::Io { action, path: path.display().to_string(), source };
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        if !existed {
            // The directory entry must be as durable as what the file will say.
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("sync the directory of", e))?;
        }
        Ok(Watermark { file: Mutex::new(file), path })
    }

    /// Records `b` as finalized, synced before returning.
    pub fn record(&self, b: &BlockRef) -> Result<()> {
        let io = |action, source| WatermarkError::Io { action, path: self.path.display().to_string(), source };
        let offset = (b.height % 2) * SLOT_BYTES as u64;
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(offset)).map_err(|e| io("seek in", e))?;
        f.write_all(&slot_bytes(b)).map_err(|e| io("write", e))?;
        f.sync_data().map_err(|e| io("sync", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(height: u64) -> BlockRef {
        BlockRef { height, hash: Hash::digest(b"test", &height.to_be_bytes()) }
    }

    #[test]
    fn the_highest_valid_slot_wins_and_a_torn_slot_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None, "no file, no watermark");
        let w = Watermark::open(dir.path()).unwrap();
        for h in 0..=7 {
            w.record(&at(h)).unwrap();
        }
        assert_eq!(read(dir.path()).unwrap(), Some(at(7)));
        // Height 8 goes to slot 0; tear that write halfway.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let torn = slot_bytes(&at(8));
        bytes[..SLOT_BYTES / 2].copy_from_slice(&torn[..SLOT_BYTES / 2]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(at(7)), "the other slot still holds 7");
        // Both slots spoiled: refused, not taken for "no watermark".
        std::fs::write(&path, vec![0xAB; 2 * SLOT_BYTES]).unwrap();
        assert!(matches!(read(dir.path()), Err(WatermarkError::Corrupt { .. })));
    }

    /// The slot format is part of the on-disk layout: pinned, so a change fails here.
    #[test]
    fn slot_bytes_are_pinned() {
        let s = slot_bytes(&BlockRef { height: 5, hash: Hash([7; 32]) });
        assert_eq!(&s[..8], &5u64.to_le_bytes());
        assert_eq!(&s[8..40], &[7; 32]);
        assert_eq!(hex::encode(&s[40..]), "1fbe65d27e702507542ef19d389d862396c032c6cd92322bdb4fb7264823e2df");
        assert_eq!(parse_slot(&s), Some(BlockRef { height: 5, hash: Hash([7; 32]) }));
    }
}
