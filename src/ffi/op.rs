//! `zku_op`: a blocking call started without blocking, for event loops
//! (`zku_lock_acquire_start`, `zku_fifo_acquire_start`,
//! `zku_get_next_start`, `zku_wait_absent_start`): its descriptor becomes
//! readable when it is done, and `zku_op_result` collects the outcome.

use std::ffi::c_int;

use super::buf::zku_buf;
use super::error::zku_error;
use super::node::zku_stat;
use super::{SessionHandle, clear_out, guard, live_session, required_out, session_arg, set_out, write_out, zku_rc};
use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::node::Stat;
use crate::op::Op;

/// An operation started by a `zku_*_start` function: the blocking call it
/// names runs on a library thread (at most 256 at once per process) while
/// the caller's loop goes on. `zku_op_fd` becomes readable when it is
/// done; `zku_op_result` then gives the outcome the blocking call would
/// have returned. The handle it was started on (lock, FIFO, client) may be
/// freed while it runs: the operation keeps what it needs, and ends with
/// ZKU_ECANCELLED (lock, FIFO) or ZKU_ECLOSED (client). Free it with
/// `zku_op_free`. Thread-safe. Does not survive fork(): in a child, calls
/// on an operation of the parent fail with ZKU_EFORKED.
pub struct zku_op {
    op: Op<Outcome>,
}

impl SessionHandle for zku_op {
    fn client(&self) -> &Client {
        self.op.client()
    }
}

/// What a finished operation gives back.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// A lock acquired: its fencing token.
    Token(i64),
    /// `zku_get_next`: the node's data and stat.
    Node(Vec<u8>, Stat),
    /// `zku_wait_absent`: the node is gone.
    Absent,
}

/// Starts `call` (arguments already checked) as an operation in `*out`,
/// ended early by `handle` (the lock's or FIFO's free) and the close of
/// `client`.
pub(crate) fn start(
    out: *mut *mut zku_op,
    client: &Client,
    handle: Option<&Cancel>,
    call: impl FnOnce() -> Result<Outcome> + Send + 'static,
) -> Result<()> {
    let op = Op::start(client, handle, call)?;
    // SAFETY: checked non-NULL by the caller.
    unsafe { set_out(out, Box::into_raw(Box::new(zku_op { op }))) };
    Ok(())
}

/// Clears and checks the `out` argument of a `zku_*_start` function.
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn op_out(out: *mut *mut zku_op) -> Result<()> {
    // SAFETY: NULL or writable (caller).
    unsafe { clear_out(out) };
    required_out(out, "out")
}

/// A descriptor that becomes readable when the operation is done, for
/// poll(), epoll, libevent or Ruby's IO.select. It stays readable until
/// `zku_op_free` (there is nothing to read or drain; call `zku_op_result`).
/// It belongs to the operation: do not read, write or close it; it is
/// closed by `zku_op_free`. Never blocks.
/// Errors: ZKU_ENULL, ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_op_fd(op: *const zku_op, fd: *mut c_int, err: *mut *mut zku_error) -> zku_rc {
    // SAFETY: `fd` NULL or writable, `op` NULL or live (caller).
    guard(err, || unsafe { super::fd_out(fd, || Ok(session_arg(op, "op")?.op.fd())) })
}

/// The outcome of the operation, without blocking: ZKU_EINPROGRESS while
/// it runs; once done, what the blocking call would have returned (0, or
/// its error code with the message in `*err`), as often as it is asked
/// (each call gives its own copies). On success the outputs that apply
/// are written, each may be NULL: `*token` the fencing token (lock and
/// FIFO acquires), `*data` a new buffer with the node's data (free with
/// `zku_buf_free`) and `*stat` its stat (`zku_get_next`). Outputs that do
/// not apply, and all of them on failure, are 0 / NULL / zeroed.
/// Never blocks.
/// Errors: ZKU_EINPROGRESS, those of the blocking call, ZKU_ENULL,
/// ZKU_EFORKED.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_op_result(
    op: *const zku_op,
    token: *mut i64,
    data: *mut *mut zku_buf,
    stat: *mut zku_stat,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            write_out(token, 0);
            clear_out(data);
            write_out(stat, zku_stat::default());
        }
        // SAFETY: NULL or live (caller).
        let op = unsafe { session_arg(op, "op")? };
        let outcome = op.op.outcome().ok_or_else(|| Error::new(Code::InProgress, "the operation is still running"))?;
        // SAFETY: out-parameters NULL or writable (caller).
        unsafe {
            match outcome? {
                Outcome::Token(t) => write_out(token, t),
                Outcome::Node(bytes, st) => {
                    if !data.is_null() {
                        set_out(data, zku_buf::boxed(bytes));
                    }
                    write_out(stat, st.into());
                }
                Outcome::Absent => {}
            }
        }
        Ok(())
    })
}

/// Makes the operation end promptly with ZKU_ECANCELLED (its descriptor
/// then becomes readable), unless it is done already: then its outcome
/// stands. A cancelled acquire leaves no node behind, as with `zku_cancel`
/// on the blocking call. Never blocks. NULL is ignored.
///
/// # Safety
/// `op` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_op_cancel(op: *const zku_op) {
    // SAFETY: NULL or live (caller).
    if let Some(op) = unsafe { live_session(op) } {
        super::guard_value((), || op.op.cancel());
    }
}

/// Frees the operation, cancelling it first if it is still running
/// (`zku_op_cancel`), and closes its descriptor. Blocking (waits for the
/// operation to stop): a cancelled call returns within 50 ms; it waits at
/// most 1 s, never for the network (a cleanup such as deleting the node of
/// a cancelled acquire goes on in the background). An acquire that
/// succeeded before the cancel keeps the lock held by its handle (see its
/// state; release it there). NULL is fine; free once, with no other call
/// on it in progress. In a fork() child, for an operation of the parent, it
/// does nothing (the memory stays allocated).
///
/// # Safety
/// `op` is NULL or a live operation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_op_free(op: *mut zku_op) {
    // SAFETY: from a zku_*_start function, freed once (caller).
    let op = unsafe { super::owned_session(op) };
    super::guard_value((), || drop(op));
}
