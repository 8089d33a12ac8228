//! The lock through server outages: a restart within the session timeout
//! (SUSPENDED, then HELD again, the lock kept), an outage longer than the
//! session timeout (LOST, another client takes the lock), an outage as the
//! held lock arms its watch, an outage during
//! a blocked acquire (a connection code, not a hang), and a 3-node ensemble
//! losing its leader while the lock is held and waiters wait.

mod common;
mod lockstate;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::zk::{ZkCluster, ZkServer, unique_path};
use lockstate::{record_states, wait_for_state};
use zkutil::{Client, Code, Config, Lock, LockOptions, LockState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

fn config(hosts: &str, lock_dir: &str, session: Duration) -> Config {
    Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(session),
        connect_timeout: Some(Duration::from_secs(20)),
        lock_dir: Some(format!("{lock_dir}/")),
        ..Config::default()
    }
}

#[test]
fn restart_within_the_session_timeout_keeps_the_lock() {
    let mut server = ZkServer::start();
    let dir = unique_path("restart");
    let c = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
    let seen = record_states(&l);
    let token = l.acquire(T).unwrap();

    server.stop();
    wait_for_state(&l, LockState::Suspended, Duration::from_secs(30));
    assert!(!l.is_locked(), "suspended is not locked: pause the protected work");
    assert_eq!(l.token(), Some(token));
    // Writes that need the lock wait for the verdict (here: time out).
    let err = l.set_val("1", None, Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::ConnectionLoss, "{err}");
    server.restart();
    wait_for_state(&l, LockState::Held, Duration::from_secs(30));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (LockState::Unlocked, LockState::Held),
            (LockState::Held, LockState::Suspended),
            (LockState::Suspended, LockState::Held)
        ],
        "never LOST"
    );
    assert_eq!(l.token(), Some(token));
    let (_, stat) = c.get(l.path(), T).unwrap();
    assert_eq!((stat.czxid, stat.ephemeral_owner), (token, c.session_id()), "the same node, still ours");
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let rival = Lock::new(&other, "res", LockOptions::default()).unwrap();
    assert_eq!(rival.acquire(Timeout::NoWait).unwrap_err().code(), Code::OperationTimeout);
    // The release after a reconnect reads the node before deleting it.
    l.release(T).unwrap();
    assert!(c.exists(l.path(), T).unwrap().is_none());
    rival.acquire(T).unwrap();
}

#[test]
fn outage_as_the_watch_is_armed_is_followed() {
    // The server goes away about when the held lock reads and watches its
    // node: a read made as the connection drops waits for the next
    // connection, and meanwhile the lock must still turn SUSPENDED, then
    // HELD after the restart.
    let mut server = ZkServer::start();
    let dir = unique_path("outage-at-arming");
    let c = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    // Stopping takes a few milliseconds; the delays sweep across it.
    for delay_ms in [0, 2, 4, 6, 8, 10, 12, 15, 20, 30] {
        let delay = Duration::from_millis(delay_ms);
        let l = Lock::new(&c, "res", LockOptions { watch_delay: delay, ..LockOptions::default() }).unwrap();
        let token = l.acquire(T).unwrap();
        server.stop();
        wait_for_state(&l, LockState::Suspended, Duration::from_secs(30));
        server.restart();
        wait_for_state(&l, LockState::Held, Duration::from_secs(30));
        assert_eq!(l.token(), Some(token), "delay {delay_ms} ms");
        l.release(T).unwrap();
        assert!(c.exists(l.path(), T).unwrap().is_none(), "delay {delay_ms} ms");
    }
}

#[test]
fn outage_longer_than_the_session_timeout_loses_the_lock() {
    let mut server = ZkServer::start();
    let dir = unique_path("long-outage");
    let session = Duration::from_secs(2);
    let c = Client::connect(config(&server.connect_string(), &dir, session)).unwrap();
    let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
    let seen = record_states(&l);
    l.acquire(T).unwrap();

    server.stop();
    wait_for_state(&l, LockState::Suspended, Duration::from_secs(30));
    wait_for_state(&l, LockState::Lost, Duration::from_secs(30));
    let reason = l.lost_reason().unwrap();
    eprintln!("lost: {reason}");
    assert!(reason.contains("session"), "{reason}");
    thread::sleep(Duration::from_millis(500));
    server.restart();
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);

    // Another client takes the lock once the servers expired the session.
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(10))).unwrap();
    let rival = Lock::new(&other, "res", LockOptions::default()).unwrap();
    rival.acquire(Timeout::After(Duration::from_secs(60))).unwrap();
    assert!(rival.is_locked());
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[..3],
        [
            (LockState::Unlocked, LockState::Held),
            (LockState::Held, LockState::Suspended),
            (LockState::Suspended, LockState::Lost)
        ]
    );
}

