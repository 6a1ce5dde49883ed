# Two commands do all set-up on a fresh machine:
#   make run    builds and runs a dev node (RPC on 127.0.0.1:8080)
#   make test   runs every test
# Both install missing system packages first (libclang-dev for RocksDB's bindings).

CARGO ?= cargo

.PHONY: run test deps bench lint fuzz

deps:
	@bash scripts/deps.sh

run: deps
	$(CARGO) run -- node --dev

test: deps
	$(CARGO) test --workspace --all-targets

bench: deps
	$(CARGO) run --release -- bench

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every cargo-fuzz target for FUZZ_SECS seconds (60 by default; CI runs 10); see scripts/fuzz.sh.
FUZZ_SECS ?= 60
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECS)
