#!/usr/bin/env bash
# The demo: installs what is missing, builds libzkutil and the C examples,
# starts a ZooKeeper server on 127.0.0.1 (stopped again on exit), and runs
# examples-c/demo.c against it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

scripts/install-deps.sh apt zookeeper
echo "== building (cargo + cmake)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DZKU_CARGO_TARGET_DIR="$repo/target" >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

zkdir=$(mktemp -d /tmp/zkutil-demo-zk.XXXXXX)
trap 'scripts/zk-server.sh stop "$zkdir" >/dev/null 2>&1 || true; rm -rf "$zkdir"' EXIT
hosts=$(scripts/zk-server.sh start "$zkdir" --owner $$)
echo "== ZooKeeper running at $hosts"
echo
ZKU_HOSTS="$hosts" build/demo
