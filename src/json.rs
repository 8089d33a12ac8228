//! JSON checks for the JSON variants of node operations: values go in and
//! out as UTF-8 JSON text, validated but not reformatted.

use crate::error::{Code, Error, Result};

/// Checks that `text` is one JSON value.
pub fn validate(text: &str) -> Result<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| Error::new(Code::BadJson, format!("invalid JSON: {e}")))
}

/// Node data as JSON text: UTF-8 and one JSON value.
pub fn text_from_bytes(data: Vec<u8>) -> Result<String> {
    let text = String::from_utf8(data).map_err(|e| {
        Error::new(
            Code::BadJson,
            format!("node data is not UTF-8 JSON: invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        )
    })?;
    validate(&text)?;
    Ok(text)
}

/// Parses `text` into a value.
pub fn parse(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::new(Code::BadJson, format!("invalid JSON: {e}")))
}

/// The member of `value` at a JSON Pointer (RFC 6901, e.g. `/jobs/num`;
/// "" is the whole value), as compact JSON text. Errors:
/// [`Code::InvalidArgument`] (not a pointer), [`Code::NoMember`].
pub fn member_at(value: &serde_json::Value, pointer: &str) -> Result<String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(Error::invalid_argument(format!("JSON Pointer must be empty or start with '/': {pointer:?}")));
    }
    let member =
        value.pointer(pointer).ok_or_else(|| Error::new(Code::NoMember, format!("no member at {pointer:?}")))?;
    serde_json::to_string(member).map_err(|e| Error::new(Code::SystemError, format!("cannot encode the member: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        validate("{\"a\": [1, null, \"é\"]}").unwrap();
        validate(" 3 ").unwrap();
        for bad in ["", "{", "{} {}", "nul", "{'a':1}"] {
            assert_eq!(validate(bad).unwrap_err().code(), Code::BadJson, "{bad}");
        }
        assert_eq!(text_from_bytes(vec![0xff]).unwrap_err().code(), Code::BadJson);
        assert_eq!(text_from_bytes(b"[1]".to_vec()).unwrap(), "[1]");
    }

    #[test]
    fn members_by_pointer() {
        let value = parse(r#"{"jobs": {"num": 3, "a/b": [true], "m~n": null}}"#).unwrap();
        assert_eq!(member_at(&value, "/jobs/num").unwrap(), "3");
        assert_eq!(member_at(&value, "/jobs/a~1b/0").unwrap(), "true");
        assert_eq!(member_at(&value, "/jobs/m~0n").unwrap(), "null");
        assert_eq!(member_at(&value, "").unwrap(), r#"{"jobs":{"a/b":[true],"m~n":null,"num":3}}"#);
        assert_eq!(member_at(&value, "/jobs/x").unwrap_err().code(), Code::NoMember);
        assert_eq!(member_at(&value, "jobs").unwrap_err().code(), Code::InvalidArgument);
    }
}
