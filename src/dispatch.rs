//! A thread that runs callbacks one at a time, so user code never runs on
//! a runtime thread and callbacks of one handle never overlap.

use std::sync::mpsc;
use std::thread::{self, JoinHandle, ThreadId};

type Job = Box<dyn FnOnce() + Send>;

pub struct Dispatcher {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Dispatcher {
    pub fn new(name: &str) -> Dispatcher {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })
            .expect("zkutil: cannot spawn a dispatcher thread");
        let thread_id = thread.thread().id();
        Dispatcher { jobs: Some(jobs), thread: Some(thread), thread_id }
    }

    /// Queues `job`; jobs run in the order they were posted.
    pub fn post(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(jobs) = &self.jobs {
            // A send fails only once the thread has stopped; nothing to run then.
            let _ = jobs.send(Box::new(job));
        }
    }

    /// Whether the caller is running inside one of this dispatcher's jobs.
    pub fn is_current(&self) -> bool {
        thread::current().id() == self.thread_id
    }
}

impl Drop for Dispatcher {
    /// Runs the jobs already queued, then stops. Dropped from inside its own
    /// callback (a handle freed by its callback), it lets the thread finish
    /// on its own instead of joining itself.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn runs_jobs_in_order_on_its_thread() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let d = Dispatcher::new("test-dispatch");
        for i in 0..10 {
            let seen = seen.clone();
            d.post(move || seen.lock().unwrap().push((i, thread::current().name().map(str::to_string))));
        }
        drop(d);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert!(seen.iter().all(|s| s.1.as_deref() == Some("test-dispatch")));
    }

    #[test]
    fn can_be_dropped_from_its_own_job() {
        let slot: Arc<Mutex<Option<Dispatcher>>> = Arc::new(Mutex::new(Some(Dispatcher::new("self-drop"))));
        let (done_tx, done_rx) = mpsc::channel();
        let inner = slot.clone();
        slot.lock().unwrap().as_ref().unwrap().post(move || {
            let d = inner.lock().unwrap().take();
            assert!(d.as_ref().unwrap().is_current());
            drop(d);
            done_tx.send(()).unwrap();
        });
        done_rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    }
}
