//! Building blocks from the mempool and committing them.

use super::{epoch, ChainEvent, Driver, NodeError};
use crate::ledger::{BlockEnv, BlockExecutor, BlockVotes, StateDiff, StateReader, TxInvalid, TxOutcome};
use crate::network::Topic;
use crate::primitives::{Block, CommitCertificate, Hash, Header};
use crate::storage::{BlockBody, PreparedBlock, StoreError};

/// A block this node built or received as a proposal, executed on top of the head and kept
/// until a block is committed at its height.
pub(super) struct Candidate {
    pub(super) block: Block,
    pub(super) prepared: Prepared,
}

/// What executing a block produced, kept until the block is committed.
pub(super) struct Prepared {
    pub(super) diff: StateDiff,
    /// The state root and the block's writes but those that need its header.
    pub(super) writes: PreparedBlock,
    pub(super) outcomes: Vec<TxOutcome>,
    pub(super) events: Vec<crate::ledger::AccountEvent>,
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
        let evidence = self.evidence_to_include(height);
        let last_commit = match &self.last_commit {
            Some(c) if c.height == parent_height && c.block_hash == parent.hash() => Some(c.clone()),
            _ => self.store.commit(parent_height)?,
        };
        let proposer_address = crate::primitives::Address::from_public_key(&proposer);
        let secret =
            self.reveal_secret.as_ref().ok_or_else(|| NodeError::Build("this node has no validator key".into()))?;
        let reveal = crate::ledger::beacon::next_reveal(self.store.as_ref(), &proposer_address, secret)
            .map_err(|e| NodeError::Build(e.to_string()))?;
        let env = BlockEnv {
            height,
            timestamp_ms: now_ms().max(parent.timestamp_ms.saturating_add(1)),
            proposer: proposer_address,
            parent: parent.hash(),
            reveal,
        };
        let votes = BlockVotes { last_commit: last_commit.as_ref(), evidence: &evidence };
        let mut exec = BlockExecutor::begin(self.store.as_ref(), &self.spec, env, votes)
            .map_err(|e| NodeError::Build(e.to_string()))?;
        exec.reserve(candidates.len());
        let mut txs = Vec::with_capacity(candidates.len());
        for tx in candidates {
            match exec.apply(&tx) {
                Ok(_) => txs.push(tx.as_ref().clone()),
                Err(TxInvalid::State(e)) => return Err(NodeError::Build(e.to_string())),
                // Stays pending for a later block (e.g. after a sender's dropped earlier tx).
                Err(e) if e.may_fit_later() => {}
                // Anything else can never be included: drop it.
                Err(e) => {
                    tracing::debug!(tx = %tx.hash(), error = %e, "dropping tx that can no longer be included");
                    self.mempool.evict(&tx.hash());
                }
            }
        }
        let outcome = exec.finish().map_err(StoreError::from)?;
        let writes = self.store.prepare_block(BlockBody {
            height,
            txs: &txs,
            evidence: &evidence,
            last_commit: &last_commit,
            events: &outcome.events,
            diff: &outcome.diff,
        })?;
        let header = Header {
            parent: parent.hash(),
            height,
            timestamp_ms: env.timestamp_ms,
            proposer,
            tx_root: Block::tx_root(&txs),
            state_root: writes.state_root,
            tx_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            evidence_root: Block::evidence_root(&evidence),
            receipts_root: outcome.receipts_root,
            last_commit_hash: Block::last_commit_hash(last_commit.as_ref()),
            reveal: env.reveal,
        };
        let block = Block { header, txs, evidence, last_commit };
        let hash = block.hash();
        let prepared = Prepared { diff: outcome.diff, writes, outcomes: outcome.outcomes, events: outcome.events };
        self.keep_recent(&block);
        self.candidates.insert(hash, Candidate { block, prepared });
        Ok(hash)
    }

    /// Commits the decided block `value`, which this node built or executed as a proposal. If
    /// the store refuses it, the candidate is kept, so the commit can be tried again.
    pub(super) fn commit(&mut self, value: Hash, certificate: &CommitCertificate) -> Result<(), NodeError> {
        let mut candidate = self
            .candidates
            .remove(&value)
            .ok_or_else(|| NodeError::Build(format!("decided block {value} was never executed here")))?;
        // The block's builder gossips it; the other validators' copies would differ only in
        // which precommits their certificates hold. Nodes that miss it learn of the next
        // height from consensus messages and sync.
        let publish = Some(candidate.block.header.proposer) == self.proposer;
        match self.finalize(&candidate.block, certificate, &mut candidate.prepared, publish) {
            Ok(()) => {
                self.candidates.clear();
                Ok(())
            }
            Err(e) => {
                self.candidates.insert(value, candidate);
                Err(e)
            }
        }
    }

    /// Persists a finalized block, prunes the mempool, announces the new head and, when
    /// `publish`, gossips the block.
    pub(super) fn finalize(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        prepared: &mut Prepared,
        publish: bool,
    ) -> Result<(), NodeError> {
        let hash = block.hash();
        let height = block.header.height;
        let parent_time = self.store.header(height.saturating_sub(1))?.map(|h| h.timestamp_ms);
        let committed = heavy(|| self.store.commit_block(block, certificate, &prepared.outcomes, &mut prepared.writes));
        self.health.storage_result(super::health::StorageOp::CommitBlock, committed.as_ref().map(|_| ()));
        committed?;
        self.last_commit = Some(certificate.clone());
        if crate::ledger::validators::changes_after(self.store.as_ref(), height).unwrap_or(true) {
            match epoch::validator_set(&self.store) {
                Ok(set) if set != *self.engine.validators() => {
                    tracing::info!(height, validators = set.len(), power = set.total_power(), "new validator set");
                    self.engine.set_validators(set);
                    self.note_validator_set();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(height, error = %e, "cannot read the validator set; keeping the last one")
                }
            }
        }
        let on_chain: Vec<_> = block.evidence.iter().map(|e| e.position()).collect();
        self.pending_evidence.retain(|e| !on_chain.contains(&e.position()));
        self.metrics.on_block(&block.header, parent_time, (self.mempool.len(), self.mempool.bytes()));
        self.metrics.on_block_contents(&block.txs, &prepared.outcomes, &prepared.events, &prepared.diff.supply);
        // The block is durable: announced to peers and subscribers before the mempool is
        // tidied (tens of ms for a large block), its txs no longer pending for any reader.
        self.mempool.committed(&block.txs);
        if publish {
            if let Some(net) = &self.net {
                let compact = crate::primitives::CompactBlock::of(block);
                net.publish(Topic::Blocks, crate::wire::encode_compact_committed(&compact, certificate));
            }
        }
        let info = super::handle::HeadInfo::from_header(&block.header);
        let _ = self.events.send(ChainEvent::NewHead(info.clone()));
        let _ = self.events.send(ChainEvent::Finalized(info));
        let store = self.store.clone();
        self.mempool
            .on_block(&block.txs, |a| StateReader::account(store.as_ref(), a).ok().flatten().unwrap_or_default());
        self.metrics.set_mempool(self.mempool.len(), self.mempool.bytes());
        let failed = prepared.outcomes.iter().filter(|o| o.result.is_err()).count();
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
        Ok(())
    }
}
