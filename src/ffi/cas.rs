//! `zku_cas`: compare-and-swap on a node's version, as a handle
//! (`zku_cas_begin` / `zku_cas_commit` / `zku_cas_reread`) or as one call
//! running the loop around a callback (`zku_cas_update`).

use std::ffi::{c_char, c_void};

use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::node::zku_stat;
use super::{
    SessionHandle, bytes_arg, clear_out, guard, guard_value, live_session, required_out, session_arg, set_out, str_arg,
    timeout_arg, write_out, zku_rc,
};
use crate::cas::{self, Cas, CasOptions, Decision};
use crate::error::{Code, Error, Result};

/// Flag: values are UTF-8 JSON text, checked when read (ZKU_EJSON if the
/// node's data is not JSON) and before writing (as k3zkutil's
/// `cas_loop(json=True)`). Without it values are raw bytes.
pub const ZKU_CAS_JSON: u32 = 1;
/// Flag: when the node does not exist, act as if it held the `initial`
/// value and create it (persistent, default ACL) on commit. Without it a
/// missing node is ZKU_ENONODE.
pub const ZKU_CAS_CREATE: u32 = 2;
/// Flag (with ZKU_CAS_CREATE): also create missing parents.
pub const ZKU_CAS_CREATE_PARENTS: u32 = 4;

const CAS_FLAGS: u32 = ZKU_CAS_JSON | ZKU_CAS_CREATE | ZKU_CAS_CREATE_PARENTS;

/// `zku_cas_update` callback result: write the value given to
/// `zku_cas_next_set`.
pub const ZKU_CAS_WRITE: i32 = 0;
/// `zku_cas_update` callback result: stop without writing (success).
pub const ZKU_CAS_SKIP: i32 = 1;

/// A compare-and-swap handle: the last read of one node (value, stat) and
/// the version the next commit expects. Create with `zku_cas_begin`, free
/// with `zku_cas_free`. NOT thread-safe: use a handle from one thread at a
/// time (views into it change with every call that changes it). Does not
/// survive fork().
pub struct zku_cas {
    cas: Cas,
    /// The value followed by a NUL, for the borrowed views.
    view: Vec<u8>,
}

impl SessionHandle for zku_cas {
    fn client(&self) -> &crate::client::Client {
        self.cas.client()
    }
}

impl zku_cas {
    fn refresh(&mut self) {
        nul_terminated(&mut self.view, self.cas.value());
    }

    /// Commits and refreshes the view, whatever the outcome.
    fn commit(&mut self, data: &[u8], timeout_ms: i32, cancel: Option<&zku_cancel>) -> Result<crate::node::Stat> {
        let timeout = timeout_arg(timeout_ms)?;
        let client = self.cas.client().clone();
        let result = cancellable(cancel, Some(&client), || self.cas.commit(data, timeout));
        self.refresh();
        result
    }
}

/// Fills `buf` with `bytes` and a NUL, for views that may be used as text.
fn nul_terminated(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.clear();
    buf.extend_from_slice(bytes);
    buf.push(0);
}

/// # Safety
/// `initial` is NULL or has `initial_len` readable bytes.
unsafe fn cas_options(flags: u32, initial: *const u8, initial_len: usize) -> Result<CasOptions> {
    if flags & !CAS_FLAGS != 0 {
        return Err(Error::invalid_argument(format!("unknown CAS flags {:#x}", flags & !CAS_FLAGS)));
    }
    let create = flags & ZKU_CAS_CREATE != 0;
    if flags & ZKU_CAS_CREATE_PARENTS != 0 && !create {
        return Err(Error::invalid_argument("ZKU_CAS_CREATE_PARENTS needs ZKU_CAS_CREATE"));
    }
    // SAFETY: forwarded from the caller.
    let initial = unsafe { bytes_arg(initial, initial_len, "initial") }?;
    if !create && !initial.is_empty() {
        return Err(Error::invalid_argument("an initial value is only used with ZKU_CAS_CREATE"));
    }
    Ok(CasOptions {
        json: flags & ZKU_CAS_JSON != 0,
        create_with: create.then(|| initial.to_vec()),
        create_parents: flags & ZKU_CAS_CREATE_PARENTS != 0,
    })
}

fn stat_or_absent(stat: Option<&crate::node::Stat>) -> zku_stat {
    match stat {
        Some(s) => (*s).into(),
        None => zku_stat { version: -1, ..zku_stat::default() },
    }
}

