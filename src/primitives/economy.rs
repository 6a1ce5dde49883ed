//! The compute economy's payloads and records: jobs in escrow, compute receipts with their
//! coordinator attestation, and staking.

use super::address::Address;
use super::hash::{tag, Hash};
use super::keys::{PublicKey, Signature};
use parity_scale_codec::{Decode, Encode};

/// JOB_POST: the client reserves `price` for running `program` on `input`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct JobPost {
    /// BLAKE3 of the WASM program blob.
    pub program: Hash,
    /// BLAKE3 of the input blob.
    pub input: Hash,
    /// Most compute units (fuel) a receipt may claim.
    pub max_units: u64,
    #[codec(compact)]
    pub price: u128,
    /// Who attests receipts for this job.
    pub coordinator: Address,
    /// Last height at which a receipt is accepted; after it the reservation is released.
    pub deadline: u64,
    /// Verifiers to draw once a receipt lands (used by verified compute).
    pub verifiers: u8,
}

/// JOB_CANCEL: the client takes its reservation back while no receipt was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct JobCancel {
    pub job_id: Hash,
}

/// What a miner claims it delivered (seed 004 §2.2, §18.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ComputeReceipt {
    /// Chosen by the miner; unique forever.
    pub receipt_id: Hash,
    pub job_id: Hash,
    pub client: Address,
    pub miner: Address,
    pub compute_units: u64,
    #[codec(compact)]
    pub price: u128,
    /// BLAKE3 of the output blob.
    pub output_hash: Hash,
    /// The VM metering the units were counted with.
    pub metering_version: u32,
}

impl ComputeReceipt {
    /// What the miner signs.
    pub fn signing_hash(&self) -> Hash {
        Hash::of(tag::RECEIPT, self)
    }

    /// What the job's coordinator signs: the same receipt under its own domain, so a miner's
    /// signature can never pass for an attestation.
    pub fn attestation_hash(&self) -> Hash {
        Hash::of(tag::ATTESTATION, self)
    }
}

/// RECEIPT_CLAIM: a receipt signed by its miner and attested by the job's coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ReceiptClaim {
    pub receipt: ComputeReceipt,
    pub miner_key: PublicKey,
    pub miner_sig: Signature,
    pub coordinator_key: PublicKey,
    pub attestation: Signature,
}

impl ReceiptClaim {
    /// The two signatures the claim carries, for batch verification with the tx's own.
    pub fn signatures(&self) -> [(PublicKey, Hash, Signature); 2] {
        [
            (self.miner_key, self.receipt.signing_hash(), self.miner_sig),
            (self.coordinator_key, self.receipt.attestation_hash(), self.attestation),
        ]
    }
}

/// DELEGATE / UNDELEGATE: bond AIT to a validator candidate's voting power, or start
/// unbonding it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Delegation {
    pub validator: Address,
    #[codec(compact)]
    pub amount: u128,
}

/// STAKE / UNSTAKE: bond AIT from the available balance, or start unbonding it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct StakeAmount {
    #[codec(compact)]
    pub amount: u128,
}

/// TRIAL_CLAIM: one-time trial credits for an account that never held AIT, fee-less and paid
/// for with a hashcash proof of work bound to a recent block (seed 000).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TrialClaim {
    /// Height of the block the work is bound to; it must be recent when the claim lands.
    pub anchor_height: u64,
    /// That block's hash.
    pub anchor_hash: Hash,
    pub pow_nonce: u64,
}

impl TrialClaim {
    /// Leading zero bits of this claim's work for `claimant` on chain `chain_id`.
    pub fn pow_bits(&self, chain_id: &str, claimant: &Address) -> u32 {
        PowSearch::new(chain_id, claimant, &self.anchor_hash).bits(self.pow_nonce)
    }
}

/// The work of a trial claim: BLAKE3(TRIAL_POW tag, 0x00, SCALE(chain id, claimant,
/// anchor hash), nonce as 8 little-endian bytes) must have at least the chain's difficulty
/// in leading zero bits. The prefix is hashed once, so a miner pays one block per nonce.
#[derive(Clone)]
pub struct PowSearch {
    prefix: blake3::Hasher,
}

impl PowSearch {
    pub fn new(chain_id: &str, claimant: &Address, anchor_hash: &Hash) -> PowSearch {
        let mut prefix = blake3::Hasher::new();
        prefix.update(tag::TRIAL_POW);
        prefix.update(&[0]);
        (chain_id, claimant, anchor_hash).using_encoded(|b| {
            prefix.update(b);
        });
        PowSearch { prefix }
    }

    /// Leading zero bits of the work hash for `nonce`.
    pub fn bits(&self, nonce: u64) -> u32 {
        let mut h = self.prefix.clone();
        h.update(&nonce.to_le_bytes());
        let digest = h.finalize();
        let mut bits = 0;
        for byte in digest.as_bytes() {
            bits += byte.leading_zeros();
            if *byte != 0 {
                break;
            }
        }
        bits
    }

    /// The first nonce in `nonces` whose work has at least `bits` leading zero bits.
    pub fn find(&self, bits: u32, nonces: impl Iterator<Item = u64>) -> Option<u64> {
        nonces.into_iter().find(|&n| self.bits(n) >= bits)
    }
}

/// FRAUD_PROOF: a bonded challenge to a pending receipt; the chain re-executes its job and
/// slashes whoever was wrong (DESIGN §11).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FraudProof {
    pub receipt_id: Hash,
    /// What the challenger says the job gives (informational: the referee re-executes).
    pub output_hash: Hash,
    pub units: u64,
    /// Put at stake: returned with a share of the slash if the receipt was wrong.
    #[codec(compact)]
    pub bond: u128,
}

/// VERDICT: a verifier the chain drew for a receipt reports what re-running the job gave.
/// One that disagrees with the receipt opens a dispute by itself (DESIGN §11).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct VerifierVerdict {
    pub receipt_id: Hash,
    pub output_hash: Hash,
    pub units: u64,
}

/// PARAM_UPDATE: the chain's authority (dev and PoA chains) sets one economy parameter,
/// effective from the next block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ParamUpdate {
    /// The parameter's name in the chain spec's `economy` section, e.g. `challenge_blocks`.
    pub name: String,
    #[codec(compact)]
    pub value: u128,
}
