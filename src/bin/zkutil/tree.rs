//! `zkutil export` and `zkutil import`: hierarchy documents (see
//! docs/hierarchy.md for the format).

use std::io::{Read, Write};

use zkutil::Timeout;
use zkutil::hierarchy::{self, Document, ExportFormat, ExportOptions, ImportOptions, Users};

use crate::args::{Parsed, flag, opt};
use crate::progress::Progress;
use crate::{CliError, Global, Subcommand, exit, timeout_flag};

pub static EXPORT: Subcommand = Subcommand {
    name: "export",
    summary: "write a subtree (values and ACLs) as a JSON document to stdout",
    help: "\
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
",
    flags: &[
        opt("users"),
        flag("omit-inherited-acl"),
        flag("k3zkutil"),
        flag("compact"),
        opt("timeout"),
        flag("progress"),
        flag("no-progress"),
    ],
    connects: true,
    run: export,
};

pub static IMPORT: Subcommand = Subcommand {
    name: "import",
    summary: "create or update a subtree from a JSON document (FILE, - for stdin)",
    help: "\
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
",
    flags: &[opt("root"), opt("users"), flag("update"), opt("timeout"), flag("progress"), flag("no-progress")],
    connects: true,
    run: import,
};

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

fn users(parsed: &Parsed) -> Result<Users, CliError> {
    match parsed.value("users") {
        Some(file) => Ok(Users::parse(&read_file(file, "users file")?)?),
        None => Ok(Users::new()),
    }
}

fn export(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path] = parsed.expect_positionals(&["PATH"])?[..] else { unreachable!() };
    let options = ExportOptions {
        format: if parsed.has("k3zkutil") { ExportFormat::K3zkutil } else { ExportFormat::Lossless },
        pretty: !parsed.has("compact"),
        users: users(parsed)?,
        omit_inherited_acl: parsed.has("omit-inherited-acl"),
    };
    let timeout = timeout_flag(parsed, Timeout::Forever)?;
    let client = global.connect()?;
    let mut progress = Progress::new("exporting", parsed);
    let result = hierarchy::export(&client, path, &options, timeout, Some(&mut |d, t| progress.update(d, t)));
    progress.finish();
    client.close();
    let mut text = result?;
    text.push('\n');
    std::io::stdout().write_all(text.as_bytes()).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}

fn import(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [file] = parsed.expect_positionals(&["FILE"])?[..] else { unreachable!() };
    let root = parsed.value("root").unwrap_or("/");
    let timeout = timeout_flag(parsed, Timeout::Forever)?;
    let users = users(parsed)?;
    zkutil::path::validate(root)?;
    // Checked completely before connecting.
    let doc = Document::parse(&read_file(file, "document")?, &users)?;
    let options = ImportOptions { update_values: parsed.has("update") };
    let client = global.connect()?;
    let mut progress = Progress::new("importing", parsed);
    let result = hierarchy::import(&client, root, &doc, &options, timeout, Some(&mut |d, t| progress.update(d, t)));
    progress.finish();
    client.close();
    let stats = result.map_err(zkutil::Error::from)?;
    println!(
        "imported {} nodes into {root}: {} created, {} existed, {} values set",
        stats.nodes, stats.created, stats.existed, stats.values_set
    );
    Ok(exit::OK)
}
