//! The registration node and the members listing through the C ABI: new,
//! state, path, set_data, the callback (ABSENT then PRESENT after a delete,
//! user_data_free once), the pollable descriptor, close and free deleting
//! the node, a sequential node's path, members with binary data, and bad
//! input (specific codes, nothing written).

mod capi;
mod common;

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use capi::*;
use common::zk::{shared_server, unique_path};
use zkutil::ffi::error::*;
use zkutil::ffi::members::*;
use zkutil::ffi::registration::*;
use zkutil::{CreateOptions, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

fn client() -> CClient {
    CClient::connect(&shared_server().connect_string(), 4000)
}

fn new_registration(c: &CClient, path: &str, data: &[u8], flags: u32) -> *mut zku_registration {
    let path = cs(path);
    let mut reg = null_mut();
    // SAFETY: live client, valid strings and out-parameter.
    ok(
        "new",
        call(|e| unsafe {
            zku_registration_new(c.ptr(), path.as_ptr(), data.as_ptr(), data.len(), flags, 0, 10_000, None, &mut reg, e)
        }),
    );
    reg
}

fn path_of(reg: *const zku_registration) -> String {
    let mut path = null_mut();
    // SAFETY: live handle, valid out-parameter.
    ok("path", call(|e| unsafe { zku_registration_path(reg, &mut path, e) }));
    take_string(path)
}

#[derive(Default)]
struct Seen {
    states: Mutex<Vec<(i32, i32)>>,
    freed: AtomicU32,
}

unsafe extern "C" fn on_state(user_data: *mut c_void, old: i32, new: i32) {
    // SAFETY: the &Seen given at registration, alive for the test.
    let seen = unsafe { &*(user_data as *const Seen) };
    seen.states.lock().unwrap().push((old, new));
}

unsafe extern "C" fn on_free(user_data: *mut c_void) {
    // SAFETY: as above.
    let seen = unsafe { &*(user_data as *const Seen) };
    seen.freed.fetch_add(1, Ordering::SeqCst);
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn readable(fd: i32, wait_ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, wait_ms) == 1 }
}

#[test]
fn lifecycle_callback_fd_and_free() {
    let c = client();
    let side = core_client(&shared_server().connect_string(), 4000);
    let path = unique_path("creg-life");
    let reg = new_registration(&c, &path, b"d1", 0);
    // SAFETY: live handle.
    assert_eq!(unsafe { zku_registration_get_state(reg) }, ZKU_REGISTRATION_PRESENT);
    assert_eq!(path_of(reg), path);
    // SAFETY: live handle; NULL reason while present.
    assert!(unsafe { zku_registration_absent_reason(reg) }.is_null());
    // SAFETY: live handle.
    ok("set_data", call(|e| unsafe { zku_registration_set_data(reg, b"d2".as_ptr(), 2, 10_000, None, e) }));
    assert_eq!(side.get(&path, T).unwrap().0, b"d2");

    let seen = Box::new(Seen::default());
    let user_data = &*seen as *const Seen as *mut c_void;
    // SAFETY: live handle; the callback and user_data outlive it.
    ok(
        "callback",
        call(|e| unsafe { zku_registration_set_state_callback(reg, Some(on_state), user_data, Some(on_free), e) }),
    );
    let mut fd = -1;
    // SAFETY: live handle, valid out-parameter.
    ok("fd", call(|e| unsafe { zku_registration_fd(reg, &mut fd, e) }));
    assert!(readable(fd, 0), "readable once after creation");
    // SAFETY: live handle.
    assert_eq!(unsafe { zku_registration_fd_drain(reg) }, ZKU_REGISTRATION_PRESENT);
    assert!(!readable(fd, 0));

    std::thread::sleep(Duration::from_millis(100));
    side.delete(&path, None, T).unwrap();
    wait_for("ABSENT then PRESENT", || seen.states.lock().unwrap().len() >= 2);
    assert_eq!(
        seen.states.lock().unwrap()[..2],
        [(ZKU_REGISTRATION_PRESENT, ZKU_REGISTRATION_ABSENT), (ZKU_REGISTRATION_ABSENT, ZKU_REGISTRATION_PRESENT)]
    );
    assert!(readable(fd, 5000));
    assert_eq!(side.get(&path, T).unwrap().0, b"d2", "re-created with the latest data");

    // SAFETY: live handle, freed once.
    unsafe { zku_registration_free(reg) };
    assert_eq!(seen.freed.load(Ordering::SeqCst), 1);
    assert_eq!(seen.states.lock().unwrap().last(), Some(&(ZKU_REGISTRATION_PRESENT, ZKU_REGISTRATION_CLOSED)));
    assert_eq!(side.exists(&path, T).unwrap(), None, "free deleted it");
}

