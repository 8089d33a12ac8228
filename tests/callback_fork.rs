//! Callback delivery in child processes. After fork() the child starts a
//! pool of its own (the parent's threads do not exist there) and never
//! touches what it inherited: an inherited delivery neither calls nor drops
//! its callback, and dropping it does not wait for the parent's threads.
//! A process whose address space has no room for a thread shows that a
//! failed thread start is an error (`ResourceExhausted`), not a panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::Code;
use zkutil::dispatch::{Delivery, StateQueue};

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

fn counting(counts: &Arc<Counts>) -> Delivery<StateQueue<u32>> {
    let d = Delivery::new(StateQueue::new(0));
    let guard = CountDrop(counts.clone());
    d.set_callback(Some(Box::new(move |_| {
        guard.0.calls.fetch_add(1, Ordering::SeqCst);
    })))
    .unwrap();
    d
}

/// What the child checks; its exit code says which check failed.
fn child(inherited: &mut Option<Delivery<StateQueue<u32>>>, counts: &Counts) -> i32 {
    let (tx, rx) = mpsc::channel();
    let fresh = Delivery::new(StateQueue::new(0));
    if fresh.set_callback(Some(Box::new(move |change| tx.send(change).unwrap()))).is_err() {
        return 2;
    }
    fresh.post(1);
    if rx.recv_timeout(WAIT) != Ok((0, 1)) {
        return 3;
    }
    let inherited = inherited.take().unwrap();
    inherited.post(7);
    inherited.close();
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
    let mut inherited = Some(counting(&counts));
    inherited.as_ref().unwrap().post(1);
    let deadline = Instant::now() + WAIT;
    while counts.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the parent's pool delivers");
        thread::sleep(Duration::from_millis(5));
    }
    let pid = fork(|| child(&mut inherited, &counts));
    let inherited = inherited.unwrap();
    assert_eq!(wait_child(pid), 0, "child check failed (see `child`)");
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

/// Runs `body` in a child process, which exits with its result.
fn fork(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `body` and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = body();
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// The child's exit code; fails the test if it hangs or dies.
fn wait_child(pid: libc::pid_t) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: our own child; `status` is a valid out-parameter.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
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
    libc::WEXITSTATUS(status)
}

/// The process's address space in bytes (VmSize).
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line["VmSize:".len()..].trim().trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

#[test]
fn a_thread_that_cannot_start_is_an_error_not_a_panic() {
    const CHILD: &str = "ZKU_TEST_NO_ROOM_FOR_THREADS";
    if std::env::var_os(CHILD).is_none() {
        // A fresh process: a forked one would reuse the stacks of the
        // parent's threads and need no new memory for a thread.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "a_thread_that_cannot_start_is_an_error_not_a_panic", "--test-threads=1"])
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the check in the child process failed: {status}");
        return;
    }
    // Room for small allocations, none for a thread's stack.
    let limit = address_space() + 256 * 1024;
    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: a valid rlimit for this (child) process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    let d = Delivery::new(StateQueue::new(0u32));
    let err = d.set_callback(Some(Box::new(|_| {}))).unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    assert!(err.to_string().contains("thread"), "{err}");
}
