//! Unit tests of the delivery pool.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Pending items in order, unbounded (for tests of the delivery itself).
#[derive(Default)]
struct Fifo(VecDeque<u32>);

impl Pending for Fifo {
    type In = u32;
    type Out = u32;
    fn push(&mut self, item: u32) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<u32> {
        self.0.pop_front()
    }
    fn waiting(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Sends the name of the thread it is dropped on.
struct OnDrop(mpsc::Sender<String>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(thread::current().name().unwrap_or("").to_string());
    }
}

/// Fails the test if two calls of one callback ever overlap.
#[derive(Default)]
struct OneAtATime(AtomicBool);

impl OneAtATime {
    fn enter(&self) {
        assert!(!self.0.swap(true, Ordering::SeqCst), "two calls of one handle overlapped");
    }
    fn leave(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[test]
fn many_handles_share_a_few_threads_each_in_order() {
    let (tx, rx) = mpsc::channel();
    let deliveries: Vec<_> = (0..50)
        .map(|h| {
            let d = Delivery::new(Fifo::default());
            let tx = tx.clone();
            let guard = Arc::new(OneAtATime::default());
            d.set_callback(Some(Box::new(move |i| {
                guard.enter();
                tx.send((h, i, thread::current().name().unwrap_or("").to_string())).unwrap();
                guard.leave();
            })))
            .unwrap();
            d
        })
        .collect();
    for i in 0..20 {
        for d in &deliveries {
            d.post(i);
        }
    }
    let mut next = [0u32; 50];
    for _ in 0..50 * 20 {
        let (h, i, name) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(i, next[h], "handle {h} in order");
        next[h] += 1;
        assert_eq!(name, "zkutil-callback");
    }
    assert!(pool().lock().threads <= MAX_THREADS);
}

#[test]
fn a_stuck_state_callback_skips_the_oldest_and_gets_the_latest() {
    let (release, stuck) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    let d = Delivery::new(StateQueue::new(0u32));
    d.set_callback(Some(Box::new(move |(old, new)| {
        if new == 1 {
            entered_tx.send(()).unwrap();
            stuck.recv().unwrap();
        }
        tx.send((old, new)).unwrap();
    })))
    .unwrap();
    d.post(1);
    entered.recv_timeout(WAIT).unwrap();
    for state in 2..=100_000 {
        d.post(state);
        assert!(d.slot.lock().pending.waiting() <= MAX_WAITING_STATES);
    }
    release.send(()).unwrap();
    let mut calls = vec![rx.recv_timeout(WAIT).unwrap()];
    while calls.last().unwrap().1 != 100_000 {
        calls.push(rx.recv_timeout(WAIT).unwrap());
    }
    assert_eq!(calls[0], (0, 1));
    assert_eq!(calls.len(), 1 + MAX_WAITING_STATES, "{calls:?}");
    assert!(calls.windows(2).all(|w| w[0].1 == w[1].0), "old is the previous new: {calls:?}");
    assert_eq!(calls[1], (1, 100_000 - MAX_WAITING_STATES as u32 + 1), "the most recent ones are kept");
    d.close();
    assert!(rx.try_recv().is_err());
}

#[test]
fn state_changes_are_all_delivered_when_the_callback_keeps_up() {
    let (tx, rx) = mpsc::channel();
    let d = Delivery::new(StateQueue::new(0u32));
    d.set_callback(Some(Box::new(move |change| tx.send(change).unwrap()))).unwrap();
    for state in [1, 2, 1, 3] {
        d.post(state);
    }
    let calls: Vec<_> = (0..4).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(calls, [(0, 1), (1, 2), (2, 1), (1, 3)]);
}

#[test]
fn a_final_state_ends_the_callback() {
    let (dropped_tx, dropped) = mpsc::channel();
    let guard = OnDrop(dropped_tx);
    let (tx, rx) = mpsc::channel();
    let d = Delivery::new(StateQueue::until(0u32, |s| *s == 9));
    d.set_callback(Some(Box::new(move |change| {
        let _keep = &guard;
        tx.send(change).unwrap();
    })))
    .unwrap();
    d.post(9);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (0, 9));
    assert_eq!(dropped.recv_timeout(WAIT).unwrap(), "zkutil-callback", "dropped after the final state");
    d.post(1);
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
}

#[test]
fn a_close_waiting_for_the_final_call_returns_after_the_callback_is_dropped() {
    /// Slow to drop, like a user_data destructor doing real work.
    struct SlowDrop(Arc<AtomicBool>);
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            thread::sleep(Duration::from_millis(100));
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SlowDrop(dropped.clone());
    let (entered_tx, entered) = mpsc::channel();
    let (release, stuck) = mpsc::channel::<()>();
    let d = Delivery::new(StateQueue::until(0u32, |s| *s == 9));
    d.set_callback(Some(Box::new(move |_| {
        let _keep = &guard;
        entered_tx.send(()).unwrap();
        stuck.recv().unwrap();
    })))
    .unwrap();
    d.post(9);
    entered.recv_timeout(WAIT).unwrap();
    let unblock = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        release.send(()).unwrap();
    });
    d.close();
    assert!(dropped.load(Ordering::SeqCst), "the final call's callback was dropped before close returned");
    unblock.join().unwrap();
}

