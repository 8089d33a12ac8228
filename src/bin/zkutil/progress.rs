//! The progress line of long imports and exports, on stderr: shown when
//! stderr is a terminal (or with --progress), at most ten times a second,
//! erased at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;

/// `--progress` and `--no-progress` (which wins).
#[derive(Args)]
pub struct ProgressArgs {
    #[arg(long)]
    progress: bool,
    #[arg(long)]
    no_progress: bool,
}

pub struct Progress {
    label: &'static str,
    enabled: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    pub fn new(label: &'static str, args: &ProgressArgs) -> Progress {
        let enabled = !args.no_progress && (args.progress || std::io::stderr().is_terminal());
        Progress { label, enabled, last: None, drawn: false }
    }

    pub fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last = Some(Instant::now());
        let line = match total {
            Some(total) if total > 0 => format!("{}: {done}/{total} nodes ({}%)", self.label, done * 100 / total),
            _ => format!("{}: {done} nodes", self.label),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.drawn = true;
    }

    pub fn finish(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}
