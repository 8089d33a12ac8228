//! Session renewal against a real ZooKeeper: an expired session replaced by
//! a new one (repeatedly), what was bound to the old session reporting its
//! loss (locks, a FIFO waiter), readers and waits resyncing on the new
//! session, credentials re-applied, a close during the renewal, the state
//! sequence through the C ABI, and renewal off keeping the expiry final.
//!
//! Expiry is forced two ways: `Client::expire_session_for_testing` (a
//! takeover from a second connection), and a proxy refusing the client for
//! longer than the session timeout (the server expires the session on its
//! own; the client learns it when it reconnects).

mod capi;
mod common;
mod lockstate;
mod proxy;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use capi::*;
use common::zk::{ZkServer, four_letter, shared_server, unique_path};
use lockstate::{record_states, wait_for_state};
use proxy::Proxy;
use zkutil::acl::{self, Acl};
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::stats::{zku_client_get_stats, zku_client_stats};
use zkutil::reader::{EventKind, Reader, ReaderState};
use zkutil::{Client, Code, Config, CreateOptions, FifoLock, FifoOptions, Lock, LockOptions, LockState};
use zkutil::{SessionState, Timeout, wait};

const T: Timeout = Timeout::After(Duration::from_secs(10));
/// How long a renewal may take on a loaded machine.
const RENEWAL: Duration = Duration::from_secs(20);

fn config(hosts: &str, renewal: bool) -> Config {
    Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(Duration::from_secs(4)),
        session_renewal: Some(renewal),
        ..Config::default()
    }
}

fn renewing(hosts: &str) -> Client {
    Client::connect(config(hosts, true)).expect("connect")
}

fn plain(hosts: &str) -> Client {
    Client::connect(config(hosts, false)).expect("connect")
}

/// A client of the shared server whose lock directory is `lock_dir`.
fn locking_in(lock_dir: &str, renewal: bool) -> Client {
    let config =
        Config { lock_dir: Some(format!("{lock_dir}/")), ..config(&shared_server().connect_string(), renewal) };
    Client::connect(config).expect("connect")
}

fn readable(fd: std::os::fd::RawFd, within: Duration) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut p, 1, within.as_millis() as i32) == 1 }
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Expires the client's session. The client may take its session back
/// before the helper's second connection closes it: try again.
fn expire(c: &Client) {
    let mut tries = 0;
    while let Err(e) = c.expire_session_for_testing() {
        tries += 1;
        assert!(tries < 5, "cannot expire the session: {e}");
    }
}

/// Waits until the client is connected on a session other than `old`.
fn wait_renewed(c: &Client, old: i64) {
    wait_until("a new session", RENEWAL, || c.state() == SessionState::Connected && c.session_id() != old);
}

/// A client reaching the shared server through a proxy, with a short
/// session timeout, and the proxy: `expire_by_partition` expires it.
fn behind_proxy(renewal: bool) -> (Client, Proxy) {
    let proxy = Proxy::start(&format!("127.0.0.1:{}", shared_server().port()));
    let config = Config {
        session_timeout: Some(Duration::from_millis(1000)),
        connect_timeout: Some(Duration::from_millis(1000)),
        ..config(&proxy.connect_string(), renewal)
    };
    (Client::connect(config).expect("connect"), proxy)
}

/// Cuts the client off for longer than its session timeout (the server
/// expires the session meanwhile; `meanwhile` runs then), then lets it
/// reconnect, when it learns of the expiry.
fn expire_by_partition(proxy: &Proxy, meanwhile: impl FnOnce()) {
    proxy.set_refusing(true);
    meanwhile();
    thread::sleep(Duration::from_millis(2500));
    proxy.set_refusing(false);
}

