//! Plain types of node operations: the stat, create options, session state.

use std::time::Duration;

use crate::acl::Acl;

/// A znode's metadata, as ZooKeeper's Stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub pzxid: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
}

impl From<&zookeeper_client::Stat> for Stat {
    fn from(s: &zookeeper_client::Stat) -> Stat {
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            pzxid: s.pzxid,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
        }
    }
}

/// The lifetime of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeKind {
    #[default]
    Persistent,
    /// Deleted when the creating session ends.
    Ephemeral,
    /// Deleted by the server once its last child is gone.
    Container,
}

/// How to create a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    pub kind: NodeKind,
    /// Append a 10-digit sequence number to the name.
    pub sequential: bool,
    /// Persistent nodes only: deleted after this long without changes and
    /// without children (needs the server's extended types).
    pub ttl: Option<Duration>,
    /// `None`: the client's configured default ACL.
    pub acl: Option<Vec<Acl>>,
    /// Create missing parents (persistent, same ACL), like `mkdir -p`.
    pub make_parents: bool,
}

impl CreateOptions {
    pub fn persistent() -> CreateOptions {
        CreateOptions::default()
    }

    pub fn ephemeral() -> CreateOptions {
        CreateOptions { kind: NodeKind::Ephemeral, ..CreateOptions::default() }
    }

    pub fn with_parents(mut self) -> CreateOptions {
        self.make_parents = true;
        self
    }

    pub fn with_acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = Some(acl);
        self
    }

    pub fn sequential(mut self) -> CreateOptions {
        self.sequential = true;
        self
    }
}

/// The state of a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Connected to a server that accepts writes.
    Connected,
    /// Connected to a read-only server.
    ConnectedReadOnly,
    /// Connection lost; the session may still be alive on the servers.
    Suspended,
    /// The session expired: ephemeral nodes and watches are gone.
    Expired,
    /// The server refused the credentials.
    AuthFailed,
    /// Closed by this process.
    Closed,
}

impl SessionState {
    pub fn is_connected(self) -> bool {
        matches!(self, SessionState::Connected | SessionState::ConnectedReadOnly)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::Expired | SessionState::AuthFailed | SessionState::Closed)
    }

    pub(crate) fn from_zk(state: zookeeper_client::SessionState) -> SessionState {
        use zookeeper_client::SessionState as Zk;
        match state {
            Zk::SyncConnected => SessionState::Connected,
            Zk::ConnectedReadOnly => SessionState::ConnectedReadOnly,
            Zk::Disconnected => SessionState::Suspended,
            Zk::Expired => SessionState::Expired,
            Zk::AuthFailed => SessionState::AuthFailed,
            Zk::Closed => SessionState::Closed,
        }
    }
}
