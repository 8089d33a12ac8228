//! The reader's task on the runtime: read with a watch, wait for the watch
//! or a session change, read again. When the client renews sessions, an
//! expiry is an outage like a lost connection (stale), followed by a read
//! on the new session (changed if the node changed meanwhile, fresh).

use std::sync::Arc;
use std::time::Duration;

use zookeeper_client as zk;

use super::{ReaderState, Shared};
use crate::client::Client;
use crate::error::{Code, Error};
use crate::node::{SessionState, Stat};
use crate::runtime::Deadline;

/// Pause before reading again after an error that is not a lost connection
/// (e.g. no read permission), so a lasting failure does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(1000);
/// Pause after a lost connection the session state has not shown yet.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

pub(super) async fn follow(shared: Arc<Shared>, client: Client, first: zk::OneshotWatcher) {
    let path = shared.path.clone();
    let mut states = client.state_receiver();
    // The watch, counted in the client's statistics while waited on.
    let mut watcher = Some((first, client.counters().watching()));
    'session: loop {
        // Wait for the watch or a session change (unless already off line).
        // A receiver's `changed()` fails once its session was renewed (its
        // last state, Expired, stays readable).
        if let Some((w, _watching)) = watcher.take() {
            if states.borrow_and_update().is_connected() {
                tokio::select! {
                    event = w.changed() => {
                        if event.event_type == zk::EventType::Session {
                            let state = SessionState::from_zk(event.session_state);
                            if client.ends_following(state) {
                                finish(&shared, state);
                                return;
                            }
                        }
                    }
                    _ = states.changed() => {}
                }
            }
        }
        let state = *states.borrow_and_update();
        if client.ends_following(state) {
            finish(&shared, state);
            return;
        }
        if !state.is_connected() {
            shared.update(|snap, events| snap.disconnected(events));
        }
        let zk = match client.ready(Deadline::never()).await {
            Ok(zk) => zk,
            Err(e) => {
                finish(&shared, terminal_of(&e));
                return;
            }
        };
        // Follow the session the read is made on (a renewed one, too).
        states = client.state_receiver();
        // A read made as the connection drops waits for the next
        // connection: follow the session meanwhile, so the outage is
        // reported as it happens.
        let reply = read(&client, &zk, &path);
        tokio::pin!(reply);
        let reply = loop {
            tokio::select! {
                reply = &mut reply => break reply,
                changed = states.changed() => {
                    let state = *states.borrow_and_update();
                    if client.ends_following(state) {
                        finish(&shared, state);
                        return;
                    }
                    if !state.is_connected() {
                        shared.update(|snap, events| snap.disconnected(events));
                    }
                    if changed.is_err() || state == SessionState::Expired {
                        // Renewing: the read on the old session is lost.
                        continue 'session;
                    }
                }
            }
        };
        match reply {
            Ok(Read::Data(data, stat, w)) => {
                shared.update(|snap, events| {
                    snap.read(&path, data, stat, events);
                    snap.resynced(events);
                });
                watcher = Some((w, client.counters().watching()));
            }
            Ok(Read::Absent(w)) => {
                shared.update(|snap, events| {
                    snap.deleted(&path, events);
                    snap.resynced(events);
                });
                watcher = Some((w, client.counters().watching()));
            }
            Ok(Read::Again) => {}
            Err(e) => match e.code() {
                Code::ConnectionLoss => {
                    shared.update(|snap, events| snap.disconnected(events));
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                Code::SessionExpired if client.renews_session() => {
                    shared.update(|snap, events| snap.disconnected(events));
                }
                Code::SessionExpired | Code::Closed | Code::AuthFailed => {
                    finish(&shared, terminal_of(&e));
                    return;
                }
                _ => {
                    shared.update(|snap, events| {
                        snap.failed(e.context(format!("reader {path}")), events);
                        snap.resynced(events);
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_PAUSE) => {}
                        _ = states.changed() => {}
                    }
                }
            },
        }
    }
}

enum Read {
    Data(Vec<u8>, Stat, zk::OneshotWatcher),
    /// No node; the watch fires when it is created.
    Absent(zk::OneshotWatcher),
    /// Created between two requests: read again.
    Again,
}

async fn read(client: &Client, zk: &zk::Client, path: &str) -> Result<Read, Error> {
    let what = format!("reader {path}");
    match client.request(&what, Deadline::never(), zk.get_and_watch_data(path)).await? {
        Ok((data, stat, w)) => Ok(Read::Data(data, Stat::from(&stat), w)),
        Err(zk::Error::NoNode) => {
            match client.request(&what, Deadline::never(), zk.check_and_watch_stat(path)).await?? {
                (Some(_), _) => Ok(Read::Again),
                (None, w) => Ok(Read::Absent(w)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn terminal_of(e: &Error) -> SessionState {
    if e.code() == Code::SessionExpired { SessionState::Expired } else { SessionState::Closed }
}

fn finish(shared: &Shared, state: SessionState) {
    let final_state = if state == SessionState::Expired { ReaderState::Expired } else { ReaderState::Closed };
    shared.update(|snap, events| snap.finish(final_state, events));
}