/// Reads the node at `path` (its value and version) into a new CAS handle
/// `*out` (free with `zku_cas_free`). `flags`: ZKU_CAS_* bits. With
/// ZKU_CAS_CREATE, `initial` (`initial_len` bytes; JSON text with
/// ZKU_CAS_JSON) is the value assumed while the node does not exist;
/// otherwise pass NULL, 0. Blocking (network), up to `timeout_ms`. The handle keeps
/// the client's session in use; it fails with ZKU_ECLOSED once the client
/// is freed.
/// Errors: ZKU_ENONODE (no node, without ZKU_CAS_CREATE), ZKU_EJSON (JSON
/// mode and the data, or `initial`, is not UTF-8 JSON), ZKU_ENOAUTH,
/// ZKU_EPATH, ZKU_EINVAL (unknown flags, `initial` without
/// ZKU_CAS_CREATE), ZKU_ENULL, connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `initial` has `initial_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_begin(
    client: *const zku_client,
    path: *const c_char,
    flags: u32,
    initial: *const u8,
    initial_len: usize,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_cas,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, path, options) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(path, "path")?, cas_options(flags, initial, initial_len)?)
        };
        let timeout = timeout_arg(timeout_ms)?;
        let cas = cancellable(cancel, Some(client), || Cas::begin(client, path, options, timeout))?;
        let mut handle = zku_cas { cas, view: Vec::new() };
        handle.refresh();
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// The current value as a borrowed view: `*data` points to `*len` bytes
/// followed by a NUL (not counted), so JSON text can be used as a C string.
/// While the node does not exist (ZKU_CAS_CREATE) it is the initial value.
/// Valid until the next call that changes the handle (`zku_cas_commit`,
/// `zku_cas_commit_json`, `zku_cas_reread`, `zku_cas_resolve`,
/// `zku_cas_free`). Never blocks.
/// Errors: ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_value(
    cas: *const zku_cas,
    data: *mut *const u8,
    len: *mut usize,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(data, std::ptr::null());
            write_out(len, 0);
        }
        required_out(data, "data")?;
        required_out(len, "len")?;
        // SAFETY: NULL or live (caller).
        let cas = unsafe { session_arg(cas, "cas")? };
        // SAFETY: checked non-NULL.
        unsafe {
            set_out(data, cas.view.as_ptr());
            set_out(len, cas.view.len() - 1);
        }
        Ok(())
    })
}

/// The current value as a NUL-terminated JSON text, borrowed like
/// `zku_cas_value`. NULL when the handle is not in JSON mode or is NULL.
/// Never blocks.
///
/// # Safety
/// `cas` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_json(cas: *const zku_cas) -> *const c_char {
    // SAFETY: NULL or live (caller).
    let Some(cas) = (unsafe { live_session(cas) }) else { return std::ptr::null() };
    if cas.cas.options().json { cas.view.as_ptr().cast() } else { std::ptr::null() }
}

/// Copies the stat of the current value into `*stat`. While the node does
/// not exist (ZKU_CAS_CREATE) the stat is all zeros with version -1. Never
/// blocks.
/// Errors: ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_stat(cas: *const zku_cas, stat: *mut zku_stat, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        required_out(stat, "stat")?;
        // SAFETY: NULL or live (caller).
        let cas = unsafe { session_arg(cas, "cas")? };
        // SAFETY: checked non-NULL.
        unsafe { set_out(stat, stat_or_absent(cas.cas.stat())) };
        Ok(())
    })
}

/// The version the next commit expects: the node's version at the last
/// read or commit, -1 while the node does not exist (the commit creates
/// it), and -1 for NULL.
/// Never blocks.
///
/// # Safety
/// `cas` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_version(cas: *const zku_cas) -> i32 {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(cas) }.map_or(-1, |c| c.cas.version())
}

/// Reads made by this handle, the first included (0 for NULL).
/// Never blocks.
///
/// # Safety
/// `cas` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_attempts(cas: *const zku_cas) -> u32 {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(cas) }.map_or(0, |c| c.cas.attempts())
}

/// Writes `data` (`len` bytes; JSON text in JSON mode) if the node still has
/// the version of the last read, or creates it when the read found none
/// (ZKU_CAS_CREATE): one request. On success the handle holds the new value
/// and `*stat` (may be NULL) its stat, so another commit may follow without
/// a read. Blocking (network), up to `timeout_ms`.
/// Errors: ZKU_EBADVERSION (conflict: the node changed, was created or
/// deleted since the read; the handle is unchanged: call `zku_cas_reread`),
/// ZKU_EUNKNOWN (the connection was lost, or the timeout ran out, with the
/// write in flight: it may or may not have been applied; count it neither
/// as failed nor as done, and call `zku_cas_resolve` to find out),
/// ZKU_EJSON, ZKU_ETOOLARGE, ZKU_ENONODE (parent of a node to create
/// missing), ZKU_ENOAUTH, ZKU_ECONNECTIONLOSS (not connected within the
/// timeout: nothing was sent), ZKU_ESESSIONEXPIRED, ZKU_ECLOSED.
///
/// # Safety
/// Pointers are NULL or valid; `data` has `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_commit(
    cas: *mut zku_cas,
    data: *const u8,
    len: usize,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or live and not used by another thread; valid bytes (caller).
        let (cas, data) = unsafe { (handle_mut(cas)?, bytes_arg(data, len, "data")?) };
        let st = cas.commit(data, timeout_ms, cancel)?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

