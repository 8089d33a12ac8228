//! Event loops through the C ABI: the client's and the reader's change
//! descriptors, and operations started without blocking (`zku_op`) ending
//! with the outcome of the blocking call, cancellable, and safe to free
//! (with the handle they run on) while they run.

mod capi;
mod common;

use std::ffi::c_int;
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use capi::{call, core_client, cs, expect, ok, take_buf, take_string};
use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::Client;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::fifo::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::*;
use zkutil::ffi::op::*;
use zkutil::ffi::reader::*;
use zkutil::ffi::wait::*;
use zkutil::ffi::zku_rc;
use zkutil::node::CreateOptions;
use zkutil::runtime::Timeout;

/// Generous bound for something that should happen at once, on a loaded
/// machine.
const SOON: Duration = Duration::from_secs(5);
const T: Timeout = Timeout::After(Duration::from_secs(5));

fn readable(fd: c_int, within: Duration) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut p, 1, within.as_millis() as c_int) == 1 }
}

/// A C client whose lock directory is `dir` (closed by Drop).
struct Fixture {
    client: *mut zku_client,
    dir: String,
    core: Client,
}

impl Fixture {
    fn new(prefix: &str) -> Fixture {
        Fixture::on(&shared_server().connect_string(), prefix)
    }

    fn on(hosts: &str, prefix: &str) -> Fixture {
        let dir = unique_path(prefix);
        let (hosts_c, lock_dir) = (cs(hosts), cs(&format!("{dir}/")));
        let (mut config, mut client) = (null_mut(), null_mut());
        // SAFETY: valid pointers to live locals; the config is freed once.
        unsafe {
            ok("config_new", call(|e| zku_config_new(&mut config, e)));
            ok("set_hosts", call(|e| zku_config_set_hosts(config, hosts_c.as_ptr(), e)));
            ok("lock_dir", call(|e| zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir.as_ptr(), e)));
            ok("client_new", call(|e| zku_client_new(config, None, &mut client, e)));
            zku_config_free(config);
        }
        Fixture { client, dir, core: core_client(hosts, 10_000) }
    }

    fn lock(&self, name: &str) -> *mut zku_lock {
        let name = cs(name);
        let mut lock = null_mut();
        // SAFETY: live client and strings.
        ok("lock_new", call(|e| unsafe { zku_lock_new(self.client, name.as_ptr(), null(), 0, 5000, &mut lock, e) }));
        lock
    }

    fn fifo(&self, name: &str) -> *mut zku_fifo {
        let name = cs(name);
        let mut fifo = null_mut();
        // SAFETY: live client and strings.
        ok("fifo_new", call(|e| unsafe { zku_fifo_new(self.client, name.as_ptr(), null(), 5000, &mut fifo, e) }));
        fifo
    }

    fn node(&self, name: &str, data: &[u8]) -> String {
        let path = format!("{}/{name}", self.dir);
        self.core.create(&path, data, &CreateOptions::persistent().with_parents(), T).expect("create");
        path
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.core.children(path, T).expect("children").0
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: live client, freed once.
        unsafe { zku_client_free(self.client) };
    }
}

fn op_fd(op: *const zku_op) -> c_int {
    let mut fd = -1;
    // SAFETY: live op, valid pointer.
    ok("op_fd", call(|e| unsafe { zku_op_fd(op, &mut fd, e) }));
    assert!(fd >= 0);
    fd
}

/// Waits for the op's descriptor, then returns its result with the token.
fn finish(op: *const zku_op) -> ((zku_rc, String), i64) {
    assert!(readable(op_fd(op), Duration::from_secs(15)), "the operation ended");
    let mut token = -1;
    // SAFETY: live op, valid pointers.
    let got = call(|e| unsafe { zku_op_result(op, &mut token, null_mut(), null_mut(), e) });
    (got, token)
}

