//! Delivery of lock state changes, the same for the k3zkutil lock and the
//! sequential locks ([`StateFeed`]): waiters inside the library (a watch
//! channel), the callback (on a dispatcher thread, every transition in
//! order) and the pollable descriptor (a non-blocking socket pair that
//! gets one byte per change).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use tokio::sync::watch;

use super::{LockState, LockStateCallback};
use crate::client::Client;
use crate::dispatch::{Callback, Delivery, StateQueue};
use crate::error::{Code, Error, Result};

/// Where a lock handle's state changes go. The handle publishes each
/// change with its state mutex locked, so they go out in order.
pub(crate) struct StateFeed {
    /// The state, for waiting on it inside the library.
    states: watch::Sender<LockState>,
    callback: Delivery<StateQueue<LockState>>,
    pollable: OnceLock<Pollable>,
}

impl StateFeed {
    /// A feed starting at `Unlocked`, its callback delivery counted in
    /// `client`'s statistics.
    pub(crate) fn new(client: &Client) -> StateFeed {
        StateFeed {
            states: watch::Sender::new(LockState::Unlocked),
            callback: client.delivery(StateQueue::new(LockState::Unlocked)),
            pollable: OnceLock::new(),
        }
    }

    /// Tells the waiters, the callback and the descriptor.
    pub(crate) fn publish(&self, new: LockState) {
        self.states.send_replace(new);
        self.callback.post(new);
        if let Some(p) = self.pollable.get() {
            p.signal();
        }
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

    /// The descriptor, made on first use and then readable once at once:
    /// a change between making it and publishing it is covered by that.
    pub(crate) fn fd(&self) -> Result<RawFd> {
        if let Some(p) = self.pollable.get() {
            return Ok(p.fd());
        }
        let p = Pollable::new()?;
        p.signal();
        let _ = self.pollable.set(p);
        Ok(self.pollable.get().expect("set above").fd())
    }

    /// Empties the descriptor.
    pub(crate) fn drain(&self) {
        if let Some(p) = self.pollable.get() {
            p.drain();
        }
    }

    /// Delivers what is queued and drops the callback (see
    /// [`Delivery::close`]).
    pub(crate) fn close(&self) {
        self.callback.close();
    }
}

/// A descriptor that becomes readable when the lock state changes.
pub(crate) struct Pollable {
    read: UnixStream,
    write: UnixStream,
}

impl Pollable {
    pub(crate) fn new() -> Result<Pollable> {
        let io = |e: std::io::Error| {
            Error::new(Code::SystemError, format!("cannot create the lock's notification socket pair: {e}"))
        };
        let (read, write) = UnixStream::pair().map_err(io)?;
        read.set_nonblocking(true).map_err(io)?;
        write.set_nonblocking(true).map_err(io)?;
        Ok(Pollable { read, write })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the descriptor readable. A full socket buffer is fine: it is
    /// readable already.
    pub(crate) fn signal(&self) {
        loop {
            match (&self.write).write(&[1]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                _ => return,
            }
        }
    }

    /// Reads everything pending, so the descriptor is not readable until
    /// the next change.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 256];
        loop {
            match (&self.read).read(&mut buf) {
                Ok(n) if n > 0 => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_and_drain() {
        let p = Pollable::new().unwrap();
        assert!(p.fd() >= 0);
        let mut buf = [0u8; 4];
        assert_eq!((&p.read).read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        for _ in 0..100_000 {
            p.signal(); // never blocks, even when the buffer is full
        }
        p.drain();
        assert_eq!((&p.read).read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    }
}
