//! An operation started without blocking, for event loops: a blocking core
//! call (a lock acquire, a wait) runs on a thread of its own; its end makes
//! a descriptor readable, and the outcome is then collected without
//! blocking. Cancelled through the same stops as a blocking call
//! ([`crate::cancel::scope`]): the operation's own flag, the handle it runs
//! on, and its client's close.
//!
//! Threads, not tasks: the recipes are blocking calls that wait with
//! `runtime::block_on`, which must not run on a runtime thread, and the
//! callback delivery pool must not be blocked for long. One thread per
//! running operation, at most [`MAX_RUNNING`] per process.

use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cancel::{self, Cancel};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::notify::Pollable;

/// How many operations may run at once in a process; one more fails with
/// [`Code::ResourceExhausted`] until one ends.
pub const MAX_RUNNING: u32 = 256;

/// How long dropping a running operation waits for it to stop after
/// cancelling it. A cancelled call returns within 50 ms (cleanups that
/// must still happen go on in the background); the rest is margin for a
/// loaded machine. Past it the thread is left to finish on its own.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// A blocking call running on its own thread. Dropping it cancels the call
/// and waits for it to stop (at most [`STOP_WAIT`]).
pub struct Op<T> {
    shared: Arc<Shared<T>>,
    cancel: Cancel,
    client: Client,
    thread: Option<JoinHandle<()>>,
}

struct Shared<T> {
    outcome: Mutex<Option<Result<T>>>,
    finished: Condvar,
    /// Signalled once, when the outcome is in; never drained, so it stays
    /// readable until the operation is dropped.
    done: Pollable,
}

impl<T: Clone + Send + 'static> Op<T> {
    /// Runs `call` on a new thread under the operation's cancel flag, the
    /// close of `client`, and `handle` (fired when the handle the call runs
    /// on goes away). Never blocks. Errors: [`Code::Forked`] (a client of
    /// the parent process), [`Code::ResourceExhausted`] (already
    /// [`MAX_RUNNING`] operations, or no thread could be started),
    /// [`Code::SystemError`] (no descriptor left).
    pub fn start(
        client: &Client,
        handle: Option<&Cancel>,
        call: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<Op<T>> {
        client.check_process()?;
        let shared = Arc::new(Shared { outcome: Mutex::new(None), finished: Condvar::new(), done: Pollable::new()? });
        let slot = Slot::take()?;
        let cancel = Cancel::waking();
        let body = {
            let (shared, cancel, client, handle) = (shared.clone(), cancel.clone(), client.clone(), handle.cloned());
            move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    cancel::scope(handle.as_ref(), None, || cancel::scope(Some(&cancel), Some(&client), call))
                }))
                .unwrap_or_else(|_| Err(Error::new(Code::Panic, "internal panic in an operation")));
                shared.finish(outcome);
                drop(slot);
            }
        };
        let thread = std::thread::Builder::new().name("zkutil-op".to_string()).spawn(body).map_err(|e| {
            Error::new(Code::ResourceExhausted, format!("cannot start a thread for the operation: {e}"))
        })?;
        Ok(Op { shared, cancel, client: client.clone(), thread: Some(thread) })
    }

    /// The outcome once the call returned (a copy: ask as often as you
    /// like), `None` while it runs. Never blocks.
    pub fn outcome(&self) -> Option<Result<T>> {
        self.shared.lock().clone()
    }
}

impl<T> Op<T> {
    /// A descriptor that becomes readable when the call has returned, and
    /// stays readable until the operation is dropped (nothing to read or
    /// drain). It belongs to the operation: do not close it.
    pub fn fd(&self) -> RawFd {
        self.shared.done.fd()
    }

    /// Makes the call end with [`Code::Cancelled`] promptly, unless it has
    /// returned already (then its outcome stands). Never blocks.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The client the call runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl<T> Drop for Op<T> {
    fn drop(&mut self) {
        // In a fork() child the thread is the parent's: nothing to stop.
        if self.client.check_process().is_err() {
            return;
        }
        self.cancel.cancel();
        let finished = {
            let outcome = self.shared.lock();
            let (outcome, _) = self
                .shared
                .finished
                .wait_timeout_while(outcome, STOP_WAIT, |o| o.is_none())
                .unwrap_or_else(|e| e.into_inner());
            outcome.is_some()
        };
        // Once finished the thread only has its clones to drop: joining is
        // quick. Otherwise it is left to end on its own (it keeps what it
        // uses alive).
        if let (true, Some(thread)) = (finished, self.thread.take()) {
            let _ = thread.join();
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Option<Result<T>>> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, outcome: Result<T>) {
        *self.lock() = Some(outcome);
        self.finished.notify_all();
        self.done.signal();
    }
}

/// The process's running operations: the count in the low 32 bits, the
/// pid that counted them in the high ones, so a fork() child starts from
/// zero (the parent's threads do not exist there). An atomic, not a lock:
/// a lock held by a parent thread at fork would stay held in the child.
static RUNNING: AtomicU64 = AtomicU64::new(0);

/// One of the [`MAX_RUNNING`] places, given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Result<Slot> {
        let pid = u64::from(std::process::id());
        let mut current = RUNNING.load(Ordering::Acquire);
        loop {
            let count = if current >> 32 == pid { current & u64::from(u32::MAX) } else { 0 };
            if count >= u64::from(MAX_RUNNING) {
                return Err(Error::new(
                    Code::ResourceExhausted,
                    format!("{MAX_RUNNING} operations are running already: wait for one to end"),
                ));
            }
            match RUNNING.compare_exchange_weak(current, pid << 32 | (count + 1), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(Slot),
                Err(now) => current = now,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let pid = u64::from(std::process::id());
        let _ = RUNNING.fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
            (current >> 32 == pid && current & u64::from(u32::MAX) > 0).then(|| current - 1)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_running_places() {
        // Other unit tests start no operation, so every place is free.
        let taken: Vec<Slot> = (0..MAX_RUNNING).map(|_| Slot::take().expect("a free place")).collect();
        let err = Slot::take().err().expect("no place left");
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(err.to_string().contains("operations are running already"), "{err}");
        drop(taken);
        drop(Slot::take().expect("places given back"));
        assert_eq!(RUNNING.load(Ordering::Acquire) & u64::from(u32::MAX), 0);
    }
}