fn lock_start(lock: *const zku_lock, timeout_ms: i32) -> *mut zku_op {
    let mut op = null_mut();
    // SAFETY: live lock, valid pointer.
    ok("acquire_start", call(|e| unsafe { zku_lock_acquire_start(lock, timeout_ms, &mut op, e) }));
    assert!(!op.is_null());
    op
}

fn fifo_start(fifo: *const zku_fifo, timeout_ms: i32) -> *mut zku_op {
    let mut op = null_mut();
    // SAFETY: live handle, valid pointer.
    ok("fifo acquire_start", call(|e| unsafe { zku_fifo_acquire_start(fifo, timeout_ms, &mut op, e) }));
    op
}

fn in_progress(op: *const zku_op) {
    let (mut token, mut data, mut stat) = (-1, null_mut(), zku_stat { version: 9, ..zku_stat::default() });
    // SAFETY: live op, valid pointers.
    let got = call(|e| unsafe { zku_op_result(op, &mut token, &mut data, &mut stat, e) });
    expect("result while running", got, ZKU_EINPROGRESS, "still running");
    assert_eq!((token, data.is_null(), stat.version), (0, true, 0), "outputs cleared");
    assert!(!readable(op_fd(op), Duration::ZERO), "not readable while running");
}

#[test]
fn client_fd_is_readable_on_each_state_change() {
    let mut server = ZkServer::start();
    let f = Fixture::on(&server.connect_string(), "evloop-client");
    let mut fd = -1;
    // SAFETY: live client, valid pointers.
    unsafe {
        ok("client_fd", call(|e| zku_client_fd(f.client, &mut fd, e)));
        let mut again = -1;
        ok("client_fd again", call(|e| zku_client_fd(f.client, &mut again, e)));
        assert_eq!(fd, again, "one descriptor per client");
        assert!(readable(fd, Duration::ZERO), "readable right after it is made");
        assert_eq!(zku_client_fd_drain(f.client), ZKU_STATE_CONNECTED);
        assert!(!readable(fd, Duration::ZERO), "empty after a drain");

        server.stop();
        assert!(readable(fd, Duration::from_secs(20)), "readable when the connection is lost");
        assert_eq!(zku_client_fd_drain(f.client), ZKU_STATE_SUSPENDED);
        server.restart();
        assert!(readable(fd, Duration::from_secs(30)), "readable when reconnected");
        // The reconnection may be reported in steps; the last one counts.
        let deadline = Instant::now() + Duration::from_secs(30);
        while zku_client_fd_drain(f.client) != ZKU_STATE_CONNECTED {
            assert!(Instant::now() < deadline, "back to CONNECTED");
            readable(fd, Duration::from_millis(200));
        }

        ok("close", call(|e| zku_client_close(f.client, 5000, None, e)));
        assert!(readable(fd, Duration::ZERO), "readable on close");
        assert_eq!(zku_client_fd_drain(f.client), ZKU_STATE_CLOSED);
    }
}

#[test]
fn reader_fd_is_readable_on_each_event() {
    let f = Fixture::new("evloop-reader");
    let path = f.node("conf", b"{\"n\":1}");
    let path_c = cs(&path);
    let (mut reader, mut fd) = (null_mut(), -1);
    // SAFETY: live handles, valid pointers.
    unsafe {
        let made = |e| zku_reader_new(f.client, path_c.as_ptr(), None, null_mut(), None, 5000, None, &mut reader, e);
        ok("reader_new", call(made));
        ok("reader_fd", call(|e| zku_reader_fd(reader, &mut fd, e)));
        assert!(readable(fd, Duration::ZERO), "readable right after it is made");
        assert_eq!(zku_reader_fd_drain(reader), ZKU_READER_STATE_FRESH);
        assert!(!readable(fd, Duration::ZERO), "empty after a drain");

        f.core.set(&path, b"{\"n\":2}", None, T).unwrap();
        assert!(readable(fd, SOON), "readable on a change");
        assert_eq!(zku_reader_fd_drain(reader), ZKU_READER_STATE_FRESH);
        let (mut old, mut new) = (null_mut(), null_mut());
        ok("watch 0", call(|e| zku_reader_watch(reader, 0, None, &mut old, &mut new, null_mut(), e)));
        assert_eq!((take_string(old), take_string(new)), ("{\"n\":1}".to_string(), "{\"n\":2}".to_string()));

        f.core.delete(&path, None, T).unwrap();
        assert!(readable(fd, SOON), "readable on a deletion");
        assert_eq!(zku_reader_fd_drain(reader), ZKU_READER_STATE_DELETED);

        zku_reader_close(reader);
        assert!(readable(fd, Duration::ZERO), "readable on close");
        assert_eq!(zku_reader_fd_drain(reader), ZKU_READER_STATE_CLOSED);
        zku_reader_free(reader);
    }
}

