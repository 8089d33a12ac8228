//! `zkutil get` and `zkutil set`: one node's data.

use std::io::{Read, Write};
use std::time::Duration;

use zkutil::{CreateOptions, Stat, Timeout};

use clap::Args;

use crate::args::{SECONDS, TEXT, Text};
use crate::{CliError, Global, deadline, exit, left};

/// Node operations give up after this long by default.
pub const DEFAULT_TIMEOUT: Timeout = Timeout::After(Duration::from_secs(10));

pub const GET_HELP: &str = "\
Usage: zkutil get PATH [OPTIONS]

Writes the node's data to stdout exactly as stored (no newline added;
binary data is written as is). Exit status 3 when the node does not exist.

Options:
  --stat        print the node's stat as one JSON line instead of the data
                (version, czxid, mtime, data_length, num_children, ...)
  --timeout S   give up after S seconds (default 10)
";

#[derive(Args)]
pub struct GetArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(long)]
    stat: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

pub const SET_HELP: &str = "\
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
";

#[derive(Args)]
pub struct SetArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(value_parser = TEXT)]
    value: String,
    #[arg(long, value_parser = Text(version))]
    version: Option<i32>,
    #[arg(long)]
    create: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

fn version(text: &str) -> Result<i32, String> {
    match crate::args::integer(text)? {
        v if v < 0 => Err("must be 0 or more".to_string()),
        v => Ok(v),
    }
}

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

pub fn get(args: GetArgs, global: &Global) -> Result<u8, CliError> {
    let deadline = deadline(args.timeout, DEFAULT_TIMEOUT);
    zkutil::path::validate(&args.path)?;
    let client = global.connect(deadline)?;
    let result = client.get(&args.path, left(deadline));
    client.close();
    let (data, stat) = result?;
    let mut out = std::io::stdout().lock();
    let written = if args.stat { writeln!(out, "{}", stat_json(&stat)) } else { out.write_all(&data) };
    written.and_then(|_| out.flush()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

pub fn set(args: SetArgs, global: &Global) -> Result<u8, CliError> {
    let SetArgs { path, value, version, create, timeout } = args;
    if version.is_some() && create {
        return Err(CliError::usage("set: --create and --version do not go together"));
    }
    let deadline = deadline(timeout, DEFAULT_TIMEOUT);
    let path = path.as_str();
    zkutil::path::validate(path)?;
    let data = if value == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data).map_err(|e| CliError::io("stdin", e))?;
        data
    } else {
        value.as_bytes().to_vec()
    };
    let client = global.connect(deadline)?;
    let mut result = client.set(path, &data, version, left(deadline));
    if create && result.as_ref().is_err_and(|e| e.code() == zkutil::Code::NoNode) {
        result = match client.create(path, &data, &CreateOptions::persistent().with_parents(), left(deadline)) {
            Ok((_, stat)) => Ok(stat),
            // Created meanwhile by someone else: set it after all.
            Err(e) if e.code() == zkutil::Code::NodeExists => client.set(path, &data, None, left(deadline)),
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
