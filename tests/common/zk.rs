//! Real ZooKeeper servers for integration tests, in the spirit of Curator's
//! `TestingServer` and `TestingCluster`.
//!
//! Servers come from Debian's `zookeeper` package and run as separate JVMs on
//! loopback, on free ports, with their data under `std::env::temp_dir()`.
//! This module depends on `std` only (not on the `zkutil` crate).
//!
//! * [`shared_server`]: one lazily started server per test binary, for tests
//!   that only need *a* server. Never stop it; use [`unique_path`] so tests
//!   sharing it never collide.
//! * [`ZkServer::start`]: a private standalone server, for tests that stop,
//!   restart or otherwise disturb it.
//! * [`ZkCluster::start`]: an n-member ensemble, for failover tests.
//!
//! # JVM lifetime
//!
//! No JVM may outlive the test process, even when a test panics, the process
//! is killed with SIGKILL, or the server sits in a static that is never
//! dropped. Every JVM is therefore started by a small bash watchdog (see
//! [`WATCHDOG`]) whose stdin is a pipe held only by the test process:
//!
//! * `stop()`/`Drop` write `s` (stop) to the pipe: the watchdog SIGKILLs the JVM,
//!   reaps it and exits; the harness waits for the watchdog to exit.
//! * When the test process ends in any way, the kernel closes the pipe; the
//!   watchdog sees EOF at once, SIGKILLs the JVM and removes the server's
//!   temporary directory.
//! * As a second line of defence the watchdog also polls, every 0.5 s, that
//!   the owning process (pid and start time) still exists.
//!
//! Directories left behind by killed test processes are swept by the next
//! test process that starts a server.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Class path of Debian's zookeeper package, plus the log4j binding so the
/// server log (`zookeeper.log` in the server directory) is not empty.
/// Override with `ZKU_ZK_CLASSPATH`.
pub const DEFAULT_CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:\
/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";

const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// JVM options: small and fast to start; TTL nodes enabled; console logging
/// (to the log file); no fsync (the page cache survives SIGKILL, which is all
/// a restart test needs); leader election retries at least every second
/// (the default backoff grows to 60 s and can stall a loaded machine);
/// expired TTL nodes and empty containers are removed within about a second
/// (default: a minute).
const JVM_OPTS: &[&str] = &[
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-XX:-UsePerfData",
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.extendedTypesEnabled=true",
    "-Dzookeeper.forceSync=no",
    "-Dzookeeper.fastleader.maxNotificationInterval=1000",
    "-Dznode.container.checkIntervalMs=1000",
    "-Dzookeeper.jmx.log4j.disable=true",
    "-Dzookeeper.root.logger=INFO,CONSOLE",
];

/// Settings shared by standalone servers and ensemble members.
const BASE_CONFIG: &str = "tickTime=200
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
maxSessionTimeout=60000
minSessionTimeout=400
";

/// How many times a start is retried when the chosen port turns out to be
/// taken by someone else between choosing it and the JVM binding it.
const START_ATTEMPTS: usize = 3;
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const LOG_TAIL_LINES: usize = 60;
const TEMP_PREFIX: &str = "zkutil-test-";
/// Written to the log by the watchdog before each JVM start.
const START_MARK: &str = "zk-watchdog: starting java";