#[test]
fn fd_functions_refuse_bad_arguments() {
    let f = Fixture::new("evloop-args");
    let mut fd = 7;
    // SAFETY: NULL handles and out-parameters are what is tested.
    unsafe {
        expect("client NULL", call(|e| zku_client_fd(null(), &mut fd, e)), ZKU_ENULL, "client");
        assert_eq!(fd, -1, "cleared on failure");
        expect("client fd NULL", call(|e| zku_client_fd(f.client, null_mut(), e)), ZKU_ENULL, "fd");
        assert_eq!(zku_client_fd_drain(null()), ZKU_ENULL);
        expect("reader NULL", call(|e| zku_reader_fd(null(), &mut fd, e)), ZKU_ENULL, "reader");
        assert_eq!(zku_reader_fd_drain(null()), ZKU_ENULL);
        expect("op NULL", call(|e| zku_op_fd(null(), &mut fd, e)), ZKU_ENULL, "op");
        let mut token = 5;
        expect("result NULL", call(|e| zku_op_result(null(), &mut token, null_mut(), null_mut(), e)), ZKU_ENULL, "op");
        assert_eq!(token, 0);
        zku_op_cancel(null());
        zku_op_free(null_mut());

        let mut op = null_mut();
        let lock = f.lock("l");
        expect("lock NULL", call(|e| zku_lock_acquire_start(null(), 0, &mut op, e)), ZKU_ENULL, "lock");
        expect("out NULL", call(|e| zku_lock_acquire_start(lock, 0, null_mut(), e)), ZKU_ENULL, "out");
        expect("bad timeout", call(|e| zku_lock_acquire_start(lock, -5, &mut op, e)), ZKU_EINVAL, "");
        let fifo = f.fifo("q");
        expect("fifo bad timeout", call(|e| zku_fifo_acquire_start(fifo, -5, &mut op, e)), ZKU_EINVAL, "");
        let (good, bad) = (cs("/x"), cs("no-slash"));
        let next = |path: &std::ffi::CString, version, flags, timeout, op: *mut *mut zku_op| {
            call(|e| zku_get_next_start(f.client, path.as_ptr(), version, flags, timeout, op, e))
        };
        expect("bad path", next(&bad, -1, 0, 0, &mut op), ZKU_EPATH, "");
        expect("bad version", next(&good, -2, 0, 0, &mut op), ZKU_EINVAL, "version");
        expect("bad flags", next(&good, -1, 8, 0, &mut op), ZKU_EINVAL, "flags");
        expect("bad timeout", next(&good, -1, 0, -5, &mut op), ZKU_EINVAL, "");
        expect("out NULL", next(&good, -1, 0, 0, null_mut()), ZKU_ENULL, "out");
        let absent = call(|e| zku_wait_absent_start(f.client, bad.as_ptr(), 0, &mut op, e));
        expect("absent bad path", absent, ZKU_EPATH, "");
        expect("absent NULL path", call(|e| zku_wait_absent_start(f.client, null(), 0, &mut op, e)), ZKU_ENULL, "path");
        assert!(op.is_null(), "nothing started");
        zku_fifo_free(fifo);
        zku_lock_free(lock);
    }
    assert!(f.core.exists(&f.dir, T).unwrap().is_none(), "nothing written to the server");
}

