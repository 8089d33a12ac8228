//! The FIFO mutex (Curator InterProcessMutex layout) against a real
//! ZooKeeper: mutual exclusion with increasing tokens, arrival order,
//! timeouts and cancels leaving no node, waiters whose predecessor
//! vanishes, states, guarded writes, bad input, server outages (one
//! server, and a 3-node ensemble losing its leader), leader latches.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::zk::{ZkCluster, ZkServer, shared_server, unique_path};
use zkutil::{Cancel, Client, Code, Config, FifoLock, FifoOptions, LockState, Timeout};

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

struct Env {
    config: Config,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = unique_path(name);
        Env { config: config(&shared_server().connect_string(), &dir, Duration::from_secs(4)) }
    }

    fn client(&self) -> Client {
        Client::connect(self.config.clone()).expect("connect")
    }
}

fn fifo(client: &Client, name: &str) -> FifoLock {
    FifoLock::new(client, name, FifoOptions::default()).unwrap()
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn contender_count(l: &FifoLock) -> usize {
    l.contenders(T).unwrap().len()
}

fn wait_for_state(l: &FifoLock, want: LockState) {
    wait_until(&format!("state {want:?}"), Duration::from_secs(30), || l.state() == want);
}

#[test]
fn exclusion_across_threads_with_tokens_increasing_in_hold_order() {
    let env = Arc::new(Env::new("fifo-excl"));
    let inside = Arc::new(AtomicBool::new(false));
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (env, inside, tokens) = (env.clone(), inside.clone(), tokens.clone());
            thread::spawn(move || {
                let c = env.client();
                let l = fifo(&c, "res");
                for _ in 0..10 {
                    let token = l.acquire(T).unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    tokens.lock().unwrap().push(token);
                    thread::sleep(Duration::from_millis(2));
                    inside.store(false, Ordering::SeqCst);
                    l.release(T).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.len(), 40);
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens not increasing in hold order: {tokens:?}");
}

#[test]
fn waiters_get_the_lock_in_arrival_order() {
    let env = Arc::new(Env::new("fifo-order"));
    let c = env.client();
    let holder = fifo(&c, "res");
    holder.acquire(T).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..4 {
        let (env, order) = (env.clone(), order.clone());
        waiters.push(thread::spawn(move || {
            let c = env.client();
            let l = fifo(&c, "res");
            l.acquire(T).unwrap();
            order.lock().unwrap().push(i);
            thread::sleep(Duration::from_millis(20));
            l.release(T).unwrap();
        }));
        // The next one arrives once this one's node is there.
        wait_until("the waiter's node", Duration::from_secs(10), || contender_count(&holder) == i + 2);
    }
    holder.release(T).unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn contenders_list_the_holder_first_with_its_identifier() {
    let env = Env::new("fifo-contenders");
    let c = env.client();
    let a =
        FifoLock::new(&c, "res", FifoOptions { identifier: Some("alpha".into()), ..FifoOptions::default() }).unwrap();
    let b =
        FifoLock::new(&c, "res", FifoOptions { identifier: Some("beta".into()), ..FifoOptions::default() }).unwrap();
    assert_eq!(a.holder(T).unwrap(), None);
    let token = a.acquire(T).unwrap();
    assert_eq!(b.try_acquire(T).unwrap(), None, "one holder");
    let b_waits = thread::spawn(move || {
        let token = b.acquire(T).unwrap();
        (b, token)
    });
    wait_until("two contenders", Duration::from_secs(10), || contender_count(&a) == 2);
    let list = a.contenders(T).unwrap();
    assert_eq!(list[0].data, b"alpha");
    assert_eq!(list[1].data, b"beta");
    assert_eq!(list[0].stat.czxid, token);
    assert_eq!(Some(list[0].name.clone()), a.node_name());
    assert!(list[0].name.starts_with("_c_") && list[0].name.contains("-lock-"), "{}", list[0].name);
    a.release(T).unwrap();
    let (b, b_token) = b_waits.join().unwrap();
    assert!(b_token > token);
    assert_eq!(a.holder(T).unwrap().unwrap().data, b"beta");
    b.release(T).unwrap();
}

#[test]
fn timeout_returns_in_time_and_leaves_no_node() {
    let env = Env::new("fifo-timeout");
    let (c1, c2) = (env.client(), env.client());
    let holder = fifo(&c1, "res");
    holder.acquire(T).unwrap();
    let waiter = fifo(&c2, "res");
    let started = Instant::now();
    let err = waiter.acquire(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout, "{err}");
    assert!(started.elapsed() < Duration::from_millis(2300), "{:?}", started.elapsed());
    wait_until("the waiter's node to go", Duration::from_secs(5), || contender_count(&holder) == 1);
    assert_eq!(waiter.state(), LockState::Unlocked);
    // try_acquire behind the holder deletes its node before returning.
    assert_eq!(waiter.try_acquire(T).unwrap(), None);
    assert_eq!(contender_count(&holder), 1);
    holder.release(T).unwrap();
    assert!(waiter.try_acquire(T).unwrap().is_some());
}

#[test]
fn cancel_ends_a_wait_and_leaves_no_node() {
    let env = Env::new("fifo-cancel");
    let (c1, c2) = (env.client(), env.client());
    let holder = fifo(&c1, "res");
    holder.acquire(T).unwrap();
    let cancel = Cancel::new();
    let waiting = {
        let cancel = cancel.clone();
        thread::spawn(move || {
            let waiter = fifo(&c2, "res");
            let r = zkutil::cancel::scope(Some(&cancel), None, || waiter.acquire(Timeout::Forever));
            (r, waiter)
        })
    };
    wait_until("the waiter's node", Duration::from_secs(10), || contender_count(&holder) == 2);
    cancel.cancel();
    let (r, waiter) = waiting.join().unwrap();
    assert_eq!(r.unwrap_err().code(), Code::Cancelled);
    wait_until("the waiter's node to go", Duration::from_secs(5), || contender_count(&holder) == 1);
    drop(waiter);
}

#[test]
fn a_waiter_whose_predecessor_is_deleted_moves_up_behind_the_holder() {
    let env = Arc::new(Env::new("fifo-pred-deleted"));
    let c = env.client();
    let holder = fifo(&c, "res");
    holder.acquire(T).unwrap();
    let spawn_waiter = |env: Arc<Env>| {
        thread::spawn(move || {
            let c = env.client();
            let l = fifo(&c, "res");
            let r = l.acquire(T);
            (r, l, c)
        })
    };
    let middle = spawn_waiter(env.clone());
    wait_until("the middle waiter", Duration::from_secs(10), || contender_count(&holder) == 2);
    let last = spawn_waiter(env.clone());
    wait_until("the last waiter", Duration::from_secs(10), || contender_count(&holder) == 3);
    // An operator deletes the middle waiter's node.
    let middle_node = holder.contenders(T).unwrap()[1].name.clone();
    c.delete(&format!("{}/{middle_node}", holder.path()), None, T).unwrap();
    let (r, _l, _c) = middle.join().unwrap();
    assert_eq!(r.unwrap_err().code(), Code::LockLost);
    // The last one now waits behind the holder, not in front of it.
    thread::sleep(Duration::from_millis(300));
    assert!(!last.is_finished(), "acquired while the holder still holds");
    assert!(holder.is_locked());
    holder.release(T).unwrap();
    let (r, l, _c) = last.join().unwrap();
    assert!(r.unwrap() > 0);
    assert!(l.is_locked());
}

#[test]
fn the_holders_session_expiring_hands_the_lock_to_the_next() {
    let env = Env::new("fifo-expiry");
    let (c1, c2) = (env.client(), env.client());
    let holder = fifo(&c1, "res");
    let token = holder.acquire(T).unwrap();
    let waiting = thread::spawn(move || {
        let l = fifo(&c2, "res");
        let r = l.acquire(Timeout::After(Duration::from_secs(20)));
        (r, l)
    });
    wait_until("the waiter", Duration::from_secs(10), || contender_count(&holder) == 2);
    c1.expire_session_for_testing().unwrap();
    wait_for_state(&holder, LockState::Lost);
    let (r, l) = waiting.join().unwrap();
    assert!(r.unwrap() > token);
    assert!(l.is_locked());
    assert_eq!(holder.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(holder.state(), LockState::Unlocked);
}

#[test]
fn states_callback_descriptor_and_a_deleted_node() {
    let env = Env::new("fifo-states");
    let c = env.client();
    let l = fifo(&c, "res");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    l.set_state_callback(Some(Box::new(move |old, new| sink.lock().unwrap().push((old, new))))).unwrap();
    let fd = l.pollable_fd().unwrap();
    assert!(fd >= 0);
    assert_eq!(l.drain_notifications(), LockState::Unlocked);
    assert_eq!(l.token(), None);
    let token = l.acquire(T).unwrap();
    assert_eq!(l.acquire(T).unwrap(), token, "held already: the same token");
    assert_eq!(l.token(), Some(token));
    // The operator deletes our node: LOST.
    c.delete(&format!("{}/{}", l.path(), l.node_name().unwrap()), None, T).unwrap();
    wait_for_state(&l, LockState::Lost);
    assert!(l.lost_reason().unwrap().contains("deleted"), "{:?}", l.lost_reason());
    let err = l.guarded_set("/anything", b"x", None, T).unwrap_err();
    assert_eq!(err.code(), Code::LockLost, "{err}");
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    assert_eq!(l.drain_notifications(), LockState::Unlocked);
    wait_until("the callback", Duration::from_secs(5), || seen.lock().unwrap().len() == 3);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (LockState::Unlocked, LockState::Held),
            (LockState::Held, LockState::Lost),
            (LockState::Lost, LockState::Unlocked)
        ]
    );
}

#[test]
fn guarded_writes_need_the_lock() {
    let env = Env::new("fifo-guarded");
    let c = env.client();
    let target = unique_path("fifo-guarded-target");
    c.create(&target, b"0", &zkutil::CreateOptions::persistent().with_parents(), T).unwrap();
    let l = fifo(&c, "res");
    assert_eq!(l.guarded_set(&target, b"1", None, T).unwrap_err().code(), Code::NotLocked);
    l.acquire(T).unwrap();
    let stat = l.guarded_set(&target, b"2", None, T).unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(c.get(&target, T).unwrap().0, b"2");
    let own = format!("{}/{}", l.path(), l.node_name().unwrap());
    assert_eq!(l.guarded_delete(&own, None, T).unwrap_err().code(), Code::InvalidArgument);
    l.guarded_delete(&target, None, T).unwrap();
    assert!(c.exists(&target, T).unwrap().is_none());
    l.release(T).unwrap();
    assert_eq!(contender_count(&l), 0);
}

#[test]
fn bad_input_gets_specific_codes() {
    let env = Env::new("fifo-bad");
    let c = env.client();
    let err = FifoLock::new(&c, "", FifoOptions::default()).err().unwrap();
    assert_eq!(err.code(), Code::InvalidPath);
    let err = FifoLock::new(&c, "a//b", FifoOptions::default()).err().unwrap();
    assert_eq!(err.code(), Code::InvalidPath);
    let no_id = FifoOptions { identifier: Some(String::new()), ..FifoOptions::default() };
    assert_eq!(FifoLock::new(&c, "res", no_id).err().unwrap().code(), Code::InvalidArgument);
    let l = fifo(&c, "res");
    l.release(T).unwrap();
    assert_eq!(l.guarded_delete("relative", None, T).unwrap_err().code(), Code::InvalidPath);
    l.close();
    assert_eq!(l.acquire(T).unwrap_err().code(), Code::Closed);
}

#[test]
fn restart_within_the_session_timeout_keeps_the_lock() {
    let mut server = ZkServer::start();
    let dir = unique_path("fifo-restart");
    let c = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let l = fifo(&c, "res");
    let token = l.acquire(T).unwrap();
    server.stop();
    wait_for_state(&l, LockState::Suspended);
    assert!(!l.is_locked());
    let err = l.guarded_set("/x", b"1", None, Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::ConnectionLoss, "{err}");
    server.restart();
    wait_for_state(&l, LockState::Held);
    assert_eq!(l.token(), Some(token));
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let rival = fifo(&other, "res");
    assert_eq!(rival.try_acquire(T).unwrap(), None);
    l.release(T).unwrap();
    assert!(rival.acquire(T).unwrap() > token);
}

#[test]
fn outage_longer_than_the_session_timeout_loses_the_lock() {
    let mut server = ZkServer::start();
    let dir = unique_path("fifo-long-outage");
    let c = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(2))).unwrap();
    let l = fifo(&c, "res");
    l.acquire(T).unwrap();
    server.stop();
    wait_for_state(&l, LockState::Suspended);
    wait_for_state(&l, LockState::Lost);
    assert!(l.lost_reason().unwrap().contains("session"), "{:?}", l.lost_reason());
    server.restart();
    assert_eq!(l.release(T).unwrap_err().code(), Code::LockLost);
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(10))).unwrap();
    let rival = fifo(&other, "res");
    rival.acquire(Timeout::After(Duration::from_secs(60))).unwrap();
    assert!(rival.is_locked());
}

