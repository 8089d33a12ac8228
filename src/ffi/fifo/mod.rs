//! `zku_fifo`: the FIFO mutex in Apache Curator InterProcessMutex's
//! layout (shared with Curator and kazoo processes), and on the same
//! handle leader election in Curator LeaderLatch's layout, with fencing tokens,
//! the lock states of `zku_lock` (getter, callback, pollable descriptor),
//! cancellation and safe release.

use std::ffi::{CString, c_char};
use std::sync::Arc;

use super::client::zku_client;
use super::error::zku_error;
use super::lock::{LockHandle, ZKU_LOCK_DEFAULT_TIMEOUT, call_timeout};
use super::{
    SessionHandle, clear_out, guard, guard_value, opt_str_arg, required_out, session_arg, set_out, str_arg, zku_rc,
};
use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::Result;
use crate::fifo::{FifoLock, FifoOptions};
use crate::lock::LockState;
use crate::lock::feed::StateFeed;
use crate::node::Stat;
use crate::runtime::Timeout;

mod calls;

pub use calls::*;

/// A FIFO mutex on `lock_dir + name`: each contender an ephemeral
/// sequential child `_c_<uuid>-lock-<seq>` of that path (Curator
/// InterProcessMutex's layout; kazoo's `Lock` with
/// `extra_lock_patterns=["-lock-"]` shares it too), each waiter watching
/// only the one before it: one wake-up per release, granted in arrival
/// order. Not compatible with `zku_lock` (k3zkutil's layout) on the same
/// name. Made by `zku_fifo_new_leader`, the same handle is a
/// leader-election participant (Curator LeaderLatch's `latch-` nodes).
/// Safe to use from several threads: calls that talk to the server run
/// one at a time per handle; the state getters and the notifications never
/// wait for them. Does not survive fork().
pub struct zku_fifo {
    /// Shared with the operations started on it (`zku_op`), which may
    /// outlive the handle.
    lock: Arc<FifoLock>,
    /// Fired when the handle is freed: ends its operations.
    ops: Cancel,
    path: CString,
}

impl Drop for zku_fifo {
    /// Ends the operations running on the lock and closes it, even while
    /// an operation still holds it.
    fn drop(&mut self) {
        self.ops.cancel();
        self.lock.close();
    }
}

impl SessionHandle for zku_fifo {
    fn client(&self) -> &Client {
        self.lock.client()
    }
}

impl LockHandle for zku_fifo {
    const ARG: &'static str = "fifo";

    fn state(&self) -> LockState {
        self.lock.state()
    }

    fn token(&self) -> Option<i64> {
        self.lock.token()
    }

    fn lost_reason(&self) -> Option<String> {
        self.lock.lost_reason()
    }

    fn feed(&self) -> &StateFeed {
        self.lock.feed()
    }

    fn default_timeout(&self) -> Timeout {
        self.lock.default_timeout()
    }

    fn guarded_set(&self, path: &str, data: &[u8], version: Option<i32>, timeout: Timeout) -> Result<Stat> {
        self.lock.guarded_set(path, data, version, timeout)
    }

    fn guarded_delete(&self, path: &str, version: Option<i32>, timeout: Timeout) -> Result<()> {
        self.lock.guarded_delete(path, version, timeout)
    }
}

/// # Safety
/// `fifo` is NULL or live.
unsafe fn fifo_arg<'a>(fifo: *const zku_fifo) -> Result<&'a FifoLock> {
    // SAFETY: forwarded from the caller.
    unsafe { session_arg(fifo, "fifo") }.map(|f| &*f.lock)
}

/// A call's timeout: ZKU_LOCK_DEFAULT_TIMEOUT, -1, 0 or positive ms.
fn fifo_timeout(lock: &FifoLock, ms: i32) -> Result<Timeout> {
    call_timeout(lock.default_timeout(), ms)
}

/// Creates a FIFO mutex handle on `name` (path: the client's lock_dir +
/// name; created, persistent, on the first acquire when missing) using a
/// shared client, which must stay alive while the handle is used.
/// `identifier`: the data of our node, shown to the other contenders
/// (NULL: a new unique one, node_id-ip-pid-uuid). `default_timeout_ms`:
/// used when a call passes ZKU_LOCK_DEFAULT_TIMEOUT (which here means
/// 10 s). Nothing is sent. Free with `zku_fifo_free`.
/// Errors: ZKU_ENULL, ZKU_EUTF8, ZKU_EPATH (empty or malformed name),
/// ZKU_EINVAL (empty identifier, bad timeout), ZKU_EFORKED.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_new(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { new_handle(client, name, identifier, default_timeout_ms, out, err, FifoLock::new) }
}

