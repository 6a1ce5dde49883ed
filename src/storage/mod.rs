//! RocksDB storage. One column family per kind of record; a committed block, its tx index,
//! its state changes (the latest record under every state key, and the versioned state tree)
//! and the head / finalized pointers are written as one synced `WriteBatch`, so `kill -9` at
//! any moment leaves either the whole block or none of it.
//!
//! The state tree keeps old versions for proofs and pruning: tree nodes that a block made
//! stale are indexed by that block's height and deleted once they are [`Store::retention`]
//! blocks old, in the same batch as a later block.
//!
//! Opening never makes a damaged store look healthy. A node must not serve, build on or vote
//! on a chain shorter than one it had finalized, so [`Store::open`] refuses, before anything is
//! written: a directory with RocksDB's files but no `CURRENT` (RocksDB would start an empty
//! database over it), corruption RocksDB reports, and a store that opens below its finalized
//! [`watermark`] (a truncated or lost write-ahead log). Point-in-time WAL recovery is kept on
//! purpose: after a crash the log's last record may be torn, and that record was never
//! acknowledged (its block is not under the watermark), so dropping it loses nothing; RocksDB's
//! `AbsoluteConsistency` mode would refuse such a store after every crash, and still could not
//! see a log cut at a record boundary. `ergon db check` reports the same verdicts without
//! changing anything ([`check`]); `ergon node --resync` deletes the store to sync again.

mod batch;
mod blobs;
mod cache;
pub mod check;
mod history;
mod open;
pub mod sign_guard;
mod tree;
pub mod watermark;

pub use blobs::MAX_BLOB_BYTES;
pub use history::HistoryEntry;

use crate::chainspec::ChainSpec;
use crate::ledger::{
    self, tree as state_tree, Account, AccountEvent, EventCause, StateDiff, StateError, StateKey, StateReader,
    TxFailure, TxOutcome,
};
use crate::primitives::{Address, Block, CommitCertificate, Hash, Header, PublicKey, SealedTx};
use batch::SortedBatch;
use parity_scale_codec::{Decode, Encode};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use std::path::{Path, PathBuf};

/// Bump when the on-disk layout changes; a node refuses to open a store of another version.
/// 7: the state tree takes two versions per block ([`ledger::tree::version_of`]).
/// 8: a job's window draw lives in its job record; height queues keep their entries in pages.
pub const SCHEMA_VERSION: u32 = 8;

/// Tree versions kept by default: long enough for proofs over a day of 1 s blocks, and more
/// than any unbonding or challenge window of the built-in specs.
pub const DEFAULT_STATE_RETENTION: u64 = 100_000;

const CF_META: &str = "meta";
const CF_HEADERS: &str = "headers";
const CF_BODIES: &str = "bodies";
const CF_COMMITS: &str = "commits";
const CF_HASHES: &str = "hashes";
const CF_TXS: &str = "txs";
const CF_CHANGES: &str = "changes";
const CF_STATE: &str = "state";
pub(crate) const CF_JMT_NODES: &str = "jmt_nodes";
pub(crate) const CF_JMT_VALUES: &str = "jmt_values";
pub(crate) const CF_JMT_STALE: &str = "jmt_stale";
const CF_EVIDENCE: &str = "evidence";
const CF_HISTORY: &str = "history";
const CF_BLOBS: &str = "blobs";
const CF_BLOB_MARKS: &str = "blob_marks";
const ALL_CFS: [&str; 15] = [
    CF_META,
    CF_HEADERS,
    CF_BODIES,
    CF_COMMITS,
    CF_HASHES,
    CF_TXS,
    CF_CHANGES,
    CF_STATE,
    CF_JMT_NODES,
    CF_JMT_VALUES,
    CF_JMT_STALE,
    CF_EVIDENCE,
    CF_HISTORY,
    CF_BLOBS,
    CF_BLOB_MARKS,
];

/// Column families added without a schema bump: a store from before them lacks them until
/// its first read-write open creates them (empty).
const ADDED_CFS: [&str; 1] = [CF_BLOB_MARKS];

