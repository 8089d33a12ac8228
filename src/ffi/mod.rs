//! The C ABI: opaque handles over the safe core, one file per C type.
//!
//! Every exported function checks its arguments, calls the core, and maps
//! the result; the helpers here do the checking and the panic boundary.
//! This is the only place in the crate with `unsafe`.

#![allow(non_camel_case_types)]

pub mod acl;
pub mod buf;
pub mod callback;
pub mod cancel;
pub mod cas;
pub mod client;
pub mod config;
pub mod error;
pub mod fifo;
pub mod hierarchy;
pub mod lock;
pub mod lockid;
pub mod log;
pub mod members;
pub mod node;
pub mod op;
pub mod reader;
pub mod registration;
pub mod stats;
pub mod version;
pub mod wait;

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::runtime::Timeout;
use error::zku_error;

/// Result code of every fallible function: 0 on success, negative on error
/// (see the `ZKU_E*` constants and `zku_strerror`).
pub type zku_rc = i32;

/// Runs `body` behind the panic boundary and reports its error through the
/// optional `err` out-parameter. `*err` is set to NULL first, and to a new
/// error object only on failure.
pub(crate) fn guard(err: *mut *mut zku_error, body: impl FnOnce() -> Result<()>) -> zku_rc {
    // SAFETY: `err` is NULL or points to writable storage for one pointer,
    // as every exported function documents.
    unsafe { clear_out(err) };
    let result = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Error::new(Code::Panic, format!("internal panic: {what}")))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let rc = e.code().as_i32();
            // Boxed only when the caller takes it: with `err` NULL the
            // object would leak.
            if !err.is_null() {
                // SAFETY: as above, and not NULL; the object is freed by
                // zku_error_free.
                unsafe { set_out(err, zku_error::boxed(e)) };
            }
            rc
        }
    }
}

/// Runs a body that cannot fail except by panicking; a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

pub(crate) fn null_arg(name: &str) -> Error {
    Error::new(Code::NullArgument, format!("argument `{name}` is NULL"))
}

/// Borrows a handle argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for the duration of the call.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: guaranteed by the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_arg(name))
}

/// A handle whose calls reach a ZooKeeper session, and so belong to the
/// process that created it: after fork() the child's copy refuses every
/// call (see [`Client::check_process`]).
pub(crate) trait SessionHandle {
    fn client(&self) -> &Client;
}

/// Borrows a session handle argument: NULL gives ZKU_ENULL, a handle
/// inherited across fork() ZKU_EFORKED, before anything in it is touched.
///
/// # Safety
/// As [`handle`].
pub(crate) unsafe fn session_arg<'a, T: SessionHandle>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: forwarded from the caller.
    let session = unsafe { handle(ptr, name) }?;
    session.client().check_process()?;
    Ok(session)
}

/// Borrows a session handle for a call that cannot report an error: `None`
/// for NULL and for a handle inherited across fork(), which the call then
/// treats as NULL.
///
/// # Safety
/// As [`handle`].
pub(crate) unsafe fn live_session<'a, T: SessionHandle>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_ref() }.filter(|session| session.client().check_process().is_ok())
}

/// Takes back a session handle to free it: `None` for NULL and for a handle
/// inherited across fork(), which is left allocated instead. Dropping it in
/// the child would close the parent's session, join threads that do not
/// exist there or take locks a parent thread may have held; so nothing is
/// sent and no `user_data_free` runs.
///
/// # Safety
/// As [`free_box`].
pub(crate) unsafe fn owned_session<T: SessionHandle>(ptr: *mut T) -> Option<Box<T>> {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(ptr) }?;
    // SAFETY: from Box::into_raw, freed once (caller).
    Some(unsafe { Box::from_raw(ptr) })
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string alive for the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL and NUL-terminated, guaranteed by the caller.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(Code::InvalidUtf8, format!("argument `{name}` is not valid UTF-8 (at byte {})", e.valid_up_to()))
    })
}

/// Like [`str_arg`], with NULL meaning "not given".
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { str_arg(ptr, name) }.map(Some)
}

/// Borrows `(ptr, len)` bytes; NULL is allowed only with `len == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes alive for the call.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null_arg(name)) };
    }
    if len > isize::MAX as usize {
        return Err(Error::new(Code::DataTooLarge, format!("argument `{name}` length {len} is impossible")));
    }
    // SAFETY: non-NULL, `len` readable bytes, guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows an array of `n` C strings (`ptr` may be NULL when `n == 0`).
