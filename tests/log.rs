//! The log hook through the C ABI (`zku_set_log_callback`): the events of
//! a connect, a lock acquire and loss, a reader change, an expiry, an
//! outage (lost connection, reconnect) and a slow reply; level filtering;
//! replacing and removing the callback while events flow; `ZKU_LOG` to
//! stderr in a child process (the `zkutil` command).
//!
//! The callback is per process: the tests here take turns ([`serial`]).

mod common;

use std::ffi::{CStr, c_char, c_void};
use std::process::{Command, Output};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::ffi::callback::zku_free_fn;
use zkutil::ffi::error::{ZKU_EINVAL, ZKU_OK};
use zkutil::ffi::log::*;
use zkutil::reader::Reader;
use zkutil::{Client, Config, CreateOptions, Lock, LockOptions, SessionState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(20));
const WAIT: Duration = Duration::from_secs(20);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one registered callback saw.
#[derive(Default)]
struct Sink {
    messages: Mutex<Vec<(zku_log_level, String)>>,
    calls: AtomicUsize,
    freed: AtomicUsize,
    /// Each call sleeps this long (a slow callback).
    slow: Option<Duration>,
    /// Removes the callback from inside on this call.
    remove_on_call: Option<usize>,
    inside: AtomicBool,
}

impl Sink {
    fn new() -> &'static Sink {
        Box::leak(Box::default())
    }

    fn with(sink: Sink) -> &'static Sink {
        Box::leak(Box::new(sink))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn freed(&self) -> usize {
        self.freed.load(Ordering::SeqCst)
    }

    fn messages(&self) -> Vec<(zku_log_level, String)> {
        self.messages.lock().unwrap().clone()
    }

    /// The first message containing `text`, waiting for it.
    #[track_caller]
    fn wait_for(&self, text: &str) -> (zku_log_level, String) {
        let start = Instant::now();
        loop {
            if let Some(m) = self.messages().into_iter().find(|(_, m)| m.contains(text)) {
                return m;
            }
            assert!(start.elapsed() < WAIT, "no message with {text:?} in {:#?}", self.messages());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

unsafe extern "C" fn on_log(user_data: *mut c_void, level: zku_log_level, message: *const c_char) {
    // SAFETY: user_data is a leaked Sink; message is valid during the call.
    let (sink, message) = unsafe { (&*(user_data as *const Sink), CStr::from_ptr(message)) };
    assert!(!sink.inside.swap(true, Ordering::SeqCst), "one call at a time");
    let n = sink.calls.fetch_add(1, Ordering::SeqCst) + 1;
    sink.messages.lock().unwrap().push((level, message.to_str().unwrap().to_string()));
    if let Some(slow) = sink.slow {
        thread::sleep(slow);
    }
    if sink.remove_on_call == Some(n) {
        // SAFETY: removing needs no pointer but the error out-parameter.
        let rc = unsafe { zku_set_log_callback(ZKU_LOG_DEBUG, None, null_mut(), None, null_mut()) };
        assert_eq!(rc, ZKU_OK);
    }
    sink.inside.store(false, Ordering::SeqCst);
}

unsafe extern "C" fn on_free(user_data: *mut c_void) {
    // SAFETY: as above.
    let sink = unsafe { &*(user_data as *const Sink) };
    sink.freed.fetch_add(1, Ordering::SeqCst);
}

const FREE: zku_free_fn = Some(on_free);

fn set(level: zku_log_level, sink: &'static Sink) -> i32 {
    let user_data = sink as *const Sink as *mut c_void;
    // SAFETY: a valid callback and a user_data that lives for ever.
    unsafe { zku_set_log_callback(level, Some(on_log), user_data, FREE, null_mut()) }
}

fn remove() {
    // SAFETY: no pointers.
    assert_eq!(unsafe { zku_set_log_callback(ZKU_LOG_INFO, None, null_mut(), None, null_mut()) }, ZKU_OK);
}

fn config(hosts: &str) -> Config {
    Config { hosts: Some(hosts.to_string()), lock_dir: Some(format!("{}/", unique_path("log-locks"))), ..Config::new() }
}

fn connect() -> Client {
    Client::connect(config(&shared_server().connect_string())).unwrap()
}

#[test]
fn a_connect_a_lock_acquire_and_loss_and_a_reader_change_are_logged() {
    let _serial = serial();
    let sink = Sink::new();
    assert_eq!(set(ZKU_LOG_INFO, sink), ZKU_OK);
    let hosts = shared_server().connect_string();
    let client = connect();
    let established = sink.wait_for(&format!("session 0x{:x} established with {hosts}", client.session_id()));
    assert_eq!(established.0, ZKU_LOG_INFO);

    let lock = Lock::new(&client, "job", LockOptions::default()).unwrap();
    lock.acquire(T).unwrap();
    let acquired = sink.wait_for(&format!("lock {}: Unlocked -> Held", lock.path()));
    assert_eq!(acquired.0, ZKU_LOG_INFO);
    thread::sleep(Duration::from_millis(100));
    let other = connect();
    other.delete(lock.path(), None, T).unwrap();
    let lost = sink.wait_for(&format!("lock {}: Held -> Lost: ", lock.path()));
    assert_eq!(lost.0, ZKU_LOG_ERROR, "{lost:?}");

    let path = unique_path("log-reader");
    client.create(&path, br#"{"a": 1}"#, &CreateOptions::persistent(), T).unwrap();
    let reader = Reader::new(&client, &path, None, T).unwrap();
    other.set(&path, br#"{"a": 2}"#, None, T).unwrap();
    let changed = sink.wait_for(&format!("reader {path}: changed (version 1)"));
    assert_eq!(changed.0, ZKU_LOG_INFO);

    drop((reader, lock));
    client.close();
    sink.wait_for(&format!("session 0x{:x} closed", client.session_id()));
    remove();
    assert_eq!(sink.freed(), 1);
    assert!(sink.messages().iter().all(|(level, _)| *level <= ZKU_LOG_INFO), "{:#?}", sink.messages());
}

#[test]
fn an_expiry_is_an_error() {
    let _serial = serial();
    let sink = Sink::new();
    assert_eq!(set(ZKU_LOG_ERROR, sink), ZKU_OK);
    let client = connect();
    client.expire_session_for_testing().unwrap();
    let (level, _) = sink.wait_for(&format!("session 0x{:x} expired", client.session_id()));
    assert_eq!(level, ZKU_LOG_ERROR);
    remove();
}

#[test]
fn a_renewal_is_a_warning_naming_both_sessions() {
    let _serial = serial();
    let sink = Sink::new();
    assert_eq!(set(ZKU_LOG_WARN, sink), ZKU_OK);
    let client = Client::connect(Config { session_renewal: Some(true), ..config(&shared_server().connect_string()) })
        .expect("connect");
    let old = client.session_id();
    client.expire_session_for_testing().unwrap();
    let (level, _) = sink.wait_for(&format!("session 0x{old:x} expired, opening a new session"));
    assert_eq!(level, ZKU_LOG_WARN);
    let (level, message) = sink.wait_for(&format!("session 0x{old:x} renewed: new session 0x"));
    assert_eq!(level, ZKU_LOG_WARN);
    assert!(message.contains(&format!("0x{:x}", client.session_id())), "{message}");
    remove();
}

#[test]
fn only_messages_at_the_level_or_above_are_delivered() {
    let _serial = serial();
    for bad in [0, 5, -1] {
        let sink = Sink::new();
        let user_data = sink as *const Sink as *mut c_void;
        let mut err = null_mut();
        // SAFETY: valid pointers; the error object is freed.
        let rc = unsafe { zku_set_log_callback(bad, Some(on_log), user_data, FREE, &mut err) };
        assert_eq!(rc, ZKU_EINVAL, "level {bad}");
        // SAFETY: the error object of the failed call.
        unsafe { zkutil::ffi::error::zku_error_free(err) };
        assert_eq!(sink.freed(), 0, "the caller keeps user_data on failure");
    }

    let warnings = Sink::new();
    assert_eq!(set(ZKU_LOG_WARN, warnings), ZKU_OK);
    let client = connect();
    let lock = Lock::new(&client, "job", LockOptions::default()).unwrap();
    lock.acquire(T).unwrap();
    thread::sleep(Duration::from_millis(100));
    connect().delete(lock.path(), None, T).unwrap();
    warnings.wait_for(&format!("lock {}: Held -> Lost", lock.path()));
    let seen = warnings.messages();
    assert!(seen.iter().all(|(level, _)| *level <= ZKU_LOG_WARN), "{seen:#?}");
    assert!(!seen.iter().any(|(_, m)| m.contains("Unlocked -> Held") || m.contains("established")), "{seen:#?}");

    let everything = Sink::new();
    assert_eq!(set(ZKU_LOG_DEBUG, everything), ZKU_OK);
    assert_eq!(warnings.freed(), 1);
    let path = unique_path("log-debug");
    let _ = client.get(&path, T);
    let (level, _) = everything.wait_for(&format!("get {path}: reply in"));
    assert_eq!(level, ZKU_LOG_DEBUG);
    remove();
    assert_eq!(everything.freed(), 1);
}

/// Logs a debug message every few milliseconds until dropped.
struct Traffic {
    stop: &'static AtomicBool,
    thread: Option<thread::JoinHandle<()>>,
}

impl Traffic {
    fn start() -> Traffic {
        let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let client = connect();
        let path = unique_path("log-traffic");
        let thread = thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _ = client.exists(&path, T);
            }
        });
        Traffic { stop, thread: Some(thread) }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }
}

#[track_caller]
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "{what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn replacing_the_callback_while_messages_flow_stops_the_old_one_at_once() {
    let _serial = serial();
    let traffic = Traffic::start();
    let sinks: Vec<&'static Sink> = (0..5).map(|_| Sink::new()).collect();
    assert_eq!(set(ZKU_LOG_DEBUG, sinks[0]), ZKU_OK);
    for pair in sinks.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        wait_until("the callback gets messages", || old.calls() > 3);
        assert_eq!(set(ZKU_LOG_DEBUG, new), ZKU_OK);
        let calls = old.calls();
        assert_eq!(old.freed(), 1, "user_data_free ran before the replacement returned");
        thread::sleep(Duration::from_millis(30));
        assert_eq!(old.calls(), calls, "no call after the replacement returned");
    }
    let last = sinks[4];
    wait_until("the last callback gets messages", || last.calls() > 3);
    remove();
    drop(traffic);
    assert_eq!(last.freed(), 1);
    assert!(sinks.iter().all(|s| s.freed() == 1));
}

