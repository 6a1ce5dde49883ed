//! The machine's signature-checking ceiling, measured in the same run as a benchmark so that
//! the figure beside it means the same on a fast machine and a slow, busy one: ed25519 on
//! one thread, and `verify_batch` (batches of 1,024, keys already decompressed, as admission's
//! key cache has them) on every core.

use ergon::primitives::{tag, Hash, KeyCache, Keypair, PublicKey, Signature};
use std::time::Instant;

const BATCH: usize = 1024;
const KEYS: usize = 64;

pub struct Ceiling {
    /// Single verifications per second on one thread.
    pub single: f64,
    /// Batch-verified signatures per second on all cores.
    pub batch: f64,
    pub cores: usize,
}

fn items(batches: usize) -> Vec<(PublicKey, Hash, Signature)> {
    let keys: Vec<Keypair> =
        (0..KEYS).map(|i| Keypair::from_secret(Hash::digest(tag::DEV_KEY, &[i as u8]).0)).collect();
    (0..batches * BATCH)
        .map(|i| {
            let k = &keys[i % KEYS];
            let m = Hash::digest(tag::TX, &(i as u64).to_le_bytes());
            (k.public(), m, k.sign(&m))
        })
        .collect()
}

impl Ceiling {
    pub fn measure() -> Ceiling {
        let cores = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1);
        let work = items(4 * cores);
        let single = {
            let part = &work[..4000.min(work.len())];
            let t = Instant::now();
            for (pk, m, s) in part {
                let _ = pk.verify(m, s);
            }
            part.len() as f64 / t.elapsed().as_secs_f64()
        };
        let cache = KeyCache::new(KEYS);
        let _ = cache.verify_batch(&work[..KEYS]); // decompress the keys once
        let t = Instant::now();
        std::thread::scope(|s| {
            for part in work.chunks(work.len().div_ceil(cores)) {
                let cache = &cache;
                s.spawn(move || part.chunks(BATCH).all(|b| cache.verify_batch(b).is_ok()));
            }
        });
        let batch = work.len() as f64 / t.elapsed().as_secs_f64();
        Ceiling { single, batch, cores }
    }

    /// The ceiling's lines, and `rate` signatures/s as a share of the batch ceiling.
    pub fn print(&self, rate: f64) {
        println!("ed25519 verify, 1 thread:   {:.0} sig/s", self.single);
        println!("ed25519 verify_batch, {} cores: {:.0} sig/s (the ceiling)", self.cores, self.batch);
        println!("signatures checked / ceiling: {:.0}%", 100.0 * rate / self.batch);
    }
}
