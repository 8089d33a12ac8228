//! Acquiring: one attempt is a create of the lock node; its create2 reply
//! carries the fencing token, so the uncontended path is that one request.
//! Only when the node exists is it read (with a watch when we are going to
//! wait): the holder's identifier decides between ours (same identifier)
//! and taken. The watch that detects a third party deleting or changing a
//! held node is armed by the monitor, `watch_delay` after acquiring: a
//! read queued behind the create would sit in front of the release's
//! delete on the server, and a lock released within the delay never needs
//! it. When another handle holds the node we wait for the watch, a session
//! change, the deadline or a cancel.
//!
//! A create whose outcome we did not see (cancelled or timed out while in
//! flight, or cut off by a connection loss) may have made our node: the
//! cleanup finishes the attempt and deletes the node if it is ours, holding
//! the handle's operation mutex so no later acquire races with it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{OwnedMutexGuard, watch};
use zookeeper_client as zk;

use super::monitor::Watching;
use super::{Held, Holder, Inner, LockState, TryAcquire};
use crate::error::{Code, Error, Result};
use crate::node::{SessionState, Stat};
use crate::packet::Write;
use crate::runtime::{self, Deadline, Timeout};

type CreateReply = std::result::Result<zk::Stat, zk::Error>;
/// A read of the lock node, with its watch when one was asked for.
type ReadReply = std::result::Result<(Vec<u8>, zk::Stat, Option<zk::OneshotWatcher>), zk::Error>;

/// What one attempt found.
enum Attempt {
    Held {
        held: Held,
        /// The node as created or read.
        node: Holder,
        /// The watch when the node was read with one; else the monitor
        /// sets it `watch_delay` from now.
        watcher: Option<zk::OneshotWatcher>,
    },
    Taken {
        holder: Holder,
        /// Set when the attempt was made to wait (acquire, not try_acquire).
        watcher: Option<zk::OneshotWatcher>,
    },
    /// The node was gone by the time of the read: try again at once.
    Vanished,
    /// The parent directory does not exist.
    NoParent,
    /// The connection broke: try again once connected. `create_unknown`:
    /// during our create, which may or may not have been applied (else
    /// during the read after it failed, with nothing to clean up).
    Disconnected { err: Error, create_unknown: bool },
}

/// Why a step ended without an attempt result.
enum Stop {
    /// Timed out or cancelled with the create in flight.
    Interrupted(Box<InFlight>, Error),
    Failed(Error),
}

/// What `acquire_impl` returns.
pub(super) enum Outcome {
    Held { token: i64, data: Vec<u8>, version: i32 },
    Taken(Holder),
}

impl Inner {
    pub(super) fn acquire(
        self: &Arc<Self>,
        timeout: Timeout,
        on_holder: Option<&mut dyn FnMut(&Holder) -> bool>,
    ) -> Result<i64> {
        match self.acquire_impl(timeout, true, on_holder)? {
            Outcome::Held { token, .. } => Ok(token),
            // Only returned without waiting.
            Outcome::Taken(holder) => Err(held_by(&self.path, &holder)),
        }
    }

    pub(super) fn try_acquire(self: &Arc<Self>, timeout: Timeout) -> Result<TryAcquire> {
        Ok(match self.acquire_impl(timeout, false, None)? {
            Outcome::Held { token, data, version } => {
                TryAcquire { locked: true, holder: data, version, token: Some(token) }
            }
            Outcome::Taken(holder) => {
                TryAcquire { locked: false, version: holder.stat.version, holder: holder.data, token: None }
            }
        })
    }

    /// The acquire loop. `wait`: wait for the holder (acquire) or return
    /// after the first attempt (try_acquire).
    fn acquire_impl(
        self: &Arc<Self>,
        timeout: Timeout,
        wait: bool,
        mut on_holder: Option<&mut dyn FnMut(&Holder) -> bool>,
    ) -> Result<Outcome> {
        self.check_open()?;
        // Our node (identifier and value) must fit the server's packet limit.
        let node = self.node_data();
        self.client.check_request(&Write::Create { path: &self.path, data: &node, acl: &self.acl, ttl: false })?;
        let what = format!("acquire {}", self.path);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let mut cancel = self.cancel.subscribe();
        let guard = match self.ops.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => runtime::block_on(interruptible(self.ops.clone().lock_owned(), deadline, &mut cancel, &what))
                .map_err(|e| {
                    if e.code() == Code::OperationTimeout {
                        e.context("another operation on this lock handle")
                    } else {
                        e
                    }
                })?,
        };

