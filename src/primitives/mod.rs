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
