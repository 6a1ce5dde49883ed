//! JSON shapes of the RPC: the seed's transaction form (seed 004 §18, plus the sender's public
//! key), blocks and heads.

use super::errors::{err, invalid_params, TX_DECODE};
use crate::chainspec::ChainSpec;
use crate::node::ChainEventHead;
use crate::primitives::{
    serde_amount, Address, Block, CommitCertificate, ComputeReceipt, Delegation, FraudProof, Hash, JobCancel, JobPost,
    ParamUpdate, Payload, Priority, PublicKey, ReceiptClaim, Signature, SignedTx, StakeAmount, Transfer, TrialClaim,
    Tx,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A transaction in JSON. `sig`, `publicKey` and `nonce` may be left out for fee estimates.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonTx {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub chain_id: Option<String>,
    /// The sender's address; if given it must match `publicKey`.
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub nonce: Option<u64>,
    #[serde(default, with = "opt_amount")]
    pub fee: Option<u128>,
    #[serde(default)]
    pub priority: Option<Priority>,
    pub payload: Value,
    #[serde(default, alias = "signature")]
    pub sig: Option<String>,
}

/// Deserializes `v`; an error names the field it failed at (`nonce: invalid type: ...`).
pub fn from_json<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let path = e.path().to_string();
        let why = plain_numbers(e.into_inner().to_string());
        if path == "." {
            why
        } else {
            format!("{path}: {why}")
        }
    })
}

/// serde_json holds a number that is not an integer of 64 bits as a float, and an error says
/// `invalid type: floating point `1.8446744073709552e19`, expected u64`: name the number as
/// the caller wrote it (an integer out of range, or a fraction).
fn plain_numbers(why: String) -> String {
    const FLOAT: &str = "invalid type: floating point `";
    let Some(at) = why.find(FLOAT) else { return why };
    let rest = &why[at + FLOAT.len()..];
    let Some(end) = rest.find('`') else { return why };
    let Ok(f) = rest[..end].parse::<f64>() else { return why };
    let expected = rest[end + 1..].trim_start_matches(", ");
    let what = if f.fract() == 0.0 {
        format!("the integer {f:.0} is out of range")
    } else {
        format!("{} is not an integer", &rest[..end])
    };
    format!("{}{what}; {expected}", &why[..at])
}

