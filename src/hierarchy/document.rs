//! Reading a hierarchy document into a validated tree of node specs, before
//! anything is written. See docs/hierarchy.md for the format.

use base64::Engine;

use super::json::{self, Json, pointer_push, show_pointer};
use crate::acl::{self, Acl};
use crate::error::{Code, Error, Result};

/// The value a node gets when the document gives none: k3zkutil's `{}`.
pub(crate) const DEFAULT_VALUE: &[u8] = b"{}";

/// Keys of a node object with a meaning of their own.
pub(crate) const KEY_VAL: &str = "__val__";
pub(crate) const KEY_TEXT: &str = "__text__";
pub(crate) const KEY_DATA: &str = "__data__";
pub(crate) const KEY_ACL: &str = "__acl__";
pub(crate) const KEY_ACLS: &str = "__acls__";
pub(crate) const KEY_CHILDREN: &str = "__children__";

/// Keys shaped like `__name__` are reserved for the format: a child node
/// with such a name goes in `__children__`.
pub(crate) fn is_reserved(key: &str) -> bool {
    key.len() >= 4 && key.starts_with("__") && key.ends_with("__")
}

/// One node of a document: what to write, and its children in document
/// order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeSpec {
    /// The data to store; `None` when the document gives none (created
    /// with `{}`, left alone when the node exists).
    pub value: Option<Vec<u8>>,
    /// The ACL; `None` when the document gives none (the parent's).
    pub acl: Option<Vec<Acl>>,
    pub children: Vec<(String, NodeSpec)>,
}

/// A parsed and validated hierarchy document: the node at the import root
/// (its `__val__`/`__acl__`, if any, apply to the root itself) and its
/// descendants.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub(crate) root: NodeSpec,
    nodes: usize,
}

/// user -> password, for the `{user: perms}` short ACL form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users(Vec<(String, String)>);

impl Users {
    pub fn new() -> Users {
        Users::default()
    }

    /// Parses a JSON object `{"user": "password", ...}`.
    pub fn parse(text: &str) -> Result<Users> {
        let fail = |e: Error| e.context("users");
        let value = json::parse(text).map_err(fail)?;
        let Json::Object(pairs) = value else {
            return Err(fail(Error::new(
                Code::BadJson,
                format!("must be a JSON object {{\"user\": \"password\"}}, got {}", value.kind()),
            )));
        };
        if let Some(dup) = Json::duplicate_key(&pairs) {
            return Err(fail(Error::new(Code::BadJson, format!("user {dup:?} appears twice"))));
        }
        let mut users = Users::new();
        for (user, password) in pairs {
            match password {
                Json::String(p) => users.insert(&user, &p),
                other => {
                    return Err(fail(Error::new(
                        Code::BadJson,
                        format!("at {}: the password must be a string, got {}", pointer_push("", &user), other.kind()),
                    )));
                }
            }
        }
        Ok(users)
    }

    /// Adds (or replaces) a user.
    pub fn insert(&mut self, user: &str, password: &str) {
        match self.0.iter_mut().find(|(u, _)| u == user) {
            Some(entry) => entry.1 = password.to_string(),
            None => self.0.push((user.to_string(), password.to_string())),
        }
    }

    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.iter().find(|(u, _)| u == user).map(|(_, p)| p.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `entry` is the digest entry of a known user's password, so
    /// that `{user: perms}` rebuilds it exactly.
    pub(crate) fn knows(&self, entry: &Acl) -> bool {
        if entry.scheme != "digest" {
            return false;
        }
        let Some((user, _)) = entry.id.split_once(':') else { return false };
        self.password(user).is_some_and(|p| Acl::digest(user, p, entry.perms).id == entry.id)
    }
}

fn at_error(code: Code, at: &str, message: impl std::fmt::Display) -> Error {
    Error::new(code, format!("hierarchy at {}: {message}", show_pointer(at)))
}

impl Document {
    /// Parses and checks a whole document; nothing is written, and an
    /// error names the JSON path (RFC 6901 pointer) of what is wrong.
    pub fn parse(text: &str, users: &Users) -> Result<Document> {
        let value = json::parse(text).map_err(|e| e.context("hierarchy"))?;
        if let Some((at, key)) = value.find_duplicate("") {
            return Err(at_error(Code::BadJson, &at, format!("the key {key:?} appears twice")));
        }
        let mut nodes = 0;
        let root = node_spec(&value, "", users, &mut nodes)?;
        Ok(Document { root, nodes })
    }

