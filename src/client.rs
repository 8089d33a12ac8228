//! A ZooKeeper session with blocking, time-bounded node operations.
//!
//! Wraps `zookeeper_client::Client` on the private runtime. Every call waits
//! for a usable connection (bounded by its timeout), sends one request and
//! waits for the reply. Writes are never retried behind the caller's back:
//! a write cut off by a connection loss may or may not have been applied,
//! and only the caller can know what that means.
//!
//! With session renewal configured ([`Config::session_renewal`]) an
//! expired session is replaced by a new one: the state goes Expired, then
//! Connected with a new session id. Each session has its own state channel
//! ([`Client::state_receiver`]), whose last state is its expiry: what is
//! bound to a session (a held lock, a call in flight) sees it end, however
//! soon the next one connects; what may move on (readers, waits, new calls)
//! subscribes again.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use zookeeper_client as zk;

use crate::acl::Acl;
use crate::cancel::{self, Cancel};
use crate::config::{self, Config};
use crate::dispatch::{Callback, Delivery, Pending};
use crate::error::{Code, Error, Result};
use crate::log::{Level, log_event};
use crate::node::SessionState;
use crate::runtime::{self, Deadline, Timeout};
use crate::stats::{ClientStats, Counters, ErrorClass};

mod nodes;
mod session;
mod states;

pub(crate) use session::open_session;
use session::{CLOSE_WAIT, close_session, spawn_state_monitor};
use states::States;

pub(crate) use nodes::create_once;

/// Called with (old, new) on session state changes, on a callback delivery
/// thread ([`crate::dispatch`]). Changes it could not keep up with are
/// skipped (see [`crate::dispatch::StateQueue`]): `old` is always the
/// previous call's `new`.
pub type StateCallback = Box<dyn FnMut(SessionState, SessionState) + Send>;

