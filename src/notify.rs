//! A descriptor that becomes readable on change, for poll/epoll loops: the
//! lock states, the client's session state, a reader's value and a
//! finished [`crate::op::Op`] (a non-blocking socket pair that gets one
//! byte per change). Safe Rust: the C layer only hands out the number.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use crate::error::{Code, Error, Result};

/// A handle's change descriptor, made on the first request for it (most
/// programs never ask) and readable at once then, so the first poll reads
/// the current state.
#[derive(Default)]
pub(crate) struct Notifier {
    pollable: OnceLock<Pollable>,
}

impl Notifier {
    /// The descriptor; it belongs to the handle (closed when it is dropped).
    pub(crate) fn fd(&self) -> Result<RawFd> {
        if let Some(p) = self.pollable.get() {
            return Ok(p.fd());
        }
        let p = Pollable::new()?;
        // A change between creating it and publishing it is covered by
        // this first signal.
        p.signal();
        let _ = self.pollable.set(p);
        Ok(self.pollable.get().expect("set above").fd())
    }

    /// Makes the descriptor readable, if there is one. Never blocks.
    pub(crate) fn signal(&self) {
        if let Some(p) = self.pollable.get() {
            p.signal();
        }
    }

    /// Empties the descriptor, so it is not readable until the next change.
    pub(crate) fn drain(&self) {
        if let Some(p) = self.pollable.get() {
            p.drain();
        }
    }
}

/// A descriptor that becomes readable when signalled.
pub(crate) struct Pollable {
    read: UnixStream,
    write: UnixStream,
}

impl Pollable {
    pub(crate) fn new() -> Result<Pollable> {
        let io =
            |e: std::io::Error| Error::new(Code::SystemError, format!("cannot create a notification socket pair: {e}"));
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

    #[test]
    fn a_notifier_is_readable_once_made_and_after_each_signal() {
        let n = Notifier::default();
        n.signal(); // no descriptor yet: nothing to do
        n.drain();
        let fd = n.fd().unwrap();
        assert_eq!(n.fd().unwrap(), fd, "one descriptor per notifier");
        let p = n.pollable.get().unwrap();
        let mut buf = [0u8; 4];
        assert_eq!((&p.read).read(&mut buf).unwrap(), 1, "readable right after it is made");
        n.signal();
        n.drain();
        assert_eq!((&p.read).read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        n.signal();
        assert_eq!((&p.read).read(&mut buf).unwrap(), 1);
    }
}
