//! `zku_reader`: a cached reader, a JSON object kept equal to a node's data
//! through watches, with change events and a blocking `watch`.

use std::ffi::{CString, c_char, c_int, c_void};

use super::buf::raw_string;
use super::callback::{UserData, register_user_data, zku_free_fn};
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::error::zku_error;
use super::node::zku_stat;
use super::{
    SessionHandle, clear_out, guard, guard_value, live_session, required_out, session_arg, set_out, str_arg,
    timeout_arg, write_out, zku_rc,
};
use crate::error::Result;
use crate::reader::{EventKind, Reader, ReaderCallback, ReaderEvent, ReaderState};

/// A cached reader of one node holding a JSON object. Create with
/// `zku_reader_new`, free with `zku_reader_free`. Thread-safe (but see
/// `zku_reader_watch` about several watchers). Does not survive fork().
pub struct zku_reader {
    reader: Reader,
}

impl SessionHandle for zku_reader {
    fn client(&self) -> &crate::client::Client {
        self.reader.client()
    }
}

/// Reader event: the value changed (`old_json` -> `new_json`).
pub const ZKU_READER_EVENT_CHANGED: i32 = 1;
/// Reader event: the connection was lost; the value may be out of date.
pub const ZKU_READER_EVENT_STALE: i32 = 2;
/// Reader event: reconnected and re-read. When the node changed meanwhile a
/// ZKU_READER_EVENT_CHANGED comes just before it.
pub const ZKU_READER_EVENT_FRESH: i32 = 3;
/// Reader event: the node was deleted. The value stays the last one; the
/// reader waits for the node to be created again (then CHANGED).
pub const ZKU_READER_EVENT_DELETED: i32 = 4;
/// Reader event: the node's data is not a JSON object (or cannot be read);
/// the value stays the last good one until a valid value arrives (CHANGED).
pub const ZKU_READER_EVENT_INVALID: i32 = 5;
/// Reader event: the session expired. Last event.
pub const ZKU_READER_EVENT_EXPIRED: i32 = 6;
/// Reader event: the client was freed or authentication failed. Last event.
pub const ZKU_READER_EVENT_CLOSED: i32 = 7;

/// Reader state: the value is the node's current data.
pub const ZKU_READER_STATE_FRESH: i32 = 1;
/// Reader state: disconnected, the value may be out of date.
pub const ZKU_READER_STATE_STALE: i32 = 2;
/// Reader state: the node does not exist (value: its last data).
pub const ZKU_READER_STATE_DELETED: i32 = 3;
/// Reader state: the node's data is not a JSON object (value: last good).
pub const ZKU_READER_STATE_INVALID: i32 = 4;
/// Reader state: the session expired. Final.
pub const ZKU_READER_STATE_EXPIRED: i32 = 5;
/// Reader state: closed (by `zku_reader_close`, or the client). Final.
pub const ZKU_READER_STATE_CLOSED: i32 = 6;

fn event_code(kind: EventKind) -> i32 {
    match kind {
        EventKind::Changed => ZKU_READER_EVENT_CHANGED,
        EventKind::Stale => ZKU_READER_EVENT_STALE,
        EventKind::Fresh => ZKU_READER_EVENT_FRESH,
        EventKind::Deleted => ZKU_READER_EVENT_DELETED,
        EventKind::Invalid => ZKU_READER_EVENT_INVALID,
        EventKind::Expired => ZKU_READER_EVENT_EXPIRED,
        EventKind::Closed => ZKU_READER_EVENT_CLOSED,
    }
}

fn state_code(state: ReaderState) -> i32 {
    match state {
        ReaderState::Fresh => ZKU_READER_STATE_FRESH,
        ReaderState::Stale => ZKU_READER_STATE_STALE,
        ReaderState::Deleted => ZKU_READER_STATE_DELETED,
        ReaderState::Invalid => ZKU_READER_STATE_INVALID,
        ReaderState::Expired => ZKU_READER_STATE_EXPIRED,
        ReaderState::Closed => ZKU_READER_STATE_CLOSED,
    }
}

/// Called on every reader event (ZKU_READER_EVENT_*) with the node's path,
/// the JSON text before and after (equal except for CHANGED) and the stat
/// of `new_json`. Runs on a library callback thread, one call at a time, in
/// the order of the events; it may call back into the library (read this
/// reader, use the client, even close or free the reader). The pointers
/// are valid only during the call. When more than 64 events wait for it
/// (it is stuck or slow), they are replaced by a CHANGED from the value it
/// last got to the current one (if any change was among them) followed by
/// the event of the current state, so memory stays bounded. It must return
/// normally: no longjmp, C++ exception, Ruby raise or Go panic may cross
/// it.
pub type zku_reader_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: i32,
        path: *const c_char,
        old_json: *const c_char,
        new_json: *const c_char,
        stat: *const zku_stat,
    ),
>;

