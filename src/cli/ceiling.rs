//! The machine's signature-checking ceiling, measured in the same run as a benchmark so that
//! the figure beside it means the same on a fast machine and a slow, busy one: ed25519 on
//! one thread, and `ed25519_dalek::verify_batch` (batches of 1,024, keys already decompressed,
//! as admission's key cache has them) on every core. The ceiling is dalek's own batch, not
//! ergon's (which adds up the terms of signatures by the same key first and so beats it on
//! batches with repeated keys), so that it means the same from one version of ergon to the next.

use ergon::primitives::{tag, Hash, Keypair, PublicKey, Signature};
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

/// One batch in `ed25519_dalek::verify_batch`'s terms, its keys decompressed.
struct Batch {
    msgs: Vec<[u8; 32]>,
    sigs: Vec<ed25519_dalek::Signature>,
    keys: Vec<ed25519_dalek::VerifyingKey>,
}

impl Batch {
    fn of(items: &[(PublicKey, Hash, Signature)]) -> Batch {
        Batch {
            msgs: items.iter().map(|(_, m, _)| m.0).collect(),
            sigs: items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect(),
            keys: items
                .iter()
                .map(|(pk, _, _)| ed25519_dalek::VerifyingKey::from_bytes(&pk.0).unwrap_or_else(|_| unreachable!()))
                .collect(),
        }
    }

    fn verify(&self) -> bool {
        let msgs: Vec<&[u8]> = self.msgs.iter().map(|m| m.as_slice()).collect();
        ed25519_dalek::verify_batch(&msgs, &self.sigs, &self.keys).is_ok()
    }
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
        let batches: Vec<Batch> = work.chunks(BATCH).map(Batch::of).collect();
        let t = Instant::now();
        std::thread::scope(|s| {
            for part in batches.chunks(batches.len().div_ceil(cores)) {
                s.spawn(move || part.iter().all(Batch::verify));
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
