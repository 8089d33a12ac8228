#!/usr/bin/env bash
# Tests the Go binding offline (no module downloads): installs libzkutil
# into build-go/prefix, checks that constants.go is current, runs go vet
# and go test against a ZooKeeper started here, then builds the example
# linked dynamically and statically and runs both.
# Usage: bindings/go/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export GOFLAGS=-mod=mod GOPROXY=off GONOSUMDB=* GOTOOLCHAIN=local
PKG_CONFIG_PATH=$("$here/install-lib.sh")
export PKG_CONFIG_PATH
echo "libzkutil installed, PKG_CONFIG_PATH=$PKG_CONFIG_PATH"

zkdir=$(mktemp -d /tmp/zkutil-go-zk.XXXXXX)
trap '"$repo/scripts/zk-server.sh" stop "$zkdir" >/dev/null 2>&1 || true; rm -rf "$zkdir"' EXIT
ZKU_TEST_HOSTS=$("$repo/scripts/zk-server.sh" start "$zkdir" --owner $$)
export ZKU_TEST_HOSTS ZKU_HOSTS=$ZKU_TEST_HOSTS

cd "$here"
go version
go vet ./...
go test -count=1 -v ./...

bin=$repo/build-go/bin
go build -o "$bin/example" ./example
go build -tags zkutil_static -o "$bin/example-static" ./example
if ldd "$bin/example-static" | grep -q libzkutil; then
    echo "example-static links libzkutil.so" >&2
    exit 1
fi
ldd "$bin/example" | grep -q libzkutil || { echo "example does not link libzkutil.so" >&2; exit 1; }
"$bin/example"
"$bin/example-static"
echo "go binding: all passed"
