//! Lock holder identifiers (`<node_id>-<ip>-<pid>-<uuid hex>`) and the
//! lock-ordering check, as k3zkutil's lock_id, parse_lock_id and
//! is_backward_locking.

use std::net::Ipv4Addr;

use once_cell::sync::Lazy;

use crate::error::{Code, Error, Result};

/// A new identifier for a lock holder on this host and process.
pub fn lock_id(node_id: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("{node_id}-{}-{}-{uuid}", host_ip4(), std::process::id())
}

/// The parts of an identifier built by [`lock_id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockIdParts {
    pub node_id: String,
    pub ip: Option<String>,
    /// `None` when the third part is missing or not all ASCII digits.
    pub process_id: Option<i64>,
    pub uuid: Option<String>,
    /// The text after `txid:` when node_id starts with it.
    pub txid: Option<String>,
}

/// Splits on the first three `-`, as k3zkutil's parse_lock_id.
pub fn parse_lock_id(s: &str) -> LockIdParts {
    let mut parts = s.splitn(4, '-');
    let node_id = parts.next().unwrap_or("").to_string();
    let ip = parts.next().map(str::to_string);
    let process_id = parts.next().and_then(parse_digits);
    let uuid = parts.next().map(str::to_string);
    let txid = node_id.strip_prefix("txid:").map(str::to_string);
    LockIdParts { node_id, ip, process_id, uuid, txid }
}

// Python's str.isdigit() accepts more than ASCII digits, but int() of
// those succeeds too only for decimal digits; we accept what both agree on
// for ASCII and treat everything else as "not a process id".
fn parse_digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// True when locking `key` after `locked_keys` would go backwards in sorted
/// order (the naive deadlock check). Locking a held key again is an error.
pub fn is_backward_locking<S: AsRef<str>>(locked_keys: &[S], key: &str) -> Result<bool> {
    if locked_keys.iter().any(|k| k.as_ref() == key) {
        return Err(Error::new(Code::AlreadyLocked, format!("must not re-lock a key, but: {key:?}")));
    }
    // Rust compares str by UTF-8 bytes, which orders like Python's code points.
    Ok(locked_keys.iter().map(AsRef::as_ref).max().is_some_and(|greatest| key < greatest))
}

/// The host's first internal IPv4 address, else a public one, else
/// "unknownip" (127.0.0.1 is never chosen), as k3zkutil.
pub fn host_ip4() -> &'static str {
    static IP: Lazy<String> = Lazy::new(|| {
        let ips: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|iface| match iface.ip() {
                std::net::IpAddr::V4(ip) if ip != Ipv4Addr::LOCALHOST => Some(ip),
                _ => None,
            })
            .collect();
        let internal = ips.iter().find(|ip| is_internal(**ip));
        internal.or(ips.first()).map_or_else(|| "unknownip".to_string(), |ip| ip.to_string())
    });
    &IP
}

// k3net's inner_ip_patterns plus 127.0.0.x.
fn is_internal(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    (a == 127 && b == 0 && c == 0) || a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168)
}

/// The host's MAC address as 12 lower-case hex digits (k3zkutil's default
/// node_id), from the first non-loopback interface with a non-zero address.
pub fn default_node_id() -> String {
    static NODE_ID: Lazy<String> = Lazy::new(|| {
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter(|name| name.as_str() != "lo")
            .filter_map(|name| std::fs::read_to_string(format!("/sys/class/net/{name}/address")).ok())
            .map(|mac| mac.trim().replace(':', ""))
            .find(|hex| hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) && hex != "000000000000")
            .unwrap_or_else(|| "000000000000".to_string())
    });
    NODE_ID.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_id_round_trips() {
        let id = lock_id("web");
        let parts = parse_lock_id(&id);
        assert_eq!(parts.node_id, "web");
        assert_eq!(parts.ip.as_deref(), Some(host_ip4()));
        assert_eq!(parts.process_id, Some(std::process::id() as i64));
        assert_eq!(parts.uuid.as_ref().map(|u| u.len()), Some(32));
        assert_eq!(parts.txid, None);
    }

    #[test]
    fn parse_odd_inputs() {
        let p = parse_lock_id("txid:12-1.2.3.4-x-a-b");
        assert_eq!(p.txid.as_deref(), Some("12"));
        assert_eq!(p.process_id, None);
        assert_eq!(p.uuid.as_deref(), Some("a-b"));
        let p = parse_lock_id("");
        assert_eq!((p.node_id.as_str(), p.ip, p.uuid), ("", None, None));
    }

    #[test]
    fn backward_locking() {
        assert!(!is_backward_locking::<&str>(&[], "a").unwrap());
        assert!(is_backward_locking(&["a", "c"], "b").unwrap());
        assert!(!is_backward_locking(&["a", "c"], "d").unwrap());
        assert_eq!(is_backward_locking(&["a"], "a").unwrap_err().code(), Code::AlreadyLocked);
    }

    #[test]
    fn node_id_is_12_hex_digits() {
        let id = default_node_id();
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
