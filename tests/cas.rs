//! Compare-and-swap through the C ABI against a real ZooKeeper: the handle
//! (begin / commit / reread / resolve), the one-call loop, JSON and raw
//! modes, create-when-absent, conflicts, aborts, writes of unknown outcome
//! (provoked by a proxy that cuts the connection at a precise point), four
//! processes incrementing one counter, and bad input.

mod capi;
mod common;
mod proxy;

use std::ffi::{CStr, c_void};
use std::process::Command;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use capi::*;
use common::zk::{shared_server, unique_path};
use proxy::{Fault, OP_SET_DATA, OPS_CREATE, Proxy};
use zkutil::ffi::cas::*;
use zkutil::ffi::error::*;
use zkutil::ffi::node::{ZKU_MAX_DATA_LEN, zku_stat};
use zkutil::{Client, CreateOptions, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));
const TMS: i32 = 10_000;

fn core_client(hosts: &str) -> Client {
    capi::core_client(hosts, 10_000)
}

fn shared_c() -> CClient {
    CClient::connect(&shared_server().connect_string(), 10_000)
}

/// Begins a CAS handle or returns the error.
fn begin(c: &CClient, path: &str, flags: u32, initial: &[u8]) -> Result<*mut zku_cas, (i32, String)> {
    let p = cs(path);
    let mut cas = null_mut();
    let (ptr, len) = if initial.is_empty() { (null(), 0) } else { (initial.as_ptr(), initial.len()) };
    // SAFETY: live client, valid pointers.
    let r = call(|e| unsafe { zku_cas_begin(c.ptr(), p.as_ptr(), flags, ptr, len, TMS, None, &mut cas, e) });
    if r.0 == ZKU_OK {
        assert!(!cas.is_null());
        Ok(cas)
    } else {
        assert!(cas.is_null(), "no handle on failure");
        Err(r)
    }
}

/// The handle's borrowed view, checked to be NUL-terminated.
fn view(cas: *const zku_cas) -> Vec<u8> {
    let mut data = null();
    let mut len = 0usize;
    // SAFETY: live handle, valid out-parameters; the view is copied at once.
    unsafe {
        ok("value", call(|e| zku_cas_value(cas, &mut data, &mut len, e)));
        let bytes = std::slice::from_raw_parts(data, len + 1);
        assert_eq!(bytes[len], 0, "the view is followed by a NUL");
        bytes[..len].to_vec()
    }
}

fn commit(cas: *mut zku_cas, data: &[u8]) -> ((i32, String), zku_stat) {
    let mut stat = zku_stat::default();
    // SAFETY: live handle used by this thread only; valid buffers.
    let r = call(|e| unsafe { zku_cas_commit(cas, data.as_ptr(), data.len(), TMS, None, &mut stat, e) });
    (r, stat)
}

fn free(cas: *mut zku_cas) {
    // SAFETY: live handle, freed once.
    unsafe { zku_cas_free(cas) };
}

#[test]
fn begin_commit_conflict_reread_in_raw_mode() {
    let server = shared_server();
    let c = shared_c();
    let other = core_client(&server.connect_string());
    let path = unique_path("cas-raw");
    other.create(&path, b"\x00a\xff", &CreateOptions::persistent(), T).unwrap();

    let cas = begin(&c, &path, 0, b"").unwrap();
    assert_eq!(view(cas), b"\x00a\xff");
    // SAFETY: live handle.
    unsafe {
        assert!(zku_cas_json(cas).is_null(), "no JSON view in raw mode");
        assert_eq!(zku_cas_version(cas), 0);
        assert_eq!(zku_cas_attempts(cas), 1);
    }

    // Someone else writes: the commit conflicts and changes nothing.
    other.set(&path, b"theirs", None, T).unwrap();
    let (r, stat) = commit(cas, b"mine");
    expect("stale commit", r, ZKU_EBADVERSION, &path);
    assert_eq!(stat.version, 0, "outputs untouched on failure");
    assert_eq!(other.get(&path, T).unwrap().0, b"theirs");
    assert_eq!(view(cas), b"\x00a\xff", "the handle keeps its read after a conflict");

    // Re-read on the same handle, then commit.
    // SAFETY: live handle.
    ok("reread", call(|e| unsafe { zku_cas_reread(cas, TMS, None, e) }));
    assert_eq!(view(cas), b"theirs");
    // SAFETY: live handle.
    unsafe {
        assert_eq!(zku_cas_version(cas), 1);
        assert_eq!(zku_cas_attempts(cas), 2);
    }
    let (r, stat) = commit(cas, b"mine");
    ok("commit", r);
    assert_eq!(stat.version, 2);
    assert_eq!(view(cas), b"mine", "the handle holds what it wrote");
    // A second commit follows on from the first without a read.
    let (r, stat) = commit(cas, b"mine again");
    ok("chained commit", r);
    assert_eq!(stat.version, 3);
    let mut got = zku_stat::default();
    // SAFETY: live handle, valid out-parameter.
    ok("stat", call(|e| unsafe { zku_cas_stat(cas, &mut got, e) }));
    assert_eq!(got.version, 3);
    assert_eq!(got.mzxid, stat.mzxid);
    let (data, server_stat) = other.get(&path, T).unwrap();
    assert_eq!((data, zku_stat::from(server_stat)), (b"mine again".to_vec(), got));
    free(cas);
}