const KEY_SCHEMA: &[u8] = b"schema";
const KEY_GENESIS: &[u8] = b"genesis";
const KEY_HEAD: &[u8] = b"head";
const KEY_FINALIZED: &[u8] = b"finalized";
const KEY_SIGN_STATE: &[u8] = b"sign_state";
const KEY_LOCKED_BLOCK: &[u8] = b"locked_block";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("database at {path} belongs to another chain: its genesis is {stored}, this chain spec's genesis is {expected}. Use another --base-path, or delete that directory to start over")]
    GenesisMismatch { path: String, stored: Hash, expected: Hash },
    #[error("database at {path} has schema version {stored}; this build reads version {expected}. Use another --base-path, or delete that directory to resync")]
    SchemaMismatch { path: String, stored: u32, expected: u32 },
    #[error("corrupt record in column {cf}: {reason}")]
    Corrupt { cf: &'static str, reason: String },
    #[error(transparent)]
    Tree(#[from] state_tree::TreeError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("invalid chain spec: {0}")]
    Spec(#[from] crate::chainspec::SpecError),
    #[error("block {height} does not extend the head {head} (height and parent hash must match)")]
    NotNext { height: u64, head: u64 },
    #[error("block {height} was not the block prepared (prepared: height {prepared}, or another state root)")]
    NotPrepared { height: u64, prepared: u64 },
    #[error("blob of {size} bytes is over the {max}-byte limit")]
    BlobTooLarge { size: usize, max: usize },
    #[error(
        "the database at {path} has RocksDB files but no CURRENT file (its pointer to the manifest): it is damaged, \
         and opening it would start an empty chain over it. Nothing was changed. Restore the directory from a \
         backup, or start with --resync to delete it and sync the chain again from peers; `ergon db check` \
         describes it"
    )]
    MissingCurrent { path: String },
    #[error(
        "the database at {path} is damaged: {reason}. It was not opened, so nothing was rolled back. Run \
         `ergon db check`; restore the directory from a backup, or start with --resync to delete it and sync the \
         chain again from peers"
    )]
    Damaged { path: String, reason: String },
    #[error(
        "the database at {path} opens at block {head}, but this node had finalized block {finalized}: its \
         write-ahead log lost blocks (truncated or deleted). Opening it would serve, build and vote on a shorter \
         chain, so it was not opened and nothing was changed. Restore the directory from a backup, or start with \
         --resync to delete it and sync the chain again from peers (a validator's double-sign guard is kept); \
         `ergon db check` describes it"
    )]
    RolledBack { path: String, finalized: u64, head: u64 },
    #[error("no database at {path}")]
    NotFound { path: String },
    #[error(
        "only {free_mib} MiB free on the disk of {path}, below the {min_mib} MiB the node keeps free \
         (--min-free-disk): nothing was written. Free some space; the node resumes by itself"
    )]
    DiskFull { path: String, free_mib: u64, min_mib: u64 },
    #[error("cannot read the database directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error(transparent)]
    Watermark(#[from] watermark::WatermarkError),
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub use crate::primitives::Evidence;

/// Evidence records are keyed by where the fault was, so each is kept once.
fn evidence_key(e: &Evidence) -> Vec<u8> {
    let (height, round, kind, validator) = e.position();
    let mut key = Vec::with_capacity(8 + 4 + 1 + 32);
    key.extend_from_slice(&height.to_be_bytes());
    key.extend_from_slice(&round.to_be_bytes());
    key.extend_from_slice(&kind.encode());
    key.extend_from_slice(&validator.0);
    key
}

/// A block's height and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct BlockRef {
    pub height: u64,
    pub hash: Hash,
}

/// What a block writes that its header does not decide: its body, its history, its state
/// records and account changes. Known once the block is executed, so it is staged while the
/// state tree is updated (see [`Store::prepare_block`]).
#[derive(Clone, Copy)]
pub struct BlockBody<'a> {
    pub height: u64,
    pub txs: &'a [SealedTx],
    pub evidence: &'a [Evidence],
    pub last_commit: &'a Option<CommitCertificate>,
    pub events: &'a [AccountEvent],
    pub diff: &'a StateDiff,
}

impl<'a> BlockBody<'a> {
    /// `block`'s body, with what executing it produced.
    pub fn of(block: &'a Block, events: &'a [AccountEvent], diff: &'a StateDiff) -> Self {
        BlockBody {
            height: block.header.height,
            txs: &block.txs,
            evidence: &block.evidence,
            last_commit: &block.last_commit,
            events,
            diff,
        }
    }
}