#[test]
fn repeated_expiry_opens_a_new_session_each_time() {
    let hosts = shared_server().connect_string();
    let c = renewing(&hosts);
    let observer = plain(&hosts);
    let (tx, rx) = mpsc::channel();
    c.set_state_callback(Some(Box::new(move |old, new| tx.send((old, new)).unwrap()))).unwrap();
    let mut ids = vec![c.session_id()];
    // The client's descriptor (for event loops) wakes on the renewal too.
    let fd = c.pollable_fd().unwrap();
    c.drain_notifications();
    for round in 0..5 {
        let path = unique_path(&format!("renew-ephemeral-{round}"));
        let (_, stat) = c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
        assert_eq!(stat.ephemeral_owner, c.session_id());
        let old = c.session_id();
        expire(&c);
        wait_renewed(&c, old);
        assert!(readable(fd, Duration::from_secs(1)), "round {round}: the descriptor did not wake");
        assert_eq!(c.drain_notifications(), SessionState::Connected, "round {round}");
        ids.push(c.session_id());
        assert!(observer.exists(&path, T).unwrap().is_none(), "round {round}: the ephemeral is not re-created");
        // New calls use the new session.
        let (_, stat) = c.create(&path, b"", &CreateOptions::ephemeral(), T).unwrap();
        assert_eq!(stat.ephemeral_owner, c.session_id(), "round {round}");
        c.delete(&path, None, T).unwrap();
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "a new session id each time: {ids:x?}");
    assert_eq!(c.stats().session_renewals, 5);
    c.close();
    // Ends when the callback is dropped after Closed.
    let changes: Vec<_> = rx.iter().collect();
    let renewals = changes.iter().filter(|(old, new)| (*old, *new) == (SessionState::Expired, SessionState::Connected));
    assert_eq!(renewals.count(), 5, "{changes:?}");
    for (i, (_, new)) in changes.iter().enumerate() {
        if *new == SessionState::Expired {
            assert_eq!(changes[i + 1], (SessionState::Expired, SessionState::Connected), "{changes:?}");
        }
    }
    assert_eq!(changes.last().unwrap().1, SessionState::Closed, "{changes:?}");
}

#[test]
fn calls_across_an_expiry_fail_with_it_or_wait_for_the_new_session() {
    let hosts = shared_server().connect_string();
    let c = renewing(&hosts);
    let path = unique_path("renew-calls");
    c.create(&path, b"0", &CreateOptions::persistent(), T).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let failures = thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut failures = Vec::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                if let Err(e) = c.set(&path, n.to_string().as_bytes(), None, T) {
                    failures.push(e.code());
                }
            }
            failures
        });
        thread::sleep(Duration::from_millis(100));
        let old = c.session_id();
        expire(&c);
        // Right after the expiry: waits for the new session.
        c.exists(&path, T).unwrap();
        assert_ne!(c.session_id(), old);
        thread::sleep(Duration::from_millis(100));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap()
    });
    for code in &failures {
        assert!(matches!(code, Code::SessionExpired | Code::OutcomeUnknown | Code::ConnectionLoss), "{failures:?}");
    }
    c.delete(&path, None, T).unwrap();
}

#[test]
fn a_mutex_acquire_waiting_behind_a_holder_goes_on_on_the_new_session() {
    let dir = unique_path("renew-lock-wait");
    let (other, c) = (locking_in(&dir, false), locking_in(&dir, true));
    let holder = Lock::new(&other, "res", LockOptions::default()).unwrap();
    holder.acquire(T).unwrap();
    let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
    thread::scope(|s| {
        let waiting = s.spawn(|| l.acquire(Timeout::After(Duration::from_secs(60))));
        thread::sleep(Duration::from_millis(300));
        let old = c.session_id();
        expire(&c);
        wait_renewed(&c, old);
        holder.release(T).unwrap();
        let token = waiting.join().unwrap().unwrap();
        let (_, stat) = c.get(l.path(), T).unwrap();
        assert_eq!((stat.czxid, stat.ephemeral_owner), (token, c.session_id()));
    });
    l.release(T).unwrap();
}

#[test]
fn renewal_off_keeps_the_expiry_final() {
    let c = plain(&shared_server().connect_string());
    assert!(!c.renews_session());
    let old = c.session_id();
    expire(&c);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(c.state(), SessionState::Expired);
    assert_eq!(c.session_id(), old);
    assert_eq!(c.get("/", T).unwrap_err().code(), Code::SessionExpired);
    assert_eq!(c.stats().session_renewals, 0);
}

