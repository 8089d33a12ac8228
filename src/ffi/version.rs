//! Library version, as macros and at run time.

use std::ffi::c_char;

/// Major version (matches Cargo.toml; checked by a test).
pub const ZKU_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const ZKU_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const ZKU_VERSION_PATCH: u32 = 0;

/// The version of the library actually linked, e.g. "0.1.0" (static).
/// Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn zku_version() -> *const c_char {
    static VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_cargo_toml() {
        // ZKU_VERSION (text) is written by cbindgen.toml's after_includes.
        let config = include_str!("../../cbindgen.toml");
        assert!(config.contains(&format!("#define ZKU_VERSION \"{}\"", env!("CARGO_PKG_VERSION"))));
        assert_eq!(ZKU_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(ZKU_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(ZKU_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
        // SAFETY: zku_version returns a static NUL-terminated string.
        let linked = unsafe { std::ffi::CStr::from_ptr(zku_version()) };
        assert_eq!(linked.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
