//! Opening, closing and renewing the crate's sessions: the connector with
//! the configured and added credentials, the close that waits for the
//! server's confirmation, and the task that follows a session's states and
//! replaces an expired one when the client renews sessions.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use zookeeper_client as zk;

use super::Inner;
use super::states::States;
use crate::cancel;
use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::log::{Level, log_event};
use crate::node::SessionState;
use crate::runtime::{self, Deadline, Timeout};

/// How long closing waits at most, by default, for the server to confirm.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Opens a session from `config` (hosts, session timeout, credentials),
/// waiting at most its connect timeout. Runs on the runtime.
pub(crate) async fn open_session(config: &Config) -> Result<zk::Client> {
    open_session_with(config, &[]).await
}

/// [`open_session`] adding the credentials `added` (scheme, credentials)
/// too: the crate sends them right after the handshake, ahead of any
/// request of the session.
pub(super) async fn open_session_with(config: &Config, added: &[(String, Vec<u8>)]) -> Result<zk::Client> {
    let hosts = config.hosts();
    let mut connector = zk::Client::connector().with_session_timeout(config.session_timeout());
    if let Some(auth) = config.auth() {
        connector = connector.with_auth(&auth.scheme, &auth.credentials());
    }
    for (scheme, credentials) in added {
        connector = connector.with_auth(scheme, credentials);
    }
    let connect_timeout = config.connect_timeout();
    let deadline = Timeout::from_duration(connect_timeout).deadline();
    let no_session = || {
        Error::new(Code::ConnectionLoss, format!("no session with {hosts} within {} ms", connect_timeout.as_millis()))
    };
    match deadline.run("connect", connector.connect(&hosts)).await {
        Err(e) if e.code() == Code::OperationTimeout => Err(no_session()),
        // Cancelled, or the client closed.
        Err(e) => Err(e),
        Ok(Ok(zk)) => Ok(zk),
        // The crate gives up after its own session timeout.
        Ok(Err(zk::Error::Timeout | zk::Error::NoHosts)) => Err(no_session()),
        Ok(Err(e)) => Err(Error::from(e).context(format!("connect to {hosts}"))),
    }
}

/// Drops the last handle to the session (which makes the crate send
/// CloseSession) and waits until the server confirmed or the session ended,
/// at most until `deadline`; returns whether it did.
pub(super) fn close_session(zk: zk::Client, deadline: Deadline) -> bool {
    let mut watcher = zk.state_watcher();
    // On a runtime thread (a recipe task dropped the last handle) we cannot
    // block; the session still closes in the background.
    if tokio::runtime::Handle::try_current().is_ok() {
        drop(zk);
        return false;
    }
    let context = runtime::handle().enter();
    drop(zk);
    drop(context);
    let closed = async move {
        while !watcher.state().is_terminated() {
            watcher.changed().await;
        }
    };
    runtime::block_on(deadline.run("close", closed)).is_ok()
}

/// Follows the session's states and, when the client renews sessions,
/// replaces an expired session by a new one, for as long as the client
/// lives. Runs on the runtime, so never in a fork() child (whose runtime
/// is its own): a parent's client is not renewed there.
pub(super) fn spawn_state_monitor(mut watcher: zk::StateWatcher, inner: &Arc<Inner>) {
    // The states outlive the client's last handle a little (a dropped
    // client still reports its Closed); the client itself is needed only
    // to renew.
    let (states, client) = (Arc::downgrade(&inner.state), Arc::downgrade(inner));
    let renews = inner.state.renews;
    runtime::handle().spawn(async move {
        loop {
            let last = follow_session(&mut watcher, &states).await;
            if last != Some(SessionState::Expired) || !renews {
                return;
            }
            match renew(&client).await {
                Some(next) => watcher = next,
                None => return,
            }
        }
    });
}

/// Reports one session's states until its last; `None` once the client
/// is gone.
async fn follow_session(watcher: &mut zk::StateWatcher, states: &Weak<States>) -> Option<SessionState> {
    loop {
        let new = SessionState::from_zk(watcher.changed().await);
        states.upgrade()?.set(new);
        if new.is_terminal() {
            return Some(new);
        }
    }
}

/// Pause between two failed attempts to open a session after an expiry.
const RENEW_PAUSE: Duration = Duration::from_secs(1);

/// Opens the session that replaces an expired one (with the configured
/// credentials and those added since), retrying until it is open and
/// installed, or the client is closed or gone; returns its state watcher.
async fn renew(client: &Weak<Inner>) -> Option<zk::StateWatcher> {
    let closed = client.upgrade()?.closed.clone();
    loop {
        let (config, added, expired_id) = {
            let inner = client.upgrade()?;
            if closed.is_cancelled() {
                return None;
            }
            let expired_id = inner.state.session_id.load(Ordering::Relaxed);
            (inner.config.clone(), inner.added_auth.lock().unwrap().clone(), expired_id)
        };
        // Not cut short by a close (a session half opened would stay on the
        // server until it times out): one opened after the close is closed
        // below, at once.
        match open_session_with(&config, &added).await {
            Ok(zk) => {
                let watcher = zk.state_watcher();
                // Gone or closed: the new session is dropped here, which
                // closes it.
                return match client.upgrade()?.install(zk) {
                    None => Some(watcher),
                    Some(_closed_meanwhile) => None,
                };
            }
            Err(e) => {
                let pause_ms = RENEW_PAUSE.as_millis();
                log_event!(
                    Level::Warn,
                    "session 0x{expired_id:x}: no new session yet ({e}); trying again in {pause_ms} ms"
                );
                let pause = Deadline::never().min_after(RENEW_PAUSE).run("renewal pause", std::future::pending::<()>());
                let _ = cancel::until_closed(&closed, pause).await;
            }
        }
    }
}

impl Inner {
    /// Makes `zk`, a new session opened after an expiry, the client's
    /// session, unless the client was closed meanwhile: then `zk` is given
    /// back to be closed.
    fn install(&self, zk: zk::Client) -> Option<zk::Client> {
        let mut slot = self.zk.write().unwrap();
        if slot.is_none() {
            return Some(zk);
        }
        self.session_timeout_ms.store(zk.session_timeout().as_millis() as u64, Ordering::Relaxed);
        let (id, state) = (zk.session_id().0, SessionState::from_zk(zk.state()));
        // The expired session's client: nothing left to close.
        let _expired = slot.replace(zk);
        self.state.renewed(id, state);
        None
    }
}
