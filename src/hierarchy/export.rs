//! Reading a subtree breadth-first (data, ACL and children of a whole level
//! in flight together) and writing it as a hierarchy document.

use base64::Engine;
use zookeeper_client as zk;

use super::document::{KEY_ACL, KEY_ACLS, KEY_CHILDREN, KEY_DATA, KEY_TEXT, KEY_VAL, Users, is_reserved};
use super::json::{self, Json, MAX_NESTING};
use super::pipeline::{self, Deadlines, WINDOW};
use super::{ExportFormat, ExportOptions, ProgressFn};
use crate::acl::{self, Acl};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::path;
use crate::runtime::{self, Timeout};

/// A node read from the server.
struct Read {
    path: String,
    name: String,
    data: Vec<u8>,
    acl: Vec<Acl>,
    /// Indices into the arena, sorted by name.
    children: Vec<usize>,
    /// False when the node was deleted between its parent's listing and
    /// its own read: it is left out.
    present: bool,
}

impl Read {
    fn new(path: String, name: String) -> Read {
        Read { path, name, data: Vec::new(), acl: Vec::new(), children: Vec::new(), present: false }
    }
}

pub(super) fn export(
    client: &Client,
    at: &str,
    options: &ExportOptions,
    timeout: Timeout,
    mut progress: Option<ProgressFn<'_>>,
) -> Result<String> {
    client.validate_path(at)?;
    let deadlines = Deadlines::new(client, timeout);
    let what = format!("export {at}");
    let arena = runtime::block_on(async {
        let zk = client.ready(deadlines.connect).await.map_err(|e| e.context(&what))?;
        // The size of the subtree, for the progress report only (one cheap
        // request; servers before 3.6 do not have it).
        let total = match progress {
            Some(_) => match deadlines.reply.run(&what, zk.count_descendants_number(at)).await? {
                Ok(n) => Some(n as u64 + 1),
                Err(_) => None,
            },
            None => None,
        };
        let mut arena: Vec<Read> = vec![Read::new(at.to_string(), String::new())];
        let mut level = vec![0usize];
        let mut done = 0u64;
        while !level.is_empty() {
            // Data and ACL of the whole level (two requests a node, sent
            // together), then the children of the nodes that have some
            // (leaves, most of a tree, cost no third request).
            let mut read = Vec::with_capacity(level.len());
            pipeline::run(
                client,
                deadlines,
                &what,
                level.clone(),
                WINDOW,
                |i| {
                    let p = arena[i].path.as_str();
                    let data = zk.get_data(p);
                    let acl = zk.get_acl(p);
                    async move { Ok((data.await?, acl.await?.0)) }
                },
                |i, reply| {
                    match reply {
                        Ok(((data, stat), acl)) => read.push((i, data, acl, stat.num_children > 0)),
                        // Deleted since its parent was listed: left out.
                        Err(zk::Error::NoNode) if i != 0 => {}
                        Err(e) => return Err(Error::from(e).context(format!("export {}", arena[i].path))),
                    }
                    done += 1;
                    if let Some(p) = progress.as_mut() {
                        p(done, total);
                    }
                    Ok(())
                },
            )
            .await?;
            let mut parents = Vec::new();
            for (i, data, acl, has_children) in read {
                let node = &mut arena[i];
                node.present = true;
                node.data = data;
                node.acl = acl.iter().map(Acl::from_zk).collect();
                if has_children {
                    parents.push(i);
                }
            }
            let mut listed: Vec<(usize, Vec<String>)> = Vec::with_capacity(parents.len());
            let mut gone = Vec::new();
            pipeline::run(
                client,
                deadlines,
                &what,
                parents,
                WINDOW,
                |i| zk.get_children(&arena[i].path),
                |i, reply| {
                    match reply {
                        Ok((names, _)) => listed.push((i, names)),
                        Err(zk::Error::NoNode) if i != 0 => gone.push(i),
                        Err(e) => return Err(Error::from(e).context(format!("export {}", arena[i].path))),
                    }
                    Ok(())
                },
            )
            .await?;
            for i in gone {
                arena[i].present = false;
            }
            let mut next = Vec::new();
            for (i, mut names) in listed {
                names.sort();
                if arena[i].path == "/" {
                    // ZooKeeper's own subtree (/zookeeper/config, quota) is
                    // not user data; export "/zookeeper" to get it.
                    names.retain(|n| n != "zookeeper");
                }
                for name in names {
                    let child = arena.len();
                    arena.push(Read::new(path::join(&arena[i].path, &name), name));
                    arena[i].children.push(child);
                    next.push(child);
                }
            }
            level = next;
        }
        Ok::<_, Error>(arena)
    })?;
    let doc = match options.format {
        ExportFormat::Lossless => lossless_node(&arena, 0, 1, None, options)?,
        ExportFormat::K3zkutil => k3zkutil_node(&arena, 0)?,
    };
    Ok(json::to_python_text(&doc, options.pretty.then_some(2)))
}

fn too_deep(at: &str) -> Error {
    Error::new(
        Code::InvalidArgument,
        format!(
            "export: the tree is too deep at {at}: a hierarchy document nests at most {MAX_NESTING} JSON levels \
             (about {} node levels), so it could not be imported back",
            MAX_NESTING - 3
        ),
    )
}

