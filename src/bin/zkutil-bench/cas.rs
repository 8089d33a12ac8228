//! Compare-and-swap: a single writer incrementing a counter through the
//! CAS API against the raw get + versioned set floor of the same run, and
//! the throughput of 4 writers (own clients, own threads) on one counter.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use zkutil::cas::{self, Cas, CasOptions, Decision};
use zkutil::{CreateOptions, Timeout};

use crate::Ctx;
use crate::raw::Floors;
use crate::report::{line, ratio};

const T: Timeout = Timeout::After(Duration::from_secs(30));

fn increment(current: &[u8]) -> Vec<u8> {
    let n: u64 = std::str::from_utf8(current).unwrap().trim().parse().unwrap();
    (n + 1).to_string().into_bytes()
}

/// The ways of incrementing compared, each one get + one versioned set.
#[derive(Clone, Copy)]
enum Way {
    /// raw.rs's floor, repeated here interleaved with the others.
    Raw,
    /// `cas::update` (what `zku_cas_update` runs).
    Update,
    /// `Cas::begin` + `Cas::commit` (the handle).
    Handle,
    /// `cas::update` in JSON mode (value validated on read and write).
    UpdateJson,
}

const WAYS: [Way; 4] = [Way::Raw, Way::Update, Way::Handle, Way::UpdateJson];

fn once(ctx: &Ctx, path: &str, way: Way) {
    let c = &ctx.client;
    match way {
        Way::Raw => {
            let (data, stat) = c.get(path, T).expect("get");
            c.set(path, &increment(&data), Some(stat.version), T).expect("set");
        }
        Way::Update => {
            cas::update(c, path, CasOptions::default(), 0, T, |h| Ok(Decision::Write(increment(h.value()))))
                .expect("update");
        }
        Way::Handle => {
            let mut h = Cas::begin(c, path, CasOptions::default(), T).expect("begin");
            let next = increment(h.value());
            h.commit(&next, T).expect("commit");
        }
        Way::UpdateJson => {
            let json = CasOptions { json: true, ..CasOptions::default() };
            cas::update(c, path, json, 0, T, |h| Ok(Decision::Write(increment(h.value())))).expect("update");
        }
    }
}

pub fn run(ctx: &Ctx, floors: &Floors) {
    let counter = format!("{}/cas-counter", ctx.root);
    ctx.client.create(&counter, b"0", &CreateOptions::persistent(), T).expect("create counter");

    // Interleaved rounds (the order rotating), so that the machine's noise
    // falls on every way alike; ctx.n increments per way in total.
    let rounds = 20.min(ctx.n).max(1);
    let per_round = (ctx.n / rounds).max(1);
    let mut total = [Duration::ZERO; 4];
    let mut round_ratios: [Vec<f64>; 4] = Default::default();
    for round in 0..rounds {
        let mut took = [Duration::ZERO; 4];
        for k in 0..WAYS.len() {
            let i = (round + k) % WAYS.len();
            let start = Instant::now();
            for _ in 0..per_round {
                once(ctx, &counter, WAYS[i]);
            }
            took[i] = start.elapsed();
            total[i] += took[i];
        }
        for i in 0..WAYS.len() {
            round_ratios[i].push(took[i].as_secs_f64() / took[0].as_secs_f64());
        }
    }
    let n = rounds * per_round;
    let us = |i: usize| total[i].as_secs_f64() * 1e6 / n as f64;
    let names = ["raw_get+set_interleaved", "update_increment", "begin+commit_increment", "update_increment_json"];
    for (i, name) in names.iter().enumerate().take(WAYS.len()) {
        line(&format!("cas {name}"), us(i));
    }
    for i in 1..WAYS.len() {
        ratio(&format!("cas_{}/raw_get+set", names[i]), us(i), floors.get_set_us);
        ratio(&format!("cas_{}/raw_get+set_interleaved", names[i]), us(i), us(0));
        let mut r = round_ratios[i].clone();
        r.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("ratio cas_{}/raw_get+set_interleaved_median_of_{rounds}_rounds {:.3}", names[i], r[r.len() / 2]);
    }
    let (data, _) = ctx.client.get(&counter, T).expect("get");
    assert_eq!(std::str::from_utf8(&data).unwrap(), (4 * n).to_string(), "single-writer count");

    contended(ctx, 4);
}

/// `writers` clients on their own threads share `ctx.n` increments.
fn contended(ctx: &Ctx, writers: usize) {
    let counter = format!("{}/cas-contended", ctx.root);
    ctx.client.create(&counter, b"0", &CreateOptions::persistent(), T).expect("create counter");
    let per_writer = ctx.n / writers;
    let clients: Vec<_> = (0..writers).map(|_| ctx.new_client()).collect();
    let barrier = Barrier::new(writers + 1);
    let (elapsed, attempts) = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter()
            .map(|client| {
                let (barrier, counter) = (&barrier, &counter);
                s.spawn(move || {
                    barrier.wait();
                    let mut attempts = 0u64;
                    for _ in 0..per_writer {
                        let done = cas::update(client, counter, CasOptions::default(), 0, T, |h| {
                            Ok(Decision::Write(increment(h.value())))
                        })
                        .expect("contended update");
                        attempts += done.attempts as u64;
                    }
                    attempts
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let attempts: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (start.elapsed(), attempts)
    });
    let total = (per_writer * writers) as u64;
    let (data, stat) = ctx.client.get(&counter, T).expect("get");
    assert_eq!(std::str::from_utf8(&data).unwrap(), total.to_string(), "contended count");
    assert_eq!(stat.version as u64, total);
    let ops = total as f64 / elapsed.as_secs_f64();
    println!(
        "bench cas contended_{writers}_writers ops_per_s {ops:.0} increments {total} attempts_per_increment {:.2}",
        attempts as f64 / total as f64
    );
    for client in clients {
        client.close();
    }
}
