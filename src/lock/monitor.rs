//! The task that follows one acquisition: the watch on the lock node and
//! the session state decide between HELD, SUSPENDED and LOST.
//!
//! - Acquired by a create: `watch_delay` later the node is read with a
//!   watch and checked like a re-verification below, so a change made
//!   before the watch existed is seen by that read.
//! - Node deleted: LOST (unless our own release deleted it).
//! - Node data changed: read it again (re-arming the watch). Still our
//!   identifier, same czxid and ephemeral owner: our own `set_val` (or a
//!   write with our identifier), still HELD; anything else: LOST. ZooKeeper
//!   3.8 does not put the zxid in watch events, so the re-read is how our
//!   own writes are told apart from others'.
//! - Connection lost: SUSPENDED. Reconnected: the same read verifies
//!   ownership, then HELD, else LOST. A reconnect is never reported as LOST
//!   by itself.
//! - Session expired or closed: LOST. Ephemeral locks disconnected for
//!   longer than the session timeout: LOST (the servers expire the session
//!   by then); if the session turns out to be alive after all, our node is
//!   deleted so it does not block the others.
//!
//! Reads run alongside the rest of the loop, never blocking it: a request
//! made just as the connection drops waits for the next connection, and the
//! lock must turn SUSPENDED meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use zookeeper_client as zk;

use super::acquire::is_connection;
use super::{Held, Inner, LockState};
use crate::node::SessionState;
use crate::runtime::Deadline;

type EventFuture = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;
type GetReply = std::result::Result<(Vec<u8>, zk::Stat, zk::OneshotWatcher), zk::Error>;
/// A verification read in flight, with the acquisition it checks.
type ReadFuture = Pin<Box<dyn Future<Output = (Held, GetReply)> + Send>>;

/// Retry delay for a verification that failed without a connection change
/// (throttled, or a reply lost while the session stayed connected).
const RETRY: Duration = Duration::from_millis(200);

enum Verified {
    Held(zk::OneshotWatcher),
    Lost(String),
    /// Could not read the node now; try again later.
    Unsure,
    /// This acquisition is over (released, re-acquired, handle dropped).
    Stale,
}

enum Wake {
    Node(zk::WatchedEvent),
    Read(Held, GetReply),
    Session(Option<SessionState>),
    Expire,
    Retry,
}

/// How a new acquisition's node is watched.
pub(super) enum Watching {
    /// The watch is set.
    Armed(zk::OneshotWatcher),
    /// Not yet: after this delay the node is read with a watch and checked
    /// like a re-verification (so a change before then is seen too).
    Deferred(Duration),
}

