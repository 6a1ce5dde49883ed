//! Verified compute in a run (DESIGN §11): the roles each node plays, the client that posts
//! sample jobs, and the checks that the chain paid for exactly the work that was done.
//!
//! The miners and the jobs' coordinator run on one node (`ergon::node::compute::run`, as
//! `ergon node --miner .. --coordinator ..` starts it), the verifier on another. A client
//! posts sample jobs through a running node. Blobs are not exchanged between nodes yet, and
//! every validator needs a job's program and input to referee a fraud proof against it, so
//! the runner puts every job's blobs on every node's store before the first post: a stand-in
//! for blob replication.
//!
//! At the end, [`checks`] re-executes every job in the VM (the ground truth) and reads the
//! chain's records: a receipt whose output or units differ from the re-execution is
//! dishonest; the checks demand it was invalidated before it matured (or, with
//! `expect_caught = false`, that it matured), and that every account's balance, pending and
//! stake moved, height by height, by exactly what the receipts that matured, the fraud proofs
//! that were upheld and the account's own txs account for.

use crate::checks::Check;
use crate::scenario::{ByzantineKind, Compute, Scenario};
use ergon::chainspec::ChainSpec;
use ergon::ledger::economy_math::{apply_wad, contribution_multiplier_wad};
use ergon::ledger::payload::fraud::Verdict;
use ergon::ledger::payload::job::{Job, JobStatus};
use ergon::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use ergon::ledger::{Account, StateKey, StateReader};
use ergon::node::compute::{Cheat, ComputeRoles};
use ergon::node::NodeHandle;
use ergon::primitives::{Address, Hash, JobPost, Keypair, Payload, StakeAmount};
use ergon::storage::Store;
use serde::Serialize;
use std::collections::BTreeMap;

/// What every sample job pays and may use. The units stay under `max_dispute_units`, so the
/// referee can re-execute any of them inside a block.
pub const PRICE: u128 = 1_000_000;
pub const MAX_UNITS: u64 = 50_000_000;
const BPS: u128 = 10_000;

/// One node's compute roles, by dev key name.
#[derive(Debug, Clone, Default)]
pub struct NodeRoles {
    pub miners: Vec<String>,
    pub coordinator: Option<String>,
    pub verifier: Option<String>,
    pub cheat: Option<Cheat>,
}

impl NodeRoles {
    pub fn is_empty(&self) -> bool {
        self.miners.is_empty() && self.verifier.is_none()
    }

    /// The keys, fresh for each start of the node.
    pub fn keys(&self) -> ComputeRoles {
        ComputeRoles {
            miners: self.miners.iter().map(|m| Keypair::dev(m)).collect(),
            coordinators: self.coordinator.iter().map(|c| Keypair::dev(c)).collect(),
            verifiers: self.verifier.iter().map(|v| Keypair::dev(v)).collect(),
            cheat: self.cheat,
        }
    }
}

/// Every node's roles: the miners' node runs the miners, the coordinator and the cheat; the
/// verifier's node the verifier, unless it is silent.
pub fn roles(s: &Scenario) -> Vec<NodeRoles> {
    let mut out = vec![NodeRoles::default(); s.nodes];
    let Some(c) = &s.compute else { return out };
    if let Some(r) = out.get_mut(c.miner_node) {
        r.miners.clone_from(&c.miners);
        r.coordinator = Some(c.coordinator.clone());
        r.cheat = s.cheat();
    }
    if let (Some(node), true) = (c.verifier_node, s.verifier_works()) {
        if let Some(r) = out.get_mut(node) {
            r.verifier.clone_from(&c.verifier);
        }
    }
    out
}

/// A sample job: a program from `ergon::vm::samples` and an input that keeps it short.
#[derive(Debug, Clone)]
pub struct SampleJob {
    pub sample: &'static str,
    pub program: Vec<u8>,
    pub input: Vec<u8>,
}

