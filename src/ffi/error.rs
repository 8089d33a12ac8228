//! Result codes, `zku_strerror`, and the detailed error object returned
//! through the optional `zku_error **err` out-parameter.

use std::ffi::{CString, c_char};

use super::zku_rc;
use crate::error::{Code, Error};

/// Success.
pub const ZKU_OK: zku_rc = 0;
/// Unexpected failure inside the library or the ZooKeeper client.
pub const ZKU_ESYSTEM: zku_rc = -1;
/// The server's state contradicts the request (ZRUNTIMEINCONSISTENCY).
pub const ZKU_ERUNTIMEINCONSISTENCY: zku_rc = -2;
/// Connection to the server lost; the session may still be alive.
/// Retryable: wait for the connection and try again (ZCONNECTIONLOSS).
pub const ZKU_ECONNECTIONLOSS: zku_rc = -4;
/// A reply could not be decoded (ZMARSHALLINGERROR).
pub const ZKU_EMARSHALLING: zku_rc = -5;
/// The server does not implement the request (ZUNIMPLEMENTED).
pub const ZKU_EUNIMPLEMENTED: zku_rc = -6;
/// The call's timeout ran out (ZOPERATIONTIMEOUT). For a write, the
/// outcome is unknown.
pub const ZKU_ETIMEOUT: zku_rc = -7;
/// The ZooKeeper client refused the arguments (ZBADARGUMENTS).
pub const ZKU_EBADARGUMENTS: zku_rc = -8;
/// The node does not exist (ZNONODE).
pub const ZKU_ENONODE: zku_rc = -101;
/// Not authorized by the node's ACL (ZNOAUTH).
pub const ZKU_ENOAUTH: zku_rc = -102;
/// The node's version differs from the expected one (ZBADVERSION).
pub const ZKU_EBADVERSION: zku_rc = -103;
/// Ephemeral nodes cannot have children (ZNOCHILDRENFOREPHEMERALS).
pub const ZKU_ENOCHILDRENFOREPHEMERALS: zku_rc = -108;
/// The node already exists (ZNODEEXISTS).
pub const ZKU_ENODEEXISTS: zku_rc = -110;
/// The node has children (ZNOTEMPTY).
pub const ZKU_ENOTEMPTY: zku_rc = -111;
/// The session expired; ephemeral nodes and watches are gone
/// (ZSESSIONEXPIRED). Create a new client.
pub const ZKU_ESESSIONEXPIRED: zku_rc = -112;
/// Invalid ACL (ZINVALIDACL).
pub const ZKU_EINVALIDACL: zku_rc = -114;
/// Authentication failed (ZAUTHFAILED).
pub const ZKU_EAUTHFAILED: zku_rc = -115;
/// The session moved to another server (ZSESSIONMOVED).
pub const ZKU_ESESSIONMOVED: zku_rc = -118;
/// Write on a read-only server (ZNOTREADONLY).
pub const ZKU_ENOTREADONLY: zku_rc = -119;
/// No such watcher (ZNOWATCHER).
pub const ZKU_ENOWATCHER: zku_rc = -121;
/// Reconfiguration disabled (ZRECONFIGDISABLED).
pub const ZKU_ERECONFIGDISABLED: zku_rc = -123;
/// Quota exceeded.
pub const ZKU_EQUOTAEXCEEDED: zku_rc = -125;
/// The server throttled the request (ZTHROTTLEDOP). Retryable.
pub const ZKU_ETHROTTLED: zku_rc = -127;
/// A required pointer argument is NULL.
pub const ZKU_ENULL: zku_rc = -1001;
/// A string argument is not valid UTF-8.
pub const ZKU_EUTF8: zku_rc = -1002;
/// A path is relative, malformed or has forbidden characters.
pub const ZKU_EPATH: zku_rc = -1003;
/// Text that must be JSON is not (or node data is not UTF-8 JSON).
pub const ZKU_EJSON: zku_rc = -1004;
/// A permission letter, name or mask is unknown.
pub const ZKU_EPERM: zku_rc = -1005;
/// A caller buffer is too small.
pub const ZKU_EBUFSIZE: zku_rc = -1006;
/// The lock is not held by this handle.
pub const ZKU_ENOTLOCKED: zku_rc = -1007;
/// The lock was lost (session expired, node deleted or taken over).
pub const ZKU_ELOCKLOST: zku_rc = -1008;
/// The call was cancelled: by its `zku_cancel` (any blocking call; a write
/// already sent gives ZKU_EUNKNOWN instead) or by `zku_lock_cancel` or `zku_fifo_cancel`.
pub const ZKU_ECANCELLED: zku_rc = -1009;
/// The handle (or its client) was closed: `zku_client_close`,
/// `zku_client_free`, `zku_reader_close`.
pub const ZKU_ECLOSED: zku_rc = -1010;
/// A bug: the library panicked; the message says where.
pub const ZKU_EPANIC: zku_rc = -1011;
/// An argument has an invalid value (negative timeout other than -1,
/// unknown flag bits, ...).
pub const ZKU_EINVAL: zku_rc = -1012;
/// Node data exceeds ZKU_MAX_DATA_LEN, or a request (path, data and ACL
/// together; credentials) exceeds the server's packet limit. Refused before
/// anything is sent.
pub const ZKU_ETOOLARGE: zku_rc = -1013;
/// The connection was lost while a write was in flight: it may or may not
/// have been applied. Count it neither as failed nor as done.
pub const ZKU_EUNKNOWN: zku_rc = -1014;
/// Node data is JSON but not a JSON object.
pub const ZKU_ENOTOBJECT: zku_rc = -1015;
/// A user callback asked to stop.
pub const ZKU_EABORTED: zku_rc = -1016;
/// The hosts string is malformed.
pub const ZKU_EHOSTS: zku_rc = -1017;
/// The key is already locked by the caller.
pub const ZKU_EALREADYLOCKED: zku_rc = -1018;
/// The handle was created by the parent of this fork() child: its session
/// belongs to the parent. Nothing was sent; create a new client here.
pub const ZKU_EFORKED: zku_rc = -1019;
/// A `ZKU_*` environment variable is malformed; the message names it and
/// says what is wrong. Nothing was sent to a server.
pub const ZKU_EBADCONFIG: zku_rc = -1020;
/// The system refused a resource the library needs (a callback delivery
/// thread could not be started).
pub const ZKU_ERESOURCE: zku_rc = -1021;
/// The operation (`zku_op`) has not finished yet: wait for its descriptor
/// to become readable, then ask again.
pub const ZKU_EINPROGRESS: zku_rc = -1023;
/// No member at that JSON Pointer in a cached reader's value.
pub const ZKU_ENOMEMBER: zku_rc = -1024;

