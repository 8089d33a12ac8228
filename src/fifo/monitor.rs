//! The task that follows a held FIFO lock: a watch on our node and the
//! session state decide between HELD, SUSPENDED and LOST, as for the
//! k3zkutil lock (see `crate::lock`'s monitor):
//!
//! - `DEFAULT_WATCH_DELAY` after acquiring, and after every reconnect
//!   (then behind a `sync`, so a follower that lags shows every change),
//!   our node is read with a watch and the contenders listed: ours must
//!   exist with our czxid and session and be first, else LOST;
//! - our node deleted: LOST; connection lost: SUSPENDED (a read-only
//!   server never confirms); session expired or closed: LOST;
//!   disconnected for longer than the session timeout: LOST, and our node
//!   is deleted if the session turns out to be alive after all.
//!
//! Reads run alongside the session changes in one `select!`, never
//! inline: a request made as the connection drops waits for the next one.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use zookeeper_client as zk;

use super::acquire::Target;
use super::{Held, Inner};
use crate::lock::monitor::{can_verify, sleep_until, terminal_reason};
use crate::lock::{DEFAULT_WATCH_DELAY, LockState};
use crate::node::SessionState;
use crate::sequential::{self, Layout, is_connection};

type EventFuture = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;
/// Our node's stat with its watch, and the contenders.
type ReadReply = std::result::Result<(Option<zk::Stat>, zk::OneshotWatcher, Vec<String>), zk::Error>;
type ReadFuture = Pin<Box<dyn Future<Output = ReadReply> + Send>>;

/// Retry delay for a verification that failed without a connection change.
const RETRY: Duration = Duration::from_millis(200);

enum Verified {
    Held(zk::OneshotWatcher),
    Lost(String),
    Unsure,
}

enum Wake {
    Node(zk::WatchedEvent),
    Read(ReadReply),
    Session(Option<SessionState>),
    Expire,
    Retry,
}

pub(super) async fn run(weak: Weak<Inner>, generation: u64, held: Held, mut session: watch::Receiver<SessionState>) {
    let session_timeout = match weak.upgrade() {
        Some(inner) => inner.client.session_timeout(),
        None => return,
    };
    let mut watch: Option<EventFuture> = None;
    let mut reading: Option<ReadFuture> = None;
    let mut retry_at = Some(Instant::now() + DEFAULT_WATCH_DELAY);
    let mut suspended_at: Option<Instant> = None;
    let mut last = *session.borrow_and_update();
    if last.is_terminal() {
        lose(&weak, generation, terminal_reason(last));
        return;
    }
    if !can_verify(last) {
        set_state(&weak, generation, LockState::Suspended);
        suspended_at = Some(Instant::now());
    }
    loop {
        let expire_at = suspended_at.map(|t| t + session_timeout);
        let wake = tokio::select! {
            event = async { watch.as_mut().expect("guarded").await }, if watch.is_some() => Wake::Node(event),
            reply = async { reading.as_mut().expect("guarded").await }, if reading.is_some() => Wake::Read(reply),
            changed = session.changed() => Wake::Session(changed.ok().map(|_| *session.borrow_and_update())),
            _ = sleep_until(expire_at), if expire_at.is_some() => Wake::Expire,
            _ = sleep_until(retry_at), if retry_at.is_some() => Wake::Retry,
        };
        let verify_now = match wake {
            Wake::Node(event) => {
                watch = None;
                if event.event_type == zk::EventType::NodeDeleted {
                    lose(&weak, generation, "our lock node was deleted".to_string());
                    return;
                }
                // Session events come through `session` too.
                can_verify(last)
            }
            Wake::Read(reply) => {
                reading = None;
                match judge(&held, inner_rule(&weak, &held), reply) {
                    Verified::Held(watcher) => {
                        watch = Some(Box::pin(watcher.changed()));
                        suspended_at = None;
                        retry_at = None;
                        set_state(&weak, generation, LockState::Held);
                    }
                    Verified::Lost(why) => {
                        lose(&weak, generation, why);
                        return;
                    }
                    Verified::Unsure => {
                        set_state(&weak, generation, LockState::Suspended);
                        suspended_at.get_or_insert_with(Instant::now);
                        retry_at = Some(Instant::now() + RETRY);
                    }
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
                    set_state(&weak, generation, LockState::Suspended);
                    suspended_at.get_or_insert_with(Instant::now);
                    retry_at = None;
                }
                can_verify(now)
            }
            Wake::Expire => {
                lose(
                    &weak,
                    generation,
                    format!("disconnected for longer than the session timeout ({} ms)", session_timeout.as_millis()),
                );
                // Its own task: the release acknowledging the loss or the
                // handle's close do not stop it.
                if let Some(inner) = weak.upgrade() {
                    inner.spawn_delete(Target::Name(held.name.clone()));
                }
                return;
            }
            Wake::Retry => {
                retry_at = None;
                can_verify(last)
            }
        };
        if !verify_now || reading.is_some() {
            continue;
        }
        let Some(inner) = weak.upgrade() else { return };
        reading = Some(start_read(&inner, &held, suspended_at.is_some()));
    }
}

