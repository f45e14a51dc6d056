//! `wms`: see and manage the login sessions of Linux hosts, MultiPoint style. Two
//! spellings of one command set: `wms session close 3` and `wms Close-WmsSession 3`.
//!
//! Exit status: 0 when every target was handled, 1 when any target ended in an error,
//! 2 for a usage or binding error (nothing was done).

use clap::Parser;
use std::process::ExitCode;
use wms_cli::{cli, cmdlet, exec};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `wms <Verb>-WmsSession ...` is the cmdlet spelling; anything else is the Unix one.
    if let Some(verb) = args.get(1).and_then(|a| cmdlet::cmdlet_verb(a)) {
        return match cmdlet::bind(verb, &args[2..]) {
            Ok(inv) => ExitCode::from(exec::run(exec::Request {
                verb: inv.verb,
                selection: inv.selection,
                servers: inv.server.into_iter().collect(),
                message: inv.message,
                what_if: inv.what_if,
                confirm: inv.confirm.unwrap_or(false),
                verbose: inv.verbose,
                debug: inv.debug,
                error_action: inv.error_action,
                warning_action: inv.warning_action,
                output: inv.output,
            })),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(exec::exit::USAGE)
            }
        };
    }
    let parsed = match cli::Cli::try_parse() {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exec::exit::USAGE } else { 0 });
        }
    };
    if let cli::Command::System(cmd) = parsed.command {
        return system(cmd);
    }
    match cli::to_request(parsed) {
        Ok(req) => ExitCode::from(exec::run(req)),
        Err(msg) => {
            eprintln!("wms: {msg}");
            ExitCode::from(exec::exit::USAGE)
        }
    }
}

fn system(cmd: cli::SystemCommand) -> ExitCode {
    use wms_cli::system_cmd;
    let result = match cmd {
        cli::SystemCommand::Add {
            host,
            name,
            token,
            token_file,
            fingerprint,
            ca,
        } => token
            .map(Ok)
            .unwrap_or_else(|| {
                let path = token_file.expect("clap requires a token or a token file");
                std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_string())
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))
            })
            .and_then(|token| {
                system_cmd::add(system_cmd::AddArgs {
                    name: name.unwrap_or_else(|| host.clone()),
                    host,
                    token,
                    fingerprint,
                    ca,
                })
            }),
        cli::SystemCommand::List => system_cmd::list(),
        cli::SystemCommand::Remove { name } => system_cmd::remove(&name),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wms system: {e}");
            ExitCode::from(exec::exit::TARGET_ERROR)
        }
    }
}
