#!/usr/bin/env bash
# Starts and stops real ZooKeeper servers on 127.0.0.1 for ctest fixtures,
# the demo and manual testing (Debian's zookeeper package; installed through
# scripts/install-deps.sh when missing).
#
# Usage:
#   zk-server.sh start DIR [--owner PID] [--fresh]
#       Start a standalone server in DIR (created) on a free port, wait until
#       it serves, print its connect string 127.0.0.1:PORT on stdout.
#       Writes DIR/port, DIR/pid (the JVM), DIR/watchdog.pid, DIR/zoo.cfg,
#       DIR/data/ and DIR/zookeeper.log. A DIR used before keeps its data and
#       (when free) its port; --fresh wipes it first. A DIR whose server is
#       running is left alone (its connect string is printed again).
#       Starting an ensemble member's directory (ENSEMBLE/2) restarts that
#       member with its ports and data.
#   zk-server.sh stop DIR
#       Kill the server (SIGKILL) and wait until it is gone and its port
#       refuses connections. Keeps the data. Succeeds when nothing runs.
#   zk-server.sh restart DIR [--owner PID]
#   zk-server.sh status DIR
#       Exit 0 and print the connect string when it serves; 1 when it runs
#       but does not serve; 3 when it is stopped.
#   zk-server.sh start-ensemble DIR [N] [--owner PID] [--fresh]
#       Start an N-member ensemble (default 3) in DIR/1..DIR/N, wait until
#       every member serves as leader or follower, print the connect string
#       127.0.0.1:P1,127.0.0.1:P2,... (also in DIR/connect).
#   zk-server.sh stop-ensemble DIR
#   zk-server.sh status-ensemble DIR
#       Exit 0 and print the connect string when all members serve and one
#       leads; the members' modes go to stderr.
#
# --owner PID: the server(s) also die when process PID exits (a watchdog
# polls it every 0.5 s). Without it a server runs until `stop`, so callers
# should `trap '... stop DIR' EXIT`.
#
# Environment: ZK_START_TIMEOUT or ZKU_ZK_START_TIMEOUT (seconds, default
# 30), ZK_JVM_OPTS (extra JVM options), ZK_CONFIG (extra zoo.cfg lines),
# ZKU_ZK_CLASSPATH, ZKU_JAVA or JAVA_HOME.
set -euo pipefail

script=$(readlink -f "${BASH_SOURCE[0]}")
script_dir=$(dirname "$script")
start_timeout=${ZK_START_TIMEOUT:-${ZKU_ZK_START_TIMEOUT:-30}}
zk_jar=/usr/share/java/zookeeper.jar
classpath=${ZKU_ZK_CLASSPATH:-/etc/zookeeper/conf:$zk_jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar}
main_class=org.apache.zookeeper.server.quorum.QuorumPeerMain
# Small and fast to start; TTL nodes enabled; log to the console (the log
# file); no fsync (test data only: the page cache survives a SIGKILL);
# leader election retries at least every second (default backoff: 60 s);
# expired TTL nodes and empty containers go within ~1 s (default: 60 s).
# shellcheck disable=SC2054 # the comma in INFO,CONSOLE belongs to the value
jvm_opts=(
    -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
    -Djava.net.preferIPv4Stack=true
    -Dzookeeper.extendedTypesEnabled=true
    -Dzookeeper.forceSync=no
    -Dzookeeper.fastleader.maxNotificationInterval=1000
    -Dznode.container.checkIntervalMs=1000
    -Dzookeeper.jmx.log4j.disable=true
    -Dzookeeper.root.logger=INFO,CONSOLE
)
read -r -a extra_jvm_opts <<<"${ZK_JVM_OPTS:-}"
base_config='tickTime=200
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
maxSessionTimeout=60000
minSessionTimeout=400'
base_config+=${ZK_CONFIG:+$'\n'$ZK_CONFIG}

start_mark='zk-watchdog: starting java'

