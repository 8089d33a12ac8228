//! `zku_lock` state: getters (state, token, loss reason, identity) and the
//! notifications (callback, pollable descriptor).

use super::*;

/// The lock state (ZKU_LOCK_UNLOCKED for NULL). Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_get_state(lock: *const zku_lock) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(lock) }
        .map_or(ZKU_LOCK_UNLOCKED, |l| guard_value(ZKU_LOCK_UNLOCKED, || state_code(l.lock.state())))
}

/// True only while ZKU_LOCK_HELD (false while suspended, and for NULL).
/// Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_is_locked(lock: *const zku_lock) -> bool {
    // SAFETY: NULL or live (caller).
    unsafe { zku_lock_get_state(lock) == ZKU_LOCK_HELD }
}

/// The fencing token (lock node czxid) of the current acquisition, also
/// while suspended or after it was lost (until `zku_lock_release`
/// acknowledges the loss). Never blocks.
/// Errors: ZKU_ENOTLOCKED (unlocked), ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_token(lock: *const zku_lock, token: *mut i64, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, 0) };
        required_out(token, "token")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let t = lock.token().ok_or_else(|| Error::new(Code::NotLocked, "the lock is not held by this handle"))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(token, t) };
        Ok(())
    })
}

/// Why the lock was lost, while ZKU_LOCK_LOST (free with
/// `zku_string_free`); NULL otherwise. Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_lost_reason(lock: *const zku_lock) -> *mut c_char {
    // SAFETY: NULL or live (caller).
    let Some(l) = (unsafe { live_session(lock) }) else { return std::ptr::null_mut() };
    guard_value(std::ptr::null_mut(), || {
        l.lock.lost_reason().and_then(|r| raw_string(r).ok()).unwrap_or(std::ptr::null_mut())
    })
}

/// This handle's identifier, valid until `zku_lock_free` (NULL for NULL).
/// Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_identifier(lock: *const zku_lock) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(lock) }.map_or(std::ptr::null(), |l| l.identifier.as_ptr())
}

/// The lock node's path, valid until `zku_lock_free` (NULL for NULL).
/// Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_path(lock: *const zku_lock) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(lock) }.map_or(std::ptr::null(), |l| l.path.as_ptr())
}

/// Sets (or with `callback` NULL, removes) the state-change callback; it
/// gets the transitions after this call (see `zku_lock_state_fn`). A
/// previous callback is removed first: after this returns it is not called
/// again and its `user_data_free` has run (transitions it had not been
/// given yet are given to it first, on this thread). Called from inside
/// the old callback it returns at once: the old one is not called again,
/// its `user_data_free` runs right after it returns, and the new one gets
/// the transitions after it, still one call at a time. `user_data_free`
/// (may be NULL) runs exactly once, when the callback is replaced or
/// removed or the lock freed.
/// Errors: ZKU_ENULL (`lock`), ZKU_ERESOURCE (no callback thread could be
/// started); on failure the caller keeps `user_data`.
/// Blocking (waits for callbacks to finish): replacing or removing the
/// callback waits for a running call of the old one to return.
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_set_state_callback(
    lock: *const zku_lock,
    callback: zku_lock_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        set_state_callback(callback, user_data, user_data_free, |c| lock.set_state_callback(c))
    })
}

/// Installs (or removes) a C state callback through `set`, for the lock
/// types that report `zku_lock_state`s.
pub(crate) fn set_state_callback(
    callback: zku_lock_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    set: impl FnOnce(Option<LockStateCallback>) -> Result<()>,
) -> Result<()> {
    let Some(callback) = callback else {
        return set(None);
    };
    register_user_data(user_data, user_data_free, |user_data| {
        set(Some(Box::new(move |old, new| {
            // SAFETY: the caller's callback with its own user_data, on a
            // library thread, as documented at registration.
            unsafe { callback(user_data.ptr(), state_code(old), state_code(new)) }
        })))
    })
}

/// A descriptor that becomes readable on every state change, for poll(),
/// epoll, libevent or Ruby's IO.select, as an alternative to the callback.
/// It is readable once right after its creation (the first call), so read
/// the state then. When it polls readable, call `zku_lock_fd_drain`. The
/// descriptor belongs to the lock: do not read, write or close it; it is
/// closed by `zku_lock_free`. Never blocks.
/// Errors: ZKU_ENULL, ZKU_ESYSTEM (no descriptors left).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_fd(lock: *const zku_lock, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `lock` NULL or live (caller).
    guard(err, || unsafe { super::super::fd_out(fd, || lock_arg(lock)?.pollable_fd()) })
}

/// Empties the descriptor of `zku_lock_fd` (so it is not readable until the
/// next change) and returns the current state (>= 0), or ZKU_ENULL for
/// NULL (ZKU_EFORKED for a lock inherited across fork()). Never blocks.
/// Changes between two drains are coalesced: the callback sees every
/// transition, the descriptor the latest state.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_fd_drain(lock: *const zku_lock) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    super::super::drain_result(unsafe { lock_arg(lock) }, |l| state_code(l.drain_notifications()))
}
