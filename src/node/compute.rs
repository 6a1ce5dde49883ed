//! The miner and coordinator roles (`ergon node --miner KEY --coordinator KEY`): after every
//! new head, the worker runs each open job it has not tried in the job VM, publishes the
//! output blob, signs a receipt for the units the run counted, has it attested by the job's
//! coordinator and submits the RECEIPT_CLAIM.
//!
//! The coordinator attests only after running the job again itself (on a fresh VM instance)
//! and getting the same output and units; here that coordinator must be one whose key this
//! node holds. Until miners are drawn per job, any staked miner may claim an open job and the
//! first valid claim wins; the others are refused at admission (the job is no longer open).
//! Jobs run on the blocking pool, never on the driver: consensus does not wait for compute.

use super::{ChainEvent, NodeHandle, SubmitError};
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::{StateKey, StateReader};
use crate::primitives::{tag, Address, ComputeReceipt, Hash, Keypair, Payload, ReceiptClaim, SignedTx, Tx};
use crate::vm::{self, Limits, Outcome};
use parity_scale_codec::Encode;
use std::collections::{HashMap, HashSet};
use tokio::sync::broadcast::error::RecvError;

/// Open jobs looked at per head.
const JOBS_PER_HEAD: usize = 256;

/// Keys of the roles this node plays.
pub struct ComputeRoles {
    pub miner: Keypair,
    /// Coordinators whose jobs this node attests, by address.
    pub coordinators: Vec<Keypair>,
}

