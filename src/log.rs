//! The process's log: what the library does on its own (sessions
//! connecting, reconnecting and expiring, lock and reader state changes,
//! background cleanups and their outcome, slow replies), to a callback or,
//! without one, to stderr at the level `ZKU_LOG` names.
//!
//! Cost when off: every event is written as `log_event!(level, "...", ..)`,
//! which loads one atomic and formats nothing unless some sink wants the
//! level.
//!
//! The callback runs on the callback delivery pool ([`crate::dispatch`]),
//! never on the thread that logged (often a runtime thread, or one holding
//! a handle's lock), so it may call back into the library. Messages wait
//! in a bounded queue ([`MAX_WAITING_MESSAGES`]); when the callback falls behind the
//! oldest are dropped and a warning says how many. Without a callback,
//! lines go to stderr on the logging thread.
//!
//! Per process, like the pool: a fork() child starts with no callback and
//! reads `ZKU_LOG` again when it connects.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::dispatch::{Delivery, Pending};
use crate::error::{Code, Error, Result};
use crate::lock::LockState;

/// How important an event is; each level includes the ones above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something was lost: a session expired (or its credentials were
    /// refused), a lock was lost, a reader's session ended.
    Error = 1,
    /// Trouble the library works around or reports: a connection lost, a
    /// lock suspended, a reader stale, deleted or invalid, a background
    /// cleanup attempt that failed, a slow reply, log messages dropped.
    Warn = 2,
    /// Normal life: sessions established, reconnected and closed, locks
    /// acquired and released, reader changes, cleanups done.
    Info = 3,
    /// Details: every request the client sends itself (node operations,
    /// CAS, reader and wait reads) with its reply time.
    Debug = 4,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Error, Level::Warn, Level::Info, Level::Debug];

    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// The level named `name` (`error`, `warn`, `info`, `debug`).
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == name)
    }

    pub fn from_u8(n: u8) -> Option<Level> {
        Level::ALL.into_iter().find(|l| *l as u8 == n)
    }
}

/// Called with each message at the registered level or above.
pub type LogCallback = Box<dyn FnMut(Level, &str) + Send>;

/// How many messages may wait for the callback before the oldest are
/// dropped.
pub const MAX_WAITING_MESSAGES: usize = 1024;

/// The most detailed level any sink of this process wants (0: none).
static THRESHOLD: AtomicU8 = AtomicU8::new(0);

/// Whether an event of `level` would go anywhere. One relaxed load: check
/// it before formatting anything ([`log_event!`] does).
#[inline]
pub fn enabled(level: Level) -> bool {
    level as u8 <= THRESHOLD.load(Ordering::Relaxed)
}

/// Logs an event: `log_event!(Level::Info, "lock {path}: acquired")`.
/// The message is formatted only when [`enabled`] says a sink wants it.
macro_rules! log_event {
    ($level:expr, $($arg:tt)+) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, format_args!($($arg)+));
        }
    };
}
pub(crate) use log_event;

