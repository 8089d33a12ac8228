//! The read-write lock against Curator's InterProcessReadWriteLock in the
//! same run (`contention`): 1, 4, 16 and 64 readers alone (acquisitions
//! per second, acquire time p50/p99), and the same readers with one writer
//! among them (the writer's acquire time, the readers' acquisitions per
//! second), each contender taking the lock and releasing it at once.
//! Readers and writer take the same number of turns; the figures leave
//! each side's first round out (see `events::Handoffs`).

use crate::contention::{Program, Spread};
use crate::events;
use crate::report;
use crate::{Ctx, WAITERS};

/// Reader acquisitions per reader count.
const ACQUISITIONS: usize = 800;

pub fn run(ctx: &Ctx) {
    let mut setups = vec![("rwlock", Program::Zkutil, Spread::Threads), ("rwlock", Program::Zkutil, Spread::Processes)];
    if let Some(classpath) = &ctx.curator_classpath {
        for spread in [Spread::Threads, Spread::Clients] {
            setups.push(("curator_rwlock", Program::Curator(classpath), spread));
        }
    }
    for readers in WAITERS {
        let rounds = ACQUISITIONS.div_ceil(readers);
        for (label, program, spread) in &setups {
            let at = format!("{} readers={readers}", spread.name());
            let mut roles = vec!["read"; readers];
            let events = ctx.contend(program, *spread, &format!("{label}-{}-{readers}", spread.name()), rounds, &roles);
            let (per_s, mut latencies) = events::acquisitions(&events, "read", readers);
            let overlaps = events::overlaps(&events);
            println!("bench {label} readers_only {at} acquisitions_per_s {per_s:.1} overlaps {overlaps}");
            report::percentiles(&format!("{label} reader_acquire {at}"), &mut latencies);

            roles.push("write");
            let name = format!("{label}-writer-{}-{readers}", spread.name());
            let events = ctx.contend(program, *spread, &name, rounds, &roles);
            let (per_s, _) = events::acquisitions(&events, "read", readers);
            let (_, mut latencies) = events::acquisitions(&events, "write", 1);
            let overlaps = events::overlaps(&events);
            println!(
                "bench {label} writer_among_readers {at} reader_acquisitions_per_s {per_s:.1} overlaps {overlaps}"
            );
            report::percentiles(&format!("{label} writer_acquire {at}"), &mut latencies);
        }
    }
}
