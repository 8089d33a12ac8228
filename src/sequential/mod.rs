//! The parts of the sequential-node recipes (FIFO mutex, and the
//! read-write lock and leader latch to come) that do not depend on the
//! recipe, in Apache Curator's layout so Curator and kazoo processes share
//! the same nodes:
//!
//! - contenders are ephemeral sequential children of one directory, named
//!   `_c_<uuid>-<marker><sequence>` (Curator's "protected" names; `marker`
//!   is e.g. `lock-`), ordered by the text after the marker;
//! - the uuid lets a create whose reply was lost find its node again;
//! - each waiter watches only the contender right before it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use zookeeper_client as zk;

use crate::error::{Code, Error};
use crate::node::Stat;

/// Curator InterProcessMutex's marker, in our nodes' names (kazoo's
/// `extra_lock_patterns` must name it for kazoo to see our nodes).
pub const LOCK_MARKER: &str = "lock-";

/// A create of a protected node on its way: owns everything it uses, so
/// a cleanup task can finish it after the caller gave up on it.
pub(crate) type CreateFuture = Pin<Box<dyn Future<Output = std::result::Result<(zk::Stat, String), zk::Error>> + Send>>;

/// The name prefix `_c_<uuid>-<marker>` of one acquisition's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protected {
    /// `_c_<uuid>-`: what makes a child ours.
    id: String,
    marker: &'static str,
    /// Text between the marker and the sequence: another node's sort key
    /// to sort right behind it (empty: none).
    behind: String,
}

impl Protected {
    pub(crate) fn new(marker: &'static str) -> Protected {
        Protected { id: format!("_c_{}-", uuid::Uuid::new_v4()), marker, behind: String::new() }
    }

    /// A name that sorts right behind the contender `node` (named with
    /// one of `markers`) and ahead of every later one: its sort key
    /// followed by our sequence (Curator's read lock taken by the write
    /// lock's owner, CURATOR-621).
    pub(crate) fn behind(marker: &'static str, node: &str, markers: &[&str]) -> Protected {
        let behind = sort_key(node, markers).unwrap_or_default().to_string();
        Protected { behind, ..Protected::new(marker) }
    }

    pub(crate) fn is_ours(&self, child: &str) -> bool {
        child.starts_with(&self.id)
    }

    /// Sends the ephemeral sequential create of our node in `dir`; the
    /// reply carries the node's name (without the directory). With
    /// `only_if` (a path), one multi that creates nothing unless that node
    /// exists; `RuntimeInconsistent` when it does not.
    pub(crate) fn create(
        &self,
        zk: zk::Client,
        dir: Arc<str>,
        data: Vec<u8>,
        acl: Arc<Vec<zk::Acl>>,
        only_if: Option<String>,
    ) -> CreateFuture {
        let prefix = format!("{dir}/{}{}{}", self.id, self.marker, self.behind);
        Box::pin(async move {
            let options = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::new(&acl));
            let (stat, path) = match only_if {
                None => {
                    let (stat, sequence) = zk.create(&prefix, &data, &options).await?;
                    (stat, format!("{prefix}{sequence}"))
                }
                Some(check) => create_if_exists(&zk, &check, &prefix, &data, &options).await?,
            };
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            Ok((stat, name))
        })
    }

    /// Our node among `children`, if a create of ours was applied.
    pub(crate) fn find<'a>(&self, children: &'a [String]) -> Option<&'a String> {
        children.iter().find(|c| self.is_ours(c))
    }
}

/// A sequential create in one multi with a check that `check` exists:
/// the created node's stat and path.
async fn create_if_exists(
    zk: &zk::Client,
    check: &str,
    prefix: &str,
    data: &[u8],
    options: &zk::CreateOptions<'_>,
) -> std::result::Result<(zk::Stat, String), zk::Error> {
    let mut writer = zk.new_check_writer(check, None)?;
    writer.add_create(prefix, data, options)?;
    let Some(zk::MultiWriteResult::Create { path, stat }) = writer.commit().await?.pop() else {
        return Err(zk::Error::UnexpectedError("no create result in the multi's reply".into()));
    };
    if !stat.is_invalid() {
        return Ok((stat, path));
    }
    // Servers before ZOOKEEPER-4026's fix answer a create in a multi without its stat.
    match zk.check_stat(&path).await? {
        Some(stat) => Ok((stat, path)),
        None => Err(zk::Error::NoNode),
    }
}