/// Sends one event to the sink that wants it. Use [`log_event!`].
pub fn emit(level: Level, message: fmt::Arguments) {
    let sinks = sinks();
    let callback_level = sinks.callback_level.load(Ordering::Relaxed);
    if callback_level != 0 {
        if level as u8 <= callback_level {
            sinks.delivery.post(Record { level, message: message.to_string() });
        }
        return;
    }
    if level as u8 <= sinks.stderr_level.load(Ordering::Relaxed) {
        // One write per line, so lines of several threads do not mix.
        let line = format!("zkutil {}: {message}\n", level.name());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// Logs a lock handle's state change: a loss is an error (with its
/// reason), a suspension a warning, the rest information.
pub(crate) fn lock_change(path: &str, old: LockState, new: LockState, lost_reason: Option<&str>) {
    match new {
        LockState::Lost => log_event!(Level::Error, "lock {path}: {old:?} -> Lost: {}", lost_reason.unwrap_or("")),
        LockState::Suspended => log_event!(Level::Warn, "lock {path}: {old:?} -> Suspended"),
        _ => log_event!(Level::Info, "lock {path}: {old:?} -> {new:?}"),
    }
}

/// Logs one attempt of a background cleanup of lock node `path` (`what`
/// names the cleanup): information when the node was deleted, a warning
/// with the error otherwise.
pub(crate) fn cleanup<E: fmt::Display>(path: &str, what: &str, outcome: &std::result::Result<(), E>) {
    match outcome {
        Ok(()) => log_event!(Level::Info, "lock {path}: {what}: node deleted"),
        Err(e) => log_event!(Level::Warn, "lock {path}: {what}: {e}"),
    }
}

/// Replaces the process's log callback (`None` removes it; stderr under
/// `ZKU_LOG` takes over again). From outside the callback: waits for a
/// call in progress, gives the messages already queued to the old callback
/// on this thread, and drops it; after this returns it is never called
/// again. From inside the callback: returns at once and the old callback
/// is dropped when it returns (see [`Delivery::set_callback`]). Errors:
/// `ResourceExhausted` (no delivery thread could be started; nothing
/// changed).
pub fn set_callback(callback: Option<(Level, LogCallback)>) -> Result<()> {
    let sinks = sinks();
    // Setters from outside the callback take turns, so the level and the
    // callback in place belong together. One from inside never waits (the
    // replacement does not wait for the running call): it must not wait
    // for a setter that waits for this very call.
    let _turn = match IN_CALLBACK.get() {
        true => None,
        false => Some(sinks.setting.lock().unwrap_or_else(PoisonError::into_inner)),
    };
    match callback {
        Some((level, mut callback)) => {
            sinks.delivery.set_callback(Some(Box::new(move |record: Record| {
                // Queued under an older, more detailed level.
                if record.level <= level {
                    let _inside = InCallback::enter();
                    callback(record.level, &record.message);
                }
            })))?;
            sinks.callback_level.store(level as u8, Ordering::Relaxed);
        }
        None => {
            sinks.callback_level.store(0, Ordering::Relaxed);
            sinks.delivery.set_callback(None)?;
        }
    }
    sinks.update_threshold();
    Ok(())
}

/// Reads `ZKU_LOG` (the stderr level used while no callback is set) from
/// the process environment. Called by every connect, so it fails closed
/// like the other `ZKU_*` variables: set to anything but `error`, `warn`,
/// `info` or `debug` (empty included), it fails with
/// [`Code::BadConfig`] naming it, and stderr logging stays as it was.
pub fn read_env() -> Result<()> {
    let level = parse_env(std::env::var_os("ZKU_LOG"))?;
    let sinks = sinks();
    sinks.stderr_level.store(level.map_or(0, |l| l as u8), Ordering::Relaxed);
    sinks.update_threshold();
    Ok(())
}

fn parse_env(value: Option<OsString>) -> Result<Option<Level>> {
    let Some(value) = value else { return Ok(None) };
    let level = value.to_str().and_then(Level::from_name);
    match level {
        Some(level) => Ok(Some(level)),
        None => Err(Error::new(
            Code::BadConfig,
            format!("ZKU_LOG is {value:?}, not one of error, warn, info, debug (unset it for no log)"),
        )),
    }
}

thread_local! {
    /// This thread is running the log callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running the log callback until dropped (also
/// when the callback panics).
struct InCallback;

impl InCallback {
    fn enter() -> InCallback {
        IN_CALLBACK.set(true);
        InCallback
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        IN_CALLBACK.set(false);
    }
}

/// One message waiting for the callback.
pub struct Record {
    level: Level,
    message: String,
}

/// Messages in order, at most [`MAX_WAITING_MESSAGES`]; the oldest are dropped and
/// counted beyond it.
#[derive(Default)]
struct Records {
    waiting: VecDeque<Record>,
    dropped: u64,
}

impl Pending for Records {
    type In = Record;
    type Out = Record;

    fn push(&mut self, record: Record) {
        if self.waiting.len() == MAX_WAITING_MESSAGES {
            self.waiting.pop_front();
            self.dropped += 1;
        }
        self.waiting.push_back(record);
    }

    fn pop(&mut self) -> Option<Record> {
        if self.dropped > 0 {
            let n = std::mem::take(&mut self.dropped);
            let message = format!("{n} log messages were dropped: the log callback fell behind");
            return Some(Record { level: Level::Warn, message });
        }
        self.waiting.pop_front()
    }

    fn waiting(&self) -> usize {
        self.waiting.len() + usize::from(self.dropped > 0)
    }

    fn clear(&mut self) {
        self.waiting.clear();
        self.dropped = 0;
    }
}

/// This process's sinks. A fork() child appends its own (like the
/// delivery pool), never touching the parent's lock or callback.
struct Sinks {
    pid: u32,
    /// `ZKU_LOG`'s level as last read (0: unset).
    stderr_level: AtomicU8,
    /// The callback's level (0: no callback).
    callback_level: AtomicU8,
    delivery: Delivery<Records>,
    setting: Mutex<()>,
    child: OnceLock<&'static Sinks>,
}

impl Sinks {
    fn new(pid: u32) -> &'static Sinks {
        Box::leak(Box::new(Sinks {
            pid,
            stderr_level: AtomicU8::new(0),
            callback_level: AtomicU8::new(0),
            delivery: Delivery::new(Records::default()),
            setting: Mutex::new(()),
            child: OnceLock::new(),
        }))
    }

    fn update_threshold(&self) {
        let callback = self.callback_level.load(Ordering::Relaxed);
        let level = if callback != 0 { callback } else { self.stderr_level.load(Ordering::Relaxed) };
        THRESHOLD.store(level, Ordering::Relaxed);
    }
}

static SINKS: OnceLock<&'static Sinks> = OnceLock::new();

fn sinks() -> &'static Sinks {
    let pid = std::process::id();
    let mut at = *SINKS.get_or_init(|| Sinks::new(pid));
    while at.pid != pid {
        at = *at.child.get_or_init(|| Sinks::new(pid));
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zku_log_values() {
        let parse = |v: &str| parse_env(Some(OsString::from(v)));
        assert_eq!(parse_env(None).unwrap(), None);
        for level in Level::ALL {
            assert_eq!(parse(level.name()).unwrap(), Some(level));
        }
        for bad in ["", " ", "INFO", "info ", "trace", "off", "3"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), Code::BadConfig, "{bad:?}");
            assert!(err.message().starts_with("ZKU_LOG"), "{err}");
        }
    }

    #[test]
    fn a_callback_that_falls_behind_loses_the_oldest_and_is_told() {
        let mut records = Records::default();
        for i in 0..MAX_WAITING_MESSAGES + 5 {
            records.push(Record { level: Level::Info, message: i.to_string() });
        }
        assert_eq!(records.waiting(), MAX_WAITING_MESSAGES + 1);
        let first = records.pop().unwrap();
        assert_eq!(
            (first.level, first.message.as_str()),
            (Level::Warn, "5 log messages were dropped: the log callback fell behind")
        );
        assert_eq!(records.pop().unwrap().message, "5");
    }
}
