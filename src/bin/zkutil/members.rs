//! `zkutil members`: the nodes under a parent with their data.

use std::time::Duration;

use base64::Engine;
use clap::Args;

use crate::args::{SECONDS, TEXT};
use crate::{CliError, Global, deadline, exit, left};

pub const MEMBERS_HELP: &str = "\
Usage: zkutil members PARENT [OPTIONS]

Prints the children of PARENT (registration nodes made by zkutil register
or the library) with their data, sorted by name, one per line: NAME, a tab,
then DATA as text (backslash, newline, carriage return and tab written as
\\\\, \\n, \\r and \\t; bytes that are not UTF-8 replaced). Exit status 3
when PARENT does not exist.

Options:
  --json        print a JSON array instead, one object per member:
                {\"name\", \"data\" (the text; \"data_base64\" instead when
                it is not UTF-8), \"czxid\", \"ephemeral_owner\"}
  --timeout S   give up after S seconds (default 10)
";

#[derive(Args)]
pub struct MembersArgs {
    #[arg(value_parser = TEXT)]
    parent: String,
    #[arg(long)]
    json: bool,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

pub fn members(args: MembersArgs, global: &Global) -> Result<u8, CliError> {
    let deadline = deadline(args.timeout, crate::node::DEFAULT_TIMEOUT);
    let client = global.connect(deadline)?;
    let result = zkutil::registration::members(&client, &args.parent, left(deadline));
    client.close();
    let members = result?;
    if args.json {
        let list: Vec<serde_json::Value> = members
            .iter()
            .map(|m| {
                let mut item = serde_json::json!({
                    "name": m.name,
                    "czxid": m.stat.czxid,
                    "ephemeral_owner": m.stat.ephemeral_owner,
                });
                match std::str::from_utf8(&m.data) {
                    Ok(text) => item["data"] = text.into(),
                    Err(_) => {
                        item["data_base64"] = base64::engine::general_purpose::STANDARD.encode(&m.data).into();
                    }
                }
                item
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for m in &members {
            println!("{}\t{}", m.name, escape(&String::from_utf8_lossy(&m.data)));
        }
    }
    Ok(exit::OK)
}

/// One line of text for any data.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}
