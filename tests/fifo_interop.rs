//! The FIFO mutex shared with Apache Curator and kazoo: two zkutil
//! processes (this test binary re-run), a Java process with Curator's
//! InterProcessMutex (Debian's libcurator-recipes-java, compiled here with
//! javac) and a Python process with kazoo's Lock contend on one path. Each
//! appends "enter ID HOLDER" and "exit ID" to one file while it holds the
//! lock, HOLDER being the holder's node data as its own library reports
//! it. Mutual exclusion: the lines come in enter/exit pairs of one
//! participant; the same holder: HOLDER is always the one that entered.
//! The same for leader election: zkutil leader latches and Curator's
//! LeaderLatch on one path; and for the read-write lock: zkutil readers
//! and writers with Curator's InterProcessReadWriteLock (no writer ever
//! overlaps another holder, the zkutil writers downgrading to their read
//! side now and then), and Curator's downgrade against zkutil writers and
//! readers, and ours against a Curator writer, step by step.
//! Installed by `scripts/install-deps.sh java venv`; fails, not skips,
//! without them.

mod common;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::zk::{shared_server, unique_path};
use zkutil::{Client, Code, Config, FifoLock, FifoOptions, Timeout};

const CHILD_ENV: &str = "ZKU_FIFO_CHILD";
const ROUNDS: usize = 15;
const T: Timeout = Timeout::After(Duration::from_secs(120));

/// Jars of Debian's Curator and ZooKeeper packages.
const JARS: &[&str] = &[
    "curator-client",
    "curator-framework",
    "curator-recipes",
    "zookeeper",
    "zookeeper-jute",
    "guava",
    "failureaccess",
    "slf4j-api",
    "slf4j-nop",
    "netty-handler",
    "netty-common",
    "netty-transport",
    "netty-buffer",
    "netty-resolver",
    "netty-codec",
    "netty-transport-native-epoll",
    "netty-transport-native-unix-common",
    "audience-annotations",
    "commons-io",
    "metrics-core",
];

fn append(log: &str, line: &str) {
    let mut f = OpenOptions::new().create(true).append(true).open(log).unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// The zkutil child: runs only when re-invoked with ZKU_FIFO_CHILD set to
/// "HOSTS LOCK_DIR LOG ID KIND" (KIND: mutex or latch).
#[test]
fn child_process_body() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split(' ').collect();
    let (hosts, lock_dir, log, id, kind) = (parts[0], parts[1], parts[2], parts[3], parts[4]);
    let config = Config { hosts: Some(hosts.into()), lock_dir: Some(lock_dir.into()), ..Config::default() };
    let client = Client::connect(config).unwrap();
    let options = FifoOptions { identifier: Some(id.into()), ..FifoOptions::default() };
    if kind == "rw" {
        return rw_child(&client, log, id, options);
    }
    let lock = match kind {
        "latch" => FifoLock::leader_latch(&client, "shared", options),
        _ => FifoLock::new(&client, "shared", options),
    }
    .unwrap();
    for _ in 0..ROUNDS {
        lock.acquire(T).unwrap();
        let holder = lock.holder(T).unwrap().unwrap();
        append(log, &format!("enter {id} {}", String::from_utf8_lossy(&holder.data)));
        std::thread::sleep(Duration::from_millis(2));
        append(log, &format!("exit {id}"));
        lock.release(T).unwrap();
    }
}

/// Alternates the write lock (even rounds) and the read lock, logging
/// "enter-SIDE ID" and "exit-SIDE ID" while holding it; every fourth
/// round the writer downgrades (takes its read side, releases the write
/// side: "downgrade ID"), then reads.
fn rw_child(client: &Client, log: &str, id: &str, options: FifoOptions) {
    let write = FifoLock::write_lock(client, "shared", options.clone()).unwrap();
    let read = FifoLock::read_lock(client, "shared", options).unwrap();
    let read_of = FifoLock::read_lock_of(&write, FifoOptions::default()).unwrap();
    for round in 0..ROUNDS {
        if round % 4 == 0 {
            write.acquire(T).unwrap();
            append(log, &format!("enter-write {id}"));
            read_of.acquire(T).unwrap();
            std::thread::sleep(Duration::from_millis(3));
            append(log, &format!("downgrade {id}"));
            write.release(T).unwrap();
            std::thread::sleep(Duration::from_millis(3));
            append(log, &format!("exit-read {id}"));
            read_of.release(T).unwrap();
            continue;
        }
        let (lock, side) = if round % 2 == 0 { (&write, "write") } else { (&read, "read") };
        lock.acquire(T).unwrap();
        append(log, &format!("enter-{side} {id}"));
        std::thread::sleep(Duration::from_millis(3));
        append(log, &format!("exit-{side} {id}"));
        lock.release(T).unwrap();
    }
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKU_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(venv.exists(), "no Python with kazoo: set ZKU_PYTHON or run scripts/install-deps.sh venv");
    venv
}

