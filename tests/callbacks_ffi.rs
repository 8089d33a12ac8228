//! Callback lifecycle through the C ABI: a callback is never called after
//! the call that freed or replaced it returned, also when that call is made
//! inside the callback itself; replacing from inside keeps one call at a
//! time and the order; a stuck state callback skips the oldest changes;
//! `user_data_free` runs exactly once, after the last call.

mod capi;
mod common;

use std::ffi::{CString, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use capi::{CClient, call, cs, ok};
use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::ffi::client::*;
use zkutil::ffi::error::*;
use zkutil::ffi::lock::*;

const WAIT: Duration = Duration::from_secs(15);

/// What one registered callback saw, and what its callback does.
#[derive(Default)]
struct Probe {
    calls: Mutex<Vec<(i32, i32)>>,
    changed: Condvar,
    in_call: AtomicBool,
    overlaps: AtomicUsize,
    /// Set right after the call that removed the callback returned.
    removed: AtomicBool,
    calls_after_removal: AtomicUsize,
    freed: AtomicUsize,
    freed_during_a_call: AtomicUsize,
    /// The handle the callback acts on (a lock or a client).
    handle: AtomicPtr<c_void>,
    /// The callback waits for this before acting (so the test's own call
    /// on the handle has returned).
    go: Mutex<bool>,
    /// Set: the first call blocks until it is cleared.
    stuck: Mutex<bool>,
    /// Another probe whose callback must not be running meanwhile.
    other: AtomicPtr<Probe>,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    fn user_data(self: &Arc<Probe>) -> *mut c_void {
        Arc::as_ptr(self) as *mut c_void
    }

    /// # Safety
    /// `p` is a live probe's user data.
    unsafe fn of<'a>(p: *mut c_void) -> &'a Probe {
        // SAFETY: guaranteed by the caller.
        unsafe { &*(p as *const Probe) }
    }

    fn enter(&self, old: i32, new: i32) {
        if self.in_call.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: `other` is NULL or a probe the test keeps alive.
        if let Some(other) = unsafe { self.other.load(Ordering::SeqCst).as_ref() } {
            if other.in_call.load(Ordering::SeqCst) {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
        if self.removed.load(Ordering::SeqCst) {
            self.calls_after_removal.fetch_add(1, Ordering::SeqCst);
        }
        self.calls.lock().unwrap().push((old, new));
        self.changed.notify_all();
    }

    fn leave(&self) {
        self.in_call.store(false, Ordering::SeqCst);
    }

    fn wait_go(&self) {
        let mut go = self.go.lock().unwrap();
        while !*go {
            go = self.changed.wait(go).unwrap();
        }
    }

    fn set_go(&self) {
        *self.go.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn unstick(&self) {
        *self.stuck.lock().unwrap() = false;
        self.changed.notify_all();
    }

    fn wait_calls(&self, n: usize) -> Vec<(i32, i32)> {
        let deadline = Instant::now() + WAIT;
        let mut calls = self.calls.lock().unwrap();
        while calls.len() < n {
            assert!(Instant::now() < deadline, "timed out waiting for {n} calls, got {calls:?}");
            calls = self.changed.wait_timeout(calls, Duration::from_millis(50)).unwrap().0;
        }
        calls.clone()
    }

    fn wait_freed(&self) {
        let deadline = Instant::now() + WAIT;
        while self.freed.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "timed out waiting for user_data_free");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Exactly one destructor call, never during a call, no overlapping
    /// calls and none after the removal.
    fn check_clean(&self) {
        assert_eq!(self.freed.load(Ordering::SeqCst), 1, "user_data_free exactly once");
        assert_eq!(self.freed_during_a_call.load(Ordering::SeqCst), 0, "user_data_free after the last call");
        assert_eq!(self.overlaps.load(Ordering::SeqCst), 0, "one call at a time");
        assert_eq!(self.calls_after_removal.load(Ordering::SeqCst), 0, "no call after the removal returned");
    }
}

unsafe extern "C" fn on_free(p: *mut c_void) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    if p.in_call.load(Ordering::SeqCst) {
        p.freed_during_a_call.fetch_add(1, Ordering::SeqCst);
    }
    p.freed.fetch_add(1, Ordering::SeqCst);
}

/// Records; on the first call frees its lock from inside.
unsafe extern "C" fn free_lock_from_inside(p: *mut c_void, old: i32, new: i32) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    p.enter(old, new);
    let lock = p.handle.swap(null_mut(), Ordering::SeqCst);
    if !lock.is_null() {
        p.wait_go();
        // SAFETY: the test handed the lock over to the callback.
        unsafe { zku_lock_free(lock.cast()) };
        p.removed.store(true, Ordering::SeqCst);
    }
    p.leave();
}

/// Records; on the first call frees its client from inside.
unsafe extern "C" fn free_client_from_inside(p: *mut c_void, old: i32, new: i32) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    p.enter(old, new);
    let client = p.handle.swap(null_mut(), Ordering::SeqCst);
    if !client.is_null() {
        // SAFETY: the test handed the client over to the callback.
        unsafe { zku_client_free(client.cast()) };
        p.removed.store(true, Ordering::SeqCst);
    }
    p.leave();
}

/// Records; blocks in its first call while `stuck` is set.
unsafe extern "C" fn record_blocking(p: *mut c_void, old: i32, new: i32) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    p.enter(old, new);
    let mut stuck = p.stuck.lock().unwrap();
    while *stuck {
        stuck = p.changed.wait(stuck).unwrap();
    }
    drop(stuck);
    p.leave();
}

