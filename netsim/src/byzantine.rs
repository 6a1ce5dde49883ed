//! Byzantine validators. A byzantine validator's node runs as a full node (no validator
//! key), and an [`Equivocator`] holding the key signs conflicting votes and publishes them on
//! the `consensus` topic through that node's network, as a lying validator would. Its voting
//! power stays in the set, so the honest validators must carry the chain without it.

use ergon::network::Topic;
use ergon::node::NodeHandle;
use ergon::primitives::{Hash, Keypair, SignedVote, Vote, VoteKind};

/// A new round is assumed every this long at a height that does not move: the equivocator
/// cannot see the honest validators' rounds, so it covers the ones they are likely in.
const ROUND_EVERY_MS: u64 = 1_000;
/// Rounds it signs for at one height, at most.
const MAX_ROUNDS: u32 = 16;
/// Its messages go out again this often while the height does not move (gossip only reaches
/// the peers connected at the time).
const RESEND_EVERY_MS: u64 = 2_000;

/// Signs two different prevotes and two different precommits for each round it reaches at
/// the height after its node's head, and gossips them all.
pub struct Equivocator {
    key: Keypair,
    chain_id: String,
    /// The height it votes at, since when (ms), the rounds signed, the last send (ms) and
    /// how many times it resent.
    height: u64,
    since_ms: u64,
    rounds: u32,
    last_send_ms: u64,
    resends: u32,
    /// Conflicting vote pairs published, in all.
    pub pairs: u64,
}

impl Equivocator {
    pub fn new(key: Keypair, chain_id: String) -> Equivocator {
        Equivocator { key, chain_id, height: 0, since_ms: 0, rounds: 0, last_send_ms: 0, resends: 0, pairs: 0 }
    }

    /// Called on the runner's tick (`now_ms` on any monotonic clock) with the node's handle.
    pub fn tick(&mut self, handle: &NodeHandle, now_ms: u64) {
        let Some(net) = handle.network() else { return };
        let Ok(head) = handle.store().head() else { return };
        let height = head.height.saturating_add(1);
        if height != self.height {
            self.height = height;
            self.since_ms = now_ms;
            self.rounds = 0;
            self.resends = 0;
        }
        let due_rounds = (now_ms.saturating_sub(self.since_ms) / ROUND_EVERY_MS + 1).min(u64::from(MAX_ROUNDS));
        let due_rounds = u32::try_from(due_rounds).unwrap_or(MAX_ROUNDS);
        let resend = now_ms.saturating_sub(self.last_send_ms) >= RESEND_EVERY_MS && self.rounds > 0;
        if due_rounds <= self.rounds && !resend {
            return;
        }
        // New rounds first sent; on a resend, every round so far again.
        let from = if resend {
            self.resends = self.resends.saturating_add(1);
            0
        } else {
            self.rounds
        };
        for round in from..due_rounds {
            for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                for side in [b'a', b'b'] {
                    let v = self.vote(height, round, kind, side);
                    net.publish(Topic::Consensus, ergon::wire::encode_vote(&v, self.resends));
                }
                if round >= self.rounds {
                    self.pairs += 1;
                }
            }
        }
        self.rounds = self.rounds.max(due_rounds);
        self.last_send_ms = now_ms;
    }

    /// A vote for a made-up block: `side` picks one of two different values.
    fn vote(&self, height: u64, round: u32, kind: VoteKind, side: u8) -> SignedVote {
        let mut h = blake3::Hasher::new();
        h.update(b"ergon-netsim/equivocate/");
        h.update(&height.to_le_bytes());
        h.update(&round.to_le_bytes());
        h.update(&[side]);
        let vote = Vote {
            chain_id: self.chain_id.clone(),
            height,
            round,
            kind,
            block_hash: Some(Hash(*h.finalize().as_bytes())),
        };
        let signature = self.key.sign(&vote.signing_hash());
        SignedVote { vote, validator: self.key.public(), signature }
    }
}
