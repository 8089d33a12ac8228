//! Many requests in flight on one session.
//!
//! zookeeper-client sends a request when its method is called and returns
//! a future of the reply; the server answers one session's requests in
//! order. So "pipelining" is: call the methods for the next N items, then
//! await the replies front to back, topping the window up as replies come.
//! One round trip is then shared by up to N requests instead of paid by
//! each.

use std::collections::VecDeque;
use std::future::Future;

use zookeeper_client as zk;

use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::runtime::{Deadline, Timeout};

/// Items (each one to three requests) in flight at once. The server reads
/// at most 1000 outstanding requests per connection before it stops
/// reading (globalOutstandingLimit); this stays well under it. See the
/// bench (`zkutil-bench --only hierarchy`) for the effect of the size.
pub(crate) const WINDOW: usize = 256;

/// The deadlines of one pipelined operation.
#[derive(Clone, Copy)]
pub(crate) struct Deadlines {
    /// For waiting for a connection (and retrying after a loss).
    pub(crate) connect: Deadline,
    /// For a reply to a request already sent.
    pub(crate) reply: Deadline,
}

impl Deadlines {
    /// As `Client::call`: `NoWait` fails at once without a connection, but
    /// a request already sent gets its round trip (bounded by the session
    /// timeout).
    pub(crate) fn new(client: &Client, timeout: Timeout) -> Deadlines {
        let connect = timeout.deadline();
        Deadlines { connect, reply: client.reply_deadline(timeout, connect) }
    }
}

fn is_connection_loss(e: &zk::Error) -> bool {
    Error::from(e.clone()).code() == Code::ConnectionLoss
}

fn leaves_unknown(e: &zk::Error) -> bool {
    Error::from(e.clone()).code().leaves_write_unknown()
}

/// Why a run stopped: the error, and how many requests it had sent that
/// got no reply settling them (for writes: they may or may not have been
/// applied).
#[derive(Debug)]
pub(crate) struct Stopped {
    pub(crate) error: Error,
    pub(crate) unsettled: u64,
}

impl From<Error> for Stopped {
    fn from(error: Error) -> Stopped {
        Stopped { error, unsettled: 0 }
    }
}

impl From<Stopped> for Error {
    fn from(stopped: Stopped) -> Error {
        stopped.error
    }
}

/// Sends `send(i)` for every index in `items`, at most `window` in flight,
/// and hands each reply to `on_reply` in order. Every operation passed here
/// is safe to repeat (reads, create-or-set-ACL, set of a final value), so
/// the items cut off by a connection loss are sent again once the session
/// is back (the rest after them), while the deadline allows. `on_reply`
/// stops everything by returning an error; the requests already sent then
/// still get their replies awaited, and the successful ones handed to
/// `on_reply`, so the caller learns what was applied.
pub(crate) async fn run<T, F, Fut, R>(
    client: &Client,
    deadlines: Deadlines,
    what: &str,
    items: Vec<usize>,
    window: usize,
    send: F,
    mut on_reply: R,
) -> Result<(), Stopped>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = std::result::Result<T, zk::Error>>,
    R: FnMut(usize, std::result::Result<T, zk::Error>) -> Result<()>,
{
    let mut todo = items;
    // Items of `todo` sent once already (then cut off by a connection loss)
    // and not sent again yet.
    let mut owed = 0;
    loop {
        let mut lost = Vec::new();
        let mut in_flight = VecDeque::with_capacity(window);
        let mut next = todo.iter().copied();
        loop {
            // After a connection loss, nothing more is sent until the
            // session is back: it would only be cut off too.
            while lost.is_empty() && in_flight.len() < window.max(1) {
                match next.next() {
                    Some(i) => {
                        owed -= usize::from(owed > 0);
                        in_flight.push_back((i, send(i)));
                    }
                    None => break,
                }
            }
            let Some((i, reply)) = in_flight.pop_front() else { break };
            let result = match deadlines.reply.run(what, reply).await {
                Ok(result) => result,
                Err(error) => {
                    let unsettled = 1 + in_flight.len() + lost.len() + owed;
                    return Err(Stopped { error, unsettled: unsettled as u64 });
                }
            };
            match result {
                Err(e) if is_connection_loss(&e) && !deadlines.connect.is_expired() => lost.push(i),
                result => {
                    let cut_off = matches!(&result, Err(e) if leaves_unknown(e));
                    if let Err(error) = on_reply(i, result) {
                        let unsettled = drain(in_flight, deadlines, what, &mut on_reply).await
                            + (usize::from(cut_off) + lost.len() + owed) as u64;
                        return Err(Stopped { error, unsettled });
                    }
                }
            }
        }
        if lost.is_empty() {
            return Ok(());
        }
        if let Err(e) = client.ready(deadlines.connect).await {
            return Err(Stopped { error: e.context(what), unsettled: lost.len() as u64 });
        }
        // The lost items first: `owed` counts them down as they are sent.
        owed = lost.len();
        lost.extend(next);
        todo = lost;
    }
}

/// Awaits the replies to requests sent before the run stopped, handing the
/// successful ones to `on_reply` (whose errors no longer matter), and
/// returns how many got no settling reply.
async fn drain<T, Fut, R>(in_flight: VecDeque<(usize, Fut)>, deadlines: Deadlines, what: &str, on_reply: &mut R) -> u64
where
    Fut: Future<Output = std::result::Result<T, zk::Error>>,
    R: FnMut(usize, std::result::Result<T, zk::Error>) -> Result<()>,
{
    let mut unsettled = 0;
    for (i, reply) in in_flight {
        match deadlines.reply.run(what, reply).await {
            Ok(Ok(value)) => {
                let _ = on_reply(i, Ok(value));
            }
            Ok(Err(e)) if !leaves_unknown(&e) => {}
            _ => unsettled += 1,
        }
    }
    unsettled
}
