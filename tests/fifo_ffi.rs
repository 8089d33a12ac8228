//! The FIFO mutex through the C ABI: bad input gets specific codes and
//! sends nothing; acquire, try_acquire, contenders, token, state,
//! descriptor and release work as documented.

mod capi;
mod common;

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use capi::{CClient, bad_utf8, call, cs, expect, ok};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::buf::*;
use zkutil::ffi::error::*;
use zkutil::ffi::fifo::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::zku_stat;

const T: i32 = 10_000;

fn strings(list: *mut zku_strings) -> Vec<String> {
    // SAFETY: a live list from the library, freed once.
    unsafe {
        let items = (0..zku_strings_len(list))
            .map(|i| CStr::from_ptr(zku_strings_get(list, i)).to_str().unwrap().to_string())
            .collect();
        zku_strings_free(list);
        items
    }
}

fn new_fifo(client: &CClient, name: &str, id: &str) -> *mut zku_fifo {
    let (name, id) = (cs(name), cs(id));
    let mut out = null_mut();
    // SAFETY: valid pointers to live locals.
    ok(
        "new",
        call(|e| unsafe {
            zku_fifo_new(client.ptr(), name.as_ptr(), id.as_ptr(), ZKU_LOCK_DEFAULT_TIMEOUT, &mut out, e)
        }),
    );
    out
}

