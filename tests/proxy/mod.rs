//! A loopback TCP proxy in front of a ZooKeeper server that can cut a
//! connection at a precise point of the protocol, to provoke writes whose
//! outcome the client cannot know:
//!
//! * [`Fault::DropRequest`]: the next request with one of the given opcodes
//!   is swallowed (never reaches the server), then the connection is cut.
//! * [`Fault::DropReply`]: the next such request is forwarded, its reply is
//!   swallowed (the server applied it), then the connection is cut.
//!
//! Faults are one-shot; the client's reconnection goes through normally.
//!
//! The link itself can also be degraded ([`Link`]): every frame delayed, or
//! a blackhole that holds all traffic with the sockets kept open (a
//! partition: the peers see silence, not a reset) until it is healed.
//! ZooKeeper frames are a 4-byte big-endian length and a body; after the
//! connect handshake a request body starts with xid (i32) and opcode (i32),
//! a reply body with xid (i32), zxid (i64) and error (i32).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// ZooKeeper opcodes of the writes a CAS sends.
pub const OP_CREATE: i32 = 1;
pub const OP_SET_DATA: i32 = 5;
pub const OP_CREATE2: i32 = 15;
pub const OPS_CREATE: &[i32] = &[OP_CREATE, OP_CREATE2, 19, 21];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    None,
    DropRequest(Vec<i32>),
    DropReply(Vec<i32>),
}

/// How frames cross the proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Link {
    #[default]
    Forward,
    /// Each frame waits this long first.
    Delay(std::time::Duration),
    /// Nothing crosses (new connections are accepted but hold too).
    Blackhole,
}

#[derive(Default)]
struct State {
    link: Link,
    fault: Option<Fault>,
    /// xid whose reply must be dropped (DropReply armed by a request).
    drop_xid: Option<(u64, i32)>,
    /// Faults that fired so far.
    fired: usize,
    next_conn: u64,
    /// While set, new connections are closed at once.
    refusing: bool,
    /// Start refusing when the armed fault fires.
    refuse_after_fault: bool,
    /// Cuts every live connection.
    cuts: Vec<Arc<dyn Fn() + Send + Sync>>,
}

pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`
    /// ("127.0.0.1:PORT").
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.to_string();
        let shared = state.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if shared.lock().unwrap().refusing {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let conn = {
                    let mut s = shared.lock().unwrap();
                    s.next_conn += 1;
                    s.next_conn
                };
                let pair = Pair { client, server, conn, state: shared.clone() };
                pair.run();
            }
        });
        Proxy { addr, state }
    }

    /// "127.0.0.1:PORT" of the proxy.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Arms a one-shot fault.
    pub fn arm(&self, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        s.fault = if fault == Fault::None { None } else { Some(fault) };
        s.drop_xid = None;
        s.refuse_after_fault = false;
    }

    /// Arms a one-shot fault after which new connections are refused (as
    /// with `set_refusing(true)`) until `set_refusing(false)`: the client
    /// cannot learn the outcome until then.
    pub fn arm_then_refuse(&self, fault: Fault) {
        self.arm(fault);
        self.state.lock().unwrap().refuse_after_fault = true;
    }

    /// Cuts every connection and refuses new ones (`true`), as if the
    /// server were unreachable, or accepts them again (`false`).
    pub fn set_refusing(&self, refusing: bool) {
        let cuts = {
            let mut s = self.state.lock().unwrap();
            s.refusing = refusing;
            if refusing { std::mem::take(&mut s.cuts) } else { Vec::new() }
        };
        for cut in cuts {
            cut();
        }
    }

    /// Degrades (or heals, with `Link::Forward`) every connection.
    pub fn set_link(&self, link: Link) {
        self.state.lock().unwrap().link = link;
    }

    /// Number of faults that fired.
    pub fn fired(&self) -> usize {
        self.state.lock().unwrap().fired
    }
}

struct Pair {
    client: TcpStream,
    server: TcpStream,
    conn: u64,
    state: Arc<Mutex<State>>,
}

impl Pair {
    fn run(self) {
        let cut: Arc<dyn Fn() + Send + Sync> = {
            let (a, b) = (self.client.try_clone().unwrap(), self.server.try_clone().unwrap());
            Arc::new(move || {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            })
        };
        self.state.lock().unwrap().cuts.push(cut.clone());
        let (mut c_in, mut s_out) = (self.client.try_clone().unwrap(), self.server.try_clone().unwrap());
        let (state, conn, cut1) = (self.state.clone(), self.conn, cut.clone());
        thread::spawn(move || {
            let mut first = true;
            while let Some(frame) = read_frame(&mut c_in) {
                if !first && frame.len() >= 8 {
                    let xid = i32::from_be_bytes(frame[0..4].try_into().unwrap());
                    let op = i32::from_be_bytes(frame[4..8].try_into().unwrap());
                    let mut s = state.lock().unwrap();
                    match s.fault.clone() {
                        Some(Fault::DropRequest(ops)) if ops.contains(&op) => {
                            s.fault = None;
                            s.fired += 1;
                            s.refusing |= s.refuse_after_fault;
                            drop(s);
                            cut1();
                            return;
                        }
                        Some(Fault::DropReply(ops)) if ops.contains(&op) => {
                            s.fault = None;
                            s.drop_xid = Some((conn, xid));
                        }
                        _ => {}
                    }
                }
                first = false;
                pass(&state);
                if write_frame(&mut s_out, &frame).is_err() {
                    break;
                }
            }
            cut1();
        });
        let (mut s_in, mut c_out, state, conn) = (self.server, self.client, self.state, self.conn);
        thread::spawn(move || {
            let mut first = true;
            while let Some(frame) = read_frame(&mut s_in) {
                if !first && frame.len() >= 4 {
                    let xid = i32::from_be_bytes(frame[0..4].try_into().unwrap());
                    let mut s = state.lock().unwrap();
                    if s.drop_xid == Some((conn, xid)) {
                        s.drop_xid = None;
                        s.fired += 1;
                        s.refusing |= s.refuse_after_fault;
                        drop(s);
                        cut();
                        return;
                    }
                }
                first = false;
                pass(&state);
                if write_frame(&mut c_out, &frame).is_err() {
                    break;
                }
            }
            cut();
        });
    }
}

/// Waits until the link lets a frame through.
fn pass(state: &Mutex<State>) {
    loop {
        let link = state.lock().unwrap().link;
        match link {
            Link::Forward => return,
            Link::Delay(d) => return thread::sleep(d),
            Link::Blackhole => thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
}

fn read_frame(r: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).ok()?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 64 << 20 {
        return None;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

fn write_frame(w: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
    w.write_all(&buf)
}
