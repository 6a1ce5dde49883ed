//! TRANSFER and BATCH: move AIT from the sender's available balance. A batch is all or
//! nothing and gets the schedule's discount.

use super::Ctx;
use crate::chainspec::{ChainSpec, FeeSchedule};
use crate::ledger::{StateError, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Payload, Transfer};

const BPS: u128 = 10_000;

pub(super) fn check(spec: &ChainSpec, payload: &Payload) -> Result<(), TxInvalid> {
    if let Payload::Batch(ts) = payload {
        if ts.is_empty() || ts.len() > spec.limits.max_batch_transfers as usize {
            return Err(TxInvalid::BatchSize { got: ts.len(), limit: spec.limits.max_batch_transfers });
        }
    }
    Ok(())
}

pub(super) fn computation_cost(s: &FeeSchedule, payload: &Payload) -> Option<u128> {
    match payload {
        Payload::Batch(ts) => {
            let gross = s.batch_per_transfer.checked_mul(u128::try_from(ts.len()).ok()?)?;
            let keep = BPS.checked_sub(u128::from(s.batch_discount_bps))?;
            Some(gross.checked_mul(keep)?.div_ceil(BPS))
        }
        _ => Some(s.transfer_base),
    }
}

/// Moves each amount in order, so a batch may pass AIT through the sender itself.
pub(super) fn apply<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    transfers: &[Transfer],
) -> Result<Result<(), TxFailure>, StateError> {
    let sender = ctx.sender;
    let before = ctx.state.account(&sender)?.balance;
    for t in transfers {
        let mut src = ctx.state.account(&sender)?;
        let Some(left) = src.balance.checked_sub(t.amount) else {
            let needed = transfers.iter().try_fold(0u128, |acc, t| acc.checked_add(t.amount)).unwrap_or(u128::MAX);
            return Ok(Err(TxFailure::InsufficientBalance { balance: before, needed }));
        };
        src.balance = left;
        ctx.state.set_account(sender, src);
        let mut to = ctx.state.account(&t.to)?;
        let Some(credited) = to.balance.checked_add(t.amount) else {
            return Ok(Err(TxFailure::Overflow));
        };
        to.balance = credited;
        ctx.state.set_account(t.to, to);
    }
    Ok(Ok(()))
}
