//! `zkutil`: the library's recipes for shell scripts and operators.
//!
//! Usage: zkutil [GLOBAL OPTIONS] SUBCOMMAND [ARGS]; `zkutil --help` lists
//! the subcommands, `zkutil SUBCOMMAND --help` describes one. Exit codes
//! are in [`exit`] and docs/cli.md.

mod acl;
mod args;
mod cas;
mod exit;
mod lock;
mod node;
mod progress;
mod signals;
mod tree;
mod wait;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use args::{Flag, Parsed, flag, opt};
use zkutil::config::{self, Config};
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

/// One subcommand.
pub struct Subcommand {
    pub name: &'static str,
    pub summary: &'static str,
    pub help: &'static str,
    pub flags: &'static [Flag],
    /// Whether it talks to ZooKeeper (and so takes the connection options).
    pub connects: bool,
    pub run: fn(&Parsed, &Global) -> Result<u8, CliError>,
}

/// Options every connecting subcommand takes; unset ones fall back to the
/// ZKU_* environment variables, as in the library.
pub const GLOBAL_FLAGS: &[Flag] = &[
    opt("hosts"),
    opt("auth"),
    opt("acl"),
    opt("session-timeout"),
    opt("connect-timeout"),
    opt("lock-dir"),
    opt("node-id"),
];

const GLOBAL_HELP: &str = "\
Connection options (every subcommand that talks to ZooKeeper; unset ones
come from the ZKU_* environment variables, as in the library):
  --hosts HOSTS            host:port[,host:port...][/chroot]   (ZKU_HOSTS)
  --auth SCHEME:USER:PW    credentials, e.g. digest:xp:123     (ZKU_AUTH)
  --acl USER:PW:PERMS[,..] ACL of the nodes zkutil creates     (ZKU_ACL)
  --session-timeout S      session timeout, seconds  (ZKU_SESSION_TIMEOUT_MS)
  --connect-timeout S      wait for a session, seconds (ZKU_CONNECT_TIMEOUT_MS)
  --lock-dir DIR           lock directory, default /lock/       (ZKU_LOCK_DIR)
  --node-id ID             node id in lock identifiers          (ZKU_NODE_ID)";

/// The configuration the global options give.
pub struct Global {
    pub config: Config,
}

impl Global {
    fn from(parsed: &Parsed) -> Result<Global, CliError> {
        let mut config = Config::new();
        if let Some(hosts) = parsed.value("hosts") {
            config::parse_hosts(hosts).map_err(|e| CliError::usage(format!("--hosts: {}", e.message())))?;
            config.hosts = Some(hosts.to_string());
        }
        if let Some(auth) = parsed.value("auth") {
            config.auth =
                Some(config::parse_auth(auth).map_err(|e| CliError::usage(format!("--auth: {}", e.message())))?);
        }
        if let Some(acl) = parsed.value("acl") {
            config.acl =
                Some(config::parse_acl_list(acl).map_err(|e| CliError::usage(format!("--acl: {}", e.message())))?);
        }
        let positive = |name: &str| -> Result<Option<Duration>, CliError> {
            match parsed.seconds(name)? {
                Some(d) if d.is_zero() => Err(CliError::usage(format!("--{name} must be positive"))),
                other => Ok(other),
            }
        };
        config.session_timeout = positive("session-timeout")?;
        config.connect_timeout = positive("connect-timeout")?;
        config.lock_dir = parsed.value("lock-dir").map(str::to_string);
        config.node_id = parsed.value("node-id").map(str::to_string);
        Ok(Global { config })
    }

    pub fn connect(&self) -> Result<Client, CliError> {
        Ok(Client::connect(self.config.clone())?)
    }
}

/// A `--timeout` in seconds as the library's timeout (`default` when not
/// given).
pub fn timeout_flag(parsed: &Parsed, default: Timeout) -> Result<Timeout, CliError> {
    Ok(parsed.seconds("timeout")?.map_or(default, Timeout::from_duration))
}

fn subcommands() -> Vec<&'static Subcommand> {
    vec![
        &lock::LOCK,
        &lock::HOLDER,
        &node::GET,
        &node::SET,
        &cas::CAS,
        &wait::NEXT,
        &wait::WAIT_ABSENT,
        &tree::EXPORT,
        &tree::IMPORT,
        &acl::DIGEST,
        &acl::ACL_ENTRY,
    ]
}

fn main_help() -> String {
    let mut out = String::from(
        "zkutil: ZooKeeper recipes for shell scripts (locks, compare-and-swap, waits,\n\
         tree import/export, digest ACLs). Built from the zkutil library.\n\n\
         Usage: zkutil [OPTIONS] SUBCOMMAND [ARGS...]\n\
         \x20      zkutil SUBCOMMAND --help\n\nSubcommands:\n",
    );
    for s in subcommands() {
        out.push_str(&format!("  {:<12} {}\n", s.name, s.summary));
    }
    out.push('\n');
    out.push_str(GLOBAL_HELP);
    out.push_str("\n\n");
    out.push_str(exit::HELP);
    out
}

fn run(argv: Vec<String>) -> Result<u8, CliError> {
    // Global options may come before the subcommand.
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with("--") && argv[i] != "--" {
        let name = argv[i].trim_start_matches('-').split('=').next().unwrap_or("");
        match name {
            "help" => {
                print!("{}", main_help());
                return Ok(exit::OK);
            }
            "version" => {
                println!("zkutil {}", env!("CARGO_PKG_VERSION"));
                return Ok(exit::OK);
            }
            _ => {}
        }
        let spec = GLOBAL_FLAGS
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| CliError::usage(format!("unknown option {:?}", argv[i])))?;
        i += if spec.takes_value && !argv[i].contains('=') { 2 } else { 1 };
    }
    let Some(name) = argv.get(i.min(argv.len())).filter(|_| i < argv.len()) else {
        eprint!("{}", main_help());
        return Ok(exit::USAGE);
    };
    if name == "help" || name == "-h" {
        match argv.get(i + 1).and_then(|n| subcommands().into_iter().find(|s| s.name == n)) {
            Some(s) => print!("{}", sub_help(s)),
            None => print!("{}", main_help()),
        }
        return Ok(exit::OK);
    }
    let sub = subcommands()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CliError::usage(format!("unknown subcommand {name:?} (zkutil --help lists them)")))?;
    let mut words: Vec<String> = argv[..i].to_vec();
    words.extend_from_slice(&argv[i + 1..]);
    let mut flags: Vec<Flag> = sub.flags.to_vec();
    flags.push(flag("help"));
    if sub.connects {
        flags.extend_from_slice(GLOBAL_FLAGS);
    }
    let parsed = args::parse(&words, &flags).map_err(|e| match e {
        CliError::Usage(m) => CliError::Usage(format!("{}: {m}", sub.name)),
        other => other,
    })?;
    if parsed.has("help") {
        print!("{}", sub_help(sub));
        return Ok(exit::OK);
    }
    let global = Global::from(&parsed)?;
    (sub.run)(&parsed, &global)
}

fn sub_help(sub: &Subcommand) -> String {
    let mut out = sub.help.to_string();
    if sub.connects {
        out.push('\n');
        out.push_str(GLOBAL_HELP);
        out.push('\n');
    }
    out
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(argv) {
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