/// The watchdog, run as `bash -c WATCHDOG zk-watchdog OWNER PIDFILE LOG
/// CLEANUP JAVA ARGS...` with stdin a pipe from the owner.
///
/// It appends `$START_MARK` (environment) to LOG, starts the JVM in the
/// background (stdin /dev/null, output appended to LOG), writes its pid plus
/// a newline to PIDFILE, then loops reading stdin
/// with a 0.5 s timeout:
/// * the byte `s`    -> kill the JVM (SIGKILL), reap it, exit; keep the files.
/// * EOF             -> the owner died (gone within 1 s): kill the JVM, then
///   `rm -rf CLEANUP` (when not empty); from an owner still alive after
///   that, a stop (its `s` may have been lost by a read timing out as it
///   came: the directory must stay, the owner still uses it).
/// * the JVM is gone -> exit (the owner sees the watchdog exit).
/// * the owner (pid + start time from /proc) is gone -> as for EOF.
/// * SIGTERM/SIGINT/SIGHUP -> kill the JVM, exit; keep the files.
pub const WATCHDOG: &str = r#"
owner=$1 pidfile=$2 log=$3 cleanup=$4
shift 4
# pstat PID: sets P_STATE and P_START (state letter, start time) from /proc.
pstat() {
  local st
  P_STATE='' P_START=''
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a F <<<"${st##*) }"
  P_STATE=${F[0]} P_START=${F[19]}
}
# alive PID [STARTTIME]: the process exists, is no zombie (and started then).
alive() {
  pstat "$1" && [ "$P_STATE" != Z ] && { [ -z "${2:-}" ] || [ "$P_START" = "$2" ]; }
}
pstat "$owner" || exit 1
owner_start=$P_START
printf '%s\n' "$START_MARK" >>"$log"
"$@" </dev/null >>"$log" 2>&1 &
jpid=$!
printf '%s\n' "$jpid" >"$pidfile"
why=''
trap 'why=signal' TERM INT HUP
while [ -z "$why" ]; do
  if read -r -N 1 -t 0.5 line; then
    [ "$line" != s ] || why=stop
  elif [ $? -le 128 ]; then
    # EOF: the owner is dying, or it closed the pipe after writing `s` and
    # a read timing out just then lost the byte (bash's read -t can): only
    # an owner gone within a second means cleaning up.
    why=stop
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      alive "$owner" "$owner_start" || { why=eof; break; }
      sleep 0.1
    done
  elif ! alive "$jpid"; then
    why=exited
  elif ! alive "$owner" "$owner_start"; then
    why=owner
  fi
done
[ "$why" = exited ] || kill -9 "$jpid" 2>/dev/null
wait "$jpid" 2>/dev/null
rc=$?
printf 'zk-watchdog: %s; jvm %s ended with status %s\n' "$why" "$jpid" "$rc" >>"$log" 2>/dev/null
case $why in
  eof|owner) [ -z "$cleanup" ] || rm -rf -- "$cleanup" ;;
esac
exit 0
"#;

// ---------------------------------------------------------------------------
// Small public helpers
// ---------------------------------------------------------------------------

/// Sends a four-letter command ("ruok", "srvr", "stat", "cons", "mntr",
/// "conf", ...) to 127.0.0.1:`port` and returns the whole reply, or `None`
/// when the connection or the read fails (e.g. the server is down).
pub fn four_letter(port: u16, cmd: &str) -> Option<String> {
    four_letter_within(port, cmd, Duration::from_secs(5))
}

