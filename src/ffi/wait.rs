//! Waits on a `zku_client`: `zku_get_next` (until a node's version passes a
//! given one) and `zku_wait_absent` (until a node is gone).

use std::ffi::c_char;

use super::buf::zku_buf;
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::node::zku_stat;
use super::op::{self, Outcome, op_out, zku_op};
use super::{clear_out, guard, required_out, session_arg, str_arg, timeout_arg, write_out, zku_rc};
use crate::error::{Error, Result};
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
        let until_created = create_flag(flags)?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
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

/// Whether `flags` (0 or ZKU_WAIT_CREATE) ask to wait for a missing node.
fn create_flag(flags: u32) -> Result<bool> {
    if flags & !ZKU_WAIT_CREATE != 0 {
        return Err(Error::invalid_argument(format!("unknown flags {:#x}", flags & !ZKU_WAIT_CREATE)));
    }
    Ok(flags & ZKU_WAIT_CREATE != 0)
}

/// Starts `zku_get_next` without blocking: `*out` gets an operation (see
/// `zku_op`) whose descriptor becomes readable when the wait is done;
/// `zku_op_result` then gives the node's data and stat, or the error, the
/// same as the blocking call. Arguments as `zku_get_next` (`path` is
/// copied). Cancel it with `zku_op_cancel`; closing the client ends it
/// with ZKU_ECLOSED. Never blocks.
/// Errors (nothing started): ZKU_ENULL, ZKU_EPATH, ZKU_EUTF8, ZKU_EINVAL
/// (version < -1, unknown flags, bad timeout), ZKU_EFORKED, ZKU_ERESOURCE
/// (256 operations running already, or no thread could be started),
/// ZKU_ESYSTEM (no descriptor).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_get_next_start(
    client: *const zku_client,
    path: *const c_char,
    version: i32,
    flags: u32,
    timeout_ms: i32,
    out: *mut *mut zku_op,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { op_out(out)? };
        let until_created = create_flag(flags)?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        wait::check_get_next(client, path, version)?;
        let (waiter, path) = (client.clone(), path.to_string());
        op::start(out, client, None, move || {
            let (bytes, stat) = wait::get_next(&waiter, &path, version, until_created, timeout)?;
            Ok(Outcome::Node(bytes, stat))
        })
    })
}

/// Starts `zku_wait_absent` without blocking: `*out` gets an operation
/// (see `zku_op`) whose descriptor becomes readable when the node is gone
/// (or the wait failed); `zku_op_result` then returns 0 or the error, the
/// same as the blocking call. Arguments as `zku_wait_absent` (`path` is
/// copied). Cancel it with `zku_op_cancel`; closing the client ends it
/// with ZKU_ECLOSED. Never blocks.
/// Errors (nothing started): ZKU_ENULL, ZKU_EPATH, ZKU_EUTF8, ZKU_EINVAL,
/// ZKU_EFORKED, ZKU_ERESOURCE (256 operations running already, or no
/// thread could be started), ZKU_ESYSTEM (no descriptor).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_wait_absent_start(
    client: *const zku_client,
    path: *const c_char,
    timeout_ms: i32,
    out: *mut *mut zku_op,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { op_out(out)? };
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        client.validate_path(path)?;
        let (waiter, path) = (client.clone(), path.to_string());
        op::start(out, client, None, move || wait::wait_absent(&waiter, &path, timeout).map(|()| Outcome::Absent))
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
