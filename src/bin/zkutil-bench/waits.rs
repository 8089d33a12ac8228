//! Wake-up latency of the waits and the cached reader: from the moment a
//! second client starts its set (or delete) to the moment the waiter
//! returns (or the reader's callback runs). Includes the writer's own round
//! trip, since that is what a user of the pair sees.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zkutil::reader::{EventKind, Reader};
use zkutil::{CreateOptions, Timeout, wait};

use crate::Ctx;
use crate::report::percentiles;

const T: Timeout = Timeout::After(Duration::from_secs(30));
/// Lets the waiter arm its watch before the write (a write that comes first
/// is seen by the waiter's read, which is faster, not slower).
const SETTLE: Duration = Duration::from_millis(5);

pub fn run(ctx: &Ctx) {
    let rounds = (ctx.n / 10).clamp(20, 500);
    let writer = ctx.new_client();
    let waiter = &ctx.client;

    let node = format!("{}/wait-next", ctx.root);
    writer.create(&node, b"0", &CreateOptions::persistent(), T).expect("create");
    let mut samples = Vec::with_capacity(rounds);
    for version in 0..rounds as i32 {
        let (tx, rx) = mpsc::channel();
        let node2 = node.clone();
        let w = waiter.clone();
        let h = thread::spawn(move || {
            wait::get_next(&w, &node2, version, false, T).expect("get_next");
            tx.send(Instant::now()).unwrap();
        });
        thread::sleep(SETTLE);
        let start = Instant::now();
        writer.set(&node, b"x", None, T).expect("set");
        let returned = rx.recv().unwrap();
        h.join().unwrap();
        samples.push(returned.duration_since(start).as_secs_f64() * 1e6);
    }
    percentiles("wait get_next_set_to_return", &mut samples);

    let gone = format!("{}/wait-absent", ctx.root);
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        writer.create(&gone, b"", &CreateOptions::persistent(), T).expect("create");
        let (tx, rx) = mpsc::channel();
        let (gone2, w) = (gone.clone(), waiter.clone());
        let h = thread::spawn(move || {
            wait::wait_absent(&w, &gone2, T).expect("wait_absent");
            tx.send(Instant::now()).unwrap();
        });
        thread::sleep(SETTLE);
        let start = Instant::now();
        writer.delete(&gone, None, T).expect("delete");
        let returned = rx.recv().unwrap();
        h.join().unwrap();
        samples.push(returned.duration_since(start).as_secs_f64() * 1e6);
    }
    percentiles("wait wait_absent_delete_to_return", &mut samples);

    let doc = format!("{}/reader", ctx.root);
    writer.create(&doc, b"{\"n\": 0}", &CreateOptions::persistent(), T).expect("create");
    let (tx, rx) = mpsc::channel();
    let reader = Reader::new(
        waiter,
        &doc,
        Some(Box::new(move |e| {
            if e.kind == EventKind::Changed {
                let _ = tx.send(Instant::now());
            }
        })),
        T,
    )
    .expect("reader");
    let mut to_callback = Vec::with_capacity(rounds);
    let mut to_watch = Vec::with_capacity(rounds);
    for i in 1..=rounds {
        // A watch() blocked on another thread, and the callback.
        let (called, watched, start) = thread::scope(|s| {
            let blocked = s.spawn(|| {
                let change = reader.watch(T).expect("watch");
                (change, Instant::now())
            });
            thread::sleep(SETTLE);
            let start = Instant::now();
            writer.set(&doc, format!("{{\"n\": {i}}}").as_bytes(), None, T).expect("set");
            let called = rx.recv_timeout(Duration::from_secs(30)).expect("callback");
            let (change, watched) = blocked.join().unwrap();
            assert!(change.new.contains(&format!(": {i}}}")));
            (called, watched, start)
        });
        to_callback.push(called.duration_since(start).as_secs_f64() * 1e6);
        to_watch.push(watched.duration_since(start).as_secs_f64() * 1e6);
    }
    percentiles("reader set_to_callback", &mut to_callback);
    percentiles("reader set_to_watch_return", &mut to_watch);
    reader.close();
    writer.close();
}
