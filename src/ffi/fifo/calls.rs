//! The calls on a `zku_fifo`: acquire (blocking, started as an operation,
//! or one attempt), cancel, release, the contenders, guarded writes, and
//! the lock state (getter, callback, descriptor).

use std::ffi::{c_char, c_int, c_void};

use super::super::buf::zku_strings;
use super::super::callback::zku_free_fn;
use super::super::cancel::{cancellable, zku_cancel};
use super::super::error::zku_error;
use super::super::lock::{
    fd_drain_of, fd_of, get_state, guarded_delete_of, guarded_set_of, lost_reason_of, set_state_callback_of, token_of,
    zku_lock_state, zku_lock_state_fn,
};
use super::super::node::zku_stat;
use super::super::op::{self, Outcome, op_out, zku_op};
use super::super::{
    clear_out, guard, guard_value, live_session, required_out, session_arg, set_out, write_out, zku_rc,
};
use super::{fifo_arg, fifo_timeout, zku_fifo};

/// Joins the queue and waits up to `timeout_ms` for our turn (0: only if
/// nobody is ahead; -1: forever; ZKU_LOCK_DEFAULT_TIMEOUT: the handle's
/// default). Blocking (network). On success `*token` (may be NULL) gets
/// the fencing token: our node's czxid, increasing in the order the lock
/// is held. Already held: success at once with the current token. A
/// timed-out, cancelled or failed acquire leaves no node behind (deleted
/// in the background when the server cannot be reached; the handle's next
/// call waits for that).
/// Errors: ZKU_ETIMEOUT (others ahead; the message names the holder's
/// node), ZKU_ECANCELLED, ZKU_ECONNECTIONLOSS, ZKU_ESESSIONEXPIRED,
/// ZKU_ELOCKLOST (our waiting node was deleted by someone else),
/// ZKU_ECLOSED, ZKU_ENOAUTH, ZKU_EINVAL (bad timeout).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_acquire(
    fifo: *const zku_fifo,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    token: *mut i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, 0) };
        // SAFETY: NULL or live (caller).
        let lock = unsafe { fifo_arg(fifo)? };
        let timeout = fifo_timeout(lock, timeout_ms)?;
        let t = cancellable(cancel, Some(lock.client()), || lock.acquire(timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, t) };
        Ok(())
    })
}

/// Makes acquires running on this handle, in any thread (blocking,
/// `zku_fifo_try_acquire` and those started with `zku_fifo_acquire_start`),
/// return ZKU_ECANCELLED promptly, leaving no node behind (as for a cancel
/// of their own). Acquires started after this call are not affected. Never
/// blocks. NULL is ignored.
///
/// # Safety
/// `fifo` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_cancel(fifo: *const zku_fifo) {
    // SAFETY: NULL or live (caller).
    if let Some(f) = unsafe { live_session(fifo) } {
        guard_value((), || f.lock.cancel());
    }
}

/// Starts `zku_fifo_acquire` without blocking (also the leader latch's
/// wait to lead, and either side of a read-write lock): `*out` gets an
/// operation (see `zku_op`) whose descriptor becomes readable when the
/// acquire is done; `zku_op_result` then gives its token or its error, the
/// same as the blocking call. `timeout_ms` as for `zku_fifo_acquire`.
/// Cancel it with `zku_op_cancel`; freeing the handle while it runs ends
/// it with ZKU_ECANCELLED. Either way no node is left behind. Never blocks.
/// Errors (nothing started): ZKU_ENULL, ZKU_EINVAL (bad timeout),
/// ZKU_EFORKED, ZKU_ERESOURCE (256 operations running already, or no
/// thread could be started), ZKU_ESYSTEM (no descriptor).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_acquire_start(
    fifo: *const zku_fifo,
    timeout_ms: i32,
    out: *mut *mut zku_op,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { op_out(out)? };
        // SAFETY: NULL or live (caller).
        let handle = unsafe { session_arg(fifo, "fifo")? };
        let timeout = fifo_timeout(&handle.lock, timeout_ms)?;
        let lock = handle.lock.clone();
        op::start(out, handle.lock.client(), Some(&handle.ops), move || lock.acquire(timeout).map(Outcome::Token))
    })
}

