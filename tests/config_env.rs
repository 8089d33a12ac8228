//! Fail-closed configuration: every malformed `ZKU_*` variable makes every
//! entry point that reads the environment fail with ZKU_EBADCONFIG (an
//! oversized ZKU_AUTH with ZKU_ETOOLARGE) and a message naming it, before
//! anything is sent; a good client then finds nothing written.
//!
//! The environment is process-global, so this binary has a single test
//! that sets and clears the variables one at a time.

mod capi;
mod common;

use std::ffi::{c_char, c_void};
use std::process::Command;
use std::ptr::{null, null_mut};
use std::time::Duration;

use capi::{call, core_client, cs, expect, ok, take_string};
use common::zk::{shared_server, unique_path};
use zkutil::acl::Acl;
use zkutil::config::Auth;
use zkutil::ffi::client::{zku_client, zku_client_free, zku_client_new};
use zkutil::ffi::config::*;
use zkutil::ffi::error::{ZKU_EBADCONFIG, ZKU_ETOOLARGE};
use zkutil::ffi::hierarchy::{zku_import_stats, zku_init_hierarchy};
use zkutil::ffi::lock::{zku_lock, zku_lock_new_with_config, zku_lock_state};
use zkutil::ffi::lockid::zku_lock_id;
use zkutil::ffi::node::zku_client_create;
use zkutil::ffi::zku_rc;
use zkutil::{Client, Config, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(10));
const SECRET: &str = "s3cret";

unsafe extern "C" fn ignore_state(_: *mut c_void, _: zku_lock_state, _: zku_lock_state) {}

fn set_env(name: &str, value: &str) {
    // SAFETY: this binary's only test sets the environment, and no library
    // thread reads it concurrently (the library reads it on the caller's
    // thread, at the entry points).
    unsafe { std::env::set_var(name, value) };
}

fn clear_env(name: &str) {
    // SAFETY: as in set_env.
    unsafe { std::env::remove_var(name) };
}

/// A configuration pointing at the shared server, made while the
/// environment is clean (zku_config_new checks it).
fn good_config() -> *mut zku_config {
    let hosts = cs(&shared_server().connect_string());
    let mut config = null_mut();
    // SAFETY: valid out-parameters and strings.
    unsafe {
        ok("config_new", call(|e| zku_config_new(&mut config, e)));
        ok("set_hosts", call(|e| zku_config_set_hosts(config, hosts.as_ptr(), e)));
    }
    config
}

/// Every entry point that reads the environment, with `name` malformed:
/// each fails with `want` naming `name`; nothing appears on the server.
fn check_entry_points(config: *const zku_config, checker: &Client, name: &str, value: &str, want: zku_rc) {
    let case = format!("{name}={:.40?}", value);
    let named = |what: &str, got: (zku_rc, String)| {
        expect(&format!("{what} with {case}"), got.clone(), want, name);
        assert!(!got.1.contains(SECRET), "{what} with {case}: no password in {:?}", got.1);
    };
    // SAFETY (all calls below): valid pointers, out-parameters freed on
    // success (none is expected).
    let mut fresh = null_mut();
    named("zku_config_new", call(|e| unsafe { zku_config_new(&mut fresh, e) }));
    assert!(fresh.is_null());
    for (what, config) in [("zku_client_new", config), ("zku_client_new(NULL)", null())] {
        let mut client: *mut zku_client = null_mut();
        named(what, call(|e| unsafe { zku_client_new(config, None, &mut client, e) }));
        assert!(client.is_null());
    }
    let mut lock: *mut zku_lock = null_mut();
    let lock_name = cs("config-env");
    named(
        "zku_lock_new_with_config",
        call(|e| unsafe {
            zku_lock_new_with_config(
                config,
                lock_name.as_ptr(),
                null(),
                0,
                1000,
                Some(ignore_state),
                null_mut(),
                None,
                None,
                &mut lock,
                e,
            )
        }),
    );
    assert!(lock.is_null());
    let mut out: *mut c_char = null_mut();
    named("zku_config_get", call(|e| unsafe { zku_config_get(config, ZKU_CONFIG_LOCK_DIR, &mut out, e) }));
    named("zku_config_path", call(|e| unsafe { zku_config_path(config, ZKU_PATH_LOCK, null(), &mut out, e) }));
    named("zku_lock_id(NULL)", call(|e| unsafe { zku_lock_id(null(), &mut out, e) }));
    assert!(out.is_null());

    let root = unique_path("config-env");
    let c_root = cs(&root);
    let doc = cs(r#"{"a": {"b": {}}}"#);
    let mut stats = zku_import_stats::default();
    named(
        "zku_init_hierarchy",
        call(|e| unsafe {
            zku_init_hierarchy(config, c_root.as_ptr(), doc.as_ptr(), null(), 0, 10_000, None, &mut stats, e)
        }),
    );
    assert_eq!(stats.created, 0);
    assert!(checker.exists(&root, T).unwrap().is_none(), "init_hierarchy with {case} wrote nothing");

    // The CLI, with valid flags: the environment still fails it (exit 2).
    // (exec refuses a variable over 128 KiB: the oversized ZKU_AUTH.)
    if value.len() > 100_000 {
        return;
    }
    let node = format!("{root}-cli");
    let out = Command::new(env!("CARGO_BIN_EXE_zkutil"))
        .args(["set", &node, "1", "--hosts", &shared_server().connect_string()])
        .output()
        .expect("run zkutil");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "zkutil with {case}: {stderr}");
    assert!(stderr.contains(name) && !stderr.contains(SECRET), "zkutil with {case}: {stderr}");
    assert!(checker.exists(&node, T).unwrap().is_none(), "zkutil with {case} wrote nothing");
}

