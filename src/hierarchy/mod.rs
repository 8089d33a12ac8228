//! Tree import and export (k3zkutil's init_hierarchy and export_hierarchy)
//! in a JSON format that reads k3zkutil's documents and extends them so
//! that any tree survives export -> import -> export unchanged.
//!
//! A document is the node at the import root (or export path): its
//! `__val__` (any JSON, stored as k3zkutil stores it), `__text__` (UTF-8
//! data as is) or `__data__` (base64) give the value; `__acl__`
//! (`{user: perms}` digest entries, passwords from a users map) and
//! `__acls__` (`[{"scheme", "id", "perms"}]`) the ACL; `__children__`
//! holds children whose names look like `__keys__`; every other key is a
//! child. See docs/hierarchy.md.
//!
//! Both directions are pipelined: a whole level's requests are in flight
//! together (in windows of [`pipeline::WINDOW`]), not one round trip each.

mod document;
mod export;
mod import;
pub mod json;
pub(crate) mod pipeline;

pub use document::{Document, Users};

use crate::client::{Client, remaining};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::runtime::Timeout;

/// Progress of a long import or export: nodes done, and the total when
/// known. Called on the calling thread between replies, inside the
/// library's wait: keep it short, and do not call into the library from it
/// (hand such work to another thread).
pub type ProgressFn<'a> = &'a mut dyn FnMut(u64, Option<u64>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Also set the value of nodes that already exist, when the document
    /// gives one (k3zkutil only sets their ACL).
    pub update_values: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Nodes in the document, the root included.
    pub nodes: u64,
    /// Nodes created.
    pub created: u64,
    /// Nodes that existed (their ACL was set when the document or the
    /// inheritance gives one).
    pub existed: u64,
    /// Existing nodes whose value was set (`update_values`).
    pub values_set: u64,
    /// After a failure: writes sent whose reply never came (connection
    /// lost, timeout), which may or may not have been applied. The other
    /// counts are writes the server confirmed.
    pub unknown: u64,
}

/// A failed import: the error, and what was written before it stopped
/// (an import is not atomic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub error: Error,
    pub stats: ImportStats,
}

/// A failure before anything was written.
impl From<Error> for ImportError {
    fn from(error: Error) -> ImportError {
        ImportError { error, stats: ImportStats::default() }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ImportError {}

impl From<ImportError> for Error {
    fn from(e: ImportError) -> Error {
        e.error
    }
}

/// Which document an export writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportFormat {
    /// Readable by [`import`] and by k3zkutil's init_hierarchy where the
    /// tree allows (JSON values, digest ACLs of known users); the
    /// extensions otherwise. Import of it rebuilds the tree exactly.
    #[default]
    Lossless,
    /// What k3zkutil's export_hierarchy returns, dumped as k3utfjson does:
    /// `__val__` the raw data as a string, `__acl__` `{id: perms}` for any
    /// scheme. Lossy; for programs that read k3zkutil's output.
    K3zkutil,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// Indent by two spaces (Python's json.dumps(indent=2) layout).
    pub pretty: bool,
    /// Digest entries of these users (with the right password) are
    /// written in the short `{user: perms}` form.
    pub users: Users,
    /// Lossless format: leave out a node's ACL when it equals its parent's
    /// (import gives a node its parent's ACL when the document has none,
    /// so nothing is lost). The root's ACL is always written.
    pub omit_inherited_acl: bool,
}

/// Creates (or updates) the tree `doc` describes at `root`. The root is
/// created when missing (its parent must exist). Nodes are created
/// breadth-first with their value (`{}` when none is given) and ACL (the
/// parent's when none is given); existing nodes get their ACL set and,
/// with `update_values`, their value when the document gives one.
///
/// Not atomic: an error leaves the levels written so far, and its
/// [`ImportError::stats`] count them (the replies to requests already in
/// flight are awaited first). Every step is idempotent, so running the same
/// import again completes it; requests cut off by a connection loss are
/// sent again while `timeout` allows. Requests too large for the server
/// fail the import with [`crate::Code::DataTooLarge`] before the first
/// write.
pub fn import(
    client: &Client,
    root: &str,
    doc: &Document,
    options: &ImportOptions,
    timeout: Timeout,
    progress: Option<ProgressFn<'_>>,
) -> Result<ImportStats, ImportError> {
    import::import(client, root, doc, options, timeout, progress)
}

/// k3zkutil's init_hierarchy: checks the document (`hierarchy_json`) and
/// the users map (`users_json`, `{"user": "password"}`; `None`: no users)
/// before connecting, then connects with `config` (its hosts and auth),
/// imports at `root` and closes the session, all within `timeout`.
pub fn init_hierarchy(
    mut config: Config,
    root: &str,
    hierarchy_json: &str,
    users_json: Option<&str>,
    options: &ImportOptions,
    timeout: Timeout,
) -> Result<ImportStats, ImportError> {
    crate::path::validate(root)?;
    let users = match users_json {
        Some(text) => Users::parse(text)?,
        None => Users::new(),
    };
    let doc = Document::parse(hierarchy_json, &users)?;
    let deadline = timeout.deadline();
    if let (Timeout::After(_), Some(left)) = (timeout, deadline.remaining()) {
        config.connect_timeout = Some(config.connect_timeout().min(left));
    }
    let client = Client::connect(config)?;
    let result = match remaining(timeout, deadline, "init_hierarchy") {
        Ok(rest) => import(&client, root, &doc, options, rest, None),
        Err(e) => Err(e.into()),
    };
    // Nothing to wait for: the import made persistent nodes only, and the
    // close request goes out in the background.
    client.close_within(Timeout::NoWait);
    result
}

/// The subtree at `path` as a document (see [`ExportFormat`]). Children are
/// sorted by name. Not a snapshot: a node deleted while the export runs is
/// left out, one created may or may not be in it. Exporting "/" leaves out
/// ZooKeeper's own `/zookeeper` subtree.
pub fn export(
    client: &Client,
    path: &str,
    options: &ExportOptions,
    timeout: Timeout,
    progress: Option<ProgressFn<'_>>,
) -> Result<String> {
    export::export(client, path, options, timeout, progress)
}
