//! Lock with fencing: client processes contend for one lock (k3zkutil
//! layout); each holder does guarded writes of its token to a data node.
//! Faults: leader kills, the holder paused (SIGSTOP) past the session
//! timeout, the holder partitioned past the session timeout, an operator
//! deleting the held lock node (the holder's session lives on).
//!
//! Checks: tokens strictly increase in hold order; the data node's writes,
//! in version order, never go back to an older token; no write of a holder
//! lands after a newer holder acquired; a paused or partitioned holder
//! reports LOST once it runs again. Reports the overlap of believed-held
//! intervals (a stale holder believes until it learns), all of it covered
//! by rejected writes.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use zkutil::{Client, Code, Config, CreateOptions, Lock, LockOptions, LockState, Timeout};

use crate::common::zk::unique_path;
use crate::history::{Report, now_ns};
use crate::proxy::Link;
use crate::world::{self, DIR_ENV, HOSTS_ENV, SECONDS_ENV, World};

const CLIENTS: usize = 3;
const OPERATOR_DELETES: usize = 15;
const SESSION: Duration = Duration::from_millis(2000);
const T: Timeout = Timeout::After(Duration::from_secs(5));

fn config(hosts: &str, dir: &str) -> Config {
    Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(SESSION),
        lock_dir: Some(format!("{dir}/")),
        ..Config::default()
    }
}

/// A client process: acquire, three guarded writes, release, until the
/// time is up. A new session after the old one ended (zkutil never renews
/// one behind the caller's back). Output lines:
/// `acquired TOKEN T`, `write TOKEN T0 T1 ok VERSION|CODE`,
/// `state TOKEN STATE T` (no longer HELD), `released TOKEN T CODE STATE`.
pub fn child() {
    let (hosts, dir) = (world::env(HOSTS_ENV), world::env(DIR_ENV));
    let seconds: u64 = world::env(SECONDS_ENV).parse().unwrap();
    let end = Instant::now() + Duration::from_secs(seconds);
    let data = format!("{dir}/data");
    while Instant::now() < end {
        let Ok(client) = Client::connect(config(&hosts, &dir)) else {
            thread::sleep(Duration::from_millis(200));
            continue;
        };
        let lock = Lock::new(&client, "res", LockOptions::default()).unwrap();
        while Instant::now() < end && !client.state().is_terminal() {
            let token = match lock.acquire(Timeout::After(Duration::from_secs(2))) {
                Ok(token) => token,
                Err(_) => continue,
            };
            println!("acquired {token} {}", now_ns());
            // The program's own belief: checked after every write, as a
            // real holder would before its next step.
            for _ in 0..3 {
                let t0 = now_ns();
                let result = lock.guarded_set(&data, token.to_string().as_bytes(), None, T);
                let t1 = now_ns();
                match result {
                    Ok(stat) => println!("write {token} {t0} {t1} ok {}", stat.version),
                    Err(e) => println!("write {token} {t0} {t1} {:?}", e.code()),
                }
                let state = lock.state();
                if state != LockState::Held {
                    println!("state {token} {state:?} {}", now_ns());
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let t = now_ns();
            let code = lock.release(T).err().map_or(Code::Ok, |e| e.code());
            // A release can be how the program learns (the session ended).
            println!("released {token} {t} {code:?} {:?}", lock.state());
        }
        client.close();
    }
}

struct Hold {
    pid: u32,
    token: i64,
    start: u128,
    /// When the process stopped believing it held the lock: its release
    /// call, or the first state other than HELD it saw.
    end: u128,
    lost_seen_at: Option<u128>,
}

struct Write {
    pid: u32,
    token: i64,
    start: u128,
    ok_version: Option<i32>,
}

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let dir = unique_path("faults-lock");
    let direct = Client::connect(config(&world.hosts(), &dir)).unwrap();
    direct.create(&format!("{dir}/data"), b"0", &CreateOptions::persistent().with_parents(), T).unwrap();
    let seconds = 36;
    let routes: Vec<usize> = (0..CLIENTS).map(|_| world.new_route()).collect();
    let children: Vec<_> = routes
        .iter()
        .map(|&r| {
            let env = [(HOSTS_ENV, world.route(r).hosts()), (DIR_ENV, dir.clone()), (SECONDS_ENV, seconds.to_string())];
            world.spawn("lock", &env)
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let lock_path = format!("{dir}/res");
    let holder_pid = || -> Option<u32> {
        let (data, _) = direct.get(&lock_path, T).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&data).ok()?;
        let id = value.get("id")?.as_str()?.to_string();
        zkutil::lockid::parse_lock_id(&id).process_id.map(|p| p as u32)
    };
    let wait_for_holder = || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = holder_pid().filter(|p| pids.contains(p)) {
                return Some(pid);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    };
    // (pid, fault start): the hold in progress then must end in LOST.
    let mut stale: Vec<(u32, u128)> = Vec::new();

    thread::sleep(Duration::from_secs(2));
    let leader = world.kill_leader();
    report.faults.push(format!("leader {leader} killed (SIGKILL)"));
    thread::sleep(world.rng.between(Duration::from_millis(500), Duration::from_secs(2)));
    world.restart(leader);

    thread::sleep(Duration::from_secs(1));
    if let Some(pid) = wait_for_holder() {
        let pause = world.rng.between(SESSION * 2, SESSION * 3);
        stale.push((pid, now_ns()));
        world::signal(pid, "STOP");
        thread::sleep(pause);
        world::signal(pid, "CONT");
        report.faults.push(format!("holder process paused (SIGSTOP) for {} ms", pause.as_millis()));
    }

    thread::sleep(Duration::from_secs(2));
    if let Some(pid) = wait_for_holder() {
        let route = routes[pids.iter().position(|&p| p == pid).unwrap()];
        let cut = world.rng.between(SESSION * 2, SESSION * 3);
        stale.push((pid, now_ns()));
        world.route(route).set(Link::Blackhole);
        thread::sleep(cut);
        world.route(route).set(Link::Forward);
        report.faults.push(format!("holder partitioned from every server for {} ms", cut.as_millis()));
    }

    thread::sleep(Duration::from_secs(2));
    let leader = world.kill_leader();
    report.faults.push(format!("leader {leader} killed (SIGKILL)"));
    thread::sleep(world.rng.between(Duration::from_millis(500), Duration::from_secs(2)));
    world.restart(leader);

    // An operator deletes the held lock node: the holder's session lives
    // on, so only its watch and the guarded writes' check stop it.
    let mut deleted = 0;
    for _ in 0..OPERATOR_DELETES {
        thread::sleep(world.rng.between(Duration::from_millis(100), Duration::from_millis(400)));
        if direct.delete(&lock_path, None, T).is_ok() {
            deleted += 1;
        }
    }
    report.faults.push(format!("lock node deleted by an operator while held, {deleted} times"));

    let mut holds: Vec<Hold> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    for (child, &pid) in children.into_iter().zip(&pids) {
        let (ok, lines) = world::collect(child);
        report.check(ok, || format!("client process {pid} failed"));
        parse(pid, &lines, &mut holds, &mut writes);
    }
    direct.close();
    check(&mut report, &holds, &writes, &stale);
    report
}

fn parse(pid: u32, lines: &[String], holds: &mut Vec<Hold>, writes: &mut Vec<Write>) {
    let mut open: HashMap<i64, usize> = HashMap::new();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(kind), Some(token)) = (f.first(), f.get(1).and_then(|t| t.parse::<i64>().ok())) else { continue };
        let at = |i: usize| f[i].parse::<u128>().unwrap();
        match *kind {
            "acquired" => {
                open.insert(token, holds.len());
                holds.push(Hold { pid, token, start: at(2), end: u128::MAX, lost_seen_at: None });
            }
            "write" => writes.push(Write {
                pid,
                token,
                start: at(2),
                ok_version: (f[4] == "ok").then(|| f[5].parse().unwrap()),
            }),
            "state" => {
                if let Some(&i) = open.get(&token) {
                    let t = at(3);
                    if f[2] != "Held" {
                        holds[i].end = holds[i].end.min(t);
                    }
                    if f[2] == "Lost" {
                        holds[i].lost_seen_at.get_or_insert(t);
                    }
                }
            }
            "released" => {
                if let Some(i) = open.remove(&token) {
                    holds[i].end = holds[i].end.min(at(2));
                    if matches!(f[3], "LockLost" | "SessionExpired") || f[4] == "Lost" {
                        holds[i].lost_seen_at.get_or_insert(at(2));
                    }
                }
            }
            _ => {}
        }
    }
}

