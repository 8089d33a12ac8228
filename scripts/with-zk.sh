#!/usr/bin/env bash
# Runs a command with ZKU_HOSTS set to the server that
# `scripts/zk-server.sh start DIR` started.
# Usage: with-zk.sh DIR CMD [ARGS...]
set -euo pipefail
dir=$1
shift
port=$(cat "$dir/port")
export ZKU_HOSTS="127.0.0.1:$port"
exec "$@"
