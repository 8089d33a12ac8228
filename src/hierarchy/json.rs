//! An order-keeping JSON model for hierarchy documents, and a writer that
//! formats values the way k3zkutil stores them (also used by the `zkutil`
//! command to update JSON values without reordering their keys).
//!
//! `serde_json::Value` sorts object keys (or, with a feature the rest of the
//! crate does not need, keeps only the last of duplicate keys). A hierarchy
//! document needs both the order (children are created, and `__val__`
//! objects are written, in document order, as k3zkutil does) and duplicate
//! detection (`{"a": {}, "a": {}}` is a mistake to report, not to resolve
//! silently), so objects here are lists of pairs.

use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::error::{Code, Error, Result};

/// Nesting levels (arrays and objects) serde_json reads before refusing a
/// document; export keeps its output within it so import can read it back.
pub(crate) const MAX_NESTING: usize = 127;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    /// Keys in document order, duplicates kept (see [`Json::duplicate_key`]).
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The first key that appears twice in this object (not recursive).
    pub(crate) fn duplicate_key(pairs: &[(String, Json)]) -> Option<&str> {
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        pairs.iter().map(|(k, _)| k.as_str()).find(|k| !seen.insert(*k))
    }

    /// Levels of arrays and objects: 0 for a scalar, 1 for `[]` or `{"a": 1}`.
    pub(crate) fn nesting(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::nesting).max().unwrap_or(0),
            Json::Object(pairs) => 1 + pairs.iter().map(|(_, v)| v.nesting()).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// The path (JSON Pointer, RFC 6901) of the first object that repeats a
    /// key, and the key, searching depth-first.
    pub(crate) fn find_duplicate(&self, at: &str) -> Option<(String, String)> {
        match self {
            Json::Array(items) => {
                items.iter().enumerate().find_map(|(i, v)| v.find_duplicate(&pointer_push(at, &i.to_string())))
            }
            Json::Object(pairs) => {
                if let Some(k) = Json::duplicate_key(pairs) {
                    return Some((at.to_string(), k.to_string()));
                }
                pairs.iter().find_map(|(k, v)| v.find_duplicate(&pointer_push(at, k)))
            }
            _ => None,
        }
    }
}

/// `at` + one reference token, escaped as RFC 6901 says (`~` -> `~0`,
/// `/` -> `~1`).
pub(crate) fn pointer_push(at: &str, token: &str) -> String {
    let mut out = String::with_capacity(at.len() + token.len() + 1);
    out.push_str(at);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// How a pointer is shown in messages (the whole document is "").
pub(crate) fn show_pointer(at: &str) -> String {
    if at.is_empty() { "the document root".to_string() } else { at.to_string() }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> std::result::Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Json, E> {
        serde_json::Number::from_f64(v).map(Json::Number).ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Json, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            pairs.push((k, v));
        }
        Ok(Json::Object(pairs))
    }
}

/// Parses one JSON value (ZKU_EJSON with line and column when malformed).
pub fn parse(text: &str) -> Result<Json> {
    serde_json::from_str(text).map_err(|e| Error::new(Code::BadJson, format!("invalid JSON: {e}")))
}

/// Parses node data when it is UTF-8 JSON text (`None` otherwise).
pub(crate) fn parse_bytes(data: &[u8]) -> Option<Json> {
    let text = std::str::from_utf8(data).ok()?;
    serde_json::from_str(text).ok()
}

/// Formats a value as Python's `json.dumps(value, ensure_ascii=False)`
/// does, which is how k3zkutil (k3utfjson.dump) stores node values:
/// `", "` and `": "` separators, non-ASCII kept, floats as Python's repr.
/// With `indent`, as `json.dumps(..., indent=n)`.
pub fn to_python_text(value: &Json, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent, 0);
    out
}

fn newline(out: &mut String, indent: usize, level: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * level));
}

fn write_value(out: &mut String, value: &Json, indent: Option<usize>, level: usize) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => write_number(out, n),
        Json::String(s) => write_string(out, s),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Object(pairs) if pairs.is_empty() => out.push_str("{}"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, indent, level);
                write_value(out, item, indent, level + 1);
            }
            close(out, ']', indent, level);
        }
        Json::Object(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                separator(out, i, indent, level);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v, indent, level + 1);
            }
            close(out, '}', indent, level);
        }
    }
}

