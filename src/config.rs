//! Configuration (k3zkutil's ZKConf): connection settings, digest auth, the
//! default ACL, node id, recipe directories and the path builders.
//!
//! A field left unset takes the value of its `ZKU_*` variable (see the
//! README), read by [`Config::with_env`] when a client or configuration is
//! created, then a built-in default. Reading fails closed: a variable that
//! is set but malformed is an error naming it, never silently replaced by a
//! default (a typo in `ZKU_ACL` must not create world-writable nodes).

use std::ffi::OsString;
use std::time::Duration;

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

    /// Refuses credentials too large for the server's packet limit.
    pub fn check_size(&self) -> Result<()> {
        crate::packet::check_auth(&self.scheme, &self.credentials())
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
    /// Open a new session when the session expires (see
    /// [`Config::session_renewal`]).
    pub session_renewal: Option<bool>,
    pub auth: Option<Auth>,
    pub acl: Option<Vec<AclSpec>>,
    pub node_id: Option<String>,
    pub lock_dir: Option<String>,
    pub record_dir: Option<String>,
    pub seq_dir: Option<String>,
    pub tx_dir: Option<String>,
}

pub const DEFAULT_HOSTS: &str = "127.0.0.1:2181";
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every variable [`Config::from_env`] reads.
pub const ENV_VARS: [&str; 11] = [
    "ZKU_HOSTS",
    "ZKU_SESSION_TIMEOUT_MS",
    "ZKU_CONNECT_TIMEOUT_MS",
    "ZKU_SESSION_RENEWAL",
    "ZKU_AUTH",
    "ZKU_ACL",
    "ZKU_NODE_ID",
    "ZKU_LOCK_DIR",
    "ZKU_RECORD_DIR",
    "ZKU_SEQ_DIR",
    "ZKU_TX_DIR",
];

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// Reads the `ZKU_*` variables through `get` (testable without touching
    /// the process environment). Every variable that is set is checked,
    /// whether or not a field would use it: a malformed one fails with
    /// [`Code::BadConfig`] (an oversized `ZKU_AUTH` with
    /// [`Code::DataTooLarge`]) and a message naming it. Set but empty (or
    /// blank) counts as malformed, not as unset: `ZKU_ACL=` from an empty
    /// template variable must not mean "world-writable".
    pub fn from_env(get: impl Fn(&str) -> Option<OsString>) -> Result<Config> {
        let dir = |name| env_value(&get, name, |d| check_dir(d).map(|_| d.to_string()));
        Ok(Config {
            hosts: env_value(&get, "ZKU_HOSTS", |h| parse_hosts(h).map(|_| h.to_string()))?,
            session_timeout: env_value(&get, "ZKU_SESSION_TIMEOUT_MS", parse_env_ms)?,
            connect_timeout: env_value(&get, "ZKU_CONNECT_TIMEOUT_MS", parse_env_ms)?,
            session_renewal: env_value(&get, "ZKU_SESSION_RENEWAL", parse_env_flag)?,
            auth: env_value(&get, "ZKU_AUTH", |a| parse_auth(a).and_then(|auth| auth.check_size().map(|_| auth)))?,
            acl: env_value(&get, "ZKU_ACL", parse_acl_list)?,
            node_id: env_text(&get, "ZKU_NODE_ID")?,
            lock_dir: dir("ZKU_LOCK_DIR")?,
            record_dir: dir("ZKU_RECORD_DIR")?,
            seq_dir: dir("ZKU_SEQ_DIR")?,
            tx_dir: dir("ZKU_TX_DIR")?,
        })
    }

    /// This configuration with the fields it leaves unset taken from the
    /// process environment, read now (see [`Config::from_env`] for what
    /// fails). Every entry point that connects calls it before anything is
    /// sent.
    pub fn with_env(self) -> Result<Config> {
        let env = Config::from_env(|name| std::env::var_os(name))?;
        Ok(Config {
            hosts: self.hosts.or(env.hosts),
            session_timeout: self.session_timeout.or(env.session_timeout),
            connect_timeout: self.connect_timeout.or(env.connect_timeout),
            session_renewal: self.session_renewal.or(env.session_renewal),
            auth: self.auth.or(env.auth),
            acl: self.acl.or(env.acl),
            node_id: self.node_id.or(env.node_id),
            lock_dir: self.lock_dir.or(env.lock_dir),
            record_dir: self.record_dir.or(env.record_dir),
            seq_dir: self.seq_dir.or(env.seq_dir),
            tx_dir: self.tx_dir.or(env.tx_dir),
        })
    }

    pub fn hosts(&self) -> String {
        self.hosts.clone().unwrap_or_else(|| DEFAULT_HOSTS.to_string())
    }

    pub fn session_timeout(&self) -> Duration {
        self.session_timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT)
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// Whether an expired session is replaced by a new one (kazoo and
    /// Curator do) instead of ending the client. Off by default: an
    /// expiry is then final, as it always was, so code that rebuilds its
    /// handles after an expiry keeps working unchanged.
    pub fn session_renewal(&self) -> bool {
        self.session_renewal.unwrap_or(false)
    }

    pub fn auth(&self) -> Option<Auth> {
        self.auth.clone()
    }

    pub fn acl_specs(&self) -> Vec<AclSpec> {
        self.acl.clone().unwrap_or_default()
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
        self.node_id.clone().unwrap_or_else(crate::lockid::default_node_id)
    }

    pub fn lock_dir(&self) -> String {
        dir(&self.lock_dir, "/lock/")
    }

    pub fn record_dir(&self) -> String {
        dir(&self.record_dir, "/record/")
    }

    pub fn seq_dir(&self) -> String {
        dir(&self.seq_dir, "/seq/")
    }

    pub fn tx_dir(&self) -> String {
        dir(&self.tx_dir, "/tx/")
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
        if let Some(auth) = &self.auth {
            auth.check_size()?;
        }
        for d in [&self.lock_dir, &self.record_dir, &self.seq_dir, &self.tx_dir].into_iter().flatten() {
            check_dir(d)?;
        }
        Ok(())
    }
}

