//! The registration node against a real ZooKeeper: present after new,
//! re-created after an operator deletes it (ABSENT then PRESENT), another
//! session's node left alone and replaced once it is gone, session expiry
//! without renewal (ABSENT for good) and with it (re-created on each new
//! session), close deleting only our node,
//! sequential re-creation under a new name, data updates re-applied on
//! re-creation, TTL nodes, the members listing and bad input.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::zk::{ZkServer, shared_server, unique_path};
use zkutil::registration::{self, RegistrationStateCallback};
use zkutil::{Client, Code, Config, CreateOptions, Registration, RegistrationOptions, RegistrationState as S, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));
const WAIT: Duration = Duration::from_secs(20);

fn config(hosts: String, session_timeout: Duration) -> Config {
    Config { hosts: Some(hosts), session_timeout: Some(session_timeout), ..Config::default() }
}

fn client() -> Client {
    Client::connect(config(shared_server().connect_string(), Duration::from_secs(4))).expect("connect")
}

/// A server of the test's own (to stop and restart) and a configuration
/// for it.
fn private_server(session_timeout: Duration) -> (ZkServer, Config) {
    let server = ZkServer::start();
    let config = config(server.connect_string(), session_timeout);
    (server, config)
}

fn ephemeral() -> RegistrationOptions {
    RegistrationOptions::default()
}

/// A callback that sends every new state down a channel.
fn recorder() -> (RegistrationStateCallback, mpsc::Receiver<S>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |_, new| {
            let _ = tx.send(new);
        }),
        rx,
    )
}