/// The name markers of lock contenders: Curator's (ours) and kazoo's
/// default, so a kazoo `Lock` on the same path is seen in its place.
pub const LOCK_MARKERS: &[&str] = &[LOCK_MARKER, "__lock__"];

/// How a recipe names its nodes (the marker of ours, and those of every
/// contender it counts) and when a contender may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) marker: &'static str,
    pub(crate) markers: &'static [&'static str],
    pub(crate) rule: Rule,
}

/// When a contender holds, and whom it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Only the first holds; each waits for the one right before it.
    Exclusive,
    /// Holds unless a contender with this marker (a writer) is ahead;
    /// waits for the first such one (Curator's read-lock predicate).
    Shared { exclusive: &'static str },
}

/// Curator InterProcessMutex's layout (and kazoo Lock's nodes).
pub(crate) const MUTEX: Layout = Layout { marker: LOCK_MARKER, markers: LOCK_MARKERS, rule: Rule::Exclusive };

/// Curator LeaderLatch's layout: `_c_<uuid>-latch-<seq>`.
pub(crate) const LATCH: Layout = Layout { marker: "latch-", markers: &["latch-"], rule: Rule::Exclusive };

const READ_MARKER: &str = "__READ__";
const WRITE_MARKER: &str = "__WRIT__";

/// Curator InterProcessReadWriteLock's read side: `_c_<uuid>-__READ__<seq>`.
pub(crate) const READ: Layout = Layout {
    marker: READ_MARKER,
    markers: &[READ_MARKER, WRITE_MARKER],
    rule: Rule::Shared { exclusive: WRITE_MARKER },
};

/// Curator InterProcessReadWriteLock's write side: `_c_<uuid>-__WRIT__<seq>`.
pub(crate) const WRITE: Layout =
    Layout { marker: WRITE_MARKER, markers: &[READ_MARKER, WRITE_MARKER], rule: Rule::Exclusive };

/// The contenders among `children` (a marker followed by the sequence
/// number at the end of the name), in sequence order: the first holds
/// the lock. The text after the marker, not the uuid in front, decides,
/// compared as text as Curator's `fixForSorting` does: ZooKeeper's
/// zero-padded sequences sort as numbers, and a name carrying another's
/// sequence before its own sorts right behind that one.
pub(crate) fn contenders(children: Vec<String>, markers: &[&str]) -> Vec<String> {
    let mut keyed: Vec<(String, String)> =
        children.into_iter().filter_map(|c| Some((sort_key(&c, markers)?.to_string(), c))).collect();
    keyed.sort();
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// The sequence text after the last marker in `name` (digits, and `-`
/// from a counter past 2^31).
fn sort_key<'a>(name: &'a str, markers: &[&str]) -> Option<&'a str> {
    markers.iter().find_map(|m| {
        let key = &name[name.rfind(m)? + m.len()..];
        let has_digits = key.bytes().any(|b| b.is_ascii_digit());
        (has_digits && key.bytes().all(|b| b.is_ascii_digit() || b == b'-')).then_some(key)
    })
}

/// Where `ours` stands among the sorted `contenders` under `rule`:
/// `Ok(None)` holds, `Ok(Some(node))` waits for `node` to go, `Err` not
/// there (deleted). `own_writer`: a node of the same owner that a shared
/// contender never waits for (a read side's own write side).
pub(crate) fn blocker<'a>(
    contenders: &'a [String],
    ours: &str,
    rule: Rule,
    own_writer: Option<&str>,
) -> std::result::Result<Option<&'a str>, ()> {
    let at = contenders.iter().position(|c| c == ours).ok_or(())?;
    let ahead = &contenders[..at];
    Ok(match rule {
        Rule::Exclusive => ahead.last(),
        Rule::Shared { exclusive } => ahead.iter().find(|c| c.contains(exclusive) && Some(c.as_str()) != own_writer),
    }
    .map(String::as_str))
}

