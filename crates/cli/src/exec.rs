//! Carries out a request, whichever spelling it came in: resolves the targets (IDs,
//! `-All`, or piped objects), plans them with the core's rules, applies what-if and
//! confirm, acts through the host backend, and reports each outcome in the formats and
//! with the exit status of SPEC section 6.

use crate::cmdlet::{missing_selection, ActionPreference, BindError, OutputFormat, SelectionArg};
use crate::confirm::{Answer, Prompter};
use crate::{output, pipeline};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use wms_core::{plan, Outcome, Selection, SessionId, Step, TargetResult, Verb};
use wms_host::{Config, Host};

/// Exit statuses (SPEC 6).
pub mod exit {
    /// Every target was handled.
    pub const OK: u8 = 0;
    /// At least one target ended in an error.
    pub const TARGET_ERROR: u8 = 1;
    /// A usage or binding error; nothing was done.
    pub const USAGE: u8 = 2;
}

/// One command, in either spelling.
#[derive(Debug, Clone)]
pub struct Request {
    pub verb: Verb,
    pub selection: SelectionArg,
    pub servers: Vec<String>,
    /// Lock's message.
    pub message: Option<String>,
    pub what_if: bool,
    pub confirm: bool,
    pub verbose: bool,
    pub debug: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub output: Option<OutputFormat>,
}

fn past_tense(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "listed",
        Verb::Close => "closed",
        Verb::Disconnect => "disconnected",
        Verb::Lock => "locked",
        Verb::Unlock => "unlocked",
    }
}

/// Prints outcomes as they come and remembers whether any was an error.
struct Reporter {
    verb: Verb,
    json: bool,
    verbose: bool,
    error_action: ActionPreference,
    warning_action: ActionPreference,
    any_error: bool,
    /// Set by `-ErrorAction Stop` (or `-WarningAction Stop`): no further targets.
    stopped: bool,
}

impl Reporter {
    fn silent(p: ActionPreference) -> bool {
        matches!(
            p,
            ActionPreference::SilentlyContinue | ActionPreference::Ignore
        )
    }

    fn error_line(&mut self, message: &str, category: &str) {
        self.any_error = true;
        if !Self::silent(self.error_action) {
            eprintln!("{}: {message} ({category})", self.verb.cmdlet());
        }
        if self.error_action == ActionPreference::Stop {
            self.stopped = true;
        }
    }

    fn warning(&mut self, message: &str) {
        if !Self::silent(self.warning_action) {
            eprintln!("WARNING: {message}");
        }
        if self.warning_action == ActionPreference::Stop {
            self.any_error = true;
            self.stopped = true;
        }
    }

    fn verbose(&self, message: &str) {
        if self.verbose {
            eprintln!("VERBOSE: {message}");
        }
    }

    /// Reports one result; `quiet_skip` keeps a declined confirmation from warning.
    fn result(&mut self, r: &TargetResult, quiet_skip: bool) {
        if self.json {
            println!("{}", serde_json::to_string(r).expect("results serialise"));
        }
        let msg = r.message(past_tense(self.verb));
        match &r.outcome {
            Outcome::Done => self.verbose(&msg),
            Outcome::WhatIf => {}
            Outcome::Skipped(_) if quiet_skip => self.verbose(&msg),
            Outcome::Skipped(_) => self.warning(&msg),
            o => self.error_line(&msg, o.category().unwrap_or("InvalidOperationException")),
        }
    }
}

/// Where confirmation answers come from: standard input when it is a terminal; when
/// standard input carried the pipeline, the controlling terminal if there is one.
fn answer_source(stdin_is_pipeline: bool) -> Option<Box<dyn BufRead>> {
    if !stdin_is_pipeline {
        let stdin = io::stdin();
        return stdin
            .is_terminal()
            .then(|| Box::new(stdin.lock()) as Box<dyn BufRead>);
    }
    let tty = std::fs::File::open("/dev/tty").ok()?;
    tty.is_terminal()
        .then(|| Box::new(io::BufReader::new(tty)) as Box<dyn BufRead>)
}

/// The work on one server.
struct ServerWork {
    server: String,
    selection: Selection,
}

