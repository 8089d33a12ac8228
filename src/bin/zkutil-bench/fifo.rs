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
pub const CURATOR_PROCESSES: usize = 16;

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
            let name = format!("{label}-{}-{waiters}", spread.name());
            let roles = vec![*role; waiters];
            let events = ctx.contend(program, *spread, &name, HANDOFFS.div_ceil(waiters), &roles);
            let mut h = events::handoffs(&events);
            let at = format!("{}={waiters}", spread.name());
            println!(
                "bench {label} contended {at} handoffs_per_s {:.1} to_longest_waiter {:.3} overlaps {}",
                h.per_s,
                h.to_longest,
                events::overlaps(&events)
            );
            report::percentiles(&format!("{label} contended_handoff {at}"), &mut h.latencies_us);
        }
    }
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
