//! The ensemble, the proxies in front of it and the client processes a
//! workload runs.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::zk::ZkCluster;
use crate::history::Rng;
use crate::proxy::{Link, Proxy};

/// Set in a client process: which workload's client body to run.
pub const ROLE_ENV: &str = "ZKU_FAULT_ROLE";

/// Client processes learn their parameters from these.
pub const HOSTS_ENV: &str = "ZKU_FAULT_HOSTS";
pub const DIR_ENV: &str = "ZKU_FAULT_DIR";
pub const SECONDS_ENV: &str = "ZKU_FAULT_SECONDS";

pub fn run_child(role: &str) {
    match role {
        "lock" => crate::lock_fencing::child(),
        "cas" => crate::cas_counter::child(),
        other => panic!("unknown fault role {other}"),
    }
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// A client's way to the ensemble: one proxy per member, so the client can
/// be partitioned from all of them at once.
pub struct Route {
    proxies: Vec<Proxy>,
}

impl Route {
    pub fn hosts(&self) -> String {
        self.proxies.iter().map(Proxy::connect_string).collect::<Vec<_>>().join(",")
    }

    pub fn set(&self, link: Link) {
        for proxy in &self.proxies {
            proxy.set_link(link);
        }
    }
}

pub struct World {
    pub cluster: ZkCluster,
    pub rng: Rng,
    routes: Vec<Route>,
}

impl World {
    pub fn start(seed: u64) -> World {
        World { cluster: ZkCluster::start(3), rng: Rng::new(seed), routes: Vec::new() }
    }

    /// Every member directly.
    pub fn hosts(&self) -> String {
        self.cluster.connect_string()
    }

    /// A new route through proxies; its index for `route`.
    pub fn new_route(&mut self) -> usize {
        let proxies = (0..self.cluster.size()).map(|i| Proxy::start(&self.cluster.member_connect_string(i))).collect();
        self.routes.push(Route { proxies });
        self.routes.len() - 1
    }

    pub fn route(&self, i: usize) -> &Route {
        &self.routes[i]
    }

    /// Kills (SIGKILL) the current leader; returns its index.
    pub fn kill_leader(&mut self) -> usize {
        let leader = self.cluster.leader().expect("a leader");
        self.cluster.stop_member(leader);
        leader
    }

    pub fn restart(&mut self, member: usize) {
        self.cluster.start_member(member);
    }

    /// Every link forwards, every member runs, a quorum serves.
    pub fn heal_all(&mut self) {
        for route in &self.routes {
            route.set(Link::Forward);
        }
        for i in 0..self.cluster.size() {
            if !self.cluster.is_member_running(i) {
                self.cluster.start_member(i);
            }
        }
        assert!(self.cluster.wait_for_quorum(Duration::from_secs(60)), "no quorum after healing");
    }

    /// Runs this binary as a client process of `role` with its output
    /// piped; `env` adds parameters.
    pub fn spawn(&self, role: &str, env: &[(&str, String)]) -> Child {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env(ROLE_ENV, role).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        command.spawn().expect("spawn a client process")
    }
}

/// Sends a signal (STOP, CONT, KILL) to a process.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// The lines of a finished client process's output, and whether it
/// exited cleanly.
pub fn collect(child: Child) -> (bool, Vec<String>) {
    let out = child.wait_with_output().expect("wait for a client process");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}
