//! Importing blocks other nodes finalized (from gossip or sync): every check a block must pass
//! before it touches the store.

use super::builder::{heavy, Prepared};
use super::{Driver, NodeError};
use crate::consensus::verify_commit;
use crate::ledger::{apply_block, BlockEnv, BlockError, BlockVotes};
use crate::primitives::{Block, CommitCertificate, Hash, KeyCache, PublicKey, Signature};
use crate::storage::BlockBody;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("block {got} does not extend the head {head}")]
    NotNext { got: u64, head: u64 },
    #[error("parent hash does not match the block at height {0}")]
    WrongParent(u64),
    #[error("commit certificate: {0}")]
    Commit(#[from] crate::consensus::CommitError),
    #[error("tx root does not match the txs")]
    TxRoot,
    #[error("timestamp {got} is not after the parent's {parent}")]
    Timestamp { got: u64, parent: u64 },
    #[error("timestamp {got} is more than {max_drift_ms} ms ahead of this node's clock")]
    FutureTimestamp { got: u64, max_drift_ms: u64 },
    #[error("a tx signature does not verify")]
    Signature,
    #[error("evidence root does not match the evidence")]
    EvidenceRoot,
    #[error("last commit hash does not match the block's last commit")]
    LastCommitHash,
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("receipts root {got} differs from the header's {want}")]
    ReceiptsRoot { got: Hash, want: Hash },
    #[error("state root {got} differs from the header's {want}")]
    StateRoot { got: crate::primitives::Hash, want: crate::primitives::Hash },
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl ImportError {
    /// Whether the block itself is bad (as opposed to not fitting our chain yet).
    pub fn is_invalid(&self) -> bool {
        !matches!(self, ImportError::NotNext { .. } | ImportError::Node(_))
    }
}

/// Batch-verifies signatures, split over the machine's cores for large blocks.
fn verify_on_all_cores(keys: &KeyCache, items: &[(PublicKey, Hash, Signature)]) -> bool {
    let workers = super::cores();
    if workers < 2 || items.len() < 256 {
        return keys.verify_batch(items).is_ok();
    }
    let chunk = items.len().div_ceil(workers);
    std::thread::scope(|s| {
        let parts: Vec<_> = items.chunks(chunk).map(|c| s.spawn(move || keys.verify_batch(c).is_ok())).collect();
        parts.into_iter().all(|p| p.join().unwrap_or(false))
    })
}

impl Driver {
    /// Checks `block` against our head and its certificate, re-executes it, and commits it.
    pub(super) fn import(&mut self, block: Block, commit: CommitCertificate) -> Result<(), ImportError> {
        let height = block.header.height;
        self.check_extends_head(&block)?;
        verify_commit(&self.spec.chain_id, self.engine.validators(), &commit, height, block.hash())?;
        let mut prepared = heavy(|| self.execute(&block))?;
        let hash = block.hash();
        self.finalize(&block, &commit, &mut prepared, false)?;
        self.candidates.clear();
        self.engine_restart(height, hash);
        Ok(())
    }

    /// Checks that `block` is the next one on our head: height, parent hash, and a timestamp
    /// after the parent's.
    pub(super) fn check_extends_head(&self, block: &Block) -> Result<(), ImportError> {
        let head = self.store.head().map_err(NodeError::from)?;
        if block.header.height != head.height.saturating_add(1) {
            return Err(ImportError::NotNext { got: block.header.height, head: head.height });
        }
        if block.header.parent != head.hash {
            return Err(ImportError::WrongParent(head.height));
        }
        let parent =
            self.store.header(head.height).map_err(NodeError::from)?.ok_or(ImportError::WrongParent(head.height))?;
        if block.header.timestamp_ms <= parent.timestamp_ms {
            return Err(ImportError::Timestamp { got: block.header.timestamp_ms, parent: parent.timestamp_ms });
        }
        Ok(())
    }

    /// Checks a block's txs (root, signatures, execution) and state root on top of the head.
    pub(super) fn execute(&self, block: &Block) -> Result<Prepared, ImportError> {
        if Block::tx_root(&block.txs) != block.header.tx_root {
            return Err(ImportError::TxRoot);
        }
        if Block::evidence_root(&block.evidence) != block.header.evidence_root {
            return Err(ImportError::EvidenceRoot);
        }
        if Block::last_commit_hash(block.last_commit.as_ref()) != block.header.last_commit_hash {
            return Err(ImportError::LastCommitHash);
        }
        // A tx whose exact signed bytes our mempool admitted was verified then.
        let items: Vec<_> = block
            .txs
            .iter()
            .filter(|t| !self.mempool.get(&t.hash()).is_some_and(|m| m.signature == t.signature))
            .flat_map(|t| t.signatures())
            .collect();
        if !verify_on_all_cores(&self.keys, &items) {
            return Err(ImportError::Signature);
        }
        let h = &block.header;
        let env = BlockEnv {
            height: h.height,
            timestamp_ms: h.timestamp_ms,
            proposer: crate::primitives::Address::from_public_key(&h.proposer),
            parent: h.parent,
            reveal: h.reveal,
        };
        let votes = BlockVotes { last_commit: block.last_commit.as_ref(), evidence: &block.evidence };
        let outcome = match apply_block(self.store.as_ref(), &self.spec, env, votes, &block.txs) {
            Ok(o) => o,
            Err(BlockError::State(e)) => return Err(NodeError::Build(e.to_string()).into()),
            // A fraud proof whose job's blobs this node lacks: it cannot referee the block,
            // which says nothing against the block or the peer that sent it.
            Err(BlockError::Tx { reason: crate::ledger::TxInvalid::Fraud(f), index }) => {
                if let Some(tx) = block.txs.get(index) {
                    self.prefetch_for_dispute(&tx.tx.payload);
                }
                return Err(NodeError::Build(format!("cannot referee this block yet (fetching the blobs): {f}")).into());
            }
            Err(e) => return Err(e.into()),
        };
        if outcome.receipts_root != h.receipts_root {
            return Err(ImportError::ReceiptsRoot { got: outcome.receipts_root, want: h.receipts_root });
        }
        let writes =
            self.store.prepare_block(BlockBody::of(block, &outcome.events, &outcome.diff)).map_err(NodeError::from)?;
        let root = writes.state_root;
        if root != h.state_root {
            return Err(ImportError::StateRoot { got: root, want: h.state_root });
        }
        Ok(Prepared { diff: outcome.diff, writes, outcomes: outcome.outcomes, events: outcome.events })
    }
}
