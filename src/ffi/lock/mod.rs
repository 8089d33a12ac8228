//! `zku_lock`: the distributed lock (k3zkutil's ZKLock) with fencing
//! tokens, lock states (getter, callback, pollable descriptor),
//! cancellation, safe release and guarded writes. This file: the handle,
//! acquire, release and cancel; `state`: the state, token and identity
//! getters and the notifications; `value`: the node's value, the holder and
//! the guarded writes.

mod state;
mod value;

pub use state::*;
pub use value::*;

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::buf::{raw_string, zku_buf};
use super::callback::{register_user_data, zku_free_fn};
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::config::zku_config;
use super::error::zku_error;
use super::node::zku_stat;
use super::op::{self, Outcome, op_out, zku_op};
use super::{
    SessionHandle, bytes_arg, clear_out, guard, guard_value, live_session, opt_str_arg, required_out, session_arg,
    set_out, str_arg, version_arg, write_out, zku_rc,
};
use crate::cancel::Cancel;
use crate::client::Client;
use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::lock::{Lock, LockOptions, LockState, LockStateCallback};
use crate::runtime::Timeout;

/// A distributed lock on one node, `lock_dir + name` (k3zkutil's ZKLock:
/// same node, same `{"id": ..., "val": ...}` data, so Python k3zkutil
/// processes and this library exclude each other). Safe to use from several
/// threads: calls that talk to the server run one at a time per handle;
/// `zku_lock_get_state`, `zku_lock_token`, `zku_lock_cancel` and the
/// notifications never wait for them. Does not survive fork().
pub struct zku_lock {
    /// Shared with the operations started on it (`zku_op`), which may
    /// outlive the handle.
    lock: Arc<Lock>,
    /// Fired when the handle is freed: ends its operations.
    ops: Cancel,
    identifier: CString,
    path: CString,
}

impl Drop for zku_lock {
    /// Ends the operations running on the lock and closes it, even while
    /// an operation still holds it.
    fn drop(&mut self) {
        self.ops.cancel();
        self.lock.close();
    }
}

impl SessionHandle for zku_lock {
    fn client(&self) -> &Client {
        self.lock.client()
    }
}

/// A lock handle's state, from `zku_lock_get_state`, the state callback
/// and `zku_lock_fd_drain`.
pub type zku_lock_state = i32;
/// Not held by this handle (never acquired, released, or a loss already
/// acknowledged by `zku_lock_release`).
pub const ZKU_LOCK_UNLOCKED: zku_lock_state = 0;
/// Held, confirmed by the last contact with the server.
pub const ZKU_LOCK_HELD: zku_lock_state = 1;
/// Connection lost (or ownership being re-verified): the session may still
/// be alive, but protected work must pause. Back to ZKU_LOCK_HELD once,
/// after reconnecting, the node is verified to be ours (same czxid, same
/// ephemeral owner, our identifier); ZKU_LOCK_LOST otherwise.
pub const ZKU_LOCK_SUSPENDED: zku_lock_state = 2;
/// Lost for good: session expired or closed, node deleted or changed to
/// another holder, or (ephemeral locks) disconnected for longer than the
/// session timeout. `zku_lock_release` acknowledges it (ZKU_ELOCKLOST).
pub const ZKU_LOCK_LOST: zku_lock_state = 3;

/// Lock flag: a persistent node that survives the session (k3zkutil's
/// `ephemeral=False`); default is ephemeral.
pub const ZKU_LOCK_PERSISTENT: u32 = 1;

/// For a lock call's `timeout_ms`: use the handle's default timeout. For
/// `default_timeout_ms` when creating a handle: the library default, 10 s
/// (k3zkutil's).
pub const ZKU_LOCK_DEFAULT_TIMEOUT: i32 = -2;

/// The default of `zku_lock_set_watch_delay`, in milliseconds.
pub const ZKU_LOCK_DEFAULT_WATCH_DELAY_MS: i32 = 10;

/// Called with the old and new state on every lock state change, on a
/// library callback thread, one call at a time, in order. When it falls
/// behind by more than 16 changes (slow or blocked), the oldest waiting
/// ones are skipped: each call's `old_state` is still the previous call's
/// `new_state`, and the latest state is always delivered. It may call back
/// into the library (even free the lock). It must return normally: no
/// longjmp, C++ exception, Ruby raise or Go panic may cross it.
pub type zku_lock_state_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, old_state: zku_lock_state, new_state: zku_lock_state)>;

