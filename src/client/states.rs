//! A client's session states: the current session's channel (for waiting
//! inside the library), the state callback, the descriptor for event
//! loops; each change logged and counted.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::dispatch::{Delivery, StateQueue};
use crate::log::{Level, log_event};
use crate::node::SessionState;
use crate::notify::Notifier;
use crate::stats::Counters;

/// The session state, for waiting on it inside the library, and its
/// callback; its changes are logged and counted.
pub(super) struct States {
    /// The current session's states. Its Expired is final; a renewal puts
    /// a new channel here and drops the old one (whose receivers then see
    /// `changed()` fail, after the expiry).
    pub(super) current: RwLock<watch::Sender<SessionState>>,
    pub(super) callback: Delivery<StateQueue<SessionState>>,
    /// Readable after every change, for event loops.
    pub(super) notifier: Notifier,
    pub(super) session_id: AtomicI64,
    /// Whether an expiry is followed by a new session.
    pub(super) renews: bool,
    pub(super) hosts: String,
    pub(super) stats: Arc<Counters>,
}

impl States {
    pub(super) fn new(
        state: SessionState,
        session_id: i64,
        renews: bool,
        hosts: String,
        stats: Arc<Counters>,
    ) -> States {
        let queue = if renews {
            StateQueue::until(state, |s| matches!(s, SessionState::AuthFailed | SessionState::Closed))
        } else {
            StateQueue::until(state, |s| s.is_terminal())
        };
        States {
            current: RwLock::new(watch::Sender::new(state)),
            callback: Delivery::counted(queue, Some(stats.callbacks_waiting().clone())),
            notifier: Notifier::default(),
            session_id: AtomicI64::new(session_id),
            renews,
            hosts,
            stats,
        }
    }

    pub(super) fn get(&self) -> SessionState {
        *self.current.read().unwrap().borrow()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<SessionState> {
        self.current.read().unwrap().subscribe()
    }

    /// A session's last state is final, but a client renewing an expired
    /// session may still be closed before the next one opens.
    fn can_move(&self, from: SessionState, to: SessionState) -> bool {
        from != to
            && (!from.is_terminal() || (self.renews && from == SessionState::Expired && to == SessionState::Closed))
    }

    fn log_change(&self, old: SessionState, new: SessionState) {
        let id = self.session_id.load(Ordering::Relaxed);
        match new {
            SessionState::Suspended if old.is_connected() => {
                self.stats.disconnected();
                log_event!(Level::Warn, "session 0x{id:x}: connection lost, reconnecting to {}", self.hosts);
            }
            SessionState::Connected | SessionState::ConnectedReadOnly if old == SessionState::Suspended => {
                self.stats.reconnected();
                let read_only = if new == SessionState::ConnectedReadOnly { " (read-only)" } else { "" };
                log_event!(Level::Info, "session 0x{id:x}: reconnected to {}{read_only}", self.hosts);
            }
            SessionState::Expired if self.renews => {
                log_event!(Level::Warn, "session 0x{id:x} expired, opening a new session with {}", self.hosts)
            }
            SessionState::Expired => log_event!(Level::Error, "session 0x{id:x} expired"),
            SessionState::AuthFailed => log_event!(Level::Error, "session 0x{id:x}: authentication failed"),
            SessionState::Closed => log_event!(Level::Info, "session 0x{id:x} closed"),
            _ => log_event!(Level::Info, "session 0x{id:x}: {old:?} -> {new:?}"),
        }
    }

    /// Moves to `new` unless the state is already final (a Closed set by
    /// `close` stays, whatever the crate reports after it).
    pub(super) fn set(&self, new: SessionState) {
        self.current.read().unwrap().send_if_modified(|s| {
            let changed = self.can_move(*s, new);
            if changed {
                self.log_change(*s, new);
                *s = new;
                // Posted under the channel's lock, so changes go out in order.
                self.callback.post(new);
                self.notifier.signal();
            }
            changed
        });
    }

    /// Starts the states of the session `id` that replaces the expired one.
    pub(super) fn renewed(&self, id: i64, state: SessionState) {
        let old_id = self.session_id.swap(id, Ordering::Relaxed);
        self.stats.renewed();
        log_event!(Level::Warn, "session 0x{old_id:x} renewed: new session 0x{id:x} with {}", self.hosts);
        let mut current = self.current.write().unwrap();
        // Posted under the lock, so it follows the old session's Expired.
        self.callback.post(state);
        self.notifier.signal();
        *current = watch::Sender::new(state);
    }
}
