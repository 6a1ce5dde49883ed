//! The fee schedule: `(base cost of the operation + per-byte cost x size) x priority multiplier`.

use crate::chainspec::FeeSchedule;
use crate::primitives::{Payload, Priority};
use serde::Serialize;

const BPS: u128 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeBreakdown {
    /// Cost of executing the operation (after the batch discount).
    #[serde(with = "crate::primitives::serde_amount")]
    pub computation: u128,
    /// Cost of keeping the tx's bytes.
    #[serde(with = "crate::primitives::serde_amount")]
    pub storage: u128,
    /// Cost of carrying the tx's bytes to every node.
    #[serde(with = "crate::primitives::serde_amount")]
    pub network: u128,
    pub size_bytes: u64,
    pub priority_multiplier_bps: u32,
    /// `ceil((computation + storage + network) x multiplier)`: the minimum fee.
    #[serde(with = "crate::primitives::serde_amount")]
    pub total: u128,
}

pub fn priority_bps(s: &FeeSchedule, p: Priority) -> u32 {
    match p {
        Priority::Low => s.priority_low_bps,
        Priority::Normal => s.priority_normal_bps,
        Priority::High => s.priority_high_bps,
        Priority::Urgent => s.priority_urgent_bps,
    }
}

/// The minimum fee for `payload` at `size_bytes` (the signed tx's canonical size).
/// `None` if the numbers overflow, which no payload within the size limits can cause.
pub fn required_fee(s: &FeeSchedule, payload: &Payload, size_bytes: usize, priority: Priority) -> Option<FeeBreakdown> {
    let computation = match payload {
        Payload::Transfer(_) => s.transfer_base,
        Payload::Batch(ts) => {
            let gross = s.batch_per_transfer.checked_mul(u128::try_from(ts.len()).ok()?)?;
            let keep = BPS.checked_sub(u128::from(s.batch_discount_bps))?;
            gross.checked_mul(keep)?.div_ceil(BPS)
        }
    };
    let size = u128::try_from(size_bytes).ok()?;
    let storage = s.storage_per_byte.checked_mul(size)?;
    let network = s.network_per_byte.checked_mul(size)?;
    let mult = priority_bps(s, priority);
    let total = computation.checked_add(storage)?.checked_add(network)?.checked_mul(u128::from(mult))?.div_ceil(BPS);
    Some(FeeBreakdown {
        computation,
        storage,
        network,
        size_bytes: u64::try_from(size_bytes).ok()?,
        priority_multiplier_bps: mult,
        total,
    })
}