#[test]
fn json_mode_validates_values_read_and_written() {
    let c = shared_c();
    let other = core_client(&shared_server().connect_string());
    let path = unique_path("cas-json");
    other.create(&path, b"not json", &CreateOptions::persistent(), T).unwrap();
    expect("begin on non-JSON data", begin(&c, &path, ZKU_CAS_JSON, b"").unwrap_err(), ZKU_EJSON, "JSON");
    other.set(&path, b"\xff\xfe", None, T).unwrap();
    expect("begin on non-UTF-8 data", begin(&c, &path, ZKU_CAS_JSON, b"").unwrap_err(), ZKU_EJSON, "UTF-8");

    other.set(&path, "{\"n\": 1, \"é\": [true]}".as_bytes(), None, T).unwrap();
    let cas = begin(&c, &path, ZKU_CAS_JSON, b"").unwrap();
    // SAFETY: live handle; the JSON view is NUL-terminated.
    let text = unsafe { CStr::from_ptr(zku_cas_json(cas)) }.to_str().unwrap().to_string();
    assert_eq!(text, "{\"n\": 1, \"é\": [true]}", "the text as stored, not reformatted");

    let bad = cs("{\"n\": ");
    // SAFETY: live handle, NUL-terminated text.
    let r = call(|e| unsafe { zku_cas_commit_json(cas, bad.as_ptr(), TMS, None, null_mut(), e) });
    expect("commit of bad JSON", r, ZKU_EJSON, "new value");
    let (r, _) = commit(cas, b"\xff");
    expect("commit of non-UTF-8", r, ZKU_EJSON, "UTF-8");
    assert_eq!(other.get(&path, T).unwrap().1.version, 2, "nothing written");

    let good = cs("{\"n\": 2}");
    let mut stat = zku_stat::default();
    // SAFETY: as above.
    ok("commit_json", call(|e| unsafe { zku_cas_commit_json(cas, good.as_ptr(), TMS, None, &mut stat, e) }));
    assert_eq!(stat.version, 3);
    assert_eq!(other.get(&path, T).unwrap().0, b"{\"n\": 2}");
    free(cas);
}

