//! Paths and chroots: `path::validate` and `validate_sequential_prefix`
//! accept or refuse with `Code::InvalidPath`, a connect string takes a
//! chroot exactly when it is a valid path, and a valid path splits into a
//! valid parent and a name that join back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::config::parse_hosts;
use zkutil::path::{join, parent, validate, validate_sequential_prefix};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = std::str::from_utf8(data) else { return };
    let valid = validate(p);
    if let Err(e) = &valid {
        assert_eq!(e.code(), Code::InvalidPath, "{p:?}: {e}");
    }
    if let Err(e) = validate_sequential_prefix(p) {
        assert_eq!(e.code(), Code::InvalidPath, "{p:?}: {e}");
        assert!(valid.is_err(), "{p:?} is a path but not a sequential prefix: {e}");
    }
    if p.starts_with('/') {
        let chroot = parse_hosts(&format!("127.0.0.1:2181{p}"));
        assert_eq!(chroot.is_ok(), valid.is_ok(), "chroot {p:?}: {chroot:?}");
    }
    if valid.is_err() {
        return;
    }
    match parent(p) {
        None => assert_eq!(p, "/"),
        Some(up) => {
            validate(up).unwrap();
            let name = p[up.len()..].trim_start_matches('/');
            assert!(!name.is_empty() && !name.contains('/'), "{p:?}");
            assert_eq!(join(up, name), p);
        }
    }
});