#[test]
fn bad_input_gets_specific_codes() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let mut out = null_mut();
    let name = cs("res");
    // SAFETY: each call gets valid or deliberately NULL/bad pointers.
    unsafe {
        expect(
            "NULL client",
            call(|e| zku_fifo_new(null(), name.as_ptr(), null(), -2, &mut out, e)),
            ZKU_ENULL,
            "client",
        );
        expect("NULL name", call(|e| zku_fifo_new(client.ptr(), null(), null(), -2, &mut out, e)), ZKU_ENULL, "name");
        expect(
            "bad UTF-8",
            call(|e| zku_fifo_new(client.ptr(), bad_utf8(), null(), -2, &mut out, e)),
            ZKU_EUTF8,
            "name",
        );
        let empty = cs("");
        expect(
            "empty name",
            call(|e| zku_fifo_new(client.ptr(), empty.as_ptr(), null(), -2, &mut out, e)),
            ZKU_EPATH,
            "empty",
        );
        expect(
            "empty id",
            call(|e| zku_fifo_new(client.ptr(), name.as_ptr(), empty.as_ptr(), -2, &mut out, e)),
            ZKU_EINVAL,
            "identifier",
        );
        expect(
            "bad default",
            call(|e| zku_fifo_new(client.ptr(), name.as_ptr(), null(), -7, &mut out, e)),
            ZKU_EINVAL,
            "timeout",
        );
        expect(
            "NULL out",
            call(|e| zku_fifo_new(client.ptr(), name.as_ptr(), null(), -2, null_mut(), e)),
            ZKU_ENULL,
            "out",
        );
        assert!(out.is_null());
        expect("NULL fifo", call(|e| zku_fifo_acquire(null(), T, None, null_mut(), e)), ZKU_ENULL, "fifo");
        expect("NULL fifo", call(|e| zku_fifo_release(null(), T, None, e)), ZKU_ENULL, "fifo");
        assert_eq!(zku_fifo_get_state(null()), ZKU_LOCK_UNLOCKED);
        assert_eq!(zku_fifo_fd_drain(null()), ZKU_ENULL);
        assert!(zku_fifo_path(null()).is_null());
        zku_fifo_free(null_mut());

        let fifo = new_fifo(&client, unique_path("fifo-ffi-bad").trim_start_matches('/'), "me");
        expect("bad timeout", call(|e| zku_fifo_acquire(fifo, -5, None, null_mut(), e)), ZKU_EINVAL, "timeout");
        let mut token = 7;
        expect("token unlocked", call(|e| zku_fifo_token(fifo, &mut token, e)), ZKU_ENOTLOCKED, "not held");
        assert_eq!(token, 0);
        expect(
            "NULL locked",
            call(|e| zku_fifo_try_acquire(fifo, T, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "locked",
        );
        expect(
            "NULL names",
            call(|e| zku_fifo_contenders(fifo, T, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "names",
        );
        let mut names = null_mut();
        ok("contenders", call(|e| zku_fifo_contenders(fifo, T, None, &mut names, null_mut(), e)));
        assert!(strings(names).is_empty(), "nothing was created");
        zku_fifo_free(fifo);
    }
}

#[test]
fn acquire_contenders_and_release() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = unique_path("fifo-ffi").trim_start_matches('/').to_string();
    let a = new_fifo(&client, &name, "alpha");
    let b = new_fifo(&client, &name, "beta");
    // SAFETY: live handles and valid out-pointers.
    unsafe {
        let mut fd = -1;
        ok("fd", call(|e| zku_fifo_fd(a, &mut fd, e)));
        assert!(fd >= 0);
        let mut token = 0;
        ok("acquire", call(|e| zku_fifo_acquire(a, T, None, &mut token, e)));
        assert!(token > 0);
        assert_eq!(zku_fifo_get_state(a), ZKU_LOCK_HELD);
        assert_eq!(zku_fifo_fd_drain(a), ZKU_LOCK_HELD);
        let mut again = 0;
        ok("token", call(|e| zku_fifo_token(a, &mut again, e)));
        assert_eq!(again, token);
        let (mut locked, mut b_token) = (true, 1);
        ok("try", call(|e| zku_fifo_try_acquire(b, T, None, &mut locked, &mut b_token, e)));
        assert!(!locked);
        assert_eq!(b_token, 0);
        expect("timeout", call(|e| zku_fifo_acquire(b, 200, None, null_mut(), e)), ZKU_ETIMEOUT, "timed out");
        let (mut names, mut ids) = (null_mut(), null_mut());
        ok("contenders", call(|e| zku_fifo_contenders(a, T, None, &mut names, &mut ids, e)));
        assert_eq!(strings(ids), ["alpha"]);
        let names = strings(names);
        assert_eq!(names.len(), 1);
        assert!(names[0].contains("-lock-"));
        let path = CStr::from_ptr(zku_fifo_path(a)).to_str().unwrap();
        assert!(path.ends_with(&name), "{path}");
        let target = cs(&format!("{path}-guarded"));
        let c = zkutil::Client::connect(zkutil::Config {
            hosts: Some(shared_server().connect_string()),
            ..zkutil::Config::default()
        })
        .unwrap();
        let t = zkutil::Timeout::After(std::time::Duration::from_secs(10));
        c.create(target.to_str().unwrap(), b"0", &zkutil::CreateOptions::persistent(), t).unwrap();
        let mut stat = zku_stat::default();
        ok(
            "guarded set",
            call(|e| zku_fifo_guarded_set(a, target.as_ptr(), b"1".as_ptr(), 1, 0, T, None, &mut stat, e)),
        );
        assert_eq!(stat.version, 1);
        expect(
            "not held",
            call(|e| zku_fifo_guarded_delete(b, target.as_ptr(), -1, T, None, e)),
            ZKU_ENOTLOCKED,
            "not held",
        );
        expect(
            "bad version",
            call(|e| zku_fifo_guarded_delete(a, target.as_ptr(), -7, T, None, e)),
            ZKU_EINVAL,
            "version",
        );
        ok("guarded delete", call(|e| zku_fifo_guarded_delete(a, target.as_ptr(), 1, T, None, e)));
        assert!(c.exists(target.to_str().unwrap(), t).unwrap().is_none());
        ok("release", call(|e| zku_fifo_release(a, T, None, e)));
        assert_eq!(zku_fifo_get_state(a), ZKU_LOCK_UNLOCKED);
        ok("release again", call(|e| zku_fifo_release(a, T, None, e)));
        ok("try", call(|e| zku_fifo_try_acquire(b, T, None, &mut locked, &mut b_token, e)));
        assert!(locked);
        assert!(b_token > token);
        zku_fifo_free(a);
        zku_fifo_free(b);
    }
}

#[test]
fn a_leader_participant_is_a_fifo_on_latch_nodes() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = cs(unique_path("fifo-ffi-leader").trim_start_matches('/'));
    let (id_a, id_b) = (cs("node-a"), cs("node-b"));
    let (mut a, mut b) = (null_mut(), null_mut());
    // SAFETY: live handles and valid out-pointers.
    unsafe {
        ok("a", call(|e| zku_fifo_new_leader(client.ptr(), name.as_ptr(), id_a.as_ptr(), -2, &mut a, e)));
        ok("b", call(|e| zku_fifo_new_leader(client.ptr(), name.as_ptr(), id_b.as_ptr(), -2, &mut b, e)));
        let empty = cs("");
        let mut none = null_mut();
        expect(
            "empty name",
            call(|e| zku_fifo_new_leader(client.ptr(), empty.as_ptr(), null(), -2, &mut none, e)),
            ZKU_EPATH,
            "empty",
        );
        let mut token = 0;
        ok("lead", call(|e| zku_fifo_acquire(a, T, None, &mut token, e)));
        assert_eq!(zku_fifo_get_state(a), ZKU_LOCK_HELD);
        expect("standby", call(|e| zku_fifo_acquire(b, 200, None, null_mut(), e)), ZKU_ETIMEOUT, "timed out");
        let (mut names, mut ids) = (null_mut(), null_mut());
        ok("participants", call(|e| zku_fifo_contenders(b, T, None, &mut names, &mut ids, e)));
        assert_eq!(strings(ids), ["node-a"]);
        assert!(strings(names)[0].contains("-latch-"));
        ok("resign", call(|e| zku_fifo_release(a, T, None, e)));
        let mut b_token = 0;
        ok("b leads", call(|e| zku_fifo_acquire(b, T, None, &mut b_token, e)));
        assert!(b_token > token);
        zku_fifo_free(a);
        zku_fifo_free(b);
    }
}

#[test]
fn read_and_write_sides_through_the_c_api() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = cs(unique_path("fifo-ffi-rw").trim_start_matches('/'));
    let (mut r1, mut r2, mut w) = (null_mut(), null_mut(), null_mut());
    // SAFETY: live handles and valid out-pointers.
    unsafe {
        ok("r1", call(|e| zku_fifo_new_read(client.ptr(), name.as_ptr(), null(), -2, &mut r1, e)));
        ok("r2", call(|e| zku_fifo_new_read(client.ptr(), name.as_ptr(), null(), -2, &mut r2, e)));
        ok("w", call(|e| zku_fifo_new_write(client.ptr(), name.as_ptr(), null(), -2, &mut w, e)));
        let mut none = null_mut();
        expect(
            "NULL name",
            call(|e| zku_fifo_new_write(client.ptr(), null(), null(), -2, &mut none, e)),
            ZKU_ENULL,
            "name",
        );
        ok("r1", call(|e| zku_fifo_acquire(r1, T, None, null_mut(), e)));
        ok("r2 shares", call(|e| zku_fifo_acquire(r2, 0, None, null_mut(), e)));
        expect("w waits", call(|e| zku_fifo_acquire(w, 200, None, null_mut(), e)), ZKU_ETIMEOUT, "timed out");
        ok("r1 release", call(|e| zku_fifo_release(r1, T, None, e)));
        ok("r2 release", call(|e| zku_fifo_release(r2, T, None, e)));
        ok("w", call(|e| zku_fifo_acquire(w, T, None, null_mut(), e)));
        let mut locked = true;
        ok("r1 try", call(|e| zku_fifo_try_acquire(r1, T, None, &mut locked, null_mut(), e)));
        assert!(!locked, "the writer excludes readers");
        zku_fifo_free(w);
        ok("r1 try", call(|e| zku_fifo_try_acquire(r1, T, None, &mut locked, null_mut(), e)));
        assert!(locked, "freed writer released");
        zku_fifo_free(r1);
        zku_fifo_free(r2);
    }
}

