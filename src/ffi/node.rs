//! Node operations on a `zku_client` (create, get, set, delete, exists,
//! children, ACLs, and the JSON variants) and `zku_stat`.

use std::ffi::c_char;
use std::time::Duration;

use super::acl::zku_acl_list;
use super::buf::{raw_string, zku_buf, zku_strings};
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::{bytes_arg, clear_out, guard, handle, session_arg, str_arg, timeout_arg, version_arg, write_out, zku_rc};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::node::{CreateOptions, NodeKind, Stat};

/// A znode's metadata, as ZooKeeper's Stat.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct zku_stat {
    /// zxid of the change that created the node (a fencing token for locks).
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last modification time, ms since the epoch.
    pub mtime: i64,
    /// zxid of the last change to the children.
    pub pzxid: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of changes to the children.
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Session id of the owner if ephemeral, else 0.
    pub ephemeral_owner: i64,
    /// Length of the data in bytes.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
}

impl From<Stat> for zku_stat {
    fn from(s: Stat) -> zku_stat {
        zku_stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            pzxid: s.pzxid,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
        }
    }
}

/// Largest node data accepted, in bytes (ZooKeeper's 1 MiB request limit
/// minus room for the path and headers). Larger data gives ZKU_ETOOLARGE
/// before anything is sent.
pub const ZKU_MAX_DATA_LEN: usize = 1_047_552;

/// Create flag: the node is deleted when the session ends.
pub const ZKU_CREATE_EPHEMERAL: u32 = 1;
/// Create flag: append a 10-digit sequence number to the name.
pub const ZKU_CREATE_SEQUENTIAL: u32 = 2;
/// Create flag: a container node, deleted by the server once its last
/// child is gone.
pub const ZKU_CREATE_CONTAINER: u32 = 4;
/// Create flag: create missing parents (persistent, same ACL) first.
pub const ZKU_CREATE_PARENTS: u32 = 0x100;

const CREATE_FLAGS: u32 = ZKU_CREATE_EPHEMERAL | ZKU_CREATE_SEQUENTIAL | ZKU_CREATE_CONTAINER | ZKU_CREATE_PARENTS;

/// "Any version" for `expected_version` arguments.
pub const ZKU_ANY_VERSION: i32 = -1;

/// A `ttl_ms` argument: 0 is none.
pub(super) fn ttl_arg(ttl_ms: i64) -> Result<Option<Duration>> {
    match ttl_ms {
        0 => Ok(None),
        ms if ms > 0 => Ok(Some(Duration::from_millis(ms as u64))),
        ms => Err(Error::invalid_argument(format!("ttl_ms must be 0 (none) or positive, got {ms}"))),
    }
}

fn create_options(flags: u32, ttl_ms: i64, acl: Option<&zku_acl_list>) -> Result<CreateOptions> {
    if flags & !CREATE_FLAGS != 0 {
        return Err(Error::invalid_argument(format!("unknown create flags {:#x}", flags & !CREATE_FLAGS)));
    }
    let kind = match (flags & ZKU_CREATE_EPHEMERAL != 0, flags & ZKU_CREATE_CONTAINER != 0) {
        (false, false) => NodeKind::Persistent,
        (true, false) => NodeKind::Ephemeral,
        (false, true) => NodeKind::Container,
        (true, true) => return Err(Error::invalid_argument("a node cannot be both ephemeral and a container")),
    };
    if kind == NodeKind::Container && flags & ZKU_CREATE_SEQUENTIAL != 0 {
        return Err(Error::invalid_argument("a container node cannot be sequential"));
    }
    let ttl = ttl_arg(ttl_ms)?;
    Ok(CreateOptions {
        kind,
        sequential: flags & ZKU_CREATE_SEQUENTIAL != 0,
        ttl,
        acl: acl.map(zku_acl_list::acls),
        make_parents: flags & ZKU_CREATE_PARENTS != 0,
    })
}

/// Writes a create's outputs: the path (when wanted) and the stat.
///
/// # Safety
/// Both out-parameters are NULL or writable.
unsafe fn write_created((path, st): (String, Stat), created_path: *mut *mut c_char, stat: *mut zku_stat) -> Result<()> {
    if !created_path.is_null() {
        // SAFETY: non-NULL and writable (caller).
        unsafe { write_out(created_path, raw_string(path)?) };
    }
    // SAFETY: NULL or writable (caller).
    unsafe { write_out(stat, st.into()) };
    Ok(())
}

/// # Safety
/// `client` is NULL or live.
unsafe fn client_arg<'a>(client: *const zku_client) -> Result<&'a Client> {
    // SAFETY: forwarded from the caller.
    unsafe { session_arg(client, "client") }.map(|c| &c.client)
}

