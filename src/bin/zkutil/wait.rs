//! `zkutil next` and `zkutil wait-absent`: k3zkutil's get_next and
//! wait_absent.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use zkutil::{Timeout, wait};

use crate::args::{SECONDS, TEXT, Text};
use crate::{CliError, Global, deadline, exit, left};

pub const NEXT_HELP: &str = "\
Usage: zkutil next PATH VERSION [OPTIONS]

Waits until the node's version is greater than VERSION (-1: until it
exists), then writes its data to stdout as stored (k3zkutil's get_next). A
loop of `v=$(zkutil get PATH --stat | ...)` and `zkutil next PATH $v`
follows every change. Exit status 3 when the node does not exist (unless
--until-created), 5 on timeout.

Options:
  --until-created  when the node does not exist, wait for it to be created
  --stat           print the stat as one JSON line instead of the data
  --timeout S      give up after S seconds (default: no limit)
";

#[derive(Args)]
pub struct NextArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(value_parser = Text(version))]
    version: i32,
    #[arg(long)]
    until_created: bool,
    #[arg(long)]
    stat: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

fn version(text: &str) -> Result<i32, String> {
    text.parse().ok().filter(|v| *v >= -1).ok_or_else(|| format!("must be -1 or more, got {text:?}"))
}

pub const WAIT_ABSENT_HELP: &str = "\
Usage: zkutil wait-absent PATH [OPTIONS]

Returns (exit status 0) as soon as no node exists at PATH: at once when
there is none, else when it is deleted (k3zkutil's wait_absent), e.g.
`zkutil wait-absent /lock/job` waits for a lock holder to finish. Exit
status 5 on timeout.

Options:
  --timeout S   give up after S seconds (default: no limit)
";

#[derive(Args)]
pub struct WaitAbsentArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

pub fn next(args: NextArgs, global: &Global) -> Result<u8, CliError> {
    let deadline = deadline(args.timeout, Timeout::Forever);
    let client = global.connect(deadline)?;
    let result = wait::get_next(&client, &args.path, args.version, args.until_created, left(deadline));
    client.close();
    let (data, stat) = result?;
    let mut out = std::io::stdout().lock();
    let written = if args.stat { writeln!(out, "{}", crate::node::stat_json(&stat)) } else { out.write_all(&data) };
    written.and_then(|_| out.flush()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

pub fn wait_absent(args: WaitAbsentArgs, global: &Global) -> Result<u8, CliError> {
    let deadline = deadline(args.timeout, Timeout::Forever);
    let client = global.connect(deadline)?;
    let result = wait::wait_absent(&client, &args.path, left(deadline));
    client.close();
    result?;
    Ok(exit::OK)
}