/// The lossless form. `nesting` is the JSON level of this node's object
/// (the document itself is level 1), kept within what import reads.
/// `parent_acl` is the ACL this node would inherit on import (`None` for
/// the root), for `omit_inherited_acl`.
fn lossless_node(
    arena: &[Read],
    i: usize,
    nesting: usize,
    parent_acl: Option<&[Acl]>,
    options: &ExportOptions,
) -> Result<Json> {
    let node = &arena[i];
    if nesting + 2 > MAX_NESTING {
        return Err(too_deep(&node.path));
    }
    let mut pairs = vec![value_pair(&node.data, nesting)];
    if !(options.omit_inherited_acl && parent_acl == Some(node.acl.as_slice())) {
        pairs.push(acl_pair(&node.acl, &options.users)?);
    }
    let mut reserved = Vec::new();
    for &c in &node.children {
        if !arena[c].present {
            continue;
        }
        let name = &arena[c].name;
        if is_reserved(name) {
            reserved.push((name.clone(), lossless_node(arena, c, nesting + 2, Some(&node.acl), options)?));
        } else {
            pairs.push((name.clone(), lossless_node(arena, c, nesting + 1, Some(&node.acl), options)?));
        }
    }
    if !reserved.is_empty() {
        // Names shaped like __name__ would read as format keys.
        let at = pairs.iter().take_while(|(k, _)| is_reserved(k)).count();
        pairs.insert(at, (KEY_CHILDREN.to_string(), Json::Object(reserved)));
    }
    Ok(Json::Object(pairs))
}

/// `__val__` when writing the value back with k3zkutil's formatting gives
/// the same bytes, else `__text__` (UTF-8), else `__data__` (base64). An
/// empty node is `"__text__": ""`.
fn value_pair(data: &[u8], nesting: usize) -> (String, Json) {
    if !data.is_empty() {
        if let Some(v) = json::parse_bytes(data) {
            let fits = nesting + v.nesting() <= MAX_NESTING;
            if fits && v.find_duplicate("").is_none() && json::to_python_text(&v, None).as_bytes() == data {
                return (KEY_VAL.to_string(), v);
            }
        }
    }
    match std::str::from_utf8(data) {
        Ok(text) => (KEY_TEXT.to_string(), Json::String(text.to_string())),
        Err(_) => (KEY_DATA.to_string(), Json::String(base64::engine::general_purpose::STANDARD.encode(data))),
    }
}

/// `__acl__: {user: perms}` when every entry is a digest entry of a user
/// whose password is in `users` (so import rebuilds it exactly), else the
/// explicit `__acls__` list.
fn acl_pair(entries: &[Acl], users: &Users) -> Result<(String, Json)> {
    let letters = |a: &Acl| acl::mask_to_letters(a.perms, true);
    let short = !users.is_empty() && entries.iter().all(|a| users.knows(a)) && {
        let mut names: Vec<&str> = entries.iter().map(Acl::user).collect();
        names.sort_unstable();
        names.windows(2).all(|w| w[0] != w[1])
    };
    if short {
        let map =
            entries.iter().map(|a| Ok((a.user().to_string(), Json::String(letters(a)?)))).collect::<Result<_>>()?;
        return Ok((KEY_ACL.to_string(), Json::Object(map)));
    }
    let list = entries
        .iter()
        .map(|a| {
            Ok(Json::Object(vec![
                ("scheme".to_string(), Json::String(a.scheme.clone())),
                ("id".to_string(), Json::String(a.id.clone())),
                ("perms".to_string(), Json::String(letters(a)?)),
            ]))
        })
        .collect::<Result<_>>()?;
    Ok((KEY_ACLS.to_string(), Json::Array(list)))
}

/// What k3zkutil's export_hierarchy returns, as k3utfjson.dump writes it:
/// `__val__` the data as a string, `__acl__` {id before ':': perms} for
/// every entry of any scheme, children as plain keys (a child named like a
/// key replaces it, as in the Python dict).
fn k3zkutil_node(arena: &[Read], i: usize) -> Result<Json> {
    let node = &arena[i];
    let text = std::str::from_utf8(&node.data).map_err(|e| {
        Error::new(
            Code::InvalidUtf8,
            format!(
                "export {}: the data is not UTF-8 (at byte {}), which k3zkutil's format cannot hold; use the lossless format",
                node.path,
                e.valid_up_to()
            ),
        )
    })?;
    let mut acl: Vec<(String, Json)> = Vec::new();
    for a in &node.acl {
        put(&mut acl, a.user().to_string(), Json::String(acl::mask_to_letters(a.perms, true)?));
    }
    let mut pairs =
        vec![(KEY_VAL.to_string(), Json::String(text.to_string())), (KEY_ACL.to_string(), Json::Object(acl))];
    for &c in &node.children {
        if arena[c].present {
            put(&mut pairs, arena[c].name.clone(), k3zkutil_node(arena, c)?);
        }
    }
    Ok(Json::Object(pairs))
}

/// Python dict assignment: replace in place, else append.
fn put(pairs: &mut Vec<(String, Json)>, key: String, value: Json) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((key, value)),
    }
}
