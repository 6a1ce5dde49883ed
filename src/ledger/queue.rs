//! Queues keyed by height (jobs that expire, receipts that mature, unbonding entries that
//! end): a count under the queue's key and the entries in pages of [`PAGE`], so adding to a
//! queue costs the same whether it holds one entry or fifty thousand (one page rewritten),
//! and the block hook at that height takes them all and deletes them. Pages, not a record per
//! entry: every record is a leaf of the state tree, and each deletion walks the tree from its
//! root, so a block of 20,000 claims wrote 20,000 entries and their maturity deleted 20,000;
//! now 313 of each.

use super::{Overlay, StateError, StateKey, StateReader};
use parity_scale_codec::{Decode, Encode, EncodeAppend};

/// The queues: each has a head key (the count) and entry keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    Expiring,
    Maturing,
    Unbonding,
    /// Jobs whose miner-draw window turns over at the height.
    Draws,
    /// Receipts whose verifiers are drawn at the height.
    VerifierDraws,
}

impl Queue {
    fn head(self, height: u64) -> StateKey {
        match self {
            Queue::Expiring => StateKey::Expiring(height),
            Queue::Maturing => StateKey::Maturing(height),
            Queue::Unbonding => StateKey::Unbonding(height),
            Queue::Draws => StateKey::Draws(height),
            Queue::VerifierDraws => StateKey::VerifierDraws(height),
        }
    }

    fn page(self, height: u64, page: u32) -> StateKey {
        StateKey::QueueEntry(self.head(height).encode().first().copied().unwrap_or(0), height, page)
    }
}

/// Entries per page.
pub(crate) const PAGE: u32 = 64;

/// Appends `value` to the queue at `height`.
pub(crate) fn push<T: Encode, R: StateReader>(
    state: &mut Overlay<'_, R>,
    queue: Queue,
    height: u64,
    value: &T,
) -> Result<(), StateError> {
    let count: u32 = state.get(&queue.head(height))?.unwrap_or(0);
    let next = count.checked_add(1).ok_or_else(|| StateError(format!("{queue:?} queue at {height} is full")))?;
    let key = queue.page(height, count / PAGE);
    // Appended to the page as encoded: SCALE rewrites a vector's length prefix and leaves its
    // entries alone, giving the bytes the longer page would encode to, without decoding and
    // encoding up to 63 entries for every one added.
    let page = if count % PAGE == 0 { Vec::new() } else { StateReader::get(state, &key)?.unwrap_or_default() };
    let page = <Vec<T> as EncodeAppend>::append_or_new(page, std::iter::once(value))
        .map_err(|e| StateError(format!("{queue:?} queue page at {height} does not decode: {e}")))?;
    state.put_encoded(key, page);
    state.put(queue.head(height), &next);
    Ok(())
}

/// Every entry of the queue at `height`, in order; the queue is deleted.
pub(crate) fn take<T: Decode, R: StateReader>(
    state: &mut Overlay<'_, R>,
    queue: Queue,
    height: u64,
) -> Result<Vec<T>, StateError> {
    let Some(count) = state.get::<u32>(&queue.head(height))? else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for i in 0..count.div_ceil(PAGE) {
        let key = queue.page(height, i);
        if let Some(page) = state.get::<Vec<T>>(&key)? {
            out.extend(page);
        }
        state.delete(key);
    }
    state.delete(queue.head(height));
    Ok(out)
}
