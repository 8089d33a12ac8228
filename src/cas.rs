//! Compare-and-swap on a znode's version (k3zkutil's `cas_loop`).
//!
//! [`Cas`] holds the last read of a node (bytes, stat, and in JSON mode the
//! validated text); [`Cas::commit`] writes a new value with the version of
//! that read: exactly one `get` then one versioned `set`, no other round
//! trip. A conflict gives [`Code::BadVersion`] and [`Cas::reread`] refreshes
//! the handle. [`update`] runs the whole loop around a closure.
//!
//! A write cut off in flight (connection loss, timeout while waiting for the
//! reply, session expiry) gives [`Code::OutcomeUnknown`]. [`Cas::resolve`]
//! then finds out what it can, once connected again, without risking a
//! second application: it re-sends the *same versioned* write. Both copies
//! expect the same version (or both create the node), so at most one of
//! them can ever be applied:
//! - the retry succeeds: the value is now written exactly once (`Ok`);
//! - the retry of a set conflicts and the same node (same czxid) holds, at
//!   the version the lost write would have produced, different bytes: the
//!   lost write was not applied ([`Code::BadVersion`], a plain conflict:
//!   re-read and go on);
//! - the retry of a create finds a node: ours may have been applied, then
//!   deleted and replaced, so that is [`Code::OutcomeUnknown`] too;
//! - otherwise (the node holds our bytes at that version, which another
//!   writer computing the same value from the same read could also have
//!   written; or it moved on, was deleted or re-created): still
//!   [`Code::OutcomeUnknown`]. ZooKeeper keeps no request ids, so nothing
//!   more can be learnt.

use crate::client::{Client, remaining};
use crate::error::{Code, Error, Result};
use crate::json;
use crate::node::{CreateOptions, Stat};
use crate::packet::Write;
use crate::path;
use crate::runtime::Timeout;

/// How a CAS handle reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasOptions {
    /// Values are UTF-8 JSON text, validated on read and on write
    /// (`cas_loop(json=True)`); otherwise raw bytes.
    pub json: bool,
    /// When the node does not exist, act as if it held this value, and
    /// create the node (persistent, default ACL) on commit. `None`: a missing
    /// node is [`Code::NoNode`].
    pub create_with: Option<Vec<u8>>,
    /// With `create_with`: also create missing parents.
    pub create_parents: bool,
}

/// A write whose fate is not known yet.
#[derive(Debug, Clone)]
struct Pending {
    data: Vec<u8>,
    /// The read it was based on; `None`: it was a create.
    base: Option<Stat>,
}

