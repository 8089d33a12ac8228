//! Mutual exclusion across processes: this test binary re-runs itself as
//! several child processes that contend for one lock, each recording
//! (token, start, end) of every hold. No two holds overlap, and the
//! fencing tokens strictly increase in the order the lock was held.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::zk::{shared_server, unique_path};
use zkutil::{Client, Config, Lock, LockOptions, Timeout};

const CHILD_ENV: &str = "ZKU_LOCK_CHILD";
const ROUNDS: usize = 25;
const PROCESSES: usize = 4;

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// The child's body: runs only when re-invoked with ZKU_LOCK_CHILD set to
/// "HOSTS LOCK_DIR". Prints one line per hold: `hold TOKEN START END PID`.
#[test]
fn child_process_body() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (hosts, lock_dir) = spec.split_once(' ').unwrap();
    let config = Config { hosts: Some(hosts.into()), lock_dir: Some(lock_dir.into()), ..Config::default() };
    let client = Client::connect(config).unwrap();
    let lock = Lock::new(&client, "shared", LockOptions::default()).unwrap();
    for _ in 0..ROUNDS {
        let token = lock.acquire(Timeout::After(Duration::from_secs(120))).unwrap();
        let start = now_ns();
        std::thread::sleep(Duration::from_millis(1));
        let end = now_ns();
        lock.release(Timeout::After(Duration::from_secs(10))).unwrap();
        println!("hold {token} {start} {end} {}", std::process::id());
    }
}

#[test]
fn processes_exclude_each_other_and_tokens_follow_the_hold_order() {
    let hosts = shared_server().connect_string();
    let lock_dir = format!("{}/", unique_path("processes"));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child_process_body", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, format!("{hosts} {lock_dir}"))
                .output_spawn()
        })
        .collect();
    let mut holds: Vec<(i64, u128, u128, u32)> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
        // The harness may print "test child_process_body ... " before the
        // first line of ours, on the same line.
        for line in String::from_utf8(out.stdout).unwrap().lines().filter_map(|l| l.find("hold ").map(|i| &l[i..])) {
            let f: Vec<&str> = line.split_whitespace().collect();
            holds.push((f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap(), f[4].parse().unwrap()));
        }
    }
    assert_eq!(holds.len(), PROCESSES * ROUNDS, "every child reported every hold");
    holds.sort_by_key(|h| h.1);
    for w in holds.windows(2) {
        assert!(w[0].2 <= w[1].1, "overlapping holds: {:?} {:?}", w[0], w[1]);
        assert!(w[0].0 < w[1].0, "tokens increase in hold order: {:?} then {:?}", w[0], w[1]);
    }
    let pids: std::collections::HashSet<u32> = holds.iter().map(|h| h.3).collect();
    assert_eq!(pids.len(), PROCESSES);
}

trait SpawnPiped {
    fn output_spawn(&mut self) -> std::process::Child;
}

impl SpawnPiped for Command {
    fn output_spawn(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    }
}
