//! `wms`: see and manage the login sessions of Linux hosts, MultiPoint style. Two
//! spellings of one command set: `wms session close 3` and `wms Close-WmsSession 3`.
//!
//! Exit status: 0 when every target was handled (or standard output was closed by its
//! reader, `wms ... | head -1`), 1 when any target ended in an error, 2 for a usage or
//! binding error (nothing was done).

use anyhow::Context;
use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use wms_cli::exec::{self, exit};
use wms_cli::output::WriteError;
use wms_cli::plan::{self, PlanError, Request};
use wms_cli::system_cmd::{self, SystemError};
use wms_cli::{cli, cmdlet, watch};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = wms_host::hidden_subcommand(&args) {
        return code;
    }
    // `wms <Verb>-WmsSession ...` is the cmdlet spelling; anything else is the Unix one.
    if let Some(verb) = args.get(1).and_then(|a| cmdlet::cmdlet_verb(a)) {
        let bound = cmdlet::bind(verb, &args[2..]).and_then(|inv| {
            // Mandatory parameters left out are asked for on a terminal, as PowerShell does.
            if std::io::stdin().is_terminal() {
                let stdin = std::io::stdin();
                let mut input = stdin.lock();
                let mut out = std::io::stderr();
                cmdlet::complete(
                    inv,
                    Some(cmdlet::Prompt {
                        input: &mut input,
                        out: &mut out,
                    }),
                )
            } else {
                cmdlet::complete(inv, None)
            }
        });
        return match bound {
            Ok(inv) => run(Request {
                spelling: plan::Spelling::Cmdlet,
                verb: inv.verb,
                selection: inv.selection,
                filter: inv.filter,
                servers: inv.server.into_iter().collect(),
                hosts_file: None,
                message: inv.message,
                logind: inv.logind,
                what_if: inv.what_if,
                confirm: inv.confirm.unwrap_or(false),
                verbose: inv.verbose,
                debug: inv.debug,
                error_action: inv.error_action,
                warning_action: inv.warning_action,
                output: inv.output,
                view: wms_cli::view::View {
                    classes: inv.classes,
                    sort: inv.sort,
                    descending: inv.descending,
                },
                thumbnail: inv
                    .thumbnail
                    .map(|size| plan::ThumbnailWant { size, dir: None }),
            }),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(exit::USAGE)
            }
        };
    }
    let parsed = match cli::Cli::try_parse() {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    if let cli::Command::System(cmd) = parsed.command {
        return match system(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if closed_stdout(&e) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wms system: {e:#}");
                ExitCode::from(exit::TARGET_ERROR)
            }
        };
    }
    if let cli::Command::Dashboard(d) = &parsed.command {
        let port = d.port;
        return match cli::to_request(parsed) {
            Ok(req) => run_with(req, |plan| wms_cli::dashboard::run(plan, port)),
            Err(msg) => {
                eprintln!("wms: {msg}");
                ExitCode::from(exit::USAGE)
            }
        };
    }
    let watch = match &parsed.command {
        cli::Command::Session(cli::SessionCommand::Watch(w)) => Some(match w.output {
            cli::WatchOutput::Lines => watch::WatchFormat::Lines,
            cli::WatchOutput::Json => watch::WatchFormat::Json,
        }),
        _ => None,
    };
    match cli::to_request(parsed) {
        Ok(req) => match watch {
            Some(format) => run_with(req, |plan| watch::run(plan, format)),
            None => run(req),
        },
        Err(msg) => {
            eprintln!("wms: {msg}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// The two steps: the plan (nothing is done when it cannot be made), then its execution.
fn run(req: Request) -> ExitCode {
    run_with(req, exec::run)
}

/// [`run`], with `execute` as the second step.
fn run_with(req: Request, execute: impl FnOnce(plan::Plan) -> u8) -> ExitCode {
    match plan::resolve(req) {
        Ok(plan) => ExitCode::from(execute(plan)),
        Err(PlanError::Binding(e)) => {
            eprintln!("{e}");
            ExitCode::from(exit::USAGE)
        }
        Err(e @ (PlanError::HostsFile { .. } | PlanError::Usage(_))) => {
            eprintln!("wms: {e}");
            ExitCode::from(exit::USAGE)
        }
        Err(e @ PlanError::Config(_)) => {
            eprintln!("wms: {e}");
            ExitCode::from(exit::TARGET_ERROR)
        }
    }
}

/// Whether `e` is only that standard output was closed by its reader: a quiet end, as
/// ripgrep does it.
fn closed_stdout(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<SystemError>(),
        Some(SystemError::Output(WriteError::Closed))
    )
}

fn system(cmd: cli::SystemCommand) -> anyhow::Result<()> {
    match cmd {
        cli::SystemCommand::Add {
            host,
            name,
            token,
            token_file,
            fingerprint,
            ca,
        } => {
            let token = match (token, token_file) {
                (Some(t), _) => t,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_string())
                    .with_context(|| format!("cannot read the token file {}", path.display()))?,
                (None, None) => unreachable!("clap requires a token or a token file"),
            };
            system_cmd::add(system_cmd::AddArgs {
                name: name.unwrap_or_else(|| host.clone()),
                host,
                token,
                fingerprint,
                ca,
            })?
        }
        cli::SystemCommand::List => system_cmd::list()?,
        cli::SystemCommand::Remove { name } => system_cmd::remove(&name)?,
    }
    Ok(())
}