        // Already held, or waiting to learn whether it still is.
        loop {
            let (state, held) = {
                let s = self.lock_shared();
                (s.state, s.held)
            };
            match (state, held) {
                (LockState::Held, Some(h)) => {
                    return Ok(Outcome::Held { token: h.token, data: self.node_data(), version: h.version });
                }
                (LockState::Suspended, _) => {
                    let mut states = self.feed.subscribe();
                    let settled = async {
                        let _ = states.wait_for(|s| *s != LockState::Suspended).await;
                    };
                    runtime::block_on(interruptible(settled, deadline, &mut cancel, &what)).map_err(|e| {
                        if e.code() == Code::OperationTimeout {
                            Error::new(Code::ConnectionLoss, format!("{what}: the held lock is suspended (connection lost) and was not re-verified before the timeout"))
                        } else {
                            e
                        }
                    })?;
                }
                _ => break,
            }
        }

        let mut session = self.client.state_receiver();
        let mut last_reported: Option<(i64, i32, Vec<u8>)> = None;
        // Whether a create of ours may have been applied unseen.
        let mut maybe_created = false;
        let mut made_parent = false;
        loop {
            let step =
                runtime::block_on(self.attempt_step(deadline, reply_deadline, &mut cancel, &mut session, wait, &what));
            let attempt = match step {
                Ok(attempt) => attempt,
                Err(Stop::Interrupted(attempt, err)) => {
                    self.clean_up(Some(*attempt), maybe_created, guard);
                    return Err(err);
                }
                Err(Stop::Failed(err)) => {
                    if maybe_created && !is_terminal(&err) {
                        self.clean_up(None, true, guard);
                    }
                    return Err(err);
                }
            };
            // A node a handle of this client is deleting is not ours to
            // adopt: wait for it to go, as for another holder's.
            let attempt = match attempt {
                Attempt::Held { held, node, watcher } => match self.install(held, watcher) {
                    Ok(token) => return Ok(Outcome::Held { token, data: node.data, version: held.version }),
                    Err(watcher) => Attempt::Taken { holder: node, watcher },
                },
                other => other,
            };
            match attempt {
                Attempt::Held { .. } => unreachable!("installed above"),
                Attempt::Vanished => {
                    maybe_created = false;
                    if wait && timeout != Timeout::NoWait && deadline.is_expired() {
                        return Err(Error::timeout(format!("{what}: timed out")));
                    }
                }
                Attempt::NoParent => {
                    if made_parent {
                        return Err(Error::new(Code::NoNode, format!("{what}: the parent node does not exist")));
                    }
                    made_parent = true;
                    runtime::block_on(self.make_parent(reply_deadline))
                        .map_err(|e| e.context(format!("{what}: create the lock directory")))?;
                }
                Attempt::Disconnected { err, create_unknown } => {
                    maybe_created |= create_unknown;
                    if deadline.is_expired() {
                        if maybe_created {
                            self.clean_up(None, true, guard);
                        }
                        return Err(err.context(what));
                    }
                    // Wait for the connection and try again: a node we made
                    // is recognised by our identifier.
                }
                Attempt::Taken { holder, watcher } => {
                    maybe_created = false;
                    if !wait {
                        return Ok(Outcome::Taken(holder));
                    }
                    if let Some(report) = on_holder.as_mut() {
                        let seen = (holder.stat.czxid, holder.stat.version, holder.data.clone());
                        if last_reported.as_ref() != Some(&seen) {
                            last_reported = Some(seen);
                            // On the caller's thread, outside the runtime, so
                            // it may call blocking library functions.
                            if !report(&holder) {
                                return Err(Error::new(
                                    Code::Aborted,
                                    format!("{what}: stopped by the holder callback"),
                                ));
                            }
                        }
                    }
                    let watcher = watcher.expect("a waiting attempt reads with a watch");
                    let changed = async {
                        tokio::select! {
                            _ = watcher.changed() => {}
                            _ = session.changed() => {}
                        }
                    };
                    runtime::block_on(interruptible(changed, deadline, &mut cancel, &what)).map_err(|e| {
                        if e.code() == Code::OperationTimeout { held_by(&self.path, &holder) } else { e }
                    })?;
                }
            }
        }
    }

    /// Waits for a connection, sends the create and, when the node exists,
    /// reads it (with a watch when `wait`).
    async fn attempt_step(
        &self,
        deadline: Deadline,
        reply_deadline: Deadline,
        cancel: &mut watch::Receiver<u64>,
        session: &mut watch::Receiver<SessionState>,
        wait: bool,
        what: &str,
    ) -> std::result::Result<Attempt, Stop> {
        let zk = tokio::select! {
            biased;
            _ = cancel.changed() => return Err(Stop::Failed(cancelled(what))),
            zk = self.client.ready(deadline) => zk.map_err(|e| Stop::Failed(e.context(what)))?,
        };
        // The session this attempt runs on (after a renewal, a new one).
        *session = self.client.state_receiver();
        let data = self.node_data();
        let mut create = InFlight::start(zk.clone(), self.path.clone(), data.clone(), self.acl.clone(), self.ephemeral);
        let created = tokio::select! {
            biased;
            _ = cancel.changed() => Err(cancelled(what)),
            r = self.client.request(what, reply_deadline, &mut create.0) => r,
        };
        let created = match created {
            Ok(reply) => reply,
            Err(err) => return Err(Stop::Interrupted(Box::new(create), err)),
        };
        match created {
            Ok(stat) => Ok(Attempt::Held {
                held: self.held_from(&stat, true),
                node: Holder { data, stat: Stat::from(&stat) },
                watcher: None,
            }),
            Err(zk::Error::NodeExists) => {
                // Our create failed: nothing to clean up if this is cut short.
                let read = tokio::select! {
                    biased;
                    _ = cancel.changed() => Err(cancelled(what)),
                    r = self.client.request(what, reply_deadline, read_node(&zk, &self.path, wait)) => r,
                };
                self.classify(read.map_err(Stop::Failed)?).map_err(Stop::Failed)
            }
            Err(zk::Error::NoNode) => Ok(Attempt::NoParent),
            Err(e) if self.retries_on(&e) => Ok(Attempt::Disconnected { err: Error::from(e), create_unknown: true }),
            Err(e) => Err(Stop::Failed(Error::from(e).context(format!("create {}", self.path)))),
        }
    }

    /// Whether an attempt's request failed in a way the next attempt may
    /// get past: a lost connection, or the session expiring when the
    /// client opens a new one (an acquire owns nothing until it holds, so
    /// it goes on on the new session).
    fn retries_on(&self, e: &zk::Error) -> bool {
        is_connection(e) || (matches!(e, zk::Error::SessionExpired) && self.client.renews_session())
    }

    /// The acquisition of a node we made (`own_create`: our create's reply
    /// said so) or found holding our identifier.
    fn held_from(&self, stat: &zk::Stat, own_create: bool) -> Held {
        Held {
            token: stat.czxid,
            owner: stat.ephemeral_owner,
            version: stat.version,
            mzxid: stat.mzxid,
            // Only a node our own create made may be deleted without
            // reading it first: a node found with our identifier may be
            // another handle's, and may be gone and replaced by the time
            // we delete it (the next holder's node has version 0 too).
            checked_release: !(own_create && self.ephemeral),
            watched: false,
        }
    }

    /// Sorts out the read of an existing lock node: ours (our identifier:
    /// a handle sharing it, or our own create whose reply was lost), taken,
    /// or gone again.
    fn classify(&self, read: ReadReply) -> Result<Attempt> {
        match read {
            Ok((data, stat, watcher)) => {
                if self.holds(&data) {
                    let held = Held { watched: watcher.is_some(), ..self.held_from(&stat, false) };
                    Ok(Attempt::Held { held, node: Holder { data, stat: Stat::from(&stat) }, watcher })
                } else {
                    Ok(Attempt::Taken { holder: Holder { data, stat: Stat::from(&stat) }, watcher })
                }
            }
            Err(zk::Error::NoNode) => Ok(Attempt::Vanished),
            Err(e) if self.retries_on(&e) => Ok(Attempt::Disconnected { err: Error::from(e), create_unknown: false }),
            Err(e) => Err(Error::from(e).context(format!("get {}", self.path))),
        }
    }

    /// Records a new acquisition and starts its monitor. Refused (the
    /// watcher handed back) when a handle of this client is deleting the
    /// node.
    fn install(
        self: &Arc<Self>,
        held: Held,
        watcher: Option<zk::OneshotWatcher>,
    ) -> std::result::Result<i64, Option<zk::OneshotWatcher>> {
        let mut s = self.lock_shared();
        if !self.client.lock_claims().claim(&self.path, held.token, self) {
            return Err(watcher);
        }
        s.generation += 1;
        s.held = Some(held);
        s.lost_reason = None;
        s.suppressed_loss = None;
        s.releasing = false;
        if let Some(old) = s.monitor.take() {
            old.abort();
        }
        let watching = match watcher {
            Some(watcher) => Watching::Armed(watcher),
            None => Watching::Deferred(s.watch_delay),
        };
        let task = super::monitor::run(Arc::downgrade(self), s.generation, watching, self.client.state_receiver());
        s.monitor = Some(runtime::handle().spawn(task).abort_handle());
        self.transition(&mut s, LockState::Held);
        Ok(held.token)
    }

    async fn make_parent(&self, deadline: Deadline) -> Result<()> {
        let parent = crate::path::parent(&self.path).unwrap_or("/").to_string();
        if parent == "/" {
            return Err(Error::new(Code::NoNode, "no parent"));
        }
        let zk = self.client.ready(deadline).await?;
        let acl = self.acl.clone();
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
        self.client.request("mkdir", deadline, zk.mkdir(&parent, &options)).await?.map_err(Error::from)
    }

    /// Makes sure an attempt we gave up on leaves no node: in the
    /// background (never on the caller's time), waits for its create's
    /// reply and deletes the node if it is ours. `unknown`: an earlier
    /// create's outcome is unknown too. The operation mutex is held until
    /// this is done, so the next operation on this handle runs after it.
    fn clean_up(self: &Arc<Self>, attempt: Option<InFlight>, unknown: bool, guard: OwnedMutexGuard<()>) {
        if attempt.is_none() && !unknown {
            return;
        }
        runtime::handle().spawn(clean_up(self.clone(), attempt, unknown, guard));
    }
}

