//! Releasing, and the operations that need the lock held: the value and
//! the guarded writes.
//!
//! Release never deletes a node that is not ours. The fast path (an
//! ephemeral node our session created, no reconnect since) is one delete
//! with our known version: the session is ours, so the node can only have
//! been replaced by a third party deleting it, which the monitor reports as
//! LOST (its read and watch, `watch_delay` after acquiring). If the node is
//! simply gone, that third-party delete is reported as `LockLost`. The
//! residual window is a third-party delete plus another client's create at
//! the same version, both before the monitor sees it: before its read (a
//! lock released within `watch_delay`) or while the watch event is on its
//! way. ZooKeeper has no delete conditional on czxid or owner that would
//! close it without a read first. Every other case (persistent locks, a node created by another session
//! with our identifier, any reconnect since acquiring, a version that
//! moved) reads the node first and deletes only if czxid, ephemeral owner
//! and identifier still match, with the version just read.

use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;
use zookeeper_client as zk;

use super::acquire::is_connection;
use super::{Held, Holder, Inner, LockState, TryRelease, data};
use crate::error::{Code, Error, Result};
use crate::node::Stat;
use crate::packet::Write;
use crate::runtime::{self, Deadline, Timeout};

impl Inner {
    pub(super) fn release(self: &Arc<Self>, timeout: Timeout) -> Result<()> {
        self.check_open()?;
        self.release_inner(timeout)
    }

    pub(super) fn release_inner(self: &Arc<Self>, timeout: Timeout) -> Result<()> {
        let what = format!("release {}", self.path);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        let held = {
            let mut s = self.lock_shared();
            match (s.state, s.held) {
                (LockState::Held | LockState::Suspended, Some(held)) => {
                    s.releasing = true;
                    s.suppressed_loss = None;
                    // A delete may be sent now and applied unseen: a later
                    // attempt must read first (the next holder's node has
                    // our version too).
                    if let Some(h) = s.held.as_mut() {
                        h.checked_release = true;
                    }
                    held
                }
                (LockState::Lost, _) => {
                    let why = s.lost_reason.clone().unwrap_or_default();
                    self.finish(&mut s);
                    return Err(Error::new(
                        Code::LockLost,
                        format!("{what}: the lock was already lost ({why}); nothing deleted"),
                    ));
                }
                _ => return Ok(()),
            }
        };
        self.begin_delete(held);
        let result = runtime::block_on(self.delete_ours(held, deadline, reply_deadline));
        let mut s = self.lock_shared();
        s.releasing = false;
        match result {
            Ok(()) => {
                self.end_delete(held);
                self.finish(&mut s);
                Ok(())
            }
            Err(e) if e.code() == Code::LockLost => {
                self.end_delete(held);
                self.finish(&mut s);
                Err(e.context(what))
            }
            Err(e) if matches!(e.code(), Code::SessionExpired | Code::Closed | Code::AuthFailed) => {
                // The session is over: nothing can be deleted through it
                // (an ephemeral node went with it).
                self.end_delete(held);
                if matches!(s.state, LockState::Held | LockState::Suspended) {
                    s.lost_reason = Some(e.message().to_string());
                    self.transition(&mut s, LockState::Lost);
                }
                Err(e.context(what))
            }
            Err(e) => {
                // Not confirmed in time (no connection, no reply; a delete
                // may have been applied unseen). The handle gave the lock
                // up: it is UNLOCKED now, and the release goes on in the
                // background, so the node cannot block the others once
                // the server is back.
                self.finish(&mut s);
                s.background_release = true;
                drop(s);
                self.clone().release_in_background(held);
                Err(e.context(format!("{what}; the release goes on in the background")))
            }
        }
    }

    /// Before deleting the node of acquisition `held`: revokes the other
    /// handles of this client that hold the same node, so none of them
    /// acts as holder once it can be gone, and keeps any of them from
    /// adopting it until [`Inner::end_delete`].
    fn begin_delete(self: &Arc<Self>, held: Held) {
        for other in self.client.lock_claims().start_release(&self.path, held.token, self) {
            other.revoke(held.token);
        }
    }

