//! Tree import and export of 10,000 nodes: pipelined (the library) against
//! a one-by-one loop of the same requests through the same client (what
//! k3zkutil's init_hierarchy and export_hierarchy do), and against the raw
//! floors of the run.

use std::time::{Duration, Instant};

use zkutil::acl::Acl;
use zkutil::hierarchy::{self, Document, ExportOptions, ImportOptions, Users};
use zkutil::{CreateOptions, Timeout};

use crate::Ctx;
use crate::raw::Floors;
use crate::report::{line, ratio};

/// Nodes below the root: 100 parents of 99 children each, plus the root's
/// 100 = 10,000.
const PARENTS: usize = 100;
const CHILDREN: usize = 99;

fn document() -> String {
    let mut doc = String::from("{");
    for p in 0..PARENTS {
        if p > 0 {
            doc.push_str(", ");
        }
        doc.push_str(&format!(r#""p{p:03}": {{"__val__": {{"parent": {p}}}"#));
        for c in 0..CHILDREN {
            doc.push_str(&format!(r#", "c{c:03}": {{"__val__": {{"i": {c}, "name": "node {p}/{c}"}}}}"#));
        }
        doc.push('}');
    }
    doc.push('}');
    doc
}

pub fn run(ctx: &Ctx, floors: &Floors) {
    let c = &ctx.client;
    let t = Timeout::After(Duration::from_secs(120));
    let text = document();
    let doc = Document::parse(&text, &Users::new()).expect("parse");
    let nodes = doc.node_count() - 1; // the root is created by the import too
    let per_node = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / nodes as f64;

    // Pipelined import.
    let piped_root = format!("{}/h-piped", ctx.root);
    let start = Instant::now();
    hierarchy::import(c, &piped_root, &doc, &ImportOptions::default(), t, None).expect("import");
    let import_us = per_node(start);

    // The same creates, one round trip each.
    let loop_root = format!("{}/h-loop", ctx.root);
    let open = CreateOptions::persistent().with_acl(vec![Acl::open()]);
    let start = Instant::now();
    c.create(&loop_root, b"{}", &open, t).expect("create");
    for p in 0..PARENTS {
        let parent = format!("{loop_root}/p{p:03}");
        c.create(&parent, format!(r#"{{"parent": {p}}}"#).as_bytes(), &open, t).expect("create");
        for i in 0..CHILDREN {
            let data = format!(r#"{{"i": {i}, "name": "node {p}/{i}"}}"#);
            c.create(&format!("{parent}/c{i:03}"), data.as_bytes(), &open, t).expect("create");
        }
    }
    let loop_import_us = per_node(start);

    // Pipelined export.
    let start = Instant::now();
    let exported = hierarchy::export(c, &piped_root, &ExportOptions::default(), t, None).expect("export");
    let export_us = per_node(start);
    assert!(exported.len() > nodes * 20);

    // One-by-one export: get, get_acl and children per node.
    let start = Instant::now();
    let mut stack = vec![piped_root.clone()];
    let mut read = 0;
    while let Some(path) = stack.pop() {
        c.get(&path, t).expect("get");
        c.get_acl(&path, t).expect("get_acl");
        let (names, _) = c.children(&path, t).expect("children");
        stack.extend(names.into_iter().map(|n| format!("{path}/{n}")));
        read += 1;
    }
    assert_eq!(read, nodes + 1);
    let loop_export_us = per_node(start);

    // Import over an existing tree (every node: create refused, set_acl).
    let start = Instant::now();
    hierarchy::import(c, &piped_root, &doc, &ImportOptions::default(), t, None).expect("re-import");
    let reimport_us = per_node(start);

    line("hierarchy import_10000 pipelined", import_us);
    line("hierarchy import_10000 one_by_one", loop_import_us);
    line("hierarchy import_10000 over_existing", reimport_us);
    line("hierarchy export_10000 pipelined", export_us);
    line("hierarchy export_10000 one_by_one", loop_export_us);
    println!(
        "bench hierarchy total_ms import_pipelined {:.0} import_one_by_one {:.0} export_pipelined {:.0} export_one_by_one {:.0}",
        import_us * nodes as f64 / 1e3,
        loop_import_us * nodes as f64 / 1e3,
        export_us * nodes as f64 / 1e3,
        loop_export_us * nodes as f64 / 1e3
    );
    ratio("hierarchy_import_pipelined/one_by_one", import_us, loop_import_us);
    ratio("hierarchy_export_pipelined/one_by_one", export_us, loop_export_us);
    // Against one read round trip of this run (the floor of anything done
    // one request at a time).
    ratio("hierarchy_import_per_node/raw_get", import_us, floors.get_us);
    ratio("hierarchy_export_per_node/raw_get", export_us, floors.get_us);
}
