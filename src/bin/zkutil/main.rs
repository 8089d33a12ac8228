//! `zkutil`: the library's recipes for shell scripts and operators.
//!
//! Usage: zkutil [GLOBAL OPTIONS] SUBCOMMAND [ARGS]; `zkutil --help` lists
//! the subcommands, `zkutil SUBCOMMAND --help` describes one. Exit codes
//! are in [`exit`] and docs/cli.md.

mod acl;
mod args;
mod cas;
mod completions;
mod exit;
mod lock;
mod members;
mod node;
mod progress;
mod register;
mod signals;
mod stat;
mod supervise;
mod tree;
mod wait;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use args::{TEXT, Text};
use clap::error::ErrorKind;
use clap::{Args, ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand};
use zkutil::config::{self, Config};
use zkutil::runtime::Deadline;
use zkutil::{Client, Timeout};

/// A failure: what to print and the exit status.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line: the message, then a pointer to --help. Exit 2.
    Usage(String),
    /// A library error, with what was being done.
    Zk(zkutil::Error),
    /// Anything else (files, I/O): the message and a status.
    Other(String, u8),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    pub fn io(what: &str, e: std::io::Error) -> CliError {
        CliError::Other(format!("{what}: {e}"), exit::FAILURE)
    }
}

impl From<zkutil::Error> for CliError {
    fn from(e: zkutil::Error) -> CliError {
        CliError::Zk(e)
    }
}

/// The command line. Help texts are the hand-written ones of [`HELPS`]
/// (see [`command`]); the doc comments of the subcommands are their
/// summaries (the main help and the shell completions show them).
#[derive(Parser)]
#[command(name = "zkutil", version, args_override_self = true, color = ColorChoice::Never)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    subcommand: Option<Sub>,
}

#[derive(Subcommand)]
enum Sub {
    /// run a command while holding a lock, like flock(1)
    Lock(lock::LockArgs),
    /// print who holds a lock (exit status 3 when free)
    Holder(lock::HolderArgs),
    /// run a command only while elected leader (active/standby)
    Elect(lock::LockArgs),
    /// run a command while holding a read or write lock
    Rwlock(lock::RwlockArgs),
    /// keep a registration node while a command runs
    Register(register::RegisterArgs),
    /// list the nodes under a parent with their data (service discovery)
    Members(members::MembersArgs),
    /// print a node's data
    Get(node::GetArgs),
    /// replace a node's data (optionally only at a given version)
    Set(node::SetArgs),
    /// atomically update a JSON node: a counter or one field
    Cas(cas::CasArgs),
    /// wait until a node's version is greater than VERSION, print it
    Next(wait::NextArgs),
    /// wait until a node does not exist
    WaitAbsent(wait::WaitAbsentArgs),
    /// write a subtree (values and ACLs) as a JSON document to stdout
    Export(tree::ExportArgs),
    /// create or update a subtree from a JSON document (FILE, - for stdin)
    Import(tree::ImportArgs),
    /// run a client for a moment and print its statistics
    Stat(stat::StatArgs),
    /// print base64(sha1(USER:PASSWORD)), ZooKeeper's digest
    Digest(acl::DigestArgs),
    /// print digest:USER:DIGEST:PERMS for an ACL
    AclEntry(acl::AclEntryArgs),
    /// print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
}

/// A subcommand's hand-written help, and whether it talks to ZooKeeper
/// (its help then describes the connection options).
struct Help {
    name: &'static str,
    text: &'static str,
    connects: bool,
}

const HELPS: &[Help] = &[
    Help { name: "lock", text: lock::LOCK_HELP, connects: true },
    Help { name: "holder", text: lock::HOLDER_HELP, connects: true },
    Help { name: "elect", text: lock::ELECT_HELP, connects: true },
    Help { name: "rwlock", text: lock::RWLOCK_HELP, connects: true },
    Help { name: "register", text: register::REGISTER_HELP, connects: true },
    Help { name: "members", text: members::MEMBERS_HELP, connects: true },
    Help { name: "get", text: node::GET_HELP, connects: true },
    Help { name: "set", text: node::SET_HELP, connects: true },
    Help { name: "cas", text: cas::CAS_HELP, connects: true },
    Help { name: "next", text: wait::NEXT_HELP, connects: true },
    Help { name: "wait-absent", text: wait::WAIT_ABSENT_HELP, connects: true },
    Help { name: "export", text: tree::EXPORT_HELP, connects: true },
    Help { name: "import", text: tree::IMPORT_HELP, connects: true },
    Help { name: "stat", text: stat::STAT_HELP, connects: true },
    Help { name: "digest", text: acl::DIGEST_HELP, connects: false },
    Help { name: "acl-entry", text: acl::ACL_ENTRY_HELP, connects: false },
    Help { name: "completions", text: completions::HELP, connects: false },
];

