//! `zkutil cas`: an atomic read-modify-write of a JSON node (k3zkutil's
//! cas_loop): a counter, or a field of a JSON object.

use zkutil::cas::{self, CasOptions, Decision};
use zkutil::hierarchy::json::{self, Json};
use zkutil::{Code, Error};

use std::time::Duration;

use clap::Args;

use crate::args::{SECONDS, TEXT, Text};
use crate::{CliError, Global, deadline, exit, left};

pub const CAS_HELP: &str = "\
Usage: zkutil cas PATH (--incr | --add N | --set JSON) [OPTIONS]

Reads the node's JSON value and version, computes the new value, and
writes it only if the node is still at that version; on a conflict (another
writer got there first) it reads again and repeats (k3zkutil's cas_loop).
Prints the new value of what was updated (the counter, the field, or the
whole value). Values are written as k3zkutil writes them.

Operations (one of):
  --incr          add 1 to an integer
  --add N         add N (may be negative) to an integer
  --set JSON      replace with this JSON value

Options:
  --field F       update field F of the node's JSON object instead of the
                  whole value; a.b.c goes into nested objects (missing ones
                  are created; a missing counter field counts from 0)
  --create        create the node (and missing parents) when it does not
                  exist, starting from {} with --field, 0 for a counter,
                  null for --set
  --max-attempts N  give up after N conflicting attempts (exit status 4;
                  default: until the timeout)
  --timeout S     give up after S seconds (default 10); a write cut off by
                  the timeout or a connection loss that cannot be resolved
                  gives exit status 9
";

#[derive(Args)]
pub struct CasArgs {
    #[arg(value_parser = TEXT)]
    path: String,
    #[arg(long)]
    incr: bool,
    #[arg(long, value_parser = Text(crate::args::integer::<i64>))]
    add: Option<i64>,
    #[arg(long, value_parser = Text(json_value))]
    set: Option<Json>,
    #[arg(long, value_parser = Text(field))]
    field: Option<Field>,
    #[arg(long)]
    create: bool,
    #[arg(long, value_parser = Text(crate::args::integer::<u32>))]
    max_attempts: Option<u32>,
    #[arg(long, value_parser = SECONDS)]
    timeout: Option<Duration>,
}

fn json_value(text: &str) -> Result<Json, String> {
    json::parse(text).map_err(|e| e.message().to_string())
}

/// `--field a.b.c`: the keys of nested objects.
#[derive(Clone)]
struct Field(Vec<String>);

fn field(text: &str) -> Result<Field, String> {
    if text.split('.').any(str::is_empty) {
        return Err(format!("bad field {text:?}"));
    }
    Ok(Field(text.split('.').map(str::to_string).collect()))
}

enum Op {
    Add(i64),
    Set(Json),
}

pub fn cas(args: CasArgs, global: &Global) -> Result<u8, CliError> {
    let CasArgs { path, incr, add, set, field, create, max_attempts, timeout } = args;
    let path = path.as_str();
    let op = match (incr, add, set) {
        (true, None, None) => Op::Add(1),
        (false, Some(n), None) => Op::Add(n),
        (false, None, Some(value)) => Op::Set(value),
        _ => return Err(CliError::usage("cas: give one of --incr, --add N, --set JSON")),
    };
    let field = field.map_or_else(Vec::new, |f| f.0);
    let max_attempts = max_attempts.unwrap_or(0);
    let deadline = deadline(timeout, crate::node::DEFAULT_TIMEOUT);
    let initial: &[u8] = match (&op, field.is_empty()) {
        (_, false) => b"{}",
        (Op::Add(_), true) => b"0",
        (Op::Set(_), true) => b"null",
    };
    let options = CasOptions { json: true, create_with: create.then(|| initial.to_vec()), create_parents: create };
    let client = global.connect(deadline)?;
    let mut result_value = String::new();
    let outcome = cas::update(&client, path, options, max_attempts, left(deadline), |c| {
        let text = std::str::from_utf8(c.value()).map_err(|_| Error::new(Code::BadJson, "not UTF-8"))?;
        let mut value = json::parse(text).map_err(|e| e.context(format!("cas {path}")))?;
        let target = target_mut(&mut value, &field, path)?;
        *target = match &op {
            Op::Set(v) => v.clone(),
            Op::Add(n) => {
                let current = match target {
                    Json::Null => 0,
                    Json::Number(num) => num.as_i64().ok_or_else(|| not_integer(path, &field))?,
                    _ => return Err(not_integer(path, &field)),
                };
                let sum = current
                    .checked_add(*n)
                    .ok_or_else(|| Error::invalid_argument(format!("cas {path}: the counter would overflow")))?;
                Json::Number(sum.into())
            }
        };
        result_value = json::to_python_text(target, None);
        Ok(Decision::Write(json::to_python_text(&value, None).into_bytes()))
    });
    client.close();
    outcome.map_err(crate::node::unknown_outcome)?;
    println!("{result_value}");
    Ok(exit::OK)
}

fn not_integer(path: &str, field: &[String]) -> Error {
    let what = if field.is_empty() { "the value".to_string() } else { format!("field {:?}", field.join(".")) };
    Error::invalid_argument(format!("cas {path}: {what} is not an integer"))
}

/// The value at `field` (nested object keys) inside `root`, added as null
/// (and intermediate objects as {}) when missing.
fn target_mut<'a>(root: &'a mut Json, field: &[String], path: &str) -> zkutil::Result<&'a mut Json> {
    let mut at = root;
    for (depth, key) in field.iter().enumerate() {
        let Json::Object(pairs) = at else {
            let which = if depth == 0 {
                "the node's value".to_string()
            } else {
                format!("field {:?}", field[..depth].join("."))
            };
            return Err(Error::new(Code::NotJsonObject, format!("cas {path}: {which} is not a JSON object")));
        };
        let index = match pairs.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                let fill = if depth + 1 < field.len() { Json::Object(Vec::new()) } else { Json::Null };
                pairs.push((key.clone(), fill));
                pairs.len() - 1
            }
        };
        at = &mut pairs[index].1;
    }
    Ok(at)
}
