//! `zku_config`: connection settings, auth, default ACL, node id, recipe
//! directories and the k3zkutil path builders.

use std::ffi::c_char;
use std::time::Duration;

use super::buf::raw_string;
use super::error::zku_error;
use super::{guard, handle, required_out, set_out, str_arg, zku_rc};
use crate::config::{self, AclSpec, Auth, Config, Key};
use crate::error::{Error, Result};

/// Configuration for clients and recipes (k3zkutil's ZKConf). Every field
/// left unset falls back to its `ZKU_*` environment variable, read when a
/// client is created (and by `zku_config_get` and `zku_config_path`), then
/// to a built-in default. Not thread-safe while being modified; a client
/// copies it when created.
pub struct zku_config {
    pub(crate) config: Config,
}

/// Which path `zku_config_path` builds.
pub type zku_path_kind = i32;
/// lock_dir + key (an integer key is written `%010d`).
pub const ZKU_PATH_LOCK: zku_path_kind = 1;
/// record_dir + key.
pub const ZKU_PATH_RECORD: zku_path_kind = 2;
/// seq_dir + key.
pub const ZKU_PATH_SEQ: zku_path_kind = 3;
/// tx_dir + "alive/" + txid.
pub const ZKU_PATH_TX_ALIVE: zku_path_kind = 4;
/// tx_dir + "state/" + txid.
pub const ZKU_PATH_TX_STATE: zku_path_kind = 5;
/// tx_dir + "journal/" + id (an integer id is written `journal_id%010d`).
pub const ZKU_PATH_JOURNAL: zku_path_kind = 6;
/// tx_dir + "journal_id_set" (the key is ignored).
pub const ZKU_PATH_JOURNAL_ID_SET: zku_path_kind = 7;
/// tx_dir + "txid_maker" (the key is ignored).
pub const ZKU_PATH_TXID_MAKER: zku_path_kind = 8;

/// Creates an empty configuration (every field falls back to the defaults).
/// Free it with `zku_config_free`. Checks the `ZKU_*` environment
/// variables, so a malformed one is reported early.
/// Errors: ZKU_EBADCONFIG (a malformed variable, named in the message),
/// ZKU_ETOOLARGE (`ZKU_AUTH` over the server's packet limit).
/// Never blocks.
///
/// # Safety
/// `out` and `err` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_new(out: *mut *mut zku_config, err: *mut *mut zku_error) -> zku_rc {
    guard(err, || {
        required_out(out, "out")?;
        Config::new().with_env()?;
        // SAFETY: checked non-NULL and writable (caller).
        unsafe { set_out(out, Box::into_raw(Box::new(zku_config { config: Config::new() }))) };
        Ok(())
    })
}

/// Frees a configuration. NULL is fine; free each once.
/// Never blocks.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_free(config: *mut zku_config) {
    // SAFETY: from zku_config_new, freed once (caller).
    unsafe { super::free_box(config) }
}

/// # Safety
/// `config` is NULL or a live configuration not used by another thread.
unsafe fn config_mut<'a>(config: *mut zku_config) -> Result<&'a mut Config> {
    // SAFETY: NULL or live and unshared (caller).
    unsafe { config.as_mut() }.map(|c| &mut c.config).ok_or_else(|| super::null_arg("config"))
}

/// Sets the servers: `host:port[,host:port...][/chroot]`, IPv6 as
/// `[::1]:2181`. Errors: ZKU_EHOSTS when malformed.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `config` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set_hosts(
    config: *mut zku_config,
    hosts: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: pointers valid per the function contract.
        let (config, hosts) = unsafe { (config_mut(config)?, str_arg(hosts, "hosts")?) };
        config::parse_hosts(hosts)?;
        config.hosts = Some(hosts.to_string());
        Ok(())
    })
}

fn positive_ms(ms: i64, name: &str) -> Result<Duration> {
    if ms <= 0 {
        return Err(Error::invalid_argument(format!("{name} must be positive, got {ms}")));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// Sets the session timeout to request from the server (the server clamps
/// it to [2, 20] x its tickTime). Errors: ZKU_EINVAL when not positive.
/// Never blocks.
///
/// # Safety
/// `config` is NULL or live and not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set_session_timeout_ms(
    config: *mut zku_config,
    ms: i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let config = unsafe { config_mut(config)? };
        config.session_timeout = Some(positive_ms(ms, "session timeout")?);
        Ok(())
    })
}