/// Options every connecting subcommand takes, before or after its name;
/// unset ones fall back to the ZKU_* environment variables, as in the
/// library. Global to clap (so they may come first); [`run`] refuses them
/// for the subcommands that do not connect.
#[derive(Args, Default, PartialEq)]
struct Connection {
    #[arg(long, global = true, value_parser = TEXT)]
    hosts: Option<String>,
    #[arg(long, global = true, value_parser = TEXT)]
    auth: Option<String>,
    #[arg(long, global = true, value_parser = TEXT)]
    acl: Option<String>,
    #[arg(long, global = true, value_parser = Text(args::positive_seconds))]
    session_timeout: Option<Duration>,
    #[arg(long, global = true, value_parser = Text(args::positive_seconds))]
    connect_timeout: Option<Duration>,
    #[arg(long, global = true)]
    session_renewal: bool,
    #[arg(long, global = true, value_parser = TEXT)]
    lock_dir: Option<String>,
    #[arg(long, global = true, value_parser = TEXT)]
    node_id: Option<String>,
}

const GLOBAL_HELP: &str = "\
Connection options (every subcommand that talks to ZooKeeper; unset ones
come from the ZKU_* environment variables, as in the library):
  --hosts HOSTS            host:port[,host:port...][/chroot]   (ZKU_HOSTS)
  --auth SCHEME:USER:PW    credentials, e.g. digest:xp:123     (ZKU_AUTH)
  --acl USER:PW:PERMS[,..] ACL of the nodes zkutil creates     (ZKU_ACL)
  --session-timeout S      session timeout, seconds  (ZKU_SESSION_TIMEOUT_MS)
  --connect-timeout S      wait for a session, seconds (ZKU_CONNECT_TIMEOUT_MS)
  --session-renewal        open a new session after an expiry (ZKU_SESSION_RENEWAL)
  --lock-dir DIR           lock directory, default /lock/       (ZKU_LOCK_DIR)
  --node-id ID             node id in lock identifiers          (ZKU_NODE_ID)";

/// The configuration the connection options give.
pub struct Global {
    pub config: Config,
}

impl Global {
    fn from(connection: Connection) -> Result<Global, CliError> {
        let mut config = Config::new();
        if let Some(hosts) = connection.hosts {
            config::parse_hosts(&hosts).map_err(|e| CliError::usage(format!("--hosts: {}", e.message())))?;
            config.hosts = Some(hosts);
        }
        if let Some(auth) = connection.auth {
            config.auth =
                Some(config::parse_auth(&auth).map_err(|e| CliError::usage(format!("--auth: {}", e.message())))?);
        }
        if let Some(acl) = connection.acl {
            config.acl =
                Some(config::parse_acl_list(&acl).map_err(|e| CliError::usage(format!("--acl: {}", e.message())))?);
        }
        config.session_timeout = connection.session_timeout;
        config.connect_timeout = connection.connect_timeout;
        // Absent: the environment decides (ZKU_SESSION_RENEWAL).
        config.session_renewal = connection.session_renewal.then_some(true);
        config.lock_dir = connection.lock_dir;
        config.node_id = connection.node_id;
        Ok(Global { config })
    }

    /// Connects within the connect timeout and, when the command has a time
    /// limit, within what is left of it: `--timeout` bounds the whole
    /// command. `--timeout 0` (an expired deadline) still connects, within
    /// the connect timeout, for its one attempt.
    pub fn connect(&self, deadline: Deadline) -> Result<Client, CliError> {
        let mut config = self.config.clone();
        if let Some(left) = deadline.remaining().filter(|d| !d.is_zero()) {
            config.connect_timeout = Some(config.connect_timeout().min(left));
        }
        Ok(Client::connect(config)?)
    }
}

/// When a command gives up: `--timeout` seconds from now, else after
/// `default`.
pub fn deadline(timeout: Option<Duration>, default: Timeout) -> Deadline {
    timeout.map_or(default, Timeout::from_duration).deadline()
}

/// What is left before `deadline`, as the timeout of the next call (none
/// left: one attempt without waiting).
pub fn left(deadline: Deadline) -> Timeout {
    match deadline.remaining() {
        None => Timeout::Forever,
        Some(d) if d.is_zero() => Timeout::NoWait,
        Some(d) => Timeout::After(d),
    }
}