/// `zku_cas_commit` with a NUL-terminated JSON text (checked as JSON in
/// both modes). Blocking (network), up to `timeout_ms`. Errors: as `zku_cas_commit`,
/// plus ZKU_EUTF8.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_commit_json(
    cas: *mut zku_cas,
    json: *const c_char,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or live and not shared; NUL-terminated (caller).
        let (cas, json) = unsafe { (handle_mut(cas)?, str_arg(json, "json")?) };
        crate::json::validate(json).map_err(|e| e.context("the new value"))?;
        let st = cas.commit(json.as_bytes(), timeout_ms, cancel)?;
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st.into()) };
        Ok(())
    })
}

/// Reads the node again (after ZKU_EBADVERSION), replacing the handle's
/// value and version; forgets a write of unknown outcome. Blocking (network), up to
/// `timeout_ms`. Errors: as `zku_cas_begin`. After an error the handle
/// keeps its previous read.
///
/// # Safety
/// `cas` is NULL or live and not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_reread(
    cas: *mut zku_cas,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or live and not shared (caller).
        let cas = unsafe { handle_mut(cas)? };
        let timeout = timeout_arg(timeout_ms)?;
        let client = cas.cas.client().clone();
        let result = cancellable(cancel, Some(&client), || cas.cas.reread(timeout));
        cas.refresh();
        result
    })
}

/// After ZKU_EUNKNOWN from a commit: waits for the connection and re-sends the same write with the same expected
/// version, which can never apply twice. Returns 0 when it is now applied
/// (exactly once; the handle holds it, `*stat` (may be NULL) its stat);
/// ZKU_EBADVERSION when the first write was certainly not applied (another
/// value sits at the version it would have made: re-read and go on);
/// ZKU_EUNKNOWN when it still cannot be known (the node holds the written
/// bytes, which another writer may also have written from the same read,
/// or it moved on, or was deleted; a create finds a node, which may be ours
/// replaced; or no connection in time: call again).
/// Blocking (network), up to `timeout_ms` (a read follows a conflicting retry).
/// Errors also: ZKU_EINVAL (no write of unknown outcome), ZKU_ESESSIONEXPIRED,
/// ZKU_ECLOSED, ZKU_ENOAUTH.
///
/// # Safety
/// Pointers are NULL or valid; `cas` not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_resolve(
    cas: *mut zku_cas,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, zku_stat::default()) };
        // SAFETY: NULL or live and not shared (caller).
        let cas = unsafe { handle_mut(cas)? };
        let timeout = timeout_arg(timeout_ms)?;
        let client = cas.cas.client().clone();
        let st = cancellable(cancel, Some(&client), || cas.cas.resolve(timeout));
        cas.refresh();
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stat, st?.into()) };
        Ok(())
    })
}

/// Frees a CAS handle (a write of unknown outcome stays unknown). Never
/// blocks. NULL is fine; free each handle once, with no other call on it in
/// progress.
///
/// # Safety
/// `cas` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_free(cas: *mut zku_cas) {
    // SAFETY: from zku_cas_begin, freed once (caller).
    guard_value((), || drop(unsafe { super::owned_session(cas) }))
}

/// # Safety
/// `cas` is NULL or live and not used by another thread during the call.
unsafe fn handle_mut<'a>(cas: *mut zku_cas) -> Result<&'a mut zku_cas> {
    // SAFETY: NULL or live (caller).
    unsafe { session_arg(cas, "cas") }?;
    // SAFETY: live and not used elsewhere during the call (caller).
    unsafe { cas.as_mut() }.ok_or_else(|| super::null_arg("cas"))
}

/// The new value a `zku_cas_update` callback hands back, through
/// `zku_cas_next_set`. Lives only during the callback.
pub struct zku_cas_next {
    value: Option<Vec<u8>>,
}

/// Called by `zku_cas_update` with the current value (`value_len` bytes
/// followed by a NUL; JSON text in JSON mode; the initial value while the
/// node does not exist) and its stat (NULL while the node does not exist).
/// Pointers are valid only during the call. Return ZKU_CAS_WRITE after
/// `zku_cas_next_set(next, ...)`, ZKU_CAS_SKIP to stop without writing, or
/// a negative number to abort (the update then fails with ZKU_EABORTED).
/// Runs on the thread that called `zku_cas_update`, once per attempt, and
/// may call into the library. It must return normally: no longjmp, C++
/// exception, Ruby raise or Go panic may cross it.
pub type zku_cas_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        value: *const u8,
        value_len: usize,
        stat: *const zku_stat,
        next: *mut zku_cas_next,
    ) -> i32,
