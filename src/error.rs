//! Error codes and the library's error type.
//!
//! Codes reuse ZooKeeper's numbers where ZooKeeper has one for the condition,
//! so a ZooKeeper C programmer reads them at a glance; the library's own
//! conditions live in the -1000 range.

use std::fmt;

/// Every result code the library returns. `Ok` is 0, errors are negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    NoWatcher = -121,
    ReconfigDisabled = -123,
    QuotaExceeded = -125,
    Throttled = -127,
    NullArgument = -1001,
    InvalidUtf8 = -1002,
    InvalidPath = -1003,
    BadJson = -1004,
    BadPermission = -1005,
    BufferTooSmall = -1006,
    NotLocked = -1007,
    LockLost = -1008,
    Cancelled = -1009,
    Closed = -1010,
    Panic = -1011,
    InvalidArgument = -1012,
    DataTooLarge = -1013,
    OutcomeUnknown = -1014,
    NotJsonObject = -1015,
    Aborted = -1016,
    InvalidHosts = -1017,
    AlreadyLocked = -1018,
    Forked = -1019,
    BadConfig = -1020,
    ResourceExhausted = -1021,
    InProgress = -1023,
    NoMember = -1024,
}

impl Code {
    /// All codes, for tables and tests.
    pub const ALL: [Code; 46] = [
        Code::Ok,
        Code::SystemError,
        Code::RuntimeInconsistency,
        Code::ConnectionLoss,
        Code::MarshallingError,
        Code::Unimplemented,
        Code::OperationTimeout,
        Code::BadArguments,
        Code::NoNode,
        Code::NoAuth,
        Code::BadVersion,
        Code::NoChildrenForEphemerals,
        Code::NodeExists,
        Code::NotEmpty,
        Code::SessionExpired,
        Code::InvalidAcl,
        Code::AuthFailed,
        Code::SessionMoved,
        Code::NotReadOnly,
        Code::NoWatcher,
        Code::ReconfigDisabled,
        Code::QuotaExceeded,
        Code::Throttled,
        Code::NullArgument,
        Code::InvalidUtf8,
        Code::InvalidPath,
        Code::BadJson,
        Code::BadPermission,
        Code::BufferTooSmall,
        Code::NotLocked,
        Code::LockLost,
        Code::Cancelled,
        Code::Closed,
        Code::Panic,
        Code::InvalidArgument,
        Code::DataTooLarge,
        Code::OutcomeUnknown,
        Code::NotJsonObject,
        Code::Aborted,
        Code::InvalidHosts,
        Code::AlreadyLocked,
        Code::Forked,
        Code::BadConfig,
        Code::ResourceExhausted,
        Code::InProgress,
        Code::NoMember,
    ];

    pub fn as_i32(self) -> i32 {
        self as i32
    }

    pub fn from_i32(rc: i32) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_i32() == rc)
    }

    /// A short static description, as `zerror()` gives for ZooKeeper codes.
    pub fn description(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::SystemError => "system error",
            Code::RuntimeInconsistency => "runtime inconsistency",
            Code::ConnectionLoss => "connection loss (retryable)",
            Code::MarshallingError => "marshalling error",
            Code::Unimplemented => "unimplemented",
            Code::OperationTimeout => "operation timeout",
            Code::BadArguments => "bad arguments",
            Code::NoNode => "no node",
            Code::NoAuth => "not authenticated",
            Code::BadVersion => "bad version",
            Code::NoChildrenForEphemerals => "no children for ephemerals",
            Code::NodeExists => "node exists",
            Code::NotEmpty => "not empty",
            Code::SessionExpired => "session expired",
            Code::InvalidAcl => "invalid ACL",
            Code::AuthFailed => "authentication failed",
            Code::SessionMoved => "session moved",
            Code::NotReadOnly => "server is read-only",
            Code::NoWatcher => "no watcher",
            Code::ReconfigDisabled => "reconfiguration disabled",
            Code::QuotaExceeded => "quota exceeded",
            Code::Throttled => "operation throttled",
            Code::NullArgument => "NULL argument",
            Code::InvalidUtf8 => "invalid UTF-8",
            Code::InvalidPath => "invalid path",
            Code::BadJson => "bad JSON",
            Code::BadPermission => "bad permission",
            Code::BufferTooSmall => "buffer too small",
            Code::NotLocked => "not locked",
            Code::LockLost => "lock lost",
            Code::Cancelled => "cancelled",
            Code::Closed => "closed",
            Code::Panic => "internal panic",
            Code::InvalidArgument => "invalid argument",
            Code::DataTooLarge => "data or request too large",
            Code::OutcomeUnknown => "outcome unknown",
            Code::NotJsonObject => "not a JSON object",
            Code::Aborted => "aborted",
            Code::InvalidHosts => "invalid hosts",
            Code::AlreadyLocked => "key already locked",
            Code::Forked => "handle inherited across fork()",
            Code::BadConfig => "malformed configuration variable",
            Code::ResourceExhausted => "system resource exhausted",
            Code::InProgress => "operation in progress",
            Code::NoMember => "no such JSON member",
        }
    }

    /// Whether a write that failed with this code may still have been
    /// applied: it was sent and its reply was cut off.
    pub fn leaves_write_unknown(self) -> bool {
        matches!(self, Code::ConnectionLoss | Code::OperationTimeout | Code::SessionExpired)
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Code::ConnectionLoss | Code::OperationTimeout | Code::Throttled)
    }
}