note() { printf 'zk-server.sh: %s\n' "$*" >&2; }
die() {
    note "$*"
    exit 1
}
usage() {
    sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

java_bin() {
    if [ -n "${ZKU_JAVA:-}" ]; then
        printf '%s\n' "$ZKU_JAVA"
    elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    else
        printf 'java\n'
    fi
}

ensure_zookeeper() {
    if { [ -z "${ZKU_ZK_CLASSPATH:-}" ] && [ ! -r "$zk_jar" ]; } || ! command -v "$(java_bin)" >/dev/null 2>&1; then
        note "ZooKeeper or java is missing; installing"
        "$script_dir/install-deps.sh" zookeeper >&2
    fi
}

# --- processes -------------------------------------------------------------

# pstat PID: sets P_STATE and P_START (state letter, start time) from /proc.
pstat() {
    local st
    P_STATE='' P_START=''
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    read -r -a F <<<"${st##*) }"
    P_STATE=${F[0]} P_START=${F[19]}
}

# alive PID [STARTTIME]: PID exists, is no zombie (and started at STARTTIME).
alive() {
    [ -n "$1" ] && pstat "$1" && [ "$P_STATE" != Z ] && { [ -z "${2:-}" ] || [ "$P_START" = "$2" ]; }
}

# has_arg PID WORD: PID is alive and WORD is one of its arguments.
has_arg() {
    local args a
    alive "$1" || return 1
    mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
    for a in "${args[@]}"; do
        [ "$a" != "$2" ] || return 0
    done
    return 1
}

# The JVM / watchdog recorded in DIR, if still ours (guards against reuse).
# Right after the fork the JVM's command line is still the watchdog's.
java_pid() {
    local pid
    pid=$(cat "$1/pid" 2>/dev/null) || return 1
    { has_arg "$pid" "$1/zoo.cfg" || { has_arg "$pid" _watchdog && has_arg "$pid" "$1"; }; } && printf '%s\n' "$pid"
}
watchdog_pid() {
    local pid
    pid=$(cat "$1/watchdog.pid" 2>/dev/null) || return 1
    has_arg "$pid" _watchdog && has_arg "$pid" "$1" && printf '%s\n' "$pid"
}

# --- network ---------------------------------------------------------------

# four_letter PORT CMD: prints the reply of 127.0.0.1:PORT to CMD.
four_letter() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf '%s' "$2" >&3
    reply=''
    IFS= read -r -d '' -t 5 reply <&3 || true
    printf '%s' "$reply"
) 2>/dev/null

port_accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

