//! Configuration (k3zkutil's ZKConf): connection settings, digest auth, the
//! default ACL, node id, recipe directories and the path builders.
//!
//! A field left unset falls back to a process-wide default read once from
//! the environment (`ZKU_*` variables, see the README), then to a built-in.

use std::time::Duration;

use once_cell::sync::Lazy;

use crate::acl::{self, Acl};
use crate::error::{Code, Error, Result};

/// Digest (or other scheme) credentials added to every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub scheme: String,
    pub user: String,
    pub password: String,
}

impl Auth {
    /// The bytes ZooKeeper's addAuthInfo takes: `user:password`.
    pub fn credentials(&self) -> Vec<u8> {
        format!("{}:{}", self.user, self.password).into_bytes()
    }
}

/// One entry of the default ACL: digest user, password and `cdrwa` letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclSpec {
    pub user: String,
    pub password: String,
    pub perms: String,
}

/// A key for the path builders: text is used as is, integers are `%010d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    Text(&'a str),
    Id(i64),
}

impl Key<'_> {
    fn render(self) -> String {
        match self {
            Key::Text(s) => s.to_string(),
            Key::Id(n) => format!("{n:010}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub hosts: Option<String>,
    pub session_timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub auth: Option<Auth>,
    pub acl: Option<Vec<AclSpec>>,
    pub node_id: Option<String>,
    pub lock_dir: Option<String>,
    pub record_dir: Option<String>,
    pub seq_dir: Option<String>,
    pub tx_dir: Option<String>,
}

/// Process-wide defaults, read once from the environment.
static ENV_DEFAULTS: Lazy<Config> = Lazy::new(|| Config::from_env(|name| std::env::var(name).ok()));

pub const DEFAULT_HOSTS: &str = "127.0.0.1:2181";
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// Reads `ZKU_*` variables through `get` (testable without touching the
    /// process environment). Malformed values are ignored with the built-in
    /// default used instead, so a typo cannot stop a daemon from starting;
    /// `Config::validate` reports them when called explicitly.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Config {
        let ms = |name| get(name).and_then(|v: String| v.trim().parse::<u64>().ok()).map(Duration::from_millis);
        Config {
            hosts: get("ZKU_HOSTS").filter(|h| !h.is_empty()),
            session_timeout: ms("ZKU_SESSION_TIMEOUT_MS"),
            connect_timeout: ms("ZKU_CONNECT_TIMEOUT_MS"),
            auth: get("ZKU_AUTH").and_then(|v| parse_auth(&v).ok()),
            acl: get("ZKU_ACL").and_then(|v| parse_acl_list(&v).ok()),
            node_id: get("ZKU_NODE_ID"),
            lock_dir: get("ZKU_LOCK_DIR"),
            record_dir: get("ZKU_RECORD_DIR"),
            seq_dir: get("ZKU_SEQ_DIR"),
            tx_dir: get("ZKU_TX_DIR"),
        }
    }

    pub fn env_defaults() -> &'static Config {
        &ENV_DEFAULTS
    }

    pub fn hosts(&self) -> String {
        self.hosts.clone().or_else(|| ENV_DEFAULTS.hosts.clone()).unwrap_or_else(|| DEFAULT_HOSTS.to_string())
    }

    pub fn session_timeout(&self) -> Duration {
        self.session_timeout.or(ENV_DEFAULTS.session_timeout).unwrap_or(DEFAULT_SESSION_TIMEOUT)
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.or(ENV_DEFAULTS.connect_timeout).unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    pub fn auth(&self) -> Option<Auth> {
        self.auth.clone().or_else(|| ENV_DEFAULTS.auth.clone())
    }

    pub fn acl_specs(&self) -> Vec<AclSpec> {
        self.acl.clone().or_else(|| ENV_DEFAULTS.acl.clone()).unwrap_or_default()
    }

    /// The ACL the helpers create nodes with: the configured digest entries,
    /// or `world:anyone:cdrwa` when none is configured (kazoo's default).
    pub fn default_acl(&self) -> Result<Vec<Acl>> {
        let specs = self.acl_specs();
        if specs.is_empty() {
            return Ok(vec![Acl::open()]);
        }
        specs.iter().map(|s| Ok(Acl::digest(&s.user, &s.password, acl::letters_to_mask(&s.perms)?))).collect()
    }

    pub fn node_id(&self) -> String {
        self.node_id.clone().or_else(|| ENV_DEFAULTS.node_id.clone()).unwrap_or_else(crate::lockid::default_node_id)
    }

    pub fn lock_dir(&self) -> String {
        dir(&self.lock_dir, &ENV_DEFAULTS.lock_dir, "/lock/")
    }

    pub fn record_dir(&self) -> String {
        dir(&self.record_dir, &ENV_DEFAULTS.record_dir, "/record/")
    }

    pub fn seq_dir(&self) -> String {
        dir(&self.seq_dir, &ENV_DEFAULTS.seq_dir, "/seq/")
    }

    pub fn tx_dir(&self) -> String {
        dir(&self.tx_dir, &ENV_DEFAULTS.tx_dir, "/tx/")
    }

    /// lock_dir + key.
    pub fn lock(&self, key: Key) -> String {
        self.lock_dir() + &key.render()
    }

    /// record_dir + key.
    pub fn record(&self, key: &str) -> String {
        self.record_dir() + key
    }

    /// seq_dir + key.
    pub fn seq(&self, key: &str) -> String {
        self.seq_dir() + key
    }

    /// tx_dir + "alive/" + txid.
    pub fn tx_alive(&self, txid: Key) -> String {
        format!("{}alive/{}", self.tx_dir(), txid.render())
    }

    /// tx_dir + "state/" + txid.
    pub fn tx_state(&self, txid: Key) -> String {
        format!("{}state/{}", self.tx_dir(), txid.render())
    }

    /// tx_dir + "journal/" + (`journal_id%010d` for an integer id).
    pub fn journal(&self, journal_id: Key) -> String {
        let id = match journal_id {
            Key::Id(n) => format!("journal_id{n:010}"),
            Key::Text(s) => s.to_string(),
        };
        format!("{}journal/{id}", self.tx_dir())
    }

    pub fn journal_id_set(&self) -> String {
        self.tx_dir() + "journal_id_set"
    }

    pub fn txid_maker(&self) -> String {
        self.tx_dir() + "txid_maker"
    }

    /// Checks every field that is set, so a bad value is reported when the
    /// configuration is built rather than on first use.
    pub fn validate(&self) -> Result<()> {
        if let Some(hosts) = &self.hosts {
            parse_hosts(hosts)?;
        }
        for spec in self.acl.iter().flatten() {
            acl::letters_to_mask(&spec.perms)?;
        }
        Ok(())
    }
}

