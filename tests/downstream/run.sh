#!/usr/bin/env bash
# Installs zkutil from a CMake build dir into a scratch prefix, then builds
# and runs a tiny program against it: with find_package(zkutil) (shared,
# static, and the C++ header through zkutil::zkutil_cpp) and with
# pkg-config (zkutil.pc, found through its rpath, C and C++, and
# zkutil-static.pc).
# Usage: run.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'zkutil.pc' -printf '%h\n' | head -1 | xargs dirname)
echo "installed into $prefix (libdir $libdir):"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /')

echo "== find_package(zkutil)"
cmake -S "$here/project" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer_shared"
"$work/cmake-build/consumer_static"
"$work/cmake-build/consumer_cpp"

echo "== pkg-config --cflags --libs zkutil (runs without LD_LIBRARY_PATH: rpath)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$work/consumer_pc" "$here/project/main.c" \
    $(pkg-config --cflags --libs zkutil)
env -u LD_LIBRARY_PATH "$work/consumer_pc"

echo "== pkg-config --cflags --libs zkutil-static (no libzkutil.so needed)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$work/consumer_pc_static" "$here/project/main.c" \
    $(pkg-config --cflags --libs zkutil-static)
if [[ $(ldd "$work/consumer_pc_static") == *libzkutil* ]]; then
    echo "consumer_pc_static links libzkutil.so" >&2
    exit 1
fi
"$work/consumer_pc_static"

# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -o "$work/consumer_pc_cpp" "$here/project/main.cpp" \
    $(pkg-config --cflags --libs zkutil)
env -u LD_LIBRARY_PATH "$work/consumer_pc_cpp"
echo "downstream: all passed"
