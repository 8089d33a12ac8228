//! Output lines: `bench <name> us_per_op <x>` and `ratio <name> <x>`, easy
//! to read and to grep next to the anchors' `anchor ...` lines.

use crate::raw::Floors;

pub fn floors(f: &Floors) {
    line("raw create+delete_ephemeral", f.create_delete_us);
    line("raw get+set_versioned", f.get_set_us);
    line("raw get", f.get_us);
}

pub fn line(name: &str, us: f64) {
    println!("bench {name} us_per_op {us:.1}");
}

/// A recipe's cost against its floor, e.g. `ratio lock_acquire+release/raw_create+delete 1.03`.
pub fn ratio(name: &str, us: f64, floor_us: f64) {
    println!("ratio {name} {:.3}", us / floor_us);
}

/// Latency percentiles of `samples` (microseconds), sorted in place.
pub fn percentiles(name: &str, samples: &mut [f64]) {
    if samples.is_empty() {
        return;
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "bench {name} p50_us {:.1} p99_us {:.1} max_us {:.1} samples {}",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    );
}