#[test]
fn create_when_absent_and_its_races() {
    let c = shared_c();
    let other = core_client(&shared_server().connect_string());
    let root = unique_path("cas-create");
    let path = format!("{root}/counter");
    expect("absent without CREATE", begin(&c, &root, ZKU_CAS_JSON, b"").unwrap_err(), ZKU_ENONODE, &root);

    // Parent missing: the create fails with ZKU_ENONODE unless asked for parents.
    let cas = begin(&c, &path, ZKU_CAS_JSON | ZKU_CAS_CREATE, b"0").unwrap();
    let (r, _) = commit(cas, b"1");
    expect("create without parent", r, ZKU_ENONODE, &path);
    free(cas);

    let first = begin(&c, &path, ZKU_CAS_JSON | ZKU_CAS_CREATE | ZKU_CAS_CREATE_PARENTS, b"0").unwrap();
    let second = begin(&c, &path, ZKU_CAS_JSON | ZKU_CAS_CREATE | ZKU_CAS_CREATE_PARENTS, b"0").unwrap();
    assert_eq!(view(first), b"0", "the initial value stands for the missing node");
    let mut stat = zku_stat::default();
    // SAFETY: live handles.
    unsafe {
        assert_eq!(zku_cas_version(first), -1);
        ok("stat", call(|e| zku_cas_stat(first, &mut stat, e)));
    }
    assert_eq!((stat.version, stat.czxid), (-1, 0));

    let (r, stat) = commit(first, b"1");
    ok("create", r);
    assert_eq!(stat.version, 0);
    assert_eq!(other.get(&path, T).unwrap().0, b"1");

    // The second handle also read "absent": its create conflicts.
    let (r, _) = commit(second, b"1");
    expect("lost create race", r, ZKU_EBADVERSION, "created by someone else");
    // SAFETY: live handle.
    ok("reread", call(|e| unsafe { zku_cas_reread(second, TMS, None, e) }));
    assert_eq!(view(second), b"1");
    let (r, stat) = commit(second, b"2");
    ok("commit after reread", r);
    assert_eq!(stat.version, 1);

    // Deleted since the read: a conflict; the re-read sees it absent again.
    other.delete(&path, None, T).unwrap();
    let (r, _) = commit(second, b"3");
    expect("node deleted since the read", r, ZKU_EBADVERSION, "deleted");
    // SAFETY: live handle.
    ok("reread", call(|e| unsafe { zku_cas_reread(second, TMS, None, e) }));
    // SAFETY: live handle.
    assert_eq!(unsafe { zku_cas_version(second) }, -1);
    assert_eq!(view(second), b"0");
    free(first);
    free(second);
}

// ---- zku_cas_update -------------------------------------------------------

/// Counts calls; what the callback does next.
struct Counter {
    calls: AtomicU32,
    mode: i32,
    /// For MODE_CONFLICT: a client that writes behind the loop's back.
    other: Option<Client>,
    path: String,
}

const MODE_INCREMENT: i32 = 0;
const MODE_SKIP: i32 = 1;
const MODE_ABORT: i32 = 2;
const MODE_NO_VALUE: i32 = 3;
const MODE_BAD_RC: i32 = 4;
const MODE_CONFLICT: i32 = 5;
const MODE_BAD_JSON: i32 = 6;

unsafe extern "C" fn counter_cb(
    user: *mut c_void,
    value: *const u8,
    len: usize,
    _stat: *const zku_stat,
    next: *mut zku_cas_next,
) -> i32 {
    // SAFETY: user is the &Counter the test passed; value has len bytes.
    let (counter, current) = unsafe { (&*(user as *const Counter), std::slice::from_raw_parts(value, len)) };
    counter.calls.fetch_add(1, Ordering::SeqCst);
    let n: i64 = std::str::from_utf8(current).unwrap().trim().parse().unwrap();
    let new = (n + 1).to_string();
    match counter.mode {
        MODE_SKIP => return ZKU_CAS_SKIP,
        MODE_ABORT => return -42,
        MODE_NO_VALUE => return ZKU_CAS_WRITE,
        MODE_BAD_RC => return 7,
        MODE_CONFLICT => {
            // Calling into the library from the callback is fine; this
            // write makes the loop's own write conflict.
            counter.other.as_ref().unwrap().set(&counter.path, b"100", None, T).unwrap();
        }
        MODE_BAD_JSON => {
            // SAFETY: `next` is the callback's argument.
            unsafe { zku_cas_next_set(next, b"{".as_ptr(), 1, null_mut()) };
            return ZKU_CAS_WRITE;
        }
        _ => {}
    }
    // SAFETY: `next` is the callback's argument; `new` is live.
    let rc = unsafe { zku_cas_next_set(next, new.as_ptr(), new.len(), null_mut()) };
    assert_eq!(rc, ZKU_OK);
    ZKU_CAS_WRITE
}