/// A ZooKeeper session. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    zk: RwLock<Option<zk::Client>>,
    config: Config,
    /// The configured default ACL (world:anyone:cdrwa when none), built
    /// once: a digest entry costs a SHA-1.
    default_acl: Vec<Acl>,
    /// Prepended to every path on the wire: counts in a request's size.
    chroot_len: usize,
    /// The process that opened the session; see [`Client::check_process`].
    pid: u32,
    /// The current session's timeout (a renewal may be granted another).
    session_timeout_ms: AtomicU64,
    state: Arc<States>,
    stats: Arc<Counters>,
    /// Fired by [`Client::close`]: ends the calls in a `cancel::scope` of
    /// this client with [`Code::Closed`].
    closed: Cancel,
    /// The lock nodes this client's lock handles hold.
    lock_claims: crate::lock::Claims,
    /// Credentials added with [`Client::add_auth`] (scheme, credentials):
    /// auth is per session, so a renewal adds them to the new one.
    added_auth: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Client {
    /// Connects and waits until the session is established, at most the
    /// configured connect timeout. Fields `config` leaves unset come from
    /// the `ZKU_*` environment ([`Config::with_env`]); a malformed variable
    /// fails here, before anything is sent.
    pub fn connect(config: Config) -> Result<Client> {
        let config = config.with_env()?;
        crate::log::read_env()?;
        config.validate()?;
        let hosts = config.hosts();
        let (_, chroot) = config::parse_hosts(&hosts)?;
        let default_acl = config.default_acl()?;
        for acl in &default_acl {
            acl.validate()?;
        }
        // On a runtime thread: the crate writes its handshake from this
        // future, and only the runtime's threads block SIGPIPE.
        let connecting = {
            let config = config.clone();
            async move { open_session(&config).await }
        };
        let zk = runtime::block_on_runtime_thread(connecting)??;
        let session_id = zk.session_id().0;
        let session_timeout = zk.session_timeout();
        let stats = Arc::new(Counters::default());
        let state = SessionState::from_zk(zk.state());
        let renews = config.session_renewal();
        let state = Arc::new(States::new(state, session_id, renews, hosts.clone(), stats.clone()));
        log_event!(
            Level::Info,
            "session 0x{session_id:x} established with {hosts} (session timeout {} ms)",
            session_timeout.as_millis()
        );
        let watcher = zk.state_watcher();
        let inner = Arc::new(Inner {
            zk: RwLock::new(Some(zk)),
            config,
            default_acl,
            chroot_len: chroot.map_or(0, |c| c.len()),
            pid: std::process::id(),
            session_timeout_ms: AtomicU64::new(session_timeout.as_millis() as u64),
            state,
            stats,
            closed: Cancel::waking(),
            lock_claims: Default::default(),
            added_auth: Mutex::default(),
        });
        spawn_state_monitor(watcher, &inner);
        Ok(Client { inner })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current session's id (a renewal changes it).
    pub fn session_id(&self) -> i64 {
        self.inner.state.session_id.load(Ordering::Relaxed)
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.session_timeout_ms.load(Ordering::Relaxed))
    }

    /// Whether an expired session is replaced by a new one
    /// ([`Config::session_renewal`]).
    pub fn renews_session(&self) -> bool {
        self.inner.state.renews
    }

    /// Whether `state` ends what follows the client from session to
    /// session (readers, waits): an expiry does not when the client
    /// renews sessions.
    pub(crate) fn ends_following(&self, state: SessionState) -> bool {
        state.is_terminal() && !(state == SessionState::Expired && self.renews_session())
    }

    /// Fails with [`Code::Forked`] in a child process made by fork() after
    /// this client was created: the session, its socket and the threads
    /// serving it belong to the parent, which still uses them. Checked
    /// before anything else is touched (a lock a parent thread held at the
    /// moment of fork stays held for ever in the child).
    pub fn check_process(&self) -> Result<()> {
        let pid = std::process::id();
        if self.inner.pid == pid {
            return Ok(());
        }
        Err(Error::new(
            Code::Forked,
            format!(
                "this handle was created in process {} and process {pid} is a fork() child of it: \
                 the session belongs to the parent; create a new client in the child",
                self.inner.pid
            ),
        ))
    }

    pub fn state(&self) -> SessionState {
        self.inner.state.get()
    }

    /// A descriptor that becomes readable on every session state change
    /// (and once right after it is first asked for), for poll/epoll loops.
    /// It belongs to the client: do not close it. Read the state with
    /// [`Client::drain_notifications`].
    pub fn pollable_fd(&self) -> Result<std::os::fd::RawFd> {
        self.inner.state.notifier.fd()
    }

    /// Empties the descriptor of [`Client::pollable_fd`] and returns the
    /// current state.
    pub fn drain_notifications(&self) -> SessionState {
        self.inner.state.notifier.drain();
        self.state()
    }

    /// A snapshot of the client's counters. Never blocks.
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.inner.stats
    }

    /// A callback delivery for a handle of this client: what waits in it
    /// counts in the client's statistics.
    pub(crate) fn delivery<P: Pending>(&self, pending: P) -> Delivery<P> {
        Delivery::counted(pending, Some(self.inner.stats.callbacks_waiting().clone()))
    }

    /// Sends one request (`send` makes it) and waits for its reply until
    /// `deadline`, counting it (see [`crate::stats`]) and logging a reply
    /// slower than [`SLOW_REPLY`] (a lost connection is no reply). The
    /// error of a reply that did not come in time is the deadline's.
    pub(crate) async fn request<T, Fut>(
        &self,
        what: &str,
        deadline: Deadline,
        send: Fut,
    ) -> Result<std::result::Result<T, zk::Error>>
    where
        Fut: Future<Output = std::result::Result<T, zk::Error>>,
    {
        let stats = &self.inner.stats;
        let _in_flight = stats.sent();
        let started = Instant::now();
        let reply = deadline.run(what, send).await;
        let took = started.elapsed();
        // Whether the server answered (a lost connection is no answer).
        let answered = match &reply {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                let class = ErrorClass::of(Code::of_zk(e));
                stats.failed(class);
                class != ErrorClass::Connection
            }
            Err(e) => {
                // Cancelled or closed by the caller: not the server's doing.
                if e.code() == Code::OperationTimeout {
                    stats.failed(ErrorClass::Connection);
                }
                false
            }
        };
        let id = self.session_id();
        if answered && took > SLOW_REPLY {
            stats.slow_reply();
            log_event!(Level::Warn, "session 0x{id:x}: slow reply: {what} took {} ms", took.as_millis());
        } else if answered {
            log_event!(Level::Debug, "session 0x{id:x}: {what}: reply in {} us", took.as_micros());
        } else {
            log_event!(Level::Debug, "session 0x{id:x}: {what}: no reply after {} us", took.as_micros());
        }
        reply
    }

    /// The lock nodes held by this client's lock handles.
    pub(crate) fn lock_claims(&self) -> &crate::lock::Claims {
        &self.inner.lock_claims
    }

    /// A receiver of the current session's state changes, for recipes
    /// running on the runtime. Its last state is the session's end:
    /// Expired (then, with renewal, its `changed()` fails once the next
    /// session is open: subscribe again to follow that one), AuthFailed or
    /// Closed. A recipe that re-creates what a session lost (after an
    /// Expired, subscribe again, read [`Client::session_id`]) knows the new
    /// session is connected when the new receiver shows Connected.
    pub(crate) fn state_receiver(&self) -> watch::Receiver<SessionState> {
        self.inner.state.subscribe()
    }

    /// Replaces the state-change callback (`None` removes it). It gets the
    /// changes after this call (the oldest skipped when it falls far
    /// behind), on a
    /// callback delivery thread, one call at a time, and may call back into
    /// the library. It is dropped after the final state (expired, auth
    /// failed, closed; with session renewal an expiry is not final: the
    /// new session's Connected follows). When this returns the old callback is not called
    /// again and has been dropped (called from inside it: right after it
    /// returns). See [`Delivery::set_callback`]. Errors:
    /// `ResourceExhausted` (no delivery thread could be started).
    pub fn set_state_callback(&self, callback: Option<StateCallback>) -> Result<()> {
        let callback = callback.map(|mut callback| -> Callback<(SessionState, SessionState)> {
            Box::new(move |(old, new)| callback(old, new))
        });
        self.inner.state.callback.set_callback(callback)
    }

    /// [`Client::close_within`] the session timeout, at most 5 s.
    pub fn close(&self) {
        self.close_within(Timeout::After(self.session_timeout().min(CLOSE_WAIT)));
    }

    /// Closes the session now, so its ephemeral nodes vanish at once, and
    /// waits up to `timeout` for the server to confirm; returns whether it
    /// did (if not, the session ends on the server when it sees the close
    /// request, or at the latest after the session timeout). Calls blocked
    /// in a `cancel::scope` of this client end at once, and later calls on
    /// any clone, with [`Code::Closed`].
    pub fn close_within(&self, timeout: Timeout) -> bool {
        // In a fork() child the session is the parent's: leave it alone.
        if self.check_process().is_err() {
            return false;
        }
        self.inner.closed.cancel();
        // Under the session's lock, like a renewal's swap: a renewal either
        // finishes before (and that session is closed here) or finds the
        // client closed.
        let taken = {
            let mut zk = self.inner.zk.write().unwrap();
            self.inner.state.set(SessionState::Closed);
            zk.take()
        };
        let confirmed = match taken {
            Some(zk) => close_session(zk, timeout.deadline()),
            None => true,
        };
        // Delivers the final state (here, unless already delivered), then
        // drops the callback.
        self.inner.state.callback.close();
        confirmed
    }

    /// Fired when the client is closed (see [`cancel::scope`]).
    pub(crate) fn close_signal(&self) -> &Cancel {
        &self.inner.closed
    }

    /// The crate's client, if the session was not closed.
    pub(crate) fn zk(&self) -> Result<zk::Client> {
        self.check_process()?;
        self.inner.zk.read().unwrap().clone().ok_or_else(|| Error::closed("client is closed"))
    }

    /// Waits until the session is connected (or fails for good), then
    /// returns the crate's client. `NoWait` fails at once when suspended.
    /// A fired stop of the call's `cancel::scope` fails it before anything
    /// is sent.
    pub(crate) async fn ready(&self, deadline: Deadline) -> Result<zk::Client> {
        cancel::check()?;
        self.check_process()?;
        if self.inner.closed.is_cancelled() {
            return Err(Error::closed("client is closed"));
        }
        let mut changes = self.state_receiver();
        loop {
            let state = *changes.borrow_and_update();
            match state {
                // Taken after the state: a renewal swaps the session first.
                s if s.is_connected() => return self.zk(),
                SessionState::Expired if self.renews_session() => {}
                SessionState::Expired => return Err(Error::new(Code::SessionExpired, "session expired")),
                SessionState::AuthFailed => return Err(Error::new(Code::AuthFailed, "authentication failed")),
                SessionState::Closed => return Err(Error::closed("client is closed")),
                _ => {}
            }
            if deadline.is_expired() {
                return Err(Error::new(Code::ConnectionLoss, "not connected to ZooKeeper"));
            }
            let changed = deadline.run("wait for connection", changes.changed()).await;
            match changed {
                Ok(Ok(())) => {}
                // The session was renewed: follow the new one.
                Ok(Err(_)) => changes = self.state_receiver(),
                Err(e) if e.code() == Code::OperationTimeout => {
                    return Err(Error::new(Code::ConnectionLoss, "not connected to ZooKeeper before the timeout"));
                }
                Err(stopped) => return Err(stopped),
            }
        }
    }

    /// How long a request already sent may take: the call's `deadline`, or
    /// with `NoWait` (one attempt, no waiting for a connection) its round
    /// trip, bounded by the session timeout.
    pub(crate) fn reply_deadline(&self, timeout: Timeout, deadline: Deadline) -> Deadline {
        match timeout {
            Timeout::NoWait => Deadline::never().min_after(self.session_timeout()),
            _ => deadline,
        }
    }

    /// Runs one request: waits for a connection, then for the reply.
    /// Idempotent requests (reads) are repeated after a connection loss while
    /// time remains; writes are not. A write cancelled after it was sent
    /// gives [`Code::OutcomeUnknown`]; a timed-out one keeps
    /// [`Code::OperationTimeout`] (documented as "outcome unknown" for
    /// writes).
    pub(crate) fn call<T, F, Fut>(&self, timeout: Timeout, what: &str, idempotent: bool, op: F) -> Result<T>
    where
        F: Fn(zk::Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, zk::Error>>,
    {
        let deadline = timeout.deadline();
        let reply_deadline = self.reply_deadline(timeout, deadline);
        runtime::block_on(async {
            loop {
                let zk = self.ready(deadline).await.map_err(|e| e.context(what))?;
                match self.request(what, reply_deadline, op(zk)).await {
                    Err(e) if !idempotent && e.code() == Code::Cancelled => return Err(in_flight(what, e)),
                    Err(e) => return Err(e),
                    Ok(Ok(value)) => return Ok(value),
                    Ok(Err(e)) => {
                        let err = Error::from(e);
                        if idempotent && err.code() == Code::ConnectionLoss && !deadline.is_expired() {
                            continue;
                        }
                        return Err(err.context(what));
                    }
                }
            }
        })
    }

    /// Runs one write exactly like [`Client::call`] with `idempotent` false,
    /// but tells "not sent" from "sent, fate unknown": a failure after the
    /// request left (connection loss, the timeout running out or a cancel
    /// while waiting for the reply, the session expiring) becomes
    /// [`Code::OutcomeUnknown`]; the client's close stays [`Code::Closed`].
    /// Failures before sending (no connection in time) keep their code.
    pub(crate) fn write_once<T, F, Fut>(&self, timeout: Timeout, what: &str, op: F) -> Result<T>
    where
        F: FnOnce(zk::Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, zk::Error>>,
    {
        let deadline = timeout.deadline();
        let reply_deadline = self.reply_deadline(timeout, deadline);
        runtime::block_on(async {
            let zk = self.ready(deadline).await.map_err(|e| e.context(what))?;
            match self.request(what, reply_deadline, op(zk)).await {
                Err(closed) if closed.code() == Code::Closed => Err(closed),
                Err(timeout_or_cancel) => Err(in_flight(what, timeout_or_cancel)),
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => {
                    let err = Error::from(e);
                    if err.code().leaves_write_unknown() { Err(in_flight(what, err)) } else { Err(err.context(what)) }
                }
            }
        })
    }

    /// Ends this session from a second connection with the same session
    /// credentials, the way ZooKeeper's own tests expire a session. The
    /// client sees `Expired` on its next contact with the server.
    pub fn expire_session_for_testing(&self) -> Result<()> {
        let zk = self.zk()?;
        let session = zk.session().clone();
        let hosts = self.inner.config.hosts();
        let session_timeout = self.session_timeout();
        let deadline = Timeout::After(Duration::from_secs(30)).deadline();
        let mut changes = self.state_receiver();
        // The original client reconnects as soon as the second connection
        // takes the session over, and may take it back before the second
        // one's CloseSession is processed (then nothing expires): repeat
        // the takeover until this client sees the end of its session.
        runtime::block_on_runtime_thread(deadline.run("expire session", async move {
            loop {
                let connector = zk::Client::connector()
                    .with_session(session.clone())
                    .with_session_timeout(session_timeout)
                    .with_fail_eagerly();
                match connector.connect(&hosts).await {
                    Ok(other) => drop(other),
                    Err(zk::Error::SessionExpired) => {}
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
                let ended = tokio::time::timeout(Duration::from_secs(2), changes.wait_for(|s| s.is_terminal())).await;
                if ended.is_ok() {
                    return;
                }
            }
        }))?
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // A fork() child: dropping the crate's client would send
            // CloseSession for the parent's session; dropping the states
            // (channel and callback delivery) would take locks of the
            // parent. Leak them.
            let zk = self.zk.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            std::mem::forget((zk, self.state.clone()));
            return;
        }
        if let Some(zk) = self.zk.get_mut().unwrap().take() {
            let session_timeout = Duration::from_millis(*self.session_timeout_ms.get_mut());
            close_session(zk, Timeout::After(session_timeout.min(CLOSE_WAIT)).deadline());
        }
    }
}

/// The timeout of the next step of a composite call given `timeout`, which
/// started when `deadline` was computed: `NoWait` stays one attempt; else
/// what is left, and once nothing is, a timeout error (a `NoWait` step
/// would wait for its reply up to the session timeout, past the caller's).
pub(crate) fn remaining(timeout: Timeout, deadline: Deadline, what: &str) -> Result<Timeout> {
    match (timeout, deadline.remaining()) {
        (Timeout::NoWait, _) => Ok(Timeout::NoWait),
        (_, None) => Ok(Timeout::Forever),
        (_, Some(d)) if d.is_zero() => Err(Error::timeout(format!("{what}: timed out"))),
        (_, Some(d)) => Ok(Timeout::After(d)),
    }
}

/// The error of a write sent whose reply did not come.
fn in_flight(what: &str, cause: Error) -> Error {
    Error::new(
        Code::OutcomeUnknown,
        format!("{what}: the request was sent but no reply came ({cause}); it may or may not have been applied"),
    )
}

/// A reply that takes longer is logged (warning) and counted as slow:
/// several round trips even on a loaded network, a fraction of the
/// default session timeout.
pub const SLOW_REPLY: Duration = Duration::from_secs(1);