#[test]
fn a_held_lock_is_lost_and_a_new_acquire_works_on_the_new_session() {
    let dir = unique_path("renew-lock");
    let c = locking_in(&dir, true);
    let l = Lock::new(&c, "res", LockOptions::default()).unwrap();
    let seen = record_states(&l);
    l.acquire(T).unwrap();
    let old = c.session_id();
    expire(&c);
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    // Expired, or the node deleted when the session was taken over just
    // before our client learnt it.
    let reason = l.lost_reason().unwrap();
    assert!(reason.contains("expired") || reason.contains("deleted"), "{reason}");
    wait_renewed(&c, old);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(l.state(), LockState::Lost, "never silently held on the new session");
    assert!(c.exists(l.path(), T).unwrap().is_none());

    let token = l.acquire(T).unwrap();
    let (_, stat) = c.get(l.path(), T).unwrap();
    assert_eq!((stat.czxid, stat.ephemeral_owner), (token, c.session_id()));
    l.release(T).unwrap();
    let seen = seen.lock().unwrap();
    let lost = seen.iter().position(|(_, new)| *new == LockState::Lost).expect("lost");
    assert_eq!(seen[lost + 1], (LockState::Lost, LockState::Held), "{seen:?}");
}

#[test]
fn fifo_waiter_fails_and_holder_is_lost_when_the_session_expires() {
    let root = unique_path("renew-fifo");
    let (other, c) = (locking_in(&root, false), locking_in(&root, true));
    let dir = format!("{root}/res");
    let holder = FifoLock::new(&other, "res", FifoOptions::default()).unwrap();
    holder.acquire(T).unwrap();
    thread::scope(|s| {
        let waiting = s.spawn(|| {
            let l = FifoLock::new(&c, "res", FifoOptions::default()).unwrap();
            l.acquire(Timeout::After(Duration::from_secs(30)))
        });
        wait_until("the waiter's node", Duration::from_secs(10), || other.children(&dir, T).unwrap().0.len() == 2);
        let old = c.session_id();
        expire(&c);
        let err = waiting.join().unwrap().unwrap_err();
        assert_eq!(err.code(), Code::SessionExpired, "{err}");
        wait_renewed(&c, old);
    });
    holder.release(T).unwrap();

    let l = FifoLock::new(&c, "res", FifoOptions::default()).unwrap();
    l.acquire(T).unwrap();
    let old = c.session_id();
    expire(&c);
    wait_until("lost", Duration::from_secs(10), || l.state() == LockState::Lost);
    let reason = l.lost_reason().unwrap();
    assert!(reason.contains("expired") || reason.contains("deleted"), "{reason}");
    wait_renewed(&c, old);
    assert_eq!(l.state(), LockState::Lost);
    l.acquire(T).unwrap();
    l.release(T).unwrap();
}

#[test]
fn renewal_retries_until_a_server_is_reachable_and_calls_wait_for_it() {
    let (c, proxy) = behind_proxy(true);
    let old = c.session_id();
    // Unreachable past the session timeout: the client declares the
    // session expired itself, and cannot open a new one yet.
    proxy.set_refusing(true);
    wait_until("expired", RENEWAL, || c.state() == SessionState::Expired);
    thread::scope(|s| {
        let call = s.spawn(|| c.exists("/", Timeout::After(Duration::from_secs(30))));
        thread::sleep(Duration::from_millis(2500));
        assert_eq!(c.state(), SessionState::Expired, "no session while unreachable");
        assert!(!call.is_finished(), "the call waits for the new session");
        assert_eq!(c.stats().session_renewals, 0);
        proxy.set_refusing(false);
        wait_renewed(&c, old);
        assert!(call.join().unwrap().unwrap().is_some());
    });
    assert_eq!(c.stats().session_renewals, 1);
}

