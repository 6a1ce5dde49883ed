//! Account history (seed 000's append-only ledger): every change to an account, with what
//! caused it. The [`super::Overlay`] records one [`AccountEvent`] per account each time a tx
//! or a block hook commits, comparing the account before and after, so no balance can move
//! without an event; the node indexes them by address and height.

use super::Account;
use crate::primitives::Address;
use parity_scale_codec::{Decode, Encode};

/// What changed an account. Variant indexes are stored: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum EventCause {
    /// The chain spec's genesis allocation.
    #[codec(index = 0)]
    Genesis,
    /// The tx at this index of the block (its fee, its payload's effect).
    #[codec(index = 1)]
    Tx(u32),
    /// The begin hook slashed equivocation evidence (and paid the reporter).
    #[codec(index = 2)]
    Slash,
    /// The end hook paid the block reward and split the fees.
    #[codec(index = 3)]
    BlockReward,
    /// The end hook released the reservation of jobs past their deadline.
    #[codec(index = 4)]
    JobExpiry,
    /// The end hook matured pending receipt amounts.
    #[codec(index = 5)]
    Maturity,
    /// The end hook returned unbonding entries that ended.
    #[codec(index = 6)]
    Unbonded,
    /// The end hook recomputed the validator set at an epoch boundary.
    #[codec(index = 7)]
    Epoch,
    /// The begin hook slashed a validator that signed too few of its precommits.
    #[codec(index = 8)]
    Downtime,
}

impl EventCause {
    pub fn name(&self) -> &'static str {
        match self {
            EventCause::Genesis => "genesis",
            EventCause::Tx(_) => "tx",
            EventCause::Slash => "slash",
            EventCause::BlockReward => "blockReward",
            EventCause::JobExpiry => "jobExpiry",
            EventCause::Maturity => "maturity",
            EventCause::Unbonded => "unbonded",
            EventCause::Epoch => "epoch",
            EventCause::Downtime => "downtime",
        }
    }
}

/// One account's change at one commit of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct AccountEvent {
    pub address: Address,
    pub cause: EventCause,
    pub before: Account,
    pub after: Account,
}