    fn end_delete(&self, held: Held) {
        self.client.lock_claims().end_delete(&self.path, held.token);
    }

    /// Finishes a release that could not complete in time: once
    /// reconnected, deletes the node of `held` if it is still ours (read
    /// first: an earlier delete may have been applied and the next
    /// holder's node has our version too). Ends with the session. Holds
    /// the operation mutex meanwhile; closes the client when the handle
    /// was closed and made it.
    fn release_in_background(self: Arc<Self>, held: Held) {
        let held = Held { checked_release: true, ..held };
        runtime::handle().spawn(async move {
            let _guard = self.ops.clone().lock_owned().await;
            let outcome = self.delete_ours(held, Deadline::never(), Deadline::never()).await;
            crate::log::cleanup(&self.path, "background release", &outcome);
            self.end_delete(held);
            self.lock_shared().background_release = false;
            if self.owns_client && self.is_closed() {
                self.client.close();
            }
        });
    }

    /// Ends the current acquisition: UNLOCKED, monitor stopped.
    fn finish(&self, s: &mut super::Shared) {
        if let Some(monitor) = s.monitor.take() {
            monitor.abort();
        }
        s.held = None;
        s.lost_reason = None;
        s.suppressed_loss = None;
        self.transition(s, LockState::Unlocked);
    }

    /// Deletes our node. `Ok` when it is gone, `LockLost` when the node
    /// now belongs to someone else.
    async fn delete_ours(&self, held: Held, deadline: Deadline, reply_deadline: Deadline) -> Result<()> {
        let path = &*self.path;
        let mut fast = !held.checked_release && held.owner == self.client.session_id();
        loop {
            let zk = self.client.ready(deadline).await?;
            if fast {
                fast = false;
                match self.client.request("delete", reply_deadline, zk.delete(path, Some(held.version))).await? {
                    Ok(()) => return Ok(()),
                    // Nothing of ours deleted it (this is our first delete).
                    Err(zk::Error::NoNode) => {
                        return Err(Error::new(
                            Code::LockLost,
                            "the lock node was deleted by someone else while held; nothing deleted",
                        ));
                    }
                    Err(zk::Error::BadVersion) => continue,
                    Err(e) if is_connection(&e) => continue,
                    Err(e) => return Err(Error::from(e)),
                }
            }
            let (data, stat) = match self.client.request("get", reply_deadline, zk.get_data(path)).await? {
                Ok(r) => r,
                Err(zk::Error::NoNode) => return Ok(()),
                Err(e) if is_connection(&e) => continue,
                Err(e) => return Err(Error::from(e)),
            };
            if !self.still_ours(&held, &data, &stat) {
                return Err(Error::new(
                    Code::LockLost,
                    format!(
                        "the lock node is no longer ours (held by {:?}); left in place",
                        data::holder_id(&data).unwrap_or_default()
                    ),
                ));
            }
            match self.client.request("delete", reply_deadline, zk.delete(path, Some(stat.version))).await? {
                Ok(()) | Err(zk::Error::NoNode) => return Ok(()),
                Err(zk::Error::BadVersion) => continue,
                Err(e) if is_connection(&e) => continue,
                Err(e) => return Err(Error::from(e)),
            }
        }
    }

