//! `zku_cancel`: a cancellation flag that every blocking call accepts.

use super::error::zku_error;
use super::{free_box, guard, required_out, set_out, zku_rc};
use crate::cancel::{self, Cancel};
use crate::client::Client;
use crate::error::Result;

/// A cancellation flag for blocking calls, passed as their
/// `const zku_cancel *cancel` argument (right after `timeout_ms`; NULL:
/// not cancellable). Once `zku_cancel_cancel` was called, every call
/// running under it returns ZKU_ECANCELLED within 50 ms and every later
/// call under it at once, before sending anything (sticky: there is no
/// reset, make a new one per operation). A write whose request was already
/// sent returns ZKU_EOUTCOMEUNKNOWN instead (it may have been applied, as
/// when it times out). Cleanup the library must still do (removing a lock
/// node of a cancelled acquire) goes on in the background.
///
/// Maps directly onto Go's `context.Context` (a goroutine waits for
/// `ctx.Done()` and calls `zku_cancel_cancel`) and onto Ruby's `Timeout`
/// (its interrupt cannot reach a thread inside a C call, so the wrapper
/// cancels the call's flag from another Ruby thread when the time is up,
/// or from the `Thread#raise`/`Thread#kill` it wants to honour; the call
/// returns ZKU_ECANCELLED and the wrapper raises). Free it once the call
/// returned and nothing can cancel it any more. Thread-safe; cancelling is
/// also safe from a signal handler. Does not survive fork().
pub struct zku_cancel {
    cancel: Cancel,
}

/// Makes a new, not cancelled flag in `*out` (free it with
/// `zku_cancel_free`). Never blocks. Errors: ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cancel_new(out: *mut *mut zku_cancel, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_cancel { cancel: Cancel::new() }))) };
        Ok(())
    })
}

/// Cancels every call running or started later under `cancel` (NULL: does
/// nothing). Never blocks. Async-signal-safe: it is one atomic store, with
/// no lock, no allocation and no system call, so it may be called from a
/// signal handler (blocked calls notice it within 5 ms by polling the flag).
///
/// # Safety
/// `cancel` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cancel_cancel(cancel: *const zku_cancel) {
    // No panic boundary: an atomic store cannot panic, and catch_unwind
    // would be one more thing to prove signal-safe.
    // SAFETY: NULL or live (caller).
    if let Some(cancel) = unsafe { cancel.as_ref() } {
        cancel.cancel.cancel();
    }
}

/// Whether `zku_cancel_cancel` was called (false for NULL). Never blocks.
///
/// # Safety
/// `cancel` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cancel_is_cancelled(cancel: *const zku_cancel) -> bool {
    // SAFETY: NULL or live (caller).
    unsafe { cancel.as_ref() }.is_some_and(|c| c.cancel.is_cancelled())
}

/// Frees the flag. Never blocks. NULL is fine; no call may be running
/// under it.
///
/// # Safety
/// `cancel` is NULL or from `zku_cancel_new`, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cancel_free(cancel: *mut zku_cancel) {
    // SAFETY: forwarded from the caller.
    unsafe { free_box(cancel) }
}

/// Runs the blocking core `call` so that `cancel` and the close of `client`
/// (when the call has one) stop it.
pub(crate) fn cancellable<T>(
    cancel: Option<&zku_cancel>,
    client: Option<&Client>,
    call: impl FnOnce() -> Result<T>,
) -> Result<T> {
    cancel::scope(cancel.map(|c| &c.cancel), client, call)
}
