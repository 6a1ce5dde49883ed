//! PARAM_UPDATE: the chain's authority (the spec's `authority` address, on dev and PoA chains)
//! sets one economy parameter. The update is kept under [`StateKey::Params`] and applied by
//! every later block's begin hook, so it is effective from the next block and every node
//! agrees on the parameters of every height; `economy_params` shows the effective values.

use super::Ctx;
use crate::chainspec::{check_economy, ChainSpec, FeeSchedule, UPDATABLE_PARAMS};
use crate::ledger::{StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::ParamUpdate;

/// The parameter updates in force, by name, under [`StateKey::Params`].
pub type Updates = Vec<(String, u128)>;

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.staking_base
}

/// The name is one PARAM_UPDATE can set and the value fits it.
pub(super) fn check(spec: &ChainSpec, p: &ParamUpdate) -> Result<(), TxInvalid> {
    let mut e = spec.economy.clone();
    e.set(&p.name, p.value).map_err(|rule| TxInvalid::Payload { field: "name", rule })?;
    debug_assert!(UPDATABLE_PARAMS.contains(&p.name.as_str()));
    Ok(())
}

/// The updates in force.
pub fn updates<R: StateReader + ?Sized>(state: &R) -> Result<Updates, StateError> {
    Ok(crate::ledger::read(state, &StateKey::Params)?.unwrap_or_default())
}

/// `spec` with `updates` applied; `None` when there are none (the spec as is).
pub fn effective(spec: &ChainSpec, updates: &Updates) -> Result<Option<ChainSpec>, StateError> {
    if updates.is_empty() {
        return Ok(None);
    }
    let mut spec = spec.clone();
    for (name, value) in updates {
        spec.economy.set(name, *value).map_err(|e| StateError(format!("stored parameter update: {e}")))?;
    }
    Ok(Some(spec))
}

pub(super) fn update<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    p: &ParamUpdate,
) -> Result<Result<(), TxFailure>, StateError> {
    let authority = ctx.spec.authority.as_deref().map(|a| ctx.spec.parse_address(a));
    match authority {
        Some(Ok(a)) if a == ctx.sender => {}
        _ => return Ok(Err(TxFailure::NotAuthority)),
    }
    let mut all = updates(ctx.state)?;
    all.retain(|(name, _)| name != &p.name);
    all.push((p.name.clone(), p.value));
    all.sort();
    // The parameters together must still be sound (e.g. min difficulty below max).
    let mut e = ctx.spec.economy.clone();
    if let Err(rule) = e.set(&p.name, p.value) {
        return Ok(Err(TxFailure::ParamInvalid(rule)));
    }
    if let Err(err) = check_economy(&e) {
        return Ok(Err(TxFailure::ParamInvalid(err.to_string())));
    }
    ctx.state.put(StateKey::Params, &all);
    Ok(Ok(()))
}
