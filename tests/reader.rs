//! The cached reader through the C ABI against a real ZooKeeper: reads by
//! JSON Pointer, watch and callback on every change (latency measured), a
//! burst of 200 writes seen in order, invalid data and deletion reported
//! and recovered, reconnects and a server restart with a change on
//! reconnect, session expiry, close and free waking a blocked watch, a
//! callback calling back into the library (and closing or freeing its
//! reader), a stuck callback getting a bounded summary, and bad input.

mod capi;
mod common;
mod proxy;

use std::ffi::{CStr, c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use capi::*;
use common::zk::{ZkServer, shared_server, unique_path};
use proxy::Proxy;
use zkutil::ffi::client::zku_client;
use zkutil::ffi::error::*;
use zkutil::ffi::node::{zku_client_get, zku_stat};
use zkutil::ffi::reader::*;
use zkutil::reader::{EventKind, Reader, ReaderState};
use zkutil::{Code, CreateOptions, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));
const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Ev {
    kind: i32,
    path: String,
    old: String,
    new: String,
    version: i32,
    at: Instant,
}

/// What the callback records, and what it does on the side.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Ev>>,
    cond: Condvar,
    freed: AtomicU32,
    /// Set: the callback reads through these and records what it got.
    reader: AtomicPtr<zku_reader>,
    client: AtomicPtr<zku_client>,
    reentrant: Mutex<Vec<String>>,
    /// 1: close the reader from the callback on the 2nd change; 2: free it.
    on_second: AtomicU32,
    /// While set, the callback blocks (a stuck callback); `entered` counts
    /// the calls that started.
    hold: Mutex<bool>,
    released: Condvar,
    entered: AtomicU32,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    fn events(&self) -> Vec<Ev> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the events recorded so far.
    fn wait_until(&self, what: &str, pred: impl Fn(&[Ev]) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + WAIT;
        let mut events = self.events.lock().unwrap();
        while !pred(&events) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{what}: not seen; events: {:?}", *events);
            events = self.cond.wait_timeout(events, left).unwrap().0;
        }
        events.clone()
    }
}

