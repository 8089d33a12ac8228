//! The lock through the C ABI: bad input gets specific codes (and changes
//! nothing on the server), outputs follow the conventions, and the
//! callbacks, the holder callback and the pollable descriptor work as
//! documented.

mod capi;
mod common;

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capi::{bad_utf8, call, cs, expect};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::buf::*;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::*;

struct Fixture {
    config: *mut zku_config,
    client: *mut zku_client,
    dir: String,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let hosts = cs(&shared_server().connect_string());
        let dir = unique_path(name);
        let lock_dir = cs(&format!("{dir}/"));
        let mut config = null_mut();
        let mut client = null_mut();
        // SAFETY: valid pointers to live locals.
        unsafe {
            assert_eq!(zku_config_new(&mut config, null_mut()), ZKU_OK);
            assert_eq!(zku_config_set_hosts(config, hosts.as_ptr(), null_mut()), ZKU_OK);
            assert_eq!(zku_config_set(config, ZKU_CONFIG_LOCK_DIR, lock_dir.as_ptr(), null_mut()), ZKU_OK);
            assert_eq!(zku_client_new(config, None, &mut client, null_mut()), ZKU_OK);
        }
        Fixture { config, client, dir }
    }

    fn lock(&self, name: &str, id: Option<&str>) -> *mut zku_lock {
        let name = cs(name);
        let id = id.map(cs);
        let mut lock = null_mut();
        // SAFETY: live client and strings.
        let rc = unsafe {
            zku_lock_new(
                self.client,
                name.as_ptr(),
                id.as_ref().map_or(null(), |s| s.as_ptr()),
                0,
                5000,
                &mut lock,
                null_mut(),
            )
        };
        assert_eq!(rc, ZKU_OK);
        lock
    }

    fn exists(&self, path: &str) -> bool {
        let path = cs(path);
        let mut exists = false;
        // SAFETY: live client.
        let rc =
            unsafe { zku_client_exists(self.client, path.as_ptr(), 5000, None, &mut exists, null_mut(), null_mut()) };
        assert_eq!(rc, ZKU_OK);
        exists
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: live handles, freed once.
        unsafe {
            zku_client_free(self.client);
            zku_config_free(self.config);
        }
    }
}

fn path_of(lock: *const zku_lock) -> String {
    // SAFETY: live lock; the path is valid until the lock is freed.
    unsafe { CStr::from_ptr(zku_lock_path(lock)).to_str().unwrap().to_string() }
}

