//! The `zkutil` command against a real ZooKeeper: every subcommand, its
//! --help, bad command lines and the documented exit statuses.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::zk::{shared_server, unique_path};
use zkutil::acl::Acl;
use zkutil::{Client, Config, CreateOptions, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(20));

fn hosts() -> String {
    shared_server().connect_string()
}

/// Runs zkutil with ZKU_HOSTS set to the shared server (and no other ZKU_*
/// variable from the environment).
fn zkutil(args: &[&str]) -> Output {
    zkutil_with_input(args, None)
}

fn zkutil_with_input(args: &[&str], input: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
        cmd.env_remove(k);
    }
    cmd.env("ZKU_HOSTS", hosts()).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run zkutil");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn expect(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "status of zkutil; stdout {:?}; stderr {:?}", stdout(o), stderr(o));
}

fn client() -> Client {
    Client::connect(Config { hosts: Some(hosts()), ..Config::default() }).unwrap()
}

#[test]
fn help_for_every_subcommand() {
    let o = zkutil(&["--help"]);
    expect(&o, 0);
    let main = stdout(&o);
    for name in ["export", "import", "get", "set", "digest", "acl-entry", "Exit status", "ZKU_HOSTS"] {
        assert!(main.contains(name), "main help mentions {name}");
    }
    for sub in ["export", "import", "get", "set", "digest", "acl-entry"] {
        for form in [vec![sub, "--help"], vec![sub, "-h"], vec!["help", sub]] {
            let o = zkutil(&form);
            expect(&o, 0);
            assert!(stdout(&o).starts_with(&format!("Usage: zkutil {sub}")), "{form:?}: {}", stdout(&o));
        }
    }
    let o = zkutil(&["--version"]);
    expect(&o, 0);
    assert_eq!(stdout(&o).trim(), format!("zkutil {}", env!("CARGO_PKG_VERSION")));
    // No subcommand: the help on stderr, status 2.
    let o = zkutil(&[]);
    expect(&o, 2);
    assert!(stderr(&o).contains("Subcommands:"));
}