/// One attempt that never waits behind another contender: `*locked`
/// whether we hold it now, `*token` (may be NULL) the fencing token when
/// locked, else 0. When another is ahead our node is deleted before this
/// returns. `timeout_ms` bounds the wait for a connection and the replies.
/// Blocking (network). Errors: ZKU_ENULL (`locked` NULL), as
/// `zku_fifo_acquire` otherwise.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_try_acquire(
    fifo: *const zku_fifo,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    locked: *mut bool,
    token: *mut i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            write_out(locked, false);
            write_out(token, 0);
        }
        required_out(locked, "locked")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { fifo_arg(fifo)? };
        let timeout = fifo_timeout(lock, timeout_ms)?;
        let got = cancellable(cancel, Some(lock.client()), || lock.try_acquire(timeout))?;
        // SAFETY: out-parameters NULL or writable (caller); `locked` checked.
        unsafe {
            set_out(locked, got.is_some());
            write_out(token, got.unwrap_or(0));
        }
        Ok(())
    })
}

/// Releases the lock: deletes our node (never another's). Blocking
/// (network), up to `timeout_ms`. Not held: ZKU_OK, nothing sent. After
/// ZKU_LOCK_LOST, or when our node was deleted by someone else:
/// ZKU_ELOCKLOST, and the state becomes ZKU_LOCK_UNLOCKED. A delete not
/// confirmed within the timeout (ZKU_ECONNECTIONLOSS, ZKU_ETIMEOUT) has
/// still given the lock up: the state is ZKU_LOCK_UNLOCKED and the node is
/// deleted in the background once reconnected.
/// Errors: ZKU_ELOCKLOST, ZKU_ECONNECTIONLOSS, ZKU_ETIMEOUT,
/// ZKU_ESESSIONEXPIRED, ZKU_ECLOSED, ZKU_EINVAL.
///
/// # Safety
/// `fifo` is NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_release(
    fifo: *const zku_fifo,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let lock = unsafe { fifo_arg(fifo)? };
        let timeout = fifo_timeout(lock, timeout_ms)?;
        cancellable(cancel, Some(lock.client()), || lock.release(timeout))
    })
}

/// The contenders in queue order, the holder first (Curator's
/// getParticipantNodes, kazoo's contenders()), Curator's, kazoo's and
/// ours: `*names` their node names, `*ids` (may be NULL) their node data
/// as text (the contenders' identifiers; Curator writes the host's
/// address by default). Both `zku_strings`, free with
/// `zku_strings_free`; empty when the lock is free. Blocking (network).
/// Errors: ZKU_ENULL (`names` NULL), connection codes, ZKU_ECANCELLED,
/// ZKU_ECLOSED, ZKU_ENOAUTH, ZKU_EINVAL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_contenders(
    fifo: *const zku_fifo,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    names: *mut *mut zku_strings,
    ids: *mut *mut zku_strings,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            clear_out(names);
            clear_out(ids);
        }
        required_out(names, "names")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { fifo_arg(fifo)? };
        let timeout = fifo_timeout(lock, timeout_ms)?;
        let list = cancellable(cancel, Some(lock.client()), || lock.contenders(timeout))?;
        let id_list: Vec<String> = list.iter().map(|c| String::from_utf8_lossy(&c.data).into_owned()).collect();
        let name_list = zku_strings::boxed(list.into_iter().map(|c| c.name).collect())?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(names, name_list) };
        if !ids.is_null() {
            let id_list = zku_strings::boxed(id_list)?;
            // SAFETY: non-NULL and writable (caller).
            unsafe { set_out(ids, id_list) };
        }
        Ok(())
    })
}

