#!/usr/bin/env bash
# The benchmark: starts a ZooKeeper server on 127.0.0.1 (fsync on, as a
# production server; --no-fsync for the test setting), runs zkutil-bench
# (every recipe against its raw floor, measured in the same run, as ratios),
# then the Go binding against the same loops in C (bindings/go/bench, when
# `go` is installed: scripts/install-deps.sh go), the Ruby gem against the
# same loops in C in the same process (bindings/ruby/bench, when ruby and
# ruby-ffi are installed: scripts/install-deps.sh ruby), then the anchors
# (the official C client's floor, Apache Curator and the Python k3zkutil)
# against the same server when they are available. The fifo and rwlock
# contention figures include Curator's recipes (a JDK, unless --no-anchors).
# Usage: scripts/bench.sh [--no-fsync] [-n N] [--only raw,lock,fifo,rwlock,cas,wait,hierarchy] [--no-anchors]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

n=2000
only=""
fsync=yes
anchors=yes
while [ $# -gt 0 ]; do
    case $1 in
        --no-fsync) fsync=no ;;
        -n) n=$2; shift ;;
        --only) only=$2; shift ;;
        --no-anchors) anchors=no ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

scripts/install-deps.sh apt zookeeper
cargo build --locked --release --bin zkutil-bench

zkdir=$(mktemp -d /tmp/zkutil-bench-zk.XXXXXX)
trap 'scripts/zk-server.sh stop "$zkdir" >/dev/null 2>&1 || true; rm -rf "$zkdir"' EXIT
# No limit on connections from one address (default 60): the contention
# runs connect a client per process, 64 and more.
hosts=$(ZK_JVM_OPTS="-Dzookeeper.forceSync=$fsync" ZK_CONFIG=maxClientCnxns=0 \
    scripts/zk-server.sh start "$zkdir" --owner $$)
echo "ZooKeeper at $hosts (forceSync=$fsync), load: $(cut -d' ' -f1-3 /proc/loadavg)"

args=(--hosts "$hosts" -n "$n")
[ -z "$only" ] || args+=(--only "$only")
if [ "$anchors" = yes ] && { [ -z "$only" ] || [[ ",$only," == *,fifo,* || ",$only," == *,rwlock,* ]]; }; then
    # Curator's InterProcessMutex and InterProcessReadWriteLock under the
    # same contention as the FIFO mutex and the read-write lock
    # (src/bin/zkutil-bench/CuratorContenders.java, started by the bench).
    # Needs a JDK and Curator (scripts/install-deps.sh java).
    scripts/install-deps.sh java
    cp=$(printf '/usr/share/java/%s.jar\n' curator-client curator-framework curator-recipes zookeeper zookeeper-jute \
        guava failureaccess slf4j-api slf4j-nop netty-handler netty-common netty-transport netty-buffer \
        netty-resolver netty-codec netty-transport-native-epoll netty-transport-native-unix-common \
        audience-annotations commons-io metrics-core | while read -r j; do [ -f "$j" ] && printf ':%s' "$j"; done)
    javac -d "$zkdir" -cp "$cp" src/bin/zkutil-bench/CuratorContenders.java
    args+=(--curator-classpath "$zkdir$cp")
fi
target/release/zkutil-bench "${args[@]}"

# The bindings' per-call figures go with the raw floors: skipped when
# --only names other benchmarks alone.
bindings=yes
[ -z "$only" ] || [[ ",$only," == *,raw,* ]] || bindings=no

# A binding's gap to C is a few µs on gets of a few hundred µs that vary
# by tens of µs: ten times -n gets per loop (10,000 at -n 1000) put the
# 95% confidence interval of the median gap within a few µs.
binding_n=$((n * 10))

echo
if [ "$bindings" = no ]; then
    echo "Go binding and Ruby gem: skipped (--only without raw)"
elif command -v go >/dev/null 2>&1; then
    echo "Go binding against the same loops in C, per call (medians of interleaved batches of 50; Go-C: of the paired differences, with its 95% confidence interval):"
    go_pc=$(bindings/go/install-lib.sh 2>/dev/null)
    (cd bindings/go && PKG_CONFIG_PATH=$go_pc GOFLAGS=-mod=mod GOPROXY=off go run ./bench -hosts "$hosts" -n "$binding_n")
else
    echo "Go binding: skipped (no go; scripts/install-deps.sh go)"
fi

if [ "$bindings" = yes ] && command -v ruby >/dev/null 2>&1 && ruby -e 'require "ffi"' 2>/dev/null; then
    cargo build --locked --release --lib
    gcc -O2 -shared -fPIC -Iinclude bindings/ruby/bench/loops.c -Ltarget/release -lzkutil \
        -Wl,-rpath,"$repo/target/release" -o "$zkdir/libzkutil-ruby-bench.so"
    ZKUTIL_LIB="$repo/target/release/libzkutil.so" \
        ruby -Ibindings/ruby/lib bindings/ruby/bench/bench.rb "$hosts" "$zkdir/libzkutil-ruby-bench.so" "$binding_n"
elif [ "$bindings" = yes ]; then
    echo "Ruby gem: skipped (no ruby with ffi; scripts/install-deps.sh ruby)"
fi

# The shared folder lies next to the repository.
anchors_dir=../shared/bench/anchors
anchor_run=$anchors_dir/run
# (Skipped for the contention runs, which measure Curator themselves.)
if [ "$anchors" = yes ] && [[ ",$only," != *,fifo,* && ",$only," != *,rwlock,* ]] && [ -x "$anchor_run" ]; then
    echo
    echo "anchors on the same server:"
    "$anchor_run" "$hosts" "$n"
fi