#[test]
fn a_leader_learns_it_lost_leadership_and_a_standby_takes_over() {
    let env = Env::new("fifo-leader");
    let (c1, c2) = (env.client(), env.client());
    let options = |id: &str| FifoOptions { identifier: Some(id.to_string()), ..FifoOptions::default() };
    let leader = FifoLock::leader_latch(&c1, "election", options("first")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    leader.set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push(new)))).unwrap();
    let token = leader.acquire(T).unwrap();
    assert!(leader.is_locked(), "leader");
    assert!(leader.node_name().unwrap().contains("-latch-"));
    let standby = thread::spawn(move || {
        let l = FifoLock::leader_latch(&c2, "election", options("second")).unwrap();
        let r = l.acquire(Timeout::After(Duration::from_secs(20)));
        (r, l, c2)
    });
    wait_until("the standby", Duration::from_secs(10), || contender_count(&leader) == 2);
    let participants = leader.contenders(T).unwrap();
    assert_eq!(
        participants.iter().map(|p| p.data.clone()).collect::<Vec<_>>(),
        [b"first".to_vec(), b"second".to_vec()]
    );
    c1.expire_session_for_testing().unwrap();
    wait_for_state(&leader, LockState::Lost);
    wait_until("the callback", Duration::from_secs(5), || seen.lock().unwrap().last() == Some(&LockState::Lost));
    let (r, l, _c2) = standby.join().unwrap();
    assert!(r.unwrap() > token, "the new leader's token is larger");
    assert_eq!(l.holder(T).unwrap().unwrap().data, b"second");
    l.release(T).unwrap();
    assert_eq!(l.holder(T).unwrap(), None, "resigned");
}

