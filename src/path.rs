//! Znode path checks, done before anything is sent so a bad path gets a
//! specific error instead of a server round trip.

use crate::error::{Code, Error, Result};
use crate::packet;

/// ZooKeeper's limit on node data (jute.maxbuffer is 0xfffff bytes for the
/// whole request; a request that exceeds it makes the server drop the
/// connection, so we refuse it before sending).
pub const MAX_DATA_LEN: usize = 1024 * 1024 - 1024;

fn invalid(path: &str, why: &str) -> Error {
    Error::new(Code::InvalidPath, format!("path {path:?}: {why}"))
}

/// Absolute, no empty, `.` or `..` components, no trailing `/` (but for the
/// root), and none of the characters ZooKeeper refuses.
pub fn validate(path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(invalid(path, "is empty"));
    }
    check_len(path, 0)?;
    if !path.starts_with('/') {
        return Err(invalid(path, "must be absolute (start with '/')"));
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(invalid(path, "must not end with '/'"));
    }
    for component in path[1..].split('/') {
        match component {
            "" => return Err(invalid(path, "has an empty component ('//')")),
            "." | ".." => return Err(invalid(path, "has a relative component ('.' or '..')")),
            _ => {}
        }
    }
    if let Some(c) = path.chars().find(|c| is_forbidden(*c)) {
        return Err(invalid(path, &format!("has the forbidden character U+{:04X}", c as u32)));
    }
    Ok(())
}

/// The longest path a request can carry: the smallest request naming a path
/// (a read: header, the path as a jute string, the watch flag) within
/// [`packet::MAX_REQUEST_LEN`]. A longer one, sent, would make the server
/// drop the whole client's connection (found by tests/abi_fuzz.rs: a 2 MiB
/// path to `zku_wait_absent` reconnected for seconds with timeout 0).
pub const MAX_PATH_LEN: usize = packet::MAX_REQUEST_LEN - 8 - 4 - 1;

/// Refuses a path longer than [`MAX_PATH_LEN`] once the session's chroot
/// (`chroot_len` bytes, prepended on the wire) is counted.
pub fn check_len(path: &str, chroot_len: usize) -> Result<()> {
    if chroot_len + path.len() > MAX_PATH_LEN {
        let under = if chroot_len > 0 { format!(" under a chroot of {chroot_len} bytes") } else { String::new() };
        return Err(Error::new(
            Code::DataTooLarge,
            format!(
                "a path of {} bytes{under} is over the {MAX_PATH_LEN} byte limit (a request is at most {} bytes); \
                 nothing was sent",
                path.len(),
                packet::MAX_REQUEST_LEN
            ),
        ));
    }
    Ok(())
}

/// Like [`validate`], for the prefix of a sequential node, which may end in
/// '/' (the server appends the sequence number).
pub fn validate_sequential_prefix(path: &str) -> Result<()> {
    match path.strip_suffix('/') {
        Some(parent) if !parent.is_empty() && !parent.ends_with('/') => validate(parent),
        _ => validate(path),
    }
}

// The ranges ZooKeeper's PathUtils.validatePath rejects.
fn is_forbidden(c: char) -> bool {
    let u = c as u32;
    u <= 0x1f || (0x7f..=0x9f).contains(&u) || (0xd800..=0xf8ff).contains(&u) || (0xfff0..=0xffff).contains(&u)
}

pub fn check_data_len(data: &[u8]) -> Result<()> {
    if data.len() > MAX_DATA_LEN {
        return Err(Error::new(
            Code::DataTooLarge,
            format!("data of {} bytes exceeds the {MAX_DATA_LEN} byte limit", data.len()),
        ));
    }
    Ok(())
}

/// The parent of an absolute path (`None` for the root).
pub fn parent(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

/// `parent/child`, without doubling the root's slash.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" { format!("/{child}") } else { format!("{parent}/{child}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_paths() {
        for ok in ["/", "/a", "/a/b", "/a b/é", "/a.b/..c"] {
            validate(ok).unwrap();
        }
        for bad in ["", "a", "a/b", "/a/", "//a", "/a//b", "/a/./b", "/a/..", "/a\u{1}b", "/a\u{fff5}"] {
            assert_eq!(validate(bad).unwrap_err().code(), Code::InvalidPath, "{bad:?}");
        }
        validate_sequential_prefix("/q/").unwrap();
        validate_sequential_prefix("/q/n-").unwrap();
        assert!(validate_sequential_prefix("//").is_err());
    }

    #[test]
    fn parents_and_joins() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
