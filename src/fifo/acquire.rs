//! Acquiring: create our protected sequential node, then list the
//! contenders; first holds, else watch only the predecessor and look again
//! when it goes (or the session changes). A create whose reply was lost
//! (connection loss) is found again by our uuid in the listing. When the
//! call ends without the lock (timeout, cancel, error, try_acquire behind
//! another) our node is deleted by a task holding the handle's operation
//! mutex, which also finishes a create still in flight first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;
use zookeeper_client as zk;

use super::{Held, Inner, monitor};
use crate::cancel;
use crate::error::{Code, Error, Result};
use crate::lock::LockState;
use crate::runtime::{self, Deadline, Timeout};
use crate::sequential::{self, CreateFuture, Protected, is_connection};

type EventFuture = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;

/// One acquisition's node, as far as we know it.
struct Attempt {
    protected: Protected,
    /// The write side's acquisition this read side's node is created
    /// behind (only while that node exists: one multi checks it).
    under: Option<Held>,
    /// Our node's name, once the create's reply (or a listing) showed it.
    name: Option<String>,
    /// A create sent whose reply we gave up on (timeout, cancel).
    in_flight: Option<CreateFuture>,
    /// A create of ours may have been applied unseen (connection loss).
    maybe_created: bool,
}

impl Attempt {
    fn may_have_node(&self) -> bool {
        self.name.is_some() || self.in_flight.is_some() || self.maybe_created
    }
}

impl Inner {
    /// `wait`: wait behind the others (acquire) or give up at once
    /// (try_acquire, `Ok(None)`).
    pub(super) fn acquire(self: &Arc<Self>, timeout: Timeout, wait: bool) -> Result<Option<i64>> {
        // Ended early, as by a cancel of its own, by `FifoLock::cancel`.
        let stop = self.running_acquires().clone();
        cancel::scope(Some(&stop), None, || self.acquire_in_scope(timeout, wait))
    }

    fn acquire_in_scope(self: &Arc<Self>, timeout: Timeout, wait: bool) -> Result<Option<i64>> {
        self.check_open()?;
        let what = format!("acquire {}", self.dir);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let guard = self.lock_ops(deadline, &what)?;
        if let Some(token) = self.already_held(deadline, &what)? {
            return Ok(Some(token));
        }
        let under = self.write_side_held();
        let protected = match &under {
            Some(write) => Protected::behind(self.layout.marker, &write.name, self.layout.markers),
            None => Protected::new(self.layout.marker),
        };
        let mut attempt = Attempt { protected, under, name: None, in_flight: None, maybe_created: false };
        let result = runtime::block_on(self.contend(&mut attempt, deadline, reply_deadline, wait, &what));
        match result {
            Ok(Some(held)) => Ok(Some(self.install(held))),
            Ok(None) => {
                // Behind another: our node goes before this returns, if
                // the server answers within the reply deadline.
                let cleanup = self.clone().clean_up(attempt, guard);
                let _ = runtime::block_on(reply_deadline.run(&what, cleanup));
                Ok(None)
            }
            Err(e) => {
                if attempt.may_have_node() {
                    drop(self.clone().clean_up(attempt, guard));
                }
                Err(e)
            }
        }
    }

    /// The token when this handle holds the lock already; waits while
    /// `Suspended` for the re-verification to settle it.
    fn already_held(&self, deadline: Deadline, what: &str) -> Result<Option<i64>> {
        let mut states = self.feed.subscribe();
        loop {
            let (state, token) = {
                let s = self.lock_shared();
                (s.state, s.held.as_ref().map(|h| h.token))
            };
            match state {
                LockState::Held => return Ok(token),
                LockState::Suspended => {
                    runtime::block_on(deadline.run(what, async {
                        // The sender lives in `self`: never closed.
                        let _ = states.changed().await;
                    }))
                    .map_err(|e| {
                        if e.code() == Code::OperationTimeout {
                            Error::new(
                                Code::ConnectionLoss,
                                format!("{what}: the held lock is suspended (connection lost) and was not re-verified before the timeout"),
                            )
                        } else {
                            e
                        }
                    })?;
                }
                LockState::Unlocked | LockState::Lost => return Ok(None),
            }
        }
    }

