//! Contention runs: contenders in child processes (this program's
//! `contend` role, or Curator's `CuratorContenders` in a JVM) take turns
//! on one lock, started together once every process is connected and
//! ready, and stamp their turns on the system-wide monotonic clock. The
//! figures come from those stamps (`events`), so processes start-up and
//! connection time stay out of them.
//!
//! Spreads: `threads` (every contender a thread of one process, on one
//! client), `clients` (Curator only: one JVM, a connection per contender)
//! and `processes` (a process, with its own client, per contender).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::events::Event;

/// Where the contenders come from.
pub enum Program<'a> {
    Zkutil,
    /// Curator's contenders; the JVM's class path (`CuratorContenders` and Curator's jars).
    Curator(&'a str),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    Threads,
    Clients,
    Processes,
}

impl Spread {
    pub fn name(self) -> &'static str {
        match self {
            Spread::Threads => "threads",
            Spread::Clients => "clients",
            Spread::Processes => "processes",
        }
    }
}

/// One run: `roles` (one contender each) on the lock `lock_dir + name`,
/// `rounds` turns each. Returns every stamp, sorted by time.
pub fn run(
    program: &Program,
    spread: Spread,
    hosts: &str,
    lock_dir: &str,
    name: &str,
    rounds: usize,
    roles: &[&str],
) -> Vec<Event> {
    let groups: Vec<Vec<&str>> = match spread {
        Spread::Threads | Spread::Clients => vec![roles.to_vec()],
        Spread::Processes => roles.iter().map(|role| vec![*role]).collect(),
    };
    let mut children: Vec<(Child, BufReader<ChildStdout>, usize)> = Vec::new();
    let mut first = 0;
    for group in groups {
        let mut command = match program {
            Program::Zkutil => {
                let mut c = Command::new(std::env::current_exe().expect("current exe"));
                c.args(["contend", hosts, lock_dir, name, &rounds.to_string()]);
                c
            }
            Program::Curator(classpath) => {
                let connections = if spread == Spread::Clients { "each" } else { "one" };
                let mut c = Command::new("java");
                c.args(["-XX:+UseSerialGC", "-Xmx256m", "-cp", classpath, "CuratorContenders", hosts]);
                c.args([&format!("{lock_dir}{name}"), &rounds.to_string(), connections]);
                c
            }
        };
        command.args(&group).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = command.spawn().expect("start a contender process");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        children.push((child, stdout, first));
        first += group.len();
    }
    for (_, stdout, _) in &mut children {
        assert_eq!(read_line(stdout).as_deref(), Some("ready"), "a contender process failed to start");
    }
    for (child, _, _) in &mut children {
        writeln!(child.stdin.take().expect("stdin"), "go").expect("start a contender");
    }
    let mut events = Vec::new();
    for (mut child, mut stdout, first) in children {
        while let Some(line) = read_line(&mut stdout) {
            if let Some(mut event) = Event::parse(&line) {
                event.who += first;
                events.push(event);
            }
        }
        assert!(child.wait().expect("wait").success(), "a contender process failed");
    }
    // Stable: a contender's own stamps keep their order on a tie.
    events.sort_by_key(|e| e.at_ns);
    events
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line).expect("read a contender's output") {
        0 => None,
        _ => Some(line.trim_end().to_string()),
    }
}