fn update(
    c: &CClient,
    path: &str,
    flags: u32,
    counter: &Counter,
    max_attempts: u32,
    timeout_ms: i32,
) -> ((i32, String), zku_stat, u32) {
    let p = cs(path);
    let mut stat = zku_stat { version: 77, ..zku_stat::default() };
    let mut attempts = 77u32;
    let user = counter as *const Counter as *mut c_void;
    let (initial, initial_len) = if flags & ZKU_CAS_CREATE != 0 { (b"0".as_ptr(), 1) } else { (null(), 0) };
    // SAFETY: live client; the callback and its user data live for the call.
    let r = call(|e| unsafe {
        zku_cas_update(
            c.ptr(),
            p.as_ptr(),
            flags,
            initial,
            initial_len,
            Some(counter_cb),
            user,
            max_attempts,
            timeout_ms,
            None,
            &mut stat,
            &mut attempts,
            e,
        )
    });
    (r, stat, attempts)
}

fn counter(mode: i32, path: &str) -> Counter {
    Counter { calls: AtomicU32::new(0), mode, other: None, path: path.to_string() }
}

#[test]
fn update_loop_writes_skips_aborts_and_gives_up() {
    let c = shared_c();
    let other = core_client(&shared_server().connect_string());
    let path = unique_path("cas-update");
    let flags = ZKU_CAS_JSON | ZKU_CAS_CREATE;

    let (r, stat, attempts) = update(&c, &path, flags, &counter(MODE_INCREMENT, &path), 0, TMS);
    ok("update creating the node", r);
    assert_eq!((stat.version, attempts), (0, 1));
    assert_eq!(other.get(&path, T).unwrap().0, b"1");
    let (r, stat, _) = update(&c, &path, flags, &counter(MODE_INCREMENT, &path), 0, TMS);
    ok("update", r);
    assert_eq!(stat.version, 1);
    assert_eq!(other.get(&path, T).unwrap().0, b"2");

    let (r, stat, attempts) = update(&c, &path, flags, &counter(MODE_SKIP, &path), 0, TMS);
    ok("skip", r);
    assert_eq!((stat.version, attempts), (1, 1), "skip reports the current stat and writes nothing");
    assert_eq!(other.get(&path, T).unwrap().1.version, 1);

    let (r, stat, attempts) = update(&c, &path, flags, &counter(MODE_ABORT, &path), 0, TMS);
    expect("abort", r, ZKU_EABORTED, "-42");
    assert_eq!((stat.version, attempts), (0, 0), "outputs cleared on failure");
    let (r, ..) = update(&c, &path, flags, &counter(MODE_NO_VALUE, &path), 0, TMS);
    expect("write without a value", r, ZKU_EINVAL, "zku_cas_next_set");
    let (r, ..) = update(&c, &path, flags, &counter(MODE_BAD_RC, &path), 0, TMS);
    expect("unknown callback result", r, ZKU_EINVAL, "returned 7");
    let (r, ..) = update(&c, &path, flags, &counter(MODE_BAD_JSON, &path), 0, TMS);
    expect("bad JSON from the callback", r, ZKU_EJSON, "new value");
    let (data, now) = other.get(&path, T).unwrap();
    assert_eq!((data.as_slice(), now.version), (&b"2"[..], 1), "none of these wrote");

    // Every attempt conflicts: the loop gives up after max_attempts.
    let mut conflicting = counter(MODE_CONFLICT, &path);
    conflicting.other = Some(core_client(&shared_server().connect_string()));
    let (r, ..) = update(&c, &path, flags, &conflicting, 3, TMS);
    expect("max attempts", r, ZKU_EBADVERSION, "3 attempts");
    assert_eq!(conflicting.calls.load(Ordering::SeqCst), 3);
    // Timeout 0: a single attempt.
    conflicting.calls.store(0, Ordering::SeqCst);
    let (r, ..) = update(&c, &path, flags, &conflicting, 0, 0);
    expect("one attempt", r, ZKU_EBADVERSION, "one attempt");
    assert_eq!(conflicting.calls.load(Ordering::SeqCst), 1);
}

// ---- four processes ----------------------------------------------------------

const CHILDREN: usize = 4;
const PER_CHILD: u32 = 500;

