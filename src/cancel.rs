//! Stopping a blocking call early: the caller's [`Cancel`] and the close of
//! the call's client.
//!
//! Blocking functions keep their [`Timeout`](crate::runtime::Timeout)
//! argument; what may stop them reaches their waits as an ambient scope.
//! [`scope`] records the stops on the calling thread; `runtime::block_on`
//! carries them into the future it runs (a task-local), where
//! `Deadline::run` and `Client::ready` end with [`Code::Cancelled`] or
//! [`Code::Closed`] when one fires. Tasks spawned in the background (the
//! cleanups that must still happen) are outside every scope: they are never
//! cancelled.
//!
//! A stop is an atomic flag and nothing else, so that firing it is
//! async-signal-safe (a C signal handler may call `zku_cancel_cancel`): no
//! lock, no allocation, no system call. Waking a waiter at once would need
//! one of those (a waker list behind a lock, or a descriptor per cancel
//! object), so waiters poll the flags instead, every [`POLL`], and only
//! while a call with a stop is blocked.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::client::Client;
use crate::error::{Code, Error, Result};

/// How often a blocked call looks at its stops: well under the 50 ms within
/// which a cancelled call returns, and cheap (one timer per blocked call).
pub(crate) const POLL: Duration = Duration::from_millis(5);

/// A cancellation flag, shared by its clones. Sticky: once cancelled it
/// stays cancelled, and a call started under it fails at once.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    fired: Arc<AtomicBool>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels every call running or started under this flag. One atomic
    /// store: safe from any thread and from a signal handler.
    pub fn cancel(&self) {
        self.fired.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}

/// One thing that may stop the calls in a scope, and the code they end with.
#[derive(Debug, Clone)]
struct Stop {
    flag: Cancel,
    code: Code,
}

impl Stop {
    fn error(&self) -> Error {
        match self.code {
            Code::Closed => Error::closed("client is closed"),
            code => Error::new(code, "cancelled"),
        }
    }
}

type Stops = Vec<Stop>;

thread_local! {
    /// The stops of the scopes open on this thread, innermost last.
    static SCOPE: RefCell<Stops> = const { RefCell::new(Vec::new()) };
}

tokio::task_local! {
    /// The stops of the blocking call whose future this is.
    static TASK_STOPS: Stops;
}

/// Runs `f` (a blocking call) so that it ends early with [`Code::Cancelled`]
/// once `cancel` fires and with [`Code::Closed`] once `client` is closed
/// (see [`Client::close`]). A stop that fired already fails the call at
/// once, before anything is sent. Scopes nest: an inner call (e.g. from a
/// CAS update's callback) is stopped by the outer scope's stops too.
pub fn scope<T>(cancel: Option<&Cancel>, client: Option<&Client>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let added: Stops = cancel
        .map(|c| Stop { flag: c.clone(), code: Code::Cancelled })
        .into_iter()
        .chain(client.map(|c| Stop { flag: c.close_signal().clone(), code: Code::Closed }))
        .collect();
    if let Some(fired) = added.iter().find(|s| s.flag.is_cancelled()) {
        return Err(fired.error());
    }
    let count = added.len();
    SCOPE.with(|scope| scope.borrow_mut().extend(added));
    // Pops this scope's stops also when `f` panics.
    struct Pop(usize);
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPE.with(|scope| {
                let mut scope = scope.borrow_mut();
                let keep = scope.len() - self.0;
                scope.truncate(keep);
            });
        }
    }
    let _pop = Pop(count);
    f()
}

/// Wraps a future run by `runtime::block_on` so that it sees the stops of
/// the calling thread's scopes.
pub(crate) fn carry<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let stops = SCOPE.with(|scope| scope.borrow().clone());
    TASK_STOPS.scope(stops, fut)
}

fn current() -> Stops {
    TASK_STOPS.try_with(Stops::clone).unwrap_or_else(|_| SCOPE.with(|scope| scope.borrow().clone()))
}

fn fired(stops: &Stops) -> Result<()> {
    match stops.iter().find(|s| s.flag.is_cancelled()) {
        Some(stop) => Err(stop.error()),
        None => Ok(()),
    }
}

/// Fails when a stop of the current call fired (inside or outside the
/// runtime).
pub(crate) fn check() -> Result<()> {
    fired(&current())
}

/// Whether the current call has stops (which must then be polled).
pub(crate) fn in_scope() -> bool {
    !current().is_empty()
}

/// Resolves with the error of the first stop of the current call to fire;
/// never, when the call has none (e.g. a background task).
pub(crate) async fn stopped() -> Error {
    let stops = current();
    if stops.is_empty() {
        return std::future::pending().await;
    }
    loop {
        if let Err(e) = fired(&stops) {
            return e;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{self, Timeout};

    #[test]
    fn a_fired_cancel_fails_at_once() {
        let cancel = Cancel::new();
        cancel.cancel();
        let mut ran = false;
        let err = scope(Some(&cancel), None, || {
            ran = true;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.code(), Code::Cancelled);
        assert!(!ran);
    }

    #[test]
    fn deadline_run_ends_when_cancelled() {
        let cancel = Cancel::new();
        let fire = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            fire.cancel();
        });
        let deadline = Timeout::Forever.deadline();
        let err = scope(Some(&cancel), None, || {
            runtime::block_on(async { deadline.run("sleep", tokio::time::sleep(Duration::from_secs(5))).await })
        })
        .unwrap_err();
        assert_eq!(err.code(), Code::Cancelled);
    }

    #[test]
    fn scopes_nest_and_end() {
        let outer = Cancel::new();
        let inner = Cancel::new();
        scope(Some(&outer), None, || {
            scope(Some(&inner), None, || {
                assert_eq!(current().len(), 2);
                Ok(())
            })?;
            assert_eq!(current().len(), 1);
            outer.cancel();
            assert_eq!(check().unwrap_err().code(), Code::Cancelled);
            Ok(())
        })
        .unwrap();
        assert!(current().is_empty());
    }

    #[test]
    fn background_tasks_are_never_stopped() {
        let cancel = Cancel::new();
        let spawned = scope(Some(&cancel), None, || {
            Ok(runtime::block_on(async { runtime::handle().spawn(async { current().len() }).await }))
        });
        assert_eq!(spawned.unwrap().unwrap(), 0);
    }
}
