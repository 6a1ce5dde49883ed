//! ed25519 keys and signatures (ed25519-dalek), with batch verification.

use super::hash::{tag, Hash};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use curve25519_dalek::Scalar;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
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
    /// Checks `sig` by this key over `msg` with the cofactored equation (see [`verify_batch`]).
    pub fn verify(&self, msg: &Hash, sig: &Signature) -> Result<(), KeyError> {
        verify_one(self, &decompress(self)?, msg, sig)
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
///
/// The rule, here and in [`PublicKey::verify`]: `s` is canonical (below the group order), `R`
/// and `A` decode to curve points, and `[8](sB - R - kA)` is the identity, with
/// `k = SHA-512(R || A || M)` over the encodings as given: the cofactored equation (as in
/// ZIP 215). Every signature a standard signer makes passes it. Unlike the cofactorless check
/// (ed25519-dalek's `verify`), it is one rule for single and batch verification: a signature
/// crafted with a small-order component in `R` passes the cofactorless batch equation for some
/// random weights and fails it for others, so nodes that batch different sets of signatures
/// would disagree about a block. Here a batch passes exactly when each of its signatures would
/// (but for a chance of about 2^-128).
pub fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> Result<(), KeyError> {
    let keys = items.iter().map(|(pk, _, _)| decompress(pk)).collect::<Result<Vec<_>, _>>()?;
    verify_with(items, &keys)
}

/// `sig`'s `s` and its `R` as a point, or an error if either is malformed.
fn parts(sig: &Signature) -> Result<(Scalar, EdwardsPoint), KeyError> {
    let (r, s) = sig.0.split_at(32);
    let s: Option<Scalar> = Scalar::from_canonical_bytes(s.try_into().unwrap_or([0xff; 32])).into();
    let s = s.ok_or(KeyError::BadSignature)?;
    let r = CompressedEdwardsY(r.try_into().unwrap_or_default()).decompress().ok_or(KeyError::BadSignature)?;
    Ok((s, r))
}

/// `k = SHA-512(R || A || M)`, in bytes before its reduction.
fn hram(pk: &PublicKey, msg: &Hash, sig: &Signature) -> [u8; 64] {
    use sha2::Digest;
    sha2::Sha512::new().chain_update(&sig.0[..32]).chain_update(pk.0).chain_update(msg.0).finalize().into()
}

fn verify_one(pk: &PublicKey, vk: &VerifyingKey, msg: &Hash, sig: &Signature) -> Result<(), KeyError> {
    let (s, r) = parts(sig)?;
    let k = Scalar::from_bytes_mod_order_wide(&hram(pk, msg, sig));
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-vk.to_edwards(), &s);
    if (sb_minus_ka - r).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(KeyError::BadSignature)
    }
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
        ([], _) => Ok(()),
        ([(pk, msg, sig)], [vk]) => verify_one(pk, vk, msg, sig),
        _ => verify_merged(items, keys),
    }
}