pub(super) async fn run(
    weak: Weak<Inner>,
    generation: u64,
    watching: Watching,
    mut session: watch::Receiver<SessionState>,
) {
    let (ephemeral, session_timeout) = match weak.upgrade() {
        Some(inner) => (inner.ephemeral, inner.client.session_timeout()),
        None => return,
    };
    // `retry_at`: when to read (and watch) the node next.
    let (mut watch, mut retry_at): (Option<EventFuture>, Option<Instant>) = match watching {
        Watching::Armed(watcher) => (Some(Box::pin(watcher.changed())), None),
        Watching::Deferred(delay) => (None, Some(Instant::now() + delay)),
    };
    // The verification read in flight (see the module doc).
    let mut reading: Option<ReadFuture> = None;
    let mut last = *session.borrow_and_update();
    let mut suspended_at: Option<Instant> = None;
    if last.is_terminal() {
        lose(&weak, generation, terminal_reason(last));
        return;
    }
    if !can_verify(last) {
        suspend(&weak, generation);
        suspended_at = Some(Instant::now());
    }
    loop {
        let expire_at = if ephemeral { suspended_at.map(|t| t + session_timeout) } else { None };
        let wake = tokio::select! {
            event = async { watch.as_mut().expect("guarded").await }, if watch.is_some() => Wake::Node(event),
            (held, reply) = async { reading.as_mut().expect("guarded").await }, if reading.is_some() => Wake::Read(held, reply),
            changed = session.changed() => Wake::Session(changed.ok().map(|_| *session.borrow_and_update())),
            _ = sleep_until(expire_at), if expire_at.is_some() => Wake::Expire,
            _ = sleep_until(retry_at), if retry_at.is_some() => Wake::Retry,
        };
        let verify_now = match wake {
            Wake::Node(event) => {
                watch = None;
                match event.event_type {
                    zk::EventType::NodeDeleted => {
                        lose(&weak, generation, "the lock node was deleted".to_string());
                        return;
                    }
                    zk::EventType::Session => {
                        let state = SessionState::from_zk(event.session_state);
                        if state.is_terminal() {
                            lose(&weak, generation, terminal_reason(state));
                            return;
                        }
                        // Connection changes come through `session`.
                        can_verify(last)
                    }
                    _ => can_verify(last),
                }
            }
            Wake::Read(held, reply) => {
                reading = None;
                let Some(inner) = weak.upgrade() else { return };
                match judge(&inner, generation, held, reply) {
                    Verified::Held(new_watcher) => {
                        // The new watcher is registered before the old one
                        // is dropped, so the server-side watch is never
                        // removed.
                        watch = Some(Box::pin(new_watcher.changed()));
                        suspended_at = None;
                        retry_at = None;
                        resume(&inner, generation);
                    }
                    Verified::Lost(why) => {
                        lose(&weak, generation, why);
                        return;
                    }
                    Verified::Unsure => {
                        suspend(&weak, generation);
                        suspended_at.get_or_insert_with(Instant::now);
                        retry_at = Some(Instant::now() + RETRY);
                    }
                    Verified::Stale => return,
                }
                continue;
            }
            Wake::Session(None) => {
                lose(&weak, generation, "the client was dropped".to_string());
                return;
            }
            Wake::Session(Some(now)) => {
                // Connected twice in a row: a disconnection we did not see.
                let blip = now.is_connected() && last.is_connected();
                last = now;
                if now.is_terminal() {
                    lose(&weak, generation, terminal_reason(now));
                    return;
                }
                if !can_verify(now) || blip {
                    suspend(&weak, generation);
                    suspended_at.get_or_insert_with(Instant::now);
                    retry_at = None;
                }
                can_verify(now)
            }
            Wake::Expire => {
                let Some(inner) = weak.upgrade() else { return };
                let held = inner.held_of(generation);
                lose(
                    &weak,
                    generation,
                    format!("disconnected for longer than the session timeout ({} ms)", session_timeout.as_millis()),
                );
                // Its own task: a release acknowledging the loss, or the
                // handle being freed, stops this monitor, not the cleanup.
                if let Some(held) = held {
                    crate::runtime::handle().spawn(remove_stale(inner, held, session));
                }
                return;
            }
            Wake::Retry => {
                retry_at = None;
                can_verify(last)
            }
        };
        // A read in flight answers for this wake-up too.
        if !verify_now || reading.is_some() {
            continue;
        }
        let Some(inner) = weak.upgrade() else { return };
        // After a reconnect the server may be a follower behind the one we
        // left: sync it first, so the read sees every change made before.
        match start_read(&inner, generation, suspended_at.is_some()) {
            Ok(read) => reading = Some(read),
            Err(Verified::Lost(why)) => {
                lose(&weak, generation, why);
                return;
            }
            Err(_) => return,
        }
    }
}

pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        // Due already: skip the timer, whose ticks are whole milliseconds.
        Some(at) if at <= Instant::now() => {}
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Ownership is confirmed only through a server that accepts writes: a
/// read-only server may be cut off from the quorum that expired us.
pub(crate) fn can_verify(state: SessionState) -> bool {
    state == SessionState::Connected
}

/// Starts reading the node (re-arming the watch), after a `sync` when
/// asked, to check it is still ours; `Err` when there is nothing to check
/// (`Stale`) or no client.
fn start_read(inner: &Arc<Inner>, generation: u64, sync: bool) -> Result<ReadFuture, Verified> {
    let Some(held) = inner.held_of(generation) else { return Err(Verified::Stale) };
    let zk = inner.client.zk().map_err(|_| Verified::Lost("the client was closed".to_string()))?;
    let path = inner.path.clone();
    Ok(Box::pin(async move {
        if sync {
            if let Err(e) = zk.sync(&path).await {
                return (held, Err(e));
            }
        }
        (held, zk.get_and_watch_data(&path).await)
    }))
}

