//! `zku_members`: the children of a parent node with their data, for the
//! service-discovery side of registration nodes.

use std::ffi::{CString, c_char};

use super::buf::c_string;
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::{clear_out, guard, required_out, session_arg, set_out, str_arg, timeout_arg, write_out, zku_rc};
use crate::error::Result;
use crate::registration::Member;

/// The members under a parent: each child's name and data, sorted by name.
/// Free with `zku_members_free`.
pub struct zku_members {
    items: Vec<(CString, Vec<u8>)>,
}

/// Lists the children of `parent` with their data into a new `*out`
/// (sorted by name; a child deleted while being read is left out), all
/// within `timeout_ms`. Blocking (network).
/// Errors: ZKU_ENULL, ZKU_EUTF8, ZKU_EPATH, ZKU_ENONODE (no parent),
/// ZKU_ENOAUTH, ZKU_EINVAL (bad timeout), ZKU_ETIMEOUT, connection codes,
/// ZKU_ECANCELLED, ZKU_ECLOSED, ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_members_list(
    client: *const zku_client,
    parent: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_members,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, parent) = unsafe { (&session_arg(client, "client")?.client, str_arg(parent, "parent")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let members = cancellable(cancel, Some(client), || crate::registration::members(client, parent, timeout))?;
        let items = members
            .into_iter()
            .map(|Member { name, data, .. }| Ok((c_string(name)?, data)))
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_members { items }))) };
        Ok(())
    })
}

/// Number of members (0 for NULL). Never blocks.
///
/// # Safety
/// `members` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_members_len(members: *const zku_members) -> usize {
    // SAFETY: NULL or live (caller).
    unsafe { members.as_ref() }.map_or(0, |m| m.items.len())
}

/// The name (not the path) of the member at `index`, valid until
/// `zku_members_free`; NULL when out of range or `members` is NULL.
/// Never blocks.
///
/// # Safety
/// `members` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_members_name(members: *const zku_members, index: usize) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { members.as_ref() }.and_then(|m| m.items.get(index)).map_or(std::ptr::null(), |(name, _)| name.as_ptr())
}

/// The data of the member at `index` (may be binary), its length into
/// `*len` (may be NULL), valid until `zku_members_free`; NULL (and 0) when
/// out of range or `members` is NULL. Empty data gives a non-NULL pointer.
/// Never blocks.
///
/// # Safety
/// `members` is NULL or a live list; `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_members_data(members: *const zku_members, index: usize, len: *mut usize) -> *const u8 {
    // SAFETY: NULL or live (caller).
    let item = unsafe { members.as_ref() }.and_then(|m| m.items.get(index));
    // SAFETY: NULL or writable (caller).
    unsafe { write_out(len, item.map_or(0, |(_, data)| data.len())) };
    item.map_or(std::ptr::null(), |(_, data)| data.as_ptr())
}

/// Frees a members list. NULL is fine; free each list once. Never blocks.
///
/// # Safety
/// `members` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_members_free(members: *mut zku_members) {
    // SAFETY: from zku_members_list, freed once (caller).
    unsafe { super::free_box(members) }
}