mod opt_amount {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::primitives::serde_amount")] u128);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonTransfer {
    to: String,
    #[serde(with = "serde_amount")]
    amount: u128,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBatch {
    transfers: Vec<JsonTransfer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonJobPost {
    #[serde(alias = "programHash")]
    program: Hash,
    #[serde(alias = "inputHash")]
    input: Hash,
    max_units: u64,
    #[serde(with = "serde_amount")]
    price: u128,
    coordinator: String,
    /// The last height a receipt is accepted at.
    deadline: u64,
    #[serde(default)]
    verifiers: u8,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonJobCancel {
    #[serde(alias = "job_id")]
    job_id: Hash,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDelegation {
    validator: String,
    #[serde(with = "serde_amount")]
    amount: u128,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAmount {
    #[serde(with = "serde_amount")]
    amount: u128,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonVerdict {
    receipt_id: Hash,
    output_hash: Hash,
    units: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonParamUpdate {
    name: String,
    #[serde(with = "serde_amount")]
    value: u128,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonFraudProof {
    receipt_id: Hash,
    output_hash: Hash,
    units: u64,
    #[serde(with = "serde_amount")]
    bond: u128,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonTrialClaim {
    anchor_height: u64,
    anchor_hash: Hash,
    pow_nonce: u64,
}

/// RECEIPT_CLAIM in the seed's form (seed 004 §18.2), plus the two public keys and the
/// coordinator's attestation that replace the seed's HTTP call. camelCase is accepted too.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonReceiptClaim {
    #[serde(alias = "receiptId")]
    receipt_id: Hash,
    #[serde(alias = "jobId")]
    job_id: Hash,
    #[serde(alias = "clientAddr", alias = "client")]
    client_addr: String,
    #[serde(alias = "minerAddr", alias = "miner")]
    miner_addr: String,
    #[serde(alias = "computeUnits")]
    compute_units: u64,
    #[serde(with = "serde_amount")]
    price: u128,
    #[serde(alias = "outputHash")]
    output_hash: Hash,
    #[serde(alias = "meteringVersion")]
    metering_version: u32,
    #[serde(alias = "minerKey")]
    miner_key: PublicKey,
    #[serde(alias = "minerSig")]
    miner_sig: Signature,
    /// Absent until the coordinator attests (a receipt file between `sign` and `attest`).
    #[serde(alias = "coordinatorKey", default)]
    coordinator_key: Option<PublicKey>,
    #[serde(default)]
    attestation: Option<Signature>,
}

impl JsonReceiptClaim {
    /// The receipt the miner signed.
    pub fn receipt(&self, spec: &ChainSpec) -> Result<ComputeReceipt, ErrorObjectOwned> {
        let addr =
            |field: &str, s: &str| spec.parse_address(s).map_err(|e| decode_err(format!("payload.{field}: {e}")));
        Ok(ComputeReceipt {
            receipt_id: self.receipt_id,
            job_id: self.job_id,
            client: addr("client_addr", &self.client_addr)?,
            miner: addr("miner_addr", &self.miner_addr)?,
            compute_units: self.compute_units,
            price: self.price,
            output_hash: self.output_hash,
            metering_version: self.metering_version,
        })
    }

    /// The miner's key and signature over [`JsonReceiptClaim::receipt`].
    pub fn miner(&self) -> (PublicKey, Signature) {
        (self.miner_key, self.miner_sig)
    }

    /// The whole claim; here the coordinator's key and attestation are required.
    pub fn to_claim(&self, spec: &ChainSpec) -> Result<ReceiptClaim, ErrorObjectOwned> {
        let need = |f: &str| decode_err(format!("payload.{f} is required: the receipt is not attested"));
        Ok(ReceiptClaim {
            receipt: self.receipt(spec)?,
            miner_key: self.miner_key,
            miner_sig: self.miner_sig,
            coordinator_key: self.coordinator_key.ok_or_else(|| need("coordinator_key"))?,
            attestation: self.attestation.ok_or_else(|| need("attestation"))?,
        })
    }
}

/// A receipt claim's payload in the seed's JSON form (what `ergon receipt sign` writes).
pub fn receipt_claim_to_json(c: &ReceiptClaim, hrp: &str) -> Value {
    let r = &c.receipt;
    json!({
        "receipt_id": r.receipt_id,
        "job_id": r.job_id,
        "client_addr": r.client.to_bech32(hrp),
        "miner_addr": r.miner.to_bech32(hrp),
        "compute_units": r.compute_units,
        "price": r.price.to_string(),
        "output_hash": r.output_hash,
        "metering_version": r.metering_version,
        "miner_key": c.miner_key.to_hex(),
        "miner_sig": c.miner_sig.to_hex(),
        "coordinator_key": c.coordinator_key.to_hex(),
        "attestation": c.attestation.to_hex(),
    })
}

fn decode_err(msg: impl Into<String>) -> ErrorObjectOwned {
    err(TX_DECODE, msg)
}

impl JsonTx {
    fn payload(&self, spec: &ChainSpec) -> Result<Payload, ErrorObjectOwned> {
        let transfer = |t: JsonTransfer, field: &str| -> Result<Transfer, ErrorObjectOwned> {
            let to = spec.parse_address(&t.to).map_err(|e| decode_err(format!("{field}.to: {e}")))?;
            Ok(Transfer { to, amount: t.amount })
        };
        match self.kind.to_ascii_uppercase().as_str() {
            "TRANSFER" => {
                let t: JsonTransfer = from_json(&self.payload)
                    .map_err(|e| decode_err(format!("payload of a TRANSFER: {e}")))?;
                Ok(Payload::Transfer(transfer(t, "payload")?))
            }
            "BATCH" => {
                let b: JsonBatch = from_json(&self.payload)
                    .map_err(|e| decode_err(format!("payload of a BATCH: {e}")))?;
                let ts = b
                    .transfers
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| transfer(t, &format!("payload.transfers[{i}]")))
                    .collect::<Result<_, _>>()?;
                Ok(Payload::Batch(ts))
            }
            kind @ ("JOB_POST" | "JOB_CANCEL" | "RECEIPT_CLAIM" | "STAKE" | "UNSTAKE" | "DELEGATE" | "UNDELEGATE"
            | "TRIAL_CLAIM" | "FRAUD_PROOF" | "PARAM_UPDATE") => self.economy_payload(kind, spec),
            "UNJAIL" => Ok(Payload::Unjail),
            "VERDICT" => {
                let v: JsonVerdict = from_json(&self.payload)
                    .map_err(|e| decode_err(format!("payload of a VERDICT: {e}")))?;
                Ok(Payload::Verdict(crate::primitives::VerifierVerdict {
                    receipt_id: v.receipt_id,
                    output_hash: v.output_hash,
                    units: v.units,
                }))
            }
            other => Err(decode_err(format!(
                "unknown tx type {other:?}: expected TRANSFER, BATCH, JOB_POST, JOB_CANCEL, RECEIPT_CLAIM, STAKE, UNSTAKE, DELEGATE, UNDELEGATE, TRIAL_CLAIM, FRAUD_PROOF, PARAM_UPDATE, UNJAIL or VERDICT"
            ))),
        }
    }

    fn economy_payload(&self, kind: &str, spec: &ChainSpec) -> Result<Payload, ErrorObjectOwned> {
        fn parse<T: serde::de::DeserializeOwned>(v: &Value, kind: &str) -> Result<T, ErrorObjectOwned> {
            from_json(v).map_err(|e| decode_err(format!("payload of a {kind}: {e}")))
        }
        let p = &self.payload;
        Ok(match kind {
            "JOB_POST" => {
                let j: JsonJobPost = parse(p, kind)?;
                let coordinator =
                    spec.parse_address(&j.coordinator).map_err(|e| decode_err(format!("payload.coordinator: {e}")))?;
                Payload::JobPost(JobPost {
                    program: j.program,
                    input: j.input,
                    max_units: j.max_units,
                    price: j.price,
                    coordinator,
                    deadline: j.deadline,
                    verifiers: j.verifiers,
                })
            }
            "JOB_CANCEL" => Payload::JobCancel(JobCancel { job_id: parse::<JsonJobCancel>(p, kind)?.job_id }),
            "RECEIPT_CLAIM" => Payload::ReceiptClaim(Box::new(parse::<JsonReceiptClaim>(p, kind)?.to_claim(spec)?)),
            "STAKE" => Payload::Stake(StakeAmount { amount: parse::<JsonAmount>(p, kind)?.amount }),
            "PARAM_UPDATE" => {
                let u: JsonParamUpdate = parse(p, kind)?;
                Payload::ParamUpdate(ParamUpdate { name: u.name, value: u.value })
            }
            "FRAUD_PROOF" => {
                let f: JsonFraudProof = parse(p, kind)?;
                Payload::FraudProof(FraudProof {
                    receipt_id: f.receipt_id,
                    output_hash: f.output_hash,
                    units: f.units,
                    bond: f.bond,
                })
            }
            "TRIAL_CLAIM" => {
                let c: JsonTrialClaim = parse(p, kind)?;
                Payload::TrialClaim(TrialClaim {
                    anchor_height: c.anchor_height,
                    anchor_hash: c.anchor_hash,
                    pow_nonce: c.pow_nonce,
                })
            }
            "DELEGATE" | "UNDELEGATE" => {
                let d: JsonDelegation = parse(p, kind)?;
                let validator =
                    spec.parse_address(&d.validator).map_err(|e| decode_err(format!("payload.validator: {e}")))?;
                let d = Delegation { validator, amount: d.amount };
                if kind == "DELEGATE" {
                    Payload::Delegate(d)
                } else {
                    Payload::Undelegate(d)
                }
            }
            _ => Payload::Unstake(StakeAmount { amount: parse::<JsonAmount>(p, kind)?.amount }),
        })
    }

    /// The unsigned tx. Missing fields default (for estimates) only when `complete` is false.
    pub fn to_tx(&self, spec: &ChainSpec, complete: bool) -> Result<Tx, ErrorObjectOwned> {
        let need = |name: &str| decode_err(format!("field `{name}` is required"));
        let sender = match &self.public_key {
            Some(pk) => pk.parse::<PublicKey>().map_err(|e| decode_err(format!("publicKey: {e}")))?,
            None if complete => return Err(need("publicKey")),
            None => PublicKey([0; 32]),
        };
        if let (Some(addr), true) = (&self.sender, self.public_key.is_some()) {
            let a = spec.parse_address(addr).map_err(|e| decode_err(format!("sender: {e}")))?;
            if a != Address::from_public_key(&sender) {
                return Err(decode_err(format!("sender {addr} is not the address of publicKey")));
            }
        }
        let nonce = match self.nonce {
            Some(n) => n,
            None if complete => return Err(need("nonce")),
            None => 0,
        };
        let fee = match self.fee {
            Some(f) => f,
            None if complete => return Err(need("fee")),
            None => 0,
        };
        Ok(Tx {
            chain_id: self.chain_id.clone().unwrap_or_else(|| spec.chain_id.clone()),
            sender,
            nonce,
            fee,
            priority: self.priority.unwrap_or_default(),
            payload: self.payload(spec)?,
        })
    }

    pub fn to_signed(&self, spec: &ChainSpec) -> Result<SignedTx, ErrorObjectOwned> {
        let tx = self.to_tx(spec, true)?;
        let sig = self.sig.as_deref().ok_or_else(|| decode_err("field `sig` is required"))?;
        let signature = sig.parse::<Signature>().map_err(|e| decode_err(format!("sig: {e}")))?;
        Ok(SignedTx { tx, signature })
    }
}

/// A payload in the JSON form `tx_send` accepts.
pub fn payload_to_json(p: &Payload, hrp: &str) -> Value {
    let transfer = |x: &Transfer| json!({"to": x.to.to_bech32(hrp), "amount": x.amount.to_string()});
    match p {
        Payload::Transfer(x) => transfer(x),
        Payload::Batch(xs) => json!({"transfers": xs.iter().map(transfer).collect::<Vec<_>>()}),
        Payload::JobPost(j) => json!({
            "program": j.program,
            "input": j.input,
            "maxUnits": j.max_units,
            "price": j.price.to_string(),
            "coordinator": j.coordinator.to_bech32(hrp),
            "deadline": j.deadline,
            "verifiers": j.verifiers,
        }),
        Payload::JobCancel(c) => json!({"jobId": c.job_id}),
        Payload::ReceiptClaim(c) => receipt_claim_to_json(c, hrp),
        Payload::Stake(s) | Payload::Unstake(s) => json!({"amount": s.amount.to_string()}),
        Payload::Delegate(d) | Payload::Undelegate(d) => {
            json!({"validator": d.validator.to_bech32(hrp), "amount": d.amount.to_string()})
        }
        Payload::TrialClaim(c) => {
            json!({"anchorHeight": c.anchor_height, "anchorHash": c.anchor_hash, "powNonce": c.pow_nonce})
        }
        Payload::ParamUpdate(u) => json!({"name": u.name, "value": u.value.to_string()}),
        Payload::Unjail => json!({}),
        Payload::Verdict(v) => json!({"receiptId": v.receipt_id, "outputHash": v.output_hash, "units": v.units}),
        Payload::FraudProof(f) => json!({
            "receiptId": f.receipt_id,
            "outputHash": f.output_hash,
            "units": f.units,
            "bond": f.bond.to_string(),
        }),
    }
}

/// The seed's JSON form for a signed tx (what `ergon tx --dry-run` prints).
pub fn tx_to_json(tx: &SignedTx, hrp: &str) -> Value {
    let t = &tx.tx;
    let payload = payload_to_json(&t.payload, hrp);
    json!({
        "type": t.payload.kind(),
        "chainId": t.chain_id,
        "sender": t.sender_address().to_bech32(hrp),
        "publicKey": t.sender.to_hex(),
        "nonce": t.nonce,
        "fee": t.fee.to_string(),
        "priority": t.priority,
        "payload": payload,
        "sig": tx.signature.to_hex(),
    })
}

/// `tx` as JSON (an object in the seed's form) or as a hex string of the protobuf SignedTx.
pub fn parse_tx_param(v: &Value, spec: &ChainSpec) -> Result<SignedTx, ErrorObjectOwned> {
    match v {
        Value::String(s) => {
            let hex_str = s.strip_prefix("0x").unwrap_or(s);
            let bytes = hex::decode(hex_str).map_err(|e| decode_err(format!("tx hex: {e}")))?;
            crate::wire::decode_signed_tx(&bytes, spec.limits.max_tx_bytes as usize)
                .map_err(|e| decode_err(format!("tx protobuf: {e}")))
        }
        Value::Object(_) => {
            let j: JsonTx = from_json(v).map_err(|e| decode_err(format!("tx JSON: {e}")))?;
            j.to_signed(spec)
        }
        _ => Err(invalid_params("param `tx` must be a JSON object or a hex string of a protobuf SignedTx")),
    }
}

/// A block by height (number or decimal string) or by hash.
pub enum BlockId {
    Height(u64),
    Hash(Hash),
}

pub fn parse_block_id(v: &Value) -> Result<BlockId, ErrorObjectOwned> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(BlockId::Height)
            .ok_or_else(|| invalid_params("param `id`: a height must be an integer from 0 to 2^64 - 1")),
        Value::String(s) if s.len() == 66 || s.len() == 64 => {
            s.parse::<Hash>().map(BlockId::Hash).map_err(|e| invalid_params(format!("param `id`: {e}")))
        }
        Value::String(s) => s
            .parse::<u64>()
            .map(BlockId::Height)
            .map_err(|_| invalid_params(format!("param `id`: {s:?} is neither a height nor a 32-byte hash"))),
        _ => Err(invalid_params("param `id` must be a height or a block hash")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadJson {
    pub height: u64,
    pub hash: Hash,
    pub parent_hash: Hash,
    pub timestamp: u64,
    pub state_root: Hash,
    pub tx_count: u32,
}

impl From<&ChainEventHead> for HeadJson {
    fn from(h: &ChainEventHead) -> Self {
        HeadJson {
            height: h.height,
            hash: h.hash,
            parent_hash: h.parent,
            timestamp: h.timestamp_ms,
            state_root: h.state_root,
            tx_count: h.tx_count,
        }
    }
}

pub fn block_to_json(block: &Block, commit: Option<&CommitCertificate>) -> Value {
    let h = &block.header;
    json!({
        "hash": block.hash(),
        "header": {
            "parentHash": h.parent,
            "height": h.height,
            "timestamp": h.timestamp_ms,
            "proposer": h.proposer.to_hex(),
            "txRoot": h.tx_root,
            "stateRoot": h.state_root,
            "txCount": h.tx_count,
            "evidenceRoot": h.evidence_root,
            "receiptsRoot": h.receipts_root,
            "lastCommitHash": h.last_commit_hash,
            "reveal": h.reveal,
        },
        "txs": block.txs.iter().map(|t| t.hash()).collect::<Vec<_>>(),
        "evidence": block.evidence.iter().map(|e| evidence_to_json(e, Some(h.height))).collect::<Vec<_>>(),
        "lastCommit": block.last_commit.as_ref().map(commit_to_json),
        "commit": commit.map(commit_to_json),
    })
}

fn commit_to_json(c: &CommitCertificate) -> Value {
    json!({
        "height": c.height,
        "round": c.round,
        "blockHash": c.block_hash,
        "signatures": c.signatures.iter().map(|(k, s)| json!({"validator": k.to_hex(), "signature": s.to_hex()})).collect::<Vec<_>>(),
    })
}

/// Equivocation evidence: the validator, where it equivocated, and the two votes it signed.
pub fn evidence_to_json(e: &crate::primitives::Evidence, included_in: Option<u64>) -> Value {
    let vote = |v: &crate::consensus::SignedVote| {
        json!({
            "blockHash": v.vote.block_hash,
            "signature": v.signature.to_hex(),
        })
    };
    let v = &e.first.vote;
    json!({
        "validator": e.first.validator.to_hex(),
        "height": v.height,
        "round": v.round,
        "kind": match v.kind {
            crate::primitives::VoteKind::Prevote => "prevote",
            crate::primitives::VoteKind::Precommit => "precommit",
        },
        "first": vote(&e.first),
        "second": vote(&e.second),
        "includedIn": included_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_beyond_u64_are_named_as_written_not_as_floats() {
        let big: Value = serde_json::from_str("18446744073709551616").unwrap();
        assert_eq!(
            from_json::<u64>(&big).unwrap_err(),
            "the integer 18446744073709551616 is out of range; expected u64"
        );
        let frac: Value = serde_json::from_str(r#"{"n": 1.5}"#).unwrap();
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct N {
            n: u64,
        }
        assert_eq!(from_json::<N>(&frac).unwrap_err(), "n: 1.5 is not an integer; expected u64");
        let text: Value = serde_json::from_str(r#""1""#).unwrap();
        assert_eq!(from_json::<u64>(&text).unwrap_err(), "invalid type: string \"1\", expected u64");
        assert!(parse_block_id(&big).is_err());
    }
}
