//! Writing a validated document: breadth-first, one level's requests in
//! flight together (parents exist before their children are sent).

use std::future::Future;
use std::sync::Arc;

use zookeeper_client as zk;

use super::document::{DEFAULT_VALUE, Document, NodeSpec};
use super::pipeline::{self, Deadlines, Stopped, WINDOW};
use super::{ImportError, ImportOptions, ImportStats, ProgressFn};
use crate::acl::Acl;
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::packet::Write;
use crate::path;
use crate::runtime::{self, Timeout};

/// A node of the level being written, with the ACL it gets.
struct Pending<'d> {
    path: String,
    spec: &'d NodeSpec,
    acl: Arc<Vec<zk::Acl>>,
}

fn to_zk(acl: &[Acl]) -> Arc<Vec<zk::Acl>> {
    Arc::new(acl.iter().map(Acl::to_zk).collect())
}

fn op_error(e: zk::Error, what: &str, path: &str) -> Error {
    Error::from(e).context(format!("{what} {path}"))
}

pub(super) fn import(
    client: &Client,
    root: &str,
    doc: &Document,
    options: &ImportOptions,
    timeout: Timeout,
    mut progress: Option<ProgressFn<'_>>,
) -> Result<ImportStats, ImportError> {
    client.validate_path(root)?;
    if root == "/" && doc.child_names().any(|n| n == "zookeeper") {
        return Err(Error::new(
            Code::InvalidPath,
            "hierarchy at /zookeeper: /zookeeper is ZooKeeper's own subtree and cannot be imported",
        )
        .into());
    }
    let deadlines = Deadlines::new(client, timeout);
    let total = doc.node_count() as u64;
    let mut stats = ImportStats { nodes: total, ..ImportStats::default() };
    let what = format!("import into {root}");
    let check_sizes = |acl: &Arc<Vec<zk::Acl>>| check_sizes(client, root, &doc.root, acl);
    let result = runtime::block_on(async {
        let zk = client.ready(deadlines.connect).await.map_err(|e| e.context(&what))?;
        let root_acl = import_root(&zk, root, &doc.root, options, deadlines, &mut stats, check_sizes).await?;
        let mut done = 1u64;
        if let Some(p) = progress.as_mut() {
            p(done, Some(total));
        }
        let mut level: Vec<Pending> = children_of(root, &doc.root, &root_acl);
        while !level.is_empty() {
            let mut existing = Vec::new();
            pipeline::run(
                client,
                deadlines,
                &what,
                (0..level.len()).collect(),
                WINDOW,
                |i| {
                    let node = &level[i];
                    let data = node.spec.value.as_deref().unwrap_or(DEFAULT_VALUE);
                    let create = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&node.acl));
                    zk.create(&node.path, data, &create)
                },
                |i, reply| {
                    match reply {
                        Ok(_) => {
                            stats.created += 1;
                            done += 1;
                            if let Some(p) = progress.as_mut() {
                                p(done, Some(total));
                            }
                        }
                        Err(zk::Error::NodeExists) => existing.push(i),
                        Err(e) => return Err(op_error(e, "create", &level[i].path)),
                    }
                    Ok(())
                },
            )
            .await?;
            // Existing nodes get their ACL set, as k3zkutil does, and their
            // value when asked to and the document gives one.
            pipeline::run(
                client,
                deadlines,
                &what,
                existing.clone(),
                WINDOW,
                |i| zk.set_acl(&level[i].path, &level[i].acl, None),
                |i, reply| {
                    reply.map_err(|e| op_error(e, "set_acl", &level[i].path))?;
                    stats.existed += 1;
                    done += 1;
                    if let Some(p) = progress.as_mut() {
                        p(done, Some(total));
                    }
                    Ok(())
                },
            )
            .await?;
            if options.update_values {
                let to_set: Vec<usize> = existing.into_iter().filter(|i| level[*i].spec.value.is_some()).collect();
                pipeline::run(
                    client,
                    deadlines,
                    &what,
                    to_set,
                    WINDOW,
                    |i| zk.set_data(&level[i].path, level[i].spec.value.as_deref().unwrap_or_default(), None),
                    |i, reply| {
                        reply.map_err(|e| op_error(e, "set", &level[i].path))?;
                        stats.values_set += 1;
                        Ok(())
                    },
                )
                .await?;
            }
            level = level.iter().flat_map(|node| children_of(&node.path, node.spec, &node.acl)).collect();
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(stats),
        Err(Stopped { error, unsettled }) => {
            stats.unknown += unsettled;
            Err(ImportError { error, stats })
        }
    }
}

