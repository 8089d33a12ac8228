//! CAS counter: client processes increment one node through `cas::update`
//! while leaders are killed and clients partitioned (one shorter, one
//! longer than the session timeout). Checks: the final value is at least
//! the acknowledged increments and at most those plus the ones of unknown
//! outcome; no value was acknowledged twice.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use zkutil::cas::{self, CasOptions, Decision};
use zkutil::{Client, Code, Config, Timeout};

use crate::common::zk::unique_path;
use crate::history::Report;
use crate::proxy::Link;
use crate::world::{self, DIR_ENV, HOSTS_ENV, SECONDS_ENV, World};

const CLIENTS: usize = 3;
const SESSION: Duration = Duration::from_millis(2000);

fn config(hosts: &str) -> Config {
    Config { hosts: Some(hosts.to_string()), session_timeout: Some(SESSION), ..Config::default() }
}

fn options() -> CasOptions {
    CasOptions { create_with: Some(b"0".to_vec()), create_parents: true, ..CasOptions::default() }
}

/// A client process: increments until the time is up, with a new session
/// after the old one ended. Output lines: `ok VALUE`, `unknown VALUE`,
/// `failed CODE`.
pub fn child() {
    let (hosts, path) = (world::env(HOSTS_ENV), world::env(DIR_ENV) + "/counter");
    let seconds: u64 = world::env(SECONDS_ENV).parse().unwrap();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let Ok(client) = Client::connect(config(&hosts)) else {
            thread::sleep(Duration::from_millis(200));
            continue;
        };
        while Instant::now() < end && !client.state().is_terminal() {
            let mut written = 0u64;
            let result = cas::update(&client, &path, options(), 0, Timeout::After(Duration::from_secs(3)), |cas| {
                let value: u64 = std::str::from_utf8(cas.value()).unwrap().parse().unwrap();
                written = value + 1;
                Ok(Decision::Write(written.to_string().into_bytes()))
            });
            match result {
                Ok(_) => println!("ok {written}"),
                Err(e) if e.code() == Code::OutcomeUnknown => println!("unknown {written}"),
                Err(e) => println!("failed {:?}", e.code()),
            }
        }
        client.close();
    }
}

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let dir = unique_path("faults-cas");
    let seconds = 20;
    let routes: Vec<usize> = (0..CLIENTS).map(|_| world.new_route()).collect();
    let children: Vec<_> = routes
        .iter()
        .map(|&r| {
            let env = [(HOSTS_ENV, world.route(r).hosts()), (DIR_ENV, dir.clone()), (SECONDS_ENV, seconds.to_string())];
            world.spawn("cas", &env)
        })
        .collect();

    thread::sleep(Duration::from_secs(2));
    let leader = world.kill_leader();
    report.faults.push(format!("leader {leader} killed (SIGKILL)"));
    thread::sleep(world.rng.between(Duration::from_millis(500), Duration::from_secs(2)));
    world.restart(leader);

    thread::sleep(Duration::from_secs(1));
    let short = world.rng.between(SESSION / 4, SESSION / 2);
    world.route(routes[0]).set(Link::Blackhole);
    thread::sleep(short);
    world.route(routes[0]).set(Link::Forward);
    report.faults.push(format!("client 0 partitioned for {} ms (shorter than the session)", short.as_millis()));

    thread::sleep(Duration::from_secs(1));
    let long = world.rng.between(SESSION * 2, SESSION * 3);
    world.route(routes[1]).set(Link::Blackhole);
    thread::sleep(long);
    world.route(routes[1]).set(Link::Forward);
    report.faults.push(format!("client 1 partitioned for {} ms (longer than the session)", long.as_millis()));

    thread::sleep(Duration::from_secs(1));
    let leader = world.kill_leader();
    report.faults.push(format!("leader {leader} killed (SIGKILL)"));
    thread::sleep(world.rng.between(Duration::from_millis(500), Duration::from_secs(2)));
    world.restart(leader);

    let (mut acked, mut unknown, mut failed) = (Vec::new(), 0u64, 0u64);
    for child in children {
        let (ok, lines) = world::collect(child);
        report.check(ok, || "a client process failed".to_string());
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["ok", value] => acked.push(value.parse::<u64>().unwrap()),
                ["unknown", _] => unknown += 1,
                ["failed", _] => failed += 1,
                _ => {}
            }
        }
    }
    world.heal_all();
    let observer = Client::connect(config(&world.hosts())).unwrap();
    let (data, _) = observer.get(&format!("{dir}/counter"), Timeout::After(Duration::from_secs(10))).unwrap();
    observer.close();
    let last: u64 = String::from_utf8(data).unwrap().parse().unwrap();

    report.operations = acked.len() + unknown as usize + failed as usize;
    let distinct: HashSet<u64> = acked.iter().copied().collect();
    report.check(distinct.len() == acked.len(), || {
        format!("{} values acknowledged more than once", acked.len() - distinct.len())
    });
    let (n, u) = (acked.len() as u64, unknown);
    report.check(last >= n, || format!("final value {last} below the {n} acknowledged increments: lost updates"));
    report.check(last <= n + u, || format!("final value {last} above acknowledged {n} + unknown {u}"));
    report.check(acked.iter().all(|&v| v <= last), || "an acknowledged value above the final one".to_string());
    report.figure("increments acknowledged / unknown / failed", format!("{n} / {u} / {failed}"));
    report.figure("final value", last.to_string());
    report
}
