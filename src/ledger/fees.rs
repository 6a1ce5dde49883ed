//! The fee schedule: `(base cost of the operation + per-byte cost x size) x priority multiplier`,
//! sized in one place: a tx's size is its signed canonical size, and signatures are fixed
//! width (as is the fee field), so the fee of an unsigned tx is exact.

use super::payload;
use crate::chainspec::{ChainSpec, FeeSchedule};
use crate::primitives::{Keypair, Payload, Priority, SignedTx, Tx};
use parity_scale_codec::Encode;
use serde::Serialize;

const BPS: u128 = 10_000;
/// Bytes an ed25519 signature adds to a tx's canonical encoding.
const SIGNATURE_BYTES: usize = 64;

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

/// The size `tx` has once signed, which is what the schedule charges per byte for.
pub fn signed_size(tx: &Tx) -> usize {
    tx.encoded_size().saturating_add(SIGNATURE_BYTES)
}

/// The minimum fee of `tx` (signed or not: the result is the same). `None` if the numbers
/// overflow, which no payload within the size limits can cause.
pub fn required_fee(spec: &ChainSpec, tx: &Tx) -> Option<FeeBreakdown> {
    fee_for_size(&spec.economy.fees, &tx.payload, signed_size(tx), tx.priority)
}

/// `tx` with its fee set to the minimum.
pub fn with_required_fee(spec: &ChainSpec, mut tx: Tx) -> Option<Tx> {
    tx.fee = required_fee(spec, &tx)?.total;
    Some(tx)
}

/// `payload` from `key` at `nonce`, normal priority and the minimum fee, signed: the tx the
/// node's own roles, the faucet, the devnet client and the benches send. `None` if the fee
/// overflows.
pub fn signed(spec: &ChainSpec, key: &Keypair, nonce: u64, payload: Payload) -> Option<SignedTx> {
    let tx = Tx {
        chain_id: spec.chain_id.clone(),
        sender: key.public(),
        nonce,
        fee: 0,
        priority: Priority::Normal,
        payload,
    };
    Some(with_required_fee(spec, tx)?.sign(key))
}

/// The minimum fee for `payload` at `size_bytes` (the signed tx's canonical size).
/// Fee-less payloads (TRIAL_CLAIM, paid with work) cost nothing at any size.
pub fn fee_for_size(s: &FeeSchedule, payload: &Payload, size_bytes: usize, priority: Priority) -> Option<FeeBreakdown> {
    let computation = payload::computation_cost(s, payload)?;
    let size = u128::try_from(size_bytes).ok()?;
    let fee_less = matches!(payload, Payload::TrialClaim(_));
    let per_byte = |rate: u128| if fee_less { Some(0) } else { rate.checked_mul(size) };
    let storage = per_byte(s.storage_per_byte)?;
    let network = per_byte(s.network_per_byte)?;
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