fn next_state(rx: &mpsc::Receiver<S>) -> S {
    rx.recv_timeout(WAIT).expect("a state change")
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn present_after_new_with_parents_and_data() {
    let c = client();
    let path = format!("{}/services/a", unique_path("reg-new"));
    let reg = Registration::new(&c, &path, b"host:1", ephemeral(), T).unwrap();
    assert_eq!(reg.state(), S::Present);
    assert_eq!(reg.path().as_deref(), Some(path.as_str()));
    assert_eq!(reg.reason(), None);
    let (data, stat) = c.get(&path, T).unwrap();
    assert_eq!(data, b"host:1");
    assert_eq!(stat.ephemeral_owner, c.session_id());
}

#[test]
fn recreated_after_an_operator_deletes_it() {
    let c = client();
    let operator = client();
    let path = unique_path("reg-deleted");
    let reg = Registration::new(&c, &path, b"v1", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    let czxid = c.exists(&path, T).unwrap().unwrap().czxid;
    // The watch may be armed just after new returned.
    std::thread::sleep(Duration::from_millis(100));
    operator.delete(&path, None, T).unwrap();
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(next_state(&states), S::Present);
    let (data, stat) = operator.get(&path, T).unwrap();
    assert_eq!(data, b"v1");
    assert_ne!(stat.czxid, czxid, "a new node");
    assert_eq!(stat.ephemeral_owner, c.session_id());
}

#[test]
fn set_data_is_written_and_reapplied_on_recreation() {
    let c = client();
    let operator = client();
    let path = unique_path("reg-data");
    let reg = Registration::new(&c, &path, b"old", ephemeral(), T).unwrap();
    reg.set_data(b"new", T).unwrap();
    assert_eq!(operator.get(&path, T).unwrap().0, b"new");
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    operator.delete(&path, None, T).unwrap();
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(next_state(&states), S::Present);
    assert_eq!(operator.get(&path, T).unwrap().0, b"new");
}

#[test]
fn another_sessions_node_is_left_alone_then_replaced() {
    let c = client();
    let other = client();
    let path = unique_path("reg-other");
    other.create(&path, b"theirs", &CreateOptions::ephemeral(), T).unwrap();
    let reg = Registration::new(&c, &path, b"ours", ephemeral(), T).unwrap();
    assert_eq!(reg.state(), S::Absent);
    let reason = reg.reason().unwrap();
    assert!(reason.contains(&format!("session 0x{:x}", other.session_id())), "{reason}");
    // set_data while absent is kept for the creation and never written
    // onto their node.
    reg.set_data(b"ours2", T).unwrap();
    let (data, stat) = c.get(&path, T).unwrap();
    assert_eq!((data.as_slice(), stat.ephemeral_owner), (&b"theirs"[..], other.session_id()));
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    // Closing the handle now would not delete their node either.
    other.close();
    assert_eq!(next_state(&states), S::Present);
    let (data, stat) = c.get(&path, T).unwrap();
    assert_eq!((data.as_slice(), stat.ephemeral_owner), (&b"ours2"[..], c.session_id()));
}

#[test]
fn close_deletes_only_our_node() {
    let c = client();
    let path = unique_path("reg-close");
    let reg = Registration::new(&c, &path, b"", ephemeral(), T).unwrap();
    reg.close(T).unwrap();
    assert_eq!(reg.state(), S::Closed);
    assert_eq!(c.exists(&path, T).unwrap(), None);
    assert_eq!(reg.set_data(b"x", T).unwrap_err().code(), Code::Closed);

    // Replaced by someone else's node behind our back: close leaves it.
    let other = client();
    let reg = Registration::new(&c, &path, b"", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // Delete and re-create in one multi-free race: the other session wins
    // if it creates first; retry until it does.
    wait_until("the other session to take the path", || {
        let _ = other.delete(&path, None, T);
        other.create(&path, b"theirs", &CreateOptions::ephemeral(), T).is_ok()
    });
    wait_until("the handle to see the other node", || reg.reason().is_some_and(|r| r.contains("session")));
    assert!(states.try_iter().any(|s| s == S::Absent));
    drop(reg);
    let stat = c.exists(&path, T).unwrap().expect("their node is still there");
    assert_eq!(stat.ephemeral_owner, other.session_id());
}

#[test]
fn session_expiry_without_renewal_is_absent_for_good() {
    let c = client();
    let path = unique_path("reg-expiry");
    let reg = Registration::new(&c, &path, b"", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    c.expire_session_for_testing().unwrap();
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(reg.reason().as_deref(), Some("session expired"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(reg.state(), S::Absent);
    assert!(states.try_recv().is_err(), "nothing after ABSENT");
    assert_eq!(client().exists(&path, T).unwrap(), None);
    // Close returns at once: there is nothing to delete.
    let start = Instant::now();
    reg.close(T).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn recreated_on_each_renewed_session_with_its_latest_data() {
    // With session renewal, an expiry takes the ephemeral node away
    // (ABSENT) and the new session brings it back (PRESENT), owned by the
    // new session, with the data last set; three times in a row.
    let renewing =
        Config { session_renewal: Some(true), ..config(shared_server().connect_string(), Duration::from_secs(4)) };
    let c = Client::connect(renewing).expect("connect");
    let observer = client();
    let path = unique_path("reg-renewal");
    let reg = Registration::new(&c, &path, b"v0", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    for round in 1..=3 {
        let old = c.session_id();
        let data = format!("v{round}");
        reg.set_data(data.as_bytes(), T).unwrap();
        let mut tries = 0;
        while let Err(e) = c.expire_session_for_testing() {
            tries += 1;
            assert!(tries < 5, "cannot expire the session: {e}");
        }
        assert_eq!(next_state(&states), S::Absent, "round {round}");
        assert_eq!(next_state(&states), S::Present, "round {round}");
        assert_ne!(c.session_id(), old, "round {round}: a new session");
        let (got, stat) = observer.get(&path, T).unwrap();
        assert_eq!(got, data.as_bytes(), "round {round}");
        assert_eq!(stat.ephemeral_owner, c.session_id(), "round {round}: owned by the new session");
    }
    drop(reg);
    assert_eq!(observer.exists(&path, T).unwrap(), None, "dropping deletes it");
}

#[test]
fn sequential_recreation_gets_a_new_path() {
    let c = client();
    let operator = client();
    let prefix = format!("{}/member-", unique_path("reg-seq"));
    let reg = Registration::new(&c, &prefix, b"m", RegistrationOptions { sequential: true, ..ephemeral() }, T).unwrap();
    let first = reg.path().unwrap();
    assert!(first.starts_with(&prefix) && first.len() == prefix.len() + 10, "{first}");
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    operator.delete(&first, None, T).unwrap();
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(next_state(&states), S::Present);
    let second = reg.path().unwrap();
    assert_ne!(first, second);
    assert_eq!(operator.get(&second, T).unwrap().0, b"m");
    drop(reg);
    assert_eq!(operator.exists(&second, T).unwrap(), None, "dropping deletes it");
    // A prefix ending with '/': the name is the number alone, parents made.
    let bare = format!("{}/a/b/", unique_path("reg-seq-bare"));
    let reg = Registration::new(&c, &bare, b"", RegistrationOptions { sequential: true, ..ephemeral() }, T).unwrap();
    let path = reg.path().unwrap();
    assert!(path.starts_with(&bare) && path.len() == bare.len() + 10, "{path}");
}

#[test]
fn persistent_and_ttl_nodes() {
    let c = client();
    let path = unique_path("reg-persistent");
    let persistent = RegistrationOptions { persistent: true, ..Default::default() };
    let reg = Registration::new(&c, &path, b"p", persistent.clone(), T).unwrap();
    assert_eq!(c.exists(&path, T).unwrap().unwrap().ephemeral_owner, 0);
    reg.close(T).unwrap();
    assert_eq!(c.exists(&path, T).unwrap(), None);

    // The test server enables extended types and removes expired TTL
    // nodes within about a second: the handle creates it again.
    let ttl = RegistrationOptions { ttl: Some(Duration::from_millis(300)), ..persistent };
    let reg = Registration::new(&c, &path, b"t", ttl, T).unwrap();
    assert_eq!(reg.state(), S::Present);
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    let czxid = c.exists(&path, T).unwrap().unwrap().czxid;
    assert_eq!(c.get(&path, T).unwrap().0, b"t");
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(next_state(&states), S::Present);
    assert_ne!(c.exists(&path, T).unwrap().map(|s| s.czxid), Some(czxid));
    drop(reg);
    assert_eq!(c.exists(&path, T).unwrap(), None);
}

#[test]
fn members_lists_names_and_data() {
    let c = client();
    let parent = unique_path("reg-members");
    let _a = Registration::new(&c, &format!("{parent}/b"), b"2", ephemeral(), T).unwrap();
    let _b = Registration::new(&c, &format!("{parent}/a"), b"1", ephemeral(), T).unwrap();
    let members = registration::members(&c, &parent, T).unwrap();
    let got: Vec<(&str, &[u8])> = members.iter().map(|m| (m.name.as_str(), m.data.as_slice())).collect();
    assert_eq!(got, vec![("a", &b"1"[..]), ("b", &b"2"[..])]);
    assert_eq!(registration::members(&c, &format!("{parent}/none"), T).unwrap_err().code(), Code::NoNode);
    // More members than the requests kept in flight at once (256).
    let many = unique_path("reg-members-many");
    let persistent = CreateOptions::persistent().with_parents();
    for i in 0..300 {
        c.create(&format!("{many}/m{i:03}"), format!("d{i}").as_bytes(), &persistent, T).unwrap();
    }
    let members = registration::members(&c, &many, T).unwrap();
    assert_eq!(members.len(), 300);
    assert!(
        members.iter().enumerate().all(|(i, m)| m.name == format!("m{i:03}") && m.data == format!("d{i}").as_bytes())
    );
    assert_eq!(registration::members(&c, "bad", T).unwrap_err().code(), Code::InvalidPath);
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let c = client();
    let path = unique_path("reg-bad");
    let refused =
        |p: &str, data: &[u8], o: RegistrationOptions| Registration::new(&c, p, data, o, T).err().unwrap().code();
    assert_eq!(refused("no-slash", b"", ephemeral()), Code::InvalidPath);
    assert_eq!(refused("/", b"", ephemeral()), Code::InvalidPath);
    assert_eq!(refused(&format!("{path}/"), b"", ephemeral()), Code::InvalidPath);
    let ttl = Some(Duration::from_secs(1));
    assert_eq!(refused(&path, b"", RegistrationOptions { ttl, ..ephemeral() }), Code::InvalidArgument);
    let zero = RegistrationOptions { persistent: true, ttl: Some(Duration::ZERO), ..ephemeral() };
    assert_eq!(refused(&path, b"", zero), Code::InvalidArgument);
    assert_eq!(refused(&path, &vec![0u8; 2 << 20], ephemeral()), Code::DataTooLarge);
    // An ephemeral parent cannot have children: the server's refusal is
    // the error, and nothing is left behind.
    c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
    assert_eq!(refused(&format!("{path}/child"), b"", ephemeral()), Code::NoChildrenForEphemerals);
    assert_eq!(c.children(&path, T).unwrap().0, Vec::<String>::new());
    let reg = Registration::new(&c, &format!("{path}x"), b"", ephemeral(), T).unwrap();
    assert_eq!(reg.set_data(&vec![0u8; 2 << 20], T).unwrap_err().code(), Code::DataTooLarge);
}

#[test]
fn a_closed_client_leaves_the_handle_absent_for_good() {
    let c = client();
    let path = unique_path("reg-client-closed");
    let reg = Registration::new(&c, &path, b"", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    c.close();
    assert_eq!(next_state(&states), S::Absent);
    assert_eq!(reg.reason().as_deref(), Some("the client was closed"));
    assert_eq!(client().exists(&path, T).unwrap(), None);
    reg.close(T).unwrap();
    let err = Registration::new(&c, &path, b"", ephemeral(), T).err().unwrap();
    assert_eq!(err.code(), Code::Closed);
}

#[test]
fn a_server_restart_keeps_the_node_and_its_watch() {
    let (mut server, config) = private_server(Duration::from_secs(20));
    let c = Client::connect(config.clone()).unwrap();
    let path = unique_path("reg-restart");
    let reg = Registration::new(&c, &path, b"r", ephemeral(), T).unwrap();
    let czxid = c.exists(&path, T).unwrap().unwrap().czxid;
    server.stop();
    // Still present (the session outlives the outage): a data update waits
    // for the write, gives up in time, and the write goes on after.
    let start = Instant::now();
    let err = reg.set_data(b"during", Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    server.restart();
    // Reconnected in the same session: the node is verified, still ours.
    let side = Client::connect(config).unwrap();
    wait_until("the reconnection", || c.state() == zkutil::SessionState::Connected);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(reg.state(), S::Present);
    assert_eq!(side.exists(&path, T).unwrap().unwrap().czxid, czxid);
    wait_until("the data written after the outage", || side.get(&path, T).unwrap().0 == b"during");
    // The watch was armed again: a delete is seen and repaired.
    side.delete(&path, None, T).unwrap();
    wait_until("the new node", || side.exists(&path, T).unwrap().is_some_and(|s| s.czxid != czxid));
    assert_eq!(reg.state(), S::Present);
}

#[test]
fn an_outage_longer_than_the_session_timeout_reads_absent() {
    let (mut server, config) = private_server(Duration::from_secs(4));
    let c = Client::connect(config).unwrap();
    let path = unique_path("reg-outage");
    let reg = Registration::new(&c, &path, b"", ephemeral(), T).unwrap();
    let (callback, states) = recorder();
    reg.set_state_callback(Some(callback)).unwrap();
    let stopped = Instant::now();
    server.stop();
    assert_eq!(next_state(&states), S::Absent);
    assert!(stopped.elapsed() >= Duration::from_secs(3), "not before the session timeout");
    let reason = reg.reason().unwrap();
    assert!(reason.contains("disconnected for longer than the session timeout"), "{reason}");
    server.restart();
    // Back: the session survived the restart (the node is ours again) or
    // it expired (absent for good without renewal).
    wait_until("the outcome of the reconnection", || {
        reg.state() == S::Present || reg.reason().as_deref() == Some("session expired")
    });
}

#[test]
fn new_without_a_connection_returns_absent_in_time_and_creates_later() {
    let (mut server, config) = private_server(Duration::from_secs(20));
    let c = Client::connect(config.clone()).unwrap();
    server.stop();
    let path = unique_path("reg-no-connection");
    let start = Instant::now();
    let reg = Registration::new(&c, &path, b"late", ephemeral(), Timeout::After(Duration::from_millis(500))).unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(reg.state(), S::Absent);
    assert_eq!(reg.reason().as_deref(), Some("not created yet"));
    // set_data while absent returns at once.
    let start = Instant::now();
    reg.set_data(b"later", T).unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    server.restart();
    wait_until("the node", || reg.state() == S::Present);
    let side = Client::connect(config).unwrap();
    assert_eq!(side.get(&path, T).unwrap().0, b"later");
}

#[test]
fn a_close_without_a_connection_gives_up_in_time_and_deletes_later() {
    let (mut server, config) = private_server(Duration::from_secs(20));
    let c = Client::connect(config.clone()).unwrap();
    let path = unique_path("reg-close-outage");
    let persistent = RegistrationOptions { persistent: true, ..ephemeral() };
    let reg = Registration::new(&c, &path, b"", persistent.clone(), T).unwrap();
    let dropped = Registration::new(&c, &format!("{path}-dropped"), b"", persistent, T).unwrap();
    server.stop();
    // Dropping (freeing) waits at most 2 s for the delete.
    let start = Instant::now();
    drop(dropped);
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    let start = Instant::now();
    let err = reg.close(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(reg.state(), S::Closed);
    server.restart();
    let side = Client::connect(config).unwrap();
    wait_until("the delete in the background", || side.exists(&path, T).unwrap().is_none());
    wait_until("the dropped handle's delete", || side.exists(&format!("{path}-dropped"), T).unwrap().is_none());
}