server_mode() {
    local reply
    reply=$(four_letter "$1" srvr) || return 1
    [[ $reply =~ Mode:\ ([a-z]+) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# free_ports N: N distinct free loopback ports.
free_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
    else
        local ports=() p
        while [ "${#ports[@]}" -lt "$1" ]; do
            p=$((20000 + RANDOM % 12000))
            [[ " ${ports[*]} " != *" $p "* ]] || continue
            port_accepts "$p" || ports+=("$p")
        done
        printf '%s\n' "${ports[*]}"
    fi
}

# this_run DIR: the log of DIR's latest start.
this_run() {
    tac "$1/zookeeper.log" 2>/dev/null | sed "/^$start_mark/q" | tac
}

# bind_failed DIR: the latest start failed to bind a port.
bind_failed() {
    [[ $(this_run "$1") == *'Address already in use'* ]]
}

log_tail() {
    this_run "$1" | grep -v -e 'Processing [a-z]* command from' | tail -n "${2:-40}" | sed "s|^|  $1: |" >&2 || true
}

# --- one server ------------------------------------------------------------

# The watchdog (run detached through setsid): starts the JVM, records pids,
# kills the JVM on SIGTERM/SIGINT/SIGHUP or when the owner disappears, and
# exits when the JVM does.
cmd_watchdog() {
    local dir=$1 owner=$2 owner_start='' jpid why='' rc=0 fd n
    # Keep nothing of the caller's (pipes from ctest, $(...) captures, ...).
    for fd in "/proc/$BASHPID"/fd/*; do
        n=${fd##*/}
        if [ "$n" -gt 2 ] && [ "$n" -lt 255 ]; then
            eval "exec $n>&-" 2>/dev/null || true
        fi
    done
    if [ "$owner" != 0 ]; then
        pstat "$owner" || exit 1
        owner_start=$P_START
    fi
    printf '%s\n' "$BASHPID" >"$dir/watchdog.pid"
    printf '%s (owner %s)\n' "$start_mark" "$owner" >>"$dir/zookeeper.log"
    "$(java_bin)" "${jvm_opts[@]}" "${extra_jvm_opts[@]}" "-Dzookeeper.log.dir=$dir" \
        -cp "$classpath" "$main_class" "$dir/zoo.cfg" </dev/null >>"$dir/zookeeper.log" 2>&1 &
    jpid=$!
    printf '%s\n' "$jpid" >"$dir/pid"
    trap 'why=signal' TERM INT HUP
    while [ -z "$why" ]; do
        sleep 0.5 &
        wait "$!" || true
        if ! alive "$jpid"; then
            why=exited
        elif [ -n "$owner_start" ] && ! alive "$owner" "$owner_start"; then
            why=owner
        fi
    done
    [ "$why" = exited ] || kill -9 "$jpid" 2>/dev/null || true
    wait "$jpid" 2>/dev/null || rc=$?
    printf 'zk-watchdog: %s; jvm %s ended with status %s\n' "$why" "$jpid" "$rc" >>"$dir/zookeeper.log"
    exit 0
}

# launch DIR OWNER: starts the watchdog (and so the JVM) for DIR/zoo.cfg.
launch() {
    local dir=$1 owner=$2 i
    rm -f "$dir/pid" "$dir/watchdog.pid"
    setsid "$script" _watchdog "$dir" "${owner:-0}" </dev/null >/dev/null 2>&1 &
    for ((i = 0; i < 200; i++)); do
        [ ! -s "$dir/pid" ] || return 0
        sleep 0.05
    done
    die "$dir: the watchdog did not start java"
}

# wait_serving DIR DEADLINE MODE...: 0 when DIR's server serves in one of
# MODEs, 2 when it could not bind its ports, 1 on other failures/timeout.
wait_serving() {
    local dir=$1 deadline=$2 port conf mode
    shift 2
    port=$(cat "$dir/port")
    while :; do
        if ! java_pid "$dir" >/dev/null; then
            ! bind_failed "$dir" || return 2
            note "$dir: ZooKeeper exited during start"
            return 1
        fi
        if [ "$(four_letter "$port" ruok)" = imok ]; then
            conf=$(four_letter "$port" conf || true)
            if [[ $conf == *dataDir=* && $conf != *"dataDir=$dir/data"* ]]; then
                return 2 # someone else's server answers on our port
            fi
            mode=$(server_mode "$port" || true)
            if [ -n "$mode" ] && [[ " $* " == *" $mode "* ]]; then
                return 0
            fi
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            note "$dir: not serving after ${start_timeout}s (port $port)"
            return 1
        fi
        sleep 0.1
    done
}

write_standalone_config() {
    printf '%s\ndataDir=%s\nclientPort=%s\n' "$base_config" "$1/data" "$2" >"$1/zoo.cfg"
    printf '%s\n' "$2" >"$1/port"
}

is_member() { grep -q '^server\.' "$1/zoo.cfg" 2>/dev/null; }

# stop_one DIR: kill DIR's server, wait until it is gone.
stop_one() {
    local dir=$1 jpid wpid port='' i
    jpid=$(java_pid "$dir" || true)
    wpid=$(watchdog_pid "$dir" || true)
    port=$(cat "$dir/port" 2>/dev/null || true)
    if [ -z "$jpid" ] && [ -z "$wpid" ]; then
        rm -f "$dir/pid" "$dir/watchdog.pid"
        return 0
    fi
    [ -z "$wpid" ] || kill -TERM "$wpid" 2>/dev/null || true
    [ -z "$jpid" ] || kill -9 "$jpid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        if ! alive "$jpid" && ! alive "$wpid" && { [ -z "$port" ] || ! port_accepts "$port"; }; then
            rm -f "$dir/pid" "$dir/watchdog.pid"
            return 0
        fi
        sleep 0.05
    done
    die "$dir: server still running after stop (jvm ${jpid:--}, watchdog ${wpid:--}, port ${port:--})"
}

absdir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

cmd_start() {
    local dir owner=$2 fresh=$3 port attempt rc deadline
    dir=$(absdir "$1")
    if [ "$fresh" = 1 ]; then
        stop_one "$dir"
        rm -rf "${dir:?}/data" "$dir/zoo.cfg" "$dir/port" "$dir/zookeeper.log"
    fi
    if java_pid "$dir" >/dev/null; then
        port=$(cat "$dir/port")
        if [ -n "$(server_mode "$port" || true)" ]; then
            note "$dir: already running"
            printf '127.0.0.1:%s\n' "$port"
            return 0
        fi
        stop_one "$dir"
    fi
    ensure_zookeeper
    mkdir -p "$dir/data"
    deadline=$((SECONDS + start_timeout))
    if is_member "$dir"; then
        launch "$dir" "$owner"
        rc=0
        wait_serving "$dir" "$deadline" leader follower || rc=$?
        if [ "$rc" != 0 ]; then
            log_tail "$dir"
            stop_one "$dir"
            die "$dir: ensemble member did not start"
        fi
        printf '127.0.0.1:%s\n' "$(cat "$dir/port")"
        return 0
    fi
    for attempt in 1 2 3; do
        port=$(cat "$dir/port" 2>/dev/null || true)
        if [ "$attempt" != 1 ] || [ -z "$port" ] || port_accepts "$port"; then
            port=$(free_ports 1)
        fi
        write_standalone_config "$dir" "$port"
        launch "$dir" "$owner"
        rc=0
        wait_serving "$dir" "$deadline" standalone || rc=$?
        case $rc in
            0)
                printf '127.0.0.1:%s\n' "$port"
                return 0
                ;;
            2) note "$dir: port $port is taken; trying another" ;;
            *) break ;;
        esac
        stop_one "$dir"
    done
    log_tail "$dir"
    stop_one "$dir"
    die "$dir: ZooKeeper did not start (log: $dir/zookeeper.log)"
}

