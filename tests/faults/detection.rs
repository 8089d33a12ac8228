//! Detection delays: a lock holder partitioned from every server (a
//! blackhole: silence, not a reset). Shorter than the session timeout:
//! SUSPENDED then HELD, never LOST. Longer: SUSPENDED then LOST. Reports
//! how long after the partition began (or healed) each state was seen.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::{Client, Config, Lock, LockOptions, LockState, Timeout};

use crate::common::zk::unique_path;
use crate::history::Report;
use crate::proxy::Link;
use crate::world::World;

const SESSION: Duration = Duration::from_millis(3000);
const SHORT_ROUNDS: usize = 3;
const LONG_ROUNDS: usize = 2;

type Seen = Arc<Mutex<Vec<(LockState, Instant)>>>;

fn first(seen: &Seen, state: LockState, after: Instant) -> Option<Instant> {
    seen.lock().unwrap().iter().find(|(s, at)| *s == state && *at >= after).map(|(_, at)| *at)
}

fn wait_for(seen: &Seen, state: LockState, after: Instant, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(at) = first(seen, state, after) {
            return Some(at);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let dir = unique_path("faults-detect");
    let route = world.new_route();
    let (mut suspended_after, mut held_after_heal, mut lost_after) = (Vec::new(), Vec::new(), Vec::new());
    let mut short_suspended = 0;
    for round in 0..SHORT_ROUNDS + LONG_ROUNDS {
        let long = round >= SHORT_ROUNDS;
        let config = Config {
            hosts: Some(world.route(route).hosts()),
            session_timeout: Some(SESSION),
            lock_dir: Some(format!("{dir}/")),
            ..Config::default()
        };
        let client = Client::connect(config).unwrap();
        let lock = Lock::new(&client, "res", LockOptions::default()).unwrap();
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        lock.set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push((new, Instant::now())))));
        lock.acquire(Timeout::After(Duration::from_secs(10))).unwrap();
        thread::sleep(Duration::from_millis(200));

        let cut = if long {
            world.rng.between(SESSION * 5 / 2, SESSION * 3)
        } else {
            world.rng.between(SESSION * 7 / 10, SESSION * 85 / 100)
        };
        let began = Instant::now();
        world.route(route).set(Link::Blackhole);
        thread::sleep(cut);
        world.route(route).set(Link::Forward);
        let healed = Instant::now();
        report.faults.push(format!(
            "holder partitioned for {} ms ({})",
            cut.as_millis(),
            if long { "longer" } else { "shorter" }
        ));
        report.operations += 1;

        if let Some(at) = first(&seen, LockState::Suspended, began) {
            suspended_after.push(at - began);
        }
        if long {
            match wait_for(&seen, LockState::Lost, began, SESSION * 2) {
                Some(at) => lost_after.push(at - began),
                None => report.anomalies.push(format!("a {} ms partition never gave LOST", cut.as_millis())),
            }
        } else {
            if first(&seen, LockState::Suspended, began).is_some() {
                short_suspended += 1;
                match wait_for(&seen, LockState::Held, healed, SESSION * 2) {
                    Some(at) => held_after_heal.push(at - healed),
                    None => report.anomalies.push(format!("not HELD again after a {} ms partition", cut.as_millis())),
                }
            }
            thread::sleep(Duration::from_millis(300));
            report.check(first(&seen, LockState::Lost, began).is_none(), || {
                format!("a {} ms partition (session {} ms) gave LOST", cut.as_millis(), SESSION.as_millis())
            });
        }
        let _ = lock.release(Timeout::After(Duration::from_secs(5)));
        drop(lock);
        client.close();
    }
    report.figure("short partitions seen as SUSPENDED", format!("{short_suspended} of {SHORT_ROUNDS}"));
    report.delays("SUSPENDED after the partition began", &suspended_after);
    report.delays("HELD again after healing (short)", &held_after_heal);
    report.delays("LOST after the partition began (long)", &lost_after);
    report
}