fn dir(own: &Option<String>, env: &Option<String>, builtin: &str) -> String {
    let d = own.clone().or_else(|| env.clone()).unwrap_or_else(|| builtin.to_string());
    // kazoo resolves a relative path from the root ("lock/" is "/lock/"),
    // so k3zkutil's relative defaults name the same nodes as ours.
    if d.starts_with('/') { d } else { format!("/{d}") }
}

/// `scheme:user:password` (the password may contain ':').
pub fn parse_auth(s: &str) -> Result<Auth> {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(user), Some(password)) if !scheme.is_empty() => {
            Ok(Auth { scheme: scheme.into(), user: user.into(), password: password.into() })
        }
        _ => Err(Error::invalid_argument(format!("auth {s:?} is not scheme:user:password"))),
    }
}

/// `user:password:perms[,user:password:perms...]`.
pub fn parse_acl_list(s: &str) -> Result<Vec<AclSpec>> {
    s.split(',')
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (user, rest) = entry
                .split_once(':')
                .ok_or_else(|| Error::invalid_argument(format!("ACL entry {entry:?} is not user:password:perms")))?;
            let (password, perms) = rest
                .rsplit_once(':')
                .ok_or_else(|| Error::invalid_argument(format!("ACL entry {entry:?} is not user:password:perms")))?;
            acl::letters_to_mask(perms)?;
            Ok(AclSpec { user: user.into(), password: password.into(), perms: perms.into() })
        })
        .collect()
}

