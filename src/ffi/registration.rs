//! `zku_registration`: a node kept present for as long as the handle lives
//! (Curator's PersistentNode, kazoo's Party member), with its state through
//! a callback and a pollable descriptor.

use std::ffi::{c_char, c_int, c_void};

use super::buf::raw_string;
use super::callback::{register_user_data, zku_free_fn};
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::{
    SessionHandle, bytes_arg, clear_out, guard, guard_value, live_session, required_out, session_arg, set_out, str_arg,
    timeout_arg, zku_rc,
};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::registration::{Registration, RegistrationOptions, RegistrationState};

/// A registration node handle: keeps one node present (ephemeral unless
/// ZKU_REGISTRATION_PERSISTENT) for as long as it lives. Create with
/// `zku_registration_new`, free with `zku_registration_free`. Thread-safe.
/// Does not survive fork().
pub struct zku_registration {
    registration: Registration,
}

impl SessionHandle for zku_registration {
    fn client(&self) -> &Client {
        self.registration.client()
    }
}

/// A registration handle's state, from `zku_registration_get_state`, the
/// state callback and `zku_registration_fd_drain`.
pub type zku_registration_state = i32;
/// The node is not there: not created yet, deleted (the handle creates it
/// again), its session expired (created again when the client gets a new
/// session; never without session renewal), or a node this handle did not
/// create is at the path (left alone; ours is created once it is gone).
/// `zku_registration_absent_reason` says which.
pub const ZKU_REGISTRATION_ABSENT: zku_registration_state = 0;
/// Our node exists, as last confirmed by the server.
pub const ZKU_REGISTRATION_PRESENT: zku_registration_state = 1;
/// Closed by `zku_registration_close` (final).
pub const ZKU_REGISTRATION_CLOSED: zku_registration_state = 2;

/// Registration flag: a persistent node (survives the session; still
/// deleted by close and free) instead of an ephemeral one.
pub const ZKU_REGISTRATION_PERSISTENT: u32 = 1;
/// Registration flag: a sequential node (`path` is the name prefix): every
/// creation gets a new name, see `zku_registration_path`.
pub const ZKU_REGISTRATION_SEQUENTIAL: u32 = 2;

/// Called with the old and new state on every state change, on a library
/// callback thread, one call at a time, in order (the oldest skipped when
/// more than 16 wait; `old_state` is always the previous call's
/// `new_state`). It may call back into the library (even free the handle).
/// It must return normally: no longjmp, C++ exception, Ruby raise or Go
/// panic may cross it.
pub type zku_registration_state_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, old_state: zku_registration_state, new_state: zku_registration_state),
>;

fn state_code(state: RegistrationState) -> zku_registration_state {
    match state {
        RegistrationState::Absent => ZKU_REGISTRATION_ABSENT,
        RegistrationState::Present => ZKU_REGISTRATION_PRESENT,
        RegistrationState::Closed => ZKU_REGISTRATION_CLOSED,
    }
}

fn options(flags: u32, ttl_ms: i64) -> Result<RegistrationOptions> {
    let known = ZKU_REGISTRATION_PERSISTENT | ZKU_REGISTRATION_SEQUENTIAL;
    if flags & !known != 0 {
        return Err(Error::invalid_argument(format!("unknown registration flags {:#x}", flags & !known)));
    }
    Ok(RegistrationOptions {
        persistent: flags & ZKU_REGISTRATION_PERSISTENT != 0,
        sequential: flags & ZKU_REGISTRATION_SEQUENTIAL != 0,
        ttl: super::node::ttl_arg(ttl_ms)?,
    })
}

/// # Safety
/// `registration` is NULL or live.
unsafe fn registration_arg<'a>(registration: *const zku_registration) -> Result<&'a Registration> {
    // SAFETY: forwarded from the caller.
    unsafe { session_arg(registration, "registration") }.map(|r| &r.registration)
}