/// Creates a leader-election participant on `name` (path: the client's
/// lock_dir + name), in Apache Curator LeaderLatch's layout
/// (`_c_<uuid>-latch-<seq>` nodes holding the participant id), so Java
/// LeaderLatch participants on that path take part in the same election.
/// It is a `zku_fifo` and every `zku_fifo_*` call applies:
/// `zku_fifo_acquire` waits to become leader (ZKU_LOCK_HELD is leader,
/// with a fencing token; run it on a thread of its own, or with a
/// timeout, to stand by), `zku_fifo_release` resigns, `zku_fifo_contenders`
/// lists the participants (the leader first); ZKU_LOCK_SUSPENDED and
/// ZKU_LOCK_LOST tell a leader it may have lost, or has lost, leadership.
/// `identifier`: the participant id (NULL: a unique one). Arguments and
/// errors as `zku_fifo_new`. Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_new_leader(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { new_handle(client, name, identifier, default_timeout_ms, out, err, FifoLock::leader_latch) }
}

/// Creates a handle on the read side of the read-write lock `name` (path:
/// the client's lock_dir + name), in Apache Curator
/// InterProcessReadWriteLock's layout (`_c_<uuid>-__READ__<seq>`), shared
/// with Curator processes: held together with other readers unless a
/// writer is ahead in line; readers arriving after a waiting writer wait
/// for it. Every `zku_fifo_*` call applies. Arguments and errors as
/// `zku_fifo_new`. Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_new_read(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { new_handle(client, name, identifier, default_timeout_ms, out, err, FifoLock::read_lock) }
}

/// Creates a handle on the write side of the read-write lock `name`
/// (`_c_<uuid>-__WRIT__<seq>`): held alone, once every reader and writer
/// ahead in line let go. As `zku_fifo_new_read` otherwise. Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_new_write(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { new_handle(client, name, identifier, default_timeout_ms, out, err, FifoLock::write_lock) }
}

/// Creates the read side of the read-write lock whose write side is
/// `write` (a `zku_fifo_new_write` handle; same client and path), with
/// Curator's rule that the owner of the write lock may take the read
/// lock: a `zku_fifo_acquire` begun while `write` is ZKU_LOCK_HELD is
/// granted at once, its node sorting right behind the write node, ahead
/// of the writers waiting behind it. Releasing or losing the write side
/// then leaves an ordinary reader ahead of those writers (a downgrade):
/// other writers stay out until it is released, other readers come in.
/// Begun while `write` is not held, it is an ordinary reader (waiting
/// behind `write`'s own node if that is waiting in line); taking the write
/// side while this one holds waits for it (no upgrade), as in Curator.
/// Its fencing token is the write side's. `identifier`: NULL for the write
/// side's. `write` may be freed first. Every `zku_fifo_*` call applies.
/// Errors: ZKU_ENULL, ZKU_EUTF8, ZKU_EINVAL (`write` is not a write side,
/// empty identifier, bad timeout), ZKU_ECLOSED (`write` is closing),
/// ZKU_EFORKED. Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_new_read_of(
    write: *const zku_fifo,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (write, identifier) = unsafe { (fifo_arg(write)?, opt_str_arg(identifier, "identifier")?) };
        let options = options_arg(identifier, default_timeout_ms)?;
        let lock = FifoLock::read_lock_of(write, options)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, boxed(lock)?) };
        Ok(())
    })
}

/// The handle's options from the constructors' arguments.
fn options_arg(identifier: Option<&str>, default_timeout_ms: i32) -> Result<FifoOptions> {
    let timeout = match default_timeout_ms {
        ZKU_LOCK_DEFAULT_TIMEOUT => FifoOptions::default().timeout,
        ms => super::timeout_arg(ms).map_err(|e| e.context("default_timeout_ms"))?,
    };
    Ok(FifoOptions { identifier: identifier.map(str::to_string), timeout })
}

/// A new C handle on `lock`.
fn boxed(lock: FifoLock) -> Result<*mut zku_fifo> {
    let path = super::buf::c_string(lock.path().to_string())?;
    Ok(Box::into_raw(Box::new(zku_fifo { lock: Arc::new(lock), ops: Cancel::waking(), path })))
}

/// The body of the `zku_fifo_new*` constructors.
///
/// # Safety
/// Pointers are NULL or valid.
unsafe fn new_handle(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    default_timeout_ms: i32,
    out: *mut *mut zku_fifo,
    err: *mut *mut zku_error,
    make: fn(&Client, &str, FifoOptions) -> Result<FifoLock>,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, name, identifier) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(name, "name")?, opt_str_arg(identifier, "identifier")?)
        };
        let lock = make(client, name, options_arg(identifier, default_timeout_ms)?)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, boxed(lock)?) };
        Ok(())
    })
}

/// Frees the handle. If held (or suspended) the lock is released first —
/// Blocking (network), up to the default timeout capped at the session
/// timeout; a delete not confirmed by then goes on in the background.
/// Then the state callback gets the transitions not delivered yet and
/// stops (Blocking (waits for callbacks to finish)); its `user_data_free`
/// runs. NULL is fine; no other call on this handle may be in progress or
/// follow; operations started on it (`zku_fifo_acquire_start`) may still
/// run: they end with ZKU_ECANCELLED, and stay valid until `zku_op_free`. In a fork() child, for a handle made by the parent, it sends
/// nothing and leaves the memory allocated.
///
/// # Safety
/// `fifo` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_free(fifo: *mut zku_fifo) {
    // SAFETY: from zku_fifo_new, freed once (caller).
    let fifo = unsafe { super::owned_session(fifo) };
    guard_value((), || drop(fifo));
}
