//! Callbacks are delivered by a few threads per process, not one per
//! handle: 1,000 locks with state callbacks on one client add at most 4
//! threads. Alone in its test binary, so no other test's threads count.

mod capi;
mod common;

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use capi::{CClient, call, cs, ok};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::lock::*;

const LOCKS: usize = 1000;

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count(_: *mut c_void, _: i32, _: i32) {
    CALLS.fetch_add(1, Ordering::SeqCst);
}

fn wait_calls(n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while CALLS.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "{} of {n} callbacks", CALLS.load(Ordering::SeqCst));
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_thousand_locks_with_callbacks_add_at_most_four_threads() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let prefix = unique_path("cb-threads");
    let locks: Vec<_> = (0..LOCKS)
        .map(|i| {
            let name = cs(&format!("{}-{i}", &prefix[1..]));
            let mut lock = null_mut();
            // SAFETY: live client and string.
            ok(
                "lock_new",
                call(|e| unsafe { zku_lock_new(client.ptr(), name.as_ptr(), null(), 0, 5000, &mut lock, e) }),
            );
            lock
        })
        .collect();
    // One acquire and release without a callback: the runtime has all the
    // threads it uses for this.
    // SAFETY: live lock.
    unsafe {
        ok("acquire", call(|e| zku_lock_acquire(locks[0], 5000, None, null_mut(), e)));
        ok("release", call(|e| zku_lock_release(locks[0], 5000, None, e)));
    }
    let before = threads();
    for &lock in &locks {
        // SAFETY: live lock; `count` needs no user data.
        ok("callback", call(|e| unsafe { zku_lock_set_state_callback(lock, Some(count), null_mut(), None, e) }));
    }
    for &lock in &locks {
        // SAFETY: live lock.
        ok("acquire", call(|e| unsafe { zku_lock_acquire(lock, 5000, None, null_mut(), e) }));
    }
    wait_calls(LOCKS);
    let after = threads();
    eprintln!("threads: {before} before, {after} with {LOCKS} locks held and their callbacks called");
    assert!(after <= before + 4, "{before} threads before, {after} after");
    for lock in locks {
        // SAFETY: live lock, freed once (releases it: one more callback).
        unsafe { zku_lock_free(lock) };
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 2 * LOCKS, "every lock saw HELD, then UNLOCKED when freed");
}
