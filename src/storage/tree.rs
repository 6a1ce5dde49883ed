//! The state tree's nodes and values in RocksDB: jmt's `TreeReader` over the store, the
//! staging of a `TreeUpdateBatch` into the block's `WriteBatch`, and pruning.
//!
//! Nodes are keyed by their borsh-encoded `NodeKey`. Values are keyed by
//! `key_hash (32) || version (8, big-endian)`, so the newest value at or below a version is one
//! reverse seek away. The stale-node index holds, under each version (8, big-endian), the
//! borsh-encoded keys of the nodes that became stale at it, so what is prunable up to a height
//! is a scan from the start. A block takes two versions ([`state_tree::version_of`]).

use super::{batch::SortedBatch, state_tree, Store, StoreError, CF_JMT_NODES, CF_JMT_STALE, CF_JMT_VALUES};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};
use parity_scale_codec::{Decode, Encode};

/// Versions whose stale nodes one block prunes at most: one more than a block adds (two,
/// [`state_tree::version_of`]), so a backlog (a retention lowered on restart) drains over a
/// few blocks instead of stalling one.
const MAX_VERSIONS_PRUNED_PER_BLOCK: usize = 3;

fn value_key(k: &KeyHash, v: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&k.0);
    out[32..].copy_from_slice(&v.to_be_bytes());
    out
}

/// A value's borsh encoding in a `Vec` of its exact size. `borsh::to_vec` reserves 1 KiB per
/// call, and a block stages tens of thousands of node keys and nodes (tens to a few hundred
/// bytes each) that the batch holds until it is written: hundreds of MB of mostly empty
/// allocations.
fn borsh_exact<T: borsh::BorshSerialize + ?Sized>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(borsh::object_length(value)?);
    value.serialize(&mut out)?;
    Ok(out)
}

fn corrupt(e: std::io::Error) -> StoreError {
    StoreError::Corrupt { cf: CF_JMT_NODES, reason: e.to_string() }
}

/// Stages the tree changes of the block at `height`, and prunes nodes that have been stale
/// for more than the store's retention.
pub(super) fn stage(
    store: &Store,
    batch: &mut SortedBatch,
    update: &TreeUpdateBatch,
    height: u64,
) -> Result<(), StoreError> {
    // A node the block's first step wrote and its second replaced is stale before it is
    // stored: neither it nor its stale-index entry is written.
    let replaced: std::collections::HashSet<&NodeKey> = update
        .stale_node_index_batch
        .iter()
        .map(|s| &s.node_key)
        .filter(|k| state_tree::is_intermediate(k) && update.node_batch.get_node(k).is_some())
        .collect();
    for (key, node) in update.node_batch.nodes() {
        if !replaced.contains(key) {
            batch.put(CF_JMT_NODES, borsh_exact(key).map_err(corrupt)?, borsh_exact(node).map_err(corrupt)?);
        }
    }
    for ((version, key), value) in update.node_batch.values() {
        batch.put(CF_JMT_VALUES, value_key(key, *version), value.encode());
    }
    // One index entry per version (not per node: a block replaces tens of thousands), the
    // node keys that became stale at it.
    let mut stale: std::collections::BTreeMap<u64, Vec<&NodeKey>> = std::collections::BTreeMap::new();
    for s in update.stale_node_index_batch.iter().filter(|s| !replaced.contains(&s.node_key)) {
        stale.entry(s.stale_since_version).or_default().push(&s.node_key);
    }
    for (since, keys) in stale {
        batch.put(CF_JMT_STALE, since.to_be_bytes(), borsh_exact(&keys).map_err(corrupt)?);
    }
    prune(store, batch, height.saturating_sub(store.retention))
}

/// Deletes the nodes that became stale at the versions of heights up to `upto`: no block at or
/// after `upto` reaches them.
fn prune(store: &Store, batch: &mut SortedBatch, upto: u64) -> Result<(), StoreError> {
    if upto == 0 {
        return Ok(());
    }
    let upto = state_tree::version_of(upto);
    let mut it = store.db.raw_iterator_cf(store.cf(CF_JMT_STALE));
    it.seek_to_first();
    let mut pruned = 0usize;
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let since = k.try_into().ok().map(u64::from_be_bytes);
        let Some(since) = since else {
            return Err(StoreError::Corrupt { cf: CF_JMT_STALE, reason: "stale-node key is not a version".into() });
        };
        if since > upto || pruned >= MAX_VERSIONS_PRUNED_PER_BLOCK {
            break;
        }
        let keys: Vec<NodeKey> =
            borsh::from_slice(v).map_err(|e| StoreError::Corrupt { cf: CF_JMT_STALE, reason: e.to_string() })?;
        for key in &keys {
            batch.delete(CF_JMT_NODES, borsh_exact(key).map_err(corrupt)?);
        }
        batch.delete(CF_JMT_STALE, k);
        pruned = pruned.saturating_add(1);
        it.next();
    }
    it.status()?;
    Ok(())
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh_exact(node_key)?;
        match self.db.get_cf(self.cf(CF_JMT_NODES), key)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(&self, max_version: Version, key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_JMT_VALUES));
        it.seek_for_prev(value_key(&key_hash, max_version));
        match (it.key(), it.value()) {
            (Some(k), Some(v)) if k.len() == 40 && k.starts_with(&key_hash.0) => {
                Ok(Option::<Vec<u8>>::decode(&mut &v[..])?)
            }
            _ => {
                it.status()?;
                Ok(None)
            }
        }
    }

    /// Only used to resume an interrupted state restore, which ergon does not do.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("state restore is not supported by this store")
    }
}

/// A tree with nothing in it: the reader for computing the genesis root without a store.
pub(super) struct EmptyTree;

impl TreeReader for EmptyTree {
    fn get_node_option(&self, _: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(None)
    }

    fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(None)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::tree::Blake3;
    use jmt::storage::TreeWriter;

    /// The exact-size encoding is borsh's, byte for byte, for the node keys, nodes and stale
    /// lists a real tree update stages (two versions, so there are internal nodes and stale
    /// ones), and its `Vec` has no spare capacity.
    #[test]
    fn exact_encodings_are_borsh_with_no_spare_capacity() {
        let store = jmt::mock::MockTreeStore::default();
        let tree = jmt::JellyfishMerkleTree::<_, Blake3>::new(&store);
        let mut seen = 0;
        for version in 0..2u64 {
            let values = (0..200u64)
                .map(|i| (KeyHash(*blake3::hash(&i.to_be_bytes()).as_bytes()), Some(vec![version as u8; 40])));
            let (_, update) = tree.put_value_set(values, version).expect("put");
            store.write_node_batch(&update.node_batch).expect("write");
            let check = |bytes: Vec<u8>, want: Vec<u8>| {
                assert_eq!(bytes, want);
                assert_eq!(bytes.capacity(), bytes.len());
            };
            for (key, node) in update.node_batch.nodes() {
                check(borsh_exact(key).unwrap(), borsh::to_vec(key).unwrap());
                check(borsh_exact(node).unwrap(), borsh::to_vec(node).unwrap());
                seen += 1;
            }
            let stale: Vec<&NodeKey> = update.stale_node_index_batch.iter().map(|s| &s.node_key).collect();
            check(borsh_exact(&stale).unwrap(), borsh::to_vec(&stale).unwrap());
        }
        assert!(seen > 400, "{seen} nodes");
    }
}
