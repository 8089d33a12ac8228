//! Interop with the real Python k3zkutil (tests/python/lock_peer.py) on the
//! same server and lock node: byte-identical node data, each side sees the
//! other as holder, values cross over, the same identifier is the same
//! holder, and the two exclude each other under contention.
//!
//! Python: `$ZKU_PYTHON`, else `<repo>/.venv/bin/python` (made by
//! scripts/install-deps.sh), with k3zkutil and kazoo installed.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::zk::{shared_server, unique_path};
use serde_json::{Value, json};
use zkutil::{Client, Code, Config, CreateOptions, Lock, LockOptions, LockState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKU_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(venv.exists(), "no Python with k3zkutil: set ZKU_PYTHON or run scripts/install-deps.sh venv");
    venv
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(hosts: &str, lock_dir: &str, name: &str, identifier: Option<&str>) -> Peer {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/lock_peer.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).args([hosts, lock_dir, name]);
        if let Some(id) = identifier {
            cmd.arg(id);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start the Python peer");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Peer { child, stdin, stdout }
    }

    fn ask(&mut self, command: &str) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the Python peer exited (command {command:?})");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{command}: bad reply {line:?}: {e}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

struct Env {
    hosts: String,
    lock_dir: String,
    client: Client,
}

impl Env {
    fn new(name: &str) -> Env {
        let hosts = shared_server().connect_string();
        let dir = unique_path(name);
        let config = Config { hosts: Some(hosts.clone()), lock_dir: Some(format!("{dir}/")), ..Config::default() };
        let client = Client::connect(config).unwrap();
        // kazoo does not create the lock directory.
        client.create(&dir, b"", &CreateOptions::persistent(), T).unwrap();
        Env { hosts, lock_dir: format!("{dir}/"), client }
    }

    fn peer(&self, identifier: Option<&str>) -> Peer {
        Peer::spawn(&self.hosts, &self.lock_dir, "foo", identifier)
    }

    fn lock(&self, identifier: Option<&str>) -> Lock {
        Lock::new(
            &self.client,
            "foo",
            LockOptions { identifier: identifier.map(str::to_string), ..LockOptions::default() },
        )
        .unwrap()
    }
}

#[test]
fn python_and_zkutil_share_one_lock() {
    let env = Env::new("py-interop");
    let mut py = env.peer(Some("py-peer"));
    let ours = env.lock(None);
    let id = ours.identifier().to_string();

    // Python holds it; we see Python as the holder, with the bytes we would
    // write ourselves.
    assert_eq!(py.ask("acquire 5"), json!({"ok": true}));
    let t = ours.try_acquire(T).unwrap();
    assert!(!t.locked);
    assert_eq!(t.holder, br#"{"id": "py-peer", "val": null}"#);
    assert_eq!(py.ask("dump py-peer")["dump"], String::from_utf8(t.holder.clone()).unwrap());
    assert_eq!(t.version, 0);
    assert_eq!(ours.holder(T).unwrap().unwrap().id().as_deref(), Some("py-peer"));
    let err = ours.acquire(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout);
    assert!(err.message().contains("py-peer"), "{err}");
    // Python's value, read by us.
    assert_eq!(py.ask("set_val {\"a\": [1, \"\\u00e9\"]}"), json!({"version": 1}));
    assert_eq!(ours.get_val(T).unwrap(), ("{\"a\": [1, \"é\"]}".to_string(), 1));
    // Python releases; we take it.
    assert_eq!(py.ask("release"), json!({"ok": true}));
    let token = ours.acquire(T).unwrap();

    // We hold it; Python sees us, byte for byte what it would write.
    let raw = py.ask("raw");
    assert_eq!(raw["data"], py.ask(&format!("dump {id}"))["dump"]);
    let r = py.ask("try_acquire");
    assert_eq!(r, json!({"locked": false, "holder": {"id": id, "val": null}, "version": 0}));
    assert_eq!(py.ask("acquire 0.3"), json!({"error": "LockTimeout"}));
    assert_eq!(py.ask("try_release"), json!({"released": false, "holder": {"id": id, "val": null}, "version": 0}));
    // Our value, read by Python.
    assert_eq!(ours.set_val("[1,\"é\",{\"k\":null}]", None, T).unwrap(), 1);
    assert_eq!(py.ask("get_val"), json!({"val": [1, "é", {"k": null}], "version": 1}));
    assert_eq!(py.ask("raw")["data"], format!("{{\"id\": \"{id}\", \"val\": [1, \"é\", {{\"k\": null}}]}}"));
    assert_eq!(ours.state(), LockState::Held);
    assert_eq!(ours.token(), Some(token));

    ours.release(T).unwrap();
    assert_eq!(py.ask("acquire 5"), json!({"ok": true}));
    assert_eq!(py.ask("is_locked"), json!({"locked": true}));
    assert_eq!(py.ask("release"), json!({"ok": true}));
    assert!(ours.holder(T).unwrap().is_none());
}

#[test]
fn same_identifier_across_python_and_zkutil() {
    let env = Env::new("py-same-id");
    let ours = env.lock(Some("shared-id"));
    ours.acquire(T).unwrap();
    // A Python process with the same identifier is the same holder (how a
    // restarted process resumes its lock) ...
    let mut py = env.peer(Some("shared-id"));
    assert_eq!(py.ask("acquire 1"), json!({"ok": true}));
    assert_eq!(py.ask("is_locked"), json!({"locked": true}));
    // ... and may release it: our handle then reports the loss.
    let r = py.ask("try_release");
    assert_eq!(r, json!({"released": true, "holder": {"id": "shared-id", "val": null}, "version": 0}));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ours.state() != LockState::Lost {
        assert!(std::time::Instant::now() < deadline, "{:?}", ours.state());
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ours.release(T).unwrap_err().code(), Code::LockLost);

    // The other way round: Python holds, our handle with its identifier
    // resumes and releases it.
    assert_eq!(py.ask("acquire 5"), json!({"ok": true}));
    let resumed = env.lock(Some("shared-id"));
    resumed.acquire(Timeout::NoWait).unwrap();
    let r = resumed.try_release(T).unwrap();
    assert!(r.released);
    assert!(resumed.holder(T).unwrap().is_none());
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn python_and_zkutil_exclude_each_other_under_contention() {
    let env = Env::new("py-contend");
    let rounds = 30;
    let intervals = Arc::new(Mutex::new(Vec::new()));
    let mut pys: Vec<Peer> = (0..2).map(|_| env.peer(None)).collect();
    // Start the Python loops (their replies come at the end).
    for py in &mut pys {
        writeln!(py.stdin, "loop {rounds}").unwrap();
        py.stdin.flush().unwrap();
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (hosts, lock_dir, intervals) = (env.hosts.clone(), env.lock_dir.clone(), intervals.clone());
            thread::spawn(move || {
                let config = Config { hosts: Some(hosts), lock_dir: Some(lock_dir), ..Config::default() };
                let c = Client::connect(config).unwrap();
                let l = Lock::new(&c, "foo", LockOptions::default()).unwrap();
                for _ in 0..rounds {
                    l.acquire(Timeout::After(Duration::from_secs(60))).unwrap();
                    let start = now();
                    thread::sleep(Duration::from_millis(2));
                    let end = now();
                    l.release(T).unwrap();
                    intervals.lock().unwrap().push((start, end, "zkutil"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut all = intervals.lock().unwrap().clone();
    for py in &mut pys {
        let mut line = String::new();
        py.stdout.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        for iv in reply["intervals"].as_array().unwrap() {
            all.push((iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap(), "k3zkutil"));
        }
    }
    assert_eq!(all.len(), 4 * rounds);
    all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    for w in all.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlapping holds: {:?} and {:?}", w[0], w[1]);
    }
    let python_after_zkutil = all.windows(2).filter(|w| w[0].2 != w[1].2).count();
    eprintln!("{} holds, {python_after_zkutil} hand-offs between the two libraries", all.len());
    assert!(python_after_zkutil > 0, "the libraries actually alternated");
}
