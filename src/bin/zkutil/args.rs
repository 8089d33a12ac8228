//! The pieces of the command-line grammar every subcommand shares, on
//! clap: value parsers whose errors name the argument (non-UTF-8 text
//! included), and clap's errors turned into zkutil's usage messages.
//!
//! The help texts stay hand-written (each subcommand's `HELP`, printed by
//! clap through `override_help`); clap parses, completes and reports.

use std::ffi::OsStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

/// A value parser for text arguments: refuses non-UTF-8 and then applies
/// `convert`; both errors name the argument (`--timeout`, `PATH`).
#[derive(Clone, Copy)]
pub struct Text<T>(pub fn(&str) -> Result<T, String>);

/// Any text, as given.
pub const TEXT: Text<String> = Text(text);
/// Seconds, fractions allowed, 0 or more.
pub const SECONDS: Text<Duration> = Text(seconds);
/// An exit status.
pub const STATUS: Text<u8> = Text(integer);

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Text<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let name = arg.map_or_else(|| "an argument".to_string(), arg_name);
        let text = value.to_str().ok_or_else(|| invalid(cmd, format!("{name}: not valid UTF-8: {value:?}")))?;
        (self.0)(text).map_err(|message| invalid(cmd, format!("{name}: {message}")))
    }
}

/// How messages call an argument: `--timeout` for an option, `PATH` for a
/// positional.
fn arg_name(arg: &Arg) -> String {
    match (arg.get_long(), arg.get_value_names()) {
        (Some(long), _) => format!("--{long}"),
        (None, Some([name, ..])) => name.to_string(),
        _ => arg.get_id().to_string(),
    }
}

/// A usage error carrying its whole message (see [`usage_message`]).
fn invalid(cmd: &Command, message: String) -> clap::Error {
    let mut error = clap::Error::new(ErrorKind::ValueValidation).with_cmd(cmd);
    error.insert(ContextKind::Custom, ContextValue::String(message));
    error
}

fn text(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

pub fn seconds(text: &str) -> Result<Duration, String> {
    text.parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("takes seconds (0 or more), got {text:?}"))
}

/// Seconds, more than 0.
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    match seconds(text)? {
        d if d.is_zero() => Err("must be positive".to_string()),
        d => Ok(d),
    }
}

pub fn integer<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("takes an integer, got {text:?}"))
}

/// The message for a command line clap refused (help and version requests
/// are not errors and are handled before).
pub fn usage_message(error: &clap::Error) -> String {
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(list)) => list.join(" "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        _ => String::new(),
    };
    let list = |kind| match error.get(kind) {
        Some(ContextValue::Strings(list)) => list.clone(),
        _ => Vec::new(),
    };
    let arg = text(ContextKind::InvalidArg);
    // "--timeout <S>" -> "--timeout"; "<PATH>" -> "PATH".
    let bare = |arg: &str| arg.split(' ').next().unwrap_or_default().trim_matches(['<', '>']).to_string();
    match error.kind() {
        ErrorKind::ValueValidation if error.get(ContextKind::Custom).is_some() => text(ContextKind::Custom),
        ErrorKind::InvalidSubcommand => {
            format!("unknown subcommand {:?} (zkutil --help lists them)", text(ContextKind::InvalidSubcommand))
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') => format!("unknown option {arg:?}"),
        ErrorKind::UnknownArgument => format!("unexpected argument {arg:?}"),
        ErrorKind::MissingRequiredArgument => {
            let names: Vec<String> = list(ContextKind::InvalidArg).iter().map(|a| bare(a)).collect();
            format!("missing {}", names.join(" "))
        }
        ErrorKind::InvalidValue if text(ContextKind::InvalidValue).is_empty() => {
            format!("{} needs a value", bare(&arg))
        }
        ErrorKind::TooManyValues => format!("{} takes no value", bare(&arg)),
        ErrorKind::InvalidValue => format!(
            "{}: {:?} is not one of {}",
            bare(&arg),
            text(ContextKind::InvalidValue),
            list(ContextKind::ValidValue).join(", ")
        ),
        // Anything else: clap's own first line.
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        for bad in ["-1", "soon", "inf", "NaN", "1e10", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(positive_seconds("0"), Err("must be positive".to_string()));
        assert!(positive_seconds("x").unwrap_err().contains("takes seconds"));
        assert_eq!(integer::<u8>("75"), Ok(75));
        assert!(integer::<u8>("300").is_err());
    }
}