#[test]
fn bad_command_lines_exit_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unknown subcommand \"frobnicate\""),
        (&["get"], "missing PATH"),
        (&["get", "/a", "/b"], "unexpected argument \"/b\""),
        (&["get", "/a", "--nope"], "unknown option \"--nope\""),
        (&["get", "/a", "--timeout"], "--timeout needs a value"),
        (&["get", "/a", "--timeout", "soon"], "--timeout takes seconds"),
        (&["set", "/a", "v", "--version", "x"], "--version takes an integer"),
        (&["set", "/a", "v", "--version", "1", "--create"], "do not go together"),
        (&["--hosts", "h:0", "get", "/a"], "--hosts"),
        (&["get", "/a", "--auth", "nocolon"], "--auth"),
        (&["get", "/a", "--acl", "u:p:rx"], "--acl"),
        (&["digest", "nocolon"], "USER:PASSWORD"),
        (&["digest", "a:b", "--hosts", "h:1"], "unknown option"),
        (&["--bogus", "get", "/a"], "unknown option"),
    ];
    for (args, mentions) in cases {
        let o = zkutil(args);
        expect(&o, 2);
        assert!(stderr(&o).contains(mentions), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn digest_and_acl_entry() {
    let o = zkutil(&["digest", "xp:123"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "LNcZO17uqqJ4GuYoSclIsGjYniQ=\n");
    let o = zkutil(&["digest", "foo:a:b"]);
    assert_eq!(stdout(&o).trim(), zkutil::acl::make_digest("foo:a:b"));
    let o = zkutil(&["acl-entry", "xp", "123", "cdrwa"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "digest:xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=:cdrwa\n");
    let o = zkutil(&["acl-entry", "xp", "123", "rwX"]);
    expect(&o, 8);
    assert!(stderr(&o).contains("\"X\""), "{}", stderr(&o));
}

#[test]
fn get_and_set() {
    let c = client();
    let path = unique_path("cli-get");
    c.create(&path, b"\x00\xffbin", &CreateOptions::persistent(), T).unwrap();
    let o = zkutil(&["get", &path]);
    expect(&o, 0);
    assert_eq!(o.stdout, b"\x00\xffbin", "data as stored, no newline");
    let o = zkutil(&["get", &path, "--stat"]);
    expect(&o, 0);
    let stat: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!((stat["version"].as_i64(), stat["data_length"].as_i64()), (Some(0), Some(5)));

    let o = zkutil(&["set", &path, "v1"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "1\n", "prints the new version");
    let o = zkutil(&["set", &path, "v2", "--version", "1"]);
    expect(&o, 0);
    let o = zkutil(&["set", &path, "stale", "--version", "1"]);
    expect(&o, 4);
    assert!(stderr(&o).contains("bad version"), "{}", stderr(&o));
    assert_eq!(c.get(&path, T).unwrap().0, b"v2");
    let o = zkutil_with_input(&["set", &path, "-"], Some(b"from\nstdin\x00"));
    expect(&o, 0);
    assert_eq!(c.get(&path, T).unwrap().0, b"from\nstdin\x00");

    let missing = format!("{path}/a/b");
    let o = zkutil(&["get", &missing]);
    expect(&o, 3);
    assert!(stderr(&o).contains(&missing), "{}", stderr(&o));
    expect(&zkutil(&["set", &missing, "x"]), 3);
    let o = zkutil(&["set", &missing, "x", "--create"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "0\n");
    assert_eq!(c.get(&missing, T).unwrap().0, b"x");
    expect(&zkutil(&["get", "relative"]), 8);

    // Not authorized, and authorized with --auth.
    let secret = format!("{path}-secret");
    c.create(&secret, b"s", &CreateOptions::persistent().with_acl(vec![Acl::digest("xp", "123", 31)]), T).unwrap();
    expect(&zkutil(&["get", &secret]), 7);
    let o = zkutil(&["get", &secret, "--auth", "digest:xp:123"]);
    expect(&o, 0);
    assert_eq!(o.stdout, b"s");
    // Global options also go before the subcommand.
    expect(&zkutil(&["--auth=digest:xp:123", "get", &secret]), 0);
}

#[test]
fn unreachable_servers_exit_6() {
    let o = zkutil(&["get", "/x", "--hosts", "127.0.0.1:1", "--connect-timeout", "1"]);
    expect(&o, 6);
    assert!(stderr(&o).contains("127.0.0.1:1"), "{}", stderr(&o));
}

#[test]
fn export_and_import() {
    let c = client();
    let base = unique_path("cli-tree");
    c.create(&base, b"", &CreateOptions::persistent(), T).unwrap();
    let src = format!("{base}/src");
    let doc = r#"{"__acl__": {"xp": "cdrwa"}, "a": {"__val__": {"k": 1}}, "b": {"__data__": "AP8="}, "e": {"__text__": ""}}"#;
    let users = std::env::temp_dir().join(format!("zkutil-cli-users-{}.json", std::process::id()));
    std::fs::write(&users, r#"{"xp": "123"}"#).unwrap();
    let users = users.to_str().unwrap();
    let o = zkutil_with_input(&["import", "-", "--root", &src, "--users", users, "--auth", "digest:xp:123"], Some(doc.as_bytes()));
    expect(&o, 0);
    assert_eq!(stdout(&o), format!("imported 4 nodes into {src}: 4 created, 0 existed, 0 values set\n"));
    assert!(stderr(&o).is_empty(), "no progress line when stderr is not a terminal: {:?}", stderr(&o));

    let o = zkutil(&["export", &src, "--auth", "digest:xp:123"]);
    expect(&o, 0);
    let first = stdout(&o);
    assert!(first.starts_with("{\n  \"__val__\": {},"), "indented by default: {first}");
    let file = std::env::temp_dir().join(format!("zkutil-cli-doc-{}.json", std::process::id()));
    std::fs::write(&file, &first).unwrap();
    let dst = format!("{base}/dst");
    let o = zkutil(&["import", file.to_str().unwrap(), "--root", &dst, "--auth", "digest:xp:123", "--progress"]);
    expect(&o, 0);
    assert!(stderr(&o).contains("importing: "), "--progress forces the line: {:?}", stderr(&o));
    let o = zkutil(&["export", &dst, "--auth", "digest:xp:123"]);
    assert_eq!(stdout(&o), first, "export -> import -> export");

    // Options: compact, users, omitted inherited ACLs, k3zkutil's format.
    let o = zkutil(&["export", &src, "--auth", "digest:xp:123", "--compact", "--users", users, "--omit-inherited-acl"]);
    expect(&o, 0);
    let compact = stdout(&o);
    assert_eq!(compact.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&compact).unwrap();
    assert_eq!(v["__acl__"], serde_json::json!({"xp": "cdrwa"}));
    assert!(v["a"].get("__acl__").is_none());
    let o = zkutil(&["export", &format!("{src}/a"), "--auth", "digest:xp:123", "--k3zkutil", "--compact"]);
    assert_eq!(stdout(&o), "{\"__val__\": \"{\\\"k\\\": 1}\", \"__acl__\": {\"xp\": \"cdrwa\"}}\n");
    expect(&zkutil(&["export", &src, "--auth", "digest:xp:123", "--k3zkutil"]), 8); // binary data

    // --update sets values of existing nodes.
    c.add_auth("digest", b"xp:123", T).unwrap();
    c.set(&format!("{dst}/a"), b"changed", None, T).unwrap();
    let o = zkutil(&["import", file.to_str().unwrap(), "--root", &dst, "--auth", "digest:xp:123"]);
    assert_eq!(stdout(&o), format!("imported 4 nodes into {dst}: 0 created, 4 existed, 0 values set\n"));
    assert_eq!(c.get(&format!("{dst}/a"), T).unwrap().0, b"changed");
    let o = zkutil(&["import", file.to_str().unwrap(), "--root", &dst, "--auth", "digest:xp:123", "--update"]);
    assert_eq!(stdout(&o), format!("imported 4 nodes into {dst}: 0 created, 4 existed, 4 values set\n"));
    assert_eq!(c.get(&format!("{dst}/a"), T).unwrap().0, br#"{"k": 1}"#);

    // Errors: a malformed document writes nothing and names the place;
    // no auth; missing node; missing file.
    let bad = format!("{base}/bad");
    let o = zkutil_with_input(&["import", "-", "--root", &bad], Some(br#"{"x": {"__acl__": {"who": "r"}}}"#));
    expect(&o, 8);
    assert!(stderr(&o).contains("/x/__acl__/who"), "{}", stderr(&o));
    assert!(c.exists(&bad, T).unwrap().is_none());
    expect(&zkutil(&["export", &src]), 7);
    expect(&zkutil(&["export", &format!("{base}/none")]), 3);
    let o = zkutil(&["import", "/nonexistent/file.json"]);
    expect(&o, 1);
    assert!(stderr(&o).contains("/nonexistent/file.json"));
    let _ = std::fs::remove_file(file);
}
