//! The distributed lock: k3zkutil's ZKLock (same node, same data, same
//! identifier rules, so a Python k3zkutil process and this library exclude
//! each other), with fencing tokens, honest lock states, cancellation and
//! safe release.
//!
//! One node per lock at `lock_dir + name` holding `{"id": ..., "val": ...}`.
//! Two handles with the same identifier both count as holder (resuming a
//! lock after a restart). Every waiter watches that one node, so a release
//! wakes them all and they race to create it (the herd effect, inherent in
//! the k3zkutil layout).
//!
//! Files: `acquire` (the create, reading a taken node, waiting,
//! cancellation and cleanup), `monitor` (the task that follows a held
//! lock's node and session, arming its watch after `watch_delay`),
//! `release` (release, try_release, the value, guarded writes), `data`
//! (the node's JSON), `feed` (the state feed: waiters, callback and
//! pollable descriptor, shared with the sequential locks).

mod acquire;
mod claims;
mod data;
pub(crate) mod feed;
pub(crate) mod monitor;
mod release;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client as zk;

use crate::client::Client;
use crate::config::{Config, Key};
use crate::error::{Code, Error, Result};
use crate::node::Stat;
use crate::runtime::Timeout;

pub(crate) use claims::Claims;

/// Where a lock handle stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockState {
    /// Not held by this handle (never acquired, released, or a loss
    /// acknowledged by `release`).
    Unlocked,
    /// Held, and the last contact with the server confirmed it.
    Held,
    /// The connection is lost (or ownership is being re-verified); the
    /// session may still be alive. Protected work must pause. Becomes
    /// `Held` again once, after reconnecting, the node is verified to be
    /// ours (same creation zxid, same ephemeral owner, our identifier);
    /// `Lost` otherwise.
    Suspended,
    /// Lost for good: session expired or closed, the node deleted, changed
    /// to another holder, or (ephemeral locks) disconnected for longer than
    /// the session timeout. `release` acknowledges it with `LockLost`.
    Lost,
}

/// How a lock handle is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// The holder identifier (`None`: `lockid::lock_id(config.node_id())`,
    /// unique per handle). Handles with the same identifier share the lock.
    pub identifier: Option<String>,
    /// Ephemeral node (the default) or a persistent one that survives the
    /// session.
    pub ephemeral: bool,
    /// The timeout used when a call asks for the default.
    pub timeout: Timeout,
    /// How long after acquiring the lock node is read again and watched,
    /// so that a third party deleting or changing it is reported as `Lost`.
    /// A lock released sooner costs exactly a create and a delete; a
    /// change before then is reported when the read happens (and a node
    /// deleted by someone else makes `release` fail with `LockLost`).
    /// Zero: at once, right after the create's reply.
    pub watch_delay: Duration,
}

/// The default [`LockOptions::watch_delay`] (the C API's
/// `ZKU_LOCK_DEFAULT_WATCH_DELAY_MS`; a test checks they agree).
pub const DEFAULT_WATCH_DELAY: Duration = Duration::from_millis(10);

impl Default for LockOptions {
    fn default() -> LockOptions {
        LockOptions {
            identifier: None,
            ephemeral: true,
            timeout: Timeout::After(Duration::from_secs(10)),
            watch_delay: DEFAULT_WATCH_DELAY,
        }
    }
}

/// Called with (old, new) on lock state changes, in order, on a callback
/// delivery thread ([`crate::dispatch`]). Changes the callback could not
/// keep up with are skipped (see [`crate::dispatch::StateQueue`]): `old`
/// is always the previous call's `new`.
pub type LockStateCallback = Box<dyn FnMut(LockState, LockState) + Send>;

/// The lock node as it was read: its data (normally the holder's
/// `{"id": ..., "val": ...}` JSON) and stat (`czxid` is the holder's
/// fencing token, `version` the holder version k3zkutil reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub data: Vec<u8>,
    pub stat: Stat,
}

impl Holder {
    /// The holder's identifier (the "id" member; its JSON text when it is
    /// not a string), `None` when the data has none.
    pub fn id(&self) -> Option<String> {
        data::holder_id(&self.data)
    }
}

