//! The process's log hook: `zku_set_log_callback` and the `zku_log_level`
//! constants.

use std::ffi::{CString, c_char, c_void};

use super::callback::{register_user_data, zku_free_fn};
use super::error::zku_error;
use super::{guard, zku_rc};
use crate::error::Error;
use crate::log::{self, Level};

/// How important a log message is; each level includes the ones before it.
pub type zku_log_level = i32;
/// Something was lost: a session expired or its credentials were refused,
/// a lock was lost, a reader's session ended.
pub const ZKU_LOG_ERROR: zku_log_level = 1;
/// Trouble worked around or reported: a connection lost, a lock
/// suspended, a reader stale, deleted or invalid, a background cleanup
/// attempt that failed, a reply slower than 1 s, log messages dropped.
pub const ZKU_LOG_WARN: zku_log_level = 2;
/// Normal life: sessions established (with the connect string and session
/// id), reconnected and closed, lock state changes, reader changes,
/// background cleanups done.
pub const ZKU_LOG_INFO: zku_log_level = 3;
/// Details: every request a client sends for its node operations, CAS,
/// readers and waits, with its reply time.
pub const ZKU_LOG_DEBUG: zku_log_level = 4;

/// Called with each log message at the registered level or more important
/// (`level` is one of the ZKU_LOG_* constants). `message` is one line of
/// UTF-8 without a trailing newline, naming the session (`session 0x...`),
/// lock (`lock /path`) or reader (`reader /path`) it is about; it is valid
/// only during the call. Runs on a library callback thread (the pool the
/// state and event callbacks share), never on the thread whose action
/// logged, one call at a time and in order. It may call any library
/// function, including `zku_set_log_callback` (from inside it returns at
/// once); messages those calls log are delivered after it returns. When
/// it falls more than 1024 messages behind, the oldest are dropped and the
/// next call is a ZKU_LOG_WARN saying how many. It must return normally:
/// no longjmp, C++ exception, Ruby raise or Go panic may cross it.
pub type zku_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: zku_log_level, message: *const c_char)>;

/// Sets (or with `callback` NULL, removes) the process's log callback,
/// which gets the library's messages at `level` and above (`level` is
/// ignored when removing). While one is set nothing goes to stderr; without
/// one, messages at the level named by the `ZKU_LOG` environment variable
/// (`error`, `warn`, `info` or `debug`; read by every client connect, which
/// fails with ZKU_EBADCONFIG when it is set to anything else, empty
/// included) go to stderr as lines `zkutil LEVEL: message`. Neither set:
/// nothing is logged and no message is formatted.
/// A previous callback is removed first: after this returns it is not
/// called again and its `user_data_free` has run (messages queued for it
/// are given to it first, on this thread). Called from inside the log
/// callback it returns at once: the old callback is not called again and
/// its `user_data_free` runs right after it returns. `user_data_free` (may
/// be NULL) runs exactly once. Per process: a fork() child starts with no
/// callback (the parent's is never called there).
/// Errors: ZKU_EINVAL (level not one of the ZKU_LOG_* constants),
/// ZKU_ERESOURCE (no callback thread could be started); on failure nothing
/// changes and the caller keeps `user_data`.
/// Blocking (waits for callbacks to finish): replacing or removing the
/// callback waits for a running call of the old one to return.
///
/// # Safety
/// Pointers are NULL or valid; `callback` and `user_data` stay usable from
/// library threads until `user_data_free` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_set_log_callback(
    level: zku_log_level,
    callback: zku_log_fn,
    user_data: *mut c_void,
    user_data_free: zku_free_fn,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        let Some(callback) = callback else {
            return log::set_callback(None);
        };
        let level = u8::try_from(level).ok().and_then(Level::from_u8).ok_or_else(|| {
            Error::invalid_argument(format!("log level must be ZKU_LOG_ERROR (1) to ZKU_LOG_DEBUG (4), got {level}"))
        })?;
        register_user_data(user_data, user_data_free, |user_data| {
            log::set_callback(Some((
                level,
                Box::new(move |level, message| {
                    // Paths and hosts never hold NUL; keep the line anyway.
                    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
                    // SAFETY: the caller's callback with its own user_data, on
                    // a library thread, as documented at registration.
                    unsafe { callback(user_data.ptr(), level as zku_log_level, text.as_ptr()) }
                }),
            )))
        })
    })
}