/// A block executed on top of the head: its state root, and everything it writes staged and
/// sorted except what needs its header (hash, certificate, tx records, head pointers) and the
/// state tree's nodes, which the commit encodes on a second thread.
pub struct PreparedBlock {
    pub state_root: Hash,
    height: u64,
    tree_batch: jmt::storage::TreeUpdateBatch,
    body: SortedBatch,
    /// `body` already in a RocksDB batch, with room for the rest of the block; taken by the
    /// first commit attempt (a retry puts `body` in a new one).
    early: Option<WriteBatch>,
    /// The state records the block writes, for the cache once they are durable.
    state_writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Where a tx landed and whether it did what it asked.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxRecord {
    pub height: u64,
    pub index: u32,
    pub block_hash: Hash,
    /// `None` if the tx succeeded; otherwise why it only paid its fee.
    pub error: Option<TxFailure>,
}

pub struct Store {
    db: DB,
    path: PathBuf,
    retention: u64,
    /// `None` when opened read-only.
    watermark: Option<watermark::Watermark>,
    /// This open created the database.
    created: bool,
    /// Held while a blob and its mark are written or swept, so a sweep never deletes a
    /// blob stored again since it looked ([`Store::sweep_blobs`]).
    blob_lock: std::sync::Mutex<()>,
    /// Free bytes below which writes are refused ([`Store::check_room`]).
    min_free: u64,
    /// The latest state's records, in front of `CF_STATE`.
    cache: cache::StateCache,
}

/// Free space below which the store refuses writes by default (`--min-free-disk`).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

fn decode<T: Decode>(cf: &'static str, bytes: &[u8]) -> Result<T> {
    T::decode(&mut &bytes[..]).map_err(|e| StoreError::Corrupt { cf, reason: e.to_string() })
}

impl Store {
    /// Keeps `blocks` versions of the state tree (at least 1); older tree nodes are pruned.
    pub fn set_retention(&mut self, blocks: u64) {
        self.retention = blocks.max(1);
    }

    pub fn retention(&self) -> u64 {
        self.retention
    }

    /// Refuses writes while the disk has fewer than `bytes` free.
    pub fn set_min_free(&mut self, bytes: u64) {
        self.min_free = bytes;
    }

    /// Refuses a write while the disk is nearly full. RocksDB must never meet a full disk:
    /// after a failed write-ahead-log append it refuses every later write until the database
    /// is reopened, even once space is freed. Stopping short of it lets the node resume by
    /// itself (a stat of the file system per write batch).
    fn check_room(&self) -> Result<()> {
        #[cfg(unix)]
        if let Ok(fs) = rustix::fs::statvfs(&self.path) {
            let free = fs.f_bavail.saturating_mul(fs.f_frsize);
            if free < self.min_free {
                return Err(StoreError::DiskFull {
                    path: self.path.display().to_string(),
                    free_mib: free >> 20,
                    min_mib: self.min_free >> 20,
                });
            }
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every name in ALL_CFS is created at open, so this cannot fail.
        self.db.cf_handle(name).unwrap_or_else(|| unreachable!("column family {name} is opened with the db"))
    }

    fn get_raw(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    fn get_decoded<T: Decode>(&self, cf: &'static str, key: &[u8]) -> Result<Option<T>> {
        self.get_raw(cf, key)?.map(|b| decode(cf, &b)).transpose()
    }

    pub fn genesis_block(spec: &ChainSpec, state_root: Hash) -> Block {
        Block {
            header: Header {
                parent: spec.hash(),
                height: 0,
                timestamp_ms: spec.genesis_timestamp_ms,
                proposer: PublicKey([0; 32]),
                tx_root: Hash::ZERO,
                state_root,
                tx_count: 0,
                evidence_root: Block::evidence_root(&[]),
                receipts_root: ledger::receipts_root(&[]),
                last_commit_hash: Block::last_commit_hash(None),
                reveal: Hash::ZERO,
            },
            txs: vec![],
            evidence: vec![],
            last_commit: None,
        }
    }

    /// An unsynced write (blobs: lost ones are fetched again), within the free-space margin.
    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.check_room()?;
        Ok(self.db.write(batch)?)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.check_room()?;
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.write_opt(batch, &wo)?)
    }

