//! The compute roles (`ergon node --miner KEY --coordinator KEY --verifier KEY`). After every
//! new head the worker:
//!
//! - as a miner, runs each open job assigned to one of its miners in the job VM (fetching the
//!   program and input from peers when this node lacks them, [`super::blobs`]), publishes the
//!   output blob, signs a receipt for the units the run counted, has it attested by the job's
//!   coordinator and submits the RECEIPT_CLAIM. A coordinator on this node attests at once;
//!   one elsewhere is asked on the `receipts` gossip topic ([`super::receipts`]), and the
//!   claim goes in when its attestation comes back (the request is repeated every few blocks
//!   until the job's deadline);
//! - as a coordinator, attests a receipt only after running the job again itself (on a fresh
//!   VM instance) and getting the same output and units, whether the receipt came from a
//!   miner on this node or over gossip;
//! - as a verifier, re-executes every pending receipt it has not checked: where the chain drew
//!   it as one of the receipt's verifiers it posts a VERDICT (agreeing or not: a disagreeing
//!   one is the dispute), elsewhere a bonded FRAUD_PROOF when the receipt's output or units
//!   differ, before the challenge window closes; the chain referees it.
//!
//! The chain draws the miner that may claim a job in each window ([`crate::ledger::draw`]):
//! the worker runs a job only when the draw for the next block names one of its miners, and
//! looks again at later heads (the next window's draw may). On a chain without draws a node
//! with several miners gives each job to one of them by the job id.
//! `cheat` (devnet, netsim and tests only) makes the last miner lie ([`Cheat`]), attested by a
//! colluding coordinator that does not re-run the job, so that the verifier and the referee
//! can be seen catching it.
//! Jobs run on the blocking pool, never on the driver: consensus does not wait for compute.

use super::{ChainEvent, NodeHandle, SubmitError};
use crate::ledger::draw::{self, Draw};
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use crate::ledger::{StateKey, StateReader};
use crate::primitives::{tag, Address, ComputeReceipt, FraudProof, Hash, Keypair, Payload, ReceiptClaim};
use crate::vm::{self, Limits, Outcome};
use crate::wire::ReceiptGossip;
use parity_scale_codec::Encode;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::broadcast::error::RecvError;

/// Jobs and receipts looked at per head.
const PER_HEAD: usize = 256;
/// Blocks between repeats of an unanswered attestation request.
const ASK_AGAIN_EVERY: u64 = 5;
/// Attestations a coordinator keeps to answer repeated requests.
const ATTESTED_KEPT: usize = 4096;

/// How the last miner of a cheating node lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cheat {
    /// Runs the job and reports another output.
    WrongOutput,
    /// Runs the job and reports twice the units (at most the job's maximum).
    InflatedUnits,
    /// Never runs the job: replays the last output it saw, claiming half the maximum units.
    Lazy,
}

impl std::str::FromStr for Cheat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wrong-output" => Ok(Cheat::WrongOutput),
            "inflated-units" => Ok(Cheat::InflatedUnits),
            "lazy" => Ok(Cheat::Lazy),
            _ => Err(format!("unknown cheat {s:?}: expected wrong-output, inflated-units or lazy")),
        }
    }
}

/// Keys of the roles this node plays.
#[derive(Default)]
pub struct ComputeRoles {
    pub miners: Vec<Keypair>,
    /// Coordinators whose jobs this node attests.
    pub coordinators: Vec<Keypair>,
    /// Verifiers: a worker's key usually runs as a miner and a verifier, since the chain
    /// draws both from one pool of staked workers.
    pub verifiers: Vec<Keypair>,
    /// The last miner cheats (devnet `--cheat`, netsim, tests).
    pub cheat: Option<Cheat>,
}

/// A key that signs the worker's txs, at the nonce after its committed and pending ones.
struct Sender {
    key: Keypair,
}

impl Sender {
    fn new(key: Keypair) -> Sender {
        Sender { key }
    }

    fn address(&self) -> Address {
        Address::from_public_key(&self.key.public())
    }