/// Creates a node at absolute `path` with `data_len` bytes of `data` (NULL
/// with 0 for empty). `flags`: ZKU_CREATE_* bits (0: persistent).
/// `ttl_ms` > 0 makes a persistent node expire after that long without
/// changes or children (the server must enable extended types). `acl` NULL
/// uses the configured default ACL (world:anyone:cdrwa when none). Blocking (network),
/// up to `timeout_ms`. On success `*created_path` (may be NULL) receives the
/// path (with the sequence number) to free with `zku_string_free`, and
/// `*stat` (may be NULL) the new node's stat.
/// Errors: ZKU_ENODEEXISTS, ZKU_ENONODE (parent missing), ZKU_ENOAUTH,
/// ZKU_ENOCHILDRENFOREPHEMERALS, ZKU_EPATH, ZKU_ETOOLARGE (data over
/// ZKU_MAX_DATA_LEN, or path, data and ACL together over the server's
/// packet limit: refused before sending), ZKU_EINVAL,
/// ZKU_EUNIMPLEMENTED (TTL without extended types), connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_create(
    client: *const zku_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    flags: u32,
    ttl_ms: i64,
    acl: *const zku_acl_list,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    created_path: *mut *mut c_char,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            clear_out(created_path);
            write_out(stat, zku_stat::default());
        }
        // SAFETY: NULL or valid (caller).
        let (client, path, data, acl) =
            unsafe { (client_arg(client)?, str_arg(path, "path")?, bytes_arg(data, data_len, "data")?, acl.as_ref()) };
        let options = create_options(flags, ttl_ms, acl)?;
        let timeout = timeout_arg(timeout_ms)?;
        let created = cancellable(cancel, Some(client), || client.create(path, data, &options, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_created(created, created_path, stat) }
    })
}

/// Reads a node's data into a new `*data` (free with `zku_buf_free`) and
/// its stat into `*stat` (may be NULL). Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE, ZKU_ENOAUTH, ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_get(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    data: *mut *mut zku_buf,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            clear_out(data);
            write_out(stat, zku_stat::default());
        }
        super::required_out(data, "data")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let (bytes, st) = cancellable(cancel, Some(client), || client.get(path, timeout))?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(data, zku_buf::boxed(bytes));
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// `zku_client_get` into the caller's buffer, allocating nothing when the
/// data fits: copies the node's data into `buf` (`buf_len` bytes; NULL when
/// 0), its length into `*data_len` and its stat into `*stat` (may be NULL).
/// Data longer than `buf_len` is not copied: it comes back in a new
/// `*overflow` (free with `zku_buf_free`) when `overflow` is not NULL,
/// else the call returns ZKU_EBUFSIZE with `*data_len` set to the length
/// needed (a later read may find other data). `*overflow` is NULL
/// otherwise. Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_EBUFSIZE, ZKU_ENONODE, ZKU_ENOAUTH, ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `buf` has `buf_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_get_into(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    buf: *mut u8,
    buf_len: usize,
    data_len: *mut usize,
    overflow: *mut *mut zku_buf,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(data_len, 0);
            clear_out(overflow);
            write_out(stat, zku_stat::default());
        }
        super::required_out(data_len, "data_len")?;
        if buf.is_null() && buf_len > 0 {
            return Err(super::null_arg("buf"));
        }
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let (bytes, st) = cancellable(cancel, Some(client), || client.get(path, timeout))?;
        // SAFETY: checked non-NULL (caller: writable).
        unsafe { super::set_out(data_len, bytes.len()) };
        if bytes.len() > buf_len {
            if overflow.is_null() {
                return Err(Error::new(
                    Code::BufferTooSmall,
                    format!("{path}: the data is {} bytes, the buffer {buf_len}", bytes.len()),
                ));
            }
            // SAFETY: checked non-NULL / NULL or writable (caller).
            unsafe {
                super::set_out(overflow, zku_buf::boxed(bytes));
                write_out(stat, st.into());
            }
            return Ok(());
        }
        // SAFETY: `buf` has `buf_len` >= bytes.len() writable bytes (caller),
        // non-NULL unless both are 0; a Vec never overlaps caller memory.
        unsafe {
            if !bytes.is_empty() {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len());
            }
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// Replaces a node's data if its version is `expected_version`
/// (ZKU_ANY_VERSION: any). `*stat` (may be NULL) receives the new stat.
/// Blocking (network), up to `timeout_ms`; on ZKU_ETIMEOUT or ZKU_ECONNECTIONLOSS the
/// write may or may not have been applied.
/// Errors: ZKU_EBADVERSION, ZKU_ENONODE, ZKU_ENOAUTH, ZKU_EPATH,
/// ZKU_ETOOLARGE, connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_set(
    client: *const zku_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or valid (caller).
        let (client, path, data) =
            unsafe { (client_arg(client)?, str_arg(path, "path")?, bytes_arg(data, data_len, "data")?) };
        let version = version_arg(expected_version)?;
        let timeout = timeout_arg(timeout_ms)?;
        let st = cancellable(cancel, Some(client), || client.set(path, data, version, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

/// Deletes a node if its version is `expected_version` (ZKU_ANY_VERSION:
/// any). Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE, ZKU_EBADVERSION, ZKU_ENOTEMPTY, ZKU_ENOAUTH,
/// ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_delete(
    client: *const zku_client,
    path: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let version = version_arg(expected_version)?;
        let timeout = timeout_arg(timeout_ms)?;
        cancellable(cancel, Some(client), || client.delete(path, version, timeout))
    })
}

