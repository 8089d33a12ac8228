//! zku_get_next and zku_wait_absent against a real ZooKeeper: immediate
//! returns, wake-up on a watch (with the latency from the set or delete to
//! the return measured and printed), waiting for creation, timeouts, no
//! watch left on the server, re-checks after a reconnection, session expiry
//! and close, and bad input through the C ABI.

mod capi;
mod common;
mod proxy;

use std::ptr::{null, null_mut};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use capi::*;
use common::zk::{ZkServer, shared_server, unique_path, wait_watch};
use proxy::Proxy;
use zkutil::ffi::buf::zku_buf;
use zkutil::ffi::error::*;
use zkutil::ffi::node::zku_stat;
use zkutil::ffi::wait::*;
use zkutil::{Code, CreateOptions, Timeout, wait};

const T: Timeout = Timeout::After(Duration::from_secs(10));

/// zku_get_next through the C ABI: (rc, message, data, stat).
fn get_next(c: &CClient, path: &str, version: i32, flags: u32, timeout_ms: i32) -> ((i32, String), Vec<u8>, zku_stat) {
    let p = cs(path);
    let mut data: *mut zku_buf = null_mut();
    let mut stat = zku_stat::default();
    // SAFETY: live client, valid out-parameters.
    let r = call(|e| unsafe {
        zku_get_next(c.ptr(), p.as_ptr(), version, flags, timeout_ms, None, &mut data, &mut stat, e)
    });
    let bytes = if r.0 == ZKU_OK {
        take_buf(data)
    } else {
        assert!(data.is_null(), "no buffer on failure");
        Vec::new()
    };
    (r, bytes, stat)
}

fn wait_absent(c: &CClient, path: &str, timeout_ms: i32) -> (i32, String) {
    let p = cs(path);
    // SAFETY: live client.
    call(|e| unsafe { zku_wait_absent(c.ptr(), p.as_ptr(), timeout_ms, None, e) })
}

#[test]
fn get_next_returns_at_once_when_already_newer() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let other = core_client(&shared_server().connect_string(), 10_000);
    let path = unique_path("next-now");
    other.create(&path, b"v0", &CreateOptions::persistent(), T).unwrap();
    let (r, data, stat) = get_next(&c, &path, -1, 0, 0);
    ok("version -1 on an existing node", r);
    assert_eq!((data.as_slice(), stat.version), (&b"v0"[..], 0));
    other.set(&path, b"v1", None, T).unwrap();
    let (r, data, stat) = get_next(&c, &path, 0, 0, 10_000);
    ok("already newer", r);
    assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1));
    let (r, data, stat) = get_next(&c, &path, 1, 0, 0);
    expect("timeout 0, not newer", r, ZKU_ETIMEOUT, "timed out");
    assert!(data.is_empty());
    assert_eq!(stat.version, 0, "stat cleared on failure");
    let (r, ..) = get_next(&c, &path, 1, 0, 200);
    expect("not newer within 200 ms", r, ZKU_ETIMEOUT, "version > 1");
    wait_watch(shared_server().port(), &path, false);
}

#[test]
fn get_next_wakes_on_each_set_and_leaves_no_watch() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("next-wake");
    other.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();
    let mut latencies = Vec::new();
    thread::scope(|s| {
        for version in 0..20 {
            let (tx, rx) = mpsc::channel();
            let (c, path) = (&c, &path);
            s.spawn(move || {
                let got = get_next(c, path, version, 0, 30_000);
                tx.send((got, Instant::now())).unwrap();
            });
            // Set only once the waiter's watch is on the server.
            wait_watch(server.port(), path, true);
            let start = Instant::now();
            other.set(path, (version + 1).to_string().as_bytes(), None, T).unwrap();
            let ((r, data, stat), returned) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            ok("get_next", r);
            assert_eq!(stat.version, version + 1);
            assert_eq!(data, (version + 1).to_string().as_bytes());
            latencies.push(returned.duration_since(start).as_secs_f64() * 1000.0);
        }
    });
    report_latency("get_next set->return", &mut latencies);
    wait_watch(server.port(), &path, false);
}

