//! The C-ABI fuzzer: random arguments to every exported `zku_*` function.
//!
//! `tests/abi_fuzz/gen.py` reads include/zkutil.h and writes one fuzz
//! function per exported function (generated here at test time, so a
//! function added to the header is covered without a step to forget; a
//! parameter it has no value classes for fails the generation). The C
//! harness (`tests/abi_fuzz/harness.c`) is built with `cc` against the
//! cdylib and run in batches of functions, one child process each, one
//! batch at a time against a server of its own. A batch fails the test when
//! it crashes, aborts, outlives its time limit, or when the server's zxid
//! moved across a call that was rejected for its arguments, or when a call
//! with an argument invalid for every function (a NULL handle, invalid
//! UTF-8, an impossible length, unknown flag bits, a timeout below -1 but a
//! lock's default -2) was
//! not rejected; the failure names the function and the arguments of the
//! call.
//!
//! `ZKU_ABI_FUZZ_SEED` (default 1) and `ZKU_ABI_FUZZ_CALLS` (calls per
//! function, default 100) vary the run; the seed is printed for a replay.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::zk::ZkServer;

/// Functions per child process.
const BATCH: usize = 8;
/// How long a batch may run before it counts as hung.
const BATCH_LIMIT: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// target/debug/deps: the libzkutil.so built with this test (cargo copies
/// it up to target/debug only on `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(dir.join("libzkutil.so").exists(), "no libzkutil.so in {}", dir.display());
    dir
}

/// Generates the calls from the header and builds the harness in `dir`.
fn build_harness(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let calls = dir.join("calls.c");
    let out = Command::new("python3")
        .arg(root.join("tests/abi_fuzz/gen.py"))
        .arg(root.join("include/zkutil.h"))
        .output()
        .expect("python3 not found");
    assert!(out.status.success(), "gen.py failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&calls, out.stdout).unwrap();

    // The library's SONAME (build.rs): libzkutil.so.0.MINOR while the major is 0.
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let soname = match major {
        "0" => format!("libzkutil.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        _ => format!("libzkutil.so.{major}"),
    };
    let lib = lib_dir();
    let _ = std::fs::remove_file(dir.join(&soname));
    std::os::unix::fs::symlink(lib.join("libzkutil.so"), dir.join(&soname)).unwrap();
    let harness = dir.join("harness");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/abi_fuzz"))
        .arg(root.join("tests/abi_fuzz/harness.c"))
        .arg(&calls)
        .arg("-L")
        .arg(&lib)
        .arg("-lzkutil")
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .arg("-o")
        .arg(&harness)
        .status()
        .expect("cc not found");
    assert!(status.success(), "building the harness failed");
    harness
}

/// The names of the `extern "C" fn zku_*` in src/ffi: what the fuzzer must
/// cover, whatever the header parser finds.
fn exported_functions(dir: &Path, names: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            exported_functions(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for rest in text.split("extern \"C\" fn ").skip(1) {
                let name = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap();
                names.push(name.to_string());
            }
        }
    }
}

#[derive(Default)]
struct Totals {
    functions: usize,
    calls: u64,
    rejected: u64,
    repeated: u64,
    unrejected: Vec<String>,
    failures: Vec<String>,
}

/// Runs one batch in a child process and adds what it printed to `totals`.
fn run_batch(harness: &Path, port: u16, seed: u64, calls: u64, batch: &[String], log: &Path, totals: &mut Totals) {
    let mut child = Command::new(harness)
        .arg(port.to_string())
        .arg(seed.to_string())
        .arg(calls.to_string())
        .args(batch)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > BATCH_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(log.with_extension("stderr")).unwrap_or_default();
    let output = std::fs::read_to_string(log).unwrap();
    let reported = totals.failures.len();
    let mut last_call = "(none)";
    let mut done = 0;
    for line in output.lines() {
        let mut words = line.split(' ');
        match words.next() {
            Some("CALL") => last_call = &line[5..],
            Some("DONE") => {
                let n: Vec<u64> = words.skip(1).map(|w| w.parse().unwrap()).collect();
                totals.calls += n[0];
                totals.rejected += n[1];
                done += 1;
            }
            Some("UNREJECTED") => totals.unrejected.push(line[11..].to_string()),
            Some("REPEAT") => totals.repeated += 1,
            Some("WRITE" | "SLOW" | "SETUP") => totals.failures.push(line.to_string()),
            _ => {}
        }
    }
    totals.functions += done;
    match status {
        None => totals.failures.push(format!("HANG (over {BATCH_LIMIT:?}) in {last_call}")),
        // A failure the harness reported itself, else a crash or an abort.
        Some(s) if !s.success() && totals.failures.len() == reported => {
            let tail: Vec<&str> = stderr.lines().take(3).collect();
            totals.failures.push(format!("CRASH ({s}) in {last_call}: {}", tail.join(" | ")));
        }
        _ => {}
    }
}

#[test]
fn every_exported_function_survives_random_arguments() {
    let seed = env_or("ZKU_ABI_FUZZ_SEED", 1);
    let calls = env_or("ZKU_ABI_FUZZ_CALLS", 100);
    eprintln!(
        "abi fuzz: seed {seed} (replay: ZKU_ABI_FUZZ_SEED={seed} cargo test --test abi_fuzz), {calls} calls per function"
    );
    let dir = std::env::temp_dir().join(format!("zkutil-abifuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let harness = build_harness(&dir);
    let listed = Command::new(&harness).arg("--list").output().unwrap();
    let functions: Vec<String> = String::from_utf8(listed.stdout).unwrap().lines().map(String::from).collect();
    let mut exported = Vec::new();
    exported_functions(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi"), &mut exported);
    let mut covered = functions.clone();
    covered.sort();
    exported.sort();
    assert_eq!(covered, exported, "the generated calls cover exactly the exported functions");

    // A server of its own: the zxid checks count every write it sees.
    let server = ZkServer::start();
    let started = Instant::now();
    let mut totals = Totals::default();
    for (i, batch) in functions.chunks(BATCH).enumerate() {
        run_batch(&harness, server.port(), seed, calls, batch, &dir.join(format!("batch-{i}.log")), &mut totals);
    }
    eprintln!(
        "abi fuzz: {} of {} functions covered, {} calls, {} rejected, {} not rejected with an invalid argument, \
         {} repeated (zxid moved by a background close), {} crashes/hangs/writes, {:.1} s",
        totals.functions,
        functions.len(),
        totals.calls,
        totals.rejected,
        totals.unrejected.len(),
        totals.repeated,
        totals.failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(totals.failures.is_empty(), "seed {seed}:\n{}", totals.failures.join("\n"));
    // An argument invalid for every function gets its error code.
    assert!(
        totals.unrejected.is_empty(),
        "seed {seed}: not rejected although an argument is invalid:\n{}",
        totals.unrejected.join("\n")
    );
    assert_eq!(totals.functions, functions.len(), "every exported function ran its calls");
    let _ = std::fs::remove_dir_all(&dir);
}
