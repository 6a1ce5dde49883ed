//! Transactions: the signed envelope every state change arrives in.

use super::address::Address;
use super::economy::{
    Delegation, FraudProof, JobCancel, JobPost, ParamUpdate, ReceiptClaim, StakeAmount, TrialClaim, VerifierVerdict,
};
use super::hash::{tag, Hash};
use super::keys::{KeyError, Keypair, PublicKey, Signature};
use parity_scale_codec::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// How urgently the sender wants inclusion; scales the required fee (see the chain spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[codec(index = 0)]
    Low,
    #[default]
    #[codec(index = 1)]
    Normal,
    #[codec(index = 2)]
    High,
    #[codec(index = 3)]
    Urgent,
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            _ => Err(format!("unknown priority {s:?}: expected low, normal, high or urgent")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Transfer {
    pub to: Address,
    #[codec(compact)]
    pub amount: u128,
}

/// What a transaction does. Variant indexes are part of the canonical encoding: never reuse one.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Payload {
    #[codec(index = 0)]
    Transfer(Transfer),
    /// Several transfers from one sender; the fee schedule gives batches a discount.
    #[codec(index = 1)]
    Batch(Vec<Transfer>),
    #[codec(index = 2)]
    JobPost(JobPost),
    #[codec(index = 3)]
    JobCancel(JobCancel),
    #[codec(index = 4)]
    ReceiptClaim(Box<ReceiptClaim>),
    #[codec(index = 5)]
    Stake(StakeAmount),
    #[codec(index = 6)]
    Unstake(StakeAmount),
    #[codec(index = 7)]
    Delegate(Delegation),
    #[codec(index = 8)]
    Undelegate(Delegation),
    /// One-time, fee-less trial credits for an account that never held AIT.
    #[codec(index = 9)]
    TrialClaim(TrialClaim),
    /// A bonded challenge to a pending receipt, refereed by re-execution.
    #[codec(index = 10)]
    FraudProof(FraudProof),
    /// An authority-gated parameter change.
    #[codec(index = 11)]
    ParamUpdate(ParamUpdate),
    /// A validator jailed for downtime asks back into the candidates once its term is over.
    #[codec(index = 12)]
    Unjail,
    /// A drawn verifier's re-execution result for a pending receipt.
    #[codec(index = 13)]
    Verdict(VerifierVerdict),
}

impl Payload {
    /// Sum of the amounts transferred (0 for other payloads), `None` on overflow.
    pub fn total_amount(&self) -> Option<u128> {
        match self {
            Payload::Transfer(t) => Some(t.amount),
            Payload::Batch(ts) => ts.iter().try_fold(0u128, |acc, t| acc.checked_add(t.amount)),
            _ => Some(0),
        }
    }

    /// The JSON `type` of the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer(_) => "TRANSFER",
            Payload::Batch(_) => "BATCH",
            Payload::JobPost(_) => "JOB_POST",
            Payload::JobCancel(_) => "JOB_CANCEL",
            Payload::ReceiptClaim(_) => "RECEIPT_CLAIM",
            Payload::Stake(_) => "STAKE",
            Payload::Unstake(_) => "UNSTAKE",
            Payload::Delegate(_) => "DELEGATE",
            Payload::Undelegate(_) => "UNDELEGATE",
            Payload::TrialClaim(_) => "TRIAL_CLAIM",
            Payload::FraudProof(_) => "FRAUD_PROOF",
            Payload::ParamUpdate(_) => "PARAM_UPDATE",
            Payload::Unjail => "UNJAIL",
            Payload::Verdict(_) => "VERDICT",
        }
    }
}

/// The signed part of a transaction. `fee` is a fixed-width u128 so that a tx's encoded size,
/// which the fee depends on, does not depend on the fee.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Tx {
    pub chain_id: String,
    pub sender: PublicKey,
    pub nonce: u64,
    pub fee: u128,
    pub priority: Priority,
    pub payload: Payload,
}

impl Tx {
    /// The hash that is signed, and the transaction's identity.
    pub fn signing_hash(&self) -> Hash {
        Hash::of(tag::TX, self)
    }

