//! The service-discovery side: the nodes under a parent, with their data.

use zookeeper_client as zk;

use crate::client::{Client, remaining};
use crate::error::{Error, Result};
use crate::hierarchy::pipeline::{self, Deadlines, WINDOW};
use crate::node::Stat;
use crate::path;
use crate::runtime::{self, Timeout};

/// One child of the parent: its name (not the full path), data and stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// The children of `parent` with their data, sorted by name, all within
/// `timeout`. The reads are pipelined (up to 256 in flight). A child
/// deleted between the listing and its read is left out. Errors:
/// `InvalidPath`, `NoNode` (no parent), `NoAuth`, timeouts and connection
/// errors as [`Client::get`].
pub fn members(client: &Client, parent: &str, timeout: Timeout) -> Result<Vec<Member>> {
    let deadline = timeout.deadline();
    let what = format!("members {parent}");
    let (mut names, _) = client.children(parent, timeout)?;
    names.sort();
    let paths: Vec<String> = names.iter().map(|name| path::join(parent, name)).collect();
    let deadlines = Deadlines::new(client, remaining(timeout, deadline, &what)?);
    let mut read: Vec<Option<(Vec<u8>, Stat)>> = vec![None; names.len()];
    runtime::block_on(async {
        let zk = client.ready(deadlines.connect).await.map_err(|e| e.context(&what))?;
        let reads = (0..paths.len()).collect();
        pipeline::run(
            client,
            deadlines,
            &what,
            reads,
            WINDOW,
            |i| zk.get_data(&paths[i]),
            |i, reply| {
                match reply {
                    Ok((data, stat)) => read[i] = Some((data, Stat::from(&stat))),
                    Err(zk::Error::NoNode) => {}
                    Err(e) => return Err(Error::from(e).context(format!("{what}: {}", paths[i]))),
                }
                Ok(())
            },
        )
        .await
        .map_err(Error::from)
    })?;
    let members = names.into_iter().zip(read);
    Ok(members.filter_map(|(name, read)| read.map(|(data, stat)| Member { name, data, stat })).collect())
}