/// What `try_acquire` found (k3zkutil's `(locked, holder, version)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryAcquire {
    pub locked: bool,
    /// The holder's node data (ours when locked).
    pub holder: Vec<u8>,
    /// The lock node's version.
    pub version: i32,
    /// The fencing token when locked.
    pub token: Option<i64>,
}

/// What `try_release` did (k3zkutil's `(released, holder, version)`):
/// `released` is true when the node held our identifier and was deleted
/// (`holder`/`version` as read before the delete), or when there was no
/// node (`holder` = our data, `version` = -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRelease {
    pub released: bool,
    pub holder: Vec<u8>,
    pub version: i32,
}

/// A distributed lock handle. Thread-safe; operations that talk to the
/// server (acquire, release, values, guarded writes) run one at a time per
/// handle, while `state`, `token`, `cancel` and the notifications never
/// wait for them.
pub struct Lock {
    inner: Arc<Inner>,
}

/// What we know about the current acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// czxid of the lock node: the fencing token.
    pub(crate) token: i64,
    /// ephemeral_owner of the node when acquired (0 for persistent).
    pub(crate) owner: i64,
    /// The node version we last saw or wrote, and the mzxid that goes
    /// with it (newer writes win).
    pub(crate) version: i32,
    pub(crate) mzxid: i64,
    /// Release must read the node first: anything but an ephemeral node
    /// made by this handle's own create, with no reconnect since (a node
    /// adopted through our identifier, a persistent lock, a reconnect).
    pub(crate) checked_release: bool,
    /// The node was read with a watch since it was acquired: a delete is
    /// reported from then on. Until then a guarded write reads it first.
    pub(crate) watched: bool,
}

pub(crate) struct Shared {
    pub(crate) state: LockState,
    pub(crate) held: Option<Held>,
    /// Incremented on every acquisition; a monitor only speaks for its own.
    pub(crate) generation: u64,
    pub(crate) monitor: Option<tokio::task::AbortHandle>,
    /// A release is deleting the node: the deletion is not a loss.
    pub(crate) releasing: bool,
    /// A loss seen while releasing, applied if the release fails.
    pub(crate) suppressed_loss: Option<String>,
    pub(crate) lost_reason: Option<String>,
    /// Our "val", as written in the node (Python spacing).
    pub(crate) val: String,
    /// See [`LockOptions::watch_delay`].
    pub(crate) watch_delay: Duration,
    /// A release that could not complete in time goes on in the
    /// background (see `release_in_background`).
    pub(crate) background_release: bool,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    owns_client: bool,
    pub(crate) path: Arc<str>,
    pub(crate) identifier: String,
    pub(crate) ephemeral: bool,
    default_timeout: Timeout,
    pub(crate) acl: Arc<Vec<zk::Acl>>,
    pub(crate) shared: Mutex<Shared>,
    /// Serialises the operations that talk to the server; a cleanup after
    /// a cancelled acquire holds it until the node is gone.
    pub(crate) ops: Arc<tokio::sync::Mutex<()>>,
    /// Bumped by `cancel`; blocked acquires watch it.
    pub(crate) cancel: watch::Sender<u64>,
    pub(crate) feed: feed::StateFeed,
    closed: AtomicBool,
}

impl Lock {
    /// A lock on `name` (path `lock_dir + name` of the client's
    /// configuration) using a shared client. The ACL is the client's
    /// configured default ACL.
    pub fn new(client: &Client, name: &str, options: LockOptions) -> Result<Lock> {
        Lock::build(client.clone(), false, name, options)
    }

    /// A lock with its own client, connected from `config`. Like
    /// k3zkutil's on_lost requirement, the caller must take the state
    /// changes (the callback), since nobody else watches that session.
    /// The client is closed when the lock is dropped.
    pub fn with_own_client(
        config: Config,
        name: &str,
        options: LockOptions,
        on_change: LockStateCallback,
    ) -> Result<Lock> {
        // Check the arguments before connecting, so a bad one leaves no
        // session behind.
        check_args(&config, name, &options)?;
        let client = Client::connect(config)?;
        let lock = Lock::build(client, true, name, options)?;
        lock.set_state_callback(Some(on_change))?;
        Ok(lock)
    }

