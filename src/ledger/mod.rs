//! The economy's state transition. Pure: no IO, no clock; storage is reached only through the
//! [`StateReader`] and jmt `TreeReader` traits that callers implement.
//!
//! Invariants (property-tested in `tests.rs`):
//! - supply is conserved: the sum of every account's balance, reserved and staked amounts
//!   equals [`Supply::total`], which changes only by explicit mints (the block reward);
//! - no balance goes negative: all arithmetic is checked, and overflow is an error;
//! - applying a block is deterministic: the same state and txs give the same state root;
//! - a tx that fails after it is admitted to a block pays its fee, bumps its nonce, and
//!   changes nothing else.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod account;
mod execute;
pub mod fees;
pub mod tree;

#[cfg(test)]
mod tests;

pub use account::{Account, Supply};
pub use execute::{block_reward, check_stateless, BlockEnv, Executor, StateDiff, TxFailure, TxInvalid, TxOutcome};
pub use fees::{required_fee, FeeBreakdown};

use crate::primitives::Address;

/// A storage read failed; the ledger cannot decide anything without its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// Read access to the state as of the parent block.
pub trait StateReader {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError>;
    fn supply(&self) -> Result<Supply, StateError>;
}
