//! Helpers for tests that follow a lock's states through the Rust API.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::{Lock, LockState};

/// Records every (old, new) state change the lock's callback reports.
pub fn record_states(l: &Lock) -> Arc<Mutex<Vec<(LockState, LockState)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    l.set_state_callback(Some(Box::new(move |old, new| sink.lock().unwrap().push((old, new))))).unwrap();
    seen
}

/// Polls until the lock is in `want`; fails the test after `within`.
pub fn wait_for_state(l: &Lock, want: LockState, within: Duration) {
    let deadline = Instant::now() + within;
    while l.state() != want {
        assert!(Instant::now() < deadline, "state {:?}, expected {want:?}", l.state());
        thread::sleep(Duration::from_millis(10));
    }
}