#[test]
fn close_leaves_another_sessions_node_and_sequential_paths() {
    let c = client();
    let side = core_client(&shared_server().connect_string(), 4000);
    let path = unique_path("creg-other");
    side.create(&path, b"theirs", &CreateOptions::ephemeral(), T).unwrap();
    let reg = new_registration(&c, &path, b"ours", 0);
    // SAFETY: live handle.
    assert_eq!(unsafe { zku_registration_get_state(reg) }, ZKU_REGISTRATION_ABSENT);
    // SAFETY: live handle.
    let reason = take_string(unsafe { zku_registration_absent_reason(reg) });
    assert!(reason.contains(&format!("0x{:x}", side.session_id())), "{reason}");
    // SAFETY: live handle.
    ok("close", call(|e| unsafe { zku_registration_close(reg, 5000, None, e) }));
    // SAFETY: live handle (closed, not freed): closing again is a no-op.
    ok("close again", call(|e| unsafe { zku_registration_close(reg, 0, None, e) }));
    // SAFETY: live handle (closed, not freed).
    assert_eq!(unsafe { zku_registration_get_state(reg) }, ZKU_REGISTRATION_CLOSED);
    // SAFETY: as above.
    expect(
        "set_data closed",
        call(|e| unsafe { zku_registration_set_data(reg, null(), 0, 1000, None, e) }),
        ZKU_ECLOSED,
        "closed",
    );
    // SAFETY: freed once.
    unsafe { zku_registration_free(reg) };
    assert_eq!(side.get(&path, T).unwrap().0, b"theirs");

    let prefix = format!("{path}-seq/m-");
    let reg = new_registration(&c, &prefix, b"", ZKU_REGISTRATION_SEQUENTIAL);
    let first = path_of(reg);
    assert!(first.starts_with(&prefix) && first.len() == prefix.len() + 10, "{first}");
    // SAFETY: freed once.
    unsafe { zku_registration_free(reg) };
    assert_eq!(side.exists(&first, T).unwrap(), None);
}

#[test]
fn members_list_names_and_binary_data() {
    let c = client();
    let parent = unique_path("creg-members");
    let a = new_registration(&c, &format!("{parent}/a"), b"\x00\x01", 0);
    let b = new_registration(&c, &format!("{parent}/b"), b"", 0);
    let cparent = cs(&parent);
    let mut list = null_mut();
    // SAFETY: live client, valid pointers.
    ok("members", call(|e| unsafe { zku_members_list(c.ptr(), cparent.as_ptr(), 10_000, None, &mut list, e) }));
    // SAFETY: a live list, freed once below; indexes in and out of range.
    unsafe {
        assert_eq!(zku_members_len(list), 2);
        assert_eq!(take_name(list, 0), "a");
        assert_eq!(take_name(list, 1), "b");
        assert!(zku_members_name(list, 2).is_null());
        let mut len = 99;
        let data = zku_members_data(list, 0, &mut len);
        assert_eq!(std::slice::from_raw_parts(data, len), b"\x00\x01");
        assert!(!zku_members_data(list, 1, &mut len).is_null());
        assert_eq!(len, 0);
        assert!(zku_members_data(list, 2, &mut len).is_null());
        assert_eq!(len, 0);
        zku_members_free(list);
        assert_eq!(zku_members_len(null()), 0);
        zku_members_free(null_mut());
        zku_registration_free(a);
        zku_registration_free(b);
    }
}

/// # Safety
/// `list` is live.
unsafe fn take_name(list: *const zku_members, i: usize) -> String {
    // SAFETY: a live list (caller); the name is valid until it is freed.
    unsafe { std::ffi::CStr::from_ptr(zku_members_name(list, i)) }.to_str().unwrap().to_string()
}

