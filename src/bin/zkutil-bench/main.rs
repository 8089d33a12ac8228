//! zkutil-bench: times the library's recipes against the raw ZooKeeper
//! operations they are built from, on one client, in one run, and prints
//! ratios (recipe / raw floor). See README "Benchmark".
//!
//! Usage: zkutil-bench [--hosts H] [-n N] [--only NAME[,NAME...]] [--curator-classpath CP]
//! (`zkutil-bench contend ...` is a contender process the contention
//! benchmarks start: see `contender`).

mod cas;
mod contender;
mod contention;
mod events;
mod fifo;
mod hierarchy;
mod lock;
mod raw;
mod report;
mod rwlock;
mod waits;

use std::time::Duration;

use zkutil::{Client, Config};

/// The contention benchmarks' waiter counts.
pub const WAITERS: [usize; 4] = [1, 4, 16, 64];

/// What every benchmark gets: a connected client, a scratch root and N.
pub struct Ctx {
    pub client: Client,
    pub config: Config,
    pub hosts: String,
    pub root: String,
    pub n: usize,
    /// The JVM class path of `CuratorContenders` and Curator's jars, when
    /// Curator is to be measured (scripts/bench.sh compiles it).
    pub curator_classpath: Option<String>,
}

impl Ctx {
    /// A second client on the same servers, for contention benchmarks.
    pub fn new_client(&self) -> Client {
        Client::connect(self.config.clone()).expect("connect")
    }

    /// A contention run on the lock `name` under the scratch root (see `contention::run`).
    pub fn contend(
        &self,
        program: &contention::Program,
        spread: contention::Spread,
        name: &str,
        rounds: usize,
        roles: &[&str],
    ) -> Vec<events::Event> {
        let lock_dir = format!("{}/contention/", self.root);
        contention::run(program, spread, &self.hosts, &lock_dir, name, rounds, roles)
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("contend") {
        contender::main(&argv[2..]);
        return;
    }
    let mut hosts = std::env::var("ZKU_HOSTS").unwrap_or_else(|_| "127.0.0.1:2181".to_string());
    let mut n = 2000;
    let mut only: Option<Vec<String>> = None;
    let mut curator_classpath = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hosts" => hosts = args.next().expect("--hosts needs a value"),
            "-n" => n = args.next().and_then(|v| v.parse().ok()).expect("-n needs a number"),
            "--curator-classpath" => curator_classpath = Some(args.next().expect("--curator-classpath needs a value")),
            "--only" => only = Some(args.next().expect("--only needs names").split(',').map(str::to_string).collect()),
            "-h" | "--help" => {
                println!(
                    "usage: zkutil-bench [--hosts H] [-n N] [--only raw,hierarchy,lock,fifo,rwlock,cas,wait] [--curator-classpath CP]"
                );
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let config =
        Config { hosts: Some(hosts.clone()), session_timeout: Some(Duration::from_secs(10)), ..Config::default() };
    let client = Client::connect(config.clone()).expect("connect");
    let root = format!("/zkutil-bench-{}", std::process::id());
    let t = zkutil::Timeout::After(Duration::from_secs(10));
    client.create(&root, b"", &zkutil::CreateOptions::persistent(), t).expect("create bench root");
    client.create(&format!("{root}/contention"), b"", &zkutil::CreateOptions::persistent(), t).expect("create");
    let ctx = Ctx { client, config, hosts: hosts.clone(), root, n, curator_classpath };
    println!("zkutil-bench hosts={hosts} n={n}");
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|w| w == name));
    let floors = raw::run(&ctx);
    if wanted("raw") {
        report::floors(&floors);
    }
    if wanted("hierarchy") {
        hierarchy::run(&ctx, &floors);
    }
    if wanted("lock") {
        lock::run(&ctx, &floors);
    }
    if wanted("fifo") {
        fifo::run(&ctx);
    }
    if wanted("rwlock") {
        rwlock::run(&ctx);
    }
    if wanted("cas") {
        cas::run(&ctx, &floors);
    }
    if wanted("wait") {
        waits::run(&ctx);
    }
    cleanup(&ctx);
}

/// Deletes the scratch tree (best effort).
fn cleanup(ctx: &Ctx) {
    let t = zkutil::Timeout::After(Duration::from_secs(10));
    fn delete_tree(c: &Client, path: &str, t: zkutil::Timeout) {
        if let Ok((children, _)) = c.children(path, t) {
            for child in children {
                delete_tree(c, &format!("{path}/{child}"), t);
            }
        }
        let _ = c.delete(path, None, t);
    }
    delete_tree(&ctx.client, &ctx.root, t);
}
