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

/// Sends `send(i)` for every index in `items`, at most `window` in flight,
/// and hands each reply to `on_reply` in order. Every operation passed here
/// is safe to repeat (reads, create-or-set-ACL, set of a final value), so
/// the items cut off by a connection loss are sent again once the session
/// is back, while the deadline allows. `on_reply` stops everything by
/// returning an error.
pub(crate) async fn run<T, F, Fut, R>(
    client: &Client,
    deadlines: Deadlines,
    what: &str,
    items: Vec<usize>,
    window: usize,
    send: F,
    mut on_reply: R,
) -> Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = std::result::Result<T, zk::Error>>,
    R: FnMut(usize, std::result::Result<T, zk::Error>) -> Result<()>,
{
    let mut todo = items;
    loop {
        let mut lost = Vec::new();
        let mut in_flight = VecDeque::with_capacity(window);
        let mut next = todo.iter().copied();
        loop {
            while in_flight.len() < window.max(1) {
                match next.next() {
                    Some(i) => in_flight.push_back((i, send(i))),
                    None => break,
                }
            }
            let Some((i, reply)) = in_flight.pop_front() else { break };
            match deadlines.reply.run(what, reply).await? {
                Err(e) if is_connection_loss(&e) && !deadlines.connect.is_expired() => lost.push(i),
                result => on_reply(i, result)?,
            }
        }
        if lost.is_empty() {
            return Ok(());
        }
        client.ready(deadlines.connect).await.map_err(|e| e.context(what))?;
        todo = lost;
    }
}