/// Called by `zku_lock_acquire_loop` on the calling thread each time the
/// holder's node changes while waiting: `holder` is its data (normally
/// `{"id": ..., "val": ...}` JSON; NUL-terminated after `holder_len` bytes,
/// valid during the call), `version` the node version. Return 0 to keep
/// waiting, non-zero to stop (the acquire returns ZKU_EABORTED). It may
/// call any library function except operations on this same lock. It must
/// return normally: no longjmp, C++ exception, Ruby raise or Go panic may
/// cross it.
pub type zku_lock_holder_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, holder: *const c_char, holder_len: usize, version: i32) -> c_int,
>;

pub(crate) fn state_code(state: LockState) -> zku_lock_state {
    match state {
        LockState::Unlocked => ZKU_LOCK_UNLOCKED,
        LockState::Held => ZKU_LOCK_HELD,
        LockState::Suspended => ZKU_LOCK_SUSPENDED,
        LockState::Lost => ZKU_LOCK_LOST,
    }
}

fn options(identifier: Option<&str>, flags: u32, default_timeout_ms: i32) -> Result<LockOptions> {
    if flags & !ZKU_LOCK_PERSISTENT != 0 {
        return Err(Error::invalid_argument(format!("unknown lock flags {:#x}", flags & !ZKU_LOCK_PERSISTENT)));
    }
    let timeout = match default_timeout_ms {
        ZKU_LOCK_DEFAULT_TIMEOUT => LockOptions::default().timeout,
        ms => super::timeout_arg(ms).map_err(|e| e.context("default_timeout_ms"))?,
    };
    Ok(LockOptions {
        identifier: identifier.map(str::to_string),
        ephemeral: flags & ZKU_LOCK_PERSISTENT == 0,
        timeout,
        ..LockOptions::default()
    })
}

fn boxed(lock: Lock) -> Result<*mut zku_lock> {
    let identifier = super::buf::c_string(lock.identifier().to_string())?;
    let path = super::buf::c_string(lock.path().to_string())?;
    Ok(Box::into_raw(Box::new(zku_lock { lock: Arc::new(lock), ops: Cancel::waking(), identifier, path })))
}

/// A lock call's timeout: ZKU_LOCK_DEFAULT_TIMEOUT, -1, 0 or positive ms.
fn lock_timeout(lock: &Lock, ms: i32) -> Result<Timeout> {
    state::call_timeout(lock.default_timeout(), ms)
}

/// # Safety
/// `lock` is NULL or live.
unsafe fn lock_arg<'a>(lock: *const zku_lock) -> Result<&'a Lock> {
    // SAFETY: forwarded from the caller.
    unsafe { session_arg(lock, "lock") }.map(|l| &*l.lock)
}

/// Creates a lock handle on `name` (path: the client's lock_dir + name)
/// using a shared client, which must stay alive while the lock is used
/// (freeing the client makes lock calls fail with ZKU_ECLOSED).
/// `identifier` NULL: a new unique one (node_id-ip-pid-uuid); handles with
/// the same identifier count as the same holder (to resume after a
/// restart): a release by any of them releases it for all, and a handle
/// only ever deletes the node it acquired (a sharer's release after the
/// lock changed hands returns ZKU_ELOCKLOST and leaves the new holder's
/// node alone). `flags`: 0 or ZKU_LOCK_PERSISTENT. `default_timeout_ms`: used
/// when a call passes ZKU_LOCK_DEFAULT_TIMEOUT (ZKU_LOCK_DEFAULT_TIMEOUT
/// here means 10 s). The node gets the client's configured default ACL.
/// Nothing is sent to the server. Free with `zku_lock_free`.
/// Errors: ZKU_ENULL, ZKU_EUTF8, ZKU_EPATH (empty or malformed name),
/// ZKU_EINVAL (empty identifier, unknown flags, bad timeout), ZKU_EPERM.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_new(
    client: *const zku_client,
    name: *const c_char,
    identifier: *const c_char,
    flags: u32,
    default_timeout_ms: i32,
    out: *mut *mut zku_lock,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, name, identifier) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(name, "name")?, opt_str_arg(identifier, "identifier")?)
        };
        let lock = Lock::new(client, name, options(identifier, flags, default_timeout_ms)?)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, boxed(lock)?) };
        Ok(())
    })
}

