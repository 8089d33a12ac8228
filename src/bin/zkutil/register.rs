//! `zkutil register`: keeps a registration node while a command runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use zkutil::registration::{Registration, RegistrationOptions, RegistrationState};
use zkutil::{Cancel, Code, SessionState, Timeout};

use crate::args::{SECONDS, TEXT};
use crate::supervise::{self, RunArgs, Supervised};
use crate::{CliError, Global, deadline, left, signals};

pub const REGISTER_HELP: &str = "\
Usage: zkutil register PATH [DATA] [OPTIONS] -- CMD [ARGS...]

Keeps the node PATH holding DATA (default empty) while CMD runs, for
service discovery (`zkutil members` on the parent lists it): an ephemeral
node, created with missing parents, deleted when CMD exits; zkutil exits
with CMD's status (128+N when CMD was killed by signal N). CMD starts once
the node exists; it gets its path in ZKU_REGISTRATION_PATH (with
--sequential the name the server gave at the start).

While CMD runs the node is kept: deleted by someone, it is created again; a
node zkutil did not create at PATH (another session's) is never deleted or
overwritten: zkutil waits for it to go, then creates its own. Each time the
node goes missing or comes back a note is printed on stderr; CMD keeps
running. While ZooKeeper is unreachable CMD keeps running too (the node is
reported missing after the session timeout). When the session expires, the
node cannot come back in this session: zkutil sends CMD the --signal
(default TERM), SIGKILL --kill-after seconds later if given, and exits with
--lost-exit (default 75), for a supervisor to restart it with a new
session. With --session-renewal (or ZKU_SESSION_RENEWAL=1) zkutil opens a
new session instead, creates the node again in it and CMD keeps running.

SIGTERM, SIGINT or SIGHUP sent to zkutil are forwarded to CMD; while still
waiting for the node they stop the wait (exit status 128+N).

Options:
  --sequential       a sequential node: PATH is the name prefix (e.g.
                     /services/api/member-); each creation gets a new name
  --persistent       a persistent node (survives the session; still
                     deleted when CMD exits)
  --ttl S            with --persistent: the server deletes the node after S
                     seconds without changes (needs extended types); it is
                     created again
  --timeout S        wait at most S seconds for the node before running CMD
                     (default: no limit)
  --timeout-exit N   status when the node did not exist in time (default 5)
  --signal SIG       signal for CMD when the session expired (default TERM)
  --kill-after S     then SIGKILL after S seconds if CMD still runs
  --lost-exit N      status when the session expired while CMD ran
                     (default 75; never with --session-renewal)

Exit status: CMD's; --timeout-exit; --lost-exit; 126 (CMD cannot be run),
127 (CMD not found), 128+N, otherwise as for every subcommand.
";

#[derive(Args)]
pub struct RegisterArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(value_parser = TEXT)]
    data: Option<String>,
    #[arg(long)]
    sequential: bool,
    #[arg(long)]
    persistent: bool,
    #[arg(long, value_parser = SECONDS)]
    ttl: Option<Duration>,
    #[command(flatten)]
    run: RunArgs,
}