    async fn contend(
        &self,
        attempt: &mut Attempt,
        deadline: Deadline,
        reply_deadline: Deadline,
        wait: bool,
        what: &str,
    ) -> Result<Option<Held>> {
        let (name, stat) = self.create_ours(attempt, deadline, reply_deadline, what).await?;
        let mut own_watch: Option<EventFuture> = None;
        loop {
            let mut session = self.client.state_receiver();
            let zk = self.client.ready(deadline).await.map_err(|e| e.context(what))?;
            if stat.ephemeral_owner != 0 && stat.ephemeral_owner != self.client.session_id() {
                // Renewed: our waiting node went with the expired session.
                return Err(Error::new(
                    Code::SessionExpired,
                    format!("{what}: session expired while waiting (our node {name} is gone)"),
                ));
            }
            let children = match reply_deadline.run(what, zk.list_children(&self.dir)).await? {
                Ok(children) => children,
                Err(e) if is_connection(&e) => continue,
                Err(e) => return Err(Error::from(e).context(format!("{what}: list the contenders"))),
            };
            let contenders = sequential::contenders(children, self.layout.markers);
            let behind = attempt.under.as_ref().map(|write| write.name.clone());
            let own_writer = self.own_writer(behind.as_ref());
            let predecessor = match sequential::blocker(&contenders, &name, self.layout.rule, own_writer.as_deref()) {
                Ok(None) => {
                    let token = attempt.under.as_ref().map_or(stat.czxid, |write| write.token);
                    return Ok(Some(Held { name, czxid: stat.czxid, token, owner: stat.ephemeral_owner, behind }));
                }
                Ok(Some(predecessor)) => predecessor,
                Err(()) => {
                    attempt.name = None;
                    return Err(Error::new(
                        Code::LockLost,
                        format!("{what}: our waiting node {name} was deleted by someone else"),
                    ));
                }
            };
            if !wait {
                return Ok(None);
            }
            let watched = zk.check_and_watch_stat(&self.node_path(predecessor));
            let watcher = match reply_deadline.run(what, watched).await? {
                Ok((Some(_), watcher)) => watcher,
                // Gone already: look again.
                Ok((None, _)) => continue,
                Err(e) if is_connection(&e) => continue,
                Err(e) => return Err(Error::from(e).context(format!("{what}: watch {predecessor}"))),
            };
            if own_watch.is_none() {
                // Our own node too: deleted by someone else while we wait
                // behind a holder that stays, it would go unnoticed.
                let watched = zk.check_and_watch_stat(&self.node_path(&name));
                match reply_deadline.run(what, watched).await? {
                    Ok((Some(_), watcher)) => own_watch = Some(Box::pin(watcher.changed())),
                    Ok((None, _)) => continue,
                    Err(e) if is_connection(&e) => continue,
                    Err(e) => return Err(Error::from(e).context(format!("{what}: watch our node"))),
                }
            }
            let ahead = contenders.iter().position(|c| *c == name).unwrap_or_default();
            let moved = async {
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = own_watch.as_mut().expect("set above") => own_watch = None,
                    _ = session.changed() => {}
                }
            };
            deadline.run(what, moved).await.map_err(|e| {
                if e.code() == Code::OperationTimeout {
                    Error::timeout(format!(
                        "{what}: timed out with {ahead} contender(s) ahead, held by {}",
                        contenders[0]
                    ))
                } else {
                    e
                }
            })?;
        }
    }

    /// Our node: its name and stat. Creates the lock directory when
    /// missing (persistent, as Curator does).
    async fn create_ours(
        &self,
        attempt: &mut Attempt,
        deadline: Deadline,
        reply_deadline: Deadline,
        what: &str,
    ) -> Result<(String, zk::Stat)> {
        let mut made_dir = false;
        loop {
            let zk = self.client.ready(deadline).await.map_err(|e| e.context(what))?;
            if attempt.maybe_created {
                if let Some(found) = self.find_ours(&zk, attempt, reply_deadline, what).await? {
                    return Ok(found);
                }
                if attempt.maybe_created {
                    // The look-up itself was cut off: once reconnected, again.
                    continue;
                }
            }
            attempt.maybe_created = true;
            let only_if = attempt.under.as_ref().map(|write| self.node_path(&write.name));
            let create = attempt.in_flight.insert(attempt.protected.create(
                zk.clone(),
                self.dir.clone(),
                self.identifier.as_bytes().to_vec(),
                self.acl.clone(),
                only_if,
            ));
            // A timeout or cancel leaves the create in `in_flight` for the cleanup.
            let reply = reply_deadline.run(what, create).await?;
            attempt.in_flight = None;
            match reply {
                Ok((stat, name)) => {
                    attempt.maybe_created = false;
                    attempt.name = Some(name.clone());
                    return Ok((name, stat));
                }
                Err(e) if is_connection(&e) => {
                    if deadline.is_expired() {
                        return Err(Error::from(e).context(what));
                    }
                }
                Err(zk::Error::RuntimeInconsistent) if attempt.under.is_some() => {
                    // The write side's node went first (nothing created):
                    // an ordinary reader then.
                    attempt.maybe_created = false;
                    attempt.under = None;
                    attempt.protected = Protected::new(self.layout.marker);
                }
                Err(zk::Error::NoNode) if !made_dir => {
                    attempt.maybe_created = false;
                    made_dir = true;
                    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&self.acl));
                    match reply_deadline.run(what, zk.mkdir(&self.dir, &options)).await? {
                        Ok(()) | Err(zk::Error::NodeExists) => {}
                        Err(e) => return Err(Error::from(e).context(format!("{what}: create the lock directory"))),
                    }
                }
                Err(e) => {
                    attempt.maybe_created = false;
                    return Err(Error::from(e).context(format!("{what}: create our node")));
                }
            }
        }
    }

    /// After a create cut off by a connection loss: our node by its uuid.
    /// Clears `maybe_created` when the listing shows there is none.
    async fn find_ours(
        &self,
        zk: &zk::Client,
        attempt: &mut Attempt,
        reply_deadline: Deadline,
        what: &str,
    ) -> Result<Option<(String, zk::Stat)>> {
        let children = match reply_deadline.run(what, zk.list_children(&self.dir)).await? {
            Ok(children) => children,
            Err(e) if is_connection(&e) => return Ok(None),
            Err(zk::Error::NoNode) => Vec::new(),
            Err(e) => return Err(Error::from(e).context(format!("{what}: list the contenders"))),
        };
        let Some(name) = attempt.protected.find(&children).cloned() else {
            attempt.maybe_created = false;
            return Ok(None);
        };
        match reply_deadline.run(what, zk.check_stat(&self.node_path(&name))).await? {
            Ok(Some(stat)) => {
                attempt.maybe_created = false;
                attempt.name = Some(name.clone());
                Ok(Some((name, stat)))
            }
            Ok(None) => {
                attempt.maybe_created = false;
                Ok(None)
            }
            Err(e) if is_connection(&e) => Ok(None),
            Err(e) => Err(Error::from(e).context(format!("{what}: read our node"))),
        }
    }

    /// Records a new acquisition and starts its monitor.
    fn install(self: &Arc<Self>, held: Held) -> i64 {
        let token = held.token;
        let mut s = self.lock_shared();
        s.generation += 1;
        s.held = Some(held.clone());
        s.lost_reason = None;
        s.releasing = false;
        if let Some(old) = s.monitor.take() {
            old.abort();
        }
        let task = monitor::run(Arc::downgrade(self), s.generation, held, self.client.state_receiver());
        s.monitor = Some(runtime::handle().spawn(task).abort_handle());
        self.transition(&mut s, LockState::Held);
        token
    }

    /// Deletes the node an unsuccessful attempt may have left, on a task
    /// of its own holding the handle's operation mutex (so the next
    /// acquire of this handle does not race with it). Awaiting the
    /// returned handle is optional.
    fn clean_up(self: Arc<Self>, mut attempt: Attempt, guard: OwnedMutexGuard<()>) -> tokio::task::JoinHandle<()> {
        runtime::handle().spawn(async move {
            let _guard = guard;
            if let Some(create) = attempt.in_flight.take() {
                match create.await {
                    Ok((_, name)) => attempt.name = Some(name),
                    Err(e) if is_connection(&e) => attempt.maybe_created = true,
                    // Refused, or the session ended: no node of ours.
                    Err(_) => {}
                }
            }
            let target = match attempt.name.take() {
                Some(name) => Target::Name(name),
                None if attempt.maybe_created => Target::Protected(attempt.protected),
                None => return,
            };
            self.delete_node(target).await;
        })
    }
}

/// A node to delete in the background: by name, or the one with our
/// uuid, if any.
pub(super) enum Target {
    Name(String),
    Protected(Protected),
}
