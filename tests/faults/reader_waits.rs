//! Reader and waits through a rolling restart of all three servers while
//! writes continue: the cached reader and a get_next waiter both end on
//! the final value, and the waiter never sees a version go backwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use zkutil::reader::{Reader, ReaderState};
use zkutil::{Client, Config, CreateOptions, Timeout, wait};

use crate::common::zk::unique_path;
use crate::history::Report;
use crate::world::World;

const T: Timeout = Timeout::After(Duration::from_secs(10));

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let path = unique_path("faults-reader");
    let config =
        Config { hosts: Some(world.hosts()), session_timeout: Some(Duration::from_secs(8)), ..Config::default() };
    let writer = Client::connect(config.clone()).unwrap();
    writer.create(&path, br#"{"i": 0}"#, &CreateOptions::persistent(), T).unwrap();
    let reader_client = Client::connect(config.clone()).unwrap();
    let reader = Reader::new(&reader_client, &path, None, T).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let writing = {
        let (stop, writes, writer, path) = (stop.clone(), writes.clone(), writer.clone(), path.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                if writer
                    .set(&path, format!(r#"{{"i": {i}}}"#).as_bytes(), None, Timeout::After(Duration::from_secs(2)))
                    .is_ok()
                {
                    writes.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(30));
            }
        })
    };
    // The waiter follows every version it can; (version, data) seen last.
    let waiting = {
        let (stop, path) = (stop.clone(), path.clone());
        let client = Client::connect(config.clone()).unwrap();
        thread::spawn(move || {
            let (mut version, mut data, mut backwards) = (-1, Vec::new(), 0);
            // After stop: keep following until nothing new comes for 2 s.
            loop {
                match wait::get_next(&client, &path, version, false, Timeout::After(Duration::from_secs(2))) {
                    Ok((d, stat)) => {
                        if stat.version <= version {
                            backwards += 1;
                        }
                        version = stat.version;
                        data = d;
                    }
                    Err(_) if stop.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            client.close();
            (version, data, backwards)
        })
    };

    thread::sleep(Duration::from_millis(500));
    for member in 0..world.cluster.size() {
        world.cluster.stop_member(member);
        thread::sleep(Duration::from_millis(300));
        world.cluster.start_member(member);
        assert!(world.cluster.wait_for_quorum(Duration::from_secs(60)), "no quorum after restarting {member}");
        report.faults.push(format!("server {member} killed and restarted (rolling)"));
    }
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    writing.join().unwrap();
    let (final_data, final_stat) = writer.get(&path, T).unwrap();
    let (seen_version, seen_data, backwards) = waiting.join().unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let caught_up = loop {
        let fresh = reader.state() == ReaderState::Fresh;
        let same = reader.get().is_ok_and(|(value, _)| value.as_bytes() == final_data.as_slice());
        if fresh && same {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        thread::sleep(Duration::from_millis(20));
    };
    report.operations = writes.load(Ordering::SeqCst);
    report.check(caught_up, || {
        format!("the reader did not end on the final value ({:?}, {:?})", reader.state(), reader.get().map(|v| v.0))
    });
    report.check(seen_version == final_stat.version && seen_data == final_data, || {
        format!("the waiter ended on version {seen_version}, the node is at {}", final_stat.version)
    });
    report.check(backwards == 0, || format!("the waiter saw the version go back {backwards} times"));
    report.figure("writes acknowledged", report.operations.to_string());
    report.figure("final version", final_stat.version.to_string());
    reader.close();
    reader_client.close();
    writer.close();
    report
}