/// One server of a connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// Parses `host:port[,host:port...][/chroot]`, IPv6 as `[::1]:2181`, and
/// returns the servers and the chroot (if any).
pub fn parse_hosts(s: &str) -> Result<(Vec<HostPort>, Option<String>)> {
    let bad = |why: &str| Error::new(Code::InvalidHosts, format!("hosts {s:?}: {why}"));
    let (list, chroot) = match s.find('/') {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    if let Some(root) = chroot {
        crate::path::validate(root).map_err(|e| bad(&format!("chroot: {}", e.message())))?;
    }
    let mut servers = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad("empty host entry"));
        }
        let (host, port) = if let Some(rest) = item.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '[' in IPv6 address"))?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| bad(&format!("{host:?} is not an IPv6 address")))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("expected ':port' after ']'")),
            };
            (host, port)
        } else {
            match item.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => return Err(bad("IPv6 addresses must be written as [addr]:port")),
                None => (item, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host name"));
        }
        let port = match port {
            None => 2181,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(&format!("bad port {p:?}")))?,
        };
        servers.push(HostPort { host: host.to_string(), port });
    }
    let chroot = chroot.filter(|c| *c != "/").map(str::to_string);
    Ok((servers, chroot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn path_builders_match_k3zkutil() {
        let c = Config { lock_dir: Some("/l/".into()), tx_dir: Some("tx/".into()), ..Config::default() };
        assert_eq!(c.lock(Key::Text("a")), "/l/a");
        assert_eq!(c.lock(Key::Id(12)), "/l/0000000012");
        assert_eq!(c.tx_alive(Key::Id(3)), "/tx/alive/0000000003");
        assert_eq!(c.tx_state(Key::Text("x")), "/tx/state/x");
        assert_eq!(c.journal(Key::Id(7)), "/tx/journal/journal_id0000000007");
        assert_eq!(c.journal(Key::Text("j")), "/tx/journal/j");
        assert_eq!(c.journal_id_set(), "/tx/journal_id_set");
        assert_eq!(c.txid_maker(), "/tx/txid_maker");
        assert_eq!(c.lock(Key::Id(-5)), "/l/-000000005");
    }

    #[test]
    fn env_parsing() {
        let env = |name: &str| match name {
            "ZKU_HOSTS" => Some("127.0.0.1:1".to_string()),
            "ZKU_AUTH" => Some("digest:xp:1:2".to_string()),
            "ZKU_ACL" => Some("xp:123:cdrwa,foo:a:b:rw".to_string()),
            "ZKU_SESSION_TIMEOUT_MS" => Some("1500".to_string()),
            _ => None,
        };
        let c = Config::from_env(env);
        assert_eq!(c.hosts.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(c.auth.unwrap().password, "1:2");
        let acl = c.acl.unwrap();
        assert_eq!(acl[1], AclSpec { user: "foo".into(), password: "a:b".into(), perms: "rw".into() });
        assert_eq!(c.session_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(Config::from_env(empty_env), Config::default());
    }

    #[test]
    fn hosts_parsing() {
        let (servers, chroot) = parse_hosts("127.0.0.1:2181,[::1]:2182,localhost/app/x").unwrap();
        assert_eq!(servers[1], HostPort { host: "::1".into(), port: 2182 });
        assert_eq!(servers[2].port, 2181);
        assert_eq!(chroot.as_deref(), Some("/app/x"));
        for bad in ["", "a:b", "h:0", "::1:2181", "[::1", "h:1,,h:2", "h:1/bad/", "[zz]:1"] {
            assert_eq!(parse_hosts(bad).unwrap_err().code(), Code::InvalidHosts, "{bad}");
        }
    }

    #[test]
    fn default_acl_is_open_or_digest() {
        assert_eq!(Config::default().default_acl().unwrap(), vec![Acl::open()]);
        let c = Config {
            acl: Some(vec![AclSpec { user: "xp".into(), password: "123".into(), perms: "rw".into() }]),
            ..Config::default()
        };
        assert_eq!(c.default_acl().unwrap(), vec![Acl::digest("xp", "123", 3)]);
    }
}
