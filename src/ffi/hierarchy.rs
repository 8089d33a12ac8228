//! Tree import and export (k3zkutil's init_hierarchy and
//! export_hierarchy) as JSON documents. The format is described in the
//! README ("Hierarchy documents") and docs/hierarchy.md.

use std::ffi::c_char;

use super::buf::raw_string;
use super::cancel::{cancellable, zku_cancel};
use super::client::zku_client;
use super::config::zku_config;
use super::error::zku_error;
use super::{
    clear_out, guard, opt_str_arg, required_out, session_arg, set_out, str_arg, timeout_arg, write_out, zku_rc,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::hierarchy::{self, Document, ExportFormat, ExportOptions, ImportError, ImportOptions, ImportStats, Users};

/// Import flag: also set the value of nodes that already exist, when the
/// document gives one (`__val__`, `__text__` or `__data__`). Without it,
/// existing nodes only get their ACL set, as in k3zkutil.
pub const ZKU_IMPORT_UPDATE_VALUES: u32 = 1;

/// Export flag: write what k3zkutil's export_hierarchy returns (as
/// k3utfjson.dump writes it): `__val__` the raw data as a string, `__acl__`
/// `{id: perms}` for any scheme. Lossy, for programs that read k3zkutil's
/// output; fails with ZKU_EUTF8 on data that is not UTF-8. Without it the
/// export is lossless (see the README).
pub const ZKU_EXPORT_K3ZKUTIL: u32 = 1;
/// Export flag: indent the document by two spaces.
pub const ZKU_EXPORT_PRETTY: u32 = 2;
/// Export flag: leave out a node's ACL when it equals its parent's (import
/// gives such a node its parent's ACL, so nothing is lost; k3zkutil's
/// init_hierarchy does the same). The root's ACL is always written.
/// Ignored with ZKU_EXPORT_K3ZKUTIL.
pub const ZKU_EXPORT_OMIT_INHERITED_ACL: u32 = 4;

/// What an import did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct zku_import_stats {
    /// Nodes in the document, the root included.
    pub nodes: u64,
    /// Nodes created.
    pub created: u64,
    /// Nodes that already existed (their ACL was set).
    pub existed: u64,
    /// Existing nodes whose value was set (ZKU_IMPORT_UPDATE_VALUES).
    pub values_set: u64,
    /// After a failure: writes sent whose reply never came (connection
    /// lost, timeout); they may or may not have been applied. `created`,
    /// `existed` and `values_set` count only writes the server confirmed.
    pub unknown: u64,
}

impl From<ImportStats> for zku_import_stats {
    fn from(s: ImportStats) -> zku_import_stats {
        zku_import_stats {
            nodes: s.nodes,
            created: s.created,
            existed: s.existed,
            values_set: s.values_set,
            unknown: s.unknown,
        }
    }
}

/// Writes an import's counts, on failure too (what was applied before it
/// stopped), and returns its outcome.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn write_stats(out: *mut zku_import_stats, result: Result<ImportStats, ImportError>) -> Result<()> {
    let (stats, outcome) = match result {
        Ok(stats) => (stats, Ok(())),
        Err(ImportError { error, stats }) => (stats, Err(error)),
    };
    // SAFETY: NULL or writable (caller).
    unsafe { write_out(out, stats.into()) };
    outcome
}

fn import_options(flags: u32) -> Result<ImportOptions> {
    if flags & !ZKU_IMPORT_UPDATE_VALUES != 0 {
        return Err(Error::invalid_argument(format!("unknown import flags {:#x}", flags & !ZKU_IMPORT_UPDATE_VALUES)));
    }
    Ok(ImportOptions { update_values: flags & ZKU_IMPORT_UPDATE_VALUES != 0 })
}

fn users_arg(users_json: Option<&str>) -> Result<Users> {
    users_json.map_or_else(|| Ok(Users::new()), Users::parse)
}

/// k3zkutil's init_hierarchy: connects with `config` (NULL: the defaults
/// and ZKU_* environment; its hosts and auth are used), creates the tree
/// `hierarchy_json` describes under `root`, and closes the session.
///
/// `root` (NULL: "/") is the node the document describes: the document's
/// own `__val__`/`__acl__` apply to it, its other keys are its children.
/// A missing root is created (its parent must exist). `users_json` (NULL:
/// none) is a JSON object `{"user": "password"}` giving the passwords of
/// the users in `__acl__` maps. `flags`: 0 or ZKU_IMPORT_UPDATE_VALUES.
/// Nodes are created breadth-first, a level's requests pipelined; a
/// node's value defaults to `{}` and its ACL to its parent's; existing
/// nodes get their ACL set (and value, with the flag). `*stats` (may be
/// NULL) receives the counts, on failure too (unlike other outputs): then
/// they count what was applied before the import stopped (replies to
/// requests already in flight are awaited first), and `unknown` the
/// writes whose outcome is unknown.
///
/// The document and users are checked completely before connecting:
/// nothing is written when they are malformed, and the error message names
/// the JSON path (RFC 6901 pointer) of the problem. So are the request
/// sizes: a node whose create would exceed the server's packet limit
/// (path, value and ACL together) fails with ZKU_ETOOLARGE before the
/// first write.
///
/// Blocking (network): the connection waits up to the configured connect timeout,
/// the import up to `timeout_ms` in all (-1: no limit). Not atomic: an
/// error leaves what was written so far; running the same import again is
/// safe and completes it.
/// Errors: ZKU_EJSON (malformed document or users), ZKU_EPATH (bad root or
/// node name), ZKU_EPERM (permission letters), ZKU_EINVALIDACL (empty ACL,
/// unknown user, bad ACL id), ZKU_ETOOLARGE, ZKU_EINVAL (flags, timeout),
/// ZKU_ENONODE (the root's parent is missing), ZKU_ENOAUTH, ZKU_EHOSTS,
/// ZKU_EBADCONFIG (a malformed `ZKU_*` variable: nothing is written),
/// ZKU_EAUTHFAILED, ZKU_ETIMEOUT, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_init_hierarchy(
    config: *const zku_config,
    root: *const c_char,
    hierarchy_json: *const c_char,
    users_json: *const c_char,
    flags: u32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stats: *mut zku_import_stats,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stats, zku_import_stats::default()) };
        // SAFETY: NULL or live/valid (caller).
        let (config, root, text, users) = unsafe {
            (
                config.as_ref().map_or_else(Config::new, |c| c.config.clone()),
                opt_str_arg(root, "root")?.unwrap_or("/"),
                str_arg(hierarchy_json, "hierarchy_json")?,
                opt_str_arg(users_json, "users_json")?,
            )
        };
        let options = import_options(flags)?;
        let timeout = timeout_arg(timeout_ms)?;
        // A cancel fired before the call starts fails it with nothing written.
        let result =
            cancellable(cancel, None, || Ok(hierarchy::init_hierarchy(config, root, text, users, &options, timeout)))
                .unwrap_or_else(|error| Err(error.into()));
        // SAFETY: NULL or writable (caller).
        unsafe { write_stats(stats, result) }
    })
}

