//! The ABI, the limits and admission. The sample jobs' tests are in `tests/samples.rs`.

mod samples;

use super::*;

const IMPORTS: &str = r#"
  (import "ergon" "input_len" (func $input_len (result i32)))
  (import "ergon" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "ergon" "write_output" (func $write_output (param i32 i32)))"#;

/// A job with the whole ABI imported, one page of memory, and `body` as `run`.
fn job(body: &str) -> Vec<u8> {
    module(&format!(r#"(memory (export "memory") 1) (func (export "run") {body})"#))
}

/// A module with the whole ABI imported and `items` after it.
fn module(items: &str) -> Vec<u8> {
    compile_wat(&format!("(module {IMPORTS} {items})")).unwrap()
}

fn exec(program: &[u8], input: &[u8], max_units: u64) -> Execution {
    run(program, input, max_units, &Limits::default()).unwrap()
}

fn output(e: &Execution) -> &[u8] {
    match &e.outcome {
        Outcome::Completed { output } => output,
        Outcome::Failed(f) => panic!("the job failed: {f}"),
    }
}

fn failure(e: &Execution) -> &JobFailure {
    match &e.outcome {
        Outcome::Failed(f) => f,
        Outcome::Completed { output } => panic!("the job completed with {output:?}"),
    }
}

fn rejection(wasm: &[u8]) -> ProgramError {
    let error = validate(wasm, &Limits::default()).unwrap_err();
    // `run` refuses what `validate` refuses, with the same error.
    assert_eq!(run(wasm, &[], 1_000, &Limits::default()).unwrap_err(), RunError::Program(error.clone()));
    error
}

#[test]
fn default_limits_are_metering_version_1() {
    // These caps decide outcomes: changing one changes what jobs do, so bump METERING_VERSION.
    assert_eq!(METERING_VERSION, 1);
    assert_eq!(
        Limits::default(),
        Limits {
            max_program_bytes: 4 << 20,
            max_input_bytes: 16 << 20,
            max_output_bytes: 16 << 20,
            max_memory_bytes: 64 << 20,
            max_table_elements: 65_536,
            max_recursion_depth: 8_192,
            max_stack_bytes: 8 << 20,
        }
    );
    assert_eq!((abi::HOST_CALL_UNITS, abi::HOST_BYTES_PER_UNIT), (32, 8));
}

#[test]
fn blob_hashes_are_plain_blake3() {
    // The blob store and `ergon job post` address blobs by BLAKE3 of their bytes.
    assert_eq!(program_hash(b"").to_string(), "0xaf1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    assert_eq!(output_hash(b"abc").0, *blake3::hash(b"abc").as_bytes());
}

// ---- Admission -------------------------------------------------------------------------

#[test]
fn a_minimal_job_is_valid_and_needs_no_imports() {
    let wasm = compile_wat(r#"(module (memory (export "memory") 0) (func (export "run")))"#).unwrap();
    validate(&wasm, &Limits::default()).unwrap();
    let e = exec(&wasm, &[], 10);
    assert_eq!(output(&e), b"");
}

#[test]
fn bytes_that_are_not_wasm_are_invalid() {
    assert!(matches!(rejection(b"\0asm but not really"), ProgramError::Invalid(_)));
    assert!(matches!(rejection(b""), ProgramError::Invalid(_)));
}

#[test]
fn imports_outside_the_abi_are_rejected_by_name() {
    let wasm =
        compile_wat(r#"(module (import "env" "foo" (func)) (memory (export "memory") 1) (func (export "run")))"#)
            .unwrap();
    let error = rejection(&wasm);
    assert_eq!(error, ProgramError::ImportNotInAbi { module: "env".into(), name: "foo".into() });
    assert_eq!(
        error.to_string(),
        "import env.foo is not in the job ABI (module ergon: input_len, read_input, write_output)"
    );
    let wasm = compile_wat(
        r#"(module (import "ergon" "clock" (func (result i64))) (memory (export "memory") 1) (func (export "run")))"#,
    )
    .unwrap();
    assert_eq!(rejection(&wasm), ProgramError::ImportNotInAbi { module: "ergon".into(), name: "clock".into() });
    // Only functions may be imported: no memory, table or global from the host.
    let wasm = compile_wat(r#"(module (import "ergon" "memory" (memory 1)) (func (export "run")))"#).unwrap();
    assert_eq!(rejection(&wasm), ProgramError::ImportNotInAbi { module: "ergon".into(), name: "memory".into() });
}

#[test]
fn an_abi_import_with_the_wrong_type_is_rejected() {
    let wasm = compile_wat(
        r#"(module (import "ergon" "write_output" (func (param i32))) (memory (export "memory") 1) (func (export "run")))"#,
    )
    .unwrap();
    let error = rejection(&wasm);
    assert_eq!(
        error,
        ProgramError::ImportSignature {
            name: "write_output",
            expected: "func (param i32 i32)".into(),
            found: "func (param i32)".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "import ergon.write_output has type func (param i32); the job ABI defines it as func (param i32 i32)"
    );
    let wasm = compile_wat(
        r#"(module (import "ergon" "input_len" (func (result i64))) (memory (export "memory") 1) (func (export "run")))"#,
    )
    .unwrap();
    assert!(matches!(rejection(&wasm), ProgramError::ImportSignature { name: "input_len", .. }));
    let wasm = compile_wat(
        r#"(module (import "ergon" "read_input" (global i32)) (memory (export "memory") 1) (func (export "run")))"#,
    )
    .unwrap();
    assert!(
        matches!(rejection(&wasm), ProgramError::ImportSignature { name: "read_input", found, .. } if found == "global")
    );
}

#[test]
fn floats_are_rejected_at_compile_time() {
    for body in [
        "(drop (f32.add (f32.const 1) (f32.const 2)))",
        "(drop (f64.const 0.5))",
        "(drop (i32.trunc_f64_s (f64.const 1)))",
        "(local f64)",
        "(drop (f32.reinterpret_i32 (i32.const 0)))",
    ] {
        assert!(matches!(rejection(&job(body)), ProgramError::Float { .. }), "{body}");
    }
    // A float in a signature, a global or a memory access is as much a float as an add.
    for items in [
        r#"(memory (export "memory") 1) (func (export "run")) (func (param f32))"#,
        r#"(memory (export "memory") 1) (func (export "run")) (global f64 (f64.const 0))"#,
        r#"(memory (export "memory") 1) (func (export "run") (drop (f64.load (i32.const 0))))"#,
    ] {
        assert!(matches!(rejection(&module(items)), ProgramError::Float { .. }), "{items}");
    }
}

#[test]
fn memory_and_run_must_be_exported_with_their_types() {
    assert_eq!(
        rejection(&module(r#"(memory 1) (func (export "run"))"#)),
        ProgramError::MissingExport { name: "memory" }
    );
    assert_eq!(rejection(&module(r#"(memory (export "memory") 1)"#)), ProgramError::MissingExport { name: "run" });
    assert_eq!(
        rejection(&module(r#"(memory (export "memory") 1) (func (export "run") (param i32))"#)),
        ProgramError::ExportType {
            name: "run",
            expected: "a function with no params and no results",
            found: "func (param i32)".into()
        }
    );
    assert!(matches!(
        rejection(&module(r#"(memory (export "memory") 1) (func (export "run") (result i32) (i32.const 0))"#)),
        ProgramError::ExportType { name: "run", .. }
    ));
    assert_eq!(
        rejection(&module(r#"(memory (export "run") 1) (func (export "memory"))"#)),
        ProgramError::ExportType { name: "memory", expected: "memory", found: "func".into() }
    );
}

#[test]
fn other_exports_are_allowed() {
    // rustc's wasm32 cdylibs export `__data_end` and `__heap_base` beside memory and run.
    let wasm = module(
        r#"(memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 1024))
        (func (export "run")) (func (export "helper") (param i32) (result i32) (local.get 0))"#,
    );
    validate(&wasm, &Limits::default()).unwrap();
}

#[test]
fn a_start_function_is_rejected() {
    let wasm = module(r#"(memory (export "memory") 1) (func $init) (start $init) (func (export "run"))"#);
    assert_eq!(rejection(&wasm), ProgramError::StartFunction);
}

#[test]
fn initial_memory_above_the_cap_is_rejected() {
    // 1024 pages are exactly 64 MiB.
    validate(&module(r#"(memory (export "memory") 1024) (func (export "run"))"#), &Limits::default()).unwrap();
    assert_eq!(
        rejection(&module(r#"(memory (export "memory") 1025) (func (export "run"))"#)),
        ProgramError::MemoryTooLarge { initial_bytes: 1025 * 65536, max: 64 << 20 }
    );
}

#[test]
fn tables_are_capped_in_number_and_size() {
    validate(
        &module(r#"(memory (export "memory") 1) (table 65536 funcref) (func (export "run"))"#),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        rejection(&module(r#"(memory (export "memory") 1) (table 65537 funcref) (func (export "run"))"#)),
        ProgramError::TableTooLarge { initial: 65537, max: 65_536 }
    );
    assert_eq!(
        rejection(&module(r#"(memory (export "memory") 1) (table 1 funcref) (table 1 funcref) (func (export "run"))"#)),
        ProgramError::TooManyTables { count: 2 }
    );
}

#[test]
fn programs_and_inputs_are_capped_in_size() {
    let wasm = job("");
    let limits = Limits { max_program_bytes: wasm.len() - 1, max_input_bytes: 3, ..Limits::default() };
    assert_eq!(validate(&wasm, &limits), Err(ProgramError::TooLarge { len: wasm.len(), max: wasm.len() - 1 }));
    let limits = Limits { max_program_bytes: wasm.len(), ..limits };
    validate(&wasm, &limits).unwrap();
    assert_eq!(run(&wasm, b"four", 100, &limits), Err(RunError::InputTooLarge { len: 4, max: 3 }));
    assert!(run(&wasm, b"3by", 100, &limits).is_ok());
}

#[test]
fn wat_errors_are_reported_as_such() {
    assert!(matches!(compile_wat("(module (func (export \"run\") (i32.bogus)))"), Err(ProgramError::Wat(_))));
}

// ---- Units and caps --------------------------------------------------------------------

#[test]
fn a_job_that_never_ends_runs_out_of_units_having_spent_them_all() {
    let wasm = job("(loop $forever (br $forever))");
    for max_units in [0, 1, 7, 1_000, 123_457] {
        let e = exec(&wasm, &[], max_units);
        assert_eq!(failure(&e), &JobFailure::OutOfUnits);
        assert_eq!(e.units, max_units);
    }
}

#[test]
fn the_budget_decides_only_whether_a_job_completes_not_what_it_costs() {
    // 100 iterations of a loop, then a host call that copies 40 bytes.
    let wasm = job(r#"(local $i i32)
        (loop $l (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 100))))
        (call $write_output (i32.const 0) (i32.const 40))"#);
    let full = exec(&wasm, &[], u64::MAX);
    assert_eq!(output(&full), [0u8; 40]);
    for max_units in [full.units, full.units + 1, full.units * 2] {
        assert_eq!(exec(&wasm, &[], max_units), full);
    }
    // One unit short fails inside the host call's charge; far short fails in the loop.
    for max_units in [full.units - 1, full.units - 37, 50, 0] {
        let e = exec(&wasm, &[], max_units);
        assert_eq!((failure(&e), e.units), (&JobFailure::OutOfUnits, max_units));
    }
}

#[test]
fn host_calls_cost_a_base_plus_one_unit_per_8_bytes_moved() {
    // read_input copies min(len, input_len - offset) bytes and pays for those.
    let read = job("(drop (call $read_input (i32.const 0) (i32.const 0) (i32.const 1000)))");
    let base = exec(&read, &[], u64::MAX).units;
    for (input_len, extra) in [(1, 1), (8, 1), (9, 2), (800, 100), (5000, 125)] {
        assert_eq!(exec(&read, &vec![7; input_len], u64::MAX).units, base + extra, "{input_len}");
    }
    // write_output pays for its length.
    let write = |len: u32| job(&format!("(call $write_output (i32.const 0) (i32.const {len}))"));
    let base = exec(&write(0), &[], u64::MAX).units;
    assert_eq!(exec(&write(64), &[], u64::MAX).units, base + 8);
    assert_eq!(exec(&write(65), &[], u64::MAX).units, base + 9);
    // Each call pays the base, even when it moves nothing.
    let once = exec(&job("(drop (call $input_len))"), &[], u64::MAX).units;
    let twice = exec(&job("(drop (call $input_len)) (drop (call $input_len))"), &[], u64::MAX).units;
    assert_eq!(twice - once, abi::HOST_CALL_UNITS + 1, "the base plus wasmi's 1 for the call");
}

#[test]
fn memory_grow_past_the_cap_returns_minus_one_and_the_job_goes_on() {
    // Grow to exactly 64 MiB (1024 pages), then one page more; output both results.
    let wasm = job(r#"(i32.store (i32.const 0) (memory.grow (i32.const 1023)))
        (i32.store (i32.const 4) (memory.grow (i32.const 1)))
        (i32.store (i32.const 8) (memory.size))
        (call $write_output (i32.const 0) (i32.const 12))"#);
    let e = exec(&wasm, &[], 10_000_000);
    let words: Vec<i32> = output(&e).chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words, [1, -1, 1024]);
    // A smaller cap refuses sooner, the same way.
    let limits = Limits { max_memory_bytes: 2 << 16, ..Limits::default() };
    let e = run(&wasm, &[], 10_000_000, &limits).unwrap();
    let words: Vec<i32> = output(&e).chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words, [-1, 1, 2]);
}

#[test]
fn output_past_the_cap_fails_the_job() {
    let limits = Limits { max_output_bytes: 10, ..Limits::default() };
    let writes = |lens: &[u32]| {
        let body: String =
            lens.iter().map(|len| format!("(call $write_output (i32.const 0) (i32.const {len}))")).collect();
        run(&job(&body), &[], 1_000_000, &limits).unwrap()
    };
    assert_eq!(output(&writes(&[10])), [0; 10]);
    assert_eq!(output(&writes(&[4, 6])), [0; 10]);
    assert_eq!(failure(&writes(&[11])), &JobFailure::OutputLimit { max: 10 });
    let e = writes(&[6, 6]);
    assert_eq!(failure(&e), &JobFailure::OutputLimit { max: 10 });
    // The failing call paid for itself before it was refused.
    let both = r#"(call $write_output (i32.const 0) (i32.const 6)) (call $write_output (i32.const 0) (i32.const 6))"#;
    assert_eq!(e.units, exec(&job(both), &[], 1_000_000).units);
}

#[test]
fn deep_recursion_is_a_failed_job_not_a_crash() {
    let wasm = module(r#"(memory (export "memory") 1) (func $down (call $down)) (func (export "run") (call $down))"#);
    let e = exec(&wasm, &[], 100_000_000);
    assert_eq!(failure(&e), &JobFailure::Trap(Trap::StackOverflow));
    assert_eq!(exec(&wasm, &[], 100_000_000), e, "the depth it fails at, and so its units, are deterministic");
    // Recursion to a depth within the cap completes.
    let counted = module(
        r#"(memory (export "memory") 1)
        (func $down (param $n i32) (if (local.get $n) (then (call $down (i32.sub (local.get $n) (i32.const 1))))))
        (func (export "run") (call $down (i32.const 8000)))"#,
    );
    assert_eq!(output(&exec(&counted, &[], 100_000_000)), b"");
    let limits = Limits { max_recursion_depth: 100, ..Limits::default() };
    let e = run(&counted, &[], 100_000_000, &limits).unwrap();
    assert_eq!(failure(&e), &JobFailure::Trap(Trap::StackOverflow));
}

#[test]
fn wasm_traps_are_failed_jobs_with_their_units() {
    let cases = [
        ("unreachable", Trap::Unreachable),
        ("(drop (i32.div_u (i32.const 1) (i32.const 0)))", Trap::IntegerDivisionByZero),
        ("(drop (i32.div_s (i32.const -2147483648) (i32.const -1)))", Trap::IntegerOverflow),
        ("(drop (i32.load (i32.const 65533)))", Trap::MemoryOutOfBounds),
    ];
    for (body, trap) in cases {
        let e = exec(&job(body), &[], 1_000);
        assert_eq!(failure(&e), &JobFailure::Trap(trap), "{body}");
        assert!(e.units > 0 || body == "unreachable", "{body}: {}", e.units);
    }
    // A data segment that does not fit traps at instantiation, before `run`.
    let wasm = module(r#"(memory (export "memory") 1) (data (i32.const 65535) "ab") (func (export "run"))"#);
    assert_eq!(failure(&exec(&wasm, &[], 1_000)), &JobFailure::Trap(Trap::MemoryOutOfBounds));
}

// ---- The ABI's bounds ------------------------------------------------------------------

#[test]
fn read_input_copies_what_is_there_from_the_offset() {
    // Output: the count copied, then the bytes at 16.. .
    let read = |offset: i32, len: i32| {
        let body = format!(
            "(i32.store (i32.const 0) (call $read_input (i32.const 16) (i32.const {offset}) (i32.const {len})))
            (call $write_output (i32.const 0) (i32.const 4))
            (call $write_output (i32.const 16) (i32.load (i32.const 0)))"
        );
        output(&exec(&job(&body), b"abcdef", 10_000)).to_vec()
    };
    assert_eq!(read(0, 6), b"\x06\0\0\0abcdef");
    assert_eq!(read(2, 3), b"\x03\0\0\0cde");
    assert_eq!(read(4, 100), b"\x02\0\0\0ef");
    assert_eq!(read(6, 1), b"\0\0\0\0");
    assert_eq!(read(7, 1), b"\0\0\0\0", "an offset past the end copies nothing");
    assert_eq!(read(-1, -1), b"\0\0\0\0", "offsets are unsigned: -1 is far past the end");
    assert_eq!(read(0, -1), b"\x06\0\0\0abcdef", "lengths are unsigned: -1 asks for everything");
}

#[test]
fn out_of_range_pointers_in_host_calls_trap() {
    let e = exec(&job("(drop (call $read_input (i32.const 65534) (i32.const 0) (i32.const 4)))"), b"abcdef", 10_000);
    assert_eq!(
        failure(&e),
        &JobFailure::BadAbiCall(AbiViolation::ReadInputOutOfBounds { dst: 65534, len: 4, memory_bytes: 65536 })
    );
    let e = exec(&job("(drop (call $read_input (i32.const -1) (i32.const 0) (i32.const 1)))"), b"abcdef", 10_000);
    assert_eq!(
        failure(&e),
        &JobFailure::BadAbiCall(AbiViolation::ReadInputOutOfBounds { dst: u32::MAX, len: 1, memory_bytes: 65536 })
    );
    // Copying nothing to the very end of memory is fine; past it is not (as for memory.fill).
    let e = exec(&job("(drop (call $read_input (i32.const 65536) (i32.const 0) (i32.const 0)))"), b"abc", 10_000);
    assert_eq!(output(&e), b"");
    let e = exec(&job("(drop (call $read_input (i32.const 65537) (i32.const 9) (i32.const 9)))"), b"abc", 10_000);
    assert!(matches!(failure(&e), JobFailure::BadAbiCall(AbiViolation::ReadInputOutOfBounds { len: 0, .. })));

    let e = exec(&job("(call $write_output (i32.const 65530) (i32.const 7))"), &[], 10_000);
    assert_eq!(
        failure(&e),
        &JobFailure::BadAbiCall(AbiViolation::WriteOutputOutOfBounds { ptr: 65530, len: 7, memory_bytes: 65536 })
    );
    // The output cap is checked before the pointer.
    let huge = job("(call $write_output (i32.const 1) (i32.const -1))");
    assert_eq!(failure(&exec(&huge, &[], u64::MAX)), &JobFailure::OutputLimit { max: 16 << 20 });
    let limits = Limits { max_output_bytes: usize::MAX, ..Limits::default() };
    let e = run(&huge, &[], u64::MAX, &limits).unwrap();
    assert!(matches!(failure(&e), JobFailure::BadAbiCall(AbiViolation::WriteOutputOutOfBounds { len: u32::MAX, .. })));
    // A violation is deterministic down to the units: the call paid before it trapped.
    let wasm = job("(call $write_output (i32.const 65530) (i32.const 800))");
    let first = exec(&wasm, &[], 10_000);
    assert_eq!(exec(&wasm, &[], 10_000), first);
    assert_eq!(first.units, exec(&job("(call $write_output (i32.const 0) (i32.const 800))"), &[], 10_000).units);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Whatever bytes arrive as a program, admission and execution answer; neither panics,
    /// and a run that happens is reproducible.
    #[test]
    fn corrupted_programs_are_refused_or_run_never_crash(
        flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..4),
        input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
    ) {
        let mut wasm = compile_wat(crate::vm::samples::WORDCOUNT).unwrap();
        for (at, byte) in flips {
            let at = at % wasm.len();
            wasm[at] = byte;
        }
        let _ = validate(&wasm, &Limits::default());
        let first = run(&wasm, &input, 100_000, &Limits::default());
        proptest::prop_assert_eq!(&run(&wasm, &input, 100_000, &Limits::default()), &first);
    }
}