/// [`four_letter`] with a bound on each of connect, write and read.
pub fn four_letter_within(port: u16, cmd: &str, timeout: Duration) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream.write_all(cmd.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

/// Whether the server on 127.0.0.1:`port` holds a watch on `path`
/// (four-letter `wchp`).
pub fn has_watch(port: u16, path: &str) -> bool {
    let reply = four_letter(port, "wchp").expect("wchp");
    reply.lines().any(|l| l.trim() == path)
}

/// Polls `wchp` until `path` has (or has no) watch; generous timeout.
pub fn wait_watch(port: u16, path: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while has_watch(port, path) != present {
        assert!(Instant::now() < deadline, "watch on {path} still {}", if present { "absent" } else { "present" });
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `Mode:` reported by `srvr` ("leader", "follower", "standalone",
/// "observer"), or `None` when the server is down or not serving.
pub fn server_mode(port: u16) -> Option<String> {
    let reply = four_letter(port, "srvr")?;
    reply.lines().find_map(|line| line.strip_prefix("Mode: ")).map(|mode| mode.trim().to_string())
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// A path that no other test (in this or any concurrently running test
/// process) uses: `/t-<prefix>-<pid>-<counter>-<nanos>`. Characters of
/// `prefix` that are not `[A-Za-z0-9_.-]` become `_`.
pub fn unique_path(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix: String =
        prefix.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("/t-{prefix}-{}-{n}-{}", std::process::id(), nanos())
}

/// True when process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat.rfind(") ") {
            Some(i) => !stat[i + 2..].starts_with('Z'),
            None => false,
        },
        Err(_) => false,
    }
}

/// How long a server or ensemble may take to start: `ZKU_ZK_START_TIMEOUT`
/// seconds, default 30.
pub fn start_timeout() -> Duration {
    let secs = std::env::var("ZKU_ZK_START_TIMEOUT").ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(30);
    Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

fn nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn java_binary() -> String {
    if let Ok(java) = std::env::var("ZKU_JAVA") {
        return java;
    }
    if let Ok(home) = std::env::var("JAVA_HOME") {
        let java = Path::new(&home).join("bin/java");
        if java.exists() {
            return java.to_string_lossy().into_owned();
        }
    }
    "java".to_string()
}

fn classpath() -> String {
    std::env::var("ZKU_ZK_CLASSPATH").unwrap_or_else(|_| DEFAULT_CLASSPATH.to_string())
}

/// `n` distinct free loopback ports: all are bound at once, then released.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local_addr").port()).collect()
}

/// Removes temp dirs left by test processes that no longer exist.
fn sweep_stale_dirs() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// A fresh directory `<temp>/zkutil-test-<pid>-<kind>-<n>-<nanos>`.
fn new_temp_dir(kind: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    sweep_stale_dirs();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}-{kind}-{n}-{}", std::process::id(), nanos()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            // Skip the INFO line ZooKeeper logs for every four-letter word.
            let all: Vec<&str> =
                text.lines().filter(|l| !(l.contains("Processing ") && l.contains(" command from "))).collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// One JVM plus its watchdog.
struct Jvm {
    watchdog: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
}

impl Jvm {
    fn spawn(cfg: &Path, dir: &Path, log: &Path, cleanup: &Path) -> Result<Jvm, String> {
        let pidfile = dir.join("jvm.pid");
        let _ = fs::remove_file(&pidfile);
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .env("START_MARK", START_MARK)
            .arg("zk-watchdog")
            .arg(std::process::id().to_string())
            .arg(&pidfile)
            .arg(log)
            .arg(cleanup)
            .arg(java_binary())
            .args(JVM_OPTS)
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-cp")
            .arg(classpath())
            .arg(MAIN_CLASS)
            .arg(cfg)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut watchdog = cmd.spawn().map_err(|e| format!("cannot run bash: {e}"))?;
        let stdin = watchdog.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&pidfile).unwrap_or_default();
            if text.ends_with('\n') {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    return Ok(Jvm { watchdog, stdin, pid });
                }
            }
            if let Ok(Some(status)) = watchdog.try_wait() {
                return Err(format!("the watchdog exited before starting java ({status})"));
            }
            if Instant::now() > deadline {
                let _ = watchdog.kill();
                let _ = watchdog.wait();
                return Err("the watchdog did not report the JVM pid within 10 s".into());
            }
            sleep(Duration::from_millis(5));
        }
    }

    /// The JVM is running (neither it nor its watchdog has exited).
    fn is_alive(&self) -> bool {
        process_alive(self.watchdog.id()) && process_alive(self.pid)
    }

    /// Asks the watchdog to kill the JVM; does not wait.
    fn request_stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // One byte: a pipe read cannot split it, unlike a word that a read
            // timing out halfway would cut in two.
            let _ = stdin.write_all(b"s");
            let _ = stdin.flush();
        }
    }

    /// Waits until the watchdog (and so the JVM) is gone; kills both by pid
    /// if the watchdog does not react.
    fn wait_stopped(&mut self) {
        self.request_stop();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.watchdog.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => {}
            }
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).stderr(Stdio::null()).status();
                let _ = self.watchdog.kill();
                let _ = self.watchdog.wait();
                return;
            }
            sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        self.wait_stopped();
    }
}

/// What a probe of one server found.
enum Probe {
    /// No JVM, or it exited; `port_in_use` when it died failing to bind.
    Dead { port_in_use: bool },
    /// Another server (not ours) answers on our port.
    Foreign,
    /// Up but not serving yet.
    NotReady,
    /// Serving in this mode.
    Serving(String),
}

