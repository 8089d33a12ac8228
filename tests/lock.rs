//! The distributed lock against a real ZooKeeper: every behaviour of
//! k3zkutil's own lock tests, plus fencing tokens, lock states, cancel,
//! safe release and guarded writes.

mod common;
mod lockstate;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::zk::{has_watch, shared_server, unique_path, wait_watch};
use lockstate::{record_states, wait_for_state};
use zkutil::acl::{self, Acl};
use zkutil::config::{AclSpec, Auth};
use zkutil::{Client, Code, Config, CreateOptions, Lock, LockOptions, LockState, SessionState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));

/// A configuration whose lock_dir is private to the test.
fn config(hosts: &str, lock_dir: &str) -> Config {
    Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(Duration::from_secs(4)),
        lock_dir: Some(format!("{lock_dir}/")),
        ..Config::default()
    }
}

struct Env {
    config: Config,
    dir: String,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = unique_path(name);
        Env { config: config(&shared_server().connect_string(), &dir), dir }
    }

    fn client(&self) -> Client {
        Client::connect(self.config.clone()).expect("connect")
    }
}

fn lock(client: &Client, name: &str) -> Lock {
    Lock::new(client, name, LockOptions::default()).unwrap()
}

fn lock_with_id(client: &Client, name: &str, id: &str) -> Lock {
    Lock::new(client, name, LockOptions { identifier: Some(id.to_string()), ..LockOptions::default() }).unwrap()
}

fn json(data: &[u8]) -> serde_json::Value {
    serde_json::from_slice(data).unwrap()
}

/// Records every state transition the callback sees.
fn wait_until<F: FnMut() -> bool>(what: &str, within: Duration, mut f: F) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn node_layout_and_data_match_k3zkutil() {
    let env = Env::new("layout");
    let c = env.client();
    let l = lock(&c, "foo_name");
    assert_eq!(l.path(), format!("{}/foo_name", env.dir));
    let token = l.acquire(T).unwrap();
    let (data, stat) = c.get(l.path(), T).unwrap();
    assert_eq!(String::from_utf8(data).unwrap(), format!("{{\"id\": \"{}\", \"val\": null}}", l.identifier()));
    assert_eq!(stat.ephemeral_owner, c.session_id(), "ephemeral by default");
    assert_eq!(stat.czxid, token, "the fencing token is the node's czxid");
    assert_eq!(l.token(), Some(token));
    // The lock directory was created on demand (persistent, empty).
    assert_eq!(c.get(&env.dir, T).unwrap().1.ephemeral_owner, 0);
    l.release(T).unwrap();
    assert!(c.exists(l.path(), T).unwrap().is_none());
    assert_eq!(l.token(), None);
}