/// Keeps a node at `path` holding `data_len` bytes of `data` (NULL with 0
/// for empty) for as long as the handle lives, creating missing parents
/// (persistent). The node gets the client's configured default ACL.
/// `flags`: 0 (ephemeral), ZKU_REGISTRATION_PERSISTENT,
/// ZKU_REGISTRATION_SEQUENTIAL (`path` is then the name prefix, e.g.
/// "/services/api/member-"). `ttl_ms`: 0, or with
/// ZKU_REGISTRATION_PERSISTENT the server deletes the node after that long
/// without changes or children (the handle creates it again; needs the
/// server's `zookeeper.extendedTypesEnabled`).
/// Blocking (network): waits up to `timeout_ms` for the node's first
/// creation and returns the handle once it is ZKU_REGISTRATION_PRESENT, or
/// ZKU_REGISTRATION_ABSENT when the time ran out (no connection yet) or a
/// node this handle did not create is at the path (another session's
/// ephemeral node, a persistent node): that node is never deleted or
/// overwritten; the handle watches it and creates ours once it is gone.
/// The client must stay alive while the handle is used (freeing it makes
/// the handle ABSENT for good). Free with `zku_registration_free`.
/// Errors, with nothing left on the server: ZKU_ENULL, ZKU_EUTF8,
/// ZKU_EPATH, ZKU_ETOOLARGE, ZKU_EINVAL (unknown flags, negative ttl_ms,
/// a TTL without ZKU_REGISTRATION_PERSISTENT, bad timeout), the server's
/// refusal of the first creation when
/// retrying cannot help (e.g. ZKU_ENOAUTH, ZKU_EINVALIDACL,
/// ZKU_ENOCHILDRENFOREPHEMERALS, a TTL on a server without extended
/// types), ZKU_ECANCELLED, ZKU_ECLOSED (closed client), ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_new(
    client: *const zku_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    flags: u32,
    ttl_ms: i64,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_registration,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, path, data) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(path, "path")?, bytes_arg(data, data_len, "data")?)
        };
        let options = options(flags, ttl_ms)?;
        let timeout = timeout_arg(timeout_ms)?;
        let registration =
            cancellable(cancel, Some(client), || Registration::new(client, path, data, options, timeout))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_registration { registration }))) };
        Ok(())
    })
}

/// Stops keeping the node and deletes it if it is still ours (a node read
/// with our creation zxid, deleted at the version read: never a node
/// someone else made in its place). Blocking (network): waits up to
/// `timeout_ms` for the delete; without a connection it goes on in the
/// background until the session timeout. The state becomes
/// ZKU_REGISTRATION_CLOSED and the state callback gets it, then stops (its
/// `user_data_free` runs). Later calls return ZKU_OK at once; other calls
/// on the handle fail with ZKU_ECLOSED, except the getters.
/// Errors: ZKU_ETIMEOUT (the delete was not confirmed in time),
/// ZKU_ECANCELLED (it goes on in the background too), ZKU_ENULL,
/// ZKU_EINVAL (bad timeout), ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_close(
    registration: *const zku_registration,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let registration = unsafe { registration_arg(registration)? };
        let timeout = timeout_arg(timeout_ms)?;
        cancellable(cancel, None, || registration.close(timeout))
    })
}

/// Frees a registration handle: closes it first (as
/// `zku_registration_close`) if it was not closed, waiting at most the
/// session timeout capped at 2 s for the delete (Blocking (network)); the
/// delete goes on in the background after that. The descriptor of
/// `zku_registration_fd` is closed. NULL is fine; no other call on this
/// handle may be in progress or follow. In a fork() child, for a handle
/// made by the parent, it deletes nothing, sends nothing, never blocks,
/// runs no `user_data_free` and leaves the memory allocated.
///
/// # Safety
/// `registration` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_free(registration: *mut zku_registration) {
    // SAFETY: from zku_registration_new, freed once (caller).
    let registration = unsafe { super::owned_session(registration) };
    guard_value((), || drop(registration));
}

/// The state (ZKU_REGISTRATION_ABSENT for NULL). Never blocks.
///
/// # Safety
/// `registration` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_get_state(registration: *const zku_registration) -> zku_registration_state {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(registration) }.map_or(ZKU_REGISTRATION_ABSENT, |r| {
        guard_value(ZKU_REGISTRATION_ABSENT, || state_code(r.registration.state()))
    })
}

/// The path of the node the handle keeps (or kept last) into a new
/// `*path` (free with `zku_string_free`): the path given, or for a
/// sequential node the name the server gave, new after every re-creation.
/// Never blocks.
/// Errors: ZKU_ENONODE (a sequential node not created yet), ZKU_ENULL,
/// ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_path(
    registration: *const zku_registration,
    path: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(path) };
        required_out(path, "path")?;
        // SAFETY: NULL or live (caller).
        let registration = unsafe { registration_arg(registration)? };
        let current = registration
            .path()
            .ok_or_else(|| Error::new(Code::NoNode, "the sequential registration node was not created yet"))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(path, raw_string(current)?) };
        Ok(())
    })
}

