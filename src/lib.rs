//! zkutil: ZooKeeper recipes (distributed lock, FIFO mutex, compare-and-swap, cached
//! reader, waits, digest-ACL helpers, tree import/export) for C, C++, Go and
//! Ruby through a C ABI, ported from the Python package k3zkutil.
//!
//! The modules at the top are a safe, blocking Rust core; `ffi` is the only
//! place with `unsafe` and C types.

pub mod acl;
pub mod cancel;
pub mod cas;
pub mod client;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod fifo;
pub mod hierarchy;
pub mod json;
pub mod lock;
pub mod lockid;
pub mod log;
pub mod node;
pub(crate) mod notify;
pub mod op;
pub mod packet;
pub mod path;
pub mod reader;
pub mod registration;
pub mod runtime;
pub mod sequential;
pub mod stats;
pub mod wait;

pub mod ffi;

pub use cancel::Cancel;
pub use client::Client;
pub use config::Config;
pub use error::{Code, Error, Result};
pub use fifo::{FifoLock, FifoOptions};
pub use lock::{Holder, Lock, LockOptions, LockState, TryAcquire, TryRelease};
pub use node::{CreateOptions, NodeKind, SessionState, Stat};
pub use registration::{Registration, RegistrationOptions, RegistrationState};
pub use runtime::Timeout;
