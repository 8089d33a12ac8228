//! Small helpers for tests that go through the C ABI: C strings, a client
//! made with zku_config/zku_client, and a call wrapper that checks the
//! error out-parameter contract and returns (rc, message).

#![allow(dead_code)]

use std::ffi::{CStr, CString, c_char};
use std::ptr::null_mut;
use std::time::Duration;

use zkutil::ffi::buf::*;
use zkutil::ffi::client::*;
use zkutil::ffi::config::*;
use zkutil::ffi::error::*;
use zkutil::ffi::zku_rc;

pub fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Invalid UTF-8, NUL-terminated.
pub const BAD_UTF8: &[u8] = b"/bad\xff\xfe\0";

pub fn bad_utf8() -> *const c_char {
    BAD_UTF8.as_ptr().cast()
}

/// Runs one call with an error out-parameter and returns (rc, message),
/// checking that an error object comes exactly with a failure and carries
/// the returned code.
pub fn call(f: impl FnOnce(*mut *mut zku_error) -> zku_rc) -> (zku_rc, String) {
    let mut err: *mut zku_error = null_mut();
    let rc = f(&mut err);
    if rc == ZKU_OK {
        assert!(err.is_null(), "no error object on success");
        return (rc, String::new());
    }
    assert!(!err.is_null(), "an error object on failure (rc {rc})");
    // SAFETY: err is a live error object from the library, freed once.
    let (code, message) = unsafe {
        let code = zku_error_code(err);
        let message = CStr::from_ptr(zku_error_message(err)).to_str().unwrap().to_string();
        zku_error_free(err);
        (code, message)
    };
    assert_eq!(code, rc, "the error object carries the returned code");
    assert!(!message.is_empty());
    (rc, message)
}

/// Asserts a call failed with `want` and that its message mentions `mentions`.
pub fn expect(what: &str, got: (zku_rc, String), want: zku_rc, mentions: &str) {
    assert_eq!(got.0, want, "{what}: got {} ({})", got.0, got.1);
    assert!(got.1.contains(mentions), "{what}: message {:?} should mention {mentions:?}", got.1);
}

/// Asserts a call succeeded.
pub fn ok(what: &str, got: (zku_rc, String)) {
    assert_eq!(got.0, ZKU_OK, "{what}: {}", got.1);
}

/// A C client connected to `hosts` with the given session timeout.
pub struct CClient(pub *mut zku_client);

// SAFETY: zku_client is documented thread-safe.
unsafe impl Send for CClient {}
// SAFETY: as above.
unsafe impl Sync for CClient {}

impl CClient {
    pub fn connect(hosts: &str, session_timeout_ms: i64) -> CClient {
        let hosts = cs(hosts);
        let mut config = null_mut();
        let mut client = null_mut();
        // SAFETY: valid pointers to live locals; the config is freed once.
        unsafe {
            ok("config_new", call(|e| zku_config_new(&mut config, e)));
            ok("set_hosts", call(|e| zku_config_set_hosts(config, hosts.as_ptr(), e)));
            ok("set_session_timeout", call(|e| zku_config_set_session_timeout_ms(config, session_timeout_ms, e)));
            ok("client_new", call(|e| zku_client_new(config, None, &mut client, e)));
            zku_config_free(config);
        }
        CClient(client)
    }

    pub fn ptr(&self) -> *const zku_client {
        self.0
    }
}

impl Drop for CClient {
    fn drop(&mut self) {
        // SAFETY: live client, freed once.
        unsafe { zku_client_free(self.0) };
    }
}

/// Takes a library string (freed here).
pub fn take_string(s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: a live library string, freed once.
    unsafe {
        let text = CStr::from_ptr(s).to_str().unwrap().to_string();
        zku_string_free(s);
        text
    }
}

/// Takes a library buffer (freed here).
pub fn take_buf(b: *mut zku_buf) -> Vec<u8> {
    assert!(!b.is_null());
    // SAFETY: a live library buffer, freed once.
    unsafe {
        let data = std::slice::from_raw_parts(zku_buf_data(b), zku_buf_len(b)).to_vec();
        zku_buf_free(b);
        data
    }
}

/// A core (Rust API) client, for setting up and checking from the side.
pub fn core_client(hosts: &str, session_ms: u64) -> zkutil::Client {
    let config = zkutil::Config {
        hosts: Some(hosts.to_string()),
        session_timeout: Some(Duration::from_millis(session_ms)),
        ..zkutil::Config::default()
    };
    zkutil::Client::connect(config).expect("connect")
}

/// Prints latency percentiles (samples in ms); measured, never asserted.
pub fn report_latency(name: &str, samples: &mut [f64]) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "latency {name}: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms over {}",
        at(0.5),
        at(0.9),
        at(1.0),
        samples.len()
    );
}