/// As `zku_init_hierarchy`, on an existing client (its session and
/// credentials), which stays open. Safe to call from several threads.
/// Blocking (network), up to `timeout_ms`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_import_hierarchy(
    client: *const zku_client,
    root: *const c_char,
    hierarchy_json: *const c_char,
    users_json: *const c_char,
    flags: u32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    stats: *mut zku_import_stats,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { write_out(stats, zku_import_stats::default()) };
        // SAFETY: NULL or live/valid (caller).
        let (client, root, text, users) = unsafe {
            (
                &session_arg(client, "client")?.client,
                opt_str_arg(root, "root")?.unwrap_or("/"),
                str_arg(hierarchy_json, "hierarchy_json")?,
                opt_str_arg(users_json, "users_json")?,
            )
        };
        let options = import_options(flags)?;
        let timeout = timeout_arg(timeout_ms)?;
        crate::path::validate(root)?;
        let doc = Document::parse(text, &users_arg(users)?)?;
        let result =
            cancellable(cancel, Some(client), || Ok(hierarchy::import(client, root, &doc, &options, timeout, None)))
                .unwrap_or_else(|error| Err(error.into()));
        // SAFETY: NULL or writable (caller).
        unsafe { write_stats(stats, result) }
    })
}

/// k3zkutil's export_hierarchy: the subtree at absolute `path` as a JSON
/// document in `*out` (free with `zku_string_free`). Every node has its
/// value (`__val__` when it is JSON text written as k3zkutil writes it,
/// else `__text__` or base64 `__data__`; an empty node is `"__text__": ""`)
/// and its ACL (`__acl__` `{user: perms}` when every entry is a digest
/// entry of a user in `users_json` with the right password, else the
/// explicit `__acls__` list); children are keys, sorted by name. Importing
/// the result elsewhere and exporting again gives the same text.
///
/// `users_json` (NULL: none): `{"user": "password"}`. `flags`:
/// ZKU_EXPORT_K3ZKUTIL (k3zkutil's lossy output instead), ZKU_EXPORT_PRETTY,
/// ZKU_EXPORT_OMIT_INHERITED_ACL.
/// Reads are pipelined level by level; the export is not a snapshot (a
/// node deleted meanwhile is left out). Exporting "/" leaves out
/// "/zookeeper". Blocking (network), up to `timeout_ms` in all. Safe to call from
/// several threads.
/// Errors: ZKU_ENONODE (no node at `path`), ZKU_ENOAUTH (a node is not
/// readable), ZKU_EPATH, ZKU_EJSON (users), ZKU_EUTF8 (non-UTF-8 data with
/// ZKU_EXPORT_K3ZKUTIL), ZKU_EINVAL (flags, timeout, a tree deeper than the
/// document format nests), ZKU_ETIMEOUT, connection codes.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_export_hierarchy(
    client: *const zku_client,
    path: *const c_char,
    users_json: *const c_char,
    flags: u32,
    timeout_ms: i32,
    cancel: Option<&zku_cancel>,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: NULL or writable (caller).
        unsafe { clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live/valid (caller).
        let (client, path, users) = unsafe {
            (&session_arg(client, "client")?.client, str_arg(path, "path")?, opt_str_arg(users_json, "users_json")?)
        };
        let known = ZKU_EXPORT_K3ZKUTIL | ZKU_EXPORT_PRETTY | ZKU_EXPORT_OMIT_INHERITED_ACL;
        if flags & !known != 0 {
            return Err(Error::invalid_argument(format!("unknown export flags {:#x}", flags & !known)));
        }
        let options = ExportOptions {
            format: if flags & ZKU_EXPORT_K3ZKUTIL != 0 { ExportFormat::K3zkutil } else { ExportFormat::Lossless },
            pretty: flags & ZKU_EXPORT_PRETTY != 0,
            users: users_arg(users)?,
            omit_inherited_acl: flags & ZKU_EXPORT_OMIT_INHERITED_ACL != 0,
        };
        let timeout = timeout_arg(timeout_ms)?;
        let text = cancellable(cancel, Some(client), || hierarchy::export(client, path, &options, timeout, None))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(text)?) };
        Ok(())
    })
}
