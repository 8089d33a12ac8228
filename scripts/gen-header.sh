#!/usr/bin/env bash
# Regenerates include/zkutil.h from the Rust sources (src/ffi/).
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$HOME/.cargo/bin:$PATH"
cbindgen --quiet --config cbindgen.toml --output include/zkutil.h .