#[test]
fn lock_acquire_op_ends_as_the_blocking_call() {
    let f = Fixture::new("evloop-lock");
    let (lock, other) = (f.lock("l"), f.lock("l"));
    // Free lock: acquired, with the handle's token.
    let op = lock_start(lock, 5000);
    let (got, token) = finish(op);
    ok("acquired", got);
    let mut held = 0;
    // SAFETY: live handles, valid pointers.
    unsafe {
        ok("token", call(|e| zku_lock_token(lock, &mut held, e)));
        assert_eq!(token, held);
        assert_eq!(zku_lock_get_state(lock), ZKU_LOCK_HELD);
        // Asked again: the same outcome.
        let (got, again) = finish(op);
        ok("second result", got);
        assert_eq!(again, token);
        zku_op_free(op);
    }

    // Held by another handle: in progress, then acquired on release.
    let waiting = lock_start(other, -1);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(waiting);
    // SAFETY: live handles.
    unsafe { ok("release", call(|e| zku_lock_release(lock, 5000, None, e))) };
    let (got, token2) = finish(waiting);
    ok("acquired after the release", got);
    assert!(token2 > token, "a new acquisition has a larger token");
    // SAFETY: live op, freed once.
    unsafe { zku_op_free(waiting) };

    // zku_lock_cancel stops an acquire operation too.
    let cancelled = lock_start(lock, -1);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(cancelled);
    // SAFETY: live handles, freed once.
    unsafe {
        zku_lock_cancel(lock);
        expect("zku_lock_cancel", finish(cancelled).0, ZKU_ECANCELLED, "cancel");
        zku_op_free(cancelled);
    }

    // Timeout, as the blocking call: ZKU_ETIMEOUT.
    let started = Instant::now();
    let timed = lock_start(lock, 300);
    let (got, t) = finish(timed);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(2300),
        "done after its timeout: {took:?}"
    );
    expect("timed out", got, ZKU_ETIMEOUT, "timed out");
    assert_eq!(t, 0, "no token on failure");
    // SAFETY: live handles, freed once.
    unsafe {
        assert_eq!(zku_lock_get_state(lock), ZKU_LOCK_UNLOCKED);
        zku_op_free(timed);
        ok("release", call(|e| zku_lock_release(other, 5000, None, e)));
    }

    // Done but never collected: freeing the op keeps the lock held.
    let done = lock_start(lock, 5000);
    assert!(readable(op_fd(done), Duration::from_secs(15)));
    // SAFETY: live handles, freed once.
    unsafe {
        zku_op_free(done);
        assert_eq!(zku_lock_get_state(lock), ZKU_LOCK_HELD);
        zku_lock_free(other);
        zku_lock_free(lock);
    }
}

#[test]
fn cancelled_and_freed_ops_leave_no_node() {
    let f = Fixture::new("evloop-cancel");
    let (holder, waiter) = (f.fifo("q"), f.fifo("q"));
    let queue = format!("{}/q", f.dir);
    let mut token = 0;
    // SAFETY: live handle, valid pointer.
    unsafe { ok("hold", call(|e| zku_fifo_acquire(holder, 5000, None, &mut token, e))) };
    assert_eq!(f.children(&queue).len(), 1);

    // Cancelled: ZKU_ECANCELLED, and our waiting node is deleted.
    let op = fifo_start(waiter, -1);
    let deadline = Instant::now() + SOON;
    while f.children(&queue).len() < 2 {
        assert!(Instant::now() < deadline, "the waiter joined the queue");
        std::thread::sleep(Duration::from_millis(20));
    }
    in_progress(op);
    let started = Instant::now();
    // SAFETY: live op.
    unsafe { zku_op_cancel(op) };
    let (got, _) = finish(op);
    expect("cancelled", got, ZKU_ECANCELLED, "cancel");
    assert!(started.elapsed() < Duration::from_secs(2), "ended promptly: {:?}", started.elapsed());
    // SAFETY: live op, freed once.
    unsafe { zku_op_free(op) };
    wait_for_children(&f, &queue, 1);

    // Freed while running (never collected): returns promptly, no node.
    let op = fifo_start(waiter, -1);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    // SAFETY: live op, freed once.
    unsafe { zku_op_free(op) };
    assert!(started.elapsed() < Duration::from_secs(2), "op_free returned promptly: {:?}", started.elapsed());
    wait_for_children(&f, &queue, 1);

    // The handle freed while its operation runs: the operation ends with
    // ZKU_ECANCELLED and is still usable; no node left.
    let op = fifo_start(waiter, -1);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: live handle, freed once; the op stays live.
    unsafe { zku_fifo_free(waiter) };
    let (got, _) = finish(op);
    expect("handle freed", got, ZKU_ECANCELLED, "cancel");
    // SAFETY: live handles, freed once.
    unsafe {
        zku_op_free(op);
        wait_for_children(&f, &queue, 1);
        ok("release", call(|e| zku_fifo_release(holder, 5000, None, e)));
        zku_fifo_free(holder);
    }
    wait_for_children(&f, &queue, 0);
}