    /// Number of nodes described, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// The names of the root's children, in document order.
    pub fn child_names(&self) -> impl Iterator<Item = &str> {
        self.root.children.iter().map(|(n, _)| n.as_str())
    }
}

fn node_spec(value: &Json, at: &str, users: &Users, nodes: &mut usize) -> Result<NodeSpec> {
    let Json::Object(pairs) = value else {
        return Err(at_error(Code::BadJson, at, format!("a node must be a JSON object, got {}", value.kind())));
    };
    *nodes += 1;
    let mut spec = NodeSpec { value: None, acl: None, children: Vec::new() };
    let mut value_key: Option<&str> = None;
    let mut short_acl: Option<Vec<Acl>> = None;
    let mut list_acl: Option<Vec<Acl>> = None;
    let mut names = std::collections::HashSet::new();
    for (key, v) in pairs {
        let here = pointer_push(at, key);
        match key.as_str() {
            KEY_VAL | KEY_TEXT | KEY_DATA => {
                if let Some(first) = value_key {
                    return Err(at_error(
                        Code::BadJson,
                        at,
                        format!("both {first} and {key} give the value; keep one"),
                    ));
                }
                value_key = Some(key);
                let data = match (key.as_str(), v) {
                    (KEY_VAL, v) => json::to_python_text(v, None).into_bytes(),
                    (KEY_TEXT, Json::String(s)) => s.clone().into_bytes(),
                    (KEY_DATA, Json::String(s)) => {
                        base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| {
                            at_error(Code::BadJson, &here, format!("not base64 (standard alphabet, padded): {e}"))
                        })?
                    }
                    (_, other) => {
                        return Err(at_error(Code::BadJson, &here, format!("must be a string, got {}", other.kind())));
                    }
                };
                crate::path::check_data_len(&data).map_err(|e| at_error(Code::DataTooLarge, &here, e.message()))?;
                spec.value = Some(data);
            }
            KEY_ACL => short_acl = Some(short_acl_spec(v, &here, users)?),
            KEY_ACLS => list_acl = Some(acl_list_spec(v, &here)?),
            KEY_CHILDREN => {
                let Json::Object(children) = v else {
                    return Err(at_error(
                        Code::BadJson,
                        &here,
                        format!("must be an object of child nodes, got {}", v.kind()),
                    ));
                };
                for (name, child) in children {
                    add_child(&mut spec, &mut names, name, child, &pointer_push(&here, name), users, nodes)?;
                }
            }
            other if is_reserved(other) => {
                return Err(at_error(
                    Code::BadJson,
                    &here,
                    format!(
                        "unknown key {other:?}: keys like __name__ are reserved (__val__, __text__, __data__, __acl__, \
                         __acls__, __children__); put a child node with this name in __children__"
                    ),
                ));
            }
            name => add_child(&mut spec, &mut names, name, v, &here, users, nodes)?,
        }
    }
    if short_acl.is_some() || list_acl.is_some() {
        let acl: Vec<Acl> = short_acl.into_iter().flatten().chain(list_acl.into_iter().flatten()).collect();
        if acl.is_empty() {
            return Err(at_error(Code::InvalidAcl, at, "the ACL has no entries (a node needs at least one)"));
        }
        spec.acl = Some(acl);
    }
    Ok(spec)
}

fn add_child(
    spec: &mut NodeSpec,
    names: &mut std::collections::HashSet<String>,
    name: &str,
    child: &Json,
    at: &str,
    users: &Users,
    nodes: &mut usize,
) -> Result<()> {
    check_name(name, at)?;
    if !names.insert(name.to_string()) {
        return Err(at_error(
            Code::BadJson,
            at,
            format!("the child {name:?} is given twice (directly and in __children__)"),
        ));
    }
    let child = node_spec(child, at, users, nodes)?;
    spec.children.push((name.to_string(), child));
    Ok(())
}