/// Job `i` of a run: the samples in turn, each input different.
pub fn sample_job(i: usize) -> Result<SampleJob, String> {
    let all = ergon::vm::samples::ALL;
    let (sample, source) = all[i % all.len()];
    let program = ergon::vm::compile_wat(source).map_err(|e| format!("sample {sample}: {e}"))?;
    let k = u32::try_from(i).unwrap_or(u32::MAX);
    let input = match sample {
        "hashchain" => [1000u32.to_le_bytes().as_slice(), format!("netsim job {i}").as_bytes()].concat(),
        "matmul" => {
            let n = 8u32;
            let cells = (0..2 * n * n).flat_map(|c| c.wrapping_mul(7).wrapping_add(k).to_le_bytes());
            n.to_le_bytes().into_iter().chain(cells).collect()
        }
        "sieve" => 20_000u32.saturating_add(k).to_le_bytes().to_vec(),
        _ => format!("job {i}: the quick brown fox jumps over the lazy dog\n").repeat(20).into_bytes(),
    };
    Ok(SampleJob { sample, program, input })
}

/// A job the client posted.
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    /// The JOB_POST's tx hash, which is the job's id.
    pub id: Hash,
    /// Which of the run's jobs.
    pub index: usize,
    /// When it was submitted, ms since the Unix epoch (the clock block timestamps use).
    pub at_unix_ms: u64,
}

/// The client: stakes the miners at the start, then posts the jobs on schedule.
pub struct Client {
    key: Keypair,
    config: Compute,
    spec: ChainSpec,
    jobs: Vec<SampleJob>,
    /// The nonce of its next tx, once known.
    nonce: Option<u64>,
    pub posted: Vec<Posted>,
    /// Posts a node refused.
    pub refused: usize,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn sign(spec: &ChainSpec, key: &Keypair, nonce: u64, payload: Payload) -> Result<ergon::primitives::SignedTx, String> {
    Ok(ergon::ledger::fees::signed(spec, key, nonce, payload).ok_or("fee overflows")?)
}

fn next_nonce(store: &Store, who: &Address) -> Result<u64, String> {
    Ok(store.account(who).map_err(|e| e.to_string())?.unwrap_or_default().nonce.saturating_add(1))
}

impl Client {
    pub fn new(config: &Compute, spec: &ChainSpec) -> Result<Client, String> {
        Ok(Client {
            key: Keypair::dev(&config.client),
            config: config.clone(),
            spec: spec.clone(),
            jobs: (0..config.jobs).map(sample_job).collect::<Result<_, _>>()?,
            nonce: None,
            posted: Vec::new(),
            refused: 0,
        })
    }

