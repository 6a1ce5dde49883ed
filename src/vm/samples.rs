//! Sample jobs, as WAT sources in `jobs/` (each file's header states its input and output
//! formats). Compile one with [`super::compile_wat`].

/// SHA-256 iterated N times. Input: N (u32 LE) then the seed; output: the final digest.
pub const HASHCHAIN: &str = include_str!("../../jobs/hashchain.wat");
/// Integer matrix product. Input: n (u32 LE), A and B (n*n u32 LE each); output: A*B.
pub const MATMUL: &str = include_str!("../../jobs/matmul.wat");
/// Sieve of Eratosthenes. Input: limit (u32 LE); output: the count, then the primes <= limit.
pub const SIEVE: &str = include_str!("../../jobs/sieve.wat");
/// Words separated by ASCII whitespace. Input: any bytes; output: the count (u64 LE).
pub const WORDCOUNT: &str = include_str!("../../jobs/wordcount.wat");

/// Every sample, by name.
pub const ALL: [(&str, &str); 4] =
    [("hashchain", HASHCHAIN), ("matmul", MATMUL), ("sieve", SIEVE), ("wordcount", WORDCOUNT)];
