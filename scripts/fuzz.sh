#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]
# Runs every cargo-fuzz target (fuzz/fuzz_targets), or the ones named, for SECONDS each
# (default 60; CI runs 10), growing the corpora in fuzz/corpus; SECONDS 0 only replays the
# corpora and reproducers once. A crash (or an input that runs past 60 s) leaves its input in
# fuzz/artifacts/TARGET/ and prints libFuzzer's report; the other targets still run, then the
# script exits non-zero.
# Needs cargo-fuzz (installed if missing). The machine has one stable toolchain, so
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its nightly-only flags; without the sanitizer (`-s
# none`) libFuzzer still finds panics, overflows and runaway allocations. RocksDB's library
# is taken from an earlier `make test` build when there is one, instead of compiling its C++
# again.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  start=$SECONDS
  cargo install cargo-fuzz --locked
  echo "== cargo-fuzz installed in $((SECONDS - start)) s"
fi
lib=$(ls -t "$PWD"/target/debug/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1 || true)
if [ -n "$lib" ]; then
  export ROCKSDB_LIB_DIR="$(dirname "$lib")" ROCKSDB_STATIC=1
fi
export RUSTC_BOOTSTRAP=1
start=$SECONDS
cargo fuzz build -s none --dev
echo "== fuzz targets built in $((SECONDS - start)) s"
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  # Inputs that once crashed (fuzz/reproducers/TARGET) are replayed on every run; new inputs
  # go to the corpus.
  dirs=("fuzz/corpus/$t")
  if [ -d "fuzz/reproducers/$t" ]; then dirs+=("fuzz/reproducers/$t"); fi
  if [ "$secs" = 0 ]; then limit=(-runs=0); else limit=(-max_total_time="$secs"); fi
  echo "== $t ($secs s)"
  # Not a pipeline: cargo fuzz's exit status is what decides.
  if cargo fuzz run -s none --dev "$t" "${dirs[@]}" -- "${limit[@]}" -timeout=60 \
    -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|peak_rss_mb)" "$log" || tail -n 3 "$log"
  else
    # libFuzzer's report (the panic first), then cargo-fuzz's summary with the input.
    grep -m1 -A12 -E "panicked at|ERROR: libFuzzer|==[0-9]+== ERROR" "$log" | cut -c1-2000 || true
    tail -n 40 "$log" | cut -c1-2000
    echo "== $t FAILED: its input is in fuzz/artifacts/$t/; reproduce with (the same flags, or RocksDB's C++ is compiled again):"
    echo "   ${ROCKSDB_LIB_DIR:+ROCKSDB_LIB_DIR=$ROCKSDB_LIB_DIR ROCKSDB_STATIC=1 }RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --dev $t FILE"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
