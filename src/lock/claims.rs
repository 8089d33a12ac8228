//! Which lock nodes the lock handles of one client hold.
//!
//! Handles with the same identifier on one client share one node (the
//! k3zkutil rule: the same identifier is the same holder). A node they
//! share must never be deleted behind the back of a handle that still
//! acts as its holder, and a cleanup of a create whose outcome was never
//! seen must never delete a node another handle holds. Every handle of a
//! client therefore records here the nodes (path and czxid) it holds:
//!
//! - a release by one holder first revokes the others (they turn LOST
//!   before the delete is sent), then deletes;
//! - a cleanup deletes a node only if no handle holds it;
//! - while a release or cleanup deletes a node, nobody may adopt it.
//!
//! The registry lock is taken inside a handle's `shared` lock, never the
//! other way round (revocations are applied after it is released).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::Inner;

/// A lock node: its path and creation zxid (the fencing token).
type NodeKey = (Arc<str>, i64);

#[derive(Default)]
pub(crate) struct Claims {
    nodes: Mutex<HashMap<NodeKey, Node>>,
}

#[derive(Default)]
struct Node {
    holders: Vec<Weak<Inner>>,
    /// A release or cleanup is deleting it.
    deleting: bool,
}

impl Claims {
    /// Records `handle` as a holder of the node. False while the node is
    /// being deleted: the caller must not treat it as held.
    pub(crate) fn claim(&self, path: &Arc<str>, czxid: i64, handle: &Arc<Inner>) -> bool {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let node = nodes.entry((path.clone(), czxid)).or_default();
        if node.deleting {
            return false;
        }
        if !node.holders.iter().any(|h| std::ptr::eq(h.as_ptr(), Arc::as_ptr(handle))) {
            node.holders.push(Arc::downgrade(handle));
        }
        true
    }

    /// `handle` no longer holds the node.
    pub(crate) fn unclaim(&self, path: &Arc<str>, czxid: i64, handle: &Inner) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let key = (path.clone(), czxid);
        if let Some(node) = nodes.get_mut(&key) {
            node.holders.retain(|h| !std::ptr::eq(h.as_ptr(), handle) && h.strong_count() > 0);
            if node.holders.is_empty() && !node.deleting {
                nodes.remove(&key);
            }
        }
    }

    /// A holder is about to delete the node: marks it as being deleted and
    /// returns the other handles that hold it, to be revoked before the
    /// delete is sent.
    pub(crate) fn start_release(&self, path: &Arc<str>, czxid: i64, handle: &Inner) -> Vec<Arc<Inner>> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let node = nodes.entry((path.clone(), czxid)).or_default();
        node.deleting = true;
        let others = node.holders.iter().filter(|h| !std::ptr::eq(h.as_ptr(), handle)).filter_map(Weak::upgrade);
        let others = others.collect();
        node.holders.clear();
        others
    }

    /// A cleanup wants to delete a node it is not a holder of: allowed
    /// (and marked as being deleted) only when no handle holds it.
    pub(crate) fn start_cleanup(&self, path: &Arc<str>, czxid: i64) -> bool {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let node = nodes.entry((path.clone(), czxid)).or_default();
        node.holders.retain(|h| h.strong_count() > 0);
        if !node.holders.is_empty() || node.deleting {
            return false;
        }
        node.deleting = true;
        true
    }

    /// The delete started by `start_release` or `start_cleanup` is over
    /// (done, or given up).
    pub(crate) fn end_delete(&self, path: &Arc<str>, czxid: i64) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let key = (path.clone(), czxid);
        if let Some(node) = nodes.get_mut(&key) {
            node.deleting = false;
            if node.holders.is_empty() {
                nodes.remove(&key);
            }
        }
    }
}
