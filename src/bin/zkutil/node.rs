//! `zkutil get` and `zkutil set`: one node's data.

use std::io::{Read, Write};
use std::time::Duration;

use zkutil::{CreateOptions, Stat, Timeout};

use crate::args::{Parsed, flag, opt};
use crate::{CliError, Global, Subcommand, exit, timeout_flag};

/// Node operations give up after this long by default.
pub const DEFAULT_TIMEOUT: Timeout = Timeout::After(Duration::from_secs(10));

pub static GET: Subcommand = Subcommand {
    name: "get",
    summary: "print a node's data",
    help: "\
Usage: zkutil get PATH [OPTIONS]

Writes the node's data to stdout exactly as stored (no newline added;
binary data is written as is). Exit status 3 when the node does not exist.

Options:
  --stat        print the node's stat as one JSON line instead of the data
                (version, czxid, mtime, data_length, num_children, ...)
  --timeout S   give up after S seconds (default 10)
",
    flags: &[flag("stat"), opt("timeout")],
    connects: true,
    run: get,
};

pub static SET: Subcommand = Subcommand {
    name: "set",
    summary: "replace a node's data (optionally only at a given version)",
    help: "\
Usage: zkutil set PATH VALUE [OPTIONS]

Replaces the node's data with VALUE (its bytes as given; `-` reads the data
from stdin) and prints the node's new version. With --version, the write is
applied only if the node is at that version: exit status 4 otherwise
(compare-and-set from a script: `zkutil get --stat`, compute, `set --version`).

Options:
  --version V   only if the node's version is V
  --create      create the node (and missing parents, with the configured
                ACL) when it does not exist; not with --version
  --timeout S   give up after S seconds (default 10); on a timeout or a
                connection loss the write may or may not have been applied
                (exit status 9)
",
    flags: &[opt("version"), flag("create"), opt("timeout")],
    connects: true,
    run: set,
};

pub fn stat_json(stat: &Stat) -> String {
    format!(
        "{{\"czxid\": {}, \"mzxid\": {}, \"pzxid\": {}, \"ctime\": {}, \"mtime\": {}, \"version\": {}, \"cversion\": {}, \
         \"aversion\": {}, \"ephemeral_owner\": {}, \"data_length\": {}, \"num_children\": {}}}",
        stat.czxid,
        stat.mzxid,
        stat.pzxid,
        stat.ctime,
        stat.mtime,
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children
    )
}

fn get(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path] = parsed.expect_positionals(&["PATH"])?[..] else { unreachable!() };
    let timeout = timeout_flag(parsed, DEFAULT_TIMEOUT)?;
    zkutil::path::validate(path)?;
    let client = global.connect()?;
    let result = client.get(path, timeout);
    client.close();
    let (data, stat) = result?;
    let mut out = std::io::stdout().lock();
    let written = if parsed.has("stat") { writeln!(out, "{}", stat_json(&stat)) } else { out.write_all(&data) };
    written.and_then(|_| out.flush()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

fn set(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path, value] = parsed.expect_positionals(&["PATH", "VALUE"])?[..] else { unreachable!() };
    let version: Option<i32> = parsed.integer("version")?;
    if version.is_some_and(|v| v < 0) {
        return Err(CliError::usage("set: --version must be 0 or more"));
    }
    if version.is_some() && parsed.has("create") {
        return Err(CliError::usage("set: --create and --version do not go together"));
    }
    let timeout = timeout_flag(parsed, DEFAULT_TIMEOUT)?;
    zkutil::path::validate(path)?;
    let data = if value == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data).map_err(|e| CliError::io("stdin", e))?;
        data
    } else {
        value.as_bytes().to_vec()
    };
    let client = global.connect()?;
    let mut result = client.set(path, &data, version, timeout);
    if parsed.has("create") && result.as_ref().is_err_and(|e| e.code() == zkutil::Code::NoNode) {
        result = match client.create(path, &data, &CreateOptions::persistent().with_parents(), timeout) {
            Ok((_, stat)) => Ok(stat),
            // Created meanwhile by someone else: set it after all.
            Err(e) if e.code() == zkutil::Code::NodeExists => client.set(path, &data, None, timeout),
            Err(e) => Err(e),
        };
    }
    client.close();
    let stat = result.map_err(unknown_outcome)?;
    println!("{}", stat.version);
    Ok(exit::OK)
}

/// A write cut off by a timeout or a connection loss may have been applied.
pub fn unknown_outcome(e: zkutil::Error) -> CliError {
    match e.code() {
        zkutil::Code::OperationTimeout | zkutil::Code::ConnectionLoss => CliError::Other(
            format!("the write may or may not have been applied: {}", e.message()),
            exit::UNKNOWN_OUTCOME,
        ),
        _ => CliError::Zk(e),
    }
}
