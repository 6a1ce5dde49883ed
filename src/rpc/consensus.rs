//! `consensus_state` (DESIGN.md §8): where this node's consensus engine stands, for people
//! watching a chain that does not move (which round, who proposes, who voted with what power).
//! Read-only; a snapshot taken by the driver between two inputs.

use super::errors::internal;
use super::{Ctx, RpcResult};
use crate::consensus::{ConsensusState, Lock, Step, StepTally};
use crate::primitives::{Address, PublicKey};
use jsonrpsee::RpcModule;
use serde_json::{json, Value};

fn step_name(s: Step) -> &'static str {
    match s {
        Step::Propose => "propose",
        Step::Prevote => "prevote",
        Step::Precommit => "precommit",
    }
}

fn tally_json(t: &StepTally) -> Value {
    let by_value: Vec<Value> = t.by_value.iter().map(|(v, p)| json!({"value": v, "power": p})).collect();
    json!({"validators": t.voters, "power": t.power, "byValue": by_value})
}

/// The JSON form of a snapshot; keys as addresses under `hrp`, `null` for nil and none.
pub fn state_json(s: &ConsensusState, hrp: &str) -> Value {
    let who = |k: &PublicKey| json!({"address": Address::from_public_key(k).to_bech32(hrp), "key": k.to_hex()});
    let lock = |l: &Option<Lock>| l.map_or(Value::Null, |l| json!({"round": l.round, "value": l.value}));
    let rounds: Vec<Value> = s
        .rounds
        .iter()
        .map(
            |r| json!({"round": r.round, "prevotes": tally_json(&r.prevotes), "precommits": tally_json(&r.precommits)}),
        )
        .collect();
    json!({
        "height": s.height,
        "waiting": s.waiting,
        "round": s.round,
        "step": step_name(s.step),
        "decided": s.decided,
        "proposer": s.proposer.as_ref().map_or(Value::Null, who),
        "locked": lock(&s.locked),
        "lockedRound": s.locked.map(|l| l.round),
        "valid": lock(&s.valid),
        "validRound": s.valid.map(|l| l.round),
        "validators": s.validators,
        "totalPower": s.total_power,
        "quorumPower": s.quorum_power,
        "votes": rounds,
    })
}

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("consensus_state", |_, ctx, _| async move {
        let s = ctx.node.consensus_state().await.ok_or_else(|| internal("the node is shutting down"))?;
        RpcResult::Ok(state_json(&s, ctx.node.spec().hrp()))
    })?;
    Ok(())
}