#[test]
fn ensemble_leader_restart_keeps_exclusion_and_hands_the_lock_on_in_order() {
    let mut cluster = ZkCluster::start(3);
    let hosts = cluster.connect_string();
    let dir = unique_path("fifo-ensemble");
    let session = Duration::from_secs(20);
    // The holder talks to the leader only, so the restart cuts it off.
    let leader = cluster.leader().expect("a leader");
    let holder_client = Client::connect(config(&cluster.member_connect_string(leader), &dir, session)).unwrap();
    let holder = fifo(&holder_client, "res");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    holder.set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push(new)))).unwrap();
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
                let l = fifo(&c, "res");
                let token = loop {
                    match l.acquire(Timeout::After(Duration::from_secs(120))) {
                        Ok(token) => break token,
                        // Cut off from the stopped leader: its node is
                        // cleaned up, it queues again.
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

    thread::sleep(Duration::from_secs(1));
    cluster.stop_member(leader);
    wait_for_state(&holder, LockState::Suspended);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)), "the remaining members elect a leader");
    cluster.start_member(leader);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)));

    wait_for_state(&holder, LockState::Held);
    assert!(!seen.lock().unwrap().contains(&LockState::Lost), "{:?}", seen.lock().unwrap());
    assert_eq!(inside.load(Ordering::SeqCst), 0, "no waiter got in while it was held");
    order.lock().unwrap().push(first_token);
    holder.release(T).unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(max_inside.load(Ordering::SeqCst), 1);
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 4, "the lock was handed on to every waiter");
    assert!(order.windows(2).all(|w| w[0] < w[1]), "tokens increase in hold order: {order:?}");
    assert!(holder.contenders(T).unwrap().is_empty(), "no node left");
}