/// Sets how long `zku_client_new` waits for a session.
/// Errors: ZKU_EINVAL when not positive.
/// Never blocks.
///
/// # Safety
/// `config` is NULL or live and not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set_connect_timeout_ms(
    config: *mut zku_config,
    ms: i64,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let config = unsafe { config_mut(config)? };
        config.connect_timeout = Some(positive_ms(ms, "connect timeout")?);
        Ok(())
    })
}

/// Sets whether a client opens a new session when its session expires
/// (session renewal, as kazoo and Curator do). Default false (or
/// `ZKU_SESSION_RENEWAL=1`): an expiry is final, the client reports
/// ZKU_STATE_EXPIRED and every later call fails with ZKU_ESESSIONEXPIRED.
/// When true, the client reports ZKU_STATE_EXPIRED, then
/// ZKU_STATE_CONNECTED once a new session is open, with a new
/// `zku_client_session_id`; credentials from `zku_client_add_auth` are
/// added to the new session before it is reported connected. What was
/// bound to the expired session reports its loss: a held lock goes
/// ZKU_LOCK_LOST ("session expired"), a FIFO acquire waiting with its node
/// fails with ZKU_ESESSIONEXPIRED, a request in flight fails with
/// ZKU_ESESSIONEXPIRED (or as for a lost connection) and is not sent
/// again; calls made after the expiry wait for the new session (within
/// their timeout), retried 1 s apart while no server is reachable. Readers
/// go stale and re-read on the new session (changed, then fresh); waits set
/// their watches again on it. Ephemeral nodes are not re-created. A client
/// closed during a renewal ends ZKU_STATE_CLOSED. Never blocks.
///
/// # Safety
/// `config` is NULL or live and not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set_session_renewal(
    config: *mut zku_config,
    renew: bool,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let config = unsafe { config_mut(config)? };
        config.session_renewal = Some(renew);
        Ok(())
    })
}

/// Sets the credentials every session adds, e.g. ("digest", "xp", "123").
/// Errors: ZKU_EINVAL (empty scheme), ZKU_ETOOLARGE (over the server's
/// packet limit).
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `config` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set_auth(
    config: *mut zku_config,
    scheme: *const c_char,
    user: *const c_char,
    password: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let config = unsafe { config_mut(config)? };
        // SAFETY: as documented.
        let (scheme, user, password) =
            unsafe { (str_arg(scheme, "scheme")?, str_arg(user, "user")?, str_arg(password, "password")?) };
        if scheme.is_empty() {
            return Err(Error::invalid_argument("auth scheme is empty"));
        }
        let auth = Auth { scheme: scheme.into(), user: user.into(), password: password.into() };
        auth.check_size()?;
        config.auth = Some(auth);
        Ok(())
    })
}

/// Adds a (user, password, perms) entry to the default ACL used for every
/// node the library creates. `perms` are letters of `cdrwa`.
/// Errors: ZKU_EPERM for any other letter.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `config` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_add_acl(
    config: *mut zku_config,
    user: *const c_char,
    password: *const c_char,
    perms: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let config = unsafe { config_mut(config)? };
        // SAFETY: as documented.
        let (user, password, perms) =
            unsafe { (str_arg(user, "user")?, str_arg(password, "password")?, str_arg(perms, "perms")?) };
        crate::acl::make_acl_entry(user, password, perms)?;
        let spec = AclSpec { user: user.into(), password: password.into(), perms: perms.into() };
        config.acl.get_or_insert_with(Vec::new).push(spec);
        Ok(())
    })
}

/// Which text field `zku_config_set` sets.
pub type zku_config_field = i32;
/// The node id in lock identifiers (default: the host's MAC, 12 hex digits).
pub const ZKU_CONFIG_NODE_ID: zku_config_field = 1;
/// The lock directory (default "/lock/").
pub const ZKU_CONFIG_LOCK_DIR: zku_config_field = 2;
/// The record directory (default "/record/").
pub const ZKU_CONFIG_RECORD_DIR: zku_config_field = 3;
/// The sequence directory (default "/seq/").
pub const ZKU_CONFIG_SEQ_DIR: zku_config_field = 4;
/// The transaction directory (default "/tx/").
pub const ZKU_CONFIG_TX_DIR: zku_config_field = 5;