#[test]
fn no_call_after_removal_returns_even_for_a_slow_callback_or_from_inside() {
    let _serial = serial();
    let traffic = Traffic::start();
    let slow = Sink::with(Sink { slow: Some(Duration::from_millis(20)), ..Sink::default() });
    assert_eq!(set(ZKU_LOG_DEBUG, slow), ZKU_OK);
    wait_until("the slow callback gets messages", || slow.calls() > 3);
    remove();
    let calls = slow.calls();
    assert_eq!(slow.freed(), 1);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(slow.calls(), calls, "no call after the removal returned");

    let quits = Sink::with(Sink { remove_on_call: Some(3), ..Sink::default() });
    assert_eq!(set(ZKU_LOG_DEBUG, quits), ZKU_OK);
    wait_until("the callback removed itself and user_data_free ran", || quits.freed() == 1);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(quits.calls(), 3, "no call after it removed itself");
    drop(traffic);
}

#[test]
fn an_outage_and_a_slow_reply_are_logged_and_counted() {
    let _serial = serial();
    let sink = Sink::new();
    assert_eq!(set(ZKU_LOG_INFO, sink), ZKU_OK);
    let mut server = ZkServer::start();
    let config = Config { session_timeout: Some(Duration::from_secs(30)), ..config(&server.connect_string()) };
    let client = Client::connect(config).unwrap();
    let id = client.session_id();
    let path = unique_path("log-slow");
    client.create(&path, b"", &CreateOptions::persistent(), T).unwrap();

    // A reply held back 1.5 s by a stopped server is slow.
    let pid = server.jvm_pid().expect("the server runs").to_string();
    assert!(Command::new("kill").args(["-s", "STOP", &pid]).status().unwrap().success());
    let resume = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        assert!(Command::new("kill").args(["-s", "CONT", &pid]).status().unwrap().success());
    });
    client.get(&path, T).unwrap();
    resume.join().unwrap();
    let (level, slow) = sink.wait_for(&format!("session 0x{id:x}: slow reply: get {path} took"));
    assert_eq!(level, ZKU_LOG_WARN, "{slow}");
    assert_eq!(client.stats().slow_replies, 1);

    server.stop();
    wait_until("suspended", || client.state() == SessionState::Suspended);
    server.restart();
    wait_until("connected again", || client.state() == SessionState::Connected);
    let (level, _) = sink.wait_for(&format!("session 0x{id:x}: connection lost, reconnecting to"));
    assert_eq!(level, ZKU_LOG_WARN);
    let (level, _) = sink.wait_for(&format!("session 0x{id:x}: reconnected to {}", server.connect_string()));
    assert_eq!(level, ZKU_LOG_INFO);
    let stats = client.stats();
    assert_eq!((stats.disconnects, stats.reconnects), (1, 1), "{stats:?}");
    remove();
}