fn wait_for_children(f: &Fixture, path: &str, n: usize) {
    let deadline = Instant::now() + SOON;
    while f.children(path).len() != n {
        assert!(Instant::now() < deadline, "{path} has {n} children: {:?}", f.children(path));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lock_freed_while_its_acquire_runs() {
    let f = Fixture::new("evloop-lockfree");
    let (holder, waiter) = (f.lock("l"), f.lock("l"));
    // SAFETY: live handles, valid pointers.
    unsafe { ok("hold", call(|e| zku_lock_acquire(holder, 5000, None, null_mut(), e))) };
    let op = lock_start(waiter, -1);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: live handles, each freed once; the op stays live.
    unsafe {
        zku_lock_free(waiter);
        let (got, _) = finish(op);
        expect("lock freed", got, ZKU_ECANCELLED, "cancel");
        zku_op_free(op);
        // The holder still holds it: the waiter took nothing.
        assert_eq!(zku_lock_get_state(holder), ZKU_LOCK_HELD);
        ok("release", call(|e| zku_lock_release(holder, 5000, None, e)));
        zku_lock_free(holder);
    }
    assert!(f.core.exists(&format!("{}/l", f.dir), T).unwrap().is_none(), "no lock node left");
}

#[test]
fn fifo_acquire_op_gives_the_token() {
    let f = Fixture::new("evloop-fifo");
    let fifo = f.fifo("q");
    let op = fifo_start(fifo, 5000);
    let (got, token) = finish(op);
    ok("acquired", got);
    let mut held = 0;
    // SAFETY: live handles, freed once.
    unsafe {
        ok("token", call(|e| zku_fifo_token(fifo, &mut held, e)));
        assert_eq!(token, held);
        zku_op_free(op);
        zku_fifo_free(fifo);
    }
}

type NewFifo = unsafe extern "C" fn(
    *const zku_client,
    *const std::ffi::c_char,
    *const std::ffi::c_char,
    i32,
    *mut *mut zku_fifo,
    *mut *mut zku_error,
) -> zku_rc;

/// Starts an acquire on `waiter` while `first` holds its side, then
/// checks it completes with a token once `first` lets go.
fn waits_for_the_first(f: &Fixture, name: &str, first: NewFifo, waiter: NewFifo) {
    let name_c = cs(name);
    let make = |new: NewFifo| {
        let mut h = null_mut();
        // SAFETY: live client and strings.
        ok("new", call(|e| unsafe { new(f.client, name_c.as_ptr(), null(), 5000, &mut h, e) }));
        h
    };
    let (holder, other) = (make(first), make(waiter));
    let held = fifo_start(holder, 5000);
    ok("first", finish(held).0);
    let op = fifo_start(other, -1);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(op);
    // SAFETY: live handles, each freed once.
    unsafe {
        ok("release", call(|e| zku_fifo_release(holder, 5000, None, e)));
        let (got, token) = finish(op);
        ok("second", got);
        assert!(token > 0);
        assert_eq!(zku_fifo_get_state(other), ZKU_LOCK_HELD);
        zku_op_free(held);
        zku_op_free(op);
        zku_fifo_free(other);
        zku_fifo_free(holder);
    }
}

#[test]
fn leader_latch_and_read_write_lock_start_without_blocking() {
    let f = Fixture::new("evloop-latch");
    waits_for_the_first(&f, "leader", zku_fifo_new_leader, zku_fifo_new_leader);
    waits_for_the_first(&f, "rw", zku_fifo_new_write, zku_fifo_new_read);
    waits_for_the_first(&f, "rw", zku_fifo_new_read, zku_fifo_new_write);
}

#[test]
fn get_next_op_returns_data_and_stat() {
    let f = Fixture::new("evloop-next");
    let path = f.node("n", b"v0");
    let path_c = cs(&path);
    let start = |version, flags, timeout| {
        let mut op = null_mut();
        // SAFETY: live client, valid pointers.
        let got =
            call(|e| unsafe { zku_get_next_start(f.client, path_c.as_ptr(), version, flags, timeout, &mut op, e) });
        ok("get_next_start", got);
        op
    };
    let op = start(0, 0, -1);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(op);
    f.core.set(&path, b"v1", None, T).unwrap();
    assert!(readable(op_fd(op), SOON), "done once the node changed");
    let (mut data, mut stat, mut token) = (null_mut(), zku_stat::default(), -1);
    // SAFETY: live op, valid pointers, freed once.
    unsafe {
        ok("result", call(|e| zku_op_result(op, &mut token, &mut data, &mut stat, e)));
        assert_eq!((take_buf(data), stat.version, token), (b"v1".to_vec(), 1, 0));
        // Each result is its own copy.
        ok("again", call(|e| zku_op_result(op, null_mut(), &mut data, null_mut(), e)));
        assert_eq!(take_buf(data), b"v1");
        zku_op_free(op);
    }

    // Errors as the blocking call: a timeout, and a missing node.
    let timed = start(5, 0, 200);
    expect("timeout", finish(timed).0, ZKU_ETIMEOUT, "");
    f.core.delete(&path, None, T).unwrap();
    let missing = start(-1, 0, 1000);
    expect("no node", finish(missing).0, ZKU_ENONODE, "");
    let created = start(-1, ZKU_WAIT_CREATE, -1);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(created);
    f.core.create(&path, b"again", &CreateOptions::persistent(), T).unwrap();
    ok("created", finish(created).0);
    // SAFETY: live ops, freed once.
    unsafe {
        zku_op_free(timed);
        zku_op_free(missing);
        zku_op_free(created);
    }
}

#[test]
fn wait_absent_op_ends_when_the_node_goes_or_the_client_closes() {
    let f = Fixture::new("evloop-absent");
    let path = f.node("n", b"");
    let path_c = cs(&path);
    let start = |client| {
        let mut op = null_mut();
        // SAFETY: live client, valid pointers.
        ok("start", call(|e| unsafe { zku_wait_absent_start(client, path_c.as_ptr(), -1, &mut op, e) }));
        op
    };
    let op = start(f.client);
    std::thread::sleep(Duration::from_millis(200));
    in_progress(op);
    f.core.delete(&path, None, T).unwrap();
    ok("gone", finish(op).0);
    // SAFETY: live op, freed once.
    unsafe { zku_op_free(op) };

    // Its client freed while it waits: ZKU_ECLOSED, the op still usable.
    f.node("n", b"");
    let other = Fixture::new("evloop-absent-other");
    let op = start(other.client);
    std::thread::sleep(Duration::from_millis(200));
    drop(other);
    expect("client freed", finish(op).0, ZKU_ECLOSED, "closed");
    // SAFETY: live op, freed once.
    unsafe { zku_op_free(op) };
}
