//! Lock ownership when handles share an identifier (k3zkutil's rule: the
//! same identifier is the same holder): no release or cleanup may delete a
//! node another handle holds, so the next holder is never joined by a
//! second one. Also what a freed or closed lock leaves behind.

mod common;
mod lockstate;
mod proxy;

use std::thread;
use std::time::{Duration, Instant};

use common::zk::{ZkServer, shared_server, unique_path};
use lockstate::wait_for_state;
use proxy::{Fault, OPS_CREATE, Proxy};
use zkutil::{Client, Code, Config, Lock, LockOptions, LockState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

fn config(hosts: &str, dir: &str) -> Config {
    Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(Duration::from_secs(6)),
        lock_dir: Some(format!("{dir}/")),
        ..Config::default()
    }
}

fn connect(hosts: &str, dir: &str) -> Client {
    Client::connect(config(hosts, dir)).expect("connect")
}

fn lock_as(client: &Client, id: Option<&str>) -> Lock {
    let options = LockOptions { identifier: id.map(str::to_string), ..LockOptions::default() };
    Lock::new(client, "res", options).unwrap()
}

/// Sends SIGSTOP/SIGCONT/... to a process.
fn signal(pid: i32, name: &str) {
    let status = std::process::Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The czxid of the lock node, `None` when there is none.
fn node_czxid(observer: &Client, lock: &Lock) -> Option<i64> {
    observer.exists(lock.path(), T).unwrap().map(|s| s.czxid)
}

/// A and B share an identifier; A releases, C takes the lock; B's release
/// must leave C's node alone, so D cannot join C as a second holder.
fn sharer_release_after_hand_off(a_client: &Client, b_client: &Client, dir: &str) {
    let hosts = shared_server().connect_string();
    let (c_client, d_client) = (connect(&hosts, dir), connect(&hosts, dir));
    let a = lock_as(a_client, Some("svc-1"));
    let b = lock_as(b_client, Some("svc-1"));
    let c = lock_as(&c_client, None);
    let d = lock_as(&d_client, None);

    let token_a = a.acquire(T).unwrap();
    let tried = b.try_acquire(T).unwrap();
    assert!(tried.locked, "the same identifier counts as the same holder");
    assert_eq!(tried.token, Some(token_a));
    a.release(T).unwrap();
    let token_c = c.acquire(T).expect("free once A released");
    assert!(token_c > token_a);

    // B's node (A's) is gone: whatever B's state, its release reports the
    // loss and deletes nothing.
    assert_eq!(b.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(node_czxid(&d_client, &c), Some(token_c), "B's release deleted the next holder's node");
    assert_eq!(c.state(), LockState::Held);
    let tried = d.try_acquire(T).unwrap();
    assert!(!tried.locked, "D joined C as a second holder");
    c.release(T).unwrap();
}

#[test]
fn a_sharer_on_the_same_client_never_deletes_the_next_holders_node() {
    let dir = unique_path("share-one");
    let client = connect(&shared_server().connect_string(), &dir);
    for _ in 0..5 {
        sharer_release_after_hand_off(&client, &client, &dir);
    }
}

#[test]
fn a_sharer_on_another_client_never_deletes_the_next_holders_node() {
    let dir = unique_path("share-two");
    let hosts = shared_server().connect_string();
    let (one, two) = (connect(&hosts, &dir), connect(&hosts, &dir));
    for _ in 0..5 {
        sharer_release_after_hand_off(&one, &two, &dir);
    }
}

#[test]
fn a_release_on_one_client_revokes_the_sharers_before_deleting() {
    // Handles of one client sharing a node stop acting as holder before
    // the node can be gone: the release turns them LOST first.
    let dir = unique_path("share-revoke");
    let client = connect(&shared_server().connect_string(), &dir);
    let a = lock_as(&client, Some("svc-1"));
    let b = lock_as(&client, Some("svc-1"));
    let token = a.acquire(T).unwrap();
    assert_eq!(b.acquire(T).unwrap(), token);
    b.release(T).unwrap();
    assert_eq!(a.state(), LockState::Lost, "A still held a node B deleted");
    assert!(a.lost_reason().unwrap().contains("sharing the identifier"));
    assert_eq!(a.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(node_czxid(&client, &a), None);
}

#[test]
fn a_cleanup_never_deletes_a_node_another_handle_of_the_client_holds() {
    // B's create is cut off (outcome unknown) while A, same identifier and
    // client, holds the node; B gives up before it can reconnect. B's
    // cleanup finds a node with its identifier and session: A's, which it
    // must leave alone.
    let server = shared_server();
    let dir = unique_path("share-cleanup");
    let proxy = Proxy::start(&server.connect_string());
    let client = connect(&proxy.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let a = lock_as(&client, Some("svc-1"));
    let b = lock_as(&client, Some("svc-1"));
    let token = a.acquire(T).unwrap();
    a.release(T).unwrap();
    let token = {
        let again = a.acquire(T).unwrap();
        assert!(again > token);
        again
    };

    proxy.arm_then_refuse(Fault::DropRequest(OPS_CREATE.to_vec()));
    let err = b.acquire(Timeout::After(Duration::from_millis(500))).unwrap_err();
    assert!(matches!(err.code(), Code::ConnectionLoss | Code::OperationTimeout), "{err}");
    assert_eq!(proxy.fired(), 1, "B's create was cut off");
    proxy.set_refusing(false);

    // A is re-verified after the reconnect; B's cleanup has run by the
    // time B's next operation does (it holds B's operation mutex).
    wait_for_state(&a, LockState::Held, Duration::from_secs(10));
    b.release(T).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(node_czxid(&observer, &a), Some(token), "B's cleanup deleted A's node");
    assert_eq!(a.state(), LockState::Held);
    let rival = lock_as(&observer, None);
    assert!(!rival.try_acquire(T).unwrap().locked, "a second holder got in");
    a.release(T).unwrap();
    assert_eq!(node_czxid(&observer, &a), None);
}

#[test]
fn a_lock_freed_while_unreachable_is_released_once_reconnected() {
    let server = shared_server();
    let dir = unique_path("free-outage");
    let proxy = Proxy::start(&server.connect_string());
    let client = connect(&proxy.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let options = LockOptions { timeout: Timeout::After(Duration::from_millis(300)), ..LockOptions::default() };
    let l = Lock::new(&client, "res", options).unwrap();
    let path = l.path().to_string();
    let token = l.acquire(T).unwrap();

    proxy.set_refusing(true);
    wait_for_state(&l, LockState::Suspended, Duration::from_secs(10));
    let started = Instant::now();
    drop(l);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "free took {took:?}");
    assert_eq!(observer.exists(&path, T).unwrap().map(|s| s.czxid), Some(token));

    proxy.set_refusing(false);
    let rival = lock_as(&observer, None);
    rival.acquire(Timeout::After(Duration::from_secs(2))).expect("the freed lock's node went once reconnected");
    assert_eq!(client.state(), zkutil::SessionState::Connected, "the shared client lives on");
    rival.release(T).unwrap();
}

#[test]
fn a_lock_freed_while_the_server_is_stalled_returns_in_time_and_is_released() {
    let server = ZkServer::start();
    let dir = unique_path("free-stall");
    let client = connect(&server.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let options = LockOptions { timeout: Timeout::After(Duration::from_millis(300)), ..LockOptions::default() };
    let l = Lock::new(&client, "res", options).unwrap();
    l.acquire(T).unwrap();
    let pid = server.jvm_pid().expect("server pid") as i32;

    signal(pid, "STOP");
    let started = Instant::now();
    drop(l);
    let took = started.elapsed();
    signal(pid, "CONT");
    assert!(took < Duration::from_millis(300 + 400), "free took {took:?}");
    let rival = lock_as(&observer, None);
    rival.acquire(Timeout::After(Duration::from_secs(2))).expect("the freed lock's node went after the stall");
    rival.release(T).unwrap();
}

#[test]
fn a_closed_clients_lock_never_reads_as_held() {
    let dir = unique_path("closed-held");
    let hosts = shared_server().connect_string();
    for round in 0..20 {
        let client = connect(&hosts, &dir);
        let l = lock_as(&client, None);
        l.acquire(T).unwrap();
        client.close();
        assert!(!l.is_locked(), "round {round}: still held right after the client closed");
        assert_eq!(l.state(), LockState::Lost);
        assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    }
}

#[test]
fn a_release_whose_reply_is_lost_ends_unlocked_never_lost() {
    // The delete is applied, its reply lost and the server unreachable
    // for a while: the release cannot confirm in time. The handle gave the
    // lock up (UNLOCKED at once), and our own delete is never reported as
    // a loss afterwards.
    const OP_DELETE: i32 = 2;
    let server = shared_server();
    let dir = unique_path("release-unseen");
    let proxy = Proxy::start(&server.connect_string());
    let client = connect(&proxy.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let l = lock_as(&client, None);
    let seen = lockstate::record_states(&l);
    l.acquire(T).unwrap();

    proxy.arm_then_refuse(Fault::DropReply(vec![OP_DELETE]));
    let err = l.release(Timeout::After(Duration::from_millis(500))).unwrap_err();
    assert!(matches!(err.code(), Code::ConnectionLoss | Code::OperationTimeout), "{err}");
    assert!(err.message().contains("background"), "{err}");
    assert_eq!(l.state(), LockState::Unlocked);
    assert_eq!(node_czxid(&observer, &l), None, "the delete was applied");

    proxy.set_refusing(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.state() != zkutil::SessionState::Connected {
        assert!(Instant::now() < deadline, "no reconnect");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    l.release(T).expect("nothing left to release");
    assert_eq!(l.state(), LockState::Unlocked);
    let seen = seen.lock().unwrap();
    assert!(!seen.iter().any(|(_, new)| *new == LockState::Lost), "our own delete reported as a loss: {seen:?}");
    // The handle is usable again.
    l.acquire(T).unwrap();
    l.release(T).unwrap();
}

#[test]
fn a_persistent_create_cut_off_then_expired_leaves_no_node() {
    // The create is applied, its reply lost; the client cannot reconnect
    // before its session expires. The persistent node would stay for ever:
    // the cleanup removes it through a session of its own.
    let server = shared_server();
    let dir = unique_path("persistent-expired");
    let proxy = Proxy::start(&server.connect_string());
    let config = Config { session_timeout: Some(Duration::from_secs(4)), ..config(&proxy.connect_string(), &dir) };
    let client = Client::connect(config).unwrap();
    let observer = connect(&server.connect_string(), &dir);
    let options = LockOptions { ephemeral: false, ..LockOptions::default() };
    let l = Lock::new(&client, "res", options).unwrap();
    // Make the lock directory first, so the create is the lock node's.
    l.acquire(T).unwrap();
    l.release(T).unwrap();

    proxy.arm_then_refuse(Fault::DropReply(OPS_CREATE.to_vec()));
    let err = l.acquire(Timeout::After(Duration::from_millis(500))).unwrap_err();
    assert!(matches!(err.code(), Code::ConnectionLoss | Code::OperationTimeout), "{err}");
    assert!(observer.exists(l.path(), T).unwrap().is_some(), "the create was applied");
    // Past the session timeout, then let the client learn it expired.
    thread::sleep(client.session_timeout() + Duration::from_secs(2));
    proxy.set_refusing(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while observer.exists(l.path(), T).unwrap().is_some() {
        assert!(Instant::now() < deadline, "the persistent node was left behind (client {:?})", client.state());
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_guarded_write_refuses_a_lock_node_deleted_and_created_again() {
    // A third party deletes the lock node and another client takes the
    // lock before our watch is armed: the new node has version 0 like
    // ours, so a version check alone would let a stale holder's write in.
    let dir = unique_path("guarded-recreated");
    let hosts = shared_server().connect_string();
    let (ours, theirs) = (connect(&hosts, &dir), connect(&hosts, &dir));
    let target = format!("{dir}/data");
    ours.create(&target, b"0", &zkutil::CreateOptions::persistent().with_parents(), T).unwrap();
    let stale = lock_as(&ours, None);
    stale.set_watch_delay(Duration::from_secs(30));
    stale.acquire(T).unwrap();
    theirs.delete(stale.path(), None, T).unwrap();
    let next = lock_as(&theirs, None);
    next.acquire(T).unwrap();

    let err = stale.guarded_set(&target, b"stale", None, T).unwrap_err();
    assert_eq!(err.code(), Code::LockLost, "{err}");
    assert_eq!(theirs.get(&target, T).unwrap().0, b"0", "the stale holder's write landed");
    next.guarded_set(&target, b"next", None, T).unwrap();
    next.release(T).unwrap();
}

/// Whether `l` reported HELD after its first SUSPENDED.
fn held_again_after_suspended(seen: &[(LockState, LockState)]) -> bool {
    seen.iter().skip_while(|(_, new)| *new != LockState::Suspended).any(|(_, new)| *new == LockState::Held)
}

#[test]
fn partitioned_sharers_never_hold_again_once_a_sharer_elsewhere_released() {
    // A1 and A2 (one client, cut off by a partition shorter than the
    // session timeout) share the identifier with B on another client. B's
    // release deletes the node during the partition and C takes the lock:
    // once reconnected, A1 and A2 must find their node gone (LOST), never
    // act as holder next to C.
    let server = shared_server();
    let dir = unique_path("share-partition");
    let proxy = Proxy::start(&server.connect_string());
    let cut_off = connect(&proxy.connect_string(), &dir);
    let other = connect(&server.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let (a1, a2) = (lock_as(&cut_off, Some("svc-1")), lock_as(&cut_off, Some("svc-1")));
    let b = lock_as(&other, Some("svc-1"));
    let c = lock_as(&observer, None);
    let (seen1, seen2) = (lockstate::record_states(&a1), lockstate::record_states(&a2));
    let token = a1.acquire(T).unwrap();
    assert_eq!(a2.acquire(T).unwrap(), token);
    assert_eq!(b.try_acquire(T).unwrap().token, Some(token), "the same identifier is the same holder");

    proxy.set_refusing(true);
    wait_for_state(&a1, LockState::Suspended, Duration::from_secs(10));
    wait_for_state(&a2, LockState::Suspended, Duration::from_secs(10));
    b.release(T).unwrap();
    let token_c = c.acquire(T).expect("free once B released");
    assert!(token_c > token);

    proxy.set_refusing(false);
    wait_for_state(&a1, LockState::Lost, Duration::from_secs(10));
    wait_for_state(&a2, LockState::Lost, Duration::from_secs(10));
    for (name, seen) in [("A1", &seen1), ("A2", &seen2)] {
        let seen = seen.lock().unwrap();
        assert!(!held_again_after_suspended(&seen), "{name} held again next to C: {seen:?}");
    }
    assert_eq!(a1.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(a2.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(node_czxid(&observer, &c), Some(token_c), "a lost sharer deleted C's node");
    assert!(!lock_as(&other, None).try_acquire(T).unwrap().locked, "a second holder got in");
    c.release(T).unwrap();
}

#[test]
fn sharers_partitioned_beyond_the_session_timeout_stay_lost() {
    // A1 and A2 share a node on a client partitioned beyond the session
    // timeout: both go LOST, C takes the lock once the session expired,
    // and after the partition heals neither A1 nor A2 holds again nor
    // touches C's node.
    let server = shared_server();
    let dir = unique_path("share-expiry");
    let proxy = Proxy::start(&server.connect_string());
    let cut_off = connect(&proxy.connect_string(), &dir);
    let observer = connect(&server.connect_string(), &dir);
    let (a1, a2) = (lock_as(&cut_off, Some("svc-1")), lock_as(&cut_off, Some("svc-1")));
    let c = lock_as(&observer, None);
    let (seen1, seen2) = (lockstate::record_states(&a1), lockstate::record_states(&a2));
    let token = a1.acquire(T).unwrap();
    assert_eq!(a2.acquire(T).unwrap(), token);

    proxy.set_refusing(true);
    wait_for_state(&a1, LockState::Lost, Duration::from_secs(15));
    wait_for_state(&a2, LockState::Lost, Duration::from_secs(15));
    let token_c = c.acquire(Timeout::After(Duration::from_secs(20))).expect("free once the session expired");
    assert!(token_c > token);

    proxy.set_refusing(false);
    thread::sleep(Duration::from_secs(2));
    for (name, seen) in [("A1", &seen1), ("A2", &seen2)] {
        let seen = seen.lock().unwrap();
        assert!(!held_again_after_suspended(&seen), "{name} held again next to C: {seen:?}");
    }
    assert_eq!(a1.state(), LockState::Lost);
    assert_eq!(a2.state(), LockState::Lost);
    assert_eq!(a1.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(a2.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(node_czxid(&observer, &c), Some(token_c), "a lost sharer deleted C's node");
    c.release(T).unwrap();
}