fn rw(client: &Client, write: bool) -> FifoLock {
    if write {
        FifoLock::write_lock(client, "rw", FifoOptions::default()).unwrap()
    } else {
        FifoLock::read_lock(client, "rw", FifoOptions::default()).unwrap()
    }
}

#[test]
fn readers_share_a_writer_excludes_and_is_not_starved() {
    let env = Env::new("fifo-rw");
    let c = env.client();
    let (r1, r2) = (rw(&c, false), rw(&c, false));
    r1.acquire(T).unwrap();
    r2.acquire(T).unwrap();
    assert!(r1.is_locked() && r2.is_locked(), "readers share");
    assert!(r1.node_name().unwrap().contains("__READ__"));
    let w = rw(&c, true);
    assert_eq!(w.try_acquire(T).unwrap(), None, "a writer waits for the readers");
    let writer = thread::spawn(move || {
        let token = w.acquire(T).unwrap();
        (w, token)
    });
    wait_until("the writer's node", Duration::from_secs(10), || contender_count(&r1) == 3);
    // A reader arriving after the waiting writer waits for it.
    let r3 = rw(&c, false);
    let err = r3.acquire(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout, "{err}");
    r1.release(T).unwrap();
    thread::sleep(Duration::from_millis(200));
    assert!(!writer.is_finished(), "a reader still holds");
    r2.release(T).unwrap();
    let (w, token) = writer.join().unwrap();
    assert!(w.is_locked());
    assert!(w.node_name().unwrap().contains("__WRIT__"));
    assert_eq!(r3.try_acquire(T).unwrap(), None, "the writer excludes readers");
    let reader = thread::spawn(move || {
        let t = r3.acquire(T).unwrap();
        (r3, t)
    });
    thread::sleep(Duration::from_millis(200));
    assert!(!reader.is_finished());
    w.release(T).unwrap();
    let (r3, t) = reader.join().unwrap();
    assert!(t > token, "tokens grow in hold order");
    r3.release(T).unwrap();
    assert_eq!(contender_count(&r1), 0);
}

