//! Bad input through the C ABI: NULL for every pointer argument, invalid
//! UTF-8, relative or malformed paths, oversized data, malformed JSON,
//! unknown permissions, bad flags and timeouts. Each gets its specific code
//! and a message naming what was wrong; nothing crashes; nothing on the
//! server changes.

mod capi;
mod common;

use std::ffi::{CStr, c_char};
use std::ptr::{null, null_mut};

use capi::{bad_utf8, call, cs, expect};
use common::zk::{shared_server, unique_path};
use zkutil::ffi::acl::*;
use zkutil::ffi::buf::*;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::lockid::*;
use zkutil::ffi::node::*;
use zkutil::ffi::wait::*;

struct Fixture {
    client: *mut zku_client,
    root: String,
}

impl Fixture {
    fn new() -> Fixture {
        let hosts = cs(&shared_server().connect_string());
        let mut config = null_mut();
        let mut client = null_mut();
        // SAFETY: valid pointers to live locals.
        unsafe {
            assert_eq!(zku_config_new(&mut config, null_mut()), ZKU_OK);
            assert_eq!(zku_config_set_hosts(config, hosts.as_ptr(), null_mut()), ZKU_OK);
            assert_eq!(zku_client_new(config, None, &mut client, null_mut()), ZKU_OK);
            zku_config_free(config);
        }
        let root = unique_path("ffi");
        let f = Fixture { client, root };
        let path = cs(&f.root);
        let data = b"{\"keep\": true}";
        // SAFETY: live client and buffers.
        let rc = unsafe {
            zku_client_create(
                client,
                path.as_ptr(),
                data.as_ptr(),
                data.len(),
                0,
                0,
                null(),
                5000,
                None,
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        assert_eq!(rc, ZKU_OK);
        f
    }

    /// The tree under root: (path, data, version) for every node.
    fn snapshot(&self) -> Vec<(String, Vec<u8>, i32)> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(path) = stack.pop() {
            let c_path = cs(&path);
            let mut buf = null_mut();
            let mut stat = zku_stat::default();
            let mut children = null_mut();
            // SAFETY: live client, valid out-parameters; outputs freed below.
            unsafe {
                assert_eq!(
                    zku_client_get(self.client, c_path.as_ptr(), 5000, None, &mut buf, &mut stat, null_mut()),
                    ZKU_OK
                );
                let data = std::slice::from_raw_parts(zku_buf_data(buf), zku_buf_len(buf)).to_vec();
                zku_buf_free(buf);
                out.push((path.clone(), data, stat.version));
                assert_eq!(
                    zku_client_children(
                        self.client,
                        c_path.as_ptr(),
                        5000,
                        None,
                        &mut children,
                        null_mut(),
                        null_mut()
                    ),
                    ZKU_OK
                );
                for i in 0..zku_strings_len(children) {
                    let name = CStr::from_ptr(zku_strings_get(children, i)).to_str().unwrap();
                    stack.push(format!("{path}/{name}"));
                }
                zku_strings_free(children);
            }
        }
        out.sort();
        out
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: the client is live and freed once.
        unsafe { zku_client_free(self.client) };
    }
}

/// Found by tests/abi_fuzz.rs: a 2 MiB path was sent, the server dropped the
/// connection, and `zku_wait_absent` with timeout 0 reconnected and re-sent
/// it for seconds. A path too long for any request is refused before
/// sending, for reads too, and the client's session stays as it was.
#[test]
fn a_path_too_long_for_any_request_is_refused_before_sending() {
    let f = Fixture::new();
    let c = f.client as *const zku_client;
    let huge = cs(&format!("/{}", "a".repeat(2 * 1024 * 1024)));
    let mut exists = false;
    // SAFETY: live client, valid C strings, live locals.
    unsafe {
        let session = zku_client_session_id(c);
        expect("wait_absent huge path", call(|e| zku_wait_absent(c, huge.as_ptr(), 0, None, e)), ZKU_ETOOLARGE, "path");
        expect(
            "exists huge path",
            call(|e| zku_client_exists(c, huge.as_ptr(), 1000, None, &mut exists, null_mut(), e)),
            ZKU_ETOOLARGE,
            "path",
        );
        assert_eq!(zku_client_state(c), ZKU_STATE_CONNECTED, "the connection was not dropped");
        assert_eq!(zku_client_session_id(c), session);
    }
}

#[test]
fn node_operations_refuse_bad_input_and_change_nothing() {
    let f = Fixture::new();
    let before = f.snapshot();
    let c = f.client as *const zku_client;
    let path = cs(&format!("{}/new", f.root));
    let existing = cs(&f.root);
    let data = b"x";
    let big = vec![0u8; ZKU_MAX_DATA_LEN + 1];
    let mut out_path: *mut c_char = null_mut();
    let mut buf: *mut zku_buf = null_mut();
    let mut list: *mut zku_strings = null_mut();
    let mut acl: *mut zku_acl_list = null_mut();
    let mut json: *mut c_char = null_mut();
    let mut exists = true;
    let mut stat = zku_stat { version: 99, ..zku_stat::default() };

    // SAFETY (whole block): every pointer is NULL, a live local, or a
    // deliberately bad but valid C string; that is what is being tested.
    unsafe {
        let create = |client, p: *const c_char, d: *const u8, n: usize, flags, ttl, t, err| {
            zku_client_create(client, p, d, n, flags, ttl, null(), t, None, null_mut(), null_mut(), err)
        };
        expect(
            "create client NULL",
            call(|e| create(null(), path.as_ptr(), data.as_ptr(), 1, 0, 0, 1000, e)),
            ZKU_ENULL,
            "client",
        );
        expect("create path NULL", call(|e| create(c, null(), data.as_ptr(), 1, 0, 0, 1000, e)), ZKU_ENULL, "path");
        expect("create data NULL", call(|e| create(c, path.as_ptr(), null(), 1, 0, 0, 1000, e)), ZKU_ENULL, "data");
        expect("create bad utf8", call(|e| create(c, bad_utf8(), data.as_ptr(), 1, 0, 0, 1000, e)), ZKU_EUTF8, "path");
        let relative = cs("relative/path");
        expect(
            "create relative",
            call(|e| create(c, relative.as_ptr(), data.as_ptr(), 1, 0, 0, 1000, e)),
            ZKU_EPATH,
            "absolute",
        );
        let dotdot = cs(&format!("{}/../x", f.root));
        expect(
            "create ..",
            call(|e| create(c, dotdot.as_ptr(), data.as_ptr(), 1, 0, 0, 1000, e)),
            ZKU_EPATH,
            "relative",
        );
        let trailing = cs(&format!("{}/", f.root));
        expect(
            "create trailing /",
            call(|e| create(c, trailing.as_ptr(), data.as_ptr(), 1, 0, 0, 1000, e)),
            ZKU_EPATH,
            "end",
        );
        expect(
            "create too big",
            call(|e| create(c, path.as_ptr(), big.as_ptr(), big.len(), 0, 0, 1000, e)),
            ZKU_ETOOLARGE,
            "limit",
        );
        expect(
            "create bad flags",
            call(|e| create(c, path.as_ptr(), data.as_ptr(), 1, 0x8000, 0, 1000, e)),
            ZKU_EINVAL,
            "flags",
        );
        let both = ZKU_CREATE_EPHEMERAL | ZKU_CREATE_CONTAINER;
        expect(
            "create eph+container",
            call(|e| create(c, path.as_ptr(), data.as_ptr(), 1, both, 0, 1000, e)),
            ZKU_EINVAL,
            "container",
        );
        expect(
            "create negative ttl",
            call(|e| create(c, path.as_ptr(), data.as_ptr(), 1, 0, -5, 1000, e)),
            ZKU_EINVAL,
            "ttl",
        );
        expect(
            "create ttl ephemeral",
            call(|e| create(c, path.as_ptr(), data.as_ptr(), 1, ZKU_CREATE_EPHEMERAL, 100, 1000, e)),
            ZKU_EINVAL,
            "TTL",
        );
        expect(
            "create bad timeout",
            call(|e| create(c, path.as_ptr(), data.as_ptr(), 1, 0, 0, -5, e)),
            ZKU_EINVAL,
            "timeout",
        );

        let rc = call(|e| {
            zku_client_create(
                c,
                relative.as_ptr(),
                data.as_ptr(),
                1,
                0,
                0,
                null(),
                1000,
                None,
                &mut out_path,
                &mut stat,
                e,
            )
        });
        expect("create outputs", rc, ZKU_EPATH, "absolute");
        assert!(out_path.is_null(), "outputs stay NULL on failure");
        assert_eq!(stat.version, 0, "the stat out-parameter is zeroed on failure");

        expect(
            "get client NULL",
            call(|e| zku_client_get(null(), existing.as_ptr(), 1000, None, &mut buf, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "get path NULL",
            call(|e| zku_client_get(c, null(), 1000, None, &mut buf, null_mut(), e)),
            ZKU_ENULL,
            "path",
        );
        expect(
            "get data out NULL",
            call(|e| zku_client_get(c, existing.as_ptr(), 1000, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "data",
        );
        expect(
            "get bad utf8",
            call(|e| zku_client_get(c, bad_utf8(), 1000, None, &mut buf, null_mut(), e)),
            ZKU_EUTF8,
            "UTF-8",
        );
        assert!(buf.is_null());

        let mut into = [0u8; 8];
        let mut len = 7usize;
        expect(
            "get_into client NULL",
            call(|e| {
                zku_client_get_into(
                    null(),
                    existing.as_ptr(),
                    1000,
                    None,
                    into.as_mut_ptr(),
                    8,
                    &mut len,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_ENULL,
            "client",
        );
        assert_eq!(len, 0, "data_len is 0 on failure");
        expect(
            "get_into path NULL",
            call(|e| {
                zku_client_get_into(c, null(), 1000, None, into.as_mut_ptr(), 8, &mut len, null_mut(), null_mut(), e)
            }),
            ZKU_ENULL,
            "path",
        );
        expect(
            "get_into data_len NULL",
            call(|e| {
                zku_client_get_into(
                    c,
                    existing.as_ptr(),
                    1000,
                    None,
                    into.as_mut_ptr(),
                    8,
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_ENULL,
            "data_len",
        );
        expect(
            "get_into buf NULL with a length",
            call(|e| {
                zku_client_get_into(
                    c,
                    existing.as_ptr(),
                    1000,
                    None,
                    null_mut(),
                    8,
                    &mut len,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_ENULL,
            "buf",
        );
        expect(
            "get_into bad utf8",
            call(|e| {
                zku_client_get_into(
                    c,
                    bad_utf8(),
                    1000,
                    None,
                    into.as_mut_ptr(),
                    8,
                    &mut len,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_EUTF8,
            "UTF-8",
        );
        expect(
            "get_into relative path",
            call(|e| {
                zku_client_get_into(
                    c,
                    cs("rel").as_ptr(),
                    1000,
                    None,
                    into.as_mut_ptr(),
                    8,
                    &mut len,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_EPATH,
            "absolute",
        );
        assert_eq!(into, [0u8; 8], "nothing is copied on failure");

        let set = |client, p: *const c_char, d: *const u8, n: usize, v, t, err| {
            zku_client_set(client, p, d, n, v, t, None, null_mut(), err)
        };
        expect(
            "set client NULL",
            call(|e| set(null(), existing.as_ptr(), data.as_ptr(), 1, -1, 1000, e)),
            ZKU_ENULL,
            "client",
        );
        expect("set path NULL", call(|e| set(c, null(), data.as_ptr(), 1, -1, 1000, e)), ZKU_ENULL, "path");
        expect("set data NULL", call(|e| set(c, existing.as_ptr(), null(), 4, -1, 1000, e)), ZKU_ENULL, "data");
        expect(
            "set too big",
            call(|e| set(c, existing.as_ptr(), big.as_ptr(), big.len(), -1, 1000, e)),
            ZKU_ETOOLARGE,
            "limit",
        );
        expect(
            "set bad version",
            call(|e| set(c, existing.as_ptr(), data.as_ptr(), 1, -2, 1000, e)),
            ZKU_EINVAL,
            "version",
        );
        expect(
            "set relative",
            call(|e| set(c, relative.as_ptr(), data.as_ptr(), 1, -1, 1000, e)),
            ZKU_EPATH,
            "absolute",
        );

        expect(
            "delete client NULL",
            call(|e| zku_client_delete(null(), existing.as_ptr(), -1, 1000, None, e)),
            ZKU_ENULL,
            "client",
        );
        expect("delete path NULL", call(|e| zku_client_delete(c, null(), -1, 1000, None, e)), ZKU_ENULL, "path");
        expect(
            "delete bad version",
            call(|e| zku_client_delete(c, existing.as_ptr(), -7, 1000, None, e)),
            ZKU_EINVAL,
            "version",
        );
        let root = cs("/");
        expect("delete root", call(|e| zku_client_delete(c, root.as_ptr(), -1, 1000, None, e)), ZKU_EPATH, "root");

        expect(
            "exists client NULL",
            call(|e| zku_client_exists(null(), existing.as_ptr(), 1000, None, &mut exists, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "exists out NULL",
            call(|e| zku_client_exists(c, existing.as_ptr(), 1000, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "exists",
        );
        expect(
            "exists path NULL",
            call(|e| zku_client_exists(c, null(), 1000, None, &mut exists, null_mut(), e)),
            ZKU_ENULL,
            "path",
        );
        assert!(!exists, "the bool out-parameter is false on failure");

        expect(
            "children client NULL",
            call(|e| zku_client_children(null(), existing.as_ptr(), 1000, None, &mut list, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "children out NULL",
            call(|e| zku_client_children(c, existing.as_ptr(), 1000, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "children",
        );
        expect(
            "children path NULL",
            call(|e| zku_client_children(c, null(), 1000, None, &mut list, null_mut(), e)),
            ZKU_ENULL,
            "path",
        );

        expect(
            "get_acl client NULL",
            call(|e| zku_client_get_acl(null(), existing.as_ptr(), 1000, None, &mut acl, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "get_acl out NULL",
            call(|e| zku_client_get_acl(c, existing.as_ptr(), 1000, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "acl",
        );
        expect(
            "get_acl path NULL",
            call(|e| zku_client_get_acl(c, null(), 1000, None, &mut acl, null_mut(), e)),
            ZKU_ENULL,
            "path",
        );

        let mut empty_acl = null_mut();
        assert_eq!(zku_acl_list_new(&mut empty_acl, null_mut()), ZKU_OK);
        expect(
            "set_acl acl NULL",
            call(|e| zku_client_set_acl(c, existing.as_ptr(), null(), -1, 1000, None, null_mut(), e)),
            ZKU_ENULL,
            "acl",
        );
        expect(
            "set_acl client NULL",
            call(|e| zku_client_set_acl(null(), existing.as_ptr(), empty_acl, -1, 1000, None, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "set_acl empty",
            call(|e| zku_client_set_acl(c, existing.as_ptr(), empty_acl, -1, 1000, None, null_mut(), e)),
            ZKU_EINVALIDACL,
            "empty",
        );
        zku_acl_list_free(empty_acl);

        let bad_json = cs("{\"unterminated\": ");
        expect(
            "set_json malformed",
            call(|e| zku_client_set_json(c, existing.as_ptr(), bad_json.as_ptr(), -1, 1000, None, null_mut(), e)),
            ZKU_EJSON,
            "JSON",
        );
        expect(
            "set_json NULL",
            call(|e| zku_client_set_json(c, existing.as_ptr(), null(), -1, 1000, None, null_mut(), e)),
            ZKU_ENULL,
            "json",
        );
        expect(
            "set_json bad utf8",
            call(|e| zku_client_set_json(c, existing.as_ptr(), bad_utf8(), -1, 1000, None, null_mut(), e)),
            ZKU_EUTF8,
            "json",
        );
        expect(
            "create_json malformed",
            call(|e| {
                zku_client_create_json(
                    c,
                    path.as_ptr(),
                    bad_json.as_ptr(),
                    0,
                    null(),
                    1000,
                    None,
                    null_mut(),
                    null_mut(),
                    e,
                )
            }),
            ZKU_EJSON,
            "JSON",
        );
        expect(
            "get_json out NULL",
            call(|e| zku_client_get_json(c, existing.as_ptr(), 1000, None, null_mut(), null_mut(), e)),
            ZKU_ENULL,
            "json",
        );
        expect(
            "get_json client NULL",
            call(|e| zku_client_get_json(null(), existing.as_ptr(), 1000, None, &mut json, null_mut(), e)),
            ZKU_ENULL,
            "client",
        );

        expect(
            "add_auth client NULL",
            call(|e| zku_client_add_auth(null(), cs("digest").as_ptr(), data.as_ptr(), 1, 1000, None, e)),
            ZKU_ENULL,
            "client",
        );
        expect(
            "add_auth scheme NULL",
            call(|e| zku_client_add_auth(c, null(), data.as_ptr(), 1, 1000, None, e)),
            ZKU_ENULL,
            "scheme",
        );
        expect(
            "add_auth auth NULL",
            call(|e| zku_client_add_auth(c, cs("digest").as_ptr(), null(), 3, 1000, None, e)),
            ZKU_ENULL,
            "auth",
        );
        expect(
            "add_auth empty scheme",
            call(|e| zku_client_add_auth(c, cs("").as_ptr(), data.as_ptr(), 1, 1000, None, e)),
            ZKU_EINVAL,
            "scheme",
        );
        expect(
            "state callback client NULL",
            call(|e| zku_client_set_state_callback(null(), None, null_mut(), None, e)),
            ZKU_ENULL,
            "client",
        );
    }

    // The JSON data of root is intact and nothing was created or changed.
    assert_eq!(f.snapshot(), before);
    // SAFETY: NULL handles are accepted by the getters.
    unsafe {
        assert_eq!(zku_client_state(null()), ZKU_STATE_CLOSED);
        assert_eq!(zku_client_session_id(null()), 0);
        zku_client_free(null_mut());
    }
}

#[test]
fn config_refuses_bad_input() {
    let mut config = null_mut();
    // SAFETY: valid or deliberately NULL pointers (what is tested).
    unsafe {
        expect("config_new out NULL", call(|e| zku_config_new(null_mut(), e)), ZKU_ENULL, "out");
        assert_eq!(zku_config_new(&mut config, null_mut()), ZKU_OK);
        for bad in ["", "host:notaport", "h:1,,h:2", "::1:2181", "[::1", "h:1/chroot/", "h:70000"] {
            let hosts = cs(bad);
            expect(bad, call(|e| zku_config_set_hosts(config, hosts.as_ptr(), e)), ZKU_EHOSTS, "hosts");
        }
        expect("hosts NULL", call(|e| zku_config_set_hosts(config, null(), e)), ZKU_ENULL, "hosts");
        expect("hosts bad utf8", call(|e| zku_config_set_hosts(config, bad_utf8(), e)), ZKU_EUTF8, "hosts");
        expect("config NULL", call(|e| zku_config_set_hosts(null_mut(), cs("h:1").as_ptr(), e)), ZKU_ENULL, "config");
        expect("session timeout 0", call(|e| zku_config_set_session_timeout_ms(config, 0, e)), ZKU_EINVAL, "positive");
        expect(
            "connect timeout -1",
            call(|e| zku_config_set_connect_timeout_ms(config, -1, e)),
            ZKU_EINVAL,
            "positive",
        );
        expect(
            "auth NULL user",
            call(|e| zku_config_set_auth(config, cs("digest").as_ptr(), null(), cs("p").as_ptr(), e)),
            ZKU_ENULL,
            "user",
        );
        expect(
            "auth empty scheme",
            call(|e| zku_config_set_auth(config, cs("").as_ptr(), cs("u").as_ptr(), cs("p").as_ptr(), e)),
            ZKU_EINVAL,
            "scheme",
        );
        expect(
            "acl bad letter",
            call(|e| zku_config_add_acl(config, cs("u").as_ptr(), cs("p").as_ptr(), cs("rwx").as_ptr(), e)),
            ZKU_EPERM,
            "x",
        );
        expect(
            "acl upper case",
            call(|e| zku_config_add_acl(config, cs("u").as_ptr(), cs("p").as_ptr(), cs("RW").as_ptr(), e)),
            ZKU_EPERM,
            "R",
        );
        expect(
            "acl NULL perms",
            call(|e| zku_config_add_acl(config, cs("u").as_ptr(), cs("p").as_ptr(), null(), e)),
            ZKU_ENULL,
            "perms",
        );
        expect("set unknown field", call(|e| zku_config_set(config, 99, cs("x").as_ptr(), e)), ZKU_EINVAL, "field");
        expect("set NULL value", call(|e| zku_config_set(config, ZKU_CONFIG_LOCK_DIR, null(), e)), ZKU_ENULL, "value");
        let mut out = null_mut();
        expect("get NULL out", call(|e| zku_config_get(config, ZKU_CONFIG_LOCK_DIR, null_mut(), e)), ZKU_ENULL, "out");
        expect(
            "get NULL config",
            call(|e| zku_config_get(null(), ZKU_CONFIG_LOCK_DIR, &mut out, e)),
            ZKU_ENULL,
            "config",
        );
        expect("path unknown kind", call(|e| zku_config_path(config, 42, null(), &mut out, e)), ZKU_EINVAL, "kind");
        expect(
            "path_id record",
            call(|e| zku_config_path_id(config, ZKU_PATH_RECORD, 3, &mut out, e)),
            ZKU_EINVAL,
            "text",
        );
        expect(
            "path NULL out",
            call(|e| zku_config_path(config, ZKU_PATH_LOCK, null(), null_mut(), e)),
            ZKU_ENULL,
            "out",
        );
        assert!(out.is_null());

        // The good calls work and build k3zkutil's paths.
        assert_eq!(zku_config_set(config, ZKU_CONFIG_TX_DIR, cs("tx/").as_ptr(), null_mut()), ZKU_OK);
        assert_eq!(zku_config_path_id(config, ZKU_PATH_JOURNAL, 7, &mut out, null_mut()), ZKU_OK);
        assert_eq!(CStr::from_ptr(out).to_str().unwrap(), "/tx/journal/journal_id0000000007");
        zku_string_free(out);
        expect("client_new out NULL", call(|e| zku_client_new(config, None, null_mut(), e)), ZKU_ENULL, "out");
        zku_config_free(config);
    }
}

#[test]
fn helpers_refuse_bad_input() {
    let mut s: *mut c_char = null_mut();
    let mut list: *mut zku_strings = null_mut();
    let mut mask = 7;
    let mut backward = true;
    let mut parts = null_mut();
    // SAFETY: valid or deliberately NULL/bad pointers (what is tested).
    unsafe {
        expect("digest acc NULL", call(|e| zku_make_digest(null(), &mut s, e)), ZKU_ENULL, "acc");
        expect("digest out NULL", call(|e| zku_make_digest(cs("a:b").as_ptr(), null_mut(), e)), ZKU_ENULL, "out");
        expect("digest bad utf8", call(|e| zku_make_digest(bad_utf8(), &mut s, e)), ZKU_EUTF8, "acc");
        expect(
            "acl_entry perms",
            call(|e| zku_make_acl_entry(cs("u").as_ptr(), cs("p").as_ptr(), cs("cdrwx").as_ptr(), &mut s, e)),
            ZKU_EPERM,
            "x",
        );
        expect(
            "acl_entry user NULL",
            call(|e| zku_make_acl_entry(null(), cs("p").as_ptr(), cs("r").as_ptr(), &mut s, e)),
            ZKU_ENULL,
            "user",
        );
        expect(
            "acl_entry password NULL",
            call(|e| zku_make_acl_entry(cs("u").as_ptr(), null(), cs("r").as_ptr(), &mut s, e)),
            ZKU_ENULL,
            "password",
        );
        expect(
            "to_names bad",
            call(|e| zku_perm_letters_to_names(cs("rq").as_ptr(), true, &mut list, e)),
            ZKU_EPERM,
            "q",
        );
        expect("to_names NULL", call(|e| zku_perm_letters_to_names(null(), true, &mut list, e)), ZKU_ENULL, "letters");
        let names = [cs("read"), cs("bogus")];
        let ptrs = [names[0].as_ptr(), names[1].as_ptr()];
        expect(
            "to_letters bad name",
            call(|e| zku_perm_names_to_letters(ptrs.as_ptr(), 2, true, &mut s, e)),
            ZKU_EPERM,
            "bogus",
        );
        expect(
            "to_letters NULL array",
            call(|e| zku_perm_names_to_letters(null(), 2, true, &mut s, e)),
            ZKU_ENULL,
            "names",
        );
        let with_null = [names[0].as_ptr(), null()];
        expect(
            "to_letters NULL item",
            call(|e| zku_perm_names_to_letters(with_null.as_ptr(), 2, true, &mut s, e)),
            ZKU_ENULL,
            "names[1]",
        );
        let with_bad = [names[0].as_ptr(), bad_utf8()];
        expect(
            "to_letters bad utf8 item",
            call(|e| zku_perm_names_to_letters(with_bad.as_ptr(), 2, true, &mut s, e)),
            ZKU_EUTF8,
            "names[1]",
        );
        expect("to_mask bad", call(|e| zku_perm_letters_to_mask(cs("rwz").as_ptr(), &mut mask, e)), ZKU_EPERM, "z");
        assert_eq!(mask, 0, "the int out-parameter is zeroed on failure");
        expect(
            "names_to_mask bad",
            call(|e| zku_perm_names_to_mask(ptrs.as_ptr(), 2, &mut mask, e)),
            ZKU_EPERM,
            "bogus",
        );
        expect("mask_to_letters -1", call(|e| zku_perm_mask_to_letters(-1, true, &mut s, e)), ZKU_EPERM, "mask");
        expect("mask_to_names 32", call(|e| zku_perm_mask_to_names(32, true, &mut list, e)), ZKU_EPERM, "mask");
        assert!(s.is_null() && list.is_null());

        let mut acl = null_mut();
        expect("acl_list_new NULL", call(|e| zku_acl_list_new(null_mut(), e)), ZKU_ENULL, "out");
        assert_eq!(zku_acl_list_new(&mut acl, null_mut()), ZKU_OK);
        expect(
            "acl add bad mask",
            call(|e| zku_acl_list_add(acl, 64, cs("world").as_ptr(), cs("anyone").as_ptr(), e)),
            ZKU_EPERM,
            "mask",
        );
        expect(
            "acl add NULL scheme",
            call(|e| zku_acl_list_add(acl, 1, null(), cs("anyone").as_ptr(), e)),
            ZKU_ENULL,
            "scheme",
        );
        expect(
            "acl add empty scheme",
            call(|e| zku_acl_list_add(acl, 1, cs("").as_ptr(), cs("x").as_ptr(), e)),
            ZKU_EINVALIDACL,
            "scheme",
        );
        expect(
            "acl add NULL list",
            call(|e| zku_acl_list_add(null_mut(), 1, cs("world").as_ptr(), cs("anyone").as_ptr(), e)),
            ZKU_ENULL,
            "list",
        );
        expect(
            "acl digest bad perms",
            call(|e| zku_acl_list_add_digest(acl, cs("u").as_ptr(), cs("p").as_ptr(), cs("rx").as_ptr(), e)),
            ZKU_EPERM,
            "x",
        );
        assert_eq!(zku_acl_list_len(acl), 0, "refused entries are not added");
        let mut perms = 5;
        let mut scheme = c"x".as_ptr();
        expect(
            "acl get out of range",
            call(|e| zku_acl_list_get(acl, 0, &mut perms, &mut scheme, null_mut(), e)),
            ZKU_EINVAL,
            "range",
        );
        assert!(perms == 0 && scheme.is_null());
        zku_acl_list_free(acl);

        expect("lock_id out NULL", call(|e| zku_lock_id(null(), null_mut(), e)), ZKU_ENULL, "out");
        expect("parse NULL", call(|e| zku_parse_lock_id(null(), &mut parts, e)), ZKU_ENULL, "id");
        expect("parse bad utf8", call(|e| zku_parse_lock_id(bad_utf8(), &mut parts, e)), ZKU_EUTF8, "id");
        assert!(parts.is_null());
        let keys = [cs("a"), cs("c")];
        let key_ptrs = [keys[0].as_ptr(), keys[1].as_ptr()];
        expect(
            "backward NULL keys",
            call(|e| zku_is_backward_locking(null(), 2, cs("b").as_ptr(), &mut backward, e)),
            ZKU_ENULL,
            "locked_keys",
        );
        expect(
            "backward NULL key",
            call(|e| zku_is_backward_locking(key_ptrs.as_ptr(), 2, null(), &mut backward, e)),
            ZKU_ENULL,
            "key",
        );
        expect(
            "backward relock",
            call(|e| zku_is_backward_locking(key_ptrs.as_ptr(), 2, cs("c").as_ptr(), &mut backward, e)),
            ZKU_EALREADYLOCKED,
            "re-lock",
        );
        assert!(!backward);
        // An impossible count (found by tests/abi_fuzz.rs: SIZE_MAX aborted
        // the process in from_raw_parts' precondition check) is refused
        // before the array is read.
        for n in [usize::MAX, usize::MAX / size_of::<*const c_char>() + 1] {
            expect(
                "backward impossible count",
                call(|e| zku_is_backward_locking(key_ptrs.as_ptr(), n, cs("b").as_ptr(), &mut backward, e)),
                ZKU_EINVAL,
                "locked_keys",
            );
            expect(
                "to_letters impossible count",
                call(|e| zku_perm_names_to_letters(key_ptrs.as_ptr(), n, true, &mut s, e)),
                ZKU_EINVAL,
                "names",
            );
            expect(
                "names_to_mask impossible count",
                call(|e| zku_perm_names_to_mask(key_ptrs.as_ptr(), n, &mut mask, e)),
                ZKU_EINVAL,
                "names",
            );
        }
        // NULL with zero items is an empty list, not an error.
        assert_eq!(zku_is_backward_locking(null(), 0, cs("b").as_ptr(), &mut backward, null_mut()), ZKU_OK);

        // Accessors and destructors accept NULL.
        assert!(zku_error_message(null()).is_null());
        assert_eq!(zku_error_code(null()), ZKU_EPANIC);
        zku_error_free(null_mut());
        zku_string_free(null_mut());
        zku_strings_free(null_mut());
        zku_buf_free(null_mut());
        zku_lock_id_parts_free(null_mut());
        assert_eq!(zku_buf_len(null()), 0);
        assert!(zku_strings_get(null(), 0).is_null());
        assert_eq!(CStr::from_ptr(zku_strerror(-424242)).to_str().unwrap(), "unknown error code");
    }
}

#[test]
fn error_out_parameter_is_optional() {
    // SAFETY: NULL error out-parameter is documented as allowed.
    let rc = unsafe { zku_make_digest(null(), null_mut(), null_mut()) };
    assert_eq!(rc, ZKU_ENULL);
}
