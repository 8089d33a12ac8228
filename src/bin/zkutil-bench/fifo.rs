//! The FIFO mutex: uncontended acquire + release against its raw floor
//! (create of an ephemeral sequential node, the children read, the delete,
//! on the same client, interleaved), and contended hand-offs with 1, 4,
//! 16 and 64 waiters, next to the k3zkutil-layout lock and Curator's
//! InterProcessMutex under the same load, with the waiters as threads on
//! one client, as separate clients (Curator) and as separate processes
//! (`contention`): hand-offs per second, hand-off latency (from the
//! holder's release call to the next holder's acquire returning), the
//! fraction of hand-offs that went to the longest waiter, and overlapping
//! holds (none for a correct lock).

use std::time::Duration;

use zkutil::{Client, Config, CreateOptions, FifoLock, FifoOptions, Timeout};

use crate::contention::{Program, Spread};
use crate::events;
use crate::report;
use crate::{Ctx, WAITERS};

const T: Timeout = Timeout::After(Duration::from_secs(60));
/// Hand-offs per waiter count.
const HANDOFFS: usize = 800;
/// One JVM per waiter is heavy on this 2-core machine: Curator as
/// separate processes only up to this many (`clients` goes on to 64).
const CURATOR_PROCESSES: usize = 16;

pub fn run(ctx: &Ctx) {
    let config = Config { lock_dir: Some(format!("{}/fifo/", ctx.root)), ..ctx.config.clone() };
    let client = Client::connect(config).expect("connect");
    uncontended(ctx, &client);
    client.close();
    let mut setups = vec![
        ("fifo", Program::Zkutil, Spread::Threads, "fifo"),
        ("lock", Program::Zkutil, Spread::Threads, "lock"),
        ("fifo", Program::Zkutil, Spread::Processes, "fifo"),
        ("lock", Program::Zkutil, Spread::Processes, "lock"),
    ];
    if let Some(classpath) = &ctx.curator_classpath {
        for spread in [Spread::Threads, Spread::Clients, Spread::Processes] {
            setups.push(("curator_mutex", Program::Curator(classpath), spread, "mutex"));
        }
    }
    for waiters in WAITERS {
        for (label, program, spread, role) in &setups {
            if matches!(program, Program::Curator(_)) && *spread == Spread::Processes && waiters > CURATOR_PROCESSES {
                continue;
            }
            let (mut h, overlaps) = handoffs(ctx, label, program, *spread, role, waiters);
            let at = format!("{}={waiters}", spread.name());
            println!(
                "bench {label} contended {at} handoffs_per_s {:.1} to_longest_waiter {:.3} overlaps {overlaps}",
                h.per_s, h.to_longest
            );
            report::percentiles(&format!("{label} contended_handoff {at}"), &mut h.latencies_us);
        }
    }
    for spread in [Spread::Threads, Spread::Processes] {
        scaling(ctx, spread);
    }
}

/// `waiters` contenders take `HANDOFFS` turns in all; the figures leave
/// the first round out (see `events::Handoffs`).
fn handoffs(
    ctx: &Ctx,
    label: &str,
    program: &Program,
    spread: Spread,
    role: &str,
    waiters: usize,
) -> (events::Handoffs, usize) {
    let name = format!("{label}-{}-{waiters}-{}", spread.name(), events::monotonic_ns());
    let roles = vec![role; waiters];
    let events = ctx.contend(program, spread, &name, HANDOFFS.div_ceil(waiters), &roles);
    (events::handoffs(&events, waiters), events::overlaps(&events))
}

/// Runs of the FIFO mutex with 4 and with 64 waiters, alternating, so
/// that load changes on a shared machine hit both alike: the ratio of
/// their median hand-offs per second (target: at least 0.8).
fn scaling(ctx: &Ctx, spread: Spread) {
    const PAIRS: usize = 5;
    let mut runs = [Vec::new(), Vec::new()];
    let mut overlaps = 0;
    for _ in 0..PAIRS {
        for (i, waiters) in [4, 64].into_iter().enumerate() {
            let (h, o) = handoffs(ctx, "fifo", &Program::Zkutil, spread, "fifo", waiters);
            runs[i].push(h.per_s);
            overlaps += o;
        }
    }
    let [four, sixty_four] = runs.map(|mut r| {
        r.sort_by(f64::total_cmp);
        r
    });
    let list = |r: &[f64]| r.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(",");
    println!(
        "ratio fifo_contended_64/4_waiters {} {:.3} (median of {PAIRS} alternating runs each; 4: {} 64: {}; overlaps {overlaps})",
        spread.name(),
        sixty_four[PAIRS / 2] / four[PAIRS / 2],
        list(&four),
        list(&sixty_four)
    );
}

fn uncontended(ctx: &Ctx, client: &Client) {
    let lock = FifoLock::new(client, "uncontended", FifoOptions::default()).expect("fifo");
    let cycle = || {
        lock.acquire(T).expect("fifo acquire");
        lock.release(T).expect("fifo release");
    };
    cycle();
    let dir = lock.path().to_string();
    let prefix = format!("{dir}/_c_00000000-0000-0000-0000-000000000000-lock-");
    let sequential = CreateOptions::ephemeral().sequential();
    let raw = || {
        let (node, _) = client.create(&prefix, b"x", &sequential, T).expect("create");
        client.children(&dir, T).expect("children");
        client.delete(&node, None, T).expect("delete");
    };
    let (raw_us, us) = crate::lock::interleaved(ctx.n, raw, cycle);
    report::line("raw create_sequential+children+delete(interleaved)", raw_us);
    report::line("fifo acquire+release", us);
    report::ratio("fifo_acquire+release/raw_create_sequential+children+delete(interleaved)", us, raw_us);
}
