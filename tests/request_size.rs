//! Requests against the server's packet limit (jute.maxbuffer): each write
//! path with a request exactly at the library's limit (applied) and just
//! over it, and over the server's own limit (ZKU_ETOOLARGE, nothing sent,
//! the connection never dropped). Sizes are computed here from the wire
//! format, independently of src/packet.rs.

mod capi;
mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capi::{CClient, call, cs, expect, ok};
use common::zk::{shared_server, unique_path};
use zkutil::acl::{Acl, PERM_ALL};
use zkutil::cas::{Cas, CasOptions};
use zkutil::config::Config;
use zkutil::ffi::client::{zku_client_add_auth, zku_client_set_state_callback, zku_client_state, zku_state};
use zkutil::ffi::config::{zku_config_free, zku_config_new, zku_config_set_auth};
use zkutil::ffi::error::ZKU_ETOOLARGE;
use zkutil::hierarchy::{self, Document, ImportOptions, Users};
use zkutil::packet::{MAX_REQUEST_LEN, SERVER_PACKET_LIMIT};
use zkutil::path::{MAX_DATA_LEN, MAX_PATH_LEN};
use zkutil::{Client, Code, CreateOptions, Lock, LockOptions, SessionState, Timeout};

const T: Timeout = Timeout::After(Duration::from_secs(20));

/// xid and op code.
const HEADER: usize = 8;
/// world:anyone:cdrwa as a one-entry ACL vector.
const WORLD_ACL: usize = 4 + (4 + (4 + "world".len()) + (4 + "anyone".len()));
/// A multi's per-operation header, also closing the list.
const MULTI_HEADER: usize = 9;

fn create_len(path: usize, data: usize) -> usize {
    HEADER + (4 + path) + (4 + data) + WORLD_ACL + 4
}

fn set_len(path: usize, data: usize) -> usize {
    HEADER + (4 + path) + (4 + data) + 4
}

/// A check of the lock node then a set, as a guarded write sends them.
fn guarded_set_len(lock_path: usize, path: usize, data: usize) -> usize {
    HEADER + MULTI_HEADER + (4 + lock_path + 4) + MULTI_HEADER + (set_len(path, data) - HEADER) + MULTI_HEADER
}

/// `dir` + "/" + padding, `len` bytes long.
fn path_of_len(dir: &str, len: usize) -> String {
    let path = format!("{dir}/{}", "p".repeat(len - dir.len() - 1));
    assert_eq!(path.len(), len);
    path
}

/// A client whose state changes are recorded.
struct Watched {
    client: Client,
    changes: Arc<Mutex<Vec<(SessionState, SessionState)>>>,
    session_id: i64,
}

impl Watched {
    fn connect() -> Watched {
        let config = Config {
            hosts: Some(shared_server().connect_string()),
            session_timeout: Some(Duration::from_secs(10)),
            ..Config::default()
        };
        let client = Client::connect(config).expect("connect");
        let changes = Arc::new(Mutex::new(Vec::new()));
        let log = changes.clone();
        client.set_state_callback(Some(Box::new(move |old, new| log.lock().unwrap().push((old, new))))).unwrap();
        let session_id = client.session_id();
        Watched { client, changes, session_id }
    }

    /// A watched client and a new directory for the test's nodes.
    fn with_dir(prefix: &str) -> (Watched, String) {
        let w = Watched::connect();
        let dir = unique_path(prefix);
        w.client.create(&dir, b"", &CreateOptions::persistent(), T).unwrap();
        (w, dir)
    }

    /// Refused with ETOOLARGE naming the limit.
    fn expect_too_large<T: std::fmt::Debug>(&self, what: &str, result: zkutil::Result<T>) {
        let err = result.expect_err(what);
        assert_eq!(err.code(), Code::DataTooLarge, "{what}: {err}");
        assert!(err.message().contains(&MAX_REQUEST_LEN.to_string()), "{what}: the limit in {err}");
    }

    /// The connection never dropped: no state change, same session, and a
    /// request still goes through.
    fn assert_never_disconnected(&self) {
        self.client.exists("/", T).expect("still usable");
        assert_eq!(self.client.state(), SessionState::Connected);
        assert_eq!(self.client.session_id(), self.session_id);
        assert_eq!(*self.changes.lock().unwrap(), vec![], "no state change");
    }
}