#[test]
fn concurrent_mutual_exclusion_5_threads_x_40_rounds() {
    let env = Arc::new(Env::new("concurrent"));
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let (env, inside, max_inside, total, tokens) =
                (env.clone(), inside.clone(), max_inside.clone(), total.clone(), tokens.clone());
            thread::spawn(move || {
                let c = env.client();
                for _ in 0..40 {
                    // A new handle per round, as k3zkutil's test does.
                    let l = lock(&c, "foo_name");
                    let token = l.acquire(Timeout::Forever).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(now, Ordering::SeqCst);
                    tokens.lock().unwrap().push(token);
                    total.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    l.release(T).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(total.load(Ordering::SeqCst), 200);
    assert_eq!(max_inside.load(Ordering::SeqCst), 1, "the counter never exceeds 1");
    // Tokens strictly increase in the order the lock was held.
    let tokens = tokens.lock().unwrap();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens increase: {tokens:?}");
}

#[test]
fn timeout_and_one_attempt() {
    let env = Env::new("timeout");
    let c = env.client();
    let l1 = lock(&c, "foo_name");
    let l2 = lock(&c, "foo_name");
    l1.acquire(T).unwrap();

    let start = Instant::now();
    let err = l2.acquire(Timeout::After(Duration::from_millis(200))).unwrap_err();
    let waited = start.elapsed();
    assert_eq!(err.code(), Code::OperationTimeout, "{err}");
    assert!(err.message().contains(l1.identifier()), "names the holder: {err}");
    assert!(waited >= Duration::from_millis(200), "waited the whole timeout ({waited:?})");

    let start = Instant::now();
    let err = l2.acquire(Timeout::NoWait).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout);
    eprintln!("timeout 200 ms took {waited:?}; one attempt took {:?}", start.elapsed());
    assert_eq!(l2.state(), LockState::Unlocked);

    l1.release(T).unwrap();
    l2.acquire(Timeout::NoWait).expect("one attempt acquires a free lock");
    assert!(l2.is_locked());
    l2.release(T).unwrap();
}

#[test]
fn holder_and_version_reporting() {
    let env = Env::new("holder");
    let c = env.client();
    let a = lock(&c, "foo_name");
    let b = lock(&c, "foo_name");
    assert_eq!(a.holder(T).unwrap(), None);
    a.acquire(T).unwrap();
    let holder = a.holder(T).unwrap().unwrap();
    assert_eq!(holder.id().as_deref(), Some(a.identifier()));
    assert_eq!(json(&holder.data), serde_json::json!({"id": a.identifier(), "val": null}));
    assert_eq!(holder.stat.version, 0);

    let t = b.try_acquire(T).unwrap();
    assert!(!t.locked);
    assert_eq!(json(&t.holder), serde_json::json!({"id": a.identifier(), "val": null}));
    assert_eq!((t.version, t.token), (0, None));

    // Our own value change is not a loss; the version moves.
    let seen = record_states(&a);
    assert_eq!(a.set_val("{\"k\":[1,2]}", None, T).unwrap(), 1);
    assert_eq!(a.get_val(T).unwrap(), ("{\"k\": [1, 2]}".to_string(), 1));
    assert_eq!(b.get_val(T).unwrap().1, 1, "anyone can read the value");
    let t = b.try_acquire(T).unwrap();
    assert_eq!((t.locked, t.version), (false, 1));
    assert_eq!(json(&t.holder)["val"], serde_json::json!({"k": [1, 2]}));
    // A stale expected version is refused.
    assert_eq!(a.set_val("2", Some(0), T).unwrap_err().code(), Code::BadVersion);
    assert_eq!(a.set_val("\"v\"", Some(1), T).unwrap(), 2);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(a.state(), LockState::Held);
    assert!(seen.lock().unwrap().is_empty(), "no state change for our own writes: {:?}", seen.lock().unwrap());
    // set_val needs the lock; bad JSON is refused before anything is sent.
    assert_eq!(b.set_val("1", None, T).unwrap_err().code(), Code::NotLocked);
    assert_eq!(a.set_val("{", None, T).unwrap_err().code(), Code::BadJson);

    // A later acquisition writes the value we set.
    a.release(T).unwrap();
    a.acquire(T).unwrap();
    assert_eq!(a.get_val(T).unwrap(), ("\"v\"".to_string(), 0));
    a.release(T).unwrap();
    assert_eq!(a.get_val(T).unwrap_err().code(), Code::NoNode);
}

#[test]
fn try_acquire_and_try_release_results() {
    let env = Env::new("try");
    let c = env.client();
    let l1 = lock(&c, "foo_name");
    let l2 = lock(&c, "foo_name");

    // k3zkutil test_try_release: nothing held -> (True, our identifier, -1).
    let r = l1.try_release(T).unwrap();
    assert!(r.released);
    assert_eq!(json(&r.holder), serde_json::json!({"id": l1.identifier(), "val": null}));
    assert_eq!(r.version, -1);

    l2.acquire(T).unwrap();
    let r = l1.try_release(T).unwrap();
    assert_eq!((r.released, r.version), (false, 0));
    assert_eq!(json(&r.holder)["id"], l2.identifier());
    assert!(l2.is_locked(), "someone else's try_release changes nothing");
    let seen = record_states(&l2);
    let r = l2.try_release(T).unwrap();
    assert_eq!((r.released, r.version), (true, 0));
    assert_eq!(json(&r.holder)["id"], l2.identifier());
    assert_eq!(l2.state(), LockState::Unlocked);
    assert!(c.exists(l2.path(), T).unwrap().is_none());
    thread::sleep(Duration::from_millis(200));
    assert_eq!(*seen.lock().unwrap(), vec![(LockState::Held, LockState::Unlocked)], "released, not lost");

    // k3zkutil test_try_lock.
    l1.acquire(T).unwrap();
    let t = l2.try_acquire(T).unwrap();
    assert!(!t.locked);
    assert_eq!(json(&t.holder)["id"], l1.identifier());
    l1.release(T).unwrap();
    let t = l2.try_acquire(T).unwrap();
    assert!(t.locked);
    assert_eq!(json(&t.holder)["id"], l2.identifier());
    assert_eq!(t.version, 0);
    assert_eq!(t.token, l2.token());
    assert!(l2.is_locked());
    // Already held: the same answer without a change.
    assert_eq!(l2.try_acquire(T).unwrap().token, t.token);
    l2.release(T).unwrap();
}

#[test]
fn node_deleted_or_changed_while_held_is_lost() {
    let env = Env::new("lost");
    let c = env.client();
    let other = env.client();

    let l = lock(&c, "foo_name");
    let seen = record_states(&l);
    let token = l.acquire(T).unwrap();
    other.delete(l.path(), None, T).unwrap();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    assert!(l.lost_reason().unwrap().contains("deleted"), "{:?}", l.lost_reason());
    assert!(!l.is_locked());
    assert_eq!(l.token(), Some(token), "the lost acquisition's token stays readable");
    // Release after LOST: nothing deleted, a clear code, then UNLOCKED.
    other.create(l.path(), b"someone else", &CreateOptions::ephemeral(), T).unwrap();
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(other.get(l.path(), T).unwrap().0, b"someone else", "the next owner's node is untouched");
    assert_eq!(l.state(), LockState::Unlocked);
    assert_eq!(l.release(T), Ok(()), "releasing an unlocked lock is silent");
    other.delete(l.path(), None, T).unwrap();
    wait_until("callbacks", Duration::from_secs(5), || seen.lock().unwrap().len() == 3);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (LockState::Unlocked, LockState::Held),
            (LockState::Held, LockState::Lost),
            (LockState::Lost, LockState::Unlocked)
        ]
    );

    // Data changed by someone else (k3zkutil: set b"xxx").
    let l = lock(&c, "foo_name");
    l.acquire(T).unwrap();
    other.set(l.path(), b"xxx", None, T).unwrap();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    assert!(l.lost_reason().unwrap().contains("xxx"), "{:?}", l.lost_reason());
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(other.get(l.path(), T).unwrap().0, b"xxx", "not ours: left in place");
    other.delete(l.path(), None, T).unwrap();
}

