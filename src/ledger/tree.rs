//! The authenticated state: a Jellyfish Merkle tree (the `jmt` crate) hashed with BLAKE3,
//! versioned by block height. Every [`StateKey`] is a leaf; values are the records' SCALE bytes.

use super::{Account, StateDiff, StateKey, Supply};
use crate::primitives::{tag, Address, Hash};
use jmt::storage::{TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, SimpleHasher};
use parity_scale_codec::{Decode, Encode};

pub use jmt::proof::SparseMerkleProof;

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("state tree: {0}")]
    Jmt(String),
    #[error("state tree holds an undecodable value: {0}")]
    Corrupt(String),
}

/// BLAKE3 for jmt's internal node hashing.
pub struct Blake3(blake3::Hasher);

impl SimpleHasher for Blake3 {
    fn new() -> Self {
        Blake3(blake3::Hasher::new())
    }
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

pub type Proof = SparseMerkleProof<Blake3>;

/// The tree key of a state record.
pub fn tree_key(k: &StateKey) -> KeyHash {
    KeyHash(Hash::of(tag::STATE_KEY, k).0)
}

pub fn account_key(a: &Address) -> KeyHash {
    tree_key(&StateKey::Account(*a))
}

pub fn supply_key() -> KeyHash {
    tree_key(&StateKey::Supply)
}

/// Writes a diff as version `version`. Returns the new root and the nodes to persist.
pub fn apply_diff<R: TreeReader>(
    reader: &R,
    diff: &StateDiff,
    version: u64,
) -> Result<(Hash, TreeUpdateBatch), TreeError> {
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    // Never empty: the supply is always written. The batch insert builds each touched
    // internal node once for the whole set, where inserting key by key rebuilds (and
    // rehashes) the path from the root for every key.
    let values: Vec<(KeyHash, Option<Vec<u8>>)> = diff
        .accounts
        .iter()
        .map(|(a, acc)| (account_key(a), Some(acc.encode())))
        .chain(std::iter::once((supply_key(), Some(diff.supply.encode()))))
        .chain(diff.records.iter().map(|(k, v)| (tree_key(k), v.clone())))
        .collect();
    // jmt's batch insert cannot delete; a diff that deletes goes key by key (same root).
    let (roots, batch) = if values.iter().all(|(_, v)| v.is_some()) {
        let puts = values.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
        tree.batch_put_value_sets(vec![puts], None, version)
    } else {
        tree.put_value_sets(vec![values], version)
    }
    .map_err(|e| TreeError::Jmt(e.to_string()))?;
    let root = roots.first().ok_or_else(|| TreeError::Jmt("no root for the value set".into()))?;
    Ok((Hash(root.0), batch))
}

pub fn root<R: TreeReader>(reader: &R, version: u64) -> Result<Hash, TreeError> {
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    tree.get_root_hash(version).map(|r| Hash(r.0)).map_err(|e| TreeError::Jmt(e.to_string()))
}

/// An account at `version` with a proof of its presence (or absence) under that version's root.
pub fn prove_account<R: TreeReader>(
    reader: &R,
    a: &Address,
    version: u64,
) -> Result<(Option<Account>, Proof), TreeError> {
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    let (value, proof) = tree.get_with_proof(account_key(a), version).map_err(|e| TreeError::Jmt(e.to_string()))?;
    let account =
        value.map(|v| Account::decode(&mut v.as_slice()).map_err(|e| TreeError::Corrupt(e.to_string()))).transpose()?;
    Ok((account, proof))
}

/// Checks a proof from [`prove_account`] against a state root.
pub fn verify_account_proof(
    root: Hash,
    a: &Address,
    account: Option<&Account>,
    proof: &Proof,
) -> Result<(), TreeError> {
    proof
        .verify(jmt::RootHash(root.0), account_key(a), account.map(|acc| acc.encode()))
        .map_err(|e| TreeError::Jmt(e.to_string()))
}

pub fn decode_supply(bytes: &[u8]) -> Result<Supply, TreeError> {
    Supply::decode(&mut &bytes[..]).map_err(|e| TreeError::Corrupt(e.to_string()))
}
