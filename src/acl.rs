//! Digest-ACL helpers and permission conversions, equal to k3zkutil's for
//! the same input: letters `cdrwa`, long names, and ZooKeeper's bitmask.

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::error::{Code, Error, Result};

pub const PERM_READ: u32 = 1;
pub const PERM_WRITE: u32 = 2;
pub const PERM_CREATE: u32 = 4;
pub const PERM_DELETE: u32 = 8;
pub const PERM_ADMIN: u32 = 16;
pub const PERM_ALL: u32 = 31;

/// (letter, long name, bit) in k3zkutil's canonical order `cdrwa`.
const PERMS: [(char, &str, u32); 5] = [
    ('c', "create", PERM_CREATE),
    ('d', "delete", PERM_DELETE),
    ('r', "read", PERM_READ),
    ('w', "write", PERM_WRITE),
    ('a', "admin", PERM_ADMIN),
];

fn bad_perm(item: &str) -> Error {
    Error::new(Code::BadPermission, format!("unknown permission {item:?}: expected letters of \"cdrwa\""))
}

fn bad_perm_name(item: &str) -> Error {
    Error::new(
        Code::BadPermission,
        format!("unknown permission {item:?}: expected create, delete, read, write or admin"),
    )
}

/// One ACL entry of a znode: permission bits, scheme and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub perms: u32,
    pub scheme: String,
    pub id: String,
}

impl Acl {
    pub fn new(perms: u32, scheme: impl Into<String>, id: impl Into<String>) -> Acl {
        Acl { perms, scheme: scheme.into(), id: id.into() }
    }

    /// `world:anyone` with every permission (ZooKeeper's OPEN_ACL_UNSAFE).
    pub fn open() -> Acl {
        Acl::new(PERM_ALL, "world", "anyone")
    }

    /// A digest ACL for `user` with `password`, as kazoo's make_digest_acl.
    pub fn digest(user: &str, password: &str, perms: u32) -> Acl {
        Acl::new(perms, "digest", format!("{user}:{}", make_digest(&format!("{user}:{password}"))))
    }

    /// Checks scheme, id and permission bits before anything is sent.
    pub fn validate(&self) -> Result<()> {
        if self.perms & !PERM_ALL != 0 {
            return Err(Error::new(Code::BadPermission, format!("permission mask {:#x} has unknown bits", self.perms)));
        }
        if self.scheme.is_empty() {
            return Err(Error::new(Code::InvalidAcl, "ACL scheme is empty"));
        }
        Ok(())
    }

    /// The user part of the id (`user` of `user:digest`), as parse_kazoo_acl.
    pub fn user(&self) -> &str {
        self.id.split(':').next().unwrap_or("")
    }

    pub(crate) fn to_zk(&self) -> zookeeper_client::Acl {
        zookeeper_client::Acl::new(mask_to_zk(self.perms), zookeeper_client::AuthId::new(&self.scheme, &self.id))
    }

    pub(crate) fn from_zk(acl: &zookeeper_client::Acl) -> Acl {
        Acl::new(mask_from_zk(acl.permission()), acl.scheme(), acl.id())
    }
}

/// Our permission bits and the crate's permissions, one to one.
const ZK_PERMS: [(u32, zookeeper_client::Permission); 5] = {
    use zookeeper_client::Permission as P;
    [
        (PERM_READ, P::READ),
        (PERM_WRITE, P::WRITE),
        (PERM_CREATE, P::CREATE),
        (PERM_DELETE, P::DELETE),
        (PERM_ADMIN, P::ADMIN),
    ]
};

fn mask_to_zk(mask: u32) -> zookeeper_client::Permission {
    ZK_PERMS
        .into_iter()
        .filter(|(bit, _)| mask & bit != 0)
        .fold(zookeeper_client::Permission::NONE, |acc, (_, p)| acc | p)
}

fn mask_from_zk(perm: zookeeper_client::Permission) -> u32 {
    ZK_PERMS.into_iter().filter(|(_, p)| perm.has(*p)).fold(0, |acc, (bit, _)| acc | bit)
}

