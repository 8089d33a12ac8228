//! Client statistics: a known sequence of operations gives known counts,
//! watches and waiting callbacks are gauged, the C snapshot
//! (`zku_client_get_stats`) and `zkutil stat`. The reconnect count through
//! a restarted server is checked in tests/log.rs with the log.

mod capi;
mod common;

use std::process::Command;
use std::ptr::null_mut;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use capi::{CClient, call, expect, ok};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::error::ZKU_ENULL;
use zkutil::ffi::stats::*;
use zkutil::reader::Reader;
use zkutil::stats::ClientStats;
use zkutil::{Client, Config, CreateOptions, FifoLock, FifoOptions, Lock, LockOptions, LockState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(20));

fn connect() -> Client {
    let config = Config {
        hosts: Some(shared_server().connect_string()),
        lock_dir: Some(format!("{}/", unique_path("stats-locks"))),
        ..Config::new()
    };
    Client::connect(config).unwrap()
}

#[track_caller]
fn wait_until(what: &str, client: &Client, done: impl Fn(&ClientStats) -> bool) {
    let start = Instant::now();
    while !done(&client.stats()) {
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: {:?}", client.stats());
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_known_sequence_of_operations_gives_known_counts() {
    let client = connect();
    assert_eq!(client.stats(), ClientStats::default(), "nothing sent by a connect");
    let path = unique_path("stats");
    client.create(&path, b"1", &CreateOptions::persistent(), T).unwrap();
    client.get(&path, T).unwrap();
    client.set(&path, b"2", Some(7), T).unwrap_err();
    client.get(&format!("{path}/missing"), T).unwrap_err();
    client.create(&path, b"", &CreateOptions::persistent(), T).unwrap_err();
    client.exists(&path, T).unwrap();
    client.delete(&path, None, T).unwrap();
    // Refused before anything is sent: not counted.
    client.get("not/a/path", T).unwrap_err();
    let stats = client.stats();
    let want = ClientStats { requests_sent: 7, errors_node: 3, ..ClientStats::default() };
    assert_eq!(stats, want);
}

#[test]
fn watches_and_waiting_callbacks_are_gauged() {
    let client = connect();
    let path = unique_path("stats-reader");
    client.create(&path, b"{}", &CreateOptions::persistent(), T).unwrap();
    let reader = Reader::new(&client, &path, None, T).unwrap();
    wait_until("the reader's watch", &client, |s| s.watches_now == 1);
    reader.close();
    wait_until("the reader's watch is gone", &client, |s| s.watches_now == 0);

    // A wait in progress holds a watch.
    let waiter = {
        let client = client.clone();
        let path = path.clone();
        thread::spawn(move || zkutil::wait::get_next(&client, &path, 0, false, T))
    };
    wait_until("the wait's watch", &client, |s| s.watches_now == 1);
    client.set(&path, b"{}", None, T).unwrap();
    waiter.join().unwrap().unwrap();
    wait_until("the wait's watch is gone", &client, |s| s.watches_now == 0);

    // A lock callback stuck in its first call: the next change waits.
    let lock = Lock::new(&client, "job", LockOptions::default()).unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<()>();
    lock.set_state_callback(Some(Box::new(move |_, new| {
        if new == LockState::Held {
            entered_tx.send(()).unwrap();
            release.recv().unwrap();
        }
    })))
    .unwrap();
    lock.acquire(T).unwrap();
    entered.recv_timeout(Duration::from_secs(20)).unwrap();
    lock.release(T).unwrap();
    assert_eq!(client.stats().callbacks_waiting_now, 1);
    release_tx.send(()).unwrap();
    wait_until("the waiting change delivered", &client, |s| s.callbacks_waiting_now == 0);

    // The same for a sequential lock's callback.
    let fifo = FifoLock::new(&client, "fifo-job", FifoOptions::default()).unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<()>();
    fifo.set_state_callback(Some(Box::new(move |_, new| {
        if new == LockState::Held {
            entered_tx.send(()).unwrap();
            release.recv().unwrap();
        }
    })))
    .unwrap();
    fifo.acquire(T).unwrap();
    entered.recv_timeout(Duration::from_secs(20)).unwrap();
    fifo.release(T).unwrap();
    assert_eq!(client.stats().callbacks_waiting_now, 1);
    release_tx.send(()).unwrap();
    wait_until("the fifo's waiting change delivered", &client, |s| s.callbacks_waiting_now == 0);
}

#[test]
fn the_c_snapshot_copies_the_counters() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let mut stats = zku_client_stats { requests_sent: 99, ..Default::default() };
    // SAFETY: a live client and a writable struct.
    ok("get_stats", call(|e| unsafe { zku_client_get_stats(c.0, &mut stats, e) }));
    assert_eq!((stats.requests_sent, stats.session_renewals, stats.reconnects), (0, 0, 0));
    // SAFETY: NULL arguments are refused.
    expect("NULL stats", call(|e| unsafe { zku_client_get_stats(c.0, null_mut(), e) }), ZKU_ENULL, "stats");
    let mut stats = zku_client_stats { requests_sent: 99, ..Default::default() };
    // SAFETY: as above.
    expect("NULL client", call(|e| unsafe { zku_client_get_stats(null_mut(), &mut stats, e) }), ZKU_ENULL, "client");
    assert_eq!(stats.requests_sent, 0, "cleared on failure");
}

#[test]
fn zkutil_stat_prints_the_counters_of_a_short_run() {
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
            cmd.env_remove(k);
        }
        cmd.env("ZKU_HOSTS", shared_server().connect_string()).arg("stat").args(args).output().unwrap()
    };
    let o = run(&["--for", "0.5"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out} {}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("session_id 0x"), "{out}");
    // A check every 100 ms for 0.5 s: about 6; at least 2 on a loaded machine.
    assert!((2..=7).contains(&value(&out, "requests_sent")), "{out}");
    assert_eq!(value(&out, "errors_node"), 0);
    assert_eq!(value(&out, "session_renewals"), 0);
    let o = run(&["/no/such/node", "--for", "0"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(value(&out, "requests_sent"), 1, "{out}");
    assert_eq!(value(&out, "errors_node"), 0, "exists of a missing node is no error");
    let bad = run(&["bad"]);
    assert!(!bad.status.success() && bad.stdout.is_empty(), "a bad path is refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid path"));
}

/// The value of the `name value` line of `zkutil stat`'s output.
#[track_caller]
fn value(out: &str, name: &str) -> u64 {
    let line = out.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("{name}: {out}"));
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_lock_acquire_and_release_are_counted() {
    let client = connect();
    let lock = Lock::new(&client, "counted", LockOptions::default()).unwrap();
    // The lock directory does not exist yet: create (NoNode), mkdir, create.
    lock.acquire(T).unwrap();
    // Released within the watch delay: one delete, no monitor read.
    lock.release(T).unwrap();
    let stats = client.stats();
    assert_eq!((stats.requests_sent, stats.errors_node), (4, 1), "{stats:?}");
}
