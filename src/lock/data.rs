//! The lock node's data, shared with k3zkutil: UTF-8 JSON
//! `{"id": <identifier>, "val": <any JSON>}`.
//!
//! We write it the way k3zkutil does (Python's `json.dumps` with
//! `ensure_ascii=False`: `", "` and `": "` separators, non-ASCII kept as
//! is), so for the default `null` value the bytes are identical. A `val`
//! given by the caller keeps its own string escapes and number spellings;
//! only the whitespace between tokens is normalised.

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::error::{Code, Error, Result};

/// The node data for identifier `id` and value `val` (JSON text already
/// validated and spaced by [`python_spacing`]).
pub(crate) fn encode(id: &str, val: &str) -> Vec<u8> {
    // serde_json escapes exactly what Python escapes with ensure_ascii=False:
    // '"', '\\' and the control characters below U+0020 (as \n, \t, ... or
    // \u00XX with lower-case hex).
    let id = serde_json::to_string(id).expect("a string always serialises");
    format!("{{\"id\": {id}, \"val\": {val}}}").into_bytes()
}

/// Re-spaces JSON text as Python's `json.dumps` does: no whitespace between
/// tokens except one space after `,` and `:`. Text inside strings is kept.
pub(crate) fn python_spacing(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            ' ' | '\t' | '\n' | '\r' => {}
            ',' => out.push_str(", "),
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

/// Validates `val` as one JSON value and spaces it for the node.
pub(crate) fn val_text(val: &str) -> Result<String> {
    crate::json::validate(val)?;
    Ok(python_spacing(val))
}

/// The members of a JSON object node, borrowed as raw JSON text.
fn members(data: &[u8]) -> Result<HashMap<String, &RawValue>> {
    let text = std::str::from_utf8(data).map_err(|e| {
        Error::new(Code::BadJson, format!("lock node data is not UTF-8 (invalid at byte {})", e.valid_up_to()))
    })?;
    match serde_json::from_str::<HashMap<String, &RawValue>>(text) {
        Ok(map) => Ok(map),
        Err(_) => {
            crate::json::validate(text).map_err(|e| e.context("lock node data"))?;
            Err(Error::new(Code::NotJsonObject, "lock node data is JSON but not an object"))
        }
    }
}

/// Whether the node data names `id` as its holder: k3zkutil's
/// cmp_identifier compares the "id" members only. Data that is not a JSON
/// object with an "id" never matches.
pub(crate) fn holds(data: &[u8], id: &str) -> bool {
    let Ok(members) = members(data) else { return false };
    let Some(raw) = members.get("id") else { return false };
    matches!(serde_json::from_str::<serde_json::Value>(raw.get()), Ok(serde_json::Value::String(s)) if s == id)
}

/// The holder's identifier: the "id" member as text when it is a JSON
/// string, else its JSON text; `None` when the data has no "id".
pub(crate) fn holder_id(data: &[u8]) -> Option<String> {
    let members = members(data).ok()?;
    let raw = members.get("id")?;
    match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => Some(raw.get().to_string()),
    }
}

/// The "val" member's JSON text as stored (`null` when the member is
/// missing, as a node written without one has no value).
pub(crate) fn stored_val(data: &[u8]) -> Result<String> {
    let members = members(data)?;
    Ok(members.get("val").map_or_else(|| "null".to_string(), |raw| raw.get().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_python() {
        // What k3utfjson.dump({"id": ..., "val": None}) produces.
        assert_eq!(encode("a-b", "null"), br#"{"id": "a-b", "val": null}"#.to_vec());
        assert_eq!(
            String::from_utf8(encode("\u{7f}\u{2028}\u{1}\"\\/é\n", "null")).unwrap(),
            "{\"id\": \"\u{7f}\u{2028}\\u0001\\\"\\\\/é\\n\", \"val\": null}"
        );
        assert_eq!(
            python_spacing(r#" { "x" :[1,2 , {"a b":"c,d: e"}],"y":"\"q,"} "#),
            r#"{"x": [1, 2, {"a b": "c,d: e"}], "y": "\"q,"}"#
        );
        assert_eq!(python_spacing("[]"), "[]");
        assert_eq!(val_text("{\"a\":1}").unwrap(), "{\"a\": 1}");
        assert_eq!(val_text("{").unwrap_err().code(), Code::BadJson);
    }

    #[test]
    fn parses_holders() {
        let data = encode("me", r#"{"k": [1, 2]}"#);
        assert!(holds(&data, "me"));
        assert!(!holds(&data, "you"));
        assert_eq!(holder_id(&data).as_deref(), Some("me"));
        assert_eq!(stored_val(&data).unwrap(), r#"{"k": [1, 2]}"#);
        assert!(!holds(b"xxx", "me"));
        assert!(!holds(br#"{"id": 1}"#, "1"));
        assert_eq!(holder_id(br#"{"id": 1}"#).as_deref(), Some("1"));
        assert_eq!(holder_id(b"[1]"), None);
        assert_eq!(stored_val(br#"{"id": "x"}"#).unwrap(), "null");
        assert_eq!(stored_val(b"xxx").unwrap_err().code(), Code::BadJson);
        assert_eq!(stored_val(b"[1]").unwrap_err().code(), Code::NotJsonObject);
        assert_eq!(stored_val(&[0xff]).unwrap_err().code(), Code::BadJson);
    }
}
