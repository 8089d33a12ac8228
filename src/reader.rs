//! The cached reader (k3zkutil's `CachedReader`): a JSON object kept equal
//! to a node's decoded data through watches, that survives reconnects.
//!
//! A task on the runtime reads the node with a one-shot watch and re-reads
//! on every watch event. Unlike k3zkutil it does not stop on the first
//! connection change: while disconnected the reader is *stale* (state and
//! event), and once connected again it re-reads and reports a change that
//! happened meanwhile, then *fresh*. Deletion, data that is not a JSON
//! object, and session expiry are reported as their own events and states.
//!
//! Events go to an optional callback through a [`Delivery`] (in order, on
//! a callback delivery thread, bounded by `events`); [`Reader::watch`] is
//! the pull alternative.

mod events;
mod follow;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;

use crate::cancel;
use crate::client::Client;
use crate::dispatch::Delivery;
use crate::error::{Code, Error, Result};
use crate::log::{Level, log_event};
use crate::node::Stat;
use crate::notify::Notifier;
use crate::runtime::{self, Timeout};

/// What the reader knows about its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReaderState {
    /// The value is the node's current data.
    Fresh,
    /// Disconnected: the value may be out of date.
    Stale,
    /// The node does not exist; the value is its last data.
    Deleted,
    /// The node's data is not a JSON object; the value is the last good one.
    Invalid,
    /// The session expired. Final.
    Expired,
    /// The reader or its client was closed (or authentication failed). Final.
    Closed,
}

impl ReaderState {
    pub fn is_final(self) -> bool {
        matches!(self, ReaderState::Expired | ReaderState::Closed)
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The value changed (`old` -> `new`).
    Changed,
    /// The connection was lost.
    Stale,
    /// Reconnected and re-read (a `Changed` precedes it when the node
    /// changed meanwhile).
    Fresh,
    /// The node was deleted; the reader waits for it to be created again.
    Deleted,
    /// The node's data is not a JSON object (see `error`).
    Invalid,
    /// The session expired. Last event.
    Expired,
    /// The client was closed or authentication failed. Last event.
    Closed,
}

/// One event, as the callback receives it.
#[derive(Debug, Clone)]
pub struct ReaderEvent {
    pub kind: EventKind,
    pub path: Arc<str>,
    /// JSON text before the event (equal to `new` except for `Changed`).
    pub old: Arc<str>,
    pub new: Arc<str>,
    /// The stat of `new`.
    pub stat: Stat,
    /// For `Invalid`: why ([`Code::NotJsonObject`], [`Code::BadJson`],
    /// [`Code::NoAuth`], ...).
    pub error: Option<Error>,
}

/// Called on every event, on a callback delivery thread, one call at a
/// time, in order. Events a stuck callback could not keep up with are
/// summarized (see `events`).
pub type ReaderCallback = Box<dyn FnMut(&ReaderEvent) + Send>;

/// A change reported by [`Reader::watch`].
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Arc<str>,
    pub new: Arc<str>,
    pub stat: Stat,
}

/// A decoded node value: the text as stored and the object it holds.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    text: Arc<str>,
    value: Arc<Value>,
}