>;

/// Sets the value to write, copied from `data` (`len` bytes). Only valid
/// inside a `zku_cas_update` callback, on the `next` it received; a second
/// call replaces the first. Errors: ZKU_ENULL, ZKU_ETOOLARGE.
/// Never blocks.
///
/// # Safety
/// `next` is the callback's argument; `data` has `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_next_set(
    next: *mut zku_cas_next,
    data: *const u8,
    len: usize,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: the callback's argument, live during the callback (caller).
        let next = unsafe { next.as_mut() }.ok_or_else(|| super::null_arg("next"))?;
        // SAFETY: `len` readable bytes (caller).
        let data = unsafe { bytes_arg(data, len, "data")? };
        crate::path::check_data_len(data)?;
        next.value = Some(data.to_vec());
        Ok(())
    })
}

/// The whole compare-and-swap loop in one call: reads the node, calls
/// `callback` to compute the new value from the current one, writes it with
/// the read's version; on a conflict reads again and repeats, up to
/// `max_attempts` callback runs (0: no limit but the timeout). `flags`,
/// `initial` and `initial_len` as in `zku_cas_begin`. A write cut off in
/// flight is resolved as `zku_cas_resolve` does, within the timeout.
/// Blocking (network), up to `timeout_ms` for the whole loop (0: a single attempt).
/// On success `*stat` (may be NULL) receives the stat after the write (or of
/// the value the callback skipped on; version -1 if the node does not
/// exist) and `*attempts` (may be NULL) the number of callback runs.
/// `user_data` is passed to the callback and not freed.
/// Errors: ZKU_EBADVERSION (still conflicting after `max_attempts`, or the
/// one attempt of timeout 0), ZKU_ETIMEOUT (conflicts until the timeout),
/// ZKU_EABORTED (the callback returned a negative number), ZKU_EUNKNOWN
/// (a write's outcome could not be resolved in time: do not count it as
/// failed nor as done), ZKU_EINVAL (callback returned another value, or
/// ZKU_CAS_WRITE without `zku_cas_next_set`), ZKU_EJSON (JSON mode and a
/// value is not JSON), and the errors of `zku_cas_begin` and
/// `zku_cas_commit`.
///
/// # Safety
/// Pointers are NULL or valid; `callback` is safe to call with `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_cas_update(
    client: *const zku_client,
    path: *const c_char,
    flags: u32,
    initial: *const u8,
    initial_len: usize,
    callback: zku_cas_fn,
    user_data: *mut c_void,
    max_attempts: u32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stat: *mut zku_stat,
    attempts: *mut u32,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(stat, zku_stat::default());
            write_out(attempts, 0);
        }
        let callback = callback.ok_or_else(|| super::null_arg("callback"))?;
        // SAFETY: NULL or valid (caller).
        let (client, path, options) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(path, "path")?, cas_options(flags, initial, initial_len)?)
        };
        let mut view = Vec::new();
        let timeout = timeout_arg(timeout_ms)?;
        let updated = cancellable(cancel, Some(client), || {
            cas::update(client, path, options, max_attempts, timeout, |cas| {
                nul_terminated(&mut view, cas.value());
                let current_stat = cas.stat().map(|s| zku_stat::from(*s));
                let stat_ptr = current_stat.as_ref().map_or(std::ptr::null(), |s| s as *const zku_stat);
                let mut next = zku_cas_next { value: None };
                // SAFETY: the caller's callback with its user_data; the pointers
                // live until it returns.
                let rc = unsafe { callback(user_data, view.as_ptr(), view.len() - 1, stat_ptr, &mut next) };
                match rc {
                    ZKU_CAS_WRITE => next.value.map(Decision::Write).ok_or_else(|| {
                        Error::invalid_argument("the callback returned ZKU_CAS_WRITE without calling zku_cas_next_set")
                    }),
                    ZKU_CAS_SKIP => Ok(Decision::Skip),
                    rc if rc < 0 => {
                        Err(Error::new(Code::Aborted, format!("cas update {path}: the callback aborted with {rc}")))
                    }
                    rc => Err(Error::invalid_argument(format!(
                        "cas update {path}: the callback returned {rc}, not ZKU_CAS_WRITE, ZKU_CAS_SKIP or a negative number"
                    ))),
                }
            })
        })?;
        // SAFETY: NULL or writable (caller).
        unsafe {
            write_out(stat, stat_or_absent(updated.stat.as_ref()));
            write_out(attempts, updated.attempts);
        }
        Ok(())
    })
}
