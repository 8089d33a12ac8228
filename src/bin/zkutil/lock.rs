//! `zkutil lock` (flock(1) over a ZooKeeper lock, k3zkutil's or with
//! `--fifo` the Curator-layout FIFO mutex) and `zkutil holder`.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use zkutil::lock::LockStateCallback;
use zkutil::{Cancel, Code, FifoLock, FifoOptions, Lock, LockOptions, LockState, Timeout};

use crate::args::{SECONDS, TEXT, Text};
use crate::supervise::{self, RunArgs, Supervised};
use crate::{CliError, Global, deadline, exit, left, signals};

pub const LOCK_HELP: &str = "\
Usage: zkutil lock NAME [OPTIONS] -- CMD [ARGS...]
       zkutil lock --fifo NAME [OPTIONS] -- CMD [ARGS...]

Acquires the lock NAME (the node lock-dir + NAME, k3zkutil's ZKLock: Python
k3zkutil processes and zkutil exclude each other), runs CMD with ARGS while
holding it, releases it when CMD exits, and exits with CMD's status (128+N
when CMD was killed by signal N).

With --fifo the lock is the FIFO mutex in Apache Curator's
InterProcessMutex layout instead (sequential nodes under lock-dir + NAME,
granted in arrival order, shared with Curator and kazoo processes; not
with k3zkutil locks of the same NAME).

CMD gets the lock in its environment: ZKU_LOCK_PATH (the node; with
--fifo the lock path), ZKU_LOCK_ID (the holder identifier) and
ZKU_LOCK_TOKEN (the fencing token, the node's creation zxid: it grows with
every acquisition, so a resource can refuse writes carrying an older
token).

When the lock is lost while CMD runs (the session expired, the node was
deleted or taken over), zkutil sends CMD the --signal (default TERM), and
SIGKILL --kill-after seconds later if given; once CMD is gone it exits with
--lost-exit (default 75) whatever CMD's status was. A lost connection that
comes back within the session timeout does not lose the lock (a note is
printed on stderr).

SIGTERM, SIGINT or SIGHUP sent to zkutil are forwarded to CMD (a Ctrl-C
from the terminal reaches CMD by itself); while still waiting for the lock
they stop the wait (exit status 128+N).

Options:
  --timeout S        wait at most S seconds for the lock (default: no
                     limit; 0: one attempt, like flock -n)
  --timeout-exit N   status when the lock was not acquired in time
                     (default 5)
  --signal SIG       signal for CMD when the lock is lost (default TERM;
                     a name like TERM, INT, KILL, USR1, or a number)
  --kill-after S     then SIGKILL after S seconds if CMD still runs
  --lost-exit N      status when the lock was lost while CMD ran
                     (default 75)
  --val JSON         the lock node's \"val\" while held (shown by zkutil
                     holder --json; k3zkutil's set_lock_val; not with
                     --fifo)
  --fifo             the FIFO mutex (Curator's layout), see above

Exit status: CMD's; --timeout-exit; --lost-exit; 126 (CMD cannot be run),
127 (CMD not found), 128+N (CMD killed by signal N, or zkutil stopped by
signal N while waiting), otherwise as for every subcommand.
";

#[derive(Args)]
pub struct LockArgs {
    #[arg(value_parser = TEXT)]
    name: String,
    #[arg(long, value_parser = Text(json))]
    val: Option<String>,
    #[arg(long)]
    fifo: bool,
    #[command(flatten)]
    run: RunArgs,
}

fn json(text: &str) -> Result<String, String> {
    zkutil::json::validate(text).map_err(|e| e.message().to_string())?;
    Ok(text.to_string())
}

pub const HOLDER_HELP: &str = "\
Usage: zkutil holder NAME [OPTIONS]

Prints the identifier of the lock's holder (node_id-ip-pid-uuid, as
k3zkutil writes it). Exit status 3 when nobody holds the lock.

