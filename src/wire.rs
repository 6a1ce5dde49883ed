//! Protobuf wire format. Generated types stay private to this module; other modules see only
//! `encode_*` / `decode_*` over domain types. Decoding checks every field and says which one
//! was missing or malformed.

use crate::consensus::tendermint::{Proposal, SignedProposal};
use crate::primitives::{
    Address, Block, CommitCertificate, CompactBlock, ComputeReceipt, Delegation, Evidence, FraudProof, Hash, Header,
    JobCancel, JobPost, ParamUpdate, Payload, Priority, PublicKey, ReceiptClaim, SealedTx, Signature, SignedTx,
    SignedVote, StakeAmount, Transfer, TrialClaim, Tx, VerifierVerdict, Vote, VoteKind,
};
use prost::Message;

#[allow(clippy::all, clippy::pedantic)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/ergon.v1.rs"));
}

mod compute;
pub use compute::{
    decode_blob_request, decode_blob_response, decode_receipt_gossip, encode_blob_request, encode_blob_response,
    encode_receipt_gossip, BlobPiece, BlobRequest, ReceiptGossip, BLOB_CHUNK,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("protobuf decode failed: {0}")]
    Decode(String),
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` has {got} bytes, expected {want}")]
    Length { field: &'static str, got: usize, want: usize },
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

pub type Result<T> = std::result::Result<T, WireError>;

fn fixed<const N: usize>(field: &'static str, b: &[u8]) -> Result<[u8; N]> {
    b.try_into().map_err(|_| WireError::Length { field, got: b.len(), want: N })
}

fn u128_from(field: &'static str, b: &[u8]) -> Result<u128> {
    Ok(u128::from_be_bytes(fixed::<16>(field, b)?))
}

fn u128_to(v: u128) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

impl From<&Transfer> for pb::Transfer {
    fn from(t: &Transfer) -> Self {
        pb::Transfer { to: t.to.0.to_vec(), amount: u128_to(t.amount) }
    }
}

impl TryFrom<pb::Transfer> for Transfer {
    type Error = WireError;
    fn try_from(t: pb::Transfer) -> Result<Self> {
        Ok(Transfer { to: Address(fixed("transfer.to", &t.to)?), amount: u128_from("transfer.amount", &t.amount)? })
    }
}

fn hash_from(field: &'static str, b: &[u8]) -> Result<Hash> {
    Ok(Hash(fixed(field, b)?))
}

fn address_from(field: &'static str, b: &[u8]) -> Result<Address> {
    Ok(Address(fixed(field, b)?))
}

fn receipt_to_pb(r: &ComputeReceipt) -> pb::ComputeReceipt {
    pb::ComputeReceipt {
        receipt_id: r.receipt_id.0.to_vec(),
        job_id: r.job_id.0.to_vec(),
        client: r.client.0.to_vec(),
        miner: r.miner.0.to_vec(),
        compute_units: r.compute_units,
        price: u128_to(r.price),
        output_hash: r.output_hash.0.to_vec(),
        metering_version: r.metering_version,
    }
}

fn receipt_from_pb(r: pb::ComputeReceipt) -> Result<ComputeReceipt> {
    Ok(ComputeReceipt {
        receipt_id: hash_from("receipt.receipt_id", &r.receipt_id)?,
        job_id: hash_from("receipt.job_id", &r.job_id)?,
        client: address_from("receipt.client", &r.client)?,
        miner: address_from("receipt.miner", &r.miner)?,
        compute_units: r.compute_units,
        price: u128_from("receipt.price", &r.price)?,
        output_hash: hash_from("receipt.output_hash", &r.output_hash)?,
        metering_version: r.metering_version,
    })
}

fn delegation_to_pb(d: &Delegation) -> pb::Delegation {
    pb::Delegation { validator: d.validator.0.to_vec(), amount: u128_to(d.amount) }
}

fn delegation_from_pb(d: pb::Delegation) -> Result<Delegation> {
    Ok(Delegation {
        validator: address_from("delegation.validator", &d.validator)?,
        amount: u128_from("delegation.amount", &d.amount)?,
    })
}

fn payload_to_pb(p: &Payload) -> pb::tx::Payload {
    match p {
        Payload::Transfer(t) => pb::tx::Payload::Transfer(t.into()),
        Payload::Batch(ts) => pb::tx::Payload::Batch(pb::Batch { transfers: ts.iter().map(Into::into).collect() }),
        Payload::JobPost(j) => pb::tx::Payload::JobPost(pb::JobPost {
            program: j.program.0.to_vec(),
            input: j.input.0.to_vec(),
            max_units: j.max_units,
            price: u128_to(j.price),
            coordinator: j.coordinator.0.to_vec(),
            deadline: j.deadline,
            verifiers: u32::from(j.verifiers),
        }),
        Payload::JobCancel(c) => pb::tx::Payload::JobCancel(pb::JobCancel { job_id: c.job_id.0.to_vec() }),
        Payload::ReceiptClaim(c) => pb::tx::Payload::ReceiptClaim(pb::ReceiptClaim {
            receipt: Some(receipt_to_pb(&c.receipt)),
            miner_key: c.miner_key.0.to_vec(),
            miner_sig: c.miner_sig.0.to_vec(),
            coordinator_key: c.coordinator_key.0.to_vec(),
            attestation: c.attestation.0.to_vec(),
        }),
        Payload::Stake(s) => pb::tx::Payload::Stake(pb::StakeAmount { amount: u128_to(s.amount) }),
        Payload::Unstake(s) => pb::tx::Payload::Unstake(pb::StakeAmount { amount: u128_to(s.amount) }),
        Payload::Delegate(d) => pb::tx::Payload::Delegate(delegation_to_pb(d)),
        Payload::Undelegate(d) => pb::tx::Payload::Undelegate(delegation_to_pb(d)),
        Payload::ParamUpdate(u) => {
            pb::tx::Payload::ParamUpdate(pb::ParamUpdate { name: u.name.clone(), value: u128_to(u.value) })
        }
        Payload::Unjail => pb::tx::Payload::Unjail(pb::Unjail {}),
        Payload::Verdict(v) => pb::tx::Payload::Verdict(pb::Verdict {
            receipt_id: v.receipt_id.0.to_vec(),
            output_hash: v.output_hash.0.to_vec(),
            units: v.units,
        }),
        Payload::FraudProof(f) => pb::tx::Payload::FraudProof(pb::FraudProof {
            receipt_id: f.receipt_id.0.to_vec(),
            output_hash: f.output_hash.0.to_vec(),
            units: f.units,
            bond: u128_to(f.bond),
        }),
        Payload::TrialClaim(c) => pb::tx::Payload::TrialClaim(pb::TrialClaim {
            anchor_height: c.anchor_height,
            anchor_hash: c.anchor_hash.0.to_vec(),
            pow_nonce: c.pow_nonce,
        }),
    }
}

fn payload_from_pb(p: pb::tx::Payload) -> Result<Payload> {
    Ok(match p {
        pb::tx::Payload::Transfer(t) => Payload::Transfer(t.try_into()?),
        pb::tx::Payload::Batch(b) => {
            Payload::Batch(b.transfers.into_iter().map(Transfer::try_from).collect::<Result<_>>()?)
        }
        pb::tx::Payload::JobPost(j) => Payload::JobPost(JobPost {
            program: hash_from("job_post.program", &j.program)?,
            input: hash_from("job_post.input", &j.input)?,
            max_units: j.max_units,
            price: u128_from("job_post.price", &j.price)?,
            coordinator: address_from("job_post.coordinator", &j.coordinator)?,
            deadline: j.deadline,
            verifiers: u8::try_from(j.verifiers).map_err(|_| WireError::Invalid {
                field: "job_post.verifiers",
                reason: format!("{} is over 255", j.verifiers),
            })?,
        }),
        pb::tx::Payload::JobCancel(c) => {
            Payload::JobCancel(JobCancel { job_id: hash_from("job_cancel.job_id", &c.job_id)? })
        }
        pb::tx::Payload::ReceiptClaim(c) => Payload::ReceiptClaim(Box::new(ReceiptClaim {
            receipt: receipt_from_pb(c.receipt.ok_or(WireError::Missing("receipt_claim.receipt"))?)?,
            miner_key: PublicKey(fixed("receipt_claim.miner_key", &c.miner_key)?),
            miner_sig: Signature(fixed("receipt_claim.miner_sig", &c.miner_sig)?),
            coordinator_key: PublicKey(fixed("receipt_claim.coordinator_key", &c.coordinator_key)?),
            attestation: Signature(fixed("receipt_claim.attestation", &c.attestation)?),
        })),
        pb::tx::Payload::Stake(s) => Payload::Stake(StakeAmount { amount: u128_from("stake.amount", &s.amount)? }),
        pb::tx::Payload::Delegate(d) => Payload::Delegate(delegation_from_pb(d)?),
        pb::tx::Payload::Undelegate(d) => Payload::Undelegate(delegation_from_pb(d)?),
        pb::tx::Payload::ParamUpdate(u) => {
            Payload::ParamUpdate(ParamUpdate { name: u.name, value: u128_from("param_update.value", &u.value)? })
        }
        pb::tx::Payload::Unjail(_) => Payload::Unjail,
        pb::tx::Payload::Verdict(v) => Payload::Verdict(VerifierVerdict {
            receipt_id: hash_from("verdict.receipt_id", &v.receipt_id)?,
            output_hash: hash_from("verdict.output_hash", &v.output_hash)?,
            units: v.units,
        }),
        pb::tx::Payload::FraudProof(f) => Payload::FraudProof(FraudProof {
            receipt_id: hash_from("fraud_proof.receipt_id", &f.receipt_id)?,
            output_hash: hash_from("fraud_proof.output_hash", &f.output_hash)?,
            units: f.units,
            bond: u128_from("fraud_proof.bond", &f.bond)?,
        }),
        pb::tx::Payload::TrialClaim(c) => Payload::TrialClaim(TrialClaim {
            anchor_height: c.anchor_height,
            anchor_hash: hash_from("trial_claim.anchor_hash", &c.anchor_hash)?,
            pow_nonce: c.pow_nonce,
        }),
        pb::tx::Payload::Unstake(s) => {
            Payload::Unstake(StakeAmount { amount: u128_from("unstake.amount", &s.amount)? })
        }
    })
}

impl From<&Tx> for pb::Tx {
    fn from(tx: &Tx) -> Self {
        let priority = match tx.priority {
            Priority::Low => pb::Priority::Low,
            Priority::Normal => pb::Priority::Normal,
            Priority::High => pb::Priority::High,
            Priority::Urgent => pb::Priority::Urgent,
        };
        let payload = payload_to_pb(&tx.payload);
        pb::Tx {
            chain_id: tx.chain_id.clone(),
            sender: tx.sender.0.to_vec(),
            nonce: tx.nonce,
            fee: u128_to(tx.fee),
            priority: priority as i32,
            payload: Some(payload),
        }
    }
}

impl TryFrom<pb::Tx> for Tx {
    type Error = WireError;
    fn try_from(tx: pb::Tx) -> Result<Self> {
        let priority = match pb::Priority::try_from(tx.priority) {
            Ok(pb::Priority::Low) => Priority::Low,
            Ok(pb::Priority::Normal) => Priority::Normal,
            Ok(pb::Priority::High) => Priority::High,
            Ok(pb::Priority::Urgent) => Priority::Urgent,
            Err(_) => {
                return Err(WireError::Invalid {
                    field: "tx.priority",
                    reason: format!("unknown value {}", tx.priority),
                })
            }
        };
        let payload = payload_from_pb(tx.payload.ok_or(WireError::Missing("tx.payload"))?)?;
        Ok(Tx {
            chain_id: tx.chain_id,
            sender: PublicKey(fixed("tx.sender", &tx.sender)?),
            nonce: tx.nonce,
            fee: u128_from("tx.fee", &tx.fee)?,
            priority,
            payload,
        })
    }
}

impl From<&SignedTx> for pb::SignedTx {
    fn from(s: &SignedTx) -> Self {
        pb::SignedTx { tx: Some((&s.tx).into()), signature: s.signature.0.to_vec() }
    }
}

impl TryFrom<pb::SignedTx> for SignedTx {
    type Error = WireError;
    fn try_from(s: pb::SignedTx) -> Result<Self> {
        Ok(SignedTx {
            tx: s.tx.ok_or(WireError::Missing("signed_tx.tx"))?.try_into()?,
            signature: Signature(fixed("signed_tx.signature", &s.signature)?),
        })
    }
}

impl From<&Header> for pb::Header {
    fn from(h: &Header) -> Self {
        pb::Header {
            parent: h.parent.0.to_vec(),
            height: h.height,
            timestamp_ms: h.timestamp_ms,
            proposer: h.proposer.0.to_vec(),
            tx_root: h.tx_root.0.to_vec(),
            state_root: h.state_root.0.to_vec(),
            tx_count: h.tx_count,
            evidence_root: h.evidence_root.0.to_vec(),
            receipts_root: h.receipts_root.0.to_vec(),
            last_commit_hash: h.last_commit_hash.0.to_vec(),
            reveal: h.reveal.0.to_vec(),
        }
    }
}

impl TryFrom<pb::Header> for Header {
    type Error = WireError;
    fn try_from(h: pb::Header) -> Result<Self> {
        Ok(Header {
            parent: Hash(fixed("header.parent", &h.parent)?),
            height: h.height,
            timestamp_ms: h.timestamp_ms,
            proposer: PublicKey(fixed("header.proposer", &h.proposer)?),
            tx_root: Hash(fixed("header.tx_root", &h.tx_root)?),
            state_root: Hash(fixed("header.state_root", &h.state_root)?),
            tx_count: h.tx_count,
            evidence_root: Hash(fixed("header.evidence_root", &h.evidence_root)?),
            receipts_root: Hash(fixed("header.receipts_root", &h.receipts_root)?),
            last_commit_hash: Hash(fixed("header.last_commit_hash", &h.last_commit_hash)?),
            reveal: Hash(fixed("header.reveal", &h.reveal)?),
        })
    }
}

impl From<&Block> for pb::Block {
    fn from(b: &Block) -> Self {
        pb::Block {
            header: Some((&b.header).into()),
            txs: b.txs.iter().map(|t| t.signed().into()).collect(),
            evidence: b.evidence.iter().map(evidence_to_pb).collect(),
            last_commit: b.last_commit.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<pb::Block> for Block {
    type Error = WireError;
    fn try_from(b: pb::Block) -> Result<Self> {
        let header: Header = b.header.ok_or(WireError::Missing("block.header"))?.try_into()?;
        let txs: Vec<SealedTx> =
            b.txs.into_iter().map(|t| SignedTx::try_from(t).map(SealedTx::seal)).collect::<Result<_>>()?;
        if txs.len() != header.tx_count as usize {
            return Err(WireError::Invalid {
                field: "block.txs",
                reason: format!("{} txs but header.tx_count = {}", txs.len(), header.tx_count),
            });
        }
        let evidence = b.evidence.into_iter().map(evidence_from_pb).collect::<Result<_>>()?;
        let last_commit = b.last_commit.map(CommitCertificate::try_from).transpose()?;
        Ok(Block { header, txs, evidence, last_commit })
    }
}

impl From<&CompactBlock> for pb::CompactBlock {
    fn from(b: &CompactBlock) -> Self {
        pb::CompactBlock {
            header: Some((&b.header).into()),
            tx_hashes: b.tx_hashes.iter().flat_map(|h| h.0).collect(),
            evidence: b.evidence.iter().map(evidence_to_pb).collect(),
            last_commit: b.last_commit.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<pb::CompactBlock> for CompactBlock {
    type Error = WireError;
    fn try_from(b: pb::CompactBlock) -> Result<Self> {
        let header: Header = b.header.ok_or(WireError::Missing("compact_block.header"))?.try_into()?;
        let tx_hashes = hashes("compact_block.tx_hashes", &b.tx_hashes)?;
        if tx_hashes.len() != header.tx_count as usize {
            return Err(WireError::Invalid {
                field: "compact_block.tx_hashes",
                reason: format!("{} hashes but header.tx_count = {}", tx_hashes.len(), header.tx_count),
            });
        }
        let evidence = b.evidence.into_iter().map(evidence_from_pb).collect::<Result<_>>()?;
        let last_commit = b.last_commit.map(CommitCertificate::try_from).transpose()?;
        Ok(CompactBlock { header, tx_hashes, evidence, last_commit })
    }
}

/// Packed 32-byte hashes.
fn hashes(field: &'static str, bytes: &[u8]) -> Result<Vec<Hash>> {
    if bytes.len() % 32 != 0 {
        return Err(WireError::Invalid { field, reason: format!("{} bytes is not a multiple of 32", bytes.len()) });
    }
    Ok(bytes.chunks_exact(32).map(|c| Hash(c.try_into().unwrap_or([0; 32]))).collect())
}

fn evidence_to_pb(e: &Evidence) -> pb::Evidence {
    pb::Evidence { first: Some(vote_to_pb(&e.first)), second: Some(vote_to_pb(&e.second)) }
}

fn evidence_from_pb(e: pb::Evidence) -> Result<Evidence> {
    Ok(Evidence {
        first: vote_from_pb(e.first.ok_or(WireError::Missing("evidence.first"))?)?,
        second: vote_from_pb(e.second.ok_or(WireError::Missing("evidence.second"))?)?,
    })
}

impl From<&CommitCertificate> for pb::CommitCertificate {
    fn from(c: &CommitCertificate) -> Self {
        pb::CommitCertificate {
            height: c.height,
            round: c.round,
            block_hash: c.block_hash.0.to_vec(),
            signatures: c
                .signatures
                .iter()
                .map(|(v, s)| pb::CommitSignature { validator: v.0.to_vec(), signature: s.0.to_vec() })
                .collect(),
        }
    }
}

impl TryFrom<pb::CommitCertificate> for CommitCertificate {
    type Error = WireError;
    fn try_from(c: pb::CommitCertificate) -> Result<Self> {
        let signatures = c
            .signatures
            .into_iter()
            .map(|s| {
                Ok((
                    PublicKey(fixed("commit.signatures.validator", &s.validator)?),
                    Signature(fixed("commit.signatures.signature", &s.signature)?),
                ))
            })
            .collect::<Result<_>>()?;
        Ok(CommitCertificate {
            height: c.height,
            round: c.round,
            block_hash: Hash(fixed("commit.block_hash", &c.block_hash)?),
            signatures,
        })
    }
}

fn decode_capped<M: Message + Default>(bytes: &[u8], limit: usize) -> Result<M> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge { size: bytes.len(), limit });
    }
    M::decode(bytes).map_err(|e| WireError::Decode(e.to_string()))
}

/// Txs for the `txs` gossip topic.
pub fn encode_tx_batch<'a>(txs: impl IntoIterator<Item = &'a SignedTx>) -> Vec<u8> {
    pb::TxBatch { txs: txs.into_iter().map(pb::SignedTx::from).collect() }.encode_to_vec()
}

/// Txs for the `txs` gossip topic in as many messages as it takes: each at most `per_batch`
/// txs and `max_bytes` bytes (a tx over `max_bytes` alone is left out: admission refuses such).
pub fn encode_tx_batches<'a>(
    txs: impl IntoIterator<Item = &'a SignedTx>,
    per_batch: usize,
    max_bytes: usize,
) -> Vec<Vec<u8>> {
    let mut batches = Vec::new();
    let (mut out, mut count) = (Vec::new(), 0usize);
    for tx in txs {
        let m = pb::SignedTx::from(tx);
        let len = m.encoded_len();
        // Key (1 byte) and length (at most 10) before the tx.
        let framed = len.saturating_add(11);
        if count > 0 && (count >= per_batch || out.len().saturating_add(framed) > max_bytes) {
            batches.push(std::mem::take(&mut out));
            count = 0;
        }
        if framed > max_bytes {
            continue;
        }
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(len as u64, &mut out);
        m.encode_raw(&mut out);
        count += 1;
    }
    if count > 0 {
        batches.push(out);
    }
    batches
}

/// A tx from the wire, at most `max_tx_bytes`, sealed.
fn sealed_within(t: pb::SignedTx, max_tx_bytes: usize) -> Result<SealedTx> {
    let size = t.encoded_len();
    if size > max_tx_bytes {
        return Err(WireError::TooLarge { size, limit: max_tx_bytes });
    }
    SignedTx::try_from(t).map(SealedTx::seal)
}

/// A gossiped tx batch: at most `limit` bytes in all, each tx at most `max_tx_bytes`, and at
/// least one tx.
pub fn decode_tx_batch(bytes: &[u8], limit: usize, max_tx_bytes: usize) -> Result<Vec<SealedTx>> {
    let batch = decode_capped::<pb::TxBatch>(bytes, limit)?;
    if batch.txs.is_empty() {
        return Err(WireError::Invalid { field: "tx_batch.txs", reason: "is empty".into() });
    }
    batch.txs.into_iter().map(|t| sealed_within(t, max_tx_bytes)).collect()
}

pub fn encode_signed_tx(tx: &SignedTx) -> Vec<u8> {
    pb::SignedTx::from(tx).encode_to_vec()
}

pub fn decode_signed_tx(bytes: &[u8], limit: usize) -> Result<SignedTx> {
    decode_capped::<pb::SignedTx>(bytes, limit)?.try_into()
}

pub fn encode_committed_block(block: &Block, commit: &CommitCertificate) -> Vec<u8> {
    pb::CommittedBlock { block: Some(block.into()), commit: Some(commit.into()) }.encode_to_vec()
}

pub fn decode_committed_block(bytes: &[u8], limit: usize) -> Result<(Block, CommitCertificate)> {
    committed_from_pb(decode_capped::<pb::CommittedBlock>(bytes, limit)?)
}

/// A finalized block as the `blocks` topic carries it: compact.
pub fn encode_compact_committed(block: &CompactBlock, commit: &CommitCertificate) -> Vec<u8> {
    pb::CompactCommittedBlock { block: Some(block.into()), commit: Some(commit.into()) }.encode_to_vec()
}

pub fn decode_compact_committed(bytes: &[u8], limit: usize) -> Result<(CompactBlock, CommitCertificate)> {
    compact_committed_from_pb(decode_capped::<pb::CompactCommittedBlock>(bytes, limit)?)
}

fn compact_committed_from_pb(m: pb::CompactCommittedBlock) -> Result<(CompactBlock, CommitCertificate)> {
    Ok((
        m.block.ok_or(WireError::Missing("compact_committed_block.block"))?.try_into()?,
        m.commit.ok_or(WireError::Missing("compact_committed_block.commit"))?.try_into()?,
    ))
}

fn committed_from_pb(m: pb::CommittedBlock) -> Result<(Block, CommitCertificate)> {
    Ok((
        m.block.ok_or(WireError::Missing("committed_block.block"))?.try_into()?,
        m.commit.ok_or(WireError::Missing("committed_block.commit"))?.try_into()?,
    ))
}

/// A consensus message as it travels: a proposal always carries the block it proposes,
/// compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsensusMessage {
    Proposal { proposal: SignedProposal, block: Box<CompactBlock> },
    Vote(SignedVote),
}

fn vote_to_pb(v: &SignedVote) -> pb::SignedVote {
    let kind = match v.vote.kind {
        VoteKind::Prevote => pb::VoteKind::Prevote,
        VoteKind::Precommit => pb::VoteKind::Precommit,
    };
    pb::SignedVote {
        vote: Some(pb::Vote {
            chain_id: v.vote.chain_id.clone(),
            height: v.vote.height,
            round: v.vote.round,
            kind: kind as i32,
            block_hash: v.vote.block_hash.map(|h| h.0.to_vec()).unwrap_or_default(),
        }),
        validator: v.validator.0.to_vec(),
        signature: v.signature.0.to_vec(),
    }
}

fn vote_from_pb(v: pb::SignedVote) -> Result<SignedVote> {
    let vote = v.vote.ok_or(WireError::Missing("signed_vote.vote"))?;
    let kind = match pb::VoteKind::try_from(vote.kind) {
        Ok(pb::VoteKind::Prevote) => VoteKind::Prevote,
        Ok(pb::VoteKind::Precommit) => VoteKind::Precommit,
        Err(_) => {
            return Err(WireError::Invalid { field: "vote.kind", reason: format!("unknown value {}", vote.kind) })
        }
    };
    let block_hash = match vote.block_hash.len() {
        0 => None,
        _ => Some(Hash(fixed("vote.block_hash", &vote.block_hash)?)),
    };
    Ok(SignedVote {
        vote: Vote { chain_id: vote.chain_id, height: vote.height, round: vote.round, kind, block_hash },
        validator: PublicKey(fixed("signed_vote.validator", &v.validator)?),
        signature: Signature(fixed("signed_vote.signature", &v.signature)?),
    })
}

pub fn encode_consensus(m: &ConsensusMessage) -> Vec<u8> {
    match m {
        ConsensusMessage::Vote(v) => encode_vote(v, 0),
        ConsensusMessage::Proposal { proposal, block } => encode_proposal(proposal, block, 0),
    }
}

/// A vote as it travels; `resend` counts the times it was sent before.
pub fn encode_vote(v: &SignedVote, resend: u32) -> Vec<u8> {
    pb::ConsensusMessage { msg: Some(pb::consensus_message::Msg::Vote(vote_to_pb(v))), resend }.encode_to_vec()
}

/// A proposal and the block it proposes (compact); `resend` counts the times it was sent
/// before.
pub fn encode_proposal(proposal: &SignedProposal, block: &CompactBlock, resend: u32) -> Vec<u8> {
    let p = &proposal.proposal;
    let msg = pb::consensus_message::Msg::Proposal(pb::SignedProposal {
        proposal: Some(pb::Proposal {
            chain_id: p.chain_id.clone(),
            height: p.height,
            round: p.round,
            value: p.value.0.to_vec(),
            valid_round: p.valid_round,
        }),
        proposer: proposal.proposer.0.to_vec(),
        signature: proposal.signature.0.to_vec(),
        block: Some(block.into()),
    });
    pb::ConsensusMessage { msg: Some(msg), resend }.encode_to_vec()
}

/// Decodes a consensus message; a proposal's value must be its block's hash.
pub fn decode_consensus(bytes: &[u8], limit: usize) -> Result<ConsensusMessage> {
    let m = decode_capped::<pb::ConsensusMessage>(bytes, limit)?;
    match m.msg.ok_or(WireError::Missing("consensus_message.msg"))? {
        pb::consensus_message::Msg::Vote(v) => Ok(ConsensusMessage::Vote(vote_from_pb(v)?)),
        pb::consensus_message::Msg::Proposal(sp) => {
            let p = sp.proposal.ok_or(WireError::Missing("signed_proposal.proposal"))?;
            let block: CompactBlock = sp.block.ok_or(WireError::Missing("signed_proposal.block"))?.try_into()?;
            let value = Hash(fixed("proposal.value", &p.value)?);
            if value != block.hash() {
                return Err(WireError::Invalid {
                    field: "proposal.value",
                    reason: "is not the hash of the block it carries".into(),
                });
            }
            let proposal = SignedProposal {
                proposal: Proposal {
                    chain_id: p.chain_id,
                    height: p.height,
                    round: p.round,
                    value,
                    valid_round: p.valid_round,
                },
                proposer: PublicKey(fixed("signed_proposal.proposer", &sp.proposer)?),
                signature: Signature(fixed("signed_proposal.signature", &sp.signature)?),
            };
            Ok(ConsensusMessage::Proposal { proposal, block: Box::new(block) })
        }
    }
}

/// What a peer says about its chain when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub genesis: Hash,
    pub head_height: u64,
    pub head_hash: Hash,
    pub finalized_height: u64,
    pub finalized_hash: Hash,
}

pub fn encode_status(s: &Status) -> Vec<u8> {
    pb::Status {
        genesis_hash: s.genesis.0.to_vec(),
        head_height: s.head_height,
        head_hash: s.head_hash.0.to_vec(),
        finalized_height: s.finalized_height,
        finalized_hash: s.finalized_hash.0.to_vec(),
    }
    .encode_to_vec()
}

pub fn decode_status(bytes: &[u8]) -> Result<Status> {
    let m = decode_capped::<pb::Status>(bytes, 1024)?;
    Ok(Status {
        genesis: Hash(fixed("status.genesis_hash", &m.genesis_hash)?),
        head_height: m.head_height,
        head_hash: Hash(fixed("status.head_hash", &m.head_hash)?),
        finalized_height: m.finalized_height,
        finalized_hash: Hash(fixed("status.finalized_hash", &m.finalized_hash)?),
    })
}

/// Ask for `count` committed blocks from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequest {
    pub from: u64,
    pub count: u32,
}

/// Ask for txs of block `block` (at `height`): those named, or with none named, all from
/// `from_index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTxsRequest {
    pub block: Hash,
    pub height: u64,
    pub hashes: Vec<Hash>,
    pub from_index: u32,
}