#[test]
fn the_loss_watch_is_armed_after_the_watch_delay() {
    let env = Env::new("watch-delay");
    let c = env.client();
    let other = env.client();
    let port = shared_server().port();
    let with_delay = |delay: Duration| {
        Lock::new(&c, "foo_name", LockOptions { watch_delay: delay, ..LockOptions::default() }).unwrap()
    };
    assert_eq!(LockOptions::default().watch_delay, zkutil::lock::DEFAULT_WATCH_DELAY);

    // The uncontended acquire sends the create alone.
    let delay = Duration::from_secs(2);
    let l = with_delay(delay);
    let acquired = Instant::now();
    l.acquire(T).unwrap();
    assert!(!has_watch(port, l.path()), "nothing read or watched before the delay");
    // A change made before the watch exists is found by the read that sets it.
    other.set(l.path(), b"xxx", None, T).unwrap();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(20));
    assert!(acquired.elapsed() >= delay, "read after the delay, not before");
    assert!(l.lost_reason().unwrap().contains("xxx"), "{:?}", l.lost_reason());
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(other.get(l.path(), T).unwrap().0, b"xxx", "not ours: left in place");
    other.delete(l.path(), None, T).unwrap();

    // Deleted by someone else before the read: release says so.
    let l = with_delay(Duration::from_secs(60));
    l.acquire(T).unwrap();
    other.delete(l.path(), None, T).unwrap();
    assert_eq!(l.state(), LockState::Held, "not read yet");
    let e = l.release(T).unwrap_err();
    assert_eq!(e.code(), Code::LockLost, "{e}");
    assert!(e.message().contains("deleted by someone else"), "{e}");
    assert_eq!(l.state(), LockState::Unlocked);

    // Delay zero: watched right after the create's reply; then a delete
    // by someone else is reported through the watch.
    let l = with_delay(Duration::ZERO);
    l.acquire(T).unwrap();
    wait_watch(port, l.path(), true);
    other.delete(l.path(), None, T).unwrap();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);

    // The delay is read at each acquisition; the released lock's watch
    // went with its node.
    l.set_watch_delay(Duration::from_millis(100));
    l.acquire(T).unwrap();
    wait_watch(port, l.path(), true);
    l.release(T).unwrap();
    wait_watch(port, l.path(), false);
}