/// base64(sha1(acc)) where `acc` is `user:password`.
pub fn make_digest(acc: &str) -> String {
    let digest = Sha1::digest(acc.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// `digest:<user>:<digest>:<perms>`; `perms` must be lower-case letters of
/// `cdrwa` (k3zkutil rejects upper case here).
pub fn make_acl_entry(user: &str, password: &str, perms: &str) -> Result<String> {
    if let Some(c) = perms.chars().find(|c| !"cdrwa".contains(*c)) {
        return Err(bad_perm(&c.to_string()));
    }
    Ok(format!("digest:{user}:{}:{perms}", make_digest(&format!("{user}:{password}"))))
}

/// Letters (either case) to long names, in the order given.
pub fn perm_to_long(short: &str, lower: bool) -> Result<Vec<String>> {
    short
        .chars()
        .map(|c| {
            let lowered = c.to_lowercase().to_string();
            let name = PERMS.iter().find(|(l, _, _)| lowered == l.to_string()).map(|p| p.1);
            let name = name.ok_or_else(|| bad_perm(&lowered))?;
            Ok(if lower { name.to_string() } else { name.to_uppercase() })
        })
        .collect()
}

/// Long names (either case) to letters, in the order given.
pub fn perm_to_short<S: AsRef<str>>(names: &[S], lower: bool) -> Result<String> {
    let mut out = String::new();
    for name in names {
        let lowered = name.as_ref().to_lowercase();
        let letter = PERMS.iter().find(|p| p.1 == lowered).map(|p| p.0).ok_or_else(|| bad_perm_name(&lowered))?;
        out.push(letter);
    }
    Ok(if lower { out } else { out.to_uppercase() })
}

/// Letters (either case) to ZooKeeper's permission bitmask.
pub fn letters_to_mask(letters: &str) -> Result<u32> {
    let mut mask = 0;
    for c in letters.chars() {
        let lowered = c.to_lowercase().to_string();
        let bit = PERMS.iter().find(|p| lowered == p.0.to_string()).map(|p| p.2).ok_or_else(|| bad_perm(&lowered))?;
        mask |= bit;
    }
    Ok(mask)
}

/// Long names (either case; "ALL" too, as kazoo reports it) to the bitmask.
pub fn names_to_mask<S: AsRef<str>>(names: &[S]) -> Result<u32> {
    let mut mask = 0;
    for name in names {
        let lowered = name.as_ref().to_lowercase();
        if lowered == "all" {
            mask |= PERM_ALL;
            continue;
        }
        mask |= PERMS.iter().find(|p| p.1 == lowered).map(|p| p.2).ok_or_else(|| bad_perm_name(&lowered))?;
    }
    Ok(mask)
}

fn check_mask(mask: u32) -> Result<()> {
    if mask & !PERM_ALL != 0 {
        return Err(Error::new(Code::BadPermission, format!("permission mask {mask:#x} has bits outside cdrwa (31)")));
    }
    Ok(())
}

/// The bitmask to letters in the order k3zkutil's parse_kazoo_acl gives
/// them (what its export_hierarchy writes): "cdrwa" for all five, else
/// read, write, create, delete, admin (kazoo's acl_list order).
pub fn mask_to_letters(mask: u32, lower: bool) -> Result<String> {
    check_mask(mask)?;
    let letters: String = if mask == PERM_ALL {
        "cdrwa".to_string()
    } else {
        [('r', PERM_READ), ('w', PERM_WRITE), ('c', PERM_CREATE), ('d', PERM_DELETE), ('a', PERM_ADMIN)]
            .iter()
            .filter(|(_, bit)| mask & bit != 0)
            .map(|(letter, _)| *letter)
            .collect()
    };
    Ok(if lower { letters } else { letters.to_uppercase() })
}

/// The bitmask to long names, in the order of [`mask_to_letters`].
pub fn mask_to_names(mask: u32, lower: bool) -> Result<Vec<String>> {
    perm_to_long(&mask_to_letters(mask, true)?, lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_k3zkutil_example() {
        assert_eq!(make_digest("xp:123"), "LNcZO17uqqJ4GuYoSclIsGjYniQ=");
        assert_eq!(make_acl_entry("xp", "123", "cdrwa").unwrap(), "digest:xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=:cdrwa");
        assert_eq!(make_acl_entry("xp", "123", "CD").unwrap_err().code(), Code::BadPermission);
    }

    #[test]
    fn conversions() {
        assert_eq!(perm_to_long("cdrwa", true).unwrap(), ["create", "delete", "read", "write", "admin"]);
        assert_eq!(perm_to_long("RW", false).unwrap(), ["READ", "WRITE"]);
        assert_eq!(perm_to_long("x", true).unwrap_err().code(), Code::BadPermission);
        assert_eq!(perm_to_short(&["create", "READ"], true).unwrap(), "cr");
        assert_eq!(perm_to_short(&["create", "read"], false).unwrap(), "CR");
        assert_eq!(perm_to_short(&["all"], true).unwrap_err().code(), Code::BadPermission);
        assert_eq!(letters_to_mask("cdrwa").unwrap(), 31);
        assert_eq!(letters_to_mask("rW").unwrap(), 3);
        assert_eq!(names_to_mask(&["ALL"]).unwrap(), 31);
        assert_eq!(mask_to_letters(12, true).unwrap(), "cd");
        assert_eq!(mask_to_letters(5, true).unwrap(), "rc");
        assert_eq!(mask_to_letters(31, false).unwrap(), "CDRWA");
        assert_eq!(mask_to_names(3, false).unwrap(), ["READ", "WRITE"]);
        assert_eq!(mask_to_letters(32, true).unwrap_err().code(), Code::BadPermission);
    }

    #[test]
    fn zk_mask_round_trip() {
        for mask in 0..=31 {
            assert_eq!(mask_from_zk(mask_to_zk(mask)), mask);
        }
        assert_eq!(Acl::digest("xp", "123", 31).id, "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=");
    }
}