/// An attempt's create, sent on the first poll.
pub(super) struct InFlight(Pin<Box<dyn Future<Output = CreateReply> + Send>>);

impl InFlight {
    fn start(zk: zk::Client, path: Arc<str>, data: Vec<u8>, acl: Arc<Vec<zk::Acl>>, ephemeral: bool) -> InFlight {
        InFlight(Box::pin(async move {
            let mode = if ephemeral { zk::CreateMode::Ephemeral } else { zk::CreateMode::Persistent };
            let options = mode.with_acls(zk::Acls::new(&acl));
            zk.create(&path, &data, &options).await.map(|(stat, _)| stat)
        }))
    }
}

/// Reads the lock node, with a watch when `watch`.
async fn read_node(zk: &zk::Client, path: &str, watch: bool) -> ReadReply {
    if watch {
        zk.get_and_watch_data(path).await.map(|(data, stat, watcher)| (data, stat, Some(watcher)))
    } else {
        zk.get_data(path).await.map(|(data, stat)| (data, stat, None))
    }
}

async fn clean_up(inner: Arc<Inner>, attempt: Option<InFlight>, mut unknown: bool, _guard: OwnedMutexGuard<()>) {
    let mut created: Option<i64> = None;
    if let Some(attempt) = attempt {
        match attempt.0.await {
            Ok(stat) => created = Some(stat.czxid),
            Err(e) if is_connection(&e) => unknown = true,
            Err(_) => {}
        }
    }
    if created.is_none() && !unknown {
        return;
    }
    let session_id = inner.client.session_id();
    loop {
        // Until the session ends: then an ephemeral node is gone anyway; a
        // persistent one is not, and is removed through a session of its own.
        let zk = match inner.client.ready(Deadline::never()).await {
            Ok(zk) => zk,
            Err(e) if e.code() == Code::SessionExpired && !inner.ephemeral => {
                return remove_through_new_session(&inner, created).await;
            }
            Err(_) => return,
        };
        let (data, stat) = match zk.get_data(&inner.path).await {
            Ok(r) => r,
            Err(zk::Error::NoNode) => return,
            Err(e) if is_connection(&e) => continue,
            Err(_) => return,
        };
        let ours = match created {
            Some(czxid) => stat.czxid == czxid,
            None => inner.holds(&data) && (!inner.ephemeral || stat.ephemeral_owner == session_id),
        };
        // Another handle of this client may hold it (our identifier): then
        // it is theirs to release.
        let claims = inner.client.lock_claims();
        if !ours || !claims.start_cleanup(&inner.path, stat.czxid) {
            return;
        }
        let deleted = zk.delete(&inner.path, Some(stat.version)).await;
        crate::log::cleanup(&inner.path, "cleanup after an interrupted acquire", &deleted);
        claims.end_delete(&inner.path, stat.czxid);
        match deleted {
            Ok(()) | Err(zk::Error::NoNode) => return,
            Err(zk::Error::BadVersion) => continue,
            Err(e) if is_connection(&e) => continue,
            Err(_) => return,
        }
    }
}

