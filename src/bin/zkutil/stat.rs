//! `zkutil stat`: a short run of one client, then its statistics.

use std::time::{Duration, Instant};

use clap::Args;
use zkutil::Timeout;
use zkutil::stats::ClientStats;

use crate::args::{SECONDS, TEXT};
use crate::{CliError, Global, exit};

pub const STAT_HELP: &str = "\
Usage: zkutil stat [PATH] [OPTIONS]

Connects, checks that PATH exists (default /) every 100 ms for the given
time, and prints the client's statistics as `name value` lines: the
session id, then the counters of zku_client_get_stats (requests sent,
slow replies, errors by class, disconnects, reconnects, ...). A quick look
at how a server answers from here; exit status 0 even when checks failed
(the errors_* lines count them). Set ZKU_LOG=info to see the session's
events on stderr meanwhile.

Options:
  --for S   run for S seconds (default 1; 0: one check)
";

/// Time between two checks.
const PERIOD: Duration = Duration::from_millis(100);

#[derive(Args)]
pub struct StatArgs {
    #[arg(value_parser = TEXT, default_value = "/")]
    path: String,
    #[arg(long = "for", value_parser = SECONDS, default_value = "1")]
    run_for: Duration,
}

pub fn stat(args: StatArgs, global: &Global) -> Result<u8, CliError> {
    zkutil::path::validate(&args.path)?;
    let client = global.connect(Timeout::Forever.deadline())?;
    let end = Instant::now() + args.run_for;
    loop {
        // Failures are what the counters show.
        let _ = client.exists(&args.path, Timeout::After(PERIOD.max(client.session_timeout() / 3)));
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep(PERIOD.min(end - now));
    }
    let stats = client.stats();
    let session_id = client.session_id();
    client.close();
    println!("session_id 0x{session_id:x}");
    for (name, value) in fields(&stats) {
        println!("{name} {value}");
    }
    Ok(exit::OK)
}

fn fields(s: &ClientStats) -> [(&'static str, u64); 13] {
    [
        ("requests_sent", s.requests_sent),
        ("requests_in_flight_now", s.requests_in_flight_now),
        ("slow_replies", s.slow_replies),
        ("errors_node", s.errors_node),
        ("errors_permission", s.errors_permission),
        ("errors_connection", s.errors_connection),
        ("errors_session", s.errors_session),
        ("errors_other", s.errors_other),
        ("disconnects", s.disconnects),
        ("reconnects", s.reconnects),
        ("session_renewals", s.session_renewals),
        ("watches_now", s.watches_now),
        ("callbacks_waiting_now", s.callbacks_waiting_now),
    ]
}
