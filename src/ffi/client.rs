//! `zku_client`: a ZooKeeper session — create, free, auth, session id,
//! connection state and the state-change callback.

use std::ffi::{c_char, c_int, c_void};

use super::callback::{register_user_data, zku_free_fn};
use super::cancel::{cancellable, zku_cancel};
use super::config::zku_config;
use super::error::zku_error;
use super::{SessionHandle, guard, guard_value, live_session, required_out, session_arg, set_out, str_arg, zku_rc};
use crate::client::Client;
use crate::config::Config;
use crate::error::Error;
use crate::node::SessionState;
use crate::runtime::Timeout;

/// A ZooKeeper session. Safe to use from several threads at once. Does not
/// survive fork(): in a child process every call on it (and on the locks,
/// readers and CAS handles made from it) fails with ZKU_EFORKED, and
/// `zku_client_free` releases nothing there; the child creates its own
/// client.
pub struct zku_client {
    pub(crate) client: Client,
}

impl SessionHandle for zku_client {
    fn client(&self) -> &Client {
        &self.client
    }
}

/// Session state, as returned by `zku_client_state`.
pub type zku_state = i32;
/// Connected to a server that accepts writes.
pub const ZKU_STATE_CONNECTED: zku_state = 1;
/// Connected to a read-only server. Not reported today: the library never
/// asks for read-only sessions (ZooKeeper's `canBeReadOnly`), and servers
/// grant them only to clients that do.
pub const ZKU_STATE_CONNECTED_READONLY: zku_state = 2;
/// Connection lost; the session may still be alive. Calls wait for the
/// connection (up to their timeout) or fail with ZKU_ECONNECTIONLOSS.
pub const ZKU_STATE_SUSPENDED: zku_state = 3;
/// The session expired: its ephemeral nodes and watches are gone. Final,
/// unless the configuration asks for session renewal
/// (`zku_config_set_session_renewal`): then CONNECTED follows once a new
/// session is open.
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
/// call is for a final state (EXPIRED, AUTH_FAILED or CLOSED; with session
/// renewal EXPIRED is not final, CONNECTED follows). It may call
/// back into the library (even free the client). It must return normally:
/// no longjmp, C++ exception, Ruby raise or Go panic may cross it.
pub type zku_state_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, old_state: zku_state, new_state: zku_state)>;

/// Connects and waits for a session, at most the configured connect
/// timeout. Blocking (network); `cancel` (NULL: none) as for every blocking
/// call (it comes before the outputs, as there is no `timeout_ms`).
/// `config` may be NULL (all defaults); it is copied. Fields it leaves
/// unset come from the `ZKU_*` environment variables, read now; a
/// malformed variable (set but empty counts) fails before anything is
/// sent, even when `config` sets that field. Free the client with
/// `zku_client_free`.
/// Errors: ZKU_EBADCONFIG (a malformed `ZKU_*` variable, named in the
/// message), ZKU_EHOSTS, ZKU_ECONNECTIONLOSS (no server answered in time),
/// ZKU_EAUTHFAILED, ZKU_EPERM (bad default ACL letters), ZKU_ETOOLARGE
/// (credentials over the server's packet limit), ZKU_ECANCELLED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_new(
    config: *const zku_config,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_client,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live (caller).
        let config = unsafe { config.as_ref() }.map_or_else(Config::new, |c| c.config.clone());
        let client = cancellable(cancel, None, || Client::connect(config))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_client { client }))) };
        Ok(())
    })
}

/// Closes the session at once, so its ephemeral nodes vanish now rather
/// than after the session timeout. Every call blocked on this client, on
/// any of its handles (node operations, waits, lock acquire and release,
/// reader, CAS, hierarchy), returns ZKU_ECLOSED within 50 ms, and every
/// later one at once; the client stays valid until `zku_client_free`,
/// which is then quick. Safe to call from any thread, also while other
/// threads use the client, and more than once.
/// Blocking (network): waits up to `timeout_ms` for the server to confirm
/// (0: does not wait); ZKU_ETIMEOUT when it did not (the session then ends
/// when the server gets the close request, or at the latest after the
/// session timeout). Then Blocking (waits for callbacks to finish): a
/// running state callback returns first (unless called from inside it).
/// Errors also: ZKU_ECANCELLED, ZKU_ENULL, ZKU_EINVAL (bad timeout).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_close(
    client: *const zku_client,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live (caller).
        let client = &unsafe { session_arg(client, "client")? }.client;
        let timeout = super::timeout_arg(timeout_ms)?;
        // Not in the client's own scope: its close would stop the wait.
        let confirmed = cancellable(cancel, None, || {
            let confirmed = client.close_within(timeout);
            crate::cancel::check()?;
            Ok(confirmed)
        })?;
        match confirmed || timeout == Timeout::NoWait {
            true => Ok(()),
            false => Err(Error::timeout("close: the server did not confirm before the timeout")),
        }
    })
}

