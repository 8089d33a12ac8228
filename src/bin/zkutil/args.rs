//! A small command-line parser: flags with or without a value
//! (`--flag value` or `--flag=value`), positionals, and `--` ending the
//! options (everything after it is kept as is, for `zkutil lock`).
//!
//! Hand-written rather than clap: the whole grammar fits here, it keeps the
//! library's dependency tree as it is, and the help texts are written by
//! hand anyway (see each subcommand's `HELP`).

use std::collections::HashMap;
use std::time::Duration;

use crate::CliError;

/// A flag a subcommand (or every subcommand) accepts.
#[derive(Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    pub takes_value: bool,
}

pub const fn flag(name: &'static str) -> Flag {
    Flag { name, takes_value: false }
}

pub const fn opt(name: &'static str) -> Flag {
    Flag { name, takes_value: true }
}

/// What the command line said.
#[derive(Debug, Default)]
pub struct Parsed {
    values: HashMap<&'static str, Vec<String>>,
    pub positionals: Vec<String>,
    /// The words after `--`, when `--` was given.
    pub rest: Option<Vec<String>>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The last value given for a flag.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value given for a repeatable flag, in order.
    pub fn values(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// Exactly `names.len()` positionals (named in the error message).
    pub fn expect_positionals(&self, names: &[&str]) -> Result<Vec<&str>, CliError> {
        if self.positionals.len() < names.len() {
            return Err(CliError::usage(format!("missing {}", names[self.positionals.len()..].join(" "))));
        }
        if self.positionals.len() > names.len() {
            return Err(CliError::usage(format!("unexpected argument {:?}", self.positionals[names.len()])));
        }
        Ok(self.positionals.iter().map(String::as_str).collect())
    }

    /// A `--timeout`-style value in seconds (fractions allowed; 0 makes one
    /// attempt without waiting). `None` when not given.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, CliError> {
        let Some(text) = self.value(name) else { return Ok(None) };
        let secs: f64 = text
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .ok_or_else(|| CliError::usage(format!("--{name} takes seconds (0 or more), got {text:?}")))?;
        Ok(Some(Duration::from_secs_f64(secs)))
    }

    pub fn integer<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, CliError> {
        let Some(text) = self.value(name) else { return Ok(None) };
        text.parse().map(Some).map_err(|_| CliError::usage(format!("--{name} takes an integer, got {text:?}")))
    }
}

/// Parses `args` against `flags`. A word starting with `-` that is not a
/// known flag is refused, except `-` alone and negative numbers, which are
/// positionals.
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, CliError> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            parsed.rest = Some(args[i..].to_vec());
            break;
        }
        let is_number = arg.len() > 1 && arg[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if !arg.starts_with('-') || arg == "-" || (arg.starts_with('-') && !arg.starts_with("--") && is_number) {
            parsed.positionals.push(arg.clone());
            continue;
        }
        let body = arg.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let name = if arg == "-h" { "help" } else { name };
        let spec =
            flags.iter().find(|f| f.name == name).ok_or_else(|| CliError::usage(format!("unknown option {arg:?}")))?;
        let value = if spec.takes_value {
            match inline {
                Some(v) => v,
                None => {
                    let v = args.get(i).cloned().ok_or_else(|| CliError::usage(format!("--{name} needs a value")))?;
                    i += 1;
                    v
                }
            }
        } else {
            if inline.is_some() {
                return Err(CliError::usage(format!("--{name} takes no value")));
            }
            String::new()
        };
        parsed.values.entry(spec.name).or_default().push(value);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn flags_positionals_and_rest() {
        let flags = [opt("timeout"), flag("json"), opt("hosts")];
        let p = parse(&words("a --timeout 1.5 --json b --hosts=h:1 -5 - -- cmd --json x"), &flags).unwrap();
        assert_eq!(p.positionals, ["a", "b", "-5", "-"]);
        assert_eq!(p.value("timeout"), Some("1.5"));
        assert_eq!(p.seconds("timeout").unwrap(), Some(Duration::from_millis(1500)));
        assert!(p.has("json"));
        assert_eq!(p.value("hosts"), Some("h:1"));
        assert_eq!(p.rest.as_deref(), Some(&words("cmd --json x")[..]));
        assert!(parse(&words("--nope"), &flags).is_err());
        assert!(parse(&words("--timeout"), &flags).is_err());
        assert!(parse(&words("--json=1"), &flags).is_err());
        let p = parse(&words("--timeout -1"), &flags).unwrap();
        assert!(p.seconds("timeout").is_err());
        assert_eq!(p.expect_positionals(&[]).unwrap().len(), 0);
        assert!(p.expect_positionals(&["PATH"]).is_err());
    }
}
