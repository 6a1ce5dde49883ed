//! The state tree's nodes and values in RocksDB: jmt's `TreeReader` over the store, and the
//! staging of a `TreeUpdateBatch` into the block's `WriteBatch`.
//!
//! Nodes are keyed by their borsh-encoded `NodeKey`. Values are keyed by
//! `key_hash (32) || version (8, big-endian)`, so the newest value at or below a version is one
//! reverse seek away.

use super::{Store, StoreError, CF_JMT_NODES, CF_JMT_VALUES};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};
use parity_scale_codec::{Decode, Encode};
use rocksdb::WriteBatch;

fn value_key(k: &KeyHash, v: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&k.0);
    out[32..].copy_from_slice(&v.to_be_bytes());
    out
}

pub(super) fn stage(store: &Store, batch: &mut WriteBatch, update: &TreeUpdateBatch) -> Result<(), StoreError> {
    let corrupt = |e: std::io::Error| StoreError::Corrupt { cf: CF_JMT_NODES, reason: e.to_string() };
    let nodes = store.cf(CF_JMT_NODES);
    for (key, node) in update.node_batch.nodes() {
        batch.put_cf(nodes, borsh::to_vec(key).map_err(corrupt)?, borsh::to_vec(node).map_err(corrupt)?);
    }
    let values = store.cf(CF_JMT_VALUES);
    for ((version, key), value) in update.node_batch.values() {
        batch.put_cf(values, value_key(key, *version), value.encode());
    }
    Ok(())
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh::to_vec(node_key)?;
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
