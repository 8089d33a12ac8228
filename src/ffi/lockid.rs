//! Lock identifiers (k3zkutil's lock_id, parse_lock_id) and the
//! lock-ordering check (is_backward_locking).

use std::ffi::{CString, c_char};

use super::buf::{c_string, raw_string};
use super::error::zku_error;
use super::{clear_out, guard, required_out, set_out, str_arg, str_array_arg, zku_rc};
use crate::lockid;

/// A parsed lock identifier. Absent parts are NULL. Read the fields
/// directly; free with `zku_lock_id_parts_free`.
#[repr(C)]
pub struct zku_lock_id_parts {
    /// The text before the first '-' (never NULL, may be empty).
    pub node_id: *mut c_char,
    /// The second part.
    pub ip: *mut c_char,
    /// The third part as a number; meaningful when `has_process_id`.
    pub process_id: i64,
    /// False when the third part is missing or not all digits.
    pub has_process_id: bool,
    /// Everything after the third '-'.
    pub uuid: *mut c_char,
    /// The text after "txid:" when node_id starts with it.
    pub txid: *mut c_char,
}

/// A new identifier "<node_id>-<ip>-<pid>-<uuid4 hex>" for this process.
/// `node_id` NULL uses the process default (`ZKU_NODE_ID`, else the host's
/// MAC as 12 hex digits). Free the result with `zku_string_free`.
/// Errors: ZKU_EBADCONFIG when `node_id` is NULL and a `ZKU_*` variable is
/// malformed.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_id(
    node_id: *const c_char,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or a valid string (caller).
        let node_id = unsafe { super::opt_str_arg(node_id, "node_id")? };
        let node_id = match node_id {
            Some(id) => id.to_string(),
            None => crate::Config::new().with_env()?.node_id(),
        };
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(lockid::lock_id(&node_id))?) };
        Ok(())
    })
}

/// Splits an identifier on its first three '-' (k3zkutil's parse_lock_id).
/// Never fails on content; free the result with `zku_lock_id_parts_free`.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_parse_lock_id(
    id: *const c_char,
    out: *mut *mut zku_lock_id_parts,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or a valid string (caller).
        let id = unsafe { str_arg(id, "id")? };
        let p = lockid::parse_lock_id(id);
        // Build every string first so a failure leaks nothing.
        let node_id = c_string(p.node_id)?;
        let rest = [p.ip, p.uuid, p.txid].map(|s| s.map(c_string).transpose());
        let [ip, uuid, txid] = rest;
        let (ip, uuid, txid) = (ip?, uuid?, txid?);
        let into_raw = |s: Option<CString>| s.map_or(std::ptr::null_mut(), CString::into_raw);
        let parts = zku_lock_id_parts {
            node_id: node_id.into_raw(),
            ip: into_raw(ip),
            process_id: p.process_id.unwrap_or(0),
            has_process_id: p.process_id.is_some(),
            uuid: into_raw(uuid),
            txid: into_raw(txid),
        };
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(parts))) };
        Ok(())
    })
}

impl Drop for zku_lock_id_parts {
    fn drop(&mut self) {
        for s in [self.node_id, self.ip, self.uuid, self.txid] {
            // SAFETY: each field is NULL or from CString::into_raw above.
            unsafe { super::buf::zku_string_free(s) };
        }
    }
}

/// Frees parsed parts. NULL is fine; free each once.
/// Never blocks.
///
/// # Safety
/// `parts` is NULL or from `zku_parse_lock_id`, not yet freed, its fields
/// unmodified.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_lock_id_parts_free(parts: *mut zku_lock_id_parts) {
    // SAFETY: from zku_parse_lock_id, freed once (caller).
    unsafe { super::free_box(parts) }
}

/// Sets `*out` to whether locking `key` after the `n` `locked_keys` goes
/// backwards in sorted (byte-wise) order (k3zkutil's is_backward_locking).
/// Errors: ZKU_EALREADYLOCKED when `key` is among `locked_keys`.
/// Never blocks.
///
/// # Safety
/// `locked_keys` is NULL (with `n` 0) or `n` valid strings; other pointers
/// NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_is_backward_locking(
    locked_keys: *const *const c_char,
    n: usize,
    key: *const c_char,
    out: *mut bool,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::write_out(out, false) };
        required_out(out, "out")?;
        // SAFETY: as documented.
        let (keys, key) = unsafe { (str_array_arg(locked_keys, n, "locked_keys")?, str_arg(key, "key")?) };
        let backward = lockid::is_backward_locking(&keys, key)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, backward) };
        Ok(())
    })
}
