//! The floors: raw ZooKeeper operations through the core client, one
//! round trip each, with nothing of the recipes around them.

use std::time::{Duration, Instant};

use zkutil::{CreateOptions, Timeout};

use crate::Ctx;

/// Microseconds per operation of each floor, measured in this run.
pub struct Floors {
    /// create + delete of an ephemeral node (what an uncontended lock costs
    /// at least).
    pub create_delete_us: f64,
    /// get + versioned set (what one CAS step costs at least).
    pub get_set_us: f64,
    /// A single get (one read round trip).
    pub get_us: f64,
}

pub fn run(ctx: &Ctx) -> Floors {
    let c = &ctx.client;
    let t = Timeout::After(Duration::from_secs(10));
    let node = format!("{}/raw-eph", ctx.root);
    let counter = format!("{}/raw-counter", ctx.root);
    c.create(&counter, b"0", &CreateOptions::persistent(), t).expect("create counter");

    let start = Instant::now();
    for _ in 0..ctx.n {
        c.create(&node, b"x", &CreateOptions::ephemeral(), t).expect("create");
        c.delete(&node, None, t).expect("delete");
    }
    let create_delete_us = per_op(start, ctx.n);

    let start = Instant::now();
    for _ in 0..ctx.n {
        let (data, stat) = c.get(&counter, t).expect("get");
        let value: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
        c.set(&counter, (value + 1).to_string().as_bytes(), Some(stat.version), t).expect("set");
    }
    let get_set_us = per_op(start, ctx.n);

    let start = Instant::now();
    for _ in 0..ctx.n {
        c.get(&counter, t).expect("get");
    }
    let get_us = per_op(start, ctx.n);
    Floors { create_delete_us, get_set_us, get_us }
}

pub fn per_op(start: Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}
