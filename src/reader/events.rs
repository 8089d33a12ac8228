//! The events waiting for a reader's callback, kept bounded: when more than
//! [`MAX_WAITING`] wait (the callback is stuck or slow), they are replaced
//! by a summary: a `Changed` from the value the callback last saw to the
//! current one (when any change was among them), then the event of the
//! current state.

use std::collections::VecDeque;

use super::{EventKind, ReaderEvent, ReaderState};
use crate::dispatch::Pending;

/// How many events may wait before they are summarized.
pub const MAX_WAITING: usize = 64;

/// Events in order, each with the reader's state right after it.
#[derive(Default)]
pub(crate) struct Waiting {
    events: VecDeque<(ReaderEvent, ReaderState)>,
}

impl Pending for Waiting {
    type In = (ReaderEvent, ReaderState);
    type Out = ReaderEvent;

    fn push(&mut self, item: (ReaderEvent, ReaderState)) {
        self.events.push_back(item);
        if self.events.len() > MAX_WAITING {
            self.summarize();
        }
    }

    fn pop(&mut self) -> Option<ReaderEvent> {
        self.events.pop_front().map(|(event, _)| event)
    }

    fn waiting(&self) -> usize {
        self.events.len()
    }

    fn clear(&mut self) {
        self.events.clear();
    }
}

impl Waiting {
    fn summarize(&mut self) {
        let (Some((first, _)), Some((last, state))) = (self.events.front(), self.events.back()) else { return };
        let (seen, last, state) = (first.old.clone(), last.clone(), *state);
        let changed = self.events.iter().any(|(e, _)| e.kind == EventKind::Changed);
        let error = self.events.iter().rev().find_map(|(e, _)| e.error.clone());
        self.events.clear();
        if changed {
            let change = ReaderEvent { kind: EventKind::Changed, old: seen, error: None, ..last.clone() };
            self.events.push_back((change, state));
        }
        let kind = match state {
            ReaderState::Fresh => EventKind::Fresh,
            ReaderState::Stale => EventKind::Stale,
            ReaderState::Deleted => EventKind::Deleted,
            ReaderState::Invalid => EventKind::Invalid,
            ReaderState::Expired => EventKind::Expired,
            ReaderState::Closed => EventKind::Closed,
        };
        let error = if kind == EventKind::Invalid { error } else { None };
        let now = ReaderEvent { kind, old: last.new.clone(), error, ..last };
        self.events.push_back((now, state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Stat;
    use std::sync::Arc;

    fn event(kind: EventKind, old: &str, new: &str, version: i32) -> ReaderEvent {
        let stat = Stat { version, ..Stat::default() };
        ReaderEvent { kind, path: "/p".into(), old: Arc::from(old), new: Arc::from(new), stat, error: None }
    }

    #[test]
    fn a_stuck_callback_gets_a_bounded_summary() {
        let mut w = Waiting::default();
        w.push((event(EventKind::Changed, "{}", "{\"n\":0}", 0), ReaderState::Fresh));
        for n in 1..1000 {
            let (old, new) = (format!("{{\"n\":{}}}", n - 1), format!("{{\"n\":{n}}}"));
            w.push((event(EventKind::Stale, &old, &old, n - 1), ReaderState::Stale));
            w.push((event(EventKind::Changed, &old, &new, n), ReaderState::Stale));
            w.push((event(EventKind::Fresh, &new, &new, n), ReaderState::Fresh));
            assert!(w.waiting() <= MAX_WAITING);
        }
        let mut last = None;
        let mut seen = Arc::from("{}");
        while let Some(e) = w.pop() {
            if e.kind == EventKind::Changed {
                assert_eq!(e.old, seen, "each change starts where the previous one ended");
                seen = e.new.clone();
            }
            last = Some(e);
        }
        let last = last.unwrap();
        assert_eq!((last.kind, &*last.new, last.stat.version), (EventKind::Fresh, "{\"n\":999}", 999));
        assert_eq!(&*seen, "{\"n\":999}");
    }
}
