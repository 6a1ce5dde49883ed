//! Types, hashing and keys shared by every part of the node. Pure: no IO, no clock.
//!
//! Canonical bytes are SCALE; every hash is BLAKE3 over a domain tag and SCALE bytes
//! ([`hash`]). Golden vectors in this module's tests pin both, so an accidental format change
//! fails a test instead of forking the chain.

pub mod address;
pub mod block;
pub mod economy;
pub mod hash;
pub mod keys;
pub mod serde_amount;
pub mod tx;

pub use address::{Address, AddressError};
pub use block::{
    Block, CommitCertificate, CompactBlock, Evidence, EvidenceError, FillError, Header, SignedVote, Vote, VoteKind,
};
pub use economy::{
    ComputeReceipt, Delegation, FraudProof, JobCancel, JobPost, ParamUpdate, PowSearch, ReceiptClaim, StakeAmount,
    TrialClaim, VerifierVerdict,
};
pub use hash::{merkle_root, tag, Hash};
pub use keys::{verify_batch, verify_each, KeyCache, KeyError, Keypair, PublicKey, Signature, DEV_KEY_NAMES};
pub use tx::{Payload, Priority, SealedTx, SignedTx, Transfer, Tx};

#[cfg(test)]
mod golden;

/// A hash map for the node's hot paths (block state, the mempool, the state cache): keyed
/// by aHash, randomly seeded per map, which resists crafted collisions like std's SipHash
/// and costs a fraction of it on the 20- and 32-byte keys these maps hold.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
/// See [`FastMap`].
pub type FastSet<T> = std::collections::HashSet<T, ahash::RandomState>;
