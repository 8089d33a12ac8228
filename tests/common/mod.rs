//! Shared helpers for integration tests. Use with `mod common;`.
//!
//! Nothing in here may depend on the `zkutil` crate: the harness must keep
//! working (and be usable for debugging) while the library changes.

pub mod zk;
