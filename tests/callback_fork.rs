//! Callback delivery after fork(): the child starts a pool of its own (the
//! parent's threads do not exist there) and never touches what it
//! inherited: an inherited delivery neither calls nor drops its callback,
//! and dropping it does not wait for the parent's threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::dispatch::{Delivery, Latest};

const WAIT: Duration = Duration::from_secs(5);

/// Counts calls, and drops (the callback's own drop, as `user_data_free`).
#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    drops: AtomicUsize,
}

struct CountDrop(Arc<Counts>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting(counts: &Arc<Counts>) -> Delivery<Latest<u32>> {
    let d = Delivery::new(Latest::new(0));
    let guard = CountDrop(counts.clone());
    d.set_callback(Some(Box::new(move |_| {
        guard.0.calls.fetch_add(1, Ordering::SeqCst);
    })))
    .unwrap();
    d
}

/// What the child checks; its exit code says which check failed.
fn child(inherited: Delivery<Latest<u32>>, counts: &Counts) -> i32 {
    let (tx, rx) = mpsc::channel();
    let fresh = Delivery::new(Latest::new(0));
    if fresh.set_callback(Some(Box::new(move |change| tx.send(change).unwrap()))).is_err() {
        return 2;
    }
    fresh.post(1);
    if rx.recv_timeout(WAIT) != Ok((0, 1)) {
        return 3;
    }
    inherited.post(7);
    drop(inherited);
    thread::sleep(Duration::from_millis(100));
    if counts.calls.load(Ordering::SeqCst) != 1 || counts.drops.load(Ordering::SeqCst) != 0 {
        return 4;
    }
    fresh.close();
    0
}

#[test]
fn a_forked_child_delivers_on_its_own_threads_and_leaves_inherited_ones_alone() {
    let counts = Arc::new(Counts::default());
    let inherited = counting(&counts);
    inherited.post(1);
    let deadline = Instant::now() + WAIT;
    while counts.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the parent's pool delivers");
        thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: the child only runs `child` and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child(inherited, &counts);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: our own child; `status` is a valid out-parameter.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung");
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "the child died: status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child check failed (see `child`)");
    // The parent's delivery is untouched by the child.
    inherited.post(2);
    let deadline = Instant::now() + WAIT;
    while counts.calls.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the parent still delivers");
        thread::sleep(Duration::from_millis(5));
    }
    inherited.close();
    assert_eq!(counts.drops.load(Ordering::SeqCst), 1);
}
