//! Man pages and shell completions for `wms` and `wmsd`, generated from the clap
//! definitions both binaries parse with (`wms_cli::cli::Cli`, `wms_agent::cli::Args`), so
//! what the documentation says is what the parser accepts. `scripts/deb` runs the
//! `wms-dist` binary and packs its output; the tests render the pages with `man` and load
//! the completions in bash, zsh and fish.

use clap::CommandFactory;
use clap_complete::Shell;
use std::io;
use std::path::{Path, PathBuf};

/// The shells completions are made for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The binaries documented, with their clap definitions.
pub fn commands() -> Vec<clap::Command> {
    vec![
        wms_cli::cli::Cli::command(),
        wms_agent::cli::Args::command(),
    ]
}

/// `wms` as the shells complete it: its subcommands and the cmdlet names
/// (`wms Close-<Tab>`), which the parser takes as external subcommands and binds by
/// PowerShell's rules, so clap knows no parameters of theirs to offer.
fn with_cmdlet_names(cmd: clap::Command) -> clap::Command {
    wms_core::Verb::ALL.iter().fold(cmd, |cmd, verb| {
        cmd.subcommand(
            clap::Command::new(verb.cmdlet())
                .about("The MultiPoint cmdlet spelling (e.g. -SessionId 3,4 -WhatIf)"),
        )
    })
}

/// What was written, for the caller to report.
#[derive(Debug, Default)]
pub struct Written {
    /// `man/NAME.1` for each binary and each of its subcommands.
    pub man_pages: Vec<PathBuf>,
    /// `completions/wms.bash`, `completions/_wms`, `completions/wms.fish`, and wmsd's.
    pub completions: Vec<PathBuf>,
}

/// Writes the man pages into `out/man` and the completions into `out/completions`.
pub fn write_all(out: &Path) -> io::Result<Written> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut written = Written::default();
    for cmd in commands() {
        // One page for the binary and one per subcommand (wms-session-close.1), each
        // named as clap names it in usage lines.
        clap_mangen::generate_to(cmd.clone(), &man)?;
        let name = cmd.get_name().to_string();
        let completed = if name == "wms" {
            with_cmdlet_names(cmd)
        } else {
            cmd
        };
        for shell in SHELLS {
            let mut cmd = completed.clone();
            written.completions.push(clap_complete::generate_to(
                shell,
                &mut cmd,
                &name,
                &completions,
            )?);
        }
    }
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    pages.sort();
    written.man_pages = pages;
    Ok(written)
}
