#!/usr/bin/env bash
# The fault suite alone (also part of scripts/test.sh): a 3-node loopback
# ensemble, servers killed, clients paused and partitioned, each workload's
# history checked. Prints per workload the operations, faults, anomalies
# (must be 0) and detection delays, then "faults: N passed, M failed".
#
# Usage: scripts/faults.sh
#   ZKU_FAULT_SEED=N   replay a run (the seed is printed at the start)
#   ZKU_FAULT_ONLY=lock,cas   only the workloads whose names contain these
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"
scripts/install-deps.sh apt
exec cargo test --locked --test faults