fn check_name(name: &str, at: &str) -> Result<()> {
    if name.is_empty() {
        return Err(at_error(Code::InvalidPath, at, "a node name cannot be empty"));
    }
    if name.contains('/') {
        return Err(at_error(Code::InvalidPath, at, format!("the node name {name:?} contains '/'")));
    }
    crate::path::validate(&format!("/{name}")).map_err(|e| at_error(Code::InvalidPath, at, e.message()))
}

/// `{user: perms}`: digest entries with passwords from the users map.
fn short_acl_spec(v: &Json, at: &str, users: &Users) -> Result<Vec<Acl>> {
    let Json::Object(pairs) = v else {
        return Err(at_error(
            Code::BadJson,
            at,
            format!("must be an object {{\"user\": \"cdrwa\"}}, got {}", v.kind()),
        ));
    };
    pairs
        .iter()
        .map(|(user, perms)| {
            let here = pointer_push(at, user);
            let Json::String(perms) = perms else {
                return Err(at_error(
                    Code::BadJson,
                    &here,
                    format!("permissions must be a string of cdrwa letters, got {}", perms.kind()),
                ));
            };
            let mask = acl::letters_to_mask(perms).map_err(|e| at_error(Code::BadPermission, &here, e.message()))?;
            let password = users.password(user).ok_or_else(|| {
                at_error(Code::InvalidAcl, &here, format!("no password for user {user:?} in the users map"))
            })?;
            Ok(Acl::digest(user, password, mask))
        })
        .collect()
}