    pub(super) fn try_release(self: &Arc<Self>, timeout: Timeout) -> Result<TryRelease> {
        self.check_open()?;
        let what = format!("try_release {}", self.path);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        self.lock_shared().releasing = true;
        let result = runtime::block_on(async {
            loop {
                let zk = self.client.ready(deadline).await?;
                let (holder, stat) = match self.client.request(&what, reply_deadline, zk.get_data(&self.path)).await? {
                    Ok(r) => r,
                    Err(zk::Error::NoNode) => {
                        return Ok(TryRelease { released: true, holder: self.node_data(), version: -1 });
                    }
                    Err(e) if is_connection(&e) => continue,
                    Err(e) => return Err(Error::from(e)),
                };
                if !self.holds(&holder) {
                    return Ok(TryRelease { released: false, holder, version: stat.version });
                }
                // Handles of this client holding this node stop first.
                let claims = self.client.lock_claims();
                for other in claims.start_release(&self.path, stat.czxid, self) {
                    other.revoke(stat.czxid);
                }
                let deleted =
                    self.client.request(&what, reply_deadline, zk.delete(&self.path, Some(stat.version))).await;
                claims.end_delete(&self.path, stat.czxid);
                match deleted? {
                    Ok(()) | Err(zk::Error::NoNode) => {
                        return Ok(TryRelease { released: true, holder, version: stat.version });
                    }
                    Err(zk::Error::BadVersion) => continue,
                    Err(e) if is_connection(&e) => continue,
                    Err(e) => return Err(Error::from(e)),
                }
            }
        });
        let mut s = self.lock_shared();
        s.releasing = false;
        match &result {
            Ok(r) if r.released => self.finish(&mut s),
            _ => {
                if let (LockState::Held | LockState::Suspended, Some(held)) = (s.state, s.held) {
                    // Still ours: claim it again if the attempt above dropped it.
                    self.client.lock_claims().claim(&self.path, held.token, self);
                }
                if let Some(why) = s.suppressed_loss.take() {
                    if matches!(s.state, LockState::Held | LockState::Suspended) {
                        s.lost_reason = Some(why);
                        self.transition(&mut s, LockState::Lost);
                    }
                }
            }
        }
        result.map_err(|e| e.context(what))
    }

    pub(super) fn set_val(
        self: &Arc<Self>,
        val_json: &str,
        expected_version: Option<i32>,
        timeout: Timeout,
    ) -> Result<i32> {
        self.check_open()?;
        let val = data::val_text(val_json)?;
        let what = format!("set_val {}", self.path);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        let held = self.held_now(deadline, &what)?;
        let version = expected_version.unwrap_or(held.version);
        let node = data::encode(&self.identifier, &val);
        self.client.check_request(&Write::SetData { path: &self.path, data: &node })?;
        let stat = runtime::block_on(async {
            let zk = self.client.ready(deadline).await?;
            self.client
                .request(&what, reply_deadline, zk.set_data(&self.path, &node, Some(version)))
                .await?
                .map_err(Error::from)
        })
        .map_err(|e| match e.code() {
            Code::NoNode => Error::new(Code::LockLost, format!("{what}: the lock node is gone")),
            _ => e.context(&what),
        })?;
        let mut s = self.lock_shared();
        s.val = val;
        if let Some(h) = s.held.as_mut() {
            if stat.mzxid >= h.mzxid {
                h.version = stat.version;
                h.mzxid = stat.mzxid;
            }
        }
        Ok(stat.version)
    }

    pub(super) fn get_val(self: &Arc<Self>, timeout: Timeout) -> Result<(String, i32)> {
        let holder = self.holder(timeout)?.ok_or_else(|| {
            Error::new(Code::NoNode, format!("get_val {}: the lock is not held by anyone", self.path))
        })?;
        let val = data::stored_val(&holder.data).map_err(|e| e.context(format!("get_val {}", self.path)))?;
        Ok((val, holder.stat.version))
    }

