//! `zku_cancel` and `zku_client_close` end blocked calls: a cancel issued
//! before the call is honoured at once (nothing sent), one issued while it
//! blocks (from another thread or a signal handler) within 50 ms, a write
//! cancelled after it was sent is ZKU_EUNKNOWN, and closing the client ends
//! every call blocked on it with ZKU_ECLOSED. Measured times are printed;
//! the asserted bounds leave room for a loaded machine.

mod capi;
mod common;

use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use capi::{CClient, call, cs, expect, ok};
use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::ffi::cancel::*;
use zkutil::ffi::cas::*;
use zkutil::ffi::client::*;
use zkutil::ffi::error::*;
use zkutil::ffi::lock::*;
use zkutil::ffi::node::*;
use zkutil::ffi::reader::*;
use zkutil::ffi::wait::*;
use zkutil::ffi::zku_rc;
use zkutil::{Code, Lock, LockOptions, Timeout};

/// Asserted bound for "within 50 ms" (printed times show the real figure).
const WAKE_BOUND: Duration = Duration::from_millis(250);

struct Cancel(*mut zku_cancel);

// SAFETY: zku_cancel is documented thread-safe.
unsafe impl Send for Cancel {}
// SAFETY: as above.
unsafe impl Sync for Cancel {}

impl Cancel {
    fn new() -> Cancel {
        let mut c = null_mut();
        // SAFETY: valid out-parameter.
        ok("cancel_new", call(|e| unsafe { zku_cancel_new(&mut c, e) }));
        Cancel(c)
    }

    fn get(&self) -> Option<&zku_cancel> {
        // SAFETY: live until drop.
        unsafe { self.0.as_ref() }
    }

    fn cancel(&self) {
        // SAFETY: live.
        unsafe { zku_cancel_cancel(self.0) }
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        // SAFETY: from zku_cancel_new, freed once.
        unsafe { zku_cancel_free(self.0) }
    }
}

struct Ptr<T>(*mut T);
// SAFETY: the handles used here are documented thread-safe.
unsafe impl<T> Send for Ptr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Ptr<T> {}

fn create(c: &CClient, path: &str, data: &[u8]) {
    let p = cs(path);
    // SAFETY: live client and locals.
    ok(
        "create",
        call(|e| unsafe {
            zku_client_create(
                c.ptr(),
                p.as_ptr(),
                data.as_ptr(),
                data.len(),
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
}

fn exists(c: &CClient, path: &str) -> bool {
    let p = cs(path);
    let mut found = false;
    // SAFETY: live client and locals.
    ok("exists", call(|e| unsafe { zku_client_exists(c.ptr(), p.as_ptr(), 10_000, None, &mut found, null_mut(), e) }));
    found
}

fn new_lock(c: &CClient, name: &str) -> Ptr<zku_lock> {
    let name = cs(name);
    let mut lock = null_mut();
    // SAFETY: live client and locals.
    ok("lock_new", call(|e| unsafe { zku_lock_new(c.ptr(), name.as_ptr(), null(), 0, -1, &mut lock, e) }));
    Ptr(lock)
}

/// Runs `blocked` on a thread, fires `stop` after it had time to block,
/// and returns its result and how long after `stop` it returned.
fn stop_while_blocked(
    blocked: impl FnOnce() -> (zku_rc, String) + Send + 'static,
    stop: impl FnOnce(),
) -> ((zku_rc, String), Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let r = blocked();
        tx.send((r, Instant::now())).unwrap();
    });
    thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "the call should still block");
    let stopped = Instant::now();
    stop();
    let (r, at) = rx.recv_timeout(Duration::from_secs(10)).expect("the call returned");
    (r, at.duration_since(stopped))
}

#[test]
fn a_cancel_before_the_call_fails_it_at_once_and_sends_nothing() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("cancel-pre");
    let p = cs(&path);
    let cancel = Cancel::new();
    // SAFETY: live handle.
    assert!(!unsafe { zku_cancel_is_cancelled(cancel.0) });
    cancel.cancel();
    // SAFETY: live handle; NULL is allowed.
    assert!(unsafe { zku_cancel_is_cancelled(cancel.0) && !zku_cancel_is_cancelled(null()) });
    let start = Instant::now();
    // SAFETY: live client, cancel and locals.
    let r = call(|e| unsafe {
        zku_client_create(c.ptr(), p.as_ptr(), null(), 0, 0, 0, null(), 10_000, cancel.get(), null_mut(), null_mut(), e)
    });
    expect("pre-cancelled create", r, ZKU_ECANCELLED, "cancelled");
    let lock = new_lock(&c, &format!("{}-lock", &path[1..]));
    // SAFETY: live lock and cancel.
    let r = call(|e| unsafe { zku_lock_acquire(lock.0, 10_000, cancel.get(), null_mut(), e) });
    expect("pre-cancelled acquire", r, ZKU_ECANCELLED, "cancelled");
    assert!(start.elapsed() < WAKE_BOUND, "at once: {:?}", start.elapsed());
    assert!(!exists(&c, &path), "nothing was sent");
    // SAFETY: live lock.
    assert!(!unsafe { zku_lock_is_locked(lock.0) });
    // A NULL cancel is no cancel.
    // SAFETY: live client and locals.
    ok(
        "create with NULL cancel",
        call(|e| unsafe {
            zku_client_create(c.ptr(), p.as_ptr(), null(), 0, 0, 0, null(), 10_000, None, null_mut(), null_mut(), e)
        }),
    );
    // SAFETY: from zku_lock_new, freed once.
    unsafe { zku_lock_free(lock.0) };
}

