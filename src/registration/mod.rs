//! The registration node (Curator's PersistentNode, kazoo's Party member):
//! a handle that keeps one node present for as long as it lives.
//!
//! The node is ephemeral by default, optionally sequential (each creation
//! gets a new name; [`Registration::path`] reports the current one) or
//! persistent, with an optional TTL. A background task on the runtime
//! (`keeper`) does every write: it creates the node (and missing parents),
//! watches it, creates it again after someone deleted it or after the
//! client opened a new session, applies [`Registration::set_data`], and on
//! close deletes it if it is still ours. A node at the path that this
//! handle did not create is never deleted or overwritten: the handle
//! reports ABSENT with the reason and waits for that node to go.
//!
//! Files: `keeper` (the task), `members` (listing the nodes under a
//! parent, for the service-discovery side).

mod keeper;
mod members;

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use zookeeper_client as zk;

use crate::client::Client;
use crate::dispatch::{Callback, Delivery, StateQueue};
use crate::error::{Code, Error, Result};
use crate::log::{Level, log_event};
use crate::node::{CreateOptions, NodeKind};
use crate::notify::Notifier;
use crate::runtime::{self, Deadline, Timeout};

pub use members::{Member, members};

/// Where a registration handle stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationState {
    /// The node is not there (not created yet, deleted, our session gone,
    /// or another session's node is at the path); the handle is working on
    /// it unless the session ended for good. [`Registration::reason`] says
    /// why.
    Absent,
    /// Our node exists, as last confirmed by the server.
    Present,
    /// Closed: the handle no longer keeps the node (final).
    Closed,
}

/// How a registration node is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationOptions {
    /// A persistent node (survives the session) instead of an ephemeral one.
    pub persistent: bool,
    /// Append a sequence number to the path: every creation gets a new name.
    pub sequential: bool,
    /// Persistent nodes only: the server deletes the node after this long
    /// without changes and without children (needs the server's
    /// `extendedTypesEnabled`); the handle then creates it again.
    pub ttl: Option<Duration>,
}

/// Called with (old, new) on every state change, in order, on a callback
/// delivery thread ([`crate::dispatch`]); changes it could not keep up with
/// are skipped (see [`StateQueue`]).
pub type RegistrationStateCallback = Box<dyn FnMut(RegistrationState, RegistrationState) + Send>;

/// How long closing waits, at most, for the delete when the handle is
/// dropped; the delete goes on in the background afterwards (bounded by the
/// session timeout).
pub const DROP_WAIT: Duration = Duration::from_secs(2);

/// A registration node handle. Thread-safe; nothing but `new`, `set_data`
/// and `close` waits for the server.
pub struct Registration {
    inner: Arc<Inner>,
}

/// A node this handle created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OurNode {
    pub(crate) path: String,
    pub(crate) czxid: i64,
    /// The session that created it (an ephemeral node dies with it).
    pub(crate) session: i64,
    /// The version we last saw or wrote.
    pub(crate) version: i32,
}

pub(crate) struct Shared {
    pub(crate) state: RegistrationState,
    /// Why the node is absent (while `Absent`).
    pub(crate) reason: Option<String>,
    /// The node we keep (or kept last).
    pub(crate) node: Option<OurNode>,
    /// The data the node should hold, and its revision (bumped by
    /// `set_data`).
    pub(crate) data: Vec<u8>,
    pub(crate) revision: u64,
    /// The revision the present node holds.
    pub(crate) applied: u64,
    /// The first creation's error, when it was not retryable.
    pub(crate) first_error: Option<Error>,
    /// The first attempt is over (created, failed, or another node found).
    pub(crate) started: bool,
    /// Close asked the keeper to delete the node and stop.
    pub(crate) closing: bool,
    /// The keeper ended.
    pub(crate) done: bool,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    /// The path asked for (the prefix of a sequential node's name).
    pub(crate) requested: String,
    pub(crate) options: CreateOptions,
    pub(crate) acl: Vec<zk::Acl>,
    shared: Mutex<Shared>,
    /// Bumped on every change of `shared` that a waiting call may want.
    changes: watch::Sender<u64>,
    /// Wakes the keeper (new data, close).
    pub(crate) wake: Notify,
    callback: Delivery<StateQueue<RegistrationState>>,
    pollable: Notifier,
}