/// The second probe of the replacement test, set by the first callback.
static REPLACEMENT: AtomicPtr<Probe> = AtomicPtr::new(null_mut());

/// Records; on the first call replaces itself (with `record_blocking` on
/// the probe in REPLACEMENT), then lingers so the replacement would run
/// too early if it could.
unsafe extern "C" fn replace_from_inside(p: *mut c_void, old: i32, new: i32) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    p.enter(old, new);
    let lock = p.handle.swap(null_mut(), Ordering::SeqCst);
    if !lock.is_null() {
        let next = REPLACEMENT.load(Ordering::SeqCst) as *mut c_void;
        // SAFETY: a live lock; the probe outlives it.
        let rc =
            unsafe { zku_lock_set_state_callback(lock.cast(), Some(record_blocking), next, Some(on_free), null_mut()) };
        assert_eq!(rc, ZKU_OK);
        p.removed.store(true, Ordering::SeqCst);
        p.set_go();
        thread::sleep(Duration::from_millis(300));
    }
    p.leave();
}

/// On the first call: once `go` is set, acquires the lock in `handle` (a
/// blocking call) and frees it, then marks itself `removed` (done).
unsafe extern "C" fn acquire_and_free_another(p: *mut c_void, old: i32, new: i32) {
    // SAFETY: a probe the test keeps alive.
    let p = unsafe { Probe::of(p) };
    p.enter(old, new);
    let other = p.handle.swap(null_mut(), Ordering::SeqCst);
    if !other.is_null() {
        p.wait_go();
        // SAFETY: the test handed the other lock over to this callback.
        unsafe {
            assert_eq!(zku_lock_acquire(other.cast(), 5000, None, null_mut(), null_mut()), ZKU_OK);
            zku_lock_free(other.cast());
        }
        p.removed.store(true, Ordering::SeqCst);
        p.changed.notify_all();
    }
    p.leave();
}

/// Sets `f` as the lock's state callback with `probe` as its user data.
fn set_lock_callback(lock: *mut zku_lock, f: unsafe extern "C" fn(*mut c_void, i32, i32), probe: &Arc<Probe>) {
    // SAFETY: a live lock; the caller keeps the probe alive until it is freed.
    let rc = call(|e| unsafe { zku_lock_set_state_callback(lock, Some(f), probe.user_data(), Some(on_free), e) });
    ok("set_state_callback", rc);
}

fn lock_name(prefix: &str) -> CString {
    cs(&unique_path(prefix)[1..])
}

fn new_lock(client: &CClient, name: &CString) -> *mut zku_lock {
    let mut lock = null_mut();
    // SAFETY: live client and string.
    ok("lock_new", call(|e| unsafe { zku_lock_new(client.ptr(), name.as_ptr(), null(), 0, 5000, &mut lock, e) }));
    lock
}

