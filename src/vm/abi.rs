//! The job ABI (DESIGN §11): the three host functions a job may import, and what they cost.
//!
//! ```wat
//! (import "ergon" "input_len"    (func (result i32)))                      ;; bytes of input
//! (import "ergon" "read_input"   (func (param i32 i32 i32) (result i32)))  ;; dst, offset, len -> bytes copied
//! (import "ergon" "write_output" (func (param i32 i32)))                   ;; ptr, len: appends to the output
//! ```
//!
//! Pointers, offsets and lengths are unsigned (an `i32` of -1 is 4 GiB - 1, as for WASM
//! loads and stores). Each call first pays [`host_call_units`] for the bytes it will move,
//! then does its work; a call that traps keeps what it paid, so a failed job's units are as
//! reproducible as a completed one's:
//!
//! - `input_len()` pays the base cost and returns the input's length;
//! - `read_input(dst, offset, len)` copies `n = min(len, input_len - offset)` bytes (0 when
//!   `offset` is at or past the end) from the input to `dst`, pays for `n` bytes, returns `n`;
//!   `dst..dst+n` outside linear memory traps with [`AbiViolation::ReadInputOutOfBounds`];
//! - `write_output(ptr, len)` pays for `len` bytes; appending past
//!   [`super::Limits::max_output_bytes`] fails the job with [`super::JobFailure::OutputLimit`],
//!   and `ptr..ptr+len` outside linear memory traps with
//!   [`AbiViolation::WriteOutputOutOfBounds`].
//!
//! Without a byte cost, one `read_input` of 16 MiB would be a few units for a lot of work.

use super::limits::{JobLimiter, Limits};
use wasmi::{Caller, Engine, Linker, Memory, TrapCode, ValType};

/// The import module of the job ABI.
pub const MODULE: &str = "ergon";
/// The export a job's linear memory must have.
pub const MEMORY: &str = "memory";
/// The export a job's entry point must have.
pub const RUN: &str = "run";

/// Units every host call costs before the bytes it moves: about what a host call costs in
/// operators' worth of time (measured: a loop of `input_len` calls runs at the same units per
/// second as a loop of plain operators), so the ABI is no cheaper than work done in WASM.
/// Part of metering version 1.
pub const HOST_CALL_UNITS: u64 = 32;
/// Bytes a host call copies per unit, rounded up. Part of metering version 1.
pub const HOST_BYTES_PER_UNIT: u64 = 8;

/// What a host call that moves `bytes` bytes costs.
pub fn host_call_units(bytes: u64) -> u64 {
    HOST_CALL_UNITS.saturating_add(bytes.div_ceil(HOST_BYTES_PER_UNIT))
}

/// A function type, as the ABI states it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Signature {
    pub(super) params: &'static [ValType],
    pub(super) results: &'static [ValType],
}

impl Signature {
    pub(super) const RUN: Signature = Signature { params: &[], results: &[] };
}

/// Every import the ABI allows, with its type.
pub(super) const IMPORTS: [(&str, Signature); 3] = [
    ("input_len", Signature { params: &[], results: &[ValType::I32] }),
    ("read_input", Signature { params: &[ValType::I32, ValType::I32, ValType::I32], results: &[ValType::I32] }),
    ("write_output", Signature { params: &[ValType::I32, ValType::I32], results: &[] }),
];

/// A job called the ABI with arguments it cannot honour: a failed job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiViolation {
    #[error("read_input would write {len} bytes at {dst}, past the end of linear memory ({memory_bytes} bytes)")]
    ReadInputOutOfBounds { dst: u32, len: u32, memory_bytes: u64 },
    #[error("write_output would read {len} bytes at {ptr}, past the end of linear memory ({memory_bytes} bytes)")]
    WriteOutputOutOfBounds { ptr: u32, len: u32, memory_bytes: u64 },
}

/// How a host call ends a job, carried through wasmi as its host error.
#[derive(Debug, thiserror::Error)]
pub(super) enum HostTrap {
    #[error(transparent)]
    Abi(AbiViolation),
    #[error("the job's output would pass {max} bytes")]
    OutputLimit { max: usize },
    /// `run` started without the instance's memory recorded: a bug in this module.
    #[error("the host functions ran before the job's memory was known")]
    NoMemory,
}

