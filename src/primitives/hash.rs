//! 32-byte BLAKE3 digests with domain separation.
//!
//! Every hash in ergon is `BLAKE3(tag || 0x00 || scale_bytes)`. Tags are distinct per kind of
//! object, so a tx hash can never collide with a block hash even if the bytes were equal.

use parity_scale_codec::{Decode, Encode};
use std::fmt;
use std::str::FromStr;

/// Domain tags. Changing one changes every hash of that kind: golden vectors pin them.
pub mod tag {
    pub const TX: &[u8] = b"ergon/tx/v1";
    pub const TX_LEAF: &[u8] = b"ergon/tx-leaf/v1";
    pub const TX_NODE: &[u8] = b"ergon/tx-node/v1";
    pub const HEADER: &[u8] = b"ergon/header/v1";
    pub const VOTE: &[u8] = b"ergon/vote/v1";
    pub const STATE_KEY: &[u8] = b"ergon/state-key/v1";
    pub const DEV_KEY: &[u8] = b"ergon/dev-key/v1";
    pub const PROPOSER_LOTTERY: &[u8] = b"ergon/proposer-lottery/v1";
    pub const EVIDENCE: &[u8] = b"ergon/evidence/v1";
    pub const TX_OUTCOME: &[u8] = b"ergon/tx-outcome/v1";
    pub const GENESIS: &[u8] = b"ergon/genesis/v1";
    pub const RECEIPT: &[u8] = b"ergon/receipt/v1";
    pub const ATTESTATION: &[u8] = b"ergon/attestation/v1";
    pub const TRIAL_POW: &[u8] = b"ergon/trial-pow/v1";
    pub const COMMIT: &[u8] = b"ergon/commit/v1";
    pub const MINER_DRAW: &[u8] = b"ergon/miner-draw/v1";
    pub const VERIFIER_DRAW: &[u8] = b"ergon/verifier-draw/v1";
    pub const REVEAL_SEED: &[u8] = b"ergon/reveal-seed/v1";
    pub const REVEAL: &[u8] = b"ergon/reveal/v1";
    pub const BEACON: &[u8] = b"ergon/beacon/v1";
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    /// BLAKE3 over a domain tag and raw bytes.
    pub fn digest(tag: &[u8], bytes: &[u8]) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(tag);
        h.update(&[0]);
        h.update(bytes);
        Hash(*h.finalize().as_bytes())
    }

    /// BLAKE3 over a domain tag and the SCALE encoding of `value`.
    pub fn of<T: Encode>(tag: &[u8], value: &T) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(tag);
        h.update(&[0]);
        value.using_encoded(|b| {
            h.update(b);
        });
        Hash(*h.finalize().as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}…", hex::encode(&self.0[..6]))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hash: expected 32 bytes as 64 hex characters (optionally 0x-prefixed)")]
pub struct ParseHashError;

impl FromStr for Hash {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseHashError)?;
        Ok(Hash(out))
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = ParseHashError;
    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        Ok(Hash(b.try_into().map_err(|_| ParseHashError)?))
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Binary Merkle root over leaf hashes (an odd node is promoted). Empty list: `Hash::ZERO`.
pub fn merkle_root(mut level: Vec<Hash>) -> Hash {
    if level.is_empty() {
        return Hash::ZERO;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => {
                    let mut buf = [0u8; 64];
                    buf[..32].copy_from_slice(&a.0);
                    buf[32..].copy_from_slice(&b.0);
                    Hash::digest(tag::TX_NODE, &buf)
                }
                [a] => *a,
                _ => Hash::ZERO,
            })
            .collect();
    }
    level.first().copied().unwrap_or(Hash::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_separate_domains() {
        assert_ne!(Hash::digest(tag::TX, b"x"), Hash::digest(tag::HEADER, b"x"));
    }

    #[test]
    fn hex_roundtrip() {
        let h = Hash::digest(tag::TX, b"abc");
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert!("0x12".parse::<Hash>().is_err());
    }

    #[test]
    fn merkle_root_shapes() {
        let l: Vec<Hash> = (0u8..3).map(|i| Hash::digest(tag::TX_LEAF, &[i])).collect();
        assert_eq!(merkle_root(vec![]), Hash::ZERO);
        assert_eq!(merkle_root(vec![l[0]]), l[0]);
        let r3 = merkle_root(l.clone());
        let r2 = merkle_root(l[..2].to_vec());
        assert_ne!(r3, r2);
        let mut swapped = l.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(swapped), r3);
    }
}