#[test]
fn four_processes_increment_one_counter_to_exactly_2000() {
    let hosts = shared_server().connect_string();
    let other = core_client(&hosts);
    let path = unique_path("cas-4proc");
    other.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "cas_increment_child", "--nocapture", "--test-threads=1"])
                .env("ZKU_CAS_CHILD_HOSTS", &hosts)
                .env("ZKU_CAS_CHILD_PATH", &path)
                .output_async()
        })
        .collect();
    let mut total_attempts = 0u64;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = stdout
            .lines()
            .find_map(|l| l.find("cas-child ").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no child report in:\n{stdout}"));
        eprintln!("{line}");
        let attempts: u64 = line.split_whitespace().last().unwrap().parse().unwrap();
        total_attempts += attempts;
    }
    let (data, stat) = other.get(&path, T).unwrap();
    assert_eq!(data, b"2000", "no increment lost or doubled");
    assert_eq!(stat.version, 2000, "exactly one write per increment");
    eprintln!("4 processes x {PER_CHILD}: {total_attempts} callback runs for 2000 increments");
}

trait SpawnAsync {
    fn output_async(&mut self) -> std::process::Child;
}
impl SpawnAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    }
}

/// Run by `four_processes_increment_one_counter_to_exactly_2000` in child
/// processes: 500 increments through zku_cas_update.
#[test]
#[ignore = "child process of four_processes_increment_one_counter_to_exactly_2000"]
fn cas_increment_child() {
    let hosts = std::env::var("ZKU_CAS_CHILD_HOSTS").expect("run by the parent test");
    let path = std::env::var("ZKU_CAS_CHILD_PATH").unwrap();
    let c = CClient::connect(&hosts, 10_000);
    let ctr = counter(MODE_INCREMENT, &path);
    let mut attempts = 0u64;
    for _ in 0..PER_CHILD {
        let (r, _, n) = update(&c, &path, ZKU_CAS_JSON, &ctr, 0, 60_000);
        ok("increment", r);
        attempts += n as u64;
    }
    assert_eq!(ctr.calls.load(Ordering::SeqCst) as u64, attempts);
    println!("cas-child pid {} increments {PER_CHILD} attempts {attempts}", std::process::id());
}

// ---- outcome unknown -----------------------------------------------------------

fn via_proxy() -> (Proxy, CClient, Client) {
    let upstream = shared_server().connect_string();
    let proxy = Proxy::start(&upstream);
    let c = CClient::connect(&proxy.connect_string(), 10_000);
    (proxy, c, core_client(&upstream))
}

fn resolve(cas: *mut zku_cas, timeout_ms: i32) -> ((i32, String), zku_stat) {
    let mut stat = zku_stat::default();
    // SAFETY: live handle used by this thread only.
    let r = call(|e| unsafe { zku_cas_resolve(cas, timeout_ms, None, &mut stat, e) });
    (r, stat)
}

#[test]
fn lost_request_is_unknown_then_resolved_as_applied_once() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-lost-req");
    direct.create(&path, b"v0", &CreateOptions::persistent(), T).unwrap();
    let cas = begin(&c, &path, 0, b"").unwrap();

    proxy.arm(Fault::DropRequest(vec![OP_SET_DATA]));
    let (r, _) = commit(cas, b"v1");
    expect("commit cut off in flight", r, ZKU_EUNKNOWN, "may or may not have been applied");
    assert_eq!(proxy.fired(), 1);
    assert_eq!(direct.get(&path, T).unwrap().0, b"v0", "the request never reached the server");

    let (r, stat) = resolve(cas, TMS);
    ok("resolve", r);
    assert_eq!(stat.version, 1);
    let (data, now) = direct.get(&path, T).unwrap();
    assert_eq!((data.as_slice(), now.version), (&b"v1"[..], 1), "applied exactly once");
    assert_eq!(view(cas), b"v1");
    // Nothing left to resolve.
    let (r, _) = resolve(cas, TMS);
    expect("resolve twice", r, ZKU_EINVAL, "no write of unknown outcome");
    free(cas);
}

#[test]
fn lost_reply_stays_unknown_because_it_cannot_be_told_apart() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-lost-reply");
    direct.create(&path, b"v0", &CreateOptions::persistent(), T).unwrap();
    let cas = begin(&c, &path, 0, b"").unwrap();

    proxy.arm(Fault::DropReply(vec![OP_SET_DATA]));
    let (r, _) = commit(cas, b"v1");
    expect("reply lost", r, ZKU_EUNKNOWN, "no reply");
    assert_eq!(proxy.fired(), 1);
    let (data, now) = direct.get(&path, T).unwrap();
    assert_eq!((data.as_slice(), now.version), (&b"v1"[..], 1), "the server did apply it");

    // The retry conflicts and the node holds our bytes at version 1: another
    // writer could have written the same bytes from the same read.
    let (r, _) = resolve(cas, TMS);
    expect("resolve", r, ZKU_EUNKNOWN, "another writer may have written the same value");
    assert_eq!(direct.get(&path, T).unwrap().1.version, 1, "the retry did not apply twice");
    // A re-read forgets it; the handle goes on.
    // SAFETY: live handle.
    ok("reread", call(|e| unsafe { zku_cas_reread(cas, TMS, None, e) }));
    assert_eq!(view(cas), b"v1");
    let (r, _) = resolve(cas, TMS);
    expect("nothing to resolve after reread", r, ZKU_EINVAL, "no write");
    free(cas);
}

