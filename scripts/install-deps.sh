#!/usr/bin/env bash
# Installs what building and testing zkutil needs. Idempotent, and quick when
# everything is already there (it only checks). Prints one line per thing it
# installed on stdout; tool output goes to stderr.
#
# Usage: scripts/install-deps.sh [all|apt|zookeeper|cbindgen|venv|go|ruby|java]...
#   apt        Debian packages: zookeeper, a JRE, cmake, make, pkg-config,
#              gcc/g++, valgrind, python3-venv
#   zookeeper  only the zookeeper package (what scripts/zk-server.sh needs)
#   cbindgen   cbindgen 0.29.4 via `cargo install` unless one is on PATH or
#              in ~/.cargo/bin
#   venv       Python venv at ${ZKU_VENV:-<repo>/.venv} with k3zkutil, kazoo
#   go         Debian's golang-go (and pkg-config, cmake) for bindings/go
#   ruby       Debian packages ruby and ruby-ffi (the gem in bindings/ruby;
#              minitest ships with ruby)
#   java       a JDK (javac) and Apache Curator's jars (Debian's
#              libcurator-recipes-java), for the FIFO mutex's interop test
# Default: all. Runs apt-get as root directly, otherwise through sudo.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${ZKU_VENV:-$repo/.venv}
cbindgen_version=0.29.4
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
apt_packages=(zookeeper default-jre-headless cmake make pkg-config gcc g++ valgrind python3 python3-venv ca-certificates)
python_packages=(k3zkutil kazoo)
ruby_packages=(ruby ruby-ffi)
java_packages=(default-jdk-headless libcurator-recipes-java libslf4j-java)

installed() { printf '%s\n' "$*"; }
note() { printf 'install-deps: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        note "not root and no sudo: cannot run: $*"
        return 1
    fi
}

deb_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_debs() {
    local missing=() pkg
    command -v dpkg-query >/dev/null 2>&1 || { note "no dpkg-query: install $* by hand"; return 1; }
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    note "apt-get install ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    as_root "${apt[@]}" update >&2
    as_root "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2
    for pkg in "${missing[@]}"; do
        installed "installed $pkg (apt)"
    done
}

install_cbindgen() {
    if command -v cbindgen >/dev/null 2>&1 || [ -x "$cargo_bin/cbindgen" ]; then
        local exe have
        exe=$(command -v cbindgen 2>/dev/null || echo "$cargo_bin/cbindgen")
        have=$("$exe" --version 2>/dev/null || true)
        [ "$have" = "cbindgen $cbindgen_version" ] || note "found ${have:-cbindgen of unknown version}; the header is generated with $cbindgen_version"
        return 0
    fi
    local cargo
    cargo=$(command -v cargo 2>/dev/null || echo "$cargo_bin/cargo")
    [ -x "$cargo" ] || { note "cargo not found: install Rust first (https://rustup.rs)"; return 1; }
    note "cargo install cbindgen $cbindgen_version"
    "$cargo" install cbindgen --version "$cbindgen_version" --locked >&2
    installed "installed cbindgen $cbindgen_version (cargo, $cargo_bin)"
}

install_venv() {
    local py=$venv/bin/python
    if [ -x "$py" ] && "$py" -c 'import k3zkutil, kazoo' >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -x "$py" ]; then
        note "python3 -m venv $venv"
        python3 -m venv "$venv" >&2
        installed "created venv $venv"
    fi
    note "pip install ${python_packages[*]}"
    "$py" -m pip install -q --disable-pip-version-check "${python_packages[@]}" >&2
    "$py" -c 'import k3zkutil, kazoo' || { note "k3zkutil/kazoo still not importable in $venv"; return 1; }
    installed "installed ${python_packages[*]} (pip, $venv)"
}

main() {
    local what=("$@") item
    [ "${#what[@]}" -gt 0 ] || what=(all)
    for item in "${what[@]}"; do
        case $item in
            all) install_debs "${apt_packages[@]}" "${ruby_packages[@]}" "${java_packages[@]}"; install_cbindgen; install_venv ;;
            apt) install_debs "${apt_packages[@]}" ;;
            zookeeper) install_debs zookeeper ;;
            cbindgen) install_cbindgen ;;
            venv) install_debs python3 python3-venv; install_venv ;;
            go) install_debs golang-go pkg-config cmake ;;
            ruby) install_debs "${ruby_packages[@]}" ;;
            java) install_debs "${java_packages[@]}" ;;
            -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; return 0 ;;
            *) note "unknown component: $item (all|apt|zookeeper|cbindgen|venv|go|ruby|java)"; return 2 ;;
        esac
    done
}

main "$@"