/// Why the node is absent, while ZKU_REGISTRATION_ABSENT (free with
/// `zku_string_free`); NULL otherwise. Never blocks.
///
/// # Safety
/// `registration` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_absent_reason(registration: *const zku_registration) -> *mut c_char {
    // SAFETY: NULL or live (caller).
    let Some(r) = (unsafe { live_session(registration) }) else { return std::ptr::null_mut() };
    guard_value(std::ptr::null_mut(), || {
        r.registration.reason().and_then(|why| raw_string(why).ok()).unwrap_or(std::ptr::null_mut())
    })
}

/// Replaces the node's data with `data_len` bytes of `data` (NULL with 0
/// for empty); every later re-creation writes it too. While the node is
/// present, Blocking (network): waits up to `timeout_ms` for the write
/// (ZKU_ETIMEOUT: it goes on in the background); while absent, returns at
/// once. Never writes a node this handle did not create.
/// Errors: ZKU_ENULL, ZKU_ETOOLARGE, ZKU_EINVAL (bad timeout), ZKU_ETIMEOUT,
/// ZKU_ECANCELLED, ZKU_ECLOSED (closed handle or client), ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_set_data(
    registration: *const zku_registration,
    data: *const u8,
    data_len: usize,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or valid (caller).
        let (registration, data) = unsafe { (registration_arg(registration)?, bytes_arg(data, data_len, "data")?) };
        let timeout = timeout_arg(timeout_ms)?;
        cancellable(cancel, Some(registration.client()), || registration.set_data(data, timeout))
    })
}

/// Sets (or with `callback` NULL, removes) the state-change callback; it
/// gets the changes after this call (see `zku_registration_state_fn`),
/// as `zku_lock_set_state_callback`: a previous callback is removed first
/// (after this returns it is not called again and its `user_data_free` has
/// run); from inside the old callback it returns at once. `user_data_free`
/// (may be NULL) runs exactly once.
/// Errors: ZKU_ENULL (`registration`), ZKU_ERESOURCE (no callback thread
/// could be started), ZKU_EFORKED; on failure the caller keeps `user_data`.
/// Blocking (waits for callbacks to finish): replacing or removing the
/// callback waits for a running call of the old one to return.
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_set_state_callback(
    registration: *const zku_registration,
    callback: zku_registration_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let registration = unsafe { registration_arg(registration)? };
        let Some(callback) = callback else {
            return registration.set_state_callback(None);
        };
        register_user_data(user_data, user_data_free, |user_data| {
            registration.set_state_callback(Some(Box::new(move |old, new| {
                // SAFETY: the caller's callback with its own user_data, on a
                // library thread, as documented at registration.
                unsafe { callback(user_data.ptr(), state_code(old), state_code(new)) }
            })))
        })
    })
}

/// A descriptor that becomes readable on every state change, for poll(),
/// epoll, libevent or Ruby's IO.select, as an alternative to the callback.
/// It is readable once right after its creation (the first call), so read
/// the state then. When it polls readable, call
/// `zku_registration_fd_drain`. It belongs to the handle: do not read,
/// write or close it; `zku_registration_free` closes it. Never blocks.
/// Errors: ZKU_ENULL, ZKU_ESYSTEM (no descriptors left), ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_fd(
    registration: *const zku_registration,
    fd: *mut c_int,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `registration` NULL or live (caller).
    guard(err, || unsafe { super::fd_out(fd, || registration_arg(registration)?.pollable_fd()) })
}

/// Empties the descriptor of `zku_registration_fd` (so it is not readable
/// until the next change) and returns the current state (>= 0), or
/// ZKU_ENULL for NULL (ZKU_EFORKED for a handle inherited across fork()).
/// Changes between two drains are coalesced. Never blocks.
///
/// # Safety
/// `registration` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_registration_fd_drain(registration: *const zku_registration) -> zku_registration_state {
    // SAFETY: NULL or live (caller).
    super::drain_result(unsafe { registration_arg(registration) }, |r| state_code(r.drain_notifications()))
}
