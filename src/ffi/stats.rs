//! `zku_client_stats`: a snapshot of a client's counters.

use super::client::zku_client;
use super::error::zku_error;
use super::{guard, required_out, session_arg, set_out, write_out, zku_rc};
use crate::stats::ClientStats;

/// A snapshot of a client's counters, filled by `zku_client_get_stats`,
/// for a daemon to export to its metrics system. Counters only grow over
/// the client's life; fields ending in `_now` are current values.
/// Counted requests are those the client sends for node operations
/// (get, set, create, delete, exists, children, ACLs, auth, JSON), CAS and
/// the reads of readers and waits, and the lock's calls (acquire, release,
/// value); not counted: the lock's background work (monitor reads,
/// cleanups, background releases), a guarded write's multi, and tree
/// import/export.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct zku_client_stats {
    /// Requests sent (each attempt of a retried read counts).
    pub requests_sent: u64,
    /// Requests sent whose reply has not come yet (nor been given up on).
    pub requests_in_flight_now: u64,
    /// Replies that took more than 1 s (each is also logged, ZKU_LOG_WARN).
    pub slow_replies: u64,
    /// Failed requests: the node was not as asked (no node, node exists,
    /// bad version, not empty, no children for ephemerals).
    pub errors_node: u64,
    /// Failed requests: no permission (no auth, invalid ACL, auth failed).
    pub errors_permission: u64,
    /// Failed requests: connection lost, or no reply before the call's
    /// timeout.
    pub errors_connection: u64,
    /// Failed requests: session expired or moved.
    pub errors_session: u64,
    /// Failed requests: anything else the server refused.
    pub errors_other: u64,
    /// Connections lost while the session was alive.
    pub disconnects: u64,
    /// Connections re-established on the same session.
    pub reconnects: u64,
    /// New sessions opened after an expiry (session renewal, see
    /// `zku_config_set_session_renewal`).
    pub session_renewals: u64,
    /// Watches the client's readers and waits wait on now.
    pub watches_now: u64,
    /// Callback calls queued for the client's handles (its state callback,
    /// its locks' and readers' callbacks) and not run yet.
    pub callbacks_waiting_now: u64,
}

impl From<ClientStats> for zku_client_stats {
    fn from(s: ClientStats) -> zku_client_stats {
        zku_client_stats {
            requests_sent: s.requests_sent,
            requests_in_flight_now: s.requests_in_flight_now,
            slow_replies: s.slow_replies,
            errors_node: s.errors_node,
            errors_permission: s.errors_permission,
            errors_connection: s.errors_connection,
            errors_session: s.errors_session,
            errors_other: s.errors_other,
            disconnects: s.disconnects,
            reconnects: s.reconnects,
            session_renewals: s.session_renewals,
            watches_now: s.watches_now,
            callbacks_waiting_now: s.callbacks_waiting_now,
        }
    }
}

/// Fills `*stats` with a snapshot of the client's counters (zeroed first,
/// written on success). Each field is read atomically on its own, so
/// fields may be a few events apart from each other. Safe to call from
/// any thread, also after `zku_client_close` (the counters stay readable).
/// Never blocks.
/// Errors: ZKU_ENULL, ZKU_EFORKED.
///
/// # Safety
/// `client` is NULL or live; `stats` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_get_stats(
    client: *const zku_client,
    stats: *mut zku_client_stats,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stats, zku_client_stats::default()) };
        required_out(stats, "stats")?;
        // SAFETY: NULL or live (caller).
        let client = &unsafe { session_arg(client, "client")? }.client;
        // SAFETY: checked non-NULL.
        unsafe { set_out(stats, client.stats().into()) };
        Ok(())
    })
}
