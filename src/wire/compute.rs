//! Wire forms of the compute exchange between nodes: `blobs` requests and responses, and the
//! `receipts` gossip topic (a miner's receipt for attestation, the coordinator's attestation).

use super::{decode_capped, fixed, hash_from, pb, receipt_from_pb, receipt_to_pb, Result, WireError};
use crate::primitives::{ComputeReceipt, Hash, PublicKey, Signature};
use prost::Message;

/// Largest piece of a blob one `blobs` response carries (libp2p implementations accept
/// frames of this size; a blob of up to 16 MiB comes in 16 pieces).
pub const BLOB_CHUNK: usize = 1 << 20;

/// A piece of the blob `hash` from byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRequest {
    pub hash: Hash,
    pub offset: u64,
}

/// `None`: the peer does not hold it. Otherwise the blob's whole length and the bytes from
/// the requested offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPiece {
    pub total: u64,
    pub data: Vec<u8>,
}

pub fn encode_blob_request(r: &BlobRequest) -> Vec<u8> {
    pb::BlobRequest { hash: r.hash.0.to_vec(), offset: r.offset }.encode_to_vec()
}

pub fn decode_blob_request(bytes: &[u8]) -> Result<BlobRequest> {
    let m: pb::BlobRequest = decode_capped(bytes, 128)?;
    Ok(BlobRequest { hash: hash_from("blob_request.hash", &m.hash)?, offset: m.offset })
}

pub fn encode_blob_response(piece: Option<&BlobPiece>) -> Vec<u8> {
    match piece {
        Some(p) => pb::BlobResponse { found: true, total: p.total, data: p.data.clone() },
        None => pb::BlobResponse { found: false, total: 0, data: Vec::new() },
    }
    .encode_to_vec()
}

pub fn decode_blob_response(bytes: &[u8]) -> Result<Option<BlobPiece>> {
    let m: pb::BlobResponse = decode_capped(bytes, BLOB_CHUNK.saturating_add(64))?;
    if !m.found {
        return Ok(None);
    }
    if m.data.len() > BLOB_CHUNK {
        return Err(WireError::TooLarge { size: m.data.len(), limit: BLOB_CHUNK });
    }
    Ok(Some(BlobPiece { total: m.total, data: m.data }))
}

/// A message on the `receipts` topic. Both carry the whole receipt, so any relay can check
/// the signature before forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptGossip {
    /// A miner's signed receipt, asking the job's coordinator to attest it.
    Request { receipt: ComputeReceipt, miner_key: PublicKey, miner_sig: Signature },
    /// The coordinator's attestation of a receipt.
    Attestation { receipt: ComputeReceipt, coordinator_key: PublicKey, attestation: Signature },
}

impl ReceiptGossip {
    pub fn receipt(&self) -> &ComputeReceipt {
        match self {
            ReceiptGossip::Request { receipt, .. } | ReceiptGossip::Attestation { receipt, .. } => receipt,
        }
    }

    /// Whether the message's signature is its signer's over the receipt (the miner's over its
    /// signing hash, the coordinator's over its attestation hash).
    pub fn signature_ok(&self) -> bool {
        match self {
            ReceiptGossip::Request { receipt, miner_key, miner_sig } => {
                miner_key.verify(&receipt.signing_hash(), miner_sig).is_ok()
            }
            ReceiptGossip::Attestation { receipt, coordinator_key, attestation } => {
                coordinator_key.verify(&receipt.attestation_hash(), attestation).is_ok()
            }
        }
    }
}