cmd_stop() {
    local dir=$1
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    stop_one "$dir"
}

cmd_status() {
    local dir=$1 port mode jpid
    [ -d "$dir" ] || { note "$dir: stopped"; return 3; }
    dir=$(cd "$dir" && pwd)
    jpid=$(java_pid "$dir" || true)
    [ -n "$jpid" ] || { note "$dir: stopped"; return 3; }
    port=$(cat "$dir/port")
    mode=$(server_mode "$port" || true)
    if [ -z "$mode" ]; then
        note "$dir: running (pid $jpid, port $port) but not serving"
        return 1
    fi
    note "$dir: serving, mode $mode, pid $jpid"
    printf '127.0.0.1:%s\n' "$port"
}

# --- ensemble --------------------------------------------------------------

# members DIR: the member directories DIR/1, DIR/2, ... in order.
members() {
    local i
    for ((i = 1; ; i++)); do
        [ -f "$1/$i/zoo.cfg" ] || return 0
        printf '%s\n' "$1/$i"
    done
}

create_ensemble() {
    local dir=$1 n=$2 ports servers='' i m
    read -r -a ports <<<"$(free_ports $((3 * n)))"
    for ((i = 0; i < n; i++)); do
        servers+="server.$((i + 1))=127.0.0.1:${ports[3 * i + 1]}:${ports[3 * i + 2]}"$'\n'
    done
    for ((i = 0; i < n; i++)); do
        m=$dir/$((i + 1))
        mkdir -p "$m/data"
        printf '%s\n' "$((i + 1))" >"$m/data/myid"
        printf '%s\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\n%s' \
            "$base_config" "$m/data" "${ports[3 * i]}" "$servers" >"$m/zoo.cfg"
        printf '%s\n' "${ports[3 * i]}" >"$m/port"
    done
}

ensemble_connect() {
    local m out=''
    while read -r m; do
        out+="${out:+,}127.0.0.1:$(cat "$m/port")"
    done < <(members "$1")
    printf '%s\n' "$out"
}

# wait_ensemble DIR DEADLINE: 0 when all members serve with one leader,
# 2 when a member could not bind its ports, 1 on failure/timeout.
wait_ensemble() {
    local dir=$1 deadline=$2 m mode serving leaders total
    while :; do
        serving=0 leaders=0 total=0
        while read -r m; do
            total=$((total + 1))
            if ! java_pid "$m" >/dev/null; then
                ! bind_failed "$m" || return 2
                note "$m: ZooKeeper exited during start"
                return 1
            fi
            mode=$(server_mode "$(cat "$m/port")" || true)
            case $mode in
                leader) serving=$((serving + 1)) leaders=$((leaders + 1)) ;;
                follower) serving=$((serving + 1)) ;;
            esac
        done < <(members "$dir")
        if [ "$serving" = "$total" ] && [ "$leaders" = 1 ]; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            note "$dir: $serving of $total members serving, $leaders leader(s) after ${start_timeout}s"
            return 1
        fi
        sleep 0.2
    done
}