pub fn register(args: RegisterArgs, global: &Global) -> Result<u8, CliError> {
    let RegisterArgs { path, data, sequential, persistent, ttl, run } = args;
    let RunArgs { timeout, timeout_exit, signal, kill_after, lost_exit, command } = run;
    if command.is_empty() {
        return Err(CliError::usage("register: missing -- CMD [ARGS...]"));
    }
    if ttl.is_some() && !persistent {
        return Err(CliError::usage("register: --ttl needs --persistent"));
    }
    let deadline = deadline(timeout, Timeout::Forever);
    signals::install();
    let client = global.connect(deadline)?;
    let options = RegistrationOptions { persistent, sequential, ttl };
    let data = data.unwrap_or_default();

    // A signal while waiting for the node stops the wait (checked by a
    // helper thread: the wait blocks this one).
    let cancel = Cancel::new();
    let seen = signals::count();
    let waiting = Arc::new(AtomicBool::new(true));
    let canceller = {
        let (cancel, waiting) = (cancel.clone(), waiting.clone());
        std::thread::spawn(move || {
            while waiting.load(Ordering::SeqCst) {
                if signals::count() != seen {
                    cancel.cancel();
                    return;
                }
                std::thread::sleep(supervise::TICK);
            }
        })
    };
    let present = zkutil::cancel::scope(Some(&cancel), None, || {
        let registration = Registration::new(&client, &path, data.as_bytes(), options, left(deadline))?;
        wait_present(&registration, &cancel, deadline)?;
        Ok(registration)
    });
    waiting.store(false, Ordering::SeqCst);
    let _ = canceller.join();
    let registration = match present {
        Ok(registration) => registration,
        Err(e) => {
            client.close();
            return match e.code() {
                Code::OperationTimeout => {
                    eprintln!("zkutil: register {path}: {}", e.message());
                    Ok(timeout_exit)
                }
                Code::Cancelled => Ok(128 + signals::last().map_or(libc::SIGTERM, |(s, _)| s) as u8),
                _ => Err(e.into()),
            };
        }
    };

    let (tx, states) = mpsc::channel();
    let _ = registration.set_state_callback(Some(Box::new(move |_, new| {
        let _ = tx.send(new);
    })));
    let env = [("ZKU_REGISTRATION_PATH", registration.path().unwrap_or_default())];
    let mut child = match Supervised::spawn("register", &command, &env, signal, kill_after) {
        Ok(child) => child,
        Err(e) => {
            close(&registration, &client);
            return Err(e);
        }
    };
    // The node may have gone between the wait and the callback.
    if registration.state() == RegistrationState::Absent {
        note(&registration, RegistrationState::Absent);
    }
    let status = loop {
        match child.poll() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                close(&registration, &client);
                return Err(e);
            }
        }
        for state in states.try_iter() {
            note(&registration, state);
        }
        // With session renewal the node comes back in the new session.
        if client.state() == SessionState::Expired && !client.renews_session() && !child.was_stopped() {
            eprintln!(
                "zkutil: register {path}: the session expired, the node cannot come back in it: \
                 sending signal {signal} to the command"
            );
            child.stop();
        }
        std::thread::sleep(supervise::TICK);
    };
    // What changed in the command's last tick is told too.
    for state in states.try_iter() {
        note(&registration, state);
    }
    close(&registration, &client);
    if child.was_stopped() {
        return Ok(lost_exit);
    }
    Ok(supervise::status_code(status))
}

/// Waits until the node is present, at most until `deadline`.
fn wait_present(
    registration: &Registration,
    cancel: &Cancel,
    deadline: zkutil::runtime::Deadline,
) -> zkutil::Result<()> {
    while registration.state() != RegistrationState::Present {
        if cancel.is_cancelled() {
            return Err(zkutil::Error::new(Code::Cancelled, "stopped by a signal"));
        }
        if deadline.is_expired() {
            let why = registration.reason().unwrap_or_default();
            return Err(zkutil::Error::timeout(format!("the node did not exist in time ({why})")));
        }
        std::thread::sleep(supervise::TICK);
    }
    Ok(())
}

fn note(registration: &Registration, state: RegistrationState) {
    let path = registration.path().unwrap_or_default();
    match state {
        // The reason, unless the node is back already.
        RegistrationState::Absent => match registration.reason() {
            Some(why) => eprintln!("zkutil: register {path}: the node is missing ({why})"),
            None => eprintln!("zkutil: register {path}: the node was missing"),
        },
        RegistrationState::Present => eprintln!("zkutil: register {path}: the node is back"),
        RegistrationState::Closed => {}
    }
}

/// Deletes the node (if still ours) and closes the session.
fn close(registration: &Registration, client: &zkutil::Client) {
    let _ = registration.set_state_callback(None);
    if let Err(e) = registration.close(Timeout::After(Duration::from_secs(10))) {
        eprintln!("zkutil: register: {}; closing the session removes an ephemeral node", e.message());
    }
    client.close();
}
