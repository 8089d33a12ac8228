//! `zkutil export` and `zkutil import`: hierarchy documents (see
//! docs/hierarchy.md for the format).

use std::io::{Read, Write};
use std::time::Duration;

use clap::Args;
use zkutil::Timeout;
use zkutil::hierarchy::{self, Document, ExportFormat, ExportOptions, ImportOptions, Users};

use crate::args::{SECONDS, TEXT};
use crate::progress::{Progress, ProgressArgs};
use crate::{CliError, Global, deadline, exit, left};

pub const EXPORT_HELP: &str = "\
Usage: zkutil export PATH [OPTIONS]

Writes the subtree at PATH as a hierarchy document (docs/hierarchy.md) to
stdout: every node's value (__val__ for JSON, __text__, or base64 __data__)
and ACL (__acl__ or __acls__), children sorted by name. `zkutil import` of
the document rebuilds the tree exactly. Reads are pipelined, level by level.

Options:
  --users FILE           JSON {\"user\": \"password\"}: digest entries of these
                         users are written in the short {user: perms} form
  --omit-inherited-acl   leave out ACLs equal to the parent's (import
                         inherits them)
  --k3zkutil             k3zkutil's own (lossy) output instead: __val__ the
                         raw data as a string, __acl__ {id: perms}
  --compact              one line instead of indented
  --timeout S            give up after S seconds (default: no limit)
  --progress, --no-progress
                         the progress line on stderr (default: when stderr
                         is a terminal)
";

#[derive(Args)]
pub struct ExportArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(long, value_parser = TEXT)]
    users: Option<String>,
    #[arg(long)]
    omit_inherited_acl: bool,
    #[arg(long)]
    k3zkutil: bool,
    #[arg(long)]
    compact: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub const IMPORT_HELP: &str = "\
Usage: zkutil import FILE [OPTIONS]

Creates the tree a hierarchy document describes (docs/hierarchy.md; FILE
`-` reads stdin) under --root: the document's own __val__/__acl__ apply to
the root, its other keys are children. A missing root is created (its
parent must exist). Nodes get their value ({} by default) and ACL (their
parent's by default); existing nodes get their ACL set, and with --update
their value when the document gives one (k3zkutil's init_hierarchy).
The whole document is checked first: when it is malformed nothing is
written and the message names the JSON path. Prints what was done.

Options:
  --root PATH      where to import (default /)
  --users FILE     JSON {\"user\": \"password\"}: passwords of the users in
                   __acl__ maps
  --update         also set the values of existing nodes
  --timeout S      give up after S seconds (default: no limit)
  --progress, --no-progress
                   the progress line on stderr (default: when stderr is a
                   terminal)
";

#[derive(Args)]
pub struct ImportArgs {
    #[arg(value_parser = TEXT)]
    file: String,
    #[arg(long, value_parser = TEXT, default_value = "/")]
    root: String,
    #[arg(long, value_parser = TEXT)]
    users: Option<String>,
    #[arg(long)]
    update: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
    #[command(flatten)]
    progress: ProgressArgs,
}

fn read_file(name: &str, what: &str) -> Result<String, CliError> {
    let mut text = String::new();
    let result = if name == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(name).map(|t| text = t)
    };
    result.map_err(|e| CliError::Other(format!("{what} {name}: {e}"), exit::FAILURE))?;
    Ok(text)
}

fn users(file: Option<&str>) -> Result<Users, CliError> {
    match file {
        Some(file) => Ok(Users::parse(&read_file(file, "users file")?)?),
        None => Ok(Users::new()),
    }
}

pub fn export(args: ExportArgs, global: &Global) -> Result<u8, CliError> {
    let options = ExportOptions {
        format: if args.k3zkutil { ExportFormat::K3zkutil } else { ExportFormat::Lossless },
        pretty: !args.compact,
        users: users(args.users.as_deref())?,
        omit_inherited_acl: args.omit_inherited_acl,
    };
    let deadline = deadline(args.timeout, Timeout::Forever);
    let client = global.connect(deadline)?;
    let mut progress = Progress::new("exporting", &args.progress);
    let result =
        hierarchy::export(&client, &args.path, &options, left(deadline), Some(&mut |d, t| progress.update(d, t)));
    progress.finish();
    client.close();
    let mut text = result?;
    text.push('\n');
    std::io::stdout().write_all(text.as_bytes()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

pub fn import(args: ImportArgs, global: &Global) -> Result<u8, CliError> {
    let root = args.root.as_str();
    let deadline = deadline(args.timeout, Timeout::Forever);
    let users = users(args.users.as_deref())?;
    zkutil::path::validate(root)?;
    // Checked completely before connecting.
    let doc = Document::parse(&read_file(&args.file, "document")?, &users)?;
    let options = ImportOptions { update_values: args.update };
    let client = global.connect(deadline)?;
    let mut progress = Progress::new("importing", &args.progress);
    let result =
        hierarchy::import(&client, root, &doc, &options, left(deadline), Some(&mut |d, t| progress.update(d, t)));
    progress.finish();
    client.close();
    let stats = result?;
    println!(
        "imported {} nodes into {root}: {} created, {} existed, {} values set",
        stats.nodes, stats.created, stats.existed, stats.values_set
    );
    Ok(exit::OK)
}
