use parity_scale_codec::{Decode, Encode};
use serde::Serialize;

/// One account's state. Amounts are base units of AIT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct Account {
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub balance: u128,
    /// The nonce of the last applied tx from this account; the next tx must carry `nonce + 1`.
    pub nonce: u64,
    /// Escrowed for compute jobs.
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub reserved: u128,
    #[codec(compact)]
    #[serde(with = "crate::primitives::serde_amount")]
    pub staked: u128,
}

impl Account {
    /// Everything the account holds, spendable or not. `None` on overflow.
    pub fn holdings(&self) -> Option<u128> {
        self.balance.checked_add(self.reserved)?.checked_add(self.staked)
    }
}

/// Chain-wide counters kept in the state tree. `height` is in here so that every block changes
/// the tree, which gives every height its own version of the state root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct Supply {
    /// Genesis allocation plus everything minted since.
    pub total: u128,
    /// Everything minted since genesis (block rewards, receipts).
    pub minted: u128,
    pub height: u64,
}