/// Refuses the import, before its first write, when a node's requests
/// would be too large for the server. A node's create is the largest
/// request the import sends for it (set_acl and set carry less).
fn check_sizes(client: &Client, path: &str, spec: &NodeSpec, acl: &Arc<Vec<zk::Acl>>) -> Result<()> {
    let data = spec.value.as_deref().unwrap_or(DEFAULT_VALUE);
    client.check_request(&Write::Create { path, data, acl, ttl: false })?;
    children_of(path, spec, acl).iter().try_for_each(|child| check_sizes(client, &child.path, child.spec, &child.acl))
}

fn children_of<'d>(parent: &str, spec: &'d NodeSpec, parent_acl: &Arc<Vec<zk::Acl>>) -> Vec<Pending<'d>> {
    spec.children
        .iter()
        .map(|(name, child)| Pending {
            path: path::join(parent, name),
            spec: child,
            acl: child.acl.as_deref().map_or_else(|| parent_acl.clone(), to_zk),
        })
        .collect()
}

/// The import root: created when missing (with the document's ACL, else
/// its parent's), else given the document's ACL if it has one (kept
/// otherwise). Returns the ACL its children inherit. Single requests: the
/// root is one node. `check_sizes` runs with that ACL before the first
/// write.
async fn import_root(
    zk: &zk::Client,
    root: &str,
    spec: &NodeSpec,
    options: &ImportOptions,
    deadlines: Deadlines,
    stats: &mut ImportStats,
    check_sizes: impl Fn(&Arc<Vec<zk::Acl>>) -> Result<()>,
) -> Result<Arc<Vec<zk::Acl>>> {
    let what = format!("import into {root}");
    let reply = deadlines.reply;
    let mut current_acl = None;
    if root != "/" {
        let acl = match &spec.acl {
            Some(acl) => Some(to_zk(acl)),
            None => match reply.run(&what, zk.get_acl(root)).await? {
                Ok((acl, _)) => {
                    current_acl = Some(Arc::new(acl));
                    None
                }
                Err(zk::Error::NoNode) => {
                    let parent = path::parent(root).unwrap_or("/");
                    let (acl, _) = reply.run(&what, zk.get_acl(parent)).await?.map_err(|e| {
                        op_error(e, "get_acl", parent).context(format!("{what} (the root's parent must exist)"))
                    })?;
                    Some(Arc::new(acl))
                }
                Err(e) => return Err(op_error(e, "get_acl", root)),
            },
        };
        if let Some(acl) = acl {
            check_sizes(&acl)?;
            let data = spec.value.as_deref().unwrap_or(DEFAULT_VALUE);
            let create = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
            match root_write(stats, deadlines, &what, zk.create(root, data, &create)).await? {
                Ok(_) => {
                    stats.created += 1;
                    return Ok(acl);
                }
                Err(zk::Error::NodeExists) => {}
                Err(zk::Error::NoNode) => {
                    return Err(Error::new(Code::NoNode, format!("{what}: the root's parent does not exist")));
                }
                Err(e) => return Err(op_error(e, "create", root)),
            }
        }
    }
    let acl = match (&spec.acl, current_acl) {
        (Some(acl), _) => to_zk(acl),
        (None, Some(acl)) => acl,
        (None, None) => {
            let (acl, _) = reply.run(&what, zk.get_acl(root)).await?.map_err(|e| op_error(e, "get_acl", root))?;
            Arc::new(acl)
        }
    };
    check_sizes(&acl)?;
    if spec.acl.is_some() {
        root_write(stats, deadlines, &what, zk.set_acl(root, &acl, None))
            .await?
            .map_err(|e| op_error(e, "set_acl", root))?;
    }
    stats.existed += 1;
    if let (true, Some(value)) = (options.update_values, &spec.value) {
        root_write(stats, deadlines, &what, zk.set_data(root, value, None))
            .await?
            .map_err(|e| op_error(e, "set", root))?;
        stats.values_set += 1;
    }
    Ok(acl)
}

/// Sends one write of the root and waits for its reply; a write whose
/// reply was cut off counts in `stats.unknown`.
async fn root_write<T>(
    stats: &mut ImportStats,
    deadlines: Deadlines,
    what: &str,
    write: impl Future<Output = std::result::Result<T, zk::Error>>,
) -> Result<std::result::Result<T, zk::Error>> {
    let outcome = deadlines.reply.run(what, write).await;
    let cut_off = match &outcome {
        Ok(Ok(_)) => false,
        Ok(Err(e)) => Error::from(e.clone()).code().leaves_write_unknown(),
        Err(_) => true,
    };
    stats.unknown += u64::from(cut_off);
    outcome
}
