//! The economy's state transition. Pure: no IO, no clock, no randomness; storage is reached
//! only through the [`StateReader`] and jmt `TreeReader` traits that callers implement.
//!
//! - [`block`]: [`apply_block`], the one block transition, and the [`BlockExecutor`] behind it;
//! - [`payload`]: one module per payload (check, fee, effect);
//! - [`state`]: typed state keys, the reader trait, the overlay and the diff;
//! - [`evidence`], [`liveness`], [`slash`], [`validators`], [`work`]: the begin hook's
//!   equivocation records and parent precommits, slashing, the validator set and its weights;
//! - [`fees`], [`tree`], [`outcome`]: the fee schedule, the state tree, typed tx outcomes;
//! - [`economy_math`]: fixed-point contribution curve, reputation and PoW difficulty.
//!
//! Invariants (property-tested in `tests.rs`):
//! - supply is conserved: the sum of every account's holdings equals [`Supply::total`], which
//!   is genesis + block rewards + receipt mints - burns;
//! - AIT is minted only by the block reward and by an accepted receipt for an escrowed job;
//!   a receipt id pays once, ever; escrow never goes negative;
//! - no balance goes negative: all arithmetic is checked, and overflow is an error;
//! - applying a block is deterministic: the same state and txs give the same state root and
//!   receipts root;
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
pub mod beacon;
pub mod block;
pub mod draw;
pub mod economy_math;
mod env;
pub mod evidence;
pub mod fees;
mod genesis;
pub mod history;
pub mod liveness;
pub mod outcome;
pub mod payload;
mod queue;
pub mod reputation;
mod slash;
pub mod state;
pub mod tree;
pub mod unbonding;
pub mod validators;
pub mod work;

#[cfg(test)]
mod tests;

pub use account::{Account, Supply};
pub use block::{
    apply_block, block_reward, check_stateless, BlockEnv, BlockError, BlockExecutor, BlockOutcome, BlockVotes,
};
pub use fees::{required_fee, FeeBreakdown};
pub use history::{AccountEvent, EventCause};
pub use outcome::{receipts_root, TxFailure, TxInvalid, TxOutcome};
pub use state::{read, DrawWeights, Overlay, StateDiff, StateError, StateKey, StateReader};
