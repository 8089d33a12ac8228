//! Plumbing for C callbacks: the `user_data` pointer with its optional
//! destructor, run exactly once when the library no longer needs it.

use std::ffi::c_void;
use std::sync::Arc;

use crate::error::Result;

/// Destructor for a callback's `user_data`, called exactly once, after the
/// last call of the callback: by the call that replaced or removed the
/// callback or freed its handle, or, when that call was made from inside
/// the callback, on the library thread right after the callback returns.
/// Must return normally (see the top of this file).
pub type zku_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// `user_data` and its destructor, owned by the library.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: zku_free_fn,
}

// SAFETY: the C API documents that callbacks (and so `user_data`) are used
// from library threads; the caller agreed to that when registering.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never touches the pointee itself.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: zku_free_fn) -> UserData {
        UserData { ptr, free }
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Hands `user_data` back to the caller without running its destructor
    /// (for a registration that failed after this was made).
    pub(crate) fn disarm(mut self) {
        self.free = None;
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's destructor for its own pointer, run once.
            unsafe { free(self.ptr) };
        }
    }
}

/// Runs `register` with a shared `UserData` for `ptr`. When it fails (and
/// kept no clone), the caller keeps `user_data`: its destructor never runs.
pub(crate) fn register_user_data<T>(
    ptr: *mut c_void,
    free: zku_free_fn,
    register: impl FnOnce(Arc<UserData>) -> Result<T>,
) -> Result<T> {
    let data = Arc::new(UserData::new(ptr, free));
    register(data.clone()).inspect_err(|_| {
        if let Ok(data) = Arc::try_unwrap(data) {
            data.disarm();
        }
    })
}
