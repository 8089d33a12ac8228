#!/usr/bin/env bash
# Runs every test: installs what is missing, then
#   1. cargo test            (unit tests, integration tests against real
#                             ZooKeeper servers the tests start themselves,
#                             and the fault suite, tests/faults: also
#                             scripts/faults.sh alone)
#   2. the k3zkutil comparison of the pure helpers (Python, ctypes)
#   3. the Ruby gem          (generated bindings up to date, gem build,
#                             minitest against a server the tests start)
#   4. ctest                 (C and C++ examples and the C++ test against a
#                             fixture server, header C11/C++17 checks,
#                             install + downstream builds)
#   5. ctest again with the examples under ASan + UBSan
#   6. the cargo-fuzz targets, a bounded run (ZKU_FUZZ_SECONDS, default 60)
#   7. the Go binding (bindings/go/test.sh: go vet, go test, the example
#      linked dynamically and statically)
# Exits non-zero as soon as a step fails; each runner prints its own summary.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==== %s\n' "$*"; }

step "install dependencies"
scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

step "cargo test"
cargo test --locked 2>&1

step "k3zkutil comparison (pure helpers through the C ABI)"
cargo build --locked --release --lib
"${ZKU_VENV:-$repo/.venv}/bin/python" tests/python/compare_k3zkutil.py target/release/libzkutil.so

step "Ruby gem (bindings/ruby)"
scripts/install-deps.sh ruby
ruby bindings/ruby/gen/generate.rb --check
(cd bindings/ruby && gem build --silent zkutil.gemspec -o /dev/null)
env -u ZKU_HOSTS ZKUTIL_LIB="$repo/target/release/libzkutil.so" ruby -Ibindings/ruby/lib bindings/ruby/test/all.rb

step "ctest (C and C++ examples, headers, install)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DZKU_CARGO_TARGET_DIR="$repo/target" >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

step "ctest under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZKU_SANITIZE=ON -DZKU_CARGO_TARGET_DIR="$repo/target" >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -L example

step "fuzzing (every fuzz/ target, ${ZKU_FUZZ_SECONDS:-60} s each)"
scripts/fuzz.sh "${ZKU_FUZZ_SECONDS:-60}"

step "Go binding (bindings/go)"
scripts/install-deps.sh go
bindings/go/test.sh

printf '\nall tests passed\n'
