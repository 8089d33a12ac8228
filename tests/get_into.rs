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
use zkutil::ffi::error::*;
use zkutil::ffi::node::*;

fn create(client: &CClient, path: &str, data: &[u8]) {
    let p = cs(path);
    // SAFETY: live client, valid pointers.
    ok(
        "create",
        call(|e| unsafe {
            zku_client_create(
                client.ptr(),
                p.as_ptr(),
                data.as_ptr(),
                data.len(),
                0,
                0,
                null(),
                5000,
                None,
                null_mut(),
                null_mut(),
                e,
            )
        }),
    );
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

#[test]
fn copies_data_that_fits_with_its_length_and_stat() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("get-into");
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect(); // binary, with NULs
    create(&client, &path, &data);
    let (want, want_stat) = get(&client, &path);
    assert_eq!(want, data);

    for size in [1000usize, 4096] {
        let mut buf = vec![0xAAu8; size];
        let mut len = 0usize;
        let mut stat = zku_stat::default();
        let p = cs(&path);
        // SAFETY: buf has `size` writable bytes; live client.
        ok(
            "get_into",
            call(|e| unsafe {
                zku_client_get_into(
                    client.ptr(),
                    p.as_ptr(),
                    5000,
                    None,
                    buf.as_mut_ptr(),
                    size,
                    &mut len,
                    null_mut(),
                    &mut stat,
                    e,
                )
            }),
        );
        assert_eq!(len, 1000);
        assert_eq!(&buf[..len], &data[..], "the data, buffer of {size}");
        assert!(buf[len..].iter().all(|&b| b == 0xAA), "nothing written past the data");
        assert_eq!(stat, want_stat, "the same stat as zku_client_get");
    }

    // The stat is optional.
    let mut buf = [0u8; 1000];
    let mut len = 0usize;
    let p = cs(&path);
    // SAFETY: as above.
    ok(
        "get_into without stat",
        call(|e| unsafe {
            zku_client_get_into(
                client.ptr(),
                p.as_ptr(),
                5000,
                None,
                buf.as_mut_ptr(),
                1000,
                &mut len,
                null_mut(),
                null_mut(),
                e,
            )
        }),
    );
    assert_eq!((len, &buf[..]), (1000, &data[..]));
}

#[test]
fn a_short_buffer_gets_ebufsize_with_the_length_needed_and_stays_untouched() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("get-into-short");
    create(&client, &path, b"0123456789");
    let p = cs(&path);

    let mut buf = [0x55u8; 9];
    let mut len = 0usize;
    let mut stat = zku_stat { version: 7, ..zku_stat::default() };
    // SAFETY: buf has 9 writable bytes; live client.
    let got = call(|e| unsafe {
        zku_client_get_into(
            client.ptr(),
            p.as_ptr(),
            5000,
            None,
            buf.as_mut_ptr(),
            9,
            &mut len,
            null_mut(),
            &mut stat,
            e,
        )
    });
    expect("9-byte buffer", got, ZKU_EBUFSIZE, "10 bytes");
    assert_eq!(len, 10, "the length needed");
    assert_eq!(buf, [0x55u8; 9], "nothing copied");
    assert_eq!(stat, zku_stat::default(), "the stat is written only on success");

    // NULL/0 asks for the length only.
    // SAFETY: a NULL buffer of 0 bytes is allowed.
    let got = call(|e| unsafe {
        zku_client_get_into(client.ptr(), p.as_ptr(), 5000, None, null_mut(), 0, &mut len, null_mut(), null_mut(), e)
    });
    expect("NULL/0", got, ZKU_EBUFSIZE, "10 bytes");
    assert_eq!(len, 10);
}

#[test]
fn data_that_does_not_fit_comes_back_in_overflow_when_asked() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("get-into-overflow");
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    create(&client, &path, &data);
    let (_, want_stat) = get(&client, &path);
    let p = cs(&path);
    let mut buf = [0x77u8; 16];
    let mut len = 0usize;
    let mut overflow = null_mut();
    let mut stat = zku_stat::default();
    // SAFETY: buf has 16 writable bytes; live client.
    ok(
        "overflow",
        call(|e| unsafe {
            zku_client_get_into(
                client.ptr(),
                p.as_ptr(),
                5000,
                None,
                buf.as_mut_ptr(),
                16,
                &mut len,
                &mut overflow,
                &mut stat,
                e,
            )
        }),
    );
    assert_eq!(len, 5000);
    assert!(!overflow.is_null());
    assert_eq!(take_buf(overflow), data);
    assert_eq!(buf, [0x77u8; 16], "the buffer is untouched");
    assert_eq!(stat, want_stat);

    // Data that fits leaves *overflow NULL.
    let small = unique_path("get-into-overflow-small");
    create(&client, &small, b"abc");
    let p = cs(&small);
    let mut overflow = zku_buf_sentinel();
    // SAFETY: as above.
    ok(
        "fits",
        call(|e| unsafe {
            zku_client_get_into(
                client.ptr(),
                p.as_ptr(),
                5000,
                None,
                buf.as_mut_ptr(),
                16,
                &mut len,
                &mut overflow,
                null_mut(),
                e,
            )
        }),
    );
    assert!(overflow.is_null(), "*overflow is NULL when the data fits");
    assert_eq!((len, &buf[..3]), (3, &b"abc"[..]));
}

/// A non-NULL pointer value the call must overwrite (never dereferenced).
fn zku_buf_sentinel() -> *mut zkutil::ffi::buf::zku_buf {
    std::ptr::NonNull::dangling().as_ptr()
}

#[test]
fn an_empty_node_needs_no_buffer() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let path = unique_path("get-into-empty");
    create(&client, &path, b"");
    let p = cs(&path);
    let mut len = 99usize;
    let mut stat = zku_stat::default();
    // SAFETY: a NULL buffer of 0 bytes is allowed.
    ok(
        "empty",
        call(|e| unsafe {
            zku_client_get_into(client.ptr(), p.as_ptr(), 5000, None, null_mut(), 0, &mut len, null_mut(), &mut stat, e)
        }),
    );
    assert_eq!(len, 0);
    assert_eq!(stat, get(&client, &path).1);
}

#[test]
fn a_missing_node_is_enonode_with_nothing_written() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let p = cs(&unique_path("get-into-missing"));
    let mut buf = [0x33u8; 4];
    let mut len = 5usize;
    // SAFETY: buf has 4 writable bytes.
    let got = call(|e| unsafe {
        zku_client_get_into(
            client.ptr(),
            p.as_ptr(),
            5000,
            None,
            buf.as_mut_ptr(),
            4,
            &mut len,
            null_mut(),
            null_mut(),
            e,
        )
    });
    expect("missing", got, ZKU_ENONODE, "get-into-missing");
    assert_eq!((len, buf), (0, [0x33u8; 4]));
}