/// One server process: its files, port and (when running) JVM.
struct Instance {
    dir: PathBuf,
    data_dir: PathBuf,
    cfg: PathBuf,
    log: PathBuf,
    port: u16,
    /// Removed by the watchdog when the owner dies.
    cleanup: PathBuf,
    jvm: Option<Jvm>,
}

impl Instance {
    fn new(dir: PathBuf, port: u16, cleanup: PathBuf) -> Instance {
        let data_dir = dir.join("data");
        fs::create_dir_all(&data_dir).unwrap_or_else(|e| panic!("create {}: {e}", data_dir.display()));
        Instance { cfg: dir.join("zoo.cfg"), log: dir.join("zookeeper.log"), data_dir, dir, port, cleanup, jvm: None }
    }

    fn write_config(&self, extra: &str) {
        let text = format!("{BASE_CONFIG}dataDir={}\nclientPort={}\n{extra}", self.data_dir.display(), self.port);
        fs::write(&self.cfg, text).unwrap_or_else(|e| panic!("write {}: {e}", self.cfg.display()));
    }

    fn launch(&mut self) -> Result<(), String> {
        assert!(self.jvm.is_none(), "server on port {} is already running", self.port);
        self.jvm = Some(Jvm::spawn(&self.cfg, &self.dir, &self.log, &self.cleanup)?);
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.jvm.as_ref().is_some_and(Jvm::is_alive)
    }

    fn jvm_pid(&self) -> Option<u32> {
        self.jvm.as_ref().map(|j| j.pid)
    }

    fn probe(&self) -> Probe {
        if !self.is_running() {
            // Only this run's part of the log counts.
            let port_in_use = fs::read_to_string(&self.log)
                .map(|log| {
                    let run = log.rsplit_once(START_MARK).map_or(log.as_str(), |(_, run)| run);
                    run.contains("Address already in use")
                })
                .unwrap_or(false);
            return Probe::Dead { port_in_use };
        }
        // Short timeouts: a probe that times out is simply retried.
        if four_letter_within(self.port, "ruok", PROBE_TIMEOUT).as_deref() != Some("imok") {
            return Probe::NotReady;
        }
        if let Some(conf) = four_letter_within(self.port, "conf", PROBE_TIMEOUT) {
            let ours = format!("dataDir={}", self.data_dir.display());
            if conf.contains("dataDir=") && !conf.contains(&ours) {
                return Probe::Foreign;
            }
        }
        match server_mode(self.port) {
            Some(mode) => Probe::Serving(mode),
            None => Probe::NotReady,
        }
    }

    /// Kills the JVM and waits until the port refuses connections.
    fn shutdown(&mut self) {
        if self.kill() {
            self.wait_port_closed();
        }
    }

    /// Kills the JVM and waits for it to exit; false when there was none.
    fn kill(&mut self) -> bool {
        match self.jvm.take() {
            Some(mut jvm) => {
                jvm.wait_stopped();
                true
            }
            None => false,
        }
    }

    fn wait_port_closed(&self) {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while port_accepts(self.port) {
            if Instant::now() > deadline {
                eprintln!("zk harness: port {} still accepts connections after stop", self.port);
                return;
            }
            sleep(Duration::from_millis(20));
        }
    }

    fn failure(&self, what: &str) -> String {
        format!(
            "{what}\n--- last {LOG_TAIL_LINES} lines of {} ---\n{}\n---",
            self.log.display(),
            log_tail(&self.log, LOG_TAIL_LINES)
        )
    }
}

/// Why waiting for a server failed.
enum WaitError {
    /// Someone else holds a port we need; retrying with new ports may help.
    PortInUse(String),
    Failed(String),
}

const SERVING_MEMBER: &[&str] = &["leader", "follower", "standalone"];