/// Runs `zkutil get PATH` against the shared server with `ZKU_LOG` set.
fn zkutil_get(zku_log: &str, path: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
        cmd.env_remove(k);
    }
    cmd.env("ZKU_HOSTS", shared_server().connect_string()).env("ZKU_LOG", zku_log).args(["get", path]);
    cmd.output().expect("run zkutil")
}

#[test]
fn zku_log_sends_the_level_to_stderr_in_a_child_process() {
    let path = unique_path("log-stderr");
    let client = connect();
    client.create(&path, b"data", &CreateOptions::persistent(), T).unwrap();
    let hosts = shared_server().connect_string();

    let info = zkutil_get("info", &path);
    let stderr = String::from_utf8_lossy(&info.stderr);
    assert_eq!(info.stdout, b"data", "{stderr}");
    assert!(stderr.contains(&"zkutil info: session 0x".to_string()), "{stderr}");
    assert!(stderr.contains(&format!(" established with {hosts} (session timeout ")), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("zkutil info: session 0x") && l.ends_with(" closed")), "{stderr}");
    assert!(!stderr.contains("zkutil debug:"), "{stderr}");

    let debug = zkutil_get("debug", &path);
    let stderr = String::from_utf8_lossy(&debug.stderr);
    assert!(stderr.contains(&format!(": get {path}: reply in ")), "{stderr}");

    let warn = zkutil_get("warn", &path);
    assert_eq!(String::from_utf8_lossy(&warn.stderr), "", "nothing at warn on a quiet run");

    for bad in ["verbose", "", "INFO"] {
        let o = zkutil_get(bad, &path);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "ZKU_LOG={bad:?}: {stderr}");
        assert!(stderr.contains("ZKU_LOG"), "{stderr}");
        assert!(o.stdout.is_empty(), "nothing done with a malformed ZKU_LOG");
    }
}
