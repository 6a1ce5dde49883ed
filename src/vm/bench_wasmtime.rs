//! wasmtime's time for the same sample jobs as [`super::bench`], for `ergon bench --vm` built
//! with `--features wasmtime-bench`: how far the job VM (wasmi, an interpreter) is from a JIT
//! on this machine. Benchmark only: no job is ever run or metered with wasmtime.
//!
//! Each sample's program and input are compiled by cranelift and run once on the calling
//! thread, compilation included as for the VM, with host functions that do what
//! [`super::abi`]'s do; the output must equal the VM's. Each runs twice: without fuel
//! (wasmtime's native speed), and with wasmtime's `consume_fuel` on, where the host calls
//! charge [`abi::host_call_units`] as the VM's do.

use super::abi::{self, AbiViolation};
use super::bench::{sample_jobs, BenchResult, Sample};
use super::{output_hash, Limits, ProgramError};
use std::time::{Duration, Instant};
use wasmtime::{Caller, Config, Engine, Linker, Memory, Module, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("wasmtime: {0:#}")]
    Wasmtime(#[from] wasmtime::Error),
    #[error("sample {name}: wasmtime wrote {wasmtime} where the job VM wrote {vm} (output hashes)")]
    OutputMismatch { name: &'static str, vm: String, wasmtime: String },
    #[error("the benchmark's samples and the job VM's results do not line up: a bug in the benchmark")]
    Misaligned,
}

pub type Result<T> = std::result::Result<T, Error>;

/// One sample under wasmtime.
#[derive(Debug, Clone)]
pub struct WasmtimeResult {
    pub name: &'static str,
    /// Compile and run without fuel: wasmtime's native speed.
    pub elapsed: Duration,
    /// Compile and run with `consume_fuel` on.
    pub elapsed_with_fuel: Duration,
}

/// Runs every sample job at `scale` under wasmtime, checking each output against the job
/// VM's run of the same sample in `vm` (from [`super::bench::run_bench`] at the same scale).
pub fn run_bench(scale: u32, vm: &[BenchResult]) -> Result<Vec<WasmtimeResult>> {
    let native = Engine::new(&Config::new())?;
    let fueled = Engine::new(Config::new().consume_fuel(true))?;
    let samples = sample_jobs(scale)?;
    if samples.len() != vm.len() {
        return Err(Error::Misaligned);
    }
    let mut results = Vec::new();
    for (sample, vm) in samples.iter().zip(vm) {
        if sample.name != vm.name {
            return Err(Error::Misaligned);
        }
        let (elapsed, output) = run(&native, sample, false)?;
        check(sample.name, &vm.output, &output)?;
        let (elapsed_with_fuel, output) = run(&fueled, sample, true)?;
        check(sample.name, &vm.output, &output)?;
        results.push(WasmtimeResult { name: sample.name, elapsed, elapsed_with_fuel });
    }
    Ok(results)
}

fn check(name: &'static str, vm: &[u8], wasmtime: &[u8]) -> Result<()> {
    if vm == wasmtime {
        return Ok(());
    }
    let (vm, wasmtime) = (output_hash(vm).to_hex(), output_hash(wasmtime).to_hex());
    Err(Error::OutputMismatch { name, vm, wasmtime })
}

/// Compiles and runs `sample` once; returns the time taken and the output.
fn run(engine: &Engine, sample: &Sample, fuel: bool) -> Result<(Duration, Vec<u8>)> {
    let host = Host {
        input: sample.input.clone(),
        output: Vec::new(),
        max_output_bytes: Limits::default().max_output_bytes,
        memory: None,
    };
    let started = Instant::now();
    let module = Module::new(engine, &sample.program)?;
    let mut store = Store::new(engine, host);
    if fuel {
        store.set_fuel(u64::MAX)?;
    }
    let instance = linker(engine)?.instantiate(&mut store, &module)?;
    let memory =
        instance.get_memory(&mut store, abi::MEMORY).ok_or_else(|| wasmtime::Error::msg("no memory export"))?;
    store.data_mut().memory = Some(memory);
    instance.get_typed_func::<(), ()>(&mut store, abi::RUN)?.call(&mut store, ())?;
    Ok((started.elapsed(), store.into_data().output))
}

/// What the host functions see of a run (the VM's `abi::HostState`, less the limiter).
struct Host {
    input: Vec<u8>,
    output: Vec<u8>,
    max_output_bytes: usize,
    /// The instance's exported memory, set once it is instantiated.
    memory: Option<Memory>,
}

/// The job ABI's three host functions, as [`super::abi`] states them.
fn linker(engine: &Engine) -> Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(abi::MODULE, "input_len", input_len)?;
    linker.func_wrap(abi::MODULE, "read_input", read_input)?;
    linker.func_wrap(abi::MODULE, "write_output", write_output)?;
    Ok(linker)
}

fn input_len(mut caller: Caller<'_, Host>) -> wasmtime::Result<u32> {
    charge(&mut caller, 0)?;
    Ok(u32::try_from(caller.data().input.len())?)
}

fn read_input(mut caller: Caller<'_, Host>, dst: u32, offset: u32, len: u32) -> wasmtime::Result<u32> {
    let n = caller.data().input.len().saturating_sub(offset as usize).min(len as usize);
    charge(&mut caller, n as u64)?;
    let memory = memory(&caller)?;
    let (bytes, host) = memory.data_and_store_mut(&mut caller);
    let source = host.input.get(offset as usize..).and_then(|rest| rest.get(..n));
    let target = (dst as usize).checked_add(n).and_then(|end| bytes.get_mut(dst as usize..end));
    let (Some(target), Some(source)) = (target, source) else {
        let (len, memory_bytes) = (u32::try_from(n)?, bytes.len() as u64);
        return Err(AbiViolation::ReadInputOutOfBounds { dst, len, memory_bytes }.into());
    };
    target.copy_from_slice(source);
    Ok(u32::try_from(n)?)
}

fn write_output(mut caller: Caller<'_, Host>, ptr: u32, len: u32) -> wasmtime::Result<()> {
    charge(&mut caller, u64::from(len))?;
    let memory = memory(&caller)?;
    let (bytes, host) = memory.data_and_store_mut(&mut caller);
    if host.output.len().saturating_add(len as usize) > host.max_output_bytes {
        let max = host.max_output_bytes;
        return Err(wasmtime::Error::msg(format!("the job's output would pass {max} bytes")));
    }
    let Some(source) = (ptr as usize).checked_add(len as usize).and_then(|end| bytes.get(ptr as usize..end)) else {
        let memory_bytes = bytes.len() as u64;
        return Err(AbiViolation::WriteOutputOutOfBounds { ptr, len, memory_bytes }.into());
    };
    host.output.extend_from_slice(source);
    Ok(())
}

/// With fuel on, takes a host call's units from the fuel as the VM does; without, nothing.
fn charge(caller: &mut Caller<'_, Host>, bytes: u64) -> wasmtime::Result<()> {
    // `get_fuel` fails only when the engine does not consume fuel.
    let Ok(fuel) = caller.get_fuel() else { return Ok(()) };
    match fuel.checked_sub(abi::host_call_units(bytes)) {
        Some(left) => caller.set_fuel(left),
        None => Err(wasmtime::Error::msg("the job used all of its units")),
    }
}

fn memory(caller: &Caller<'_, Host>) -> wasmtime::Result<Memory> {
    caller.data().memory.ok_or_else(|| wasmtime::Error::msg("the host functions ran before the job's memory was known"))
}
