use parity_scale_codec::{Decode, Encode};
use serde::Serialize;

/// One account's state. Amounts are base units of AIT; every amount the account holds is in
/// exactly one of the buckets, and [`Account::holdings`] sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Available: spendable now.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub balance: u128,
    /// The nonce of the last applied tx from this account; the next tx must carry `nonce + 1`.
    pub nonce: u64,
    /// Escrowed for this account's open compute jobs.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub reserved: u128,
    /// Bonded; slashable.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub staked: u128,
    /// Earned or minted from receipts whose challenge window is still open.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub pending: u128,
    /// Bonded to validators (DELEGATE); slashable with them.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub delegated: u128,
    /// Unstaked and waiting out the unbonding period.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub unbonding: u128,
    pub unbonding_entries: u32,
}

impl Account {
    /// Everything the account holds, spendable or not. `None` on overflow.
    pub fn holdings(&self) -> Option<u128> {
        self.balance
            .checked_add(self.reserved)?
            .checked_add(self.staked)?
            .checked_add(self.pending)?
            .checked_add(self.delegated)?
            .checked_add(self.unbonding)
    }
}

/// Chain-wide counters kept in the state tree. `height` is in here so that every block changes
/// the tree, which gives every height its own version of the state root.
///
/// `total = genesis + minted - burned`, and `minted = minted_reward + minted_compute +
/// minted_trial`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Supply {
    /// Everything held by anyone, in any bucket.
    #[serde(with = "crate::primitives::serde_amount")]
    pub total: u128,
    /// Everything minted since genesis (block rewards, receipts and trial credits).
    #[serde(with = "crate::primitives::serde_amount")]
    pub minted: u128,
    pub height: u64,
    #[serde(with = "crate::primitives::serde_amount")]
    pub minted_reward: u128,
    /// Minted for receipts, pending or matured.
    #[serde(with = "crate::primitives::serde_amount")]
    pub minted_compute: u128,
    #[serde(with = "crate::primitives::serde_amount")]
    pub burned: u128,
    /// Compute units of every accepted receipt: the network's delivered work, which the
    /// contribution multiplier decays over.
    #[serde(with = "crate::primitives::serde_amount")]
    pub verified_units: u128,
    /// Trial credits granted (TRIAL_CLAIM).
    #[serde(with = "crate::primitives::serde_amount")]
    pub minted_trial: u128,
}