#[test]
fn lost_request_then_another_writer_resolves_as_not_applied() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-lost-other");
    direct.create(&path, b"v0", &CreateOptions::persistent(), T).unwrap();
    let cas = begin(&c, &path, 0, b"").unwrap();
    proxy.arm(Fault::DropRequest(vec![OP_SET_DATA]));
    let (r, _) = commit(cas, b"mine");
    expect("commit cut off", r, ZKU_EUNKNOWN, "may or may not");
    direct.set(&path, b"theirs", Some(0), T).unwrap();
    let (r, _) = resolve(cas, TMS);
    expect("resolve", r, ZKU_EBADVERSION, "was not applied");
    assert_eq!(direct.get(&path, T).unwrap().0, b"theirs");
    free(cas);
}

#[test]
fn lost_create_is_resolved_as_created_once() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-lost-create");
    let cas = begin(&c, &path, ZKU_CAS_CREATE, b"init").unwrap();
    proxy.arm(Fault::DropRequest(OPS_CREATE.to_vec()));
    let (r, _) = commit(cas, b"created");
    expect("create cut off", r, ZKU_EUNKNOWN, "may or may not");
    assert!(direct.exists(&path, T).unwrap().is_none());
    let (r, stat) = resolve(cas, TMS);
    ok("resolve create", r);
    assert_eq!(stat.version, 0);
    assert_eq!(direct.get(&path, T).unwrap().0, b"created");
    free(cas);
}

#[test]
fn a_lost_create_applied_then_replaced_stays_unknown() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-create-replaced");
    let cas = begin(&c, &path, ZKU_CAS_CREATE, b"init").unwrap();
    proxy.arm(Fault::DropReply(OPS_CREATE.to_vec()));
    let (r, _) = commit(cas, b"mine");
    expect("create reply lost", r, ZKU_EUNKNOWN, "no reply");
    assert_eq!(direct.get(&path, T).unwrap().0, b"mine", "the server did create it");
    // Someone deletes our node and creates another one at version 0.
    direct.delete(&path, None, T).unwrap();
    direct.create(&path, b"theirs", &CreateOptions::persistent(), T).unwrap();
    let (r, _) = resolve(cas, TMS);
    expect("resolve", r, ZKU_EUNKNOWN, "may be ours");
    free(cas);
}

#[test]
fn update_resolves_a_lost_request_and_increments_once() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-update-lost");
    direct.create(&path, b"41", &CreateOptions::persistent(), T).unwrap();
    proxy.arm(Fault::DropRequest(vec![OP_SET_DATA]));
    let ctr = counter(MODE_INCREMENT, &path);
    let (r, stat, attempts) = update(&c, &path, ZKU_CAS_JSON, &ctr, 0, 30_000);
    ok("update across a cut connection", r);
    assert_eq!(proxy.fired(), 1, "the fault did fire");
    assert_eq!((stat.version, attempts), (1, 1));
    assert_eq!(direct.get(&path, T).unwrap().0, b"42");
}

#[test]
fn update_reports_unknown_when_the_reply_was_lost() {
    let (proxy, c, direct) = via_proxy();
    let path = unique_path("cas-update-unknown");
    direct.create(&path, b"41", &CreateOptions::persistent(), T).unwrap();
    proxy.arm(Fault::DropReply(vec![OP_SET_DATA]));
    let (r, ..) = update(&c, &path, ZKU_CAS_JSON, &counter(MODE_INCREMENT, &path), 0, 30_000);
    expect("update with the reply lost", r, ZKU_EUNKNOWN, "outcome still unknown");
    assert_eq!(direct.get(&path, T).unwrap().0, b"42", "applied once, never twice");
}

