//! `zkutil next` and `zkutil wait-absent`: k3zkutil's get_next and
//! wait_absent.

use std::io::Write;

use zkutil::{Timeout, wait};

use crate::args::{Parsed, flag, opt};
use crate::{CliError, Global, Subcommand, exit, timeout_flag};

pub static NEXT: Subcommand = Subcommand {
    name: "next",
    summary: "wait until a node's version is greater than VERSION, print it",
    help: "\
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
",
    flags: &[flag("until-created"), flag("stat"), opt("timeout")],
    connects: true,
    run: next,
};

pub static WAIT_ABSENT: Subcommand = Subcommand {
    name: "wait-absent",
    summary: "wait until a node does not exist",
    help: "\
Usage: zkutil wait-absent PATH [OPTIONS]

Returns (exit status 0) as soon as no node exists at PATH: at once when
there is none, else when it is deleted (k3zkutil's wait_absent), e.g.
`zkutil wait-absent /lock/job` waits for a lock holder to finish. Exit
status 5 on timeout.

Options:
  --timeout S   give up after S seconds (default: no limit)
",
    flags: &[opt("timeout")],
    connects: true,
    run: wait_absent,
};

fn next(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path, version] = parsed.expect_positionals(&["PATH", "VERSION"])?[..] else { unreachable!() };
    let version: i32 = version
        .parse()
        .ok()
        .filter(|v| *v >= -1)
        .ok_or_else(|| CliError::usage(format!("next: VERSION must be -1 or more, got {version:?}")))?;
    let timeout = timeout_flag(parsed, Timeout::Forever)?;
    let client = global.connect()?;
    let result = wait::get_next(&client, path, version, parsed.has("until-created"), timeout);
    client.close();
    let (data, stat) = result?;
    let mut out = std::io::stdout().lock();
    let written =
        if parsed.has("stat") { writeln!(out, "{}", crate::node::stat_json(&stat)) } else { out.write_all(&data) };
    written.and_then(|_| out.flush()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

fn wait_absent(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path] = parsed.expect_positionals(&["PATH"])?[..] else { unreachable!() };
    let timeout = timeout_flag(parsed, Timeout::Forever)?;
    let client = global.connect()?;
    let result = wait::wait_absent(&client, path, timeout);
    client.close();
    result?;
    Ok(exit::OK)
}