#[test]
fn get_next_on_a_missing_node_fails_or_waits_for_creation() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("next-missing");
    let (r, ..) = get_next(&c, &path, -1, 0, 5_000);
    expect("no node", r, ZKU_ENONODE, &path);

    thread::scope(|s| {
        let waiter = s.spawn(|| get_next(&c, &path, -1, ZKU_WAIT_CREATE, 30_000));
        wait_watch(server.port(), &path, true);
        other.create(&path, b"born", &CreateOptions::persistent(), T).unwrap();
        let (r, data, stat) = waiter.join().unwrap();
        ok("created", r);
        assert_eq!((data.as_slice(), stat.version), (&b"born"[..], 0));
    });

    // Version 0 and the node re-created at version 0: keeps waiting for 1.
    other.delete(&path, None, T).unwrap();
    thread::scope(|s| {
        let waiter = s.spawn(|| get_next(&c, &path, 0, ZKU_WAIT_CREATE, 30_000));
        wait_watch(server.port(), &path, true);
        other.create(&path, b"again", &CreateOptions::persistent(), T).unwrap();
        wait_watch(server.port(), &path, true);
        other.set(&path, b"newer", None, T).unwrap();
        let (r, data, stat) = waiter.join().unwrap();
        ok("newer than 0", r);
        assert_eq!((data.as_slice(), stat.version), (&b"newer"[..], 1));
    });
    wait_watch(server.port(), &path, false);
}

