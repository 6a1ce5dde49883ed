//! Building blocks from the mempool and committing them.

use super::{epoch, ChainEvent, Driver, NodeError};
use crate::ledger::{BlockEnv, Executor, StateDiff, StateReader, TxInvalid};
use crate::network::Topic;
use crate::primitives::{Address, Block, CommitCertificate, Hash, Header};
use crate::storage::StoreError;

/// A block this node built or received as a proposal, executed on top of the head and kept
/// until a block is committed at its height.
pub(super) struct Candidate {
    pub(super) block: Block,
    pub(super) prepared: Prepared,
}

/// What executing a block produced, kept until the block is committed.
pub(super) struct Prepared {
    pub(super) diff: StateDiff,
    pub(super) tree_batch: jmt::storage::TreeUpdateBatch,
    pub(super) tx_errors: Vec<Option<String>>,
}

/// Runs CPU- or disk-heavy work without starving other tasks on a multi-threaded runtime;
/// inline on a current-thread runtime, where `block_in_place` is not available.
pub(super) fn heavy<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Driver {
    /// Builds the block at `height` on top of the head: takes txs from the mempool by fee,
    /// executes them, computes the new state root, and keeps it as a candidate. Returns its
    /// hash.
    pub(super) fn build(&mut self, height: u64) -> Result<Hash, NodeError> {
        heavy(|| self.build_inner(height))
    }

    fn build_inner(&mut self, height: u64) -> Result<Hash, NodeError> {
        let proposer = self.proposer.ok_or_else(|| NodeError::Build("this node has no validator key".into()))?;
        let parent_height = height.checked_sub(1).ok_or_else(|| NodeError::Build("cannot build genesis".into()))?;
        let parent = self
            .store
            .header(parent_height)?
            .ok_or_else(|| NodeError::Build(format!("parent block {parent_height} is not stored")))?;
        let limits = &self.spec.limits;
        let candidates = self.mempool.select(limits.max_block_txs as usize, limits.max_block_bytes as usize);
        let env = BlockEnv { height, proposer: Address::from_public_key(&proposer) };
        let mut exec = Executor::new(self.store.as_ref(), &self.spec, self.treasury, env);
        let mut txs = Vec::with_capacity(candidates.len());
        let mut tx_errors = Vec::with_capacity(candidates.len());
        for tx in candidates {
            match exec.apply(&tx) {
                Ok(outcome) => {
                    tx_errors.push(outcome.result.err().map(|e| e.to_string()));
                    txs.push(tx.as_ref().clone());
                }
                // A sender's later txs fail on nonce once an earlier one is dropped; they stay
                // pending for a later block. Anything else can never be included: drop it.
                Err(TxInvalid::Nonce { .. }) => {}
                Err(TxInvalid::State(e)) => return Err(NodeError::Build(e.to_string())),
                Err(e) => {
                    tracing::debug!(tx = %tx.hash(), error = %e, "dropping tx that can no longer be included");
                    self.mempool.evict(&tx.hash());
                }
            }
        }
        let evidence = self.evidence_to_include(height);
        let diff = exec.finish().map_err(StoreError::from)?;
        let (state_root, tree_batch) = self.store.prepare_state(&diff, height)?;
        let header = Header {
            parent: parent.hash(),
            height,
            timestamp_ms: now_ms().max(parent.timestamp_ms.saturating_add(1)),
            proposer,
            tx_root: Block::tx_root(&txs),
            state_root,
            tx_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            evidence_root: Block::evidence_root(&evidence),
        };
        let block = Block { header, txs, evidence };
        let hash = block.hash();
        self.candidates.insert(hash, Candidate { block, prepared: Prepared { diff, tree_batch, tx_errors } });
        Ok(hash)
    }

    /// Commits the decided block `value`, which this node built or executed as a proposal.
    pub(super) fn commit(&mut self, value: Hash, certificate: CommitCertificate) -> Result<(), NodeError> {
        let Candidate { block, prepared } = self
            .candidates
            .remove(&value)
            .ok_or_else(|| NodeError::Build(format!("decided block {value} was never executed here")))?;
        self.candidates.clear();
        // The block's builder gossips it; the other validators' copies would differ only in
        // which precommits their certificates hold. Nodes that miss it learn of the next
        // height from consensus messages and sync.
        let publish = Some(block.header.proposer) == self.proposer;
        self.finalize(block, certificate, prepared, publish)
    }

    /// Persists a finalized block, prunes the mempool, announces the new head and, when
    /// `publish`, gossips the block.
    pub(super) fn finalize(
        &mut self,
        block: Block,
        certificate: CommitCertificate,
        prepared: Prepared,
        publish: bool,
    ) -> Result<(), NodeError> {
        let hash = block.hash();
        let height = block.header.height;
        let parent_time = self.store.header(height.saturating_sub(1))?.map(|h| h.timestamp_ms);
        heavy(|| {
            self.store.commit_block(&block, &certificate, &prepared.tx_errors, &prepared.diff, &prepared.tree_batch)
        })?;
        if epoch::boundary(&self.spec, height) == height {
            match epoch::validator_set_after(&self.store, &self.spec, height) {
                Ok(set) if set != *self.engine.validators() => {
                    tracing::info!(height, validators = set.len(), power = set.total_power(), "new validator set");
                    self.engine.set_validators(set);
                }
                Ok(_) => {}
                // No validator left above the minimum stake: keep the last set rather than stop.
                Err(e) => {
                    tracing::error!(height, error = %e, "cannot recompute the validator set; keeping the last one")
                }
            }
        }
        let on_chain: Vec<_> = block.evidence.iter().map(|e| e.position()).collect();
        self.pending_evidence.retain(|e| !on_chain.contains(&e.position()));
        let store = self.store.clone();
        self.mempool.on_block(&block.txs, |a| store.account(a).ok().flatten().unwrap_or_default());
        let failed = prepared.tx_errors.iter().filter(|e| e.is_some()).count();
        self.metrics.on_block(&block.header, parent_time, self.mempool.len());
        if publish {
            if let Some(net) = &self.net {
                net.publish(Topic::Blocks, crate::wire::encode_committed_block(&block, &certificate));
            }
        }
        if !self.sync.is_syncing(height) || height % 100 == 0 {
            tracing::info!(
                height,
                hash = %hash,
                txs = block.txs.len(),
                failed,
                mempool = self.mempool.len(),
                "committed block"
            );
        }
        let info = super::handle::HeadInfo::from_header(&block.header);
        let _ = self.events.send(ChainEvent::NewHead(info.clone()));
        let _ = self.events.send(ChainEvent::Finalized(info));
        Ok(())
    }
}