/// Waits until `inst` serves in one of `modes`.
fn wait_serving(inst: &Instance, modes: &[&str], deadline: Instant) -> Result<(), WaitError> {
    loop {
        match inst.probe() {
            Probe::Serving(mode) if modes.contains(&mode.as_str()) => return Ok(()),
            Probe::Dead { port_in_use: true } | Probe::Foreign => {
                return Err(WaitError::PortInUse(
                    inst.failure(&format!("ZooKeeper could not bind its ports (client port {})", inst.port)),
                ));
            }
            Probe::Dead { port_in_use: false } => {
                return Err(WaitError::Failed(
                    inst.failure(&format!("ZooKeeper (client port {}) exited during start", inst.port)),
                ));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(WaitError::Failed(inst.failure(&format!(
                "ZooKeeper (client port {}) did not serve within {:?} (mode {:?})",
                inst.port,
                start_timeout(),
                server_mode(inst.port)
            ))));
        }
        sleep(POLL);
    }
}

/// Starts a stopped instance again on its own ports and waits until it
/// serves in one of `modes`. While someone else holds a port, retries until
/// [`start_timeout`] has passed.
fn relaunch(inst: &mut Instance, modes: &[&str]) -> Result<(), String> {
    let deadline = Instant::now() + start_timeout();
    loop {
        inst.launch()?;
        match wait_serving(inst, modes, deadline) {
            Ok(()) => return Ok(()),
            Err(WaitError::PortInUse(msg)) => {
                inst.kill();
                if Instant::now() > deadline {
                    return Err(msg);
                }
                sleep(Duration::from_millis(300));
            }
            Err(WaitError::Failed(msg)) => return Err(msg),
        }
    }
}

// ---------------------------------------------------------------------------
// Standalone server
// ---------------------------------------------------------------------------

/// A standalone ZooKeeper server on 127.0.0.1 with a private data directory.
/// Dropping it kills the JVM and removes the directory.
pub struct ZkServer {
    root: PathBuf,
    inst: Instance,
}

impl ZkServer {
    /// Starts a standalone server on a free port with a fresh temp data dir
    /// and waits until it serves (imok and `Mode: standalone`). Panics with
    /// the tail of the server log when it does not within
    /// [`start_timeout`] (30 s).
    pub fn start() -> ZkServer {
        let root = new_temp_dir("server");
        let mut server = ZkServer { inst: Instance::new(root.clone(), 0, root.clone()), root };
        for attempt in 1..=START_ATTEMPTS {
            server.inst.port = free_ports(1)[0];
            server.inst.write_config("");
            if let Err(e) = server.inst.launch() {
                panic!("cannot start ZooKeeper: {e}");
            }
            match wait_serving(&server.inst, &["standalone"], Instant::now() + start_timeout()) {
                Ok(()) => return server,
                Err(WaitError::PortInUse(msg)) if attempt < START_ATTEMPTS => {
                    eprintln!("zk harness: port clash, retrying: {}", msg.lines().next().unwrap_or(""));
                    server.inst.kill();
                }
                Err(WaitError::PortInUse(msg) | WaitError::Failed(msg)) => panic!("{msg}"),
            }
        }
        unreachable!()
    }

    /// "127.0.0.1:PORT".
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.inst.port)
    }

    pub fn port(&self) -> u16 {
        self.inst.port
    }

    /// Kills the JVM (SIGKILL), keeps the data directory and waits until the
    /// port refuses connections. No-op when already stopped.
    pub fn stop(&mut self) {
        self.inst.shutdown();
    }

    /// Starts the server again on the same port and data directory and waits
    /// until it serves. Stops it first when it is running.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(msg) = relaunch(&mut self.inst, &["standalone"]) {
            panic!("{msg}");
        }
    }

    /// The JVM is alive (it may still be starting).
    pub fn is_running(&self) -> bool {
        self.inst.is_running()
    }

    /// The JVM's pid while running.
    pub fn jvm_pid(&self) -> Option<u32> {
        self.inst.jvm_pid()
    }

    /// The server's temp directory (holds `data/`, `zoo.cfg`, `zookeeper.log`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    pub fn log_path(&self) -> &Path {
        &self.inst.log
    }

    /// The last `lines` lines of the server log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.inst.log, lines)
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        self.inst.kill();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// One server per test binary, started on first use and never stopped by
/// the harness (the watchdog kills it when the test process exits). Do not
/// stop or restart it; use [`unique_path`] for every node a test creates.
pub fn shared_server() -> &'static ZkServer {
    static SHARED: OnceLock<ZkServer> = OnceLock::new();
    SHARED.get_or_init(ZkServer::start)
}