#[test]
fn a_writer_and_readers_under_contention_never_overlap() {
    let env = Arc::new(Env::new("fifo-rw-contended"));
    let readers_inside = Arc::new(AtomicUsize::new(0));
    let writer_inside = Arc::new(AtomicBool::new(false));
    let max_readers = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..5)
        .map(|i| {
            let (env, readers_inside, writer_inside, max_readers) =
                (env.clone(), readers_inside.clone(), writer_inside.clone(), max_readers.clone());
            thread::spawn(move || {
                let c = env.client();
                let write = i < 2;
                let l = rw(&c, write);
                for _ in 0..8 {
                    l.acquire(T).unwrap();
                    if write {
                        assert!(!writer_inside.swap(true, Ordering::SeqCst), "two writers");
                        assert_eq!(readers_inside.load(Ordering::SeqCst), 0, "a reader with the writer");
                        thread::sleep(Duration::from_millis(3));
                        writer_inside.store(false, Ordering::SeqCst);
                    } else {
                        let n = readers_inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_readers.fetch_max(n, Ordering::SeqCst);
                        assert!(!writer_inside.load(Ordering::SeqCst), "the writer with a reader");
                        thread::sleep(Duration::from_millis(3));
                        readers_inside.fetch_sub(1, Ordering::SeqCst);
                    }
                    l.release(T).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    eprintln!("at most {} readers at once", max_readers.load(Ordering::SeqCst));
}

#[test]
fn a_writer_takes_its_read_side_and_downgrades() {
    let env = Env::new("fifo-rw-downgrade");
    let (c, other) = (env.client(), env.client());
    let w = rw(&c, true);
    let r = FifoLock::read_lock_of(&w, FifoOptions::default()).unwrap();
    let (other_w, other_r) = (rw(&other, true), rw(&other, false));

    // Nobody waiting: after the downgrade other readers come in, writers stay out.
    let token = w.acquire(T).unwrap();
    assert_eq!(r.acquire(T).unwrap(), token, "granted at once, with the write side's token");
    assert_eq!(r.identifier(), w.identifier(), "the write side's identifier by default");
    thread::sleep(Duration::from_millis(100));
    assert!(r.is_locked() && w.is_locked(), "the monitor's check keeps both");
    w.release(T).unwrap();
    assert_eq!(other_w.try_acquire(T).unwrap(), None, "a writer waits for the downgraded read");
    assert_eq!(w.try_acquire(T).unwrap(), None, "no upgrade: our own write side waits for it too");
    assert!(other_r.try_acquire(T).unwrap().is_some(), "other readers come in");
    other_r.release(T).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert!(r.is_locked());
    r.release(T).unwrap();
    assert!(other_w.try_acquire(T).unwrap().is_some(), "free once the read is released");
    other_w.release(T).unwrap();

    // A writer already waiting (CURATOR-276): our read node goes ahead of it.
    let token = w.acquire(T).unwrap();
    let waiting = thread::spawn(move || {
        let t = other_w.acquire(T).unwrap();
        (other_w, t)
    });
    wait_until("the waiting writer", Duration::from_secs(10), || contender_count(&w) == 2);
    r.acquire(T).unwrap();
    let names: Vec<String> = r.contenders(T).unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], w.node_name().unwrap());
    assert_eq!(names[1], r.node_name().unwrap(), "our read node right behind our write node: {names:?}");
    w.release(T).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "the waiting writer stays out while the read is held");
    assert!(r.is_locked());
    r.release(T).unwrap();
    let (other_w, t) = waiting.join().unwrap();
    assert!(t > token, "tokens grow in hold order");
    other_w.release(T).unwrap();

    // The write side not held: an ordinary reader, which waits for the
    // write side's node when that waits in line (here behind a reader).
    assert!(r.acquire(T).unwrap() != token);
    r.release(T).unwrap();
    other_r.acquire(T).unwrap();
    let writer = thread::spawn(move || {
        let t = w.acquire(T).unwrap();
        (w, t)
    });
    wait_until("our waiting write node", Duration::from_secs(10), || contender_count(&r) == 2);
    let err = r.acquire(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.code(), Code::OperationTimeout, "{err}");
    other_r.release(T).unwrap();
    let (w, _) = writer.join().unwrap();
    w.release(T).unwrap();
    assert_eq!(contender_count(&r), 0, "no node left");
}

#[test]
fn read_side_of_bad_handles_gets_specific_codes() {
    let env = Env::new("fifo-rw-of-bad");
    let c = env.client();
    let o = FifoOptions::default;
    let mutex = fifo(&c, "m");
    let of_mutex = FifoLock::read_lock_of(&mutex, o()).err().unwrap();
    assert_eq!(of_mutex.code(), Code::InvalidArgument, "{of_mutex}");
    assert!(of_mutex.message().contains("not the write side"), "{of_mutex}");
    let latch = FifoLock::leader_latch(&c, "m", o()).unwrap();
    assert_eq!(FifoLock::read_lock_of(&latch, o()).err().unwrap().code(), Code::InvalidArgument);
    let read = rw(&c, false);
    assert_eq!(FifoLock::read_lock_of(&read, o()).err().unwrap().code(), Code::InvalidArgument);
    let write = rw(&c, true);
    let no_id = FifoOptions { identifier: Some(String::new()), ..o() };
    assert_eq!(FifoLock::read_lock_of(&write, no_id).err().unwrap().code(), Code::InvalidArgument);
    write.close();
    assert_eq!(FifoLock::read_lock_of(&write, o()).err().unwrap().code(), Code::Closed);
    assert_eq!(read.contenders(T).unwrap().len(), 0, "nothing sent");
}

/// Acquires `l` within two minutes, queueing again when cut off.
fn acquire_patiently(l: &FifoLock) -> i64 {
    loop {
        match l.acquire(Timeout::After(Duration::from_secs(120))) {
            Ok(token) => return token,
            Err(e) if e.code() == Code::ConnectionLoss => continue,
            Err(e) => panic!("{}: {e}", l.identifier()),
        }
    }
}

#[test]
fn ensemble_leader_restart_keeps_the_latch_leader_and_hands_leadership_on_in_order() {
    let mut cluster = ZkCluster::start(3);
    let dir = unique_path("fifo-ensemble-latch");
    let session = Duration::from_secs(20);
    // The leader talks to the ensemble's leader only, so the restart cuts
    // it off; the standbys talk to the followers, so they keep their place.
    let zk_leader = cluster.leader().expect("a leader");
    let followers: Vec<usize> = (0..cluster.size()).filter(|&i| i != zk_leader).collect();
    let options = |id: &str| FifoOptions { identifier: Some(id.to_string()), ..FifoOptions::default() };
    let c = Client::connect(config(&cluster.member_connect_string(zk_leader), &dir, session)).unwrap();
    let leader = FifoLock::leader_latch(&c, "election", options("first")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    leader.set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push(new)))).unwrap();
    let token = leader.acquire(T).unwrap();
    let leading = Arc::new(AtomicUsize::new(1));
    let max_leading = Arc::new(AtomicUsize::new(1));
    let order = Arc::new(Mutex::new(vec![("first".to_string(), token)]));
    let mut standbys = Vec::new();
    for (n, id) in ["second", "third"].into_iter().enumerate() {
        let hosts = cluster.member_connect_string(followers[n]);
        let (dir, leading, max_leading, order) = (dir.clone(), leading.clone(), max_leading.clone(), order.clone());
        standbys.push(thread::spawn(move || {
            let c = Client::connect(config(&hosts, &dir, session)).unwrap();
            let l = FifoLock::leader_latch(&c, "election", options(id)).unwrap();
            let token = acquire_patiently(&l);
            let now = leading.fetch_add(1, Ordering::SeqCst) + 1;
            max_leading.fetch_max(now, Ordering::SeqCst);
            order.lock().unwrap().push((id.to_string(), token));
            thread::sleep(Duration::from_millis(50));
            leading.fetch_sub(1, Ordering::SeqCst);
            l.release(T).unwrap();
        }));
        wait_until("the standby in line", Duration::from_secs(30), || contender_count(&leader) == n + 2);
    }

    cluster.stop_member(zk_leader);
    wait_for_state(&leader, LockState::Suspended);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)), "the remaining members elect a leader");
    cluster.start_member(zk_leader);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)));
    wait_for_state(&leader, LockState::Held);
    assert_eq!(leader.token(), Some(token), "the same leadership");
    assert!(!seen.lock().unwrap().contains(&LockState::Lost), "{:?}", seen.lock().unwrap());
    assert_eq!(leading.load(Ordering::SeqCst), 1, "no standby took over while it led");
    assert_eq!(leader.holder(T).unwrap().unwrap().data, b"first");

    leading.fetch_sub(1, Ordering::SeqCst);
    leader.release(T).unwrap();
    for s in standbys {
        s.join().unwrap();
    }
    assert_eq!(max_leading.load(Ordering::SeqCst), 1, "one leader at a time");
    let order = order.lock().unwrap();
    let ids: Vec<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["first", "second", "third"], "leadership handed on in line");
    assert!(order.windows(2).all(|w| w[0].1 < w[1].1), "tokens increase: {order:?}");
    assert!(leader.contenders(T).unwrap().is_empty(), "no node left");
}