    async fn submit(&mut self, node: &NodeHandle, payload: Payload) -> Result<Hash, SubmitError> {
        let nonce = node.next_nonce(self.address()).await?;
        let tx = crate::ledger::fees::signed(node.spec(), &self.key, nonce, payload)
            .ok_or_else(|| SubmitError::Internal("fee overflow".into()))?;
        node.submit(tx).await
    }
}

struct Worker {
    node: NodeHandle,
    miners: Vec<Sender>,
    coordinators: HashMap<Address, Keypair>,
    verifiers: Vec<Sender>,
    cheat: Option<Cheat>,
    /// The last output a lazy miner saw, to replay.
    last_output: Hash,
    /// Jobs that may be open and not yet tried here, and receipts that may be pending and not
    /// yet checked: seeded from the state once, then from each new block's txs, so a round
    /// costs what the new blocks hold, not the chain's whole history.
    jobs: BTreeSet<Hash>,
    receipts: BTreeSet<Hash>,
    /// The last height whose txs were read (`None` before the seed scan).
    seen: Option<u64>,
    /// Receipts this node's miners signed that wait for a remote coordinator's attestation.
    awaiting: HashMap<Hash, Awaiting>,
    /// Attestations this node's coordinators gave, by receipt id, to answer repeats.
    attested: HashMap<Hash, ReceiptGossip>,
}

/// A signed receipt waiting for its coordinator.
struct Awaiting {
    miner: usize,
    request: ReceiptGossip,
    deadline: u64,
    asked_at: u64,
}

/// Runs the roles until the node stops.
pub async fn run(node: NodeHandle, roles: ComputeRoles) {
    let hrp = node.spec().hrp().to_string();
    let names: Vec<String> =
        roles.miners.iter().map(|k| Address::from_public_key(&k.public()).to_bech32(&hrp)).collect();
    tracing::info!(miners = ?names, coordinators = roles.coordinators.len(), verifiers = roles.verifiers.len(), cheat = ?roles.cheat, "compute roles running");
    let mut events = node.subscribe();
    let mut w = Worker {
        miners: roles.miners.into_iter().map(Sender::new).collect(),
        coordinators: roles.coordinators.into_iter().map(|k| (Address::from_public_key(&k.public()), k)).collect(),
        verifiers: roles.verifiers.into_iter().map(Sender::new).collect(),
        cheat: roles.cheat,
        last_output: Hash::ZERO,
        jobs: BTreeSet::new(),
        receipts: BTreeSet::new(),
        seen: None,
        awaiting: HashMap::new(),
        attested: HashMap::new(),
        node,
    };
    let mut gossip = w.node.subscribe_receipts();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ChainEvent::NewHead(_)) | Err(RecvError::Lagged(_)) => {}
                Ok(ChainEvent::Finalized(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            msg = gossip.recv() => {
                match msg {
                    Ok(m) => {
                        if let Err(e) = w.on_gossip(m).await {
                            tracing::warn!(error = %e, "handling receipt gossip failed");
                        }
                    }
                    Err(RecvError::Lagged(n)) => tracing::debug!(missed = n, "receipt gossip lagged"),
                    Err(RecvError::Closed) => return,
                }
                continue;
            }
        }
        if let Err(e) = w.refresh() {
            tracing::warn!(error = %e, "reading new blocks failed; retrying at the next block");
            continue;
        }
        if let Err(e) = w.mine().await {
            tracing::warn!(error = %e, "mining round failed; retrying at the next block");
        }
        if let Err(e) = w.verify().await {
            tracing::warn!(error = %e, "verifying round failed; retrying at the next block");
        }
        w.ask_again();
    }
}

/// A job's program and input.
type JobBlobs = (Vec<u8>, Vec<u8>);

