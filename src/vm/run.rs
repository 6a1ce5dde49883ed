//! Running a job: the outcome and the units it cost.

use super::abi::{self, AbiViolation, HostState, HostTrap};
use super::limits::Limits;
use super::validate::{compile, ProgramError};
use wasmi::{Linker, Module, Store, TrapCode};

/// A job's run: what it produced and what it cost. Both are deterministic: every machine that
/// runs the same program on the same input with the same `max_units` gets the same
/// `Execution`, which is what lets a verifier or the referee check a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub outcome: Outcome,
    /// Compute units (fuel) spent, at most `max_units`; all of it for
    /// [`JobFailure::OutOfUnits`].
    pub units: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `run` returned; `output` is everything the job appended with `write_output`.
    Completed { output: Vec<u8> },
    /// The job stopped early. Its units were still spent, and its partial output is dropped.
    Failed(JobFailure),
}

/// Why a valid job did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    #[error("the job used all of its units")]
    OutOfUnits,
    #[error("the job trapped: {0}")]
    Trap(Trap),
    #[error("the job's output passed the cap of {max} bytes")]
    OutputLimit { max: usize },
    #[error("the job broke the ABI: {0}")]
    BadAbiCall(AbiViolation),
}

/// A WASM trap, named independently of wasmi's `TrapCode` so that an upgrade cannot rename
/// an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    #[error("unreachable executed")]
    Unreachable,
    #[error("out of bounds memory access")]
    MemoryOutOfBounds,
    #[error("out of bounds table access")]
    TableOutOfBounds,
    #[error("indirect call to a null table entry")]
    IndirectCallToNull,
    #[error("integer division by zero")]
    IntegerDivisionByZero,
    #[error("integer overflow")]
    IntegerOverflow,
    #[error("invalid conversion to integer")]
    BadConversionToInteger,
    #[error("call stack exhausted (recursion depth or value stack cap)")]
    StackOverflow,
    #[error("indirect call signature mismatch")]
    BadSignature,
}

/// Why a job could not be run at all. None of these is an outcome of the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("the input is {len} bytes; inputs are capped at {max} bytes")]
    InputTooLarge { len: usize, max: usize },
    /// This machine could not allocate memory the job was entitled to. The job's outcome is
    /// unknown here; retry on a machine with more free memory.
    #[error("this node ran out of memory while running the job; its outcome is unknown here")]
    HostOutOfMemory,
    /// wasmi reported something the job cannot cause: a bug in this module.
    #[error("internal VM error: {0}")]
    Internal(String),
}

/// Runs `program` on `input` with a budget of `max_units`.
///
/// `Err` means the job could not be run (an invalid program, an oversized input, this host
/// out of memory). A job that traps, breaks the ABI or runs out of units is `Ok` with
/// [`Outcome::Failed`]: a deterministic outcome that a re-executor reproduces exactly.
pub fn run(program: &[u8], input: &[u8], max_units: u64, limits: &Limits) -> Result<Execution, RunError> {
    let max = limits.input_cap();
    if input.len() > max {
        return Err(RunError::InputTooLarge { len: input.len(), max });
    }
    let engine = limits.engine();
    let module = compile(&engine, program, limits)?;
    let linker = abi::linker(&engine).map_err(internal)?;
    let mut store = Store::new(&engine, HostState::new(input, limits));
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(max_units).map_err(internal)?;
    let result = instantiate_and_run(&mut store, &linker, &module);
    let left = store.get_fuel().map_err(internal)?;
    let state = store.into_data();
    if state.limiter.host_out_of_memory {
        return Err(RunError::HostOutOfMemory);
    }
    let spent = max_units.saturating_sub(left);
    Ok(match result {
        Ok(()) => Execution { outcome: Outcome::Completed { output: state.output }, units: spent },
        Err(error) => match failure(error)? {
            // wasmi refuses a block it cannot pay for whole, leaving a remainder smaller than
            // that block: the job has still spent its budget.
            JobFailure::OutOfUnits => Execution { outcome: Outcome::Failed(JobFailure::OutOfUnits), units: max_units },
            failure => Execution { outcome: Outcome::Failed(failure), units: spent },
        },
    })
}

fn instantiate_and_run<'a>(
    store: &mut Store<HostState<'a>>,
    linker: &Linker<HostState<'a>>,
    module: &Module,
) -> Result<(), wasmi::Error> {
    // `validate` rejected start functions, so this only instantiates.
    let instance = linker.instantiate_and_start(&mut *store, module)?;
    let memory = instance.get_memory(&*store, abi::MEMORY).ok_or_else(|| wasmi::Error::host(HostTrap::NoMemory))?;
    store.data_mut().memory = Some(memory);
    let run = instance.get_typed_func::<(), ()>(&*store, abi::RUN)?;
    run.call(&mut *store, ())
}

/// What a wasmi error means for the job, or that it is no outcome of the job at all.
fn failure(error: wasmi::Error) -> Result<JobFailure, RunError> {
    if let Some(host) = error.downcast_ref::<HostTrap>() {
        return match host {
            HostTrap::Abi(violation) => Ok(JobFailure::BadAbiCall(violation.clone())),
            HostTrap::OutputLimit { max } => Ok(JobFailure::OutputLimit { max: *max }),
            HostTrap::NoMemory => Err(internal(error)),
        };
    }
    let trap = match error.as_trap_code() {
        Some(TrapCode::OutOfFuel) => return Ok(JobFailure::OutOfUnits),
        Some(TrapCode::OutOfSystemMemory) => return Err(RunError::HostOutOfMemory),
        Some(TrapCode::UnreachableCodeReached) => Trap::Unreachable,
        Some(TrapCode::MemoryOutOfBounds) => Trap::MemoryOutOfBounds,
        Some(TrapCode::TableOutOfBounds) => Trap::TableOutOfBounds,
        Some(TrapCode::IndirectCallToNull) => Trap::IndirectCallToNull,
        Some(TrapCode::IntegerDivisionByZero) => Trap::IntegerDivisionByZero,
        Some(TrapCode::IntegerOverflow) => Trap::IntegerOverflow,
        Some(TrapCode::BadConversionToInteger) => Trap::BadConversionToInteger,
        Some(TrapCode::StackOverflow) => Trap::StackOverflow,
        Some(TrapCode::BadSignature) => Trap::BadSignature,
        // Our limiter only refuses by erroring when the host is out of memory, which `run`
        // has already reported; anything else is not the job's doing.
        Some(TrapCode::GrowthOperationLimited) | None => return Err(internal(error)),
    };
    Ok(JobFailure::Trap(trap))
}

fn internal(error: wasmi::Error) -> RunError {
    RunError::Internal(error.to_string())
}
