//! The node operations of a [`Client`]: create, get, set, delete, exists,
//! children, ACLs, credentials and their JSON forms, each one request
//! checked against the server's packet limit before it is sent.

use zookeeper_client as zk;

use super::{Client, remaining};
use crate::acl::Acl;
use crate::error::{Code, Error, Result};
use crate::node::{CreateOptions, NodeKind, Stat};
use crate::packet::{self, Write};
use crate::path;
use crate::runtime::Timeout;

impl Client {
    fn acl_or_default(&self, acl: &Option<Vec<Acl>>) -> Result<Vec<zk::Acl>> {
        let acl = match acl {
            Some(acl) => acl.clone(),
            None => self.inner.default_acl.clone(),
        };
        if acl.is_empty() {
            return Err(Error::new(Code::InvalidAcl, "ACL list is empty"));
        }
        acl.iter().map(|a| a.validate().map(|_| a.to_zk())).collect()
    }

    /// The ACL a create sends, once the whole request is known to fit the
    /// server's packet limit.
    fn create_acl(&self, path: &str, data: &[u8], options: &CreateOptions) -> Result<Vec<zk::Acl>> {
        let acl = self.acl_or_default(&options.acl)?;
        self.check_request(&Write::Create { path, data, acl: &acl, ttl: options.ttl.is_some() })?;
        Ok(acl)
    }

    /// [`path::validate`], counting the chroot the session prepends to the
    /// path on the wire: a request over the server's limit would make it
    /// drop the whole connection.
    pub(crate) fn validate_path(&self, path: &str) -> Result<()> {
        path::validate(path)?;
        path::check_len(path, self.inner.chroot_len)
    }

    /// Refuses a write too large for the server (see [`packet`]) before it
    /// is sent: the server would drop the whole connection.
    pub(crate) fn check_request(&self, write: &Write) -> Result<()> {
        packet::check(write, self.inner.chroot_len)
    }

    /// [`Client::check_request`] for writes sent together as one multi.
    pub(crate) fn check_multi(&self, writes: &[Write]) -> Result<()> {
        packet::check_multi(writes, self.inner.chroot_len)
    }