impl Doc {
    /// Node data that must be a UTF-8 JSON object.
    pub(crate) fn decode(data: Vec<u8>) -> Result<Doc> {
        let text = crate::json::text_from_bytes(data)?;
        let value = crate::json::parse(&text)?;
        if !value.is_object() {
            return Err(Error::new(
                Code::NotJsonObject,
                format!("node data is JSON but not an object: {}", kind_of(&value)),
            ));
        }
        Ok(Doc { text: text.into(), value: Arc::new(value) })
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Shared between the handle, the follow task and `watch` callers.
pub(crate) struct Shared {
    path: Arc<str>,
    snapshot: Mutex<Snapshot>,
    changed: Condvar,
    callback: Delivery<events::Waiting>,
    /// Readable after every update, for event loops.
    notifier: Notifier,
}

pub(crate) struct Snapshot {
    doc: Doc,
    stat: Stat,
    state: ReaderState,
    connected: bool,
    /// Why the node is unusable (Deleted / Invalid), if it is.
    problem: Option<Error>,
    /// Counts value changes and problems, for `watch`.
    changes: u64,
    problems: u64,
    /// Where `watch` callers are: the last change and problem they saw.
    cursor_changes: u64,
    cursor_problems: u64,
    cursor_text: Arc<str>,
    /// (czxid, mzxid) of the last read, valid or not.
    seen: Option<(i64, i64)>,
    closed_by_user: bool,
}

impl Snapshot {
    /// The state right after the first read of a valid object.
    fn fresh(doc: Doc, stat: Stat) -> Snapshot {
        Snapshot {
            cursor_text: doc.text.clone(),
            doc,
            stat,
            state: ReaderState::Fresh,
            connected: true,
            problem: None,
            changes: 0,
            problems: 0,
            cursor_changes: 0,
            cursor_problems: 0,
            seen: Some((stat.czxid, stat.mzxid)),
            closed_by_user: false,
        }
    }

    fn state(&self) -> ReaderState {
        self.state
    }
}

/// The waiting side of a reader, see [`Reader::watcher`].
pub struct Watcher(Arc<Shared>);

impl Watcher {
    /// As [`Reader::watch`].
    pub fn watch(&self, timeout: Timeout) -> Result<Change> {
        self.0.watch(timeout)
    }
}

/// A cached reader. Thread-safe; close it with [`Reader::close`] (also on drop).
pub struct Reader {
    shared: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    client: Client,
}

impl Reader {
    /// Reads the node (which must exist and hold a JSON object) and starts
    /// following it. Blocking, up to `timeout`. Errors: [`Code::NoNode`],
    /// [`Code::NotJsonObject`], [`Code::BadJson`], [`Code::NoAuth`], path
    /// and connection errors.
    pub fn new(client: &Client, path: &str, callback: Option<ReaderCallback>, timeout: Timeout) -> Result<Reader> {
        client.validate_path(path)?;
        let what = format!("reader {path}");
        let deadline = timeout.deadline();
        let request_deadline = client.reply_deadline(timeout, deadline);
        let (doc, stat, watcher) = runtime::block_on(async {
            loop {
                let zk = client.ready(deadline).await.map_err(|e| e.context(&what))?;
                match client.request(&what, request_deadline, zk.get_and_watch_data(path)).await? {
                    Ok((data, stat, watcher)) => {
                        let doc = Doc::decode(data).map_err(|e| e.context(&what))?;
                        return Ok((doc, Stat::from(&stat), watcher));
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        if e.code() == Code::ConnectionLoss && !deadline.is_expired() {
                            // The state may show the loss a moment later.
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        }
                        return Err(e.context(&what));
                    }
                }
            }
        })?;
        let path: Arc<str> = path.into();
        let delivery = client.delivery(events::Waiting::default());
        if let Some(mut callback) = callback {
            delivery.set_callback(Some(Box::new(move |event: ReaderEvent| callback(&event))))?;
        }
        let snapshot = Snapshot::fresh(doc, stat);
        let shared = Arc::new(Shared {
            path,
            snapshot: Mutex::new(snapshot),
            changed: Condvar::new(),
            callback: delivery,
            notifier: Notifier::default(),
        });
        let task = runtime::handle().spawn(follow::follow(shared.clone(), client.clone(), watcher));
        Ok(Reader { shared, task: Mutex::new(Some(task)), client: client.clone() })
    }

    pub fn path(&self) -> &str {
        &self.shared.path
    }

    pub fn state(&self) -> ReaderState {
        self.shared.lock().state()
    }

    /// The whole value as JSON text (as stored in the node) and its stat.
    /// After close: [`Code::Closed`].
    pub fn get(&self) -> Result<(Arc<str>, Stat)> {
        let snap = self.shared.lock();
        if snap.closed_by_user {
            return Err(Error::closed(format!("reader {}: closed", self.shared.path)));
        }
        Ok((snap.doc.text.clone(), snap.stat))
    }

    /// One member by JSON Pointer (RFC 6901, e.g. `/jobs/num`; "" is the
    /// whole object), as compact JSON text. Errors: [`Code::NoMember`],
    /// [`Code::InvalidArgument`] (not a pointer), [`Code::Closed`].
    pub fn get_pointer(&self, pointer: &str) -> Result<String> {
        let value = {
            let snap = self.shared.lock();
            if snap.closed_by_user {
                return Err(Error::closed(format!("reader {}: closed", self.shared.path)));
            }
            snap.doc.value.clone()
        };
        crate::json::member_at(&value, pointer).map_err(|e| e.context(format_args!("reader {}", self.shared.path)))
    }

    /// Blocks until the value changes after the last change `watch`
    /// returned (at once if it already did: changes are never missed, but
    /// several may be coalesced into one) and returns old and new.
    /// Callers share one position: one consumer per reader.
    ///
    /// Errors: [`Code::OperationTimeout`]; [`Code::NoNode`] once per
    /// deletion, [`Code::NotJsonObject`] / [`Code::BadJson`] / others once
    /// per bad value (the reader goes on; a later valid value is a change);
    /// [`Code::Closed`] after close (wakes blocked callers) or when the
    /// client closed; [`Code::SessionExpired`].
    pub fn watch(&self, timeout: Timeout) -> Result<Change> {
        self.watcher().watch(timeout)
    }

    /// What [`Reader::watch`] waits with, usable after the handle is gone:
    /// a C caller may free the reader while another thread waits in watch
    /// (the free closes the reader, which wakes the waiter).
    pub fn watcher(&self) -> Watcher {
        Watcher(self.shared.clone())
    }

    /// The client this reader follows the node with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A descriptor that becomes readable on every event (the events of
    /// the callback: changes, stale, fresh, deleted, invalid, final states)
    /// and once right after it is first asked for, for poll/epoll loops. It
    /// belongs to the reader: do not close it. Empty it with
    /// [`Reader::drain_notifications`], then read the value ([`Reader::get`])
    /// or the change ([`Reader::watch`] with [`Timeout::NoWait`]).
    pub fn pollable_fd(&self) -> Result<std::os::fd::RawFd> {
        self.shared.notifier.fd()
    }

    /// Empties the descriptor of [`Reader::pollable_fd`] and returns the
    /// current state.
    pub fn drain_notifications(&self) -> ReaderState {
        self.shared.notifier.drain();
        self.state()
    }
    /// Stops following the node: blocked and later `watch` calls return
    /// [`Code::Closed`]. Events that happened before are still delivered,
    /// then the callback is dropped; once this returns it is not called
    /// again. Called from the callback itself, it returns at once and the
    /// callback is not called again after it returns. Idempotent.
    pub fn close(&self) {
        {
            let mut snap = self.shared.lock();
            snap.closed_by_user = true;
            snap.state = ReaderState::Closed;
        }
        self.shared.changed.notify_all();
        self.shared.notifier.signal();
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
        // From here on nothing is posted (the snapshot is final). Events
        // posted before are still delivered when closing from outside; from
        // inside the callback they are dropped, since the callback must not
        // run again once it returns.
        self.shared.callback.close();
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch(&self, timeout: Timeout) -> Result<Change> {
        let deadline = timeout.deadline();
        let mut snap = self.lock();
        loop {
            if snap.closed_by_user || snap.state == ReaderState::Closed {
                return Err(Error::closed(format!("reader {}: closed", self.path)));
            }
            if snap.changes > snap.cursor_changes {
                let new = snap.doc.text.clone();
                let old = std::mem::replace(&mut snap.cursor_text, new);
                snap.cursor_changes = snap.changes;
                snap.cursor_problems = snap.problems;
                return Ok(Change { old, new: snap.doc.text.clone(), stat: snap.stat });
            }
            if snap.problems > snap.cursor_problems {
                snap.cursor_problems = snap.problems;
                if let Some(problem) = &snap.problem {
                    return Err(problem.clone());
                }
            }
            if snap.state == ReaderState::Expired {
                return Err(Error::new(Code::SessionExpired, format!("reader {}: session expired", self.path)));
            }
            cancel::check().map_err(|e| e.context(format!("reader {}", self.path)))?;
            // A caller's cancel is polled (a client's close reaches the
            // reader through its session state).
            let poll = cancel::needs_polling().then_some(cancel::POLL);
            let left = deadline.instant().map(|at| at.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Err(Error::timeout(format!("reader {}: no change before the timeout", self.path)));
            }
            snap = match left.into_iter().chain(poll).min() {
                None => self.changed.wait(snap).unwrap_or_else(|e| e.into_inner()),
                Some(wait) => self.changed.wait_timeout(snap, wait).unwrap_or_else(|e| e.into_inner()).0,
            };
        }
    }

    /// Applies `update` to the snapshot (unless final), wakes `watch`
    /// callers and posts the events it returns, in order.
    pub(crate) fn update(&self, update: impl FnOnce(&mut Snapshot, &mut Vec<EventKind>)) {
        let mut events = Vec::new();
        let mut posted = Vec::new();
        {
            let mut snap = self.lock();
            if snap.state.is_final() {
                return;
            }
            let old_text = snap.doc.text.clone();
            update(&mut snap, &mut events);
            for kind in events {
                let old = if kind == EventKind::Changed { old_text.clone() } else { snap.doc.text.clone() };
                let error = if kind == EventKind::Invalid { snap.problem.clone() } else { None };
                posted.push(ReaderEvent {
                    kind,
                    path: self.path.clone(),
                    old,
                    new: snap.doc.text.clone(),
                    stat: snap.stat,
                    error,
                });
            }
            // Posted under the snapshot lock so events stay in the order of
            // the updates (posting never blocks).
            for event in posted {
                log_reader_event(&event);
                self.callback.post((event, snap.state));
            }
        }
        self.changed.notify_all();
        self.notifier.signal();
    }
}

/// Logs a reader event: a change or a resync is information, trouble a
/// warning, the end of the session an error (a close is information).
fn log_reader_event(e: &ReaderEvent) {
    let (path, version) = (&e.path, e.stat.version);
    match e.kind {
        EventKind::Changed => log_event!(Level::Info, "reader {path}: changed (version {version})"),
        EventKind::Fresh => log_event!(Level::Info, "reader {path}: fresh again (version {version})"),
        EventKind::Stale => log_event!(Level::Warn, "reader {path}: stale (connection lost)"),
        EventKind::Deleted => log_event!(Level::Warn, "reader {path}: node deleted"),
        EventKind::Invalid => log_event!(
            Level::Warn,
            "reader {path}: invalid data (version {version}): {}",
            e.error.as_ref().map_or(String::new(), |err| err.to_string())
        ),
        EventKind::Expired => log_event!(Level::Error, "reader {path}: session expired"),
        EventKind::Closed => log_event!(Level::Info, "reader {path}: closed"),
    }
}

impl Snapshot {
    /// The public state from the connection and the node's status.
    fn recompute(&mut self) {
        if self.state.is_final() {
            return;
        }
        self.state = match &self.problem {
            _ if !self.connected => ReaderState::Stale,
            Some(p) if p.code() == Code::NoNode => ReaderState::Deleted,
            Some(_) => ReaderState::Invalid,
            None => ReaderState::Fresh,
        };
    }

    /// A successful read of the node.
    pub(crate) fn read(&mut self, path: &str, data: Vec<u8>, stat: Stat, events: &mut Vec<EventKind>) {
        let id = (stat.czxid, stat.mzxid);
        if self.seen == Some(id) {
            // Nothing new (a bad value already reported stays reported).
            return;
        }
        self.seen = Some(id);
        match Doc::decode(data) {
            Ok(doc) => {
                self.doc = doc;
                self.stat = stat;
                self.problem = None;
                self.changes += 1;
                events.push(EventKind::Changed);
            }
            Err(e) => {
                self.problem = Some(e.context(format!("reader {path} (version {})", stat.version)));
                self.problems += 1;
                events.push(EventKind::Invalid);
            }
        }
        self.recompute();
    }

    /// The node is gone.
    pub(crate) fn deleted(&mut self, path: &str, events: &mut Vec<EventKind>) {
        self.seen = None;
        if self.problem.as_ref().is_some_and(|p| p.code() == Code::NoNode) {
            return;
        }
        self.problem = Some(Error::new(Code::NoNode, format!("reader {path}: the node was deleted")));
        self.problems += 1;
        events.push(EventKind::Deleted);
        self.recompute();
    }

    /// Reading failed for another reason (no read permission, ...).
    pub(crate) fn failed(&mut self, error: Error, events: &mut Vec<EventKind>) {
        self.seen = None;
        if self.problem.as_ref().is_some_and(|p| p.code() == error.code()) {
            return;
        }
        self.problem = Some(error);
        self.problems += 1;
        events.push(EventKind::Invalid);
        self.recompute();
    }

    pub(crate) fn disconnected(&mut self, events: &mut Vec<EventKind>) {
        if self.connected {
            self.connected = false;
            events.push(EventKind::Stale);
            self.recompute();
        }
    }

    /// Called after the first read or check following `disconnected`.
    pub(crate) fn resynced(&mut self, events: &mut Vec<EventKind>) {
        if !self.connected {
            self.connected = true;
            events.push(EventKind::Fresh);
            self.recompute();
        }
    }

    pub(crate) fn finish(&mut self, state: ReaderState, events: &mut Vec<EventKind>) {
        self.state = state;
        events.push(if state == ReaderState::Expired { EventKind::Expired } else { EventKind::Closed });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(text: &str) -> Snapshot {
        let doc = Doc::decode(text.as_bytes().to_vec()).unwrap();
        Snapshot::fresh(doc, Stat { czxid: 1, mzxid: 1, ..Stat::default() })
    }

    fn stat(czxid: i64, mzxid: i64, version: i32) -> Stat {
        Stat { czxid, mzxid, version, ..Stat::default() }
    }

    #[test]
    fn decode_wants_a_utf8_json_object() {
        assert!(Doc::decode(b"{\"a\": [1]}".to_vec()).is_ok());
        assert_eq!(Doc::decode(b"[1]".to_vec()).unwrap_err().code(), Code::NotJsonObject);
        assert_eq!(Doc::decode(b"\"s\"".to_vec()).unwrap_err().code(), Code::NotJsonObject);
        assert_eq!(Doc::decode(b"{".to_vec()).unwrap_err().code(), Code::BadJson);
        assert_eq!(Doc::decode(vec![0xff]).unwrap_err().code(), Code::BadJson);
    }

    #[test]
    fn reads_report_changes_once_and_problems_once() {
        let mut s = snapshot("{\"n\": 0}");
        let mut ev = Vec::new();
        s.read("/p", b"{\"n\": 0}".to_vec(), stat(1, 1, 0), &mut ev);
        assert!(ev.is_empty(), "same mzxid: nothing new");
        s.read("/p", b"{\"n\": 0}".to_vec(), stat(1, 2, 1), &mut ev);
        assert_eq!(ev, [EventKind::Changed], "a write of the same bytes is a change");
        ev.clear();
        s.read("/p", b"[1]".to_vec(), stat(1, 3, 2), &mut ev);
        assert_eq!((ev.as_slice(), s.state), (&[EventKind::Invalid][..], ReaderState::Invalid));
        assert_eq!(&*s.doc.text, "{\"n\": 0}", "the last good value stays");
        ev.clear();
        s.read("/p", b"[1]".to_vec(), stat(1, 3, 2), &mut ev);
        assert!(ev.is_empty(), "the same bad value is reported once");
        s.deleted("/p", &mut ev);
        s.deleted("/p", &mut ev);
        assert_eq!((ev.as_slice(), s.state), (&[EventKind::Deleted][..], ReaderState::Deleted));
        ev.clear();
        s.read("/p", b"{\"n\": 5}".to_vec(), stat(9, 9, 0), &mut ev);
        assert_eq!((ev.as_slice(), s.state), (&[EventKind::Changed][..], ReaderState::Fresh));
        assert_eq!((s.changes, s.problems), (2, 2));
    }

    #[test]
    fn stale_then_resync_reports_change_before_fresh() {
        let mut s = snapshot("{}");
        let mut ev = Vec::new();
        s.disconnected(&mut ev);
        s.disconnected(&mut ev);
        assert_eq!((ev.as_slice(), s.state), (&[EventKind::Stale][..], ReaderState::Stale));
        ev.clear();
        s.read("/p", b"{\"x\": 1}".to_vec(), stat(1, 5, 1), &mut ev);
        assert_eq!(s.state, ReaderState::Stale, "still stale until resynced");
        s.resynced(&mut ev);
        assert_eq!((ev.as_slice(), s.state), (&[EventKind::Changed, EventKind::Fresh][..], ReaderState::Fresh));
        ev.clear();
        // Disconnected while deleted: back to Deleted, not Fresh.
        s.deleted("/p", &mut ev);
        s.disconnected(&mut ev);
        assert_eq!(s.state, ReaderState::Stale);
        s.deleted("/p", &mut ev);
        s.resynced(&mut ev);
        assert_eq!(
            (ev.as_slice(), s.state),
            (&[EventKind::Deleted, EventKind::Stale, EventKind::Fresh][..], ReaderState::Deleted)
        );
    }

    #[test]
    fn nothing_changes_or_is_posted_after_a_final_state() {
        let (tx, rx) = std::sync::mpsc::channel();
        let callback = Delivery::new(events::Waiting::default());
        callback.set_callback(Some(Box::new(move |e: ReaderEvent| tx.send(e.kind).unwrap()))).unwrap();
        let shared = Shared {
            path: "/p".into(),
            snapshot: Mutex::new(snapshot("{}")),
            changed: Condvar::new(),
            callback,
            notifier: Notifier::default(),
        };
        shared.update(|s, ev| s.finish(ReaderState::Expired, ev));
        shared.update(|s, ev| s.disconnected(ev));
        shared.update(|s, ev| s.read("/p", b"{\"a\": 1}".to_vec(), stat(1, 7, 1), ev));
        assert_eq!(shared.lock().state, ReaderState::Expired);
        assert_eq!(&*shared.lock().doc.text, "{}");
        shared.callback.close();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [EventKind::Expired]);
    }
}