fn exists(client: &CClient, path: &str) -> bool {
    let path = cs(path);
    let mut exists = false;
    // SAFETY: live client, valid out-parameter.
    ok(
        "exists",
        call(|e| unsafe {
            zkutil::ffi::node::zku_client_exists(client.ptr(), path.as_ptr(), 5000, None, &mut exists, null_mut(), e)
        }),
    );
    exists
}

#[test]
fn a_lock_freed_from_inside_its_callback_is_not_called_again() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = lock_name("cb-free-lock");
    let path = format!("/lock/{}", name.to_str().unwrap());
    let probe = Probe::new();
    let lock = new_lock(&client, &name);
    // SAFETY: live lock; the probe outlives it.
    unsafe {
        set_lock_callback(lock, free_lock_from_inside, &probe);
        probe.handle.store(lock.cast(), Ordering::SeqCst);
        ok("acquire", call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)));
    }
    // The acquire returned: the callback may free the lock now. Freeing
    // releases it (HELD -> UNLOCKED), which must not reach the callback.
    probe.set_go();
    probe.wait_freed();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(*probe.calls.lock().unwrap(), [(ZKU_LOCK_UNLOCKED, ZKU_LOCK_HELD)]);
    probe.check_clean();
    assert!(!exists(&client, &path), "freeing from inside released the lock");
}

#[test]
fn a_client_freed_from_inside_its_callback_is_not_called_again() {
    let mut server = ZkServer::start();
    let client = CClient::connect(&server.connect_string(), 2000);
    let probe = Probe::new();
    // SAFETY: live client; the probe outlives it.
    unsafe {
        ok(
            "set_state_callback",
            call(|e| {
                zku_client_set_state_callback(
                    client.ptr(),
                    Some(free_client_from_inside),
                    probe.user_data(),
                    Some(on_free),
                    e,
                )
            }),
        );
    }
    // The callback owns the client from here (it frees it).
    probe.handle.store(client.0.cast(), Ordering::SeqCst);
    std::mem::forget(client);
    server.stop();
    // CONNECTED -> SUSPENDED: the callback frees the client, which closes
    // it (SUSPENDED -> CLOSED), a change that must not reach the callback.
    probe.wait_freed();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(*probe.calls.lock().unwrap(), [(ZKU_STATE_CONNECTED, ZKU_STATE_SUSPENDED)]);
    probe.check_clean();
}

#[test]
fn replacing_from_inside_keeps_one_call_at_a_time_and_the_order() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = lock_name("cb-replace");
    let first = Probe::new();
    let second = Probe::new();
    second.other.store(Arc::as_ptr(&first) as *mut Probe, Ordering::SeqCst);
    REPLACEMENT.store(Arc::as_ptr(&second) as *mut Probe, Ordering::SeqCst);
    let lock = new_lock(&client, &name);
    // SAFETY: live lock; the probes outlive it.
    unsafe {
        set_lock_callback(lock, replace_from_inside, &first);
        first.handle.store(lock.cast(), Ordering::SeqCst);
        ok("acquire", call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)));
        // Released while the first callback still runs (it replaced itself
        // and lingers): the change goes to the second, after the first
        // returned.
        first.wait_go();
        ok("release", call(|e| zku_lock_release(lock, 5000, None, e)));
        assert_eq!(second.wait_calls(1), [(ZKU_LOCK_HELD, ZKU_LOCK_UNLOCKED)], "old is the previous call's new");
        first.wait_freed();
        zku_lock_free(lock);
    }
    assert_eq!(*first.calls.lock().unwrap(), [(ZKU_LOCK_UNLOCKED, ZKU_LOCK_HELD)]);
    first.check_clean();
    second.removed.store(true, Ordering::SeqCst);
    second.check_clean();
}

