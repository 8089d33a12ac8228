//! `zku_acl_list` and the digest-ACL and permission helpers (k3zkutil's
//! make_digest, make_acl_entry, perm_to_long, perm_to_short, and the
//! bitmask conversions).

use std::ffi::c_char;

use super::buf::{raw_string, zku_strings};
use super::error::zku_error;
use super::{clear_out, guard, handle, required_out, set_out, str_arg, str_array_arg, zku_rc};
use crate::acl::{self, Acl};
use crate::error::{Code, Error};

/// Permission bit: read data and list children.
pub const ZKU_PERM_READ: i32 = 1;
/// Permission bit: set data.
pub const ZKU_PERM_WRITE: i32 = 2;
/// Permission bit: create children.
pub const ZKU_PERM_CREATE: i32 = 4;
/// Permission bit: delete children.
pub const ZKU_PERM_DELETE: i32 = 8;
/// Permission bit: set the ACL.
pub const ZKU_PERM_ADMIN: i32 = 16;
/// All five permissions.
pub const ZKU_PERM_ALL: i32 = 31;

/// An ordered list of ACL entries (permission mask, scheme, id), used both
/// to give an ACL (`zku_client_create`, `zku_client_set_acl`) and to
/// receive one (`zku_client_get_acl`). Free with `zku_acl_list_free`. Not
/// thread-safe while being modified.
pub struct zku_acl_list {
    pub(crate) entries: Vec<(Acl, std::ffi::CString, std::ffi::CString)>,
}

impl zku_acl_list {
    pub(crate) fn from_acls(acls: Vec<Acl>) -> crate::Result<zku_acl_list> {
        let mut list = zku_acl_list { entries: Vec::new() };
        for a in acls {
            list.push(a)?;
        }
        Ok(list)
    }

    fn push(&mut self, a: Acl) -> crate::Result<()> {
        let scheme = super::buf::c_string(a.scheme.clone())?;
        let id = super::buf::c_string(a.id.clone())?;
        self.entries.push((a, scheme, id));
        Ok(())
    }

    pub(crate) fn acls(&self) -> Vec<Acl> {
        self.entries.iter().map(|e| e.0.clone()).collect()
    }
}

/// Creates an empty ACL list.
/// Never blocks.
///
/// # Safety
/// `out` and `err` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_new(out: *mut *mut zku_acl_list, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        required_out(out, "out")?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_acl_list { entries: Vec::new() }))) };
        Ok(())
    })
}

/// Frees an ACL list. NULL is fine; free each once.
/// Never blocks.
///
/// # Safety
/// `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_free(list: *mut zku_acl_list) {
    // SAFETY: from this module, freed once (caller).
    unsafe { super::free_box(list) }
}

/// Appends an entry: `perms` is a mask of ZKU_PERM_* bits, `scheme` and
/// `id` as ZooKeeper takes them ("world"/"anyone", "digest"/"user:digest",
/// "ip"/"10.0.0.0/8", "auth"/""). Errors: ZKU_EPERM for unknown bits.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `list` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_add(
    list: *mut zku_acl_list,
    perms: i32,
    scheme: *const c_char,
    id: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live and unshared (caller).
        let list = unsafe { list.as_mut() }.ok_or_else(|| super::null_arg("list"))?;
        // SAFETY: NULL or valid strings (caller).
        let (scheme, id) = unsafe { (str_arg(scheme, "scheme")?, str_arg(id, "id")?) };
        let entry = Acl::new(perms_mask(perms)?, scheme, id);
        entry.validate()?;
        list.push(entry)
    })
}

/// Appends a digest entry for `user` with `password` and `perms` letters
/// of `cdrwa` (as k3zkutil's make_kazoo_digest_acl). Errors: ZKU_EPERM.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `list` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_add_digest(
    list: *mut zku_acl_list,
    user: *const c_char,
    password: *const c_char,
    perms: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live and unshared (caller).
        let list = unsafe { list.as_mut() }.ok_or_else(|| super::null_arg("list"))?;
        // SAFETY: NULL or valid strings (caller).
        let (user, password, perms) =
            unsafe { (str_arg(user, "user")?, str_arg(password, "password")?, str_arg(perms, "perms")?) };
        let mask = acl::letters_to_mask(perms)?;
        list.push(Acl::digest(user, password, mask))
    })
}

/// Number of entries (0 for NULL).
/// Never blocks.
///
/// # Safety
/// `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_len(list: *const zku_acl_list) -> usize {
    // SAFETY: NULL or live (caller).
    unsafe { list.as_ref() }.map_or(0, |l| l.entries.len())
}