fn dir(own: &Option<String>, builtin: &str) -> String {
    absolute_dir(own.as_deref().unwrap_or(builtin))
}

// kazoo resolves a relative path from the root ("lock/" is "/lock/"), so
// k3zkutil's relative defaults name the same nodes as ours.
fn absolute_dir(d: &str) -> String {
    if d.starts_with('/') { d.to_string() } else { format!("/{d}") }
}

/// A directory is a prefix: it must give a valid path when a key follows
/// it (no empty, `.` or `..` component, no forbidden character).
pub fn check_dir(d: &str) -> Result<()> {
    if d.is_empty() {
        return Err(Error::new(Code::InvalidPath, "directory is empty"));
    }
    crate::path::validate(&format!("{}key", absolute_dir(d))).map_err(|e| {
        Error::new(Code::InvalidPath, format!("directory {d:?} does not prefix valid paths: {}", e.message()))
    })
}

/// The variable's text: `None` when unset, an error when set but not
/// UTF-8 or blank.
fn env_text(get: &impl Fn(&str) -> Option<OsString>, name: &str) -> Result<Option<String>> {
    let Some(raw) = get(name) else { return Ok(None) };
    let text = raw.into_string().map_err(|_| bad_env(name, "is not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Err(bad_env(name, "is set but empty (unset it to use the default)"));
    }
    Ok(Some(text))
}

/// The variable parsed by `parse`; `None` when unset.
fn env_value<T>(
    get: &impl Fn(&str) -> Option<OsString>,
    name: &str,
    parse: impl Fn(&str) -> Result<T>,
) -> Result<Option<T>> {
    env_text(get, name)?.map(|text| parse(&text).map_err(|e| env_error(name, e))).transpose()
}

fn bad_env(name: &str, why: &str) -> Error {
    Error::new(Code::BadConfig, format!("{name} {why}"))
}

/// A parse error of variable `name`: [`Code::BadConfig`] naming it, but for
/// a size limit, which keeps its own code.
fn env_error(name: &str, e: Error) -> Error {
    let code = if e.code() == Code::DataTooLarge { e.code() } else { Code::BadConfig };
    Error::new(code, format!("{name}: {}", e.message()))
}

/// Milliseconds: a whole number from 1 to i32::MAX (ZooKeeper's session
/// timeout is an int of milliseconds).
fn parse_env_ms(text: &str) -> Result<Duration> {
    text.parse::<i32>()
        .ok()
        .filter(|ms| *ms > 0 && text.bytes().all(|b| b.is_ascii_digit()))
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            Error::invalid_argument(format!("{text:?} is not a whole number of milliseconds from 1 to {}", i32::MAX))
        })
}

/// `0` or `1`, nothing else (`yes`, `true` or ` 1` are typos to report,
/// not guesses to make).
fn parse_env_flag(text: &str) -> Result<bool> {
    match text {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(Error::invalid_argument(format!("{text:?} is not 0 or 1"))),
    }
}

/// `scheme:user:password` (the password may contain ':'). Messages never
/// repeat the text: it holds a password.
pub fn parse_auth(s: &str) -> Result<Auth> {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(user), Some(password)) if !scheme.is_empty() => {
            Ok(Auth { scheme: scheme.into(), user: user.into(), password: password.into() })
        }
        _ => Err(Error::invalid_argument("auth is not scheme:user:password (an empty scheme or a missing ':')")),
    }
}