    fn build(client: Client, owns_client: bool, name: &str, options: LockOptions) -> Result<Lock> {
        let config = client.config();
        let path = check_args(config, name, &options)?;
        let identifier = options.identifier.clone().unwrap_or_else(|| crate::lockid::lock_id(&config.node_id()));
        let acl = config.default_acl()?;
        for a in &acl {
            a.validate()?;
        }
        let shared = Shared {
            state: LockState::Unlocked,
            held: None,
            generation: 0,
            monitor: None,
            releasing: false,
            suppressed_loss: None,
            lost_reason: None,
            val: "null".to_string(),
            watch_delay: options.watch_delay,
            background_release: false,
        };
        let inner = Inner {
            owns_client,
            path: path.into(),
            identifier,
            ephemeral: options.ephemeral,
            default_timeout: options.timeout,
            acl: Arc::new(acl.iter().map(|a| a.to_zk()).collect()),
            shared: Mutex::new(shared),
            ops: Arc::new(tokio::sync::Mutex::new(())),
            cancel: watch::Sender::new(0),
            feed: feed::StateFeed::new(&client),
            closed: AtomicBool::new(false),
            client,
        };
        Ok(Lock { inner: Arc::new(inner) })
    }

    /// The lock node's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// This handle's holder identifier.
    pub fn identifier(&self) -> &str {
        &self.inner.identifier
    }

    pub fn is_ephemeral(&self) -> bool {
        self.inner.ephemeral
    }