cmd_start_ensemble() {
    local dir n=$2 owner=$3 fresh=$4 m attempt rc deadline existing
    dir=$(absdir "$1")
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad ensemble size: $n"
    [ "$n" -ge 2 ] || die "an ensemble needs at least 2 members (use start for one server)"
    if [ "$fresh" = 1 ]; then
        cmd_stop_ensemble "$dir"
        rm -rf "${dir:?}"/[0-9]* "$dir/connect"
    fi
    existing=$(members "$dir" | wc -l)
    if [ "$existing" != 0 ] && [ "$existing" != "$n" ]; then
        die "$dir holds a $existing-member ensemble; use --fresh to replace it"
    fi
    ensure_zookeeper
    for attempt in 1 2 3; do
        [ "$existing" != 0 ] || create_ensemble "$dir" "$n"
        while read -r m; do
            java_pid "$m" >/dev/null || launch "$m" "$owner"
        done < <(members "$dir")
        deadline=$((SECONDS + 2 * start_timeout))
        rc=0
        wait_ensemble "$dir" "$deadline" || rc=$?
        if [ "$rc" = 0 ]; then
            ensemble_connect "$dir" | tee "$dir/connect"
            return 0
        fi
        if [ "$rc" = 2 ] && [ "$existing" = 0 ]; then
            note "$dir: a port is taken; trying other ports"
            cmd_stop_ensemble "$dir"
            rm -rf "${dir:?}"/[0-9]*
            continue
        fi
        break
    done
    while read -r m; do log_tail "$m" 20; done < <(members "$dir")
    cmd_stop_ensemble "$dir"
    die "$dir: the ensemble did not form"
}

cmd_stop_ensemble() {
    local dir=$1 m wpid jpid
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    # Kill all first so the members die together, then wait for each.
    while read -r m; do
        wpid=$(watchdog_pid "$m" || true)
        jpid=$(java_pid "$m" || true)
        [ -z "$wpid" ] || kill -TERM "$wpid" 2>/dev/null || true
        [ -z "$jpid" ] || kill -9 "$jpid" 2>/dev/null || true
    done < <(members "$dir")
    while read -r m; do
        stop_one "$m"
    done < <(members "$dir")
}

cmd_status_ensemble() {
    local dir=$1 m mode leaders=0 serving=0 total=0
    [ -d "$dir" ] || { note "$dir: no ensemble"; return 3; }
    dir=$(cd "$dir" && pwd)
    while read -r m; do
        total=$((total + 1))
        mode=stopped
        if java_pid "$m" >/dev/null; then
            mode=$(server_mode "$(cat "$m/port")" || echo "not serving")
        fi
        note "$m: $mode"
        case $mode in
            leader) serving=$((serving + 1)) leaders=$((leaders + 1)) ;;
            follower) serving=$((serving + 1)) ;;
        esac
    done < <(members "$dir")
    [ "$total" != 0 ] || { note "$dir: no ensemble"; return 3; }
    [ "$serving" = "$total" ] && [ "$leaders" = 1 ] || return 1
    ensemble_connect "$dir"
}

# --- command line ----------------------------------------------------------

main() {
    [ "$#" -ge 2 ] || usage
    local cmd=$1 dir=$2 owner='' fresh=0 size=3
    shift 2
    if [ "$cmd" = _watchdog ]; then
        cmd_watchdog "$dir" "$1"
    fi
    if [ "$cmd" = start-ensemble ] && [ "$#" -gt 0 ] && [[ $1 != -* ]]; then
        size=$1
        shift
    fi
    while [ "$#" -gt 0 ]; do
        case $1 in
            --owner)
                [ "$#" -ge 2 ] || usage
                owner=$2
                alive "$owner" || die "--owner $owner: no such process"
                shift 2
                ;;
            --fresh)
                fresh=1
                shift
                ;;
            *) usage ;;
        esac
    done
    case $cmd in
        start) cmd_start "$dir" "$owner" "$fresh" ;;
        stop) cmd_stop "$dir" ;;
        restart)
            cmd_stop "$dir"
            cmd_start "$dir" "$owner" 0
            ;;
        status) cmd_status "$dir" ;;
        start-ensemble) cmd_start_ensemble "$dir" "$size" "$owner" "$fresh" ;;
        stop-ensemble) cmd_stop_ensemble "$dir" ;;
        status-ensemble) cmd_status_ensemble "$dir" ;;
        *) usage ;;
    esac
}

main "$@"