#[test]
fn a_cancel_from_another_thread_ends_blocked_calls_quickly() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let holder = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("cancel-blocked");
    create(&c, &path, b"v");
    let name = format!("{}-lock", &path[1..]);
    let held = new_lock(&holder, &name);
    // SAFETY: live lock.
    ok("hold", call(|e| unsafe { zku_lock_acquire(held.0, 10_000, None, null_mut(), e) }));
    let waiter = std::sync::Arc::new(new_lock(&c, &name));
    let client = std::sync::Arc::new(Ptr(c.0));

    let cancel = std::sync::Arc::new(Cancel::new());
    let (w, k) = (waiter.clone(), cancel.clone());
    let (r, took) = stop_while_blocked(
        // SAFETY: live lock and cancel for the call.
        move || call(|e| unsafe { zku_lock_acquire(w.0, 30_000, k.get(), null_mut(), e) }),
        || cancel.cancel(),
    );
    eprintln!("cancel: zku_lock_acquire (waiting for a holder) returned {} ms after the cancel", took.as_millis());
    expect("cancelled acquire", r, ZKU_ECANCELLED, "cancelled");
    assert!(took < WAKE_BOUND);

    let cancel = std::sync::Arc::new(Cancel::new());
    let (cl, k, p) = (client.clone(), cancel.clone(), cs(&path));
    let (r, took) = stop_while_blocked(
        move || {
            let mut data = null_mut();
            // SAFETY: live client, cancel and locals.
            call(|e| unsafe { zku_get_next(cl.0, p.as_ptr(), 5, 0, 30_000, k.get(), &mut data, null_mut(), e) })
        },
        || cancel.cancel(),
    );
    eprintln!("cancel: zku_get_next returned {} ms after the cancel", took.as_millis());
    expect("cancelled get_next", r, ZKU_ECANCELLED, "cancelled");
    assert!(took < WAKE_BOUND);
    // SAFETY: from zku_lock_new, freed once each.
    unsafe {
        zku_lock_free(held.0);
        zku_lock_free(std::sync::Arc::try_unwrap(waiter).ok().unwrap().0);
    }
}

