//! The private tokio runtime that drives every ZooKeeper session, and the
//! timeout type every blocking call takes.

use std::future::Future;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use tokio::runtime::Runtime;

use crate::cancel;
use crate::error::{Error, Result};

// One runtime for the process: sessions are cheap tasks on it. Two workers
// are enough for network I/O; callers block on their own threads.
static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zkutil-runtime")
        .enable_all()
        .build()
        .expect("zkutil: cannot start the tokio runtime")
});

pub(crate) fn handle() -> &'static tokio::runtime::Handle {
    RUNTIME.handle()
}

/// Runs `fut` to completion on the calling thread, its I/O driven by the
/// runtime. Never called from a runtime thread: callbacks run on dispatcher
/// threads, not here. The future sees the stops of the calling thread's
/// `cancel::scope`.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    RUNTIME.block_on(cancel::carry(fut))
}

/// How long a blocking call may wait, in the C API's terms:
/// -1 waits forever, 0 makes one attempt without waiting, N waits N ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    Forever,
    NoWait,
    After(Duration),
}

impl Timeout {
    pub fn from_ms(ms: i64) -> Result<Timeout> {
        match ms {
            -1 => Ok(Timeout::Forever),
            0 => Ok(Timeout::NoWait),
            ms if ms > 0 => Ok(Timeout::After(Duration::from_millis(ms as u64))),
            ms => Err(Error::invalid_argument(format!("timeout_ms must be -1, 0 or positive, got {ms}"))),
        }
    }

    pub fn from_duration(d: Duration) -> Timeout {
        if d.is_zero() { Timeout::NoWait } else { Timeout::After(d) }
    }

    /// The instant this timeout ends, measured from now (`None`: never).
    pub fn deadline(self) -> Deadline {
        match self {
            Timeout::Forever => Deadline(None),
            Timeout::NoWait => Deadline(Some(Instant::now())),
            Timeout::After(d) => Deadline(Some(Instant::now() + d)),
        }
    }
}

/// A point in time after which a blocking call gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub fn never() -> Deadline {
        Deadline(None)
    }

    pub fn at(instant: Instant) -> Deadline {
        Deadline(Some(instant))
    }

    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    pub fn is_expired(self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }

    pub fn remaining(self) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The earlier of this deadline and `now + d`.
    pub fn min_after(self, d: Duration) -> Deadline {
        let other = Instant::now() + d;
        Deadline(Some(match self.0 {
            Some(at) if at < other => at,
            _ => other,
        }))
    }

    /// Awaits `fut` until the deadline, or until a stop of the call's
    /// `cancel::scope` fires; `what` names the operation in the message.
    pub async fn run<F: Future>(self, what: &str, fut: F) -> Result<F::Output> {
        let timed = async {
            match self.0 {
                None => Ok(fut.await),
                Some(at) => tokio::time::timeout_at(at.into(), fut)
                    .await
                    .map_err(|_| Error::timeout(format!("{what}: timed out"))),
            }
        };
        tokio::select! {
            biased;
            stop = cancel::stopped() => Err(stop.context(what)),
            r = timed => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_from_ms() {
        assert_eq!(Timeout::from_ms(-1).unwrap(), Timeout::Forever);
        assert_eq!(Timeout::from_ms(0).unwrap(), Timeout::NoWait);
        assert_eq!(Timeout::from_ms(5).unwrap(), Timeout::After(Duration::from_millis(5)));
        assert_eq!(Timeout::from_ms(-2).unwrap_err().code(), crate::error::Code::InvalidArgument);
    }

    #[test]
    fn deadline_run_times_out() {
        let d = Timeout::After(Duration::from_millis(20)).deadline();
        let err = block_on(async { d.run("sleep", tokio::time::sleep(Duration::from_secs(5))).await }).unwrap_err();
        assert_eq!(err.code(), crate::error::Code::OperationTimeout);
        assert!(Timeout::NoWait.deadline().is_expired());
        assert!(!Timeout::Forever.deadline().is_expired());
    }
}
