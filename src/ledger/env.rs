//! What a block is applied in: the part of its header the transition reads.

use crate::primitives::{Address, Hash};

/// What the block is being built or checked against, all of it from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEnv {
    pub height: u64,
    pub timestamp_ms: u64,
    /// The proposer's address: it receives the block reward and its share of fees.
    pub proposer: Address,
    /// The parent block's hash: what the block's last commit must be for, and the anchor of
    /// trial-credit proofs of work.
    pub parent: Hash,
    /// The proposer's reveal for the randomness beacon ([`super::beacon`]).
    pub reveal: Hash,
}