fn text(p: *const c_char) -> String {
    // SAFETY: the library passes NUL-terminated strings valid for the call.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

unsafe extern "C" fn record(
    user: *mut c_void,
    event: i32,
    path: *const c_char,
    old: *const c_char,
    new: *const c_char,
    stat: *const zku_stat,
) {
    // SAFETY: user is the Recorder of Arc::into_raw, alive until the free fn.
    let rec = unsafe { &*(user as *const Recorder) };
    rec.entered.fetch_add(1, Ordering::SeqCst);
    let mut hold = rec.hold.lock().unwrap();
    while *hold {
        hold = rec.released.wait(hold).unwrap();
    }
    drop(hold);
    // SAFETY: valid for the call.
    let version = unsafe { (*stat).version };
    let ev = Ev { kind: event, path: text(path), old: text(old), new: text(new), version, at: Instant::now() };
    let reader = rec.reader.load(Ordering::SeqCst);
    if !reader.is_null() && event == ZKU_READER_EVENT_CHANGED {
        // Calls back into the library from the callback thread.
        let mut json = null_mut();
        let pointer = cs("/n");
        // SAFETY: the reader is live (closed/freed only below or after the test's own checks).
        unsafe {
            let r1 = zku_reader_get(reader, &mut json, null_mut(), null_mut());
            let whole = if r1 == ZKU_OK { take_string(json) } else { format!("rc {r1}") };
            let r2 = zku_reader_get_pointer(reader, pointer.as_ptr(), &mut json, null_mut());
            let member = if r2 == ZKU_OK { take_string(json) } else { format!("rc {r2}") };
            let state = zku_reader_state(reader);
            let client = rec.client.load(Ordering::SeqCst);
            let mut buf = null_mut();
            let p = cs(&ev.path);
            let r3 = zku_client_get(client, p.as_ptr(), 10_000, None, &mut buf, null_mut(), null_mut());
            let node = if r3 == ZKU_OK { String::from_utf8(take_buf(buf)).unwrap() } else { format!("rc {r3}") };
            rec.reentrant.lock().unwrap().push(format!("{whole}|{member}|{state}|{node}"));
        }
        let changes = rec.events.lock().unwrap().iter().filter(|e| e.kind == ZKU_READER_EVENT_CHANGED).count();
        if changes == 1 {
            match rec.on_second.load(Ordering::SeqCst) {
                // SAFETY: the test frees the reader only after this happened.
                1 => unsafe { zku_reader_close(reader) },
                2 => {
                    rec.reader.store(null_mut(), Ordering::SeqCst);
                    // SAFETY: the test handed the reader over to the callback.
                    unsafe { zku_reader_free(reader) }
                }
                _ => {}
            }
        }
    }
    rec.events.lock().unwrap().push(ev);
    rec.cond.notify_all();
}

unsafe extern "C" fn free_recorder(user: *mut c_void) {
    // SAFETY: from Arc::into_raw in `new_reader`, released once.
    let rec = unsafe { Arc::from_raw(user as *const Recorder) };
    rec.freed.fetch_add(1, Ordering::SeqCst);
}

/// zku_reader_new with the recorder (or no callback).
fn new_reader(c: &CClient, path: &str, rec: Option<&Arc<Recorder>>) -> Result<*mut zku_reader, (i32, String)> {
    let p = cs(path);
    let mut out = null_mut();
    let user = rec.map_or(null_mut(), |r| Arc::into_raw(r.clone()) as *mut c_void);
    let (cb, free): (zku_reader_fn, zkutil::ffi::callback::zku_free_fn) =
        if rec.is_some() { (Some(record), Some(free_recorder)) } else { (None, None) };
    // SAFETY: live client; the callback and user data as documented.
    let r = call(|e| unsafe { zku_reader_new(c.ptr(), p.as_ptr(), cb, user, free, 10_000, None, &mut out, e) });
    if r.0 == ZKU_OK {
        Ok(out)
    } else {
        assert!(out.is_null());
        if !user.is_null() {
            // The caller keeps user_data on failure: release it here.
            // SAFETY: from Arc::into_raw above, not freed by the library.
            drop(unsafe { Arc::from_raw(user as *const Recorder) });
        }
        Err(r)
    }
}

fn get(reader: *const zku_reader) -> (String, zku_stat) {
    let mut json = null_mut();
    let mut stat = zku_stat::default();
    // SAFETY: live reader, valid out-parameters.
    ok("reader_get", call(|e| unsafe { zku_reader_get(reader, &mut json, &mut stat, e) }));
    (take_string(json), stat)
}

fn pointer(reader: *const zku_reader, ptr: &str) -> Result<String, (i32, String)> {
    let p = cs(ptr);
    let mut json = null_mut();
    // SAFETY: live reader, valid out-parameter.
    let r = call(|e| unsafe { zku_reader_get_pointer(reader, p.as_ptr(), &mut json, e) });
    if r.0 == ZKU_OK { Ok(take_string(json)) } else { Err(r) }
}

/// zku_reader_watch: Ok((old, new, version)) or the error.
fn watch(reader: *const zku_reader, timeout_ms: i32) -> Result<(String, String, i32), (i32, String)> {
    let mut old = null_mut();
    let mut new = null_mut();
    let mut stat = zku_stat::default();
    // SAFETY: live reader, valid out-parameters.
    let r = call(|e| unsafe { zku_reader_watch(reader, timeout_ms, None, &mut old, &mut new, &mut stat, e) });
    if r.0 == ZKU_OK {
        Ok((take_string(old), take_string(new), stat.version))
    } else {
        assert!(old.is_null() && new.is_null());
        Err(r)
    }
}

fn state(reader: *const zku_reader) -> i32 {
    // SAFETY: live reader (or NULL).
    unsafe { zku_reader_state(reader) }
}

fn free(reader: *mut zku_reader) {
    // SAFETY: live reader, freed once.
    unsafe { zku_reader_free(reader) };
}

/// A reader's wrapper so it can be shared with a watching thread.
#[derive(Clone, Copy)]
struct Shared(*mut zku_reader);
// SAFETY: zku_reader is documented thread-safe.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

fn n_of(json: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(json).unwrap()["n"].as_i64().unwrap()
}

#[test]
fn reads_the_whole_value_and_members_by_json_pointer() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-read");
    let doc = r#"{"jobs": {"num": 10, "names": ["a", "b"]}, "a/b": 1, "m~n": "é", "nil": null}"#;
    other.create(&path, doc.as_bytes(), &CreateOptions::persistent(), T).unwrap();
    let reader = new_reader(&c, &path, None).unwrap();
    let (whole, stat) = get(reader);
    assert_eq!(whole, doc, "the text as stored");
    assert_eq!(stat.version, 0);
    assert_eq!(state(reader), ZKU_READER_STATE_FRESH);
    assert_eq!(pointer(reader, "/jobs/num").unwrap(), "10");
    assert_eq!(pointer(reader, "/jobs/names/1").unwrap(), "\"b\"");
    assert_eq!(pointer(reader, "/jobs").unwrap(), r#"{"names":["a","b"],"num":10}"#);
    assert_eq!(pointer(reader, "/a~1b").unwrap(), "1");
    assert_eq!(pointer(reader, "/m~0n").unwrap(), "\"é\"");
    assert_eq!(pointer(reader, "/nil").unwrap(), "null");
    assert!(pointer(reader, "").unwrap().starts_with("{\"a/b\":1"));
    expect("missing member", pointer(reader, "/jobs/missing").unwrap_err(), ZKU_ENOMEMBER, "/jobs/missing");
    expect("index out of range", pointer(reader, "/jobs/names/2").unwrap_err(), ZKU_ENOMEMBER, "names/2");
    expect("not a pointer", pointer(reader, "jobs").unwrap_err(), ZKU_EINVAL, "JSON Pointer");
    expect("no change yet", watch(reader, 0).unwrap_err(), ZKU_ETIMEOUT, "no change");
    free(reader);
}

#[test]
fn creation_fails_with_specific_codes_and_keeps_user_data() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-new");
    let rec = Recorder::new();
    expect("no node", new_reader(&c, &path, Some(&rec)).unwrap_err(), ZKU_ENONODE, &path);
    other.create(&path, b"[1, 2]", &CreateOptions::persistent(), T).unwrap();
    expect("an array", new_reader(&c, &path, Some(&rec)).unwrap_err(), ZKU_ENOTOBJECT, "an array");
    other.set(&path, b"42", None, T).unwrap();
    expect("a number", new_reader(&c, &path, Some(&rec)).unwrap_err(), ZKU_ENOTOBJECT, "a number");
    other.set(&path, b"{oops", None, T).unwrap();
    expect("not JSON", new_reader(&c, &path, Some(&rec)).unwrap_err(), ZKU_EJSON, "JSON");
    other.set(&path, b"\xff{}", None, T).unwrap();
    expect("not UTF-8", new_reader(&c, &path, Some(&rec)).unwrap_err(), ZKU_EJSON, "UTF-8");
    assert_eq!(rec.freed.load(Ordering::SeqCst), 0, "user_data_free never runs on a failed registration");
    assert_eq!(Arc::strong_count(&rec), 1, "every reference the test gave was handed back");
}