Options:
  --json        print {\"path\", \"id\", \"val\", \"version\", \"token\"} instead
                (token: the fencing token, the node's creation zxid)
  --timeout S   give up after S seconds (default 10)
";

#[derive(Args)]
pub struct HolderArgs {
    #[arg(value_parser = TEXT)]
    name: String,
    #[arg(long)]
    json: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

pub const ELECT_HELP: &str = "\
Usage: zkutil elect NAME [OPTIONS] -- CMD [ARGS...]

An active/standby runner for daemons that were never written for it: joins
the leader election NAME (Apache Curator LeaderLatch's layout: sequential
latch- nodes under lock-dir + NAME, so Java LeaderLatch participants on
that path take part), waits to become leader (standbys wait, in arrival
order), runs CMD only while leader, resigns when CMD exits and exits with
CMD's status.

CMD gets ZKU_LOCK_PATH (the election path), ZKU_LOCK_ID (this participant)
and ZKU_LOCK_TOKEN (the fencing token: the creation zxid of our node,
larger for every later leader).

When leadership is lost while CMD runs (session expired, our node
deleted, disconnected for longer than the session timeout), zkutil sends
CMD the --signal (default TERM), SIGKILL --kill-after seconds later if
given, and exits with --lost-exit (default 75). A connection lost and
regained within the session timeout keeps leadership.

Options: --timeout S (wait at most S seconds to become leader; default no
limit), --timeout-exit N, --signal SIG, --kill-after S, --lost-exit N, as
for zkutil lock.
";

pub const RWLOCK_HELP: &str = "\
Usage: zkutil rwlock (--read | --write) NAME [OPTIONS] -- CMD [ARGS...]

Runs CMD while holding the read or the write side of the read-write lock
NAME (Apache Curator InterProcessReadWriteLock's layout: sequential
__READ__ and __WRIT__ nodes under lock-dir + NAME, shared with Curator
processes). Readers hold it together unless a writer is ahead in line; a
writer holds it alone; readers arriving after a waiting writer wait for it.

Environment, --timeout, --timeout-exit, --signal, --kill-after, --lost-exit
and the exit statuses are those of zkutil lock (ZKU_LOCK_PATH is the lock
path); --fifo and --val do not apply.
";

#[derive(Args)]
pub struct RwlockArgs {
    #[arg(long, conflicts_with = "write", required_unless_present = "write")]
    read: bool,
    #[arg(long)]
    write: bool,
    #[command(flatten)]
    lock: LockArgs,
}

/// Which lock `zkutil lock`, `elect` and `rwlock` hold.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    K3,
    Fifo,
    Latch,
    Read,
    Write,
}

/// `zkutil elect`: `zkutil lock` on a leader latch.
pub fn elect(args: LockArgs, global: &Global) -> Result<u8, CliError> {
    if args.fifo || args.val.is_some() {
        return Err(CliError::usage("elect: --fifo and --val do not apply"));
    }
    run_locked(args, global, Kind::Latch)
}

/// `zkutil rwlock`: `zkutil lock` on one side of a read-write lock.
pub fn rwlock(args: RwlockArgs, global: &Global) -> Result<u8, CliError> {
    if args.lock.fifo || args.lock.val.is_some() {
        return Err(CliError::usage("rwlock: --fifo and --val do not apply"));
    }
    run_locked(args.lock, global, if args.write { Kind::Write } else { Kind::Read })
}

pub fn lock(args: LockArgs, global: &Global) -> Result<u8, CliError> {
    let kind = if args.fifo { Kind::Fifo } else { Kind::K3 };
    run_locked(args, global, kind)
}

/// Runs CMD while holding the lock (a latch: while leader).
fn run_locked(args: LockArgs, global: &Global, kind: Kind) -> Result<u8, CliError> {
    let LockArgs { name, val, fifo, run } = args;
    let RunArgs { timeout, timeout_exit, signal, kill_after, lost_exit, command } = run;
    let sub = match kind {
        Kind::Latch => "elect",
        Kind::Read | Kind::Write => "rwlock",
        Kind::K3 | Kind::Fifo => "lock",
    };
    if command.is_empty() {
        return Err(CliError::usage(format!("{sub}: missing -- CMD [ARGS...]")));
    }
    if fifo && val.is_some() {
        return Err(CliError::usage("lock: --val is for k3zkutil locks, not with --fifo"));
    }
    // Connecting counts against --timeout too.
    let deadline = deadline(timeout, Timeout::Forever);

    signals::install();
    let client = global.connect(deadline)?;
    let options = FifoOptions::default();
    let lock = Arc::new(match kind {
        Kind::K3 => AnyLock::K3(Lock::new(&client, &name, LockOptions::default())?),
        Kind::Fifo => AnyLock::Fifo(FifoLock::new(&client, &name, options)?, Cancel::new()),
        Kind::Latch => AnyLock::Fifo(FifoLock::leader_latch(&client, &name, options)?, Cancel::new()),
        Kind::Read => AnyLock::Fifo(FifoLock::read_lock(&client, &name, options)?, Cancel::new()),
        Kind::Write => AnyLock::Fifo(FifoLock::write_lock(&client, &name, options)?, Cancel::new()),
    });

    // A signal while waiting cancels the acquire (checked by a helper
    // thread: the acquire blocks this one).
    let seen = signals::count();
    let waiting = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let canceller = {
        let (lock, waiting) = (lock.clone(), waiting.clone());
        std::thread::spawn(move || {
            while waiting.load(std::sync::atomic::Ordering::SeqCst) {
                if signals::count() != seen {
                    lock.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let acquired = lock.acquire(left(deadline));
    waiting.store(false, std::sync::atomic::Ordering::SeqCst);
    let _ = canceller.join();
    let token = match acquired {
        Ok(token) => token,
        Err(e) if e.code() == Code::OperationTimeout => {
            // The message names the holder.
            eprintln!("zkutil: lock {}: not acquired in time: {}", lock.path(), e.message());
            close(&lock, &client);
            return Ok(timeout_exit);
        }
        Err(e) if e.code() == Code::Cancelled => {
            let sig = signals::last().map_or(libc::SIGTERM, |(s, _)| s);
            close(&lock, &client);
            return Ok(128 + sig as u8);
        }
        Err(e) => {
            close(&lock, &client);
            return Err(e.into());
        }
    };
    if let (Some(v), AnyLock::K3(k3)) = (val, &*lock) {
        if let Err(e) = k3.set_val(&v, None, Timeout::After(Duration::from_secs(10))) {
            close(&lock, &client);
            return Err(e.into());
        }
    }
    let (tx, states) = mpsc::channel();
    if let Err(e) = lock.set_state_callback(Some(Box::new(move |_, new| {
        let _ = tx.send(new);
    }))) {
        close(&lock, &client);
        return Err(e.into());
    }
    // The lock may have changed state before the callback was set.
    let initial = lock.state();

    let env = [
        ("ZKU_LOCK_PATH", lock.path().to_string()),
        ("ZKU_LOCK_ID", lock.identifier().to_string()),
        ("ZKU_LOCK_TOKEN", token.to_string()),
    ];
    let mut child = match Supervised::spawn("lock", &command, &env, signal, kill_after) {
        Ok(child) => child,
        Err(e) => {
            close(&lock, &client);
            return Err(e);
        }
    };

    let on_state = |state: LockState, child: &mut Supervised| match state {
        LockState::Lost if !child.was_stopped() => {
            let reason = lock.lost_reason().unwrap_or_default();
            eprintln!("zkutil: lock {} lost ({reason}): sending signal {signal} to the command", lock.path());
            child.stop();
        }
        LockState::Suspended => eprintln!("zkutil: lock {}: connection lost, the lock may still be ours", lock.path()),
        LockState::Held => eprintln!("zkutil: lock {}: connection back, the lock is still ours", lock.path()),
        _ => {}
    };
    if initial != LockState::Held {
        on_state(initial, &mut child);
    }
    let status = loop {
        match child.poll() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                close(&lock, &client);
                return Err(e);
            }
        }
        while let Ok(state) = states.try_recv() {
            on_state(state, &mut child);
        }
        std::thread::sleep(supervise::TICK);
    };
    let lost =
        child.was_stopped() || states.try_iter().any(|s| s == LockState::Lost) || lock.state() == LockState::Lost;
    close(&lock, &client);
    if lost {
        return Ok(lost_exit);
    }
    Ok(supervise::status_code(status))
}

/// The lock `zkutil lock` holds: k3zkutil's, or the FIFO mutex (whose
/// acquire is cancelled through its call's cancel scope).
enum AnyLock {
    K3(Lock),
    Fifo(FifoLock, Cancel),
}

impl AnyLock {
    fn path(&self) -> &str {
        match self {
            AnyLock::K3(l) => l.path(),
            AnyLock::Fifo(l, _) => l.path(),
        }
    }

    fn identifier(&self) -> &str {
        match self {
            AnyLock::K3(l) => l.identifier(),
            AnyLock::Fifo(l, _) => l.identifier(),
        }
    }

    fn acquire(&self, timeout: Timeout) -> zkutil::Result<i64> {
        match self {
            AnyLock::K3(l) => l.acquire(timeout),
            AnyLock::Fifo(l, cancel) => zkutil::cancel::scope(Some(cancel), None, || l.acquire(timeout)),
        }
    }

    /// Makes a blocked `acquire` return `Cancelled`.
    fn cancel(&self) {
        match self {
            AnyLock::K3(l) => l.cancel(),
            AnyLock::Fifo(_, cancel) => cancel.cancel(),
        }
    }

    fn state(&self) -> LockState {
        match self {
            AnyLock::K3(l) => l.state(),
            AnyLock::Fifo(l, _) => l.state(),
        }
    }

    fn lost_reason(&self) -> Option<String> {
        match self {
            AnyLock::K3(l) => l.lost_reason(),
            AnyLock::Fifo(l, _) => l.lost_reason(),
        }
    }

    fn set_state_callback(&self, callback: Option<LockStateCallback>) -> zkutil::Result<()> {
        match self {
            AnyLock::K3(l) => l.set_state_callback(callback),
            AnyLock::Fifo(l, _) => l.set_state_callback(callback),
        }
    }

    fn release(&self, timeout: Timeout) -> zkutil::Result<()> {
        match self {
            AnyLock::K3(l) => l.release(timeout),
            AnyLock::Fifo(l, _) => l.release(timeout),
        }
    }
}

/// Releases (a loss is acknowledged, not an error here) and closes the
/// session, so the node is gone when zkutil exits.
fn close(lock: &AnyLock, client: &zkutil::Client) {
    // Removing a callback cannot fail.
    let _ = lock.set_state_callback(None);
    match lock.release(Timeout::After(Duration::from_secs(10))) {
        Ok(()) => {}
        Err(e) if e.code() == Code::LockLost => {}
        Err(e) => eprintln!(
            "zkutil: lock {}: release failed ({}); closing the session removes the node",
            lock.path(),
            e.message()
        ),
    }
    client.close();
}

pub fn holder(args: HolderArgs, global: &Global) -> Result<u8, CliError> {
    let deadline = deadline(args.timeout, crate::node::DEFAULT_TIMEOUT);
    let client = global.connect(deadline)?;
    let lock = Lock::new(&client, &args.name, LockOptions::default())?;
    let result = lock.holder(left(deadline));
    let path = lock.path().to_string();
    drop(lock);
    client.close();
    let Some(holder) = result? else {
        eprintln!("zkutil: lock {path} is free");
        return Ok(exit::NOT_FOUND);
    };
    if args.json {
        let data: serde_json::Value = serde_json::from_slice(&holder.data).unwrap_or(serde_json::Value::Null);
        let out = serde_json::json!({
            "path": path,
            "id": holder.id(),
            "val": data.get("val").cloned().unwrap_or(serde_json::Value::Null),
            "version": holder.stat.version,
            "token": holder.stat.czxid,
        });
        println!("{out}");
    } else {
        match holder.id() {
            Some(id) => println!("{id}"),
            None => println!("{}", String::from_utf8_lossy(&holder.data)),
        }
    }
    Ok(exit::OK)
}
