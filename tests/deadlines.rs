//! Timeouts are promises: every blocking C function, given 300 ms against a
//! stalled server (its JVM stopped with SIGSTOP), returns an error within
//! 300 + 100 ms. This loaded 2-core machine gets MARGIN more; the measured
//! times are printed. Also with the server stalled before the client
//! connects (the connect timeout of `zku_client_new` and friends).

mod capi;
mod common;
mod proxy;

use std::ffi::{c_char, c_void};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use capi::{CClient, call, cs, ok};
use common::zk::{ZkServer, shared_server, unique_path};
use proxy::Proxy;
use zkutil::ffi::cas::*;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::hierarchy::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::*;
use zkutil::ffi::reader::*;
use zkutil::ffi::wait::*;
use zkutil::ffi::zku_rc;
use zkutil::{CreateOptions, Timeout};

const TIMEOUT_MS: i32 = 300;
/// The promise: the timeout plus 100 ms.
const PROMISE: Duration = Duration::from_millis(TIMEOUT_MS as u64 + 100);
/// Extra allowance for scheduling noise on the loaded test machine.
const MARGIN: Duration = Duration::from_millis(150);

/// Stops the server's JVM until dropped.
struct Stalled(i32);

impl Stalled {
    fn new(server: &ZkServer) -> Stalled {
        let pid = server.jvm_pid().expect("the server runs") as i32;
        // SAFETY: kill(2) on the test's own server process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        // Let every thread of the JVM stop before the first request.
        std::thread::sleep(Duration::from_millis(100));
        Stalled(pid)
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// The calls made and how long each took.
#[derive(Default)]
struct Timings(Vec<(&'static str, zku_rc, String, Duration)>);

impl Timings {
    fn time(&mut self, name: &'static str, f: impl FnOnce(*mut *mut zkutil::ffi::error::zku_error) -> zku_rc) {
        let start = Instant::now();
        let (rc, message) = call(f);
        self.0.push((name, rc, message, start.elapsed()));
    }

    /// Prints every timing, then asserts each call failed within the bound.
    fn check(&self) {
        for (name, rc, message, took) in &self.0 {
            eprintln!("deadline {name}: {} ms, rc {rc} ({message})", took.as_millis());
        }
        for (name, rc, message, took) in &self.0 {
            assert_ne!(*rc, ZKU_OK, "{name} succeeded against a stalled server");
            assert!(*took < PROMISE + MARGIN, "{name} took {} ms ({message})", took.as_millis());
        }
    }
}

unsafe extern "C" fn write_one(
    _: *mut c_void,
    _: *const u8,
    _: usize,
    _: *const zku_stat,
    next: *mut zku_cas_next,
) -> i32 {
    // SAFETY: `next` is the library's, valid during the callback.
    unsafe { zku_cas_next_set(next, b"1".as_ptr(), 1, null_mut()) };
    ZKU_CAS_WRITE
}

unsafe extern "C" fn keep_waiting(_: *mut c_void, _: *const c_char, _: usize, _: i32) -> i32 {
    0
}

fn config(hosts: &str, connect_ms: i64) -> *mut zku_config {
    let hosts = cs(hosts);
    let mut config = null_mut();
    // SAFETY: valid pointers to live locals.
    unsafe {
        ok("config_new", call(|e| zku_config_new(&mut config, e)));
        ok("set_hosts", call(|e| zku_config_set_hosts(config, hosts.as_ptr(), e)));
        ok("connect timeout", call(|e| zku_config_set_connect_timeout_ms(config, connect_ms, e)));
        ok("session timeout", call(|e| zku_config_set_session_timeout_ms(config, 30_000, e)));
    }
    config
}

#[test]
fn every_blocking_call_keeps_its_timeout_against_a_stalled_server() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let cl = c.ptr();
    let dir = unique_path("deadlines");
    let node = cs(&format!("{dir}/node"));
    let absent = cs(&format!("{dir}/absent"));
    let dir_c = cs(&dir);
    let (data, json) = (b"{\"a\":1}", cs("{\"a\":2}"));
    let t = TIMEOUT_MS;
    // SAFETY: every pointer below is a live local or a live handle; handles
    // are freed once at the end.
    unsafe {
        let create = |path: &std::ffi::CString, flags| {
            call(|e| {
                zku_client_create(
                    cl,
                    path.as_ptr(),
                    data.as_ptr(),
                    data.len(),
                    flags,
                    0,
                    null(),
                    10_000,
                    None,
                    null_mut(),
                    null_mut(),
                    e,
                )
            })
        };
        ok("create dir", create(&dir_c, 0));
        ok("create node", create(&node, 0));
        let held = cs("held");
        let mut lock = null_mut();
        ok("lock_new", call(|e| zku_lock_new(cl, held.as_ptr(), null(), 0, ZKU_LOCK_DEFAULT_TIMEOUT, &mut lock, e)));
        ok("acquire", call(|e| zku_lock_acquire(lock, 10_000, None, null_mut(), e)));
        let mut cas = null_mut();
        ok("cas_begin", call(|e| zku_cas_begin(cl, node.as_ptr(), 0, null(), 0, 10_000, None, &mut cas, e)));
        let mut reader = null_mut();
        ok(
            "reader_new",
            call(|e| zku_reader_new(cl, node.as_ptr(), None, null_mut(), None, 10_000, None, &mut reader, e)),
        );
        let users = cs("{}");
        let tree = cs("{\"x\": {\"__val__\": 1}}");
        let hosts = server.connect_string();

        let stalled = Stalled::new(&server);
        let mut timings = Timings::default();
        let tm = &mut timings;
        let (mut buf, mut text, mut strings, mut acls) = (null_mut(), null_mut(), null_mut(), null_mut());
        let mut b = false;
        tm.time("zku_client_get", |e| zku_client_get(cl, node.as_ptr(), t, None, &mut buf, null_mut(), e));
        let (mut into, mut into_len) = ([0u8; 16], 0usize);
        tm.time("zku_client_get_into", |e| {
            zku_client_get_into(
                cl,
                node.as_ptr(),
                t,
                None,
                into.as_mut_ptr(),
                into.len(),
                &mut into_len,
                null_mut(),
                null_mut(),
                e,
            )
        });
        tm.time("zku_client_get_json", |e| zku_client_get_json(cl, node.as_ptr(), t, None, &mut text, null_mut(), e));
        tm.time("zku_client_exists", |e| zku_client_exists(cl, node.as_ptr(), t, None, &mut b, null_mut(), e));
        tm.time("zku_client_children", |e| {
            zku_client_children(cl, dir_c.as_ptr(), t, None, &mut strings, null_mut(), e)
        });
        tm.time("zku_client_get_acl", |e| zku_client_get_acl(cl, node.as_ptr(), t, None, &mut acls, null_mut(), e));
        tm.time("zku_client_create", |e| {
            zku_client_create(cl, absent.as_ptr(), null(), 0, 0, 0, null(), t, None, null_mut(), null_mut(), e)
        });
        tm.time("zku_client_create_json", |e| {
            zku_client_create_json(cl, absent.as_ptr(), json.as_ptr(), 0, null(), t, None, null_mut(), null_mut(), e)
        });
        tm.time("zku_client_set", |e| {
            zku_client_set(cl, node.as_ptr(), data.as_ptr(), data.len(), -1, t, None, null_mut(), e)
        });
        tm.time("zku_client_set_json", |e| {
            zku_client_set_json(cl, node.as_ptr(), json.as_ptr(), -1, t, None, null_mut(), e)
        });
        tm.time("zku_client_set_acl", |e| {
            let mut list = null_mut();
            zkutil::ffi::acl::zku_acl_list_new(&mut list, null_mut());
            let (world, anyone) = (cs("world"), cs("anyone"));
            zkutil::ffi::acl::zku_acl_list_add(list, 31, world.as_ptr(), anyone.as_ptr(), null_mut());
            let rc = zku_client_set_acl(cl, node.as_ptr(), list, -1, t, None, null_mut(), e);
            zkutil::ffi::acl::zku_acl_list_free(list);
            rc
        });
        tm.time("zku_client_delete", |e| zku_client_delete(cl, absent.as_ptr(), -1, t, None, e));
        tm.time("zku_client_add_auth", |e| {
            let auth = b"user:password";
            zku_client_add_auth(cl, cs("digest").as_ptr(), auth.as_ptr(), auth.len(), t, None, e)
        });
        tm.time("zku_get_next", |e| zku_get_next(cl, node.as_ptr(), 100, 0, t, None, &mut buf, null_mut(), e));
        tm.time("zku_wait_absent", |e| zku_wait_absent(cl, node.as_ptr(), t, None, e));
        tm.time("zku_reader_new", |e| {
            let mut r = null_mut();
            zku_reader_new(cl, node.as_ptr(), None, null_mut(), None, t, None, &mut r, e)
        });
        tm.time("zku_reader_watch", |e| zku_reader_watch(reader, t, None, null_mut(), null_mut(), null_mut(), e));
        tm.time("zku_cas_begin", |e| {
            let mut h = null_mut();
            zku_cas_begin(cl, node.as_ptr(), 0, null(), 0, t, None, &mut h, e)
        });
        tm.time("zku_cas_commit", |e| zku_cas_commit(cas, b"2".as_ptr(), 1, t, None, null_mut(), e));
        tm.time("zku_cas_resolve", |e| zku_cas_resolve(cas, t, None, null_mut(), e));
        tm.time("zku_cas_commit_json", |e| zku_cas_commit_json(cas, json.as_ptr(), t, None, null_mut(), e));
        tm.time("zku_cas_reread", |e| zku_cas_reread(cas, t, None, e));
        tm.time("zku_cas_update", |e| {
            zku_cas_update(
                cl,
                node.as_ptr(),
                0,
                null(),
                0,
                Some(write_one),
                null_mut(),
                0,
                t,
                None,
                null_mut(),
                null_mut(),
                e,
            )
        });
        tm.time("zku_import_hierarchy", |e| {
            zku_import_hierarchy(cl, dir_c.as_ptr(), tree.as_ptr(), users.as_ptr(), 0, t, None, null_mut(), e)
        });
        tm.time("zku_export_hierarchy", |e| zku_export_hierarchy(cl, dir_c.as_ptr(), null(), 0, t, None, &mut text, e));
        tm.time("zku_lock_get_val", |e| zku_lock_get_val(lock, t, None, &mut text, null_mut(), e));
        tm.time("zku_lock_set_val", |e| zku_lock_set_val(lock, cs("1").as_ptr(), -1, t, None, null_mut(), e));
        tm.time("zku_lock_holder", |e| zku_lock_holder(lock, t, None, null_mut(), null_mut(), null_mut(), e));
        tm.time("zku_lock_guarded_set", |e| {
            zku_lock_guarded_set(lock, node.as_ptr(), data.as_ptr(), data.len(), -1, t, None, null_mut(), e)
        });
        tm.time("zku_lock_guarded_delete", |e| zku_lock_guarded_delete(lock, absent.as_ptr(), -1, t, None, e));
        tm.time("zku_lock_try_release", |e| zku_lock_try_release(lock, t, None, &mut b, null_mut(), null_mut(), e));
        tm.time("zku_lock_release", |e| zku_lock_release(lock, t, None, e));
        // Connected, then stalled: the 10 s connect timeout must not stretch it.
        let cfg = config(&hosts, 10_000);
        tm.time("zku_init_hierarchy", |e| {
            zku_init_hierarchy(cfg, dir_c.as_ptr(), tree.as_ptr(), users.as_ptr(), 0, t, None, null_mut(), e)
        });
        tm.time("zku_client_close", |e| zku_client_close(cl, t, None, e));

        // Frees: quick after the close (cas and reader never block).
        let start = Instant::now();
        zku_cas_free(cas);
        zku_reader_free(reader);
        let frees = start.elapsed();
        drop(stalled);
        timings.check();
        eprintln!("deadline zku_cas_free + zku_reader_free: {} ms", frees.as_millis());
        assert!(frees < MARGIN);
        zku_config_free(cfg);
        zku_lock_free(lock);
    }
}

#[test]
fn connecting_to_a_stalled_server_keeps_the_connect_timeout() {
    let server = ZkServer::start();
    let hosts = server.connect_string();
    let cfg = config(&hosts, TIMEOUT_MS as i64);
    let name = cs("l");
    let stalled = Stalled::new(&server);
    let mut timings = Timings::default();
    let mut client = null_mut();
    let mut lock = null_mut();
    unsafe extern "C" fn on_state(_: *mut c_void, _: i32, _: i32) {}
    // SAFETY: live config and out-parameters.
    unsafe {
        timings.time("zku_client_new", |e| zku_client_new(cfg, None, &mut client, e));
        timings.time("zku_lock_new_with_config", |e| {
            zku_lock_new_with_config(
                cfg,
                name.as_ptr(),
                null(),
                0,
                -1,
                Some(on_state),
                null_mut(),
                None,
                None,
                &mut lock,
                e,
            )
        });
        let root = cs("/");
        let tree = cs("{}");
        timings.time("zku_init_hierarchy", |e| {
            zku_init_hierarchy(cfg, root.as_ptr(), tree.as_ptr(), null(), 0, TIMEOUT_MS, None, null_mut(), e)
        });
        zku_config_free(cfg);
    }
    drop(stalled);
    timings.check();
}

/// The server's JVM, stopped by the CAS callback on its first call.
static STALL_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

unsafe extern "C" fn stall_then_write(
    user: *mut c_void,
    value: *const u8,
    len: usize,
    stat: *const zku_stat,
    next: *mut zku_cas_next,
) -> i32 {
    let pid = STALL_PID.swap(0, std::sync::atomic::Ordering::SeqCst);
    if pid != 0 {
        // SAFETY: kill(2) on the test's own server process.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: forwarded from the library.
    unsafe { write_one(user, value, len, stat, next) }
}

/// The composite case measured in the issue (1,829 ms for 300): the read
/// succeeds, the server stalls, the write is cut off; resolving it must not
/// run past the caller's deadline.
#[test]
fn cas_update_stalled_after_its_read_keeps_its_timeout() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let path = cs(&unique_path("deadline-cas"));
    let mut timings = Timings::default();
    // SAFETY: live client and locals.
    unsafe {
        ok(
            "create",
            call(|e| {
                zku_client_create(
                    c.ptr(),
                    path.as_ptr(),
                    b"0".as_ptr(),
                    1,
                    0,
                    0,
                    null(),
                    10_000,
                    None,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
        );
        STALL_PID.store(server.jvm_pid().unwrap() as i32, std::sync::atomic::Ordering::SeqCst);
        timings.time("zku_cas_update (stalled in its callback)", |e| {
            zku_cas_update(
                c.ptr(),
                path.as_ptr(),
                0,
                null(),
                0,
                Some(stall_then_write),
                null_mut(),
                0,
                TIMEOUT_MS,
                None,
                null_mut(),
                null_mut(),
                e,
            )
        });
    }
    let _resume = Stalled(server.jvm_pid().unwrap() as i32);
    timings.check();
    assert_eq!(timings.0[0].1, ZKU_EUNKNOWN, "the write was sent: its outcome is unknown");
}

fn set(c: &CClient, path: &std::ffi::CString, value: &[u8], timeout_ms: i32) -> (zku_rc, String) {
    // SAFETY: live client and locals.
    call(|e| unsafe {
        zku_client_set(c.ptr(), path.as_ptr(), value.as_ptr(), value.len(), -1, timeout_ms, None, null_mut(), e)
    })
}

fn wait_state(c: &CClient, want: zku_state) {
    let start = Instant::now();
    // SAFETY: live client.
    while unsafe { zku_client_state(c.ptr()) } != want {
        assert!(start.elapsed() < Duration::from_secs(20), "state {want} not reached");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// README: a write is handed to the connection only once the session is
/// connected; one that found no connection within its timeout is never
/// sent, not even after the reconnection.
#[test]
fn a_write_that_found_no_connection_is_never_sent_later() {
    let upstream = shared_server().connect_string();
    let proxy = Proxy::start(&upstream);
    let c = CClient::connect(&proxy.connect_string(), 30_000);
    let direct = capi::core_client(&upstream, 10_000);
    let t = Timeout::After(Duration::from_secs(10));
    let path = unique_path("deadline-unsent");
    direct.create(&path, b"before", &CreateOptions::persistent(), t).unwrap();
    proxy.set_refusing(true);
    wait_state(&c, ZKU_STATE_SUSPENDED);
    let p = cs(&path);
    let r = set(&c, &p, b"after", TIMEOUT_MS);
    capi::expect("write while disconnected", r, ZKU_ECONNECTIONLOSS, "not connected");
    proxy.set_refusing(false);
    wait_state(&c, ZKU_STATE_CONNECTED);
    // A later write on the same connection is answered after anything queued.
    let probe = cs(&unique_path("deadline-unsent-probe"));
    capi::expect("a later write", set(&c, &probe, b"", 10_000), ZKU_ENONODE, "");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(direct.get(&path, t).unwrap().0, b"before", "the unsent write was never sent");
}

/// README: a write handed to the connection that got no reply in time
/// (ZKU_ETIMEOUT here) may still be applied after the call returned.
#[test]
fn a_write_that_timed_out_may_still_be_applied_later() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let direct = capi::core_client(&server.connect_string(), 30_000);
    let t = Timeout::After(Duration::from_secs(10));
    let path = unique_path("deadline-late");
    direct.create(&path, b"before", &CreateOptions::persistent(), t).unwrap();
    let p = cs(&path);
    let stalled = Stalled::new(&server);
    let r = set(&c, &p, b"after", TIMEOUT_MS);
    capi::expect("write to a stalled server", r, ZKU_ETIMEOUT, "timed out");
    drop(stalled);
    let start = Instant::now();
    while direct.get(&path, t).unwrap().0 != b"after" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the timed-out write was not applied once the server resumed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The acquires, each on its own handle (an acquire given up with its
/// create in flight keeps its handle busy while it cleans up).
#[test]
fn lock_acquires_keep_their_timeout_against_a_stalled_server() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let cl = c.ptr();
    let name = cs(&unique_path("deadline-lock")[1..]);
    let mut locks = [null_mut(); 3];
    // SAFETY: live client, locals and handles (freed once at the end).
    unsafe {
        for lock in &mut locks {
            ok("lock_new", call(|e| zku_lock_new(cl, name.as_ptr(), null(), 0, ZKU_LOCK_DEFAULT_TIMEOUT, lock, e)));
        }
        let stalled = Stalled::new(&server);
        let mut timings = Timings::default();
        let mut locked = false;
        timings.time("zku_lock_acquire", |e| zku_lock_acquire(locks[0], TIMEOUT_MS, None, null_mut(), e));
        timings.time("zku_lock_acquire_loop", |e| {
            zku_lock_acquire_loop(locks[1], TIMEOUT_MS, None, Some(keep_waiting), null_mut(), null_mut(), e)
        });
        timings.time("zku_lock_try_acquire", |e| {
            zku_lock_try_acquire(locks[2], TIMEOUT_MS, None, &mut locked, null_mut(), null_mut(), null_mut(), e)
        });
        drop(stalled);
        timings.check();
        for lock in locks {
            zku_lock_free(lock);
        }
    }
}
