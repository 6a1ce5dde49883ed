//! Compute units per second on this machine, for `ergon bench --vm`: each sample job on a
//! sizeable input, run once on the calling thread.

use super::{compile_wat, run, samples, Limits, Outcome, ProgramError, RunError};
use std::time::{Duration, Instant};

/// A sample job as the benchmark runs it: the compiled program and its input.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: &'static str,
    pub program: Vec<u8>,
    pub input: Vec<u8>,
}

/// One sample's run.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub name: &'static str,
    pub units: u64,
    /// Wall time of [`run`], compilation included.
    pub elapsed: Duration,
    /// What the job wrote, for comparing with another engine's run of the same sample.
    pub output: Vec<u8>,
}

impl BenchResult {
    pub fn units_per_second(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Every sample job on an input scaled by `scale` (1 takes a few seconds in a release build).
pub fn sample_jobs(scale: u32) -> Result<Vec<Sample>, ProgramError> {
    let scale = scale.max(1);
    let inputs: [(&'static str, &str, Vec<u8>); 4] = [
        ("hashchain", samples::HASHCHAIN, hashchain_input(50_000u32.saturating_mul(scale))),
        ("matmul", samples::MATMUL, matmul_input(150u32.saturating_mul(scale).min(1_000))),
        ("sieve", samples::SIEVE, 5_000_000u32.saturating_mul(scale).min(50_000_000).to_le_bytes().to_vec()),
        ("wordcount", samples::WORDCOUNT, text_input(4_000_000usize.saturating_mul(scale as usize).min(16 << 20))),
    ];
    inputs.into_iter().map(|(name, source, input)| Ok(Sample { name, program: compile_wat(source)?, input })).collect()
}

/// Runs every sample of [`sample_jobs`] once on the calling thread.
pub fn run_bench(scale: u32) -> Result<Vec<BenchResult>, RunError> {
    let limits = Limits::default();
    let mut results = Vec::new();
    for Sample { name, program, input } in sample_jobs(scale)? {
        let started = Instant::now();
        let execution = run(&program, &input, u64::MAX, &limits)?;
        let elapsed = started.elapsed();
        let output = match execution.outcome {
            Outcome::Completed { output } => output,
            Outcome::Failed(failure) => return Err(RunError::Internal(format!("sample {name} failed: {failure}"))),
        };
        results.push(BenchResult { name, units: execution.units, elapsed, output });
    }
    Ok(results)
}

/// The referee's worst case: a job that uses all of `max_units` (a hash chain too long to
/// finish, run with `max_units` of fuel, as validators re-execute a disputed job), timed on
/// the calling thread, compilation included. Returns the units charged and the time.
pub fn referee_cost(max_units: u64) -> Result<(u64, Duration), RunError> {
    let program = compile_wat(samples::HASHCHAIN)?;
    let input = hashchain_input(u32::MAX);
    let started = Instant::now();
    let execution = run(&program, &input, max_units, &Limits::default())?;
    Ok((execution.units, started.elapsed()))
}

fn hashchain_input(links: u32) -> Vec<u8> {
    let mut input = links.to_le_bytes().to_vec();
    input.extend_from_slice(b"ergon bench");
    input
}

fn matmul_input(n: u32) -> Vec<u8> {
    let mut input = n.to_le_bytes().to_vec();
    let cells = (n as usize).saturating_mul(n as usize).saturating_mul(2);
    input.extend((0..cells).flat_map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()));
    input
}

fn text_input(len: usize) -> Vec<u8> {
    b"the quick brown fox\tjumps over\nthe lazy dog  ".iter().copied().cycle().take(len).collect()
}