/// The C constant for every core code, checked by a test.
#[cfg(test)]
const TABLE: [(zku_rc, Code); 46] = [
    (ZKU_OK, Code::Ok),
    (ZKU_ESYSTEM, Code::SystemError),
    (ZKU_ERUNTIMEINCONSISTENCY, Code::RuntimeInconsistency),
    (ZKU_ECONNECTIONLOSS, Code::ConnectionLoss),
    (ZKU_EMARSHALLING, Code::MarshallingError),
    (ZKU_EUNIMPLEMENTED, Code::Unimplemented),
    (ZKU_ETIMEOUT, Code::OperationTimeout),
    (ZKU_EBADARGUMENTS, Code::BadArguments),
    (ZKU_ENONODE, Code::NoNode),
    (ZKU_ENOAUTH, Code::NoAuth),
    (ZKU_EBADVERSION, Code::BadVersion),
    (ZKU_ENOCHILDRENFOREPHEMERALS, Code::NoChildrenForEphemerals),
    (ZKU_ENODEEXISTS, Code::NodeExists),
    (ZKU_ENOTEMPTY, Code::NotEmpty),
    (ZKU_ESESSIONEXPIRED, Code::SessionExpired),
    (ZKU_EINVALIDACL, Code::InvalidAcl),
    (ZKU_EAUTHFAILED, Code::AuthFailed),
    (ZKU_ESESSIONMOVED, Code::SessionMoved),
    (ZKU_ENOTREADONLY, Code::NotReadOnly),
    (ZKU_ENOWATCHER, Code::NoWatcher),
    (ZKU_ERECONFIGDISABLED, Code::ReconfigDisabled),
    (ZKU_EQUOTAEXCEEDED, Code::QuotaExceeded),
    (ZKU_ETHROTTLED, Code::Throttled),
    (ZKU_ENULL, Code::NullArgument),
    (ZKU_EUTF8, Code::InvalidUtf8),
    (ZKU_EPATH, Code::InvalidPath),
    (ZKU_EJSON, Code::BadJson),
    (ZKU_EPERM, Code::BadPermission),
    (ZKU_EBUFSIZE, Code::BufferTooSmall),
    (ZKU_ENOTLOCKED, Code::NotLocked),
    (ZKU_ELOCKLOST, Code::LockLost),
    (ZKU_ECANCELLED, Code::Cancelled),
    (ZKU_ECLOSED, Code::Closed),
    (ZKU_EPANIC, Code::Panic),
    (ZKU_EINVAL, Code::InvalidArgument),
    (ZKU_ETOOLARGE, Code::DataTooLarge),
    (ZKU_EUNKNOWN, Code::OutcomeUnknown),
    (ZKU_ENOTOBJECT, Code::NotJsonObject),
    (ZKU_EABORTED, Code::Aborted),
    (ZKU_EHOSTS, Code::InvalidHosts),
    (ZKU_EALREADYLOCKED, Code::AlreadyLocked),
    (ZKU_EFORKED, Code::Forked),
    (ZKU_EBADCONFIG, Code::BadConfig),
    (ZKU_ERESOURCE, Code::ResourceExhausted),
    (ZKU_EINPROGRESS, Code::InProgress),
    (ZKU_ENOMEMBER, Code::NoMember),
];

