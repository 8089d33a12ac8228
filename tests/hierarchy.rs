//! Tree import and export against a real ZooKeeper: k3zkutil documents,
//! the lossless extensions (binary, text and empty data, any ACL scheme,
//! names like `__val__`, deep and wide trees), existing nodes, malformed
//! documents (nothing written), export errors, connection loss in the
//! middle of an import, and interop with the Python k3zkutil.

mod common;

use std::process::Command;
use std::time::Duration;

use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::acl::Acl;
use zkutil::config::Auth;
use zkutil::hierarchy::{self, Document, ExportFormat, ExportOptions, ImportOptions, Users};
use zkutil::{Client, Code, Config, CreateOptions, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(60));

fn config_for(hosts: &str) -> Config {
    Config { hosts: Some(hosts.to_string()), session_timeout: Some(Duration::from_secs(6)), ..Config::default() }
}

fn xp_config(hosts: &str) -> Config {
    Config {
        auth: Some(Auth { scheme: "digest".into(), user: "xp".into(), password: "123".into() }),
        ..config_for(hosts)
    }
}

fn shared() -> Client {
    Client::connect(config_for(&shared_server().connect_string())).expect("connect")
}

fn shared_xp() -> Client {
    Client::connect(xp_config(&shared_server().connect_string())).expect("connect")
}