    pub(super) fn holder(self: &Arc<Self>, timeout: Timeout) -> Result<Option<Holder>> {
        self.check_open()?;
        match self.client.get(&self.path, timeout) {
            Ok((data, stat)) => Ok(Some(Holder { data, stat })),
            Err(e) if e.code() == Code::NoNode => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A set (`data` given) or delete of `path` in one multi with a version
    /// check on the lock node.
    pub(super) fn guarded_write(
        self: &Arc<Self>,
        path: &str,
        data: Option<&[u8]>,
        version: Option<i32>,
        timeout: Timeout,
    ) -> Result<Option<Stat>> {
        self.check_open()?;
        crate::path::validate(path)?;
        if let Some(data) = data {
            crate::path::check_data_len(data)?;
        }
        if path == &*self.path {
            return Err(Error::invalid_argument("a guarded write cannot target the lock node itself"));
        }
        let write = data.map_or(Write::Delete { path }, |data| Write::SetData { path, data });
        self.client.check_multi(&[Write::CheckVersion { path: &self.path }, write])?;
        let what = format!("guarded {} {path}", if data.is_some() { "set" } else { "delete" });
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        let held = self.held_now(deadline, &what)?;
        let lock_path = &*self.path;
        let result = runtime::block_on(async {
            let zk = self.client.ready(deadline).await?;
            // The multi checks only the lock node's version, and a node
            // deleted and created again by another client has version 0
            // too. Once the node is watched, such a delete is reported
            // (LOST); before that (within `watch_delay` of acquiring) the
            // node is read first and must still be this acquisition's.
            let mut expected = held.version;
            if !held.watched {
                let (node, stat) =
                    self.client.request(&what, reply_deadline, zk.get_data(lock_path)).await?.map_err(|e| match e {
                        zk::Error::NoNode => Error::new(Code::LockLost, "the lock node is gone"),
                        e => Error::from(e),
                    })?;
                if !self.still_ours(&held, &node, &stat) {
                    return Err(Error::new(
                        Code::LockLost,
                        format!(
                            "the lock node {lock_path} was replaced (czxid {} instead of {})",
                            stat.czxid, held.token
                        ),
                    ));
                }
                expected = stat.version;
            }
            let mut writer = zk.new_check_writer(lock_path, Some(expected)).map_err(Error::from)?;
            match data {
                Some(data) => writer.add_set_data(path, data, version),
                None => writer.add_delete(path, version),
            }
            .map_err(Error::from)?;
            match reply_deadline.run(&what, writer.commit()).await? {
                Ok(mut results) => Ok(match results.pop() {
                    Some(zk::MultiWriteResult::SetData { stat }) => Some(Stat::from(&stat)),
                    _ => None,
                }),
                Err(zk::CheckWriteError::CheckFailed { source }) => Err(Error::new(
                    Code::LockLost,
                    format!(
                        "the lock node {lock_path} is gone or changed (expected version {}): {source}",
                        held.version
                    ),
                )),
                Err(zk::CheckWriteError::OperationFailed { source, .. }) => Err(Error::from(source)),
                Err(zk::CheckWriteError::RequestFailed { source }) => Err(Error::from(source)),
            }
        });
        result.map_err(|e| e.context(&what))
    }

    fn lock_ops(&self, deadline: Deadline, what: &str) -> Result<OwnedMutexGuard<()>> {
        if let Ok(guard) = self.ops.clone().try_lock_owned() {
            return Ok(guard);
        }
        runtime::block_on(deadline.run(what, self.ops.clone().lock_owned()))
            .map_err(|e| e.context("another operation on this lock handle"))
    }

    /// The current acquisition, waiting while SUSPENDED. `NotLocked` when
    /// unlocked, `LockLost` after a loss.
    fn held_now(&self, deadline: Deadline, what: &str) -> Result<Held> {
        let mut states = self.feed.subscribe();
        let settled = runtime::block_on(deadline.run(what, async {
            let _ = states.wait_for(|s| *s != LockState::Suspended).await;
        }));
        match settled {
            Err(e) if e.code() == Code::OperationTimeout => {
                return Err(Error::new(
                    Code::ConnectionLoss,
                    format!("{what}: the lock is suspended (connection lost)"),
                ));
            }
            // Cancelled, or the client closed.
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        let s = self.lock_shared();
        match (s.state, s.held) {
            (LockState::Held, Some(h)) => Ok(h),
            (LockState::Lost, _) => Err(Error::new(
                Code::LockLost,
                format!("{what}: the lock was lost ({})", s.lost_reason.clone().unwrap_or_default()),
            )),
            _ => Err(Error::new(Code::NotLocked, format!("{what}: the lock is not held by this handle"))),
        }
    }
}