#[test]
fn a_lock_lost_in_an_outage_stays_lost_on_the_new_session() {
    let (c, proxy) = behind_proxy(true);
    let name = unique_path("renew-outage");
    let l = Lock::new(&c, &name[1..], LockOptions::default()).unwrap();
    l.acquire(T).unwrap();
    let old = c.session_id();
    expire_by_partition(&proxy, || {});
    wait_renewed(&c, old);
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    let reason = l.lost_reason().unwrap();
    assert!(reason.contains("session timeout") || reason.contains("expired"), "{reason}");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(l.state(), LockState::Lost);
    l.acquire(T).unwrap();
    assert_eq!(c.get(l.path(), T).unwrap().1.ephemeral_owner, c.session_id());
    l.release(T).unwrap();
}

#[test]
fn reader_goes_stale_then_reads_what_changed_while_expired() {
    let (c, proxy) = behind_proxy(true);
    let observer = plain(&shared_server().connect_string());
    let path = unique_path("renew-reader");
    observer.create(&path, br#"{"n": 1}"#, &CreateOptions::persistent(), T).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader =
        Reader::new(&c, &path, Some(Box::new(move |e| tx.send((e.kind, e.new.to_string())).unwrap())), T).unwrap();
    let old = c.session_id();
    expire_by_partition(&proxy, || {
        observer.set(&path, br#"{"n": 2}"#, None, T).unwrap();
    });
    wait_renewed(&c, old);
    let mut events = Vec::new();
    while events.last().map(|(k, _)| *k) != Some(EventKind::Fresh) || reader.get().unwrap().0.as_ref() != r#"{"n": 2}"# {
        events.push(rx.recv_timeout(RENEWAL).expect("reader events"));
    }
    let kinds: Vec<_> = events.iter().map(|(k, _)| *k).collect();
    let stale = kinds.iter().position(|k| *k == EventKind::Stale).expect("stale");
    let changed = kinds.iter().position(|k| *k == EventKind::Changed).expect("changed");
    assert!(stale < changed, "{kinds:?}");
    assert_eq!(events[changed].1, r#"{"n": 2}"#);
    assert!(!kinds.contains(&EventKind::Expired) && !kinds.contains(&EventKind::Closed), "{kinds:?}");
    assert_eq!(reader.state(), ReaderState::Fresh);
    // It follows the new session: a later change comes through.
    observer.set(&path, br#"{"n": 3}"#, None, T).unwrap();
    wait_until("n = 3", Duration::from_secs(10), || reader.get().unwrap().0.as_ref() == r#"{"n": 3}"#);
    reader.close();
}

#[test]
fn waits_set_their_watches_again_on_the_new_session() {
    let hosts = shared_server().connect_string();
    let c = renewing(&hosts);
    let observer = plain(&hosts);
    let (next, absent) = (unique_path("renew-next"), unique_path("renew-absent"));
    observer.create(&next, b"v0", &CreateOptions::persistent(), T).unwrap();
    observer.create(&absent, b"", &CreateOptions::persistent(), T).unwrap();
    let long = Timeout::After(Duration::from_secs(60));
    thread::scope(|s| {
        let got = s.spawn(|| wait::get_next(&c, &next, 0, false, long));
        let gone = s.spawn(|| wait::wait_absent(&c, &absent, long));
        wait_until("both watches", Duration::from_secs(10), || c.stats().watches_now == 2);
        let old = c.session_id();
        expire(&c);
        wait_renewed(&c, old);
        wait_until("both watches on the new session", Duration::from_secs(10), || c.stats().watches_now == 2);
        observer.set(&next, b"v1", None, T).unwrap();
        observer.delete(&absent, None, T).unwrap();
        let (data, stat) = got.join().unwrap().unwrap();
        assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1));
        gone.join().unwrap().unwrap();
    });
    assert_eq!(c.stats().watches_now, 0);
}

#[test]
fn added_credentials_are_applied_to_the_new_session() {
    let hosts = shared_server().connect_string();
    let c = renewing(&hosts);
    c.add_auth("digest", b"renewer:secret", T).unwrap();
    let path = unique_path("renew-auth");
    let only_us = vec![Acl::digest("renewer", "secret", acl::letters_to_mask("cdrwa").unwrap())];
    c.create(&path, b"private", &CreateOptions::persistent().with_acl(only_us), T).unwrap();
    let old = c.session_id();
    expire(&c);
    wait_renewed(&c, old);
    assert_eq!(c.get(&path, T).unwrap().0, b"private");
    // The ACL is real: a session without the credentials is refused.
    assert_eq!(plain(&hosts).get(&path, T).unwrap_err().code(), Code::NoAuth);
    c.delete(&path, None, T).unwrap();
}

#[test]
fn a_client_closed_during_renewal_ends_closed_with_no_session_left() {
    let server = ZkServer::start();
    let c = renewing(&server.connect_string());
    let closer = c.clone();
    // Closed from the callback, as soon as the expiry is reported: the
    // renewal is under way.
    c.set_state_callback(Some(Box::new(move |_, new| {
        if new == SessionState::Expired {
            closer.close();
        }
    })))
    .unwrap();
    expire(&c);
    wait_until("closed", Duration::from_secs(10), || c.state() == SessionState::Closed);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(c.state(), SessionState::Closed);
    assert_eq!(c.get("/", T).unwrap_err().code(), Code::Closed);
    // No connection with a session stays on the server (`cons` lists the
    // four-letter connection itself without one).
    wait_until("no session left", Duration::from_secs(15), || {
        four_letter(server.port(), "cons").is_some_and(|cons| !cons.contains("sid="))
    });
}

/// The state sequence the C callback receives.
unsafe extern "C" fn record_state(user_data: *mut c_void, old: zku_state, new: zku_state) {
    // SAFETY: the Mutex below, alive until the client is freed.
    let seen = unsafe { &*(user_data as *const Mutex<Vec<(zku_state, zku_state)>>) };
    seen.lock().unwrap().push((old, new));
}

#[test]
fn c_api_reports_expired_then_connected_with_a_new_session_id() {
    let proxy = Proxy::start(&format!("127.0.0.1:{}", shared_server().port()));
    let hosts = cs(&proxy.connect_string());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut config = null_mut();
    let mut client = null_mut();
    // SAFETY: valid pointers to live locals; the config and the client are
    // freed once; `seen` outlives the client.
    unsafe {
        ok("config_new", call(|e| zku_config_new(&mut config, e)));
        ok("set_hosts", call(|e| zku_config_set_hosts(config, hosts.as_ptr(), e)));
        ok("set_session_timeout", call(|e| zku_config_set_session_timeout_ms(config, 1000, e)));
        expect("NULL config", call(|e| zku_config_set_session_renewal(null_mut(), true, e)), ZKU_ENULL, "config");
        ok("set_session_renewal", call(|e| zku_config_set_session_renewal(config, true, e)));
        ok("client_new", call(|e| zku_client_new(config, None, &mut client, e)));
        zku_config_free(config);
        let user_data = Arc::as_ptr(&seen) as *mut c_void;
        ok("callback", call(|e| zku_client_set_state_callback(client, Some(record_state), user_data, None, e)));
        let old = zku_client_session_id(client);
        expire_by_partition(&proxy, || {});
        wait_until("a new session", RENEWAL, || {
            zku_client_state(client) == ZKU_STATE_CONNECTED && zku_client_session_id(client) != old
        });
        let mut stats = zku_client_stats::default();
        ok("stats", call(|e| zku_client_get_stats(client, &mut stats, e)));
        assert_eq!(stats.session_renewals, 1);
        wait_until("the callback", Duration::from_secs(5), || {
            seen.lock().unwrap().contains(&(ZKU_STATE_EXPIRED, ZKU_STATE_CONNECTED))
        });
        zku_client_free(client);
    }
    let seen = seen.lock().unwrap();
    let expired = seen.iter().position(|s| s.1 == ZKU_STATE_EXPIRED).unwrap();
    assert_eq!(seen[expired + 1], (ZKU_STATE_EXPIRED, ZKU_STATE_CONNECTED), "{seen:?}");
    assert_eq!(seen.last().unwrap().1, ZKU_STATE_CLOSED, "{seen:?}");
}
