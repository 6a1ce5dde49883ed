//! What applying a tx can say: it cannot be in a block at all ([`TxInvalid`]), or it is in
//! and did what it asked or failed for a typed reason ([`TxOutcome`]). Outcomes are committed
//! to by the header's receipts root, so every node agrees on why a tx failed, not only that it
//! did.

use super::StateError;
use crate::primitives::{merkle_root, tag, Hash};
use parity_scale_codec::{Decode, Encode};

/// Why a tx cannot be part of a block at all. A block holding one is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxInvalid {
    #[error("wrong chain id {got:?}, this chain is {want:?}")]
    ChainId { got: String, want: String },
    #[error("nonce {got} is not the account nonce + 1 ({want})")]
    Nonce { got: u64, want: u64 },
    #[error("fee {got} is below the required {required}")]
    FeeTooLow { got: u128, required: u128 },
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee { balance: u128, fee: u128 },
    #[error("tx is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: u32 },
    #[error("batch has {got} transfers; it must have 1 to {limit}")]
    BatchSize { got: usize, limit: u32 },
    /// A payload field breaks a rule that needs no state (a zero amount, a bad signature).
    #[error("{field}: {rule}")]
    Payload { field: &'static str, rule: String },
    #[error("nonce space exhausted")]
    NonceOverflow,
    #[error("the block's fees overflow u128")]
    FeeOverflow,
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why an included tx did nothing but pay its fee. Variant indexes are hashed into the
/// receipts root: never reuse one.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum TxFailure {
    #[codec(index = 0)]
    #[error("insufficient balance: has {balance}, needs {needed}")]
    InsufficientBalance { balance: u128, needed: u128 },
    #[codec(index = 1)]
    #[error("an amount would overflow")]
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxOutcome {
    /// What the sender paid, success or not.
    pub fee: u128,
    pub result: Result<(), TxFailure>,
}

impl TxOutcome {
    /// This outcome's leaf in the receipts root.
    pub fn leaf_hash(&self) -> Hash {
        Hash::of(tag::TX_OUTCOME, self)
    }
}

/// Merkle root over the outcomes of a block's txs, in block order.
pub fn receipts_root(outcomes: &[TxOutcome]) -> Hash {
    merkle_root(outcomes.iter().map(TxOutcome::leaf_hash).collect())
}
