//! Library-owned outputs: byte buffers (`zku_buf`), string lists
//! (`zku_strings`) and plain strings (`char *`, freed by `zku_string_free`).

use std::ffi::{CString, c_char};

use crate::error::{Code, Error, Result};

/// Bytes owned by the library (node data, JSON text). The bytes are
/// followed by a NUL that `zku_buf_len` does not count, so text can be used
/// as a C string. Free with `zku_buf_free`.
pub struct zku_buf {
    // Always ends with one extra 0 byte.
    bytes: Vec<u8>,
}

impl zku_buf {
    pub(crate) fn boxed(mut bytes: Vec<u8>) -> *mut zku_buf {
        bytes.push(0);
        Box::into_raw(Box::new(zku_buf { bytes }))
    }
}

/// Pointer to the buffer's bytes, valid until `zku_buf_free` (NULL for NULL).
/// Never blocks.
///
/// # Safety
/// `buf` is NULL or a live buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_buf_data(buf: *const zku_buf) -> *const u8 {
    // SAFETY: NULL or live (caller).
    unsafe { buf.as_ref() }.map_or(std::ptr::null(), |b| b.bytes.as_ptr())
}

/// Number of bytes, not counting the trailing NUL (0 for NULL).
/// Never blocks.
///
/// # Safety
/// `buf` is NULL or a live buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_buf_len(buf: *const zku_buf) -> usize {
    // SAFETY: NULL or live (caller).
    unsafe { buf.as_ref() }.map_or(0, |b| b.bytes.len() - 1)
}

/// The bytes as a NUL-terminated string (meaningful for text; binary data
/// may contain earlier NULs). Valid until `zku_buf_free`.
/// Never blocks.
///
/// # Safety
/// `buf` is NULL or a live buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_buf_str(buf: *const zku_buf) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { zku_buf_data(buf) }.cast()
}

/// Frees a buffer. NULL is fine; free each buffer once.
/// Never blocks.
///
/// # Safety
/// `buf` is NULL or a live buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_buf_free(buf: *mut zku_buf) {
    // SAFETY: from zku_buf::boxed, freed once (caller).
    unsafe { super::free_box(buf) }
}

/// A list of strings owned by the library (children names, permission
/// names). Free with `zku_strings_free`.
pub struct zku_strings {
    items: Vec<CString>,
}

impl zku_strings {
    pub(crate) fn boxed(items: Vec<String>) -> Result<*mut zku_strings> {
        let items = items.into_iter().map(c_string).collect::<Result<Vec<_>>>()?;
        Ok(Box::into_raw(Box::new(zku_strings { items })))
    }
}

/// Number of strings (0 for NULL).
/// Never blocks.
///
/// # Safety
/// `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_strings_len(list: *const zku_strings) -> usize {
    // SAFETY: NULL or live (caller).
    unsafe { list.as_ref() }.map_or(0, |l| l.items.len())
}

/// The string at `index`, valid until `zku_strings_free`; NULL when out of
/// range or `list` is NULL.
/// Never blocks.
///
/// # Safety
/// `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_strings_get(list: *const zku_strings, index: usize) -> *const c_char {
    // SAFETY: NULL or live (caller).
    unsafe { list.as_ref() }.and_then(|l| l.items.get(index)).map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Frees a list. NULL is fine; free each list once.
/// Never blocks.
///
/// # Safety
/// `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_strings_free(list: *mut zku_strings) {
    // SAFETY: from zku_strings::boxed, freed once (caller).
    unsafe { super::free_box(list) }
}

/// Frees a string the library returned through a `char **` out-parameter.
/// NULL is fine; free each string once, and never with free(3).
/// Never blocks.
///
/// # Safety
/// `s` is NULL or a string from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: from CString::into_raw in this library, freed once (caller).
        drop(unsafe { CString::from_raw(s) });
    }
}

pub(crate) fn c_string(s: String) -> Result<CString> {
    CString::new(s)
        .map_err(|e| Error::new(Code::InvalidArgument, format!("text has a NUL byte at {}", e.nul_position())))
}

/// A new `char *` for a `char **` out-parameter, freed by `zku_string_free`.
pub(crate) fn raw_string(s: String) -> Result<*mut c_char> {
    c_string(s).map(CString::into_raw)
}
