//! The FIFO mutex: Apache Curator InterProcessMutex's layout, so Curator
//! processes, kazoo `Lock`s (with `extra_lock_patterns=["-lock-"]`, so
//! kazoo sees Curator's and our nodes) and this library exclude each other
//! on one lock path. We also see kazoo's own `<uuid>__lock__<seq>` nodes;
//! Curator sorts those wrongly, so where Curator takes part kazoo must name
//! its nodes `-lock-` too (`Lock._NODE_NAME`).
//!
//! Each acquisition creates an ephemeral sequential child
//! `_c_<uuid>-lock-<sequence>` of the lock path (`lock_dir + name`); the
//! first in sequence order holds the lock, each other waiter watches only
//! the one right before it, so a release wakes one waiter and the lock is
//! granted in arrival order. The fencing token is the czxid of our own
//! node: nodes are created, and so held, in sequence order.
//!
//! States, callback and descriptor are the k3zkutil lock's
//! ([`crate::lock::LockState`], published through the same `StateFeed`).
//! Files: `acquire` (protected create, waiting behind the predecessor,
//! cleanup of a node left by a timeout or cancel), `monitor` (follows a
//! held node and the session), `release` (release, guarded writes, the
//! node cleanup task).

mod acquire;
mod monitor;
mod release;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use zookeeper_client as zk;

use crate::cancel::Cancel;
use crate::client::Client;
use crate::config::Key;
use crate::error::{Code, Error, Result};
use crate::lock::feed::StateFeed;
use crate::lock::{LockState, LockStateCallback};
use crate::node::Stat;
use crate::runtime::{self, Timeout};
use crate::sequential::{self, Contender, Layout};

/// How a FIFO mutex handle is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoOptions {
    /// The data of our node, shown to other contenders (`None`:
    /// `lockid::lock_id(config.node_id())`, unique per handle). Curator
    /// writes the host's address there, kazoo its identifier.
    pub identifier: Option<String>,
    /// The timeout used when a call asks for the default (and by `close`).
    pub timeout: Timeout,
}

impl Default for FifoOptions {
    fn default() -> FifoOptions {
        FifoOptions { identifier: None, timeout: Timeout::After(std::time::Duration::from_secs(10)) }
    }
}

/// A FIFO mutex handle. Thread-safe; operations that talk to the server
/// run one at a time per handle, while `state`, `token` and the
/// notifications never wait for them.
pub struct FifoLock {
    inner: Arc<Inner>,
}

/// Our node while we hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// The node's name in the lock directory.
    name: String,
    /// Its czxid.
    czxid: i64,
    /// The fencing token: `czxid`, or for a read side taken under its
    /// write side the write side's token.
    token: i64,
    /// Its ephemeral owner (our session).
    owner: i64,
    /// For a read side taken under its write side: that write node, which
    /// it sorts right behind and never waits for (even while a release of
    /// the write side is still deleting it).
    behind: Option<String>,
}

struct Shared {
    state: LockState,
    held: Option<Held>,
    /// Incremented on every acquisition; a monitor only speaks for its own.
    generation: u64,
    monitor: Option<tokio::task::AbortHandle>,
    /// A release is deleting the node: the deletion is not a loss.
    releasing: bool,
    lost_reason: Option<String>,
}

struct Inner {
    client: Client,
    /// The lock path: the directory of the contenders' nodes.
    dir: Arc<str>,
    identifier: String,
    layout: Layout,
    /// A read side's own write side (`read_lock_of`).
    write_side: Option<Weak<Inner>>,
    default_timeout: Timeout,
    acl: Arc<Vec<zk::Acl>>,
    shared: Mutex<Shared>,
    /// Serialises the operations that talk to the server, and a cleanup
    /// after an interrupted acquire with the next one.
    ops: Arc<tokio::sync::Mutex<()>>,
    feed: StateFeed,
    closed: AtomicBool,
    /// The flag of the acquires running now: `cancel` fires it and puts a
    /// fresh one in its place, so later acquires are not affected.
    cancel: Mutex<Cancel>,
}

impl FifoLock {
    /// A handle on the FIFO mutex `name` (at `lock_dir + name`). Nothing
    /// is sent until `acquire`.
    ///
    /// Errors: `InvalidPath` (empty or bad name), `InvalidArgument` (empty
    /// identifier), `InvalidAcl` (the configured ACL).
    pub fn new(client: &Client, name: &str, options: FifoOptions) -> Result<FifoLock> {
        FifoLock::with_layout(client, name, options, sequential::MUTEX)
    }

