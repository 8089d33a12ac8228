//! Running a command under `zkutil lock`, `elect`, `rwlock` and `register`:
//! starting it, forwarding the signals sent to zkutil, stopping it when
//! what it runs under is lost, and its exit status.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use clap::Args;

use crate::args::{SECONDS, STATUS, Text};
use crate::{CliError, exit, signals};

/// Status when what the command ran under was lost while it ran
/// (EX_TEMPFAIL: "temporary failure; the user is invited to retry").
pub const LOST_EXIT: u8 = 75;

/// How the command is run and stopped: `--timeout`, `--timeout-exit`,
/// `--signal`, `--kill-after`, `--lost-exit` and the command after `--`.
#[derive(Args)]
pub struct RunArgs {
    #[arg(long, value_parser = SECONDS)]
    pub timeout: Option<Duration>,
    #[arg(long, value_parser = STATUS, default_value_t = exit::TIMEOUT)]
    pub timeout_exit: u8,
    #[arg(long, value_parser = Text(signal), default_value = "TERM")]
    pub signal: libc::c_int,
    #[arg(long, value_parser = SECONDS)]
    pub kill_after: Option<Duration>,
    #[arg(long, value_parser = STATUS, default_value_t = LOST_EXIT)]
    pub lost_exit: u8,
    /// Everything after `--`, as given (any bytes, leading dashes too).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn signal(name: &str) -> Result<libc::c_int, String> {
    signals::parse(name).ok_or_else(|| format!("unknown signal {name:?}"))
}

/// A running command.
pub struct Supervised {
    child: Child,
    /// The signal that stops it, and SIGKILL this long after if given.
    signal: libc::c_int,
    kill_after: Option<Duration>,
    /// When it was told to stop.
    stopped_at: Option<Instant>,
    killed: bool,
    forwarded: u64,
}

/// How often the loop looks at the command, the signals and the state.
pub const TICK: Duration = Duration::from_millis(20);

impl Supervised {
    /// Starts `command` with `env` added; `sub` names the subcommand in the
    /// error (status 127 when not found, 126 when it cannot be run).
    pub fn spawn(
        sub: &str,
        command: &[OsString],
        env: &[(&str, String)],
        signal: libc::c_int,
        kill_after: Option<Duration>,
    ) -> Result<Supervised, CliError> {
        let child = Command::new(&command[0]).args(&command[1..]).envs(env.iter().cloned()).spawn().map_err(|e| {
            let status = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            CliError::Other(format!("{sub}: cannot run {:?}: {e}", command[0]), status)
        })?;
        Ok(Supervised { child, signal, kill_after, stopped_at: None, killed: false, forwarded: signals::count() })
    }

    /// Sends the stop signal (once).
    pub fn stop(&mut self) {
        if self.stopped_at.is_none() {
            signals::kill(self.child.id(), self.signal);
            self.stopped_at = Some(Instant::now());
        }
    }

    pub fn was_stopped(&self) -> bool {
        self.stopped_at.is_some()
    }

    /// Its status once it exited; meanwhile forwards the signals sent to
    /// zkutil alone and sends SIGKILL `kill_after` the stop.
    pub fn poll(&mut self) -> Result<Option<ExitStatus>, CliError> {
        if let Some(status) = self.child.try_wait().map_err(|e| CliError::io("wait for the command", e))? {
            return Ok(Some(status));
        }
        if signals::count() != self.forwarded {
            self.forwarded = signals::count();
            if let Some((sig, true)) = signals::last() {
                signals::kill(self.child.id(), sig);
            }
        }
        if let (Some(at), Some(after), false) = (self.stopped_at, self.kill_after, self.killed) {
            if at.elapsed() >= after {
                signals::kill(self.child.id(), libc::SIGKILL);
                self.killed = true;
            }
        }
        Ok(None)
    }
}

/// zkutil's status for the command's: its code, 128+N after signal N.
pub fn status_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128 + sig as u8,
        _ => exit::FAILURE,
    }
}