#[test]
fn no_report_after_release() {
    let env = Env::new("after-release");
    let c = env.client();
    let other = env.client();
    let l = lock(&c, "foo_name");
    let seen = record_states(&l);
    l.acquire(T).unwrap();
    l.release(T).unwrap();
    // Someone else takes and changes the node: nothing for us.
    other.create(l.path(), b"x", &CreateOptions::ephemeral(), T).unwrap();
    other.set(l.path(), b"y", None, T).unwrap();
    other.delete(l.path(), None, T).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(LockState::Unlocked, LockState::Held), (LockState::Held, LockState::Unlocked)]
    );
}

#[test]
fn is_locked() {
    let env = Env::new("is-locked");
    let c = env.client();
    let l = lock(&c, "foo_name");
    assert!(!l.is_locked());
    l.acquire(T).unwrap();
    assert!(l.is_locked());
    l.release(T).unwrap();
    assert!(!l.is_locked());
    l.acquire(T).unwrap();
    assert!(l.is_locked());
    l.try_release(T).unwrap();
    assert!(!l.is_locked());
}

#[test]
fn acl_and_node_id_from_the_configuration() {
    let env = Env::new("acl");
    // k3zkutil test_config: two digest entries, auth as xp, node_id "abc".
    let config = Config {
        auth: Some(Auth { scheme: "digest".into(), user: "xp".into(), password: "123".into() }),
        acl: Some(vec![
            AclSpec { user: "foo".into(), password: "bar".into(), perms: "cd".into() },
            AclSpec { user: "xp".into(), password: "123".into(), perms: "cdrwa".into() },
        ]),
        node_id: Some("abc".into()),
        ..env.config.clone()
    };
    let c = Client::connect(config).unwrap();
    let l = lock(&c, "foo_name");
    assert!(l.identifier().starts_with("abc-"), "{}", l.identifier());
    l.acquire(T).unwrap();
    let (acl, _) = c.get_acl(l.path(), T).unwrap();
    assert_eq!(
        acl,
        vec![Acl::digest("foo", "bar", acl::PERM_CREATE | acl::PERM_DELETE), Acl::digest("xp", "123", acl::PERM_ALL)]
    );
    let (data, _) = c.get(l.path(), T).unwrap();
    assert_eq!(json(&data)["id"].as_str().unwrap().split('-').next(), Some("abc"));
    // A client without the credentials cannot read or take it.
    let stranger = env.client();
    assert_eq!(stranger.get(l.path(), T).unwrap_err().code(), Code::NoAuth);
    l.release(T).unwrap();
}

#[test]
fn same_identifier_both_hold() {
    let env = Env::new("same-id");
    let c1 = env.client();
    let c2 = env.client();
    let a = lock_with_id(&c1, "foo_name", "faked");
    let b = lock_with_id(&c2, "foo_name", "faked");
    let ta = a.acquire(T).unwrap();
    let tb = b.acquire(Timeout::NoWait).expect("the same identifier is the same holder");
    assert_eq!(ta, tb, "same node, same token");
    assert!(a.is_locked() && b.is_locked());
    // b did not create the node: its release reads before deleting.
    b.release(T).unwrap();
    wait_for_state(&a, LockState::Lost, Duration::from_secs(10));
}