/// Reads the node at `path`, which must hold a JSON object, and keeps
/// following it; `*out` receives the reader (free with `zku_reader_free`).
/// `callback` (may be NULL) receives the events (see `zku_reader_fn`);
/// `user_data_free` (may be NULL) runs exactly once, after the last call
/// (when the reader is closed or freed). Blocking (network), up to `timeout_ms`, for
/// the first read only. On failure nothing is kept: the caller keeps
/// `user_data` (its `user_data_free` is not called).
/// Errors: ZKU_ENONODE, ZKU_ENOTOBJECT (JSON but not an object), ZKU_EJSON
/// (not UTF-8 JSON), ZKU_ENOAUTH, ZKU_EPATH, ZKU_ENULL, ZKU_ERESOURCE (no
/// callback thread could be started), connection codes.
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_new(
    client: *const zku_client,
    path: *const c_char,
    callback: zku_reader_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    out: *mut *mut zku_reader,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or valid (caller).
        let (client, path) = unsafe { (&session_arg(client, "client")?.client, str_arg(path, "path")?) };
        let timeout = timeout_arg(timeout_ms)?;
        let reader = match callback {
            None => cancellable(cancel, Some(client), || Reader::new(client, path, None, timeout))?,
            Some(callback) => register_user_data(user_data, user_data_free, |data| {
                let boxed: ReaderCallback = Box::new(move |event: &ReaderEvent| deliver(callback, &data, event));
                cancellable(cancel, Some(client), || Reader::new(client, path, Some(boxed), timeout))
            })?,
        };
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, Box::into_raw(Box::new(zku_reader { reader }))) };
        Ok(())
    })
}

type RawReaderFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char, *const c_char, *const zku_stat);

fn deliver(callback: RawReaderFn, data: &UserData, event: &ReaderEvent) {
    let text = |s: &str| CString::new(s).unwrap_or_default();
    let (path, old, new) = (text(&event.path), text(&event.old), text(&event.new));
    let stat = zku_stat::from(event.stat);
    // SAFETY: the caller's callback with its own user_data, on a library
    // thread, as documented at registration; pointers live for the call.
    unsafe { callback(data.ptr(), event_code(event.kind), path.as_ptr(), old.as_ptr(), new.as_ptr(), &stat) }
}

/// # Safety
/// `reader` is NULL or live.
unsafe fn reader_arg<'a>(reader: *const zku_reader) -> Result<&'a Reader> {
    // SAFETY: forwarded from the caller.
    unsafe { session_arg(reader, "reader") }.map(|r| &r.reader)
}

/// The whole cached value as JSON text (as stored in the node) in a new
/// `*json` (free with `zku_string_free`), and its stat in `*stat` (may be
/// NULL). Never blocks. While stale, deleted or invalid it is the last known
/// good value (see `zku_reader_state`).
/// Errors: ZKU_ECLOSED (after `zku_reader_close`), ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_get(
    reader: *const zku_reader,
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
        required_out(json, "json")?;
        // SAFETY: NULL or live (caller).
        let reader = unsafe { reader_arg(reader)? };
        let (text, st) = reader.get()?;
        let text = raw_string(text.to_string())?;
        // SAFETY: checked / NULL or writable (caller).
        unsafe {
            set_out(json, text);
            write_out(stat, st.into());
        }
        Ok(())
    })
}

/// One member of the cached value by JSON Pointer (RFC 6901: "/jobs/num",
/// "/list/0", "~1" for '/', "~0" for '~'; "" is the whole object) as
/// compact JSON text in a new `*json` (free with `zku_string_free`): `10`,
/// `"text"`, `{"a":1}`. Never blocks.
/// Errors: ZKU_ENOMEMBER (nothing there), ZKU_EINVAL (not a pointer),
/// ZKU_ECLOSED, ZKU_EUTF8, ZKU_ENULL.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_get_pointer(
    reader: *const zku_reader,
    pointer: *const c_char,
    json: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(json) };
        required_out(json, "json")?;
        // SAFETY: NULL or valid (caller).
        let (reader, pointer) = unsafe { (reader_arg(reader)?, str_arg(pointer, "pointer")?) };
        let text = raw_string(reader.get_pointer(pointer)?)?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(json, text) };
        Ok(())
    })
}

