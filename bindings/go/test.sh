#!/usr/bin/env bash
# Tests the Go binding offline (no module downloads): installs libzkutil
# into build-go/prefix, checks that constants.go is current, runs go vet
# and go test against a ZooKeeper started here, then builds the example
# linked dynamically and statically and runs both, and once more as a
# module of its own that uses this one through a replace directive.
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
# (ldd's output is kept first: grep -q would end the pipe early)
static_libs=$(ldd "$bin/example-static")
shared_libs=$(ldd "$bin/example")
if [[ $static_libs == *libzkutil* || $shared_libs != *libzkutil.so.* ]]; then
    echo "example-static must not link libzkutil.so, example must:" >&2
    printf '%s\n---\n%s\n' "$static_libs" "$shared_libs" >&2
    exit 1
fi
"$bin/example"
"$bin/example-static"

# A program outside this module, using it as the README says (replace).
consumer=$(mktemp -d /tmp/zkutil-go-consumer.XXXXXX)
cp example/main.go "$consumer/"
(
    cd "$consumer"
    go mod init example.com/consumer >/dev/null 2>&1
    go mod edit -require github.com/zkutil/zkutil/bindings/go@v0.0.0 \
        -replace "github.com/zkutil/zkutil/bindings/go=$here"
    go build -o consumer .
    ./consumer
)
rm -rf "$consumer"
echo "go binding: all passed"