/// The job's program and input, from this node or its peers; `None` if nobody has them.
async fn blobs(node: &NodeHandle, id: &Hash, job: &Job) -> Result<Option<JobBlobs>, String> {
    let fetch = |h: Hash| node.fetch_blob(h);
    match (fetch(job.post.program).await, fetch(job.post.input).await) {
        (Ok(p), Ok(i)) => Ok(Some((p, i))),
        (Err(super::FetchError::Store(e)), _) | (_, Err(super::FetchError::Store(e))) => Err(e.to_string()),
        (Err(e), _) | (_, Err(e)) => {
            tracing::info!(job = %id, error = %e, "job's program or input is not available; skipping");
            Ok(None)
        }
    }
}

/// The job's output and units as the VM gives them, `None` if it fails or cannot run.
async fn execute(id: Hash, program: Vec<u8>, input: Vec<u8>, max_units: u64) -> Result<Option<(Vec<u8>, u64)>, String> {
    let run = tokio::task::spawn_blocking(move || vm::run(&program, &input, max_units, &Limits::default()))
        .await
        .map_err(|e| format!("job {id} panicked in the VM: {e}"))?;
    match run {
        Ok(e) => match e.outcome {
            Outcome::Completed { output } => Ok(Some((output, e.units))),
            Outcome::Failed(f) => {
                tracing::info!(job = %id, units = e.units, failure = %f, "job failed");
                Ok(None)
            }
        },
        Err(e) => {
            tracing::info!(job = %id, error = %e, "job cannot run");
            Ok(None)
        }
    }
}

/// The hash a `Job` or `Receipt` state key names.
fn key_hash(key: &[u8]) -> Option<Hash> {
    key.get(1..33).and_then(|b| <[u8; 32]>::try_from(b).ok()).map(Hash)
}

impl Worker {
    /// Adds the jobs and receipts of the blocks since the last look to the candidates (all
    /// open jobs and pending receipts in the state, the first time).
    fn refresh(&mut self) -> Result<(), String> {
        let store = self.node.store().clone();
        let head = store.head().map_err(|e| e.to_string())?.height;
        let Some(seen) = self.seen else {
            let jobs = StateKey::Job(Hash::ZERO).encode()[0];
            let open = store
                .state_records::<Job>(jobs, usize::MAX, |_, j| j.status == JobStatus::Open)
                .map_err(|e| e.to_string())?;
            self.jobs.extend(open.iter().filter_map(|(k, _)| key_hash(k)));
            let receipts = StateKey::Receipt(Hash::ZERO).encode()[0];
            let pending = store
                .state_records::<ReceiptRecord>(receipts, usize::MAX, |_, r| r.status == ReceiptStatus::Pending)
                .map_err(|e| e.to_string())?;
            self.receipts.extend(pending.iter().filter_map(|(k, _)| key_hash(k)));
            self.seen = Some(head);
            return Ok(());
        };
        for height in seen.saturating_add(1)..=head {
            let Some(block) = store.block(height).map_err(|e| e.to_string())? else { break };
            for tx in &block.txs {
                match &tx.tx.payload {
                    Payload::JobPost(_) => {
                        self.jobs.insert(tx.hash());
                    }
                    Payload::ReceiptClaim(c) => {
                        self.receipts.insert(c.receipt.receipt_id);
                    }
                    _ => {}
                }
            }
            self.seen = Some(height);
        }
        Ok(())
    }

