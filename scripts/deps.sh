#!/usr/bin/env bash
# Installs the system packages the build needs, if missing: a C/C++ toolchain and libclang
# (bindgen for RocksDB), and Debian's chromium for the explorer's browser test. Uses sudo only
# when not root. Where Node.js and npm are installed, also the js-libp2p interop test's, the
# browser test's and the JavaScript client's packages (tests/interop, tests/browser,
# clients/js, pinned by their package-lock.json); where python3 and pip are, the Python
# client's test packages (clients/python, pinned).
set -euo pipefail
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
# What clang-sys loads: libclang.so or libclang-N.so (libclang-cpp.so is another library).
have_libclang() {
  local f
  for f in /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* \
    /usr/lib/*-linux-gnu/libclang.so* /usr/lib/*-linux-gnu/libclang-[0-9]*.so*; do
    [ -e "$f" ] && return 0
  done
  return 1
}
have_libclang || missing+=(libclang-dev)
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: get Rust from https://rustup.rs" >&2
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
# The explorer test drives Debian's chromium; where apt cannot install it, that test says it
# is skipped and why.
if ! [ -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing chromium (the explorer's browser test)" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } \
    || echo "could not install chromium: the explorer's browser test will be skipped" >&2
fi
# The js-libp2p interop test's, the browser test's and the JavaScript client's packages, when
# Node.js and npm are here: installed again whenever package-lock.json is newer than what
# `npm ci` last installed (node_modules/.package-lock.json).
for pkg in tests/interop tests/browser clients/js; do
  dir="$(dirname "$0")/../$pkg"
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && ! [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    echo "installing $pkg's npm packages" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
done
# The Python client's tests (clients/python), when python3 and its pip are here: their pinned
# packages, installed only while one is missing; where pip cannot install them (no network, an
# externally managed Python), that test says it is skipped and why.
req="$(dirname "$0")/../clients/python/requirements-test.txt"
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 \
  && ! python3 -c 'import pytest, requests, websockets.asyncio.client, websockets.sync.client, nacl.signing' \
    >/dev/null 2>&1; then
  echo "installing the Python client's test packages (clients/python/requirements-test.txt)" >&2
  if ! pip_out=$(PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check -r "$req" 2>&1); then
    echo "could not install the Python client's test packages: its test will be skipped" >&2
    printf '%s\n' "$pip_out" | tail -n 5 >&2
  fi
fi
