//! At most 256 operations (`zku_op`) run at once in a process: one more is
//! refused with ZKU_ERESOURCE, and a place is free again once one ends.
//! Alone in its test binary: the limit is per process.

mod capi;
mod common;

use std::ptr::null_mut;
use std::time::{Duration, Instant};

use capi::{CClient, call, core_client, cs, expect, ok};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::error::*;
use zkutil::ffi::op::*;
use zkutil::ffi::wait::*;
use zkutil::node::CreateOptions;
use zkutil::runtime::Timeout;

const LIMIT: usize = 256;

#[test]
fn the_257th_running_operation_is_refused_until_one_ends() {
    let hosts = shared_server().connect_string();
    let client = CClient::connect(&hosts, 10_000);
    let core = core_client(&hosts, 10_000);
    let path = unique_path("op-limit");
    let t = Timeout::After(Duration::from_secs(5));
    core.create(&path, b"", &CreateOptions::persistent(), t).unwrap();
    let path_c = cs(&path);
    let start = |op: &mut *mut zku_op| {
        // SAFETY: live client, valid pointers.
        call(|e| unsafe { zku_wait_absent_start(client.ptr(), path_c.as_ptr(), -1, op, e) })
    };
    let mut running: Vec<*mut zku_op> = (0..LIMIT)
        .map(|_| {
            let mut op = null_mut();
            ok("start", start(&mut op));
            op
        })
        .collect();
    let mut refused = null_mut();
    expect("one more", start(&mut refused), ZKU_ERESOURCE, "256 operations are running already");
    assert!(refused.is_null());

    // SAFETY: a live op, freed once.
    unsafe { zku_op_free(running.pop().unwrap()) };
    let mut again = null_mut();
    ok("a place is free again", start(&mut again));
    running.push(again);

    let started = Instant::now();
    for op in running {
        // SAFETY: live ops, each freed once.
        unsafe { zku_op_free(op) };
    }
    eprintln!("freed {LIMIT} running operations in {:?}", started.elapsed());
    core.delete(&path, None, t).unwrap();
}
