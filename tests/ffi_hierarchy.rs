//! Tree import and export through the C ABI: init with a configuration
//! (hosts and auth), import on a client, export, the round trip, and bad
//! input (NULL, invalid UTF-8, malformed documents and users, bad flags and
//! timeouts), each with its specific code, a message naming the JSON path,
//! cleared outputs, and nothing written.

mod common;

use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use common::zk::{shared_server, unique_path};
use zkutil::ffi::buf::*;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::hierarchy::*;
use zkutil::ffi::node::*;
use zkutil::ffi::zku_rc;

fn call(f: impl FnOnce(*mut *mut zku_error) -> zku_rc) -> (zku_rc, String) {
    let mut err: *mut zku_error = null_mut();
    let rc = f(&mut err);
    if rc == ZKU_OK {
        assert!(err.is_null());
        return (rc, String::new());
    }
    assert!(!err.is_null(), "an error object on failure (rc {rc})");
    // SAFETY: a live error object from the library, freed once.
    unsafe {
        assert_eq!(zku_error_code(err), rc);
        let message = CStr::from_ptr(zku_error_message(err)).to_str().unwrap().to_string();
        zku_error_free(err);
        (rc, message)
    }
}

fn expect(what: &str, got: (zku_rc, String), want: zku_rc, mentions: &str) {
    assert_eq!(got.0, want, "{what}: got {} ({})", got.0, got.1);
    assert!(got.1.contains(mentions), "{what}: message {:?} should mention {mentions:?}", got.1);
}

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

const BAD_UTF8: &[u8] = b"{\"a\xff\": {}}\0";

fn config(auth: bool) -> *mut zku_config {
    let hosts = cs(&shared_server().connect_string());
    let mut config = null_mut();
    // SAFETY: valid pointers to live locals and literals.
    unsafe {
        assert_eq!(zku_config_new(&mut config, null_mut()), ZKU_OK);
        assert_eq!(zku_config_set_hosts(config, hosts.as_ptr(), null_mut()), ZKU_OK);
        if auth {
            assert_eq!(
                zku_config_set_auth(config, c"digest".as_ptr(), c"xp".as_ptr(), c"123".as_ptr(), null_mut()),
                ZKU_OK
            );
        }
    }
    config
}

fn client(auth: bool) -> *mut zku_client {
    let config = config(auth);
    let mut client = null_mut();
    // SAFETY: a live config; freed once.
    unsafe {
        assert_eq!(zku_client_new(config, None, &mut client, null_mut()), ZKU_OK);
        zku_config_free(config);
    }
    client
}

fn exists(c: *const zku_client, path: &str) -> bool {
    let p = cs(path);
    let mut found = false;
    // SAFETY: live client, valid out-parameter.
    let rc = unsafe { zku_client_exists(c, p.as_ptr(), 5000, None, &mut found, null_mut(), null_mut()) };
    assert_eq!(rc, ZKU_OK);
    found
}

fn export(c: *const zku_client, path: &str, users: Option<&str>, flags: u32) -> (zku_rc, String, String) {
    let p = cs(path);
    let u = users.map(cs);
    let mut out: *mut c_char = null_mut();
    let (rc, message) =
        // SAFETY: live client, valid strings and out-parameter.
        call(|err| unsafe { zku_export_hierarchy(c, p.as_ptr(), u.as_ref().map_or(null(), |u| u.as_ptr()), flags, 10_000, None, &mut out, err) });
    if rc != ZKU_OK {
        assert!(out.is_null(), "no output on failure");
        return (rc, message, String::new());
    }
    // SAFETY: a library string, freed once.
    let text = unsafe {
        let text = CStr::from_ptr(out).to_str().unwrap().to_string();
        zku_string_free(out);
        text
    };
    (rc, message, text)
}

