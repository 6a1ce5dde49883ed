//! The economy's RPC methods (DESIGN.md §8): jobs, receipts, staking, supply, parameters and
//! the contribution multiplier. Reads go straight to the store's latest state.

use super::errors::{
    err, internal, invalid_params, read_failed, BLOB_TOO_LARGE, PROGRAM_INVALID, UNKNOWN_BLOB, UNKNOWN_RECEIPT,
};
use super::params::Args;
use super::{parse_address, Ctx, RpcResult};
use crate::ledger::economy_math::{contribution_multiplier_wad, contribution_tier, WAD};
use crate::ledger::payload::fraud::Verdict;
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::payload::receipt::ReceiptRecord;
use crate::ledger::{read, validators, StateKey, StateReader};
use crate::primitives::{Address, Hash};
use jsonrpsee::RpcModule;
use parity_scale_codec::{Decode, Encode};
use serde_json::{json, Value};

/// Jobs one `job_list` call returns at most.
pub const MAX_JOBS: usize = 1000;

/// A WAD fixed-point value as a decimal string with 18 places, trailing zeros trimmed.
fn wad_decimal(v: u128) -> String {
    let (int, frac) = (v / WAD, v % WAD);
    let frac = format!("{frac:018}");
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

fn job_json(id: &Hash, job: &Job, hrp: &str) -> Value {
    let p = &job.post;
    json!({
        "jobId": id,
        "client": job.client.to_bech32(hrp),
        "program": p.program,
        "input": p.input,
        "maxUnits": p.max_units,
        "price": p.price.to_string(),
        "coordinator": p.coordinator.to_bech32(hrp),
        "deadline": p.deadline,
        "verifiers": p.verifiers,
        "status": job.status,
        "postedAt": job.posted_at,
        "receipt": job.receipt,
    })
}

fn receipt_json(id: &Hash, r: &ReceiptRecord, hrp: &str) -> Value {
    json!({
        "receiptId": id,
        "jobId": r.job_id,
        "miner": r.miner.to_bech32(hrp),
        "coordinator": r.coordinator.to_bech32(hrp),
        "computeUnits": r.compute_units,
        "outputHash": r.output_hash,
        "height": r.height,
        "maturityHeight": r.matures_at,
        "status": r.status,
        "minerPayment": r.miner_payment.to_string(),
        "burned": r.burned.to_string(),
        "mint": {
            "total": r.minted().to_string(),
            "miner": r.mint_miner.to_string(),
            "coordinator": r.mint_coordinator.to_string(),
            "treasury": r.mint_treasury.to_string(),
        },
    })
}

fn parse_status(s: &str) -> RpcResult<JobStatus> {
    Ok(match s {
        "open" => JobStatus::Open,
        "claimed" => JobStatus::Claimed,
        "settled" => JobStatus::Settled,
        "cancelled" => JobStatus::Cancelled,
        "expired" => JobStatus::Expired,
        "refunded" => JobStatus::Refunded,
        other => {
            return Err(invalid_params(format!(
                "status {other:?}: expected open, claimed, settled, cancelled or expired"
            )))
        }
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JobFilter {
    status: Option<String>,
    client: Option<String>,
    coordinator: Option<String>,
    from_height: Option<u64>,
    limit: Option<usize>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryFilter {
    from_height: Option<u64>,
    to_height: Option<u64>,
    limit: Option<usize>,
}

/// Events one `account_history` call returns at most.
pub const MAX_HISTORY: usize = 1000;

/// An account event: what caused it, each bucket's signed change, and the account after.
fn history_json(e: &crate::storage::HistoryEntry) -> Value {
    use crate::ledger::EventCause;
    let (b, a) = (&e.before, &e.after);
    let buckets = [
        ("balance", b.balance, a.balance),
        ("reserved", b.reserved, a.reserved),
        ("pending", b.pending, a.pending),
        ("staked", b.staked, a.staked),
        ("delegated", b.delegated, a.delegated),
        ("unbonding", b.unbonding, a.unbonding),
    ];
    let mut changes = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    for (name, before, now) in buckets {
        if now != before {
            let delta = if now > before { format!("+{}", now - before) } else { format!("-{}", before - now) };
            changes.insert(name.into(), Value::String(delta));
        }
        after.insert(name.into(), Value::String(now.to_string()));
    }
    after.insert("nonce".into(), json!(e.after.nonce));
    let tx_index = match e.cause {
        EventCause::Tx(i) => Some(i),
        _ => None,
    };
    json!({
        "height": e.height,
        "cause": e.cause.name(),
        "txHash": e.tx_hash,
        "txIndex": tx_index,
        "changes": changes,
        "after": after,
    })
}

/// What others delegated to `validator`.
fn store_delegated(store: &crate::storage::Store, validator: &Address) -> RpcResult<u128> {
    let d: Option<crate::ledger::payload::stake::Delegators> =
        read(store, &StateKey::Delegators(*validator)).map_err(internal)?;
    Ok(d.map_or(0, |d| d.total))
}

/// A JOB_POST sent to this node must name blobs it holds, and a program that is a valid job:
/// a job nobody can run would only lock the client's AIT until its deadline. (Txs from
/// peers are not held to this: their blobs may live elsewhere.)
pub(super) fn check_job_blobs(ctx: &Ctx, tx: &crate::primitives::SealedTx) -> RpcResult<()> {
    let crate::primitives::Payload::JobPost(j) = &tx.tx.payload else { return Ok(()) };
    if crate::ledger::check_stateless(ctx.node.spec(), tx).is_err() {
        return Ok(()); // submitting reports what is wrong with the tx itself first
    }
    let store = ctx.node.store();
    let limits = crate::vm::Limits::default();
    let fetch = |what: &str, hash: &Hash| -> RpcResult<Vec<u8>> {
        store.blob(hash).map_err(read_failed(&ctx.node))?.ok_or_else(|| {
            err(UNKNOWN_BLOB, format!("payload.{what}: blob {hash} is not on this node; upload it with blob_put first"))
        })
    };
    let program = fetch("program", &j.program)?;
    crate::vm::validate(&program, &limits)
        .map_err(|e| err(PROGRAM_INVALID, format!("payload.program: not a valid job: {e}")))?;
    let input_len = fetch("input", &j.input)?.len();
    if input_len > limits.max_input_bytes {
        return Err(err(
            BLOB_TOO_LARGE,
            format!("payload.input: {input_len} bytes, over the job input limit of {}", limits.max_input_bytes),
        ));
    }
    // Needed from now: a blob uploaded long ago is not swept before the job lands.
    let head = store.head().map_err(read_failed(&ctx.node))?.height;
    store.mark_blobs([j.program, j.input], head).map_err(internal)?;
    Ok(())
}

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("admin_setParam", |p, ctx, ext| async move {
        ctx.check_unsafe("admin_setParam", &ext)?;
        let args = Args::parse(&p, &["name", "value"])?;
        let name: String = args.required(0)?;
        let value: u128 = match args.raw(1) {
            Some(v) => crate::primitives::serde_amount::deserialize(v.clone())
                .map_err(|e| invalid_params(format!("param `value`: {e}")))?,
            None => return Err(invalid_params("missing param `value`")),
        };
        let spec = ctx.node.spec().clone();
        let not_here = || {
            err(
                super::errors::NOT_AUTHORITY,
                "this chain has no authority, or its key is not a dev key this node knows: sign a PARAM_UPDATE with `ergon tx` instead",
            )
        };
        let authority = spec.authority.as_deref().ok_or_else(not_here)?;
        let key = crate::primitives::DEV_KEY_NAMES
            .iter()
            .filter_map(|n| spec.dev_key(n))
            .find(|k| Address::from_public_key(&k.public()).to_bech32(spec.hrp()) == authority)
            .ok_or_else(not_here)?;
        // After the authority's pending txs too, so updates back to back each land.
        let nonce = ctx.node.next_nonce(Address::from_public_key(&key.public())).await.map_err(super::errors::submit)?;
        let payload = crate::primitives::Payload::ParamUpdate(crate::primitives::ParamUpdate { name, value });
        let tx = crate::ledger::fees::signed(&spec, &key, nonce, payload).ok_or_else(|| internal("fee overflow"))?;
        let hash = ctx.node.submit(tx).await.map_err(super::errors::submit)?;
        RpcResult::Ok(json!({"txHash": hash}))
    })?;

    m.register_method("reputation_get", |p, ctx, _| -> RpcResult<Value> {
        use crate::ledger::economy_math::{reputation_tier, stake_weight_wad};
        let args = Args::parse(&p, &["address"])?;
        let text: String = args.required(0)?;
        let address = parse_address(&text, &ctx.node)?;
        let store = ctx.node.store();
        let c = crate::ledger::reputation::read(store.as_ref(), &address).map_err(internal)?;
        let acc = store.account(&address).map_err(internal)?.unwrap_or_default();
        let unit = 10u128.pow(u32::from(ctx.node.spec().token.decimals));
        let stake_tokens = acc.staked / unit.max(1);
        let score = c.score(stake_tokens);
        Ok(json!({
            "address": address.to_bech32(ctx.node.spec().hrp()),
            "score": wad_decimal(score),
            "scoreWad": score.to_string(),
            "tier": reputation_tier(score).name(),
            "receiptsAccepted": c.accepted,
            "receiptsFailed": c.failed,
            "precommitsSigned": c.signed,
            "precommitsExpected": c.expected,
            "jobsDelivered": c.delivered,
            "jobsMissed": c.missed,
            "stakeWeight": wad_decimal(stake_weight_wad(stake_tokens)),
        }))
    })?;

    m.register_method("blob_put", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["data", "offset", "size", "hash"])?;
        let text: String = args.required(0)?;
        let mut bytes = hex::decode(text.strip_prefix("0x").unwrap_or(&text))
            .map_err(|e| invalid_params(format!("param `data`: not hex: {e}")))?;
        // A piece of a larger blob ([`super::uploads`]): stored once the last one is in.
        if let Some(offset) = args.optional::<usize>(1)? {
            let (size, want): (usize, Hash) = (args.required(2)?, args.required(3)?);
            let piece = ctx
                .uploads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(want, size, offset, &bytes, crate::storage::MAX_BLOB_BYTES)
                .map_err(|e| match e {
                    super::uploads::UploadError::TooLarge { .. } => err(BLOB_TOO_LARGE, e.to_string()),
                    other => invalid_params(other.to_string()),
                })?;
            bytes = match piece {
                super::uploads::Piece::Partial { received } => {
                    return Ok(json!({"hash": want, "size": size, "received": received, "complete": false}));
                }
                super::uploads::Piece::Complete(all) => all,
            };
            let got = crate::vm::blob_hash(&bytes);
            if got != want {
                return Err(invalid_params(format!(
                    "param `hash`: the pieces hash to {got}, not {want}; upload again"
                )));
            }
        }
        let hash = ctx.node.put_blob(&bytes).map_err(|e| match e {
            crate::storage::StoreError::BlobTooLarge { .. } => err(BLOB_TOO_LARGE, e.to_string()),
            other => internal(other),
        })?;
        Ok(json!({"hash": hash, "size": bytes.len(), "received": bytes.len(), "complete": true}))
    })?;

    m.register_method("blob_get", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["hash"])?;
        let hash: Hash = args.required(0)?;
        let blob = ctx.node.store().blob(&hash).map_err(read_failed(&ctx.node))?;
        Ok(blob
            .map_or(Value::Null, |b| json!({"hash": hash, "size": b.len(), "data": format!("0x{}", hex::encode(&b))})))
    })?;

    m.register_method("job_get", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["jobId"])?;
        let id: Hash = args.required(0)?;
        let store = ctx.node.store();
        let job: Option<Job> = read(store.as_ref(), &StateKey::Job(id)).map_err(internal)?;
        let Some(j) = job else { return Ok(Value::Null) };
        let spec = ctx.node.spec();
        let mut v = job_json(&id, &j, spec.hrp());
        // Who the chain's draw lets claim it in the next block (`ledger::draw`).
        let head = store.head().map_err(read_failed(&ctx.node))?;
        let draw = crate::ledger::draw::assigned(store.as_ref(), spec, &id, head.height.saturating_add(1))
            .map_err(internal)?;
        let (drawn, until) = match draw {
            crate::ledger::draw::Draw::Anyone => (json!("anyone"), Value::Null),
            crate::ledger::draw::Draw::Miner { miner, until, .. } => (json!(miner.to_bech32(spec.hrp())), json!(until)),
            crate::ledger::draw::Draw::Nobody => (Value::Null, Value::Null),
        };
        if j.status == crate::ledger::payload::job::JobStatus::Open {
            v["drawnMiner"] = drawn;
            v["drawnUntil"] = until;
        }
        Ok(v)
    })?;

    m.register_method("account_history", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["address", "filter"])?;
        let text: String = args.required(0)?;
        let address = parse_address(&text, &ctx.node)?;
        let f: HistoryFilter = args.optional(1)?.unwrap_or_default();
        let (from, to) = (f.from_height.unwrap_or(0), f.to_height.unwrap_or(u64::MAX));
        if from > to {
            return Err(invalid_params(format!("fromHeight {from} is above toHeight {to}")));
        }
        let limit = f.limit.unwrap_or(100).clamp(1, MAX_HISTORY);
        let (events, more) =
            ctx.node.store().account_history(&address, from, to, limit).map_err(read_failed(&ctx.node))?;
        Ok(json!({
            "address": address.to_bech32(ctx.node.spec().hrp()),
            "events": events.iter().map(history_json).collect::<Vec<_>>(),
            "more": more,
        }))
    })?;

    m.register_method("job_list", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["filter"])?;
        let f: JobFilter = args.optional(0)?.unwrap_or_default();
        let status = f.status.as_deref().map(parse_status).transpose()?;
        let client = f.client.as_deref().map(|a| parse_address(a, &ctx.node)).transpose()?;
        let coordinator = f.coordinator.as_deref().map(|a| parse_address(a, &ctx.node)).transpose()?;
        let limit = f.limit.unwrap_or(100).min(MAX_JOBS);
        let from = f.from_height.unwrap_or(0);
        let job_variant = StateKey::Job(Hash::ZERO).encode()[0];
        let jobs = ctx
            .node
            .store()
            .state_records::<Job>(job_variant, limit, |_, j| {
                status.is_none_or(|s| j.status == s)
                    && client.is_none_or(|c| j.client == c)
                    && coordinator.is_none_or(|c| j.post.coordinator == c)
                    && j.posted_at >= from
            })
            .map_err(internal)?;
        let hrp = ctx.node.spec().hrp();
        let out: Vec<Value> = jobs
            .iter()
            .filter_map(|(k, j)| match StateKey::decode(&mut k.as_slice()) {
                Ok(StateKey::Job(id)) => Some(job_json(&id, j, hrp)),
                _ => None,
            })
            .collect();
        Ok(Value::Array(out))
    })?;

    m.register_method("receipt_get", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["receiptId"])?;
        let id: Hash = args.required(0)?;
        let rec: Option<ReceiptRecord> = read(ctx.node.store().as_ref(), &StateKey::Receipt(id)).map_err(internal)?;
        let Some(r) = rec else {
            return Err(err(UNKNOWN_RECEIPT, format!("receipt {id} was never claimed")));
        };
        let hrp = ctx.node.spec().hrp();
        let mut v = receipt_json(&id, &r, hrp);
        // While it is pending: the verifiers the chain drew, and the verdicts they posted.
        let store = ctx.node.store();
        let drawn = crate::ledger::draw::verifiers(store.as_ref(), &id).map_err(internal)?;
        v["verifiers"] = drawn.iter().map(|a| json!(a.to_bech32(hrp))).collect();
        let votes: Vec<(Address, bool)> =
            read(store.as_ref(), &StateKey::Verdicts(id)).map_err(internal)?.unwrap_or_default();
        v["verifierVerdicts"] =
            votes.iter().map(|(who, agrees)| json!({"verifier": who.to_bech32(hrp), "agrees": agrees})).collect();
        // The referee's verdicts on challenges to it.
        let variant = StateKey::Verdict(Hash::ZERO, Address([0; 20])).encode()[0];
        let verdicts = ctx
            .node
            .store()
            .state_records::<Verdict>(variant, MAX_JOBS, |k, _| k.get(1..33) == Some(&id.0[..]))
            .map_err(internal)?;
        v["verdicts"] = verdicts
            .iter()
            .map(|(_, d)| {
                json!({
                    "challenger": d.challenger.to_bech32(hrp),
                    "height": d.height,
                    "upheld": d.upheld,
                    "outputHash": d.output_hash,
                    "units": d.units,
                    "minerSlashed": d.miner_slashed.to_string(),
                    "coordinatorSlashed": d.coordinator_slashed.to_string(),
                    "bondBurned": d.bond_burned.to_string(),
                })
            })
            .collect();
        Ok(v)
    })?;

    m.register_method("economy_supply", |_, ctx, _| -> RpcResult<Value> {
        let store = ctx.node.store();
        let s = store.supply().map_err(internal)?;
        let spec = ctx.node.spec();
        let treasury = spec.parse_address(&spec.economy.treasury).map_err(internal)?;
        let t = store.account(&treasury).map_err(internal)?.unwrap_or_default();
        Ok(json!({
            "height": s.height,
            "total": s.total.to_string(),
            "minted": {"total": s.minted.to_string(), "reward": s.minted_reward.to_string(), "compute": s.minted_compute.to_string(), "trial": s.minted_trial.to_string()},
            "burned": s.burned.to_string(),
            "verifiedUnits": s.verified_units.to_string(),
            "treasury": {"address": treasury.to_bech32(spec.hrp()), "balance": t.balance.to_string(), "pending": t.pending.to_string()},
        }))
    })?;

    m.register_method("economy_params", |_, ctx, _| -> RpcResult<Value> {
        use crate::ledger::payload::params;
        let store = ctx.node.store();
        let updates = params::updates(store.as_ref()).map_err(internal)?;
        let updated = params::effective(ctx.node.spec(), &updates).map_err(internal)?;
        let spec = updated.as_ref().unwrap_or(ctx.node.spec());
        let mut v = serde_json::to_value(&spec.economy).map_err(internal)?;
        // What a trial claim's work needs here: the difficulty for a new account.
        v["trialDifficultyBits"] = json!(crate::ledger::payload::trial::difficulty(spec));
        v["authority"] = json!(spec.authority);
        v["updates"] = updates.iter().map(|(name, value)| json!({"name": name, "value": value.to_string()})).collect();
        Ok(v)
    })?;

    m.register_method("economy_multiplier", |_, ctx, _| -> RpcResult<Value> {
        let s = ctx.node.store().supply().map_err(internal)?;
        let e = &ctx.node.spec().economy;
        let m = contribution_multiplier_wad(s.verified_units, e.units_per_hour, e.contribution_decay_hours);
        let hours = s.verified_units.checked_div(e.units_per_hour).unwrap_or(0);
        Ok(json!({
            "multiplier": wad_decimal(m),
            "multiplierWad": m.to_string(),
            "tier": contribution_tier(s.verified_units, e.units_per_hour).name(),
            "networkHours": hours.to_string(),
            "verifiedUnits": s.verified_units.to_string(),
        }))
    })?;

    m.register_method("staking_validators", |_, ctx, _| -> RpcResult<Value> {
        let store = ctx.node.store();
        let v = validators::current(store.as_ref()).map_err(internal)?;
        let set = crate::consensus::ValidatorSet::from_stakes(&v.active).map_err(internal)?;
        let hrp = ctx.node.spec().hrp();
        let mut active = Vec::with_capacity(v.active.len());
        for (k, weight) in &v.active {
            let a = Address::from_public_key(k);
            let acc = store.account(&a).map_err(internal)?.unwrap_or_default();
            let stake = acc.staked.saturating_add(store_delegated(store.as_ref(), &a)?);
            let l = crate::ledger::liveness::read(store.as_ref(), &a).map_err(internal)?;
            active.push(json!({
                "address": a.to_bech32(hrp),
                "consensusKey": k.to_hex(),
                "stake": stake.to_string(),
                "weight": weight.to_string(),
                "power": set.power_of(k),
                "precommitsSigned": l.signed_total,
                "precommitsExpected": l.expected_total,
                "missedInWindow": l.missed,
            }));
        }
        let jails: Vec<Value> = v
            .jailed
            .iter()
            .map(|j| json!({"address": Address::from_public_key(&j.key).to_bech32(hrp), "until": j.until}))
            .collect();
        Ok(json!({
            "validators": active,
            "totalPower": set.total_power(),
            "since": v.since,
            "candidates": v.candidates.iter().map(|k| Address::from_public_key(k).to_bech32(hrp)).collect::<Vec<_>>(),
            "jailed": v.jailed.iter().map(|j| Address::from_public_key(&j.key).to_bech32(hrp)).collect::<Vec<_>>(),
            "jails": jails,
        }))
    })?;

    m.register_method("staking_get", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["address"])?;
        let addr = parse_address(&args.required::<String>(0)?, &ctx.node)?;
        let store = ctx.node.store();
        let acc = store.account(&addr).map_err(internal)?.unwrap_or_default();
        let v = validators::current(store.as_ref()).map_err(internal)?;
        let is = |k: &crate::primitives::PublicKey| Address::from_public_key(k) == addr;
        Ok(json!({
            "address": addr.to_bech32(ctx.node.spec().hrp()),
            "staked": acc.staked.to_string(),
            "delegated": acc.delegated.to_string(),
            "delegatedToIt": store_delegated(store.as_ref(), &addr)?.to_string(),
            "unbonding": acc.unbonding.to_string(),
            "unbondingEntries": acc.unbonding_entries,
            "candidate": v.candidates.iter().any(is),
            "validator": v.active.iter().any(|(k, _)| is(k)),
            "jailed": v.jailed.iter().any(|j| is(&j.key)),
            "jailedUntil": v.jailed.iter().find(|j| is(&j.key)).and_then(|j| j.until),
        }))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wad_decimals() {
        use super::{wad_decimal, WAD};
        assert_eq!(wad_decimal(10 * WAD), "10");
        assert_eq!(wad_decimal(WAD + WAD / 2), "1.5");
        assert_eq!(wad_decimal(1), "0.000000000000000001");
    }
}