///
/// # Safety
/// `ptr` is NULL or points to `n` pointers, each as in [`str_arg`].
pub(crate) unsafe fn str_array_arg<'a>(ptr: *const *const c_char, n: usize, name: &str) -> Result<Vec<&'a str>> {
    if ptr.is_null() {
        return if n == 0 { Ok(Vec::new()) } else { Err(null_arg(name)) };
    }
    // No array holds more than isize::MAX bytes (from_raw_parts' precondition).
    if n > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(Error::invalid_argument(format!("argument `{name}` count {n} is impossible")));
    }
    // SAFETY: `n` readable pointers, guaranteed by the caller.
    let items = unsafe { std::slice::from_raw_parts(ptr, n) };
    items
        .iter()
        .enumerate()
        // SAFETY: each item is NULL or a NUL-terminated string (caller).
        .map(|(i, p)| unsafe { str_arg(*p, &format!("{name}[{i}]")) })
        .collect()
}

pub(crate) fn timeout_arg(ms: i32) -> Result<Timeout> {
    Timeout::from_ms(ms as i64)
}

/// An expected-version argument: -1 (`ZKU_ANY_VERSION`) is any version.
pub(crate) fn version_arg(version: i32) -> Result<Option<i32>> {
    match version {
        -1 => Ok(None),
        v if v >= 0 => Ok(Some(v)),
        v => Err(Error::invalid_argument(format!("expected version must be -1 (any) or >= 0, got {v}"))),
    }
}

/// Sets an optional out-parameter to NULL.
///
/// # Safety
/// `out` is NULL or points to writable storage for one pointer.
pub(crate) unsafe fn clear_out<T>(out: *mut *mut T) {
    if !out.is_null() {
        // SAFETY: writable, guaranteed by the caller.
        unsafe { *out = std::ptr::null_mut() };
    }
}

/// Writes `value` to an optional out-parameter.
///
/// # Safety
/// `out` is NULL or points to writable storage for one `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: writable, guaranteed by the caller.
        unsafe { out.write(value) };
    }
}

/// Writes `value` to a required out-parameter, already checked non-NULL
/// by [`required_out`].
///
/// # Safety
/// `out` points to writable storage for one `T`.
pub(crate) unsafe fn set_out<T>(out: *mut T, value: T) {
    debug_assert!(!out.is_null());
    // SAFETY: guaranteed by the caller.
    unsafe { out.write(value) };
}

/// Fails with a NULL-argument error when a required out-parameter is NULL.
pub(crate) fn required_out<T>(out: *mut T, name: &str) -> Result<()> {
    if out.is_null() { Err(null_arg(name)) } else { Ok(()) }
}

/// The body of a `zku_*_fd` function: `*fd` is -1 unless `get` (which
/// checks the handle) gives the descriptor.
///
/// # Safety
/// `fd` is NULL or points to writable storage for one `c_int`.
pub(crate) unsafe fn fd_out(fd: *mut std::ffi::c_int, get: impl FnOnce() -> Result<std::ffi::c_int>) -> Result<()> {
    // SAFETY: NULL or writable (caller).
    unsafe { write_out(fd, -1) };
    required_out(fd, "fd")?;
    let raw = get()?;
    // SAFETY: checked non-NULL.
    unsafe { set_out(fd, raw) };
    Ok(())
}

/// The result of a `zku_*_fd_drain` function: the state `drain` gives
/// (>= 0) for a usable handle, else the negative code of `handle`'s error.
pub(crate) fn drain_result<T>(handle: Result<&T>, drain: impl FnOnce(&T) -> i32) -> i32 {
    match handle {
        Err(e) => e.code().as_i32(),
        Ok(h) => guard_value(error::ZKU_EPANIC, || drain(h)),
    }
}

/// Frees a `Box` handed to C, accepting NULL.
///
/// # Safety
/// `ptr` is NULL or came from `Box::into_raw` and was not freed yet.
pub(crate) unsafe fn free_box<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: from Box::into_raw, freed once (caller).
        drop(unsafe { Box::from_raw(ptr) });
    }
}