/// One contender as read: its node name, data (the contender's
/// identifier) and stat (`czxid`: its fencing token once it holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contender {
    pub name: String,
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// Reads the contenders of `dir` in order, skipping those gone between
/// the listing and the read. A missing directory has none.
pub(crate) async fn read_contenders(
    zk: &zk::Client,
    dir: &str,
    markers: &[&str],
) -> std::result::Result<Vec<Contender>, zk::Error> {
    let children = match zk.list_children(dir).await {
        Ok(children) => children,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in contenders(children, markers) {
        match zk.get_data(&format!("{dir}/{name}")).await {
            Ok((data, stat)) => out.push(Contender { name, data, stat: Stat::from(&stat) }),
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Errors after which the session may live on and a request's outcome is
/// unknown.
pub(crate) fn is_connection(e: &zk::Error) -> bool {
    Error::from(e.clone()).code() == Code::ConnectionLoss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contenders_sort_by_sequence_not_by_uuid() {
        let children = vec![
            "_c_ffff-lock-0000000003".to_string(),
            "_c_0000-lock-0000000005".to_string(),
            "other".to_string(),
            "a1b2-lock-0000000004".to_string(),
            "9f9f__lock__0000000002".to_string(),
            "lock-".to_string(),
        ];
        let sorted = contenders(children, LOCK_MARKERS);
        assert_eq!(
            sorted,
            ["9f9f__lock__0000000002", "_c_ffff-lock-0000000003", "a1b2-lock-0000000004", "_c_0000-lock-0000000005"]
        );
        let predecessor = |ours| blocker(&sorted, ours, Rule::Exclusive, None);
        assert_eq!(predecessor("_c_0000-lock-0000000005"), Ok(Some("a1b2-lock-0000000004")));
        assert_eq!(predecessor("_c_ffff-lock-0000000003"), Ok(Some("9f9f__lock__0000000002")));
        assert_eq!(predecessor("9f9f__lock__0000000002"), Ok(None));
        assert_eq!(predecessor("gone"), Err(()));
    }

    #[test]
    fn readers_wait_only_for_the_first_writer_ahead() {
        let sorted = contenders(
            [
                "_c_a-__READ__0000000001",
                "_c_b-__WRIT__0000000002",
                "_c_c-__READ__0000000003",
                "_c_d-__WRIT__0000000004",
            ]
            .map(String::from)
            .to_vec(),
            READ.markers,
        );
        let read = |ours| blocker(&sorted, ours, READ.rule, None);
        assert_eq!(read("_c_a-__READ__0000000001"), Ok(None));
        assert_eq!(read("_c_c-__READ__0000000003"), Ok(Some("_c_b-__WRIT__0000000002")));
        assert_eq!(blocker(&sorted, "_c_b-__WRIT__0000000002", WRITE.rule, None), Ok(Some("_c_a-__READ__0000000001")));
    }

    #[test]
    fn a_read_behind_its_own_writer_sorts_ahead_of_later_writers_and_ignores_its_writer() {
        let writer = "_c_w-__WRIT__0000000004";
        let behind = Protected::behind(READ_MARKER, writer, READ.markers);
        let ours = format!("{}{}{}0000000007", behind.id, READ_MARKER, behind.behind);
        let sorted = contenders(
            [writer, "_c_x-__WRIT__0000000005", "_c_y-__READ__0000000006", &ours].map(String::from).to_vec(),
            READ.markers,
        );
        assert_eq!(sorted, [writer, &ours, "_c_x-__WRIT__0000000005", "_c_y-__READ__0000000006"]);
        assert_eq!(blocker(&sorted, &ours, READ.rule, Some(writer)), Ok(None));
        assert_eq!(blocker(&sorted, &ours, READ.rule, None), Ok(Some(writer)));
        // The later writer waits for our read node, also once our writer is gone.
        assert_eq!(blocker(&sorted[1..], "_c_x-__WRIT__0000000005", WRITE.rule, None), Ok(Some(ours.as_str())));
        assert_eq!(blocker(&sorted[1..], &ours, READ.rule, None), Ok(None));
    }

    #[test]
    fn protected_names_recognise_only_our_uuid() {
        let ours = Protected::new(LOCK_MARKER);
        let other = Protected::new(LOCK_MARKER);
        let name = format!("{}lock-0000000001", ours.id);
        assert!(ours.is_ours(&name));
        assert!(!other.is_ours(&name));
    }
}