    /// A leader-election participant on `name` (at `lock_dir + name`), in
    /// Apache Curator LeaderLatch's layout (`_c_<uuid>-latch-<seq>`
    /// nodes, the participant's id as data), so Java LeaderLatch
    /// participants on that path take part in the same election. The
    /// same handle as the mutex: `acquire` waits to become leader (HELD
    /// is leader, with a fencing token), `release` resigns, `holder` is
    /// the current leader and `contenders` the participants in line;
    /// SUSPENDED and LOST tell a leader it may have lost, or has lost,
    /// leadership.
    pub fn leader_latch(client: &Client, name: &str, options: FifoOptions) -> Result<FifoLock> {
        FifoLock::with_layout(client, name, options, sequential::LATCH)
    }

    /// The read side of the read-write lock `name` (at `lock_dir + name`),
    /// in Apache Curator InterProcessReadWriteLock's layout
    /// (`_c_<uuid>-__READ__<seq>`), so Curator processes share it: held
    /// together with other readers unless a writer is ahead in line
    /// (readers arriving after a waiting writer wait for it: writers are
    /// not starved). The same handle as the mutex otherwise.
    pub fn read_lock(client: &Client, name: &str, options: FifoOptions) -> Result<FifoLock> {
        FifoLock::with_layout(client, name, options, sequential::READ)
    }

    /// The write side of the read-write lock `name`
    /// (`_c_<uuid>-__WRIT__<seq>`): held alone, once every reader and
    /// writer ahead in line has let go.
    pub fn write_lock(client: &Client, name: &str, options: FifoOptions) -> Result<FifoLock> {
        FifoLock::with_layout(client, name, options, sequential::WRITE)
    }

    /// The read side of the read-write lock whose write side is `write`
    /// (same client and path), with Curator's rule that the owner of the
    /// write lock may take the read lock: an acquire that begins while
    /// `write` is HELD is granted at once, its node sorting right behind
    /// the write node and so ahead of the writers waiting behind it.
    /// Releasing (or losing) the write side then leaves an ordinary
    /// reader ahead of those writers: a downgrade. Begun while `write` is
    /// not held, it is an ordinary reader (which waits for `write`'s node
    /// if that is waiting in line). Its token is the write side's token.
    /// `options.identifier` `None`: the write side's identifier.
    ///
    /// Errors: `InvalidArgument` (`write` is not a write side), `Closed`
    /// (`write` is closed), as `read_lock` otherwise.
    pub fn read_lock_of(write: &FifoLock, options: FifoOptions) -> Result<FifoLock> {
        let w = &write.inner;
        if w.layout != sequential::WRITE {
            return Err(Error::invalid_argument(format!("{} is not the write side of a read-write lock", w.dir)));
        }
        w.check_open()?;
        let identifier = options.identifier.or_else(|| Some(w.identifier.clone()));
        let mut lock =
            FifoLock::with_path(&w.client, w.dir.clone(), FifoOptions { identifier, ..options }, sequential::READ)?;
        Arc::get_mut(&mut lock.inner).expect("not shared yet").write_side = Some(Arc::downgrade(w));
        Ok(lock)
    }

    /// A handle whose nodes are named as `layout` says.
    fn with_layout(client: &Client, name: &str, options: FifoOptions, layout: Layout) -> Result<FifoLock> {
        let config = client.config();
        if name.is_empty() {
            return Err(Error::new(Code::InvalidPath, "lock name is empty"));
        }
        let dir = config.lock(Key::Text(name));
        crate::path::validate(&dir).map_err(|e| e.context(format!("lock {name:?}")))?;
        FifoLock::with_path(client, dir.into(), options, layout)
    }

    /// A handle on the lock directory `dir` (validated).
    fn with_path(client: &Client, dir: Arc<str>, options: FifoOptions, layout: Layout) -> Result<FifoLock> {
        let config = client.config();
        if options.identifier.as_deref() == Some("") {
            return Err(Error::invalid_argument("lock identifier is empty"));
        }
        let acl = config.default_acl()?;
        for a in &acl {
            a.validate()?;
        }
        let identifier = options.identifier.unwrap_or_else(|| crate::lockid::lock_id(&config.node_id()));
        let shared = Shared {
            state: LockState::Unlocked,
            held: None,
            generation: 0,
            monitor: None,
            releasing: false,
            lost_reason: None,
        };
        let inner = Inner {
            client: client.clone(),
            dir,
            identifier,
            layout,
            write_side: None,
            default_timeout: options.timeout,
            acl: Arc::new(acl.iter().map(|a| a.to_zk()).collect()),
            shared: Mutex::new(shared),
            ops: Arc::new(tokio::sync::Mutex::new(())),
            feed: StateFeed::new(client),
            closed: AtomicBool::new(false),
            cancel: Mutex::new(Cancel::waking()),
        };
        Ok(FifoLock { inner: Arc::new(inner) })
    }