/// Compiles the Curator helper; returns the classpath to run it with.
fn curator_classpath(out: &Path) -> String {
    let jars: Vec<String> =
        JARS.iter().map(|j| format!("/usr/share/java/{j}.jar")).filter(|j| Path::new(j).exists()).collect();
    assert!(jars.iter().any(|j| j.ends_with("curator-recipes.jar")), "no Curator: run scripts/install-deps.sh java");
    let cp = jars.join(":");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let status = Command::new("javac")
        .arg("-d")
        .arg(out)
        .arg("-cp")
        .arg(&cp)
        .arg(dir.join("CuratorMutex.java"))
        .arg(dir.join("CuratorLatch.java"))
        .arg(dir.join("CuratorRw.java"))
        .arg(dir.join("CuratorDowngrade.java"))
        .status()
        .expect("javac");
    assert!(status.success(), "javac failed");
    format!("{}:{cp}", out.display())
}

/// Runs the zkutil children, Curator's `java_class` and (for the mutex)
/// kazoo on one path; checks the log: exclusive holds, each participant
/// seeing itself as the holder, ROUNDS holds each, no node left.
fn contend(kind: &str, java_class: &str, with_kazoo: bool) {
    let hosts = shared_server().connect_string();
    let dir = unique_path(&format!("fifo-interop-{kind}"));
    let lock_dir = format!("{dir}/");
    let path = format!("{lock_dir}shared");
    let work = std::env::temp_dir().join(format!("zku-fifo-interop-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let log = work.join("holds.log");
    let log_s = log.to_str().unwrap().to_string();
    let classpath = curator_classpath(&work);
    let rounds = ROUNDS.to_string();
    // Before any child starts: a missing Python must not leave them running.
    let python = with_kazoo.then(python);

    let mut children: Vec<(String, Child)> = Vec::new();
    for id in ["zkutil-1", "zkutil-2"] {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["child_process_body", "--exact", "--nocapture"])
            .env(CHILD_ENV, format!("{hosts} {lock_dir} {log_s} {id} {kind}"))
            .spawn()
            .unwrap();
        children.push((id.to_string(), child));
    }
    let java = Command::new("java")
        .args(["-cp", &classpath, java_class, &hosts, &path, &log_s, "curator", &rounds])
        .spawn()
        .expect("java");
    children.push(("curator".to_string(), java));
    let mut participants = vec!["zkutil-1", "zkutil-2", "curator"];
    if let Some(python) = python {
        let kazoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/kazoo_mutex.py");
        let py = Command::new(python).arg(kazoo).args([&hosts, &path, &log_s, "kazoo", &rounds]).spawn().unwrap();
        children.push(("kazoo".to_string(), py));
        participants.push("kazoo");
    }
    for (id, mut child) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} failed: {status}");
    }

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), participants.len() * ROUNDS * 2, "{text}");
    let mut entered = std::collections::HashMap::new();
    for pair in lines.chunks(2) {
        let enter: Vec<&str> = pair[0].split(' ').collect();
        assert_eq!(enter[0], "enter", "two holders at once:\n{text}");
        assert_eq!(pair[1], format!("exit {}", enter[1]), "two holders at once:\n{text}");
        assert_eq!(enter[2], enter[1], "{} saw {} as the holder", enter[1], enter[2]);
        *entered.entry(enter[1].to_string()).or_insert(0) += 1;
    }
    for id in participants {
        assert_eq!(entered.get(id), Some(&ROUNDS), "{id} did not hold {ROUNDS} times: {entered:?}");
    }
    let client = Client::connect(Config { hosts: Some(hosts), ..Config::default() }).unwrap();
    assert!(client.children(&path, Timeout::After(Duration::from_secs(10))).unwrap().0.is_empty(), "nodes left");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn curator_kazoo_and_zkutil_processes_exclude_each_other_and_agree_on_the_holder() {
    if std::env::var(CHILD_ENV).is_err() {
        contend("mutex", "CuratorMutex", true);
    }
}

#[test]
fn curator_leader_latch_and_zkutil_latches_elect_one_leader_at_a_time() {
    if std::env::var(CHILD_ENV).is_err() {
        contend("latch", "CuratorLatch", false);
    }
}

