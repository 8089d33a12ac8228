//! `zku_lock` state: getters (state, token, loss reason, identity) and the
//! notifications (callback, pollable descriptor); their bodies, and those
//! of the guarded writes, shared with `zku_fifo` through [`LockHandle`].

use super::*;
use crate::lock::feed::StateFeed;
use crate::node::Stat;

/// A C lock handle (`zku_lock`, `zku_fifo`): what the bodies of their
/// state getters, notifications and guarded writes need.
pub(crate) trait LockHandle: SessionHandle {
    /// The handle argument's name, for error messages.
    const ARG: &'static str;
    fn state(&self) -> LockState;
    fn token(&self) -> Option<i64>;
    fn lost_reason(&self) -> Option<String>;
    fn feed(&self) -> &StateFeed;
    fn default_timeout(&self) -> Timeout;
    fn guarded_set(&self, path: &str, data: &[u8], version: Option<i32>, timeout: Timeout) -> Result<Stat>;
    fn guarded_delete(&self, path: &str, version: Option<i32>, timeout: Timeout) -> Result<()>;
}

impl LockHandle for zku_lock {
    const ARG: &'static str = "lock";

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

/// A lock call's timeout: ZKU_LOCK_DEFAULT_TIMEOUT (the handle's default),
/// -1, 0 or positive ms.
pub(crate) fn call_timeout(default: Timeout, ms: i32) -> Result<Timeout> {
    if ms == ZKU_LOCK_DEFAULT_TIMEOUT { Ok(default) } else { super::super::timeout_arg(ms) }
}

/// The body of `zku_*_guarded_set`.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn guarded_set_of<H: LockHandle>(
    handle: *const H,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or valid (caller).
        let (h, path, data) =
            unsafe { (session_arg(handle, H::ARG)?, str_arg(path, "path")?, bytes_arg(data, data_len, "data")?) };
        let (version, timeout) = (version_arg(expected_version)?, call_timeout(h.default_timeout(), timeout_ms)?);
        let st = cancellable(cancel, Some(h.client()), || h.guarded_set(path, data, version, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

/// The body of `zku_*_guarded_delete`.
///
/// # Safety
/// Pointers are NULL or valid.
pub(crate) unsafe fn guarded_delete_of<H: LockHandle>(
    handle: *const H,
    path: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or valid (caller).
        let (h, path) = unsafe { (session_arg(handle, H::ARG)?, str_arg(path, "path")?) };
        let (version, timeout) = (version_arg(expected_version)?, call_timeout(h.default_timeout(), timeout_ms)?);
        cancellable(cancel, Some(h.client()), || h.guarded_delete(path, version, timeout))
    })
}

/// The body of `zku_*_get_state`: ZKU_LOCK_UNLOCKED for NULL or a handle
/// inherited across fork().
///
/// # Safety
/// `handle` is NULL or live.
pub(crate) unsafe fn get_state<H: LockHandle>(handle: *const H) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(handle) }
        .map_or(ZKU_LOCK_UNLOCKED, |h| guard_value(ZKU_LOCK_UNLOCKED, || state_code(h.state())))
}

/// The body of `zku_*_token`.
///
/// # Safety
/// Pointers are NULL or valid.
pub(crate) unsafe fn token_of<H: LockHandle>(handle: *const H, token: *mut i64, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(token, 0) };
        required_out(token, "token")?;
        // SAFETY: NULL or live (caller).
        let h = unsafe { session_arg(handle, H::ARG)? };
        let t = h.token().ok_or_else(|| Error::new(Code::NotLocked, "the lock is not held by this handle"))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(token, t) };
        Ok(())
    })
}

/// The body of `zku_*_lost_reason`.
///
/// # Safety
/// `handle` is NULL or live.
pub(crate) unsafe fn lost_reason_of<H: LockHandle>(handle: *const H) -> *mut c_char {
    // SAFETY: NULL or live (caller).
    let Some(h) = (unsafe { live_session(handle) }) else { return std::ptr::null_mut() };
    guard_value(std::ptr::null_mut(), || {
        h.lost_reason().and_then(|r| raw_string(r).ok()).unwrap_or(std::ptr::null_mut())
    })
}

/// The body of `zku_*_set_state_callback`.
///
/// # Safety
/// As `zku_lock_set_state_callback`.
pub(crate) unsafe fn set_state_callback_of<H: LockHandle>(
    handle: *const H,
    callback: zku_lock_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let h = unsafe { session_arg(handle, H::ARG)? };
        set_state_callback(callback, user_data, user_data_free, |c| h.feed().set_callback(c))
    })
}

/// The body of `zku_*_fd`.
///
/// # Safety
/// Pointers are NULL or valid.
pub(crate) unsafe fn fd_of<H: LockHandle>(handle: *const H, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `handle` NULL or live (caller).
    guard(err, || unsafe { crate::ffi::fd_out(fd, || session_arg(handle, H::ARG)?.feed().fd()) })
}

/// The body of `zku_*_fd_drain`: the state, or ZKU_ENULL / ZKU_EFORKED.
///
/// # Safety
/// `handle` is NULL or live.
pub(crate) unsafe fn fd_drain_of<H: LockHandle>(handle: *const H) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    crate::ffi::drain_result(unsafe { session_arg(handle, H::ARG) }, |h| {
        h.feed().drain();
        state_code(h.state())
    })
}

/// The lock state (ZKU_LOCK_UNLOCKED for NULL). Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_get_state(lock: *const zku_lock) -> zku_lock_state {
    // SAFETY: NULL or live (caller).
    unsafe { get_state(lock) }
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
    // SAFETY: forwarded from the caller.
    unsafe { token_of(lock, token, err) }
}

/// Why the lock was lost, while ZKU_LOCK_LOST (free with
/// `zku_string_free`); NULL otherwise. Never blocks.
///
/// # Safety
/// `lock` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_lost_reason(lock: *const zku_lock) -> *mut c_char {
    // SAFETY: NULL or live (caller).
    unsafe { lost_reason_of(lock) }
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
    // SAFETY: forwarded from the caller.
    unsafe { set_state_callback_of(lock, callback, user_data, user_data_free, err) }
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
    // SAFETY: forwarded from the caller.
    unsafe { fd_of(lock, fd, err) }
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
    unsafe { fd_drain_of(lock) }
}