/// Reads entry `index`: its permission mask, scheme and id. The strings are
/// valid until the list is freed or modified. Any out-parameter may be
/// NULL. Errors: ZKU_EINVAL when `index` is out of range.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_acl_list_get(
    list: *const zku_acl_list,
    index: usize,
    perms: *mut i32,
    scheme: *mut *const c_char,
    id: *mut *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            super::write_out(perms, 0);
            super::write_out(scheme, std::ptr::null());
            super::write_out(id, std::ptr::null());
        }
        // SAFETY: NULL or live (caller).
        let list = unsafe { handle(list, "list")? };
        let (entry, s, i) = list.entries.get(index).ok_or_else(|| {
            Error::invalid_argument(format!("index {index} out of range (len {})", list.entries.len()))
        })?;
        // SAFETY: NULL or writable (caller).
        unsafe {
            super::write_out(perms, entry.perms as i32);
            super::write_out(scheme, s.as_ptr());
            super::write_out(id, i.as_ptr());
        }
        Ok(())
    })
}

fn perms_mask(perms: i32) -> crate::Result<u32> {
    if !(0..=acl::PERM_ALL as i32).contains(&perms) {
        return Err(Error::new(Code::BadPermission, format!("permission mask {perms:#x} has bits outside cdrwa (31)")));
    }
    Ok(perms as u32)
}

/// `base64(sha1(acc))` for `acc` = "user:password", e.g. "xp:123" gives
/// "LNcZO17uqqJ4GuYoSclIsGjYniQ=". Free the result with `zku_string_free`.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_make_digest(
    acc: *const c_char,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or a valid string (caller).
        let acc = unsafe { str_arg(acc, "acc")? };
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(acl::make_digest(acc))?) };
        Ok(())
    })
}

/// "digest:<user>:<digest>:<perms>" with `perms` lower-case letters of
/// `cdrwa`. Errors: ZKU_EPERM for any other letter (upper case too, as
/// k3zkutil). Free the result with `zku_string_free`.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_make_acl_entry(
    user: *const c_char,
    password: *const c_char,
    perms: *const c_char,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid strings (caller).
        let (user, password, perms) =
            unsafe { (str_arg(user, "user")?, str_arg(password, "password")?, str_arg(perms, "perms")?) };
        let entry = acl::make_acl_entry(user, password, perms)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(entry)?) };
        Ok(())
    })
}

/// Letters of `cdrwa` (either case) to long names ("create", ...), upper
/// case when `lower` is false (k3zkutil's perm_to_long). Errors: ZKU_EPERM.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_letters_to_names(
    letters: *const c_char,
    lower: bool,
    out: *mut *mut zku_strings,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or a valid string (caller).
        let letters = unsafe { str_arg(letters, "letters")? };
        let names = acl::perm_to_long(letters, lower)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, zku_strings::boxed(names)?) };
        Ok(())
    })
}

/// Long names (either case) to letters, upper case when `lower` is false
/// (k3zkutil's perm_to_short). Errors: ZKU_EPERM for an unknown name.
/// Never blocks.
///
/// # Safety
/// `names` is NULL (with `n` 0) or `n` valid strings; other pointers NULL or
/// valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_names_to_letters(
    names: *const *const c_char,
    n: usize,
    lower: bool,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: as documented.
        let names = unsafe { str_array_arg(names, n, "names")? };
        let letters = acl::perm_to_short(&names, lower)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(letters)?) };
        Ok(())
    })
}

/// Letters of `cdrwa` (either case) to a ZKU_PERM_* mask. Errors: ZKU_EPERM.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_letters_to_mask(
    letters: *const c_char,
    out: *mut i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::write_out(out, 0) };
        required_out(out, "out")?;
        // SAFETY: NULL or a valid string (caller).
        let letters = unsafe { str_arg(letters, "letters")? };
        let mask = acl::letters_to_mask(letters)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, mask as i32) };
        Ok(())
    })
}

/// Long names (either case, "all" too) to a ZKU_PERM_* mask.
/// Errors: ZKU_EPERM.
/// Never blocks.
///
/// # Safety
/// `names` is NULL (with `n` 0) or `n` valid strings; `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_names_to_mask(
    names: *const *const c_char,
    n: usize,
    out: *mut i32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { super::write_out(out, 0) };
        required_out(out, "out")?;
        // SAFETY: as documented.
        let names = unsafe { str_array_arg(names, n, "names")? };
        let mask = acl::names_to_mask(&names)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, mask as i32) };
        Ok(())
    })
}

/// A ZKU_PERM_* mask to letters, upper case when `lower` is false, in the
/// order k3zkutil's parse_kazoo_acl gives: "cdrwa" for all five, else
/// r, w, c, d, a. Errors: ZKU_EPERM for bits outside 31.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_mask_to_letters(
    mask: i32,
    lower: bool,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        let letters = acl::mask_to_letters(perms_mask(mask)?, lower)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(letters)?) };
        Ok(())
    })
}

/// A ZKU_PERM_* mask to long names, upper case when `lower` is false, in
/// the order of zku_perm_mask_to_letters. Errors: ZKU_EPERM for bits
/// outside 31.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_perm_mask_to_names(
    mask: i32,
    lower: bool,
    out: *mut *mut zku_strings,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        let names = acl::mask_to_names(perms_mask(mask)?, lower)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, zku_strings::boxed(names)?) };
        Ok(())
    })
}
