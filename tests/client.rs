//! The core client against a real ZooKeeper: every node operation, auth and
//! ACL enforcement, chroot, session close and expiry, connection loss, and
//! a 3-node ensemble losing a member.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::zk::{ZkCluster, ZkServer, shared_server, unique_path};
use zkutil::acl::{self, Acl};
use zkutil::config::{AclSpec, Auth};
use zkutil::{Client, Code, Config, CreateOptions, NodeKind, SessionState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

fn config_for(hosts: &str) -> Config {
    Config { hosts: Some(hosts.to_string()), session_timeout: Some(Duration::from_secs(4)), ..Config::default() }
}

fn connect(hosts: &str) -> Client {
    Client::connect(config_for(hosts)).expect("connect")
}

fn shared() -> Client {
    connect(&shared_server().connect_string())
}

#[test]
fn create_get_set_delete_round_trip() {
    let c = shared();
    let root = unique_path("crud");
    let (created, stat) = c.create(&root, b"\x00\x01\xffbinary", &CreateOptions::persistent(), T).unwrap();
    assert_eq!(created, root);
    assert_eq!((stat.version, stat.data_length, stat.num_children, stat.ephemeral_owner), (0, 9, 0, 0));
    assert_eq!(stat.czxid, stat.mzxid);

    let (data, got) = c.get(&root, T).unwrap();
    assert_eq!(data, b"\x00\x01\xffbinary");
    assert_eq!(got, stat);

    let set = c.set(&root, b"v1", Some(0), T).unwrap();
    assert_eq!((set.version, set.czxid), (1, stat.czxid));
    assert!(set.mzxid > stat.mzxid);
    assert_eq!(c.set(&root, b"stale", Some(0), T).unwrap_err().code(), Code::BadVersion);
    assert_eq!(c.get(&root, T).unwrap().0, b"v1", "a refused write changes nothing");
    c.set(&root, b"", None, T).unwrap();
    assert_eq!(c.get(&root, T).unwrap().0, b"");

    let child = format!("{root}/child");
    c.create(&child, b"", &CreateOptions::persistent(), T).unwrap();
    let (children, parent) = c.children(&root, T).unwrap();
    assert_eq!(children, ["child"]);
    assert_eq!((parent.num_children, parent.cversion), (1, 1));
    assert_eq!(c.delete(&root, None, T).unwrap_err().code(), Code::NotEmpty);
    assert_eq!(c.create(&child, b"", &CreateOptions::persistent(), T).unwrap_err().code(), Code::NodeExists);
    assert_eq!(c.delete(&child, Some(5), T).unwrap_err().code(), Code::BadVersion);
    c.delete(&child, Some(0), T).unwrap();
    assert!(c.exists(&child, T).unwrap().is_none());
    assert_eq!(c.get(&child, T).unwrap_err().code(), Code::NoNode);
    assert_eq!(c.delete(&child, None, T).unwrap_err().code(), Code::NoNode);
    c.delete(&root, None, T).unwrap();
}

#[test]
fn create_modes_and_parents() {
    let c = shared();
    let root = unique_path("modes");
    let deep = format!("{root}/a/b/c");
    assert_eq!(c.create(&deep, b"x", &CreateOptions::persistent(), T).unwrap_err().code(), Code::NoNode);
    c.create(&deep, b"x", &CreateOptions::persistent().with_parents(), T).unwrap();
    assert_eq!(c.get(&format!("{root}/a"), T).unwrap().0, b"", "parents are empty");

    let (eph, stat) = c.create(&format!("{root}/eph"), b"", &CreateOptions::ephemeral(), T).unwrap();
    assert_eq!(stat.ephemeral_owner, c.session_id());
    let err = c.create(&format!("{eph}/child"), b"", &CreateOptions::persistent(), T).unwrap_err();
    assert_eq!(err.code(), Code::NoChildrenForEphemerals);

    let first = c.create(&format!("{root}/q-"), b"", &CreateOptions::ephemeral().sequential(), T).unwrap().0;
    let second = c.create(&format!("{root}/q-"), b"", &CreateOptions::persistent().sequential(), T).unwrap().0;
    let seq = |p: &str| p.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    assert!(first.starts_with(&format!("{root}/q-")) && first.len() == root.len() + 3 + 10);
    assert!(seq(&second) > seq(&first));
    // A sequential prefix ending with '/' (the name is the number alone)
    // gets its missing parents.
    let bare = c.create(&format!("{root}/s/t/"), b"", &CreateOptions::persistent().sequential().with_parents(), T);
    let bare = bare.unwrap().0;
    assert!(bare.starts_with(&format!("{root}/s/t/")) && bare.len() == root.len() + 5 + 10, "{bare}");

    // The server hides the container and TTL markers from clients
    // (ephemeralOwner reads 0), so check what they do: a container goes
    // once its last child is gone, a TTL node once its TTL passed (the
    // harness runs the server's container sweep every 300 ms).
    let container = CreateOptions { kind: NodeKind::Container, ..CreateOptions::default() };
    let (boxed, _) = c.create(&format!("{root}/box"), b"", &container, T).unwrap();
    c.create(&format!("{boxed}/item"), b"", &CreateOptions::persistent(), T).unwrap();
    c.delete(&format!("{boxed}/item"), None, T).unwrap();
    wait_until_gone(&c, &boxed);
    let ttl = CreateOptions { ttl: Some(Duration::from_millis(200)), ..CreateOptions::default() };
    let (ttl_node, _) = c.create(&format!("{root}/ttl"), b"", &ttl, T).unwrap();
    wait_until_gone(&c, &ttl_node);
    let bad =
        CreateOptions { kind: NodeKind::Ephemeral, ttl: Some(Duration::from_secs(1)), ..CreateOptions::default() };
    assert_eq!(c.create(&format!("{root}/bad"), b"", &bad, T).unwrap_err().code(), Code::InvalidArgument);
    assert!(c.exists(&format!("{root}/bad"), T).unwrap().is_none());
}

fn wait_until_gone(c: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.exists(path, T).unwrap().is_some() {
        assert!(Instant::now() < deadline, "{path} still exists");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn digest_acl_is_enforced_and_auth_added_later_works() {
    let hosts = shared_server().connect_string();
    let owner_config = Config {
        auth: Some(Auth { scheme: "digest".into(), user: "alice".into(), password: "secret".into() }),
        acl: Some(vec![AclSpec { user: "alice".into(), password: "secret".into(), perms: "cdrwa".into() }]),
        ..config_for(&hosts)
    };
    let owner = Client::connect(owner_config).unwrap();
    let path = unique_path("acl");
    owner.create(&path, b"private", &CreateOptions::persistent(), T).unwrap();
    let (acl, _) = owner.get_acl(&path, T).unwrap();
    assert_eq!(acl, vec![Acl::digest("alice", "secret", acl::PERM_ALL)], "the configured default ACL");

    let stranger = connect(&hosts);
    assert_eq!(stranger.get(&path, T).unwrap_err().code(), Code::NoAuth);
    assert_eq!(stranger.set(&path, b"x", None, T).unwrap_err().code(), Code::NoAuth);
    assert_eq!(stranger.get_acl(&path, T).unwrap_err().code(), Code::NoAuth, "reading an ACL needs READ or ADMIN");
    stranger.add_auth("digest", b"alice:secret", T).unwrap();
    assert_eq!(stranger.get(&path, T).unwrap().0, b"private");

    // Read-only for bob, with an ACL version check.
    let acl = vec![Acl::digest("alice", "secret", acl::PERM_ALL), Acl::digest("bob", "pw", acl::PERM_READ)];
    assert_eq!(owner.set_acl(&path, &acl, Some(7), T).unwrap_err().code(), Code::BadVersion);
    let stat = owner.set_acl(&path, &acl, Some(0), T).unwrap();
    assert_eq!(stat.aversion, 1);
    let bob = connect(&hosts);
    bob.add_auth("digest", b"bob:pw", T).unwrap();
    assert_eq!(bob.get(&path, T).unwrap().0, b"private");
    assert_eq!(bob.set(&path, b"x", None, T).unwrap_err().code(), Code::NoAuth);
    assert_eq!(bob.set_acl(&path, &[Acl::open()], None, T).unwrap_err().code(), Code::NoAuth);

    // World ACL given explicitly; an empty ACL is refused before sending.
    let open = format!("{path}-open");
    owner.create(&open, b"", &CreateOptions::persistent().with_acl(vec![Acl::open()]), T).unwrap();
    assert_eq!(bob.get(&open, T).unwrap().0, b"");
    let err = owner.create(&format!("{path}-none"), b"", &CreateOptions::persistent().with_acl(vec![]), T).unwrap_err();
    assert_eq!(err.code(), Code::InvalidAcl);
    owner.delete(&open, None, T).unwrap();
    owner.delete(&path, None, T).unwrap();
}

#[test]
fn unknown_auth_scheme_fails_the_session() {
    let config = Config {
        auth: Some(Auth { scheme: "nosuchscheme".into(), user: "u".into(), password: "p".into() }),
        ..config_for(&shared_server().connect_string())
    };
    let err = Client::connect(config).err().expect("an unknown scheme must fail");
    assert_eq!(err.code(), Code::AuthFailed, "{err}");
}

#[test]
fn chroot_confines_paths() {
    let hosts = shared_server().connect_string();
    let plain = connect(&hosts);
    let root = unique_path("chroot");
    plain.create(&root, b"", &CreateOptions::persistent(), T).unwrap();
    let chrooted = connect(&format!("{hosts}{root}"));
    let (created, _) = chrooted.create("/inside", b"data", &CreateOptions::persistent(), T).unwrap();
    assert_eq!(created, "/inside");
    let (seq, _) = chrooted.create("/s-", b"", &CreateOptions::persistent().sequential(), T).unwrap();
    assert!(seq.starts_with("/s-"), "sequential paths are relative to the chroot: {seq}");
    assert_eq!(plain.get(&format!("{root}/inside"), T).unwrap().0, b"data");
    let (mut names, _) = chrooted.children("/", T).unwrap();
    names.sort();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], "inside");
}

#[test]
fn close_removes_ephemerals_at_once_and_later_calls_fail() {
    let hosts = shared_server().connect_string();
    let observer = connect(&hosts);
    let c = connect(&hosts);
    let path = unique_path("close");
    c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
    let clone = c.clone();
    c.close();
    // No waiting for the session timeout: the node is gone now.
    assert!(observer.exists(&path, T).unwrap().is_none());
    assert_eq!(c.state(), SessionState::Closed);
    assert_eq!(clone.get(&path, T).unwrap_err().code(), Code::Closed);
    c.close(); // twice is fine
}

#[test]
fn dropping_the_last_clone_closes_the_session() {
    let hosts = shared_server().connect_string();
    let observer = connect(&hosts);
    let c = connect(&hosts);
    let path = unique_path("drop");
    c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
    drop(c);
    assert!(observer.exists(&path, T).unwrap().is_none());
}

#[test]
fn expired_session_reports_expired() {
    let hosts = shared_server().connect_string();
    let c = connect(&hosts);
    let observer = connect(&hosts);
    let path = unique_path("expire");
    c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
    let (tx, rx) = mpsc::channel();
    c.set_state_callback(Some(Box::new(move |old, new| tx.send((old, new)).unwrap()))).unwrap();
    c.expire_session_for_testing().unwrap();
    assert_eq!(c.state(), SessionState::Expired);
    assert_eq!(c.get("/", T).unwrap_err().code(), Code::SessionExpired);
    assert!(observer.exists(&path, T).unwrap().is_none(), "ephemerals of an expired session are gone");
    let changes: Vec<_> = rx.iter().collect(); // ends when the callback is dropped after Expired
    assert_eq!(changes.last().unwrap().1, SessionState::Expired, "{changes:?}");
}

#[test]
fn json_variants_validate() {
    let c = shared();
    let path = unique_path("json");
    c.create_json(&path, r#"{"a": [1, "é"]}"#, &CreateOptions::persistent(), T).unwrap();
    assert_eq!(c.get_json(&path, T).unwrap().0, r#"{"a": [1, "é"]}"#);
    assert_eq!(c.set_json(&path, "{oops", None, T).unwrap_err().code(), Code::BadJson);
    assert_eq!(c.get_json(&path, T).unwrap().1.version, 0, "the refused value was not written");
    c.set(&path, b"\xff\xfe", None, T).unwrap();
    assert_eq!(c.get_json(&path, T).unwrap_err().code(), Code::BadJson);
    c.set(&path, b"not json", None, T).unwrap();
    assert_eq!(c.get_json(&path, T).unwrap_err().code(), Code::BadJson);
    let err = c.create_json(&format!("{path}2"), "", &CreateOptions::persistent(), T).unwrap_err();
    assert_eq!(err.code(), Code::BadJson);
    assert!(c.exists(&format!("{path}2"), T).unwrap().is_none());
}

#[test]
fn data_size_limit() {
    let c = shared();
    let path = unique_path("size");
    let max = vec![7u8; zkutil::path::MAX_DATA_LEN];
    c.create(&path, &max, &CreateOptions::persistent(), T).unwrap();
    assert_eq!(c.get(&path, T).unwrap().1.data_length as usize, max.len());
    let too_big = vec![7u8; zkutil::path::MAX_DATA_LEN + 1];
    assert_eq!(c.set(&path, &too_big, None, T).unwrap_err().code(), Code::DataTooLarge);
    assert_eq!(c.get(&path, T).unwrap().1.version, 0);
    let err = c.create(&format!("{path}2"), &too_big, &CreateOptions::persistent(), T).unwrap_err();
    assert_eq!(err.code(), Code::DataTooLarge);
    // The connection is still healthy: nothing oversized was sent.
    assert_eq!(c.state(), SessionState::Connected);
    c.delete(&path, None, T).unwrap();
}

#[test]
fn invalid_paths_are_refused_before_sending() {
    let c = shared();
    for bad in ["", "relative", "/trailing/", "//double", "/a/./b", "/a/../b", "/ctrl\u{1}"] {
        assert_eq!(c.get(bad, T).unwrap_err().code(), Code::InvalidPath, "{bad:?}");
        assert_eq!(c.create(bad, b"", &CreateOptions::persistent(), T).unwrap_err().code(), Code::InvalidPath);
        assert_eq!(c.delete(bad, None, T).unwrap_err().code(), Code::InvalidPath);
    }
    assert_eq!(c.delete("/", None, T).unwrap_err().code(), Code::InvalidPath);
    assert_eq!(c.create("/", b"", &CreateOptions::persistent(), T).unwrap_err().code(), Code::InvalidPath);
}

#[test]
fn connect_to_nothing_fails_within_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config =
        Config { connect_timeout: Some(Duration::from_millis(800)), ..config_for(&format!("127.0.0.1:{port}")) };
    let start = Instant::now();
    let err = Client::connect(config).err().unwrap();
    assert_eq!(err.code(), Code::ConnectionLoss, "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
    let bad_hosts = Config { hosts: Some("127.0.0.1:notaport".into()), ..Config::default() };
    assert_eq!(Client::connect(bad_hosts).err().unwrap().code(), Code::InvalidHosts);
}

#[test]
fn outage_within_session_timeout_suspends_then_resumes() {
    let mut server = ZkServer::start();
    let config = Config { session_timeout: Some(Duration::from_secs(8)), ..config_for(&server.connect_string()) };
    let c = Client::connect(config).unwrap();
    let path = "/outage";
    c.create(path, b"", &CreateOptions::ephemeral(), T).unwrap();
    let (tx, rx) = mpsc::channel();
    c.set_state_callback(Some(Box::new(move |old, new| tx.send((old, new)).unwrap()))).unwrap();

    server.stop();
    let seen = rx.recv_timeout(Duration::from_secs(15)).expect("a state change");
    assert_eq!(seen, (SessionState::Connected, SessionState::Suspended));
    // NoWait fails at once while suspended; a short timeout fails with a
    // connection code, not a hang.
    assert_eq!(c.get(path, Timeout::NoWait).unwrap_err().code(), Code::ConnectionLoss);
    let err = c.get(path, Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert!(err.code().is_retryable(), "{err}");

    server.restart();
    let seen = rx.recv_timeout(Duration::from_secs(20)).expect("reconnected");
    assert_eq!(seen, (SessionState::Suspended, SessionState::Connected));
    // Same session: the ephemeral survived.
    assert_eq!(c.exists(path, T).unwrap().unwrap().ephemeral_owner, c.session_id());
    // A call made while suspended waits for the connection within its timeout.
    server.stop();
    let waiter = {
        let c = c.clone();
        std::thread::spawn(move || c.get(path, Timeout::After(Duration::from_secs(30))))
    };
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    assert!(waiter.join().unwrap().is_ok());
}

#[test]
fn outage_longer_than_session_timeout_expires() {
    let mut server = ZkServer::start();
    let config = Config { session_timeout: Some(Duration::from_millis(1500)), ..config_for(&server.connect_string()) };
    let c = Client::connect(config).unwrap();
    let (tx, rx) = mpsc::channel();
    c.set_state_callback(Some(Box::new(move |_, new| tx.send(new).unwrap()))).unwrap();
    server.stop();
    assert_eq!(rx.recv_timeout(Duration::from_secs(15)).unwrap(), SessionState::Suspended);
    std::thread::sleep(Duration::from_secs(4));
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.state() != SessionState::Expired && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.state(), SessionState::Expired);
    assert_eq!(c.get("/", T).unwrap_err().code(), Code::SessionExpired);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), SessionState::Expired);
}

#[test]
fn ensemble_member_loss_is_survived() {
    let mut cluster = ZkCluster::start(3);
    let c = Client::connect(Config {
        session_timeout: Some(Duration::from_secs(10)),
        ..config_for(&cluster.connect_string())
    })
    .unwrap();
    c.create("/ens", b"0", &CreateOptions::persistent(), T).unwrap();
    c.create("/ens-eph", b"", &CreateOptions::ephemeral(), T).unwrap();
    let session = c.session_id();
    for round in 0..3 {
        let leader = cluster.leader().expect("a leader");
        cluster.stop_member(leader);
        // Writes keep working with two of three members. A write sent to
        // the member just killed fails with a retryable connection loss
        // (its outcome unknown); this one is idempotent, so retry it.
        let value = round.to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match c.set("/ens", value.as_bytes(), None, Timeout::After(Duration::from_secs(30))) {
                Ok(_) => break,
                Err(e) if e.code().is_retryable() && Instant::now() < deadline => continue,
                Err(e) => panic!("set during failover: {e}"),
            }
        }
        assert_eq!(c.get("/ens", T).unwrap().0, value.as_bytes());
        cluster.start_member(leader);
    }
    assert_eq!(c.session_id(), session);
    assert_eq!(c.exists("/ens-eph", T).unwrap().unwrap().ephemeral_owner, session, "the session survived");
    assert_eq!(c.state(), SessionState::Connected);
}
