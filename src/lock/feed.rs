//! Delivery of lock state changes, the same for the k3zkutil lock and the
//! sequential locks ([`StateFeed`]): waiters inside the library (a watch
//! channel), the callback (on a dispatcher thread, every transition in
//! order) and the pollable descriptor ([`Notifier`]).

use std::os::fd::RawFd;

use tokio::sync::watch;

use super::{LockState, LockStateCallback};
use crate::client::Client;
use crate::dispatch::{Callback, Delivery, StateQueue};
use crate::error::Result;
use crate::notify::Notifier;

/// Where a lock handle's state changes go. The handle publishes each
/// change with its state mutex locked, so they go out in order.
pub(crate) struct StateFeed {
    /// The state, for waiting on it inside the library.
    states: watch::Sender<LockState>,
    callback: Delivery<StateQueue<LockState>>,
    notifier: Notifier,
}

impl StateFeed {
    /// A feed starting at `Unlocked`, its callback delivery counted in
    /// `client`'s statistics.
    pub(crate) fn new(client: &Client) -> StateFeed {
        StateFeed {
            states: watch::Sender::new(LockState::Unlocked),
            callback: client.delivery(StateQueue::new(LockState::Unlocked)),
            notifier: Notifier::default(),
        }
    }

    /// Tells the waiters, the callback and the descriptor.
    pub(crate) fn publish(&self, new: LockState) {
        self.states.send_replace(new);
        self.callback.post(new);
        self.notifier.signal();
    }

    /// The state as published, to wait for changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<LockState> {
        self.states.subscribe()
    }

    /// Replaces the callback (see [`crate::Lock::set_state_callback`]).
    pub(crate) fn set_callback(&self, callback: Option<LockStateCallback>) -> Result<()> {
        let callback = callback
            .map(|mut callback| -> Callback<(LockState, LockState)> { Box::new(move |(old, new)| callback(old, new)) });
        self.callback.set_callback(callback)
    }

    /// The descriptor (see [`Notifier::fd`]).
    pub(crate) fn fd(&self) -> Result<RawFd> {
        self.notifier.fd()
    }

    /// Empties the descriptor.
    pub(crate) fn drain(&self) {
        self.notifier.drain();
    }

    /// Delivers what is queued and drops the callback (see
    /// [`Delivery::close`]).
    pub(crate) fn close(&self) {
        self.callback.close();
    }
}