/// The batch equation (ed25519-dalek's, cofactored) with each key's terms added up before
/// the multiplication:
///
/// `[8]([-sum z_i s_i] B + sum [z_i] R_i + sum over keys A of [sum over i with A_i = A of z_i k_i] A) = 0`
///
/// where the `z_i` are 128-bit weights no signer can predict (BLAKE3 keyed with this process's
/// random key, over every `k_i` and `s_i`). Only the number of points differs from
/// `ed25519_dalek::verify_batch`'s: one per signature and one per distinct key, instead of two
/// per signature. A job's coordinator attests every receipt of its jobs and a miner signs both
/// its receipt and the tx carrying it, so a batch of claims has about two thirds of the
/// points; a batch from distinct senders has as many as before.
fn verify_merged(items: &[(PublicKey, Hash, Signature)], keys: &[VerifyingKey]) -> Result<(), KeyError> {
    static WEIGHT_KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let mut weights = blake3::Hasher::new_keyed(WEIGHT_KEY.get_or_init(rand::random));
    let hrams: Vec<Scalar> = items
        .iter()
        .map(|(pk, msg, sig)| {
            let hram = hram(pk, msg, sig);
            weights.update(&hram);
            weights.update(&sig.0[32..]);
            Scalar::from_bytes_mod_order_wide(&hram)
        })
        .collect();
    let mut weights = weights.finalize_xof();

    let mut scalars = Vec::with_capacity(items.len() + 1);
    let mut points = Vec::with_capacity(items.len() + 1);
    scalars.push(Scalar::ZERO);
    points.push(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
    let mut base = Scalar::ZERO;
    let mut by_key: crate::primitives::FastMap<&[u8; 32], usize> = Default::default();
    let mut key_terms: Vec<(Scalar, EdwardsPoint)> = Vec::new();
    for (((pk, _, sig), vk), hram) in items.iter().zip(keys).zip(&hrams) {
        let (s, r) = parts(sig)?;
        let mut z = [0u8; 16];
        weights.fill(&mut z);
        let z = Scalar::from(u128::from_le_bytes(z));
        base += z * s;
        scalars.push(z);
        points.push(r);
        let zk = z * hram;
        match by_key.entry(&pk.0) {
            std::collections::hash_map::Entry::Occupied(e) => key_terms[*e.get()].0 += zk,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(key_terms.len());
                key_terms.push((zk, vk.to_edwards()));
            }
        }
    }
    scalars[0] = -base;
    for (scalar, point) in key_terms {
        scalars.push(scalar);
        points.push(point);
    }
    if EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(KeyError::BadSignature)
    }
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

    /// `n` good signatures, each by its own key.
    fn signed(n: u8) -> Vec<(PublicKey, Hash, Signature)> {
        (0..n)
            .map(|i| {
                let k = Keypair::from_secret([i + 1; 32]);
                let m = Hash::digest(tag::TX, &[i]);
                (k.public(), m, k.sign(&m))
            })
            .collect()
    }

    #[test]
    fn batch_finds_the_bad_one() {
        let items = signed(8);
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

    /// A signature built with a small-order point added to its `R` (a valid signature under
    /// the cofactored equation, not under dalek's cofactorless `verify`) gets the same verdict
    /// alone and in any batch: dalek's cofactorless batch passes it for some weights only.
    #[test]
    fn a_small_order_r_gets_one_verdict_alone_and_in_batches() {
        use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
        let a = Scalar::from(7_654_321u64);
        let pk = PublicKey((a * B).compress().to_bytes());
        let msg = Hash::digest(tag::TX, b"torsion");
        let sign = |r: Scalar, t: EdwardsPoint| {
            let big_r = (r * B + t).compress().to_bytes();
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&big_r);
            let k = Scalar::from_bytes_mod_order_wide(&hram(&pk, &msg, &Signature(sig)));
            sig[32..].copy_from_slice((r + k * a).as_bytes());
            Signature(sig)
        };
        let torsion = sign(Scalar::from(99u64), EIGHT_TORSION[1]);
        assert_eq!(pk.verify(&msg, &torsion), Ok(()));
        let dalek = VerifyingKey::from_bytes(&pk.0).unwrap();
        assert!(
            ed25519_dalek::Verifier::verify(&dalek, &msg.0, &ed25519_dalek::Signature::from_bytes(&torsion.0)).is_err()
        );
        let honest = signed(6);
        for round in 0..24 {
            let mut batch = honest.clone();
            batch.insert(round % 7, (pk, msg, torsion));
            assert_eq!(verify_batch(&batch), Ok(()), "round {round}");
            batch.push((pk, msg, sign(Scalar::from(round as u64 + 5), EIGHT_TORSION[round % 8])));
            assert_eq!(verify_batch(&batch), Ok(()), "round {round}");
        }
        let mut off = torsion;
        off.0[32] ^= 1;
        assert_eq!(pk.verify(&msg, &off), Err(KeyError::BadSignature));
        let mut batch = honest.clone();
        batch.push((pk, msg, off));
        assert_eq!(verify_batch(&batch), Err(KeyError::BadSignature));
    }

    proptest::proptest! {
        /// Batches with repeated keys (whose terms are added up) and one corruption or none:
        /// the batch passes exactly when every signature passes alone, and agrees with
        /// ed25519-dalek's own batch on these (torsion-free) signatures.
        #[test]
        fn batch_verdict_is_the_single_verdicts_and_dalek_s(
            n in 2usize..24,
            pool in 1u8..5,
            corrupt in 0usize..6,
            at in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut items: Vec<_> = (0..n)
                .map(|i| {
                    let k = Keypair::from_secret([(i as u8 % pool) + 1; 32]);
                    let m = Hash::digest(tag::TX, &(i as u64).to_le_bytes());
                    (k.public(), m, k.sign(&m))
                })
                .collect();
            let j = at.index(n);
            match corrupt {
                1 => items[j].1 = Hash::digest(tag::TX, b"other"),
                2 => items[j].2 .0[40] ^= 4,
                3 => items[j].2 .0[5] ^= 1, // another R: a different point or none
                4 => {
                    // s + l: the same value, not canonical
                    let s = Scalar::from_canonical_bytes(items[j].2 .0[32..].try_into().unwrap()).unwrap();
                    let l_minus_1 = -Scalar::ONE;
                    let mut wide = [0u8; 32];
                    let mut carry = 0u16;
                    for (w, (x, y)) in wide.iter_mut().zip(s.as_bytes().iter().zip(l_minus_1.as_bytes())) {
                        let t = u16::from(*x) + u16::from(*y) + carry;
                        *w = t as u8;
                        carry = t >> 8;
                    }
                    // + 1: s + (l - 1) + 1 = s + l
                    let mut c = 1u16;
                    for w in wide.iter_mut() {
                        let t = u16::from(*w) + c;
                        *w = t as u8;
                        c = t >> 8;
                    }
                    items[j].2 .0[32..].copy_from_slice(&wide);
                }
                5 => items.swap(0, j.max(1)), // still all valid
                _ => {}
            }
            let singles = items.iter().all(|(pk, m, s)| pk.verify(m, s).is_ok());
            proptest::prop_assert_eq!(verify_batch(&items).is_ok(), singles);
            proptest::prop_assert_eq!(KeyCache::new(8).verify_batch(&items).is_ok(), singles);
            let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| m.0.as_slice()).collect();
            let sigs: Vec<_> = items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
            let keys: Vec<_> = items.iter().map(|(pk, _, _)| VerifyingKey::from_bytes(&pk.0).unwrap()).collect();
            proptest::prop_assert_eq!(ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok(), singles);
            proptest::prop_assert_eq!(singles, corrupt == 0 || corrupt == 5);
        }
    }

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(Keypair::dev("alice").public(), Keypair::dev("alice").public());
        assert_ne!(Keypair::dev("alice").public(), Keypair::dev("bob").public());
        assert!(Keypair::dev_by_name("mallory").is_none());
    }
}
