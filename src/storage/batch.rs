//! A block's writes, sorted by column family and key before they reach RocksDB.
//!
//! A memtable is a skiplist that remembers where its last insert landed: a run of ascending
//! keys is inserted from there, while keys in random order (tx hashes, state-tree node keys,
//! account addresses) each search from the top. Measured on `ergon bench`, the memtable
//! inserts of a block commit were the largest single cost of the commit before this.

use super::Store;
use rocksdb::WriteBatch;

/// RocksDB's batch header: sequence number and count.
const BATCH_HEADER: usize = 12;
/// Per write in RocksDB's batch, beside key and value: at most a tag, the column family's id
/// and two lengths, as varints.
const OP_OVERHEAD: usize = 16;

/// Column family, key, value (`None`: a delete).
type Op = (&'static str, Vec<u8>, Option<Vec<u8>>);

#[derive(Default)]
pub(super) struct SortedBatch {
    /// In the order they were staged.
    ops: Vec<Op>,
}

impl SortedBatch {
    /// Keys and values are taken as they are: an encoded key or value (already a `Vec`) is
    /// moved, not copied again.
    pub fn put(&mut self, cf: &'static str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((cf, key.into(), Some(value.into())));
    }

    pub fn delete(&mut self, cf: &'static str, key: impl Into<Vec<u8>>) {
        self.ops.push((cf, key.into(), None));
    }

    /// Sorts the writes by column family and key. The sort is stable, so of two writes to one
    /// key the later still wins.
    pub fn sort(&mut self) {
        self.ops.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    }

    /// Sorted `parts` (see [`SortedBatch::sort`]) as one RocksDB batch, in order. Parts that
    /// write different column families (a block's records, its state-tree nodes) can be staged
    /// and sorted on different threads: each column family's keys are still ascending.
    pub fn join(parts: &[&SortedBatch], store: &Store) -> WriteBatch {
        // Sized once: grown by doubling, RocksDB's buffer was copied and faulted in again
        // and again (a block's batch is tens of MB: 19 MB for 30,000 transfers, 52 MB for
        // 20,000 receipt claims).
        let mut batch = WriteBatch::with_capacity_bytes(BATCH_HEADER + Self::bytes(parts));
        Self::append(parts, &mut batch, store);
        batch
    }

    /// About how many bytes `parts` take in a RocksDB batch (at most this many).
    pub fn bytes(parts: &[&SortedBatch]) -> usize {
        let ops = parts.iter().flat_map(|p| &p.ops);
        ops.map(|(_, k, v)| k.len() + v.as_ref().map_or(0, Vec::len) + OP_OVERHEAD).sum()
    }

    /// Appends `parts`, in order, to `batch` (see [`SortedBatch::join`]).
    pub fn append(parts: &[&SortedBatch], batch: &mut WriteBatch, store: &Store) {
        // Looked up once per column family, not once per write.
        let mut handle = None;
        for (cf, key, value) in parts.iter().flat_map(|p| &p.ops) {
            let handle = match handle {
                Some((name, h)) if name == *cf => h,
                _ => handle.insert((*cf, store.cf(cf))).1,
            };
            match value {
                Some(v) => batch.put_cf(handle, key, v),
                None => batch.delete_cf(handle, key),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorting keeps the meaning of the batch: the last write to a key wins, deletes included.
    #[test]
    fn the_last_write_to_a_key_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = crate::chainspec::ChainSpec::load("dev").expect("dev spec");
        let store = Store::open(dir.path(), &spec).expect("open");
        let mut b = SortedBatch::default();
        b.put(super::super::CF_META, b"zz", b"1".to_vec());
        b.put(super::super::CF_META, b"aa", b"1".to_vec());
        b.delete(super::super::CF_META, b"zz");
        b.put(super::super::CF_META, b"aa", b"2".to_vec());
        b.delete(super::super::CF_META, b"mm");
        b.put(super::super::CF_META, b"mm", b"3".to_vec());
        b.sort();
        store.write(SortedBatch::join(&[&b], &store)).expect("write");
        let get = |k: &[u8]| store.get_raw(super::super::CF_META, k).expect("get");
        assert_eq!(get(b"aa"), Some(b"2".to_vec()));
        assert_eq!(get(b"zz"), None);
        assert_eq!(get(b"mm"), Some(b"3".to_vec()));
    }
}
