//! The server's packet limit: a request's encoded size, checked before it
//! is sent.
//!
//! ZooKeeper 3.8 reads a request's 4-byte length first and closes the
//! connection when it exceeds `jute.maxbuffer` (NIOServerCnxn.readLength:
//! `len < 0 || len > BinaryInputArchive.maxBuffer`, default 0xfffff). The
//! whole client then reconnects (and re-sends a too-large credential on
//! every reconnect), and the caller only sees a connection loss. So every
//! write is sized here, as zookeeper-client encodes it, and refused with
//! [`Code::DataTooLarge`] instead.

use zookeeper_client as zk;

use crate::error::{Code, Error, Result};

/// ZooKeeper's default `jute.maxbuffer`: the largest length a request may
/// announce (the 4-byte length prefix itself not counted).
pub const SERVER_PACKET_LIMIT: usize = 0xfffff;

/// Room left below the server's limit for what a future client or server
/// version might add to a request (our sizes follow zookeeper-client 0.11
/// and the 3.8 wire format byte for byte).
const SAFETY_MARGIN: usize = 64;

/// The largest request (header and body, without the length prefix) the
/// library sends.
pub const MAX_REQUEST_LEN: usize = SERVER_PACKET_LIMIT - SAFETY_MARGIN;

/// xid and op code.
const REQUEST_HEADER: usize = 8;
/// A multi's per-operation header (op code, done flag, error), also
/// written once more to end the list.
const MULTI_HEADER: usize = 4 + 1 + 4;

/// A jute string or buffer: a 4-byte length, then the bytes.
fn buffer(len: usize) -> usize {
    4 + len
}

/// A jute vector of ACL entries: a count, then per entry the permission
/// bits, the scheme and the id.
fn acl_list(acl: &[zk::Acl]) -> usize {
    4 + acl.iter().map(|a| 4 + buffer(a.scheme().len()) + buffer(a.id().len())).sum::<usize>()
}

/// One write as the server receives it. Paths are the client's; the
/// session's chroot is prepended on the wire.
#[derive(Clone, Copy)]
pub enum Write<'a> {
    Create { path: &'a str, data: &'a [u8], acl: &'a [zk::Acl], ttl: bool },
    SetData { path: &'a str, data: &'a [u8] },
    SetAcl { path: &'a str, acl: &'a [zk::Acl] },
    Delete { path: &'a str },
    CheckVersion { path: &'a str },
}

impl Write<'_> {
    fn name(&self) -> &'static str {
        match self {
            Write::Create { .. } => "create",
            Write::SetData { .. } => "set",
            Write::SetAcl { .. } => "set_acl",
            Write::Delete { .. } => "delete",
            Write::CheckVersion { .. } => "check",
        }
    }

    fn path(&self) -> &str {
        match self {
            Write::Create { path, .. }
            | Write::SetData { path, .. }
            | Write::SetAcl { path, .. }
            | Write::Delete { path }
            | Write::CheckVersion { path } => path,
        }
    }

    /// The encoded body (the root's path counts one byte more than it
    /// takes under a chroot; never less).
    fn body_len(&self, chroot_len: usize) -> usize {
        let path = buffer(chroot_len + self.path().len());
        let version = 4;
        match self {
            Write::Create { data, acl, ttl, .. } => {
                let flags = 4;
                path + buffer(data.len()) + acl_list(acl) + flags + if *ttl { 8 } else { 0 }
            }
            Write::SetData { data, .. } => path + buffer(data.len()) + version,
            Write::SetAcl { acl, .. } => path + acl_list(acl) + version,
            Write::Delete { .. } | Write::CheckVersion { .. } => path + version,
        }
    }
}

fn too_large(what: &str, len: usize) -> Error {
    Error::new(
        Code::DataTooLarge,
        format!(
            "{what}: the request would be {len} bytes, over the {MAX_REQUEST_LEN} byte limit \
             (the server's jute.maxbuffer of {SERVER_PACKET_LIMIT} bytes less a {SAFETY_MARGIN} byte margin); \
             nothing was sent"
        ),
    )
}