#[test]
fn ensemble_leader_restart_keeps_read_and_write_holds_and_the_queue() {
    let mut cluster = ZkCluster::start(3);
    let dir = unique_path("fifo-ensemble-rw");
    let session = Duration::from_secs(20);
    let zk_leader = cluster.leader().expect("a leader");
    let followers: Vec<usize> = (0..cluster.size()).filter(|&i| i != zk_leader).collect();
    let c = Client::connect(config(&cluster.member_connect_string(zk_leader), &dir, session)).unwrap();
    let w = rw(&c, true);
    let r = FifoLock::read_lock_of(&w, FifoOptions::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for l in [&w, &r] {
        let sink = seen.clone();
        l.set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push(new)))).unwrap();
    }
    let write_token = w.acquire(T).unwrap();
    let read_token = r.acquire(T).unwrap();
    let writer_inside = Arc::new(AtomicBool::new(true));
    let readers_inside = Arc::new(AtomicUsize::new(1));
    let order = Arc::new(Mutex::new(Vec::new()));
    // Behind them in line: a writer, then a reader (which waits for that writer).
    let mut waiters = Vec::new();
    for (n, write) in [true, false].into_iter().enumerate() {
        let hosts = cluster.member_connect_string(followers[n]);
        let (dir, writer_inside, readers_inside, order) =
            (dir.clone(), writer_inside.clone(), readers_inside.clone(), order.clone());
        waiters.push(thread::spawn(move || {
            let c = Client::connect(config(&hosts, &dir, session)).unwrap();
            let l = rw(&c, write);
            acquire_patiently(&l);
            if write {
                assert!(!writer_inside.swap(true, Ordering::SeqCst), "two writers");
                assert_eq!(readers_inside.load(Ordering::SeqCst), 0, "a writer beside a reader");
                order.lock().unwrap().push("writer");
                thread::sleep(Duration::from_millis(50));
                writer_inside.store(false, Ordering::SeqCst);
            } else {
                assert!(!writer_inside.load(Ordering::SeqCst), "a reader beside a writer");
                order.lock().unwrap().push("reader");
            }
            l.release(T).unwrap();
        }));
        wait_until("the waiter in line", Duration::from_secs(30), || contender_count(&w) == n + 3);
    }

    cluster.stop_member(zk_leader);
    wait_for_state(&w, LockState::Suspended);
    wait_for_state(&r, LockState::Suspended);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)), "the remaining members elect a leader");
    cluster.start_member(zk_leader);
    assert!(cluster.wait_for_quorum(Duration::from_secs(60)));
    wait_for_state(&w, LockState::Held);
    wait_for_state(&r, LockState::Held);
    assert_eq!((w.token(), r.token()), (Some(write_token), Some(read_token)), "the same holds");
    assert!(!seen.lock().unwrap().contains(&LockState::Lost), "{:?}", seen.lock().unwrap());
    assert!(order.lock().unwrap().is_empty(), "nobody got in while they held");

    // Downgrade: the waiting writer stays out until the read side goes.
    writer_inside.store(false, Ordering::SeqCst);
    w.release(T).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(order.lock().unwrap().is_empty(), "the writer got in beside the read side");
    readers_inside.fetch_sub(1, Ordering::SeqCst);
    r.release(T).unwrap();
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["writer", "reader"], "in line");
    assert!(w.contenders(T).unwrap().is_empty(), "no node left");
}

