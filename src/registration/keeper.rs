//! The task that keeps a registration node: it alone writes, so creates,
//! data updates and the delete on close never race each other.
//!
//! - No node: create it (and missing parents). A node already at the path
//!   is read: ours only when the last create's reply was lost and it is an
//!   ephemeral node of our session; anything else belongs to someone else,
//!   is watched and left alone (ABSENT), and we create ours once it is gone.
//! - Created or reconnected: the node is read with a watch (after a `sync`
//!   when reconnected: the server may be a follower behind the one we
//!   left); same creation zxid: PRESENT; gone: create it again; replaced:
//!   as a node of someone else.
//! - Deleted (watch): ABSENT, create it again.
//! - Session expired: an ephemeral node is gone (ABSENT); connected again
//!   with another session id (session renewal): create it again. Without
//!   renewal no new session comes and the handle stays ABSENT. The client
//!   closed or authentication failed: ABSENT and the task ends.
//! - Disconnected for longer than the session timeout (ephemeral): ABSENT,
//!   since the servers have expired the session by then; the read after
//!   the reconnect brings PRESENT back if it is not so.
//! - New data: written with the version last read (never onto a node that
//!   is not ours); every later creation writes it.
//! - Close: the node is read and deleted at that version if it is still
//!   ours, then the task ends.
//!
//! Requests are polled in the same `select!` as the session changes, never
//! awaited inline (see DEVELOPERS.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use zookeeper_client as zk;

use super::{Inner, OurNode, RegistrationState};
use crate::client::Client;
use crate::error::{Code, Error};
use crate::lock::monitor::{can_verify, sleep_until, terminal_reason};
use crate::log::{Level, log_event};
use crate::node::SessionState;
use crate::runtime::Deadline;

type EventFuture = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;
type OpFuture = Pin<Box<dyn Future<Output = Done> + Send>>;
type Reply<T> = std::result::Result<T, zk::Error>;

/// Retry delay after a failure the connection state does not explain.
const RETRY: Duration = Duration::from_millis(200);
/// Retry delay after a create the server refused (an operator may fix the
/// ACL or the parent meanwhile).
const REFUSED_RETRY: Duration = Duration::from_secs(2);

/// A request's outcome.
enum Done {
    Created {
        revision: u64,
        session: i64,
        reply: Reply<(String, crate::node::Stat)>,
    },
    Checked(Reply<(Option<zk::Stat>, zk::OneshotWatcher)>),
    Written {
        revision: u64,
        reply: Reply<zk::Stat>,
    },
    /// The close's delete: whether the task is done with it.
    Deleted(Reply<()>),
}

enum Wake {
    Node(zk::WatchedEvent),
    Op(Done),
    Session(Option<SessionState>),
    Timer,
    Poked,
}

struct Keeper {
    inner: Arc<Inner>,
    /// The watch on the node at the path (ours, or someone else's we wait for).
    watch: Option<EventFuture>,
    /// The node at the path is not ours: wait for it to go.
    blocked: bool,
    /// Read the node (re-arming the watch) before anything else.
    check: bool,
    /// Sync before that read (after a reconnect).
    sync: bool,
    /// The revision of a create whose reply was lost.
    unsure_create: Option<u64>,
    retry_at: Option<Instant>,
    suspended_at: Option<Instant>,
    /// When a close gives up on the delete.
    close_by: Option<Instant>,
    session: SessionState,
}

enum Next {
    Op(OpFuture),
    Idle,
    Finish,
}