#[test]
fn watch_and_callback_report_each_change_with_old_and_new() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-change");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    let shared = Shared(reader);

    let mut to_callback = Vec::new();
    let mut to_watch = Vec::new();
    for i in 1..=20 {
        let watcher = thread::spawn(move || {
            let shared = shared;
            let got = watch(shared.0, 30_000);
            (got, Instant::now())
        });
        // Give the watcher a moment to block (not required for correctness:
        // a change before it blocks is returned at once).
        thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        other.set(&path, format!(r#"{{"n": {i}}}"#).as_bytes(), None, T).unwrap();
        let (got, returned) = watcher.join().unwrap();
        let (old, new, version) = got.unwrap();
        assert_eq!((n_of(&old), n_of(&new), version), (i - 1, i, i as i32));
        to_watch.push(returned.duration_since(start).as_secs_f64() * 1000.0);
        let events =
            rec.wait_until("change", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_CHANGED && n_of(&e.new) == i));
        let ev = events.last().unwrap();
        assert_eq!((ev.path.as_str(), n_of(&ev.old), ev.version), (path.as_str(), i - 1, i as i32));
        to_callback.push(ev.at.duration_since(start).as_secs_f64() * 1000.0);
    }
    report_latency("reader set->callback", &mut to_callback);
    report_latency("reader set->watch return", &mut to_watch);
    free(reader);
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1, "user_data_free ran once, by the time free returned");
}