#[test]
fn lock_functions_refuse_bad_input() {
    let f = Fixture::new("lock-bad");
    let c = f.client as *const zku_client;
    let name = cs("res");
    let mut lock: *mut zku_lock = null_mut();
    let mut token: i64 = 7;
    let mut locked = true;
    let mut released = true;
    let mut version: i32 = 7;
    let mut holder: *mut zku_buf = null_mut();
    let mut s: *mut c_char = null_mut();
    let mut fd: c_int = 0;

    // SAFETY (whole block): every pointer is NULL, a live local, or a
    // deliberately bad but valid C string; that is what is being tested.
    unsafe {
        let new = |client, n: *const c_char, id: *const c_char, flags, t, out, e| {
            zku_lock_new(client, n, id, flags, t, out, e)
        };
        expect(
            "new client NULL",
            call(|e| new(null(), name.as_ptr(), null(), 0, -2, &mut lock, e)),
            ZKU_ENULL,
            "client",
        );
        expect("new name NULL", call(|e| new(c, null(), null(), 0, -2, &mut lock, e)), ZKU_ENULL, "name");
        expect("new out NULL", call(|e| new(c, name.as_ptr(), null(), 0, -2, null_mut(), e)), ZKU_ENULL, "out");
        expect("new name utf8", call(|e| new(c, bad_utf8(), null(), 0, -2, &mut lock, e)), ZKU_EUTF8, "name");
        expect(
            "new id utf8",
            call(|e| new(c, name.as_ptr(), bad_utf8(), 0, -2, &mut lock, e)),
            ZKU_EUTF8,
            "identifier",
        );
        let empty = cs("");
        expect("new empty name", call(|e| new(c, empty.as_ptr(), null(), 0, -2, &mut lock, e)), ZKU_EPATH, "empty");
        let slashes = cs("a//b");
        expect(
            "new bad name",
            call(|e| new(c, slashes.as_ptr(), null(), 0, -2, &mut lock, e)),
            ZKU_EPATH,
            "empty component",
        );
        let trailing = cs("a/");
        expect("new trailing /", call(|e| new(c, trailing.as_ptr(), null(), 0, -2, &mut lock, e)), ZKU_EPATH, "end");
        expect(
            "new empty id",
            call(|e| new(c, name.as_ptr(), empty.as_ptr(), 0, -2, &mut lock, e)),
            ZKU_EINVAL,
            "identifier",
        );
        expect("new bad flags", call(|e| new(c, name.as_ptr(), null(), 0x10, -2, &mut lock, e)), ZKU_EINVAL, "flags");
        expect("new bad timeout", call(|e| new(c, name.as_ptr(), null(), 0, -3, &mut lock, e)), ZKU_EINVAL, "timeout");
        assert!(lock.is_null(), "no handle on failure");

        // A lock with its own client needs its loss notification.
        expect(
            "own client without on_state",
            call(|e| {
                zku_lock_new_with_config(
                    f.config,
                    name.as_ptr(),
                    null(),
                    0,
                    -2,
                    None,
                    null_mut(),
                    None,
                    None,
                    &mut lock,
                    e,
                )
            }),
            ZKU_EINVAL,
            "on_state",
        );
        assert!(lock.is_null());

        let l = f.lock("res", None);
        let lc = l as *const zku_lock;
        expect("acquire NULL", call(|e| zku_lock_acquire(null(), 0, None, &mut token, e)), ZKU_ENULL, "lock");
        assert_eq!(token, 0, "token zeroed on failure");
        expect("acquire bad timeout", call(|e| zku_lock_acquire(lc, -3, None, &mut token, e)), ZKU_EINVAL, "timeout");
        expect(
            "acquire_loop NULL",
            call(|e| zku_lock_acquire_loop(null(), 0, None, None, null_mut(), &mut token, e)),
            ZKU_ENULL,
            "lock",
        );
        expect(
            "acquire_loop bad timeout",
            call(|e| zku_lock_acquire_loop(lc, -9, None, None, null_mut(), &mut token, e)),
            ZKU_EINVAL,
            "timeout",
        );
        expect(
            "try_acquire NULL",
            call(|e| zku_lock_try_acquire(null(), 0, None, &mut locked, &mut holder, &mut version, &mut token, e)),
            ZKU_ENULL,
            "lock",
        );
        assert!(!locked && holder.is_null() && version == 0);
        expect(
            "try_acquire locked NULL",
            call(|e| zku_lock_try_acquire(lc, 0, None, null_mut(), null_mut(), null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "locked",
        );
        expect("release NULL", call(|e| zku_lock_release(null(), 0, None, e)), ZKU_ENULL, "lock");
        expect("release bad timeout", call(|e| zku_lock_release(lc, -4, None, e)), ZKU_EINVAL, "timeout");
        expect("set_watch_delay NULL", call(|e| zku_lock_set_watch_delay(null(), 0, e)), ZKU_ENULL, "lock");
        expect("set_watch_delay negative", call(|e| zku_lock_set_watch_delay(lc, -1, e)), ZKU_EINVAL, "delay_ms");
        assert_eq!(call(|e| zku_lock_set_watch_delay(lc, 0, e)).0, ZKU_OK);
        assert_eq!(
            ZKU_LOCK_DEFAULT_WATCH_DELAY_MS as u128,
            zkutil::lock::DEFAULT_WATCH_DELAY.as_millis(),
            "the header's default is the library's"
        );
        expect(
            "try_release NULL",
            call(|e| zku_lock_try_release(null(), 0, None, &mut released, &mut holder, &mut version, e)),
            ZKU_ENULL,
            "lock",
        );
        assert!(!released);
        expect(
            "try_release out NULL",
            call(|e| zku_lock_try_release(lc, 0, None, null_mut(), null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "released",
        );
        expect("token NULL", call(|e| zku_lock_token(null(), &mut token, e)), ZKU_ENULL, "lock");
        expect("token out NULL", call(|e| zku_lock_token(lc, null_mut(), e)), ZKU_ENULL, "token");
        expect("token unlocked", call(|e| zku_lock_token(lc, &mut token, e)), ZKU_ENOTLOCKED, "not held");

        let val = cs("{\"a\": 1}");
        expect(
            "set_val NULL",
            call(|e| zku_lock_set_val(null(), val.as_ptr(), -1, 0, None, &mut version, e)),
            ZKU_ENULL,
            "lock",
        );
        expect(
            "set_val val NULL",
            call(|e| zku_lock_set_val(lc, null(), -1, 0, None, &mut version, e)),
            ZKU_ENULL,
            "val_json",
        );
        expect(
            "set_val utf8",
            call(|e| zku_lock_set_val(lc, bad_utf8(), -1, 0, None, &mut version, e)),
            ZKU_EUTF8,
            "val_json",
        );
        let bad_json = cs("{'a': 1}");
        expect(
            "set_val bad json",
            call(|e| zku_lock_set_val(lc, bad_json.as_ptr(), -1, 0, None, &mut version, e)),
            ZKU_EJSON,
            "JSON",
        );
        expect(
            "set_val bad version",
            call(|e| zku_lock_set_val(lc, val.as_ptr(), -2, 0, None, &mut version, e)),
            ZKU_EINVAL,
            "version",
        );
        expect(
            "set_val not locked",
            call(|e| zku_lock_set_val(lc, val.as_ptr(), -1, 0, None, &mut version, e)),
            ZKU_ENOTLOCKED,
            "not held",
        );
        expect("get_val NULL", call(|e| zku_lock_get_val(null(), 0, None, &mut s, &mut version, e)), ZKU_ENULL, "lock");
        expect(
            "get_val out NULL",
            call(|e| zku_lock_get_val(lc, 0, None, null_mut(), &mut version, e)),
            ZKU_ENULL,
            "val_json",
        );
        expect(
            "get_val free lock",
            call(|e| zku_lock_get_val(lc, 1000, None, &mut s, &mut version, e)),
            ZKU_ENONODE,
            "not held",
        );
        assert!(s.is_null());
        expect(
            "holder NULL",
            call(|e| zku_lock_holder(null(), 0, None, &mut s, &mut holder, null_mut(), e)),
            ZKU_ENULL,
            "lock",
        );
        expect(
            "holder free lock",
            call(|e| zku_lock_holder(lc, 1000, None, &mut s, &mut holder, null_mut(), e)),
            ZKU_ENONODE,
            "free",
        );

        let target = cs(&format!("{}-target", f.dir));
        let relative = cs("relative");
        let data = b"x";
        let big = vec![0u8; ZKU_MAX_DATA_LEN + 1];
        let gset = |l, p: *const c_char, d: *const u8, n: usize, v, e| {
            zku_lock_guarded_set(l, p, d, n, v, 1000, None, null_mut(), e)
        };
        expect("guarded_set NULL", call(|e| gset(null(), target.as_ptr(), data.as_ptr(), 1, -1, e)), ZKU_ENULL, "lock");
        expect("guarded_set path NULL", call(|e| gset(lc, null(), data.as_ptr(), 1, -1, e)), ZKU_ENULL, "path");
        expect("guarded_set data NULL", call(|e| gset(lc, target.as_ptr(), null(), 3, -1, e)), ZKU_ENULL, "data");
        expect(
            "guarded_set relative",
            call(|e| gset(lc, relative.as_ptr(), data.as_ptr(), 1, -1, e)),
            ZKU_EPATH,
            "absolute",
        );
        expect(
            "guarded_set too big",
            call(|e| gset(lc, target.as_ptr(), big.as_ptr(), big.len(), -1, e)),
            ZKU_ETOOLARGE,
            "limit",
        );
        expect(
            "guarded_set bad version",
            call(|e| gset(lc, target.as_ptr(), data.as_ptr(), 1, -5, e)),
            ZKU_EINVAL,
            "version",
        );
        expect(
            "guarded_set not locked",
            call(|e| gset(lc, target.as_ptr(), data.as_ptr(), 1, -1, e)),
            ZKU_ENOTLOCKED,
            "not held",
        );
        let own = cs(&path_of(lc));
        expect(
            "guarded_set lock node",
            call(|e| gset(lc, own.as_ptr(), data.as_ptr(), 1, -1, e)),
            ZKU_EINVAL,
            "lock node",
        );
        expect(
            "guarded_delete NULL",
            call(|e| zku_lock_guarded_delete(null(), target.as_ptr(), -1, 1000, None, e)),
            ZKU_ENULL,
            "lock",
        );
        expect(
            "guarded_delete path NULL",
            call(|e| zku_lock_guarded_delete(lc, null(), -1, 1000, None, e)),
            ZKU_ENULL,
            "path",
        );
        expect(
            "guarded_delete utf8",
            call(|e| zku_lock_guarded_delete(lc, bad_utf8(), -1, 1000, None, e)),
            ZKU_EUTF8,
            "path",
        );
        expect(
            "guarded_delete not locked",
            call(|e| zku_lock_guarded_delete(lc, target.as_ptr(), -1, 1000, None, e)),
            ZKU_ENOTLOCKED,
            "not held",
        );

        expect(
            "set_state_callback NULL",
            call(|e| zku_lock_set_state_callback(null(), None, null_mut(), None, e)),
            ZKU_ENULL,
            "lock",
        );
        expect("fd NULL", call(|e| zku_lock_fd(null(), &mut fd, e)), ZKU_ENULL, "lock");
        assert_eq!(fd, -1, "fd out-parameter is -1 on failure");
        expect("fd out NULL", call(|e| zku_lock_fd(lc, null_mut(), e)), ZKU_ENULL, "fd");

        // NULL-tolerant getters.
        assert_eq!(zku_lock_fd_drain(null()), ZKU_ENULL);
        assert_eq!(zku_lock_get_state(null()), ZKU_LOCK_UNLOCKED);
        assert!(!zku_lock_is_locked(null()));
        assert!(zku_lock_identifier(null()).is_null());
        assert!(zku_lock_path(null()).is_null());
        assert!(zku_lock_lost_reason(null()).is_null());
        assert!(zku_lock_lost_reason(lc).is_null());
        zku_lock_cancel(null());
        zku_lock_free(null_mut());

        // Nothing was created on the server.
        assert!(!f.exists(&f.dir));
        zku_lock_free(l);
    }
}

#[test]
fn acquire_try_release_and_outputs_through_the_c_abi() {
    let f = Fixture::new("lock-c");
    let a = f.lock("res", None);
    let b = f.lock("res", Some("b-holder"));
    // SAFETY: live handles and locals; outputs freed below.
    unsafe {
        let id_a = CStr::from_ptr(zku_lock_identifier(a)).to_str().unwrap().to_string();
        assert_eq!(CStr::from_ptr(zku_lock_identifier(b)).to_str().unwrap(), "b-holder");
        assert_eq!(path_of(a), format!("{}/res", f.dir));

        let mut token = 0;
        assert_eq!(call(|e| zku_lock_acquire(a, ZKU_LOCK_DEFAULT_TIMEOUT, None, &mut token, e)).0, ZKU_OK);
        assert!(token > 0);
        assert!(zku_lock_is_locked(a));
        assert_eq!(zku_lock_get_state(a), ZKU_LOCK_HELD);
        let mut again = 0;
        assert_eq!(call(|e| zku_lock_token(a, &mut again, e)).0, ZKU_OK);
        assert_eq!(again, token);

        // b: one attempt fails with a timeout naming the holder.
        let got = call(|e| zku_lock_acquire(b, 0, None, null_mut(), e));
        expect("b acquire", got, ZKU_ETIMEOUT, &id_a);
        let (mut locked, mut holder, mut version, mut tok) = (true, null_mut(), -5, 9);
        assert_eq!(
            call(|e| zku_lock_try_acquire(b, 1000, None, &mut locked, &mut holder, &mut version, &mut tok, e)).0,
            ZKU_OK
        );
        assert!(!locked);
        assert_eq!((version, tok), (0, 0));
        let text = CStr::from_ptr(zku_buf_str(holder)).to_str().unwrap();
        assert_eq!(text, format!("{{\"id\": \"{id_a}\", \"val\": null}}"));
        zku_buf_free(holder);

        // The holder: id, data and stat.
        let (mut hid, mut hdata, mut stat) = (null_mut(), null_mut(), zku_stat::default());
        assert_eq!(call(|e| zku_lock_holder(b, 1000, None, &mut hid, &mut hdata, &mut stat, e)).0, ZKU_OK);
        assert_eq!(CStr::from_ptr(hid).to_str().unwrap(), id_a);
        assert_eq!(stat.czxid, token);
        zku_string_free(hid);
        zku_buf_free(hdata);

        // Value.
        let val = cs("[1,  \"two\"]");
        let mut nv = 0;
        assert_eq!(call(|e| zku_lock_set_val(a, val.as_ptr(), -1, 1000, None, &mut nv, e)).0, ZKU_OK);
        assert_eq!(nv, 1);
        let mut got_val = null_mut();
        assert_eq!(call(|e| zku_lock_get_val(b, 1000, None, &mut got_val, &mut version, e)).0, ZKU_OK);
        assert_eq!((CStr::from_ptr(got_val).to_str().unwrap(), version), ("[1, \"two\"]", 1));
        zku_string_free(got_val);
        expect(
            "stale version",
            call(|e| zku_lock_set_val(a, val.as_ptr(), 0, 1000, None, &mut nv, e)),
            ZKU_EBADVERSION,
            "",
        );

        // try_release by b: not ours.
        let (mut released, mut rholder, mut rversion) = (true, null_mut(), 0);
        assert_eq!(
            call(|e| zku_lock_try_release(b, 1000, None, &mut released, &mut rholder, &mut rversion, e)).0,
            ZKU_OK
        );
        assert!(!released);
        assert_eq!(rversion, 1);
        zku_buf_free(rholder);

        // Guarded writes.
        let target = cs(&format!("{}-target", f.dir));
        let data = b"fenced";
        let mut tstat = zku_stat::default();
        expect(
            "guarded set missing",
            call(|e| zku_lock_guarded_set(a, target.as_ptr(), data.as_ptr(), 6, -1, 1000, None, &mut tstat, e)),
            ZKU_ENONODE,
            "",
        );
        let rc = zku_client_create(
            f.client,
            target.as_ptr(),
            null(),
            0,
            0,
            0,
            null(),
            1000,
            None,
            null_mut(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(rc, ZKU_OK);
        assert_eq!(
            call(|e| zku_lock_guarded_set(a, target.as_ptr(), data.as_ptr(), 6, 0, 1000, None, &mut tstat, e)).0,
            ZKU_OK
        );
        assert_eq!(tstat.version, 1);
        assert_eq!(call(|e| zku_lock_guarded_delete(a, target.as_ptr(), 1, 1000, None, e)).0, ZKU_OK);

        assert_eq!(call(|e| zku_lock_release(a, 1000, None, e)).0, ZKU_OK);
        assert_eq!(zku_lock_get_state(a), ZKU_LOCK_UNLOCKED);
        expect("token after release", call(|e| zku_lock_token(a, &mut again, e)), ZKU_ENOTLOCKED, "");
        assert_eq!(call(|e| zku_lock_release(a, 1000, None, e)).0, ZKU_OK, "releasing an unlocked lock is silent");

        // try_release with no node: (true, our data, -1).
        assert_eq!(
            call(|e| zku_lock_try_release(b, 1000, None, &mut released, &mut rholder, &mut rversion, e)).0,
            ZKU_OK
        );
        assert!(released);
        assert_eq!(rversion, -1);
        assert_eq!(CStr::from_ptr(zku_buf_str(rholder)).to_str().unwrap(), "{\"id\": \"b-holder\", \"val\": null}");
        zku_buf_free(rholder);

        zku_lock_free(a);
        zku_lock_free(b);
        assert!(!f.exists(&format!("{}/res", f.dir)));
    }
}

#[derive(Default)]
struct Seen {
    states: Mutex<Vec<(i32, i32)>>,
    freed: AtomicUsize,
}

unsafe extern "C" fn on_state(user_data: *mut c_void, old: zku_lock_state, new: zku_lock_state) {
    // SAFETY: user_data is the Arc<Seen> pointer registered below.
    let seen = unsafe { &*(user_data as *const Seen) };
    seen.states.lock().unwrap().push((old, new));
}

unsafe extern "C" fn on_free(user_data: *mut c_void) {
    // SAFETY: as above; the Arc itself is dropped by the test.
    let seen = unsafe { &*(user_data as *const Seen) };
    seen.freed.fetch_add(1, Ordering::SeqCst);
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn state_callback_descriptor_and_own_client() {
    let f = Fixture::new("lock-cb");
    let seen = Arc::new(Seen::default());
    let ud = Arc::as_ptr(&seen) as *mut c_void;
    let name = cs("res");
    // SAFETY: live handles; `seen` outlives the lock.
    unsafe {
        // A failed registration keeps user_data: no destructor call.
        let mut lock = null_mut();
        let bad_hosts = cs("127.0.0.1:1");
        let mut cfg = null_mut();
        assert_eq!(zku_config_new(&mut cfg, null_mut()), ZKU_OK);
        assert_eq!(zku_config_set_hosts(cfg, bad_hosts.as_ptr(), null_mut()), ZKU_OK);
        assert_eq!(zku_config_set_connect_timeout_ms(cfg, 300, null_mut()), ZKU_OK);
        let rc = call(|e| {
            zku_lock_new_with_config(
                cfg,
                name.as_ptr(),
                null(),
                0,
                -2,
                Some(on_state),
                ud,
                Some(on_free),
                None,
                &mut lock,
                e,
            )
        });
        expect("no server", rc, ZKU_ECONNECTIONLOSS, "");
        zku_config_free(cfg);
        assert!(lock.is_null());
        assert_eq!(seen.freed.load(Ordering::SeqCst), 0, "the caller keeps user_data on failure");

        let rc = call(|e| {
            zku_lock_new_with_config(
                f.config,
                name.as_ptr(),
                null(),
                0,
                -2,
                Some(on_state),
                ud,
                Some(on_free),
                None,
                &mut lock,
                e,
            )
        });
        assert_eq!(rc.0, ZKU_OK, "{}", rc.1);
        let mut fd = -1;
        assert_eq!(call(|e| zku_lock_fd(lock, &mut fd, e)).0, ZKU_OK);
        let readable = |ms: i32| {
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            libc::poll(&mut p, 1, ms) == 1
        };
        assert!(readable(0));
        assert_eq!(zku_lock_fd_drain(lock), ZKU_LOCK_UNLOCKED);
        assert!(!readable(0));

        assert_eq!(call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)).0, ZKU_OK);
        assert!(readable(5000));
        assert_eq!(zku_lock_fd_drain(lock), ZKU_LOCK_HELD);
        // Someone deletes our node: LOST, with a reason.
        let p = cs(&path_of(lock));
        assert_eq!(zku_client_delete(f.client, p.as_ptr(), -1, 5000, None, null_mut()), ZKU_OK);
        assert!(readable(10_000));
        assert_eq!(zku_lock_fd_drain(lock), ZKU_LOCK_LOST);
        let reason = zku_lock_lost_reason(lock);
        assert!(CStr::from_ptr(reason).to_str().unwrap().contains("deleted"));
        zku_string_free(reason);
        expect("release after lost", call(|e| zku_lock_release(lock, 1000, None, e)), ZKU_ELOCKLOST, "lost");
        assert_eq!(zku_lock_get_state(lock), ZKU_LOCK_UNLOCKED);
        wait_until("callbacks", || seen.states.lock().unwrap().len() == 3);
        assert_eq!(
            *seen.states.lock().unwrap(),
            vec![
                (ZKU_LOCK_UNLOCKED, ZKU_LOCK_HELD),
                (ZKU_LOCK_HELD, ZKU_LOCK_LOST),
                (ZKU_LOCK_LOST, ZKU_LOCK_UNLOCKED)
            ]
        );
        // Replacing the callback runs the old destructor once.
        assert_eq!(call(|e| zku_lock_set_state_callback(lock, None, null_mut(), None, e)).0, ZKU_OK);
        assert_eq!(seen.freed.load(Ordering::SeqCst), 1);
        assert_eq!(call(|e| zku_lock_set_state_callback(lock, Some(on_state), ud, Some(on_free), e)).0, ZKU_OK);
        assert_eq!(call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)).0, ZKU_OK);
        // Freeing releases (the node goes) and runs the destructor.
        zku_lock_free(lock);
        assert_eq!(seen.freed.load(Ordering::SeqCst), 2);
        assert!(!f.exists(&path_of_str(&p)));
        assert_eq!(seen.states.lock().unwrap().last(), Some(&(ZKU_LOCK_HELD, ZKU_LOCK_UNLOCKED)));
    }
}

fn path_of_str(p: &CString) -> String {
    p.to_str().unwrap().to_string()
}

struct Reports {
    versions: Vec<i32>,
    ids: Vec<String>,
    stop_after: usize,
}

unsafe extern "C" fn on_holder(user_data: *mut c_void, holder: *const c_char, len: usize, version: i32) -> c_int {
    // SAFETY: user_data is the &mut Reports passed by the test, used on
    // this thread during the call; holder is NUL-terminated after len.
    let r = unsafe { &mut *(user_data as *mut Reports) };
    let text = unsafe { CStr::from_ptr(holder) }.to_str().unwrap();
    assert_eq!(text.len(), len);
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    r.ids.push(v["id"].as_str().unwrap().to_string());
    r.versions.push(version);
    (r.versions.len() >= r.stop_after) as c_int
}

#[test]
fn acquire_loop_callback_and_cancel_through_the_c_abi() {
    let f = Fixture::new("lock-loop");
    let a = f.lock("res", Some("holder-a"));
    let b = f.lock("res", Some("waiter-b"));
    // SAFETY: live handles; `reports` lives across the blocking call.
    unsafe {
        assert_eq!(call(|e| zku_lock_acquire(a, 5000, None, null_mut(), e)).0, ZKU_OK);
        let mut reports = Reports { versions: vec![], ids: vec![], stop_after: 1 };
        let rp = &mut reports as *mut Reports as *mut c_void;
        let got = call(|e| zku_lock_acquire_loop(b, -1, None, Some(on_holder), rp, null_mut(), e));
        expect("stopped by callback", got, ZKU_EABORTED, "callback");
        assert_eq!((reports.ids.as_slice(), reports.versions.as_slice()), (&["holder-a".to_string()][..], &[0][..]));

        // Cancel from another thread.
        let b_addr = b as usize;
        let t = std::thread::spawn(move || {
            let b = b_addr as *const zku_lock;
            call(|e| zku_lock_acquire(b, -1, None, null_mut(), e))
        });
        std::thread::sleep(Duration::from_millis(200));
        zku_lock_cancel(b);
        expect("cancelled", t.join().unwrap(), ZKU_ECANCELLED, "cancelled");
        assert_eq!(zku_lock_get_state(b), ZKU_LOCK_UNLOCKED);
        zku_lock_free(a);
        let mut token = 0;
        assert_eq!(call(|e| zku_lock_acquire(b, 5000, None, &mut token, e)).0, ZKU_OK);
        assert!(token > 0);
        zku_lock_free(b);
    }
}