#[test]
fn persistent_lock_survives_its_session() {
    let env = Env::new("persistent");
    let c = env.client();
    let id = "persistent-holder";
    let options = LockOptions { identifier: Some(id.into()), ephemeral: false, ..LockOptions::default() };
    let l = Lock::new(&c, "foo_name", options.clone()).unwrap();
    let token = l.acquire(T).unwrap();
    assert_eq!(c.get(l.path(), T).unwrap().1.ephemeral_owner, 0);
    c.close();
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));

    let c2 = env.client();
    let other = lock(&c2, "foo_name");
    assert_eq!(other.acquire(Timeout::After(Duration::from_millis(200))).unwrap_err().code(), Code::OperationTimeout);
    // The same identifier resumes it, with the same token, and releases it.
    let resumed = Lock::new(&c2, "foo_name", options).unwrap();
    assert_eq!(resumed.acquire(Timeout::NoWait).unwrap(), token);
    resumed.release(T).unwrap();
    assert!(c2.exists(resumed.path(), T).unwrap().is_none());
    other.acquire(Timeout::NoWait).unwrap();
}

#[test]
fn acquire_loop_reports_each_holder_change() {
    let env = Env::new("loop");
    let c = env.client();
    let a = lock(&c, "foo");
    let b = lock(&c, "foo");

    // Nobody holds it: no report.
    let mut reports = 0;
    a.acquire_loop(T, &mut |_| {
        reports += 1;
        true
    })
    .unwrap();
    assert_eq!(reports, 0, "acquired directly");

    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let token = b
            .acquire_loop(Timeout::Forever, &mut |h| {
                tx.send((
                    h.id().unwrap(),
                    h.stat.version,
                    serde_json::from_slice::<serde_json::Value>(&h.data).unwrap(),
                ))
                .unwrap();
                true
            })
            .unwrap();
        (b, token)
    });
    let (id, version, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((id.as_str(), version), (a.identifier(), 0));
    a.set_val("\"xx\"", None, T).unwrap();
    let (_, version, data) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((data["val"].as_str(), version), (Some("xx"), 1), "watched node change");
    a.release(T).unwrap();
    let (b, token) = waiter.join().unwrap();
    assert!(rx.try_recv().is_err(), "no report once acquired");
    assert!(b.is_locked());
    assert_eq!(Some(token), b.token());

    // Returning false stops waiting.
    let a2 = lock(&c, "foo");
    let err = a2.acquire_loop(T, &mut |_| false).unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    b.release(T).unwrap();
}