/// What the `sync` protocol is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncQuery {
    Blocks(SyncRequest),
    Txs(BlockTxsRequest),
}

pub fn encode_sync_request(q: &SyncQuery) -> Vec<u8> {
    match q {
        SyncQuery::Blocks(r) => pb::SyncRequest { from_height: r.from, count: r.count, txs: None },
        SyncQuery::Txs(r) => pb::SyncRequest {
            from_height: 0,
            count: 0,
            txs: Some(pb::BlockTxsRequest {
                block_hash: r.block.0.to_vec(),
                height: r.height,
                hashes: r.hashes.iter().flat_map(|h| h.0).collect(),
                from_index: r.from_index,
            }),
        },
    }
    .encode_to_vec()
}

pub fn decode_sync_request(bytes: &[u8], limit: usize) -> Result<SyncQuery> {
    let m = decode_capped::<pb::SyncRequest>(bytes, limit)?;
    Ok(match m.txs {
        None => SyncQuery::Blocks(SyncRequest { from: m.from_height, count: m.count }),
        Some(t) => SyncQuery::Txs(BlockTxsRequest {
            block: Hash(fixed("block_txs_request.block_hash", &t.block_hash)?),
            height: t.height,
            hashes: hashes("block_txs_request.hashes", &t.hashes)?,
            from_index: t.from_index,
        }),
    })
}

