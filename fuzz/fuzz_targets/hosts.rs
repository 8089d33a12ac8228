//! Connect strings: `config::parse_hosts` accepts or refuses with
//! ZKU_EHOSTS, and what it accepts prints back to a string that parses to
//! the same servers and chroot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::config::{HostPort, parse_hosts};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match parse_hosts(s) {
        Err(e) => assert_eq!(e.code(), Code::InvalidHosts, "{s:?}: {e}"),
        Ok((servers, chroot)) => {
            assert!(!servers.is_empty(), "{s:?}");
            for server in &servers {
                assert!(!server.host.is_empty() && server.port != 0, "{s:?}: {server:?}");
            }
            if let Some(root) = &chroot {
                zkutil::path::validate(root).unwrap();
                assert_ne!(root, "/");
            }
            let again = format!(
                "{}{}",
                servers.iter().map(show).collect::<Vec<_>>().join(","),
                chroot.as_deref().unwrap_or("")
            );
            assert_eq!(parse_hosts(&again).unwrap(), (servers, chroot), "{s:?} printed as {again:?}");
        }
    }
});

fn show(server: &HostPort) -> String {
    if server.host.contains(':') {
        format!("[{}]:{}", server.host, server.port)
    } else {
        format!("{}:{}", server.host, server.port)
    }
}