/// The command line's grammar with zkutil's help texts.
fn command() -> clap::Command {
    let grammar = Cli::command();
    let main = main_help(&grammar);
    grammar.override_help(main).mut_subcommands(|sub| {
        // Negative numbers are values: `cas --add -5`, `next PATH -1`.
        let sub = sub.allow_negative_numbers(true);
        match HELPS.iter().find(|h| h.name == sub.get_name()) {
            Some(help) => sub.override_help(sub_help(help)),
            None => sub,
        }
    })
}

fn main_help(grammar: &clap::Command) -> String {
    let mut out = String::from(
        "zkutil: ZooKeeper recipes for shell scripts (locks, compare-and-swap, waits,\n\
         tree import/export, digest ACLs). Built from the zkutil library.\n\n\
         Usage: zkutil [OPTIONS] SUBCOMMAND [ARGS...]\n\
         \x20      zkutil SUBCOMMAND --help\n\nSubcommands:\n",
    );
    for sub in grammar.get_subcommands() {
        let summary = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push_str(&format!("  {:<12} {summary}\n", sub.get_name()));
    }
    out.push('\n');
    out.push_str(GLOBAL_HELP);
    out.push_str("\n\n");
    out.push_str(exit::HELP);
    out
}

fn sub_help(help: &Help) -> String {
    let mut out = help.text.to_string();
    if help.connects {
        out.push('\n');
        out.push_str(GLOBAL_HELP);
        out.push('\n');
    }
    out
}

fn run(argv: Vec<OsString>) -> Result<u8, CliError> {
    let program = std::iter::once(OsString::from("zkutil"));
    let matches = match command().try_get_matches_from(program.chain(argv)) {
        Ok(matches) => matches,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.print().map_err(|e| CliError::io("stdout", e))?;
            return Ok(exit::OK);
        }
        Err(e) => return Err(CliError::Usage(args::usage_message(&e))),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| CliError::Usage(args::usage_message(&e)))?;
    let Some(subcommand) = cli.subcommand else {
        eprint!("{}", main_help(&Cli::command()));
        return Ok(exit::USAGE);
    };
    let name = matches.subcommand_name().unwrap_or_default();
    let connects = HELPS.iter().any(|h| h.name == name && h.connects);
    if !connects && cli.connection != Connection::default() {
        return Err(CliError::usage(format!("{name} does not talk to ZooKeeper: connection options do not apply")));
    }
    let global = Global::from(cli.connection)?;
    match subcommand {
        Sub::Lock(a) => lock::lock(a, &global),
        Sub::Holder(a) => lock::holder(a, &global),
        Sub::Elect(a) => lock::elect(a, &global),
        Sub::Rwlock(a) => lock::rwlock(a, &global),
        Sub::Register(a) => register::register(a, &global),
        Sub::Members(a) => members::members(a, &global),
        Sub::Get(a) => node::get(a, &global),
        Sub::Set(a) => node::set(a, &global),
        Sub::Cas(a) => cas::cas(a, &global),
        Sub::Next(a) => wait::next(a, &global),
        Sub::WaitAbsent(a) => wait::wait_absent(a, &global),
        Sub::Export(a) => tree::export(a, &global),
        Sub::Import(a) => tree::import(a, &global),
        Sub::Stat(a) => stat::stat(a, &global),
        Sub::Digest(a) => acl::digest(a),
        Sub::AclEntry(a) => acl::acl_entry(a),
        Sub::Completions(a) => completions::print(a, command()),
    }
}

fn main() -> ExitCode {
    let code = match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(CliError::Usage(m)) => {
            eprintln!("zkutil: {m}\n(zkutil --help for usage)");
            exit::USAGE
        }
        Err(CliError::Zk(e)) => {
            eprintln!("zkutil: {}: {}", e.code().description(), e.message());
            exit::for_code(e.code())
        }
        Err(CliError::Other(m, code)) => {
            eprintln!("zkutil: {m}");
            code
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_and_helps_agree() {
        command().debug_assert();
        let grammar = Cli::command();
        let names: Vec<&str> = grammar.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(names, HELPS.iter().map(|h| h.name).collect::<Vec<_>>(), "one hand-written help each, in order");
        for help in HELPS {
            assert!(help.text.starts_with(&format!("Usage: zkutil {} ", help.name)), "{}", help.name);
        }
    }
}
