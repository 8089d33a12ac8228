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
//! A caller's [`Cancel`] is an atomic flag and nothing else, so that firing
//! it is async-signal-safe (a C signal handler may call
//! `zku_cancel_cancel`): no lock, no allocation, no system call. Waking a
//! waiter at once would need one of those (a waker list behind a lock, or a
//! descriptor per cancel object), so waiters poll such flags, every
//! [`POLL`], and only while a call under one is blocked. A client's close
//! is never fired from a signal handler: its flag also wakes the waiters at
//! once, and costs nothing while they wait.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;

use crate::client::Client;
use crate::error::{Code, Error, Result};

/// How often a blocked call looks at its stops: well under the 50 ms within
/// which a cancelled call returns, and cheap (one timer per blocked call).
pub(crate) const POLL: Duration = Duration::from_millis(5);

/// A cancellation flag, shared by its clones. Sticky: once cancelled it
/// stays cancelled, and a call started under it fails at once.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<Flag>,
}

#[derive(Debug, Default)]
struct Flag {
    fired: AtomicBool,
    /// Set for flags never fired from a signal handler: waiters are woken
    /// through it instead of polling.
    wake: Option<Notify>,
}

impl Cancel {
    /// A flag that may be fired from a signal handler (waiters poll it).
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A flag fired only from ordinary threads, which wakes waiters at once.
    pub(crate) fn waking() -> Cancel {
        Cancel { flag: Arc::new(Flag { fired: AtomicBool::new(false), wake: Some(Notify::new()) }) }
    }

    /// Cancels every call running or started under this flag. For a flag
    /// from [`Cancel::new`] it is one atomic store: safe from any thread
    /// and from a signal handler.
    pub fn cancel(&self) {
        self.flag.fired.store(true, Ordering::Release);
        if let Some(wake) = &self.flag.wake {
            wake.notify_waiters();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.fired.load(Ordering::Acquire)
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
/// The stops of one blocking call, shared by its waits.
type CallStops = Arc<Stops>;

thread_local! {
    /// The stops of the scopes open on this thread, innermost last.
    static SCOPE: RefCell<Stops> = const { RefCell::new(Vec::new()) };
}

tokio::task_local! {
    /// The stops of the blocking call whose future this is.
    static TASK_STOPS: CallStops;
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
    let stops = SCOPE.with(|scope| Arc::new(scope.borrow().clone()));
    TASK_STOPS.scope(stops, fut)
}

/// Wraps a background task's future so that its waits end with
/// [`Code::Closed`] once `closed` (a client's close signal) fires.
pub(crate) fn until_closed<F: Future>(closed: &Cancel, fut: F) -> impl Future<Output = F::Output> {
    TASK_STOPS.scope(Arc::new(vec![Stop { flag: closed.clone(), code: Code::Closed }]), fut)
}

fn current() -> CallStops {
    TASK_STOPS.try_with(CallStops::clone).unwrap_or_else(|_| SCOPE.with(|scope| Arc::new(scope.borrow().clone())))
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

/// Whether the current call has a stop that must be polled (one that does
/// not wake its waiters).
pub(crate) fn needs_polling() -> bool {
    current().iter().any(|s| s.flag.flag.wake.is_none())
}

/// Resolves with the error of the first stop of the current call to fire;
/// never, when the call has none (e.g. a background task).
pub(crate) async fn stopped() -> Error {
    let stops = current();
    if stops.is_empty() {
        return std::future::pending().await;
    }
    let polled = stops.iter().any(|s| s.flag.flag.wake.is_none());
    loop {
        // Registered before the check, so no wake-up is lost in between.
        let mut woken: Vec<_> =
            stops.iter().filter_map(|s| s.flag.flag.wake.as_ref()).map(|w| Box::pin(w.notified())).collect();
        if let Err(e) = fired(&stops) {
            return e;
        }
        let any_woken = std::future::poll_fn(|cx| {
            if woken.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) { Poll::Ready(()) } else { Poll::Pending }
        });
        if polled {
            tokio::select! {
                _ = any_woken => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        } else {
            any_woken.await;
        }
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
    fn a_waking_flag_wakes_without_polling() {
        let close = Cancel::waking();
        let fire = close.clone();
        let deadline = Timeout::Forever.deadline();
        let err = scope(Some(&close), None, || {
            assert!(!needs_polling());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                fire.cancel();
            });
            runtime::block_on(async { deadline.run("sleep", tokio::time::sleep(Duration::from_secs(5))).await })
        })
        .unwrap_err();
        assert_eq!(err.code(), Code::Cancelled);
        let polled = Cancel::new();
        scope(Some(&polled), None, || {
            assert!(needs_polling());
            Ok(())
        })
        .unwrap();
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