#[test]
fn create_and_set_at_and_over_the_limit() {
    let (w, dir) = Watched::with_dir("size");
    let c = &w.client;

    // Create: path plus MAX_DATA_LEN bytes of data, exactly at the limit.
    let data = vec![7u8; MAX_DATA_LEN];
    let path_len = MAX_REQUEST_LEN - create_len(0, MAX_DATA_LEN);
    let at_limit = path_of_len(&dir, path_len);
    assert_eq!(create_len(at_limit.len(), data.len()), MAX_REQUEST_LEN);
    c.create(&at_limit, &data, &CreateOptions::persistent(), T).expect("a create at the limit is applied");
    assert_eq!(c.get(&at_limit, T).unwrap().0.len(), MAX_DATA_LEN);
    let over = path_of_len(&dir, path_len + 1);
    w.expect_too_large("create over", c.create(&over, &data, &CreateOptions::persistent(), T));
    // Over the server's own limit: before the fix, a connection loss.
    let beyond = path_of_len(&dir, path_len + SERVER_PACKET_LIMIT - MAX_REQUEST_LEN + 1);
    w.expect_too_large("create beyond", c.create(&beyond, &data, &CreateOptions::persistent(), T));
    assert!(c.exists(&over, T).unwrap().is_none() && c.exists(&beyond, T).unwrap().is_none());

    // Set: a longer path leaves room for MAX_DATA_LEN bytes exactly.
    let set_path = path_of_len(&dir, MAX_REQUEST_LEN - set_len(0, MAX_DATA_LEN));
    c.create(&set_path, b"", &CreateOptions::persistent(), T).unwrap();
    c.set(&set_path, &data, None, T).expect("a set at the limit is applied");
    let set_over = path_of_len(&dir, set_path.len() + 1);
    c.create(&set_over, b"small", &CreateOptions::persistent(), T).unwrap();
    w.expect_too_large("set over", c.set(&set_over, &data, None, T));
    let set_beyond = path_of_len(&dir, set_path.len() + SERVER_PACKET_LIMIT - MAX_REQUEST_LEN + 1);
    c.create(&set_beyond, b"small", &CreateOptions::persistent(), T).unwrap();
    w.expect_too_large("set beyond", c.set(&set_beyond, &data, None, T));
    assert_eq!(c.get(&set_beyond, T).unwrap().0, b"small");
    w.assert_never_disconnected();
}

#[test]
fn cas_commits_at_and_over_the_limit() {
    let (w, dir) = Watched::with_dir("size-cas");
    let c = &w.client;
    let data = vec![1u8; MAX_DATA_LEN];

    // A versioned set.
    let set_path = path_of_len(&dir, MAX_REQUEST_LEN - set_len(0, MAX_DATA_LEN));
    let set_over = path_of_len(&dir, set_path.len() + 1);
    for p in [&set_path, &set_over] {
        c.create(p, b"0", &CreateOptions::persistent(), T).unwrap();
    }
    let mut cas = Cas::begin(c, &set_path, CasOptions::default(), T).unwrap();
    cas.commit(&data, T).expect("a CAS set at the limit is applied");
    let mut cas = Cas::begin(c, &set_over, CasOptions::default(), T).unwrap();
    w.expect_too_large("cas set over", cas.commit(&data, T));
    assert!(!cas.is_unknown(), "refused before sending: nothing to resolve");

    // A create (the node was absent at the read).
    let create_options = CasOptions { create_with: Some(b"0".to_vec()), ..CasOptions::default() };
    let create_path = path_of_len(&dir, MAX_REQUEST_LEN - create_len(0, MAX_DATA_LEN));
    let mut cas = Cas::begin(c, &create_path, create_options.clone(), T).unwrap();
    cas.commit(&data, T).expect("a CAS create at the limit is applied");
    let create_over = path_of_len(&dir, create_path.len() + 1);
    let mut cas = Cas::begin(c, &create_over, create_options, T).unwrap();
    w.expect_too_large("cas create over", cas.commit(&data, T));
    assert!(c.exists(&create_over, T).unwrap().is_none());
    w.assert_never_disconnected();
}

#[test]
fn guarded_writes_at_and_over_the_limit() {
    let (w, dir) = Watched::with_dir("size-lock");
    let c = &w.client;
    let lock = Lock::new(c, &dir[1..], LockOptions::default()).unwrap();
    lock.acquire(T).unwrap();
    let lock_path = lock.path().len();
    let data = vec![2u8; MAX_DATA_LEN];
    let path_len = MAX_REQUEST_LEN - guarded_set_len(lock_path, 0, MAX_DATA_LEN);
    let at_limit = path_of_len(&dir, path_len);
    let over = path_of_len(&dir, path_len + 1);
    for p in [&at_limit, &over] {
        c.create(p, b"0", &CreateOptions::persistent(), T).unwrap();
    }
    lock.guarded_set(&at_limit, &data, None, T).expect("a guarded set at the limit is applied");
    assert_eq!(c.get(&at_limit, T).unwrap().0.len(), MAX_DATA_LEN);
    w.expect_too_large("guarded set over", lock.guarded_set(&over, &data, None, T));
    assert_eq!(c.get(&over, T).unwrap().0, b"0");
    assert!(lock.is_locked(), "a refused write leaves the lock held");
    lock.release(T).unwrap();
    w.assert_never_disconnected();
}