/// Creates a lock handle with its own client, connected from `config`
/// (NULL: all defaults; copied), closed by `zku_lock_free`. As k3zkutil
/// requires on_lost for a lock that makes its own client, `on_state` is
/// required: nobody else watches that session. It gets every state change
/// as with `zku_lock_set_state_callback`; `user_data_free` (may be NULL)
/// runs exactly once, after the last call. Blocking (network): waits for
/// the session (the configured connect timeout; `cancel` as for
/// `zku_client_new`). Other arguments as `zku_lock_new`.
/// Errors: ZKU_EINVAL (`on_state` NULL, ...), connection errors as
/// `zku_client_new`, ZKU_ERESOURCE (no callback thread could be started),
/// and those of `zku_lock_new`. On failure the caller
/// keeps `user_data` (`user_data_free` is not called).
///
/// # Safety
/// Pointers are NULL or valid; `on_state` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_new_with_config(
    config: *const zku_config,
    name: *const c_char,
    identifier: *const c_char,
    flags: u32,
    default_timeout_ms: i32,
    on_state: zku_lock_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_lock,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (config, name, identifier) = unsafe {
            (
                config.as_ref().map_or_else(Config::new, |c| c.config.clone()),
                str_arg(name, "name")?,
                opt_str_arg(identifier, "identifier")?,
            )
        };
        let Some(on_state) = on_state else {
            return Err(Error::invalid_argument(
                "on_state is required for a lock with its own client (nobody else watches its session)",
            ));
        };
        let options = options(identifier, flags, default_timeout_ms)?;
        let lock = register_user_data(user_data, user_data_free, |user_data| {
            let callback = Box::new(move |old, new| {
                // SAFETY: the caller's callback with its own user_data, on a
                // library thread, as documented.
                unsafe { on_state(user_data.ptr(), state_code(old), state_code(new)) }
            });
            cancellable(cancel, None, || Lock::with_own_client(config, name, options, callback))
        })?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, boxed(lock)?) };
        Ok(())
    })
}

/// Frees a lock handle. If the lock is held (or suspended) it is released
/// first — Blocking (network), up to the default timeout capped at the
/// session timeout; a release not confirmed by then goes on in the
/// background once reconnected (as `zku_lock_release`), so the node does
/// not block others after an outage. Then the state callback gets the
/// transitions not delivered yet (on this thread; the release's
/// ZKU_LOCK_UNLOCKED included) and stops (Blocking (waits for callbacks to
/// finish): a running call returns first): its `user_data_free` runs
/// (freed from inside the callback: the callback is not called again and
/// `user_data_free` runs right after it returns). For a handle made by
/// `zku_lock_new_with_config` the client is closed. The descriptor of
/// `zku_lock_fd` is closed. NULL is fine; no other call on this lock may be
/// in progress or follow (to stop an acquire blocked in another thread,
/// call `zku_lock_cancel`, wait for that thread to return, then free).
/// Operations started on it (`zku_lock_acquire_start`) may still run: they
/// end with ZKU_ECANCELLED, and stay valid until `zku_op_free`.
/// In a fork() child, for a lock made by the parent, it releases nothing,
/// sends nothing, never blocks, runs no `user_data_free`, leaves the
/// descriptor open and the memory allocated (the parent still holds it).
///
/// # Safety
/// `lock` is NULL or a live lock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_free(lock: *mut zku_lock) {
    // SAFETY: from zku_lock_new*, freed once (caller).
    let lock = unsafe { super::owned_session(lock) };
    guard_value((), || drop(lock));
}