#[test]
fn a_write_side_released_during_an_outage_leaves_its_read_side_held() {
    let mut server = ZkServer::start();
    let dir = unique_path("fifo-rw-downgrade-outage");
    let c = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let w = rw(&c, true);
    let r = FifoLock::read_lock_of(&w, FifoOptions::default()).unwrap();
    let token = w.acquire(T).unwrap();
    r.acquire(T).unwrap();
    server.stop();
    wait_for_state(&r, LockState::Suspended);
    // The write node's delete goes on in the background once reconnected.
    let err = w.release(Timeout::After(Duration::from_millis(300))).unwrap_err();
    assert!(matches!(err.code(), Code::ConnectionLoss | Code::OperationTimeout), "{err}");
    server.restart();
    wait_for_state(&r, LockState::Held);
    assert_eq!(r.token(), Some(token));
    let other = Client::connect(config(&server.connect_string(), &dir, Duration::from_secs(30))).unwrap();
    let rival = rw(&other, true);
    wait_until("the write node's delete", Duration::from_secs(10), || contender_count(&r) == 1);
    assert!(r.is_locked(), "the read side outlived its write side: {:?}", r.lost_reason());
    assert_eq!(rival.try_acquire(T).unwrap(), None, "writers stay out");
    r.release(T).unwrap();
    assert!(rival.try_acquire(T).unwrap().is_some());
}