    /// The timeout used when a call asks for the default.
    pub fn default_timeout(&self) -> Timeout {
        self.inner.default_timeout
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
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

    /// The fencing token (the lock node's czxid) of the current or last
    /// lost acquisition; `None` when `Unlocked`.
    pub fn token(&self) -> Option<i64> {
        let s = self.inner.lock_shared();
        if s.state == LockState::Unlocked { None } else { s.held.map(|h| h.token) }
    }

    /// Panics while holding the handle's state lock, on a thread of its
    /// own, as a bug in a background task would: for tests of
    /// [`Inner::lock_shared`]'s recovery.
    #[doc(hidden)]
    pub fn poison_state_for_testing(&self) {
        let inner = self.inner.clone();
        let _ = std::thread::spawn(move || {
            let _state = inner.shared.lock();
            panic!("poisoning the lock state for a test");
        })
        .join();
    }

    /// Sets [`LockOptions::watch_delay`] for the acquisitions that follow.
    pub fn set_watch_delay(&self, delay: Duration) {
        self.inner.lock_shared().watch_delay = delay;
    }

    /// Acquires the lock, waiting up to `timeout` for the holder to let go
    /// (`NoWait`: one attempt). Returns the fencing token. Already held:
    /// returns the current token at once.
    ///
    /// Errors: `OperationTimeout` (held by another when the time ran out),
    /// `Cancelled` (see [`Lock::cancel`]), `ConnectionLoss` (no connection
    /// before the timeout), `SessionExpired`, `Closed`, `NoAuth`, ...
    pub fn acquire(&self, timeout: Timeout) -> Result<i64> {
        self.inner.acquire(timeout, None)
    }

    /// [`Lock::acquire`], calling `on_holder` on this thread with the
    /// holder node each time it changes while we wait (k3zkutil's
    /// acquire_loop). Returning false stops waiting with `Aborted`.
    pub fn acquire_loop(&self, timeout: Timeout, on_holder: &mut dyn FnMut(&Holder) -> bool) -> Result<i64> {
        self.inner.acquire(timeout, Some(on_holder))
    }

    /// One attempt, never waiting for the holder: `timeout` bounds only
    /// the wait for a connection and the reply.
    pub fn try_acquire(&self, timeout: Timeout) -> Result<TryAcquire> {
        self.inner.try_acquire(timeout)
    }

    /// Makes acquires blocked on this handle (in any thread) return
    /// `Cancelled` promptly. An attempt in flight is finished and its node,
    /// if created, deleted before the next operation on this handle runs.
    /// Acquires started after this call are not affected.
    pub fn cancel(&self) {
        self.inner.cancel.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Releases the lock: deletes our node (never another holder's).
    /// Not held: Ok, nothing sent. After `Lost`: `LockLost`, nothing sent,
    /// and the state becomes `Unlocked`.
    pub fn release(&self, timeout: Timeout) -> Result<()> {
        self.inner.release(timeout)
    }

    /// k3zkutil's try_release: deletes the node if it holds our identifier
    /// (whoever created it), else reports the holder.
    pub fn try_release(&self, timeout: Timeout) -> Result<TryRelease> {
        self.inner.try_release(timeout)
    }

    /// Sets the node's "val" (JSON text) while held, if the node's version
    /// is `expected_version` (`None`: the version this handle last saw or
    /// wrote). Returns the new version. Later acquisitions by this handle
    /// write this value too.
    pub fn set_val(&self, val_json: &str, expected_version: Option<i32>, timeout: Timeout) -> Result<i32> {
        self.inner.set_val(val_json, expected_version, timeout)
    }

    /// The node's "val" as JSON text and the node version, whoever holds
    /// it (k3zkutil's get_lock_val). `NoNode` when nobody holds it.
    pub fn get_val(&self, timeout: Timeout) -> Result<(String, i32)> {
        self.inner.get_val(timeout)
    }

    /// The current holder, `None` when the lock is free.
    pub fn holder(&self, timeout: Timeout) -> Result<Option<Holder>> {
        self.inner.holder(timeout)
    }

    /// Sets another node's data only if we still hold the lock: one multi
    /// operation with a version check on the lock node. `LockLost` when
    /// the check fails, `NotLocked` when not held.
    pub fn guarded_set(&self, path: &str, data: &[u8], version: Option<i32>, timeout: Timeout) -> Result<Stat> {
        self.inner.guarded_write(path, Some(data), version, timeout).map(|s| s.unwrap_or_default())
    }

    /// Deletes another node only if we still hold the lock (as
    /// [`Lock::guarded_set`]).
    pub fn guarded_delete(&self, path: &str, version: Option<i32>, timeout: Timeout) -> Result<()> {
        self.inner.guarded_write(path, None, version, timeout).map(|_| ())
    }

    /// Replaces the state-change callback (`None` removes it). It gets
    /// the transitions after this call, in order (the oldest skipped when it
    /// falls far behind), on a callback delivery thread, and may call back into the
    /// library. When this returns the old callback is not called again and
    /// has been dropped (called from inside it: right after it returns).
    /// See [`Delivery::set_callback`]. Errors: `ResourceExhausted` (no
    /// delivery thread could be started).
    pub fn set_state_callback(&self, callback: Option<LockStateCallback>) -> Result<()> {
        self.inner.feed.set_callback(callback)
    }

    /// A descriptor that becomes readable on every state change (and once
    /// right after it is first created), for poll/epoll loops. It belongs
    /// to the lock: do not close it. Read the state with
    /// [`Lock::drain_notifications`].
    pub fn pollable_fd(&self) -> Result<RawFd> {
        self.inner.feed.fd()
    }

    /// Where the state changes go (callback, descriptor).
    pub(crate) fn feed(&self) -> &feed::StateFeed {
        &self.inner.feed
    }

    /// Empties the descriptor of [`Lock::pollable_fd`] and returns the
    /// current state.
    pub fn drain_notifications(&self) -> LockState {
        self.inner.feed.drain();
        self.state()
    }

    /// Releases the lock if held (bounded by the default timeout, at most
    /// the session timeout), stops the monitor and the callback, and closes
    /// the client if the lock made it. Later operations fail with `Closed`.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.cancel();
        if matches!(self.state(), LockState::Held | LockState::Suspended) {
            let session = self.inner.client.session_timeout();
            let timeout = match self.inner.default_timeout {
                Timeout::After(d) => Timeout::After(d.min(session)),
                Timeout::Forever => Timeout::After(session),
                Timeout::NoWait => Timeout::NoWait,
            };
            let _ = self.inner.release_inner(timeout);
        }
        let background_release = {
            let mut s = self.inner.lock_shared();
            if let Some(monitor) = s.monitor.take() {
                monitor.abort();
            }
            s.background_release
        };
        // A release going on in the background closes the client itself
        // when it is done.
        if self.inner.owns_client && !background_release {
            self.inner.client.close();
        }
        self.inner.feed.close();
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.close();
    }
}

fn check_args(config: &Config, name: &str, options: &LockOptions) -> Result<String> {
    if name.is_empty() {
        return Err(Error::new(Code::InvalidPath, "lock name is empty"));
    }
    let path = config.lock(Key::Text(name));
    crate::path::validate(&path).map_err(|e| e.context(format!("lock {name:?}")))?;
    if options.identifier.as_deref() == Some("") {
        return Err(Error::invalid_argument("lock identifier is empty"));
    }
    config.default_acl()?;
    Ok(path)
}

impl Inner {
    /// Locks the handle's state. A panic while it was held (a bug, e.g. in
    /// the monitor task) may have left it half updated: a lock that was
    /// held is then reported `Lost` with a reason, never silently `Held`,
    /// and the handle goes on.
    pub(crate) fn lock_shared(&self) -> MutexGuard<'_, Shared> {
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
    pub(crate) fn transition(&self, s: &mut Shared, new: LockState) {
        let old = s.state;
        if old == new {
            return;
        }
        s.state = new;
        crate::log::lock_change(&self.path, old, new, s.lost_reason.as_deref());
        let was_held = matches!(old, LockState::Held | LockState::Suspended);
        if was_held && matches!(new, LockState::Lost | LockState::Unlocked) {
            if let Some(h) = s.held {
                self.client.lock_claims().unclaim(&self.path, h.token, self);
            }
        }
        self.feed.publish(new);
    }

    /// The state, LOST at once when the client's session has ended (the
    /// monitor may not have seen it yet: a closed client's locks must not
    /// read as held right after the close returned).
    pub(crate) fn current_state(&self) -> LockState {
        let mut s = self.lock_shared();
        let session = self.client.state();
        if session.is_terminal() && !s.releasing && matches!(s.state, LockState::Held | LockState::Suspended) {
            s.lost_reason = Some(monitor::terminal_reason(session));
            self.transition(&mut s, LockState::Lost);
        }
        s.state
    }

    /// The acquisition `generation`, while it is held or suspended.
    pub(crate) fn held_of(&self, generation: u64) -> Option<Held> {
        let s = self.lock_shared();
        let current = s.generation == generation && matches!(s.state, LockState::Held | LockState::Suspended);
        if current { s.held } else { None }
    }

    /// Another handle of this client that holds the same node is deleting
    /// it: this acquisition ends as LOST before the delete is sent.
    pub(crate) fn revoke(&self, token: i64) {
        let mut s = self.lock_shared();
        let holds_it = s.held.is_some_and(|h| h.token == token);
        if !holds_it || !matches!(s.state, LockState::Held | LockState::Suspended) {
            return;
        }
        let why = "released by another handle of this client sharing the identifier".to_string();
        if s.releasing {
            // Its own release decides (see `lose` in the monitor).
            s.suppressed_loss = Some(why);
            return;
        }
        s.lost_reason = Some(why);
        self.transition(&mut s, LockState::Lost);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::closed("lock handle is closed"));
        }
        Ok(())
    }

    /// Our node data for the next create or write.
    pub(crate) fn node_data(&self) -> Vec<u8> {
        let val = self.lock_shared().val.clone();
        data::encode(&self.identifier, &val)
    }

    pub(crate) fn holds(&self, data: &[u8]) -> bool {
        data::holds(data, &self.identifier)
    }

    /// The ownership rule: the node read is still this acquisition's (same
    /// creation zxid, same ephemeral owner, our identifier).
    pub(crate) fn still_ours(&self, held: &Held, data: &[u8], stat: &zk::Stat) -> bool {
        stat.czxid == held.token && stat.ephemeral_owner == held.owner && self.holds(data)
    }
}