/// Acquires the lock, waiting up to `timeout_ms` for the holder to let go
/// (0: one attempt; -1: forever; ZKU_LOCK_DEFAULT_TIMEOUT: the handle's
/// default). Blocking (network). One round trip when the lock is free. On success
/// `*token` (may be NULL) receives the fencing token: the lock node's czxid,
/// larger for every new acquisition. Already held by this handle: success
/// at once with the current token. While ZKU_LOCK_SUSPENDED, waits (up to
/// the timeout) for the ownership check. A timed-out or cancelled acquire
/// leaves no node behind.
/// Errors: ZKU_ETIMEOUT (another holder kept it; the message names it),
/// ZKU_ECANCELLED (`zku_lock_cancel`), ZKU_ECONNECTIONLOSS (no connection
/// before the timeout), ZKU_ESESSIONEXPIRED, ZKU_ECLOSED, ZKU_ENOAUTH,
/// ZKU_EINVAL (bad timeout).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_acquire(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    token: *mut i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, 0) };
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let t = cancellable(cancel, Some(lock.client()), || lock.acquire(timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, t) };
        Ok(())
    })
}

/// Starts `zku_lock_acquire` without blocking: `*out` gets an operation
/// (see `zku_op`) whose descriptor becomes readable when the acquire is
/// done; `zku_op_result` then gives its token or its error, the same as
/// the blocking call. `timeout_ms` as for `zku_lock_acquire`. Cancel it
/// with `zku_op_cancel` (or `zku_lock_cancel`); freeing the lock while it
/// runs ends it with ZKU_ECANCELLED. Never blocks.
/// Errors (nothing started): ZKU_ENULL, ZKU_EINVAL (bad timeout),
/// ZKU_ECLOSED, ZKU_EFORKED, ZKU_ERESOURCE (256 operations running
/// already, or no thread could be started), ZKU_ESYSTEM (no descriptor).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_acquire_start(
    lock: *const zku_lock,
    timeout_ms: i32,
    out: *mut *mut zku_op,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { op_out(out)? };
        // SAFETY: NULL or live (caller).
        let handle = unsafe { session_arg(lock, "lock")? };
        let timeout = lock_timeout(&handle.lock, timeout_ms)?;
        let lock = handle.lock.clone();
        op::start(out, handle.lock.client(), Some(&handle.ops), move || lock.acquire(timeout).map(Outcome::Token))
    })
}

/// `zku_lock_acquire`, calling `on_holder` on this thread each time the
/// holder's node changes while waiting (first when we find it taken), as
/// k3zkutil's acquire_loop yields (holder, version). `on_holder` returning
/// non-zero stops waiting: ZKU_EABORTED. `on_holder` NULL behaves as
/// `zku_lock_acquire`. Blocking (network). Errors: as `zku_lock_acquire`, plus
/// ZKU_EABORTED.
///
/// # Safety
/// Pointers are NULL or valid; `on_holder` may be called with `user_data`
/// during this call only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_acquire_loop(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    on_holder: zku_lock_holder_fn,
    user_data: *mut c_void,
    token: *mut i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, 0) };
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let t = cancellable(cancel, Some(lock.client()), || match on_holder {
            None => lock.acquire(timeout),
            Some(on_holder) => lock.acquire_loop(timeout, &mut |holder| {
                let mut data = holder.data.clone();
                let len = data.len();
                data.push(0);
                // SAFETY: the caller's callback with its user_data, on its own
                // thread; `data` is NUL-terminated and outlives the call.
                unsafe { on_holder(user_data, data.as_ptr().cast(), len, holder.stat.version) == 0 }
            }),
        })?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, t) };
        Ok(())
    })
}

/// One attempt that never waits for the holder (k3zkutil's try_acquire).
/// `timeout_ms` bounds only the wait for a connection and the reply.
/// Blocking (network). On success: `*locked` whether we hold it now; `*holder` (may
/// be NULL; free with `zku_buf_free`) the holder's node data (ours when
/// locked); `*version` (may be NULL) the node version; `*token` (may be
/// NULL) the fencing token when locked, else 0.
/// Errors: ZKU_ENULL (`locked` NULL), connection codes, ZKU_ECANCELLED,
/// ZKU_ECLOSED, ZKU_ENOAUTH, ZKU_EINVAL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_try_acquire(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    locked: *mut bool,
    holder: *mut *mut zku_buf,
    version: *mut i32,
    token: *mut i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            write_out(locked, false);
            clear_out(holder);
            write_out(version, 0);
            write_out(token, 0);
        }
        required_out(locked, "locked")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let r = cancellable(cancel, Some(lock.client()), || lock.try_acquire(timeout))?;
        // SAFETY: out-parameters NULL or writable (caller); `locked` checked.
        unsafe {
            set_out(locked, r.locked);
            write_out(version, r.version);
            write_out(token, r.token.unwrap_or(0));
            if !holder.is_null() {
                write_out(holder, zku_buf::boxed(r.holder));
            }
        }
        Ok(())
    })
}

