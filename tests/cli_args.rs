//! The `zkutil` command's argument parser under random argument vectors:
//! subcommand names, options, values and junk (non-ASCII, non-UTF-8,
//! dashes, embedded `=`), run against no server. Whatever the vector, the
//! command exits with a status of its own: never 101 (a Rust panic), never
//! a signal, never a panic message. A property test rather than a cargo-fuzz
//! target, because the parser lives in the binary: running the binary tests
//! whichever parser it has.
//!
//! Fixed seed, printed; `ZKU_CLI_ARGS_SEED=N` replays another.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Vectors tried per run (about 10 s here: most are usage errors).
const CASES: usize = 1_000;

/// A vector that got past parsing waits for a server that is not there;
/// it is stopped after this long (that is not a failure).
const RUN_LIMIT: Duration = Duration::from_secs(3);

/// Nothing listens on port 1 of the loopback address: no vector can reach
/// a server, so no lock is taken and no command after `--` is run.
const NO_SERVER: &str = "127.0.0.1:1";

const SUBCOMMANDS: &[&str] = &[
    "lock",
    "holder",
    "get",
    "set",
    "cas",
    "next",
    "wait-absent",
    "export",
    "import",
    "digest",
    "acl-entry",
    "completions",
    "help",
    "nosuch",
];

/// Every option of every subcommand (from their --help) and some that are not.
const OPTIONS: &[&str] = &[
    "--hosts",
    "--auth",
    "--acl",
    "--session-timeout",
    "--connect-timeout",
    "--lock-dir",
    "--node-id",
    "--timeout",
    "--timeout-exit",
    "--signal",
    "--kill-after",
    "--lost-exit",
    "--max-attempts",
    "--field",
    "--set",
    "--incr",
    "--add",
    "--update",
    "--create",
    "--json",
    "--stat",
    "--val",
    "--compact",
    "--root",
    "--users",
    "--progress",
    "--no-progress",
    "--omit-inherited-acl",
    "--until-created",
    "--name",
    "--help",
    "--version",
    "-h",
    "-V",
    "-k",
    "-n",
    "-",
    "--",
    "---",
    "--=",
    "-x",
];

const VALUES: &[&str] = &[
    "0",
    "-1",
    "0.5",
    "1e9",
    "nan",
    "-0",
    "99999999999999999999",
    "0.000001",
    "/",
    "/a/b",
    "a",
    "//",
    "/a/",
    "",
    " ",
    "x:y:z",
    "digest:u:p",
    "u:p:cdrwa",
    "u:p:q",
    "TERM",
    "KILL",
    "9",
    "SIGNOPE",
    "bash",
    "zsh",
    "workers",
    "a.b",
    "{\"a\": 1}",
    "[1",
    "é",
    "\u{202e}",
    "\u{1F600}",
    "--hosts=127.0.0.1:1",
    "--timeout=-5",
    "-1.5",
    NO_SERVER,
    "[::1]:1",
    "127.0.0.1:0",
    "bad host",
];

/// xorshift64*: small, seedable, good enough to pick words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len())]
    }
}

fn random_word(rng: &mut Rng) -> OsString {
    match rng.below(10) {
        0..=2 => rng.pick(OPTIONS).into(),
        3..=5 => rng.pick(VALUES).into(),
        6 => rng.pick(SUBCOMMANDS).into(),
        7 => {
            // An option glued to a value, as --opt=value.
            format!("{}={}", rng.pick(OPTIONS), rng.pick(VALUES)).into()
        }
        8 => {
            // Invalid UTF-8 (a lone continuation byte, an overlong form, 0xff).
            let mut bytes = rng.pick(OPTIONS).as_bytes().to_vec();
            bytes.extend_from_slice([&[0x80u8][..], &[0xc0, 0xaf], &[0xff, b'x']][rng.below(3)]);
            OsString::from_vec(bytes)
        }
        _ => {
            // Random bytes, NUL excluded (an argument cannot hold one).
            let len = rng.below(12);
            OsString::from_vec((0..len).map(|_| 1 + rng.below(255) as u8).collect())
        }
    }
}

fn random_vector(rng: &mut Rng) -> Vec<OsString> {
    let mut argv = Vec::new();
    if rng.below(4) != 0 {
        argv.push(rng.pick(SUBCOMMANDS).into());
    }
    for _ in 0..rng.below(7) {
        argv.push(random_word(rng));
    }
    argv
}

/// Runs one vector: its exit status (`None` when it was still running at
/// [`RUN_LIMIT`] and was stopped) and what it printed on stderr.
fn run(argv: &[OsString], dir: &std::path::Path) -> (Option<std::process::ExitStatus>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkutil"))
        .args(argv)
        .current_dir(dir)
        .env("ZKU_HOSTS", NO_SERVER)
        .env("ZKU_CONNECT_TIMEOUT_MS", "200")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zkutil");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > RUN_LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, reader.join().unwrap())
}

#[test]
fn random_argument_vectors_never_panic() {
    let seed = std::env::var("ZKU_CLI_ARGS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x05ee_dc11_u64);
    println!("seed {seed} (ZKU_CLI_ARGS_SEED={seed} replays it)");
    let mut rng = Rng(seed | 1);
    // An empty directory: a vector naming a file finds none, writes land here.
    let dir = std::env::temp_dir().join(format!("zku-cli-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut exits, mut stopped) = (std::collections::BTreeMap::new(), 0);
    let mut failures = Vec::new();
    for _ in 0..CASES {
        let argv = random_vector(&mut rng);
        let (status, stderr) = run(&argv, &dir);
        let Some(status) = status else {
            stopped += 1;
            continue;
        };
        *exits.entry(status.code()).or_insert(0) += 1;
        if status.code() == Some(101) || status.signal().is_some() || stderr.contains("panicked at") {
            failures.push(format!("{argv:?}: {status}\n{stderr}"));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{CASES} vectors: exit statuses {exits:?}, {stopped} stopped after {RUN_LIMIT:?}");
    assert!(failures.is_empty(), "{} vectors crashed zkutil:\n{}", failures.len(), failures.join("\n"));
}
