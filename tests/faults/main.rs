//! The fault suite: the recipes against a real 3-node loopback ensemble
//! while servers are killed, clients paused (SIGSTOP) and partitioned (a
//! blackhole proxy in front of every member), each workload writing a
//! history that a checker reads. Prints, per workload, the operations,
//! the faults injected, the anomalies (must be 0) and detection delays,
//! then `faults: N passed, M failed`. A plain program (`harness = false`):
//! `cargo test --test faults`, or `scripts/faults.sh`.
//!
//! Fixed seed (`ZKU_FAULT_SEED`, printed) for the fault schedule, so a
//! failure can be replayed; `ZKU_FAULT_ONLY=lock,cas` picks workloads. The same binary runs the client processes of
//! the multi-process workloads (`ZKU_FAULT_ROLE`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../proxy/mod.rs"]
mod proxy;

mod cas_counter;
mod detection;
mod history;
mod import;
mod lock_fencing;
mod reader_waits;
mod registration;
mod world;

use std::time::Instant;

use history::Report;

fn main() {
    if let Ok(role) = std::env::var(world::ROLE_ENV) {
        world::run_child(&role);
        return;
    }
    let seed = std::env::var("ZKU_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261130u64);
    println!("faults: seed {seed} (replay with ZKU_FAULT_SEED={seed})");
    let started = Instant::now();
    let mut world = world::World::start(seed);
    type Workload = fn(&mut world::World) -> Report;
    let workloads: [(&str, Workload); 6] = [
        ("lock with fencing", lock_fencing::run),
        ("cas counter", cas_counter::run),
        ("detection delays", detection::run),
        ("reader and waits", reader_waits::run),
        ("import", import::run),
        ("registration", registration::run),
    ];
    // ZKU_FAULT_ONLY=lock,cas runs the workloads whose names contain one
    // of those words.
    let only = std::env::var("ZKU_FAULT_ONLY").unwrap_or_default();
    let chosen = |name: &str| only.is_empty() || only.split(',').any(|w| name.contains(w.trim()));
    let (mut passed, mut failed) = (0, 0);
    for (name, run) in workloads.into_iter().filter(|(name, _)| chosen(name)) {
        let began = Instant::now();
        world.heal_all();
        let report = run(&mut world);
        report.print(name, began.elapsed());
        if report.anomalies.is_empty() { passed += 1 } else { failed += 1 }
    }
    println!("faults: whole suite {:.1} s", started.elapsed().as_secs_f64());
    println!("faults: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