    /// The lock path (the directory of the contenders' nodes).
    pub fn path(&self) -> &str {
        &self.inner.dir
    }

    /// This handle's identifier (its node's data).
    pub fn identifier(&self) -> &str {
        &self.inner.identifier
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The timeout used when a call asks for the default.
    pub fn default_timeout(&self) -> Timeout {
        self.inner.default_timeout
    }

    pub fn state(&self) -> LockState {
        self.inner.current_state()
    }

    /// Why the lock was lost (while the state is `Lost`).
    pub fn lost_reason(&self) -> Option<String> {
        let s = self.inner.lock_shared();
        if s.state == LockState::Lost { s.lost_reason.clone() } else { None }
    }

    /// True only while `Held` (not while `Suspended`).
    pub fn is_locked(&self) -> bool {
        self.state() == LockState::Held
    }

    /// The fencing token (our node's czxid) of the current or last lost
    /// acquisition; `None` when `Unlocked`.
    pub fn token(&self) -> Option<i64> {
        let s = self.inner.lock_shared();
        if s.state == LockState::Unlocked { None } else { s.held.as_ref().map(|h| h.token) }
    }

    /// Our node's name in the lock directory while held or suspended.
    pub fn node_name(&self) -> Option<String> {
        let s = self.inner.lock_shared();
        if s.state == LockState::Unlocked { None } else { s.held.as_ref().map(|h| h.name.clone()) }
    }

    /// Joins the queue and waits up to `timeout` for our turn (`NoWait`:
    /// only when nobody is ahead). Returns the fencing token. Already
    /// held: the current token at once. On a timeout, cancel or error our
    /// node is deleted (in the background when the server cannot be
    /// reached now; the handle's next operation waits for that).
    ///
    /// Errors: `OperationTimeout` (others ahead when the time ran out),
    /// `Cancelled`/`Closed` (the call's cancel scope), `ConnectionLoss`,
    /// `SessionExpired`, `LockLost` (our waiting node was deleted by
    /// someone else), `NoAuth`, ...
    pub fn acquire(&self, timeout: Timeout) -> Result<i64> {
        let what = format!("acquire {}", self.inner.dir);
        self.inner.acquire(timeout, true)?.ok_or_else(|| Error::timeout(format!("{what}: timed out")))
    }

    /// One attempt, never waiting for the holder: the token, or `None`
    /// when another contender is ahead (our node is then deleted before
    /// this returns, if the server answers in time).
    pub fn try_acquire(&self, timeout: Timeout) -> Result<Option<i64>> {
        self.inner.acquire(timeout, false)
    }

    /// Makes acquires running on this handle (in any thread, blocking or
    /// one attempt) return `Cancelled` promptly, leaving no node behind
    /// (as for a cancel of their own). Acquires started after this call
    /// are not affected.
    pub fn cancel(&self) {
        let fired = std::mem::replace(&mut *self.inner.running_acquires(), Cancel::waking());
        fired.cancel();
    }

    /// Releases the lock: deletes our node. Not held: Ok, nothing sent.
    /// After `Lost`: `LockLost`, and the state becomes `Unlocked`. When
    /// the delete cannot be confirmed in time the error says so and the
    /// delete goes on in the background; the state is `Unlocked` anyway.
    pub fn release(&self, timeout: Timeout) -> Result<()> {
        self.inner.release(timeout)
    }

    /// The contenders in order, each with its node data and stat: the
    /// first holds the lock (Curator's getParticipantNodes, kazoo's
    /// contenders()). Includes Curator's (`lock-`) and kazoo's (`__lock__`)
    /// nodes.
    pub fn contenders(&self, timeout: Timeout) -> Result<Vec<Contender>> {
        self.inner.check_open()?;
        let dir = self.inner.dir.clone();
        let markers = self.inner.layout.markers;
        let what = format!("contenders of {dir}");
        self.inner.client.call(timeout, &what, true, |zk| {
            let dir = dir.clone();
            async move { sequential::read_contenders(&zk, &dir, markers).await }
        })
    }

    /// The holder (the first contender), `None` when the lock is free.
    pub fn holder(&self, timeout: Timeout) -> Result<Option<Contender>> {
        Ok(self.contenders(timeout)?.into_iter().next())
    }

    /// Sets another node's data only if we still hold the lock: one multi
    /// operation with a check that our node exists (its name is never
    /// reused). `LockLost` when it does not, `NotLocked` when not held.
    pub fn guarded_set(&self, path: &str, data: &[u8], version: Option<i32>, timeout: Timeout) -> Result<Stat> {
        self.inner.guarded_write(path, Some(data), version, timeout).map(|s| s.unwrap_or_default())
    }

    /// Deletes another node only if we still hold the lock (as
    /// [`FifoLock::guarded_set`]).
    pub fn guarded_delete(&self, path: &str, version: Option<i32>, timeout: Timeout) -> Result<()> {
        self.inner.guarded_write(path, None, version, timeout).map(|_| ())
    }

    /// Replaces the state-change callback, as [`crate::Lock::set_state_callback`].
    pub fn set_state_callback(&self, callback: Option<LockStateCallback>) -> Result<()> {
        self.inner.feed.set_callback(callback)
    }

    /// A descriptor that becomes readable on every state change (and once
    /// right after it is first created), as [`crate::Lock::pollable_fd`].
    pub fn pollable_fd(&self) -> Result<RawFd> {
        self.inner.feed.fd()
    }

    /// Where the state changes go (callback, descriptor).
    pub(crate) fn feed(&self) -> &StateFeed {
        &self.inner.feed
    }

    /// Empties the descriptor of [`FifoLock::pollable_fd`] and returns the
    /// current state.
    pub fn drain_notifications(&self) -> LockState {
        self.inner.feed.drain();
        self.state()
    }

    /// Releases the lock if held (bounded by the default timeout, at most
    /// the session timeout; the delete goes on in the background after
    /// that), stops the monitor and the callback. Later operations fail
    /// with `Closed`.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let session = self.inner.client.session_timeout();
        let timeout = match self.inner.default_timeout {
            Timeout::After(d) => Timeout::After(d.min(session)),
            Timeout::Forever => Timeout::After(session),
            Timeout::NoWait => Timeout::NoWait,
        };
        let _ = self.inner.release(timeout);
        if let Some(monitor) = self.inner.lock_shared().monitor.take() {
            monitor.abort();
        }
        self.inner.feed.close();
    }
}

