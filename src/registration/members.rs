//! The service-discovery side: the nodes under a parent, with their data.

use crate::client::{Client, remaining};
use crate::error::{Code, Result};
use crate::node::Stat;
use crate::runtime::Timeout;

/// One child of the parent: its name (not the full path), data and stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// The children of `parent` with their data, sorted by name, all within
/// `timeout`. A child deleted between the listing and its read is left
/// out. Errors: `InvalidPath`, `NoNode` (no parent), `NoAuth`, timeouts
/// and connection errors as [`Client::get`].
pub fn members(client: &Client, parent: &str, timeout: Timeout) -> Result<Vec<Member>> {
    let deadline = timeout.deadline();
    let what = format!("members {parent}");
    let (mut names, _) = client.children(parent, timeout)?;
    names.sort();
    let base = parent.trim_end_matches('/');
    let mut members = Vec::with_capacity(names.len());
    for name in names {
        let path = format!("{base}/{name}");
        match client.get(&path, remaining(timeout, deadline, &what)?) {
            Ok((data, stat)) => members.push(Member { name, data, stat }),
            Err(e) if e.code() == Code::NoNode => {}
            Err(e) => return Err(e.context(&what)),
        }
    }
    Ok(members)
}