#[test]
fn closing_from_inside_stops_at_once_and_drops_after_the_call() {
    type Slot = Arc<Mutex<Option<Arc<Delivery<Fifo>>>>>;
    let slot: Slot = Arc::default();
    let (tx, rx) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let guard = OnDrop(dropped_tx.clone());
    let inner = slot.clone();
    let d = Arc::new(Delivery::new(Fifo::default()));
    d.set_callback(Some(Box::new(move |i| {
        let _keep = &guard;
        if i == 1 {
            let me = inner.lock().unwrap().clone().unwrap();
            me.close();
            // Still inside: the callback is not dropped yet.
            dropped_tx.send("still in the call".to_string()).unwrap();
        }
        tx.send(i).unwrap();
    })))
    .unwrap();
    *slot.lock().unwrap() = Some(d.clone());
    for i in 0..5 {
        d.post(i);
    }
    assert_eq!(dropped.recv_timeout(WAIT).unwrap(), "still in the call");
    assert_eq!(dropped.recv_timeout(WAIT).unwrap(), "zkutil-callback");
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1], "nothing after the call that closed it");
    d.post(7);
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    slot.lock().unwrap().take();
}

#[test]
fn replacing_from_inside_keeps_order_and_one_call_at_a_time() {
    type Slot = Arc<Mutex<Option<Arc<Delivery<Fifo>>>>>;
    let slot: Slot = Arc::default();
    let guard = Arc::new(OneAtATime::default());
    let (tx, rx) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let old_guard = OnDrop(dropped_tx);
    let d = Arc::new(Delivery::new(Fifo::default()));
    let (inner, calls, seen) = (slot.clone(), guard.clone(), tx.clone());
    d.set_callback(Some(Box::new(move |i| {
        let _keep = &old_guard;
        calls.enter();
        seen.send(("old", i)).unwrap();
        if i == 2 {
            let me = inner.lock().unwrap().clone().unwrap();
            let (calls, seen) = (calls.clone(), seen.clone());
            me.set_callback(Some(Box::new(move |i| {
                calls.enter();
                seen.send(("new", i)).unwrap();
                calls.leave();
            })))
            .unwrap();
            // Give the pool a chance to run the new one too early.
            thread::sleep(Duration::from_millis(50));
        }
        calls.leave();
    })))
    .unwrap();
    *slot.lock().unwrap() = Some(d.clone());
    for i in 0..6 {
        d.post(i);
    }
    let got: Vec<_> = (0..6).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, [("old", 0), ("old", 1), ("old", 2), ("new", 3), ("new", 4), ("new", 5)]);
    assert_eq!(dropped.recv_timeout(WAIT).unwrap(), "zkutil-callback");
    slot.lock().unwrap().take();
    drop(d);
}

#[test]
fn closing_from_outside_waits_for_the_call_and_delivers_what_waits() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, stuck) = mpsc::channel::<()>();
    let (tx, rx) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let guard = OnDrop(dropped_tx);
    let d = Delivery::new(Fifo::default());
    d.set_callback(Some(Box::new(move |i| {
        let _keep = &guard;
        if i == 0 {
            entered_tx.send(()).unwrap();
            stuck.recv().unwrap();
        }
        tx.send(i).unwrap();
    })))
    .unwrap();
    for i in 0..3 {
        d.post(i);
    }
    entered.recv_timeout(WAIT).unwrap();
    let unblock = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        release.send(()).unwrap();
    });
    d.close();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2], "all delivered before close returned");
    assert_eq!(dropped.try_recv().unwrap(), thread::current().name().unwrap_or(""), "dropped by close");
    unblock.join().unwrap();
}

#[test]
fn closing_needs_no_free_pool_thread() {
    // Every pool thread blocks in a callback until `target` is closed;
    // closing it (with an item queued) must not wait for a pool thread.
    let (release, stuck) = mpsc::channel::<()>();
    let stuck = Arc::new(Mutex::new(stuck));
    let busy = Arc::new(AtomicUsize::new(0));
    let blockers: Vec<_> = (0..MAX_THREADS)
        .map(|_| {
            let d = Delivery::new(Fifo::default());
            let (stuck, busy) = (stuck.clone(), busy.clone());
            d.set_callback(Some(Box::new(move |_| {
                busy.fetch_add(1, Ordering::SeqCst);
                let _ = stuck.lock().unwrap().recv_timeout(WAIT);
            })))
            .unwrap();
            d.post(0);
            d
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let target = Delivery::new(Fifo::default());
    target.set_callback(Some(Box::new(move |i| tx.send(i).unwrap()))).unwrap();
    target.post(1);
    target.close();
    assert_eq!(rx.try_recv().unwrap(), 1, "delivered by close itself if the pool was busy");
    for _ in 0..MAX_THREADS {
        let _ = release.send(());
    }
    drop(blockers);
}