/// Sets `*exists` to whether the node exists and, when it does, `*stat`
/// (may be NULL) to its stat. Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_exists(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    exists: *mut bool,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(exists, false);
            write_out(stat, zku_stat::default());
        }
        super::required_out(exists, "exists")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let found = cancellable(cancel, Some(client), || client.exists(path, timeout))?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(exists, found.is_some());
            write_out(stat, found.map(zku_stat::from).unwrap_or_default());
        }
        Ok(())
    })
}

/// The names of a node's children (in the server's order) into a new
/// `*children` (free with `zku_strings_free`), its stat into `*stat` (may be
/// NULL). Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE, ZKU_ENOAUTH, ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_children(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    children: *mut *mut zku_strings,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(children);
            write_out(stat, zku_stat::default());
        }
        super::required_out(children, "children")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let (names, st) = cancellable(cancel, Some(client), || client.children(path, timeout))?;
        let list = zku_strings::boxed(names)?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(children, list);
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// A node's ACL into a new `*acl` (free with `zku_acl_list_free`) and its
/// stat into `*stat` (may be NULL). Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE, ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_get_acl(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    acl: *mut *mut zku_acl_list,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(acl);
            write_out(stat, zku_stat::default());
        }
        super::required_out(acl, "acl")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let (entries, st) = cancellable(cancel, Some(client), || client.get_acl(path, timeout))?;
        let list = Box::into_raw(Box::new(zku_acl_list::from_acls(entries)?));
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(acl, list);
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// Replaces a node's ACL if its ACL version is `expected_aversion`
/// (ZKU_ANY_VERSION: any). `*stat` (may be NULL) receives the new stat.
/// Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE, ZKU_EBADVERSION, ZKU_ENOAUTH (needs 'a'),
/// ZKU_EINVALIDACL (empty list), ZKU_EPATH, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_set_acl(
    client: *const zku_client,
    path: *const c_char,
    acl: *const zku_acl_list,
    expected_aversion: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or valid (caller).
        let (client, path, acl) = unsafe { (client_arg(client)?, str_arg(path, "path")?, handle(acl, "acl")?) };
        let version = version_arg(expected_aversion)?;
        let timeout = timeout_arg(timeout_ms)?;
        let st = cancellable(cancel, Some(client), || client.set_acl(path, &acl.acls(), version, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

/// `zku_client_create` with a JSON text value, checked before sending.
/// Errors: as zku_client_create, plus ZKU_EJSON.
/// Blocking (network), up to `timeout_ms`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_create_json(
    client: *const zku_client,
    path: *const c_char,
    json: *const c_char,
    flags: u32,
    acl: *const zku_acl_list,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    created_path: *mut *mut c_char,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(created_path);
            write_out(stat, zku_stat::default());
        }
        // SAFETY: NULL or valid (caller).
        let (client, path, json, acl) =
            unsafe { (client_arg(client)?, str_arg(path, "path")?, str_arg(json, "json")?, acl.as_ref()) };
        let options = create_options(flags, 0, acl)?;
        let timeout = timeout_arg(timeout_ms)?;
        let created = cancellable(cancel, Some(client), || client.create_json(path, json, &options, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_created(created, created_path, stat) }
    })
}

/// Reads a node whose data must be UTF-8 JSON text into a new `*json`
/// (free with `zku_string_free`), its stat into `*stat` (may be NULL).
/// Errors: as zku_client_get, plus ZKU_EJSON when the data is not UTF-8
/// JSON.
/// Blocking (network), up to `timeout_ms`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_get_json(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    json: *mut *mut c_char,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(json);
            write_out(stat, zku_stat::default());
        }
        super::required_out(json, "json")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (client_arg(client)?, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let (text, st) = cancellable(cancel, Some(client), || client.get_json(path, timeout))?;
        let text = raw_string(text)?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(json, text);
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// `zku_client_set` with a JSON text value, checked before sending.
/// Errors: as zku_client_set, plus ZKU_EJSON.
/// Blocking (network), up to `timeout_ms`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_client_set_json(
    client: *const zku_client,
    path: *const c_char,
    json: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or valid (caller).
        let (client, path, json) = unsafe { (client_arg(client)?, str_arg(path, "path")?, str_arg(json, "json")?) };
        let version = version_arg(expected_version)?;
        let timeout = timeout_arg(timeout_ms)?;
        let st = cancellable(cancel, Some(client), || client.set_json(path, json, version, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn max_data_len_matches_the_core() {
        assert_eq!(super::ZKU_MAX_DATA_LEN, crate::path::MAX_DATA_LEN);
    }
}
