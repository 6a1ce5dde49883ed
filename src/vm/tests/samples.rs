//! The sample jobs: each against an independent Rust implementation, their golden unit
//! counts, and determinism.

use crate::vm::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn program(source: &str) -> Vec<u8> {
    let wasm = compile_wat(source).unwrap();
    validate(&wasm, &Limits::default()).unwrap();
    wasm
}

fn completed(source: &str, input: &[u8]) -> (Vec<u8>, u64) {
    let e = run(&program(source), input, u64::MAX, &Limits::default()).unwrap();
    match e.outcome {
        Outcome::Completed { output } => (output, e.units),
        Outcome::Failed(f) => panic!("the job failed: {f}"),
    }
}

fn failed(source: &str, input: &[u8]) -> JobFailure {
    match run(&program(source), input, 1 << 40, &Limits::default()).unwrap().outcome {
        Outcome::Failed(f) => f,
        Outcome::Completed { output } => panic!("the job completed with {output:?}"),
    }
}

// ---- Independent implementations -------------------------------------------------------

fn hashchain_input(n: u32, seed: &[u8]) -> Vec<u8> {
    [&n.to_le_bytes()[..], seed].concat()
}

fn hashchain(n: u32, seed: &[u8]) -> Vec<u8> {
    (0..n).fold(seed.to_vec(), |h, _| Sha256::digest(&h).to_vec())
}

fn matmul_input(n: usize, a: &[u32], b: &[u32]) -> Vec<u8> {
    let mut input = (n as u32).to_le_bytes().to_vec();
    input.extend(a.iter().chain(b).flat_map(|x| x.to_le_bytes()));
    input
}

fn matmul(n: usize, a: &[u32], b: &[u32]) -> Vec<u8> {
    let mut c = vec![0u32; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = (0..n).fold(0u32, |s, k| s.wrapping_add(a[i * n + k].wrapping_mul(b[k * n + j])));
        }
    }
    c.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// By trial division, so as not to share the sample's algorithm.
fn primes(limit: u32) -> Vec<u8> {
    let primes: Vec<u32> = (2..=limit).filter(|&p| (2..).take_while(|d| d * d <= p).all(|d| p % d != 0)).collect();
    let mut out = (primes.len() as u32).to_le_bytes().to_vec();
    out.extend(primes.iter().flat_map(|p| p.to_le_bytes()));
    out
}

fn wordcount(text: &[u8]) -> Vec<u8> {
    (text.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).count() as u64).to_le_bytes().to_vec()
}

// ---- Differential ----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn hashchain_is_iterated_sha256(n in 0u32..12, seed in prop::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(completed(samples::HASHCHAIN, &hashchain_input(n, &seed)).0, hashchain(n, &seed));
    }

    #[test]
    fn matmul_is_the_wrapping_matrix_product(
        (n, a, b) in (0usize..7).prop_flat_map(|n| {
            let cells = prop::collection::vec(any::<u32>(), n * n);
            (Just(n), cells.clone(), cells)
        })
    ) {
        prop_assert_eq!(completed(samples::MATMUL, &matmul_input(n, &a, &b)).0, matmul(n, &a, &b));
    }

    #[test]
    fn sieve_lists_the_primes(limit in 0u32..5_000) {
        prop_assert_eq!(completed(samples::SIEVE, &limit.to_le_bytes()).0, primes(limit));
    }

    #[test]
    fn wordcount_counts_runs_of_non_whitespace(
        text in prop::collection::vec(prop::sample::select(b" \t\n\x0b\x0c\rab\x80".to_vec()), 0..400)
    ) {
        prop_assert_eq!(completed(samples::WORDCOUNT, &text).0, wordcount(&text));
    }
}

#[test]
fn hashchain_pads_every_tail_length() {
    // Tails of 55, 56 and 63 bytes are where SHA-256 padding needs one block or two.
    for len in 0..=130 {
        let seed: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(completed(samples::HASHCHAIN, &hashchain_input(1, &seed)).0, hashchain(1, &seed), "{len}");
    }
}

#[test]
fn wordcount_carries_a_word_across_64_kib_reads() {
    // Words straddle the 64 KiB read boundary.
    let text: Vec<u8> = b"abc defg h ".iter().copied().cycle().take(200_001).collect();
    assert_eq!(completed(samples::WORDCOUNT, &text).0, wordcount(&text));
    let one_word = vec![b'x'; 3 * 65536 + 1];
    assert_eq!(completed(samples::WORDCOUNT, &one_word).0, 1u64.to_le_bytes());
}

#[test]
fn samples_fail_on_malformed_input() {
    let unreachable = JobFailure::Trap(Trap::Unreachable);
    assert_eq!(failed(samples::HASHCHAIN, b"abc"), unreachable);
    assert_eq!(failed(samples::MATMUL, &matmul_input(2, &[1, 2, 3, 4], &[1, 2, 3])), unreachable);
    assert_eq!(failed(samples::SIEVE, b"12345"), unreachable);
    // A sieve that would pass 64 MiB: memory.grow returns -1, and the job gives up.
    assert_eq!(failed(samples::SIEVE, &(70_000_000u32).to_le_bytes()), unreachable);
}

// ---- Golden units ----------------------------------------------------------------------

/// The fixed inputs the golden counts are measured on.
fn golden_inputs() -> [(&'static str, &'static str, Vec<u8>); 4] {
    let cells: Vec<u32> = (0..2 * 16 * 16u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    let text: Vec<u8> =
        b"the quick brown fox\tjumps over\nthe lazy dog  ".iter().copied().cycle().take(100_000).collect();
    [
        ("hashchain", samples::HASHCHAIN, hashchain_input(1_000, b"ergon")),
        ("matmul", samples::MATMUL, matmul_input(16, &cells[..256], &cells[256..])),
        ("sieve", samples::SIEVE, 100_000u32.to_le_bytes().to_vec()),
        ("wordcount", samples::WORDCOUNT, text),
    ]
}

#[test]
fn golden_unit_counts() {
    // These pin metering version 1: wasmi's operator costs, the host-call costs and the caps.
    // If one changes, the metering changed: bump METERING_VERSION rather than the number.
    let units: Vec<(&str, u64)> =
        golden_inputs().iter().map(|(name, source, input)| (*name, completed(source, input).1)).collect();
    assert_eq!(units, [("hashchain", 8_599_177), ("matmul", 118_571), ("sieve", 4_076_721), ("wordcount", 3_312_684)]);
}

// ---- Determinism -----------------------------------------------------------------------

#[test]
fn runs_are_identical_across_runs_and_engines() {
    // `run` builds its own engine, store and module each time, so two calls share nothing.
    for (name, source, input) in golden_inputs() {
        let wasm = program(source);
        let first = run(&wasm, &input, u64::MAX, &Limits::default()).unwrap();
        let second = run(&wasm, &input, u64::MAX, &Limits::default()).unwrap();
        assert_eq!(first, second, "{name}");
        // A budget cut anywhere short fails the job identically too.
        let short = first.units / 3;
        let cut = run(&wasm, &input, short, &Limits::default()).unwrap();
        assert_eq!(cut, Execution { outcome: Outcome::Failed(JobFailure::OutOfUnits), units: short }, "{name}");
        assert_eq!(run(&wasm, &input, short, &Limits::default()).unwrap(), cut, "{name}");
    }
}