pub(super) async fn run(inner: Arc<Inner>, mut session: watch::Receiver<SessionState>) {
    let state = *session.borrow_and_update();
    let mut k = Keeper {
        inner,
        watch: None,
        blocked: false,
        check: false,
        sync: false,
        unsure_create: None,
        retry_at: None,
        suspended_at: (!state.is_connected()).then(Instant::now),
        close_by: None,
        session: state,
    };
    let mut op: Option<OpFuture> = None;
    match state {
        SessionState::Closed | SessionState::AuthFailed => {
            k.end(terminal_reason(state));
            return;
        }
        // Nothing can be created before a new session (if one comes).
        SessionState::Expired => k.set_state(RegistrationState::Absent, Some("session expired".to_string())),
        _ => {}
    }
    loop {
        if op.is_none() {
            match k.next() {
                Next::Op(started) => op = Some(started),
                Next::Idle => {}
                Next::Finish => {
                    k.end("the client was closed".to_string());
                    return;
                }
            }
        }
        let timer = k.timer();
        let wake = tokio::select! {
            event = async { k.watch.as_mut().expect("guarded").await }, if k.watch.is_some() => Wake::Node(event),
            done = async { op.as_mut().expect("guarded").await }, if op.is_some() => Wake::Op(done),
            changed = session.changed() => Wake::Session(changed.ok().map(|_| *session.borrow_and_update())),
            _ = sleep_until(timer), if timer.is_some() => Wake::Timer,
            _ = k.inner.wake.notified() => Wake::Poked,
        };
        let went_on = match wake {
            Wake::Node(event) => {
                k.on_node_event(event);
                true
            }
            Wake::Op(done) => {
                op = None;
                k.on_done(done)
            }
            // A renewal replaced the expired session's channel: follow
            // the new session's.
            Wake::Session(None) if k.inner.client.renews_session() => {
                session = k.inner.client.state_receiver();
                let state = *session.borrow_and_update();
                k.on_session(state)
            }
            Wake::Session(None) => false,
            Wake::Session(Some(state)) => {
                if state == SessionState::Expired {
                    // Its requests fail; what they did died with the session.
                    op = None;
                }
                k.on_session(state)
            }
            Wake::Timer => {
                k.on_timer();
                // A close that could not delete in time gives up, even
                // with a request in flight.
                k.close_by.is_none_or(|t| t > Instant::now())
            }
            Wake::Poked => true,
        };
        if !went_on {
            let why = terminal_reason(k.session);
            if k.close_by.is_some() {
                log_event!(Level::Warn, "registration {}: close gave up on the delete", k.inner.requested);
            }
            k.end(why);
            return;
        }
    }
}

impl Keeper {
    fn ephemeral(&self) -> bool {
        self.inner.is_ephemeral()
    }