/// Sets `path`'s data only if we still hold the lock: one multi operation
/// with a check that our node exists (its name is never reused, so a
/// write after losing the lock fails even before the loss is noticed).
/// `expected_version` applies to `path` (-1: any). Waits while suspended.
/// Blocking (network), up to `timeout_ms`. On success `*stat` (may be
/// NULL) receives `path`'s new stat.
/// Errors: ZKU_ENOTLOCKED, ZKU_ELOCKLOST (our node is gone),
/// ZKU_ENONODE / ZKU_EBADVERSION (for `path`), ZKU_EPATH, ZKU_EINVAL
/// (`path` is our node), ZKU_ETOOLARGE, connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_guarded_set(
    fifo: *const zku_fifo,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { guarded_set_of(fifo, path, data, data_len, expected_version, timeout_ms, cancel, stat, err) }
}

/// Deletes `path` only if we still hold the lock (as
/// `zku_fifo_guarded_set`). Blocking (network), up to `timeout_ms`.
/// Errors: as `zku_fifo_guarded_set`, plus ZKU_ENOTEMPTY.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_guarded_delete(
    fifo: *const zku_fifo,
    path: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { guarded_delete_of(fifo, path, expected_version, timeout_ms, cancel, err) }
}

/// The state, as `zku_lock_get_state` (ZKU_LOCK_UNLOCKED for NULL).
/// Never blocks.
///
/// # Safety
/// `fifo` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_get_state(fifo: *const zku_fifo) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    unsafe { get_state(fifo) }
}

/// The fencing token (our node's czxid) of the current acquisition, also
/// while suspended or after it was lost (until `zku_fifo_release`
/// acknowledges the loss). Never blocks.
/// Errors: ZKU_ENOTLOCKED (unlocked), ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_token(fifo: *const zku_fifo, token: *mut i64, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { token_of(fifo, token, err) }
}

/// Why the lock was lost, while ZKU_LOCK_LOST (free with
/// `zku_string_free`); NULL otherwise. Never blocks.
///
/// # Safety
/// `fifo` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_lost_reason(fifo: *const zku_fifo) -> *mut c_char {
    // SAFETY: NULL or live (caller).
    unsafe { lost_reason_of(fifo) }
}

/// The lock path (the directory of the contenders' nodes), valid until
/// `zku_fifo_free` (NULL for NULL). Never blocks.
///
/// # Safety
/// `fifo` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_path(fifo: *const zku_fifo) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(fifo) }.map_or(std::ptr::null(), |f| f.path.as_ptr())
}

/// Sets (or with `callback` NULL, removes) the state-change callback,
/// exactly as `zku_lock_set_state_callback` does for a `zku_lock`.
/// Errors: ZKU_ENULL (`fifo`), ZKU_ERESOURCE; on failure the caller keeps
/// `user_data`. Blocking (waits for callbacks to finish).
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_set_state_callback(
    fifo: *const zku_fifo,
    callback: zku_lock_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { set_state_callback_of(fifo, callback, user_data, user_data_free, err) }
}

/// A descriptor that becomes readable on every state change, as
/// `zku_lock_fd` (readable once right after its creation; drain it with
/// `zku_fifo_fd_drain`; closed by `zku_fifo_free`). Never blocks.
/// Errors: ZKU_ENULL, ZKU_ESYSTEM.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_fd(fifo: *const zku_fifo, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { fd_of(fifo, fd, err) }
}

/// Empties the descriptor of `zku_fifo_fd` and returns the current state
/// (>= 0), or ZKU_ENULL for NULL (ZKU_EFORKED for a handle inherited
/// across fork()). Never blocks.
///
/// # Safety
/// `fifo` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_fifo_fd_drain(fifo: *const zku_fifo) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    unsafe { fd_drain_of(fifo) }
}