pub fn encode_receipt_gossip(m: &ReceiptGossip) -> Vec<u8> {
    let msg = match m {
        ReceiptGossip::Request { receipt, miner_key, miner_sig } => {
            pb::receipt_gossip::Msg::Request(pb::ReceiptClaim {
                receipt: Some(receipt_to_pb(receipt)),
                miner_key: miner_key.0.to_vec(),
                miner_sig: miner_sig.0.to_vec(),
                coordinator_key: Vec::new(),
                attestation: Vec::new(),
            })
        }
        ReceiptGossip::Attestation { receipt, coordinator_key, attestation } => {
            pb::receipt_gossip::Msg::Attestation(pb::ReceiptAttestation {
                receipt: Some(receipt_to_pb(receipt)),
                coordinator_key: coordinator_key.0.to_vec(),
                attestation: attestation.0.to_vec(),
            })
        }
    };
    pb::ReceiptGossip { msg: Some(msg) }.encode_to_vec()
}

/// Decodes a `receipts` message (at most 4 KiB: a receipt and two keys and signatures).
pub fn decode_receipt_gossip(bytes: &[u8]) -> Result<ReceiptGossip> {
    let m: pb::ReceiptGossip = decode_capped(bytes, 4096)?;
    match m.msg.ok_or(WireError::Missing("receipt_gossip.msg"))? {
        pb::receipt_gossip::Msg::Request(r) => Ok(ReceiptGossip::Request {
            receipt: receipt_from_pb(r.receipt.ok_or(WireError::Missing("request.receipt"))?)?,
            miner_key: PublicKey(fixed("request.miner_key", &r.miner_key)?),
            miner_sig: Signature(fixed("request.miner_sig", &r.miner_sig)?),
        }),
        pb::receipt_gossip::Msg::Attestation(a) => Ok(ReceiptGossip::Attestation {
            receipt: receipt_from_pb(a.receipt.ok_or(WireError::Missing("attestation.receipt"))?)?,
            coordinator_key: PublicKey(fixed("attestation.coordinator_key", &a.coordinator_key)?),
            attestation: Signature(fixed("attestation.attestation", &a.attestation)?),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{Address, Keypair};

    fn receipt() -> ComputeReceipt {
        ComputeReceipt {
            receipt_id: Hash([1; 32]),
            job_id: Hash([2; 32]),
            client: Address([3; 20]),
            miner: Address([4; 20]),
            compute_units: 5,
            price: 6,
            output_hash: Hash([7; 32]),
            metering_version: 1,
        }
    }

    #[test]
    fn receipt_gossip_round_trips_and_checks_its_signature() {
        let k = Keypair::dev("eve");
        let r = receipt();
        let req =
            ReceiptGossip::Request { miner_sig: k.sign(&r.signing_hash()), miner_key: k.public(), receipt: r.clone() };
        assert_eq!(decode_receipt_gossip(&encode_receipt_gossip(&req)).unwrap(), req);
        assert!(req.signature_ok());
        let att = ReceiptGossip::Attestation {
            attestation: k.sign(&r.signing_hash()), // the wrong hash for an attestation
            coordinator_key: k.public(),
            receipt: r,
        };
        assert_eq!(decode_receipt_gossip(&encode_receipt_gossip(&att)).unwrap(), att);
        assert!(!att.signature_ok());
        assert!(decode_receipt_gossip(&[0xff; 10]).is_err());
        assert!(matches!(decode_receipt_gossip(&[0; 5000]), Err(WireError::TooLarge { .. })));
    }

    #[test]
    fn blob_pieces_round_trip_and_are_capped() {
        let req = BlobRequest { hash: Hash([9; 32]), offset: 1 << 20 };
        assert_eq!(decode_blob_request(&encode_blob_request(&req)).unwrap(), req);
        let piece = BlobPiece { total: 3, data: vec![1, 2, 3] };
        assert_eq!(decode_blob_response(&encode_blob_response(Some(&piece))).unwrap(), Some(piece));
        assert_eq!(decode_blob_response(&encode_blob_response(None)).unwrap(), None);
        let big = BlobPiece { total: 0, data: vec![0; BLOB_CHUNK + 1] };
        assert!(decode_blob_response(&encode_blob_response(Some(&big))).is_err());
    }
}