#[test]
fn a_cancel_reaches_a_call_stalled_on_the_server_and_a_sent_write_is_unknown() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let path = unique_path("cancel-stalled");
    create(&c, &path, b"v");
    let pid = server.jvm_pid().unwrap() as i32;
    // SAFETY: kill(2) on the test's own server.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    thread::sleep(Duration::from_millis(100));
    let client = std::sync::Arc::new(Ptr(c.0));

    let cancel = std::sync::Arc::new(Cancel::new());
    let (cl, k, p) = (client.clone(), cancel.clone(), cs(&path));
    let (get, get_took) = stop_while_blocked(
        move || {
            let mut data = null_mut();
            // SAFETY: live client, cancel and locals.
            call(|e| unsafe { zku_client_get(cl.0, p.as_ptr(), 30_000, k.get(), &mut data, null_mut(), e) })
        },
        || cancel.cancel(),
    );
    let cancel = std::sync::Arc::new(Cancel::new());
    let (cl, k, p) = (client.clone(), cancel.clone(), cs(&path));
    let (set, set_took) = stop_while_blocked(
        // SAFETY: live client, cancel and locals.
        move || {
            call(|e| unsafe { zku_client_set(cl.0, p.as_ptr(), b"w".as_ptr(), 1, -1, 30_000, k.get(), null_mut(), e) })
        },
        || cancel.cancel(),
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    eprintln!("cancel: stalled zku_client_get returned {} ms after the cancel", get_took.as_millis());
    eprintln!("cancel: stalled zku_client_set returned {} ms after the cancel", set_took.as_millis());
    expect("cancelled get", get, ZKU_ECANCELLED, "cancelled");
    expect("cancelled sent write", set, ZKU_EUNKNOWN, "may or may not have been applied");
    assert!(get_took < WAKE_BOUND && set_took < WAKE_BOUND);
}

static SIGNAL_CANCEL: AtomicPtr<zku_cancel> = AtomicPtr::new(null_mut());

extern "C" fn on_alarm(_: libc::c_int) {
    // Only async-signal-safe work: an atomic load and zku_cancel_cancel.
    // SAFETY: the cancel outlives the alarm (freed after the call returns).
    unsafe { zku_cancel_cancel(SIGNAL_CANCEL.load(Ordering::SeqCst)) };
}

#[test]
fn a_cancel_from_a_signal_handler_ends_a_blocked_call() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("cancel-signal");
    create(&c, &path, b"v");
    let p = cs(&path);
    let cancel = Cancel::new();
    SIGNAL_CANCEL.store(cancel.0, Ordering::SeqCst);
    // SAFETY: installs a handler that only does async-signal-safe work, and
    // arms a one-shot 200 ms timer.
    let start = unsafe {
        libc::signal(libc::SIGALRM, on_alarm as *const () as usize);
        let timer = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval { tv_sec: 0, tv_usec: 200_000 },
        };
        let start = Instant::now();
        assert_eq!(libc::setitimer(libc::ITIMER_REAL, &timer, null_mut()), 0);
        start
    };
    let mut data = null_mut();
    // SAFETY: live client, cancel and locals.
    let r =
        call(|e| unsafe { zku_get_next(c.ptr(), p.as_ptr(), 5, 0, 30_000, cancel.get(), &mut data, null_mut(), e) });
    let took = start.elapsed();
    eprintln!("cancel: zku_get_next cancelled by SIGALRM after {} ms (alarm at 200 ms)", took.as_millis());
    expect("cancelled by a signal handler", r, ZKU_ECANCELLED, "cancelled");
    assert!(took < Duration::from_millis(200) + WAKE_BOUND);
}