/// Runs `req`; returns the exit status.
pub fn run(req: Request) -> u8 {
    if req.debug {
        crate::debug_log::install();
    }
    let mut rep = Reporter {
        verb: req.verb,
        json: req.output == Some(OutputFormat::Json) && req.verb != Verb::Get,
        verbose: req.verbose,
        error_action: req.error_action,
        warning_action: req.warning_action,
        any_error: false,
        stopped: false,
    };
    let fail_usage = |e: BindError| {
        eprintln!("{e}");
        exit::USAGE
    };
    // Resolve the targets before touching anything: bad input changes nothing.
    let default_servers = if req.servers.is_empty() {
        vec!["localhost".to_string()]
    } else {
        req.servers.clone()
    };
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wms: {e}");
            return exit::TARGET_ERROR;
        }
    };
    let host = Host::new(config);
    let mut stdin_is_pipeline = false;
    let work: Vec<ServerWork> = match &req.selection {
        SelectionArg::Ids(ids) => each_server(&default_servers, Selection::Ids(to_ids(ids))),
        SelectionArg::All => each_server(&default_servers, Selection::All),
        SelectionArg::Unbound if req.verb == Verb::Get => {
            each_server(&default_servers, Selection::All)
        }
        SelectionArg::Unbound if io::stdin().is_terminal() => {
            return fail_usage(missing_selection(req.verb))
        }
        SelectionArg::Unbound => {
            stdin_is_pipeline = true;
            let mut input = String::new();
            if let Err(e) = io::stdin().read_to_string(&mut input) {
                return fail_usage(pipeline_error(
                    req.verb,
                    &format!("cannot read standard input: {e}"),
                ));
            }
            let targets = match pipeline::parse(&input) {
                Ok(t) => t,
                Err(m) => return fail_usage(pipeline_error(req.verb, &m)),
            };
            if targets.is_empty() {
                rep.verbose("No session objects on standard input; nothing to do.");
            }
            // A -Server given on the command line wins over piped properties, as in
            // PowerShell, where a parameter bound by name is not rebound from the pipeline.
            let mut work: Vec<ServerWork> = Vec::new();
            for t in targets {
                let servers = match (&t.server, req.servers.is_empty()) {
                    (Some(s), true) => vec![s.clone()],
                    _ => default_servers.clone(),
                };
                for server in servers {
                    match work
                        .iter_mut()
                        .find(|w| w.server.eq_ignore_ascii_case(&server))
                    {
                        Some(ServerWork {
                            selection: Selection::Ids(ids),
                            ..
                        }) => ids.push(t.session_id),
                        _ => work.push(ServerWork {
                            server,
                            selection: Selection::Ids(vec![t.session_id]),
                        }),
                    }
                }
            }
            work
        }
    };
    // localhost and this host's own names are one host: merge their work.
    let mut merged: Vec<ServerWork> = Vec::new();
    for w in work {
        let server = if host.names.is_local(&w.server) {
            host.names.fqdn.clone()
        } else {
            w.server
        };
        match merged
            .iter_mut()
            .find(|m| m.server.eq_ignore_ascii_case(&server))
        {
            None => merged.push(ServerWork {
                server,
                selection: w.selection,
            }),
            Some(m) => match (&mut m.selection, w.selection) {
                (Selection::Ids(a), Selection::Ids(b)) => a.extend(b),
                (sel, _) => *sel = Selection::All,
            },
        }
    }
    let mut prompter = Prompter::new(if req.confirm {
        answer_source(stdin_is_pipeline)
    } else {
        None
    });
    let mut listed = Vec::new();
    for w in merged {
        if rep.stopped {
            break;
        }
        if !host.names.is_local(&w.server) {
            rep.error_line(
                &format!(
                    "Cannot connect to server '{}': remote servers are reached through the wms agent (wmsd), which this version of wms does not include yet; run wms on that host instead.",
                    w.server
                ),
                "NotSupportedException",
            );
            continue;
        }
        let sessions = match host.sessions() {
            Ok(s) => s,
            Err(e) => {
                rep.error_line(
                    &format!("Cannot read the sessions of {}: {e}", host.names.fqdn),
                    "InvalidOperationException",
                );
                continue;
            }
        };
        if req.verb == Verb::Get {
            match &w.selection {
                Selection::All => listed.extend(sessions),
                Selection::Ids(ids) => {
                    for id in dedup(ids) {
                        match sessions.iter().find(|s| s.session_id == id) {
                            Some(s) => listed.push(s.clone()),
                            None => rep.result(
                                &TargetResult {
                                    computer_name: host.names.fqdn.clone(),
                                    session_id: id,
                                    user_name: None,
                                    outcome: Outcome::NotFound,
                                },
                                false,
                            ),
                        }
                    }
                }
            }
            continue;
        }
        let caller = host.caller();
        for step in plan(&caller, req.verb, &w.selection, &sessions) {
            if rep.stopped {
                break;
            }
            match step {
                Step::Report {
                    session_id,
                    user_name,
                    outcome,
                } => rep.result(
                    &TargetResult {
                        computer_name: host.names.fqdn.clone(),
                        session_id,
                        user_name,
                        outcome,
                    },
                    false,
                ),
                Step::Act(session) => {
                    let label = session.target_label();
                    let mut quiet = false;
                    let outcome = if req.what_if {
                        let line = format!(
                            "What if: Performing the operation \"{}\" on target \"{label}\".",
                            req.verb.cmdlet()
                        );
                        if rep.json {
                            eprintln!("{line}");
                        } else {
                            println!("{line}");
                        }
                        Outcome::WhatIf
                    } else {
                        let answer = if !req.confirm {
                            Answer::Yes
                        } else if !prompter.can_ask() {
                            quiet = false;
                            Answer::NoToAll
                        } else {
                            quiet = true;
                            prompter.ask(req.verb.cmdlet(), &label, &mut io::stderr())
                        };
                        match answer {
                            Answer::Yes | Answer::YesToAll => {
                                rep.verbose(&format!(
                                    "Performing the operation \"{}\" on target \"{label}\".",
                                    req.verb.cmdlet()
                                ));
                                act(&host, &req, &session, &rep)
                            }
                            Answer::No | Answer::NoToAll if quiet => {
                                Outcome::Skipped("declined at the confirmation prompt".into())
                            }
                            Answer::No | Answer::NoToAll => Outcome::Skipped(
                                "confirmation is required and standard input is not a terminal to ask on; declined".into(),
                            ),
                            Answer::Suspend => {
                                rep.error_line(
                                    "The operation was stopped at the prompt; the remaining sessions were not touched.",
                                    "PipelineStoppedException",
                                );
                                rep.stopped = true;
                                break;
                            }
                        }
                    };
                    rep.result(
                        &TargetResult {
                            computer_name: session.computer_name.clone(),
                            session_id: session.session_id,
                            user_name: Some(session.user_name.clone()),
                            outcome,
                        },
                        quiet,
                    );
                }
            }
        }
    }
    if req.verb == Verb::Get {
        let _ = io::stdout().write_all(
            output::sessions(req.output.unwrap_or(OutputFormat::List), &listed).as_bytes(),
        );
    }
    if rep.any_error {
        exit::TARGET_ERROR
    } else {
        exit::OK
    }
}