/// Closes the session as `zku_client_close` (if it was not closed yet)
/// and frees the client. Blocking (network): waits for the server to
/// confirm the close at most the session timeout, and at most 5 s; quick
/// after `zku_client_close`; then Blocking (waits for callbacks to
/// finish): a state callback call in progress returns first. The state
/// callback gets the change to ZKU_STATE_CLOSED (on this thread if not
/// delivered yet), then its `user_data_free` runs; called from inside
/// that callback, it is not called again and `user_data_free` runs right
/// after it returns. Handles created from this client (locks, readers)
/// then fail with ZKU_ECLOSED. NULL is fine; no other call on this client
/// may be in progress or follow (use `zku_client_close` first to end calls
/// in progress); operations started on it (`zku_get_next_start`,
/// `zku_wait_absent_start`) may still run: they end with ZKU_ECLOSED, and
/// stay valid until `zku_op_free`. In a fork() child, for a client made by the parent, it
/// sends nothing, never blocks, runs no `user_data_free` and leaves the
/// memory allocated.
///
/// # Safety
/// `client` is NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_free(client: *mut zku_client) {
    // SAFETY: from zku_client_new, freed once (caller).
    let Some(client) = (unsafe { super::owned_session(client) }) else { return };
    guard_value((), || client.client.close());
}

/// The current session's id (0 for NULL, and in a fork() child for the
/// parent's client). With session renewal it changes when a new session
/// replaces an expired one (read it again after ZKU_STATE_CONNECTED).
/// Never blocks.
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_session_id(client: *const zku_client) -> i64 {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(client) }.map_or(0, |c| c.client.session_id())
}

/// The session timeout the server granted, in ms (0 for NULL, and in a
/// fork() child for the parent's client).
/// Never blocks.
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_session_timeout_ms(client: *const zku_client) -> i64 {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(client) }.map_or(0, |c| c.client.session_timeout().as_millis() as i64)
}

/// The current session state (ZKU_STATE_CLOSED for NULL, and in a fork()
/// child for the parent's client).
/// Never blocks.
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_state(client: *const zku_client) -> zku_state {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(client) }
        .map_or(ZKU_STATE_CLOSED, |c| guard_value(ZKU_STATE_CLOSED, || state_code(c.client.state())))
}

/// A descriptor that becomes readable on every session state change, for
/// poll(), epoll, libevent or Ruby's IO.select, as an alternative to the
/// state callback. It is readable once right after its creation (the
/// first call), so read the state then. When it polls readable, call
/// `zku_client_fd_drain`. The descriptor belongs to the client: do not
/// read, write or close it; it is closed by `zku_client_free` (a final
/// state, such as ZKU_STATE_CLOSED from `zku_client_close`, makes it
/// readable first). Never blocks.
/// Errors: ZKU_ENULL, ZKU_EFORKED, ZKU_ESYSTEM (no descriptors left).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_fd(client: *const zku_client, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `client` NULL or live (caller).
    guard(err, || unsafe { super::fd_out(fd, || session_arg(client, "client")?.client.pollable_fd()) })
}

/// Empties the descriptor of `zku_client_fd` (so it is not readable until
/// the next change) and returns the current state (a positive ZKU_STATE_*), or
/// ZKU_ENULL for NULL (ZKU_EFORKED for a client inherited across fork()).
/// Never blocks. Changes between two drains are coalesced: the callback
/// sees every change, the descriptor the latest state.
///
/// # Safety
/// `client` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_fd_drain(client: *const zku_client) -> zku_state {
    // SAFETY: NULL or live (caller).
    super::drain_result(unsafe { session_arg(client, "client") }, |c| state_code(c.client.drain_notifications()))
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
/// Blocking (waits for callbacks to finish): replacing or removing the
/// callback waits for a running call of the old one to return.
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
        let client = &unsafe { session_arg(client, "client")? }.client;
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
/// "user:password" bytes. Kept across reconnects, and with session renewal
/// added to each new session before it is reported connected. Blocking
/// (network), up to
/// `timeout_ms`. A refused credential ends the session:
/// ZKU_EAUTHFAILED here and state ZKU_STATE_AUTH_FAILED. Credentials too
/// large for the server's packet limit (scheme and credential together
/// about 1 MiB) fail with ZKU_ETOOLARGE, the limit in the message, before
/// anything is sent.
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
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live/valid (caller).
        let (client, scheme, auth) = unsafe {
            (
                &session_arg(client, "client")?.client,
                str_arg(scheme, "scheme")?,
                super::bytes_arg(auth, auth_len, "auth")?,
            )
        };
        let timeout = super::timeout_arg(timeout_ms)?;
        cancellable(cancel, Some(client), || client.add_auth(scheme, auth, timeout))
    })
}
