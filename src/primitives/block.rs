//! Headers, blocks, votes and commit certificates.

use super::hash::{merkle_root, tag, Hash};
use super::keys::{PublicKey, Signature};
use super::tx::SignedTx;
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
    /// Merkle root over the block's [`SignedTx::leaf_hash`]es.
    pub tx_root: Hash,
    /// Root of the authenticated state tree after applying this block.
    pub state_root: Hash,
    pub tx_count: u32,
}

impl Header {
    pub fn hash(&self) -> Hash {
        Hash::of(tag::HEADER, self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    pub header: Header,
    pub txs: Vec<SignedTx>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    pub fn tx_root(txs: &[SignedTx]) -> Hash {
        merkle_root(txs.iter().map(SignedTx::leaf_hash).collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
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