fn act(host: &Host, req: &Request, session: &wms_core::Session, rep: &Reporter) -> Outcome {
    match req.verb {
        Verb::Close => host.close(session),
        Verb::Disconnect => host.disconnect(session),
        Verb::Lock => host.lock(session, req.message.as_deref().unwrap_or_default()),
        Verb::Unlock => {
            if !session.is_locked {
                rep.verbose(&format!(
                    "{} is not locked; there is nothing to unlock.",
                    session.target_label()
                ));
            }
            host.unlock(session)
        }
        Verb::Get => unreachable!("Get is not an action"),
    }
}

fn each_server(servers: &[String], selection: Selection) -> Vec<ServerWork> {
    servers
        .iter()
        .map(|s| ServerWork {
            server: s.clone(),
            selection: selection.clone(),
        })
        .collect()
}

fn to_ids(ids: &[u32]) -> Vec<SessionId> {
    ids.iter().copied().map(SessionId).collect()
}

fn dedup(ids: &[SessionId]) -> Vec<SessionId> {
    let mut out: Vec<SessionId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

fn pipeline_error(verb: Verb, message: &str) -> BindError {
    BindError {
        cmdlet: verb.cmdlet().to_string(),
        message: format!("Cannot bind pipeline input: {message}. Nothing was done."),
        category: "ParameterBindingException",
    }
}
