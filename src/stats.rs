//! A client's counters, for a daemon to export to its metrics system:
//! relaxed atomics bumped on the request path, read by [`Counters::snapshot`]
//! without waiting for anything.
//!
//! Counted requests are those the client sends itself: node operations
//! (get, set, create, delete, exists, children, ACLs, auth, JSON), CAS
//! reads and writes, the reads of readers and waits, and the lock's calls
//! (acquire, release, value). Not counted: the lock's background work
//! (monitor reads, cleanups, background releases), a guarded write's
//! multi, and tree import/export (they talk to the session directly); the
//! log shows the lock's activity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Code;

/// A snapshot of a client's counters. Counters only grow (`*_now` fields
/// are current values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests sent (each attempt of a retried read counts).
    pub requests_sent: u64,
    /// Requests sent whose reply has not come yet (nor been given up on).
    pub requests_in_flight_now: u64,
    /// Replies that came after more than [`crate::client::SLOW_REPLY`].
    pub slow_replies: u64,
    /// Failed requests by class (see [`ErrorClass`]).
    pub errors_node: u64,
    pub errors_permission: u64,
    pub errors_connection: u64,
    pub errors_session: u64,
    pub errors_other: u64,
    /// Connections lost while the session was alive.
    pub disconnects: u64,
    /// Connections re-established on the same session.
    pub reconnects: u64,
    /// New sessions opened after an expiry (session renewal).
    pub session_renewals: u64,
    /// Watches readers and waits of this client wait on now.
    pub watches_now: u64,
    /// Callback calls queued for this client's handles (its state
    /// callback, its locks' and readers' callbacks) and not run yet.
    pub callbacks_waiting_now: u64,
}

/// How a failed request is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The node was not as asked: no node, node exists, bad version, not
    /// empty, no children for ephemerals (normal outcomes of CAS and of
    /// creates that race).
    Node,
    /// No permission: no auth, invalid ACL, authentication failed.
    Permission,
    /// The connection was lost, or no reply came before the call's
    /// deadline.
    Connection,
    /// The session expired or moved.
    Session,
    /// Anything else the server refused.
    Other,
}

impl ErrorClass {
    pub fn of(code: Code) -> ErrorClass {
        match code {
            Code::NoNode | Code::NodeExists | Code::BadVersion | Code::NotEmpty | Code::NoChildrenForEphemerals => {
                ErrorClass::Node
            }
            Code::NoAuth | Code::InvalidAcl | Code::AuthFailed => ErrorClass::Permission,
            Code::ConnectionLoss | Code::OperationTimeout => ErrorClass::Connection,
            Code::SessionExpired | Code::SessionMoved => ErrorClass::Session,
            _ => ErrorClass::Other,
        }
    }
}

/// The live counters of one client.
#[derive(Default)]
pub(crate) struct Counters {
    requests_sent: AtomicU64,
    in_flight: AtomicU64,
    slow_replies: AtomicU64,
    errors: [AtomicU64; 5],
    disconnects: AtomicU64,
    reconnects: AtomicU64,
    renewals: AtomicU64,
    watches: AtomicU64,
    /// Shared with the deliveries of the client's handles.
    callbacks_waiting: Arc<AtomicU64>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let errors = |class: ErrorClass| get(&self.errors[class as usize]);
        ClientStats {
            requests_sent: get(&self.requests_sent),
            requests_in_flight_now: get(&self.in_flight),
            slow_replies: get(&self.slow_replies),
            errors_node: errors(ErrorClass::Node),
            errors_permission: errors(ErrorClass::Permission),
            errors_connection: errors(ErrorClass::Connection),
            errors_session: errors(ErrorClass::Session),
            errors_other: errors(ErrorClass::Other),
            disconnects: get(&self.disconnects),
            reconnects: get(&self.reconnects),
            session_renewals: get(&self.renewals),
            watches_now: get(&self.watches),
            callbacks_waiting_now: get(&self.callbacks_waiting),
        }
    }

    /// A request is sent; in flight until the guard is dropped.
    pub(crate) fn sent(&self) -> InFlight<'_> {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub(crate) fn failed(&self, class: ErrorClass) {
        self.errors[class as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn slow_reply(&self) {
        self.slow_replies.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disconnected(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn renewed(&self) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
    }

    /// A watch is set; waited on until the guard is dropped.
    pub(crate) fn watching(self: &Arc<Self>) -> Watching {
        self.watches.fetch_add(1, Ordering::Relaxed);
        Watching(self.clone())
    }

    /// The gauge the client's callback deliveries keep up to date.
    pub(crate) fn callbacks_waiting(&self) -> &Arc<AtomicU64> {
        &self.callbacks_waiting
    }
}

/// A request in flight (see [`Counters::sent`]).
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A watch waited on (see [`Counters::watching`]).
pub(crate) struct Watching(Arc<Counters>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.watches.fetch_sub(1, Ordering::Relaxed);
    }
}