#[test]
fn init_import_export_round_trip() {
    let root = unique_path("ffi-tree");
    let c_root = cs(&root);
    let doc = cs(
        r#"{"__acl__": {"xp": "cdrwa"}, "a": {"__val__": {"k": [1, 2]}}, "b": {"__text__": "t", "c": {"__data__": "AP8="}}}"#,
    );
    let users = cs(r#"{"xp": "123"}"#);
    let cfg = config(true);
    let mut stats = zku_import_stats { nodes: 99, created: 99, existed: 99, values_set: 99, unknown: 99 };
    let got = call(|err| {
        // SAFETY: live config, valid strings and out-parameter.
        unsafe {
            zku_init_hierarchy(cfg, c_root.as_ptr(), doc.as_ptr(), users.as_ptr(), 0, 30_000, None, &mut stats, err)
        }
    });
    expect("init", got, ZKU_OK, "");
    assert_eq!((stats.nodes, stats.created, stats.existed, stats.values_set), (4, 4, 0, 0));
    // SAFETY: freed once.
    unsafe { zku_config_free(cfg) };

    let c = client(true);
    let (_, _, first) = export(c, &root, None, 0);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["a"]["__val__"], serde_json::json!({"k": [1, 2]}));
    assert_eq!(v["b"]["c"]["__data__"], "AP8=");
    assert_eq!(v["__acls__"][0]["id"], "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=");
    let (_, _, short) = export(c, &root, Some(r#"{"xp": "123"}"#), ZKU_EXPORT_PRETTY);
    assert!(short.contains("\n  \"__acl__\": {\n    \"xp\": \"cdrwa\"\n  }"), "{short}");

    let (_, _, omitted) = export(c, &root, None, ZKU_EXPORT_OMIT_INHERITED_ACL);
    let o: serde_json::Value = serde_json::from_str(&omitted).unwrap();
    assert!(o["__acls__"].is_array() && o["b"].get("__acls__").is_none(), "{omitted}");

    let copy = format!("{root}-copy");
    let c_copy = cs(&copy);
    let text = cs(&first);
    let mut stats = zku_import_stats::default();
    // SAFETY: live client, valid strings.
    let got = call(|err| unsafe {
        zku_import_hierarchy(c, c_copy.as_ptr(), text.as_ptr(), null(), 0, 30_000, None, &mut stats, err)
    });
    expect("import", got, ZKU_OK, "");
    assert_eq!(stats.created, 4);
    assert_eq!(export(c, &copy, None, 0).2, first);

    // Again with ZKU_IMPORT_UPDATE_VALUES after a change: values come back.
    let a = cs(&format!("{copy}/a"));
    // SAFETY: live client, valid buffers.
    unsafe {
        assert_eq!(zku_client_set(c, a.as_ptr(), b"x".as_ptr(), 1, -1, 5000, None, null_mut(), null_mut()), ZKU_OK)
    };
    // SAFETY: as above.
    let got = call(|err| unsafe {
        zku_import_hierarchy(
            c,
            c_copy.as_ptr(),
            text.as_ptr(),
            null(),
            ZKU_IMPORT_UPDATE_VALUES,
            30_000,
            None,
            &mut stats,
            err,
        )
    });
    expect("update", got, ZKU_OK, "");
    assert_eq!((stats.created, stats.existed, stats.values_set), (0, 4, 4), "the export gives every node's value");
    assert_eq!(export(c, &copy, None, 0).2, first);

    // k3zkutil's output format; non-UTF-8 data cannot be written in it.
    let (rc, message, _) = export(c, &root, None, ZKU_EXPORT_K3ZKUTIL);
    expect("k3zkutil export of binary data", (rc, message), ZKU_EUTF8, "/b/c");
    let (rc, _, k3) = export(c, &format!("{root}/a"), None, ZKU_EXPORT_K3ZKUTIL);
    assert_eq!(rc, ZKU_OK);
    assert_eq!(k3, r#"{"__val__": "{\"k\": [1, 2]}", "__acl__": {"xp": "cdrwa"}}"#);

    for p in [&copy, &root] {
        for sub in ["/b/c", "/b", "/a", ""] {
            let path = cs(&format!("{p}{sub}"));
            // SAFETY: live client.
            unsafe { zku_client_delete(c, path.as_ptr(), -1, 5000, None, null_mut()) };
        }
    }
    // SAFETY: freed once.
    unsafe { zku_client_free(c) };
}

#[test]
fn bad_input_is_refused_with_specific_codes_and_nothing_written() {
    let c = client(false);
    let root = unique_path("ffi-tree-bad");
    let r = cs(&root);
    let good = cs(r#"{"a": {}}"#);
    let mut stats = zku_import_stats { nodes: 7, created: 7, existed: 7, values_set: 7, unknown: 7 };
    let import = |root: *const c_char,
                  doc: *const c_char,
                  users: *const c_char,
                  flags: u32,
                  timeout: i32,
                  stats: *mut zku_import_stats| {
        // SAFETY: pointers are NULL or valid for the call (the test's point).
        call(|err| unsafe { zku_import_hierarchy(c, root, doc, users, flags, timeout, None, stats, err) })
    };
    let cases: Vec<(&str, CString, Option<CString>, zku_rc, &str)> = vec![
        ("malformed JSON", cs(r#"{"a": "#), None, ZKU_EJSON, "line 1"),
        ("node not an object", cs(r#"{"a": {"b": []}}"#), None, ZKU_EJSON, "/a/b"),
        (
            "bad permission",
            cs(r#"{"a": {"__acl__": {"xp": "rwx"}}}"#),
            Some(cs(r#"{"xp": "1"}"#)),
            ZKU_EPERM,
            "/a/__acl__/xp",
        ),
        (
            "unknown user",
            cs(r#"{"a": {"__acl__": {"nobody": "r"}}}"#),
            Some(cs(r#"{"xp": "1"}"#)),
            ZKU_EINVALIDACL,
            "/a/__acl__/nobody",
        ),
        ("empty ACL", cs(r#"{"a": {"__acls__": []}}"#), None, ZKU_EINVALIDACL, "/a"),
        (
            "bad ACL id",
            cs(r#"{"a": {"__acls__": [{"scheme": "ip", "id": "x", "perms": "r"}]}}"#),
            None,
            ZKU_EINVALIDACL,
            "/a/__acls__/0",
        ),
        ("bad node name", cs(r#"{"a": {"..": {}}}"#), None, ZKU_EPATH, "/a/.."),
        ("unknown reserved key", cs(r#"{"__vals__": 1}"#), None, ZKU_EJSON, "__vals__"),
        ("users not an object", cs(r#"{}"#), Some(cs("[]")), ZKU_EJSON, "users"),
        ("users password not a string", cs(r#"{}"#), Some(cs(r#"{"xp": 1}"#)), ZKU_EJSON, "users: at /xp"),
        (
            "too large",
            cs(&format!(r#"{{"a": {{"__text__": "{}"}}}}"#, "x".repeat(ZKU_MAX_DATA_LEN + 1))),
            None,
            ZKU_ETOOLARGE,
            "/a/__text__",
        ),
    ];
    for (what, doc, users, code, mentions) in &cases {
        let u = users.as_ref().map_or(null(), |u| u.as_ptr());
        expect(what, import(r.as_ptr(), doc.as_ptr(), u, 0, 5000, &mut stats), *code, mentions);
        assert_eq!((stats.nodes, stats.created), (0, 0), "{what}: stats cleared on failure");
        stats.nodes = 7;
        assert!(!exists(c, &root), "{what}: nothing written");
    }
    expect("NULL document", import(r.as_ptr(), null(), null(), 0, 5000, null_mut()), ZKU_ENULL, "hierarchy_json");
    expect(
        "bad UTF-8 document",
        import(r.as_ptr(), BAD_UTF8.as_ptr().cast(), null(), 0, 5000, null_mut()),
        ZKU_EUTF8,
        "hierarchy_json",
    );
    expect(
        "bad UTF-8 users",
        import(r.as_ptr(), good.as_ptr(), BAD_UTF8.as_ptr().cast(), 0, 5000, null_mut()),
        ZKU_EUTF8,
        "users_json",
    );
    expect(
        "bad UTF-8 root",
        import(BAD_UTF8.as_ptr().cast(), good.as_ptr(), null(), 0, 5000, null_mut()),
        ZKU_EUTF8,
        "root",
    );
    expect("relative root", import(c"rel".as_ptr(), good.as_ptr(), null(), 0, 5000, null_mut()), ZKU_EPATH, "rel");
    expect("unknown flags", import(r.as_ptr(), good.as_ptr(), null(), 0x10, 5000, null_mut()), ZKU_EINVAL, "flags");
    expect("bad timeout", import(r.as_ptr(), good.as_ptr(), null(), 0, -5, null_mut()), ZKU_EINVAL, "timeout");
    expect(
        "missing parent",
        import(cs(&format!("{root}/x")).as_ptr(), good.as_ptr(), null(), 0, 5000, null_mut()),
        ZKU_ENONODE,
        "parent",
    );
    // SAFETY: NULL client is the point.
    let got = call(|err| unsafe {
        zku_import_hierarchy(null(), r.as_ptr(), good.as_ptr(), null(), 0, 5000, None, null_mut(), err)
    });
    expect("NULL client", got, ZKU_ENULL, "client");
    assert!(!exists(c, &root));

    // zku_init_hierarchy checks everything before connecting: a config
    // pointing nowhere still gives the document's error.
    let mut nowhere = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(zku_config_new(&mut nowhere, null_mut()), ZKU_OK);
        assert_eq!(zku_config_set_hosts(nowhere, c"127.0.0.1:1".as_ptr(), null_mut()), ZKU_OK);
    }
    let bad = cs(r#"{"a": {"__acl__": {"xp": "q"}}}"#);
    // SAFETY: live config, valid strings.
    let got = call(|err| unsafe {
        zku_init_hierarchy(nowhere, r.as_ptr(), bad.as_ptr(), c"{}".as_ptr(), 0, 5000, None, null_mut(), err)
    });
    expect("init, bad document", got, ZKU_EPERM, "/a/__acl__/xp");
    // SAFETY: as above.
    let got =
        call(|err| unsafe { zku_init_hierarchy(nowhere, r.as_ptr(), null(), null(), 0, 5000, None, null_mut(), err) });
    expect("init, NULL document", got, ZKU_ENULL, "hierarchy_json");
    // SAFETY: as above.
    let got = call(|err| unsafe {
        zku_init_hierarchy(nowhere, r.as_ptr(), good.as_ptr(), null(), 2, 5000, None, null_mut(), err)
    });
    expect("init, unknown flags", got, ZKU_EINVAL, "flags");
    // SAFETY: freed once.
    unsafe { zku_config_free(nowhere) };

    // Export.
    let mut out: *mut c_char = std::ptr::dangling_mut();
    // SAFETY: NULL path is the point; `out` is writable.
    let got = call(|err| unsafe { zku_export_hierarchy(c, null(), null(), 0, 5000, None, &mut out, err) });
    expect("export NULL path", got, ZKU_ENULL, "path");
    assert!(out.is_null(), "out cleared");
    // SAFETY: NULL out is the point.
    let got = call(|err| unsafe { zku_export_hierarchy(c, r.as_ptr(), null(), 0, 5000, None, null_mut(), err) });
    expect("export NULL out", got, ZKU_ENULL, "out");
    // SAFETY: NULL client is the point.
    let got = call(|err| unsafe { zku_export_hierarchy(null(), r.as_ptr(), null(), 0, 5000, None, &mut out, err) });
    expect("export NULL client", got, ZKU_ENULL, "client");
    let (rc, message, _) = export(c, &root, None, 0);
    expect("export missing", (rc, message), ZKU_ENONODE, &root);
    let (rc, message, _) = export(c, "relative", None, 0);
    expect("export relative", (rc, message), ZKU_EPATH, "relative");
    let (rc, message, _) = export(c, "/", None, 8);
    expect("export flags", (rc, message), ZKU_EINVAL, "flags");
    let (rc, message, _) = export(c, "/", Some("nope"), 0);
    expect("export users", (rc, message), ZKU_EJSON, "users");
    // SAFETY: bad UTF-8 path is the point.
    let got =
        call(|err| unsafe { zku_export_hierarchy(c, BAD_UTF8.as_ptr().cast(), null(), 0, 5000, None, &mut out, err) });
    expect("export bad UTF-8", got, ZKU_EUTF8, "path");
    // SAFETY: freed once.
    unsafe { zku_client_free(c) };
}

#[test]
fn a_failed_import_reports_what_it_wrote() {
    let c = client(false);
    let root = unique_path("ffi-tree-partial");
    // "locked" is created read-only, so its child's create is refused
    // (ZKU_ENOAUTH) while the creates of the level after it are in flight.
    let many: Vec<String> = (0..50).map(|i| format!(r#""z{i:02}": {{}}"#)).collect();
    let doc = format!(
        r#"{{"a": {{"a1": {{}}}}, "locked": {{"__acls__": [{{"scheme": "world", "id": "anyone", "perms": "r"}}], "x": {{}}}}, "z": {{{}}}}}"#,
        many.join(", ")
    );
    let (r, d) = (cs(&root), cs(&doc));
    let mut stats = zku_import_stats::default();
    // SAFETY: live client, valid strings and out-parameter.
    let got = call(|err| unsafe {
        zku_import_hierarchy(c, r.as_ptr(), d.as_ptr(), null(), 0, 10_000, None, &mut stats, err)
    });
    expect("import", got, ZKU_ENOAUTH, "/locked/x");
    assert!(!exists(c, &format!("{root}/locked/x")));
    let mut written = vec![root.clone(), format!("{root}/a"), format!("{root}/a/a1"), format!("{root}/locked")];
    written.push(format!("{root}/z"));
    written.extend((0..50).map(|i| format!("{root}/z/z{i:02}")));
    for path in &written {
        assert!(exists(c, path), "{path}");
    }
    assert_eq!(stats.nodes, 56);
    assert_eq!(
        (stats.created, stats.existed, stats.unknown),
        (written.len() as u64, 0, 0),
        "every node written is counted, the replies in flight included"
    );
    // SAFETY: freed once.
    unsafe { zku_client_free(c) };
}