// ---------------------------------------------------------------------------
// Ensemble
// ---------------------------------------------------------------------------

struct Member {
    inst: Instance,
    peer_port: u16,
    election_port: u16,
}

/// An n-member ZooKeeper ensemble on 127.0.0.1. Members are indexed from 0
/// (member `i` has `myid` i + 1). Dropping it kills all JVMs and removes the
/// temp directory.
pub struct ZkCluster {
    root: PathBuf,
    members: Vec<Member>,
}

impl ZkCluster {
    /// Starts `n` members on free ports and waits until every member answers
    /// imok and `srvr` reports `Mode: leader`/`follower` (one leader). Panics
    /// with the members' log tails after [`start_timeout`] × 2.
    pub fn start(n: usize) -> ZkCluster {
        assert!(n >= 1, "an ensemble needs at least one member");
        let root = new_temp_dir("cluster");
        let mut cluster = ZkCluster { root, members: Vec::new() };
        for attempt in 1..=START_ATTEMPTS {
            cluster.create_members(n);
            for m in &mut cluster.members {
                if let Err(e) = m.inst.launch() {
                    panic!("cannot start ZooKeeper: {e}");
                }
            }
            match cluster.wait_formed(Instant::now() + start_timeout() * 2) {
                Ok(()) => return cluster,
                Err(WaitError::PortInUse(msg)) if attempt < START_ATTEMPTS => {
                    eprintln!("zk harness: port clash, retrying: {}", msg.lines().next().unwrap_or(""));
                }
                Err(WaitError::PortInUse(msg) | WaitError::Failed(msg)) => {
                    panic!("ensemble did not form: {msg}\n{}", cluster.all_log_tails());
                }
            }
        }
        unreachable!()
    }

    /// (Re)creates member directories and configs with new ports.
    fn create_members(&mut self, n: usize) {
        self.kill_all();
        self.members.clear();
        if let Ok(entries) = fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let ports = free_ports(3 * n);
        let servers: String =
            (0..n).map(|i| format!("server.{}=127.0.0.1:{}:{}\n", i + 1, ports[3 * i + 1], ports[3 * i + 2])).collect();
        let extra = format!("initLimit=10\nsyncLimit=5\n{servers}");
        for i in 0..n {
            let dir = self.root.join(format!("m{}", i + 1));
            let inst = Instance::new(dir, ports[3 * i], self.root.clone());
            inst.write_config(&extra);
            let myid = inst.data_dir.join("myid");
            fs::write(&myid, format!("{}\n", i + 1)).unwrap_or_else(|e| panic!("write {}: {e}", myid.display()));
            self.members.push(Member { inst, peer_port: ports[3 * i + 1], election_port: ports[3 * i + 2] });
        }
    }

