//! Hierarchy documents: `Document::parse` (every format key, base64, ACL
//! entries) accepts or refuses with a specific code, never a panic; and any
//! JSON value survives k3zkutil's text form (what `__val__` stores)
//! unchanged when read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::hierarchy::json::{parse, to_python_text};
use zkutil::hierarchy::{Document, Users};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let users = Users::parse(r#"{"xp": "123", "u": "p"}"#).unwrap();
    match Document::parse(text, &users) {
        Ok(doc) => assert!(doc.node_count() >= 1),
        Err(e) => assert!(
            matches!(
                e.code(),
                Code::BadJson | Code::InvalidPath | Code::InvalidAcl | Code::BadPermission | Code::DataTooLarge
            ),
            "{text:?}: {:?} {e}",
            e.code()
        ),
    }
    let _ = Users::parse(text);
    if let Ok(value) = parse(text) {
        for indent in [None, Some(2)] {
            let printed = to_python_text(&value, indent);
            assert_eq!(parse(&printed).unwrap(), value, "{text:?} printed as {printed:?}");
        }
    }
});