/// Runs the roles until the node stops.
pub async fn run(node: NodeHandle, roles: ComputeRoles) {
    let miner = Address::from_public_key(&roles.miner.public());
    let coordinators: HashMap<Address, Keypair> =
        roles.coordinators.into_iter().map(|k| (Address::from_public_key(&k.public()), k)).collect();
    let mut tried: HashSet<Hash> = HashSet::new();
    let mut pending: Vec<Hash> = Vec::new();
    let mut events = node.subscribe();
    tracing::info!(miner = %miner.to_bech32(node.spec().hrp()), coordinators = coordinators.len(), "compute roles running");
    loop {
        match events.recv().await {
            Ok(ChainEvent::NewHead(_)) => {}
            Ok(ChainEvent::Finalized(_)) => continue,
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
        if let Err(e) = round(&node, &roles.miner, &coordinators, &mut tried, &mut pending).await {
            tracing::warn!(error = %e, "compute round failed; retrying at the next block");
        }
    }
}

/// One pass over the open jobs at the head.
async fn round(
    node: &NodeHandle,
    key: &Keypair,
    coordinators: &HashMap<Address, Keypair>,
    tried: &mut HashSet<Hash>,
    pending: &mut Vec<Hash>,
) -> Result<(), String> {
    let store = node.store().clone();
    let spec = node.spec().clone();
    let miner = Address::from_public_key(&key.public());
    let account = store.account(&miner).map_err(|e| e.to_string())?.unwrap_or_default();
    if account.staked < spec.economy.miner_min_stake {
        return Ok(()); // not (yet) a miner: receipts would be refused
    }
    let open = store
        .state_records::<Job>(StateKey::Job(Hash::ZERO).encode()[0], JOBS_PER_HEAD, |_, j| j.status == JobStatus::Open)
        .map_err(|e| e.to_string())?;
    let head = store.head().map_err(|e| e.to_string())?.height;
    for (key_bytes, job) in open {
        let Some(id) = key_bytes.get(1..33).and_then(|b| <[u8; 32]>::try_from(b).ok()).map(Hash) else { continue };
        if job.post.deadline <= head || !tried.insert(id) {
            continue;
        }
        let Some(coordinator) = coordinators.get(&job.post.coordinator) else {
            tracing::info!(job = %id, "job's coordinator is not on this node; attestation over the network is not built yet");
            continue;
        };
        let Some(claim) = execute(&store, id, &job, key, coordinator).await? else { continue };
        // Own txs still in the mempool hold the nonces after the account's.
        let mut still = Vec::with_capacity(pending.len());
        for h in pending.drain(..) {
            if node.is_pending(h).await {
                still.push(h);
            }
        }
        *pending = still;
        let account = store.account(&miner).map_err(|e| e.to_string())?.unwrap_or_default();
        let nonce = account.nonce.saturating_add(1).saturating_add(pending.len() as u64);
        let tx = Tx {
            chain_id: spec.chain_id.clone(),
            sender: key.public(),
            nonce,
            fee: 0,
            priority: crate::primitives::Priority::Normal,
            payload: Payload::ReceiptClaim(Box::new(claim)),
        };
        let tx: SignedTx = crate::ledger::fees::with_required_fee(&spec, tx).ok_or("fee overflow")?.sign(key);
        match node.submit(tx).await {
            Ok(hash) => {
                tracing::info!(job = %id, tx = %hash, "receipt claim submitted");
                pending.push(hash);
            }
            Err(SubmitError::Stopped) => return Ok(()),
            Err(e) => tracing::info!(job = %id, error = %e, "receipt claim refused"),
        }
    }
    Ok(())
}

/// Runs `job` as its miner, then again as its coordinator; the attested claim if both runs
/// completed with the same output and units. The output blob is stored.
async fn execute(
    store: &std::sync::Arc<crate::storage::Store>,
    id: Hash,
    job: &Job,
    miner: &Keypair,
    coordinator: &Keypair,
) -> Result<Option<ReceiptClaim>, String> {
    let (program, input) = match (store.blob(&job.post.program), store.blob(&job.post.input)) {
        (Ok(Some(p)), Ok(Some(i))) => (p, i),
        (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
        _ => {
            tracing::info!(job = %id, "job's program or input blob is not on this node; skipping");
            return Ok(None);
        }
    };
    let max_units = job.post.max_units;
    let runs = tokio::task::spawn_blocking(move || {
        let limits = Limits::default();
        let mine = vm::run(&program, &input, max_units, &limits);
        let theirs = vm::run(&program, &input, max_units, &limits);
        (mine, theirs)
    })
    .await
    .map_err(|e| format!("job {id} panicked in the VM: {e}"))?;
    let (mine, theirs) = match runs {
        (Ok(m), Ok(t)) => (m, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::info!(job = %id, error = %e, "job cannot run");
            return Ok(None);
        }
    };
    let output = match &mine.outcome {
        Outcome::Completed { output } => output,
        Outcome::Failed(f) => {
            tracing::info!(job = %id, units = mine.units, failure = %f, "job failed; nothing to claim");
            return Ok(None);
        }
    };
    let output_hash = store.put_blob(output).map_err(|e| e.to_string())?;
    tracing::info!(job = %id, units = mine.units, output = %output_hash, "job executed");
    let miner_addr = Address::from_public_key(&miner.public());
    let receipt = ComputeReceipt {
        receipt_id: Hash::of(tag::RECEIPT, &(id, miner_addr, output_hash, mine.units)),
        job_id: id,
        client: job.client,
        miner: miner_addr,
        compute_units: mine.units,
        price: job.post.price,
        output_hash,
        metering_version: vm::METERING_VERSION,
    };
    let agrees = matches!(&theirs.outcome, Outcome::Completed { output: o } if vm::output_hash(o) == output_hash)
        && theirs.units == mine.units;
    if !agrees {
        tracing::warn!(job = %id, "the coordinator's run disagrees with the miner's; not attesting");
        return Ok(None);
    }
    Ok(Some(ReceiptClaim {
        miner_sig: miner.sign(&receipt.signing_hash()),
        attestation: coordinator.sign(&receipt.attestation_hash()),
        miner_key: miner.public(),
        coordinator_key: coordinator.public(),
        receipt,
    }))
}
