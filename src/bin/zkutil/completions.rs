//! `zkutil completions SHELL`: the shell completion script clap generates
//! from the command line's grammar.

use clap::Args;
use clap_complete::Shell;

use crate::{CliError, exit};

pub const HELP: &str = "\
Usage: zkutil completions SHELL

Prints the completion script for SHELL (bash, zsh, fish, elvish or
powershell) on stdout: subcommands and options complete on Tab. E.g.

  source <(zkutil completions bash)                  # this bash session
  zkutil completions bash > /etc/bash_completion.d/zkutil
  zkutil completions zsh > \"${fpath[1]}/_zkutil\"
  zkutil completions fish > ~/.config/fish/completions/zkutil.fish
";

#[derive(Args)]
pub struct CompletionsArgs {
    shell: Shell,
}

pub fn print(args: CompletionsArgs, mut grammar: clap::Command) -> Result<u8, CliError> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut grammar, "zkutil", &mut out);
    std::io::Write::write_all(&mut std::io::stdout(), &out).map_err(|e| CliError::io("stdout", e))?;
    Ok(exit::OK)
}
