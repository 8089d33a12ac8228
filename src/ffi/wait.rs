//! Waits on a `zku_client`: `zku_get_next` (until a node's version passes a
//! given one) and `zku_wait_absent` (until a node is gone).

use std::ffi::c_char;

use super::buf::zku_buf;
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::node::zku_stat;
use super::{clear_out, guard, required_out, session_arg, str_arg, timeout_arg, write_out, zku_rc};
use crate::error::Error;
use crate::wait;

/// `zku_get_next` flag: when the node does not exist, wait for it to be
/// created instead of failing with ZKU_ENONODE.
pub const ZKU_WAIT_CREATE: u32 = 1;

/// Waits until the node at `path` has a version greater than `version`
/// (-1: returns as soon as the node exists, i.e. at once if it does), then
/// returns its data in a new `*data` (free with `zku_buf_free`) and its stat
/// in `*stat` (may be NULL). `flags`: 0 or ZKU_WAIT_CREATE. Wakes on a watch,
/// and checks again after a reconnection. Blocking (network), up to `timeout_ms`
/// (-1: forever; 0: check once). The watch is removed before returning.
/// Errors: ZKU_ETIMEOUT (not reached in time, including while
/// disconnected), ZKU_ENONODE (no node, without ZKU_WAIT_CREATE),
/// ZKU_ESESSIONEXPIRED, ZKU_ECLOSED (client freed), ZKU_EAUTHFAILED,
/// ZKU_ECONNECTIONLOSS (timeout 0 while disconnected), ZKU_ENOAUTH,
/// ZKU_EPATH, ZKU_EINVAL (version < -1, unknown flags), ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_get_next(
    client: *const zku_client,
    path: *const c_char,
    version: i32,
    flags: u32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    data: *mut *mut zku_buf,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(data);
            write_out(stat, zku_stat::default());
        }
        required_out(data, "data")?;
        if flags & !ZKU_WAIT_CREATE != 0 {
            return Err(Error::invalid_argument(format!("unknown flags {:#x}", flags & !ZKU_WAIT_CREATE)));
        }
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
        let until_created = flags & ZKU_WAIT_CREATE != 0;
        let timeout = timeout_arg(timeout_ms)?;
        let (bytes, st) =
            cancellable(cancel, Some(client), || wait::get_next(client, path, version, until_created, timeout))?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            write_out(data, zku_buf::boxed(bytes));
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// Waits until no node exists at `path`; returns at once if none does.
/// Wakes on a watch and checks again after a reconnection. Blocking (network), up to
/// `timeout_ms` (-1: forever; 0: check once). The watch is removed before
/// returning.
/// Errors: ZKU_ETIMEOUT, ZKU_ESESSIONEXPIRED, ZKU_ECLOSED,
/// ZKU_EAUTHFAILED, ZKU_ECONNECTIONLOSS (timeout 0 while disconnected),
/// ZKU_EPATH, ZKU_EINVAL, ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_wait_absent(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        cancellable(cancel, Some(client), || wait::wait_absent(client, path, timeout))
    })
}
