#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for N seconds each (default 60), growing
# the corpora in fuzz/corpus; a crash leaves its input in fuzz/artifacts and stops the run.
# Needs cargo-fuzz (installed if missing). The machine has one stable toolchain, so
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its nightly-only flags; without the sanitizer (`-s
# none`) libFuzzer still finds panics, overflows and runaway allocations. RocksDB's library
# is taken from an earlier `make test` build when there is one, instead of compiling its C++
# again.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
lib=$(ls -t "$PWD"/target/debug/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1 || true)
if [ -n "$lib" ]; then
  export ROCKSDB_LIB_DIR="$(dirname "$lib")" ROCKSDB_STATIC=1
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --dev
for t in $(cargo fuzz list); do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t ($secs s)"
  cargo fuzz run -s none --dev "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 \
    -print_final_stats=1 2>&1 | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss|#[0-9]+ +DONE)|cov:" | tail -n 3
done