/// `[{"scheme": .., "id": .., "perms": ..}]`: explicit entries.
fn acl_list_spec(v: &Json, at: &str) -> Result<Vec<Acl>> {
    let Json::Array(items) = v else {
        return Err(at_error(
            Code::BadJson,
            at,
            format!("must be a list of {{\"scheme\": .., \"id\": .., \"perms\": ..}}, got {}", v.kind()),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let here = pointer_push(at, &i.to_string());
            let Json::Object(fields) = item else {
                return Err(at_error(
                    Code::BadJson,
                    &here,
                    format!("an ACL entry must be an object, got {}", item.kind()),
                ));
            };
            let mut scheme = None;
            let mut id = None;
            let mut perms = None;
            for (k, v) in fields {
                let slot = match k.as_str() {
                    "scheme" => &mut scheme,
                    "id" => &mut id,
                    "perms" => &mut perms,
                    other => {
                        return Err(at_error(
                            Code::BadJson,
                            &pointer_push(&here, other),
                            "unknown field (expected scheme, id, perms)",
                        ));
                    }
                };
                let Json::String(s) = v else {
                    return Err(at_error(
                        Code::BadJson,
                        &pointer_push(&here, k),
                        format!("must be a string, got {}", v.kind()),
                    ));
                };
                *slot = Some(s.as_str());
            }
            let missing = |f: &str| at_error(Code::BadJson, &here, format!("the ACL entry has no {f:?}"));
            let (scheme, id, perms) = (
                scheme.ok_or_else(|| missing("scheme"))?,
                id.ok_or_else(|| missing("id"))?,
                perms.ok_or_else(|| missing("perms"))?,
            );
            let mask = acl::letters_to_mask(perms)
                .map_err(|e| at_error(Code::BadPermission, &pointer_push(&here, "perms"), e.message()))?;
            check_acl_id(scheme, id).map_err(|why| at_error(Code::InvalidAcl, &here, why))?;
            Ok(Acl::new(mask, scheme, id))
        })
        .collect()
}

/// What ZooKeeper's built-in providers accept, checked before anything is
/// sent. Other schemes (x509, sasl, custom providers) are left to the
/// server.
fn check_acl_id(scheme: &str, id: &str) -> std::result::Result<(), String> {
    match scheme {
        "" => Err("the scheme is empty".into()),
        "world" if id != "anyone" => Err(format!("the world scheme's only id is \"anyone\", got {id:?}")),
        "digest" => match id.split_once(':') {
            Some((_, hash)) if !hash.is_empty() && !hash.contains(':') => Ok(()),
            _ => Err(format!("a digest id is \"user:base64(sha1(user:password))\", got {id:?}")),
        },
        "ip" => {
            let (addr, bits) = match id.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (id, None),
            };
            // As ZooKeeper reads it: four dot-separated numbers 0-255
            // (leading zeros allowed), or (3.9 and later) an IPv6 address.
            let v4 = addr.split('.').count() == 4
                && addr.split('.').all(|p| {
                    !p.is_empty()
                        && p.len() <= 3
                        && p.bytes().all(|b| b.is_ascii_digit())
                        && p.parse::<u32>().is_ok_and(|n| n <= 255)
                });
            let max = if v4 {
                32
            } else if addr.parse::<std::net::Ipv6Addr>().is_ok() {
                128
            } else {
                return Err(format!("an ip id is an address or address/bits, got {id:?}"));
            };
            match bits.map(str::parse::<u32>) {
                None => Ok(()),
                Some(Ok(b)) if b <= max => Ok(()),
                Some(_) => Err(format!("bad prefix length in ip id {id:?}")),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::parse(r#"{"xp": "123", "foo": "pw"}"#).unwrap()
    }

    fn err(doc: &str) -> Error {
        Document::parse(doc, &users()).unwrap_err()
    }

    #[test]
    fn k3zkutil_documents() {
        let doc = Document::parse(
            r#"{"a": {"__val__": {"b": 1, "a": "é"}, "__acl__": {"xp": "cdrwa", "foo": "RW"}, "c": {}, "d": {"__val__": "s"}}}"#,
            &users(),
        )
        .unwrap();
        assert_eq!(doc.node_count(), 4);
        assert_eq!(doc.root.value, None);
        assert_eq!(doc.root.acl, None);
        let (name, a) = &doc.root.children[0];
        assert_eq!(name, "a");
        assert_eq!(a.value.as_deref(), Some(r#"{"b": 1, "a": "é"}"#.as_bytes()));
        assert_eq!(a.acl.as_ref().unwrap(), &vec![Acl::digest("xp", "123", 31), Acl::digest("foo", "pw", 3)]);
        assert_eq!(a.children.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(a.children[0].1.value, None);
        assert_eq!(a.children[1].1.value.as_deref(), Some(&b"\"s\""[..]));
    }

    #[test]
    fn lossless_extensions() {
        let doc = Document::parse(
            r#"{"__text__": "", "__acls__": [{"scheme": "world", "id": "anyone", "perms": "r"}, {"scheme": "ip", "id": "127.0.0.1/8", "perms": "cdrwa"},
                             {"scheme": "ip", "id": "10.0.0.010", "perms": "r"}, {"scheme": "ip", "id": "fe80::1/64", "perms": "r"}],
                "b": {"__data__": "/wA=", "__acl__": {"xp": "a"}, "__acls__": [{"scheme": "digest", "id": "u:h", "perms": ""}]},
                "__children__": {"__val__": {}, "x": {"__val__": null}}}"#,
            &users(),
        )
        .unwrap();
        assert_eq!(doc.root.value.as_deref(), Some(&b""[..]));
        assert_eq!(doc.root.acl.as_ref().unwrap()[1], Acl::new(31, "ip", "127.0.0.1/8"));
        let names: Vec<_> = doc.child_names().collect();
        assert_eq!(names, ["b", "__val__", "x"]);
        let b = &doc.root.children[0].1;
        assert_eq!(b.value.as_deref(), Some(&[0xff, 0][..]));
        assert_eq!(b.acl.as_ref().unwrap(), &vec![Acl::digest("xp", "123", 16), Acl::new(0, "digest", "u:h")]);
        assert_eq!(doc.root.children[2].1.value.as_deref(), Some(&b"null"[..]));
    }

    #[test]
    fn malformed_documents_name_the_path() {
        let cases: &[(&str, Code, &str)] = &[
            ("[1]", Code::BadJson, "the document root"),
            ("{\"a\": ", Code::BadJson, "invalid JSON"),
            (r#"{"a": {"b": 1}}"#, Code::BadJson, "/a/b: a node must be a JSON object, got a number"),
            (r#"{"a": {"__acl__": {"nobody": "r"}}}"#, Code::InvalidAcl, "/a/__acl__/nobody"),
            (r#"{"a": {"__acl__": {"xp": "rx"}}}"#, Code::BadPermission, "/a/__acl__/xp"),
            (r#"{"a": {"__acl__": {"xp": 3}}}"#, Code::BadJson, "/a/__acl__/xp"),
            (r#"{"a": {"__acl__": {}}}"#, Code::InvalidAcl, "/a: the ACL has no entries"),
            (
                r#"{"a": {"__acls__": [{"scheme": "world", "id": "x", "perms": "r"}]}}"#,
                Code::InvalidAcl,
                "/a/__acls__/0",
            ),
            (
                r#"{"a": {"__acls__": [{"scheme": "ip", "id": "10.0.0.0/33", "perms": "r"}]}}"#,
                Code::InvalidAcl,
                "/a/__acls__/0",
            ),
            (
                r#"{"a": {"__acls__": [{"scheme": "ip", "id": "10.0.0.256", "perms": "r"}]}}"#,
                Code::InvalidAcl,
                "/a/__acls__/0",
            ),
            (
                r#"{"a": {"__acls__": [{"scheme": "ip", "id": "host.example", "perms": "r"}]}}"#,
                Code::InvalidAcl,
                "/a/__acls__/0",
            ),
            (
                r#"{"a": {"__acls__": [{"scheme": "digest", "id": "nohash", "perms": "r"}]}}"#,
                Code::InvalidAcl,
                "/a/__acls__/0",
            ),
            (
                r#"{"a": {"__acls__": [{"scheme": "world", "id": "anyone", "perms": "q"}]}}"#,
                Code::BadPermission,
                "/a/__acls__/0/perms",
            ),
            (r#"{"a": {"__acls__": [{"scheme": "world", "id": "anyone"}]}}"#, Code::BadJson, "no \"perms\""),
            (
                r#"{"a": {"__acls__": [{"scheme": "world", "id": "anyone", "perms": "r", "x": ""}]}}"#,
                Code::BadJson,
                "/a/__acls__/0/x",
            ),
            (r#"{"a": {"__acls__": {}}}"#, Code::BadJson, "/a/__acls__"),
            (r#"{"a": {"__val__": 1, "__text__": "1"}}"#, Code::BadJson, "both __val__ and __text__"),
            (r#"{"a": {"__data__": "***"}}"#, Code::BadJson, "/a/__data__: not base64"),
            (r#"{"a": {"__text__": 5}}"#, Code::BadJson, "/a/__text__"),
            (r#"{"a": {"__vla__": 5}}"#, Code::BadJson, "/a/__vla__: unknown key"),
            (r#"{"a": {}, "a": {}}"#, Code::BadJson, "the key \"a\" appears twice"),
            (r#"{"a": {"__val__": {"k": 1, "k": 2}}}"#, Code::BadJson, "/a/__val__"),
            (r#"{"a": {"x": {}, "__children__": {"x": {}}}}"#, Code::BadJson, "/a/__children__/x"),
            (r#"{"": {}}"#, Code::InvalidPath, "cannot be empty"),
            (r#"{"..": {}}"#, Code::InvalidPath, "/.."),
            (r#"{"a": {"b\u0001": {}}}"#, Code::InvalidPath, "/a/b\u{1}"),
            (r#"{"__children__": {"a/b": {}}}"#, Code::InvalidPath, "/__children__/a~1b"),
        ];
        for (doc, code, needle) in cases {
            let e = err(doc);
            assert_eq!(e.code(), *code, "{doc}: {e}");
            assert!(e.message().contains(needle), "{doc}: {e} lacks {needle:?}");
        }
        let big = format!(r#"{{"a": {{"__text__": "{}"}}}}"#, "x".repeat(crate::path::MAX_DATA_LEN + 1));
        assert_eq!(err(&big).code(), Code::DataTooLarge);
    }

    #[test]
    fn users_map() {
        assert!(users().knows(&Acl::digest("xp", "123", 3)));
        assert!(!users().knows(&Acl::digest("xp", "wrong", 3)));
        assert!(!users().knows(&Acl::open()));
        for bad in ["[]", r#"{"a": 1}"#, r#"{"a": "1", "a": "2"}"#, "{"] {
            let e = Users::parse(bad).unwrap_err();
            assert_eq!(e.code(), Code::BadJson, "{bad}");
            assert!(e.message().starts_with("users"), "{e}");
        }
    }
}
