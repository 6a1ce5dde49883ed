//! `ergon db check`: the verdicts [`Store::open`] would give, and a walk of the chain, without
//! writing anything, so an operator can see what is wrong before choosing what to do
//! (restore a backup, `--resync`).

use super::{watermark, BlockRef, Result, Store, StoreError, SCHEMA_VERSION};
use crate::chainspec::ChainSpec;
use std::path::{Path, PathBuf};

/// What a store that passed holds.
#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub schema: u32,
    pub genesis: crate::primitives::Hash,
    pub head: BlockRef,
    pub finalized: BlockRef,
    /// The finalized watermark; `None` for a store written before watermarks.
    pub watermark: Option<BlockRef>,
    /// Blocks whose header, hash index and parent link were checked (genesis to head).
    pub blocks_checked: u64,
}

/// Checks the store at `path` for `spec`: the open-time checks, then that every block from
/// the head down links to its parent, is indexed by its hash and (above genesis) has its
/// commit certificate. Reads only; safe beside a running node.
pub fn check(path: &Path, spec: &ChainSpec) -> Result<Report> {
    let store = Store::open_read_only(path, spec)?;
    let damaged = |reason: String| StoreError::Damaged { path: path.display().to_string(), reason };
    let head = store.head()?;
    let mut blocks_checked = 0u64;
    let mut child: Option<(u64, crate::primitives::Hash)> = None;
    for height in (0..=head.height).rev() {
        let header = store.header(height)?.ok_or_else(|| damaged(format!("block {height} has no header")))?;
        let hash = header.hash();
        if height == head.height && hash != head.hash {
            return Err(damaged(format!("the head pointer names {} but block {height} is {hash}", head.hash)));
        }
        if let Some((child_height, parent)) = child {
            if parent != hash {
                return Err(damaged(format!("block {child_height}'s parent is {parent}, not block {height} ({hash})")));
            }
        }
        if store.height_of(&hash)? != Some(height) {
            return Err(damaged(format!("block {height} ({hash}) is missing from the hash index")));
        }
        if height > 0 && store.commit(height)?.is_none() {
            return Err(damaged(format!("block {height} has no commit certificate")));
        }
        child = Some((height, header.parent));
        blocks_checked = blocks_checked.saturating_add(1);
    }
    if child.map(|(_, parent)| parent) != Some(spec.hash()) {
        return Err(damaged("the genesis block does not name this chain spec".into()));
    }
    Ok(Report {
        path: path.to_path_buf(),
        schema: SCHEMA_VERSION,
        genesis: store.genesis_hash()?,
        finalized: store.finalized()?,
        watermark: watermark::read(path)?,
        head,
        blocks_checked,
    })
}