    /// Puts every job's program and input on `store` (one node's), before any is posted.
    pub fn put_blobs(&self, store: &Store) -> Result<(), String> {
        for j in &self.jobs {
            store.put_blob(&j.program).map_err(|e| e.to_string())?;
            store.put_blob(&j.input).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stakes each miner with 10 x `miner_min_stake` (a miner's compute mint per epoch is
    /// capped at `mint_cap_bps` of its stake), through the miners' node.
    pub async fn stake_miners(&self, node: &NodeHandle) -> Result<(), String> {
        let amount = self.spec.economy.miner_min_stake.saturating_mul(10);
        for m in &self.config.miners {
            let key = Keypair::dev(m);
            let nonce = next_nonce(node.store(), &Address::from_public_key(&key.public()))?;
            let tx = sign(&self.spec, &key, nonce, Payload::Stake(StakeAmount { amount }))?;
            node.submit(tx).await.map_err(|e| format!("staking miner {m}: {e}"))?;
        }
        Ok(())
    }

    /// When job `i` is due, ms after the scenario's start.
    fn due_ms(&self, i: usize) -> u64 {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let every = ms(self.config.post_every.0).saturating_mul(i as u64);
        ms(self.config.post_from.0).saturating_add(every)
    }

    pub fn done_posting(&self) -> bool {
        self.posted.len() + self.refused >= self.jobs.len()
    }

    /// Posts the jobs due by `t_ms` through `node`.
    ///
    /// The miners' node gives each job to one of its miners by the job id's first byte (a
    /// stand-in for the chain's draw). So that every miner, the cheater too, gets its share
    /// whatever the ids come out as, the client tries deadlines from `deadline_blocks` up
    /// until job `i`'s id falls to miner `i mod miners`.
    pub async fn tick(&mut self, t_ms: u64, node: &NodeHandle) {
        while !self.done_posting() && self.due_ms(self.posted.len() + self.refused) <= t_ms {
            let index = self.posted.len() + self.refused;
            if let Err(e) = self.post(index, node).await {
                tracing::warn!(job = index, error = %e, "the client's job post was refused");
                self.refused += 1;
                self.nonce = None;
            }
        }
    }

    async fn post(&mut self, index: usize, node: &NodeHandle) -> Result<(), String> {
        let store = node.store();
        let nonce = match self.nonce {
            Some(n) => n,
            None => next_nonce(store, &Address::from_public_key(&self.key.public()))?,
        };
        let head = store.head().map_err(|e| e.to_string())?.height;
        let job = self.jobs.get(index).ok_or("no such job")?;
        let miners = self.config.miners.len().max(1);
        let coordinator = Address::from_public_key(&Keypair::dev(&self.config.coordinator).public());
        let mut tx = None;
        for extra in 0..256 {
            let post = JobPost {
                program: ergon::vm::blob_hash(&job.program),
                input: ergon::vm::blob_hash(&job.input),
                max_units: MAX_UNITS,
                price: PRICE,
                coordinator,
                deadline: head + self.config.deadline_blocks + extra,
                verifiers: 0,
            };
            let signed = sign(&self.spec, &self.key, nonce, Payload::JobPost(post))?;
            let turn = usize::from(signed.hash().0[0]) % miners == index % miners;
            tx = Some(signed);
            if turn {
                break;
            }
        }
        let tx = tx.ok_or("no job post")?;
        let at_unix_ms = unix_ms();
        let id = node.submit(tx).await.map_err(|e| e.to_string())?;
        self.nonce = Some(nonce + 1);
        self.posted.push(Posted { id, index, at_unix_ms });
        Ok(())
    }

    /// Posted jobs still open or claimed (their receipt not yet matured or invalidated).
    pub fn unsettled(&self, store: &Store) -> usize {
        self.posted
            .iter()
            .filter(|p| {
                let job = ergon::ledger::read::<Job, _>(store, &StateKey::Job(p.id)).ok().flatten();
                job.is_none_or(|j| matches!(j.status, JobStatus::Open | JobStatus::Claimed))
            })
            .count()
    }
}

/// What became of the jobs, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ComputeStats {
    pub jobs: usize,
    pub posted: usize,
    pub refused: usize,
    /// Receipts that landed, and of them those whose output or units differ from the VM's.
    pub receipts: usize,
    pub dishonest: usize,
    /// Jobs settled (receipt matured), refunded (receipt invalidated), expired unclaimed.
    pub settled: usize,
    pub refunded: usize,
    pub expired: usize,
    /// Dishonest receipts that matured anyway (no working verifier).
    pub dishonest_matured: usize,
    /// AIT minted (pending or matured) for dishonest receipts that were not caught.
    pub minted_for_lies: u128,
    /// Stake slashed from miners and coordinators by upheld fraud proofs.
    pub slashed: u128,
    /// From the first post to the block that settled or refunded the last job (block
    /// timestamps), and jobs settled per second over it.
    pub settle_ms: Option<u64>,
    pub settled_per_sec: Option<f64>,
    /// From the first post to the block holding the last receipt claim.
    pub claim_ms: Option<u64>,
    pub claimed_per_sec: Option<f64>,
}

/// One posted job as the chain ended up with it, beside its re-execution.
struct Seen {
    posted: Posted,
    job: Job,
    /// The VM's output hash (`None`: the job fails) and units.
    truth: (Option<Hash>, u64),
    receipt: Option<(Hash, ReceiptRecord)>,
}

impl Seen {
    fn honest(&self) -> bool {
        self.receipt.as_ref().is_none_or(|(_, r)| self.truth == (Some(r.output_hash), r.compute_units))
    }
}

fn bps(amount: u128, bps: u32) -> u128 {
    amount.saturating_mul(u128::from(bps)) / BPS
}

fn read<T: parity_scale_codec::Decode>(store: &Store, key: &StateKey) -> Result<Option<T>, String> {
    ergon::ledger::read::<T, _>(store, key).map_err(|e| e.to_string())
}

/// `challenger`'s verdict on `receipt`, if the referee upheld it at height `h`.
fn upheld_at(store: &Store, receipt: Hash, challenger: Address, h: u64) -> Result<Option<Verdict>, String> {
    Ok(read::<Verdict>(store, &StateKey::Verdict(receipt, challenger))?.filter(|v| v.upheld && v.height == h))
}

/// The compute checks on `store` (a node's final state). Re-executes every job.
pub fn checks(store: &Store, spec: &ChainSpec, scenario: &Scenario, client: &Client) -> (Vec<Check>, ComputeStats) {
    match gather(store, client) {
        Ok(seen) => judge(store, spec, scenario, client, &seen),
        Err(e) => (vec![Check::fail("compute", format!("cannot read the jobs: {e}"))], ComputeStats::default()),
    }
}

fn gather(store: &Store, client: &Client) -> Result<Vec<Seen>, String> {
    let mut seen = Vec::new();
    for p in &client.posted {
        let job = read::<Job>(store, &StateKey::Job(p.id))?.ok_or_else(|| format!("job {} is not on chain", p.id))?;
        let sample = client.jobs.get(p.index).ok_or("unknown job")?;
        let truth = match ergon::vm::run(&sample.program, &sample.input, MAX_UNITS, &ergon::vm::Limits::default()) {
            Ok(e) => match e.outcome {
                ergon::vm::Outcome::Completed { output } => (Some(ergon::vm::output_hash(&output)), e.units),
                ergon::vm::Outcome::Failed(_) => (None, e.units),
            },
            Err(e) => return Err(format!("sample {} cannot run: {e}", sample.sample)),
        };
        let receipt = match job.receipt {
            Some(id) => Some((id, read::<ReceiptRecord>(store, &StateKey::Receipt(id))?.ok_or("receipt missing")?)),
            None => None,
        };
        seen.push(Seen { posted: p.clone(), job, truth, receipt });
    }
    Ok(seen)
}

fn judge(
    store: &Store,
    spec: &ChainSpec,
    scenario: &Scenario,
    client: &Client,
    seen: &[Seen],
) -> (Vec<Check>, ComputeStats) {
    let c = &client.config;
    let verifier = c.verifier.as_deref().map(|v| Address::from_public_key(&Keypair::dev(v).public()));
    let verdict = |id: &Hash| -> Option<Verdict> {
        verifier.and_then(|v| read::<Verdict>(store, &StateKey::Verdict(*id, v)).ok().flatten())
    };
    let mut stats =
        ComputeStats { jobs: c.jobs, posted: client.posted.len(), refused: client.refused, ..Default::default() };
    for s in seen {
        stats.receipts += usize::from(s.receipt.is_some());
        stats.dishonest += usize::from(!s.honest());
        match s.job.status {
            JobStatus::Settled => stats.settled += 1,
            JobStatus::Refunded => stats.refunded += 1,
            JobStatus::Expired => stats.expired += 1,
            _ => {}
        }
        if let Some((id, r)) = &s.receipt {
            if !s.honest() && r.status != ReceiptStatus::Invalidated {
                stats.dishonest_matured += usize::from(r.status == ReceiptStatus::Matured);
                stats.minted_for_lies += r.minted();
            }
            if let Some(v) = verdict(id).filter(|v| v.upheld) {
                stats.slashed += v.miner_slashed + v.coordinator_slashed;
            }
        }
    }
    timing(store, seen, &verdict, &mut stats);

    let mut out = vec![jobs_check(c, client, seen)];
    out.push(receipts_check(scenario, seen, &verdict));
    out.push(payments_check(store, spec, seen));
    out.push(balances_check(store, spec, c, seen));
    out.push(supply_check(store, seen));
    (out, stats)
}

/// Every job was posted, and settled or refunded.
fn jobs_check(c: &Compute, client: &Client, seen: &[Seen]) -> Check {
    if client.refused > 0 {
        return Check::fail("compute-jobs", format!("{} of {} job posts were refused", client.refused, c.jobs));
    }
    let open: Vec<String> = seen
        .iter()
        .filter(|s| !matches!(s.job.status, JobStatus::Settled | JobStatus::Refunded))
        .map(|s| format!("{} ({})", s.posted.id, s.job.status.name()))
        .collect();
    match open.first() {
        Some(first) => Check::fail(
            "compute-jobs",
            format!(
                "{} of {} jobs neither settled nor refunded within settle_within; first: {first}",
                open.len(),
                seen.len()
            ),
        ),
        None => Check::pass("compute-jobs", format!("all {} jobs posted, and settled or refunded", seen.len())),
    }
}

/// Dishonest receipts (output or units other than the VM's) were invalidated before they
/// matured, by a fraud proof the referee upheld with the VM's own result; honest ones
/// matured. With `expect_caught = false`, dishonest ones matured.
fn receipts_check(scenario: &Scenario, seen: &[Seen], verdict: &dyn Fn(&Hash) -> Option<Verdict>) -> Check {
    let name = "compute-receipts";
    let cheat = scenario.cheat();
    let dishonest: Vec<&Seen> = seen.iter().filter(|s| !s.honest()).collect();
    let honest = seen.len() - dishonest.len();
    for s in seen.iter().filter(|s| s.honest()) {
        if let Some((id, r)) = &s.receipt {
            if r.status != ReceiptStatus::Matured {
                return Check::fail(
                    name,
                    format!("honest receipt {id} (job {}) is {:?}, not matured", s.posted.id, r.status),
                );
            }
        }
    }
    let Some(cheat) = cheat else {
        return match dishonest.first() {
            None => Check::pass(name, format!("no miner cheats; all {honest} receipts match re-execution and matured")),
            Some(s) => Check::fail(
                name,
                format!("no miner cheats, yet job {}'s receipt differs from re-execution", s.posted.id),
            ),
        };
    };
    if dishonest.is_empty() {
        return Check::fail(
            name,
            format!("a miner cheats ({cheat:?}) but no receipt differs from re-execution: no job reached it"),
        );
    }
    let expect_caught = scenario.compute.as_ref().is_none_or(|c| c.expect_caught);
    for s in &dishonest {
        let Some((id, r)) = &s.receipt else { continue };
        if !expect_caught {
            if r.status != ReceiptStatus::Matured {
                return Check::fail(name, format!("expected no catch, but dishonest receipt {id} is {:?}", r.status));
            }
            continue;
        }
        if r.status != ReceiptStatus::Invalidated || s.job.status != JobStatus::Refunded {
            return Check::fail(
                name,
                format!(
                    "dishonest receipt {id} is {:?} (job {}): it was not invalidated before maturing",
                    r.status,
                    s.job.status.name()
                ),
            );
        }
        let Some(v) = verdict(id).filter(|v| v.upheld) else {
            return Check::fail(name, format!("receipt {id} was invalidated without the verifier's upheld verdict"));
        };
        if (v.output_hash, v.units) != s.truth {
            return Check::fail(name, format!("the referee's run of job {} is not the VM's", s.posted.id));
        }
    }
    let by =
        scenario.byzantine.iter().filter(|b| b.kind != ByzantineKind::Equivocate).map(|b| b.kind.name().to_string());
    let by: Vec<String> = by.collect();
    if expect_caught {
        Check::pass(
            name,
            format!(
                "{} dishonest receipts ({}) all invalidated before maturing, jobs refunded, verdicts = re-execution; \
                 {honest} honest receipts matured",
                dishonest.len(),
                by.join(" + ")
            ),
        )
    } else {
        let minted: u128 = dishonest.iter().filter_map(|s| s.receipt.as_ref()).map(|(_, r)| r.minted()).sum();
        Check::pass(
            name,
            format!(
                "as expected without a working verifier, {} dishonest receipts ({}) matured: {minted} base units \
                 minted and {} paid by the client for wrong results",
                dishonest.len(),
                by.join(" + "),
                PRICE.saturating_mul(dishonest.len() as u128)
            ),
        )
    }
}

/// Each receipt's amounts are the economy's: payment = price minus the burn, mint = units x
/// `mint_per_unit` x the contribution multiplier at its claim (replayed over the claims and
/// upheld proofs in block order) capped by the miner's stake per epoch, split by the
/// coordinator and treasury ratios; a caught miner lost at least its gain.
fn payments_check(store: &Store, spec: &ChainSpec, seen: &[Seen]) -> Check {
    let name = "compute-payments";
    let e = &spec.economy;
    let receipts: BTreeMap<Hash, &ReceiptRecord> =
        seen.iter().filter_map(|s| s.receipt.as_ref()).map(|(id, r)| (*id, r)).collect();
    let mut verified = 0u128;
    let mut epoch_minted: BTreeMap<(Address, u64), u128> = BTreeMap::new();
    let mut staked: BTreeMap<Address, u128> = BTreeMap::new();
    let mut checked = 0usize;
    let head = match store.head() {
        Ok(h) => h.height,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    for h in 1..=head {
        let block = match store.block(h) {
            Ok(Some(b)) => b,
            Ok(None) => return Check::fail(name, format!("block {h} is missing")),
            Err(e) => return Check::fail(name, e.to_string()),
        };
        for tx in &block.txs {
            let ok = store.tx_record(&tx.hash()).ok().flatten().is_some_and(|r| r.height == h && r.error.is_none());
            if !ok {
                continue;
            }
            let sender = tx.tx.sender_address();
            match &tx.tx.payload {
                Payload::Stake(s) => *staked.entry(sender).or_default() += s.amount,
                Payload::ReceiptClaim(claim) => {
                    let id = claim.receipt.receipt_id;
                    let Some(r) = receipts.get(&id) else { continue };
                    let multiplier =
                        contribution_multiplier_wad(verified, e.units_per_hour, e.contribution_decay_hours);
                    let uncapped = apply_wad(u128::from(r.compute_units).saturating_mul(e.mint_per_unit), multiplier);
                    let cap = bps(staked.get(&r.miner).copied().unwrap_or(0), e.mint_cap_bps);
                    let epoch = h / spec.consensus.epoch_length.max(1);
                    let so_far = epoch_minted.entry((r.miner, epoch)).or_default();
                    let mint = uncapped.unwrap_or(u128::MAX).min(cap.saturating_sub(*so_far));
                    *so_far += mint;
                    verified += u128::from(r.compute_units);
                    let burn = bps(PRICE, e.burn_bps);
                    let (coord, treasury) = (bps(mint, e.coordinator_ratio_bps), bps(mint, e.treasury_ratio_bps));
                    let want = (PRICE - burn, burn, mint - coord - treasury, coord, treasury);
                    let got = (r.miner_payment, r.burned, r.mint_miner, r.mint_coordinator, r.mint_treasury);
                    if want != got {
                        return Check::fail(
                            name,
                            format!(
                                "receipt {id} pays (miner payment, burn, mint to miner, coordinator, treasury) {got:?}; \
                                 the economy gives {want:?}"
                            ),
                        );
                    }
                    checked += 1;
                }
                Payload::FraudProof(p) => {
                    let Some(r) = receipts.get(&p.receipt_id) else { continue };
                    let v = match upheld_at(store, p.receipt_id, sender, h) {
                        Ok(Some(v)) => v,
                        Ok(None) => continue,
                        Err(e) => return Check::fail(name, e),
                    };
                    verified = verified.saturating_sub(u128::from(r.compute_units));
                    let gain = r.miner_payment + r.mint_miner;
                    if v.miner_slashed < gain {
                        return Check::fail(
                            name,
                            format!("miner of receipt {} slashed {} < its gain {gain}", p.receipt_id, v.miner_slashed),
                        );
                    }
                    for (who, cut) in [(r.miner, v.miner_slashed), (r.coordinator, v.coordinator_slashed)] {
                        let s = staked.entry(who).or_default();
                        *s = s.saturating_sub(cut);
                    }
                }
                _ => {}
            }
        }
    }
    if checked != receipts.len() {
        return Check::fail(
            name,
            format!("{} receipts on chain, {checked} claims found in the blocks", receipts.len()),
        );
    }
    Check::pass(
        name,
        format!("all {checked} receipts paid price - burn and minted units x mint_per_unit x multiplier, split exactly; caught miners lost at least their gain"),
    )
}

/// What one account's balance, pending and stake should have moved by at one height.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Delta {
    balance: i128,
    pending: i128,
    staked: i128,
}

fn signed(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

/// Height by height, each miner's and the coordinator's balance, pending and stake changed
/// by exactly: - its fees - what it staked; + a receipt's share into pending at the claim,
/// from pending to balance when it matured, out of pending when a proof was upheld; - what
/// it was slashed. So no AIT from a dishonest receipt was ever available to anyone unless
/// the receipt matured. The client, at the end, paid its fees and the price of the jobs
/// whose receipts stand, and nothing for the refunded ones.
fn balances_check(store: &Store, spec: &ChainSpec, c: &Compute, seen: &[Seen]) -> Check {
    let name = "compute-balances";
    match reconcile(store, spec, c, seen) {
        Ok(detail) => Check::pass(name, detail),
        Err(e) => Check::fail(name, e),
    }
}

fn reconcile(store: &Store, spec: &ChainSpec, c: &Compute, seen: &[Seen]) -> Result<String, String> {
    let addr = |n: &str| Address::from_public_key(&Keypair::dev(n).public());
    let tracked: Vec<(String, Address)> =
        c.miners.iter().chain([&c.coordinator]).map(|n| (n.clone(), addr(n))).collect();
    let genesis = spec.genesis().map_err(|e| e.to_string())?;
    let mut acc: BTreeMap<Address, Account> = tracked
        .iter()
        .map(|(_, a)| {
            let balance = genesis.balances.iter().find(|(g, _)| g == a).map_or(0, |(_, b)| *b);
            (*a, Account { balance, ..Default::default() })
        })
        .collect();
    let records: Vec<&(Hash, ReceiptRecord)> = seen.iter().filter_map(|s| s.receipt.as_ref()).collect();
    let head = store.head().map_err(|e| e.to_string())?.height;
    let mut fees_paid: BTreeMap<Address, u128> = BTreeMap::new();
    for h in 1..=head {
        let mut want: BTreeMap<Address, Delta> = BTreeMap::new();
        let block = store.block(h).map_err(|e| e.to_string())?.ok_or(format!("block {h} is missing"))?;
        for tx in &block.txs {
            let sender = tx.tx.sender_address();
            let record = store.tx_record(&tx.hash()).map_err(|e| e.to_string())?;
            let ok = record.as_ref().is_some_and(|r| r.error.is_none());
            if acc.contains_key(&sender) {
                let d = want.entry(sender).or_default();
                d.balance -= signed(tx.tx.fee);
                *fees_paid.entry(sender).or_default() += tx.tx.fee;
                if let (Payload::Stake(s), true) = (&tx.tx.payload, ok) {
                    d.balance -= signed(s.amount);
                    d.staked += signed(s.amount);
                }
            }
            if let (Payload::FraudProof(p), true) = (&tx.tx.payload, ok) {
                let Some(r) = records.iter().find(|(id, _)| *id == p.receipt_id).map(|(_, r)| r) else { continue };
                let Some(verdict) = upheld_at(store, p.receipt_id, sender, h)? else { continue };
                for (who, share, cut) in [
                    (r.miner, r.miner_payment + r.mint_miner, verdict.miner_slashed),
                    (r.coordinator, r.mint_coordinator, verdict.coordinator_slashed),
                ] {
                    if acc.contains_key(&who) {
                        let d = want.entry(who).or_default();
                        d.pending -= signed(share);
                        d.staked -= signed(cut);
                    }
                }
            }
        }
        for (_, r) in &records {
            for (who, share) in [(r.miner, r.miner_payment + r.mint_miner), (r.coordinator, r.mint_coordinator)] {
                if !acc.contains_key(&who) {
                    continue;
                }
                if r.height == h {
                    want.entry(who).or_default().pending += signed(share);
                }
                if r.status == ReceiptStatus::Matured && r.matures_at == h {
                    let d = want.entry(who).or_default();
                    d.pending -= signed(share);
                    d.balance += signed(share);
                }
            }
        }
        let changed: BTreeMap<Address, Account> =
            store.state_changes(h).map_err(|e| e.to_string())?.unwrap_or_default().into_iter().collect();
        for (name, a) in &tracked {
            let before = acc.get(a).copied().unwrap_or_default();
            let after = changed.get(a).copied().unwrap_or(before);
            let got = Delta {
                balance: signed(after.balance) - signed(before.balance),
                pending: signed(after.pending) - signed(before.pending),
                staked: signed(after.staked) - signed(before.staked),
            };
            let expected = want.get(a).copied().unwrap_or_default();
            if got != expected {
                return Err(format!(
                    "{name} at height {h}: balance, pending, stake moved by {got:?}, but its txs and receipts account \
                     for {expected:?}"
                ));
            }
            acc.insert(*a, after);
        }
    }
    // The client, at the end.
    let client = addr(&c.client);
    let start = genesis.balances.iter().find(|(g, _)| *g == client).map_or(0, |(_, b)| *b);
    let mut fees = 0u128;
    for h in 1..=head {
        let block = store.block(h).map_err(|e| e.to_string())?.ok_or(format!("block {h} is missing"))?;
        fees += block.txs.iter().filter(|t| t.tx.sender_address() == client).map(|t| t.tx.fee).sum::<u128>();
    }
    let standing =
        seen.iter().filter(|s| s.receipt.as_ref().is_some_and(|(_, r)| r.status != ReceiptStatus::Invalidated)).count()
            as u128;
    let open = seen.iter().filter(|s| s.job.status == JobStatus::Open).count() as u128;
    let now = store.account(&client).map_err(|e| e.to_string())?.unwrap_or_default();
    let want = start.saturating_sub(fees).saturating_sub(PRICE * standing);
    let holdings = now.holdings().unwrap_or(u128::MAX);
    if holdings != want || now.reserved != PRICE * open {
        return Err(format!(
            "client {} holds {holdings} (reserved {}), but genesis {start} - fees {fees} - {standing} standing jobs' \
             price gives {want} (reserved {})",
            c.client,
            now.reserved,
            PRICE * open
        ));
    }
    let refunded = seen.iter().filter(|s| s.job.status == JobStatus::Refunded).count();
    let who: Vec<&str> = tracked.iter().map(|(n, _)| n.as_str()).collect();
    Ok(format!(
        "{} moved at every one of {head} heights by exactly their fees, stakes, receipts and slashes; client {} paid \
         fees and {standing} prices, {refunded} refunded",
        who.join(", "),
        c.client
    ))
}

/// The supply's compute counters are the standing (pending or matured) receipts': a caught
/// receipt's mint was unminted.
fn supply_check(store: &Store, seen: &[Seen]) -> Check {
    let name = "compute-supply";
    let supply = match store.supply() {
        Ok(s) => s,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    let standing = seen
        .iter()
        .filter_map(|s| s.receipt.as_ref())
        .filter(|(_, r)| r.status != ReceiptStatus::Invalidated)
        .map(|(_, r)| r);
    let (minted, units) = standing.fold((0u128, 0u128), |(m, u), r| (m + r.minted(), u + u128::from(r.compute_units)));
    if (supply.minted_compute, supply.verified_units) != (minted, units) {
        return Check::fail(
            name,
            format!(
                "minted_compute {} and verified_units {}, but the standing receipts minted {minted} for {units} units",
                supply.minted_compute, supply.verified_units
            ),
        );
    }
    Check::pass(name, format!("minted_compute {minted} = the standing receipts' mints, for {units} verified units"))
}

/// Settle and claim times, from the first post to the last block that settled, refunded
/// or claimed a job.
fn timing(store: &Store, seen: &[Seen], verdict: &dyn Fn(&Hash) -> Option<Verdict>, stats: &mut ComputeStats) {
    let Some(first) = seen.iter().map(|s| s.posted.at_unix_ms).min() else { return };
    let stamp = |h: u64| store.header(h).ok().flatten().map(|x| x.timestamp_ms);
    let mut last_settle = None;
    let mut last_claim = None;
    let mut done = 0;
    for s in seen {
        let Some((id, r)) = &s.receipt else { continue };
        last_claim = last_claim.max(stamp(r.height));
        let end = match r.status {
            ReceiptStatus::Matured => stamp(r.matures_at),
            ReceiptStatus::Invalidated => verdict(id).and_then(|v| stamp(v.height)),
            ReceiptStatus::Pending => None,
        };
        if end.is_some() {
            done += 1;
            last_settle = last_settle.max(end);
        }
    }
    let per_sec = |n: usize, ms: u64| (ms > 0).then(|| n as f64 * 1000.0 / ms as f64);
    stats.claim_ms = last_claim.map(|t| t.saturating_sub(first));
    stats.claimed_per_sec = stats.claim_ms.and_then(|ms| per_sec(stats.receipts, ms));
    if done == seen.len() {
        stats.settle_ms = last_settle.map(|t| t.saturating_sub(first));
        stats.settled_per_sec = stats.settle_ms.and_then(|ms| per_sec(done, ms));
    }
}