#[test]
fn bad_input_gets_specific_codes() {
    let c = client();
    let side = core_client(&shared_server().connect_string(), 4000);
    let path = unique_path("creg-bad");
    let p = cs(&path);
    let new = |client: *const zkutil::ffi::client::zku_client,
               path: *const std::ffi::c_char,
               data: *const u8,
               len: usize,
               flags: u32,
               ttl: i64,
               timeout: i32| {
        let mut out = null_mut();
        // SAFETY: pointers as the test chooses; the library checks them.
        let got =
            call(|e| unsafe { zku_registration_new(client, path, data, len, flags, ttl, timeout, None, &mut out, e) });
        assert!(out.is_null(), "no handle on failure");
        got
    };
    expect("NULL client", new(null(), p.as_ptr(), null(), 0, 0, 0, 1000), ZKU_ENULL, "client");
    expect("NULL path", new(c.ptr(), null(), null(), 0, 0, 0, 1000), ZKU_ENULL, "path");
    expect("bad UTF-8", new(c.ptr(), bad_utf8(), null(), 0, 0, 0, 1000), ZKU_EUTF8, "path");
    expect("relative", new(c.ptr(), cs("x").as_ptr(), null(), 0, 0, 0, 1000), ZKU_EPATH, "");
    expect("NULL data", new(c.ptr(), p.as_ptr(), null(), 3, 0, 0, 1000), ZKU_ENULL, "data");
    expect("flags", new(c.ptr(), p.as_ptr(), null(), 0, 8, 0, 1000), ZKU_EINVAL, "flags");
    expect("ttl < 0", new(c.ptr(), p.as_ptr(), null(), 0, 1, -1, 1000), ZKU_EINVAL, "ttl_ms");
    expect("ttl ephemeral", new(c.ptr(), p.as_ptr(), null(), 0, 0, 1000, 1000), ZKU_EINVAL, "TTL");
    expect("timeout", new(c.ptr(), p.as_ptr(), null(), 0, 0, 0, -5), ZKU_EINVAL, "timeout_ms");
    let big = vec![0u8; 2 << 20];
    expect("too large", new(c.ptr(), p.as_ptr(), big.as_ptr(), big.len(), 0, 0, 1000), ZKU_ETOOLARGE, "");
    assert_eq!(side.exists(&path, T).unwrap(), None, "nothing written");

    let mut out = null_mut();
    // SAFETY: NULL handles are refused.
    unsafe {
        expect("path NULL", call(|e| zku_registration_path(null(), &mut out, e)), ZKU_ENULL, "registration");
        expect("fd NULL", call(|e| zku_registration_fd(null(), null_mut(), e)), ZKU_ENULL, "");
        expect("close NULL", call(|e| zku_registration_close(null(), 0, None, e)), ZKU_ENULL, "registration");
        assert_eq!(zku_registration_fd_drain(null()), ZKU_ENULL);
        assert_eq!(zku_registration_get_state(null()), ZKU_REGISTRATION_ABSENT);
        assert!(zku_registration_absent_reason(null()).is_null());
        zku_registration_free(null_mut());
        let mut list = null_mut();
        expect(
            "members NULL",
            call(|e| zku_members_list(c.ptr(), null(), 1000, None, &mut list, e)),
            ZKU_ENULL,
            "parent",
        );
        let none = cs(&format!("{path}/none"));
        expect(
            "members no parent",
            call(|e| zku_members_list(c.ptr(), none.as_ptr(), 5000, None, &mut list, e)),
            ZKU_ENONODE,
            "",
        );
        assert!(list.is_null());
    }
    let reg = new_registration(&c, &path, b"", 0);
    // SAFETY: live handle.
    unsafe {
        expect("set_data NULL", call(|e| zku_registration_set_data(reg, null(), 1, 1000, None, e)), ZKU_ENULL, "data");
        expect(
            "set_data big",
            call(|e| zku_registration_set_data(reg, big.as_ptr(), big.len(), 1000, None, e)),
            ZKU_ETOOLARGE,
            "",
        );
        zku_registration_free(reg);
    }
}
