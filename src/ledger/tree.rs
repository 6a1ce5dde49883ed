//! The authenticated state: a Jellyfish Merkle tree (the `jmt` crate) hashed with BLAKE3,
//! two versions per block height ([`version_of`]). Every [`StateKey`] is a leaf; values are the records' SCALE bytes.

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

/// The tree version that holds the state after the block at `height`. Each block takes two
/// versions: its writes go in at `2h - 1` with jmt's batch insert (each touched internal node
/// built and hashed once for the whole set), and its deletes at `2h`, key by key, on top of
/// that (jmt's batch insert cannot delete, and inserting every key of a block one by one
/// rebuilds and rehashes the path from the root for each: a block of receipt claims, each of
/// which deletes its job's draw, took twice as long that way). Genesis is version 0.
pub fn version_of(height: u64) -> jmt::Version {
    height.saturating_mul(2)
}

/// Writes the diff of the block at `height`. Returns the new root and the nodes to persist.
pub fn apply_diff<R: TreeReader>(
    reader: &R,
    diff: &StateDiff,
    height: u64,
) -> Result<(Hash, TreeUpdateBatch), TreeError> {
    let jmt_err = |e: anyhow::Error| TreeError::Jmt(e.to_string());
    let supply = (supply_key(), diff.supply.encode());
    let mut puts: Vec<(KeyHash, Vec<u8>)> =
        Vec::with_capacity(diff.accounts.len().saturating_add(diff.records.len()).saturating_add(1));
    puts.extend(diff.accounts.iter().map(|(a, acc)| (account_key(a), acc.encode())));
    puts.push(supply.clone());
    let mut deletes: Vec<(KeyHash, Option<Vec<u8>>)> = Vec::new();
    for (k, v) in &diff.records {
        match v {
            Some(v) => puts.push((tree_key(k), v.clone())),
            None => deletes.push((tree_key(k), None)),
        }
    }
    let version = version_of(height);
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    let (roots, batch) = if height == 0 {
        // Genesis: one version, and nothing to delete.
        if !deletes.is_empty() {
            return Err(TreeError::Jmt("genesis cannot delete".into()));
        }
        tree.batch_put_value_sets(vec![puts], None, version).map_err(jmt_err)?
    } else {
        let (_, mut batch) = tree.batch_put_value_sets(vec![puts], None, version.saturating_sub(1)).map_err(jmt_err)?;
        // The deletes, and the supply again so that the version is never empty.
        deletes.push((supply.0, Some(supply.1)));
        let staged = Staged { base: reader, batch: &batch };
        let (roots, second) = jmt::JellyfishMerkleTree::<_, Blake3>::new(&staged)
            .put_value_sets(vec![deletes], version)
            .map_err(jmt_err)?;
        // The first step's nodes that the second replaced are in its stale index: the store
        // leaves them out ([`is_intermediate`]).
        batch.node_batch.merge(second.node_batch);
        batch.stale_node_index_batch.extend(second.stale_node_index_batch);
        batch.node_stats.extend(second.node_stats);
        (roots, batch)
    };
    let root = roots.last().ok_or_else(|| TreeError::Jmt("no root for the value set".into()))?;
    Ok((Hash(root.0), batch))
}

/// Whether `node` was written by the first step of a block (an odd version), and so is
/// reachable only from that step's root, which no reader asks for: once the second step has
/// replaced it, it need not be stored at all.
pub fn is_intermediate(node: &jmt::storage::NodeKey) -> bool {
    node.version() % 2 == 1
}

/// A reader that sees the first step's nodes over the stored tree.
struct Staged<'a, R> {
    base: &'a R,
    batch: &'a TreeUpdateBatch,
}

impl<R: TreeReader> TreeReader for Staged<'_, R> {
    fn get_node_option(&self, key: &jmt::storage::NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
        match self.batch.node_batch.get_node(key) {
            Some(node) => Ok(Some(node.clone())),
            None => self.base.get_node_option(key),
        }
    }

    fn get_value_option(&self, max_version: jmt::Version, key: KeyHash) -> anyhow::Result<Option<jmt::OwnedValue>> {
        let staged = self.batch.node_batch.values().range(..=(max_version, key)).rev().find(|((_, k), _)| *k == key);
        match staged {
            Some((_, v)) => Ok(v.clone()),
            None => self.base.get_value_option(max_version, key),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(jmt::storage::NodeKey, jmt::storage::LeafNode)>> {
        self.base.get_rightmost_leaf()
    }
}

pub fn root<R: TreeReader>(reader: &R, height: u64) -> Result<Hash, TreeError> {
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    tree.get_root_hash(version_of(height)).map(|r| Hash(r.0)).map_err(|e| TreeError::Jmt(e.to_string()))
}

/// An account after the block at `height` with a proof of its presence (or absence) under
/// that block's state root.
pub fn prove_account<R: TreeReader>(
    reader: &R,
    a: &Address,
    height: u64,
) -> Result<(Option<Account>, Proof), TreeError> {
    let tree = jmt::JellyfishMerkleTree::<R, Blake3>::new(reader);
    let (value, proof) =
        tree.get_with_proof(account_key(a), version_of(height)).map_err(|e| TreeError::Jmt(e.to_string()))?;
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