// ---- bad input -----------------------------------------------------------

#[test]
fn bad_input_through_the_c_abi_gets_specific_codes() {
    let c = shared_c();
    let other = core_client(&shared_server().connect_string());
    let path = unique_path("cas-bad");
    other.create(&path, b"7", &CreateOptions::persistent(), T).unwrap();
    let p = cs(&path);
    let rel = cs("relative");
    let mut cas = null_mut();
    let big = vec![b'x'; ZKU_MAX_DATA_LEN + 1];
    // SAFETY (whole block): each pointer is NULL, a live local or a live
    // library object; the calls must reject the bad ones.
    unsafe {
        let b = |client, path, flags, init: *const u8, len, t, out: *mut *mut zku_cas| {
            call(|e| zku_cas_begin(client, path, flags, init, len, t, None, out, e))
        };
        expect("NULL client", b(null(), p.as_ptr(), 0, null(), 0, TMS, &mut cas), ZKU_ENULL, "client");
        expect("NULL path", b(c.ptr(), null(), 0, null(), 0, TMS, &mut cas), ZKU_ENULL, "path");
        expect("NULL out", b(c.ptr(), p.as_ptr(), 0, null(), 0, TMS, null_mut()), ZKU_ENULL, "out");
        expect("bad UTF-8", b(c.ptr(), bad_utf8(), 0, null(), 0, TMS, &mut cas), ZKU_EUTF8, "path");
        expect("relative path", b(c.ptr(), rel.as_ptr(), 0, null(), 0, TMS, &mut cas), ZKU_EPATH, "relative");
        expect("unknown flags", b(c.ptr(), p.as_ptr(), 0x80, null(), 0, TMS, &mut cas), ZKU_EINVAL, "0x80");
        expect(
            "parents without create",
            b(c.ptr(), p.as_ptr(), ZKU_CAS_CREATE_PARENTS, null(), 0, TMS, &mut cas),
            ZKU_EINVAL,
            "ZKU_CAS_CREATE",
        );
        expect(
            "initial without create",
            b(c.ptr(), p.as_ptr(), 0, b"x".as_ptr(), 1, TMS, &mut cas),
            ZKU_EINVAL,
            "initial",
        );
        expect(
            "NULL initial with a length",
            b(c.ptr(), p.as_ptr(), ZKU_CAS_CREATE, null(), 3, TMS, &mut cas),
            ZKU_ENULL,
            "initial",
        );
        expect(
            "bad JSON initial",
            b(c.ptr(), p.as_ptr(), ZKU_CAS_CREATE | ZKU_CAS_JSON, b"{".as_ptr(), 1, TMS, &mut cas),
            ZKU_EJSON,
            "initial",
        );
        expect("bad timeout", b(c.ptr(), p.as_ptr(), 0, null(), 0, -5, &mut cas), ZKU_EINVAL, "timeout");
        assert!(cas.is_null());

        let h = begin(&c, &path, 0, b"").unwrap();
        let mut data = null();
        let mut len = 0usize;
        expect("value NULL cas", call(|e| zku_cas_value(null(), &mut data, &mut len, e)), ZKU_ENULL, "cas");
        expect("value NULL out", call(|e| zku_cas_value(h, null_mut(), &mut len, e)), ZKU_ENULL, "data");
        expect("stat NULL out", call(|e| zku_cas_stat(h, null_mut(), e)), ZKU_ENULL, "stat");
        expect(
            "commit NULL cas",
            call(|e| zku_cas_commit(null_mut(), b"x".as_ptr(), 1, TMS, None, null_mut(), e)),
            ZKU_ENULL,
            "cas",
        );
        expect("commit NULL data", call(|e| zku_cas_commit(h, null(), 1, TMS, None, null_mut(), e)), ZKU_ENULL, "data");
        expect(
            "commit too large",
            call(|e| zku_cas_commit(h, big.as_ptr(), big.len(), TMS, None, null_mut(), e)),
            ZKU_ETOOLARGE,
            "",
        );
        expect(
            "commit bad timeout",
            call(|e| zku_cas_commit(h, b"x".as_ptr(), 1, -9, None, null_mut(), e)),
            ZKU_EINVAL,
            "timeout",
        );
        expect(
            "commit_json NULL",
            call(|e| zku_cas_commit_json(h, null(), TMS, None, null_mut(), e)),
            ZKU_ENULL,
            "json",
        );
        expect(
            "commit_json bad UTF-8",
            call(|e| zku_cas_commit_json(h, bad_utf8(), TMS, None, null_mut(), e)),
            ZKU_EUTF8,
            "json",
        );
        expect("reread NULL", call(|e| zku_cas_reread(null_mut(), TMS, None, e)), ZKU_ENULL, "cas");
        expect("resolve nothing", call(|e| zku_cas_resolve(h, TMS, None, null_mut(), e)), ZKU_EINVAL, "no write");
        expect("next_set NULL", call(|e| zku_cas_next_set(null_mut(), b"x".as_ptr(), 1, e)), ZKU_ENULL, "next");
        // Harmless on NULL.
        assert_eq!(zku_cas_version(null()), -1);
        assert_eq!(zku_cas_attempts(null()), 0);
        assert!(zku_cas_json(null()).is_null());
        zku_cas_free(null_mut());
        zku_cas_free(h);

        let ctr = counter(MODE_INCREMENT, &path);
        let user = &ctr as *const Counter as *mut c_void;
        let u = |client, path, cb: zku_cas_fn, t| {
            call(|e| zku_cas_update(client, path, 0, null(), 0, cb, user, 0, t, None, null_mut(), null_mut(), e))
        };
        expect("update NULL callback", u(c.ptr(), p.as_ptr(), None, TMS), ZKU_ENULL, "callback");
        expect("update NULL client", u(null(), p.as_ptr(), Some(counter_cb), TMS), ZKU_ENULL, "client");
        expect("update bad path", u(c.ptr(), rel.as_ptr(), Some(counter_cb), TMS), ZKU_EPATH, "relative");
        expect("update bad timeout", u(c.ptr(), p.as_ptr(), Some(counter_cb), -3), ZKU_EINVAL, "timeout");
        assert_eq!(ctr.calls.load(Ordering::SeqCst), 0, "the callback never ran");
    }
    assert_eq!(other.get(&path, T).unwrap().1.version, 0, "nothing was written");
}

