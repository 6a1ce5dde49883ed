//! Headers, blocks, votes and commit certificates.

use super::hash::{merkle_root, tag, Hash};
use super::keys::{PublicKey, Signature};
use super::tx::SealedTx;
use parity_scale_codec::{Decode, Encode};

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    /// Hash of the parent header; for genesis, the hash of the chain spec.
    pub parent: Hash,
    pub height: u64,
    /// Milliseconds since the Unix epoch, set by the proposer.
    pub timestamp_ms: u64,
    /// Consensus key of the proposer; all zeroes for genesis.
    pub proposer: PublicKey,
    /// Merkle root over the block's [`SealedTx::leaf_hash`]es.
    pub tx_root: Hash,
    /// Root of the authenticated state tree after applying this block.
    pub state_root: Hash,
    pub tx_count: u32,
    /// Merkle root over the hashes of the block's [`Evidence`].
    pub evidence_root: Hash,
    /// Merkle root over the typed outcome of each tx (`ledger::receipts_root`).
    pub receipts_root: Hash,
    /// Hash of the block's [`Block::last_commit`] ([`Block::last_commit_hash`]).
    pub last_commit_hash: Hash,
    /// The proposer's next value down its committed hash chain, mixed into the chain's
    /// randomness beacon (`ledger::beacon`); all zeroes for genesis.
    pub reveal: Hash,
}

impl Header {
    pub fn hash(&self) -> Hash {
        Hash::of(tag::HEADER, self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    pub header: Header,
    /// Sealed: each tx's hash, leaf and size were computed once, when it was decoded or built.
    pub txs: Vec<SealedTx>,
    /// Equivocation the proposer saw and the chain has not recorded yet.
    pub evidence: Vec<Evidence>,
    /// The precommits for the parent block that the proposer had gathered (more than 2/3 of
    /// the parent's validator set): the chain's record of who signed, which validator
    /// uptime and downtime slashing count. `None` only at height 1 (genesis has no votes).
    pub last_commit: Option<CommitCertificate>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    pub fn tx_root(txs: &[SealedTx]) -> Hash {
        merkle_root(txs.iter().map(SealedTx::leaf_hash).collect())
    }

    pub fn evidence_root(evidence: &[Evidence]) -> Hash {
        merkle_root(evidence.iter().map(Evidence::hash).collect())
    }

    /// What the header commits to for `last_commit`: zero for none.
    pub fn last_commit_hash(last_commit: Option<&CommitCertificate>) -> Hash {
        last_commit.map_or(Hash::ZERO, |c| Hash::of(tag::COMMIT, c))
    }
}

/// A block named by its txs' hashes: what proposals and the `blocks` topic carry, since the
/// txs themselves travel on the `txs` topic. [`CompactBlock::fill`] turns it back into the
/// block once the txs are found (in the mempool, or fetched from a peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactBlock {
    pub header: Header,
    pub tx_hashes: Vec<Hash>,
    pub evidence: Vec<Evidence>,
    pub last_commit: Option<CommitCertificate>,
}

/// Why txs do not fill a compact block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    #[error("{got} txs for {want} hashes")]
    Count { got: usize, want: usize },
    #[error("tx {index} has hash {got}, the block names {want}")]
    Hash { index: usize, got: Hash, want: Hash },
    #[error("the txs' root {got} is not the header's tx_root {want} (same hashes, other signatures)")]
    Root { got: Hash, want: Hash },
}

impl CompactBlock {
    pub fn of(block: &Block) -> CompactBlock {
        CompactBlock {
            header: block.header.clone(),
            tx_hashes: block.txs.iter().map(SealedTx::hash).collect(),
            evidence: block.evidence.clone(),
            last_commit: block.last_commit.clone(),
        }
    }

    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The block, given its txs in order: each must have the hash named, and together the
    /// header's tx root (which also covers their signatures).
    pub fn fill(self, txs: Vec<SealedTx>) -> Result<Block, FillError> {
        if txs.len() != self.tx_hashes.len() {
            return Err(FillError::Count { got: txs.len(), want: self.tx_hashes.len() });
        }
        if let Some((index, (tx, want))) =
            txs.iter().zip(&self.tx_hashes).enumerate().find(|(_, (t, h))| t.hash() != **h)
        {
            return Err(FillError::Hash { index, got: tx.hash(), want: *want });
        }
        let root = Block::tx_root(&txs);
        if root != self.header.tx_root {
            return Err(FillError::Root { got: root, want: self.header.tx_root });
        }
        Ok(Block { header: self.header, txs, evidence: self.evidence, last_commit: self.last_commit })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum VoteKind {
    #[codec(index = 0)]
    Prevote,
    #[codec(index = 1)]
    Precommit,
}

/// What a validator signs when it votes. `block_hash = None` is a vote for nil.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Vote {
    pub chain_id: String,
    pub height: u64,
    pub round: u32,
    pub kind: VoteKind,
    pub block_hash: Option<Hash>,
}

impl Vote {
    pub fn signing_hash(&self) -> Hash {
        Hash::of(tag::VOTE, self)
    }
}

/// A vote and its validator's signature over [`Vote::signing_hash`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedVote {
    pub vote: Vote,
    pub validator: PublicKey,
    pub signature: Signature,
}

/// Equivocation: two different votes of one kind for one (height, round), both signed by one
/// validator. Honest validators never sign both, so this proves a fault.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Evidence {
    pub first: SignedVote,
    pub second: SignedVote,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the two votes are not from one validator for one height, round and kind")]
    Mismatch,
    #[error("the two votes are for the same value: no equivocation")]
    SameValue,
    #[error("a vote is for chain {0}")]
    WrongChain(String),
    #[error("a vote's signature does not verify")]
    BadSignature,
}

impl Evidence {
    pub fn hash(&self) -> Hash {
        Hash::of(tag::EVIDENCE, self)
    }

    /// Where the fault was: (height, round, kind, validator); one record per position.
    pub fn position(&self) -> (u64, u32, VoteKind, PublicKey) {
        let v = &self.first.vote;
        (v.height, v.round, v.kind, self.first.validator)
    }

    /// Checks that this proves equivocation on `chain_id` (whether the signer is a validator
    /// is for the caller, who knows the set).
    pub fn verify(&self, chain_id: &str) -> Result<(), EvidenceError> {
        let (a, b) = (&self.first, &self.second);
        if a.validator != b.validator
            || a.vote.height != b.vote.height
            || a.vote.round != b.vote.round
            || a.vote.kind != b.vote.kind
        {
            return Err(EvidenceError::Mismatch);
        }
        if a.vote.block_hash == b.vote.block_hash {
            return Err(EvidenceError::SameValue);
        }
        for v in [a, b] {
            if v.vote.chain_id != chain_id {
                return Err(EvidenceError::WrongChain(v.vote.chain_id.clone()));
            }
        }
        let items = [a, b].map(|v| (v.validator, v.vote.signing_hash(), v.signature));
        super::keys::verify_batch(&items).map_err(|_| EvidenceError::BadSignature)
    }
}

/// Precommits for one block from validators holding more than 2/3 of the voting power.
/// Checked against a validator set by `consensus::verify_commit`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitCertificate {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash,
    pub signatures: Vec<(PublicKey, Signature)>,
}

impl CommitCertificate {
    /// The precommit every signature in this certificate must be over.
    pub fn vote(&self, chain_id: &str) -> Vote {
        Vote {
            chain_id: chain_id.to_string(),
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block_hash: Some(self.block_hash),
        }
    }
}