#[test]
fn malformed_variables_fail_every_entry_point_before_anything_is_sent() {
    for (name, _) in std::env::vars().filter(|(k, _)| zkutil::config::ENV_VARS.contains(&k.as_str())) {
        clear_env(&name);
    }
    let hosts = shared_server().connect_string();
    let checker = core_client(&hosts, 10_000);
    let config = good_config();

    let too_large = format!("digest:u:{}", "p".repeat(zkutil::packet::MAX_REQUEST_LEN));
    let cases: Vec<(&str, &str, zku_rc)> = vec![
        ("ZKU_HOSTS", "127.0.0.1:notaport", ZKU_EBADCONFIG),
        ("ZKU_HOSTS", "", ZKU_EBADCONFIG),
        ("ZKU_SESSION_TIMEOUT_MS", "10s", ZKU_EBADCONFIG),
        ("ZKU_SESSION_TIMEOUT_MS", "-1", ZKU_EBADCONFIG),
        ("ZKU_CONNECT_TIMEOUT_MS", "0", ZKU_EBADCONFIG),
        ("ZKU_CONNECT_TIMEOUT_MS", " ", ZKU_EBADCONFIG),
        ("ZKU_SESSION_RENEWAL", "yes", ZKU_EBADCONFIG),
        ("ZKU_AUTH", "digest", ZKU_EBADCONFIG),
        ("ZKU_AUTH", ":xp:s3cret", ZKU_EBADCONFIG),
        ("ZKU_AUTH", &too_large, ZKU_ETOOLARGE),
        ("ZKU_ACL", "xp:s3cret:cdrwq", ZKU_EBADCONFIG),
        ("ZKU_ACL", "xp:s3cret:rw,", ZKU_EBADCONFIG),
        ("ZKU_ACL", "xp-s3cret", ZKU_EBADCONFIG),
        ("ZKU_ACL", "", ZKU_EBADCONFIG),
        ("ZKU_NODE_ID", "", ZKU_EBADCONFIG),
        ("ZKU_LOCK_DIR", "/locks//", ZKU_EBADCONFIG),
        ("ZKU_RECORD_DIR", "/r/./", ZKU_EBADCONFIG),
        ("ZKU_SEQ_DIR", "", ZKU_EBADCONFIG),
        ("ZKU_TX_DIR", "/tx/\u{1}/", ZKU_EBADCONFIG),
    ];
    for var in zkutil::config::ENV_VARS {
        assert!(cases.iter().any(|(name, _, _)| *name == var), "{var} has a case");
    }
    for (name, value, want) in cases {
        set_env(name, value);
        check_entry_points(config, &checker, name, value, want);
        clear_env(name);
    }

    // Well-formed variables are read at each call (not once per process):
    // a client made now creates nodes with the ACL and auth they give.
    set_env("ZKU_ACL", "xp:123:cdrwa");
    set_env("ZKU_AUTH", "digest:xp:123");
    set_env("ZKU_LOCK_DIR", "env-locks/");
    let root = unique_path("config-env-ok");
    let c_root = cs(&root);
    let mut out: *mut c_char = null_mut();
    let mut client: *mut zku_client = null_mut();
    // SAFETY: valid pointers; the string is taken (freed) once, the client
    // freed once.
    unsafe {
        ok("get", call(|e| zku_config_get(config, ZKU_CONFIG_LOCK_DIR, &mut out, e)));
        assert_eq!(take_string(out), "/env-locks/");
        ok("client_new", call(|e| zku_client_new(config, None, &mut client, e)));
        let create = |e| {
            zku_client_create(client, c_root.as_ptr(), null(), 0, 0, 0, null(), 10_000, None, null_mut(), null_mut(), e)
        };
        ok("create", call(create));
        zku_client_free(client);
    }
    for name in ["ZKU_ACL", "ZKU_AUTH", "ZKU_LOCK_DIR"] {
        clear_env(name);
    }
    // ZKU_SESSION_RENEWAL=1 turns renewal on; a configuration's own
    // setting wins over it.
    set_env("ZKU_SESSION_RENEWAL", "1");
    assert!(core_client(&hosts, 10_000).renews_session());
    let off = Config { hosts: Some(hosts.clone()), session_renewal: Some(false), ..Config::default() };
    assert!(!Client::connect(off).unwrap().renews_session());
    clear_env("ZKU_SESSION_RENEWAL");
    assert!(!core_client(&hosts, 10_000).renews_session(), "off by default");
    let auth = Auth { scheme: "digest".into(), user: "xp".into(), password: "123".into() };
    let xp = Client::connect(Config { hosts: Some(hosts), auth: Some(auth), ..Config::default() }).unwrap();
    let (acl, _) = xp.get_acl(&root, T).unwrap();
    assert_eq!(acl, vec![Acl::digest("xp", "123", zkutil::acl::PERM_ALL)]);
    // SAFETY: freed once.
    unsafe { zku_config_free(config) };
}