#[test]
fn closing_the_client_ends_every_call_blocked_on_it() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let holder = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("close-blocked");
    create(&c, &path, b"{}");
    let name = format!("{}-lock", &path[1..]);
    let held = new_lock(&holder, &name);
    // SAFETY: live lock.
    ok("hold", call(|e| unsafe { zku_lock_acquire(held.0, 10_000, None, null_mut(), e) }));
    let waiter = std::sync::Arc::new(new_lock(&c, &name));
    let mut reader = null_mut();
    let p = cs(&path);
    // SAFETY: live client and locals.
    ok(
        "reader",
        call(|e| unsafe { zku_reader_new(c.ptr(), p.as_ptr(), None, null_mut(), None, 10_000, None, &mut reader, e) }),
    );
    let reader = std::sync::Arc::new(Ptr(reader));
    let client = std::sync::Arc::new(Ptr(c.0));

    let (tx, rx) = std::sync::mpsc::channel();
    let spawn = |what: &'static str, f: Box<dyn FnOnce() -> (zku_rc, String) + Send>| {
        let tx = tx.clone();
        thread::spawn(move || {
            let r = f();
            tx.send((what, r, Instant::now())).unwrap();
        });
    };
    let (w, cl, rd) = (waiter.clone(), client.clone(), reader.clone());
    // SAFETY (all four): live handles until every thread returned.
    spawn(
        "zku_lock_acquire",
        Box::new(move || call(|e| unsafe { zku_lock_acquire(w.0, 30_000, None, null_mut(), e) })),
    );
    let p1 = cs(&path);
    spawn(
        "zku_get_next",
        Box::new(move || {
            let mut data = null_mut();
            call(|e| unsafe { zku_get_next(cl.0, p1.as_ptr(), 5, 0, 30_000, None, &mut data, null_mut(), e) })
        }),
    );
    let (cl, p2) = (client.clone(), cs(&path));
    spawn(
        "zku_wait_absent",
        Box::new(move || call(|e| unsafe { zku_wait_absent(cl.0, p2.as_ptr(), 30_000, None, e) })),
    );
    spawn(
        "zku_reader_watch",
        Box::new(move || {
            call(|e| unsafe { zku_reader_watch(rd.0, 30_000, None, null_mut(), null_mut(), null_mut(), e) })
        }),
    );
    thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "all calls should still block");
    let closed = Instant::now();
    // SAFETY: live client; the handles stay valid until freed below.
    ok("close", call(|e| unsafe { zku_client_close(client.0, 5_000, None, e) }));
    let close_took = closed.elapsed();
    eprintln!("close: zku_client_close took {} ms", close_took.as_millis());
    for _ in 0..4 {
        let (what, r, at) = rx.recv_timeout(Duration::from_secs(10)).expect("every call returns");
        let took = at.duration_since(closed);
        eprintln!("close: {what} returned {} ms after zku_client_close", took.as_millis());
        expect(what, r, ZKU_ECLOSED, "closed");
        assert!(took < WAKE_BOUND, "{what}: {took:?}");
    }
    // A later call fails at once; the free that follows is quick.
    let mut data = null_mut();
    // SAFETY: live (closed) client.
    let r = call(|e| unsafe { zku_client_get(client.0, p.as_ptr(), 10_000, None, &mut data, null_mut(), e) });
    expect("get after close", r, ZKU_ECLOSED, "closed");
    let start = Instant::now();
    // SAFETY: handles freed once, the reader and lock before their client.
    unsafe {
        zku_reader_free(std::sync::Arc::try_unwrap(reader).ok().unwrap().0);
        zku_lock_free(std::sync::Arc::try_unwrap(waiter).ok().unwrap().0);
        zku_lock_free(held.0);
    }
    drop(c);
    eprintln!("close: frees after the close took {} ms", start.elapsed().as_millis());
}

/// The cleanup of a create in flight when the acquire is cancelled runs
/// outside the caller's cancel: no round leaves a node behind.
#[test]
fn a_cancel_with_the_create_in_flight_leaves_no_node() {
    let t = Timeout::After(Duration::from_secs(10));
    let c = capi::core_client(&shared_server().connect_string(), 10_000);
    let name = unique_path("cancel-race")[1..].to_string();
    let l = Lock::new(&c, &name, LockOptions::default()).unwrap();
    let (mut cancelled, mut acquired) = (0, 0);
    for i in 0..80u64 {
        let cancel = zkutil::Cancel::new();
        let fire = cancel.clone();
        // Cancel at a varying moment after the acquire starts.
        let canceller = thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_micros(25 * (i % 80)) {
                std::hint::spin_loop();
            }
            fire.cancel();
        });
        match zkutil::cancel::scope(Some(&cancel), Some(&c), || l.acquire(t)) {
            Ok(_) => acquired += 1,
            Err(e) if e.code() == Code::Cancelled => cancelled += 1,
            Err(e) => panic!("unexpected {e}"),
        }
        canceller.join().unwrap();
        // A cleanup holds the handle's operation mutex: release waits for it.
        l.release(t).unwrap_or_else(|e| assert_eq!(e.code(), Code::NotLocked, "{e}"));
        assert!(c.exists(l.path(), t).unwrap().is_none(), "round {i}: a node was left behind");
    }
    eprintln!("cancel race: acquired {acquired}, cancelled {cancelled}");
    assert!(cancelled > 0);
}

