//! Threads that deliver events to user callbacks, so user code never runs
//! on a runtime thread and callbacks of one handle never overlap.
//!
//! The callback is owned by its thread and dropped there, after its last
//! call: a C `user_data` destructor therefore runs exactly once, on a
//! library thread, and dropping the owner waits for it (unless the owner
//! is dropped from inside the callback itself).

use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use tokio::sync::watch;

use crate::runtime;

/// Stops and joins a delivery thread, unless called from that thread.
struct Worker {
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Worker {
        let thread = thread::Builder::new().name(name.to_string()).spawn(body).expect("zkutil: cannot spawn a thread");
        Worker { thread: Some(thread) }
    }

    fn is_current(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| t.thread().id() == thread::current().id())
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// Delivers posted messages, in order, to a handler on its own thread.
pub struct Dispatcher<T: Send + 'static> {
    messages: Option<mpsc::Sender<T>>,
    worker: Worker,
}

impl<T: Send + 'static> Dispatcher<T> {
    pub fn new(name: &str, mut handler: impl FnMut(T) + Send + 'static) -> Dispatcher<T> {
        let (messages, queue) = mpsc::channel::<T>();
        let worker = Worker::spawn(name, move || {
            for message in queue {
                handler(message);
            }
        });
        Dispatcher { messages: Some(messages), worker }
    }

    pub fn post(&self, message: T) {
        if let Some(messages) = &self.messages {
            // Fails only once the thread has stopped: nothing to deliver to.
            let _ = messages.send(message);
        }
    }

    /// Whether the caller runs inside this dispatcher's handler.
    pub fn is_current(&self) -> bool {
        self.worker.is_current()
    }
}

impl<T: Send + 'static> Drop for Dispatcher<T> {
    /// Delivers what was already posted, then stops the thread.
    fn drop(&mut self) {
        self.messages.take();
        self.worker.join();
    }
}

/// Calls `callback(old, new)` on its own thread each time the value of a
/// watch channel changes, until the value is final or the follower dropped.
pub struct StateFollower {
    stop: Option<watch::Sender<()>>,
    worker: Worker,
}

impl StateFollower {
    pub fn spawn<S>(
        name: &str,
        mut changes: watch::Receiver<S>,
        is_final: impl Fn(&S) -> bool + Send + 'static,
        mut callback: impl FnMut(S, S) + Send + 'static,
    ) -> StateFollower
    where
        S: Copy + PartialEq + Send + Sync + 'static,
    {
        let (stop, mut stopped) = watch::channel(());
        // Read now, not on the thread: a change made right after spawn()
        // returns must be reported.
        let mut last = *changes.borrow_and_update();
        let worker = Worker::spawn(name, move || {
            while !is_final(&last) {
                // Not a runtime thread, so blocking on the runtime is allowed.
                let changed = runtime::block_on(async {
                    tokio::select! {
                        // A change posted just before the stop is delivered.
                        biased;
                        changed = changes.changed() => changed.is_ok(),
                        _ = stopped.changed() => false,
                    }
                });
                if !changed {
                    break;
                }
                let new = *changes.borrow_and_update();
                if new != last {
                    callback(last, new);
                    last = new;
                }
            }
            drop(callback);
        });
        StateFollower { stop: Some(stop), worker }
    }
}

impl Drop for StateFollower {
    fn drop(&mut self) {
        self.stop.take();
        self.worker.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn dispatcher_delivers_in_order_on_its_thread() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let d = Dispatcher::new("test-dispatch", move |i: i32| {
            sink.lock().unwrap().push((i, thread::current().name().map(str::to_string)));
        });
        for i in 0..10 {
            d.post(i);
        }
        drop(d);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert!(seen.iter().all(|s| s.1.as_deref() == Some("test-dispatch")));
    }

    #[test]
    fn dispatcher_can_be_dropped_from_its_own_handler() {
        type Slot = Arc<Mutex<Option<Dispatcher<()>>>>;
        let slot: Slot = Arc::new(Mutex::new(None));
        let (done_tx, done_rx) = mpsc::channel();
        let inner = slot.clone();
        let d = Dispatcher::new("self-drop", move |()| {
            let d = inner.lock().unwrap().take().expect("the slot is filled before the post");
            assert!(d.is_current());
            drop(d);
            done_tx.send(()).unwrap();
        });
        // Fill the slot first, then post through it: the handler always
        // finds the dispatcher it drops.
        *slot.lock().unwrap() = Some(d);
        slot.lock().unwrap().as_ref().unwrap().post(());
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn follower_reports_changes_and_drops_callback_on_its_thread() {
        struct OnDrop(mpsc::Sender<String>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(thread::current().name().unwrap_or("").to_string());
            }
        }
        let (tx, rx) = watch::channel(0);
        let (seen_tx, seen_rx) = mpsc::channel();
        let (drop_tx, drop_rx) = mpsc::channel();
        let guard = OnDrop(drop_tx);
        let follower = StateFollower::spawn(
            "test-follow",
            rx,
            |s| *s == 99,
            move |old, new| {
                let _keep = &guard;
                seen_tx.send((old, new)).unwrap();
            },
        );
        tx.send(1).unwrap();
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)).unwrap(), (0, 1));
        tx.send(99).unwrap();
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)).unwrap(), (1, 99));
        drop(follower);
        assert_eq!(drop_rx.recv_timeout(Duration::from_secs(5)).unwrap(), "test-follow");
    }
}
