//! Tests of the real-ZooKeeper test harness in `tests/common/zk.rs`.
//!
//! Reads and writes go through the `zookeeper-client` crate directly, not
//! through zkutil, so these tests say nothing about the library.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::zk::{self, ZkCluster, ZkServer};
use zookeeper_client as zkc;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(f)
}

async fn connect(connect_string: &str) -> zkc::Client {
    let connecting = zkc::Client::connector().with_session_timeout(Duration::from_secs(10)).connect(connect_string);
    tokio::time::timeout(CLIENT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| panic!("connect to {connect_string} timed out"))
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

fn create(connect_string: &str, path: &str, data: &[u8]) {
    block_on(async {
        let client = connect(connect_string).await;
        let options = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        tokio::time::timeout(CLIENT_TIMEOUT, client.create(path, data, &options))
            .await
            .expect("create timed out")
            .unwrap_or_else(|e| panic!("create {path} on {connect_string}: {e}"));
    })
}

fn get(connect_string: &str, path: &str) -> Vec<u8> {
    block_on(async {
        let client = connect(connect_string).await;
        let (data, _stat) = tokio::time::timeout(CLIENT_TIMEOUT, client.get_data(path))
            .await
            .expect("get_data timed out")
            .unwrap_or_else(|e| panic!("get {path} on {connect_string}: {e}"));
        data
    })
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn helpers_without_a_server() {
    let a = zk::unique_path("x/y z");
    let b = zk::unique_path("x/y z");
    assert_ne!(a, b);
    assert!(a.starts_with("/t-x_y_z-"), "{a}");
    assert_eq!(a.matches('/').count(), 1, "{a}");
    // A port nobody listens on: bind, note, release.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert_eq!(zk::four_letter(port, "ruok"), None);
    assert_eq!(zk::server_mode(port), None);
    assert!(zk::process_alive(std::process::id()));
}

#[test]
fn shared_server_is_shared_and_serves() {
    let s = zk::shared_server();
    assert_eq!(s.port(), zk::shared_server().port());
    assert_eq!(s.connect_string(), format!("127.0.0.1:{}", s.port()));
    assert!(s.is_running());
    assert_eq!(zk::four_letter(s.port(), "ruok").as_deref(), Some("imok"));
    assert_eq!(zk::server_mode(s.port()).as_deref(), Some("standalone"));
    let mntr = zk::four_letter(s.port(), "mntr").unwrap();
    assert!(mntr.contains("zk_server_state\tstandalone"), "{mntr}");
    let path = zk::unique_path("shared");
    create(&s.connect_string(), &path, b"hello");
    assert_eq!(get(&s.connect_string(), &path), b"hello");
}

#[test]
fn server_stop_restart_keeps_data() {
    let mut s = ZkServer::start();
    let port = s.port();
    let dir = s.dir().to_path_buf();
    assert!(s.is_running());
    assert!(dir.join("data").is_dir());
    let path = zk::unique_path("restart");
    create(&s.connect_string(), &path, b"kept");

    let pid = s.jvm_pid().unwrap();
    s.stop();
    assert!(!s.is_running());
    assert_eq!(s.jvm_pid(), None);
    assert!(!zk::process_alive(pid), "JVM {pid} survived stop()");
    assert!(!zk::port_accepts(port), "port {port} accepts while stopped");
    assert_eq!(zk::four_letter(port, "ruok"), None);
    assert!(dir.join("data").is_dir(), "stop() must keep the data dir");
    s.stop(); // no-op

    s.restart();
    assert!(s.is_running());
    assert_eq!(s.port(), port);
    assert_eq!(zk::four_letter(port, "ruok").as_deref(), Some("imok"));
    assert_eq!(get(&s.connect_string(), &path), b"kept");

    // A JVM that dies behind the harness's back is noticed; restart works.
    let pid = s.jvm_pid().unwrap();
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    wait_until("is_running() is false", Duration::from_secs(5), || !s.is_running());
    s.restart();
    assert_eq!(get(&s.connect_string(), &path), b"kept");

    let pid = s.jvm_pid().unwrap();
    drop(s);
    assert!(!zk::process_alive(pid), "JVM {pid} survived drop");
    assert!(!dir.exists(), "drop must remove {}", dir.display());
}

#[test]
fn restart_waits_while_someone_else_holds_the_port() {
    let mut s = ZkServer::start();
    let port = s.port();
    s.stop();
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the stopped server's port");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(squatter);
    });
    s.restart();
    release.join().unwrap();
    assert_eq!(s.port(), port);
    assert_eq!(zk::four_letter(port, "ruok").as_deref(), Some("imok"));
    assert_eq!(zk::server_mode(port).as_deref(), Some("standalone"));
    let log = std::fs::read_to_string(s.log_path()).unwrap();
    assert!(log.contains("Address already in use"), "the squatter was never met:\n{}", s.log_tail(30));
}