#[test]
fn wait_absent_returns_at_once_wakes_on_delete_and_times_out() {
    let server = shared_server();
    let c = CClient::connect(&server.connect_string(), 10_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("absent");
    ok("absent at once", wait_absent(&c, &path, 0));

    other.create(&path, b"", &CreateOptions::persistent(), T).unwrap();
    expect("timeout 0", wait_absent(&c, &path, 0), ZKU_ETIMEOUT, &path);
    expect("timeout", wait_absent(&c, &path, 200), ZKU_ETIMEOUT, "timed out");
    wait_watch(server.port(), &path, false);

    let mut latencies = Vec::new();
    for _ in 0..20 {
        other.create(&path, b"", &CreateOptions::persistent(), T).unwrap_or_default();
        thread::scope(|s| {
            let waiter = s.spawn(|| (wait_absent(&c, &path, 30_000), Instant::now()));
            wait_watch(server.port(), &path, true);
            let start = Instant::now();
            other.delete(&path, None, T).unwrap();
            let (r, returned) = waiter.join().unwrap();
            ok("wait_absent", r);
            latencies.push(returned.duration_since(start).as_secs_f64() * 1000.0);
        });
    }
    report_latency("wait_absent delete->return", &mut latencies);
    wait_watch(server.port(), &path, false);
}

#[test]
fn expiry_and_close_end_the_waits() {
    let hosts = shared_server().connect_string();
    let other = core_client(&hosts, 10_000);
    let path = unique_path("wait-end");
    other.create(&path, b"", &CreateOptions::persistent(), T).unwrap();

    let c = core_client(&hosts, 10_000);
    thread::scope(|s| {
        // Bounded, so that a failure below fails instead of hanging the scope.
        let next = s.spawn(|| wait::get_next(&c, &path, 5, false, Timeout::After(Duration::from_secs(60))));
        let absent = s.spawn(|| wait::wait_absent(&c, &path, Timeout::After(Duration::from_secs(60))));
        wait_watch(shared_server().port(), &path, true);
        c.expire_session_for_testing().unwrap();
        assert_eq!(next.join().unwrap().unwrap_err().code(), Code::SessionExpired);
        assert_eq!(absent.join().unwrap().unwrap_err().code(), Code::SessionExpired);
    });
    assert_eq!(wait::wait_absent(&c, &path, T).unwrap_err().code(), Code::SessionExpired);

    let c = core_client(&hosts, 10_000);
    thread::scope(|s| {
        let next = s.spawn(|| wait::get_next(&c, &path, 5, false, Timeout::After(Duration::from_secs(60))));
        wait_watch(shared_server().port(), &path, true);
        c.close();
        assert_eq!(next.join().unwrap().unwrap_err().code(), Code::Closed);
    });
}

#[test]
fn waits_check_again_after_a_reconnection() {
    // Through a proxy: the connection drops, the node changes meanwhile, and
    // the waiter finds out once it is connected again.
    let server = shared_server();
    let proxy = Proxy::start(&server.connect_string());
    let c = core_client(&proxy.connect_string(), 20_000);
    let other = core_client(&server.connect_string(), 10_000);
    let path = unique_path("wait-reconnect");
    other.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();

    let gone = format!("{path}-gone");
    other.create(&gone, b"", &CreateOptions::persistent(), T).unwrap();
    thread::scope(|s| {
        let next = s.spawn(|| wait::get_next(&c, &path, 0, false, Timeout::After(Duration::from_secs(60))));
        let absent = s.spawn(|| wait::wait_absent(&c, &gone, Timeout::After(Duration::from_secs(60))));
        wait_watch(server.port(), &path, true);
        wait_watch(server.port(), &gone, true);
        proxy.set_refusing(true);
        let deadline = Instant::now() + Duration::from_secs(20);
        while c.state().is_connected() {
            assert!(Instant::now() < deadline, "the client never saw the cut");
            thread::sleep(Duration::from_millis(10));
        }
        other.set(&path, b"1", None, T).unwrap();
        other.delete(&gone, None, T).unwrap();
        proxy.set_refusing(false);
        let (data, stat) = next.join().unwrap().unwrap();
        assert_eq!((data.as_slice(), stat.version), (&b"1"[..], 1));
        absent.join().unwrap().unwrap();
    });

    // While disconnected a wait ends with the timeout code.
    proxy.set_refusing(true);
    let err = wait::get_next(&c, &path, 5, false, Timeout::After(Duration::from_millis(500))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout, "{err}");
    proxy.set_refusing(false);
}

#[test]
fn waits_survive_a_server_restart() {
    let mut server = ZkServer::start();
    let c = core_client(&server.connect_string(), 30_000);
    let path = unique_path("wait-restart");
    c.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();
    thread::scope(|s| {
        let next = s.spawn(|| wait::get_next(&c, &path, 0, false, Timeout::After(Duration::from_secs(120))));
        wait_watch(server.port(), &path, true);
        server.restart();
        let other = core_client(&server.connect_string(), 10_000);
        other.set(&path, b"1", None, T).unwrap();
        let (data, stat) = next.join().unwrap().unwrap();
        assert_eq!((data.as_slice(), stat.version), (&b"1"[..], 1));
    });
}

#[test]
fn bad_input_through_the_c_abi_gets_specific_codes() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("wait-bad");
    let p = cs(&path);
    let rel = cs("rel/ative");
    let mut data: *mut zku_buf = null_mut();
    // SAFETY (whole block): each pointer is NULL, a live local or the live
    // client; the calls must reject the bad ones.
    unsafe {
        let g = |client, path, version, flags, t, out: *mut *mut zku_buf| {
            call(|e| zku_get_next(client, path, version, flags, t, None, out, null_mut(), e))
        };
        expect("NULL client", g(null(), p.as_ptr(), -1, 0, 100, &mut data), ZKU_ENULL, "client");
        expect("NULL path", g(c.ptr(), null(), -1, 0, 100, &mut data), ZKU_ENULL, "path");
        expect("NULL data", g(c.ptr(), p.as_ptr(), -1, 0, 100, null_mut()), ZKU_ENULL, "data");
        expect("bad UTF-8", g(c.ptr(), bad_utf8(), -1, 0, 100, &mut data), ZKU_EUTF8, "path");
        expect("relative", g(c.ptr(), rel.as_ptr(), -1, 0, 100, &mut data), ZKU_EPATH, "rel/ative");
        expect("version -2", g(c.ptr(), p.as_ptr(), -2, 0, 100, &mut data), ZKU_EINVAL, "-2");
        expect("unknown flags", g(c.ptr(), p.as_ptr(), -1, 0x10, 100, &mut data), ZKU_EINVAL, "0x10");
        expect("bad timeout", g(c.ptr(), p.as_ptr(), -1, 0, -2, &mut data), ZKU_EINVAL, "timeout");
        assert!(data.is_null());
        expect("absent NULL client", call(|e| zku_wait_absent(null(), p.as_ptr(), 100, None, e)), ZKU_ENULL, "client");
        expect("absent NULL path", call(|e| zku_wait_absent(c.ptr(), null(), 100, None, e)), ZKU_ENULL, "path");
        expect(
            "absent relative",
            call(|e| zku_wait_absent(c.ptr(), rel.as_ptr(), 100, None, e)),
            ZKU_EPATH,
            "rel/ative",
        );
        expect(
            "absent bad timeout",
            call(|e| zku_wait_absent(c.ptr(), p.as_ptr(), -7, None, e)),
            ZKU_EINVAL,
            "timeout",
        );
    }
}