#[test]
fn a_freed_client_makes_the_handle_fail_with_closed() {
    let c = shared_c();
    let path = unique_path("cas-closed");
    let direct = core_client(&shared_server().connect_string());
    direct.create(&path, b"1", &CreateOptions::persistent(), T).unwrap();
    let cas = begin(&c, &path, 0, b"").unwrap();
    drop(c);
    let (r, _) = commit(cas, b"2");
    expect("commit after client free", r, ZKU_ECLOSED, "closed");
    free(cas);
}

// ---- interop -------------------------------------------------------------

/// k3zkutil's own cas_loop (Python, kazoo) and zku_cas_update increment the
/// same JSON counter at the same time; the total is exact.
#[test]
fn interop_with_k3zkutil_cas_loop() {
    // As tests/lock_python.rs: ZKU_PYTHON, else the venv that
    // scripts/install-deps.sh makes in .venv.
    let python = std::env::var("ZKU_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_string());
    assert!(
        std::path::Path::new(&python).exists(),
        "no Python with k3zkutil at {python}: set ZKU_PYTHON or run scripts/install-deps.sh venv"
    );
    let hosts = shared_server().connect_string();
    let direct = core_client(&hosts);
    let path = unique_path("cas-k3");
    direct.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();
    let script = r#"
import sys, k3zkutil
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start()
for _ in range(int(sys.argv[3])):
    for rec in k3zkutil.cas_loop(zk, sys.argv[2]):
        rec.v = rec.v + 1
zk.stop(); zk.close()
print("python done")
"#;
    let py = Command::new(&python).args(["-c", script, &hosts, &path, "150"]).output_async();
    let c = CClient::connect(&hosts, 10_000);
    let ctr = counter(MODE_INCREMENT, &path);
    for _ in 0..150 {
        let (r, ..) = update(&c, &path, ZKU_CAS_JSON, &ctr, 0, 60_000);
        ok("increment", r);
    }
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let (data, stat) = direct.get(&path, T).unwrap();
    assert_eq!(String::from_utf8(data).unwrap().trim(), "300");
    assert_eq!(stat.version, 300);
}
