//! ed25519 keys and signatures (ed25519-dalek), with batch verification.

use super::hash::{tag, Hash};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use parity_scale_codec::{Decode, Encode};
use std::fmt;
use std::str::FromStr;

/// The names of the deterministic development keys, usable wherever a key is asked for on
/// `dev` and `local` chains.
pub const DEV_KEY_NAMES: [&str; 7] = ["alice", "bob", "charlie", "dave", "eve", "ferdie", "faucet"];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid public key: {0}")]
    PublicKey(&'static str),
    #[error("invalid signature encoding: {0}")]
    SignatureEncoding(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("invalid secret key: expected 32 bytes as 64 hex characters")]
    SecretKey,
}

impl PublicKey {
    pub fn verify(&self, msg: &Hash, sig: &Signature) -> Result<(), KeyError> {
        let vk = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::PublicKey("not a valid ed25519 point"))?;
        vk.verify(&msg.0, &ed25519_dalek::Signature::from_bytes(&sig.0)).map_err(|_| KeyError::BadSignature)
    }

    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(0x{}…)", hex::encode(&self.0[..6]))
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{}…)", hex::encode(&self.0[..6]))
    }
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let b = parse_hex::<32>(s).ok_or(KeyError::PublicKey("expected 32 bytes as 64 hex characters"))?;
        VerifyingKey::from_bytes(&b).map_err(|_| KeyError::PublicKey("not a valid ed25519 point"))?;
        Ok(PublicKey(b))
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        parse_hex::<64>(s).map(Signature).ok_or(KeyError::SignatureEncoding("expected 64 bytes as 128 hex characters"))
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl Signature {
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

/// A secret signing key. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Keypair { signing: SigningKey::from_bytes(&secret) }
    }

    pub fn generate<R: rand::RngCore + rand::CryptoRng>(rng: &mut R) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Self::from_secret(secret)
    }

    /// The deterministic development key for `name` (alice, bob, …). Never use on a real chain.
    pub fn dev(name: &str) -> Self {
        Self::from_secret(Hash::digest(tag::DEV_KEY, name.as_bytes()).0)
    }

    /// `name` if it is a dev key name, else `None`.
    pub fn dev_by_name(name: &str) -> Option<Self> {
        DEV_KEY_NAMES.contains(&name).then(|| Self::dev(name))
    }

    pub fn parse_secret_hex(s: &str) -> Result<Self, KeyError> {
        parse_hex::<32>(s.trim()).map(Self::from_secret).ok_or(KeyError::SecretKey)
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, msg: &Hash) -> Signature {
        Signature(self.signing.sign(&msg.0).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

/// Verifies many (key, message, signature) triples at once. Batch verification is about twice
/// as fast as one-by-one; on failure, callers that need to know which one failed fall back to
/// [`verify_each`].
pub fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> Result<(), KeyError> {
    let keys = items.iter().map(|(pk, _, _)| decompress(pk)).collect::<Result<Vec<_>, _>>()?;
    verify_with(items, &keys)
}

/// Per-item verification results, in order.
pub fn verify_each(items: &[(PublicKey, Hash, Signature)]) -> Vec<Result<(), KeyError>> {
    each_after(items, verify_batch(items))
}

/// Per-item results given the batch's: all good, or each checked on its own to find the bad.
fn each_after(items: &[(PublicKey, Hash, Signature)], batch: Result<(), KeyError>) -> Vec<Result<(), KeyError>> {
    match batch {
        Ok(()) => vec![Ok(()); items.len()],
        Err(_) => items.iter().map(|(pk, m, s)| pk.verify(m, s)).collect(),
    }
}

fn decompress(pk: &PublicKey) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&pk.0).map_err(|_| KeyError::PublicKey("not a valid ed25519 point"))
}

/// Batch-verifies `items`, whose keys are already decompressed (`keys[i]` is `items[i].0`);
/// a single one is verified on its own.
fn verify_with(items: &[(PublicKey, Hash, Signature)], keys: &[VerifyingKey]) -> Result<(), KeyError> {
    match (items, keys) {
        ([], _) => return Ok(()),
        ([(_, msg, sig)], [vk]) => {
            let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
            return vk.verify(&msg.0, &sig).map_err(|_| KeyError::BadSignature);
        }
        _ => {}
    }
    let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| m.0.as_slice()).collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
    ed25519_dalek::verify_batch(&msgs, &sigs, keys).map_err(|_| KeyError::BadSignature)
}