/// Already-encoded `CommittedBlock`s (as stored) into one response, without decoding and
/// re-encoding them, and the next block compact if it alone was over the limit.
pub fn encode_sync_response(blocks: &[Vec<u8>], partial: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks.iter().map(|b| b.len().saturating_add(8)).sum());
    let fields = blocks.iter().map(|b| (1, b.as_slice())).chain(partial.map(|p| (2, p)));
    for (field, b) in fields {
        prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(b.len() as u64, &mut out);
        out.extend_from_slice(b);
    }
    out
}

/// A sync response: whole blocks, then perhaps one compact block whose txs come separately.
#[derive(Debug, Default)]
pub struct SyncReply {
    pub blocks: Vec<(Block, CommitCertificate)>,
    pub partial: Option<(CompactBlock, CommitCertificate)>,
}

pub fn decode_sync_response(bytes: &[u8], limit: usize) -> Result<SyncReply> {
    let m = decode_capped::<pb::SyncResponse>(bytes, limit)?;
    Ok(SyncReply {
        blocks: m.blocks.into_iter().map(committed_from_pb).collect::<Result<_>>()?,
        partial: m.partial.map(compact_committed_from_pb).transpose()?,
    })
}

/// The answer to a [`BlockTxsRequest`]: `txs` in order, as many as fit in `max_bytes`.
pub fn encode_txs_response<'a>(txs: impl IntoIterator<Item = &'a SignedTx>, max_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for tx in txs {
        let m = pb::SignedTx::from(tx);
        let len = m.encoded_len();
        let before = out.len();
        prost::encoding::encode_key(3, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(len as u64, &mut out);
        if out.len().saturating_add(len) > max_bytes {
            out.truncate(before);
            break;
        }
        m.encode_raw(&mut out);
    }
    out
}