#[test]
fn outage_during_a_blocked_acquire_ends_with_a_connection_code() {
    let mut server = ZkServer::start();
    let dir = unique_path("blocked");
    let session = Duration::from_secs(2);
    let holder_client = Client::connect(config(&server.connect_string(), &dir, session)).unwrap();
    let holder = Lock::new(&holder_client, "res", LockOptions::default()).unwrap();
    holder.acquire(T).unwrap();
    let waiter_client = Client::connect(config(&server.connect_string(), &dir, session)).unwrap();
    let forever = Lock::new(&waiter_client, "res", LockOptions::default()).unwrap();
    let bounded = Lock::new(&waiter_client, "res", LockOptions::default()).unwrap();

    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let started2 = started_tx.clone();
    let t1 = thread::spawn(move || {
        let r = forever.acquire_loop(Timeout::Forever, &mut |_| {
            started_tx.send(()).unwrap();
            true
        });
        (r, forever)
    });
    let t2 = thread::spawn(move || {
        let r = bounded.acquire_loop(Timeout::After(Duration::from_millis(1500)), &mut |_| {
            started2.send(()).unwrap();
            true
        });
        (r, bounded)
    });
    started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    server.stop();
    let (r2, _bounded) = t2.join().unwrap();
    let e2 = r2.unwrap_err();
    assert!(matches!(e2.code(), Code::ConnectionLoss | Code::OperationTimeout), "{e2}");
    let (r1, forever) = t1.join().unwrap();
    let e1 = r1.unwrap_err();
    // With no time limit the wait ends when the session is given up.
    assert_eq!(e1.code(), Code::SessionExpired, "{e1}");
    assert_eq!(forever.state(), LockState::Unlocked);
    wait_for_state(&holder, LockState::Lost, Duration::from_secs(30));
    server.restart();
}

#[test]
fn ensemble_leader_restart_keeps_exclusion_and_hands_the_lock_on() {
    let mut cluster = ZkCluster::start(3);
    let hosts = cluster.connect_string();
    let dir = unique_path("ensemble");
    let session = Duration::from_secs(20);
    // The holder talks to the leader only, so the restart cuts it off.
    let leader = cluster.leader().expect("a leader");
    let holder_client = Client::connect(config(&cluster.member_connect_string(leader), &dir, session)).unwrap();
    let holder = Lock::new(&holder_client, "res", LockOptions::default()).unwrap();
    let holder_seen = record_states(&holder);
    let first_token = holder.acquire(T).unwrap();

    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (hosts, dir, inside, max_inside, order) =
                (hosts.clone(), dir.clone(), inside.clone(), max_inside.clone(), order.clone());
            thread::spawn(move || {
                let c = Client::connect(config(&hosts, &dir, session)).unwrap();
                let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
                let token = loop {
                    match l.acquire(Timeout::After(Duration::from_secs(120))) {
                        Ok(token) => break token,
                        // A waiter connected to the stopped leader may see
                        // its wait cut short; it simply tries again.
                        Err(e) if e.code() == Code::ConnectionLoss => continue,
                        Err(e) => panic!("waiter: {e}"),
                    }
                };
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(now, Ordering::SeqCst);
                order.lock().unwrap().push(token);
                thread::sleep(Duration::from_millis(50));
                inside.fetch_sub(1, Ordering::SeqCst);
                l.release(T).unwrap();
            })
        })
        .collect();

    // Let the waiters block, then restart the leader.
    thread::sleep(Duration::from_secs(1));
    assert_eq!(cluster.leader(), Some(leader));
    cluster.stop_member(leader);
    wait_for_state(&holder, LockState::Suspended, Duration::from_secs(30));
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)), "the remaining members elect a leader");
    cluster.start_member(leader);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)));

    // The holder kept the lock throughout (suspended while cut off).
    wait_for_state(&holder, LockState::Held, Duration::from_secs(60));
    eprintln!("holder states: {:?}", holder_seen.lock().unwrap());
    assert!(
        !holder_seen.lock().unwrap().iter().any(|(_, new)| *new == LockState::Lost),
        "{:?}",
        holder_seen.lock().unwrap()
    );
    assert_eq!(holder_client.get(holder.path(), T).unwrap().1.czxid, first_token);
    assert_eq!(inside.load(Ordering::SeqCst), 0, "no waiter got in while it was held");
    order.lock().unwrap().push(first_token);
    holder.release(T).unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(max_inside.load(Ordering::SeqCst), 1);
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 4, "the lock was handed on to every waiter");
    assert_eq!(order[0], first_token);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "tokens increase in hold order: {order:?}");
}

#[test]
fn lost_after_the_session_timeout_then_the_session_comes_back() {
    // The servers restore sessions when they restart, so a session can
    // outlive a disconnection longer than its timeout. The lock was already
    // reported LOST (another client may have taken it); it stays LOST, and
    // the node it left is deleted as soon as we reconnect.
    let mut server = ZkServer::start();
    let dir = unique_path("comes-back");
    let session = Duration::from_secs(20);
    let c = Client::connect(config(&server.connect_string(), &dir, session)).unwrap();
    let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
    let seen = record_states(&l);
    let token = l.acquire(T).unwrap();
    server.stop();
    wait_for_state(&l, LockState::Suspended, Duration::from_secs(30));
    let suspended = Instant::now();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(60));
    assert!(suspended.elapsed() >= session - Duration::from_secs(1), "LOST only after the session timeout");
    // Acknowledging the loss does not cancel the cleanup of the node.
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(l.state(), LockState::Unlocked);
    server.restart();
    // The client reconnects with the same session (within 1.4 x its timeout).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.state().is_connected() {
        assert!(Instant::now() < deadline, "client state {:?}", c.state());
        thread::sleep(Duration::from_millis(50));
    }
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(10))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while other.exists(l.path(), T).unwrap().is_some_and(|s| s.czxid == token) {
        assert!(Instant::now() < deadline, "the stale node was not removed");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(l.state(), LockState::Unlocked, "no resurrection");
    let rival = Lock::new(&other, "res", LockOptions::default()).unwrap();
    rival.acquire(Timeout::NoWait).expect("free at once, without waiting for the session to end");
    l.release(T).unwrap();
    assert_eq!(rival.state(), LockState::Held, "our release after the loss left the new owner alone");
    assert!(!seen.lock().unwrap().iter().any(|(old, new)| *old == LockState::Lost && *new == LockState::Held));
}
