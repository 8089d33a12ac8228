//! The lock: uncontended acquire + release on one client against the raw
//! create + delete floor (with the default watch delay, with the loss watch
//! armed at once, and held long enough for the watch to be armed), and the
//! contended hand-off latency (from the holder calling release to the
//! waiter holding the lock) between two clients.

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
    let raw_node = format!("{}/locks/raw-floor", ctx.root);
    let raw = || {
        client.create(&raw_node, b"x", &CreateOptions::ephemeral(), t).expect("create");
        client.delete(&raw_node, None, t).expect("delete");
    };
    let lock = Lock::new(&client, "uncontended", LockOptions::default()).expect("lock");
    let cycle = |lock: &Lock| {
        lock.acquire(t).expect("acquire");
        lock.release(t).expect("release");
    };
    cycle(&lock);
    let (raw_us, us) = interleaved(ctx.n, raw, || cycle(&lock));
    report::line("raw create+delete_ephemeral(interleaved)", raw_us);
    report::line("lock acquire+release", us);
    report::ratio("lock_acquire+release/raw_create+delete(interleaved)", us, raw_us);
    report::ratio("lock_acquire+release/raw_create+delete", us, floors.create_delete_us);

    // The same with the loss watch armed at once (watch_delay 0): the read
    // that sets it is queued on the server in front of the release.
    lock.set_watch_delay(Duration::ZERO);
    let (raw_us, us) = interleaved(ctx.n, raw, || cycle(&lock));
    report::line("lock acquire+release(watch_delay_0)", us);
    report::ratio("lock_acquire+release(watch_delay_0)/raw_create+delete(interleaved)", us, raw_us);
    lock.set_watch_delay(zkutil::lock::DEFAULT_WATCH_DELAY);

    // Held longer than the watch delay, so the watch is armed while held:
    // the time spent in acquire and release (not the hold) against create
    // and delete around the same hold.
    let hold = zkutil::lock::DEFAULT_WATCH_DELAY * 2;
    let rounds = (ctx.n / 20).max(20);
    let (mut raw_time, mut lock_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let start = Instant::now();
        client.create(&raw_node, b"x", &CreateOptions::ephemeral(), t).expect("create");
        raw_time += start.elapsed();
        thread::sleep(hold);
        let start = Instant::now();
        client.delete(&raw_node, None, t).expect("delete");
        raw_time += start.elapsed();

        let start = Instant::now();
        lock.acquire(t).expect("acquire");
        lock_time += start.elapsed();
        thread::sleep(hold);
        let start = Instant::now();
        lock.release(t).expect("release");
        lock_time += start.elapsed();
    }
    let raw_us = raw_time.as_secs_f64() * 1e6 / rounds as f64;
    let us = lock_time.as_secs_f64() * 1e6 / rounds as f64;
    let name = format!("acquire+release(held_{}ms)", hold.as_millis());
    report::line(&format!("raw create+delete_ephemeral(held_{}ms)", hold.as_millis()), raw_us);
    report::line(&format!("lock {name}"), us);
    report::ratio(&format!("lock_{name}/raw_create+delete(held)"), us, raw_us);

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

/// Runs `raw` and `recipe` `n` times each in alternating batches of 50 and
/// returns their microseconds per call.
pub fn interleaved(n: usize, mut raw: impl FnMut(), mut recipe: impl FnMut()) -> (f64, f64) {
    let batch = 50;
    let batches = n.div_ceil(batch);
    let (mut raw_time, mut recipe_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..batches {
        let start = Instant::now();
        (0..batch).for_each(|_| raw());
        raw_time += start.elapsed();
        let start = Instant::now();
        (0..batch).for_each(|_| recipe());
        recipe_time += start.elapsed();
    }
    let calls = (batches * batch) as f64;
    (raw_time.as_secs_f64() * 1e6 / calls, recipe_time.as_secs_f64() * 1e6 / calls)
}
