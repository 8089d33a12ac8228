//! Resource soak: 1,000 clients opened and closed (half with a state
//! callback), 10,000 lock cycles (acquire + release, a fresh handle every
//! 10 cycles, half with a state callback), 1,000 readers (half with a
//! callback), 1,000 waits (get_next / wait_absent, half completing,
//! half timing out) and 1,000 registration nodes (half with a callback,
//! half with a pollable descriptor) created and freed, and 1,000
//! operations (`op::Op`: half collected when done, half dropped while
//! running; each one's descriptor, and every other one's client's and
//! reader's descriptor), each in a loop. Before and after,
//! measured and printed: this process's threads, open descriptors and
//! RSS; the server's watches (`wchc`) and connections (`cons`); the nodes
//! under the test's root.
//!
//! Tolerances: threads and descriptors exactly back to the baseline (or
//! below) after a settle period: tokio's blocking threads linger for 10 s
//! after their last job, so the settle waits up to [`SETTLE`]. RSS within
//! [`RSS_TOLERANCE_KIB`]: glibc keeps freed memory in per-thread arenas, so RSS
//! moves without any leak (by about 100 KiB in all here, but the arenas
//! in use depend on which threads ran what). 8 MiB is about 800 bytes per
//! lock cycle and 8 KiB per client, reader or wait: a leaked handle, task,
//! watcher or buffer shows; a leak of a few bytes per cycle would not (the
//! exact checks are the thread, descriptor, watch and connection counts).
//! The baseline is taken after a warm-up of every loop, so threads that
//! appear once (the runtime's) are in it. The callback delivery pool starts
//! its threads on demand, as many as busy callbacks need, at most
//! [`CALLBACK_POOL_MAX`] by design: they are counted apart and checked
//! against that bound, not against the baseline.
//!
//! One test on purpose: the figures are process-wide.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::zk::{four_letter, shared_server, unique_path};
use zkutil::op::Op;
use zkutil::reader::Reader;
use zkutil::registration::{Registration, RegistrationOptions, RegistrationState};
use zkutil::{Client, Code, Config, CreateOptions, Lock, LockOptions, Timeout, wait};

const CLIENTS: usize = 1_000;
const LOCK_CYCLES: usize = 10_000;
const READERS: usize = 1_000;
const WAITS: usize = 1_000;
const REGISTRATIONS: usize = 1_000;
const OPERATIONS: usize = 1_000;
/// Each loop runs this many rounds before the baseline.
const WARM_UP: usize = 20;

const SETTLE: Duration = Duration::from_secs(15);
const RSS_TOLERANCE_KIB: u64 = 8 * 1024;

const TIMEOUT: Timeout = Timeout::After(Duration::from_secs(10));
/// A wait meant to time out.
const SHORT: Timeout = Timeout::After(Duration::from_millis(2));

/// The callback delivery pool's bound (`src/dispatch.rs`).
const CALLBACK_POOL_MAX: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Process {
    /// Threads other than the callback delivery pool's.
    threads: u64,
    /// The callback delivery pool's threads (`zkutil-callback`).
    callback_threads: u64,
    fds: u64,
    rss_kib: u64,
}

fn process() -> Process {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        let line =
            status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in /proc/self/status"));
        line[name.len()..].trim().trim_end_matches(" kB").trim().parse().unwrap()
    };
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let (mut threads, mut callback_threads) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        match std::fs::read_to_string(task.path().join("comm")) {
            Ok(name) if name.trim_end() == "zkutil-callback" => callback_threads += 1,
            // A thread that ended meanwhile counts as nothing.
            Err(_) => {}
            Ok(_) => threads += 1,
        }
    }
    Process { threads, callback_threads, fds, rss_kib: field("VmRSS:") }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Server {
    /// Watched paths over all sessions (`wchc`).
    watches: u64,
    /// Client connections (`cons`), the four-letter word's own excluded.
    connections: u64,
}

fn server(port: u16) -> Server {
    let wchc = four_letter(port, "wchc").expect("wchc");
    let watches = wchc.lines().filter(|l| l.trim_start().starts_with('/')).count() as u64;
    let cons = four_letter(port, "cons").expect("cons");
    let connections = cons.lines().filter(|l| l.contains("queued=")).count() as u64;
    Server { watches, connections: connections.saturating_sub(1) }
}

struct Fixture {
    port: u16,
    config: Config,
    root: String,
    /// A JSON object node for the readers and waits.
    value: String,
    absent: String,
}