impl Registration {
    /// Keeps a node at `path` with `data`, creating missing parents
    /// (persistent, the client's default ACL, as the node). Waits up to
    /// `timeout` for the node's first creation and returns the handle
    /// then, or when the time ran out or another session's node is at the
    /// path (state `Absent` with the reason; the handle keeps trying).
    ///
    /// Errors, with nothing left on the server: `InvalidPath`,
    /// `DataTooLarge`, `InvalidArgument` (a TTL on an ephemeral node or a
    /// zero TTL), and the first creation's error when retrying cannot help
    /// (`NoAuth`, `InvalidAcl`, `NoChildrenForEphemerals`, a TTL on a
    /// server without extended types, ...), `Closed` (closed client);
    /// `Cancelled` from the call's cancel scope.
    pub fn new(
        client: &Client,
        path: &str,
        data: &[u8],
        options: RegistrationOptions,
        timeout: Timeout,
    ) -> Result<Registration> {
        client.zk()?;
        let options = create_options(path, &options)?;
        crate::path::check_data_len(data)?;
        if !options.sequential && path == "/" {
            return Err(Error::new(Code::InvalidPath, "the root node cannot be a registration node"));
        }
        let acl = client.config().default_acl()?;
        for a in &acl {
            a.validate()?;
        }
        let acl: Vec<zk::Acl> = acl.iter().map(|a| a.to_zk()).collect();
        client.check_request(&crate::packet::Write::Create { path, data, acl: &acl, ttl: options.ttl.is_some() })?;
        let shared = Shared {
            state: RegistrationState::Absent,
            reason: Some("not created yet".to_string()),
            node: None,
            data: data.to_vec(),
            revision: 0,
            applied: 0,
            first_error: None,
            started: false,
            closing: false,
            done: false,
        };
        let inner = Arc::new(Inner {
            client: client.clone(),
            requested: path.to_string(),
            options,
            acl,
            shared: Mutex::new(shared),
            changes: watch::Sender::new(0),
            wake: Notify::new(),
            callback: client
                .delivery(StateQueue::until(RegistrationState::Absent, |s| *s == RegistrationState::Closed)),
            pollable: Notifier::default(),
        });
        runtime::handle().spawn(keeper::run(inner.clone(), client.state_receiver()));
        let registration = Registration { inner };
        let first = registration.wait(timeout, "register", |s| {
            if let Some(e) = &s.first_error {
                return Some(Err(e.clone()));
            }
            if s.done && !s.started {
                return Some(Err(Error::closed(s.reason.clone().unwrap_or_default())));
            }
            (s.started || s.state == RegistrationState::Present).then_some(Ok(()))
        });
        match first {
            Ok(Some(Err(e))) | Err(e) => {
                let _ = registration.close(Timeout::After(DROP_WAIT));
                Err(e.context(format!("register {path}")))
            }
            _ => Ok(registration),
        }
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub fn state(&self) -> RegistrationState {
        self.inner.lock_shared().state
    }

    /// The path of the node this handle keeps (or kept last); for a
    /// sequential node `None` until it was first created, and a new name
    /// after every re-creation.
    pub fn path(&self) -> Option<String> {
        let s = self.inner.lock_shared();
        match &s.node {
            Some(node) => Some(node.path.clone()),
            None if self.inner.options.sequential => None,
            None => Some(self.inner.requested.clone()),
        }
    }

    /// Why the node is absent, while the state is `Absent`.
    pub fn reason(&self) -> Option<String> {
        let s = self.inner.lock_shared();
        if s.state == RegistrationState::Absent { s.reason.clone() } else { None }
    }

    /// Replaces the node's data. While the node is present, waits up to
    /// `timeout` for the write (Ok once the node holds it); while it is
    /// absent, Ok at once: the next creation writes it. Never overwrites a
    /// node this handle did not create. Errors: `DataTooLarge`, `Closed`,
    /// `OperationTimeout` (the write goes on in the background),
    /// `Cancelled`.
    pub fn set_data(&self, data: &[u8], timeout: Timeout) -> Result<()> {
        self.inner.client.check_process()?;
        crate::path::check_data_len(data)?;
        let path = self.path().unwrap_or_else(|| self.inner.requested.clone());
        let acl = &self.inner.acl;
        let ttl = self.inner.options.ttl.is_some();
        self.inner.client.check_request(&crate::packet::Write::Create { path: &path, data, acl, ttl })?;
        let revision = {
            let mut s = self.inner.lock_shared();
            if s.closing || s.done {
                return Err(Error::closed("the registration is closed"));
            }
            s.data = data.to_vec();
            s.revision += 1;
            s.revision
        };
        self.inner.wake.notify_one();
        let written = self.wait(timeout, "set_data", |s| {
            if s.closing || s.done {
                return Some(Err(Error::closed("the registration is closed")));
            }
            (s.state != RegistrationState::Present || s.applied >= revision).then_some(Ok(()))
        })?;
        written.unwrap_or_else(|| Err(Error::timeout(format!("set_data {path}: timed out"))))
    }

    /// Replaces the state-change callback (`None` removes it), as
    /// [`crate::Lock::set_state_callback`].
    pub fn set_state_callback(&self, callback: Option<RegistrationStateCallback>) -> Result<()> {
        let callback = callback.map(|mut callback| -> Callback<(RegistrationState, RegistrationState)> {
            Box::new(move |(old, new)| callback(old, new))
        });
        self.inner.callback.set_callback(callback)
    }

    /// A descriptor that becomes readable on every state change (and once
    /// right after it is first created); read the state with
    /// [`Registration::drain_notifications`]. It belongs to the handle.
    pub fn pollable_fd(&self) -> Result<RawFd> {
        self.inner.pollable.fd()
    }

    /// Empties the descriptor of [`Registration::pollable_fd`] and returns
    /// the current state.
    pub fn drain_notifications(&self) -> RegistrationState {
        self.inner.pollable.drain();
        self.state()
    }

    /// Stops keeping the node and deletes it if it is still ours (same
    /// creation zxid; a versioned delete), waiting up to `timeout` for the
    /// delete; it goes on in the background afterwards, bounded by the
    /// session timeout (without a connection by then it is given up). The
    /// state becomes `Closed`. Later calls return Ok at once. Errors:
    /// `OperationTimeout` (the delete was not confirmed in time),
    /// `Cancelled` (from the call's cancel scope).
    pub fn close(&self, timeout: Timeout) -> Result<()> {
        self.inner.client.check_process()?;
        self.inner.lock_shared().closing = true;
        self.inner.wake.notify_one();
        let done = self.wait(timeout, "close", |s| s.done.then_some(()));
        {
            let mut s = self.inner.lock_shared();
            self.inner.transition(&mut s, RegistrationState::Closed, None);
        }
        // Delivers the final state (here, unless delivered already), then
        // drops the callback.
        self.inner.callback.close();
        match done? {
            Some(()) => Ok(()),
            None => Err(Error::timeout(format!(
                "close {}: the delete of the registration node was not confirmed in time; it goes on in the background",
                self.inner.requested
            ))),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let bound = self.inner.client.session_timeout().min(DROP_WAIT);
        let _ = self.close(Timeout::After(bound));
    }
}

impl Registration {
    /// Waits until `ready` gives a value, at most `timeout` (`None` then),
    /// stopped by the call's cancel scope.
    fn wait<T>(&self, timeout: Timeout, what: &str, ready: impl Fn(&Shared) -> Option<T>) -> Result<Option<T>> {
        let deadline: Deadline = timeout.deadline();
        let mut changes = self.inner.changes.subscribe();
        runtime::block_on(async {
            loop {
                changes.borrow_and_update();
                if let Some(value) = ready(&self.inner.lock_shared()) {
                    return Ok(Some(value));
                }
                if deadline.is_expired() {
                    return Ok(None);
                }
                match deadline.run(what, changes.changed()).await {
                    Ok(_) => {}
                    Err(e) if e.code() == Code::OperationTimeout => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        })
    }
}

/// The create options of a registration, checking the combination.
fn create_options(path: &str, options: &RegistrationOptions) -> Result<CreateOptions> {
    if options.sequential {
        crate::path::validate_sequential_prefix(path)?;
    } else {
        crate::path::validate(path)?;
    }
    if let Some(ttl) = options.ttl {
        if !options.persistent {
            return Err(Error::invalid_argument("a TTL is only allowed on a persistent registration node"));
        }
        if ttl.is_zero() {
            return Err(Error::invalid_argument("a TTL must be positive"));
        }
    }
    let kind = if options.persistent { NodeKind::Persistent } else { NodeKind::Ephemeral };
    Ok(CreateOptions { kind, sequential: options.sequential, ttl: options.ttl, acl: None, make_parents: true })
}

impl Inner {
    pub(crate) fn lock_shared(&self) -> MutexGuard<'_, Shared> {
        // A panic in the keeper cannot leave `shared` inconsistent in a way
        // that matters: every field is set whole.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        self.options.kind == NodeKind::Ephemeral
    }

    /// Wakes the calls waiting for a change of `shared`.
    pub(crate) fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Publishes a state change to the callback and the descriptor (with
    /// `shared` locked, so changes go out in order).
    pub(crate) fn transition(&self, s: &mut Shared, new: RegistrationState, reason: Option<String>) {
        let old = s.state;
        // Closed is final: a request finishing after the close changes
        // nothing visible.
        if old == RegistrationState::Closed {
            return;
        }
        s.reason = reason;
        if old == new {
            return;
        }
        s.state = new;
        let path = s.node.as_ref().map_or(self.requested.as_str(), |n| n.path.as_str());
        match new {
            RegistrationState::Absent => {
                log_event!(Level::Warn, "registration {path}: {old:?} -> Absent: {}", s.reason.as_deref().unwrap_or(""))
            }
            _ => log_event!(Level::Info, "registration {path}: {old:?} -> {new:?}"),
        }
        self.callback.post(new);
        self.pollable.signal();
    }
}