    pub fn sender_address(&self) -> Address {
        Address::from_public_key(&self.sender)
    }

    pub fn sign(self, key: &Keypair) -> SignedTx {
        let signature = key.sign(&self.signing_hash());
        SignedTx { tx: self, signature }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedTx {
    pub tx: Tx,
    pub signature: Signature,
}

impl SignedTx {
    pub fn hash(&self) -> Hash {
        self.tx.signing_hash()
    }

    /// Size in canonical bytes; the fee schedule charges per byte of this.
    pub fn size(&self) -> usize {
        self.encoded_size()
    }

    /// Every signature the tx carries, as (key, signed hash, signature): its own (over
    /// `hash`, the tx's hash) first, then its payload's. Whoever admits or imports a tx
    /// verifies all of them, batched, before the ledger applies it.
    pub fn signature_items(&self, hash: Hash) -> impl Iterator<Item = (PublicKey, Hash, Signature)> + '_ {
        let payload = match &self.tx.payload {
            Payload::ReceiptClaim(c) => c.signatures().to_vec(),
            _ => Vec::new(),
        };
        std::iter::once((self.tx.sender, hash, self.signature)).chain(payload)
    }

    /// Checks every signature the tx carries.
    pub fn verify_signature(&self) -> Result<(), KeyError> {
        let hash = self.hash();
        self.tx.sender.verify(&hash, &self.signature)?;
        let rest: Vec<_> = self.signature_items(hash).skip(1).collect();
        if rest.is_empty() {
            return Ok(());
        }
        super::keys::verify_batch(&rest)
    }

    /// The leaf this tx contributes to a block's tx root (commits to the signature too).
    pub fn leaf_hash(&self) -> Hash {
        Hash::of(tag::TX_LEAF, self)
    }
}

/// A signed tx with its hash, its tx-root leaf and its size computed once, when it was built
/// or decoded, and carried from then on (reth's sealed types): admission, the mempool, the
/// block builder, the importer and storage all read them instead of hashing the tx again.
/// Encodes as the [`SignedTx`] it seals; decoding seals.
#[derive(Debug, Clone)]
pub struct SealedTx {
    tx: SignedTx,
    hash: Hash,
    leaf: Hash,
    size: usize,
}

impl SealedTx {
    pub fn seal(tx: SignedTx) -> Self {
        // One encoding for both hashes: a signed tx encodes as its tx, then the 64-byte
        // signature (pinned by the golden vectors).
        let bytes = tx.encode();
        let leaf = Hash::digest(tag::TX_LEAF, &bytes);
        let hash = match bytes.len().checked_sub(64).and_then(|n| bytes.get(..n)) {
            Some(unsigned) => Hash::digest(tag::TX, unsigned),
            None => tx.hash(),
        };
        Self { hash, leaf, size: bytes.len(), tx }
    }

    /// The tx's identity: the hash its sender signed.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The leaf it contributes to a block's tx root.
    pub fn leaf_hash(&self) -> Hash {
        self.leaf
    }

    /// Size in canonical bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Every signature the tx carries, over its sealed hash ([`SignedTx::signature_items`]).
    pub fn signatures(&self) -> impl Iterator<Item = (PublicKey, Hash, Signature)> + '_ {
        self.tx.signature_items(self.hash)
    }

    pub fn signed(&self) -> &SignedTx {
        &self.tx
    }

    pub fn into_inner(self) -> SignedTx {
        self.tx
    }
}

impl From<SignedTx> for SealedTx {
    fn from(tx: SignedTx) -> Self {
        Self::seal(tx)
    }
}

impl std::ops::Deref for SealedTx {
    type Target = SignedTx;

    fn deref(&self) -> &SignedTx {
        &self.tx
    }
}

impl PartialEq for SealedTx {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.tx == other.tx
    }
}

impl Eq for SealedTx {}

impl Encode for SealedTx {
    fn size_hint(&self) -> usize {
        self.size
    }

    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        self.tx.encode_to(dest)
    }

    fn encoded_size(&self) -> usize {
        self.size
    }
}

impl Decode for SealedTx {
    fn decode<I: parity_scale_codec::Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        SignedTx::decode(input).map(Self::seal)
    }
}