/// Txs answering a [`BlockTxsRequest`], each at most `max_tx_bytes`.
pub fn decode_txs_response(bytes: &[u8], limit: usize, max_tx_bytes: usize) -> Result<Vec<SealedTx>> {
    let m = decode_capped::<pb::SyncResponse>(bytes, limit)?;
    m.txs.into_iter().map(|t| sealed_within(t, max_tx_bytes)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Keypair;
    use parity_scale_codec::Encode;
    use proptest::prelude::*;

    fn arb_transfer() -> impl Strategy<Value = Transfer> {
        (any::<[u8; 20]>(), any::<u128>()).prop_map(|(a, amount)| Transfer { to: Address(a), amount })
    }

    fn arb_tx() -> impl Strategy<Value = SignedTx> {
        let receipt =
            (any::<[u8; 32]>(), any::<u64>(), any::<u128>(), any::<u32>()).prop_map(|(h, units, price, m)| {
                Payload::ReceiptClaim(Box::new(ReceiptClaim {
                    receipt: ComputeReceipt {
                        receipt_id: Hash(h),
                        job_id: Hash([h[0]; 32]),
                        client: Address([1; 20]),
                        miner: Address([2; 20]),
                        compute_units: units,
                        price,
                        output_hash: Hash([h[1]; 32]),
                        metering_version: m,
                    },
                    miner_key: PublicKey(h),
                    miner_sig: Signature([3; 64]),
                    coordinator_key: PublicKey([h[2]; 32]),
                    attestation: Signature([4; 64]),
                }))
            });
        let payload = prop_oneof![
            arb_transfer().prop_map(Payload::Transfer),
            prop::collection::vec(arb_transfer(), 0..5).prop_map(Payload::Batch),
            (any::<[u8; 32]>(), any::<u64>(), any::<u128>(), any::<[u8; 20]>(), any::<u64>(), any::<u8>()).prop_map(
                |(h, max_units, price, a, deadline, verifiers)| Payload::JobPost(JobPost {
                    program: Hash(h),
                    input: Hash([h[0]; 32]),
                    max_units,
                    price,
                    coordinator: Address(a),
                    deadline,
                    verifiers,
                })
            ),
            any::<[u8; 32]>().prop_map(|h| Payload::JobCancel(JobCancel { job_id: Hash(h) })),
            receipt,
            any::<u128>().prop_map(|amount| Payload::Stake(StakeAmount { amount })),
            any::<u128>().prop_map(|amount| Payload::Unstake(StakeAmount { amount })),
            (any::<[u8; 20]>(), any::<u128>())
                .prop_map(|(a, amount)| Payload::Delegate(Delegation { validator: Address(a), amount })),
            (any::<[u8; 20]>(), any::<u128>())
                .prop_map(|(a, amount)| Payload::Undelegate(Delegation { validator: Address(a), amount })),
            ("[a-z_]{0,24}", any::<u128>()).prop_map(|(name, value)| Payload::ParamUpdate(ParamUpdate { name, value })),
            Just(Payload::Unjail),
            (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(r, o, units)| Payload::Verdict(
                VerifierVerdict { receipt_id: Hash(r), output_hash: Hash(o), units }
            )),
            (any::<[u8; 32]>(), any::<u64>(), any::<u128>()).prop_map(|(h, units, bond)| {
                Payload::FraudProof(FraudProof { receipt_id: Hash(h), output_hash: Hash([h[1]; 32]), units, bond })
            }),
            (any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(anchor_height, h, pow_nonce)| {
                Payload::TrialClaim(TrialClaim { anchor_height, anchor_hash: Hash(h), pow_nonce })
            }),
        ];
        let prio =
            prop_oneof![Just(Priority::Low), Just(Priority::Normal), Just(Priority::High), Just(Priority::Urgent)];
        ("[a-z-]{0,12}", any::<u64>(), any::<u128>(), prio, payload, any::<u8>()).prop_map(
            |(chain_id, nonce, fee, priority, payload, k)| {
                let key = Keypair::from_secret([k; 32]);
                Tx { chain_id, sender: key.public(), nonce, fee, priority, payload }.sign(&key)
            },
        )
    }

    fn sample_block(height: u64, proposer: &Keypair) -> Block {
        let header = Header {
            parent: Hash::ZERO,
            height,
            timestamp_ms: 9,
            proposer: proposer.public(),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            tx_count: 0,
            evidence_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            last_commit_hash: Hash::ZERO,
            reveal: Hash::ZERO,
        };
        let signature = proposer.sign(&Hash::ZERO);
        let last_commit = (height > 1).then(|| CommitCertificate {
            height: height - 1,
            round: 2,
            block_hash: Hash([7; 32]),
            signatures: vec![(proposer.public(), signature)],
        });
        let txs: Vec<SealedTx> = (1..=3)
            .map(|nonce| {
                let tx = Tx {
                    chain_id: "c".into(),
                    sender: proposer.public(),
                    nonce,
                    fee: 1,
                    priority: Priority::Normal,
                    payload: Payload::Transfer(Transfer { to: Address([nonce as u8; 20]), amount: 5 }),
                };
                SealedTx::seal(tx.sign(proposer))
            })
            .collect();
        let mut block = Block { header, txs, evidence: vec![], last_commit };
        block.header.last_commit_hash = Block::last_commit_hash(block.last_commit.as_ref());
        block.header.tx_root = Block::tx_root(&block.txs);
        block.header.tx_count = 3;
        block
    }

    proptest! {
        #[test]
        fn signed_tx_roundtrips(tx in arb_tx()) {
            let bytes = encode_signed_tx(&tx);
            prop_assert_eq!(decode_signed_tx(&bytes, 1 << 20).unwrap(), tx);
        }

        /// Sealing hashes one encoding for both hashes: they must equal hashing each part.
        #[test]
        fn sealing_computes_what_hashing_the_parts_does(tx in arb_tx()) {
            let sealed = SealedTx::seal(tx.clone());
            prop_assert_eq!(sealed.hash(), tx.tx.signing_hash());
            prop_assert_eq!(sealed.leaf_hash(), tx.leaf_hash());
            prop_assert_eq!(sealed.size(), tx.encode().len());
            prop_assert_eq!(sealed.encode(), tx.encode());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_signed_tx(&bytes, 1 << 20);
            let _ = decode_consensus(&bytes, 1 << 20);
            let _ = decode_committed_block(&bytes, 1 << 20);
            let _ = decode_compact_committed(&bytes, 1 << 20);
            let _ = decode_sync_request(&bytes, 1 << 20);
            let _ = decode_sync_response(&bytes, 1 << 20);
        }
    }

    #[test]
    fn sync_response_concatenation_is_a_valid_message() {
        let block = sample_block(3, &Keypair::dev("alice"));
        let cert = CommitCertificate { height: 3, round: 0, block_hash: block.hash(), signatures: vec![] };
        let one = encode_committed_block(&block, &cert);
        let compact = CompactBlock::of(&block);
        let partial = encode_compact_committed(&compact, &cert);
        let both = encode_sync_response(&[one.clone(), one], Some(&partial));
        let got = decode_sync_response(&both, 1 << 20).unwrap();
        assert_eq!(got.blocks, vec![(block.clone(), cert.clone()), (block.clone(), cert.clone())]);
        assert_eq!(got.partial, Some((compact.clone(), cert)));
        assert!(decode_sync_response(&both, 10).is_err());
        // The txs that fill it, asked for by hash and by position.
        for q in [
            SyncQuery::Txs(BlockTxsRequest {
                block: block.hash(),
                height: 3,
                hashes: compact.tx_hashes.clone(),
                from_index: 0,
            }),
            SyncQuery::Txs(BlockTxsRequest { block: block.hash(), height: 3, hashes: vec![], from_index: 7 }),
            SyncQuery::Blocks(SyncRequest { from: 9, count: 4 }),
        ] {
            assert_eq!(decode_sync_request(&encode_sync_request(&q), 1 << 20).unwrap(), q);
        }
        let txs = decode_txs_response(
            &encode_txs_response(block.txs.iter().map(SealedTx::signed), 1 << 20),
            1 << 20,
            1 << 16,
        );
        assert_eq!(compact.fill(txs.unwrap()).unwrap(), block);
        // A response stops before the tx that would take it over its limit.
        let whole = encode_txs_response(block.txs.iter().map(SealedTx::signed), 1 << 20).len();
        let cut = encode_txs_response(block.txs.iter().map(SealedTx::signed), whole - 1);
        assert!(cut.len() < whole);
        let got = decode_txs_response(&cut, 1 << 20, 1 << 16).unwrap();
        assert_eq!(got, block.txs[..2].to_vec());
    }

    #[test]
    fn compact_blocks_name_whole_hashes_and_fill_only_with_their_txs() {
        let block = sample_block(3, &Keypair::dev("alice"));
        let mut m = pb::CompactBlock::from(&CompactBlock::of(&block));
        m.tx_hashes.pop();
        let err = CompactBlock::try_from(m.clone()).unwrap_err();
        assert!(matches!(err, WireError::Invalid { field: "compact_block.tx_hashes", .. }), "{err}");
        m.tx_hashes.truncate(m.tx_hashes.len() - 31);
        let err = CompactBlock::try_from(m).unwrap_err();
        assert!(err.to_string().contains("header.tx_count"), "{err}");
        let compact = CompactBlock::of(&block);
        let mut txs = block.txs.clone();
        txs.reverse();
        assert!(matches!(compact.clone().fill(txs), Err(crate::primitives::FillError::Hash { .. })));
        assert!(matches!(compact.clone().fill(vec![]), Err(crate::primitives::FillError::Count { .. })));
        // The same txs signed otherwise: same hashes, another tx root (leaves cover signatures).
        let resigned: Vec<SealedTx> = block
            .txs
            .iter()
            .map(|t| SealedTx::seal(SignedTx { tx: t.signed().tx.clone(), signature: Signature([9; 64]) }))
            .collect();
        assert!(resigned.iter().zip(&block.txs).all(|(a, b)| a.hash() == b.hash()));
        assert!(matches!(compact.fill(resigned), Err(crate::primitives::FillError::Root { .. })));
    }

    #[test]
    fn consensus_messages_roundtrip_and_proposals_must_match_their_block() {
        let key = Keypair::dev("bob");
        let block = sample_block(4, &key);
        let proposal =
            Proposal { chain_id: "c".into(), height: 4, round: 2, value: block.hash(), valid_round: Some(1) };
        let signature = key.sign(&proposal.signing_hash());
        let sp = SignedProposal { proposal, proposer: key.public(), signature };
        let m = ConsensusMessage::Proposal { proposal: sp.clone(), block: Box::new(CompactBlock::of(&block)) };
        assert_eq!(decode_consensus(&encode_consensus(&m), 1 << 20).unwrap(), m);
        for (kind, block_hash) in [(VoteKind::Prevote, None), (VoteKind::Precommit, Some(block.hash()))] {
            let vote = Vote { chain_id: "c".into(), height: 4, round: 2, kind, block_hash };
            let v = SignedVote { signature: key.sign(&vote.signing_hash()), vote, validator: key.public() };
            let m = ConsensusMessage::Vote(v);
            assert_eq!(decode_consensus(&encode_consensus(&m), 1 << 20).unwrap(), m);
        }
        let mut other = block.clone();
        other.header.height = 5;
        let forged = ConsensusMessage::Proposal { proposal: sp, block: Box::new(CompactBlock::of(&other)) };
        let err = decode_consensus(&encode_consensus(&forged), 1 << 20).unwrap_err();
        assert!(matches!(err, WireError::Invalid { field: "proposal.value", .. }), "{err}");
    }

    #[test]
    fn missing_and_short_fields_are_named() {
        let key = Keypair::dev("alice");
        let tx = Tx {
            chain_id: "dev".into(),
            sender: key.public(),
            nonce: 1,
            fee: 1,
            priority: Priority::Normal,
            payload: Payload::Transfer(Transfer { to: Address([1; 20]), amount: 5 }),
        }
        .sign(&key);
        let mut m = pb::SignedTx::from(&tx);
        m.signature.pop();
        let err = decode_signed_tx(&m.encode_to_vec(), 1 << 20).unwrap_err();
        assert_eq!(err, WireError::Length { field: "signed_tx.signature", got: 63, want: 64 });
        m.tx = None;
        assert_eq!(decode_signed_tx(&m.encode_to_vec(), 1 << 20).unwrap_err(), WireError::Missing("signed_tx.tx"));
        assert!(matches!(decode_signed_tx(&[0u8; 100], 10), Err(WireError::TooLarge { .. })));
    }

    #[test]
    fn tx_batches_roundtrip_and_are_bounded() {
        let key = Keypair::dev("bob");
        let txs: Vec<SignedTx> = (1..=3)
            .map(|nonce| {
                let payload = Payload::Transfer(Transfer { to: Address([7; 20]), amount: nonce.into() });
                Tx { chain_id: "c".into(), sender: key.public(), nonce, fee: 1, priority: Priority::Normal, payload }
                    .sign(&key)
            })
            .collect();
        let bytes = encode_tx_batch(&txs);
        let decoded: Vec<SignedTx> =
            decode_tx_batch(&bytes, 1 << 20, 1 << 10).unwrap().into_iter().map(SealedTx::into_inner).collect();
        assert_eq!(decoded, txs);
        assert!(matches!(decode_tx_batch(&bytes, 10, 1 << 10), Err(WireError::TooLarge { .. })), "whole cap");
        assert!(matches!(decode_tx_batch(&bytes, 1 << 20, 10), Err(WireError::TooLarge { .. })), "per-tx cap");
        assert_eq!(encode_tx_batches(&txs, 256, 1 << 20), vec![bytes.clone()], "one message for all");
        // Split by count and by size, every piece within its limit and in order.
        for (per, max) in [(2, 1 << 20), (256, bytes.len() - 1)] {
            let pieces = encode_tx_batches(&txs, per, max);
            assert_eq!(pieces.len(), 2);
            assert!(pieces.iter().all(|p| p.len() <= max));
            let again: Vec<SignedTx> = pieces
                .iter()
                .flat_map(|p| decode_tx_batch(p, max, 1 << 10).unwrap())
                .map(SealedTx::into_inner)
                .collect();
            assert_eq!(again, txs);
        }
        let empty = encode_tx_batch(&[]);
        assert_eq!(
            decode_tx_batch(&empty, 1 << 20, 1 << 10).unwrap_err(),
            WireError::Invalid { field: "tx_batch.txs", reason: "is empty".into() }
        );
    }
}