fn check_len(what: impl FnOnce() -> String, len: usize) -> Result<()> {
    if len > MAX_REQUEST_LEN { Err(too_large(&what(), len)) } else { Ok(()) }
}

/// The encoded size of `write` sent on its own.
pub fn request_len(write: &Write, chroot_len: usize) -> usize {
    REQUEST_HEADER + write.body_len(chroot_len)
}

/// The encoded size of `writes` sent as one multi.
pub fn multi_len(writes: &[Write], chroot_len: usize) -> usize {
    REQUEST_HEADER + writes.iter().map(|w| MULTI_HEADER + w.body_len(chroot_len)).sum::<usize>() + MULTI_HEADER
}

/// Refuses `write` when it is too large to send on its own.
pub fn check(write: &Write, chroot_len: usize) -> Result<()> {
    check_len(|| format!("{} {}", write.name(), write.path()), request_len(write, chroot_len))
}

/// Refuses `writes` when they are too large to send as one multi.
pub fn check_multi(writes: &[Write], chroot_len: usize) -> Result<()> {
    let what = || {
        let ops: Vec<String> = writes.iter().map(|w| format!("{} {}", w.name(), w.path())).collect();
        format!("multi ({})", ops.join(", "))
    };
    check_len(what, multi_len(writes, chroot_len))
}

/// The encoded size of an auth packet: header, auth type, scheme and
/// credentials.
pub fn auth_len(scheme: &str, credentials: &[u8]) -> usize {
    REQUEST_HEADER + 4 + buffer(scheme.len()) + buffer(credentials.len())
}

/// Refuses credentials too large for the server: they would be re-sent,
/// and refused, on every reconnect.
pub fn check_auth(scheme: &str, credentials: &[u8]) -> Result<()> {
    check_len(|| format!("add_auth {scheme:.40}"), auth_len(scheme, credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_wire_format() {
        let open = [crate::acl::Acl::open().to_zk()];
        // header 8, path 4+2, data 4+3, ACL 4+(4+4+5+4+6), flags 4.
        let create = Write::Create { path: "/a", data: b"abc", acl: &open, ttl: false };
        assert_eq!(request_len(&create, 0), 8 + 6 + 7 + 27 + 4);
        assert_eq!(request_len(&create, 4), 8 + 10 + 7 + 27 + 4);
        let ttl = Write::Create { path: "/a", data: b"abc", acl: &open, ttl: true };
        assert_eq!(request_len(&ttl, 0), request_len(&create, 0) + 8);
        assert_eq!(request_len(&Write::SetData { path: "/a", data: b"abc" }, 0), 8 + 6 + 7 + 4);
        assert_eq!(request_len(&Write::Delete { path: "/a" }, 0), 8 + 6 + 4);
        let multi = [Write::CheckVersion { path: "/l" }, Write::Delete { path: "/a" }];
        assert_eq!(multi_len(&multi, 0), 8 + (9 + 10) + (9 + 10) + 9);
        assert_eq!(auth_len("digest", b"u:p"), 8 + 4 + 10 + 7);
    }

    #[test]
    fn the_limit_is_inclusive() {
        let fixed = request_len(&Write::SetData { path: "/a", data: b"" }, 0);
        let at_limit = vec![0u8; MAX_REQUEST_LEN - fixed];
        check(&Write::SetData { path: "/a", data: &at_limit }, 0).unwrap();
        let err = check(&Write::SetData { path: "/a", data: &at_limit }, 1).unwrap_err();
        assert_eq!(err.code(), Code::DataTooLarge);
        assert!(err.message().contains(&MAX_REQUEST_LEN.to_string()), "{}", err.message());
        assert!(check_auth("digest", &vec![0u8; MAX_REQUEST_LEN]).is_err());
    }
}