#[test]
fn a_burst_of_200_writes_is_seen_in_order_and_ends_equal() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-burst");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    let shared = Shared(reader);
    // A consumer of watch() in parallel with the callback.
    let watcher = thread::spawn(move || {
        let shared = shared;
        let mut seen = vec![(0i64, 0i32)];
        loop {
            let (old, new, version) = watch(shared.0, 30_000).unwrap();
            assert_eq!(n_of(&old), seen.last().unwrap().0, "each watch starts where the last one ended");
            seen.push((n_of(&new), version));
            if n_of(&new) == 200 {
                return seen;
            }
        }
    });
    for i in 1..=200 {
        other.set(&path, format!(r#"{{"n": {i}}}"#).as_bytes(), None, T).unwrap();
    }
    let events = rec.wait_until("the last write", |e| e.iter().any(|e| n_of(&e.new) == 200));
    let changes: Vec<_> = events.iter().filter(|e| e.kind == ZKU_READER_EVENT_CHANGED).collect();
    assert_eq!(changes.len(), events.len(), "only changes: {events:?}");
    let mut last = (0, 0);
    for e in &changes {
        assert_eq!(n_of(&e.old), last.0, "old is the previous new");
        assert!(n_of(&e.new) > last.0 && e.version > last.1, "in order");
        assert_eq!(n_of(&e.new) as i32, e.version, "value and version agree");
        last = (n_of(&e.new), e.version);
    }
    assert_eq!(last, (200, 200));
    let seen = watcher.join().unwrap();
    assert!(seen.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1), "watch in order: {seen:?}");
    let (whole, stat) = get(reader);
    assert_eq!((n_of(&whole), stat.version), (200, 200));
    eprintln!("burst of 200: callback saw {} changes, watch returned {} times", changes.len(), seen.len() - 1);
    free(reader);
}

