//! The job VM: runs a compute job's WASM program on its input and counts the compute units it
//! spent (DESIGN §11). Pure: no IO, no clock, no randomness; bytes in, an [`Execution`] out.
//!
//! AIT is minted for units that a verifier, or the referee inside block validation, can
//! reproduce by re-execution. So the same program, input and budget must give the same
//! output and the same units on every machine, and nothing a job does may crash the node:
//!
//! - wasmi pinned at exactly 2.0.0, eager compilation, floats disabled (rejected at
//!   validation), one memory, no start function, memory, tables and stack capped
//!   ([`Limits`]);
//! - compute units = fuel consumed: wasmi's per-operator fuel (1 per operator; `block`,
//!   `loop`, `end`, `else`, `return`, `nop`, `drop` and `unreachable` free; bulk memory
//!   operations and `memory.grow` 1 more per 64 bytes) plus the ABI's host-call costs
//!   ([`abi::host_call_units`]); a job that runs out has spent its whole budget;
//! - a trap, an ABI violation, running out of units or passing the output cap is a failed
//!   job with its units ([`Outcome::Failed`]); an invalid program is a [`ProgramError`];
//!   this host failing (out of memory) is a [`RunError`], never an outcome;
//! - `memory.grow` past [`Limits::max_memory_bytes`] returns -1 as WASM specifies, and the
//!   job goes on: the cap is the same everywhere, so so is the -1, and a job may well react
//!   to it (a Rust job's allocator aborts with `unreachable`, a failed job).
//!
//! Golden unit counts for the sample jobs (tests.rs) pin all of this: if one changes, the
//! metering changed, and [`METERING_VERSION`] must be bumped.
//!
//! - [`abi`]: the host functions, their costs and the ABI's names;
//! - [`limits`]: the caps and the wasmi configuration;
//! - `validate`, `run`: admission of a program, and execution;
//! - [`samples`]: sample jobs in WAT; [`bench`]: units per second on this machine;
//!   `bench_wasmtime` (feature `wasmtime-bench`): wasmtime's time for the same samples.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod abi;
pub mod bench;
#[cfg(feature = "wasmtime-bench")]
pub mod bench_wasmtime;
pub mod limits;
mod run;
pub mod samples;
mod validate;

#[cfg(test)]
mod tests;

pub use abi::AbiViolation;
pub use limits::Limits;
pub use run::{run, Execution, JobFailure, Outcome, RunError, Trap};
pub use validate::{validate, ProgramError};

use crate::primitives::Hash;

/// The metering that [`run`] counts units with; receipts and jobs carry it. Version 1 is:
/// wasmi 2.0.0's default operator costs, 64 bytes per unit for bulk memory operations,
/// [`abi::HOST_CALL_UNITS`] plus one unit per [`abi::HOST_BYTES_PER_UNIT`] bytes for each host
/// call, and [`Limits::default`].
pub const METERING_VERSION: u32 = 1;

/// The address of a blob (program, input or output): its BLAKE3 hash, as the blob store and
/// `ergon job post` compute it.
pub fn blob_hash(bytes: &[u8]) -> Hash {
    Hash(*blake3::hash(bytes).as_bytes())
}

/// A program's address, as in `JobPost::program`.
pub fn program_hash(program: &[u8]) -> Hash {
    blob_hash(program)
}

/// An output's address, as in `ComputeReceipt::output_hash`.
pub fn output_hash(output: &[u8]) -> Hash {
    blob_hash(output)
}

/// Compiles WAT text to WASM bytes, for job authors and the sample jobs. The result still has
/// to pass [`validate`].
pub fn compile_wat(source: &str) -> Result<Vec<u8>, ProgramError> {
    wat::parse_str(source).map_err(|e| ProgramError::Wat(e.to_string()))
}
