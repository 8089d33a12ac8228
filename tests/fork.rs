//! fork() and SIGPIPE, as a pre-forking server (Unicorn, Puma, an
//! Apache-style C daemon) and a plain C host meet them.
//!
//! The fork tests run library code in a child made by fork() without exec,
//! the path those servers take. The child uses only the C ABI, reports
//! through its exit code (it prints nothing: a parent thread may have held
//! the stdout lock at the moment of fork) and leaves with `_exit`. Every
//! wait for a child is bounded, so a hang fails the test.

mod capi;
mod common;
mod proxy;

use std::ffi::{CStr, c_void};
use std::panic::AssertUnwindSafe;
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use capi::{CClient, call, cs, ok};
use common::zk::{four_letter, shared_server, unique_path};
use zkutil::ffi::cas::*;
use zkutil::ffi::client::*;
use zkutil::ffi::error::*;
use zkutil::ffi::fifo::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::*;
use zkutil::ffi::op::*;
use zkutil::ffi::reader::*;
use zkutil::ffi::registration::*;
use zkutil::ffi::wait::*;
use zkutil::ffi::zku_rc;

/// One fork at a time in this binary, so that no other test thread is
/// inside the library at the moment of fork.
static FORKING: Mutex<()> = Mutex::new(());

/// How long a child may take before it counts as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// Forks; the child runs `body` and exits with its code (101 if it
/// panicked). Returns the child's pid.
fn fork_child(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs only `body` (library calls made for this, no
    // lock of the test harness) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child at once, running none of the parent's
        // exit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for a child at most `CHILD_LIMIT`; kills it and fails if it is
/// still running then. Returns its exit code.
fn wait_child(pid: libc::pid_t) -> i32 {
    let deadline = Instant::now() + CHILD_LIMIT;
    loop {
        let mut status = 0;
        // SAFETY: our own child; `status` is a live local.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == pid {
            assert!(libc::WIFEXITED(status), "child {pid} died by signal {}", libc::WTERMSIG(status));
            return libc::WEXITSTATUS(status);
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, still running.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {pid} still running after {CHILD_LIMIT:?}: it hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `Err(code)` unless `cond`: the child's checks, each with its own exit code.
fn check(cond: bool, code: i32) -> Result<(), i32> {
    if cond { Ok(()) } else { Err(code) }
}

/// Runs one C call with an error object and returns (rc, message), without
/// asserting (the child must not panic).
fn raw_call(f: impl FnOnce(*mut *mut zku_error) -> zku_rc) -> (zku_rc, String) {
    let mut err = null_mut();
    let rc = f(&mut err);
    if err.is_null() {
        return (rc, String::new());
    }
    // SAFETY: a live error object from the library, freed once.
    unsafe {
        let message = CStr::from_ptr(zku_error_message(err)).to_string_lossy().into_owned();
        zku_error_free(err);
        (rc, message)
    }
}

/// A call on an inherited handle: ZKU_EFORKED with a message saying why.
fn forked(got: (zku_rc, String)) -> bool {
    got.0 == ZKU_EFORKED && got.1.contains("fork()")
}

static USER_DATA_FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_free(_: *mut c_void) {
    USER_DATA_FREED.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn ignore_lock_state(_: *mut c_void, _: zku_lock_state, _: zku_lock_state) {}

fn new_lock(client: *const zku_client, name: &str) -> Result<*mut zku_lock, (zku_rc, String)> {
    let name = cs(name);
    let mut lock = null_mut();
    // SAFETY: live client, valid pointers.
    let got =
        raw_call(|e| unsafe { zku_lock_new(client, name.as_ptr(), null(), 0, ZKU_LOCK_DEFAULT_TIMEOUT, &mut lock, e) });
    if got.0 == ZKU_OK { Ok(lock) } else { Err(got) }
}

fn connect(hosts: &str) -> Result<*mut zku_client, (zku_rc, String)> {
    let hosts = cs(hosts);
    let mut config = null_mut();
    let mut client = null_mut();
    // SAFETY: valid pointers to live locals; the config is freed once.
    let got = unsafe {
        zkutil::ffi::config::zku_config_new(&mut config, null_mut());
        zkutil::ffi::config::zku_config_set_hosts(config, hosts.as_ptr(), null_mut());
        let got = raw_call(|e| zku_client_new(config, None, &mut client, e));
        zkutil::ffi::config::zku_config_free(config);
        got
    };
    if got.0 == ZKU_OK { Ok(client) } else { Err(got) }
}

/// The parent's handles, inherited by the child.
struct Inherited {
    client: *mut zku_client,
    lock: *mut zku_lock,
    cas: *mut zku_cas,
    reader: *mut zku_reader,
    registration: *mut zku_registration,
    /// Plain data, not tied to a session: usable in the child.
    config: *mut zkutil::ffi::config::zku_config,
}

/// The child of `fork_after_use`: inherited handles refuse and free
/// quietly; a new client works.
fn child_after_use(inherited: &Inherited, lock_name: &str, node: &str) -> Result<(), i32> {
    let node = cs(node);
    let freed_before = USER_DATA_FREED.load(Ordering::SeqCst);
    // SAFETY: the handles are live copies of the parent's (the child's
    // memory is a copy); pointers to live locals.
    unsafe {
        check(zku_client_state(inherited.client) == ZKU_STATE_CLOSED, 10)?;
        check(zku_client_session_id(inherited.client) == 0, 11)?;
        let mut exists = false;
        check(
            forked(raw_call(|e| {
                zku_client_exists(inherited.client, node.as_ptr(), 1000, None, &mut exists, null_mut(), e)
            })),
            12,
        )?;
        check(forked(raw_call(|e| zku_lock_acquire(inherited.lock, 1000, None, null_mut(), e))), 13)?;
        check(!zku_lock_is_locked(inherited.lock), 14)?;
        check(forked(raw_call(|e| zku_lock_release(inherited.lock, 1000, None, e))), 15)?;
        check(zku_lock_fd_drain(inherited.lock) == ZKU_EFORKED, 16)?;
        check(forked(raw_call(|e| zku_cas_commit(inherited.cas, b"{}".as_ptr(), 2, 1000, None, null_mut(), e))), 17)?;
        let mut json = null_mut();
        check(forked(raw_call(|e| zku_reader_get(inherited.reader, &mut json, null_mut(), e))), 18)?;
        check(forked(raw_call(|e| zku_registration_set_data(inherited.registration, null(), 0, 1000, None, e))), 21)?;
        check(forked(raw_call(|e| zku_registration_close(inherited.registration, 1000, None, e))), 22)?;
        check(zku_registration_fd_drain(inherited.registration) == ZKU_EFORKED, 23)?;
        check(zku_registration_get_state(inherited.registration) == ZKU_REGISTRATION_ABSENT, 24)?;
        // A new client cannot be built on the parent's session either.
        check(new_lock(inherited.client, "other").is_err_and(forked), 19)?;
        // Freeing releases nothing, sends nothing, returns at once.
        zku_reader_free(inherited.reader);
        zku_registration_free(inherited.registration);
        zku_cas_free(inherited.cas);
        zku_lock_free(inherited.lock);
        zku_client_free(inherited.client);
        check(USER_DATA_FREED.load(Ordering::SeqCst) == freed_before, 20)?;

        let mut client = null_mut();
        check(raw_call(|e| zku_client_new(inherited.config, None, &mut client, e)).0 == ZKU_OK, 30)?;
        let mine = new_lock(client, &format!("{lock_name}-child")).map_err(|_| 31)?;
        check(raw_call(|e| zku_lock_acquire(mine, 5000, None, null_mut(), e)).0 == ZKU_OK, 32)?;
        // The parent's lock is still the parent's.
        let theirs = new_lock(client, lock_name).map_err(|_| 33)?;
        let mut locked = true;
        let got =
            raw_call(|e| zku_lock_try_acquire(theirs, 0, None, &mut locked, null_mut(), null_mut(), null_mut(), e));
        check(got.0 == ZKU_OK && !locked, 34)?;
        check(raw_call(|e| zku_lock_release(mine, 5000, None, e)).0 == ZKU_OK, 35)?;
        zku_lock_free(theirs);
        zku_lock_free(mine);
        zku_client_free(client);
    }
    Ok(())
}

/// The `cons` line of the connection of session `sid`, if connected.
fn connection_of(port: u16, sid: i64) -> Option<String> {
    let needle = format!("sid=0x{sid:x}");
    four_letter(port, "cons")?.lines().find(|l| l.contains(&needle)).map(str::to_string)
}

/// The paths session `sid` watches, from `wchc`.
fn watches_of(port: u16, sid: i64) -> Vec<String> {
    let reply = four_letter(port, "wchc").unwrap_or_default();
    let mut lines = reply.lines().skip_while(|l| *l != format!("0x{sid:x}")).skip(1);
    std::iter::from_fn(|| lines.next().filter(|l| l.starts_with('\t')).map(|l| l.trim().to_string())).collect()
}

#[test]
fn fork_after_use_child_works_and_inherited_handles_refuse() {
    let _one = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = shared_server();
    let hosts = server.connect_string();
    let base = unique_path("fork");
    let client = CClient::connect(&hosts, 10_000);
    let (node, lock_name) = (format!("{base}/value"), &base[1..]);
    let node_c = cs(&node);
    let mut parent_lock = null_mut();
    let mut cas = null_mut();
    let mut reader = null_mut();
    let mut registration = null_mut();
    let registered = format!("{base}/member");
    let mut token = 0;
    // SAFETY: live client, valid pointers to live locals.
    unsafe {
        let created = |e| {
            zku_client_create(
                client.ptr(),
                node_c.as_ptr(),
                b"{}".as_ptr(),
                2,
                ZKU_CREATE_PARENTS,
                0,
                null(),
                5000,
                None,
                null_mut(),
                null_mut(),
                e,
            )
        };
        ok("create", call(created));
        let name = cs(lock_name);
        ok(
            "lock_new",
            call(|e| {
                zku_lock_new(client.ptr(), name.as_ptr(), null(), 0, ZKU_LOCK_DEFAULT_TIMEOUT, &mut parent_lock, e)
            }),
        );
        ok("acquire", call(|e| zku_lock_acquire(parent_lock, 5000, None, &mut token, e)));
        let callback =
            |e| zku_lock_set_state_callback(parent_lock, Some(ignore_lock_state), null_mut(), Some(count_free), e);
        ok("lock callback", call(callback));
        ok(
            "cas_begin",
            call(|e| zku_cas_begin(client.ptr(), node_c.as_ptr(), ZKU_CAS_JSON, null(), 0, 5000, None, &mut cas, e)),
        );
        let reader_new =
            |e| zku_reader_new(client.ptr(), node_c.as_ptr(), None, null_mut(), None, 5000, None, &mut reader, e);
        ok("reader_new", call(reader_new));
        let registered_c = cs(&registered);
        let registration_new = |e| {
            zku_registration_new(client.ptr(), registered_c.as_ptr(), null(), 0, 0, 0, 5000, None, &mut registration, e)
        };
        ok("registration_new", call(registration_new));
    }
    // SAFETY: live client.
    let sid = unsafe { zku_client_session_id(client.ptr()) };
    assert!(connection_of(server.port(), sid).is_some(), "the parent's connection is listed by cons");
    let lock_path = {
        // SAFETY: live lock; the path lives as long as the lock.
        unsafe { CStr::from_ptr(zku_lock_path(parent_lock)) }.to_str().unwrap().to_string()
    };

    // The lock watches its node while held (after its watch delay).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watches_of(server.port(), sid).contains(&lock_path) {
        assert!(Instant::now() < deadline, "the parent's lock watches its node: {:?}", watches_of(server.port(), sid));
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut config = null_mut();
    let hosts_c = cs(&hosts);
    // SAFETY: valid pointers to live locals.
    unsafe {
        ok("config_new", call(|e| zkutil::ffi::config::zku_config_new(&mut config, e)));
        ok("set_hosts", call(|e| zkutil::ffi::config::zku_config_set_hosts(config, hosts_c.as_ptr(), e)));
    }
    let inherited = Inherited { client: client.0, lock: parent_lock, cas, reader, registration, config };
    let pid = fork_child(|| match child_after_use(&inherited, lock_name, &node) {
        Ok(()) => 0,
        Err(code) => code,
    });
    assert_eq!(wait_child(pid), 0, "child check failed (exit code = check number in child_after_use)");

    // The parent is unaffected: same session, still connected, lock held
    // with the same token and its node owned by the session.
    // SAFETY: live handles, valid pointers.
    unsafe {
        assert_eq!(zku_client_session_id(client.ptr()), sid);
        assert_eq!(zku_client_state(client.ptr()), ZKU_STATE_CONNECTED);
        assert_eq!(zku_lock_get_state(parent_lock), ZKU_LOCK_HELD);
        let mut now = 0;
        ok("token", call(|e| zku_lock_token(parent_lock, &mut now, e)));
        assert_eq!(now, token);
        let (path_c, mut exists, mut stat) = (cs(&lock_path), false, zku_stat::default());
        ok("exists", call(|e| zku_client_exists(client.ptr(), path_c.as_ptr(), 5000, None, &mut exists, &mut stat, e)));
        assert!(exists, "the parent's lock node is still there");
        assert_eq!(stat.ephemeral_owner, sid, "and still owned by the parent's session");
        assert_eq!(stat.czxid, token);
        let mut json = null_mut();
        ok("reader_get", call(|e| zku_reader_get(reader, &mut json, null_mut(), e)));
        zkutil::ffi::buf::zku_string_free(json);
        assert_eq!(zku_registration_get_state(registration), ZKU_REGISTRATION_PRESENT);
        let registered_c = cs(&registered);
        ok(
            "exists",
            call(|e| zku_client_exists(client.ptr(), registered_c.as_ptr(), 5000, None, &mut exists, &mut stat, e)),
        );
        assert!(exists && stat.ephemeral_owner == sid, "the parent's registration node is still there");
    }
    let line = connection_of(server.port(), sid).expect("the parent's connection is still listed by cons");
    assert!(!line.contains("lop=CLOS"), "no CloseSession on the parent's connection: {line}");
    assert!(watches_of(server.port(), sid).contains(&lock_path), "the parent's session keeps its watch");
    // SAFETY: live handles, freed once.
    unsafe {
        ok("release", call(|e| zku_lock_release(parent_lock, 5000, None, e)));
        zku_lock_free(parent_lock);
        zku_reader_free(reader);
        zku_registration_free(registration);
        zku_cas_free(cas);
        zkutil::ffi::config::zku_config_free(config);
    }
    assert_eq!(USER_DATA_FREED.load(Ordering::SeqCst), 1, "user_data_free ran once, in the parent");
}

/// The child of `an_operation_of_the_parent_fails_cleanly_in_the_child`:
/// the parent's operation and descriptors refuse, its op_free does
/// nothing; the child's own operation works.
fn child_with_parent_op(
    client: *mut zku_client,
    op: *mut zku_op,
    reader: *mut zku_reader,
    hosts: &str,
) -> Result<(), i32> {
    // SAFETY: live copies of the parent's handles; pointers to live locals.
    unsafe {
        let mut fd = 0;
        check(forked(raw_call(|e| zku_op_fd(op, &mut fd, e))), 50)?;
        check(fd == -1, 51)?;
        check(forked(raw_call(|e| zku_op_result(op, null_mut(), null_mut(), null_mut(), e))), 52)?;
        zku_op_cancel(op);
        zku_op_free(op);
        check(forked(raw_call(|e| zku_client_fd(client, &mut fd, e))), 53)?;
        check(zku_client_fd_drain(client) == ZKU_EFORKED, 54)?;
        check(forked(raw_call(|e| zku_reader_fd(reader, &mut fd, e))), 55)?;
        check(zku_reader_fd_drain(reader) == ZKU_EFORKED, 56)?;
        check(forked(raw_call(|e| zku_wait_absent_start(client, c"/x".as_ptr(), 0, &mut null_mut(), e))), 57)?;

        let mine = connect(hosts).map_err(|_| 60)?;
        let mut own = null_mut();
        let missing = c"/zkutil-fork-no-such-node";
        check(raw_call(|e| zku_wait_absent_start(mine, missing.as_ptr(), 5000, &mut own, e)).0 == ZKU_OK, 61)?;
        check(raw_call(|e| zku_op_fd(own, &mut fd, e)).0 == ZKU_OK, 62)?;
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        check(libc::poll(&mut p, 1, 10_000) == 1, 63)?;
        check(raw_call(|e| zku_op_result(own, null_mut(), null_mut(), null_mut(), e)).0 == ZKU_OK, 64)?;
        zku_op_free(own);
        zku_client_free(mine);
    }
    Ok(())
}

#[test]
fn an_operation_of_the_parent_fails_cleanly_in_the_child() {
    let _one = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let hosts = shared_server().connect_string();
    let client = CClient::connect(&hosts, 10_000);
    let path = unique_path("fork-op");
    let node = cs(&path);
    let timeout = zkutil::Timeout::After(Duration::from_secs(5));
    capi::core_client(&hosts, 10_000).create(&path, b"{}", &zkutil::CreateOptions::persistent(), timeout).unwrap();
    let (mut op, mut reader, mut fd) = (null_mut(), null_mut(), -1);
    // SAFETY: live client, valid pointers to live locals.
    unsafe {
        ok("wait_absent_start", call(|e| zku_wait_absent_start(client.ptr(), node.as_ptr(), -1, &mut op, e)));
        let reader_new =
            |e| zku_reader_new(client.ptr(), node.as_ptr(), None, null_mut(), None, 5000, None, &mut reader, e);
        ok("reader_new", call(reader_new));
        ok("reader_fd", call(|e| zku_reader_fd(reader, &mut fd, e)));
        ok("client_fd", call(|e| zku_client_fd(client.ptr(), &mut fd, e)));
    }
    let (client_ptr, hosts_child) = (client.0, hosts.clone());
    let pid = fork_child(|| match child_with_parent_op(client_ptr, op, reader, &hosts_child) {
        Ok(()) => 0,
        Err(code) => code,
    });
    assert_eq!(wait_child(pid), 0, "child check failed (exit code = check number in child_with_parent_op)");

    // The parent's operation was left alone: still waiting, then done.
    // SAFETY: live handles, valid pointers; each freed once.
    unsafe {
        expect_in_progress(op);
        ok("delete", call(|e| zku_client_delete(client.ptr(), node.as_ptr(), -1, 5000, None, e)));
        ok("op_fd", call(|e| zku_op_fd(op, &mut fd, e)));
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        assert_eq!(libc::poll(&mut p, 1, 10_000), 1, "the parent's wait ended");
        ok("result", call(|e| zku_op_result(op, null_mut(), null_mut(), null_mut(), e)));
        zku_op_free(op);
        zku_reader_free(reader);
    }
}

/// # Safety
/// `op` is live.
unsafe fn expect_in_progress(op: *const zku_op) {
    // SAFETY: forwarded from the caller.
    let got = call(|e| unsafe { zku_op_result(op, null_mut(), null_mut(), null_mut(), e) });
    assert_eq!(got.0, ZKU_EINPROGRESS, "{}", got.1);
}

static FIFO_USER_DATA_FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_fifo_free(_: *mut c_void) {
    FIFO_USER_DATA_FREED.fetch_add(1, Ordering::SeqCst);
}

fn new_fifo(client: *const zku_client, name: &str) -> Result<*mut zku_fifo, (zku_rc, String)> {
    let name = cs(name);
    let mut fifo = null_mut();
    // SAFETY: live client, valid pointers.
    let got = raw_call(|e| unsafe { zku_fifo_new(client, name.as_ptr(), null(), -2, &mut fifo, e) });
    if got.0 == ZKU_OK { Ok(fifo) } else { Err(got) }
}

/// The parent's `zku_fifo` handles, inherited by the child.
struct InheritedFifos {
    client: *mut zku_client,
    /// Held, with a state callback.
    held: *mut zku_fifo,
    /// The write side of a read-write lock (not held).
    write: *mut zku_fifo,
    config: *mut zkutil::ffi::config::zku_config,
}

/// The child of `fork_with_fifo_handles`: every call on an inherited fifo
/// refuses with ZKU_EFORKED (the getters answer as for NULL), free sends
/// nothing, a new client works and sees the parent's hold.
fn child_with_fifos(inherited: &InheritedFifos, name: &str) -> Result<(), i32> {
    let freed_before = FIFO_USER_DATA_FREED.load(Ordering::SeqCst);
    let held = inherited.held;
    // SAFETY: the handles are live copies of the parent's; pointers to live locals.
    unsafe {
        check(forked(raw_call(|e| zku_fifo_acquire(held, 1000, None, null_mut(), e))), 10)?;
        let mut locked = true;
        check(forked(raw_call(|e| zku_fifo_try_acquire(held, 1000, None, &mut locked, null_mut(), e))), 11)?;
        check(!locked, 12)?;
        check(forked(raw_call(|e| zku_fifo_release(held, 1000, None, e))), 13)?;
        let mut op = null_mut();
        check(forked(raw_call(|e| zku_fifo_acquire_start(held, 1000, &mut op, e))) && op.is_null(), 28)?;
        let mut names = null_mut();
        check(forked(raw_call(|e| zku_fifo_contenders(held, 1000, None, &mut names, null_mut(), e))), 14)?;
        check(names.is_null(), 15)?;
        let (path, data) = (cs("/x"), b"1");
        let guarded = |e| zku_fifo_guarded_set(held, path.as_ptr(), data.as_ptr(), 1, -1, 1000, None, null_mut(), e);
        check(forked(raw_call(guarded)), 16)?;
        check(forked(raw_call(|e| zku_fifo_guarded_delete(held, path.as_ptr(), -1, 1000, None, e))), 17)?;
        let mut token = 7;
        check(forked(raw_call(|e| zku_fifo_token(held, &mut token, e))) && token == 0, 18)?;
        let mut fd = 7;
        check(forked(raw_call(|e| zku_fifo_fd(held, &mut fd, e))) && fd == -1, 19)?;
        check(zku_fifo_fd_drain(held) == ZKU_EFORKED, 20)?;
        check(zku_fifo_get_state(held) == ZKU_LOCK_UNLOCKED, 21)?;
        check(zku_fifo_lost_reason(held).is_null() && zku_fifo_path(held).is_null(), 22)?;
        let callback = |e| zku_fifo_set_state_callback(held, None, null_mut(), None, e);
        check(forked(raw_call(callback)), 23)?;
        let mut read_of = null_mut();
        check(forked(raw_call(|e| zku_fifo_new_read_of(inherited.write, null(), -2, &mut read_of, e))), 24)?;
        check(read_of.is_null(), 25)?;
        check(new_fifo(inherited.client, "other").is_err_and(forked), 26)?;
        // Freeing releases nothing, sends nothing, runs no user_data_free.
        zku_fifo_free(held);
        zku_fifo_free(inherited.write);
        zku_client_free(inherited.client);
        check(FIFO_USER_DATA_FREED.load(Ordering::SeqCst) == freed_before, 27)?;

        let mut client = null_mut();
        check(raw_call(|e| zku_client_new(inherited.config, None, &mut client, e)).0 == ZKU_OK, 30)?;
        let theirs = new_fifo(client, name).map_err(|_| 31)?;
        let got = raw_call(|e| zku_fifo_try_acquire(theirs, 5000, None, &mut locked, null_mut(), e));
        check(got.0 == ZKU_OK && !locked, 32)?;
        check(raw_call(|e| zku_fifo_contenders(theirs, 5000, None, &mut names, null_mut(), e)).0 == ZKU_OK, 33)?;
        let count = zkutil::ffi::buf::zku_strings_len(names);
        zkutil::ffi::buf::zku_strings_free(names);
        check(count == 1, 34)?;
        let mine = new_fifo(client, &format!("{name}-child")).map_err(|_| 35)?;
        check(raw_call(|e| zku_fifo_acquire(mine, 5000, None, null_mut(), e)).0 == ZKU_OK, 36)?;
        check(raw_call(|e| zku_fifo_release(mine, 5000, None, e)).0 == ZKU_OK, 37)?;
        zku_fifo_free(mine);
        zku_fifo_free(theirs);
        zku_client_free(client);
    }
    Ok(())
}

#[test]
fn fork_with_fifo_handles_child_refuses_them_and_the_parent_keeps_its_hold() {
    let _one = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = shared_server();
    let hosts = server.connect_string();
    let name = unique_path("fork-fifo")[1..].to_string();
    let client = CClient::connect(&hosts, 10_000);
    let held = new_fifo(client.ptr(), &name).unwrap();
    let (rw_name, mut write, mut token) = (cs(&format!("{name}-rw")), null_mut(), 0);
    // SAFETY: live handles, valid pointers to live locals.
    unsafe {
        ok("write", call(|e| zku_fifo_new_write(client.ptr(), rw_name.as_ptr(), null(), -2, &mut write, e)));
        ok("acquire", call(|e| zku_fifo_acquire(held, 5000, None, &mut token, e)));
        let callback =
            |e| zku_fifo_set_state_callback(held, Some(ignore_lock_state), null_mut(), Some(count_fifo_free), e);
        ok("callback", call(callback));
    }
    // SAFETY: live client.
    let sid = unsafe { zku_client_session_id(client.ptr()) };
    let mut config = null_mut();
    let hosts_c = cs(&hosts);
    // SAFETY: valid pointers to live locals.
    unsafe {
        ok("config_new", call(|e| zkutil::ffi::config::zku_config_new(&mut config, e)));
        ok("set_hosts", call(|e| zkutil::ffi::config::zku_config_set_hosts(config, hosts_c.as_ptr(), e)));
    }
    let inherited = InheritedFifos { client: client.0, held, write, config };
    let pid = fork_child(|| child_with_fifos(&inherited, &name).err().unwrap_or(0));
    assert_eq!(wait_child(pid), 0, "child check failed (exit code = check number in child_with_fifos)");

    // SAFETY: live handles, valid pointers, freed once.
    unsafe {
        assert_eq!(zku_client_session_id(client.ptr()), sid);
        assert_eq!(zku_client_state(client.ptr()), ZKU_STATE_CONNECTED);
        assert_eq!(zku_fifo_get_state(held), ZKU_LOCK_HELD);
        let mut now = 0;
        ok("token", call(|e| zku_fifo_token(held, &mut now, e)));
        assert_eq!(now, token, "the same hold");
        let mut names = null_mut();
        ok("contenders", call(|e| zku_fifo_contenders(held, 5000, None, &mut names, null_mut(), e)));
        let node = CStr::from_ptr(zkutil::ffi::buf::zku_strings_get(names, 0)).to_str().unwrap().to_string();
        assert_eq!(zkutil::ffi::buf::zku_strings_len(names), 1, "only the parent's node: the child's are gone");
        zkutil::ffi::buf::zku_strings_free(names);
        let path = cs(&format!("{}/{node}", CStr::from_ptr(zku_fifo_path(held)).to_str().unwrap()));
        let (mut exists, mut stat) = (false, zku_stat::default());
        ok("exists", call(|e| zku_client_exists(client.ptr(), path.as_ptr(), 5000, None, &mut exists, &mut stat, e)));
        assert!(exists && stat.ephemeral_owner == sid && stat.czxid == token, "the parent's node, intact");
        ok("release", call(|e| zku_fifo_release(held, 5000, None, e)));
        zku_fifo_free(held);
        zku_fifo_free(write);
        zkutil::ffi::config::zku_config_free(config);
    }
    let line = connection_of(server.port(), sid).expect("the parent's connection is still listed by cons");
    assert!(!line.contains("lop=CLOS"), "no CloseSession on the parent's connection: {line}");
    assert_eq!(FIFO_USER_DATA_FREED.load(Ordering::SeqCst), 1, "user_data_free ran once, in the parent");
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

const CHILDREN: usize = 4;
const ROUNDS: usize = 5;

/// A child of `four_forked_children_take_one_lock_in_turn`: holds the lock
/// ROUNDS times and writes `token start end` lines to `out`.
fn child_takes_turns(hosts: &str, lock_name: &str, out: &str) -> Result<(), i32> {
    let client = connect(hosts).map_err(|_| 40)?;
    let lock = new_lock(client, lock_name).map_err(|_| 41)?;
    // SAFETY: live handles, valid pointers to live locals; each handle
    // freed once.
    unsafe {
        let mut lines = String::new();
        for _ in 0..ROUNDS {
            let mut token = 0;
            check(raw_call(|e| zku_lock_acquire(lock, 30_000, None, &mut token, e)).0 == ZKU_OK, 42)?;
            let start = now_ns();
            std::thread::sleep(Duration::from_millis(2));
            let end = now_ns();
            check(raw_call(|e| zku_lock_release(lock, 10_000, None, e)).0 == ZKU_OK, 43)?;
            lines.push_str(&format!("{token} {start} {end}\n"));
        }
        zku_lock_free(lock);
        zku_client_free(client);
        std::fs::write(out, lines).map_err(|_| 44)?;
    }
    Ok(())
}

#[test]
fn four_forked_children_take_one_lock_in_turn() {
    let _one = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let hosts = shared_server().connect_string();
    let lock_name = unique_path("fork-turns")[1..].to_string();
    // The parent uses the library before forking (the lock node's parent
    // is made here), and after.
    let parent = CClient::connect(&hosts, 10_000);
    let lock_dir = cs("/lock");
    // SAFETY: live client, valid pointers.
    unsafe {
        let created = |e| {
            zku_client_create(
                parent.ptr(),
                lock_dir.as_ptr(),
                null(),
                0,
                0,
                0,
                null(),
                5000,
                None,
                null_mut(),
                null_mut(),
                e,
            )
        };
        let rc = call(created).0;
        assert!(rc == ZKU_OK || rc == ZKU_ENODEEXISTS, "create /lock: {rc}");
    }
    let outputs: Vec<String> = (0..CHILDREN)
        .map(|i| std::env::temp_dir().join(format!("zkutil-fork-{}-{i}", std::process::id())).display().to_string())
        .collect();
    let pids: Vec<_> = outputs
        .iter()
        .map(|out| {
            fork_child(|| match child_takes_turns(&hosts, &lock_name, out) {
                Ok(()) => 0,
                Err(code) => code,
            })
        })
        .collect();
    for pid in pids {
        assert_eq!(wait_child(pid), 0, "child check failed (exit code = check number in child_takes_turns)");
    }
    let mut holds: Vec<(i64, u128, u128)> = Vec::new();
    for out in &outputs {
        let text = std::fs::read_to_string(out).unwrap();
        std::fs::remove_file(out).unwrap();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            holds.push((f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap()));
        }
    }
    assert_eq!(holds.len(), CHILDREN * ROUNDS, "every child reported every hold");
    holds.sort_by_key(|h| h.1);
    for w in holds.windows(2) {
        assert!(w[0].2 <= w[1].1, "overlapping holds: {:?} {:?}", w[0], w[1]);
        assert!(w[0].0 < w[1].0, "tokens increase in hold order: {:?} then {:?}", w[0], w[1]);
    }
    // SAFETY: live client.
    assert_eq!(unsafe { zku_client_state(parent.ptr()) }, ZKU_STATE_CONNECTED);
}

/// Host names are resolved on a thread pool (the `blocking` crate's, under
/// zookeeper-client): a child forked while the parent's pool threads were
/// alive must still resolve.
#[test]
fn child_resolves_host_names_right_after_the_parent_did() {
    let _one = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let hosts = format!("localhost:{}", shared_server().port());
    let parent = CClient::connect(&hosts, 10_000);
    let pid = fork_child(|| match connect(&hosts) {
        Ok(client) => {
            // SAFETY: the child's own client, freed once.
            unsafe { zku_client_free(client) };
            0
        }
        Err(_) => 50,
    });
    assert_eq!(wait_child(pid), 0, "the child connected by host name");
    // SAFETY: live client.
    assert_eq!(unsafe { zku_client_state(parent.ptr()) }, ZKU_STATE_CONNECTED);
}

const SIGPIPE_CHILD_ENV: &str = "ZKU_SIGPIPE_CHILD";
const CUT_ROUNDS: usize = 500;
const WRITERS: usize = 8;

/// The child of `library_writes_never_raise_sigpipe`, run only when
/// re-invoked with ZKU_SIGPIPE_CHILD set to "HOSTS PATH": a host process
/// with SIGPIPE at its default action (as a C daemon has it; Rust ignores
/// it) whose writes the server side cuts mid-way, CUT_ROUNDS times.
#[test]
fn sigpipe_child_body() {
    let Ok(spec) = std::env::var(SIGPIPE_CHILD_ENV) else { return };
    let (hosts, path) = spec.split_once(' ').unwrap();
    // SAFETY: restores the default action of SIGPIPE, before any thread of
    // the library exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let client = CClient::connect(hosts, 10_000);
    // Rounds of several writes at once, so that the connection still has
    // bytes to write when the reset arrives.
    let cut = AtomicUsize::new(0);
    let round = std::sync::Barrier::new(WRITERS);
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                let (path, big) = (cs(path), vec![b'x'; 900_000]);
                for _ in 0..CUT_ROUNDS {
                    round.wait();
                    // SAFETY: live client, valid pointers.
                    let set = |e| unsafe {
                        zku_client_set(
                            client.ptr(),
                            path.as_ptr(),
                            big.as_ptr(),
                            big.len(),
                            -1,
                            10_000,
                            None,
                            null_mut(),
                            e,
                        )
                    };
                    if call(set).0 != ZKU_OK {
                        cut.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let cut = cut.load(Ordering::SeqCst);
    println!("cut writes: {cut}");
}

#[test]
fn library_writes_never_raise_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let server = shared_server();
    let path = unique_path("sigpipe");
    let setup = capi::core_client(&server.connect_string(), 10_000);
    setup
        .create(&path, b"", &zkutil::CreateOptions::default(), zkutil::Timeout::After(Duration::from_secs(5)))
        .unwrap();
    let proxy = proxy::Proxy::start(&server.connect_string());
    proxy.cut_frames_over(Some(64 * 1024));
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigpipe_child_body", "--nocapture", "--test-threads=1"])
        .env(SIGPIPE_CHILD_ENV, format!("{} {path}", proxy.connect_string()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the SIGPIPE child hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.signal(), Some(libc::SIGPIPE), "the library raised SIGPIPE in its host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("cut writes: {}", CUT_ROUNDS * WRITERS)), "every write was cut: {stdout}");
    // At least one cut a round: each round's writes are sent once the
    // client is connected again.
    assert!(proxy.fired() >= CUT_ROUNDS, "the proxy cut {} connections", proxy.fired());
}
