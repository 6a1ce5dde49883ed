//! Queues keyed by height (jobs that expire, receipts that mature, unbonding entries that
//! end): a count under the queue's key and one record per entry, so adding to a queue costs
//! the same whether it holds one entry or fifty thousand, and the block hook at that height
//! takes them all and deletes them.

use super::{Overlay, StateError, StateKey, StateReader};
use parity_scale_codec::{Decode, Encode};

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

    fn entry(self, height: u64, index: u32) -> StateKey {
        StateKey::QueueEntry(self.head(height).encode().first().copied().unwrap_or(0), height, index)
    }
}

/// Appends `value` to the queue at `height`.
pub(crate) fn push<T: Encode, R: StateReader>(
    state: &mut Overlay<'_, R>,
    queue: Queue,
    height: u64,
    value: &T,
) -> Result<(), StateError> {
    let count: u32 = state.get(&queue.head(height))?.unwrap_or(0);
    let next = count.checked_add(1).ok_or_else(|| StateError(format!("{queue:?} queue at {height} is full")))?;
    state.put(queue.entry(height, count), value);
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
    for i in 0..count {
        let key = queue.entry(height, i);
        if let Some(v) = state.get(&key)? {
            out.push(v);
        }
        state.delete(key);
    }
    state.delete(queue.head(height));
    Ok(out)
}
