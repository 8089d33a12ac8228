//! `zkutil cas`: an atomic read-modify-write of a JSON node (k3zkutil's
//! cas_loop): a counter, or a field of a JSON object.

use zkutil::cas::{self, CasOptions, Decision};
use zkutil::hierarchy::json::{self, Json};
use zkutil::{Code, Error};

use crate::args::{Parsed, flag, opt};
use crate::{CliError, Global, Subcommand, exit, timeout_flag};

pub static CAS: Subcommand = Subcommand {
    name: "cas",
    summary: "atomically update a JSON node: a counter or one field",
    help: "\
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
",
    flags: &[flag("incr"), opt("add"), opt("set"), opt("field"), flag("create"), opt("max-attempts"), opt("timeout")],
    connects: true,
    run: run_cas,
};

enum Op {
    Add(i64),
    Set(Json),
}

fn run_cas(parsed: &Parsed, global: &Global) -> Result<u8, CliError> {
    let [path] = parsed.expect_positionals(&["PATH"])?[..] else { unreachable!() };
    let ops = [parsed.has("incr"), parsed.has("add"), parsed.has("set")];
    if ops.iter().filter(|x| **x).count() != 1 {
        return Err(CliError::usage("cas: give one of --incr, --add N, --set JSON"));
    }
    let op = if parsed.has("incr") {
        Op::Add(1)
    } else if let Some(n) = parsed.integer::<i64>("add")? {
        Op::Add(n)
    } else {
        let text = parsed.value("set").unwrap_or_default();
        Op::Set(json::parse(text).map_err(|e| CliError::usage(format!("cas: --set: {}", e.message())))?)
    };
    let field: Vec<String> = match parsed.value("field") {
        Some(f) if f.split('.').any(str::is_empty) => return Err(CliError::usage(format!("cas: bad --field {f:?}"))),
        Some(f) => f.split('.').map(str::to_string).collect(),
        None => Vec::new(),
    };
    let max_attempts = parsed.integer::<u32>("max-attempts")?.unwrap_or(0);
    let timeout = timeout_flag(parsed, crate::node::DEFAULT_TIMEOUT)?;
    let initial: &[u8] = match (&op, field.is_empty()) {
        (_, false) => b"{}",
        (Op::Add(_), true) => b"0",
        (Op::Set(_), true) => b"null",
    };
    let options = CasOptions {
        json: true,
        create_with: parsed.has("create").then(|| initial.to_vec()),
        create_parents: parsed.has("create"),
    };
    let client = global.connect()?;
    let mut result_value = String::new();
    let outcome = cas::update(&client, path, options, max_attempts, timeout, |c| {
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
