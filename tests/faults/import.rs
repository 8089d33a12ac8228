//! Import cut by a leader kill: the import fails or completes; re-running
//! it completes it, and the tree is then identical (export) to an
//! uninterrupted import of the same document.

use std::thread;
use std::time::Duration;

use zkutil::hierarchy::{self, Document, ExportOptions, ImportOptions, Users};
use zkutil::{Client, Config, Timeout};

use crate::common::zk::unique_path;
use crate::history::Report;
use crate::world::World;

const T: Timeout = Timeout::After(Duration::from_secs(60));

/// A document of `width`^2 nodes with values and a nested level.
fn document(width: usize) -> String {
    let mut top = Vec::new();
    for i in 0..width {
        let mut children = vec![format!(r#""__val__": {{"n": {i}}}"#)];
        for j in 0..width {
            children.push(format!(r#""c{j}": {{"__val__": [{i}, {j}, "x"]}}"#));
        }
        top.push(format!(r#""n{i}": {{{}}}"#, children.join(", ")));
    }
    format!("{{{}}}", top.join(", "))
}

pub fn run(world: &mut World) -> Report {
    let mut report = Report::default();
    let base = unique_path("faults-import");
    let config =
        Config { hosts: Some(world.hosts()), session_timeout: Some(Duration::from_secs(8)), ..Config::default() };
    let client = Client::connect(config).unwrap();
    client.create(&base, b"", &zkutil::CreateOptions::persistent(), T).unwrap();
    let doc = Document::parse(&document(20), &Users::new()).unwrap();
    let options = ImportOptions::default();
    let (cut, whole) = (format!("{base}/cut"), format!("{base}/whole"));

    let first = thread::scope(|scope| {
        let import = scope.spawn(|| hierarchy::import(&client, &cut, &doc, &options, T, None));
        thread::sleep(world.rng.between(Duration::from_millis(20), Duration::from_millis(150)));
        let leader = world.kill_leader();
        report.faults.push(format!("leader {leader} killed during the import"));
        let result = import.join().unwrap();
        world.restart(leader);
        result
    });
    report.figure(
        "first import",
        match &first {
            Ok(stats) => format!("completed ({} created)", stats.created),
            Err(e) => format!("failed: {:?}", e.code()),
        },
    );
    let again = hierarchy::import(&client, &cut, &doc, &options, T, None);
    report.check(again.is_ok(), || format!("the re-run failed: {:?}", again.as_ref().err()));
    hierarchy::import(&client, &whole, &doc, &options, T, None).unwrap();
    let export = |path: &str| hierarchy::export(&client, path, &ExportOptions::default(), T, None).unwrap();
    let (a, b) = (export(&cut), export(&whole));
    report.operations = 3;
    report.check(a == b, || format!("the trees differ ({} vs {} bytes of export)", a.len(), b.len()));
    report.figure("nodes", (20 * 20 + 20 + 1).to_string());
    client.close();
    report
}
