//! The lock: uncontended acquire + release on one client against the raw
//! create + delete floor, and the contended hand-off latency (from the
//! holder calling release to the waiter holding the lock) between two
//! clients.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zkutil::{Config, CreateOptions, Lock, LockOptions, Timeout};

use crate::Ctx;
use crate::raw::{Floors, per_op};
use crate::report;

pub fn run(ctx: &Ctx, floors: &Floors) {
    let t = Timeout::After(Duration::from_secs(10));
    let config = Config { lock_dir: Some(format!("{}/locks/", ctx.root)), ..ctx.config.clone() };
    let client = zkutil::Client::connect(config.clone()).expect("connect");

    // Uncontended, one handle: what a lock costs over the raw operations.
    // Measured in alternating batches with the raw create + delete of an
    // ephemeral node on the same client, so load changes on a shared
    // machine hit both alike.
    let lock = Lock::new(&client, "uncontended", LockOptions::default()).expect("lock");
    lock.acquire(t).expect("warm-up acquire");
    lock.release(t).expect("warm-up release");
    let raw_node = format!("{}/locks/raw-floor", ctx.root);
    let (mut lock_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    let batch = 50;
    let batches = ctx.n.div_ceil(batch);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..batch {
            client.create(&raw_node, b"x", &CreateOptions::ephemeral(), t).expect("create");
            client.delete(&raw_node, None, t).expect("delete");
        }
        raw_time += start.elapsed();
        let start = Instant::now();
        for _ in 0..batch {
            lock.acquire(t).expect("acquire");
            lock.release(t).expect("release");
        }
        lock_time += start.elapsed();
    }
    let ops = (batches * batch) as f64;
    let raw_us = raw_time.as_secs_f64() * 1e6 / ops;
    let us = lock_time.as_secs_f64() * 1e6 / ops;
    report::line("raw create+delete_ephemeral(interleaved)", raw_us);
    report::line("lock acquire+release", us);
    report::ratio("lock_acquire+release/raw_create+delete(interleaved)", us, raw_us);
    report::ratio("lock_acquire+release/raw_create+delete", us, floors.create_delete_us);

    // A new handle per round, as k3zkutil's anchor does.
    let start = Instant::now();
    for _ in 0..ctx.n {
        let lock = Lock::new(&client, "uncontended", LockOptions::default()).expect("lock");
        lock.acquire(t).expect("acquire");
        lock.release(t).expect("release");
    }
    let us = per_op(start, ctx.n);
    report::line("lock new+acquire+release", us);
    report::ratio("lock_new+acquire+release/raw_create+delete", us, floors.create_delete_us);

    // Contended hand-off: the waiter is blocked (its watch is set: the
    // holder callback saw the holder) when the holder releases.
    let rounds = ctx.n.clamp(50, 1000);
    let holder = Lock::new(&client, "contended", LockOptions::default()).expect("lock");
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
    let (held_tx, held_rx) = mpsc::channel::<Instant>();
    let (released_tx, released_rx) = mpsc::channel::<()>();
    let waiter_config = config.clone();
    let waiter = thread::spawn(move || {
        let c = zkutil::Client::connect(waiter_config).expect("connect");
        let lock = Lock::new(&c, "contended", LockOptions::default()).expect("lock");
        while go_rx.recv().is_ok() {
            let mut told = false;
            lock.acquire_loop(Timeout::After(Duration::from_secs(30)), &mut |_| {
                if !told {
                    told = true;
                    waiting_tx.send(()).unwrap();
                }
                true
            })
            .expect("waiter acquire");
            held_tx.send(Instant::now()).unwrap();
            lock.release(t).expect("waiter release");
            released_tx.send(()).unwrap();
        }
    });
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        holder.acquire(t).expect("holder acquire");
        go_tx.send(()).unwrap();
        waiting_rx.recv().unwrap();
        let released_at = Instant::now();
        holder.release(t).expect("holder release");
        let held_at = held_rx.recv().unwrap();
        samples.push(held_at.duration_since(released_at).as_secs_f64() * 1e6);
        released_rx.recv().unwrap();
    }
    drop(go_tx);
    waiter.join().unwrap();
    report::percentiles("lock handoff_release_to_held", &mut samples);
    drop(lock);
    drop(holder);
    client.close();
}
