//! `zku_client`: a ZooKeeper session — create, free, auth, session id,
//! connection state and the state-change callback.

use std::ffi::{c_char, c_void};

use super::callback::{register_user_data, zku_free_fn};
use super::config::zku_config;
use super::error::zku_error;
use super::{guard, guard_value, handle, required_out, set_out, str_arg, zku_rc};
use crate::client::Client;
use crate::config::Config;
use crate::node::SessionState;

/// A ZooKeeper session. Safe to use from several threads at once. Does not
/// survive fork(): a child process must create its own client.
pub struct zku_client {
    pub(crate) client: Client,
}

/// Session state, as returned by `zku_client_state`.
pub type zku_state = i32;
/// Connected to a server that accepts writes.
pub const ZKU_STATE_CONNECTED: zku_state = 1;
/// Connected to a read-only server.
pub const ZKU_STATE_CONNECTED_READONLY: zku_state = 2;
/// Connection lost; the session may still be alive. Calls wait for the
/// connection (up to their timeout) or fail with ZKU_ECONNECTIONLOSS.
pub const ZKU_STATE_SUSPENDED: zku_state = 3;
/// The session expired: its ephemeral nodes and watches are gone. Final.
pub const ZKU_STATE_EXPIRED: zku_state = 4;
/// The server refused the credentials. Final.
pub const ZKU_STATE_AUTH_FAILED: zku_state = 5;
/// Closed by `zku_client_free` (or never usable). Final.
pub const ZKU_STATE_CLOSED: zku_state = 6;

pub(crate) fn state_code(state: SessionState) -> zku_state {
    match state {
        SessionState::Connected => ZKU_STATE_CONNECTED,
        SessionState::ConnectedReadOnly => ZKU_STATE_CONNECTED_READONLY,
        SessionState::Suspended => ZKU_STATE_SUSPENDED,
        SessionState::Expired => ZKU_STATE_EXPIRED,
        SessionState::AuthFailed => ZKU_STATE_AUTH_FAILED,
        SessionState::Closed => ZKU_STATE_CLOSED,
    }
}

/// Called on every session state change with the old and new state, on a
/// library callback thread, one call at a time, in order. When it falls
/// behind by more than 16 changes (slow or blocked), the oldest waiting
/// ones are skipped: each call's `old_state` is still the previous call's
/// `new_state`, and the latest state is always delivered. The last
/// call is for a final state (EXPIRED, AUTH_FAILED or CLOSED). It may call
/// back into the library (even free the client). It must return normally:
/// no longjmp, C++ exception, Ruby raise or Go panic may cross it.
pub type zku_state_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, old_state: zku_state, new_state: zku_state)>;

/// Connects and waits for a session, at most the configured connect
/// timeout. Blocking. `config` may be NULL (all defaults); it is copied.
/// Free the client with `zku_client_free`.
/// Errors: ZKU_EHOSTS, ZKU_ECONNECTIONLOSS (no server answered in time),
/// ZKU_EAUTHFAILED, ZKU_EPERM (bad default ACL letters).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_new(
    config: *const zku_config,
    out: *mut *mut zku_client,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live (caller).
        let config = unsafe { config.as_ref() }.map_or_else(Config::new, |c| c.config.clone());
        let client = Client::connect(config)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_client { client }))) };
        Ok(())
    })
}

/// Closes the session at once, so its ephemeral nodes vanish now rather
/// than after the session timeout, and frees the client. Blocking (waits
/// up to a few seconds for the server to confirm, and for a state callback
/// call in progress). The state callback gets the change to
/// ZKU_STATE_CLOSED (on this thread if not delivered yet), then its
/// `user_data_free` runs; called from inside that callback, it is not
/// called again and `user_data_free` runs right after it returns. Handles created from
/// this client (locks, readers) then fail with ZKU_ECLOSED. NULL is fine;
/// no other call on this client may be in progress or follow.
///
/// # Safety
/// `client` is NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_free(client: *mut zku_client) {
    if client.is_null() {
        return;
    }
    // SAFETY: from zku_client_new, freed once (caller).
    let client = unsafe { Box::from_raw(client) };
    guard_value((), || client.client.close());
}

/// The session id (0 for NULL).
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_session_id(client: *const zku_client) -> i64 {
    // SAFETY: NULL or live (caller).
    unsafe { client.as_ref() }.map_or(0, |c| c.client.session_id())
}

/// The session timeout the server granted, in ms (0 for NULL).
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_session_timeout_ms(client: *const zku_client) -> i64 {
    // SAFETY: NULL or live (caller).
    unsafe { client.as_ref() }.map_or(0, |c| c.client.session_timeout().as_millis() as i64)
}

/// The current session state (ZKU_STATE_CLOSED for NULL).
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_state(client: *const zku_client) -> zku_state {
    // SAFETY: NULL or live (caller).
    unsafe { client.as_ref() }
        .map_or(ZKU_STATE_CLOSED, |c| guard_value(ZKU_STATE_CLOSED, || state_code(c.client.state())))
}

/// Sets (or with `callback` NULL, removes) the state-change callback; it
/// gets the changes after this call (see `zku_state_fn`). A previous
/// callback is removed first: after this returns it is not called again
/// and its `user_data_free` has run (changes it had not been given yet are
/// given to it first, on this thread). Called from inside the old callback
/// it returns at once: the old one is not called again, its
/// `user_data_free` runs right after it returns, and the new one gets the
/// changes after it, still one call at a time. `user_data_free` (may be
/// NULL) runs exactly once, when the callback is replaced, removed, after
/// its final state, or the client freed.
/// Errors: ZKU_ENULL, ZKU_ERESOURCE (no callback thread could be started);
/// on failure the caller keeps `user_data`.
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_set_state_callback(
    client: *const zku_client,
    callback: zku_state_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let client = &unsafe { handle(client, "client")? }.client;
        let Some(callback) = callback else {
            return client.set_state_callback(None);
        };
        register_user_data(user_data, user_data_free, |user_data| {
            client.set_state_callback(Some(Box::new(move |old, new| {
                // SAFETY: the caller's callback with its own user_data, on a
                // library thread, as documented at registration.
                unsafe { callback(user_data.ptr(), state_code(old), state_code(new)) }
            })))
        })
    })
}

/// Adds credentials to the session, e.g. scheme "digest" with
/// "user:password" bytes. Kept across reconnects. Blocking, up to
/// `timeout_ms`. A refused credential ends the session:
/// ZKU_EAUTHFAILED here and state ZKU_STATE_AUTH_FAILED.
///
/// # Safety
/// Pointers are NULL or valid; `auth` has `auth_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_add_auth(
    client: *const zku_client,
    scheme: *const c_char,
    auth: *const u8,
    auth_len: usize,
    timeout_ms: i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live/valid (caller).
        let (client, scheme, auth) = unsafe {
            (&handle(client, "client")?.client, str_arg(scheme, "scheme")?, super::bytes_arg(auth, auth_len, "auth")?)
        };
        client.add_auth(scheme, auth, super::timeout_arg(timeout_ms)?)
    })
}
