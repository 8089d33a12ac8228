//! Lock identifiers: `parse_lock_id` takes any text, gives back what
//! `lock_id` built, and `is_backward_locking` refuses only a repeated key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::lockid::{is_backward_locking, lock_id, parse_lock_id};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let parts = parse_lock_id(s);
    assert!(s.starts_with(&parts.node_id));
    if let Some(pid) = parts.process_id {
        assert!(pid >= 0);
    }
    if !s.contains('-') {
        let built = lock_id(s);
        let back = parse_lock_id(&built);
        assert_eq!(back.node_id, s);
        assert_eq!(back.process_id, Some(i64::from(std::process::id())));
        assert_eq!(back.uuid.map(|u| u.len()), Some(32));
    }
    let keys: Vec<&str> = s.split(',').collect();
    let (held, key) = keys.split_at(keys.len() - 1);
    match is_backward_locking(held, key[0]) {
        Ok(backward) => assert_eq!(backward, held.iter().any(|k| key[0] < *k), "{s:?}"),
        Err(e) => {
            assert_eq!(e.code(), Code::AlreadyLocked);
            assert!(held.contains(&key[0]));
        }
    }
});
