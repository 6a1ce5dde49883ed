//! The compute roles (`ergon node --miner KEY --coordinator KEY --verifier KEY`). After every
//! new head the worker:
//!
//! - as a miner, runs each open job assigned to one of its miners in the job VM, publishes the
//!   output blob, signs a receipt for the units the run counted, has it attested by the job's
//!   coordinator and submits the RECEIPT_CLAIM;
//! - as a coordinator, attests a receipt only after running the job again itself (on a fresh
//!   VM instance) and getting the same output and units; here that coordinator must be one
//!   whose key this node holds;
//! - as a verifier, re-executes every pending receipt it has not checked and posts a bonded
//!   FRAUD_PROOF when the receipt's output or units differ, before the challenge window
//!   closes; the chain referees it.
//!
//! Until miners are drawn by the chain, a node with several miners assigns each job to one of
//! them by the job id; any staked miner may claim an open job and the first valid claim wins.
//! `cheat` (devnet, netsim and tests only) makes the last miner lie ([`Cheat`]), attested by a
//! colluding coordinator that does not re-run the job, so that the verifier and the referee
//! can be seen catching it.
//! Jobs run on the blocking pool, never on the driver: consensus does not wait for compute.

use super::{ChainEvent, NodeHandle, SubmitError};
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use crate::ledger::{StateKey, StateReader};
use crate::primitives::{tag, Address, ComputeReceipt, FraudProof, Hash, Keypair, Payload, ReceiptClaim};
use crate::storage::Store;
use crate::vm::{self, Limits, Outcome};
use parity_scale_codec::Encode;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::broadcast::error::RecvError;

/// Jobs and receipts looked at per head.
const PER_HEAD: usize = 256;

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
    pub verifier: Option<Keypair>,
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
    verifier: Option<Sender>,
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
}

/// Runs the roles until the node stops.
pub async fn run(node: NodeHandle, roles: ComputeRoles) {
    let hrp = node.spec().hrp().to_string();
    let names: Vec<String> =
        roles.miners.iter().map(|k| Address::from_public_key(&k.public()).to_bech32(&hrp)).collect();
    tracing::info!(miners = ?names, coordinators = roles.coordinators.len(), verifier = roles.verifier.is_some(), cheat = ?roles.cheat, "compute roles running");
    let mut events = node.subscribe();
    let mut w = Worker {
        miners: roles.miners.into_iter().map(Sender::new).collect(),
        coordinators: roles.coordinators.into_iter().map(|k| (Address::from_public_key(&k.public()), k)).collect(),
        verifier: roles.verifier.map(Sender::new),
        cheat: roles.cheat,
        last_output: Hash::ZERO,
        jobs: BTreeSet::new(),
        receipts: BTreeSet::new(),
        seen: None,
        node,
    };
    loop {
        match events.recv().await {
            Ok(ChainEvent::NewHead(_)) | Err(RecvError::Lagged(_)) => {}
            Ok(ChainEvent::Finalized(_)) => continue,
            Err(RecvError::Closed) => return,
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
    }
}

/// A job's program and input.
type JobBlobs = (Vec<u8>, Vec<u8>);

/// The job's program and input, if this node holds them.
fn blobs(store: &Store, id: &Hash, job: &Job) -> Result<Option<JobBlobs>, String> {
    match (store.blob(&job.post.program), store.blob(&job.post.input)) {
        (Ok(Some(p)), Ok(Some(i))) => Ok(Some((p, i))),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
        _ => {
            tracing::info!(job = %id, "job's program or input blob is not on this node; skipping");
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
            // A local stand-in for the chain's draw: the job id picks one of this node's miners.
            let n = self.miners.len();
            let pick = usize::from(id.0[0]) % n;
            let cheat = self.cheat.filter(|_| pick + 1 == n);
            let miner = self.miners[pick].address();
            let staked = store.account(&miner).map_err(|e| e.to_string())?.unwrap_or_default().staked;
            if staked < spec.economy.miner_min_stake {
                self.jobs.insert(id); // try again once staked
                continue;
            }
            let Some(coordinator) = self.coordinators.get(&job.post.coordinator) else {
                tracing::info!(job = %id, "job's coordinator is not on this node; attestation over the network is not built yet");
                continue;
            };
            let Some((program, input)) = blobs(&store, &id, &job)? else { continue };
            let (output_hash, units) = if cheat == Some(Cheat::Lazy) {
                tracing::warn!(job = %id, "cheating: replaying an old output without running the job");
                (self.last_output, job.post.max_units / 2)
            } else {
                let Some((output, units)) = execute(id, program.clone(), input.clone(), job.post.max_units).await?
                else {
                    continue;
                };
                let output_hash = store.put_blob(&output).map_err(|e| e.to_string())?;
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
            // The coordinator's own run; a colluding one (the cheat) attests without looking.
            if cheat.is_none() {
                let theirs = execute(id, program, input, job.post.max_units).await?;
                if theirs.map(|(o, u)| (vm::output_hash(&o), u)) != Some((output_hash, units)) {
                    tracing::warn!(job = %id, "the coordinator's run disagrees with the miner's; not attesting");
                    continue;
                }
            }
            let sender = &mut self.miners[pick];
            let claim = ReceiptClaim {
                miner_sig: sender.key.sign(&receipt.signing_hash()),
                attestation: coordinator.sign(&receipt.attestation_hash()),
                miner_key: sender.key.public(),
                coordinator_key: coordinator.public(),
                receipt,
            };
            match sender.submit(&self.node, Payload::ReceiptClaim(Box::new(claim))).await {
                Ok(hash) => tracing::info!(job = %id, tx = %hash, "receipt claim submitted"),
                Err(SubmitError::Stopped) => return Ok(()),
                Err(e) => tracing::info!(job = %id, error = %e, "receipt claim refused"),
            }
        }
        Ok(())
    }

    /// One pass over the pending receipts at the head: re-execute, and challenge wrong ones.
    async fn verify(&mut self) -> Result<(), String> {
        let Some(verifier) = self.verifier.as_mut() else { return Ok(()) };
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
            if job.post.max_units > spec.economy.max_dispute_units {
                continue; // the referee cannot settle it; verifiers' verdicts will
            }
            let Some((program, input)) = blobs(&store, &rec.job_id, &job)? else { continue };
            let real = execute(rec.job_id, program, input, job.post.max_units).await?;
            let (output_hash, units) = match real {
                Some((o, u)) => (vm::output_hash(&o), u),
                None => (Hash::ZERO, 0),
            };
            if (output_hash, units) == (rec.output_hash, rec.compute_units) {
                tracing::debug!(receipt = %receipt_id, "receipt checks out");
                continue;
            }
            tracing::warn!(receipt = %receipt_id, claimed = %rec.output_hash, real = %output_hash, "receipt is wrong; challenging");
            let proof = FraudProof { receipt_id, output_hash, units, bond: spec.economy.challenge_bond };
            match verifier.submit(&self.node, Payload::FraudProof(proof)).await {
                Ok(hash) => tracing::info!(receipt = %receipt_id, tx = %hash, "fraud proof submitted"),
                Err(SubmitError::Stopped) => return Ok(()),
                Err(e) => tracing::warn!(receipt = %receipt_id, error = %e, "fraud proof refused"),
            }
        }
        Ok(())
    }
}