    /// The earliest of the retry, the session-timeout and the close timers.
    fn timer(&self) -> Option<Instant> {
        let expire =
            if self.ephemeral() { self.suspended_at.map(|t| t + self.inner.client.session_timeout()) } else { None };
        [self.retry_at, expire, self.close_by].into_iter().flatten().min()
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
        }
        let timeout = self.inner.client.session_timeout();
        if self.ephemeral() && self.suspended_at.is_some_and(|t| t + timeout <= now) {
            self.suspended_at = None;
            let why = format!("disconnected for longer than the session timeout ({} ms)", timeout.as_millis());
            self.set_state(RegistrationState::Absent, Some(why));
        }
    }

    /// What to send next, if anything.
    fn next(&mut self) -> Next {
        let inner = self.inner.clone();
        let (closing, node, revision, applied, present) = {
            let s = inner.lock_shared();
            (s.closing, s.node.clone(), s.revision, s.applied, s.state == RegistrationState::Present)
        };
        let connected = can_verify(self.session);
        if closing {
            let close_by = *self.close_by.get_or_insert_with(|| Instant::now() + inner.client.session_timeout());
            let ours = node.filter(|n| !self.ephemeral() || n.session == inner.client.session_id());
            return match ours {
                None => Next::Finish,
                Some(_) if close_by <= Instant::now() => Next::Finish,
                Some(n) if connected && self.retry_at.is_none() => {
                    self.send(|zk, client| async move { Done::Deleted(delete_if_ours(&zk, &client, n).await) })
                }
                Some(_) => Next::Idle,
            };
        }
        if !connected || self.retry_at.is_some() {
            return Next::Idle;
        }
        if self.blocked && self.watch.is_none() {
            self.check = true;
        }
        if self.check {
            self.check = false;
            let sync = std::mem::take(&mut self.sync);
            let path = node.map_or_else(|| inner.requested.clone(), |n| n.path);
            return self.send(move |zk, client| async move {
                if sync {
                    if let Err(e) = counted(&client, "sync", zk.sync(&path)).await {
                        return Done::Checked(Err(e));
                    }
                }
                Done::Checked(counted(&client, "exists", zk.check_and_watch_stat(&path)).await)
            });
        }
        if self.blocked {
            return Next::Idle;
        }
        match node {
            None => {
                let session = inner.client.session_id();
                let data = inner.lock_shared().data.clone();
                self.send(move |zk, client| async move {
                    let reply = counted(&client, "create", create(&inner, &zk, &data)).await;
                    Done::Created { revision, session, reply }
                })
            }
            Some(n) if present && applied < revision => {
                let data = inner.lock_shared().data.clone();
                self.send(move |zk, client| async move {
                    let reply = counted(&client, "set", zk.set_data(&n.path, &data, Some(n.version))).await;
                    Done::Written { revision, reply }
                })
            }
            Some(_) => Next::Idle,
        }
    }

    /// Starts a request future made by `request` with the crate's client.
    fn send<F, Fut>(&mut self, request: F) -> Next
    where
        F: FnOnce(zk::Client, Client) -> Fut,
        Fut: Future<Output = Done> + Send + 'static,
    {
        let Ok(zk) = self.inner.client.zk() else { return Next::Finish };
        Next::Op(Box::pin(request(zk, self.inner.client.clone())))
    }

    fn on_node_event(&mut self, event: zk::WatchedEvent) {
        self.watch = None;
        match event.event_type {
            zk::EventType::NodeDeleted if self.blocked => {
                self.blocked = false;
            }
            zk::EventType::NodeDeleted => {
                let mut s = self.inner.lock_shared();
                s.node = None;
                // Our close's own delete is no news: the state goes from
                // PRESENT to CLOSED.
                if !s.closing {
                    self.inner.transition(&mut s, RegistrationState::Absent, Some("the node was deleted".to_string()));
                    self.inner.changed();
                }
            }
            // Session events come through the session state; anything
            // else (data changed): read it again, re-arming the watch.
            _ => self.check = true,
        }
    }

    /// Handles a request's outcome; false when the task must end.
    fn on_done(&mut self, done: Done) -> bool {
        let inner = self.inner.clone();
        match done {
            Done::Created { revision, session, reply } => match reply {
                Ok((path, stat)) => {
                    let node = OurNode { path, czxid: stat.czxid, session, version: stat.version };
                    let mut s = inner.lock_shared();
                    log_event!(Level::Info, "registration {}: created (czxid {})", node.path, node.czxid);
                    s.node = Some(node);
                    s.applied = revision;
                    s.started = true;
                    self.unsure_create = None;
                    // Read it with a watch: a delete from now on is seen.
                    self.check = true;
                    inner.transition(&mut s, RegistrationState::Present, None);
                    inner.changed();
                }
                Err(zk::Error::NodeExists) => self.check = true,
                Err(zk::Error::ClientClosed) => return false,
                Err(e) => self.failed(e, Some(revision)),
            },
            Done::Checked(reply) => match reply {
                Ok((Some(stat), watcher)) => {
                    self.watch = Some(Box::pin(watcher.changed()));
                    self.on_existing(stat);
                }
                Ok((None, _)) => {
                    self.blocked = false;
                    let had = inner.lock_shared().node.take().is_some();
                    if had {
                        self.set_state(RegistrationState::Absent, Some("the node was deleted".to_string()));
                    }
                }
                Err(zk::Error::ClientClosed) => return false,
                Err(e) => {
                    self.check = true;
                    self.failed(e, None);
                }
            },
            Done::Written { revision, reply } => match reply {
                Ok(stat) => {
                    let mut s = inner.lock_shared();
                    if let Some(n) = s.node.as_mut() {
                        n.version = stat.version;
                    }
                    s.applied = s.applied.max(revision);
                    inner.changed();
                }
                // Changed or deleted by someone: read it again.
                Err(zk::Error::BadVersion | zk::Error::NoNode) => self.check = true,
                Err(zk::Error::ClientClosed) => return false,
                Err(e) => self.failed(e, None),
            },
            Done::Deleted(reply) => match reply {
                Err(zk::Error::BadVersion) => {}
                Err(e) if is_retryable(&e) => self.retry_at = Some(Instant::now() + RETRY),
                other => {
                    // Deleted, gone, or not ours: `next` finishes.
                    let path = inner.lock_shared().node.take().map(|n| n.path).unwrap_or_default();
                    match other {
                        Ok(()) => log_event!(Level::Info, "registration {path}: closed, node deleted if ours"),
                        Err(e) => log_event!(Level::Warn, "registration {path}: close: cannot delete the node: {e}"),
                    }
                }
            },
        }
        true
    }

    /// The read found a node at the path.
    fn on_existing(&mut self, stat: zk::Stat) {
        let inner = self.inner.clone();
        let session = inner.client.session_id();
        let mut s = inner.lock_shared();
        let mine = match &s.node {
            Some(n) => n.czxid == stat.czxid,
            // Our create's reply was lost, and the node is an ephemeral one
            // of this session: that create made it.
            None => self.unsure_create.is_some() && self.ephemeral() && stat.ephemeral_owner == session,
        };
        if mine {
            self.blocked = false;
            let adopted = self.unsure_create.take();
            let node = s.node.get_or_insert_with(|| OurNode {
                path: inner.requested.clone(),
                czxid: stat.czxid,
                session,
                version: stat.version,
            });
            node.version = stat.version;
            if let Some(revision) = adopted {
                s.applied = revision;
            }
            s.started = true;
            inner.transition(&mut s, RegistrationState::Present, None);
            inner.changed();
            return;
        }
        let replaced = s.node.take().is_some();
        self.blocked = true;
        self.unsure_create = None;
        // The server shows TTL and container nodes with owner 0 too.
        let owner = match stat.ephemeral_owner {
            0 => "a persistent node".to_string(),
            id => format!("an ephemeral node of session 0x{id:x}"),
        };
        let why = if replaced {
            format!("our node was replaced by {owner} (czxid {}); waiting for it to go", stat.czxid)
        } else {
            format!("{owner} not created by this handle is at the path (czxid {}); waiting for it to go", stat.czxid)
        };
        s.started = true;
        inner.transition(&mut s, RegistrationState::Absent, Some(why));
        inner.changed();
    }

    /// A request failed; `create` is the revision of a failed create.
    fn failed(&mut self, e: zk::Error, create: Option<u64>) {
        if is_retryable(&e) {
            if create.is_some() {
                self.unsure_create = create;
            }
            // A lost connection shows in the session state; retry once back.
            self.retry_at = can_verify(self.session).then(|| Instant::now() + RETRY);
            return;
        }
        let inner = self.inner.clone();
        let error = Error::from(e);
        let mut s = inner.lock_shared();
        if create.is_some() && !s.started {
            s.first_error = Some(error.clone().context(format!("create {}", inner.requested)));
        }
        s.started = true;
        let why = format!("cannot create the node: {error}; retrying");
        if create.is_some() {
            inner.transition(&mut s, RegistrationState::Absent, Some(why));
        } else {
            log_event!(Level::Warn, "registration {}: {error}", inner.requested);
        }
        inner.changed();
        self.retry_at = Some(Instant::now() + REFUSED_RETRY);
    }

    /// A session state change; false when the task must end.
    fn on_session(&mut self, state: SessionState) -> bool {
        let old = std::mem::replace(&mut self.session, state);
        match state {
            SessionState::Closed | SessionState::AuthFailed => return false,
            SessionState::Expired => {
                self.watch = None;
                self.blocked = false;
                self.unsure_create = None;
                if self.ephemeral() {
                    self.inner.lock_shared().node = None;
                    self.set_state(RegistrationState::Absent, Some("session expired".to_string()));
                }
            }
            SessionState::Suspended | SessionState::ConnectedReadOnly => {
                self.suspended_at.get_or_insert_with(Instant::now);
            }
            SessionState::Connected => {
                let session = self.inner.client.session_id();
                self.suspended_at = None;
                self.retry_at = None;
                if old != SessionState::Connected {
                    let mut s = self.inner.lock_shared();
                    if self.ephemeral() && s.node.as_ref().is_some_and(|n| n.session != session) {
                        s.node = None;
                    }
                    // Verify what we had (or what blocked us) on this server.
                    self.check = s.node.is_some() || self.blocked;
                    self.sync = true;
                }
            }
        }
        self.inner.changed();
        true
    }

    fn set_state(&self, state: RegistrationState, reason: Option<String>) {
        let mut s = self.inner.lock_shared();
        self.inner.transition(&mut s, state, reason);
        self.inner.changed();
    }

    /// The task ends: the handle keeps nothing any more.
    fn end(&self, why: String) {
        let mut s = self.inner.lock_shared();
        if !s.closing {
            self.inner.transition(&mut s, RegistrationState::Absent, Some(why));
        }
        s.done = true;
        self.inner.changed();
    }
}