#[test]
fn fencing_tokens_and_guarded_writes() {
    let env = Env::new("fencing");
    let c = env.client();
    let other = env.client();
    let target = format!("{}-target", env.dir);
    c.create(&target, b"0", &CreateOptions::persistent(), T).unwrap();
    let l = lock(&c, "res");
    let mut last = 0;
    for i in 0..3 {
        let token = l.acquire(T).unwrap();
        assert!(token > last, "token increases across acquisitions");
        last = token;
        let stat = l.guarded_set(&target, format!("{i}").as_bytes(), None, T).unwrap();
        assert_eq!(stat.version, i + 1);
        // The target's own version check still applies.
        assert_eq!(l.guarded_set(&target, b"x", Some(0), T).unwrap_err().code(), Code::BadVersion);
        l.release(T).unwrap();
    }
    assert_eq!(l.guarded_set(&target, b"x", None, T).unwrap_err().code(), Code::NotLocked);

    // After the lock node is gone the write is refused, even before the
    // watch event arrives: the multi checks the lock node.
    l.acquire(T).unwrap();
    other.delete(l.path(), None, T).unwrap();
    let err = l.guarded_set(&target, b"late", None, T).unwrap_err();
    assert_eq!(err.code(), Code::LockLost, "{err}");
    assert_eq!(c.get(&target, T).unwrap().0, b"2");
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    assert_eq!(l.guarded_delete(&target, None, T).unwrap_err().code(), Code::LockLost);
    l.release(T).unwrap_err();

    l.acquire(T).unwrap();
    l.guarded_delete(&target, Some(3), T).unwrap();
    assert!(c.exists(&target, T).unwrap().is_none());
    assert_eq!(l.guarded_delete(&target, None, T).unwrap_err().code(), Code::NoNode);
    assert_eq!(l.guarded_set(l.path(), b"x", None, T).unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(l.guarded_set("rel", b"x", None, T).unwrap_err().code(), Code::InvalidPath);
    l.release(T).unwrap();
}

#[test]
fn cancel_a_blocked_acquire() {
    let env = Env::new("cancel");
    let c = env.client();
    let holder = lock(&c, "foo");
    holder.acquire(T).unwrap();
    let waiter = Arc::new(lock(&c, "foo"));
    let w = waiter.clone();
    let (started_tx, started_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        w.acquire_loop(Timeout::Forever, &mut |_| {
            started_tx.send(()).unwrap();
            true
        })
    });
    started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let start = Instant::now();
    waiter.cancel();
    let err = t.join().unwrap().unwrap_err();
    eprintln!("cancel took {:?}", start.elapsed());
    assert_eq!(err.code(), Code::Cancelled);
    assert_eq!(waiter.state(), LockState::Unlocked);
    holder.release(T).unwrap();
    assert!(c.exists(holder.path(), T).unwrap().is_none(), "the cancelled waiter left no node");
    // A cancel with no acquire in progress does not affect the next one.
    waiter.acquire(T).unwrap();
    waiter.release(T).unwrap();
}

#[test]
fn cancel_or_timeout_with_the_create_in_flight_leaves_no_node() {
    let env = Env::new("cancel-race");
    let c = env.client();
    c.create(&env.dir, b"", &CreateOptions::persistent(), T).unwrap();
    let l = Arc::new(lock(&c, "foo"));
    let (mut cancelled, mut acquired, mut timed_out) = (0, 0, 0);
    for i in 0..60 {
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, stop2) = (l.clone(), stop.clone());
        // Cancel at a varying moment after the acquire starts.
        let canceller = thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_micros(50 * (i % 20)) && !stop2.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            l2.cancel();
        });
        let timeout = if i % 3 == 2 { Timeout::After(Duration::from_micros(300 + 100 * (i % 7))) } else { T };
        match l.acquire(timeout) {
            Ok(_) => {
                acquired += 1;
                l.release(T).unwrap();
            }
            Err(e) if e.code() == Code::Cancelled => cancelled += 1,
            Err(e) if e.code() == Code::OperationTimeout || e.code() == Code::ConnectionLoss => timed_out += 1,
            Err(e) => panic!("unexpected {e}"),
        }
        stop.store(true, Ordering::SeqCst);
        canceller.join().unwrap();
        // Any cleanup holds the handle's operation mutex: a release waits
        // for it.
        l.release(T).unwrap();
        assert!(c.exists(l.path(), T).unwrap().is_none(), "round {i}: a node was left behind");
    }
    eprintln!("acquired {acquired}, cancelled {cancelled}, timed out {timed_out}");
    assert!(cancelled + timed_out > 0);
}

