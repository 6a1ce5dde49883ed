//! The chain's randomness beacon: commit-reveal of per-proposer hash chains (RANDAO), so that
//! no proposer can grind the draws of miners and verifiers.
//!
//! A proposer holds a secret hash chain `c_0 = seed, c_(i+1) = H(c_i), .., c_L` (L =
//! [`CHAIN_LENGTH`]), its seed derived from its consensus key ([`RevealSecret`]), and has
//! committed `c_L` on chain ([`StateKey::RevealChain`]). Every block it proposes carries the
//! next value down its chain in `Header::reveal`, which must hash to the last one it
//! revealed. So a proposer has exactly one valid reveal for each of its blocks, fixed when it
//! committed; all it can do is withhold a block and let the round's timeout hand the height
//! to the next proposer, one bit of influence at most, paid for with its block reward. The
//! beacon after block `h` is `H(beacon(h - 1), reveal_h)`.
//!
//! A proposer with no chain on record (its first block) or a spent one commits a new chain in
//! that block: the reveal becomes the new tip and adds nothing to the beacon (`beacon(h) =
//! H(beacon(h - 1), h)`), since nothing bound it.
//!
//! Draws read the beacon one block after the block that fixed what they draw for (a job's
//! post, a receipt's claim), so not even the proposer who included it knew the seed.
//! On a one-validator chain (dev) that validator knows every reveal in advance: the beacon
//! protects chains with more than one proposer.

use super::{BlockEnv, Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::{tag, Address, Hash, Keypair};
use parity_scale_codec::{Decode, Encode};

/// Reveals per committed chain: a proposer commits a new chain once every this many blocks
/// it proposes. Deriving a reveal walks at most this many hashes.
pub const CHAIN_LENGTH: u32 = 4096;

/// A proposer's committed chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct RevealChain {
    /// The last value revealed (or the commitment `c_L`): the next reveal hashes to it.
    pub tip: Hash,
    /// Reveals left in this chain.
    pub left: u32,
    /// Which of the proposer's chains this is (0 first).
    pub generation: u32,
}

/// A block's reveal is not the next value of its proposer's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the proposer's reveal {got} does not hash to its last reveal {tip}")]
pub struct RevealInvalid {
    pub got: Hash,
    pub tip: Hash,
}

/// The root of a proposer's reveal chains, derived from its consensus key and the chain id:
/// the same key reveals the same values on any machine, and the builder never holds the key.
pub struct RevealSecret(Hash);

impl RevealSecret {
    pub fn new(key: &Keypair, chain_id: &str) -> Self {
        Self(Hash::of(tag::REVEAL_SEED, &(key.secret_bytes(), chain_id)))
    }

    /// The seed `c_0` of chain `generation`.
    fn seed(&self, generation: u32) -> Hash {
        Hash::of(tag::REVEAL_SEED, &(self.0, generation))
    }
}

/// `c_steps` of the chain seeded by `seed`.
fn walk(seed: Hash, steps: u32) -> Hash {
    (0..steps).fold(seed, |c, _| Hash::of(tag::REVEAL, &c))
}

/// What the proposer at `who`, holding `secret`, must reveal in the next block on top of
/// `state`.
pub fn next_reveal<R: StateReader + ?Sized>(
    state: &R,
    who: &Address,
    secret: &RevealSecret,
) -> Result<Hash, StateError> {
    Ok(match super::read::<RevealChain, _>(state, &StateKey::RevealChain(*who))? {
        Some(c) if c.left > 0 => walk(secret.seed(c.generation), c.left.saturating_sub(1)),
        Some(c) => walk(secret.seed(c.generation.saturating_add(1)), CHAIN_LENGTH),
        None => walk(secret.seed(0), CHAIN_LENGTH),
    })
}

/// The beacon after the block at `height`, while it is kept (draw seeds' retention).
pub fn at<R: StateReader + ?Sized>(state: &R, height: u64) -> Result<Option<Hash>, StateError> {
    super::read(state, &StateKey::Beacon(height))
}

/// The begin hook: checks the block's reveal against its proposer's chain, advances the
/// chain and records the beacon after this block.
pub(super) fn apply<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    env: &BlockEnv,
) -> Result<Result<(), RevealInvalid>, StateError> {
    let key = StateKey::RevealChain(env.proposer);
    let (chain, mixed) = match state.get::<RevealChain>(&key)? {
        Some(c) if c.left > 0 => {
            if Hash::of(tag::REVEAL, &env.reveal) != c.tip {
                return Ok(Err(RevealInvalid { got: env.reveal, tip: c.tip }));
            }
            (RevealChain { tip: env.reveal, left: c.left.saturating_sub(1), generation: c.generation }, true)
        }
        Some(c) => {
            (RevealChain { tip: env.reveal, left: CHAIN_LENGTH, generation: c.generation.saturating_add(1) }, false)
        }
        None => (RevealChain { tip: env.reveal, left: CHAIN_LENGTH, generation: 0 }, false),
    };
    state.put(key, &chain);
    let previous = match env.height.checked_sub(1).map(|h| at(&*state, h)).transpose()?.flatten() {
        Some(b) => b,
        None => Hash::of(tag::BEACON, &spec.chain_id),
    };
    let beacon = if mixed {
        Hash::of(tag::BEACON, &(previous, env.reveal))
    } else {
        Hash::of(tag::BEACON, &(previous, env.height))
    };
    state.put(StateKey::Beacon(env.height), &beacon);
    if let Some(old) = env.height.checked_sub(retention(spec)) {
        state.delete(StateKey::Beacon(old));
    }
    // No account changes here; the cause is never recorded.
    state.commit_tx(super::EventCause::BlockReward)?;
    Ok(Ok(()))
}

/// How many blocks of beacon values are kept. Draws now read only the value of the block
/// they are made in and keep their result ([`super::draw`]), so this is more than they need:
/// a miner window or a challenge window, plus margin, kept so that a reader of the state
/// (RPC, tools) can still show the values a recent draw used.
pub fn retention(spec: &ChainSpec) -> u64 {
    spec.economy.miner_draw_blocks.max(spec.economy.challenge_blocks).saturating_add(3)
}