impl wasmi::errors::HostError for HostTrap {}

/// What the host functions see of a run.
pub(super) struct HostState<'a> {
    input: &'a [u8],
    pub(super) output: Vec<u8>,
    max_output_bytes: usize,
    /// The instance's exported memory, set once it is instantiated.
    pub(super) memory: Option<Memory>,
    pub(super) limiter: JobLimiter,
}

impl<'a> HostState<'a> {
    pub(super) fn new(input: &'a [u8], limits: &Limits) -> Self {
        HostState {
            input,
            output: Vec::new(),
            max_output_bytes: limits.max_output_bytes,
            memory: None,
            limiter: JobLimiter::new(limits),
        }
    }
}

/// A linker that defines exactly the job ABI.
pub(super) fn linker<'a>(engine: &Engine) -> Result<Linker<HostState<'a>>, wasmi::Error> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(MODULE, "input_len", input_len)?;
    linker.func_wrap(MODULE, "read_input", read_input)?;
    linker.func_wrap(MODULE, "write_output", write_output)?;
    Ok(linker)
}

type Host<'c, 'a> = Caller<'c, HostState<'a>>;

fn input_len(mut caller: Host<'_, '_>) -> Result<i32, wasmi::Error> {
    charge(&mut caller, 0)?;
    // The input was checked against `Limits::input_cap`, which is at most i32::MAX.
    i32::try_from(caller.data().input.len()).map_err(|_| wasmi::Error::new("input longer than i32::MAX"))
}

fn read_input(mut caller: Host<'_, '_>, dst: i32, offset: i32, len: i32) -> Result<i32, wasmi::Error> {
    let (dst, offset, len) = (dst as u32, offset as u32, len as u32);
    let input = caller.data().input;
    let rest = input.get(offset as usize..).unwrap_or_default();
    let n = rest.len().min(len as usize);
    charge(&mut caller, n as u64)?;
    let memory = memory(&caller)?;
    let (bytes, _) = memory.data_and_store_mut(&mut caller);
    let memory_bytes = bytes.len() as u64;
    let target = (dst as usize).checked_add(n).and_then(|end| bytes.get_mut(dst as usize..end));
    let (Some(target), Some(source)) = (target, rest.get(..n)) else {
        let len = n as u32; // n <= len
        return Err(wasmi::Error::host(HostTrap::Abi(AbiViolation::ReadInputOutOfBounds { dst, len, memory_bytes })));
    };
    target.copy_from_slice(source);
    i32::try_from(n).map_err(|_| wasmi::Error::new("copied more than i32::MAX bytes"))
}

fn write_output(mut caller: Host<'_, '_>, ptr: i32, len: i32) -> Result<(), wasmi::Error> {
    let (ptr, len) = (ptr as u32, len as u32);
    charge(&mut caller, u64::from(len))?;
    let memory = memory(&caller)?;
    let (bytes, state) = memory.data_and_store_mut(&mut caller);
    let max = state.max_output_bytes;
    if state.output.len().saturating_add(len as usize) > max {
        return Err(wasmi::Error::host(HostTrap::OutputLimit { max }));
    }
    let memory_bytes = bytes.len() as u64;
    let Some(source) = (ptr as usize).checked_add(len as usize).and_then(|end| bytes.get(ptr as usize..end)) else {
        return Err(wasmi::Error::host(HostTrap::Abi(AbiViolation::WriteOutputOutOfBounds { ptr, len, memory_bytes })));
    };
    state.output.extend_from_slice(source);
    Ok(())
}

/// Takes a host call's units from the job's fuel. Short of fuel, the job has spent its budget:
/// it is left with none and fails as out of units, exactly as if WASM code had run out.
fn charge(caller: &mut Host<'_, '_>, bytes: u64) -> Result<(), wasmi::Error> {
    let fuel = caller.get_fuel()?;
    match fuel.checked_sub(host_call_units(bytes)) {
        Some(left) => caller.set_fuel(left),
        None => {
            caller.set_fuel(0)?;
            Err(TrapCode::OutOfFuel.into())
        }
    }
}

fn memory(caller: &Host<'_, '_>) -> Result<Memory, wasmi::Error> {
    caller.data().memory.ok_or_else(|| wasmi::Error::host(HostTrap::NoMemory))
}