fn check(report: &mut Report, holds: &[Hold], writes: &[Write], stale: &[(u32, u128)]) {
    report.operations = holds.len() + writes.len();
    let mut by_start: Vec<&Hold> = holds.iter().collect();
    by_start.sort_by_key(|h| h.start);
    for pair in by_start.windows(2) {
        report.check(pair[0].token < pair[1].token, || {
            format!(
                "tokens out of hold order: {} (pid {}) then {} (pid {})",
                pair[0].token, pair[0].pid, pair[1].token, pair[1].pid
            )
        });
    }
    let mut landed: Vec<&Write> = writes.iter().filter(|w| w.ok_version.is_some()).collect();
    landed.sort_by_key(|w| w.ok_version);
    for pair in landed.windows(2) {
        report.check(pair[0].token <= pair[1].token, || {
            format!(
                "data went back from token {} to {} (versions {:?}, {:?})",
                pair[0].token, pair[1].token, pair[0].ok_version, pair[1].ok_version
            )
        });
    }
    for w in &landed {
        if let Some(newer) = holds.iter().find(|h| h.token > w.token && h.start < w.start) {
            report.anomalies.push(format!(
                "a write of token {} (pid {}) landed after token {} (pid {}) was acquired",
                w.token, w.pid, newer.token, newer.pid
            ));
        }
    }
    // Believed-held overlaps: a stale holder believes until it is told;
    // its window runs from the first newer acquisition until then.
    let windows: Vec<Duration> = holds
        .iter()
        .filter_map(|a| {
            let first_newer = holds.iter().filter(|b| b.token > a.token && b.start < a.end).map(|b| b.start).min()?;
            Some(Duration::from_nanos((a.end.min(crate::history::now_ns()) - first_newer) as u64))
        })
        .collect();
    let rejected = writes.iter().filter(|w| w.ok_version.is_none()).count();
    let (mut stale_told, mut told_after) = (0, Vec::new());
    for &(pid, fault) in stale {
        // The hold in progress when the fault began (none: it had just
        // released) must end with the holder told it lost the lock.
        let Some(hold) = holds.iter().find(|h| h.pid == pid && h.start <= fault && h.end > fault) else { continue };
        stale_told += 1;
        if let Some(t) = hold.lost_seen_at {
            told_after.push(Duration::from_nanos((t - fault) as u64));
        }
        report.check(hold.lost_seen_at.is_some() && hold.end != u128::MAX, || {
            format!("the stale holder (pid {pid}, token {}) was never told it lost the lock", hold.token)
        });
    }
    report.figure("holds", holds.len().to_string());
    report.figure("stale holders told LOST", format!("{stale_told} of {}", stale.len()));
    report.delays("stale holder told, after the fault began", &told_after);
    report.figure("guarded writes landed / rejected or failed", format!("{} / {rejected}", landed.len()));
    report.delays("believed-held overlap windows (every write in them rejected)", &windows);
}
