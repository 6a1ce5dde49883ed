//! Unbonding entries: stake on its way out, which stays slashable for what its validator did
//! while it was still bonded.
//!
//! UNSTAKE and UNDELEGATE move an amount into an entry {from: the validator whose stake it
//! was, start, end, amount} under the account's [`StateKey::Unbonds`] (at most
//! [`MAX_UNBONDING_ENTRIES`]), and the account's `unbonding` sum. Each validator keeps the
//! list of accounts holding entries from it ([`StateKey::UnbondingFrom`]), so a slash finds
//! them without scanning the queue. An offence at height `at` can take from entries that
//! started at or after `at` (the stake was bonded when the offence happened), never from
//! entries that started before it (Cosmos's rule). The block hook at `end` returns what is
//! left of an entry to the balance.

use super::queue::{self, Queue};
use super::{Account, Overlay, StateError, StateKey, StateReader, TxFailure};
use crate::primitives::Address;
use parity_scale_codec::{Decode, Encode};

/// Unbonding entries one account may have at once (Cosmos's default).
pub const MAX_UNBONDING_ENTRIES: u32 = 7;

/// One amount on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Unbond {
    /// The validator the amount was bonded to (the account itself for its own stake).
    pub from: Address,
    /// The height of the block that started it.
    pub start: u64,
    /// The height whose block hook releases it.
    pub end: u64,
    #[codec(compact)]
    pub amount: u128,
}

fn overflow() -> StateError {
    StateError("unbonding arithmetic overflows".into())
}

/// The unbonding entries of `who`, oldest first.
pub fn entries<R: StateReader + ?Sized>(state: &R, who: &Address) -> Result<Vec<Unbond>, StateError> {
    Ok(super::read(state, &StateKey::Unbonds(*who))?.unwrap_or_default())
}

fn put_entries<R: StateReader>(state: &mut Overlay<'_, R>, who: Address, list: &[Unbond]) {
    if list.is_empty() {
        state.delete(StateKey::Unbonds(who));
    } else {
        state.put(StateKey::Unbonds(who), &list.to_vec());
    }
}

/// Moves `amount`, already taken from a bonded bucket of `acc` (the account of `who`, not yet
/// written back), into a new entry from validator `from` that ends at `end`.
pub(crate) fn start<R: StateReader>(
    state: &mut Overlay<'_, R>,
    who: Address,
    mut acc: Account,
    from: Address,
    amount: u128,
    height: u64,
    end: u64,
) -> Result<Result<(), TxFailure>, StateError> {
    if acc.unbonding_entries >= MAX_UNBONDING_ENTRIES {
        return Ok(Err(TxFailure::TooManyUnbonding { limit: MAX_UNBONDING_ENTRIES }));
    }
    let Some(unbonding) = acc.unbonding.checked_add(amount) else { return Ok(Err(TxFailure::Overflow)) };
    acc.unbonding = unbonding;
    acc.unbonding_entries = acc.unbonding_entries.saturating_add(1);
    state.set_account(who, acc);
    let mut list = entries(state, &who)?;
    list.push(Unbond { from, start: height, end, amount });
    put_entries(state, who, &list);
    let mut holders: Vec<Address> = state.get(&StateKey::UnbondingFrom(from))?.unwrap_or_default();
    if !holders.contains(&who) {
        holders.push(who);
        state.put(StateKey::UnbondingFrom(from), &holders);
    }
    queue::push(state, Queue::Unbonding, end, &who)?;
    Ok(Ok(()))
}

/// The block hook: entries that end at `height` return what is left of them to their
/// accounts' balances.
pub(crate) fn release<R: StateReader>(state: &mut Overlay<'_, R>, height: u64) -> Result<(), StateError> {
    let mut due = queue::take::<Address, _>(state, Queue::Unbonding, height)?;
    due.sort_unstable();
    due.dedup();
    for who in due {
        let (ended, kept): (Vec<Unbond>, Vec<Unbond>) =
            entries(state, &who)?.into_iter().partition(|u| u.end <= height);
        let mut acc = state.account(&who)?;
        for u in &ended {
            acc.unbonding = acc.unbonding.checked_sub(u.amount).ok_or_else(overflow)?;
            acc.balance = acc.balance.checked_add(u.amount).ok_or_else(overflow)?;
            acc.unbonding_entries = acc.unbonding_entries.saturating_sub(1);
        }
        state.set_account(who, acc);
        put_entries(state, who, &kept);
        let mut froms: Vec<Address> = ended.iter().map(|u| u.from).collect();
        froms.sort_unstable();
        froms.dedup();
        for from in froms.into_iter().filter(|f| !kept.iter().any(|u| u.from == *f)) {
            let mut holders: Vec<Address> = state.get(&StateKey::UnbondingFrom(from))?.unwrap_or_default();
            holders.retain(|h| *h != who);
            if holders.is_empty() {
                state.delete(StateKey::UnbondingFrom(from));
            } else {
                state.put(StateKey::UnbondingFrom(from), &holders);
            }
        }
    }
    Ok(())
}

/// An entry a slash may take from: whose it is, its position in their list, its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slashable {
    pub who: Address,
    pub index: usize,
    pub amount: u128,
}

/// Every entry from validator `from` that started at or after `since`, the holders in the
/// order they first unbonded from it and each holder's entries oldest first.
pub(crate) fn slashable<R: StateReader>(
    state: &Overlay<'_, R>,
    from: &Address,
    since: u64,
) -> Result<Vec<Slashable>, StateError> {
    let holders: Vec<Address> = state.get(&StateKey::UnbondingFrom(*from))?.unwrap_or_default();
    let mut out = Vec::new();
    for who in holders {
        out.extend(slashable_of(state, who, from, since)?);
    }
    Ok(out)
}

/// [`slashable`] for one holder's entries only.
pub(crate) fn slashable_of<R: StateReader>(
    state: &Overlay<'_, R>,
    who: Address,
    from: &Address,
    since: u64,
) -> Result<Vec<Slashable>, StateError> {
    let list = entries(state, &who)?;
    let of = list.iter().enumerate().filter(|(_, u)| u.from == *from && u.start >= since && u.amount > 0);
    Ok(of.map(|(index, u)| Slashable { who, index, amount: u.amount }).collect())
}

/// Takes `cut` (at most what is left) from entry `index` of `who`; returns what it took.
pub(crate) fn take<R: StateReader>(
    state: &mut Overlay<'_, R>,
    who: Address,
    index: usize,
    cut: u128,
) -> Result<u128, StateError> {
    let mut list = entries(state, &who)?;
    let Some(u) = list.get_mut(index) else { return Ok(0) };
    let cut = cut.min(u.amount);
    u.amount = u.amount.saturating_sub(cut);
    let mut acc = state.account(&who)?;
    acc.unbonding = acc.unbonding.checked_sub(cut).ok_or_else(overflow)?;
    state.set_account(who, acc);
    put_entries(state, who, &list);
    Ok(cut)
}