/// Sets a text field (node id or a directory). Directories are used as
/// prefixes, as in k3zkutil: give the trailing '/'. A relative directory is
/// taken from the root, as kazoo does. Errors: ZKU_EINVAL for an unknown
/// field, ZKU_EPATH for a directory that does not prefix valid paths
/// (empty, or with an empty, `.` or `..` component).
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid; `config` is not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_set(
    config: *mut zku_config,
    field: zku_config_field,
    value: *const c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: as documented.
        let (config, value) = unsafe { (config_mut(config)?, str_arg(value, "value")?) };
        let slot = match field {
            ZKU_CONFIG_NODE_ID => &mut config.node_id,
            ZKU_CONFIG_LOCK_DIR => &mut config.lock_dir,
            ZKU_CONFIG_RECORD_DIR => &mut config.record_dir,
            ZKU_CONFIG_SEQ_DIR => &mut config.seq_dir,
            ZKU_CONFIG_TX_DIR => &mut config.tx_dir,
            other => return Err(Error::invalid_argument(format!("unknown config field {other}"))),
        };
        if field != ZKU_CONFIG_NODE_ID {
            config::check_dir(value)?;
        }
        *slot = Some(value.to_string());
        Ok(())
    })
}

/// The effective value of a text field (after the fallbacks, the
/// environment read now), as a new string freed with `zku_string_free`.
/// Errors: ZKU_EBADCONFIG (a malformed `ZKU_*` variable), ZKU_EINVAL.
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_get(
    config: *const zku_config,
    field: zku_config_field,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: `out` NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live (caller).
        let config = unsafe { handle(config, "config")? }.config.clone().with_env()?;
        let value = match field {
            ZKU_CONFIG_NODE_ID => config.node_id(),
            ZKU_CONFIG_LOCK_DIR => config.lock_dir(),
            ZKU_CONFIG_RECORD_DIR => config.record_dir(),
            ZKU_CONFIG_SEQ_DIR => config.seq_dir(),
            ZKU_CONFIG_TX_DIR => config.tx_dir(),
            other => return Err(Error::invalid_argument(format!("unknown config field {other}"))),
        };
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(value)?) };
        Ok(())
    })
}

fn build_path(config: &Config, kind: zku_path_kind, key: Key) -> Result<String> {
    let text_only = |what: &str| match key {
        Key::Text(s) => Ok(s.to_string()),
        Key::Id(_) => Err(Error::invalid_argument(format!("{what} keys are text, not integers"))),
    };
    Ok(match kind {
        ZKU_PATH_LOCK => config.lock(key),
        ZKU_PATH_RECORD => config.record(&text_only("record")?),
        ZKU_PATH_SEQ => config.seq(&text_only("seq")?),
        ZKU_PATH_TX_ALIVE => config.tx_alive(key),
        ZKU_PATH_TX_STATE => config.tx_state(key),
        ZKU_PATH_JOURNAL => config.journal(key),
        ZKU_PATH_JOURNAL_ID_SET => config.journal_id_set(),
        ZKU_PATH_TXID_MAKER => config.txid_maker(),
        other => return Err(Error::invalid_argument(format!("unknown path kind {other}"))),
    })
}

/// Builds a k3zkutil path from a text key (NULL means ""), e.g.
/// ZKU_PATH_LOCK with "job" gives "/lock/job". The new string is freed with
/// `zku_string_free`. Errors: ZKU_EINVAL for an unknown kind,
/// ZKU_EBADCONFIG (a malformed `ZKU_*` variable).
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_path(
    config: *const zku_config,
    kind: zku_path_kind,
    key: *const c_char,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: `out` NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live (caller).
        let config = &unsafe { handle(config, "config")? }.config.clone().with_env()?;
        // SAFETY: NULL or a valid string (caller).
        let key = unsafe { super::opt_str_arg(key, "key")? }.unwrap_or("");
        let path = build_path(config, kind, Key::Text(key))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(path)?) };
        Ok(())
    })
}

/// Builds a k3zkutil path from an integer id, written `%010d` (journal ids
/// as `journal_id%010d`), e.g. ZKU_PATH_TX_ALIVE with 3 gives
/// "/tx/alive/0000000003". Errors: ZKU_EINVAL for record and seq paths,
/// whose keys are text; ZKU_EBADCONFIG (a malformed `ZKU_*` variable).
/// Never blocks.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zku_config_path_id(
    config: *const zku_config,
    kind: zku_path_kind,
    id: i64,
    out: *mut *mut c_char,
    err: *mut *mut zku_error,
) -> zku_rc {
    guard(err, || {
        // SAFETY: `out` NULL or writable (caller).
        unsafe { super::clear_out(out) };
        required_out(out, "out")?;
        // SAFETY: NULL or live (caller).
        let config = &unsafe { handle(config, "config")? }.config.clone().with_env()?;
        let path = build_path(config, kind, Key::Id(id))?;
        // SAFETY: checked non-NULL.
        unsafe { set_out(out, raw_string(path)?) };
        Ok(())
    })
}
