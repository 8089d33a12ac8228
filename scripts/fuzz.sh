#!/usr/bin/env bash
# The bounded fuzz run: builds the cargo-fuzz targets in fuzz/ (nightly, its
# own workspace, so the main crate stays on stable) and runs each for
# SECONDS_PER_TARGET (default 30) from the committed seeds in
# fuzz/corpus/<target>/ (read only: new inputs go to a scratch directory).
# A crash is saved in fuzz/artifacts/<target>/; replay it with
# `cargo +nightly fuzz run -O <target> <file>`.
# Prints one line per target and ends with `fuzz: N passed, M failed`.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

seconds=${1:-30}
case $seconds in
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

# A nightly cannot be downloaded offline: use the one installed, or try.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O || { echo "fuzz: the targets do not build"; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if cargo +nightly fuzz run -O "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
        corpus=$(find "$scratch/$target" -type f | wc -l)
        echo "fuzz $target: ok, $runs runs in ${seconds} s, $corpus new corpus entries"
        passed=$((passed + 1))
    else
        echo "fuzz $target: FAILED"
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to' "$log" | sed 's/^/    /' || tail -20 "$log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