#[test]
fn cluster_survives_leader_loss() {
    let mut c = ZkCluster::start(3);
    assert_eq!(c.size(), 3);
    let cs = c.connect_string();
    assert_eq!(cs.split(',').count(), 3, "{cs}");
    for i in 0..3 {
        assert!(cs.contains(&c.member_connect_string(i)), "{cs}");
        let mode = c.member_mode(i);
        assert!(matches!(mode.as_deref(), Some("leader" | "follower")), "member {i}: {mode:?}");
    }
    let leader = c.leader().expect("a leader");
    let path = zk::unique_path("cluster");
    create(&c.member_connect_string((leader + 1) % 3), &path, b"replicated");

    c.stop_member(leader);
    assert!(!c.is_member_running(leader));
    assert!(!zk::port_accepts(c.member_port(leader)));
    assert!(c.wait_for_quorum(Duration::from_secs(30)), "no quorum after the leader stopped");
    let new_leader = c.leader().expect("a new leader");
    assert_ne!(new_leader, leader);
    assert_eq!(get(&c.member_connect_string((leader + 2) % 3), &path), b"replicated");

    c.start_member(leader);
    assert!(c.wait_for_quorum(Duration::from_secs(30)), "no quorum after the old leader returned");
    let modes: Vec<_> = (0..3).map(|i| c.member_mode(i)).collect();
    assert!(modes.iter().all(|m| matches!(m.as_deref(), Some("leader" | "follower"))), "{modes:?}");
    assert_eq!(modes.iter().filter(|m| m.as_deref() == Some("leader")).count(), 1, "{modes:?}");
    assert_eq!(get(&c.member_connect_string(leader), &path), b"replicated");
    assert_eq!(get(&c.connect_string(), &path), b"replicated");

    let dir = c.dir().to_path_buf();
    let pids: Vec<u32> = (0..3).filter_map(|i| c.member_jvm_pid(i)).collect();
    assert_eq!(pids.len(), 3);
    drop(c);
    for pid in pids {
        assert!(!zk::process_alive(pid), "JVM {pid} survived drop");
    }
    assert!(!dir.exists());
}

// --- The watchdog: JVMs die with their owner process ------------------------

const CHILD_ENV: &str = "ZKU_HARNESS_CHILD";

/// Not a test: the body of the child process used by the watchdog tests.
/// Starts the shared server and a private one, reports them, then ends the
/// way `$ZKU_HARNESS_CHILD` says, without stopping either server.
#[test]
#[ignore = "helper run as a child process by the watchdog tests"]
fn watchdog_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else { return };
    let own = ZkServer::start();
    let shared = zk::shared_server();
    for s in [&own, shared] {
        println!("ZKU_CHILD {} {} {}", s.jvm_pid().unwrap(), s.port(), s.dir().display());
    }
    // Go on when the parent has checked the servers (a line or EOF on stdin).
    let mut go = String::new();
    if mode != "kill" {
        let _ = std::io::stdin().read_line(&mut go);
    }
    match mode.as_str() {
        // Destructors do not run on process::exit; statics never drop.
        "exit" => std::process::exit(0),
        // `own` is dropped while unwinding; the shared server is not.
        "panic" => panic!("deliberate panic in the watchdog child"),
        // Wait to be killed with SIGKILL.
        _ => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}

/// Runs `watchdog_child` in a child process ending per `mode`; checks that
/// its JVMs and temp dirs are gone within a few seconds of its end.
fn check_watchdog(mode: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["watchdog_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the test binary");
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Read the child's stdout in a thread so a silent child cannot hang us.
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut servers: Vec<(u32, u16, PathBuf)> = Vec::new();
    let deadline = Instant::now() + zk::start_timeout() * 2;
    while servers.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else { break };
        // libtest may print "test watchdog_child ... " on the same line.
        if let Some(at) = line.find("ZKU_CHILD ") {
            let mut f = line[at + "ZKU_CHILD ".len()..].splitn(3, ' ');
            let pid = f.next().unwrap().parse().unwrap();
            let port = f.next().unwrap().parse().unwrap();
            servers.push((pid, port, PathBuf::from(f.next().unwrap().trim_end())));
        }
    }
    if servers.len() < 2 {
        let _ = child.kill();
        let _ = child.wait();
        panic!("child did not report its servers:\n{}", stderr.join().unwrap());
    }
    for (pid, port, dir) in &servers {
        assert!(zk::process_alive(*pid), "JVM {pid} not running");
        assert_eq!(zk::four_letter(*port, "ruok").as_deref(), Some("imok"));
        assert!(dir.is_dir());
    }

    if mode == "kill" {
        child.kill().unwrap(); // SIGKILL
    }
    drop(child.stdin.take()); // EOF: the child goes on and ends

    let status = child.wait().unwrap();
    let _ = stdout.join();
    let ended = Instant::now();
    let stderr = stderr.join().unwrap();
    match mode {
        "exit" => assert!(status.success(), "{status}: {stderr}"),
        _ => assert!(!status.success(), "{status}: {stderr}"),
    }

    for (pid, port, dir) in &servers {
        wait_until(&format!("JVM {pid} (port {port}) is gone"), Duration::from_secs(5), || {
            !zk::process_alive(*pid) && !zk::port_accepts(*port)
        });
        wait_until(&format!("{} is removed", dir.display()), Duration::from_secs(5), || !dir.exists());
    }
    eprintln!("watchdog ({mode}): JVMs gone and dirs removed {:?} after the owner ended", ended.elapsed());
}

#[test]
fn watchdog_kills_jvms_when_owner_is_sigkilled() {
    check_watchdog("kill");
}

#[test]
fn watchdog_kills_jvms_when_owner_exits_without_drop() {
    check_watchdog("exit");
}

#[test]
fn watchdog_kills_jvms_when_owner_test_panics() {
    check_watchdog("panic");
}
