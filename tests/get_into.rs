//! zku_client_get_into: a get into the caller's buffer. Data that fits is
//! copied with its length and stat (the same as zku_client_get's); data
//! that does not fit gives ZKU_EBUFSIZE with the length needed and leaves
//! the buffer untouched, or comes back in `*overflow` when asked; an empty
//! node needs no buffer at all.

mod capi;
mod common;

use std::ptr::{null, null_mut};

use capi::{CClient, call, cs, expect, ok, take_buf};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::buf::zku_buf;
use zkutil::ffi::error::*;
use zkutil::ffi::node::*;
use zkutil::ffi::zku_rc;

fn client() -> CClient {
    CClient::connect(&shared_server().connect_string(), 10_000)
}

fn create(client: &CClient, path: &str, data: &[u8]) -> String {
    let p = cs(path);
    // SAFETY: live client, valid pointers.
    ok(
        "create",
        call(|e| unsafe {
            let (d, n) = (data.as_ptr(), data.len());
            zku_client_create(client.ptr(), p.as_ptr(), d, n, 0, 0, null(), 5000, None, null_mut(), null_mut(), e)
        }),
    );
    path.to_string()
}

/// zku_client_get's data and stat, for comparison.
fn get(client: &CClient, path: &str) -> (Vec<u8>, zku_stat) {
    let p = cs(path);
    let mut buf = null_mut();
    let mut stat = zku_stat::default();
    // SAFETY: live client, valid out-parameters.
    ok("get", call(|e| unsafe { zku_client_get(client.ptr(), p.as_ptr(), 5000, None, &mut buf, &mut stat, e) }));
    (take_buf(buf), stat)
}

/// The outputs of one zku_client_get_into call.
struct Into {
    len: usize,
    overflow: *mut zku_buf,
    stat: zku_stat,
}

/// zku_client_get_into of `path` into `buf` (None: NULL/0); with
/// `overflow` and `stat` out-parameters when asked (else NULL). The
/// out-parameters start non-zero, to see what the call writes.
fn get_into(
    client: &CClient,
    path: &str,
    buf: Option<&mut [u8]>,
    overflow: bool,
    stat: bool,
) -> ((zku_rc, String), Into) {
    let p = cs(path);
    let mut out = Into {
        len: 99,
        overflow: std::ptr::NonNull::dangling().as_ptr(),
        stat: zku_stat { version: 7, ..zku_stat::default() },
    };
    let (b, n) = buf.map_or((null_mut(), 0), |b| (b.as_mut_ptr(), b.len()));
    let overflow_out: *mut *mut zku_buf = if overflow { &mut out.overflow } else { null_mut() };
    let stat_out: *mut zku_stat = if stat { &mut out.stat } else { null_mut() };
    // SAFETY: `b` has `n` writable bytes (or is NULL/0); live client; the
    // out-parameters point into `out` or are NULL.
    let rc = call(|e| unsafe {
        zku_client_get_into(client.ptr(), p.as_ptr(), 5000, None, b, n, &mut out.len, overflow_out, stat_out, e)
    });
    (rc, out)
}

#[test]
fn copies_data_that_fits_with_its_length_and_stat() {
    let client = client();
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect(); // binary, with NULs
    let path = create(&client, &unique_path("get-into"), &data);
    let (want, want_stat) = get(&client, &path);
    assert_eq!(want, data);

    for size in [1000usize, 4096] {
        let mut buf = vec![0xAAu8; size];
        let (rc, out) = get_into(&client, &path, Some(&mut buf), true, true);
        ok("get_into", rc);
        assert_eq!(out.len, 1000);
        assert!(out.overflow.is_null(), "*overflow is NULL when the data fits");
        assert_eq!(&buf[..1000], &data[..], "the data, buffer of {size}");
        assert!(buf[1000..].iter().all(|&b| b == 0xAA), "nothing written past the data");
        assert_eq!(out.stat, want_stat, "the same stat as zku_client_get");
    }
    // The stat and overflow are optional.
    let mut buf = [0u8; 1000];
    let (rc, out) = get_into(&client, &path, Some(&mut buf), false, false);
    ok("get_into without stat", rc);
    assert_eq!((out.len, &buf[..]), (1000, &data[..]));
}

#[test]
fn a_short_buffer_gets_ebufsize_with_the_length_needed_and_stays_untouched() {
    let client = client();
    let path = create(&client, &unique_path("get-into-short"), b"0123456789");
    let mut buf = [0x55u8; 9];
    let (rc, out) = get_into(&client, &path, Some(&mut buf), false, true);
    expect("9-byte buffer", rc, ZKU_EBUFSIZE, "10 bytes");
    assert_eq!(out.len, 10, "the length needed");
    assert_eq!(buf, [0x55u8; 9], "nothing copied");
    assert_eq!(out.stat, zku_stat::default(), "the stat is written only on success");

    // NULL/0 asks for the length only.
    let (rc, out) = get_into(&client, &path, None, false, false);
    expect("NULL/0", rc, ZKU_EBUFSIZE, "10 bytes");
    assert_eq!(out.len, 10);
}

#[test]
fn data_that_does_not_fit_comes_back_in_overflow_when_asked() {
    let client = client();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let path = create(&client, &unique_path("get-into-overflow"), &data);
    let (_, want_stat) = get(&client, &path);
    let mut buf = [0x77u8; 16];
    let (rc, out) = get_into(&client, &path, Some(&mut buf), true, true);
    ok("overflow", rc);
    assert_eq!(out.len, 5000);
    assert!(!out.overflow.is_null());
    assert_eq!(take_buf(out.overflow), data);
    assert_eq!(buf, [0x77u8; 16], "the buffer is untouched");
    assert_eq!(out.stat, want_stat);
}

#[test]
fn an_empty_node_needs_no_buffer() {
    let client = client();
    let path = create(&client, &unique_path("get-into-empty"), b"");
    let (rc, out) = get_into(&client, &path, None, true, true);
    ok("empty", rc);
    assert_eq!(out.len, 0);
    assert!(out.overflow.is_null());
    assert_eq!(out.stat, get(&client, &path).1);
}

#[test]
fn a_missing_node_is_enonode_with_nothing_written() {
    let client = client();
    let path = unique_path("get-into-missing");
    let mut buf = [0x33u8; 4];
    let (rc, out) = get_into(&client, &path, Some(&mut buf), true, true);
    expect("missing", rc, ZKU_ENONODE, "get-into-missing");
    assert_eq!((out.len, out.overflow.is_null(), out.stat, buf), (0, true, zku_stat::default(), [0x33u8; 4]));
}