fn users() -> Users {
    Users::parse(r#"{"xp": "123", "foo": "pw"}"#).unwrap()
}

fn import(c: &Client, root: &str, doc: &str, users: &Users, update: bool) -> zkutil::Result<hierarchy::ImportStats> {
    let doc = Document::parse(doc, users)?;
    Ok(hierarchy::import(c, root, &doc, &ImportOptions { update_values: update }, T, None)?)
}

fn export(c: &Client, path: &str) -> String {
    hierarchy::export(c, path, &ExportOptions::default(), T, None).unwrap()
}

/// Every node under `root` (relative path, data, ACL), read with plain
/// one-by-one calls, independent of the code under test.
fn snapshot(c: &Client, root: &str) -> Vec<(String, Vec<u8>, Vec<Acl>)> {
    fn walk(c: &Client, path: &str, rel: &str, out: &mut Vec<(String, Vec<u8>, Vec<Acl>)>) {
        let (data, _) = c.get(path, T).unwrap();
        let (acl, _) = c.get_acl(path, T).unwrap();
        out.push((rel.to_string(), data, acl));
        let (mut names, _) = c.children(path, T).unwrap();
        names.sort();
        for name in names {
            walk(c, &format!("{path}/{name}"), &format!("{rel}/{name}"), out);
        }
    }
    let mut out = Vec::new();
    walk(c, root, "", &mut out);
    out
}

fn delete_tree(c: &Client, path: &str) {
    if let Ok((children, _)) = c.children(path, T) {
        for child in children {
            delete_tree(c, &format!("{path}/{child}"));
        }
    }
    let _ = c.delete(path, None, T);
}

fn create(c: &Client, path: &str, data: &[u8], acl: Vec<Acl>) {
    c.create(path, data, &CreateOptions::persistent().with_acl(acl), T)
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

#[test]
fn k3zkutil_document_is_created_as_k3zkutil_creates_it() {
    let c = shared_xp();
    let root = unique_path("k3doc");
    let doc = r#"{
        "__acl__": {"xp": "cdrwa"},
        "app": {"__val__": {"b": 1, "a": [1.5, "é\n", null]}, "__acl__": {"xp": "cdrwa", "foo": "rw"},
                "plain": {}, "str": {"__val__": "s"}, "num": {"__val__": 1e16},
                "sub": {"__acl__": {"foo": "CDRWA", "xp": "acr"}, "leaf": {"__val__": true}}}}"#;
    let stats = import(&c, &root, doc, &users(), false).unwrap();
    assert_eq!((stats.nodes, stats.created, stats.existed, stats.values_set), (7, 7, 0, 0));
    let xp = Acl::digest("xp", "123", 31);
    let app_acl = vec![xp.clone(), Acl::digest("foo", "pw", 3)];
    let sub_acl = vec![Acl::digest("foo", "pw", 31), Acl::digest("xp", "123", 16 | 4 | 1)];
    let want: Vec<(String, Vec<u8>, Vec<Acl>)> = vec![
        ("".into(), b"{}".to_vec(), vec![xp.clone()]),
        ("/app".into(), r#"{"b": 1, "a": [1.5, "é\n", null]}"#.as_bytes().to_vec(), app_acl.clone()),
        ("/app/num".into(), b"1e+16".to_vec(), app_acl.clone()),
        ("/app/plain".into(), b"{}".to_vec(), app_acl.clone()),
        ("/app/str".into(), b"\"s\"".to_vec(), app_acl.clone()),
        ("/app/sub".into(), b"{}".to_vec(), sub_acl.clone()),
        ("/app/sub/leaf".into(), b"true".to_vec(), sub_acl),
    ];
    assert_eq!(snapshot(&c, &root), want);

    // The lossless export of a k3zkutil tree, given the users, is a plain
    // k3zkutil document (only __val__ and __acl__).
    let options = ExportOptions { users: users(), ..ExportOptions::default() };
    let text = hierarchy::export(&c, &root, &options, T, None).unwrap();
    assert!(!text.contains("__text__") && !text.contains("__acls__") && !text.contains("__data__"), "{text}");
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["app"]["__val__"], serde_json::json!({"b": 1, "a": [1.5, "é\n", null]}));
    assert_eq!(parsed["app"]["sub"]["__acl__"], serde_json::json!({"foo": "cdrwa", "xp": "rca"}));
    delete_tree(&c, &root);
}

#[test]
fn existing_nodes_get_their_acl_and_values_only_when_asked() {
    let c = shared_xp();
    let root = unique_path("existing");
    create(&c, &root, b"root-data", vec![Acl::open()]);
    create(&c, &format!("{root}/a"), b"old-a", vec![Acl::open()]);
    create(&c, &format!("{root}/b"), b"old-b", vec![Acl::open()]);
    let doc = r#"{"a": {"__val__": {"new": 1}, "__acl__": {"xp": "cdrwa"}}, "b": {}, "c": {"__text__": "new-c"}}"#;

    let stats = import(&c, &root, doc, &users(), false).unwrap();
    assert_eq!((stats.created, stats.existed, stats.values_set), (1, 3, 0));
    let snap = snapshot(&c, &root);
    // The root keeps its ACL and data (the document gives neither).
    assert_eq!(snap[0], ("".into(), b"root-data".to_vec(), vec![Acl::open()]));
    assert_eq!(snap[1], ("/a".into(), b"old-a".to_vec(), vec![Acl::digest("xp", "123", 31)]));
    assert_eq!(snap[2], ("/b".into(), b"old-b".to_vec(), vec![Acl::open()]));
    assert_eq!(snap[3], ("/c".into(), b"new-c".to_vec(), vec![Acl::open()]));

    // With update_values: nodes whose value the document gives are set;
    // "b" has none and keeps its data.
    c.set(&format!("{root}/c"), b"changed", None, T).unwrap();
    let stats = import(&c, &root, doc, &users(), true).unwrap();
    assert_eq!((stats.created, stats.existed, stats.values_set), (0, 4, 2));
    let snap = snapshot(&c, &root);
    assert_eq!(snap[1].1, br#"{"new": 1}"#);
    assert_eq!(snap[2].1, b"old-b");
    assert_eq!(snap[3].1, b"new-c");

    // An explicit root ACL and value apply to the root itself.
    let stats = import(&c, &root, r#"{"__text__": "R", "__acls__": [{"scheme": "world", "id": "anyone", "perms": "rw"}, {"scheme": "digest", "id": "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=", "perms": "cdrwa"}]}"#, &Users::new(), true).unwrap();
    assert_eq!((stats.existed, stats.values_set), (1, 1));
    assert_eq!(snapshot(&c, &root)[0].1, b"R");
    assert_eq!(c.get_acl(&root, T).unwrap().0, vec![Acl::new(3, "world", "anyone"), Acl::digest("xp", "123", 31)]);
    delete_tree(&c, &root);
}

#[test]
fn root_slash_behaves_like_k3zkutil_init_hierarchy() {
    let c = shared_xp();
    let name = unique_path("slash")[1..].to_string();
    let (root_data, _) = c.get("/", T).unwrap();
    let (root_acl, _) = c.get_acl("/", T).unwrap();
    let doc = format!(r#"{{"{name}": {{"x": {{"__val__": [1]}}}}}}"#);
    let stats = import(&c, "/", &doc, &users(), true).unwrap();
    assert_eq!((stats.nodes, stats.created, stats.existed), (3, 2, 1));
    // "/" is untouched; the top node inherits its ACL.
    assert_eq!(c.get("/", T).unwrap().0, root_data);
    assert_eq!(c.get_acl("/", T).unwrap().0, root_acl);
    let top = format!("/{name}");
    assert_eq!(
        snapshot(&c, &top),
        vec![("".into(), b"{}".to_vec(), root_acl.clone()), ("/x".into(), b"[1]".to_vec(), root_acl)]
    );
    let e = import(&c, "/", r#"{"zookeeper": {}}"#, &users(), false).unwrap_err();
    assert_eq!(e.code(), Code::InvalidPath);
    delete_tree(&c, &top);
}

/// A tree with everything k3zkutil's format cannot hold.
fn build_mixed_tree(c: &Client, src: &str) {
    let open = vec![Acl::open()];
    create(c, src, br#"{"top": true}"#, open.clone());
    create(c, &format!("{src}/binary"), &[0xff, 0x00, 0xfe, b'a'], open.clone());
    create(c, &format!("{src}/text"), b"plain text, not JSON", open.clone());
    create(c, &format!("{src}/empty"), b"", open.clone());
    create(c, &format!("{src}/compact"), br#"{"a":1,"b":[2,3]}"#, open.clone());
    create(c, &format!("{src}/python"), r#"{"b": 1, "a": "é"}"#.as_bytes(), open.clone());
    create(c, &format!("{src}/spaced"), b" 42 ", open.clone());
    create(c, &format!("{src}/dup"), br#"{"k": 1, "k": 2}"#, open.clone());
    create(c, &format!("{src}/braces"), b"{}", open.clone());
    create(c, &format!("{src}/null"), b"null", open.clone());
    create(c, &format!("{src}/ip"), b"ip", vec![Acl::new(31, "ip", "127.0.0.1"), Acl::new(1, "world", "anyone")]);
    create(c, &format!("{src}/ip-net"), b"ip6", vec![Acl::new(31, "ip", "127.0.0.0/8"), Acl::new(3, "ip", "10.1.2.3")]);
    // "auth" becomes the creator's digest id on the server.
    create(c, &format!("{src}/auth"), b"auth", vec![Acl::new(31, "auth", "")]);
    create(c, &format!("{src}/digest"), b"d", vec![Acl::digest("xp", "123", 31), Acl::digest("ghost", "unknown", 1)]);
    create(c, &format!("{src}/zero-perms"), b"z", vec![Acl::digest("xp", "123", 31), Acl::new(0, "world", "anyone")]);
    for reserved in ["__val__", "__acl__", "__children__", "____"] {
        create(c, &format!("{src}/{reserved}"), reserved.as_bytes(), open.clone());
    }
    create(c, &format!("{src}/__val__/__text__"), b"nested reserved", open.clone());
    create(c, &format!("{src}/weird name ~ é \"q\""), b"w", open.clone());
    // depth 100 below src
    let mut p = format!("{src}/deep");
    create(c, &p, b"0", open.clone());
    for i in 1..100 {
        p = format!("{p}/d{i}");
        create(c, &p, i.to_string().as_bytes(), open.clone());
    }
}

#[test]
fn any_tree_survives_export_import_export() {
    let c = shared_xp();
    let base = unique_path("lossless");
    create(&c, &base, b"", vec![Acl::open()]);
    let src = format!("{base}/src");
    build_mixed_tree(&c, &src);

    let first = export(&c, &src);
    let dst = format!("{base}/dst");
    let stats = import(&c, &dst, &first, &Users::new(), false).unwrap();
    let src_snapshot = snapshot(&c, &src);
    assert_eq!(stats.nodes as usize, src_snapshot.len());
    assert_eq!(stats.created, stats.nodes);
    let second = export(&c, &dst);
    assert_eq!(first, second, "export -> import -> export changes nothing");
    // And the nodes themselves are equal, byte for byte, ACLs in order.
    assert_eq!(snapshot(&c, &dst), src_snapshot);

    // What the format looks like for the special cases.
    let doc: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(doc["__val__"], serde_json::json!({"top": true}));
    assert_eq!(doc["binary"]["__data__"], "/wD+YQ==");
    assert_eq!(doc["text"]["__text__"], "plain text, not JSON");
    assert_eq!(doc["empty"]["__text__"], "");
    assert_eq!(doc["compact"]["__text__"], r#"{"a":1,"b":[2,3]}"#);
    assert_eq!(doc["python"]["__val__"], serde_json::json!({"b": 1, "a": "é"}));
    assert_eq!(doc["spaced"]["__text__"], " 42 ");
    assert_eq!(doc["dup"]["__text__"], r#"{"k": 1, "k": 2}"#);
    assert_eq!(doc["braces"]["__val__"], serde_json::json!({}));
    assert_eq!(doc["null"]["__val__"], serde_json::Value::Null);
    assert_eq!(
        doc["ip"]["__acls__"],
        serde_json::json!([{"scheme": "ip", "id": "127.0.0.1", "perms": "cdrwa"}, {"scheme": "world", "id": "anyone", "perms": "r"}])
    );
    assert_eq!(doc["auth"]["__acls__"][0]["id"], "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=");
    assert_eq!(doc["zero-perms"]["__acls__"][1]["perms"], "");
    assert_eq!(doc["__children__"]["__val__"]["__val__"].as_str(), None, "a reserved name is a child in __children__");
    assert_eq!(doc["__children__"]["__val__"]["__text__"], "__val__");
    assert_eq!(doc["__children__"]["__val__"]["__children__"]["__text__"]["__text__"], "nested reserved");
    assert_eq!(doc["__children__"]["____"]["__text__"], "____");
    let mut node = &doc["deep"];
    for i in 1..100 {
        node = &node[format!("d{i}")];
    }
    assert_eq!(node["__val__"], 99);

    // With the users map, digest ACLs of known users take the short form,
    // and the result imports to the same tree.
    let options = ExportOptions { users: users(), ..ExportOptions::default() };
    let with_users = hierarchy::export(&c, &src, &options, T, None).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&with_users).unwrap();
    assert_eq!(parsed["auth"]["__acl__"], serde_json::json!({"xp": "cdrwa"}));
    assert!(parsed["digest"]["__acls__"].is_array(), "ghost's password is unknown");
    let dst2 = format!("{base}/dst2");
    import(&c, &dst2, &with_users, &users(), false).unwrap();
    assert_eq!(snapshot(&c, &dst2), src_snapshot);

    // Leaving out ACLs equal to the parent's loses nothing either.
    let options = ExportOptions { omit_inherited_acl: true, users: users(), ..ExportOptions::default() };
    let compact = hierarchy::export(&c, &src, &options, T, None).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&compact).unwrap();
    assert!(parsed["__acls__"].is_array(), "the root's ACL is always written");
    assert!(parsed["text"].get("__acls__").is_none() && parsed["text"].get("__acl__").is_none());
    assert!(parsed["ip"]["__acls__"].is_array());
    assert!(parsed["deep"]["d1"].get("__acls__").is_none());
    assert!(compact.len() < with_users.len() / 2, "{} vs {}", compact.len(), with_users.len());
    let dst3 = format!("{base}/dst3");
    import(&c, &dst3, &compact, &users(), false).unwrap();
    assert_eq!(snapshot(&c, &dst3), src_snapshot);

    // Pretty output is the same document.
    let pretty =
        hierarchy::export(&c, &src, &ExportOptions { pretty: true, ..ExportOptions::default() }, T, None).unwrap();
    assert!(pretty.contains("\n  \"__val__\": {\n    \"top\": true\n  },"), "{}", &pretty[..200]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&pretty).unwrap(), doc);
    delete_tree(&c, &base);
}

#[test]
fn wide_tree_of_ten_thousand_nodes_round_trips() {
    let c = shared();
    let base = unique_path("wide");
    create(&c, &base, b"", vec![Acl::open()]);
    let src = format!("{base}/src");
    // The source is written by import itself (10,000 one-by-one creates
    // would take long on a busy machine), then checked with plain reads.
    let mut doc = String::from("{");
    for i in 0..10_000 {
        if i > 0 {
            doc.push(',');
        }
        match i % 4 {
            0 => doc.push_str(&format!(r#""n{i:05}": {{"__val__": {{"i": {i}}}}}"#)),
            1 => doc.push_str(&format!(r#""n{i:05}": {{"__text__": "text {i}"}}"#)),
            2 => doc.push_str(&format!(r#""n{i:05}": {{"__data__": "AAE="}}"#)),
            _ => doc.push_str(&format!(r#""n{i:05}": {{"__text__": ""}}"#)),
        }
    }
    doc.push('}');
    let mut calls = 0u64;
    let mut last = (0, None);
    let mut progress = |done: u64, total: Option<u64>| {
        calls += 1;
        last = (done, total);
    };
    let parsed = Document::parse(&doc, &Users::new()).unwrap();
    let stats = hierarchy::import(&c, &src, &parsed, &ImportOptions::default(), T, Some(&mut progress)).unwrap();
    assert_eq!((stats.nodes, stats.created), (10_001, 10_001));
    assert_eq!(last, (10_001, Some(10_001)));
    assert!(calls >= 10_001);
    let (names, stat) = c.children(&src, T).unwrap();
    assert_eq!((names.len(), stat.num_children), (10_000, 10_000));
    for i in [0usize, 1, 2, 3, 4999, 9998, 9999] {
        let (data, _) = c.get(&format!("{src}/n{i:05}"), T).unwrap();
        let want: Vec<u8> = match i % 4 {
            0 => format!(r#"{{"i": {i}}}"#).into_bytes(),
            1 => format!("text {i}").into_bytes(),
            2 => vec![0, 1],
            _ => vec![],
        };
        assert_eq!(data, want, "n{i:05}");
    }

    let mut export_calls = 0u64;
    let mut export_last = (0, None);
    let mut export_progress = |done: u64, total: Option<u64>| {
        export_calls += 1;
        export_last = (done, total);
    };
    let first = hierarchy::export(&c, &src, &ExportOptions::default(), T, Some(&mut export_progress)).unwrap();
    assert_eq!(export_last, (10_001, Some(10_001)));
    let dst = format!("{base}/dst");
    import(&c, &dst, &first, &Users::new(), false).unwrap();
    assert_eq!(export(&c, &dst), first);
    let reparsed = Document::parse(&first, &Users::new()).unwrap();
    assert_eq!(reparsed.node_count(), 10_001);
    delete_tree(&c, &base);
}

#[test]
fn malformed_documents_are_refused_before_anything_is_written() {
    let c = shared_xp();
    let root = unique_path("malformed");
    // Errors deep inside and at the end of a document that would otherwise
    // create many nodes.
    let mut good = String::new();
    for i in 0..50 {
        good.push_str(&format!(r#""n{i}": {{"x": {{}}}}, "#));
    }
    let cases = [
        (
            format!(r#"{{{good}"bad": {{"c": {{"__acl__": {{"xp": "rwz"}}}}}}}}"#),
            Code::BadPermission,
            "/bad/c/__acl__/xp",
        ),
        (format!(r#"{{{good}"bad": {{"c": {{"__acl__": {{"who": "r"}}}}}}}}"#), Code::InvalidAcl, "/bad/c/__acl__/who"),
        (format!(r#"{{{good}"bad": 7}}"#), Code::BadJson, "/bad"),
        (format!(r#"{{{good}"bad": {{"__data__": "%%"}}}}"#), Code::BadJson, "/bad/__data__"),
        (format!(r#"{{{good}"a/b": {{}}}}"#), Code::InvalidPath, "/a~1b"),
        (format!(r#"{{{good}"bad": {{}}"#), Code::BadJson, "invalid JSON"),
    ];
    for (doc, code, mentions) in cases {
        let e = Document::parse(&doc, &users()).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.message().contains(mentions), "{e} should mention {mentions}");
        let e = hierarchy::init_hierarchy(
            xp_config(&shared_server().connect_string()),
            &root,
            &doc,
            Some(r#"{"xp": "123"}"#),
            &ImportOptions::default(),
            T,
        )
        .unwrap_err()
        .error;
        assert_eq!(e.code(), code, "{e}");
        assert!(c.exists(&root, T).unwrap().is_none(), "nothing written for {mentions}");
    }
    // The root's parent must exist.
    let e = import(&c, &format!("{root}/x/y"), "{}", &users(), false).unwrap_err();
    assert_eq!(e.code(), Code::NoNode, "{e}");
    assert_eq!(import(&c, "relative", "{}", &users(), false).unwrap_err().code(), Code::InvalidPath);
    // Bad users maps.
    let e =
        hierarchy::init_hierarchy(config_for("127.0.0.1:1"), &root, "{}", Some("[1]"), &ImportOptions::default(), T)
            .unwrap_err()
            .error;
    assert_eq!(e.code(), Code::BadJson, "checked before connecting: {e}");
}

#[test]
fn init_hierarchy_connects_with_the_given_auth() {
    let hosts = shared_server().connect_string();
    let root = unique_path("init");
    let doc = r#"{"__acl__": {"xp": "cdrwa"}, "a": {"b": {"__val__": 5}}}"#;
    let stats = hierarchy::init_hierarchy(
        xp_config(&hosts),
        &root,
        doc,
        Some(r#"{"xp": "123"}"#),
        &ImportOptions::default(),
        T,
    )
    .unwrap();
    assert_eq!(stats.created, 3);
    // Only xp can read it now.
    let anon = shared();
    assert_eq!(anon.get(&format!("{root}/a/b"), T).unwrap_err().code(), Code::NoAuth);
    let e = hierarchy::export(&anon, &root, &ExportOptions::default(), T, None).unwrap_err();
    assert_eq!(e.code(), Code::NoAuth);
    assert!(e.message().contains(&root), "{e}");
    let xp = shared_xp();
    assert_eq!(xp.get(&format!("{root}/a/b"), T).unwrap().0, b"5");
    // Without the auth, creating below the xp-only root is refused.
    let e = hierarchy::init_hierarchy(config_for(&hosts), &root, r#"{"c": {}}"#, None, &ImportOptions::default(), T)
        .unwrap_err()
        .error;
    assert_eq!(e.code(), Code::NoAuth, "{e}");
    delete_tree(&xp, &root);
}

#[test]
fn export_errors() {
    let c = shared();
    let root = unique_path("export-errors");
    assert_eq!(hierarchy::export(&c, &root, &ExportOptions::default(), T, None).unwrap_err().code(), Code::NoNode);
    assert_eq!(
        hierarchy::export(&c, "no/slash", &ExportOptions::default(), T, None).unwrap_err().code(),
        Code::InvalidPath
    );
    create(&c, &root, b"\xff", vec![Acl::open()]);
    let k3 = ExportOptions { format: ExportFormat::K3zkutil, ..ExportOptions::default() };
    let e = hierarchy::export(&c, &root, &k3, T, None).unwrap_err();
    assert_eq!(e.code(), Code::InvalidUtf8);
    assert!(e.message().contains(&root), "{e}");
    // Too deep for the document format: refused rather than written
    // unreadable.
    let mut p = root.clone();
    for i in 0..130 {
        p = format!("{p}/{i}");
        create(&c, &p, b"", vec![Acl::open()]);
    }
    let e = hierarchy::export(&c, &root, &ExportOptions::default(), T, None).unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("too deep"), "{e}");
    delete_tree(&c, &root);
}

#[test]
fn import_survives_a_server_restart_midway() {
    let mut server = ZkServer::start();
    let config = Config { session_timeout: Some(Duration::from_secs(20)), ..config_for(&server.connect_string()) };
    let c = Client::connect(config).unwrap();
    let mut doc = String::from("{");
    for i in 0..3000 {
        doc.push_str(&format!(r#"{}"n{i}": {{"a": {{}}, "b": {{}}}}"#, if i > 0 { "," } else { "" }));
    }
    doc.push('}');
    let parsed = Document::parse(&doc, &Users::new()).unwrap();
    // When 2000 nodes are done, the import waits (inside its progress
    // callback) until the server is down, so the rest runs into the outage.
    let (tx, rx) = std::sync::mpsc::channel();
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
    let mut sent = false;
    let mut progress = |done: u64, _: Option<u64>| {
        if done > 2000 && !sent {
            sent = true;
            tx.send(()).unwrap();
            stopped_rx.recv().unwrap();
        }
    };
    let restarter = std::thread::spawn(move || {
        rx.recv().unwrap();
        server.stop();
        stopped_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        server.restart();
        server
    });
    let stats = hierarchy::import(&c, "/big", &parsed, &ImportOptions::default(), T, Some(&mut progress)).unwrap();
    assert!(sent);
    let _server = restarter.join().unwrap();
    assert_eq!(stats.nodes, 9001);
    // Replies lost with the connection were sent again: some creates may
    // count as "existed" (they were applied before the loss).
    assert_eq!(stats.created + stats.existed, 9001);
    let (names, _) = c.children("/big", T).unwrap();
    assert_eq!(names.len(), 3000);
    for i in [0, 1500, 2999] {
        assert_eq!(c.children(&format!("/big/n{i}"), T).unwrap().0.len(), 2);
    }
}

#[test]
fn an_import_cut_off_by_a_stopped_server_reports_what_it_wrote() {
    let mut server = ZkServer::start();
    let config = Config { session_timeout: Some(Duration::from_secs(20)), ..config_for(&server.connect_string()) };
    let c = Client::connect(config).unwrap();
    let names: Vec<String> = (0..1000).map(|i| format!(r#""n{i}": {{"a": {{}}, "b": {{}}}}"#)).collect();
    let parsed = Document::parse(&format!("{{{}}}", names.join(",")), &Users::new()).unwrap();
    // Midway through the second level the server stops for good (until the
    // import has failed).
    let mut stopper = Some(move || {
        server.stop();
        server
    });
    let mut stopped = None;
    let mut progress = |done: u64, _: Option<u64>| {
        if done > 1500 {
            if let Some(stop) = stopper.take() {
                stopped = Some(stop());
            }
        }
    };
    let short = Timeout::After(Duration::from_secs(3));
    let err = hierarchy::import(&c, "/cut", &parsed, &ImportOptions::default(), short, Some(&mut progress))
        .expect_err("the server is gone");
    let mut server = stopped.expect("stopped midway");
    assert!(err.error.code().is_retryable(), "{err}");
    let stats = err.stats;
    assert_eq!(stats.nodes, 3001);
    assert!(stats.created > 1500 && stats.unknown > 0, "{stats:?}");
    // Every write the import counted as done is there, and nothing beyond
    // those plus the ones of unknown outcome.
    server.restart();
    let (names, _) = c.children("/cut", T).unwrap();
    let mut present = 1 + names.len() as u64;
    for name in &names {
        present += c.children(&format!("/cut/{name}"), T).unwrap().0.len() as u64;
    }
    eprintln!("import cut off: {stats:?}, {present} nodes present");
    assert!(stats.created <= present && present <= stats.created + stats.unknown, "{present} nodes, {stats:?}");
}

/// The Python with k3zkutil and kazoo, as tests/lock_python.rs finds it:
/// $ZKU_PYTHON, else the repository's .venv (scripts/install-deps.sh).
fn python() -> String {
    if let Some(p) = std::env::var_os("ZKU_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    assert!(
        std::path::Path::new(venv).exists(),
        "no Python with k3zkutil: set ZKU_PYTHON or run scripts/install-deps.sh venv"
    );
    venv.to_string()
}

fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_k3zkutil_and_this_library_build_the_same_tree() {
    let hosts = shared_server().connect_string();
    let c = shared_xp();
    let py_top = unique_path("py")[1..].to_string();
    let rs_top = unique_path("rs")[1..].to_string();
    let body = r#"{"__val__": {"b": 1, "a": [1.5, "é\n", 1e16, 0.00001, -3]}, "__acl__": {"xp": "cdrwa", "foo": "rw"},
                   "c1": {"__val__": "str"}, "c2": {}, "c3": {"__acl__": {"foo": "cd", "xp": "rca"}, "leaf": {"__val__": null}}}"#;
    let script = r#"
import sys, json, k3zkutil
hosts, top, body = sys.argv[1], sys.argv[2], sys.argv[3]
k3zkutil.init_hierarchy(hosts, {top: json.loads(body)}, {"xp": "123", "foo": "pw"}, ("digest", "xp", "123"))
"#;
    run_python(script, &[&hosts, &py_top, body]);
    let doc = format!(r#"{{"{rs_top}": {body}}}"#);
    hierarchy::init_hierarchy(
        xp_config(&hosts),
        "/",
        &doc,
        Some(r#"{"xp": "123", "foo": "pw"}"#),
        &ImportOptions::default(),
        T,
    )
    .unwrap();
    let py = snapshot(&c, &format!("/{py_top}"));
    assert_eq!(py.len(), 5);
    assert_eq!(snapshot(&c, &format!("/{rs_top}")), py, "same data bytes and ACLs");

    // Our k3zkutil-format export is what k3zkutil's export_hierarchy gives.
    c.set(&format!("/{py_top}/c2"), b"not json", None, T).unwrap();
    c.create(
        &format!("/{py_top}/c2/ip"),
        b"",
        &CreateOptions::persistent().with_acl(vec![Acl::new(5, "ip", "127.0.0.1"), Acl::new(31, "world", "anyone")]),
        T,
    )
    .unwrap();
    let script = r#"
import sys, k3zkutil, k3utfjson
from kazoo.client import KazooClient
zk = KazooClient(sys.argv[1]); zk.start(); zk.add_auth("digest", "xp:123")
print(k3utfjson.dump(k3zkutil.export_hierarchy(zk, sys.argv[2])))
zk.stop()
"#;
    let theirs: serde_json::Value =
        serde_json::from_str(&run_python(script, &[&hosts, &format!("/{py_top}")])).unwrap();
    let k3 = ExportOptions { format: ExportFormat::K3zkutil, ..ExportOptions::default() };
    let ours: serde_json::Value =
        serde_json::from_str(&hierarchy::export(&c, &format!("/{py_top}"), &k3, T, None).unwrap()).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours["c2"]["ip"]["__acl__"], serde_json::json!({"127.0.0.1": "rc", "anyone": "cdrwa"}));

    // And k3zkutil's init_hierarchy reads our lossless export of a
    // k3zkutil tree (given the users): it builds the same tree again.
    let again = unique_path("py-again")[1..].to_string();
    let options = ExportOptions { users: users(), ..ExportOptions::default() };
    let exported = hierarchy::export(&c, &format!("/{rs_top}"), &options, T, None).unwrap();
    let script = r#"
import sys, json, k3zkutil
hosts, top, body = sys.argv[1], sys.argv[2], sys.argv[3]
k3zkutil.init_hierarchy(hosts, {top: json.loads(body)}, {"xp": "123", "foo": "pw"}, ("digest", "xp", "123"))
"#;
    run_python(script, &[&hosts, &again, &exported]);
    assert_eq!(snapshot(&c, &format!("/{again}")), snapshot(&c, &format!("/{rs_top}")));
    for top in [py_top, rs_top, again] {
        delete_tree(&c, &format!("/{top}"));
    }
}

#[test]
fn a_node_deleted_during_the_export_is_left_out() {
    let c = shared();
    let root = unique_path("vanish");
    let mut doc = String::from("{");
    for i in 0..400 {
        doc.push_str(&format!(r#"{}"c{i:03}": {{"__text__": "{i}"}}"#, if i > 0 { "," } else { "" }));
    }
    doc.push('}');
    import(&c, &root, &doc, &Users::new(), false).unwrap();
    // When the first child's reply arrives, the reads of the last ones are
    // not sent yet (the window is smaller than 400): delete one of them
    // then, from another thread (a progress callback must not call into
    // the library itself).
    let victim = format!("{root}/c399");
    let other = shared();
    let mut progress = |done: u64, _: Option<u64>| {
        if done == 2 {
            let (other, victim) = (other.clone(), victim.clone());
            std::thread::spawn(move || other.delete(&victim, None, T).unwrap()).join().unwrap();
        }
    };
    let text = hierarchy::export(&c, &root, &ExportOptions::default(), T, Some(&mut progress)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().filter(|k| k.starts_with('c')).collect();
    assert_eq!(keys.len(), 399);
    assert!(v.get("c399").is_none() && v.get("c398").is_some());
    delete_tree(&c, &root);
}
