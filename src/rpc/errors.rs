//! Stable JSON-RPC error codes. Clients may match on the code; the message says what was
//! wrong in words.

use crate::ledger::payload::job::JobStatus;
use crate::ledger::payload::trial::TrialInvalid;
use crate::ledger::{TxFailure, TxInvalid};
use crate::mempool::MempoolError;
use crate::node::SubmitError;
use jsonrpsee::types::ErrorObjectOwned;

pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL: i32 = -32603;
pub const TX_DECODE: i32 = 1000;
pub const BAD_SIGNATURE: i32 = 1001;
pub const WRONG_CHAIN: i32 = 1002;
pub const TX_TOO_LARGE: i32 = 1003;
pub const FEE_TOO_LOW: i32 = 1004;
pub const NONCE_TOO_LOW: i32 = 1005;
pub const NONCE_TOO_HIGH: i32 = 1006;
pub const INSUFFICIENT_BALANCE: i32 = 1007;
pub const REPLACEMENT_UNDERPRICED: i32 = 1008;
pub const ALREADY_KNOWN: i32 = 1009;
pub const SENDER_LIMIT: i32 = 1010;
pub const MEMPOOL_FULL: i32 = 1011;
pub const BATCH_SIZE: i32 = 1012;
/// A payload field breaks a stateless rule (a zero price, a zero amount).
pub const PAYLOAD_INVALID: i32 = 1013;
pub const UNKNOWN_JOB: i32 = 1050;
pub const JOB_NOT_OPEN: i32 = 1051;
pub const JOB_EXPIRED: i32 = 1052;
pub const NOT_JOB_CLIENT: i32 = 1053;
pub const RECEIPT_REPLAY: i32 = 1054;
pub const PRICE_MISMATCH: i32 = 1055;
pub const UNITS_OVER_MAX: i32 = 1056;
pub const WRONG_COORDINATOR: i32 = 1057;
pub const MINER_STAKE: i32 = 1058;
pub const DEADLINE_IN_PAST: i32 = 1059;
pub const CLIENT_MISMATCH: i32 = 1060;
pub const METERING_MISMATCH: i32 = 1061;
pub const MINER_KEY_MISMATCH: i32 = 1062;
pub const INSUFFICIENT_STAKE: i32 = 1063;
pub const TOO_MANY_UNBONDING: i32 = 1064;
pub const INSUFFICIENT_DELEGATION: i32 = 1065;
pub const NOT_A_CANDIDATE: i32 = 1066;
pub const POW_TOO_WEAK: i32 = 1070;
/// A trial claim that pays a fee (they are fee-less).
pub const TRIAL_FEE: i32 = 1071;
/// A trial claim's anchor is not a recent block of this chain.
pub const TRIAL_ANCHOR: i32 = 1072;
pub const TRIAL_ALREADY_CLAIMED: i32 = 1073;
pub const TRIAL_NOT_NEW: i32 = 1074;
/// This block's or epoch's trial grants are used up; retry later.
pub const TRIAL_CAP: i32 = 1075;
/// A JOB_POST names a program or input blob this node does not hold (`blob_put` it first).
pub const UNKNOWN_BLOB: i32 = 1080;
/// A JOB_POST's program is not a valid job (the job ABI, floats, limits).
pub const PROGRAM_INVALID: i32 = 1081;
/// A blob over the size limit (a job input over the VM's cap).
pub const BLOB_TOO_LARGE: i32 = 1082;
pub const UNKNOWN_RECEIPT: i32 = 1090;
/// A fraud proof for a receipt that is no longer pending (matured or invalidated).
pub const RECEIPT_NOT_PENDING: i32 = 1091;
pub const BOND_TOO_LOW: i32 = 1092;
/// A fraud proof for a job larger than validators referee, or a JOB_POST of such a job
/// without enough verifiers.
pub const NOT_REFEREEABLE: i32 = 1093;
/// This node lacks the blobs to referee the fraud proof.
pub const REFEREE_BLOBS: i32 = 1094;
/// A PARAM_UPDATE not from the chain's authority, or admin_setParam on a node without its key.
pub const NOT_AUTHORITY: i32 = 1095;
/// A parameter update the chain's rules refuse (unknown name, out of range, inconsistent).
pub const PARAM_INVALID: i32 = 1096;
/// An UNJAIL from an account not in jail, jailed for good, or before its term ends.
pub const NOT_UNJAILABLE: i32 = 1097;
/// A RECEIPT_CLAIM from a miner the chain did not draw for the job in this window.
pub const NOT_DRAWN: i32 = 1098;
/// A VERDICT from an account the chain did not draw for the receipt, or a second one.
pub const NOT_A_VERIFIER: i32 = 1099;
pub const UNSAFE_METHOD: i32 = 1020;
pub const FAUCET: i32 = 1021;
/// The caller's address is over its call rate (`--rpc-rate-limit`).
pub const RATE_LIMITED: i32 = 1022;
/// A subscription called over HTTP: it needs a WebSocket.
pub const NEEDS_WEBSOCKET: i32 = 1023;
/// The node cannot store blocks now (a full or failing disk); it retries.
pub const STORAGE_FAILING: i32 = 1024;
pub const UNKNOWN_HEIGHT: i32 = 1030;
pub const NETWORK: i32 = 1040;

pub fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    err(INVALID_PARAMS, msg)
}

pub fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(INTERNAL, format!("internal error: {e}"))
}