/// A compare-and-swap handle: the last read of one node. Not shared between
/// threads (its methods take `&mut self`).
pub struct Cas {
    client: Client,
    path: String,
    options: CasOptions,
    /// The current value: the node's data, or `create_with` when absent.
    value: Vec<u8>,
    /// `None` while the node does not exist (create mode).
    stat: Option<Stat>,
    /// Reads made (the first read counts as attempt 1).
    attempts: u32,
    pending: Option<Pending>,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cas")
            .field("path", &self.path)
            .field("stat", &self.stat)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Cas {
    /// Reads the node's value and version. Errors: [`Code::NoNode`] (unless
    /// `create_with`), [`Code::BadJson`] in JSON mode, path and connection
    /// errors.
    pub fn begin(client: &Client, path: &str, options: CasOptions, timeout: Timeout) -> Result<Cas> {
        client.validate_path(path)?;
        if let Some(initial) = &options.create_with {
            path::check_data_len(initial)?;
            if options.json {
                let text = std::str::from_utf8(initial)
                    .map_err(|_| Error::new(Code::BadJson, "the initial value is not UTF-8 JSON"))?;
                json::validate(text).map_err(|e| e.context("the initial value"))?;
            }
            if path == "/" {
                return Err(Error::new(Code::InvalidPath, "the root node cannot be created"));
            }
        }
        let mut cas = Cas {
            client: client.clone(),
            path: path.to_string(),
            options,
            value: Vec::new(),
            stat: None,
            attempts: 0,
            pending: None,
        };
        cas.reread(timeout)?;
        Ok(cas)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn options(&self) -> &CasOptions {
        &self.options
    }

    /// The current value (bytes; in JSON mode, UTF-8 JSON text).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The current value as JSON text (JSON mode only).
    pub fn json(&self) -> Option<&str> {
        if self.options.json { std::str::from_utf8(&self.value).ok() } else { None }
    }

    /// The stat of the current value; `None` while the node does not exist.
    pub fn stat(&self) -> Option<&Stat> {
        self.stat.as_ref()
    }

    /// The version the next commit expects (-1: the node does not exist and
    /// the commit creates it).
    pub fn version(&self) -> i32 {
        self.stat.map_or(-1, |s| s.version)
    }

    /// Reads made so far, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the last commit's outcome is unknown (see [`Cas::resolve`]).
    pub fn is_unknown(&self) -> bool {
        self.pending.is_some()
    }

    /// Reads the node again (after a conflict). Forgets an unknown write.
    pub fn reread(&mut self, timeout: Timeout) -> Result<()> {
        self.attempts += 1;
        self.pending = None;
        match self.client.get(&self.path, timeout) {
            Ok((data, stat)) => {
                if self.options.json {
                    json::text_from_bytes(data.clone()).map_err(|e| e.context(format!("cas {}", self.path)))?;
                }
                self.value = data;
                self.stat = Some(stat);
                Ok(())
            }
            Err(e) if e.code() == Code::NoNode => match &self.options.create_with {
                Some(initial) => {
                    self.value = initial.clone();
                    self.stat = None;
                    Ok(())
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Writes `new` if the node still has the version of the last read (or,
    /// when it was absent in create mode, creates it with `new`). On success
    /// the handle holds `new` and its stat, so another commit can follow
    /// without a read. Errors: [`Code::BadVersion`] (conflict: the node
    /// changed, was created or deleted since the read; call
    /// [`Cas::reread`]), [`Code::OutcomeUnknown`] (see [`Cas::resolve`]),
    /// [`Code::BadJson`] in JSON mode, [`Code::NoNode`] (the parent of a
    /// node to create is missing), ACL and connection errors.
    pub fn commit(&mut self, new: &[u8], timeout: Timeout) -> Result<Stat> {
        self.check_new(new)?;
        let pending = Pending { data: new.to_vec(), base: self.stat };
        self.pending = None;
        let result = self.send(&pending, timeout);
        self.settle(pending, result)
    }

    /// Finds out, once connected again, whether a write that gave
    /// [`Code::OutcomeUnknown`] was applied (see the module doc): `Ok` (it is
    /// applied now, exactly once; the handle holds it), [`Code::BadVersion`]
    /// (it was not applied; re-read), [`Code::OutcomeUnknown`] (still not
    /// known; the message says why; calling again may help when it was only
    /// the connection). [`Code::InvalidArgument`] when there is nothing to
    /// resolve.
    pub fn resolve(&mut self, timeout: Timeout) -> Result<Stat> {
        let Some(pending) = self.pending.take() else {
            return Err(Error::invalid_argument(format!("cas {}: no write of unknown outcome to resolve", self.path)));
        };
        let deadline = timeout.deadline();
        let result = self.send(&pending, timeout);
        match result {
            Err(e) if matches!(e.code(), Code::BadVersion | Code::NodeExists | Code::NoNode) => {
                match remaining(timeout, deadline, "cas resolve") {
                    Ok(rest) => self.classify_conflict(pending, rest),
                    Err(_) => {
                        self.pending = Some(pending);
                        Err(Error::new(
                            Code::OutcomeUnknown,
                            format!("cas {}: no time left to read back; outcome still unknown", self.path),
                        ))
                    }
                }
            }
            Err(e) if e.code() == Code::ConnectionLoss => {
                // Never sent: nothing learnt.
                self.pending = Some(pending);
                Err(Error::new(
                    Code::OutcomeUnknown,
                    format!("{}; the earlier write's outcome is still unknown", e.message()),
                ))
            }
            other => self.settle(pending, other),
        }
    }

    fn check_new(&self, new: &[u8]) -> Result<()> {
        path::check_data_len(new)?;
        self.client.check_request(&Write::SetData { path: &self.path, data: new })?;
        if self.options.json {
            let text =
                std::str::from_utf8(new).map_err(|_| Error::new(Code::BadJson, "the new value is not UTF-8 JSON"))?;
            json::validate(text).map_err(|e| e.context("the new value"))?;
        }
        Ok(())
    }

    /// One write: versioned set, or create when the read found no node.
    fn send(&self, pending: &Pending, timeout: Timeout) -> Result<Stat> {
        let path = self.path.as_str();
        let data = pending.data.as_slice();
        match pending.base {
            Some(base) => {
                let version = base.version;
                self.client.write_once(timeout, &format!("cas set {path}"), move |zk| async move {
                    zk.set_data(path, data, Some(version)).await.map(|s| Stat::from(&s))
                })
            }
            None => {
                let mut options = CreateOptions::persistent();
                options.make_parents = self.options.create_parents;
                self.client.create_write_once(path, data, &options, timeout).map_err(|e| match e.code() {
                    Code::NodeExists => Error::new(
                        Code::BadVersion,
                        format!("cas create {path}: created by someone else since the read"),
                    ),
                    _ => e,
                })
            }
        }
    }

    /// Records the result of a write.
    fn settle(&mut self, pending: Pending, result: Result<Stat>) -> Result<Stat> {
        match result {
            Ok(stat) => {
                self.value = pending.data;
                self.stat = Some(stat);
                Ok(stat)
            }
            Err(e) if e.code() == Code::OutcomeUnknown => {
                self.pending = Some(pending);
                Err(e)
            }
            Err(e) if e.code() == Code::NoNode && pending.base.is_some() => {
                Err(Error::new(Code::BadVersion, format!("cas set {}: the node was deleted since the read", self.path)))
            }
            Err(e) => Err(e),
        }
    }

    /// The retry of an unknown write conflicted: was the first one applied?
    fn classify_conflict(&mut self, pending: Pending, timeout: Timeout) -> Result<Stat> {
        let expected_version = pending.base.map_or(0, |b| b.version + 1);
        let now = match self.client.get(&self.path, timeout) {
            Ok(found) => Some(found),
            Err(e) if e.code() == Code::NoNode => None,
            Err(e) => {
                self.pending = Some(pending);
                return Err(Error::new(
                    Code::OutcomeUnknown,
                    format!("cas {}: cannot read back ({e}); outcome still unknown", self.path),
                ));
            }
        };
        // A create has no earlier node to compare with: ours may have been
        // applied, then deleted and replaced, so any node found tells nothing.
        let same_node = |stat: &Stat| pending.base.is_some_and(|b| b.czxid == stat.czxid);
        let why = match &now {
            Some((data, stat)) if same_node(stat) && stat.version == expected_version => {
                if *data != pending.data {
                    return Err(Error::new(
                        Code::BadVersion,
                        format!(
                            "cas {}: the earlier write was not applied (another value was written at version {expected_version})",
                            self.path
                        ),
                    ));
                }
                format!(
                    "the node holds the written value at version {expected_version}, but another writer may have written the same value"
                )
            }
            Some((_, stat)) if same_node(stat) => format!("the node moved on to version {}", stat.version),
            Some(_) if pending.base.is_none() => {
                "a node exists, which may be ours or one created after ours was deleted".to_string()
            }
            Some(_) => "the node was deleted and created again".to_string(),
            None => "the node was deleted".to_string(),
        };
        self.pending = Some(pending);
        Err(Error::new(Code::OutcomeUnknown, format!("cas {}: outcome still unknown: {why}", self.path)))
    }
}

/// What an [`update`] callback decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write this value.
    Write(Vec<u8>),
    /// Stop without writing (success).
    Skip,
}

/// The result of [`update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Updated {
    /// The stat after the write, or of the value the callback skipped on
    /// (`None`: skipped while the node did not exist).
    pub stat: Option<Stat>,
    /// Times the callback ran.
    pub attempts: u32,
    /// Whether a value was written.
    pub written: bool,
}

/// The whole CAS loop: read, let `f` compute the new value from the handle
/// (`f` returning an error aborts the loop with that error), write with the
/// read's version, and on a conflict read again and repeat, at most
/// `max_attempts` times (0: no limit but the timeout). A write of unknown
/// outcome is resolved with [`Cas::resolve`] within the timeout; a conflict
/// found that way continues the loop.
///
/// Errors: [`Code::BadVersion`] (still conflicting after `max_attempts`, or
/// after the one attempt of `Timeout::NoWait`), [`Code::OperationTimeout`]
/// (conflicts until the deadline), [`Code::OutcomeUnknown`], the callback's
/// error, and those of [`Cas::begin`] and [`Cas::commit`].
pub fn update(
    client: &Client,
    path: &str,
    options: CasOptions,
    max_attempts: u32,
    timeout: Timeout,
    mut f: impl FnMut(&Cas) -> Result<Decision>,
) -> Result<Updated> {
    let deadline = timeout.deadline();
    let mut cas = Cas::begin(client, path, options, timeout)?;
    loop {
        let new = match f(&cas)? {
            Decision::Skip => return Ok(Updated { stat: cas.stat, attempts: cas.attempts, written: false }),
            Decision::Write(new) => new,
        };
        let what = format!("cas {path}");
        let result = match cas.commit(&new, remaining(timeout, deadline, &what)?) {
            // Resolved on the caller's time only: with none left, unknown it stays.
            Err(e) if e.code() == Code::OutcomeUnknown => match remaining(timeout, deadline, &what) {
                Ok(rest) => cas.resolve(rest),
                Err(_) => Err(e),
            },
            other => other,
        };
        match result {
            Ok(stat) => return Ok(Updated { stat: Some(stat), attempts: cas.attempts, written: true }),
            Err(e) if e.code() == Code::BadVersion => {
                if max_attempts != 0 && cas.attempts >= max_attempts {
                    return Err(Error::new(
                        Code::BadVersion,
                        format!("cas {path}: still conflicting after {} attempts", cas.attempts),
                    ));
                }
                if timeout == Timeout::NoWait {
                    return Err(e.context(format!("cas {path}: one attempt (timeout 0)")));
                }
                if deadline.is_expired() {
                    return Err(Error::timeout(format!(
                        "cas {path}: timed out after {} conflicting attempts",
                        cas.attempts
                    )));
                }
                cas.reread(remaining(timeout, deadline, &what)?)?;
            }
            Err(e) => return Err(e),
        }
    }
}
