//! The account history index: one entry per account event under
//! `address (20) || height (8, big-endian) || position in the block (4, big-endian)`, so an
//! account's events over a height range are one ordered scan.

use super::{batch::SortedBatch, decode, Result, Store, CF_HISTORY};
use crate::ledger::{Account, AccountEvent, EventCause};
use crate::primitives::{Address, Hash};
use parity_scale_codec::{Decode, Encode};

/// One event as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct HistoryEntry {
    pub height: u64,
    pub cause: EventCause,
    /// The tx that caused it, for [`EventCause::Tx`].
    pub tx_hash: Option<Hash>,
    pub before: Account,
    pub after: Account,
}

fn key(address: &Address, height: u64, position: u32) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..20].copy_from_slice(&address.0);
    k[20..28].copy_from_slice(&height.to_be_bytes());
    k[28..].copy_from_slice(&position.to_be_bytes());
    k
}

impl Store {
    /// Adds `block`'s events to the index in `batch`; `tx_hashes` are the block's, in order.
    pub(super) fn stage_history(
        &self,
        batch: &mut SortedBatch,
        height: u64,
        tx_hashes: &[Hash],
        events: &[AccountEvent],
    ) {
        for (position, e) in events.iter().enumerate() {
            let tx_hash = match e.cause {
                EventCause::Tx(i) => usize::try_from(i).ok().and_then(|i| tx_hashes.get(i)).copied(),
                _ => None,
            };
            let entry = HistoryEntry { height, cause: e.cause, tx_hash, before: e.before, after: e.after };
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            batch.put(CF_HISTORY, key(&e.address, height, position), entry.encode());
        }
    }

    /// `address`'s events at heights `from..=to`, oldest first, at most `limit`; the flag says
    /// whether more follow.
    pub fn account_history(
        &self,
        address: &Address,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<(Vec<HistoryEntry>, bool)> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_HISTORY));
        it.seek(key(address, from, 0));
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let height = k.get(20..28).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
            let (true, Some(height)) = (k.get(..20) == Some(&address.0[..]), height) else { break };
            if height > to {
                break;
            }
            if out.len() >= limit {
                return Ok((out, true));
            }
            out.push(decode(CF_HISTORY, v)?);
            it.next();
        }
        it.status()?;
        Ok((out, false))
    }
}