/// Reads our node with a watch and lists the contenders, after a `sync`
/// when asked (after a reconnect).
fn start_read(inner: &Arc<Inner>, held: &Held, sync: bool) -> ReadFuture {
    let client = inner.client.zk();
    let dir = inner.dir.clone();
    let path = inner.node_path(&held.name);
    Box::pin(async move {
        let zk = client.map_err(|_| zk::Error::ClientClosed)?;
        if sync {
            zk.sync(&path).await?;
        }
        let (stat, watcher) = zk.check_and_watch_stat(&path).await?;
        let children = zk.list_children(&dir).await?;
        Ok((stat, watcher, children))
    })
}

fn judge(held: &Held, rule: Option<(Layout, Option<String>)>, reply: ReadReply) -> Verified {
    match reply {
        Ok((None, _, _)) => Verified::Lost("our lock node was deleted".to_string()),
        Ok((Some(stat), watcher, children)) => {
            if stat.czxid != held.czxid || stat.ephemeral_owner != held.owner {
                return Verified::Lost(format!(
                    "our lock node was replaced (czxid {}, owner {:#x})",
                    stat.czxid, stat.ephemeral_owner
                ));
            }
            let Some((layout, own_writer)) = rule else { return Verified::Unsure };
            let contenders = sequential::contenders(children, layout.markers);
            match sequential::blocker(&contenders, &held.name, layout.rule, own_writer.as_deref()) {
                Ok(None) => Verified::Held(watcher),
                _ => Verified::Lost(format!("our lock node no longer holds (first: {:?})", contenders.first())),
            }
        }
        Err(zk::Error::SessionExpired) => Verified::Lost("session expired".to_string()),
        Err(zk::Error::ClientClosed) => Verified::Lost("the client was closed".to_string()),
        Err(e) if is_connection(&e) || matches!(e, zk::Error::Throttled | zk::Error::Timeout) => Verified::Unsure,
        Err(e) => Verified::Lost(format!("cannot verify our lock node: {e}")),
    }
}

/// The handle's layout and the write side's node it never waits for
/// (none once the handle is dropped).
fn inner_rule(weak: &Weak<Inner>, held: &Held) -> Option<(Layout, Option<String>)> {
    weak.upgrade().map(|inner| (inner.layout, inner.own_writer(held.behind.as_ref())))
}

/// HELD <-> SUSPENDED for this acquisition only.
fn set_state(weak: &Weak<Inner>, generation: u64, new: LockState) {
    let Some(inner) = weak.upgrade() else { return };
    let mut s = inner.lock_shared();
    if s.generation == generation && matches!(s.state, LockState::Held | LockState::Suspended) {
        inner.transition(&mut s, new);
    }
}

fn lose(weak: &Weak<Inner>, generation: u64, why: String) {
    let Some(inner) = weak.upgrade() else { return };
    let mut s = inner.lock_shared();
    if s.generation != generation || s.releasing || !matches!(s.state, LockState::Held | LockState::Suspended) {
        return;
    }
    s.lost_reason = Some(why);
    inner.transition(&mut s, LockState::Lost);
}
