//! The checked-in include/zkutil.h must be exactly what cbindgen generates
//! from the sources now (regenerate with scripts/gen-header.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn cbindgen() -> PathBuf {
    if let Ok(path) = std::env::var("CBINDGEN") {
        return PathBuf::from(path);
    }
    let in_cargo_home = std::env::var("HOME").map(|h| Path::new(&h).join(".cargo/bin/cbindgen"));
    match in_cargo_home {
        Ok(path) if path.exists() => path,
        _ => PathBuf::from("cbindgen"),
    }
}

#[test]
fn checked_in_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("zkutil-header-{}.h", std::process::id()));
    let status = Command::new(cbindgen())
        .current_dir(root)
        .args(["--quiet", "--config", "cbindgen.toml", "--output"])
        .arg(&out)
        .arg(".")
        .status()
        .expect("cbindgen not found: run scripts/install-deps.sh (or set CBINDGEN)");
    assert!(status.success(), "cbindgen failed");
    let generated = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let checked_in = std::fs::read_to_string(root.join("include/zkutil.h")).unwrap();
    assert!(generated == checked_in, "include/zkutil.h is stale: run scripts/gen-header.sh and commit the result");
}