/// A node's decompressed public keys, by their bytes. Turning a key's 32 bytes into a curve
/// point takes a square root in the field, about a fifth of a batch verification per signature,
/// and the same senders sign again and again. Bounded: emptied when full.
pub struct KeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<PublicKey, VerifyingKey>>,
    capacity: usize,
}

impl KeyCache {
    pub fn new(capacity: usize) -> Self {
        KeyCache { keys: Default::default(), capacity }
    }

    /// [`verify_batch`] with this cache's keys.
    pub fn verify_batch(&self, items: &[(PublicKey, Hash, Signature)]) -> Result<(), KeyError> {
        verify_with(items, &self.points(items)?)
    }

    /// [`verify_each`] with this cache's keys.
    pub fn verify_each(&self, items: &[(PublicKey, Hash, Signature)]) -> Vec<Result<(), KeyError>> {
        each_after(items, self.verify_batch(items))
    }

    /// The keys of `items`, in order; those not cached are decompressed outside the lock.
    fn points(&self, items: &[(PublicKey, Hash, Signature)]) -> Result<Vec<VerifyingKey>, KeyError> {
        let cached: Vec<Option<VerifyingKey>> = {
            let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            items.iter().map(|(pk, _, _)| keys.get(pk).copied()).collect()
        };
        let mut fresh = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for ((pk, _, _), hit) in items.iter().zip(cached) {
            let vk = match hit {
                Some(vk) => vk,
                None => {
                    let vk = decompress(pk)?;
                    fresh.push((*pk, vk));
                    vk
                }
            };
            out.push(vk);
        }
        if !fresh.is_empty() {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            if keys.len().saturating_add(fresh.len()) > self.capacity {
                keys.clear();
            }
            keys.extend(fresh.into_iter().take(self.capacity));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let k = Keypair::dev("alice");
        let m = Hash::digest(tag::TX, b"hello");
        let s = k.sign(&m);
        assert!(k.public().verify(&m, &s).is_ok());
        let other = Hash::digest(tag::TX, b"hellp");
        assert_eq!(k.public().verify(&other, &s), Err(KeyError::BadSignature));
    }

    #[test]
    fn batch_finds_the_bad_one() {
        let items: Vec<_> = (0u8..8)
            .map(|i| {
                let k = Keypair::from_secret([i + 1; 32]);
                let m = Hash::digest(tag::TX, &[i]);
                (k.public(), m, k.sign(&m))
            })
            .collect();
        assert!(verify_batch(&items).is_ok());
        let mut bad = items.clone();
        bad[5].1 = Hash::ZERO;
        assert!(verify_batch(&bad).is_err());
        let each = verify_each(&bad);
        assert!(each[5].is_err());
        assert_eq!(each.iter().filter(|r| r.is_ok()).count(), 7);
    }

    /// The cache gives the same verdicts as the uncached checks, also once it has been
    /// emptied for being full, and a key that is not a curve point is an error, not a hit.
    #[test]
    fn key_cache_verdicts_match_uncached() {
        let cache = KeyCache::new(3);
        let items: Vec<_> = (0u8..8)
            .map(|i| {
                let k = Keypair::from_secret([i % 4 + 1; 32]);
                let m = Hash::digest(tag::TX, &[i]);
                (k.public(), m, k.sign(&m))
            })
            .collect();
        for round in 0..2 {
            assert!(cache.verify_batch(&items).is_ok(), "round {round}");
            assert!(cache.verify_batch(&items[..1]).is_ok());
            let mut bad = items.clone();
            bad[2].2 = bad[3].2;
            assert_eq!(cache.verify_each(&bad), verify_each(&bad));
            assert!(cache.verify_batch(&bad[2..3]).is_err());
        }
        assert!(cache.keys.lock().unwrap().len() <= 3);
        let mut not_a_point = items.clone();
        not_a_point[0].0 = (0u8..=255)
            .map(|b| PublicKey([b; 32]))
            .find(|pk| VerifyingKey::from_bytes(&pk.0).is_err())
            .expect("some byte pattern is not a point");
        assert!(matches!(cache.verify_batch(&not_a_point), Err(KeyError::PublicKey(_))));
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(Keypair::dev("alice").public(), Keypair::dev("alice").public());
        assert_ne!(Keypair::dev("alice").public(), Keypair::dev("bob").public());
        assert!(Keypair::dev_by_name("mallory").is_none());
    }
}
