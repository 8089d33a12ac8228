//! The FIFO mutex shared with Apache Curator and kazoo: two zkutil
//! processes (this test binary re-run), a Java process with Curator's
//! InterProcessMutex (Debian's libcurator-recipes-java, compiled here with
//! javac) and a Python process with kazoo's Lock contend on one path. Each
//! appends "enter ID HOLDER" and "exit ID" to one file while it holds the
//! lock, HOLDER being the holder's node data as its own library reports
//! it. Mutual exclusion: the lines come in enter/exit pairs of one
//! participant; the same holder: HOLDER is always the one that entered.
//! Installed by `scripts/install-deps.sh java venv`; fails, not skips,
//! without them.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use common::zk::{shared_server, unique_path};
use zkutil::{Client, Config, FifoLock, FifoOptions, Timeout};

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
/// "HOSTS LOCK_DIR LOG ID".
#[test]
fn child_process_body() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split(' ').collect();
    let (hosts, lock_dir, log, id) = (parts[0], parts[1], parts[2], parts[3]);
    let config = Config { hosts: Some(hosts.into()), lock_dir: Some(lock_dir.into()), ..Config::default() };
    let client = Client::connect(config).unwrap();
    let lock = FifoLock::new(&client, "shared", FifoOptions { identifier: Some(id.into()), ..FifoOptions::default() })
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
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/CuratorMutex.java");
    let status = Command::new("javac").arg("-d").arg(out).arg("-cp").arg(&cp).arg(&source).status().expect("javac");
    assert!(status.success(), "javac failed");
    format!("{}:{cp}", out.display())
}

#[test]
fn curator_kazoo_and_zkutil_processes_exclude_each_other_and_agree_on_the_holder() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let hosts = shared_server().connect_string();
    let dir = unique_path("fifo-interop");
    let lock_dir = format!("{dir}/");
    let path = format!("{lock_dir}shared");
    let work = std::env::temp_dir().join(format!("zku-fifo-interop-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let log = work.join("holds.log");
    let log_s = log.to_str().unwrap().to_string();
    let classpath = curator_classpath(&work);
    let rounds = ROUNDS.to_string();

    let mut children: Vec<(String, Child)> = Vec::new();
    for id in ["zkutil-1", "zkutil-2"] {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["child_process_body", "--exact", "--nocapture"])
            .env(CHILD_ENV, format!("{hosts} {lock_dir} {log_s} {id}"))
            .spawn()
            .unwrap();
        children.push((id.to_string(), child));
    }
    let java = Command::new("java")
        .args(["-cp", &classpath, "CuratorMutex", &hosts, &path, &log_s, "curator", &rounds])
        .spawn()
        .expect("java");
    children.push(("curator".to_string(), java));
    let kazoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/kazoo_mutex.py");
    let py = Command::new(python()).arg(kazoo).args([&hosts, &path, &log_s, "kazoo", &rounds]).spawn().unwrap();
    children.push(("kazoo".to_string(), py));
    for (id, mut child) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} failed: {status}");
    }

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4 * ROUNDS * 2, "{text}");
    let mut entered = std::collections::HashMap::new();
    for pair in lines.chunks(2) {
        let enter: Vec<&str> = pair[0].split(' ').collect();
        assert_eq!(enter[0], "enter", "two holders at once:\n{text}");
        assert_eq!(pair[1], format!("exit {}", enter[1]), "two holders at once:\n{text}");
        assert_eq!(enter[2], enter[1], "{} saw {} as the holder", enter[1], enter[2]);
        *entered.entry(enter[1].to_string()).or_insert(0) += 1;
    }
    for id in ["zkutil-1", "zkutil-2", "curator", "kazoo"] {
        assert_eq!(entered.get(id), Some(&ROUNDS), "{id} did not hold {ROUNDS} times: {entered:?}");
    }
    let client = Client::connect(Config { hosts: Some(hosts), ..Config::default() }).unwrap();
    assert!(client.children(&path, Timeout::After(Duration::from_secs(10))).unwrap().0.is_empty(), "nodes left");
    let _ = std::fs::remove_dir_all(&work);
}
