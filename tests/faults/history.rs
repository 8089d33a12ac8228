//! What a workload records and how its outcome is reported.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch: one clock for every process of the run.
pub fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// A deterministic pseudo-random source (xorshift64*), for fault schedules.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration in `[lo, hi)`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_millis().max(1) as u64;
        lo + Duration::from_millis(self.next() % span)
    }
}

/// A workload's outcome: counts, faults, anomalies (each a sentence) and
/// named measurements.
#[derive(Default)]
pub struct Report {
    pub operations: usize,
    pub faults: Vec<String>,
    pub anomalies: Vec<String>,
    pub figures: Vec<(String, String)>,
}

impl Report {
    pub fn figure(&mut self, name: &str, value: impl Into<String>) {
        self.figures.push((name.to_string(), value.into()));
    }

    /// Records `p50 / max` of a set of delays.
    pub fn delays(&mut self, name: &str, delays: &[Duration]) {
        if delays.is_empty() {
            self.figure(name, "none measured");
            return;
        }
        let mut sorted = delays.to_vec();
        sorted.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let value = format!(
            "p50 {:.0} ms, max {:.0} ms (n={})",
            ms(sorted[sorted.len() / 2]),
            ms(sorted[sorted.len() - 1]),
            sorted.len()
        );
        self.figure(name, value);
    }

    pub fn check(&mut self, ok: bool, anomaly: impl FnOnce() -> String) {
        if !ok {
            self.anomalies.push(anomaly());
        }
    }

    pub fn print(&self, name: &str, took: Duration) {
        println!("\n== {name} ({:.1} s)", took.as_secs_f64());
        println!("   operations: {}", self.operations);
        println!("   faults injected: {}", self.faults.len());
        for fault in &self.faults {
            println!("     - {fault}");
        }
        for (figure, value) in &self.figures {
            println!("   {figure}: {value}");
        }
        println!("   anomalies: {}", self.anomalies.len());
        for anomaly in &self.anomalies {
            println!("     ! {anomaly}");
        }
    }
}