    /// A block's body records (see [`BlockBody`]).
    fn stage_body(&self, batch: &mut SortedBatch, body: &BlockBody<'_>, state_writes: &[(Vec<u8>, Option<Vec<u8>>)]) {
        let h = body.height;
        let key = h.to_be_bytes();
        batch.put(CF_BODIES, key, (body.txs, body.evidence, body.last_commit).encode());
        for e in body.evidence {
            batch.put(CF_EVIDENCE, evidence_key(e), (e, Some(h)).encode());
        }
        let tx_hashes: Vec<Hash> = body.txs.iter().map(SealedTx::hash).collect();
        self.stage_history(batch, h, &tx_hashes, body.events);
        batch.put(CF_CHANGES, key, body.diff.accounts.encode());
        for (k, v) in state_writes {
            match v {
                Some(bytes) => batch.put(CF_STATE, k.clone(), bytes.clone()),
                None => batch.delete(CF_STATE, k.clone()),
            }
        }
    }

    /// A block's records that need its header: the header, its certificate (the genesis block
    /// has none), its hash's index, where each tx landed, and the head pointers.
    fn stage_head(
        &self,
        batch: &mut SortedBatch,
        block: &Block,
        commit: Option<&CommitCertificate>,
        outcomes: &[TxOutcome],
    ) {
        let h = block.header.height;
        let key = h.to_be_bytes();
        let hash = block.hash();
        batch.put(CF_HEADERS, key, block.header.encode());
        if let Some(c) = commit {
            batch.put(CF_COMMITS, key, c.encode());
        }
        batch.put(CF_HASHES, hash.0, key);
        for (i, tx) in block.txs.iter().enumerate() {
            let rec = TxRecord {
                height: h,
                index: u32::try_from(i).unwrap_or(u32::MAX),
                block_hash: hash,
                error: outcomes.get(i).and_then(|o| o.result.clone().err()),
            };
            batch.put(CF_TXS, tx.hash().0, rec.encode());
        }
        let head = BlockRef { height: h, hash };
        batch.put(CF_META, KEY_HEAD, head.encode());
        batch.put(CF_META, KEY_FINALIZED, head.encode());
    }

    /// The state tree's nodes for `tree_batch`, sorted.
    fn stage_tree(&self, tree_batch: &jmt::storage::TreeUpdateBatch, height: u64) -> Result<SortedBatch> {
        let mut nodes = SortedBatch::default();
        tree::stage(self, &mut nodes, tree_batch, height)?;
        nodes.sort();
        Ok(nodes)
    }

    /// Computes the state root the executed `body` gives, and meanwhile, on a second thread,
    /// stages and sorts the block's body records: the state tree's update is one thread's
    /// work, and a commit that staged them after it (30 MB for 20,000 receipt claims) waited
    /// for them. Nothing is written.
    pub fn prepare_block(&self, body: BlockBody<'_>) -> Result<PreparedBlock> {
        let ((staged, early, state_writes), tree) = beside(
            || {
                let state_writes = state_writes(body.diff);
                let mut staged = SortedBatch::default();
                self.stage_body(&mut staged, &body, &state_writes);
                staged.sort();
                // Room for the tree's nodes and the header's records too: about as many bytes
                // again (reserved, not touched, until written).
                let bytes = SortedBatch::bytes(&[&staged]);
                let mut early = WriteBatch::with_capacity_bytes(bytes.saturating_mul(2).saturating_add(1 << 20));
                SortedBatch::append(&[&staged], &mut early, self);
                (staged, early, state_writes)
            },
            || state_tree::apply_diff(self, body.diff, body.height),
        );
        let (state_root, tree_batch) = tree?;
        Ok(PreparedBlock {
            state_root,
            height: body.height,
            tree_batch,
            body: staged,
            early: Some(early),
            state_writes,
        })
    }

    /// Persists a finalized block atomically with its txs' outcomes: `prepared`'s writes, the
    /// state tree's nodes (encoded and sorted on a second thread) and the records that need
    /// the header, in one synced batch. `prepared` is `block`'s, from [`Store::prepare_block`];
    /// if the write fails it can be passed again.
    pub fn commit_block(
        &self,
        block: &Block,
        commit: &CommitCertificate,
        outcomes: &[TxOutcome],
        prepared: &mut PreparedBlock,
    ) -> Result<()> {
        let head = self.head()?;
        let height = block.header.height;
        if height != head.height.saturating_add(1) || block.header.parent != head.hash {
            return Err(StoreError::NotNext { height, head: head.height });
        }
        if prepared.height != height || prepared.state_root != block.header.state_root {
            return Err(StoreError::NotPrepared { height, prepared: prepared.height });
        }
        let (tree, head_records) = beside(
            || self.stage_tree(&prepared.tree_batch, height),
            || {
                let mut records = SortedBatch::default();
                self.stage_head(&mut records, block, Some(commit), outcomes);
                records.sort();
                records
            },
        );
        let tree = tree?;
        let batch = match prepared.early.take() {
            Some(mut batch) => {
                SortedBatch::append(&[&head_records, &tree], &mut batch, self);
                batch
            }
            // A retry: the first attempt's batch went to RocksDB.
            None => SortedBatch::join(&[&prepared.body, &head_records, &tree], self),
        };
        self.write(batch)?;
        self.cache.written(std::mem::take(&mut prepared.state_writes));
        // Only once the batch is synced: the watermark never claims more than the log holds.
        if let Some(mark) = &self.watermark {
            mark.record(&BlockRef { height, hash: block.hash() })?;
        }
        Ok(())
    }

