//! The private tokio runtime that drives every ZooKeeper session, and the
//! timeout type every blocking call takes.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_utils::atomic::AtomicCell;
use tokio::runtime::Runtime;

use crate::cancel;
use crate::error::{Code, Error, Result};

/// The runtime of one process. A child made by fork() inherits the parent's
/// memory but none of its threads, so the parent's runtime is dead there:
/// the child starts its own and never drops, joins or touches the parent's
/// (it stays allocated, unused, for the life of the child).
struct ProcessRuntime {
    pid: u32,
    runtime: OnceLock<Runtime>,
}

/// A `&'static ProcessRuntime` compared by address, so that it can live in
/// an [`AtomicCell`].
#[derive(Clone, Copy)]
struct RuntimeRef(&'static ProcessRuntime);

impl PartialEq for RuntimeRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for RuntimeRef {}

// The current process's runtime. An atomic word, not a lock: a parent
// thread may be anywhere at the moment of fork(), and a lock it held would
// stay held for ever in the child. The only waiting is on `runtime`'s
// OnceLock while another thread of the same process builds it; a child
// never waits on the parent's, as it never uses the parent's entry.
static CURRENT: AtomicCell<Option<RuntimeRef>> = AtomicCell::new(None);
const _: () = assert!(AtomicCell::<Option<RuntimeRef>>::is_lock_free());

/// This process's runtime, started on first use in each process. Costs one
/// getpid() and two atomic loads.
fn current() -> &'static Runtime {
    let pid = std::process::id();
    let entry = match CURRENT.load() {
        Some(RuntimeRef(entry)) if entry.pid == pid => entry,
        seen => claim(pid, seen),
    };
    entry.runtime.get_or_init(start)
}

/// Installs an entry for this process in place of `seen` (none yet, or the
/// parent's). Threads of this process racing here agree on the first entry
/// installed; the losers' empty entries (a few bytes) are never used.
#[cold]
fn claim(pid: u32, seen: Option<RuntimeRef>) -> &'static ProcessRuntime {
    let fresh = RuntimeRef(Box::leak(Box::new(ProcessRuntime { pid, runtime: OnceLock::new() })));
    match CURRENT.compare_exchange(seen, Some(fresh)) {
        Ok(_) => fresh.0,
        // Only threads of this process write CURRENT here, and only entries
        // for this pid: the winner's is ours.
        Err(winner) => winner.expect("zkutil: runtime entry vanished").0,
    }
}

// Two workers are enough for network I/O; callers block on their own
// threads. Sessions are cheap tasks on it.
fn start() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zkutil-runtime")
        .on_thread_start(block_sigpipe)
        .enable_all()
        .build()
        .expect("zkutil: cannot start the tokio runtime")
}

/// Blocks SIGPIPE in a runtime thread (workers and the blocking pool): the
/// sockets are written there, with writev, which unlike send() has no
/// MSG_NOSIGNAL, and a server closing the connection during a write would
/// otherwise kill a host process that keeps SIGPIPE's default action. The
/// write fails with EPIPE instead, and the session reconnects.
fn block_sigpipe() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).expect("zkutil: cannot block SIGPIPE");
}

pub(crate) fn handle() -> &'static tokio::runtime::Handle {
    current().handle()
}

/// Runs `fut` to completion on the calling thread, its I/O driven by the
/// runtime. Never called from a runtime thread: callbacks run on dispatcher
/// threads, not here. The future sees the stops of the calling thread's
/// `cancel::scope`.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    current().block_on(cancel::carry(fut))
}

/// Runs `fut` as a task on a runtime thread and waits for it, for futures
/// that write to a socket themselves (the crate's connect handshake): the
/// runtime's threads block SIGPIPE, the caller's may not.
pub(crate) fn block_on_runtime_thread<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The task sees the caller's cancel and its client's close too.
    let task = handle().spawn(cancel::carry(fut));
    block_on(task).map_err(|e| Error::new(Code::Panic, format!("runtime task failed: {e}")))
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
