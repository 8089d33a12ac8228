//! The stamps contenders take (`contender`, `CuratorContenders.java`) and
//! what the contention benchmarks compute from them. Every stamp is read
//! from CLOCK_MONOTONIC, which is one clock for all processes on Linux
//! (Java's `System.nanoTime()` reads it too), so stamps taken in different
//! processes compare directly.

use std::fmt;

use nix::time::{ClockId, clock_gettime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Just before the acquire call.
    Want,
    /// Just after the acquire returned.
    Held,
    /// Just before the release call.
    Release,
}

/// One stamp: `E <who> <role> want|held|release <ns>` on a contender's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at_ns: i64,
    /// The contender, numbered within its process (`contention` makes it
    /// unique across processes).
    pub who: usize,
    /// `read` shares the lock with other readers; every other role holds it alone.
    pub role: String,
    pub kind: Kind,
}

pub fn monotonic_ns() -> i64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Want => "want",
            Kind::Held => "held",
            Kind::Release => "release",
        };
        write!(f, "E {} {} {kind} {}", self.who, self.role, self.at_ns)
    }
}

impl Event {
    /// The event of an `E ...` line; `None` for any other line.
    pub fn parse(line: &str) -> Option<Event> {
        let mut words = line.split(' ');
        if words.next() != Some("E") {
            return None;
        }
        let who = words.next()?.parse().ok()?;
        let role = words.next()?.to_string();
        let kind = match words.next()? {
            "want" => Kind::Want,
            "held" => Kind::Held,
            "release" => Kind::Release,
            _ => return None,
        };
        let at_ns = words.next()?.parse().ok()?;
        Some(Event { at_ns, who, role, kind })
    }

    fn shared(&self) -> bool {
        self.role == "read"
    }
}

/// A mutex's hand-offs, from events sorted by time, leaving out the first
/// `skip` holds (the first round, while the contenders line up: they all
/// arrive at once, a burst no later round sees).
pub struct Handoffs {
    pub per_s: f64,
    /// From the holder's release stamp to the next holder's hold stamp.
    pub latencies_us: Vec<f64>,
    /// The fraction of hand-offs that went to the contender waiting longest.
    pub to_longest: f64,
}

pub fn handoffs(events: &[Event], skip: usize) -> Handoffs {
    let mut holds = Vec::new();
    let mut latencies_us = Vec::new();
    let mut to_longest = 0;
    let mut last_release = None;
    let mut waiting: Vec<(usize, i64)> = Vec::new();
    for e in events {
        match e.kind {
            Kind::Want => waiting.push((e.who, e.at_ns)),
            Kind::Release => last_release = Some(e.at_ns),
            Kind::Held => {
                let longest = waiting.iter().min_by_key(|(_, since)| *since).map(|(who, _)| *who);
                waiting.retain(|(who, _)| *who != e.who);
                let released = last_release.take();
                holds.push(e);
                if holds.len() > skip
                    && let Some(released) = released
                {
                    latencies_us.push((e.at_ns - released) as f64 / 1e3);
                    to_longest += usize::from(longest == Some(e.who));
                }
            }
        }
    }
    let handoffs = latencies_us.len();
    Handoffs {
        per_s: rate(holds.get(skip..).unwrap_or_default()),
        to_longest: to_longest as f64 / handoffs.max(1) as f64,
        latencies_us,
    }
}

/// The acquisitions of the contenders in `role`, leaving out the first
/// `skip` holds (as `Handoffs`): per second (first to last hold) and each
/// acquire's time (want stamp to hold stamp).
pub fn acquisitions(events: &[Event], role: &str, skip: usize) -> (f64, Vec<f64>) {
    let mut wanted = std::collections::HashMap::new();
    let mut holds = Vec::new();
    let mut latencies_us = Vec::new();
    for e in events.iter().filter(|e| e.role == role) {
        match e.kind {
            Kind::Want => {
                wanted.insert(e.who, e.at_ns);
            }
            Kind::Held => {
                holds.push(e);
                if holds.len() > skip {
                    latencies_us.push((e.at_ns - wanted[&e.who]) as f64 / 1e3);
                }
            }
            Kind::Release => {}
        }
    }
    (rate(holds.get(skip..).unwrap_or_default()), latencies_us)
}

/// Holds per second between the first and the last hold.
fn rate(holds: &[&Event]) -> f64 {
    match (holds.first(), holds.last()) {
        (Some(first), Some(last)) if holds.len() > 1 => {
            (holds.len() - 1) as f64 * 1e9 / (last.at_ns - first.at_ns).max(1) as f64
        }
        _ => 0.0,
    }
}

/// Holds that overlapped one they must exclude (a reader and a writer,
/// or two holders of an exclusive lock), seen through the stamps: a hold
/// is stamped after the acquire returned and ends at the release stamp,
/// before the release call, so a correct lock shows none.
pub fn overlaps(events: &[Event]) -> usize {
    let (mut readers, mut exclusive, mut overlaps) = (0usize, 0usize, 0);
    for e in events {
        match (e.kind, e.shared()) {
            (Kind::Held, true) => {
                overlaps += usize::from(exclusive > 0);
                readers += 1;
            }
            (Kind::Held, false) => {
                overlaps += usize::from(exclusive + readers > 0);
                exclusive += 1;
            }
            (Kind::Release, true) => readers -= 1,
            (Kind::Release, false) => exclusive -= 1,
            (Kind::Want, _) => {}
        }
    }
    overlaps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(at_ns: i64, who: usize, role: &str, kind: Kind) -> Event {
        Event { at_ns, who, role: role.to_string(), kind }
    }

    #[test]
    fn a_line_reads_back() {
        let event = e(123, 4, "read", Kind::Held);
        assert_eq!(Event::parse(&event.to_string()), Some(event));
        assert_eq!(Event::parse("ready"), None);
    }

    #[test]
    fn handoffs_measure_release_to_hold_and_order() {
        use Kind::*;
        let events = [
            e(0, 0, "fifo", Want),
            e(1, 1, "fifo", Want),
            e(2, 2, "fifo", Want),
            e(10, 0, "fifo", Held),
            e(20, 0, "fifo", Release),
            e(1020, 2, "fifo", Held), // 1 is the longest waiter
            e(1030, 2, "fifo", Release),
            e(3030, 1, "fifo", Held),
            e(3040, 1, "fifo", Release),
        ];
        let h = handoffs(&events, 0);
        assert_eq!(h.latencies_us, vec![1.0, 2.0]);
        assert_eq!(h.to_longest, 0.5);
        assert_eq!(h.per_s, 2.0 * 1e9 / 3020.0);
        let h = handoffs(&events, 2);
        assert_eq!(h.latencies_us, vec![2.0]);
        assert_eq!(h.to_longest, 1.0);
        assert_eq!(overlaps(&events), 0);
    }

    #[test]
    fn overlaps_count_a_writer_among_holders() {
        use Kind::*;
        let events = [
            e(1, 0, "read", Held),
            e(2, 1, "read", Held),
            e(3, 2, "write", Held),
            e(4, 0, "read", Release),
            e(5, 1, "read", Release),
            e(6, 2, "write", Release),
        ];
        assert_eq!(overlaps(&events), 1);
        assert_eq!(overlaps(&events[..2]), 0);
    }
}
