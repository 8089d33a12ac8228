//! `zkutil digest` and `zkutil acl-entry`: k3zkutil's make_digest and
//! make_acl_entry (no server involved).

use zkutil::acl;

use crate::args::Parsed;
use crate::{CliError, Global, Subcommand, exit};

pub static DIGEST: Subcommand = Subcommand {
    name: "digest",
    summary: "print base64(sha1(USER:PASSWORD)), ZooKeeper's digest",
    help: "\
Usage: zkutil digest USER:PASSWORD

Prints the digest ZooKeeper's digest scheme stores for the credentials
(k3zkutil's make_digest), e.g. `zkutil digest xp:123` prints
LNcZO17uqqJ4GuYoSclIsGjYniQ=. The password may contain ':'.
",
    flags: &[],
    connects: false,
    run: digest,
};

pub static ACL_ENTRY: Subcommand = Subcommand {
    name: "acl-entry",
    summary: "print digest:USER:DIGEST:PERMS for an ACL",
    help: "\
Usage: zkutil acl-entry USER PASSWORD PERMS

Prints digest:<USER>:<digest>:<PERMS> (k3zkutil's make_acl_entry). PERMS
are letters of cdrwa (create, delete, read, write, admin), lower case;
any other letter is refused with exit status 8.
",
    flags: &[],
    connects: false,
    run: acl_entry,
};

fn digest(parsed: &Parsed, _: &Global) -> Result<u8, CliError> {
    let [acc] = parsed.expect_positionals(&["USER:PASSWORD"])?[..] else { unreachable!() };
    if !acc.contains(':') {
        return Err(CliError::usage(format!("digest: expected USER:PASSWORD, got {acc:?}")));
    }
    println!("{}", acl::make_digest(acc));
    Ok(exit::OK)
}

fn acl_entry(parsed: &Parsed, _: &Global) -> Result<u8, CliError> {
    let [user, password, perms] = parsed.expect_positionals(&["USER", "PASSWORD", "PERMS"])?[..] else {
        unreachable!()
    };
    println!("{}", acl::make_acl_entry(user, password, perms)?);
    Ok(exit::OK)
}