impl Drop for FifoLock {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    /// The flag of the acquires running now (see `FifoLock::cancel`). Only
    /// ever read or swapped whole, so a panic cannot leave it half done.
    fn running_acquires(&self) -> MutexGuard<'_, Cancel> {
        self.cancel.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the handle's state; a panic while it was held reports a
    /// held lock as `Lost` (as the k3zkutil lock does).
    fn lock_shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| {
            self.shared.clear_poison();
            let mut s = poisoned.into_inner();
            if matches!(s.state, LockState::Held | LockState::Suspended) {
                s.lost_reason = Some("internal error: a panic interrupted an update of the lock's state".to_string());
                self.transition(&mut s, LockState::Lost);
            }
            s
        })
    }

    /// Publishes a state change to the waiters, the callback and the
    /// descriptor. Called with `shared` locked, so changes go out in order.
    fn transition(&self, s: &mut Shared, new: LockState) {
        if s.state == new {
            return;
        }
        s.state = new;
        self.feed.publish(new);
    }

    /// The state, `Lost` at once when the client's session has ended.
    fn current_state(&self) -> LockState {
        let mut s = self.lock_shared();
        let session = self.client.state();
        if session.is_terminal() && !s.releasing && matches!(s.state, LockState::Held | LockState::Suspended) {
            s.lost_reason = Some(crate::lock::monitor::terminal_reason(session));
            self.transition(&mut s, LockState::Lost);
        }
        s.state
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::closed("lock handle is closed"));
        }
        Ok(())
    }

    fn node_path(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// The write side's acquisition while it is HELD (read_lock_of).
    fn write_side_held(&self) -> Option<Held> {
        let write = self.write_side.as_ref()?.upgrade()?;
        let s = write.lock_shared();
        if s.state == LockState::Held { s.held.clone() } else { None }
    }

    /// The node of our own write side that a read node may have ahead of
    /// it and never waits for: the write node it was created `behind`
    /// (later write nodes of ours all sort behind it), else the write
    /// side's current one.
    fn own_writer(&self, behind: Option<&String>) -> Option<String> {
        if let Some(behind) = behind {
            return Some(behind.clone());
        }
        let write = self.write_side.as_ref()?.upgrade()?;
        let s = write.lock_shared();
        if s.state == LockState::Unlocked { None } else { s.held.as_ref().map(|h| h.name.clone()) }
    }

    /// Takes the handle's operation mutex within `deadline`.
    fn lock_ops(&self, deadline: runtime::Deadline, what: &str) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        if let Ok(guard) = self.ops.clone().try_lock_owned() {
            return Ok(guard);
        }
        runtime::block_on(deadline.run(what, self.ops.clone().lock_owned()))
            .map_err(|e| e.context("another operation on this lock handle"))
    }
}