/// Calls waiting for a stalled server's reply (a read, a plain write, a
/// CAS commit) end with ZKU_ECLOSED too, and the free that follows is
/// quick although the server never confirmed the close.
#[test]
fn closing_the_client_ends_calls_waiting_for_a_stalled_server() {
    let server = ZkServer::start();
    let c = CClient::connect(&server.connect_string(), 30_000);
    let path = unique_path("close-stalled");
    create(&c, &path, b"v");
    let p = cs(&path);
    let mut cas = null_mut();
    // SAFETY: live client and locals.
    ok("cas_begin", call(|e| unsafe { zku_cas_begin(c.ptr(), p.as_ptr(), 0, null(), 0, 10_000, None, &mut cas, e) }));
    let pid = server.jvm_pid().unwrap() as i32;
    // SAFETY: kill(2) on the test's own server.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    thread::sleep(Duration::from_millis(100));
    let client = std::sync::Arc::new(Ptr(c.0));
    let cas = std::sync::Arc::new(Ptr(cas));

    let (tx, rx) = std::sync::mpsc::channel();
    let spawn = |what: &'static str, f: Box<dyn FnOnce() -> (zku_rc, String) + Send>| {
        let tx = tx.clone();
        thread::spawn(move || {
            let r = f();
            tx.send((what, r, Instant::now())).unwrap();
        });
    };
    let (cl, p1) = (client.clone(), cs(&path));
    // SAFETY (all three): live handles until every thread returned; the CAS
    // handle is used by its one thread only.
    spawn(
        "zku_client_get",
        Box::new(move || {
            let mut data = null_mut();
            call(|e| unsafe { zku_client_get(cl.0, p1.as_ptr(), 30_000, None, &mut data, null_mut(), e) })
        }),
    );
    let (cl, p2) = (client.clone(), cs(&path));
    spawn(
        "zku_client_set",
        Box::new(move || {
            call(|e| unsafe { zku_client_set(cl.0, p2.as_ptr(), b"w".as_ptr(), 1, -1, 30_000, None, null_mut(), e) })
        }),
    );
    let h = cas.clone();
    spawn(
        "zku_cas_commit",
        Box::new(move || call(|e| unsafe { zku_cas_commit(h.0, b"x".as_ptr(), 1, 30_000, None, null_mut(), e) })),
    );
    thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "all calls should still block");
    let closed = Instant::now();
    // SAFETY: live client.
    let r = call(|e| unsafe { zku_client_close(client.0, 300, None, e) });
    eprintln!("close: zku_client_close (stalled server) took {} ms", closed.elapsed().as_millis());
    expect("close unconfirmed", r, ZKU_ETIMEOUT, "did not confirm");
    for _ in 0..3 {
        let (what, r, at) = rx.recv_timeout(Duration::from_secs(10)).expect("every call returns");
        let took = at.duration_since(closed);
        eprintln!("close: stalled {what} returned {} ms after zku_client_close", took.as_millis());
        expect(what, r, ZKU_ECLOSED, "closed");
        assert!(took < WAKE_BOUND, "{what}: {took:?}");
    }
    // Again, without waiting: nothing left to close.
    // SAFETY: live (closed) client.
    ok("close again", call(|e| unsafe { zku_client_close(client.0, 0, None, e) }));
    let start = Instant::now();
    // SAFETY: freed once, the CAS handle before its client.
    unsafe { zku_cas_free(std::sync::Arc::try_unwrap(cas).ok().unwrap().0) };
    drop(c);
    let freed = start.elapsed();
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    eprintln!("close: frees after the close took {} ms", freed.as_millis());
    assert!(freed < WAKE_BOUND);
}

#[test]
fn closing_without_waiting_returns_at_once() {
    let c = CClient::connect(&shared_server().connect_string(), 10_000);
    let start = Instant::now();
    // SAFETY: live client.
    ok("close(0)", call(|e| unsafe { zku_client_close(c.ptr(), 0, None, e) }));
    assert!(start.elapsed() < WAKE_BOUND, "{:?}", start.elapsed());
    // SAFETY: live (closed) client.
    assert_eq!(unsafe { zku_client_state(c.ptr()) }, ZKU_STATE_CLOSED);
    let p = cs("/");
    let mut found = false;
    // SAFETY: live (closed) client and locals.
    let r = call(|e| unsafe { zku_client_exists(c.ptr(), p.as_ptr(), 10_000, None, &mut found, null_mut(), e) });
    expect("exists after close", r, ZKU_ECLOSED, "closed");
}