    /// Creates a node and returns its path (with the sequence number for a
    /// sequential node) and stat.
    pub fn create(&self, path: &str, data: &[u8], options: &CreateOptions, timeout: Timeout) -> Result<(String, Stat)> {
        if options.sequential {
            path::validate_sequential_prefix(path)?;
        } else {
            self.validate_path(path)?;
            if path == "/" {
                return Err(Error::new(Code::InvalidPath, "the root node cannot be created"));
            }
        }
        path::check_data_len(data)?;
        if options.ttl.is_some() && options.kind != NodeKind::Persistent {
            return Err(Error::invalid_argument("a TTL is only allowed on persistent nodes"));
        }
        if options.ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_argument("a TTL must be positive"));
        }
        let acl = self.create_acl(path, data, options)?;
        let what = format!("create {path}");
        let deadline = timeout.deadline();
        let attempt = |zk: zk::Client| {
            let acl = acl.clone();
            async move { create_once(&zk, path, data, options, &acl).await }
        };
        match self.call(timeout, &what, false, attempt) {
            Err(e) if e.code() == Code::NoNode && options.make_parents => {
                // A sequential prefix may end with '/': its parent is
                // what comes before.
                let parent = path::parent(path).unwrap_or("/");
                if parent != "/" {
                    let rest = remaining(timeout, deadline, &what)?;
                    self.make_dirs(parent, &acl, rest).map_err(|e| e.context(format!("create parents of {path}")))?;
                }
                self.call(remaining(timeout, deadline, &what)?, &what, false, attempt)
            }
            other => other,
        }
    }

    /// Creates one non-sequential node through [`Client::write_once`], so a
    /// create cut off in flight gives [`Code::OutcomeUnknown`]. Missing
    /// parents are made first when `options.make_parents` says so.
    pub(crate) fn create_write_once(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
        timeout: Timeout,
    ) -> Result<Stat> {
        self.validate_path(path)?;
        if options.sequential || path == "/" {
            return Err(Error::invalid_argument("create_write_once: one named node only"));
        }
        path::check_data_len(data)?;
        let acl = self.create_acl(path, data, options)?;
        let what = format!("create {path}");
        let deadline = timeout.deadline();
        let attempt = |zk: zk::Client| {
            let acl = acl.clone();
            async move { create_once(&zk, path, data, options, &acl).await.map(|(_, stat)| stat) }
        };
        match self.write_once(timeout, &what, attempt) {
            Err(e) if e.code() == Code::NoNode && options.make_parents => {
                let parent = path::parent(path).unwrap_or("/");
                if parent != "/" {
                    self.make_dirs(parent, &acl, remaining(timeout, deadline, &what)?)
                        .map_err(|e| e.context(format!("create parents of {path}")))?;
                }
                self.write_once(remaining(timeout, deadline, &what)?, &what, attempt)
            }
            other => other,
        }
    }

    /// `mkdir -p` of persistent nodes with `acl`.
    fn make_dirs(&self, dir: &str, acl: &[zk::Acl], timeout: Timeout) -> Result<()> {
        let what = format!("create {dir}");
        self.call(timeout, &what, true, |zk| async move {
            let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(acl));
            zk.mkdir(dir, &options).await
        })
    }

    pub fn get(&self, path: &str, timeout: Timeout) -> Result<(Vec<u8>, Stat)> {
        self.validate_path(path)?;
        let (data, stat) =
            self.call(timeout, &format!("get {path}"), true, |zk| async move { zk.get_data(path).await })?;
        Ok((data, Stat::from(&stat)))
    }

    /// Sets data if the node's version is `version` (`None`: any version).
    pub fn set(&self, path: &str, data: &[u8], version: Option<i32>, timeout: Timeout) -> Result<Stat> {
        self.validate_path(path)?;
        path::check_data_len(data)?;
        self.check_request(&Write::SetData { path, data })?;
        let stat = self
            .call(timeout, &format!("set {path}"), false, |zk| async move { zk.set_data(path, data, version).await })?;
        Ok(Stat::from(&stat))
    }

    /// Deletes the node if its version is `version` (`None`: any version).
    pub fn delete(&self, path: &str, version: Option<i32>, timeout: Timeout) -> Result<()> {
        self.validate_path(path)?;
        if path == "/" {
            return Err(Error::new(Code::InvalidPath, "the root node cannot be deleted"));
        }
        self.check_request(&Write::Delete { path })?;
        self.call(timeout, &format!("delete {path}"), false, |zk| async move { zk.delete(path, version).await })
    }

    /// The node's stat, or `None` when it does not exist.
    pub fn exists(&self, path: &str, timeout: Timeout) -> Result<Option<Stat>> {
        self.validate_path(path)?;
        let stat =
            self.call(timeout, &format!("exists {path}"), true, |zk| async move { zk.check_stat(path).await })?;
        Ok(stat.as_ref().map(Stat::from))
    }

    /// The names of the node's children (unsorted, as the server returns
    /// them) and its stat.
    pub fn children(&self, path: &str, timeout: Timeout) -> Result<(Vec<String>, Stat)> {
        self.validate_path(path)?;
        let (names, stat) =
            self.call(timeout, &format!("children {path}"), true, |zk| async move { zk.get_children(path).await })?;
        Ok((names, Stat::from(&stat)))
    }

    pub fn get_acl(&self, path: &str, timeout: Timeout) -> Result<(Vec<Acl>, Stat)> {
        self.validate_path(path)?;
        let (acl, stat) =
            self.call(timeout, &format!("get_acl {path}"), true, |zk| async move { zk.get_acl(path).await })?;
        Ok((acl.iter().map(Acl::from_zk).collect(), Stat::from(&stat)))
    }

    /// Sets the ACL if the node's ACL version is `aversion` (`None`: any).
    pub fn set_acl(&self, path: &str, acl: &[Acl], aversion: Option<i32>, timeout: Timeout) -> Result<Stat> {
        self.validate_path(path)?;
        let acl = self.acl_or_default(&Some(acl.to_vec()))?;
        self.check_request(&Write::SetAcl { path, acl: &acl })?;
        let stat = self.call(timeout, &format!("set_acl {path}"), false, |zk| {
            let acl = acl.clone();
            async move { zk.set_acl(path, &acl, aversion).await }
        })?;
        Ok(Stat::from(&stat))
    }

    /// Adds credentials to the session (kept across reconnects and, with
    /// session renewal, added to each new session before it is reported
    /// connected). A refused credential ends the session with
    /// [`Code::AuthFailed`].
    pub fn add_auth(&self, scheme: &str, credentials: &[u8], timeout: Timeout) -> Result<()> {
        if scheme.is_empty() {
            return Err(Error::invalid_argument("auth scheme is empty"));
        }
        packet::check_auth(scheme, credentials)?;
        self.call(
            timeout,
            &format!("add_auth {scheme}"),
            false,
            |zk| async move { zk.auth(scheme, credentials).await },
        )?;
        // Auth is per session: a renewal adds it to the next session.
        let mut added = self.inner.added_auth.lock().unwrap();
        if !added.iter().any(|(s, c)| s == scheme && c == credentials) {
            added.push((scheme.to_string(), credentials.to_vec()));
        }
        Ok(())
    }

    /// [`Client::get`] for JSON values: fails with [`Code::BadJson`] when the
    /// data is not UTF-8 JSON text.
    pub fn get_json(&self, path: &str, timeout: Timeout) -> Result<(String, Stat)> {
        let (data, stat) = self.get(path, timeout)?;
        let text = crate::json::text_from_bytes(data).map_err(|e| e.context(format!("get_json {path}")))?;
        Ok((text, stat))
    }

    /// [`Client::set`] with the value checked as JSON first.
    pub fn set_json(&self, path: &str, json: &str, version: Option<i32>, timeout: Timeout) -> Result<Stat> {
        crate::json::validate(json)?;
        self.set(path, json.as_bytes(), version, timeout)
    }

    /// [`Client::create`] with the value checked as JSON first.
    pub fn create_json(
        &self,
        path: &str,
        json: &str,
        options: &CreateOptions,
        timeout: Timeout,
    ) -> Result<(String, Stat)> {
        crate::json::validate(json)?;
        self.create(path, json.as_bytes(), options, timeout)
    }
}

pub(crate) async fn create_once(
    zk: &zk::Client,
    path: &str,
    data: &[u8],
    options: &CreateOptions,
    acl: &[zk::Acl],
) -> std::result::Result<(String, Stat), zk::Error> {
    let mode = match (options.kind, options.sequential) {
        (NodeKind::Persistent, false) => zk::CreateMode::Persistent,
        (NodeKind::Persistent, true) => zk::CreateMode::PersistentSequential,
        (NodeKind::Ephemeral, false) => zk::CreateMode::Ephemeral,
        (NodeKind::Ephemeral, true) => zk::CreateMode::EphemeralSequential,
        (NodeKind::Container, _) => zk::CreateMode::Container,
    };
    let mut zk_options = mode.with_acls(zk::Acls::new(acl));
    if let Some(ttl) = options.ttl {
        zk_options = zk_options.with_ttl(ttl);
    }
    let (stat, sequence) = zk.create(path, data, &zk_options).await?;
    let created = if options.sequential { format!("{path}{sequence}") } else { path.to_string() };
    Ok((created, Stat::from(&stat)))
}
