#!/usr/bin/env bash
# Builds libzkutil with CMake (build dir build-go/, no C examples) and
# installs it into PREFIX (default build-go/prefix), as a user would; prints
# the pkg-config directory to put in PKG_CONFIG_PATH.
# Usage: bindings/go/install-lib.sh [PREFIX]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${1:-$repo/build-go/prefix}
cmake -S "$repo" -B "$repo/build-go" -DCMAKE_BUILD_TYPE=Release -DZKU_BUILD_EXAMPLES=OFF \
    -DZKU_CARGO_TARGET_DIR="$repo/target" >/dev/null
cmake --build "$repo/build-go" >&2
cmake --install "$repo/build-go" --prefix "$prefix" >/dev/null
dirname "$(find "$prefix" -name zkutil.pc | head -1)"
