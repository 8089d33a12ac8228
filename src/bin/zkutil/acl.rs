//! `zkutil digest` and `zkutil acl-entry`: k3zkutil's make_digest and
//! make_acl_entry (no server involved).

use clap::Args;
use zkutil::acl;

use crate::args::{TEXT, Text};
use crate::{CliError, exit};

pub const DIGEST_HELP: &str = "\
Usage: zkutil digest USER:PASSWORD

Prints the digest ZooKeeper's digest scheme stores for the credentials
(k3zkutil's make_digest), e.g. `zkutil digest xp:123` prints
LNcZO17uqqJ4GuYoSclIsGjYniQ=. The password may contain ':'.
";

#[derive(Args)]
pub struct DigestArgs {
    #[arg(value_parser = Text(credentials), value_name = "USER:PASSWORD")]
    credentials: String,
}

fn credentials(text: &str) -> Result<String, String> {
    if text.contains(':') { Ok(text.to_string()) } else { Err(format!("expected USER:PASSWORD, got {text:?}")) }
}

pub const ACL_ENTRY_HELP: &str = "\
Usage: zkutil acl-entry USER PASSWORD PERMS

Prints digest:<USER>:<digest>:<PERMS> (k3zkutil's make_acl_entry). PERMS
are letters of cdrwa (create, delete, read, write, admin), lower case;
any other letter is refused with exit status 8.
";

#[derive(Args)]
pub struct AclEntryArgs {
    #[arg(value_parser = TEXT)]
    user: String,
    #[arg(value_parser = TEXT)]
    password: String,
    #[arg(value_parser = TEXT)]
    perms: String,
}

pub fn digest(args: DigestArgs) -> Result<u8, CliError> {
    println!("{}", acl::make_digest(&args.credentials));
    Ok(exit::OK)
}

pub fn acl_entry(args: AclEntryArgs) -> Result<u8, CliError> {
    println!("{}", acl::make_acl_entry(&args.user, &args.password, &args.perms)?);
    Ok(exit::OK)
}
