//! Registration nodes under faults: the leader killed (the node is ours
//! and present again afterwards, and close deletes it), the holder
//! partitioned for less than the session timeout (never reported absent,
//! the same node afterwards) and for longer (reported absent; after the
//! expiry another session's node at the path is never written or deleted).

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::registration::{Registration, RegistrationOptions, RegistrationState};
use zkutil::{Client, Config, CreateOptions, Timeout};

use crate::common::zk::unique_path;
use crate::history::Report;
use crate::proxy::Link;
use crate::world::World;

const SESSION: Duration = Duration::from_millis(3000);
const T: Timeout = Timeout::After(Duration::from_secs(10));
const KILL_ROUNDS: usize = 3;

type Seen = Arc<Mutex<Vec<(RegistrationState, Instant)>>>;

fn record(registration: &Registration) -> Seen {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    registration
        .set_state_callback(Some(Box::new(move |_, new| sink.lock().unwrap().push((new, Instant::now())))))
        .unwrap();
    seen
}

fn first(seen: &Seen, state: RegistrationState, after: Instant) -> Option<Instant> {
    seen.lock().unwrap().iter().find(|(s, at)| *s == state && *at >= after).map(|(_, at)| *at)
}

fn eventually(within: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !ok() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The node at `path` is ours: it exists, holds `data` and belongs to
/// `client`'s session.
fn ours(observer: &Client, path: &str, data: &[u8], client: &Client) -> bool {
    matches!(observer.get(path, T), Ok((d, stat)) if d == data && stat.ephemeral_owner == client.session_id())
}

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let dir = unique_path("faults-registration");
    let route = world.new_route();
    let config =
        Config { hosts: Some(world.route(route).hosts()), session_timeout: Some(SESSION), ..Config::default() };
    let observer = Client::connect(Config { hosts: Some(world.hosts()), ..Config::default() }).unwrap();
    let mut absent_after = Vec::new();

    for round in 0..KILL_ROUNDS {
        let client = Client::connect(config.clone()).unwrap();
        let path = format!("{dir}/kill-{round}");
        let data = format!("r{round}").into_bytes();
        let registration = Registration::new(&client, &path, &data, RegistrationOptions::default(), T).unwrap();
        let down = world.rng.between(Duration::from_millis(300), SESSION / 2);
        let leader = world.kill_leader();
        thread::sleep(down);
        world.restart(leader);
        report.faults.push(format!("leader {leader} killed for {} ms", down.as_millis()));
        report.operations += 1;
        let present = eventually(SESSION * 4, || {
            registration.state() == RegistrationState::Present && ours(&observer, &path, &data, &client)
        });
        report.check(present, || format!("round {round}: not present and ours again after a leader kill"));
        report.check(registration.close(T).is_ok(), || format!("round {round}: close failed"));
        report.check(observer.exists(&path, T).is_ok_and(|s| s.is_none()), || {
            format!("round {round}: the node is still there after close")
        });
        client.close();
    }

    // Partitioned for less than the session timeout: nothing to report.
    let client = Client::connect(config.clone()).unwrap();
    let path = format!("{dir}/short");
    let registration = Registration::new(&client, &path, b"s", RegistrationOptions::default(), T).unwrap();
    let seen = record(&registration);
    let czxid = observer.exists(&path, T).unwrap().map(|s| s.czxid);
    let cut = world.rng.between(SESSION * 5 / 10, SESSION * 7 / 10);
    let began = Instant::now();
    world.route(route).set(Link::Blackhole);
    thread::sleep(cut);
    world.route(route).set(Link::Forward);
    report.faults.push(format!("holder partitioned for {} ms (shorter)", cut.as_millis()));
    report.operations += 1;
    thread::sleep(SESSION / 2);
    report.check(first(&seen, RegistrationState::Absent, began).is_none(), || {
        format!("a {} ms partition (session {} ms) was reported absent", cut.as_millis(), SESSION.as_millis())
    });
    report.check(observer.exists(&path, T).unwrap().map(|s| s.czxid) == czxid, || {
        "the node changed across a short partition".to_string()
    });
    drop(registration);
    client.close();

    // Partitioned for longer: absent; the session expires; a node another
    // session makes at the path meanwhile is never touched.
    let client = Client::connect(config).unwrap();
    let path = format!("{dir}/long");
    let registration = Registration::new(&client, &path, b"ours", RegistrationOptions::default(), T).unwrap();
    let seen = record(&registration);
    let cut = world.rng.between(SESSION * 5 / 2, SESSION * 3);
    let began = Instant::now();
    world.route(route).set(Link::Blackhole);
    let expired = eventually(SESSION * 4, || observer.exists(&path, T).is_ok_and(|s| s.is_none()));
    report.check(expired, || "the partitioned session's node was never removed by the servers".to_string());
    let theirs = observer.create(&path, b"theirs", &CreateOptions::ephemeral(), T);
    thread::sleep(cut.saturating_sub(began.elapsed()));
    world.route(route).set(Link::Forward);
    report.faults.push(format!("holder partitioned for {} ms (longer)", cut.as_millis()));
    report.operations += 1;
    match first(&seen, RegistrationState::Absent, began) {
        Some(at) => absent_after.push(at - began),
        None => report.anomalies.push(format!("a {} ms partition was never reported absent", cut.as_millis())),
    }
    if let Ok((_, stat)) = theirs {
        thread::sleep(SESSION);
        let after = observer.get(&path, T);
        report.check(
            matches!(&after, Ok((d, s)) if d == b"theirs" && s.czxid == stat.czxid && s.version == stat.version),
            || format!("another session's node was written or deleted: {after:?}"),
        );
        drop(registration);
        report.check(observer.exists(&path, T).is_ok_and(|s| s.is_some_and(|s| s.czxid == stat.czxid)), || {
            "closing the registration deleted another session's node".to_string()
        });
    }
    client.close();
    report.delays("ABSENT after the partition began (long)", &absent_after);
    report
}
