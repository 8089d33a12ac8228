//! `zkutil-bench contend`: the contenders the contention benchmarks start
//! as child processes (see `contention`). One contender per ROLE (`fifo`:
//! the FIFO mutex; `lock`: the k3zkutil-layout lock; `read`/`write`: a side
//! of the read-write lock), each a thread with its own handle on one lock,
//! all on this process's one client. Prints `ready`, waits for a line on
//! stdin, takes ROUNDS turns per contender (acquire, release at once),
//! then prints every turn's stamps (`events::Event` lines).
//! `CuratorContenders.java` is the same for Curator's recipes.
//!
//! Usage: zkutil-bench contend HOSTS LOCK_DIR NAME ROUNDS ROLE...

use std::io::{BufRead, Write};
use std::thread;
use std::time::Duration;

use zkutil::{Client, Config, FifoLock, FifoOptions, Lock, LockOptions, Timeout};

use crate::events::{Event, Kind, monotonic_ns};

const T: Timeout = Timeout::After(Duration::from_secs(60));

/// A lock the contenders take turns on.
trait Turn: Send + Sync {
    fn take(&self);
    fn give(&self);
}

impl Turn for FifoLock {
    fn take(&self) {
        self.acquire(T).expect("fifo acquire");
    }
    fn give(&self) {
        self.release(T).expect("fifo release");
    }
}

impl Turn for Lock {
    fn take(&self) {
        self.acquire(T).expect("lock acquire");
    }
    fn give(&self) {
        self.release(T).expect("lock release");
    }
}

fn handle(client: &Client, name: &str, role: &str) -> Box<dyn Turn> {
    let options = FifoOptions::default();
    match role {
        "fifo" => Box::new(FifoLock::new(client, name, options).expect("fifo")),
        "read" => Box::new(FifoLock::read_lock(client, name, options).expect("read lock")),
        "write" => Box::new(FifoLock::write_lock(client, name, options).expect("write lock")),
        "lock" => Box::new(Lock::new(client, name, LockOptions::default()).expect("lock")),
        other => panic!("unknown role {other}"),
    }
}

pub fn main(args: &[String]) {
    let [hosts, lock_dir, name, rounds, roles @ ..] = args else {
        panic!("usage: zkutil-bench contend HOSTS LOCK_DIR NAME ROUNDS ROLE...");
    };
    let rounds: usize = rounds.parse().expect("ROUNDS");
    let config = Config {
        hosts: Some(hosts.clone()),
        lock_dir: Some(lock_dir.clone()),
        session_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    };
    let client = Client::connect(config).expect("connect");
    let turns: Vec<Box<dyn Turn>> = roles.iter().map(|role| handle(&client, name, role)).collect();
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    if std::io::stdin().lock().read_line(&mut String::new()).expect("stdin") == 0 {
        // The bench went away before the start: nothing to measure.
        drop(turns);
        client.close();
        return;
    }

    let events: Vec<Event> = thread::scope(|s| {
        let threads: Vec<_> = turns
            .iter()
            .zip(roles)
            .enumerate()
            .map(|(who, (turn, role))| s.spawn(move || take_turns(turn.as_ref(), who, role, rounds)))
            .collect();
        threads.into_iter().flat_map(|t| t.join().expect("contender")).collect()
    });
    let mut out = std::io::stdout().lock();
    for event in &events {
        writeln!(out, "{event}").expect("stdout");
    }
    drop(turns);
    client.close();
}

/// `rounds` turns; the release is stamped just before the release call
/// (the hand-off starts there), the hold just after the acquire returns.
fn take_turns(turn: &dyn Turn, who: usize, role: &str, rounds: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(3 * rounds);
    let mut stamp = |kind| events.push(Event { at_ns: monotonic_ns(), who, role: role.to_string(), kind });
    for _ in 0..rounds {
        stamp(Kind::Want);
        turn.take();
        stamp(Kind::Held);
        stamp(Kind::Release);
        turn.give();
    }
    events
}