    pub fn genesis_hash(&self) -> Result<Hash> {
        self.get_decoded(CF_META, KEY_GENESIS)?.ok_or(StoreError::Corrupt { cf: CF_META, reason: "no genesis".into() })
    }

    pub fn head(&self) -> Result<BlockRef> {
        self.get_decoded(CF_META, KEY_HEAD)?.ok_or(StoreError::Corrupt { cf: CF_META, reason: "no head".into() })
    }

    pub fn finalized(&self) -> Result<BlockRef> {
        self.get_decoded(CF_META, KEY_FINALIZED)?
            .ok_or(StoreError::Corrupt { cf: CF_META, reason: "no finalized pointer".into() })
    }

    pub fn header(&self, height: u64) -> Result<Option<Header>> {
        self.get_decoded(CF_HEADERS, &height.to_be_bytes())
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        let Some(header) = self.header(height)? else { return Ok(None) };
        let (txs, evidence, last_commit): (Vec<SealedTx>, Vec<Evidence>, Option<CommitCertificate>) =
            self.get_decoded(CF_BODIES, &height.to_be_bytes())?.unwrap_or_default();
        Ok(Some(Block { header, txs, evidence, last_commit }))
    }

    pub fn commit(&self, height: u64) -> Result<Option<CommitCertificate>> {
        self.get_decoded(CF_COMMITS, &height.to_be_bytes())
    }

    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>> {
        Ok(self.get_raw(CF_HASHES, &hash.0)?.and_then(|b| b.try_into().ok().map(u64::from_be_bytes)))
    }

    pub fn tx_record(&self, hash: &Hash) -> Result<Option<TxRecord>> {
        self.get_decoded(CF_TXS, &hash.0)
    }

    /// Accounts a block changed (the diff's accounts; other records are in the tree).
    pub fn state_changes(&self, height: u64) -> Result<Option<Vec<(Address, Account)>>> {
        self.get_decoded(CF_CHANGES, &height.to_be_bytes())
    }

    pub fn state_root(&self, height: u64) -> Result<Hash> {
        Ok(state_tree::root(self, height)?)
    }

    /// An account at `height` with its proof under that height's state root.
    pub fn prove_account(&self, a: &Address, height: u64) -> Result<(Option<Account>, state_tree::Proof)> {
        Ok(state_tree::prove_account(self, a, height)?)
    }

    /// The double-sign guard as builds before [`sign_guard`] kept it, in this database; read
    /// once to move it into its own file.
    pub fn legacy_sign_state(&self) -> Result<Option<crate::consensus::tendermint::SignState>> {
        self.get_decoded(CF_META, KEY_SIGN_STATE)
    }

