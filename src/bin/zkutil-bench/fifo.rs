//! The FIFO mutex: uncontended acquire + release against its raw floor
//! (create of an ephemeral sequential node, the children read, the delete,
//! on the same client, interleaved), and contended hand-offs with 1, 4,
//! 16 and 64 waiters (threads each with its own handle on one client),
//! next to the k3zkutil-layout lock under the same load: hand-offs per
//! second, hand-off latency (from the holder calling release to the next
//! holder's acquire returning) and the fraction of hand-offs that went to
//! the longest waiter. Curator's figure comes from the anchors
//! (`CuratorContended`, run by scripts/bench.sh on the same server).

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::{Client, Config, CreateOptions, FifoLock, FifoOptions, Lock, LockOptions, Timeout};

use crate::Ctx;
use crate::report;

const T: Timeout = Timeout::After(Duration::from_secs(60));
const WAITERS: [usize; 4] = [1, 4, 16, 64];
/// Hand-offs per waiter count (as CuratorContended's default).
const HANDOFFS: usize = 800;

/// A lock the contended benchmark can take turns on.
trait Turn: Send + Sync {
    fn take(&self);
    fn give(&self);
}

impl Turn for FifoLock {
    fn take(&self) {
        self.acquire(T).expect("fifo acquire");
    }
    fn give(&self) {
        self.release(T).expect("fifo release");
    }
}

impl Turn for Lock {
    fn take(&self) {
        self.acquire(T).expect("lock acquire");
    }
    fn give(&self) {
        self.release(T).expect("lock release");
    }
}

pub fn run(ctx: &Ctx) {
    let config = Config { lock_dir: Some(format!("{}/fifo/", ctx.root)), ..ctx.config.clone() };
    let client = Client::connect(config).expect("connect");
    uncontended(ctx, &client);
    for waiters in WAITERS {
        contended("fifo", &client, waiters, |c, name| {
            Box::new(FifoLock::new(c, name, FifoOptions::default()).unwrap())
        });
        contended("lock", &client, waiters, |c, name| Box::new(Lock::new(c, name, LockOptions::default()).unwrap()));
    }
    client.close();
}

fn uncontended(ctx: &Ctx, client: &Client) {
    let lock = FifoLock::new(client, "uncontended", FifoOptions::default()).expect("fifo");
    lock.take();
    lock.give();
    let dir = lock.path().to_string();
    let prefix = format!("{dir}/_c_00000000-0000-0000-0000-000000000000-lock-");
    let sequential = CreateOptions::ephemeral().sequential();
    let raw = || {
        let (node, _) = client.create(&prefix, b"x", &sequential, T).expect("create");
        client.children(&dir, T).expect("children");
        client.delete(&node, None, T).expect("delete");
    };
    let (raw_us, us) = crate::lock::interleaved(ctx.n, raw, || {
        lock.take();
        lock.give();
    });
    report::line("raw create_sequential+children+delete(interleaved)", raw_us);
    report::line("fifo acquire+release", us);
    report::ratio("fifo_acquire+release/raw_create_sequential+children+delete(interleaved)", us, raw_us);
}

/// `waiters` threads, each with its own handle on one client, take turns
/// on one lock until `HANDOFFS` hand-offs are done.
fn contended(kind: &str, client: &Client, waiters: usize, make: impl Fn(&Client, &str) -> Box<dyn Turn>) {
    let name = format!("contended-{kind}-{waiters}");
    let rounds = HANDOFFS.div_ceil(waiters);
    let locks: Vec<Arc<dyn Turn>> = (0..waiters).map(|_| Arc::from(make(client, &name))).collect();
    // Who waits since when, and when the holder started releasing.
    let queue: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let released_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let stats = Arc::new(Mutex::new((Vec::new(), 0usize, 0usize))); // latencies, hand-offs, to the longest waiter
    let start = Instant::now();
    let threads: Vec<_> = locks
        .into_iter()
        .enumerate()
        .map(|(id, lock)| {
            let (queue, released_at, stats) = (queue.clone(), released_at.clone(), stats.clone());
            thread::spawn(move || {
                for _ in 0..rounds {
                    queue.lock().unwrap().push((id, Instant::now()));
                    lock.take();
                    let now = Instant::now();
                    let longest = {
                        let mut q = queue.lock().unwrap();
                        let oldest = q.iter().min_by_key(|(_, since)| *since).map(|(who, _)| *who);
                        q.retain(|(who, _)| *who != id);
                        oldest == Some(id)
                    };
                    if let Some(at) = released_at.lock().unwrap().take() {
                        let mut s = stats.lock().unwrap();
                        s.0.push(now.duration_since(at).as_secs_f64() * 1e6);
                        s.1 += 1;
                        s.2 += usize::from(longest);
                    }
                    *released_at.lock().unwrap() = Some(Instant::now());
                    lock.give();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut s = stats.lock().unwrap();
    let (handoffs, to_longest) = (s.1, s.2);
    println!(
        "bench {kind} contended waiters={waiters} handoffs_per_s {:.1} to_longest_waiter {:.3}",
        (rounds * waiters) as f64 / seconds,
        to_longest as f64 / handoffs.max(1) as f64
    );
    report::percentiles(&format!("{kind} contended_handoff waiters={waiters}"), &mut s.0);
}