#[test]
fn invalid_data_and_deletion_are_reported_and_recovered() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-invalid");
    other.create(&path, br#"{"ok": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();

    other.set(&path, b"[1]", None, T).unwrap();
    rec.wait_until("invalid", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_INVALID));
    assert_eq!(state(reader), ZKU_READER_STATE_INVALID);
    expect("watch on invalid data", watch(reader, 10_000).unwrap_err(), ZKU_ENOTOBJECT, "array");
    assert_eq!(get(reader).0, r#"{"ok": 0}"#, "the last good value stays readable");
    expect("reported once", watch(reader, 0).unwrap_err(), ZKU_ETIMEOUT, "no change");
    other.set(&path, b"nonsense", None, T).unwrap();
    expect("watch on non-JSON data", watch(reader, 10_000).unwrap_err(), ZKU_EJSON, "JSON");

    other.set(&path, br#"{"ok": 1}"#, None, T).unwrap();
    let (old, new, version) = watch(reader, 10_000).unwrap();
    assert_eq!((old.as_str(), new.as_str(), version), (r#"{"ok": 0}"#, r#"{"ok": 1}"#, 3));
    assert_eq!(state(reader), ZKU_READER_STATE_FRESH);

    other.delete(&path, None, T).unwrap();
    expect("watch on deletion", watch(reader, 10_000).unwrap_err(), ZKU_ENONODE, "deleted");
    assert_eq!(state(reader), ZKU_READER_STATE_DELETED);
    assert_eq!(get(reader).0, r#"{"ok": 1}"#);
    other.create(&path, br#"{"ok": 2}"#, &CreateOptions::persistent(), T).unwrap();
    let (old, new, version) = watch(reader, 10_000).unwrap();
    assert_eq!((old.as_str(), new.as_str(), version), (r#"{"ok": 1}"#, r#"{"ok": 2}"#, 0));
    assert_eq!(state(reader), ZKU_READER_STATE_FRESH);

    let kinds: Vec<i32> = rec.wait_until("re-creation", |e| e.len() >= 5).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ZKU_READER_EVENT_INVALID,
            ZKU_READER_EVENT_INVALID,
            ZKU_READER_EVENT_CHANGED,
            ZKU_READER_EVENT_DELETED,
            ZKU_READER_EVENT_CHANGED
        ]
    );
    free(reader);
}

#[test]
fn a_lost_connection_is_stale_and_a_change_meanwhile_is_reported_on_reconnect() {
    let server = shared_server();
    let proxy = Proxy::start(&server.connect_string());
    let c = CClient::connect(&proxy.connect_string(), 20_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-stale");
    other.create(&path, br#"{"n": 1}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();

    proxy.set_refusing(true);
    rec.wait_until("stale", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_STALE));
    assert_eq!(state(reader), ZKU_READER_STATE_STALE);
    assert_eq!(n_of(&get(reader).0), 1, "still readable while stale");
    other.set(&path, br#"{"n": 2}"#, None, T).unwrap();
    proxy.set_refusing(false);
    let events = rec.wait_until("fresh", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_FRESH));
    let kinds: Vec<i32> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ZKU_READER_EVENT_STALE, ZKU_READER_EVENT_CHANGED, ZKU_READER_EVENT_FRESH]);
    assert_eq!((n_of(&events[1].old), n_of(&events[1].new)), (1, 2));
    assert_eq!(state(reader), ZKU_READER_STATE_FRESH);
    let (old, new, _) = watch(reader, 10_000).unwrap();
    assert_eq!((n_of(&old), n_of(&new)), (1, 2));

    // Without a change meanwhile: stale, then fresh, no change.
    proxy.set_refusing(true);
    rec.wait_until("stale again", |e| e.iter().filter(|e| e.kind == ZKU_READER_EVENT_STALE).count() == 2);
    proxy.set_refusing(false);
    let events = rec.wait_until("fresh again", |e| e.iter().filter(|e| e.kind == ZKU_READER_EVENT_FRESH).count() == 2);
    assert_eq!(events.len(), 5, "{events:?}");
    free(reader);
}

#[test]
fn a_server_restart_with_a_change_on_reconnect_is_reported() {
    let mut server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let path = unique_path("reader-restart");
    core_client(&server.connect_string(), 10_000)
        .create(&path, br#"{"n": 1}"#, &CreateOptions::persistent(), T)
        .unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    server.stop();
    rec.wait_until("stale", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_STALE));
    server.restart();
    // Change the node as soon as the server is back.
    let other = core_client(&server.connect_string(), 10_000);
    other.set(&path, br#"{"n": 2}"#, None, T).unwrap();
    let events = rec.wait_until("the change", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_CHANGED));
    let change = events.iter().find(|e| e.kind == ZKU_READER_EVENT_CHANGED).unwrap();
    assert_eq!((n_of(&change.old), n_of(&change.new), change.version), (1, 2, 1));
    rec.wait_until("fresh", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_FRESH));
    assert_eq!(n_of(&get(reader).0), 2);
    assert_eq!(state(reader), ZKU_READER_STATE_FRESH);
    free(reader);
}

#[test]
fn session_expiry_is_its_own_final_event() {
    // The core API, to reach expire_session_for_testing.
    let hosts = shared_server().connect_string();
    let client = core_client(&hosts, 10_000);
    let path = unique_path("reader-expiry");
    client.create(&path, br#"{"a": 1}"#, &CreateOptions::persistent(), T).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = Reader::new(&client, &path, Some(Box::new(move |e| tx.send(e.kind).unwrap())), T).unwrap();
    thread::scope(|s| {
        // Bounded, so that a failure below fails instead of hanging the scope.
        let blocked = s.spawn(|| reader.watch(Timeout::After(WAIT * 2)));
        client.expire_session_for_testing().unwrap();
        assert_eq!(blocked.join().unwrap().unwrap_err().code(), Code::SessionExpired);
    });
    // The takeover may first show as a lost connection (Stale, Fresh).
    let mut kinds = Vec::new();
    while kinds.last() != Some(&EventKind::Expired) {
        kinds.push(rx.recv_timeout(WAIT).unwrap());
    }
    assert!(kinds[..kinds.len() - 1].iter().all(|k| matches!(k, EventKind::Stale | EventKind::Fresh)), "{kinds:?}");
    assert_eq!(reader.state(), ReaderState::Expired);
    assert_eq!(reader.watch(T).unwrap_err().code(), Code::SessionExpired);
    assert_eq!(reader.get().unwrap().0.as_ref(), r#"{"a": 1}"#, "the last value stays readable");
    reader.close();
    assert_eq!(reader.watch(T).unwrap_err().code(), Code::Closed);
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "nothing after the final event");
}

#[test]
fn close_wakes_a_blocked_watch_and_stops_the_callback() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-close");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    let shared = Shared(reader);
    let blocked = thread::spawn(move || {
        let shared = shared;
        watch(shared.0, -1)
    });
    thread::sleep(Duration::from_millis(100));
    // SAFETY: live reader.
    unsafe { zku_reader_close(reader) };
    expect("blocked watch", blocked.join().unwrap().unwrap_err(), ZKU_ECLOSED, "closed");
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1, "user_data_free ran when close returned");
    assert_eq!(state(reader), ZKU_READER_STATE_CLOSED);
    expect("watch after close", watch(reader, 0).unwrap_err(), ZKU_ECLOSED, "closed");
    let mut json = null_mut();
    // SAFETY: live (closed) reader.
    expect(
        "get after close",
        call(|e| unsafe { zku_reader_get(reader, &mut json, null_mut(), e) }),
        ZKU_ECLOSED,
        "closed",
    );
    other.set(&path, br#"{"n": 1}"#, None, T).unwrap();
    thread::sleep(Duration::from_millis(200));
    assert!(rec.events().is_empty(), "no callback after close");
    // SAFETY: closing twice is fine.
    unsafe { zku_reader_close(reader) };
    free(reader);
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1, "exactly once");
}

#[test]
fn a_stuck_callback_gets_a_bounded_summary_ending_on_the_final_value() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-stuck");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    *rec.hold.lock().unwrap() = true;
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    other.set(&path, br#"{"n": 1}"#, None, T).unwrap();
    let deadline = Instant::now() + WAIT;
    while rec.entered.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first event reaches the callback");
        thread::sleep(Duration::from_millis(5));
    }
    // 300 more changes while the callback is stuck in its first call.
    const LAST: i64 = 301;
    for n in 2..=LAST {
        other.set(&path, format!(r#"{{"n": {n}}}"#).as_bytes(), None, T).unwrap();
    }
    while n_of(&get(reader).0) != LAST {
        assert!(Instant::now() < deadline, "the reader follows");
        thread::sleep(Duration::from_millis(5));
    }
    *rec.hold.lock().unwrap() = false;
    rec.released.notify_all();
    rec.wait_until("the final value", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_CHANGED && n_of(&e.new) == LAST));
    thread::sleep(Duration::from_millis(200));
    let events = rec.events();
    eprintln!("stuck callback: {} events delivered for {LAST} changes", events.len());
    assert!(events.len() <= 1 + 64, "at most 64 wait behind the stuck call: {}", events.len());
    let changes: Vec<_> = events.iter().filter(|e| e.kind == ZKU_READER_EVENT_CHANGED).collect();
    assert_eq!(n_of(&changes[0].old), 0);
    assert!(changes.windows(2).all(|w| w[0].new == w[1].old), "each change starts where the last ended");
    assert_eq!(n_of(&changes.last().unwrap().new), LAST);
    free(reader);
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn free_wakes_a_watch_blocked_in_another_thread() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-free-watch");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    for _ in 0..10 {
        let rec = Recorder::new();
        let reader = new_reader(&c, &path, Some(&rec)).unwrap();
        let shared = Shared(reader);
        let blocked = thread::spawn(move || {
            let shared = shared;
            watch(shared.0, -1)
        });
        thread::sleep(Duration::from_millis(50));
        free(reader);
        expect("watch woken by free", blocked.join().unwrap().unwrap_err(), ZKU_ECLOSED, "closed");
        assert_eq!(rec.freed.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn close_still_delivers_the_events_that_happened_before_it() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-close-flush");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    for round in 1..=20 {
        let rec = Recorder::new();
        let reader = new_reader(&c, &path, Some(&rec)).unwrap();
        other.set(&path, format!(r#"{{"n": {round}}}"#).as_bytes(), None, T).unwrap();
        // The reader has the change (watch saw it); its event may still be
        // queued for the callback thread. Free delivers it first.
        let (_, new, _) = watch(reader, 10_000).unwrap();
        assert_eq!(n_of(&new), round);
        free(reader);
        let events = rec.events();
        assert_eq!(events.len(), 1, "round {round}: {events:?}");
        assert_eq!((events[0].kind, n_of(&events[0].new)), (ZKU_READER_EVENT_CHANGED, round));
        assert_eq!(rec.freed.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn the_callback_may_call_back_into_the_library_and_close_its_reader() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-reentrant");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    rec.client.store(c.0, Ordering::SeqCst);
    rec.on_second.store(1, Ordering::SeqCst);
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    rec.reader.store(reader, Ordering::SeqCst);
    other.set(&path, br#"{"n": 1}"#, None, T).unwrap();
    rec.wait_until("first change", |e| e.len() == 1);
    let calls = rec.reentrant.lock().unwrap().clone();
    assert_eq!(calls, [format!(r#"{{"n": 1}}|1|{ZKU_READER_STATE_FRESH}|{{"n": 1}}"#)]);
    // The second change: the callback closes its own reader.
    other.set(&path, br#"{"n": 2}"#, None, T).unwrap();
    rec.wait_until("second change", |e| e.len() == 2);
    let deadline = Instant::now() + WAIT;
    while rec.freed.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "user_data_free after a close from the callback");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(state(reader), ZKU_READER_STATE_CLOSED);
    other.set(&path, br#"{"n": 3}"#, None, T).unwrap();
    thread::sleep(Duration::from_millis(200));
    assert_eq!(rec.events().len(), 2, "nothing after the close");
    free(reader);
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn the_callback_may_free_its_reader() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("reader-self-free");
    other.create(&path, br#"{"n": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    rec.client.store(c.0, Ordering::SeqCst);
    rec.on_second.store(2, Ordering::SeqCst);
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    rec.reader.store(reader, Ordering::SeqCst);
    other.set(&path, br#"{"n": 1}"#, None, T).unwrap();
    // One change at a time: the reader may coalesce writes in quick succession.
    rec.wait_until("first change", |e| e.len() == 1);
    other.set(&path, br#"{"n": 2}"#, None, T).unwrap();
    let deadline = Instant::now() + WAIT;
    while rec.freed.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "user_data_free after a free from the callback");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(rec.reader.load(Ordering::SeqCst).is_null(), "the callback freed it");
    assert!(rec.events().len() >= 2);
}

#[test]
fn freeing_the_client_closes_its_readers() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-client-free");
    other.create(&path, br#"{}"#, &CreateOptions::persistent(), T).unwrap();
    let rec = Recorder::new();
    let reader = new_reader(&c, &path, Some(&rec)).unwrap();
    drop(c);
    rec.wait_until("closed", |e| e.iter().any(|e| e.kind == ZKU_READER_EVENT_CLOSED));
    assert_eq!(state(reader), ZKU_READER_STATE_CLOSED);
    expect("watch", watch(reader, 1000).unwrap_err(), ZKU_ECLOSED, "closed");
    free(reader);
    assert_eq!(rec.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_input_through_the_c_abi_gets_specific_codes() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("reader-bad");
    other.create(&path, br#"{"a": 1}"#, &CreateOptions::persistent(), T).unwrap();
    let p = cs(&path);
    let rel = cs("nope");
    let ptr = cs("/a");
    let mut out = null_mut();
    let mut json = null_mut();
    // SAFETY (whole block): each pointer is NULL, a live local or a live
    // library object; the calls must reject the bad ones.
    unsafe {
        let n = |client, path, out: *mut *mut zku_reader, t| {
            call(|e| zku_reader_new(client, path, None, null_mut(), None, t, None, out, e))
        };
        expect("NULL client", n(null(), p.as_ptr(), &mut out, 1000), ZKU_ENULL, "client");
        expect("NULL path", n(c.ptr(), null(), &mut out, 1000), ZKU_ENULL, "path");
        expect("NULL out", n(c.ptr(), p.as_ptr(), null_mut(), 1000), ZKU_ENULL, "out");
        expect("bad UTF-8", n(c.ptr(), bad_utf8(), &mut out, 1000), ZKU_EUTF8, "path");
        expect("relative", n(c.ptr(), rel.as_ptr(), &mut out, 1000), ZKU_EPATH, "nope");
        expect("bad timeout", n(c.ptr(), p.as_ptr(), &mut out, -4), ZKU_EINVAL, "timeout");
        assert!(out.is_null());
        let reader = new_reader(&c, &path, None).unwrap();
        expect("get NULL reader", call(|e| zku_reader_get(null(), &mut json, null_mut(), e)), ZKU_ENULL, "reader");
        expect("get NULL out", call(|e| zku_reader_get(reader, null_mut(), null_mut(), e)), ZKU_ENULL, "json");
        expect("pointer NULL", call(|e| zku_reader_get_pointer(reader, null(), &mut json, e)), ZKU_ENULL, "pointer");
        expect(
            "pointer bad UTF-8",
            call(|e| zku_reader_get_pointer(reader, bad_utf8(), &mut json, e)),
            ZKU_EUTF8,
            "pointer",
        );
        expect(
            "pointer NULL out",
            call(|e| zku_reader_get_pointer(reader, ptr.as_ptr(), null_mut(), e)),
            ZKU_ENULL,
            "json",
        );
        expect(
            "watch NULL",
            call(|e| zku_reader_watch(null(), 0, None, null_mut(), null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "reader",
        );
        expect(
            "watch bad timeout",
            call(|e| zku_reader_watch(reader, -9, None, null_mut(), null_mut(), null_mut(), e)),
            ZKU_EINVAL,
            "timeout",
        );
        assert!(json.is_null());
        assert_eq!(zku_reader_state(null()), ZKU_READER_STATE_CLOSED);
        zku_reader_close(null());
        zku_reader_free(null_mut());
        // Outputs may be NULL for watch: only the stat is wanted.
        other.set(&path, br#"{"a": 2}"#, None, T).unwrap();
        let mut stat = zku_stat::default();
        ok(
            "watch with NULL texts",
            call(|e| zku_reader_watch(reader, 10_000, None, null_mut(), null_mut(), &mut stat, e)),
        );
        assert_eq!(stat.version, 1);
        free(reader);
    }
}
