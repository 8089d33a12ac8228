//! `zku_lock` value and writes: the node's `"val"`, the holder, and the
//! writes guarded by the lock.

use super::*;

/// Sets the node's "val" to `val_json` while the lock is held (k3zkutil's
/// set_lock_val), if the node's version is `expected_version` (-1: the
/// version this handle last saw or wrote). Later acquisitions by this
/// handle write this value too. Not reported as a change of holder or a
/// loss. Blocking (network), up to `timeout_ms`; waits while suspended. On success
/// `*new_version` (may be NULL) receives the node's new version.
/// Errors: ZKU_EJSON, ZKU_ENOTLOCKED, ZKU_ELOCKLOST, ZKU_EBADVERSION,
/// ZKU_ETOOLARGE, connection codes, ZKU_EINVAL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_set_val(
    lock: *const zku_lock,
    val_json: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    new_version: *mut i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(new_version, 0) };
        // SAFETY: NULL or valid (caller).
        let (lock, val) = unsafe { (lock_arg(lock)?, str_arg(val_json, "val_json")?) };
        let (version, timeout) = (version_arg(expected_version)?, lock_timeout(lock, timeout_ms)?);
        let v = cancellable(cancel, Some(lock.client()), || lock.set_val(val, version, timeout))?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(new_version, v) };
        Ok(())
    })
}

/// The lock node's "val" as JSON text (`*val_json`, free with
/// `zku_string_free`) and the node version (`*version`, may be NULL),
/// whoever holds it (k3zkutil's get_lock_val). Blocking (network), up to
/// `timeout_ms`.
/// Errors: ZKU_ENONODE (nobody holds the lock), ZKU_EJSON / ZKU_ENOTOBJECT
/// (foreign node data), ZKU_ENULL, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_get_val(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    val_json: *mut *mut c_char,
    version: *mut i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            clear_out(val_json);
            write_out(version, 0);
        }
        required_out(val_json, "val_json")?;
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let (val, v) = cancellable(cancel, Some(lock.client()), || lock.get_val(timeout))?;
        let val = raw_string(val)?;
        // SAFETY: checked non-NULL / NULL or writable (caller).
        unsafe {
            set_out(val_json, val);
            write_out(version, v);
        }
        Ok(())
    })
}

/// The current holder: `*holder_id` (may be NULL; `zku_string_free`) its
/// identifier (the "id" member; its JSON text when not a string; NULL when
/// the data has none), `*holder_data` (may be NULL; `zku_buf_free`) the
/// node data, `*stat` (may be NULL) the node's stat (`czxid` is the
/// holder's fencing token). Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_ENONODE (the lock is free), connection codes, ZKU_ENOAUTH.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_holder(
    lock: *const zku_lock,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    holder_id: *mut *mut c_char,
    holder_data: *mut *mut zku_buf,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            clear_out(holder_id);
            clear_out(holder_data);
            write_out(stat, zku_stat::default());
        }
        // SAFETY: NULL or live (caller).
        let lock = unsafe { lock_arg(lock)? };
        let timeout = lock_timeout(lock, timeout_ms)?;
        let holder = cancellable(cancel, Some(lock.client()), || lock.holder(timeout))?
            .ok_or_else(|| Error::new(Code::NoNode, format!("{}: the lock is free", lock.path())))?;
        let id = match holder.id() {
            Some(id) if !holder_id.is_null() => raw_string(id)?,
            _ => std::ptr::null_mut(),
        };
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(holder_id, id);
            write_out(stat, holder.stat.into());
            if !holder_data.is_null() {
                write_out(holder_data, zku_buf::boxed(holder.data));
            }
        }
        Ok(())
    })
}

/// Sets `path`'s data only if we still hold the lock: one multi operation
/// with a version check on the lock node, so a write after losing the lock
/// fails even before the loss is noticed. A lock node deleted and created
/// again by another client (version 0 again) is refused too: until the
/// lock's watch is armed (`watch_delay` after acquiring) the node is read
/// first. Bound: once watched, a write lands for a stale holder only if a
/// third party deletes the node and another client re-creates it at the
/// expected version within about one round trip before the write reaches
/// the server. `expected_version` applies to
/// `path` (-1: any). Waits while suspended. Blocking (network), up to `timeout_ms`.
/// On success `*stat` (may be NULL) receives `path`'s new stat.
/// Errors: ZKU_ENOTLOCKED, ZKU_ELOCKLOST (lock node gone or changed),
/// ZKU_ENONODE / ZKU_EBADVERSION (for `path`), ZKU_EPATH, ZKU_EINVAL
/// (`path` is the lock node), ZKU_ETOOLARGE, connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `data_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_guarded_set(
    lock: *const zku_lock,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { state::guarded_set_of(lock, path, data, data_len, expected_version, timeout_ms, cancel, stat, err) }
}

/// Deletes `path` only if we still hold the lock (as
/// `zku_lock_guarded_set`). Blocking (network), up to `timeout_ms`.
/// Errors: as `zku_lock_guarded_set`, plus ZKU_ENOTEMPTY.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_guarded_delete(
    lock: *const zku_lock,
    path: *const c_char,
    expected_version: i32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    // SAFETY: forwarded from the caller.
    unsafe { state::guarded_delete_of(lock, path, expected_version, timeout_ms, cancel, err) }
}
