//! The `zkutil` command against a real ZooKeeper: every subcommand, its
//! --help, bad command lines and the documented exit statuses.

mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    zkutil_os(&args, input)
}

/// Runs zkutil with arguments that need not be UTF-8.
fn zkutil_os(args: &[&OsStr], input: Option<&[u8]>) -> Output {
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
    for name in ["lock", "holder", "export", "import", "get", "set", "digest", "acl-entry", "Exit status", "ZKU_HOSTS"]
    {
        assert!(main.contains(name), "main help mentions {name}");
    }
    for sub in [
        "lock",
        "holder",
        "get",
        "set",
        "cas",
        "next",
        "wait-absent",
        "register",
        "members",
        "export",
        "import",
        "digest",
        "acl-entry",
        "completions",
    ] {
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
        (&["get", "/a", "--timeout", "soon"], "--timeout: takes seconds"),
        (&["get", "/a", "--timeout", "-1"], "--timeout: takes seconds"),
        (&["get", "/a", "--stat=1"], "--stat takes no value"),
        (&["set", "/a", "v", "--version", "x"], "--version: takes an integer"),
        (&["set", "/a", "v", "--version", "1", "--create"], "do not go together"),
        (&["--hosts", "h:0", "get", "/a"], "--hosts"),
        (&["get", "/a", "--auth", "nocolon"], "--auth"),
        (&["get", "/a", "--acl", "u:p:rx"], "--acl"),
        (&["digest", "nocolon"], "USER:PASSWORD"),
        (&["digest", "a:b", "--hosts", "h:1"], "connection options do not apply"),
        (&["--hosts", "h:1", "digest", "a:b"], "connection options do not apply"),
        (&["completions", "bash", "--lock-dir", "/x/"], "connection options do not apply"),
        (&["digest", "a:b", "--session-renewal"], "connection options do not apply"),
        (&["get", "/a", "--session-renewal=1"], "--session-renewal takes no value"),
        (&["completions", "tcsh"], "\"tcsh\" is not one of bash,"),
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
    let o = zkutil(&["--session-renewal", "get", &path]);
    expect(&o, 0);
    assert_eq!(o.stdout, b"\x00\xffbin");
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
    // Global options also go before the subcommand; a repeated option
    // takes its last value.
    expect(&zkutil(&["--auth=digest:xp:123", "get", &secret]), 0);
    expect(&zkutil(&["--hosts", "127.0.0.1:1", "get", &secret, "--auth=digest:xp:123", "--hosts", &hosts()]), 0);
    expect(&zkutil(&["get", &secret, "--auth", "digest:xp:123", "--timeout", "0.001", "--timeout", "20"]), 0);
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
    let doc =
        r#"{"__acl__": {"xp": "cdrwa"}, "a": {"__val__": {"k": 1}}, "b": {"__data__": "AP8="}, "e": {"__text__": ""}}"#;
    let users = std::env::temp_dir().join(format!("zkutil-cli-users-{}.json", std::process::id()));
    std::fs::write(&users, r#"{"xp": "123"}"#).unwrap();
    let users = users.to_str().unwrap();
    let o = zkutil_with_input(
        &["import", "-", "--root", &src, "--users", users, "--auth", "digest:xp:123"],
        Some(doc.as_bytes()),
    );
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

// ---------------------------------------------------------------------------
// lock, holder
// ---------------------------------------------------------------------------

/// A lock name no other test uses, and its node path.
fn lock_name(prefix: &str) -> (String, String) {
    let name = unique_path(prefix)[1..].to_string();
    let path = format!("/lock/{name}");
    (name, path)
}

fn spawn_zkutil(args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
        cmd.env_remove(k);
    }
    cmd.env("ZKU_HOSTS", hosts()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: std::process::Child) -> Output {
    child.wait_with_output().unwrap()
}

fn temp_file(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "zkutil-cli-{tag}-{}-{}",
        std::process::id(),
        unique_path("f").replace('/', "")
    ));
    let _ = std::fs::remove_file(&p);
    p
}

fn send_signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill").args(["-s", sig, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn lock_runs_the_command_with_the_lock_and_passes_its_status() {
    let (name, path) = lock_name("cli-lock");
    let env_file = temp_file("env");
    let script = format!("echo \"$ZKU_LOCK_PATH $ZKU_LOCK_TOKEN $ZKU_LOCK_ID\" > {}; exit 7", env_file.display());
    let o = zkutil(&["lock", &name, "--", "sh", "-c", &script]);
    expect(&o, 7);
    let env = std::fs::read_to_string(&env_file).unwrap();
    let parts: Vec<&str> = env.split_whitespace().collect();
    assert_eq!(parts[0], path);
    assert!(parts[1].parse::<i64>().unwrap() > 0, "a fencing token: {env}");
    assert!(!parts[2].is_empty());
    let c = client();
    assert!(c.exists(&path, T).unwrap().is_none(), "released after the command");
    // A command killed by a signal: 128 + N.
    expect(&zkutil(&["lock", &name, "--", "sh", "-c", "kill -9 $$"]), 137);
    // A command that cannot be run: 127, and the lock is released.
    let o = zkutil(&["lock", &name, "--", "/nonexistent/cmd"]);
    expect(&o, 127);
    assert!(stderr(&o).contains("/nonexistent/cmd"));
    assert!(c.exists(&path, T).unwrap().is_none());
    let _ = std::fs::remove_file(env_file);
    // Usage errors.
    for (args, mentions) in [
        (vec!["lock", &name], "missing -- CMD"),
        (vec!["lock", &name, "--"], "missing -- CMD"),
        (vec!["lock", &name, "--signal", "BOGUS", "--", "true"], "unknown signal"),
        (vec!["lock", &name, "--val", "{nope", "--", "true"], "--val"),
        (vec!["lock", "--", "true"], "missing NAME"),
    ] {
        let o = zkutil(&args);
        expect(&o, 2);
        assert!(stderr(&o).contains(mentions), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn lock_excludes_concurrent_shells() {
    let (name, _) = lock_name("cli-excl");
    let marker = temp_file("marker");
    let log = temp_file("log");
    // Each holder makes the marker exclusively (noclobber), keeps it a
    // while, logs, removes it. Two holders at once would fail the `>`.
    let script = format!(
        "set -C; if ! echo $$ > {m} 2>/dev/null; then echo OVERLAP >> {l}; fi; sleep 0.2; echo $$ >> {l}; rm -f {m}",
        m = marker.display(),
        l = log.display()
    );
    let children: Vec<_> = (0..5).map(|_| spawn_zkutil(&["lock", &name, "--", "sh", "-c", &script])).collect();
    for child in children {
        expect(&finish(child), 0);
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("OVERLAP"), "{log_text}");
    assert_eq!(log_text.lines().count(), 5, "{log_text}");
    let _ = std::fs::remove_file(log);
}

#[test]
fn lock_fifo_excludes_concurrent_shells_and_leaves_no_node() {
    let (name, path) = lock_name("cli-fifo");
    let marker = temp_file("fifo-marker");
    let log = temp_file("fifo-log");
    let script = format!(
        "set -C; if ! echo $$ > {m} 2>/dev/null; then echo OVERLAP >> {l}; fi; sleep 0.1; \
         echo \"$ZKU_LOCK_TOKEN $ZKU_LOCK_PATH\" >> {l}; rm -f {m}",
        m = marker.display(),
        l = log.display()
    );
    let children: Vec<_> =
        (0..4).map(|_| spawn_zkutil(&["lock", "--fifo", &name, "--", "sh", "-c", &script])).collect();
    for child in children {
        expect(&finish(child), 0);
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("OVERLAP"), "{log_text}");
    let tokens: Vec<i64> = log_text.lines().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(tokens.len(), 4, "{log_text}");
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens in hold order: {log_text}");
    assert!(log_text.lines().all(|l| l.ends_with(&path)), "{log_text}");
    assert!(client().children(&path, T).unwrap().0.is_empty(), "no node left");
    // A timeout behind a holder: --timeout-exit, and its node is gone.
    let holder = spawn_zkutil(&["lock", "--fifo", &name, "--", "sleep", "30"]);
    wait_for("the holder", || client().children(&path, T).is_ok_and(|(c, _)| c.len() == 1));
    expect(&zkutil(&["lock", "--fifo", &name, "--timeout", "0.3", "--", "true"]), 5);
    assert_eq!(client().children(&path, T).unwrap().0.len(), 1);
    send_signal(&holder, "TERM");
    finish(holder);
    let o = zkutil(&["lock", "--fifo", &name, "--val", "1", "--", "true"]);
    expect(&o, 2);
    assert!(stderr(&o).contains("--fifo"), "{}", stderr(&o));
    let _ = std::fs::remove_file(log);
}

#[test]
fn elect_runs_one_leader_at_a_time_and_standbys_take_over() {
    let (name, path) = lock_name("cli-elect");
    let marker = temp_file("elect-marker");
    let log = temp_file("elect-log");
    let script = format!(
        "set -C; if ! echo $$ > {m} 2>/dev/null; then echo OVERLAP >> {l}; fi; sleep 0.1; \\
         echo \"$ZKU_LOCK_TOKEN\" >> {l}; rm -f {m}",
        m = marker.display(),
        l = log.display()
    );
    let children: Vec<_> = (0..3).map(|_| spawn_zkutil(&["elect", &name, "--", "sh", "-c", &script])).collect();
    for child in children {
        expect(&finish(child), 0);
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("OVERLAP"), "{log_text}");
    assert_eq!(log_text.lines().count(), 3, "{log_text}");
    let c = client();
    assert!(c.children(&path, T).unwrap().0.is_empty(), "no node left");
    // The leader's node is deleted by an operator: the command is
    // signalled and zkutil exits with the lost status.
    let leader = spawn_zkutil(&["elect", &name, "--", "sleep", "30"]);
    wait_for("the leader", || c.children(&path, T).is_ok_and(|(n, _)| n.len() == 1));
    let node = c.children(&path, T).unwrap().0.remove(0);
    assert!(node.starts_with("_c_") && node.contains("-latch-"), "{node}");
    c.delete(&format!("{path}/{node}"), None, T).unwrap();
    let o = finish(leader);
    expect(&o, 75);
    let o = zkutil(&["elect", &name, "--fifo", "--", "true"]);
    expect(&o, 2);
    let _ = std::fs::remove_file(log);
}

#[test]
fn rwlock_readers_share_and_a_writer_excludes() {
    let (name, path) = lock_name("cli-rwlock");
    let c = client();
    let reader = spawn_zkutil(&["rwlock", "--read", &name, "--", "sleep", "30"]);
    wait_for("the reader", || c.children(&path, T).is_ok_and(|(n, _)| n.len() == 1));
    // Another reader shares it; a writer does not get it.
    expect(&zkutil(&["rwlock", "--read", &name, "--timeout", "10", "--", "true"]), 0);
    expect(&zkutil(&["rwlock", "--write", &name, "--timeout", "0.3", "--", "true"]), 5);
    send_signal(&reader, "TERM");
    finish(reader);
    let writer = spawn_zkutil(&["rwlock", "--write", &name, "--", "sleep", "30"]);
    wait_for("the writer", || c.children(&path, T).is_ok_and(|(n, _)| n.len() == 1 && n[0].contains("__WRIT__")));
    expect(&zkutil(&["rwlock", "--read", &name, "--timeout", "0.3", "--", "true"]), 5);
    send_signal(&writer, "TERM");
    finish(writer);
    assert!(c.children(&path, T).unwrap().0.is_empty(), "no node left");
    expect(&zkutil(&["rwlock", &name, "--", "true"]), 2);
    expect(&zkutil(&["rwlock", "--read", "--write", &name, "--", "true"]), 2);
}

#[test]
fn lock_timeout_and_holder() {
    let (name, path) = lock_name("cli-timeout");
    let c = client();
    expect(&zkutil(&["holder", &name]), 3);
    // Held by zkutil itself, with a val.
    let holder = spawn_zkutil(&["lock", &name, "--val", r#"{"job": "backup"}"#, "--", "sleep", "30"]);
    wait_for("the holder", || c.get(&path, T).is_ok_and(|(d, _)| String::from_utf8_lossy(&d).contains("backup")));
    let o = zkutil(&["holder", &name]);
    expect(&o, 0);
    let id = stdout(&o).trim().to_string();
    assert!(id.split('-').count() >= 4, "node_id-ip-pid-uuid: {id}");
    let o = zkutil(&["holder", &name, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["val"], serde_json::json!({"job": "backup"}));
    assert_eq!(v["path"], path.as_str());
    assert_eq!(v["token"].as_i64(), Some(c.get(&path, T).unwrap().1.czxid));

    let start = std::time::Instant::now();
    let o = zkutil(&["lock", &name, "--timeout", "0.5", "--", "echo", "never"]);
    expect(&o, 5);
    assert!(stdout(&o).is_empty());
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(stderr(&o).contains(&format!("held by {id:?}")), "names the holder: {}", stderr(&o));
    let o = zkutil(&["lock", &name, "--timeout", "0", "--timeout-exit", "42", "--", "true"]);
    expect(&o, 42);
    assert!(stderr(&o).contains(&id), "names the holder: {}", stderr(&o));
    // A signal stops the wait; the holder keeps the lock.
    let waiter = spawn_zkutil(&["lock", &name, "--", "echo", "never"]);
    std::thread::sleep(Duration::from_millis(700));
    send_signal(&waiter, "TERM");
    let o = finish(waiter);
    expect(&o, 128 + 15);
    assert!(stdout(&o).is_empty());
    let o = zkutil(&["holder", &name]);
    assert_eq!(stdout(&o).trim(), id);
    // TERM to the holder is forwarded: sleep dies of it, zkutil releases.
    send_signal(&holder, "TERM");
    expect(&finish(holder), 128 + 15);
    assert!(c.exists(&path, T).unwrap().is_none());
}

#[test]
fn forwarded_signal_lets_the_command_finish_its_way() {
    let (name, path) = lock_name("cli-forward");
    let got = temp_file("forward");
    let script = format!("trap 'echo term > {}; exit 3' TERM; while :; do sleep 0.05; done", got.display());
    let child = spawn_zkutil(&["lock", &name, "--", "sh", "-c", &script]);
    let c = client();
    wait_for("the lock", || c.exists(&path, T).unwrap().is_some());
    std::thread::sleep(Duration::from_millis(300));
    send_signal(&child, "TERM");
    expect(&finish(child), 3);
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "term");
    assert!(c.exists(&path, T).unwrap().is_none(), "released");
    let _ = std::fs::remove_file(got);
}

#[test]
fn lost_lock_signals_the_command_and_exits_75() {
    let c = client();
    // The node is deleted under the holder.
    let (name, path) = lock_name("cli-lost");
    let got = temp_file("lost");
    let script = format!("trap 'echo term > {}; exit 0' TERM; while :; do sleep 0.05; done", got.display());
    let child = spawn_zkutil(&["lock", &name, "--", "sh", "-c", &script]);
    wait_for("the lock", || c.exists(&path, T).unwrap().is_some());
    std::thread::sleep(Duration::from_millis(300));
    c.delete(&path, None, T).unwrap();
    let o = finish(child);
    expect(&o, 75);
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "term", "the command got SIGTERM");
    assert!(stderr(&o).contains("lost"), "{}", stderr(&o));

    // Another signal, another status; a command ignoring the signal is
    // killed after --kill-after.
    let (name, path) = lock_name("cli-lost2");
    let script = "trap '' USR1 TERM; while :; do sleep 0.05; done";
    let child = spawn_zkutil(&[
        "lock",
        &name,
        "--signal",
        "USR1",
        "--kill-after",
        "0.5",
        "--lost-exit",
        "99",
        "--",
        "sh",
        "-c",
        script,
    ]);
    wait_for("the lock", || c.exists(&path, T).unwrap().is_some());
    std::thread::sleep(Duration::from_millis(300));
    c.delete(&path, None, T).unwrap();
    let start = std::time::Instant::now();
    expect(&finish(child), 99);
    assert!(start.elapsed() >= Duration::from_millis(500));
    let _ = std::fs::remove_file(got);
}

#[test]
fn lock_lost_when_the_server_is_gone_longer_than_the_session() {
    let mut server = common::zk::ZkServer::start();
    let (name, path) = lock_name("cli-expire");
    let got = temp_file("expire");
    let script = format!("trap 'echo term > {}; exit 0' TERM; while :; do sleep 0.05; done", got.display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .args(["--hosts", &server.connect_string(), "--session-timeout", "2", "lock", &name, "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c = Client::connect(Config { hosts: Some(server.connect_string()), ..Config::default() }).unwrap();
    wait_for("the lock", || c.exists(&path, T).unwrap().is_some());
    c.close();
    server.stop();
    let o = finish(child);
    expect(&o, 75);
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "term");
    let err = stderr(&o);
    assert!(err.contains("connection lost") && err.contains("lost"), "{err}");
    let _ = std::fs::remove_file(got);
}

#[test]
fn cas_counters_and_fields() {
    let c = client();
    let path = unique_path("cli-cas");
    expect(&zkutil(&["cas", &path, "--incr"]), 3);
    let o = zkutil(&["cas", &path, "--incr", "--create"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "1\n");
    assert_eq!(stdout(&zkutil(&["cas", &path, "--add", "-5"])), "-4\n");
    assert_eq!(c.get(&path, T).unwrap().0, b"-4");
    // Several processes incrementing at once: no update is lost.
    let children: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    expect(&zkutil(&["cas", &path, "--incr"]), 0);
                }
            })
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert_eq!(c.get(&path, T).unwrap().0, b"36");
    let o = zkutil(&["cas", &path, "--field", "a", "--incr"]);
    expect(&o, 8);
    assert!(stderr(&o).contains("not a JSON object"), "{}", stderr(&o));

    // Fields of an object, order kept, written as k3zkutil writes values.
    let obj = format!("{path}-obj");
    c.create(&obj, br#"{"z": 1, "a": {"n": 2}}"#, &CreateOptions::persistent(), T).unwrap();
    assert_eq!(stdout(&zkutil(&["cas", &obj, "--field", "a.n", "--incr"])), "3\n");
    assert_eq!(stdout(&zkutil(&["cas", &obj, "--field", "b.c", "--set", r#"["x", 1.5]"#])), "[\"x\", 1.5]\n");
    assert_eq!(c.get(&obj, T).unwrap().0, br#"{"z": 1, "a": {"n": 3}, "b": {"c": ["x", 1.5]}}"#);
    expect(&zkutil(&["cas", &obj, "--field", "z.q", "--incr"]), 8);
    expect(&zkutil(&["cas", &obj, "--field", "b.c", "--incr"]), 8);
    let o = zkutil(&["cas", &obj, "--set", "{\"whole\": true}"]);
    expect(&o, 0);
    assert_eq!(c.get(&obj, T).unwrap().0, br#"{"whole": true}"#);
    // A node that is not JSON.
    let raw = format!("{path}-raw");
    c.create(&raw, b"not json", &CreateOptions::persistent(), T).unwrap();
    expect(&zkutil(&["cas", &raw, "--incr"]), 8);
    for (args, mentions) in [
        (vec!["cas", &path], "one of"),
        (vec!["cas", &path, "--incr", "--add", "2"], "one of"),
        (vec!["cas", &path, "--set", "{bad"], "--set"),
        (vec!["cas", &path, "--incr", "--field", "a..b"], "--field"),
    ] {
        let o = zkutil(&args);
        expect(&o, 2);
        assert!(stderr(&o).contains(mentions), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn next_and_wait_absent() {
    let c = client();
    let path = unique_path("cli-wait");
    expect(&zkutil(&["next", &path, "0", "--timeout", "5"]), 3);
    // --until-created waits for the node.
    let waiter = spawn_zkutil(&["next", &path, "-1", "--until-created"]);
    std::thread::sleep(Duration::from_millis(500));
    c.create(&path, b"v0", &CreateOptions::persistent(), T).unwrap();
    let o = finish(waiter);
    expect(&o, 0);
    assert_eq!(o.stdout, b"v0");
    // next VERSION waits for a newer version.
    let waiter = spawn_zkutil(&["next", &path, "0", "--stat"]);
    std::thread::sleep(Duration::from_millis(500));
    c.set(&path, b"v1", None, T).unwrap();
    let o = finish(waiter);
    expect(&o, 0);
    let stat: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(stat["version"], 1);
    let o = zkutil(&["next", &path, "0"]);
    assert_eq!(o.stdout, b"v1", "already newer: at once");
    expect(&zkutil(&["next", &path, "1", "--timeout", "0.3"]), 5);
    expect(&zkutil(&["next", &path, "-2"]), 2);

    expect(&zkutil(&["wait-absent", &path, "--timeout", "0.3"]), 5);
    let waiter = spawn_zkutil(&["wait-absent", &path]);
    std::thread::sleep(Duration::from_millis(500));
    c.delete(&path, None, T).unwrap();
    expect(&finish(waiter), 0);
    expect(&zkutil(&["wait-absent", &path]), 0);
}

// ---------------------------------------------------------------------------
// Arguments: any text, any bytes after --, time limits, completions
// ---------------------------------------------------------------------------

#[test]
fn non_ascii_names_and_values_round_trip() {
    // k3zkutil names and values can be any text: the first character too.
    let o = zkutil(&["digest", "名字:密码"]);
    expect(&o, 0);
    assert_eq!(stdout(&o).trim(), zkutil::acl::make_digest("名字:密码"));
    let o = zkutil(&["acl-entry", "名字", "密码", "rw"]);
    expect(&o, 0);
    assert_eq!(stdout(&o).trim(), format!("digest:名字:{}:rw", zkutil::acl::make_digest("名字:密码")));

    let c = client();
    let path = format!("{}-ünï", unique_path("cli-text"));
    expect(&zkutil(&["set", &path, "値: ß", "--create"]), 0);
    assert_eq!(c.get(&path, T).unwrap().0, "値: ß".as_bytes());
    assert_eq!(zkutil(&["get", &path]).stdout, "値: ß".as_bytes());
    let json = format!("{path}-json");
    let o = zkutil(&["cas", &json, "--field", "ключ", "--set", "\"é\"", "--create"]);
    expect(&o, 0);
    assert_eq!(c.get(&json, T).unwrap().0, "{\"ключ\": \"é\"}".as_bytes());

    // A lock whose name starts with a non-ASCII character, with a val; the
    // command (zkutil holder) sees it held.
    let (name, _) = lock_name("cli-lock");
    let name = format!("名字-{name}");
    let o = zkutil(&[
        "lock",
        &name,
        "--val",
        "{\"who\": \"ø\"}",
        "--",
        env!("CARGO_BIN_EXE_zkutil"),
        "holder",
        &name,
        "--json",
    ]);
    expect(&o, 0);
    let held: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(held["path"], format!("/lock/{name}"));
    assert_eq!(held["val"], serde_json::json!({"who": "ø"}));
    expect(&zkutil(&["holder", &name]), 3);
}

#[test]
fn non_utf8_arguments_are_usage_errors_naming_the_argument() {
    let bad = OsStr::from_bytes(b"/a\xffb");
    let cases: &[(&[&OsStr], &str)] = &[
        (&["get".as_ref(), bad], "PATH"),
        (&["set".as_ref(), "/a".as_ref(), bad], "VALUE"),
        (&["get".as_ref(), "/a".as_ref(), "--hosts".as_ref(), bad], "--hosts"),
        (&["--auth".as_ref(), bad, "get".as_ref(), "/a".as_ref()], "--auth"),
        (&["lock".as_ref(), bad, "--".as_ref(), "true".as_ref()], "NAME"),
        (&["digest".as_ref(), bad], "USER:PASSWORD"),
    ];
    for (args, names) in cases {
        let o = zkutil_os(args, None);
        expect(&o, 2);
        let err = stderr(&o);
        assert!(err.contains(&format!("{names}: not valid UTF-8: \"/a\\xFFb\"")), "{args:?}: {err}");
    }
    // Not a subcommand or an option at all.
    expect(&zkutil_os(&[bad], None), 2);
    expect(&zkutil_os(&["get".as_ref(), "/a".as_ref(), OsStr::from_bytes(b"--\xff")], None), 2);
}

#[test]
fn everything_after_double_dash_reaches_the_command_untouched() {
    let (name, _) = lock_name("cli-dashes");
    let words: Vec<&OsStr> = ["--timeout", "-x", "--", "--help", "-h", "--hosts", "ünï", "-"]
        .iter()
        .map(OsStr::new)
        .chain([OsStr::from_bytes(b"bin\xff\xfe")])
        .collect();
    let mut args: Vec<&OsStr> =
        ["lock", &name, "--", "sh", "-c", "printf '%s\\n' \"$@\"", "sh"].into_iter().map(OsStr::new).collect();
    args.extend(&words);
    let o = zkutil_os(&args, None);
    expect(&o, 0);
    let mut want = Vec::new();
    for w in &words {
        want.extend_from_slice(w.as_bytes());
        want.push(b'\n');
    }
    assert_eq!(o.stdout, want, "stderr: {}", stderr(&o));
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs zkutil against `hosts` and checks it gave up with `status` within
/// `limit` plus a second.
#[track_caller]
fn gives_up_in_time(hosts: &str, args: &[&str], limit: Duration, status: i32) -> Output {
    let mut all = vec!["--hosts", hosts];
    all.extend_from_slice(args);
    let start = Instant::now();
    let o = zkutil(&all);
    let took = start.elapsed();
    expect(&o, status);
    assert!(took < limit + Duration::from_secs(1), "{args:?} took {took:?}; stderr: {}", stderr(&o));
    o
}

#[test]
fn timeout_bounds_connecting_to_an_unreachable_server() {
    // The connect timeout (10 s by default) is cut to --timeout.
    let hosts = format!("127.0.0.1:{}", closed_port());
    let (name, _) = lock_name("cli-unreachable");
    let limit = Duration::from_secs(1);
    let o = gives_up_in_time(&hosts, &["lock", &name, "--timeout", "1", "--", "true"], limit, 6);
    assert!(stderr(&o).contains(&hosts), "{}", stderr(&o));
    gives_up_in_time(&hosts, &["get", "/x", "--timeout", "1"], limit, 6);
    gives_up_in_time(&hosts, &["next", "/x", "0", "--timeout", "1"], limit, 6);
    // The connect timeout still applies when shorter.
    let short = Duration::from_millis(300);
    gives_up_in_time(&hosts, &["lock", &name, "--timeout", "30", "--connect-timeout", "0.3", "--", "true"], short, 6);
}

/// SIGCONTs a SIGSTOPped process when dropped, also when the test fails.
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        assert!(Command::new("kill").args(["-s", "STOP", &pid.to_string()]).status().unwrap().success());
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "CONT", &self.0.to_string()]).status();
    }
}

#[test]
fn timeout_bounds_connecting_to_a_stalled_server() {
    let server = common::zk::ZkServer::start();
    let _stalled = Stopped::new(server.jvm_pid().expect("the server's JVM"));
    // The kernel still accepts connections; the server never answers.
    let (name, _) = lock_name("cli-stalled");
    let limit = Duration::from_millis(1500);
    gives_up_in_time(&server.connect_string(), &["lock", &name, "--timeout", "1.5", "--", "true"], limit, 6);
    gives_up_in_time(&server.connect_string(), &["holder", &name, "--timeout", "1.5"], limit, 6);
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = zkutil(&["completions", shell]);
        expect(&o, 0);
        let script = stdout(&o);
        for word in ["zkutil", "wait-absent", "timeout-exit", "hosts"] {
            assert!(script.contains(word), "{shell} completions mention {word}");
        }
    }
    // bash loads it and completes a subcommand and an option.
    let script = zkutil(&["completions", "bash"]).stdout;
    let file = temp_file("completions");
    std::fs::write(&file, script).unwrap();
    let check = format!(
        "source {}; COMP_WORDS=(zkutil wait-ab); COMP_CWORD=1; _zkutil zkutil wait-ab zkutil; echo ${{COMPREPLY[@]}}; \
         COMP_WORDS=(zkutil lock --timeout-e); COMP_CWORD=2; _zkutil zkutil --timeout-e lock; echo ${{COMPREPLY[@]}}",
        file.display()
    );
    let o = Command::new("bash").args(["--norc", "-c", &check]).output().unwrap();
    assert_eq!(stdout(&o), "wait-absent\n--timeout-exit\n", "stderr: {}", stderr(&o));
    let _ = std::fs::remove_file(file);
}

#[test]
fn register_keeps_the_node_while_the_command_runs() {
    let c = client();
    let parent = unique_path("cli-register");
    let path = format!("{parent}/api-1");
    let seen = temp_file("members");
    // The command lists the members (the node exists while it runs) and
    // exits 7.
    let script = format!(
        "echo \"$ZKU_REGISTRATION_PATH\" > {seen}; {zkutil} members {parent} >> {seen}; exit 7",
        seen = seen.display(),
        zkutil = env!("CARGO_BIN_EXE_zkutil"),
    );
    let o = zkutil(&["register", &path, "host:8080", "--", "sh", "-c", &script]);
    expect(&o, 7);
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), format!("{path}\napi-1\thost:8080\n"));
    assert_eq!(c.exists(&path, T).unwrap(), None, "deleted when the command exited");
    // A sequential node: the name the server gave.
    let prefix = format!("{parent}/m-");
    let script = format!("echo \"$ZKU_REGISTRATION_PATH\" > {}", seen.display());
    expect(&zkutil(&["register", &prefix, "--sequential", "--", "sh", "-c", &script]), 0);
    let got = std::fs::read_to_string(&seen).unwrap();
    assert!(got.trim().starts_with(&prefix) && got.trim().len() == prefix.len() + 10, "{got}");
    let _ = std::fs::remove_file(seen);
    // Usage errors and a command that cannot be run.
    for (args, mentions) in [
        (vec!["register", &path], "missing -- CMD"),
        (vec!["register", &path, "--ttl", "5", "--", "true"], "--ttl needs --persistent"),
        (vec!["register", "--", "true"], "missing PATH"),
    ] {
        let o = zkutil(&args);
        expect(&o, 2);
        assert!(stderr(&o).contains(mentions), "{args:?}: {}", stderr(&o));
    }
    expect(&zkutil(&["register", "relative", "--", "true"]), 8);
    expect(&zkutil(&["register", &path, "--", "/nonexistent/cmd"]), 127);
    assert_eq!(c.exists(&path, T).unwrap(), None);
}

#[test]
fn register_recreates_a_deleted_node_and_waits_for_another_sessions_node() {
    let c = client();
    let path = unique_path("cli-register-heal");
    // Another session's node is there first: zkutil waits for it to go.
    let other = client();
    other.create(&path, b"theirs", &CreateOptions::ephemeral(), T).unwrap();
    expect(&zkutil(&["register", &path, "--timeout", "0.5", "--", "true"]), 5);
    // A signal stops the wait: 128 + N, the command never ran.
    let waiting = spawn_zkutil(&["register", &path, "--", "touch", "/nonexistent/ran"]);
    std::thread::sleep(Duration::from_millis(500));
    send_signal(&waiting, "TERM");
    expect(&finish(waiting), 128 + 15);
    let flag = temp_file("heal");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", flag.display());
    let child = spawn_zkutil(&["register", &path, "ours", "--", "sh", "-c", &script]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.get(&path, T).unwrap().0, b"theirs", "left alone");
    other.close();
    wait_for("our node", || c.get(&path, T).is_ok_and(|(data, _)| data == b"ours"));
    // Deleted by an operator: created again, the command keeps running.
    std::thread::sleep(Duration::from_millis(300));
    let czxid = c.exists(&path, T).unwrap().unwrap().czxid;
    c.delete(&path, None, T).unwrap();
    wait_for("the new node", || c.exists(&path, T).unwrap().is_some_and(|s| s.czxid != czxid));
    // zkutil tells of it once its keeper has the create's reply, a moment
    // after the node shows here (a fresh-clone run once lost that race).
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&flag, b"").unwrap();
    let o = finish(child);
    expect(&o, 0);
    let err = stderr(&o);
    assert!(err.contains("missing") && err.contains("is back"), "{err}");
    assert_eq!(c.exists(&path, T).unwrap(), None);
    let _ = std::fs::remove_file(flag);
}

#[test]
fn register_stops_the_command_when_the_session_expired() {
    let c = client();
    let path = unique_path("cli-register-expiry");
    let got = temp_file("expiry");
    let script = format!("trap 'echo term > {}; exit 0' TERM; while :; do sleep 0.05; done", got.display());
    let child = spawn_zkutil(&["--session-timeout", "2", "register", &path, "--", "sh", "-c", &script]);
    wait_for("the node", || c.exists(&path, T).unwrap().is_some());
    {
        // zkutil (not the command) stalls past the session timeout: the
        // server expires its session, and zkutil hears it once it runs.
        let _stopped = Stopped::new(child.id());
        wait_for("the expiry", || c.exists(&path, T).unwrap().is_none());
    }
    let o = finish(child);
    expect(&o, 75);
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "term", "the command got SIGTERM");
    assert!(stderr(&o).contains("session expired"), "{}", stderr(&o));
    let _ = std::fs::remove_file(got);
}

#[test]
fn register_with_session_renewal_recreates_the_node_and_keeps_the_command() {
    let c = client();
    let path = unique_path("cli-register-renewal");
    let flag = temp_file("renewal");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", flag.display());
    let child =
        spawn_zkutil(&["--session-timeout", "2", "--session-renewal", "register", &path, "--", "sh", "-c", &script]);
    wait_for("the node", || c.exists(&path, T).unwrap().is_some());
    let first_owner = c.exists(&path, T).unwrap().unwrap().ephemeral_owner;
    {
        // zkutil stalls past the session timeout: the server expires the
        // session; once running again zkutil opens a new one.
        let _stopped = Stopped::new(child.id());
        wait_for("the expiry", || c.exists(&path, T).unwrap().is_none());
    }
    wait_for("the node in a new session", || {
        c.exists(&path, T).unwrap().is_some_and(|s| s.ephemeral_owner != first_owner)
    });
    std::fs::write(&flag, b"").unwrap();
    let o = finish(child);
    expect(&o, 0);
    assert_eq!(c.exists(&path, T).unwrap(), None, "deleted when the command ended");
    let _ = std::fs::remove_file(flag);
}

#[test]
fn members_text_json_and_missing_parent() {
    let c = client();
    let parent = unique_path("cli-members");
    c.create(&format!("{parent}/b"), b"line1\nline2\ttab", &CreateOptions::persistent().with_parents(), T).unwrap();
    c.create(&format!("{parent}/a"), b"\xff\x00", &CreateOptions::persistent(), T).unwrap();
    let o = zkutil(&["members", &parent]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "a\t\u{fffd}\0\nb\tline1\\nline2\\ttab\n");
    let o = zkutil(&["members", &parent, "--json"]);
    expect(&o, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json[0]["name"], "a");
    assert_eq!(json[0]["data_base64"], "/wA=");
    assert_eq!(json[1]["data"], "line1\nline2\ttab");
    assert_eq!(json[1]["ephemeral_owner"], 0);
    expect(&zkutil(&["members", &format!("{parent}/none")]), 3);
    expect(&zkutil(&["members", "bad"]), 8);
}

#[test]
fn register_keeps_the_command_running_through_an_outage() {
    let mut server = common::zk::ZkServer::start();
    let path = unique_path("cli-register-outage");
    let flag = temp_file("outage");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", flag.display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkutil"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ZKU_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .args([
            "--hosts",
            &server.connect_string(),
            "--session-timeout",
            "20",
            "register",
            &path,
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c = Client::connect(Config { hosts: Some(server.connect_string()), ..Config::default() }).unwrap();
    wait_for("the node", || c.exists(&path, T).unwrap().is_some());
    c.close();
    server.restart();
    let c = Client::connect(Config { hosts: Some(server.connect_string()), ..Config::default() }).unwrap();
    assert!(c.exists(&path, T).unwrap().is_some(), "kept through the restart");
    std::fs::write(&flag, b"").unwrap();
    let o = finish(child);
    expect(&o, 0);
    assert_eq!(c.exists(&path, T).unwrap(), None);
    let _ = std::fs::remove_file(flag);
}
