//! Exit statuses, the same for every subcommand (`zkutil lock` passes its
//! command's status through, see its help).

use zkutil::Code;

/// Success.
pub const OK: u8 = 0;
/// A failure not covered below (I/O, server errors without a class here).
pub const FAILURE: u8 = 1;
/// Bad command line, or a malformed ZKU_* environment variable.
pub const USAGE: u8 = 2;
/// The node does not exist (`zkutil holder`: the lock is free).
pub const NOT_FOUND: u8 = 3;
/// A conflict: the node's version is not the expected one, the node exists.
pub const CONFLICT: u8 = 4;
/// The timeout ran out (lock not acquired, wait not satisfied, no reply).
pub const TIMEOUT: u8 = 5;
/// No usable session: servers unreachable, connection lost, session expired.
pub const CONNECTION: u8 = 6;
/// Not authorized by a node's ACL, or the credentials were refused.
pub const NO_AUTH: u8 = 7;
/// Invalid input: a malformed document, JSON, path, permission or ACL.
pub const INVALID: u8 = 8;
/// A write was cut off: it may or may not have been applied.
pub const UNKNOWN_OUTCOME: u8 = 9;

pub const HELP: &str = "\
Exit status:
  0  success
  1  other failure
  2  bad command line or malformed ZKU_* variable
  3  no such node (holder: the lock is free)
  4  conflict: bad version, node exists or not empty
  5  timeout (lock not acquired, wait not satisfied, no reply in time)
  6  no usable session: unreachable servers, connection loss, expiry
  7  not authorized (node ACL or refused credentials)
  8  invalid input (document, JSON, path, permissions, ACL)
  9  outcome unknown: a write was cut off and may have been applied
  zkutil lock: the command's own status; 75 (--lost-exit) when the lock was
  lost while it ran; 126/127 when it cannot be run; 128+N after signal N.
  zkutil register: the same, 75 when the session expired while it ran.
";

/// The status for a library error.
pub fn for_code(code: Code) -> u8 {
    match code {
        Code::BadConfig => USAGE,
        Code::NoNode => NOT_FOUND,
        Code::BadVersion | Code::NodeExists | Code::NotEmpty => CONFLICT,
        Code::OperationTimeout => TIMEOUT,
        Code::ConnectionLoss | Code::SessionExpired | Code::SessionMoved | Code::Closed | Code::InvalidHosts => {
            CONNECTION
        }
        Code::NoAuth | Code::AuthFailed => NO_AUTH,
        Code::BadJson
        | Code::BadPermission
        | Code::InvalidAcl
        | Code::InvalidPath
        | Code::DataTooLarge
        | Code::InvalidUtf8
        | Code::NotJsonObject
        | Code::InvalidArgument
        | Code::BadArguments
        | Code::NoChildrenForEphemerals => INVALID,
        Code::OutcomeUnknown => UNKNOWN_OUTCOME,
        _ => FAILURE,
    }
}