/// Checks a read of the node against the acquisition it was made for.
fn judge(inner: &Arc<Inner>, generation: u64, held: Held, reply: GetReply) -> Verified {
    match reply {
        Ok((data, stat, watcher)) => {
            if stat.czxid != held.token {
                return Verified::Lost(format!(
                    "the lock node was replaced (czxid {} instead of {})",
                    stat.czxid, held.token
                ));
            }
            if stat.ephemeral_owner != held.owner {
                return Verified::Lost(format!("the lock node is owned by session {:#x}", stat.ephemeral_owner));
            }
            if !inner.holds(&data) {
                return Verified::Lost(format!("the lock node now holds {:?}", String::from_utf8_lossy(&data)));
            }
            let mut s = inner.lock_shared();
            if s.generation != generation {
                return Verified::Stale;
            }
            if let Some(h) = s.held.as_mut() {
                h.watched = true;
                if stat.mzxid >= h.mzxid {
                    h.version = stat.version;
                    h.mzxid = stat.mzxid;
                }
            }
            Verified::Held(watcher)
        }
        Err(zk::Error::NoNode) => Verified::Lost("the lock node was deleted".to_string()),
        Err(zk::Error::SessionExpired) => Verified::Lost("session expired".to_string()),
        Err(zk::Error::ClientClosed) => Verified::Lost("the client was closed".to_string()),
        Err(e) if is_connection(&e) || matches!(e, zk::Error::Throttled | zk::Error::Timeout) => Verified::Unsure,
        Err(e) => Verified::Lost(format!("cannot verify the lock node: {e}")),
    }
}

pub(crate) fn terminal_reason(state: SessionState) -> String {
    match state {
        SessionState::Expired => "session expired".to_string(),
        SessionState::AuthFailed => "authentication failed".to_string(),
        _ => "the client was closed".to_string(),
    }
}

fn suspend(weak: &Weak<Inner>, generation: u64) {
    let Some(inner) = weak.upgrade() else { return };
    let mut s = inner.lock_shared();
    if s.generation == generation && s.state == LockState::Held {
        if let Some(h) = s.held.as_mut() {
            // Ownership must be re-read before a release deletes anything.
            h.checked_release = true;
        }
        inner.transition(&mut s, LockState::Suspended);
    }
}

fn resume(inner: &Inner, generation: u64) {
    let mut s = inner.lock_shared();
    if s.generation == generation && s.state == LockState::Suspended {
        inner.transition(&mut s, LockState::Held);
    }
}

fn lose(weak: &Weak<Inner>, generation: u64, why: String) {
    let Some(inner) = weak.upgrade() else { return };
    let mut s = inner.lock_shared();
    if s.generation != generation || !matches!(s.state, LockState::Held | LockState::Suspended) {
        return;
    }
    if s.releasing {
        // The release in progress decides (its own delete also ends here).
        s.suppressed_loss = Some(why);
        return;
    }
    s.lost_reason = Some(why);
    inner.transition(&mut s, LockState::Lost);
}

/// After an ephemeral lock was declared LOST for a long disconnection: if
/// the session comes back after all, delete its node (if it still is this
/// acquisition's and no handle of this client holds it, e.g. this one
/// after acquiring it again), so it does not block the others. Runs on its
/// own: acknowledging the loss or freeing the handle does not stop it.
async fn remove_stale(inner: Arc<Inner>, held: Held, mut session: watch::Receiver<SessionState>) {
    loop {
        let state = *session.borrow_and_update();
        if state.is_terminal() {
            return;
        }
        if can_verify(state) {
            let Ok(zk) = inner.client.ready(Deadline::never().min_after(inner.client.session_timeout())).await else {
                return;
            };
            let claims = inner.client.lock_claims();
            // A moved version means someone wrote the node: read it again.
            for _ in 0..3 {
                match zk.get_data(&inner.path).await {
                    Ok((data, stat)) => {
                        if !inner.still_ours(&held, &data, &stat) || !claims.start_cleanup(&inner.path, stat.czxid) {
                            return;
                        }
                        let deleted = zk.delete(&inner.path, Some(stat.version)).await;
                        crate::log::cleanup(&inner.path, "stale node removal after a loss", &deleted);
                        claims.end_delete(&inner.path, stat.czxid);
                        match deleted {
                            Ok(()) | Err(zk::Error::NoNode) => return,
                            Err(zk::Error::BadVersion) => continue,
                            Err(_) => break,
                        }
                    }
                    Err(zk::Error::NoNode) => return,
                    Err(_) => break,
                }
            }
        }
        if session.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_that_accepts_writes_confirms_ownership() {
        // The library never asks for read-only connections, so this state
        // cannot be produced against a server in a test; the rule stands
        // for when it can.
        assert!(can_verify(SessionState::Connected));
        for state in [
            SessionState::ConnectedReadOnly,
            SessionState::Suspended,
            SessionState::Expired,
            SessionState::AuthFailed,
            SessionState::Closed,
        ] {
            assert!(!can_verify(state), "{state:?}");
        }
    }
}