/// The library's error: a code and a message that says what failed and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with what was being done, e.g. `get /a/b`.
    pub fn context(self, what: impl fmt::Display) -> Error {
        Error { code: self.code, message: format!("{what}: {}", self.message) }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidArgument, message)
    }

    pub fn timeout(message: impl Into<String>) -> Error {
        Error::new(Code::OperationTimeout, message)
    }

    pub fn closed(message: impl Into<String>) -> Error {
        Error::new(Code::Closed, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code.description(), self.code.as_i32(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<zookeeper_client::Error> for Error {
    fn from(err: zookeeper_client::Error) -> Error {
        Error::new(Code::of_zk(&err), err.to_string())
    }
}

impl Code {
    /// The code of an error of the ZooKeeper client crate.
    pub(crate) fn of_zk(err: &zookeeper_client::Error) -> Code {
        use zookeeper_client::Error as Zk;
        match err {
            Zk::NoNode => Code::NoNode,
            Zk::NoAuth => Code::NoAuth,
            Zk::BadVersion => Code::BadVersion,
            Zk::NoChildrenForEphemerals => Code::NoChildrenForEphemerals,
            Zk::NodeExists => Code::NodeExists,
            Zk::NotEmpty => Code::NotEmpty,
            Zk::SessionExpired => Code::SessionExpired,
            Zk::InvalidAcl => Code::InvalidAcl,
            Zk::AuthFailed => Code::AuthFailed,
            Zk::SessionMoved => Code::SessionMoved,
            Zk::NotReadOnly => Code::NotReadOnly,
            Zk::NoWatcher => Code::NoWatcher,
            Zk::QuotaExceeded => Code::QuotaExceeded,
            Zk::Throttled => Code::Throttled,
            Zk::MarshallingError | Zk::UnmarshalError { .. } => Code::MarshallingError,
            Zk::Unimplemented => Code::Unimplemented,
            Zk::ReconfigDisabled => Code::ReconfigDisabled,
            Zk::Timeout => Code::OperationTimeout,
            Zk::BadArguments(_) => Code::BadArguments,
            Zk::RuntimeInconsistent => Code::RuntimeInconsistency,
            Zk::ClientClosed => Code::Closed,
            // "no hosts" and the crate's custom errors ("no response from
            // connection in N ms", socket errors) all mean the connection is
            // gone while the session may live on: retryable.
            Zk::NoHosts | Zk::ConnectionLoss | Zk::Custom(_) => Code::ConnectionLoss,
            _ => Code::SystemError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_i32()), "duplicate {code:?}");
            assert_eq!(Code::from_i32(code.as_i32()), Some(code));
            assert!(!code.description().is_empty());
        }
        assert_eq!(Code::from_i32(12345), None);
    }

    #[test]
    fn connection_errors_map_to_retryable_connection_loss() {
        for zk_err in [zookeeper_client::Error::ConnectionLoss, zookeeper_client::Error::NoHosts] {
            let err = Error::from(zk_err);
            assert_eq!(err.code(), Code::ConnectionLoss);
            assert!(err.code().is_retryable());
        }
        assert_eq!(Error::from(zookeeper_client::Error::NoNode).code(), Code::NoNode);
        assert_eq!(Error::from(zookeeper_client::Error::ClientClosed).code(), Code::Closed);
    }
}