/// A failed read of the store: -32603 for the caller, and for the operator an error-level log,
/// `ergon_storage_read_errors_total` and a `storage-error` from `/health`
/// ([`crate::node::NodeHandle::storage_read_failed`]).
pub fn read_failed(node: &crate::node::NodeHandle) -> impl Fn(crate::storage::StoreError) -> ErrorObjectOwned + '_ {
    move |e| {
        node.storage_read_failed(&e);
        internal(e)
    }
}

/// The stable code of each reason a payload fails.
pub fn failure_code(f: &TxFailure) -> i32 {
    match f {
        TxFailure::InsufficientBalance { .. } | TxFailure::Overflow => INSUFFICIENT_BALANCE,
        TxFailure::UnknownJob(_) => UNKNOWN_JOB,
        TxFailure::JobNotOpen { status: JobStatus::Expired } | TxFailure::JobExpired { .. } => JOB_EXPIRED,
        TxFailure::JobNotOpen { .. } => JOB_NOT_OPEN,
        TxFailure::NotJobClient => NOT_JOB_CLIENT,
        TxFailure::ReceiptReplay(_) => RECEIPT_REPLAY,
        TxFailure::PriceMismatch { .. } => PRICE_MISMATCH,
        TxFailure::UnitsOverMax { .. } => UNITS_OVER_MAX,
        TxFailure::WrongCoordinator => WRONG_COORDINATOR,
        TxFailure::MinerStake { .. } => MINER_STAKE,
        TxFailure::DeadlineInPast { .. } => DEADLINE_IN_PAST,
        TxFailure::ClientMismatch => CLIENT_MISMATCH,
        TxFailure::MeteringMismatch { .. } => METERING_MISMATCH,
        TxFailure::MinerKeyMismatch => MINER_KEY_MISMATCH,
        TxFailure::InsufficientStake { .. } => INSUFFICIENT_STAKE,
        TxFailure::InsufficientDelegation { .. } => INSUFFICIENT_DELEGATION,
        TxFailure::NotACandidate(_) => NOT_A_CANDIDATE,
        TxFailure::TooManyUnbonding { .. } => TOO_MANY_UNBONDING,
        TxFailure::UnknownReceipt(_) => UNKNOWN_RECEIPT,
        TxFailure::ReceiptNotPending { .. } => RECEIPT_NOT_PENDING,
        TxFailure::BondTooLow { .. } => BOND_TOO_LOW,
        TxFailure::NotRefereeable { .. } | TxFailure::NeedsVerifiers { .. } => NOT_REFEREEABLE,
        TxFailure::NotAuthority => NOT_AUTHORITY,
        TxFailure::ParamInvalid(_) => PARAM_INVALID,
        TxFailure::NotJailed(_) | TxFailure::JailedForGood | TxFailure::StillJailed { .. } => NOT_UNJAILABLE,
        TxFailure::NotDrawn { .. } => NOT_DRAWN,
        TxFailure::NotAVerifier(_) | TxFailure::AlreadyVoted => NOT_A_VERIFIER,
    }
}

pub fn submit(e: SubmitError) -> ErrorObjectOwned {
    let code = match &e {
        SubmitError::BadSignature => BAD_SIGNATURE,
        SubmitError::Invalid(i) => match i {
            TxInvalid::ChainId { .. } => WRONG_CHAIN,
            TxInvalid::Nonce { .. } | TxInvalid::NonceOverflow => NONCE_TOO_LOW,
            TxInvalid::FeeTooLow { .. } => FEE_TOO_LOW,
            TxInvalid::CannotPayFee { .. } => INSUFFICIENT_BALANCE,
            TxInvalid::TooLarge { .. } => TX_TOO_LARGE,
            TxInvalid::BatchSize { .. } => BATCH_SIZE,
            TxInvalid::Payload { .. } => PAYLOAD_INVALID,
            TxInvalid::Trial(t) => match t {
                TrialInvalid::WeakPow { .. } => POW_TOO_WEAK,
                TrialInvalid::Fee(_) => TRIAL_FEE,
                TrialInvalid::StaleAnchor { .. } | TrialInvalid::UnknownAnchor { .. } => TRIAL_ANCHOR,
                TrialInvalid::AlreadyClaimed(_) => TRIAL_ALREADY_CLAIMED,
                TrialInvalid::NotNew => TRIAL_NOT_NEW,
                TrialInvalid::BlockCap(_) | TrialInvalid::EpochCap(_) => TRIAL_CAP,
            },
            TxInvalid::Fraud(_) => REFEREE_BLOBS,
            TxInvalid::State(_) | TxInvalid::FeeOverflow => INTERNAL,
        },
        SubmitError::Mempool(m) => match m {
            MempoolError::AlreadyKnown(_) => ALREADY_KNOWN,
            MempoolError::NonceTooLow { .. } => NONCE_TOO_LOW,
            MempoolError::NonceTooHigh { .. } => NONCE_TOO_HIGH,
            MempoolError::InsufficientBalance { .. } | MempoolError::Overflow => INSUFFICIENT_BALANCE,
            MempoolError::ReplacementUnderpriced { .. } => REPLACEMENT_UNDERPRICED,
            MempoolError::SenderLimit { .. } => SENDER_LIMIT,
            MempoolError::Full { .. } | MempoolError::FullGapped { .. } | MempoolError::FullOfOwn => MEMPOOL_FULL,
        },
        SubmitError::Rejected(f) => failure_code(f),
        SubmitError::Faucet(_) => FAUCET,
        SubmitError::Storage(_) => STORAGE_FAILING,
        SubmitError::Stopped | SubmitError::Internal(_) => INTERNAL,
    };
    err(code, e.to_string())
}