/// Releases the lock: deletes our node, never another holder's (see the
/// lock documentation for how). Blocking (network), up to `timeout_ms`. Not held:
/// ZKU_OK, nothing sent (k3zkutil's silent release). After
/// ZKU_LOCK_LOST: ZKU_ELOCKLOST, nothing sent, and the state becomes
/// ZKU_LOCK_UNLOCKED; the same when the node turns out to have been deleted
/// by someone else. A release not confirmed within the timeout (no
/// connection or no reply: ZKU_ECONNECTIONLOSS, ZKU_ETIMEOUT) has still
/// given the lock up: the state is ZKU_LOCK_UNLOCKED and the node is
/// deleted in the background once reconnected, if it is still ours.
/// Errors: ZKU_ELOCKLOST, ZKU_ECONNECTIONLOSS, ZKU_ETIMEOUT,
/// ZKU_ESESSIONEXPIRED (the lock is then LOST), ZKU_ECLOSED, ZKU_EINVAL.
///
/// # Safety
/// `lock` is NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_release(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        cancellable(cancel, Some(lock.client()), || lock.release(timeout))
    })
}

/// k3zkutil's try_release: deletes the lock node if it holds our
/// identifier (whoever created it; versioned delete), else leaves it.
/// Blocking (network), up to `timeout_ms`. On success: `*released` true when the node
/// held our identifier and is gone, or when there was no node; `*holder`
/// (may be NULL; `zku_buf_free`) the node data read (our data when there
/// was no node); `*version` (may be NULL) its version (-1 when there was no
/// node). A handle holding the lock becomes ZKU_LOCK_UNLOCKED when released.
/// Errors: ZKU_ENULL (`released` NULL), connection codes, ZKU_ECLOSED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_try_release(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    released: *mut bool,
    holder: *mut *mut zku_buf,
    version: *mut i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            write_out(released, false);
            clear_out(holder);
            write_out(version, 0);
        }
        required_out(released, "released")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let r = cancellable(cancel, Some(lock.client()), || lock.try_release(timeout))?;
        // SAFETY: out-parameters NULL or writable (caller); `released` checked.
        unsafe {
            set_out(released, r.released);
            write_out(version, r.version);
            if !holder.is_null() {
                write_out(holder, zku_buf::boxed(r.holder));
            }
        }
        Ok(())
    })
}

/// How long after each later acquisition the lock node is read again and
/// watched, so that a third party deleting or changing it makes the lock
/// ZKU_LOCK_LOST. A lock released sooner costs exactly a create and a
/// delete on the server; a change made before the read is reported when
/// the read happens, and a node deleted by someone else makes
/// `zku_lock_release` return ZKU_ELOCKLOST. Session loss is reported at
/// once whatever the delay. Default ZKU_LOCK_DEFAULT_WATCH_DELAY_MS (10);
/// 0: right after the create's reply. Never blocks.
/// Errors: ZKU_ENULL, ZKU_EINVAL (`delay_ms` negative).
///
/// # Safety
/// `lock` is NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_set_watch_delay(
    lock: *const zku_lock,
    delay_ms: i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let delay = u64::try_from(delay_ms)
            .map_err(|_| Error::invalid_argument(format!("delay_ms must be 0 or positive, got {delay_ms}")))?;
        lock.set_watch_delay(Duration::from_millis(delay));
        Ok(())
    })
}

/// Makes acquires blocked on this lock, in any thread, return
/// ZKU_ECANCELLED promptly (a create already sent is finished and its node
/// deleted before the next operation on this lock runs). Acquires started
/// after this call are not affected. Never blocks. NULL is ignored.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_cancel(lock: *const zku_lock) {
    // SAFETY: NULL or live (caller).
    if let Some(l) = unsafe { live_session(lock) } {
        guard_value((), || l.lock.cancel());
    }
}