    fn wanted_modes(&self) -> &'static [&'static str] {
        if self.members.len() == 1 { &["standalone"] } else { &["leader", "follower"] }
    }

    /// Waits until every running member serves and exactly one leads.
    fn wait_formed(&self, deadline: Instant) -> Result<(), WaitError> {
        loop {
            let mut leaders = 0;
            let mut serving = 0;
            for m in &self.members {
                match m.inst.probe() {
                    Probe::Serving(mode) if self.wanted_modes().contains(&mode.as_str()) => {
                        serving += 1;
                        if mode != "follower" {
                            leaders += 1;
                        }
                    }
                    Probe::Dead { port_in_use: true } | Probe::Foreign => {
                        return Err(WaitError::PortInUse(
                            m.inst.failure(&format!("member on client port {} could not bind its ports", m.inst.port)),
                        ));
                    }
                    Probe::Dead { port_in_use: false } => {
                        return Err(WaitError::Failed(
                            m.inst.failure(&format!("member on client port {} exited", m.inst.port)),
                        ));
                    }
                    _ => {}
                }
            }
            if serving == self.members.len() && leaders == 1 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(WaitError::Failed(format!(
                    "{serving} of {} members serving, {leaders} leader(s)",
                    self.members.len()
                )));
            }
            sleep(POLL * 2);
        }
    }

    fn all_log_tails(&self) -> String {
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    "--- member {i} (client port {}) {} ---\n{}\n",
                    m.inst.port,
                    m.inst.log.display(),
                    log_tail(&m.inst.log, LOG_TAIL_LINES / 2)
                )
            })
            .collect()
    }

    /// Kills all JVMs, in parallel.
    fn kill_all(&mut self) {
        for m in &mut self.members {
            if let Some(jvm) = m.inst.jvm.as_mut() {
                jvm.request_stop();
            }
        }
        for m in &mut self.members {
            m.inst.kill();
        }
    }

    /// "127.0.0.1:P1,127.0.0.1:P2,...", all members.
    pub fn connect_string(&self) -> String {
        self.members.iter().map(|m| format!("127.0.0.1:{}", m.inst.port)).collect::<Vec<_>>().join(",")
    }

    /// "127.0.0.1:Pi", member `i` only.
    pub fn member_connect_string(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].inst.port)
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Client port of member `i`.
    pub fn member_port(&self, i: usize) -> u16 {
        self.members[i].inst.port
    }

    /// (peer, election) ports of member `i`.
    pub fn member_quorum_ports(&self, i: usize) -> (u16, u16) {
        (self.members[i].peer_port, self.members[i].election_port)
    }

    pub fn is_member_running(&self, i: usize) -> bool {
        self.members[i].inst.is_running()
    }

    /// `srvr`'s Mode of member `i` ("leader", "follower"), `None` when down
    /// or not serving.
    pub fn member_mode(&self, i: usize) -> Option<String> {
        if !self.members[i].inst.is_running() {
            return None;
        }
        server_mode(self.members[i].inst.port)
    }

    pub fn member_jvm_pid(&self, i: usize) -> Option<u32> {
        self.members[i].inst.jvm_pid()
    }

    pub fn member_log_tail(&self, i: usize, lines: usize) -> String {
        log_tail(&self.members[i].inst.log, lines)
    }

    /// The cluster's temp directory (member `i` lives in `m<i+1>/`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Kills member `i` (SIGKILL), keeps its data, waits until its client
    /// port refuses connections. No-op when it is stopped.
    pub fn stop_member(&mut self, i: usize) {
        self.members[i].inst.shutdown();
    }

    /// Starts member `i` again (same ports and data) and waits until it
    /// serves (imok and Mode leader/follower). No-op when it is running.
    pub fn start_member(&mut self, i: usize) {
        if self.members[i].inst.is_running() {
            return;
        }
        let modes = self.wanted_modes();
        if let Err(msg) = relaunch(&mut self.members[i].inst, modes) {
            panic!("member {i}: {msg}\n{}", self.all_log_tails());
        }
    }

    /// Index of the member whose `srvr` says "Mode: leader".
    pub fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| matches!(self.member_mode(i).as_deref(), Some("leader") | Some("standalone")))
    }

    /// Waits until a majority of members run, every running member serves
    /// as leader or follower, and exactly one leads. False on timeout.
    pub fn wait_for_quorum(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let majority = self.members.len() / 2 + 1;
        loop {
            let mut running = 0;
            let mut serving = 0;
            let mut leaders = 0;
            for i in 0..self.members.len() {
                if !self.members[i].inst.is_running() {
                    continue;
                }
                running += 1;
                match self.member_mode(i).as_deref() {
                    Some("follower") => serving += 1,
                    Some("leader") | Some("standalone") => {
                        serving += 1;
                        leaders += 1;
                    }
                    _ => {}
                }
            }
            if running >= majority && serving == running && leaders == 1 {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            sleep(POLL * 2);
        }
    }
}

impl Drop for ZkCluster {
    fn drop(&mut self) {
        self.kill_all();
        let _ = fs::remove_dir_all(&self.root);
    }
}
