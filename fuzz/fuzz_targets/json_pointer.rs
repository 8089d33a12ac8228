//! JSON Pointers as the reader's `get_pointer` resolves them
//! (`json::member_at`): input is `<pointer>\n<JSON document>`. A pointer
//! either names a member, printed as JSON that parses back to that member,
//! or is refused with ZKU_EARG / ZKU_ENOMEMBER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::json::{member_at, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (pointer, doc) = s.split_once('\n').unwrap_or((s, "{}"));
    let Ok(value) = parse(doc) else { return };
    match member_at(&value, pointer) {
        Ok(text) => assert_eq!(Some(&parse(&text).unwrap()), value.pointer(pointer), "{s:?}"),
        Err(e) => assert!(matches!(e.code(), Code::InvalidArgument | Code::NoMember), "{s:?}: {e}"),
    }
});
