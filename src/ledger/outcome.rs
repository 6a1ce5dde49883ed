//! What applying a tx can say: it cannot be in a block at all ([`TxInvalid`]), or it is in
//! and did what it asked or failed for a typed reason ([`TxOutcome`]). Outcomes are committed
//! to by the header's receipts root, so every node agrees on why a tx failed, not only that it
//! did.

use super::payload::job::JobStatus;
use super::payload::receipt::ReceiptStatus;
use super::StateError;
use crate::primitives::{merkle_root, tag, Hash};
use parity_scale_codec::{Decode, Encode};

/// Why a tx cannot be part of a block at all. A block holding one is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxInvalid {
    #[error("wrong chain id {got:?}, this chain is {want:?}")]
    ChainId { got: String, want: String },
    #[error("nonce {got} is not the account nonce + 1 ({want})")]
    Nonce { got: u64, want: u64 },
    #[error("fee {got} is below the required {required}")]
    FeeTooLow { got: u128, required: u128 },
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee { balance: u128, fee: u128 },
    #[error("tx is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: u32 },
    #[error("batch has {got} transfers; it must have 1 to {limit}")]
    BatchSize { got: usize, limit: u32 },
    /// A payload field breaks a rule that needs no state (a zero amount, a bad signature).
    #[error("{field}: {rule}")]
    Payload { field: &'static str, rule: String },
    #[error("nonce space exhausted")]
    NonceOverflow,
    #[error("the block's fees overflow u128")]
    FeeOverflow,
    #[error(transparent)]
    Trial(#[from] super::payload::trial::TrialInvalid),
    #[error(transparent)]
    Fraud(#[from] super::payload::fraud::FraudInvalid),
    #[error(transparent)]
    State(#[from] StateError),
}

impl TxInvalid {
    /// Whether a later block may include the tx: its sender's earlier tx is missing (nonce),
    /// this block's or epoch's trial grants are used up, or this node cannot yet referee its
    /// fraud proof. Block builders keep such txs pending and drop the rest.
    pub fn may_fit_later(&self) -> bool {
        match self {
            TxInvalid::Nonce { .. } | TxInvalid::Fraud(_) => true,
            TxInvalid::Trial(t) => t.is_transient(),
            _ => false,
        }
    }
}

/// Why an included tx did nothing but pay its fee. Variant indexes are hashed into the
/// receipts root: never reuse one.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum TxFailure {
    #[codec(index = 0)]
    #[error("insufficient balance: has {balance}, needs {needed}")]
    InsufficientBalance { balance: u128, needed: u128 },
    #[codec(index = 1)]
    #[error("an amount would overflow")]
    Overflow,
    #[codec(index = 2)]
    #[error("job {0} does not exist")]
    UnknownJob(Hash),
    #[codec(index = 3)]
    #[error("job is {}, not open", status.name())]
    JobNotOpen { status: JobStatus },
    #[codec(index = 4)]
    #[error("job expired at height {deadline}")]
    JobExpired { deadline: u64 },
    #[codec(index = 5)]
    #[error("only the job's client may cancel it")]
    NotJobClient,
    #[codec(index = 6)]
    #[error("receipt {0} was already claimed")]
    ReceiptReplay(Hash),
    #[codec(index = 7)]
    #[error("receipt price {receipt} is not the job's price {job}")]
    PriceMismatch { receipt: u128, job: u128 },
    #[codec(index = 8)]
    #[error("receipt claims {units} units; the job allows at most {max_units}")]
    UnitsOverMax { units: u64, max_units: u64 },
    #[codec(index = 9)]
    #[error("attestation is not signed by the job's coordinator")]
    WrongCoordinator,
    #[codec(index = 10)]
    #[error("miner has {staked} staked; receipts need at least {min}")]
    MinerStake { staked: u128, min: u128 },
    #[codec(index = 11)]
    #[error("deadline height {deadline} is not after the current height {height}")]
    DeadlineInPast { deadline: u64, height: u64 },
    #[codec(index = 12)]
    #[error("stake {staked} is below the amount {amount}")]
    InsufficientStake { staked: u128, amount: u128 },
    #[codec(index = 13)]
    #[error("account already has {limit} unbonding entries")]
    TooManyUnbonding { limit: u32 },
    #[codec(index = 14)]
    #[error("receipt client is not the job's client")]
    ClientMismatch,
    #[codec(index = 15)]
    #[error("receipt metering version {got} is not this chain's {want}")]
    MeteringMismatch { got: u32, want: u32 },
    #[codec(index = 17)]
    #[error("no delegation of {amount} from this account to that validator (it has {delegated})")]
    InsufficientDelegation { delegated: u128, amount: u128 },
    #[codec(index = 18)]
    #[error("{0} is not a validator candidate (it has never staked the minimum)")]
    NotACandidate(String),
    #[codec(index = 16)]
    #[error("receipt miner is not the address of the key that signed it")]
    MinerKeyMismatch,
    #[codec(index = 19)]
    #[error("receipt {0} was never claimed")]
    UnknownReceipt(Hash),
    #[codec(index = 20)]
    #[error("receipt is {status:?}, not pending: its challenge window is closed")]
    ReceiptNotPending { status: ReceiptStatus },
    #[codec(index = 21)]
    #[error("bond {bond} is below the chain's challenge bond {min}")]
    BondTooLow { bond: u128, min: u128 },
    #[codec(index = 22)]
    #[error("job allows {max_units} units, more than validators referee ({limit})")]
    NotRefereeable { max_units: u64, limit: u64 },
    #[codec(index = 24)]
    #[error("only the chain's authority may update parameters")]
    NotAuthority,
    #[codec(index = 25)]
    #[error("parameter update rejected: {0}")]
    ParamInvalid(String),
    #[codec(index = 26)]
    #[error("{0} is not in jail")]
    NotJailed(String),
    #[codec(index = 27)]
    #[error("jailed for double signing: a validator that equivocated never returns")]
    JailedForGood,
    #[codec(index = 28)]
    #[error("jailed until block {until}; this is block {height}")]
    StillJailed { until: u64, height: u64 },
    #[codec(index = 29)]
    #[error("{} until block {until}", match drawn { Some(m) => format!("the chain drew miner {m} for this job"), None => "no miner can claim this job at this height".to_string() })]
    NotDrawn { drawn: Option<String>, until: u64 },
    #[codec(index = 30)]
    #[error("{0} is not one of the verifiers the chain drew for this receipt")]
    NotAVerifier(String),
    #[codec(index = 31)]
    #[error("this verifier already gave its verdict on the receipt")]
    AlreadyVoted,
    #[codec(index = 23)]
    #[error("a job of more than {limit} units needs at least 3 verifiers (it allows {max_units} with {verifiers})")]
    NeedsVerifiers { max_units: u64, limit: u64, verifiers: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxOutcome {
    /// What the sender paid, success or not.
    pub fee: u128,
    pub result: Result<(), TxFailure>,
}

impl TxOutcome {
    /// This outcome's leaf in the receipts root.
    pub fn leaf_hash(&self) -> Hash {
        Hash::of(tag::TX_OUTCOME, self)
    }
}

/// Merkle root over the outcomes of a block's txs, in block order.
pub fn receipts_root(outcomes: &[TxOutcome]) -> Hash {
    merkle_root(outcomes.iter().map(TxOutcome::leaf_hash).collect())
}