    /// One pass over the candidate open jobs at the head.
    async fn mine(&mut self) -> Result<(), String> {
        if self.miners.is_empty() {
            return Ok(());
        }
        let store = self.node.store().clone();
        let spec = self.node.spec().clone();
        let head = store.head().map_err(|e| e.to_string())?.height;
        let candidates: Vec<Hash> = self.jobs.iter().take(PER_HEAD).copied().collect();
        for id in candidates {
            // Tried once here, whatever comes of it (but see the stake check below).
            self.jobs.remove(&id);
            let Some(job) =
                crate::ledger::read::<Job, _>(store.as_ref(), &StateKey::Job(id)).map_err(|e| e.to_string())?
            else {
                continue;
            };
            if job.status != JobStatus::Open || job.post.deadline <= head {
                continue;
            }
            // The chain's draw for the next block says which miner may claim; without one,
            // the job id picks one of this node's miners.
            let n = self.miners.len();
            let pick =
                match draw::assigned(store.as_ref(), &spec, &id, head.saturating_add(1)).map_err(|e| e.to_string())? {
                    Draw::Anyone => usize::from(id.0[0]) % n,
                    Draw::Miner { miner, .. } => match self.miners.iter().position(|m| m.address() == miner) {
                        Some(i) => i,
                        None => {
                            self.jobs.insert(id); // another miner's window; maybe ours next
                            continue;
                        }
                    },
                    Draw::Nobody => {
                        self.jobs.insert(id);
                        continue;
                    }
                };
            let cheat = self.cheat.filter(|_| pick + 1 == n);
            let miner = self.miners[pick].address();
            let staked = store.account(&miner).map_err(|e| e.to_string())?.unwrap_or_default().staked;
            if staked < spec.economy.miner_min_stake {
                self.jobs.insert(id); // try again once staked
                continue;
            }
            if self.awaiting.values().any(|a| a.request.receipt().job_id == id) {
                self.jobs.insert(id); // asked its coordinator already
                continue;
            }
            let coordinator = self.coordinators.get(&job.post.coordinator).cloned();
            let Some((program, input)) = blobs(&self.node, &id, &job).await? else { continue };
            let (output_hash, units) = if cheat == Some(Cheat::Lazy) {
                tracing::warn!(job = %id, "cheating: replaying an old output without running the job");
                (self.last_output, job.post.max_units / 2)
            } else {
                let Some((output, units)) = execute(id, program.clone(), input.clone(), job.post.max_units).await?
                else {
                    continue;
                };
                let output_hash = self.node.put_blob(&output).map_err(|e| e.to_string())?;
                self.last_output = output_hash;
                match cheat {
                    Some(Cheat::WrongOutput) => {
                        tracing::warn!(job = %id, "cheating: reporting a wrong output");
                        (Hash::digest(b"ergon/cheat", &output_hash.0), units)
                    }
                    Some(Cheat::InflatedUnits) => {
                        tracing::warn!(job = %id, "cheating: reporting inflated units");
                        (output_hash, units.saturating_mul(2).min(job.post.max_units).max(units.saturating_add(1)))
                    }
                    _ => (output_hash, units),
                }
            };
            tracing::info!(job = %id, units, output = %output_hash, "job executed");
            let receipt = ComputeReceipt {
                receipt_id: Hash::of(tag::RECEIPT, &(id, miner, output_hash, units)),
                job_id: id,
                client: job.client,
                miner,
                compute_units: units,
                price: job.post.price,
                output_hash,
                metering_version: vm::METERING_VERSION,
            };
            let receipt_id = receipt.receipt_id;
            let key = &self.miners[pick].key;
            let request = ReceiptGossip::Request {
                miner_sig: key.sign(&receipt.signing_hash()),
                miner_key: key.public(),
                receipt,
            };
            let Some(coordinator) = coordinator else {
                // Elsewhere: ask over gossip and claim when the attestation comes back.
                tracing::info!(job = %id, receipt = %receipt_id, "asking the job's coordinator to attest");
                self.node.publish_receipt(&request);
                let a = Awaiting { miner: pick, request, deadline: job.post.deadline, asked_at: head };
                self.awaiting.insert(receipt_id, a);
                continue;
            };
            // The coordinator's own run; a colluding one (the cheat) attests without looking.
            if cheat.is_none() && !agrees(id, program, input, &job, request.receipt()).await? {
                tracing::warn!(job = %id, "the coordinator's run disagrees with the miner's; not attesting");
                continue;
            }
            let attestation = coordinator.sign(&request.receipt().attestation_hash());
            if self.claim(pick, request, coordinator.public(), attestation).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Submits the claim for `request`, attested. `Err` only when the node stopped.
    async fn claim(
        &mut self,
        miner: usize,
        request: ReceiptGossip,
        coordinator_key: crate::primitives::PublicKey,
        attestation: crate::primitives::Signature,
    ) -> Result<(), ()> {
        let ReceiptGossip::Request { receipt, miner_key, miner_sig } = request else { return Ok(()) };
        let job = receipt.job_id;
        if !self.still_drawn(&receipt) {
            tracing::info!(job = %job, "the draw's window passed before the claim; leaving the job to the next draw");
            return Ok(());
        }
        let claim = ReceiptClaim { receipt, miner_key, miner_sig, coordinator_key, attestation };
        let Some(sender) = self.miners.get_mut(miner) else { return Ok(()) };
        match sender.submit(&self.node, Payload::ReceiptClaim(Box::new(claim))).await {
            Ok(hash) => tracing::info!(job = %job, tx = %hash, "receipt claim submitted"),
            Err(SubmitError::Stopped) => return Err(()),
            Err(e) => tracing::info!(job = %job, error = %e, "receipt claim refused"),
        }
        Ok(())
    }

    /// Whether the receipt's miner may still claim its job in the next block.
    fn still_drawn(&self, r: &ComputeReceipt) -> bool {
        let store = self.node.store();
        let Ok(head) = store.head() else { return false };
        match draw::assigned(store.as_ref(), self.node.spec(), &r.job_id, head.height.saturating_add(1)) {
            Ok(Draw::Anyone) => true,
            Ok(Draw::Miner { miner, .. }) => miner == r.miner,
            _ => false,
        }
    }

    /// A checked `receipts` message: a coordinator here attests a request it agrees with; a
    /// miner here claims with an attestation it waited for.
    async fn on_gossip(&mut self, msg: ReceiptGossip) -> Result<(), String> {
        match msg {
            ReceiptGossip::Request { ref receipt, .. } => {
                let store = self.node.store().clone();
                let Some(job) = crate::ledger::read::<Job, _>(store.as_ref(), &StateKey::Job(receipt.job_id))
                    .map_err(|e| e.to_string())?
                else {
                    return Ok(());
                };
                let Some(coordinator) = self.coordinators.get(&job.post.coordinator).cloned() else { return Ok(()) };
                if let Some(done) = self.attested.get(&receipt.receipt_id) {
                    self.node.publish_receipt(done);
                    return Ok(());
                }
                // Re-executing is work: only for the miner the chain drew, on an open job.
                if job.status != JobStatus::Open || !self.still_drawn(receipt) {
                    return Ok(());
                }
                let Some((program, input)) = blobs(&self.node, &receipt.job_id, &job).await? else { return Ok(()) };
                if !agrees(receipt.job_id, program, input, &job, receipt).await? {
                    tracing::warn!(job = %receipt.job_id, miner = %receipt.miner.to_bech32(self.node.spec().hrp()), "a miner's receipt disagrees with the coordinator's run; not attesting");
                    return Ok(());
                }
                let answer = ReceiptGossip::Attestation {
                    attestation: coordinator.sign(&receipt.attestation_hash()),
                    coordinator_key: coordinator.public(),
                    receipt: receipt.clone(),
                };
                tracing::info!(job = %receipt.job_id, receipt = %receipt.receipt_id, "attested a receipt");
                self.node.publish_receipt(&answer);
                if self.attested.len() >= ATTESTED_KEPT {
                    self.attested.clear();
                }
                self.attested.insert(receipt.receipt_id, answer);
            }
            ReceiptGossip::Attestation { receipt, coordinator_key, attestation } => {
                let Some(waiting) = self.awaiting.remove(&receipt.receipt_id) else { return Ok(()) };
                if waiting.request.receipt() != &receipt {
                    self.awaiting.insert(receipt.receipt_id, waiting);
                    return Ok(());
                }
                let _ = self.claim(waiting.miner, waiting.request, coordinator_key, attestation).await;
            }
        }
        Ok(())
    }

    /// Repeats unanswered attestation requests (gossip only reaches peers connected at the
    /// time) and forgets those whose job's deadline passed.
    fn ask_again(&mut self) {
        let Ok(head) = self.node.store().head().map(|h| h.height) else { return };
        self.awaiting.retain(|_, a| a.deadline > head);
        for a in self.awaiting.values_mut() {
            if head.saturating_sub(a.asked_at) >= ASK_AGAIN_EVERY {
                a.asked_at = head;
                self.node.publish_receipt(&a.request);
            }
        }
    }

    /// One pass over the pending receipts at the head: re-execute; a verdict from each of
    /// this node's verifiers the chain drew, or else a challenge to a wrong receipt.
    async fn verify(&mut self) -> Result<(), String> {
        if self.verifiers.is_empty() {
            return Ok(());
        }
        let store = self.node.store().clone();
        let spec = self.node.spec().clone();
        let candidates: Vec<Hash> = self.receipts.iter().take(PER_HEAD).copied().collect();
        for receipt_id in candidates {
            self.receipts.remove(&receipt_id);
            let Some(rec) = crate::ledger::read::<ReceiptRecord, _>(store.as_ref(), &StateKey::Receipt(receipt_id))
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            if rec.status != ReceiptStatus::Pending {
                continue;
            }
            let Some(job) =
                crate::ledger::read::<Job, _>(store.as_ref(), &StateKey::Job(rec.job_id)).map_err(|e| e.to_string())?
            else {
                continue;
            };
            let head = store.head().map_err(|e| e.to_string())?;
            if head.height <= rec.height {
                // Its verifiers are drawn in the next block: look again then.
                self.receipts.insert(receipt_id);
                continue;
            }
            let drawn = draw::verifiers(store.as_ref(), &receipt_id).map_err(|e| e.to_string())?;
            let ours = self.verifiers.iter().filter(|v| drawn.contains(&v.address())).count();
            if ours == 0 && job.post.max_units > spec.economy.max_dispute_units {
                continue; // the referee cannot settle it; its drawn verifiers will
            }
            let Some((program, input)) = blobs(&self.node, &rec.job_id, &job).await? else { continue };
            let real = execute(rec.job_id, program, input, job.post.max_units).await?;
            let (output_hash, units) = match real {
                Some((o, u)) => (vm::output_hash(&o), u),
                None => (Hash::ZERO, 0),
            };
            let agrees = (output_hash, units) == (rec.output_hash, rec.compute_units);
            // Drawn: the verdict, whichever way it goes (a disagreeing one is the dispute).
            for verifier in self.verifiers.iter_mut().filter(|v| drawn.contains(&v.address())) {
                let v = crate::primitives::VerifierVerdict { receipt_id, output_hash, units };
                match verifier.submit(&self.node, Payload::Verdict(v)).await {
                    Ok(hash) => tracing::info!(receipt = %receipt_id, tx = %hash, agrees, "verdict submitted"),
                    Err(SubmitError::Stopped) => return Ok(()),
                    Err(e) => tracing::warn!(receipt = %receipt_id, error = %e, "verdict refused"),
                }
            }
            if ours > 0 {
                continue;
            }
            if agrees {
                tracing::debug!(receipt = %receipt_id, "receipt checks out");
                continue;
            }
            tracing::warn!(receipt = %receipt_id, claimed = %rec.output_hash, real = %output_hash, "receipt is wrong; challenging");
            let proof = FraudProof { receipt_id, output_hash, units, bond: spec.economy.challenge_bond };
            let Some(verifier) = self.verifiers.first_mut() else { return Ok(()) };
            match verifier.submit(&self.node, Payload::FraudProof(proof)).await {
                Ok(hash) => tracing::info!(receipt = %receipt_id, tx = %hash, "fraud proof submitted"),
                Err(SubmitError::Stopped) => return Ok(()),
                Err(e) => tracing::warn!(receipt = %receipt_id, error = %e, "fraud proof refused"),
            }
        }
        Ok(())
    }
}

/// Whether running the job again gives the receipt's output and units.
async fn agrees(
    id: Hash,
    program: Vec<u8>,
    input: Vec<u8>,
    job: &Job,
    receipt: &ComputeReceipt,
) -> Result<bool, String> {
    let ours = execute(id, program, input, job.post.max_units).await?;
    Ok(ours.map(|(o, u)| (vm::output_hash(&o), u)) == Some((receipt.output_hash, receipt.compute_units)))
}