#[test]
fn import_at_and_over_the_limit_writes_nothing_when_over() {
    let w = Watched::connect();
    let c = &w.client;
    let import = |root: &str, name_len: usize| {
        let doc = format!(r#"{{"{}": {{"__text__": "{}"}}}}"#, "n".repeat(name_len), "x".repeat(MAX_DATA_LEN));
        let doc = Document::parse(&doc, &Users::new()).unwrap();
        hierarchy::import(c, root, &doc, &ImportOptions::default(), T, None)
    };
    // The child's create, with the ACL it inherits (the root's parent's:
    // world:anyone:cdrwa), exactly at the limit.
    let root = unique_path("size-import");
    let name_len = MAX_REQUEST_LEN - create_len(root.len() + 1, MAX_DATA_LEN);
    let stats = import(&root, name_len).expect("an import at the limit is applied");
    assert_eq!((stats.created, stats.unknown), (2, 0));

    let root = unique_path("size-import");
    let err = import(&root, name_len + 1).expect_err("over");
    assert_eq!(err.error.code(), Code::DataTooLarge, "{err}");
    assert_eq!(err.stats.created + err.stats.existed + err.stats.unknown, 0);
    assert!(c.exists(&root, T).unwrap().is_none(), "checked before the first write");
    w.assert_never_disconnected();
}

#[test]
fn delete_and_set_acl_at_and_over_the_limit() {
    let (w, dir) = Watched::with_dir("size-misc");
    let c = &w.client;
    // A delete is its path and a version: at the limit it reaches the
    // server (no such node), over it is refused before sending.
    let path_len = MAX_REQUEST_LEN - (HEADER + 4 + 4);
    let err = c.delete(&path_of_len(&dir, path_len), None, T).unwrap_err();
    assert_eq!(err.code(), Code::NoNode, "{err}");
    w.expect_too_large("delete over", c.delete(&path_of_len(&dir, path_len + 1), None, T));

    // A set_acl with one digest entry whose id fills the request.
    let fixed = HEADER + (4 + dir.len()) + (4 + (4 + (4 + "digest".len()) + 4)) + 4;
    let acl = |id_len: usize| vec![Acl::new(PERM_ALL, "digest", format!("u:{}", "x".repeat(id_len - 2)))];
    c.set_acl(&dir, &acl(MAX_REQUEST_LEN - fixed), None, T).expect("a set_acl at the limit is applied");
    w.expect_too_large("set_acl over", c.set_acl(&dir, &acl(MAX_REQUEST_LEN - fixed + 1), None, T));
    w.assert_never_disconnected();
}

unsafe extern "C" fn count_change(user_data: *mut c_void, _old: zku_state, _new: zku_state) {
    // SAFETY: the counter registered below, alive until the client is freed.
    unsafe { &*(user_data as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn credentials_at_and_over_the_limit() {
    let client = CClient::connect(&shared_server().connect_string(), 10_000);
    let changes = Box::new(AtomicUsize::new(0));
    let counter = &*changes as *const AtomicUsize as *mut c_void;
    // SAFETY: live client; the counter outlives the client (dropped after).
    ok(
        "callback",
        call(|e| unsafe { zku_client_set_state_callback(client.ptr(), Some(count_change), counter, None, e) }),
    );
    let scheme = cs("digest");
    let add_auth = |credential: &[u8]| {
        // SAFETY: live client, valid scheme and credential.
        call(|e| unsafe {
            zku_client_add_auth(client.ptr(), scheme.as_ptr(), credential.as_ptr(), credential.len(), 20_000, None, e)
        })
    };
    // header, auth type, scheme, credential.
    let fixed = HEADER + 4 + (4 + "digest".len()) + 4;
    let over = [b"u:".as_slice(), &vec![b'p'; MAX_REQUEST_LEN - fixed - 1]].concat();
    expect("add_auth over", add_auth(&over), ZKU_ETOOLARGE, &MAX_REQUEST_LEN.to_string());
    let beyond = vec![b'p'; 2 * 1024 * 1024];
    expect("add_auth 2 MiB", add_auth(&beyond), ZKU_ETOOLARGE, "limit");
    // The same limit for a configuration's credentials.
    let mut config = std::ptr::null_mut();
    let password = cs(&"p".repeat(MAX_REQUEST_LEN));
    // SAFETY: valid out-parameter and strings; the config is freed once.
    unsafe {
        ok("config_new", call(|e| zku_config_new(&mut config, e)));
        let set = call(|e| zku_config_set_auth(config, scheme.as_ptr(), c"u".as_ptr(), password.as_ptr(), e));
        expect("config_set_auth over", set, ZKU_ETOOLARGE, "limit");
        zku_config_free(config);
    }
    let at_limit = &over[..over.len() - 1];
    ok("add_auth at the limit", add_auth(at_limit));
    // SAFETY: live client.
    assert_eq!(unsafe { zku_client_state(client.ptr()) }, zkutil::ffi::client::ZKU_STATE_CONNECTED);
    assert_eq!(changes.load(Ordering::SeqCst), 0, "never disconnected");
    drop(client);
    drop(changes);
}

#[test]
fn lock_node_over_the_limit_is_refused_before_anything_is_sent() {
    // The lock node's data is {"id": identifier, "val": val}: a huge
    // identifier or value would make the create or set too large.
    let (w, dir) = Watched::with_dir("size-lock");
    let config = Config { lock_dir: Some(format!("{dir}/")), ..w.client.config().clone() };
    let client = Client::connect(config).unwrap();
    let id = "i".repeat(SERVER_PACKET_LIMIT);
    let lock = Lock::new(&client, "big", LockOptions { identifier: Some(id), ..LockOptions::default() }).unwrap();
    w.expect_too_large("acquire with a huge identifier", lock.acquire(T));
    w.expect_too_large("try_acquire with a huge identifier", lock.try_acquire(T));
    assert!(client.exists(lock.path(), T).unwrap().is_none(), "no node created");

    let lock = Lock::new(&client, "small", LockOptions::default()).unwrap();
    lock.acquire(T).unwrap();
    let val = format!("\"{}\"", "v".repeat(SERVER_PACKET_LIMIT));
    w.expect_too_large("set_val with a huge value", lock.set_val(&val, None, T));
    assert_eq!(lock.state(), zkutil::LockState::Held);
    assert_eq!(client.state(), SessionState::Connected);
    lock.release(T).unwrap();
    w.assert_never_disconnected();
}

/// Reads count the chroot the session prepends on the wire: a path that
/// fits without it but not with it is refused before anything is sent
/// (before the fix the server dropped the connection).
#[test]
fn reads_under_a_chroot_count_the_chroot() {
    let chroot = format!("/{}", "c".repeat(199));
    let config = Config {
        hosts: Some(format!("{}{chroot}", shared_server().connect_string())),
        session_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    };
    let client = Client::connect(config).expect("connect");
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = changes.clone();
    client.set_state_callback(Some(Box::new(move |old, new| log.lock().unwrap().push((old, new))))).unwrap();
    let session_id = client.session_id();

    // Fits a read without the chroot, over the server's own limit with it.
    let path = path_of_len("/d", MAX_PATH_LEN - 100);
    assert!(chroot.len() + path.len() + 13 > SERVER_PACKET_LIMIT);
    let too_large = |what: &str, err: zkutil::Error| {
        assert_eq!(err.code(), Code::DataTooLarge, "{what}: {err}");
        assert!(err.message().contains("chroot of 200 bytes"), "{what}: {err}");
    };
    too_large("get", client.get(&path, T).unwrap_err());
    too_large("exists", client.exists(&path, T).unwrap_err());
    too_large("children", client.children(&path, T).unwrap_err());
    too_large("get_next", zkutil::wait::get_next(&client, &path, -1, true, T).unwrap_err());
    too_large("wait_absent", zkutil::wait::wait_absent(&client, &path, T).unwrap_err());
    too_large("cas", Cas::begin(&client, &path, CasOptions::default(), T).map(|_| ()).unwrap_err());
    too_large("reader", zkutil::reader::Reader::new(&client, &path, None, T).map(|_| ()).unwrap_err());
    let sent = client.stats().requests_sent;

    // The same path on a session without a chroot is an ordinary read.
    let plain = Watched::connect();
    assert_eq!(plain.client.get(&path, T).unwrap_err().code(), Code::NoNode);
    plain.assert_never_disconnected();

    // Nothing was sent: the connection never dropped.
    client.exists("/", T).expect("still usable");
    assert_eq!(client.stats().requests_sent, sent + 1);
    assert_eq!(client.session_id(), session_id);
    assert_eq!(*changes.lock().unwrap(), vec![], "no state change");
}