    /// Deletes the legacy guard once its file holds it: a stale copy left here could later
    /// stand in for a lost file.
    pub fn forget_legacy_sign_state(&self) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_META), KEY_SIGN_STATE);
        self.write(batch)
    }

    /// Writes a legacy guard (tests of the move to [`sign_guard`]).
    #[cfg(test)]
    pub(crate) fn save_legacy_sign_state(&self, s: &crate::consensus::tendermint::SignState) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META), KEY_SIGN_STATE, s.encode());
        self.write(batch)
    }

    /// Keeps the block this validator is locked on (the value it precommitted), synced. The
    /// driver writes it before the double-sign guard that records the lock: after a crash of
    /// the whole validator set the lock still binds every locked validator to that value,
    /// and if nobody kept its block, nobody could propose it and the chain would stop.
    pub fn save_locked_block(&self, block: &Block) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META), KEY_LOCKED_BLOCK, block.encode());
        self.write(batch)
    }

    /// The last block [`Store::save_locked_block`] kept (possibly long committed or stale).
    pub fn locked_block(&self) -> Result<Option<Block>> {
        self.get_decoded(CF_META, KEY_LOCKED_BLOCK)
    }

    /// Records equivocation seen in consensus messages. One record per (height, round,
    /// kind, validator); returns whether it is new.
    pub fn save_evidence(&self, e: &Evidence) -> Result<bool> {
        let key = evidence_key(e);
        if self.get_raw(CF_EVIDENCE, &key)?.is_some() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_EVIDENCE), key, (e, None::<u64>).encode());
        self.write(batch)?;
        Ok(true)
    }

    /// The height of the block that carries evidence for `e`'s position, if one does.
    pub fn evidence_included_in(&self, e: &Evidence) -> Result<Option<u64>> {
        let record: Option<(Evidence, Option<u64>)> = self.get_decoded(CF_EVIDENCE, &evidence_key(e))?;
        Ok(record.and_then(|(_, at)| at))
    }

    /// Recorded equivocation from `from_height` on, oldest first, at most `limit` records, each
    /// with the height of the block that carries it (if one does yet).
    pub fn evidence(&self, from_height: u64, limit: usize) -> Result<Vec<(Evidence, Option<u64>)>> {
        let start = from_height.to_be_bytes();
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
        self.db
            .iterator_cf(self.cf(CF_EVIDENCE), mode)
            .take(limit)
            .map(|item| {
                let (_, value) = item?;
                decode(CF_EVIDENCE, &value)
            })
            .collect()
    }

    /// Every record under one kind of state key (`StateKey`'s variant index), decoded, in key
    /// order, at most `limit` of those `keep` accepts.
    pub fn state_records<T: Decode>(
        &self,
        variant: u8,
        limit: usize,
        mut keep: impl FnMut(&[u8], &T) -> bool,
    ) -> Result<Vec<(Vec<u8>, T)>> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_STATE));
        it.seek([variant]);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&variant) || out.len() >= limit {
                break;
            }
            let value: T = decode(CF_STATE, v)?;
            if keep(k, &value) {
                out.push((k.to_vec(), value));
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the database's files on disk (tables, logs, manifests; blobs included), as
    /// `du` counts them, without the double-sign guard, which lives apart.
    pub fn size_on_disk(&self) -> u64 {
        let Ok(dir) = std::fs::read_dir(&self.path) else { return 0 };
        dir.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
    }
}

/// The latest state, as the ledger reads it.
impl StateReader for Store {
    fn blob(&self, hash: &Hash) -> std::result::Result<Option<Vec<u8>>, StateError> {
        Store::blob(self, hash).map_err(|e| StateError(e.to_string()))
    }

    fn get(&self, key: &StateKey) -> std::result::Result<Option<Vec<u8>>, StateError> {
        let key = key.encode();
        match self.cache.get(&key) {
            cache::Lookup::Hit(value) => Ok(value),
            cache::Lookup::Miss(epoch) => {
                let value = self.get_raw(CF_STATE, &key).map_err(|e| StateError(e.to_string()))?;
                self.cache.fill(epoch, key, value.clone());
                Ok(value)
            }
        }
    }
}

/// Runs `there` on a second thread while `here` runs on this one, and returns both results;
/// a panic on the second thread is raised again here.
fn beside<A: Send, B>(there: impl FnOnce() -> A + Send, here: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let there = s.spawn(there);
        let here = here();
        (there.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), here)
    })
}

/// The state records a block writes, keyed as `CF_STATE` keys them (`None`: deleted).
fn state_writes(diff: &StateDiff) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let accounts = diff.accounts.iter().map(|(a, acc)| (StateKey::Account(*a).encode(), Some(acc.encode())));
    let supply = std::iter::once((StateKey::Supply.encode(), Some(diff.supply.encode())));
    let records = diff.records.iter().map(|(k, v)| (k.encode(), v.clone()));
    accounts.chain(supply).chain(records).collect()
}

pub use ledger::tree::verify_account_proof;

/// The hash of the genesis block `spec` gives, computed without a store (the CLI checks
/// interchange files against it).
pub fn genesis_hash(spec: &ChainSpec) -> Result<Hash> {
    let diff = StateDiff::genesis(spec, &spec.genesis()?)?;
    let (root, _) = state_tree::apply_diff(&tree::EmptyTree, &diff, 0)?;
    Ok(Store::genesis_block(spec, root).hash())
}

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;