impl Fixture {
    fn client(&self) -> Client {
        Client::connect(self.config.clone()).expect("connect")
    }
}

/// A client opened, used and closed; every other one with a state callback.
fn open_close_client(f: &Fixture, i: usize) {
    let c = f.client();
    if i % 2 == 0 {
        c.set_state_callback(Some(Box::new(|_, _| {}))).unwrap();
    }
    c.exists(&f.value, TIMEOUT).unwrap();
    c.close();
}

/// `cycles` acquire + release; a fresh handle every 10 cycles, every
/// other handle with a state callback.
fn lock_cycles(client: &Client, cycles: usize) {
    static HANDLES: AtomicU64 = AtomicU64::new(0);
    for batch in 0..cycles.div_ceil(10) {
        let lock = Lock::new(client, "soak", LockOptions::default()).unwrap();
        if HANDLES.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
            lock.set_state_callback(Some(Box::new(|_, _| {}))).unwrap();
        }
        for _ in 0..10.min(cycles - batch * 10) {
            lock.acquire(TIMEOUT).unwrap();
            lock.release(TIMEOUT).unwrap();
        }
        lock.close();
    }
}

/// A reader opened, read and closed; every other one with a callback.
fn reader_round(f: &Fixture, client: &Client, i: usize) {
    let seen = Arc::new(AtomicU64::new(0));
    let callback: Option<zkutil::reader::ReaderCallback> = if i % 2 == 0 {
        let seen = seen.clone();
        Some(Box::new(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        }))
    } else {
        None
    };
    let reader = Reader::new(client, &f.value, callback, TIMEOUT).unwrap();
    assert_eq!(reader.get_pointer("/n").unwrap(), "1");
    reader.close();
}

/// One of four waits: two complete at once, two time out.
fn wait_round(f: &Fixture, client: &Client, i: usize) {
    match i % 4 {
        0 => {
            wait::get_next(client, &f.value, -1, false, TIMEOUT).unwrap();
        }
        1 => {
            let e = wait::get_next(client, &f.value, i32::MAX - 1, false, SHORT).unwrap_err();
            assert_eq!(e.code(), Code::OperationTimeout, "{e}");
        }
        2 => wait::wait_absent(client, &f.absent, TIMEOUT).unwrap(),
        _ => {
            let e = wait::wait_absent(client, &f.value, SHORT).unwrap_err();
            assert_eq!(e.code(), Code::OperationTimeout, "{e}");
        }
    }
}

/// An operation (a wait on its own thread, with its descriptor): collected
/// once done, or dropped while it runs (cancelled). Every other round also
/// asks a new client and a new reader for their descriptors.
fn operation_round(f: &Fixture, client: &Client, i: usize) {
    if i % 2 == 0 {
        let (waiter, path) = (client.clone(), f.absent.clone());
        let op = Op::start(client, None, move || wait::wait_absent(&waiter, &path, TIMEOUT)).unwrap();
        while op.outcome().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        op.outcome().unwrap().unwrap();
    } else {
        let (waiter, path) = (client.clone(), f.value.clone());
        let op = Op::start(client, None, move || wait::wait_absent(&waiter, &path, TIMEOUT)).unwrap();
        drop(op);
        let c = f.client();
        c.pollable_fd().unwrap();
        let reader = Reader::new(&c, &f.value, None, TIMEOUT).unwrap();
        reader.pollable_fd().unwrap();
        reader.close();
        c.close();
    }
}

/// A registration node created and dropped (which deletes it); every
/// other one with a callback, the others with a pollable descriptor.
fn registration_round(f: &Fixture, client: &Client, i: usize) {
    let path = format!("{}/members/m{i}", f.root);
    let registration = Registration::new(client, &path, b"host", RegistrationOptions::default(), TIMEOUT).unwrap();
    assert_eq!(registration.state(), RegistrationState::Present);
    if i % 2 == 0 {
        registration.set_state_callback(Some(Box::new(|_, _| {}))).unwrap();
    } else {
        registration.pollable_fd().unwrap();
    }
}