/// Blocks until the value changes after the last change this function
/// returned (or after the reader was created), then returns the JSON text
/// before and after in new `*old_json` and `*new_json` (each may be NULL;
/// free with `zku_string_free`) and the new stat in `*stat` (may be NULL).
/// Changes are never missed but may be coalesced: `old_json` is what the
/// previous return gave as new. The position is shared by all callers:
/// use one watching thread per reader. Blocking (network), up to `timeout_ms`
/// (-1 forever, 0 no waiting).
/// Errors: ZKU_ETIMEOUT; ZKU_ENONODE once per deletion, ZKU_ENOTOBJECT /
/// ZKU_EJSON / ZKU_ENOAUTH once per unusable value (the reader goes on);
/// ZKU_ECLOSED after `zku_reader_close` (which wakes blocked callers) or
/// when the client was freed; ZKU_ESESSIONEXPIRED; ZKU_ENULL. Freeing the
/// reader (from another thread) while this call waits wakes it with
/// ZKU_ECLOSED, as `zku_reader_close` does.
///
/// # Safety
/// Pointers are NULL or valid; the reader is live when the call starts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_watch(
    reader: *const zku_reader,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    old_json: *mut *mut c_char,
    new_json: *mut *mut c_char,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe {
            clear_out(old_json);
            clear_out(new_json);
            write_out(stat, zku_stat::default());
        }
        let timeout = timeout_arg(timeout_ms)?;
        // SAFETY: NULL or live (caller). Not used after this line: another
        // thread may free the reader while this call waits.
        let (watcher, client) = {
            let reader = unsafe { reader_arg(reader)? };
            (reader.watcher(), reader.client().clone())
        };
        let change = cancellable(cancel, Some(&client), || watcher.watch(timeout))?;
        let old = if old_json.is_null() { None } else { Some(raw_string(change.old.to_string())?) };
        let new = if new_json.is_null() { None } else { Some(raw_string(change.new.to_string())?) };
        // SAFETY: NULL or writable (caller); each written only when non-NULL.
        unsafe {
            if let Some(old) = old {
                set_out(old_json, old);
            }
            if let Some(new) = new {
                set_out(new_json, new);
            }
            write_out(stat, change.stat.into());
        }
        Ok(())
    })
}

/// The reader's state (ZKU_READER_STATE_*; ZKU_READER_STATE_CLOSED for
/// NULL). Never blocks.
///
/// # Safety
/// `reader` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_state(reader: *const zku_reader) -> i32 {
    // SAFETY: NULL or live (caller).
    unsafe { live_session(reader) }
        .map_or(ZKU_READER_STATE_CLOSED, |r| guard_value(ZKU_READER_STATE_CLOSED, || state_code(r.reader.state())))
}

/// A descriptor that becomes readable on every reader event (the events
/// of `zku_reader_fn`: a change, stale, fresh, deleted, invalid, a final
/// state, and `zku_reader_close`), for poll(), epoll, libevent or Ruby's
/// IO.select, as an alternative to the callback. It is readable once
/// right after its creation (the first call). When it polls readable, call
/// `zku_reader_fd_drain`, then read the value (`zku_reader_get`) or the
/// change since the last one taken (`zku_reader_watch` with timeout 0:
/// ZKU_ETIMEOUT when the event was not a change). The descriptor belongs
/// to the reader: do not read, write or close it; it is closed by
/// `zku_reader_free`. Never blocks.
/// Errors: ZKU_ENULL, ZKU_EFORKED, ZKU_ESYSTEM (no descriptors left).
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_fd(reader: *const zku_reader, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `reader` NULL or live (caller).
    guard(err, || unsafe { super::fd_out(fd, || reader_arg(reader)?.pollable_fd()) })
}

/// Empties the descriptor of `zku_reader_fd` (so it is not readable until
/// the next event) and returns the reader's state (a positive
/// ZKU_READER_STATE_*), or ZKU_ENULL for NULL (ZKU_EFORKED for a reader
/// inherited across fork()). Never blocks. Events between two drains are coalesced: the
/// callback sees every event, the descriptor that something happened.
///
/// # Safety
/// `reader` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_fd_drain(reader: *const zku_reader) -> i32 {
    // SAFETY: NULL or live (caller).
    super::drain_result(unsafe { reader_arg(reader) }, |r| state_code(r.drain_notifications()))
}

/// Stops the reader: blocked and later `zku_reader_watch` calls return
/// ZKU_ECLOSED, reads return ZKU_ECLOSED. Events that happened before the
/// call are still delivered to the callback (on this thread if the library
/// threads have not yet); once this returns the callback
/// is not called again and `user_data_free` has run. Called from inside the
/// callback it returns at once: the callback is not called again after it
/// returns, and `user_data_free` runs right after. Thread-safe, idempotent,
/// NULL is fine. Blocking (waits for callbacks to finish): while earlier
/// events are delivered, as long as the callback takes; never on the network.
///
/// # Safety
/// `reader` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_close(reader: *const zku_reader) {
    // SAFETY: NULL or live (caller).
    if let Some(r) = unsafe { live_session(reader) } {
        guard_value((), || r.reader.close());
    }
}

/// Closes (see `zku_reader_close`; Blocking (waits for callbacks to
/// finish) while earlier events are delivered; never on the network) and
/// frees the reader. NULL is fine; free once. A
/// `zku_reader_watch` waiting in another thread returns ZKU_ECLOSED; no
/// other call on the reader may be in progress or follow. May be called
/// from the reader's own callback.
///
/// # Safety
/// `reader` is NULL or a live reader.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_reader_free(reader: *mut zku_reader) {
    // SAFETY: from zku_reader_new, freed once (caller).
    guard_value((), || drop(unsafe { super::owned_session(reader) }))
}