#[test]
fn a_stuck_state_callback_skips_the_oldest_changes_and_gets_the_latest() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let name = lock_name("cb-stuck");
    let probe = Probe::new();
    *probe.stuck.lock().unwrap() = true;
    let lock = new_lock(&client, &name);
    // SAFETY: live lock; the probe outlives it.
    unsafe {
        set_lock_callback(lock, record_blocking, &probe);
        ok("acquire", call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)));
        probe.wait_calls(1);
        // 100 more changes while the callback is stuck in its first call.
        for _ in 0..50 {
            ok("release", call(|e| zku_lock_release(lock, 5000, None, e)));
            ok("acquire", call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)));
        }
        ok("release", call(|e| zku_lock_release(lock, 5000, None, e)));
        probe.unstick();
        // The first call, then at most the 16 most recent changes (the
        // oldest were skipped), ending on the latest state.
        let deadline = Instant::now() + WAIT;
        while probe.calls.lock().unwrap().last() != Some(&(ZKU_LOCK_HELD, ZKU_LOCK_UNLOCKED)) {
            assert!(Instant::now() < deadline, "the latest state is delivered");
            thread::sleep(Duration::from_millis(10));
        }
        thread::sleep(Duration::from_millis(300));
        let calls = probe.calls.lock().unwrap().clone();
        assert!(calls.len() <= 1 + 16, "{} calls for 102 changes", calls.len());
        assert_eq!(calls[0], (ZKU_LOCK_UNLOCKED, ZKU_LOCK_HELD));
        assert!(calls.windows(2).all(|w| w[0].1 == w[1].0), "old is the previous call's new: {calls:?}");
        assert_eq!(calls.last().unwrap().1, ZKU_LOCK_UNLOCKED, "the latest state is delivered");
        zku_lock_free(lock);
    }
    probe.removed.store(true, Ordering::SeqCst);
    probe.check_clean();
}

#[test]
fn a_callback_may_block_and_free_another_handle_while_every_thread_is_busy() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    // Three callbacks stuck in their first call, and the one below: every
    // delivery thread (4) is busy, so the other lock's callback can only be
    // served by the free call itself.
    let blockers: Vec<_> = (0..3)
        .map(|i| {
            let probe = Probe::new();
            *probe.stuck.lock().unwrap() = true;
            let lock = new_lock(&client, &lock_name(&format!("cb-busy-{i}")));
            // SAFETY: live lock; the probe outlives it.
            unsafe {
                set_lock_callback(lock, record_blocking, &probe);
                ok("acquire", call(|e| zku_lock_acquire(lock, 5000, None, null_mut(), e)));
            }
            probe.wait_calls(1);
            (lock, probe)
        })
        .collect();
    let (a, b) = (Probe::new(), Probe::new());
    let lock_a = new_lock(&client, &lock_name("cb-busy-a"));
    let lock_b = new_lock(&client, &lock_name("cb-busy-b"));
    // SAFETY: live locks; the probes outlive them; lock_b is handed over to
    // a's callback, which frees it.
    unsafe {
        set_lock_callback(lock_b, record_blocking, &b);
        set_lock_callback(lock_a, acquire_and_free_another, &a);
        a.handle.store(lock_b.cast(), Ordering::SeqCst);
        ok("acquire a", call(|e| zku_lock_acquire(lock_a, 5000, None, null_mut(), e)));
    }
    a.set_go();
    let deadline = Instant::now() + WAIT;
    while !a.removed.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the callback did not finish: blocked on a busy pool?");
        thread::sleep(Duration::from_millis(10));
    }
    // b's changes (HELD, then UNLOCKED by the free) were delivered by the
    // free or coalesced away; either way it ended clean, and its last
    // state seen is UNLOCKED.
    b.removed.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(200));
    let calls = b.calls.lock().unwrap().clone();
    assert!(calls.windows(2).all(|w| w[0].1 == w[1].0), "old is the previous new: {calls:?}");
    assert!(calls.last().is_none_or(|c| c.1 == ZKU_LOCK_UNLOCKED), "{calls:?}");
    b.check_clean();
    for (lock, probe) in blockers {
        probe.unstick();
        // SAFETY: live lock, freed once.
        unsafe { zku_lock_free(lock) };
        probe.removed.store(true, Ordering::SeqCst);
        probe.check_clean();
    }
    // SAFETY: live lock, freed once.
    unsafe { zku_lock_free(lock_a) };
    assert_eq!(a.freed.load(Ordering::SeqCst), 1);
}