#[test]
fn curator_read_write_lock_and_zkutil_readers_and_writers_share_one_lock() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let hosts = shared_server().connect_string();
    let lock_dir = format!("{}/", unique_path("fifo-interop-rw"));
    let path = format!("{lock_dir}shared");
    let work = std::env::temp_dir().join(format!("zku-fifo-interop-rw-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let log = work.join("holds.log");
    let log_s = log.to_str().unwrap().to_string();
    let classpath = curator_classpath(&work);
    let mut children: Vec<(String, Child)> = ["zkutil-1", "zkutil-2"]
        .iter()
        .map(|id| {
            let child = Command::new(std::env::current_exe().unwrap())
                .args(["child_process_body", "--exact", "--nocapture"])
                .env(CHILD_ENV, format!("{hosts} {lock_dir} {log_s} {id} rw"))
                .spawn()
                .unwrap();
            (id.to_string(), child)
        })
        .collect();
    let java = Command::new("java")
        .args(["-cp", &classpath, "CuratorRw", &hosts, &path, &log_s, "curator", &ROUNDS.to_string()])
        .spawn()
        .expect("java");
    children.push(("curator".to_string(), java));
    for (id, mut child) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} failed: {status}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let (mut readers, mut writer) = (std::collections::HashSet::new(), None::<String>);
    let mut writes = 0;
    for line in text.lines() {
        let (event, id) = line.split_once(' ').unwrap();
        match event {
            "enter-write" => {
                assert!(writer.is_none() && readers.is_empty(), "{id} wrote alongside others:\n{text}");
                writer = Some(id.to_string());
                writes += 1;
            }
            "exit-write" => writer = None,
            "downgrade" => {
                assert_eq!(writer.as_deref(), Some(id), "{id} downgraded a write it did not hold:\n{text}");
                writer = None;
                readers.insert(id.to_string());
            }
            "enter-read" => {
                assert!(writer.is_none(), "{id} read while {writer:?} wrote:\n{text}");
                readers.insert(id.to_string());
            }
            "exit-read" => {
                readers.remove(id);
            }
            other => panic!("unexpected {other}"),
        }
    }
    let downgrades = 2 * ROUNDS.div_ceil(4);
    assert_eq!(text.lines().count(), 3 * ROUNDS * 2 + downgrades, "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("downgrade")).count(), downgrades);
    assert_eq!(writes, 3 * ROUNDS.div_ceil(2));
    let client = Client::connect(Config { hosts: Some(hosts), ..Config::default() }).unwrap();
    assert!(client.children(&path, Timeout::After(Duration::from_secs(10))).unwrap().0.is_empty(), "nodes left");
    let _ = std::fs::remove_dir_all(&work);
}

/// A Curator step (tests/interop/CuratorDowngrade.java) driven over
/// stdin/stdout.
struct CuratorStep {
    child: Child,
    said: std::sync::mpsc::Receiver<String>,
}

impl CuratorStep {
    fn start(classpath: &str, hosts: &str, path: &str, mode: &str) -> CuratorStep {
        let mut child = Command::new("java")
            .args(["-cp", classpath, "CuratorDowngrade", hosts, path, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("java");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(std::result::Result::ok) {
                let _ = tx.send(line);
            }
        });
        CuratorStep { child, said }
    }

    fn said_within(&self, within: Duration) -> Option<String> {
        self.said.recv_timeout(within).ok()
    }

    /// Tells it to release and waits for it to exit.
    fn finish(mut self) {
        self.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        assert!(self.child.wait().unwrap().success(), "Curator failed");
    }
}

#[test]
fn curator_downgrade_keeps_zkutil_writers_out_and_lets_readers_in() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let hosts = shared_server().connect_string();
    let lock_dir = format!("{}/", unique_path("fifo-interop-downgrade"));
    let path = format!("{lock_dir}shared");
    let work = std::env::temp_dir().join(format!("zku-fifo-interop-downgrade-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let classpath = curator_classpath(&work);
    let config = Config { hosts: Some(hosts.clone()), lock_dir: Some(lock_dir), ..Config::default() };
    let client = Client::connect(config).unwrap();
    let write = FifoLock::write_lock(&client, "shared", FifoOptions::default()).unwrap();
    let read = FifoLock::read_lock(&client, "shared", FifoOptions::default()).unwrap();

    let curator = CuratorStep::start(&classpath, &hosts, &path, "downgrade");
    assert_eq!(curator.said_within(Duration::from_secs(60)).as_deref(), Some("downgraded"));
    let short = Timeout::After(Duration::from_millis(500));
    assert_eq!(write.acquire(short).unwrap_err().code(), Code::OperationTimeout, "Curator's read keeps writers out");
    assert!(read.try_acquire(T).unwrap().is_some(), "readers come in");
    read.release(T).unwrap();
    curator.finish();
    write.acquire(T).unwrap();
    write.release(T).unwrap();

    // Ours, with a Curator writer already waiting behind our write side.
    let read_of = FifoLock::read_lock_of(&write, FifoOptions::default()).unwrap();
    write.acquire(T).unwrap();
    let curator = CuratorStep::start(&classpath, &hosts, &path, "write");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while write.contenders(T).unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the Curator writer never queued");
        std::thread::sleep(Duration::from_millis(20));
    }
    read_of.acquire(T).unwrap();
    write.release(T).unwrap();
    assert_eq!(curator.said_within(Duration::from_millis(1000)), None, "Curator's writer got in beside our read");
    read_of.release(T).unwrap();
    assert_eq!(curator.said_within(Duration::from_secs(30)).as_deref(), Some("held"));
    curator.finish();
    // Curator makes the lock's parent a container node, which the server
    // may already have removed once empty: no node left either way.
    match client.children(&path, T) {
        Ok((children, _)) => assert!(children.is_empty(), "nodes left: {children:?}"),
        Err(e) => assert_eq!(e.code(), Code::NoNode, "{e}"),
    }
    let _ = std::fs::remove_dir_all(&work);
}