/// The cleanup of a persistent lock's create whose session expired before
/// its outcome was known: the node, if ours (its czxid when known, else our
/// identifier), would otherwise stay for ever. A few attempts through a new
/// session from the client's configuration, each bounded by the session
/// timeout; the session is closed afterwards.
async fn remove_through_new_session(inner: &Inner, created: Option<i64>) {
    let Ok(zk) = crate::client::open_session(inner.client.config()).await else { return };
    let step = Deadline::never().min_after(inner.client.session_timeout());
    for _ in 0..3 {
        let (data, stat) = match step.run("get", zk.get_data(&inner.path)).await {
            Ok(Ok(read)) => read,
            Ok(Err(zk::Error::NoNode)) => break,
            _ => continue,
        };
        let ours = created.map_or_else(|| inner.holds(&data), |czxid| stat.czxid == czxid);
        if !ours || stat.ephemeral_owner != 0 {
            break;
        }
        match step.run("delete", zk.delete(&inner.path, Some(stat.version))).await {
            Ok(Ok(()) | Err(zk::Error::NoNode)) => break,
            _ => continue,
        }
    }
    // Dropped on the runtime: the crate closes the session in the background.
    drop(zk);
}

/// Awaits `fut` until the deadline, or until the handle is cancelled.
pub(super) async fn interruptible<F: Future>(
    fut: F,
    deadline: Deadline,
    cancel: &mut watch::Receiver<u64>,
    what: &str,
) -> Result<F::Output> {
    tokio::select! {
        biased;
        _ = cancel.changed() => Err(cancelled(what)),
        r = deadline.run(what, fut) => r,
    }
}

fn cancelled(what: &str) -> Error {
    Error::new(Code::Cancelled, format!("{what}: cancelled"))
}

fn held_by(path: &str, holder: &Holder) -> Error {
    let id = holder.id().unwrap_or_else(|| String::from_utf8_lossy(&holder.data).into_owned());
    Error::timeout(format!("acquire {path}: timed out; held by {id:?} (version {})", holder.stat.version))
}

/// Errors after which the session may live on and a request's outcome is
/// unknown.
pub(super) fn is_connection(e: &zk::Error) -> bool {
    Error::from(e.clone()).code() == Code::ConnectionLoss
}

/// The session is over: nothing left to clean up through it.
fn is_terminal(e: &Error) -> bool {
    matches!(e.code(), Code::SessionExpired | Code::Closed | Code::AuthFailed)
}
