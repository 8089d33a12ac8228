//! Releasing (delete our node; never another's: sequential names are not
//! reused), guarded writes, and the task that deletes a node of ours the
//! caller could not wait for.

use std::sync::Arc;

use zookeeper_client as zk;

use super::acquire::Target;
use super::{Held, Inner};
use crate::error::{Code, Error, Result};
use crate::lock::LockState;
use crate::node::Stat;
use crate::packet::Write;
use crate::runtime::{self, Deadline, Timeout};
use crate::sequential::is_connection;

impl Inner {
    pub(super) fn release(self: &Arc<Self>, timeout: Timeout) -> Result<()> {
        let what = format!("release {}", self.dir);
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        let held = {
            let mut s = self.lock_shared();
            match (s.state, s.held.clone()) {
                (LockState::Held | LockState::Suspended, Some(held)) => {
                    s.releasing = true;
                    if let Some(monitor) = s.monitor.take() {
                        monitor.abort();
                    }
                    held
                }
                (LockState::Lost, held) => {
                    let why = s.lost_reason.clone().unwrap_or_default();
                    self.transition(&mut s, LockState::Unlocked);
                    drop(s);
                    // Lost by a long disconnection, the session may be
                    // alive after all: our node must not block the others.
                    if let Some(held) = held {
                        self.spawn_delete(Target::Name(held.name));
                    }
                    return Err(Error::new(Code::LockLost, format!("{what}: the lock was lost ({why})")));
                }
                _ => return Ok(()),
            }
        };
        let path = self.node_path(&held.name);
        let deleted = runtime::block_on(async {
            let zk = self.client.ready(deadline).await?;
            reply_deadline.run(&what, zk.delete(&path, None)).await?.map_err(Error::from)
        });
        let mut s = self.lock_shared();
        s.releasing = false;
        self.transition(&mut s, LockState::Unlocked);
        drop(s);
        match deleted {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Code::NoNode => {
                Err(Error::new(Code::LockLost, format!("{what}: our node {} was already deleted", held.name)))
            }
            Err(e) if matches!(e.code(), Code::SessionExpired | Code::Closed) => Err(e.context(&what)),
            Err(e) => {
                self.spawn_delete(Target::Name(held.name));
                Err(e.context(format!("{what}; the release goes on in the background")))
            }
        }
    }

    /// A set (`data` given) or delete of `path` in one multi with a check
    /// that our node still exists.
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
        let what = format!("guarded {} {path}", if data.is_some() { "set" } else { "delete" });
        let deadline = timeout.deadline();
        let reply_deadline = self.client.reply_deadline(timeout, deadline);
        let _guard = self.lock_ops(deadline, &what)?;
        let held = self.held_now(deadline, &what)?;
        let ours = self.node_path(&held.name);
        if path == ours {
            return Err(Error::invalid_argument("a guarded write cannot target our own lock node"));
        }
        let write = data.map_or(Write::Delete { path }, |data| Write::SetData { path, data });
        self.client.check_multi(&[Write::CheckVersion { path: &ours }, write])?;
        let result = runtime::block_on(async {
            let zk = self.client.ready(deadline).await?;
            let mut writer = zk.new_check_writer(&ours, None).map_err(Error::from)?;
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
                Err(zk::CheckWriteError::CheckFailed { source }) => {
                    Err(Error::new(Code::LockLost, format!("our lock node {ours} is gone: {source}")))
                }
                Err(zk::CheckWriteError::OperationFailed { source, .. }) => Err(Error::from(source)),
                Err(zk::CheckWriteError::RequestFailed { source }) => Err(Error::from(source)),
            }
        });
        result.map_err(|e| e.context(&what))
    }

    /// The current acquisition, waiting while `Suspended`. `NotLocked`
    /// when unlocked, `LockLost` after a loss.
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
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        let s = self.lock_shared();
        match (s.state, s.held.clone()) {
            (LockState::Held, Some(h)) => Ok(h),
            (LockState::Lost, _) => Err(Error::new(
                Code::LockLost,
                format!("{what}: the lock was lost ({})", s.lost_reason.clone().unwrap_or_default()),
            )),
            _ => Err(Error::new(Code::NotLocked, format!("{what}: the lock is not held by this handle"))),
        }
    }

    pub(super) fn spawn_delete(self: &Arc<Self>, target: Target) {
        let inner = self.clone();
        runtime::handle().spawn(async move { inner.delete_node(target).await });
    }

    /// Deletes a node of ours, waiting for connections as long as the
    /// session lives (when it ends, the server deletes it anyway).
    pub(super) async fn delete_node(&self, target: Target) {
        let mut session = self.client.state_receiver();
        loop {
            let state = *session.borrow_and_update();
            if state.is_terminal() {
                return;
            }
            if state.is_connected() {
                match self.delete_once(&target).await {
                    Ok(()) => return,
                    Err(e) if is_connection(&e) => {}
                    Err(_) => return,
                }
            }
            if session.changed().await.is_err() {
                return;
            }
        }
    }

    async fn delete_once(&self, target: &Target) -> std::result::Result<(), zk::Error> {
        let zk = self.client.zk().map_err(|_| zk::Error::ClientClosed)?;
        let name = match target {
            Target::Name(name) => name.clone(),
            Target::Protected(protected) => match zk.list_children(&self.dir).await {
                Ok(children) => match protected.find(&children) {
                    Some(name) => name.clone(),
                    None => return Ok(()),
                },
                Err(zk::Error::NoNode) => return Ok(()),
                Err(e) => return Err(e),
            },
        };
        match zk.delete(&self.node_path(&name), None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