/// A detailed error: the code and a message naming the argument, path or
/// server reply involved. Returned through `zku_error **err`; free it with
/// `zku_error_free`. Immutable, so it may be read from any thread.
pub struct zku_error {
    code: zku_rc,
    message: CString,
}

impl zku_error {
    pub(crate) fn boxed(e: Error) -> *mut zku_error {
        let message = CString::new(e.message().replace('\0', "\\0")).unwrap_or_default();
        Box::into_raw(Box::new(zku_error { code: e.code().as_i32(), message }))
    }
}

/// A static, NUL-terminated description of any result code (never NULL;
/// "unknown error code" for codes the library does not define).
/// Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn zku_strerror(rc: zku_rc) -> *const c_char {
    static DESCRIPTIONS: once_cell::sync::Lazy<Vec<(zku_rc, CString)>> = once_cell::sync::Lazy::new(|| {
        Code::ALL.iter().map(|c| (c.as_i32(), CString::new(c.description()).unwrap())).collect()
    });
    super::guard_value(c"internal panic".as_ptr(), || {
        DESCRIPTIONS
            .iter()
            .find(|(code, _)| *code == rc)
            .map_or(c"unknown error code".as_ptr(), |(_, text)| text.as_ptr())
    })
}

/// The error's result code (ZKU_EPANIC for NULL).
/// Never blocks.
///
/// # Safety
/// `err` is NULL or an error object not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_error_code(err: *const zku_error) -> zku_rc {
    // SAFETY: NULL or a live object (caller).
    unsafe { err.as_ref() }.map_or(ZKU_EPANIC, |e| e.code)
}

/// The error's message, valid until `zku_error_free` (NULL for NULL).
/// Never blocks.
///
/// # Safety
/// `err` is NULL or an error object not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_error_message(err: *const zku_error) -> *const c_char {
    // SAFETY: NULL or a live object (caller).
    unsafe { err.as_ref() }.map_or(std::ptr::null(), |e| e.message.as_ptr())
}

/// Frees an error object. NULL is fine; free each object once.
/// Never blocks.
///
/// # Safety
/// `err` is NULL or an error object not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_error_free(err: *mut zku_error) {
    // SAFETY: from zku_error::boxed, freed once (caller).
    unsafe { super::free_box(err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_has_a_c_constant() {
        for code in Code::ALL {
            let (rc, _) = TABLE.iter().find(|(_, c)| *c == code).expect("missing constant");
            assert_eq!(*rc, code.as_i32(), "{code:?}");
        }
        assert_eq!(TABLE.len(), Code::ALL.len());
    }

    #[test]
    fn strerror_covers_every_code() {
        for (rc, code) in TABLE {
            // SAFETY: zku_strerror returns a static NUL-terminated string.
            let text = unsafe { std::ffi::CStr::from_ptr(zku_strerror(rc)) }.to_str().unwrap();
            assert_eq!(text, code.description());
        }
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(zku_strerror(42)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown error code");
    }
}
