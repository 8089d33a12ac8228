//! Delivery of lock state changes: the callback (on a dispatcher thread,
//! every transition in order) and the pollable descriptor (a non-blocking
//! socket pair that gets one byte per change).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use crate::error::{Code, Error, Result};

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

/// A handle's [`Pollable`], made on first use (most handles never need
/// one).
#[derive(Default)]
pub(crate) struct LazyPollable(OnceLock<Pollable>);

impl LazyPollable {
    /// The descriptor, made (and signalled once) on the first call.
    pub(crate) fn fd(&self) -> Result<RawFd> {
        if let Some(p) = self.0.get() {
            return Ok(p.fd());
        }
        let p = Pollable::new()?;
        // A change between creating it and publishing it is covered by
        // this first signal.
        p.signal();
        let _ = self.0.set(p);
        Ok(self.0.get().expect("set above").fd())
    }

    /// Signals the descriptor, if it was made.
    pub(crate) fn signal(&self) {
        if let Some(p) = self.0.get() {
            p.signal();
        }
    }

    /// Drains the descriptor, if it was made.
    pub(crate) fn drain(&self) {
        if let Some(p) = self.0.get() {
            p.drain();
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