/// `user:password:perms[,user:password:perms...]`: every entry with a
/// user and permission letters of `cdrwa` (the password may contain ':').
/// Messages name the entry by position and user, never its password.
pub fn parse_acl_list(s: &str) -> Result<Vec<AclSpec>> {
    s.split(',')
        .enumerate()
        .map(|(i, entry)| {
            let n = i + 1;
            let malformed = || Error::invalid_argument(format!("ACL entry {n} is not user:password:perms"));
            let (user, rest) = entry.split_once(':').ok_or_else(malformed)?;
            let (password, perms) = rest.rsplit_once(':').ok_or_else(malformed)?;
            if user.is_empty() {
                return Err(Error::invalid_argument(format!("ACL entry {n} has an empty user")));
            }
            if perms.is_empty() {
                return Err(Error::new(
                    Code::BadPermission,
                    format!("ACL entry {n} (user {user:?}) has no permission letters"),
                ));
            }
            acl::letters_to_mask(perms).map_err(|e| e.context(format!("ACL entry {n} (user {user:?})")))?;
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

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(*v))
    }

    #[test]
    fn env_parsing() {
        let vars = [
            ("ZKU_HOSTS", "127.0.0.1:1"),
            ("ZKU_AUTH", "digest:xp:1:2"),
            ("ZKU_ACL", "xp:123:cdrwa,foo:a:b:rw"),
            ("ZKU_SESSION_TIMEOUT_MS", "1500"),
            ("ZKU_SESSION_RENEWAL", "1"),
            ("ZKU_LOCK_DIR", "locks/"),
        ];
        let c = Config::from_env(env(&vars)).unwrap();
        assert_eq!(c.lock_dir(), "/locks/");
        assert_eq!(c.hosts.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(c.auth.unwrap().password, "1:2");
        let acl = c.acl.unwrap();
        assert_eq!(acl[1], AclSpec { user: "foo".into(), password: "a:b".into(), perms: "rw".into() });
        assert_eq!(c.session_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(c.session_renewal, Some(true));
        assert!(!Config::default().session_renewal());
        assert_eq!(Config::from_env(env(&[])).unwrap(), Config::default());
    }

    #[test]
    fn malformed_variables_fail_closed() {
        let cases = [
            ("ZKU_HOSTS", "h:notaport"),
            ("ZKU_HOSTS", ""),
            ("ZKU_SESSION_TIMEOUT_MS", "10s"),
            ("ZKU_SESSION_TIMEOUT_MS", "0"),
            ("ZKU_CONNECT_TIMEOUT_MS", "-5"),
            ("ZKU_CONNECT_TIMEOUT_MS", "99999999999"),
            ("ZKU_CONNECT_TIMEOUT_MS", " 100"),
            ("ZKU_SESSION_RENEWAL", "yes"),
            ("ZKU_SESSION_RENEWAL", "2"),
            ("ZKU_SESSION_RENEWAL", " 1"),
            ("ZKU_AUTH", "digest"),
            ("ZKU_AUTH", ":u:p"),
            ("ZKU_ACL", "xp:123:cdrwq"),
            ("ZKU_ACL", "xp:123:rw,"),
            ("ZKU_ACL", "xp:123:"),
            ("ZKU_ACL", ":123:rw"),
            ("ZKU_ACL", "  "),
            ("ZKU_NODE_ID", ""),
            ("ZKU_LOCK_DIR", "/a//"),
            ("ZKU_RECORD_DIR", "./"),
            ("ZKU_SEQ_DIR", "/s\u{1}/"),
            ("ZKU_TX_DIR", ""),
        ];
        for (name, value) in cases {
            let err = Config::from_env(env(&[(name, value)])).unwrap_err();
            assert_eq!(err.code(), Code::BadConfig, "{name}={value:?}: {err}");
            assert!(err.message().starts_with(name), "{name}={value:?}: {err}");
            assert!(!err.message().contains("123"), "no password in {err}");
        }
        let huge = format!("digest:u:{}", "p".repeat(crate::packet::MAX_REQUEST_LEN));
        let err = Config::from_env(env(&[("ZKU_AUTH", &huge)])).unwrap_err();
        assert_eq!(err.code(), Code::DataTooLarge);
        assert!(err.message().starts_with("ZKU_AUTH"), "{err}");
        let not_utf8 = |_: &str| Some(<OsString as std::os::unix::ffi::OsStringExt>::from_vec(vec![0xff]));
        assert_eq!(Config::from_env(not_utf8).unwrap_err().code(), Code::BadConfig);
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
