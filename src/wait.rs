//! Waiting helpers (k3zkutil's `get_next` and `wait_absent`): block until a
//! node's version passes a given one, or until the node is gone.
//!
//! Each check reads with a one-shot watch and, when the condition does not
//! hold yet, waits for the watch, a session state change, or the deadline.
//! A reconnection makes it check again (the server re-arms watches on
//! reconnect, but a fresh read is what proves the condition). On return the
//! watch is dropped, which makes the client remove it locally and, when no
//! other watcher needs it, on the server: nothing is left behind. When the
//! client renews sessions, an expiry is waited out like a disconnection:
//! the wait checks again, with a new watch, on the new session.

use std::future::Future;

use tokio::sync::watch;
use zookeeper_client as zk;

use crate::cancel;
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::node::{SessionState, Stat};
use crate::runtime::{self, Deadline, Timeout};

/// Waits until the node at `path` has a version greater than `version`
/// (-1: as soon as it exists) and returns its data and stat.
///
/// When the node does not exist: with `until_created` false, fails at once
/// with [`Code::NoNode`] (as k3zkutil); with `until_created` true, waits for
/// it to be created (then the version test applies; a node re-created after
/// a deletion starts again at version 0).
///
/// Errors: [`Code::OperationTimeout`] (condition not met in time, including
/// while disconnected), [`Code::ConnectionLoss`] (timeout 0 and not
/// connected), [`Code::SessionExpired`] (not when the client renews
/// sessions: the wait goes on on the new session), [`Code::Closed`],
/// [`Code::AuthFailed`], [`Code::NoNode`], [`Code::NoAuth`], path errors.
pub fn get_next(
    client: &Client,
    path: &str,
    version: i32,
    until_created: bool,
    timeout: Timeout,
) -> Result<(Vec<u8>, Stat)> {
    check_get_next(client, path, version)?;
    let what = format!("get_next {path} (version > {version})");
    let what = what.as_str();
    wait_loop(client, timeout, what, |zk, request_deadline| async move {
        match client.request(what, request_deadline, zk.get_and_watch_data(path)).await? {
            Ok((data, stat, watcher)) => {
                if stat.version > version {
                    Ok(Check::Done((data, Stat::from(&stat))))
                } else {
                    Ok(Check::Wait(watcher))
                }
            }
            Err(zk::Error::NoNode) if until_created => {
                match client.request(what, request_deadline, zk.check_and_watch_stat(path)).await? {
                    // Created between the two reads: read it.
                    Ok((Some(_), _)) => Ok(Check::Again),
                    Ok((None, watcher)) => Ok(Check::Wait(watcher)),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Checks the arguments of [`get_next`], for callers that must refuse bad
/// ones before starting it.
pub fn check_get_next(client: &Client, path: &str, version: i32) -> Result<()> {
    client.validate_path(path)?;
    if version < -1 {
        return Err(Error::invalid_argument(format!("version must be -1 or more, got {version}")));
    }
    Ok(())
}

/// Waits until no node exists at `path` (returns at once when absent).
/// Errors: as [`get_next`], without [`Code::NoNode`].
pub fn wait_absent(client: &Client, path: &str, timeout: Timeout) -> Result<()> {
    client.validate_path(path)?;
    let what = format!("wait_absent {path}");
    let what = what.as_str();
    wait_loop(client, timeout, what, |zk, request_deadline| async move {
        match client.request(what, request_deadline, zk.check_and_watch_stat(path)).await? {
            Ok((None, _)) => Ok(Check::Done(())),
            Ok((Some(_), watcher)) => Ok(Check::Wait(watcher)),
            Err(e) => Err(e.into()),
        }
    })
}

/// One check's outcome.
enum Check<T> {
    Done(T),
    /// Not yet: wait for this watch.
    Wait(zk::OneshotWatcher),
    /// Check again now.
    Again,
}

/// Runs `check` until it is done, waiting between checks for its watch, a
/// session change or the deadline.
fn wait_loop<T, F, Fut>(client: &Client, timeout: Timeout, what: &str, check: F) -> Result<T>
where
    F: Fn(zk::Client, Deadline) -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    let deadline = timeout.deadline();
    let request_deadline = client.reply_deadline(timeout, deadline);
    runtime::block_on(async {
        let mut states;
        loop {
            let zk = match client.ready(deadline).await {
                Ok(zk) => zk,
                Err(e) if e.code() == Code::ConnectionLoss && timeout != Timeout::NoWait => {
                    return Err(Error::timeout(format!("{what}: timed out while not connected")));
                }
                Err(e) => return Err(e.context(what)),
            };
            // Changes from here on wake the wait below (the receiver of the
            // current session: a renewal replaces it).
            states = client.state_receiver();
            let watcher = match check(zk, request_deadline).await {
                Ok(Check::Done(value)) => return Ok(value),
                Ok(Check::Again) => continue,
                Ok(Check::Wait(watcher)) => watcher,
                // Lost the connection during the check: wait for it (the
                // state may show it a moment later), check again; with
                // `NoWait` that one attempt is over.
                Err(e) if e.code() == Code::ConnectionLoss && timeout != Timeout::NoWait => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
                // The session expired under the check: wait for the next.
                Err(e) if e.code() == Code::SessionExpired && client.renews_session() => continue,
                Err(e) => return Err(e.context(what)),
            };
            let _watching = client.counters().watching();
            wait_change(client, watcher, &mut states, deadline, what).await?;
        }
    })
}

/// Waits for the watch to fire, the session state to change, the deadline
/// or a stop of the call's `cancel::scope`. `Ok` means "check again"; the watch is dropped either way.
async fn wait_change(
    client: &Client,
    watcher: zk::OneshotWatcher,
    states: &mut watch::Receiver<SessionState>,
    deadline: Deadline,
    what: &str,
) -> Result<()> {
    let expired = async {
        match deadline.instant() {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        stop = cancel::stopped() => Err(stop.context(what)),
        event = watcher.changed() => {
            let state = SessionState::from_zk(event.session_state);
            if event.event_type == zk::EventType::Session && client.ends_following(state) {
                return Err(terminal_error(state, what));
            }
            Ok(())
        }
        // Fails once the session was renewed: check again on the new one.
        _ = states.changed() => {
            let state = *states.borrow_and_update();
            if client.ends_following(state) {
                return Err(terminal_error(state, what));
            }
            Ok(())
        }
        _ = expired => Err(Error::timeout(format!("{what}: timed out"))),
    }
}

pub(crate) fn terminal_error(state: SessionState, what: &str) -> Error {
    match state {
        SessionState::Expired => Error::new(Code::SessionExpired, format!("{what}: session expired")),
        SessionState::AuthFailed => Error::new(Code::AuthFailed, format!("{what}: authentication failed")),
        SessionState::Closed => Error::closed(format!("{what}: client is closed")),
        other => Error::new(Code::ConnectionLoss, format!("{what}: session {other:?}")),
    }
}
