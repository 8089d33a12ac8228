//! Scripts, docs, build files and tests name paths relative to the
//! repository (the shared folder is `../shared`), never a folder of the
//! machine they were written on: a clone elsewhere must work the same.

use std::path::{Path, PathBuf};

/// Folders of this kind of machine that must not appear (split so this
/// file does not name them itself).
const MACHINE_FOLDERS: [[&str; 2]; 4] = [["/wo", "rk/"], ["/ro", "ot/"], ["\"/ro", "ot\""], ["/fa", "rm/"]];

/// Build output, dependencies and version control: not the project's text.
const SKIPPED: [&str; 5] = ["target", "build", ".git", ".venv", "Cargo.lock"];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if SKIPPED.contains(&name.as_str()) || name.starts_with("build-") {
            continue;
        }
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_absolute_path_of_this_machine() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    files_under(repo, &mut files);
    let folders: Vec<String> = MACHINE_FOLDERS.iter().map(|parts| parts.concat()).collect();
    let mut found = Vec::new();
    for file in &files {
        // Binary files (none expected) are not read.
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for (n, line) in text.lines().enumerate() {
            if folders.iter().any(|f| line.contains(f.as_str())) {
                found.push(format!("{}:{}: {line}", file.strip_prefix(repo).unwrap().display(), n + 1));
            }
        }
    }
    assert!(files.len() > 50, "walked the repository ({} files)", files.len());
    assert!(found.is_empty(), "machine paths:\n{}", found.join("\n"));
}