#[test]
fn closed_and_expired_clients() {
    let env = Env::new("closed");
    let c = env.client();
    let l = lock(&c, "foo");
    c.close();
    assert_eq!(l.acquire(T).unwrap_err().code(), Code::Closed);
    assert_eq!(l.try_acquire(T).unwrap_err().code(), Code::Closed);

    let c = env.client();
    let observer = env.client();
    let l = lock(&c, "foo");
    let seen = record_states(&l);
    l.acquire(T).unwrap();
    // The client may take its session back before the helper's second
    // connection closes it (the helper then times out): try again.
    let mut tries = 0;
    while let Err(e) = c.expire_session_for_testing() {
        tries += 1;
        assert!(tries < 5, "cannot expire the session: {e}");
    }
    wait_for_state(&l, LockState::Lost, Duration::from_secs(10));
    // Expired, or the node deleted when the session was closed just before
    // our client learnt it.
    let reason = l.lost_reason().unwrap();
    assert!(reason.contains("expired") || reason.contains("deleted"), "{reason}");
    assert_eq!(l.acquire(T).unwrap_err().code(), Code::SessionExpired);
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    wait_until("node gone", Duration::from_secs(10), || observer.exists(l.path(), T).unwrap().is_none());
    wait_until("callbacks", Duration::from_secs(5), || {
        seen.lock().unwrap().last() == Some(&(LockState::Lost, LockState::Unlocked))
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], (LockState::Unlocked, LockState::Held));
    assert_eq!(seen[seen.len() - 2].1, LockState::Lost, "{seen:?}");
}

#[test]
fn pollable_descriptor_follows_the_state() {
    let env = Env::new("poll");
    let c = env.client();
    let other = env.client();
    let l = lock(&c, "foo");
    let fd = l.pollable_fd().unwrap();
    assert_eq!(l.pollable_fd().unwrap(), fd, "one descriptor per lock");
    let readable = |ms: i32| {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, ms) == 1 }
    };
    assert!(readable(0), "readable once at creation");
    assert_eq!(l.drain_notifications(), LockState::Unlocked);
    assert!(!readable(0));
    l.acquire(T).unwrap();
    assert!(readable(5000));
    assert_eq!(l.drain_notifications(), LockState::Held);
    assert!(!readable(0));
    other.delete(l.path(), None, T).unwrap();
    assert!(readable(10_000));
    assert_eq!(l.drain_notifications(), LockState::Lost);
    assert!(!readable(0));
}

#[test]
fn bad_arguments() {
    let env = Env::new("bad");
    let c = env.client();
    assert_eq!(Lock::new(&c, "", LockOptions::default()).err().unwrap().code(), Code::InvalidPath);
    assert_eq!(Lock::new(&c, "a//b", LockOptions::default()).err().unwrap().code(), Code::InvalidPath);
    assert_eq!(Lock::new(&c, "a/", LockOptions::default()).err().unwrap().code(), Code::InvalidPath);
    let empty_id = LockOptions { identifier: Some(String::new()), ..LockOptions::default() };
    assert_eq!(Lock::new(&c, "a", empty_id).err().unwrap().code(), Code::InvalidArgument);
    let l = lock(&c, "a");
    assert_eq!(l.set_val("nope", None, T).unwrap_err().code(), Code::BadJson);
}

#[test]
fn own_client_lock_reports_through_its_callback() {
    let env = Env::new("own");
    let observer = env.client();
    let (tx, rx) = mpsc::channel();
    let l = Lock::with_own_client(
        env.config.clone(),
        "foo",
        LockOptions::default(),
        Box::new(move |old, new| tx.send((old, new)).unwrap()),
    )
    .unwrap();
    l.acquire(T).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), (LockState::Unlocked, LockState::Held));
    observer.delete(l.path(), None, T).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (LockState::Held, LockState::Lost));
    let session = l.client().clone();
    drop(l);
    assert_eq!(session.state(), SessionState::Closed, "the lock's own client is closed with it");
}

#[test]
fn a_panic_while_the_state_was_locked_reports_lost_not_held() {
    let env = Env::new("poison");
    let c = env.client();
    let l = lock(&c, "res");
    let seen = record_states(&l);
    l.acquire(T).unwrap();
    l.poison_state_for_testing();
    assert_eq!(l.state(), LockState::Lost, "a possibly half-updated state is not trusted as held");
    assert!(l.lost_reason().unwrap().contains("panic"), "{:?}", l.lost_reason());
    wait_until("callbacks", Duration::from_secs(5), || seen.lock().unwrap().len() == 2);
    assert_eq!(*seen.lock().unwrap(), [(LockState::Unlocked, LockState::Held), (LockState::Held, LockState::Lost)]);
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(l.state(), LockState::Unlocked, "the handle goes on");
}