#[test]
fn a_read_side_of_a_write_side_through_the_c_api() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = cs(unique_path("fifo-ffi-read-of").trim_start_matches('/'));
    let (mut w, mut r, mut other, mut none) = (null_mut(), null_mut(), null_mut(), null_mut());
    // SAFETY: live handles and valid out-pointers.
    unsafe {
        ok("w", call(|e| zku_fifo_new_write(client.ptr(), name.as_ptr(), null(), -2, &mut w, e)));
        ok("other", call(|e| zku_fifo_new_write(client.ptr(), name.as_ptr(), null(), -2, &mut other, e)));
        expect("NULL write", call(|e| zku_fifo_new_read_of(null(), null(), -2, &mut none, e)), ZKU_ENULL, "fifo");
        expect("NULL out", call(|e| zku_fifo_new_read_of(w, null(), -2, null_mut(), e)), ZKU_ENULL, "out");
        expect("bad timeout", call(|e| zku_fifo_new_read_of(w, null(), -9, &mut none, e)), ZKU_EINVAL, "timeout");
        let mut reader = null_mut();
        ok("reader", call(|e| zku_fifo_new_read(client.ptr(), name.as_ptr(), null(), -2, &mut reader, e)));
        expect(
            "of a read side",
            call(|e| zku_fifo_new_read_of(reader, null(), -2, &mut none, e)),
            ZKU_EINVAL,
            "not the write side",
        );
        zku_fifo_free(reader);
        let mutex = new_fifo(&client, "res", "me");
        expect(
            "of a mutex",
            call(|e| zku_fifo_new_read_of(mutex, null(), -2, &mut none, e)),
            ZKU_EINVAL,
            "not the write side",
        );
        zku_fifo_free(mutex);
        assert!(none.is_null());

        ok("read of", call(|e| zku_fifo_new_read_of(w, null(), -2, &mut r, e)));
        assert_eq!(CStr::from_ptr(zku_fifo_path(r)), CStr::from_ptr(zku_fifo_path(w)));
        let (mut wt, mut rt) = (0, 0);
        ok("w", call(|e| zku_fifo_acquire(w, T, None, &mut wt, e)));
        ok("r under w", call(|e| zku_fifo_acquire(r, 0, None, &mut rt, e)));
        assert_eq!(rt, wt, "the write side's token");
        zku_fifo_free(w);
        assert_eq!(zku_fifo_get_state(r), ZKU_LOCK_HELD, "the read side outlives the freed write side");
        let mut locked = true;
        ok("other try", call(|e| zku_fifo_try_acquire(other, T, None, &mut locked, null_mut(), e)));
        assert!(!locked, "writers stay out while the read side holds");
        ok("r release", call(|e| zku_fifo_release(r, T, None, e)));
        ok("other try", call(|e| zku_fifo_try_acquire(other, T, None, &mut locked, null_mut(), e)));
        assert!(locked);
        zku_fifo_free(r);
        zku_fifo_free(other);
    }
}

