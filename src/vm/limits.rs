//! The caps a job runs under, and the wasmi configuration that enforces them.
//!
//! Every cap here decides outcomes (a job that recurses 9,000 deep fails under one cap and
//! completes under another), so the values of [`Limits::default`] are part of metering
//! version 1 ([`super::METERING_VERSION`]) exactly like the fuel costs are.

use wasmi::errors::{MemoryError, TableError};
use wasmi::{CompilationMode, Config, CustomFuelCosts, Engine, ResourceLimiter};
use wasmi_core::LimiterError;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The bytes of one WASM page.
pub const PAGE_BYTES: u64 = 64 * 1024;

/// Bytes that `memory.copy`, `memory.fill`, `memory.grow` and friends move per unit, and
/// that wasmi charges for passing call arguments. wasmi 2.0.0's default, restated so that the
/// metering is written down here rather than inherited.
const BYTES_COPIED_PER_UNIT: u32 = 64;

/// Caps on a job's program, input, output and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest program blob. It is compiled eagerly at admission and by every re-executor,
    /// so this bounds the unmetered work a program costs before it runs. Default 4 MiB.
    pub max_program_bytes: usize,
    /// Largest input blob. Default 16 MiB (and never more than `i32::MAX`, which is what
    /// `input_len` can report).
    pub max_input_bytes: usize,
    /// Most bytes a job may append with `write_output`; one more fails the job with
    /// [`super::JobFailure::OutputLimit`]. Default 16 MiB.
    pub max_output_bytes: usize,
    /// Largest linear memory, initial or grown. Default 64 MiB (1024 pages).
    pub max_memory_bytes: usize,
    /// Largest table, initial or grown. Default 65,536 elements.
    pub max_table_elements: u32,
    /// Deepest WASM call stack; one frame more traps with
    /// [`super::Trap::StackOverflow`]. Default 8,192 frames.
    pub max_recursion_depth: usize,
    /// Largest value stack (wasmi's registers for all live frames), in bytes; past it the job
    /// traps with [`super::Trap::StackOverflow`]. Default 8 MiB.
    pub max_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_program_bytes: 4 * MIB,
            max_input_bytes: 16 * MIB,
            max_output_bytes: 16 * MIB,
            max_memory_bytes: 64 * MIB,
            max_table_elements: 65_536,
            max_recursion_depth: 8_192,
            max_stack_bytes: 8 * MIB,
        }
    }
}

impl Limits {
    /// The one engine configuration jobs run under: eager compilation (so every function is
    /// validated and translated before a job starts, and translation is never metered), floats
    /// off, one 32-bit memory (the `memory64` feature is not compiled in), no start
    /// function, fuel on.
    pub(super) fn engine(&self) -> Engine {
        let mut config = Config::default();
        config
            .compilation_mode(CompilationMode::Eager)
            .consume_fuel(true)
            .fuel_cost(CustomFuelCosts {
                bytes_copied_per_fuel: BYTES_COPIED_PER_UNIT,
                // Only lazy compilation charges these; eager compilation is never metered.
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            .floats(false)
            .wasm_multi_memory(false)
            .allow_start_fn(false)
            .set_max_recursion_depth(self.max_recursion_depth)
            // The minimum goes first: wasmi refuses a maximum below its current minimum.
            .set_min_stack_height(self.max_stack_bytes.min(1_000))
            .set_max_stack_height(self.max_stack_bytes);
        Engine::new(&config)
    }

    /// The input cap, never above what `input_len`'s `i32` can report.
    pub(super) fn input_cap(&self) -> usize {
        self.max_input_bytes.min(i32::MAX as usize)
    }
}

/// The store's resource limiter: caps memory and tables, and tells a deterministic refusal
/// (over a cap: `memory.grow` returns -1, as WASM specifies) from this host failing to
/// allocate, which is no outcome of the job at all.
#[derive(Debug)]
pub(super) struct JobLimiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    /// Set when the host could not allocate memory the job was entitled to: the run must be
    /// reported as this node's failure, never as the job's outcome.
    pub(super) host_out_of_memory: bool,
}

impl JobLimiter {
    pub(super) fn new(limits: &Limits) -> Self {
        JobLimiter {
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: usize::try_from(limits.max_table_elements).unwrap_or(usize::MAX),
            host_out_of_memory: false,
        }
    }
}

impl ResourceLimiter for JobLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        Ok(desired <= self.max_memory_bytes && maximum.is_none_or(|max| desired <= max))
    }

    fn memory_grow_failed(&mut self, error: &MemoryError) -> Result<(), LimiterError> {
        // wasmi would turn an allocation failure into `memory.grow` = -1, which the job could
        // observe: a result that depends on this machine. Trap instead, and remember why.
        if matches!(error, MemoryError::OutOfSystemMemory) {
            self.host_out_of_memory = true;
            return Err(LimiterError::ResourceLimiterDeniedAllocation);
        }
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        Ok(desired <= self.max_table_elements && maximum.is_none_or(|max| desired <= max))
    }

    fn table_grow_failed(&mut self, error: &TableError) -> Result<(), LimiterError> {
        if matches!(error, TableError::OutOfSystemMemory) {
            self.host_out_of_memory = true;
            return Err(LimiterError::ResourceLimiterDeniedAllocation);
        }
        Ok(())
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}