/// Creates the node (and missing parents) with the handle's options.
async fn create(inner: &Inner, zk: &zk::Client, data: &[u8]) -> Reply<(String, crate::node::Stat)> {
    let path = inner.requested.as_str();
    match crate::client::create_once(zk, path, data, &inner.options, &inner.acl).await {
        Err(zk::Error::NoNode) => {
            let parent = crate::path::parent(path).unwrap_or("/");
            if parent != "/" {
                let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&inner.acl));
                match zk.mkdir(parent, &options).await {
                    Ok(()) | Err(zk::Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            crate::client::create_once(zk, path, data, &inner.options, &inner.acl).await
        }
        other => other,
    }
}

/// The close's delete: reads the node and deletes it at that version if it
/// is still ours.
async fn delete_if_ours(zk: &zk::Client, client: &Client, node: OurNode) -> Reply<()> {
    match counted(client, "exists", zk.check_stat(&node.path)).await? {
        Some(stat) if stat.czxid == node.czxid => {
            counted(client, "delete", zk.delete(&node.path, Some(stat.version))).await
        }
        _ => Ok(()),
    }
}

/// One request, counted in the client's statistics, waiting for its reply
/// at most the session timeout (then as a lost reply).
async fn counted<T>(client: &Client, what: &str, request: impl Future<Output = Reply<T>>) -> Reply<T> {
    let deadline = Deadline::never().min_after(client.session_timeout());
    let what = format!("registration: {what}");
    client.request(&what, deadline, request).await.unwrap_or(Err(zk::Error::Timeout))
}

fn is_retryable(e: &zk::Error) -> bool {
    Code::of_zk(e).is_retryable()
}