/// zku_fifo_cancel ends the acquires running on the handle, in any thread
/// (the second one waiting behind the first), promptly and without leaving
/// a node; a later acquire is not affected.
#[test]
fn cancel_ends_running_acquires_and_not_later_ones() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = unique_path("fifo-cancel").trim_start_matches('/').to_string();
    let a = new_fifo(&client, &name, "alpha");
    let b = new_fifo(&client, &name, "beta");
    // SAFETY: live handles, freed once at the end, after the threads joined.
    unsafe {
        zku_fifo_cancel(null());
        ok("acquire", call(|e| zku_fifo_acquire(a, T, None, null_mut(), e)));
        let b_addr = b as usize;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(move || {
                    let b = b_addr as *const zku_fifo;
                    call(|e| zku_fifo_acquire(b, -1, None, null_mut(), e))
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (mut names, mut ids) = (null_mut(), null_mut());
        ok("contenders", call(|e| zku_fifo_contenders(a, T, None, &mut names, &mut ids, e)));
        drop(strings(names));
        assert_eq!(strings(ids), ["alpha", "beta"], "b waits with its node");
        let start = std::time::Instant::now();
        zku_fifo_cancel(b);
        for w in waiters {
            expect("cancelled", w.join().unwrap(), ZKU_ECANCELLED, "cancelled");
        }
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_millis(50 + 250), "cancel took {took:?}");
        assert_eq!(zku_fifo_get_state(b), ZKU_LOCK_UNLOCKED);
        let (mut names, mut ids) = (null_mut(), null_mut());
        ok("contenders", call(|e| zku_fifo_contenders(a, T, None, &mut names, &mut ids, e)));
        drop(strings(names));
        assert_eq!(strings(ids), ["alpha"], "no node of b's left");

        // Not sticky: a later acquire waits (and times out) as usual, and
        // gets the lock once a lets go.
        expect("later acquire", call(|e| zku_fifo_acquire(b, 200, None, null_mut(), e)), ZKU_ETIMEOUT, "timed out");
        ok("release", call(|e| zku_fifo_release(a, T, None, e)));
        let mut token = 0;
        ok("acquire after", call(|e| zku_fifo_acquire(b, T, None, &mut token, e)));
        assert!(token > 0);
        zku_fifo_free(a);
        zku_fifo_free(b);
    }
}
