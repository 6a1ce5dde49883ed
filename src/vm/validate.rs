//! Admission of a program: is this WASM a job under the ABI and the limits?
//!
//! JOB_POST admission calls [`validate`], so each rule a program breaks has its own
//! [`ProgramError`] variant whose message names the rule. A program that passes can still
//! fail as a job (trap, run out of units); that is an outcome, not a validity question.

use super::abi::{self, Signature};
use super::limits::{Limits, PAGE_BYTES};
use wasmi::errors::ErrorKind;
use wasmi::{Engine, ExternType, FuncType, Module, ValType};

/// Why a program is not a valid job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    #[error("the program is {len} bytes; programs are capped at {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("the job uses floating point (at byte offset {offset}); jobs must be integer-only, since floats are not bit-identical across machines")]
    Float { offset: usize },
    #[error("not a valid WASM module: {0}")]
    Invalid(String),
    #[error("import {module}.{name} is not in the job ABI (module ergon: input_len, read_input, write_output)")]
    ImportNotInAbi { module: String, name: String },
    #[error("import ergon.{name} has type {found}; the job ABI defines it as {expected}")]
    ImportSignature { name: &'static str, expected: String, found: String },
    #[error("the program does not export {name:?}; a job exports its linear memory as \"memory\" and its entry point as \"run\"")]
    MissingExport { name: &'static str },
    #[error("export {name:?} is a {found}; the job ABI requires {expected}")]
    ExportType { name: &'static str, expected: &'static str, found: String },
    #[error("the program has a start function; a job's only entry point is its exported \"run\"")]
    StartFunction,
    #[error("initial memory is {initial_bytes} bytes; jobs are capped at {max} bytes")]
    MemoryTooLarge { initial_bytes: u64, max: usize },
    #[error("the program defines {count} tables; a job may define at most one")]
    TooManyTables { count: u32 },
    #[error("the table's initial size is {initial} elements; jobs are capped at {max}")]
    TableTooLarge { initial: u64, max: u32 },
    #[error("not valid WAT: {0}")]
    Wat(String),
}

/// Checks that `program` is a job under `limits`: valid integer-only WASM, importing nothing
/// but the job ABI, exporting `memory` and `run: [] -> []`, with no start function (so `run`
/// is the only code that ever executes, and everything that executes is metered the same
/// way), and initial memory and table within the caps.
pub fn validate(program: &[u8], limits: &Limits) -> Result<(), ProgramError> {
    compile(&limits.engine(), program, limits).map(drop)
}

/// [`validate`], keeping the compiled module for a run.
pub(super) fn compile(engine: &Engine, program: &[u8], limits: &Limits) -> Result<Module, ProgramError> {
    if program.len() > limits.max_program_bytes {
        return Err(ProgramError::TooLarge { len: program.len(), max: limits.max_program_bytes });
    }
    check_shape(program, limits)?;
    // A panic in the engine (a wasmi bug a crafted program found) refuses the program; it
    // must never take the node down.
    let module = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Module::new(engine, program)))
        .map_err(|_| ProgramError::Invalid("the WASM engine failed on this program".into()))?
        .map_err(compile_error)?;
    for import in module.imports() {
        check_import(import.module(), import.name(), import.ty())?;
    }
    check_exports(&module, limits)?;
    Ok(module)
}

/// The rules wasmi's `Module` does not let us read: the start section and the tables. Parsing
/// errors are left to wasmi's validation, which reports them with more context.
fn check_shape(program: &[u8], limits: &Limits) -> Result<(), ProgramError> {
    let mut tables = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(program) {
        let Ok(payload) = payload else { return Ok(()) };
        match payload {
            wasmparser::Payload::StartSection { .. } => return Err(ProgramError::StartFunction),
            wasmparser::Payload::TableSection(reader) => {
                for table in reader {
                    let Ok(table) = table else { return Ok(()) };
                    tables = tables.saturating_add(1);
                    if table.ty.initial > u64::from(limits.max_table_elements) {
                        return Err(ProgramError::TableTooLarge {
                            initial: table.ty.initial,
                            max: limits.max_table_elements,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if tables > 1 {
        return Err(ProgramError::TooManyTables { count: tables });
    }
    Ok(())
}

fn compile_error(error: wasmi::Error) -> ProgramError {
    match error.kind() {
        // wasmparser's two messages for floats disabled: "floating-point instruction
        // disallowed" and "floating-point support is disabled" (for f32/f64 types).
        ErrorKind::Wasm(e) if e.message().starts_with("floating-point") => ProgramError::Float { offset: e.offset() },
        _ => ProgramError::Invalid(error.to_string()),
    }
}

fn check_import(module: &str, name: &str, ty: &ExternType) -> Result<(), ProgramError> {
    let not_in_abi = || ProgramError::ImportNotInAbi { module: module.into(), name: name.into() };
    if module != abi::MODULE {
        return Err(not_in_abi());
    }
    let Some(&(name, expected)) = abi::IMPORTS.iter().find(|(n, _)| *n == name) else {
        return Err(not_in_abi());
    };
    match ty {
        ExternType::Func(found) if expected.matches(found) => Ok(()),
        found => Err(ProgramError::ImportSignature { name, expected: expected.to_string(), found: describe(found) }),
    }
}

fn check_exports(module: &Module, limits: &Limits) -> Result<(), ProgramError> {
    match module.get_export(abi::MEMORY) {
        None => return Err(ProgramError::MissingExport { name: abi::MEMORY }),
        Some(ExternType::Memory(memory)) => {
            let initial_bytes = memory.minimum().saturating_mul(PAGE_BYTES);
            if u128::from(initial_bytes) > limits.max_memory_bytes as u128 {
                return Err(ProgramError::MemoryTooLarge { initial_bytes, max: limits.max_memory_bytes });
            }
        }
        Some(other) => {
            return Err(ProgramError::ExportType { name: abi::MEMORY, expected: "memory", found: describe(&other) })
        }
    }
    match module.get_export(abi::RUN) {
        None => Err(ProgramError::MissingExport { name: abi::RUN }),
        Some(ExternType::Func(f)) if Signature::RUN.matches(&f) => Ok(()),
        Some(other) => Err(ProgramError::ExportType {
            name: abi::RUN,
            expected: "a function with no params and no results",
            found: describe(&other),
        }),
    }
}

/// An extern's type the way a WAT author writes it.
fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func{}", Signature::render(f.params(), f.results())),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
    }
}

impl Signature {
    fn matches(&self, ty: &FuncType) -> bool {
        ty.params() == self.params && ty.results() == self.results
    }

    /// ` (param i32 i32) (result i32)`, or empty for no params and no results.
    fn render(params: &[ValType], results: &[ValType]) -> String {
        let list = |kw: &str, tys: &[ValType]| {
            if tys.is_empty() {
                return String::new();
            }
            let names: Vec<&str> = tys.iter().map(|t| val_type_name(*t)).collect();
            format!(" ({kw} {})", names.join(" "))
        };
        format!("{}{}", list("param", params), list("result", results))
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "func{}", Signature::render(self.params, self.results))
    }
}

fn val_type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}