/// Polls until threads and descriptors are back to `base` (or below), at
/// most [`SETTLE`]; returns what it saw last.
fn settle(base: Process) -> Process {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = process();
        if (now.threads <= base.threads && now.fds <= base.fds) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls until the server's figures are back to `base`, at most 10 s
/// (the server closes a session's connection after its reply).
fn settle_server(port: u16, base: Server) -> Server {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = server(port);
        if now == base || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// All paths under `root` (not `root` itself), depth first.
fn tree(client: &Client, root: &str) -> Vec<String> {
    let (children, _) = client.children(root, TIMEOUT).unwrap();
    let mut all = Vec::new();
    for child in children {
        let path = format!("{root}/{child}");
        all.extend(tree(client, &path));
        all.push(path);
    }
    all
}

#[test]
fn resources_stay_flat() {
    let started = Instant::now();
    let zk = shared_server();
    let root = unique_path("soak");
    let config =
        Config { hosts: Some(zk.connect_string()), lock_dir: Some(format!("{root}/lock/")), ..Config::default() };
    let f = Fixture { port: zk.port(), config, value: format!("{root}/value"), absent: format!("{root}/absent"), root };
    let main = f.client();
    let persistent = CreateOptions::default();
    main.create(&f.root, b"", &persistent, TIMEOUT).unwrap();
    main.create(&f.value, br#"{"n": 1}"#, &persistent, TIMEOUT).unwrap();

    for i in 0..WARM_UP {
        open_close_client(&f, i);
        lock_cycles(&main, 10);
        reader_round(&f, &main, i);
        wait_round(&f, &main, i);
        registration_round(&f, &main, i);
        operation_round(&f, &main, i);
    }
    let base = settle(process());
    let base_server = settle_server(f.port, server(f.port));
    // The counts see what they count: a reader holds a watch, a client a connection.
    let reader = Reader::new(&main, &f.value, None, TIMEOUT).unwrap();
    let other = f.client();
    let busier = Server { watches: base_server.watches + 1, connections: base_server.connections + 1 };
    assert_eq!(settle_server(f.port, busier), busier, "wchc and cons see a reader and a client");
    reader.close();
    other.close();
    assert_eq!(settle_server(f.port, base_server), base_server);
    println!("baseline after warm-up: {base:?}, server {base_server:?}");

    let phase = |name: &str, run: &dyn Fn()| {
        let t = Instant::now();
        run();
        let after = settle(base);
        let after_server = settle_server(f.port, base_server);
        println!(
            "{name}: {:.1} s; threads {} -> {} (+ callback pool {} -> {}), fds {} -> {}, RSS {} -> {} KiB; server watches {} -> {}, connections {} -> {}",
            t.elapsed().as_secs_f64(),
            base.threads,
            after.threads,
            base.callback_threads,
            after.callback_threads,
            base.fds,
            after.fds,
            base.rss_kib,
            after.rss_kib,
            base_server.watches,
            after_server.watches,
            base_server.connections,
            after_server.connections
        );
        assert!(after.threads <= base.threads, "{name}: threads {} -> {}", base.threads, after.threads);
        assert!(
            after.callback_threads <= CALLBACK_POOL_MAX,
            "{name}: {} callback delivery threads (at most {CALLBACK_POOL_MAX})",
            after.callback_threads
        );
        assert!(after.fds <= base.fds, "{name}: descriptors {} -> {}", base.fds, after.fds);
        assert!(
            after.rss_kib <= base.rss_kib + RSS_TOLERANCE_KIB,
            "{name}: RSS {} -> {} KiB (tolerance {RSS_TOLERANCE_KIB} KiB)",
            base.rss_kib,
            after.rss_kib
        );
        assert_eq!(after_server, base_server, "{name}: server side");
    };
    phase("1000 clients", &|| (0..CLIENTS).for_each(|i| open_close_client(&f, i)));
    phase("10000 lock cycles", &|| lock_cycles(&main, LOCK_CYCLES));
    phase("1000 readers", &|| (0..READERS).for_each(|i| reader_round(&f, &main, i)));
    phase("1000 waits", &|| (0..WAITS).for_each(|i| wait_round(&f, &main, i)));
    phase("1000 operations", &|| (0..OPERATIONS).for_each(|i| operation_round(&f, &main, i)));
    phase("1000 registrations", &|| (0..REGISTRATIONS).for_each(|i| registration_round(&f, &main, i)));

    let lock_dir = format!("{}/lock", f.root);
    let members = format!("{}/members", f.root);
    let left: Vec<String> =
        tree(&main, &f.root).into_iter().filter(|p| *p != f.value && *p != lock_dir && *p != members).collect();
    assert!(left.is_empty(), "nodes left behind: {left:?}");
    for path in tree(&main, &f.root) {
        main.delete(&path, None, TIMEOUT).unwrap();
    }
    main.delete(&f.root, None, TIMEOUT).unwrap();
    main.close();
    println!("soak: {:.1} s in all", started.elapsed().as_secs_f64());
}