fn separator(out: &mut String, i: usize, indent: Option<usize>, level: usize) {
    match indent {
        None if i > 0 => out.push_str(", "),
        None => {}
        Some(n) => {
            if i > 0 {
                out.push(',');
            }
            newline(out, n, level + 1);
        }
    }
}

fn close(out: &mut String, bracket: char, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        newline(out, n, level);
    }
    out.push(bracket);
}

/// JSON string escaping as Python's json module with ensure_ascii=False.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        out.push_str(&python_float_repr(n.as_f64().unwrap_or(0.0)));
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in [-4, 16), else as `d.ddde+XX`.
pub(crate) fn python_float_repr(f: f64) -> String {
    // Rust's `{:e}` gives the same shortest round-trip digits: "1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp output has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        // Fixed notation with at least one digit after the point.
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_duplicates() {
        let v = parse(r#"{"b": 1, "a": {"x": [1, 2]}, "b": 2}"#).unwrap();
        let Json::Object(pairs) = &v else { panic!() };
        assert_eq!(pairs.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["b", "a", "b"]);
        assert_eq!(Json::duplicate_key(pairs), Some("b"));
        assert_eq!(v.find_duplicate(""), Some(("".to_string(), "b".to_string())));
        let nested = parse(r#"{"a": [{"k/~": {"z": 1, "z": 2}}]}"#).unwrap();
        assert_eq!(nested.find_duplicate(""), Some(("/a/0/k~1~0".to_string(), "z".to_string())));
        assert_eq!(v.nesting(), 3);
        assert_eq!(parse("[1,").unwrap_err().code(), Code::BadJson);
    }

    #[test]
    fn writes_like_python_json_dumps() {
        // Expected strings come from Python 3's json.dumps(v, ensure_ascii=False).
        let cases = [
            (r#"{"b":1,"a":[1.5,"é\n",null,true]}"#, r#"{"b": 1, "a": [1.5, "é\n", null, true]}"#),
            ("{}", "{}"),
            ("[]", "[]"),
            (r#""\u0001\u001f\u007f/\"""#, "\"\\u0001\\u001f\u{7f}/\\\"\""),
            (
                "[1e16, 1e15, 0.0001, 0.00001, 1E2, -0.5, 123456.789, 1e-7, 2.5e+300]",
                "[1e+16, 1000000000000000.0, 0.0001, 1e-05, 100.0, -0.5, 123456.789, 1e-07, 2.5e+300]",
            ),
            ("[-1, 18446744073709551615, -9223372036854775808]", "[-1, 18446744073709551615, -9223372036854775808]"),
            ("[1.7976931348623157e308, 5e-324, 0.1, 1.0]", "[1.7976931348623157e+308, 5e-324, 0.1, 1.0]"),
        ];
        for (input, expected) in cases {
            assert_eq!(to_python_text(&parse(input).unwrap(), None), expected, "{input}");
        }
        let v = parse(r#"{"a": [1, {}], "b": {"c": null}}"#).unwrap();
        assert_eq!(
            to_python_text(&v, Some(2)),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": {\n    \"c\": null\n  }\n}"
        );
    }

    #[test]
    fn numbers_read_back_as_written() {
        // Found by fuzz/hierarchy: a long integer was read 1 ulp off, so
        // its stored text read back as another number (and export ->
        // import -> export changed it). Numbers must be read correctly
        // rounded, as the shortest repr written for them assumes.
        let long = parse("222200000000000000000000693365661").unwrap();
        assert_eq!(long, parse("2.222e+32").unwrap());
        for text in ["222200000000000000000000693365661", "2.22200000000000000000000693365661e32", "0.1", "5e-324"] {
            let value = parse(text).unwrap();
            assert_eq!(parse(&to_python_text(&value, None)).unwrap(), value, "{text}");
        }
    }

    #[test]
    fn nesting_limit_is_what_serde_json_reads() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(&deep(MAX_NESTING)).is_ok());
        assert_eq!(parse(&deep(MAX_NESTING + 1)).unwrap_err().code(), Code::BadJson);
    }

    #[test]
    fn pointers_escape() {
        assert_eq!(pointer_push("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(show_pointer(""), "the document root");
    }
}
