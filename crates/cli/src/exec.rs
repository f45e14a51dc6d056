//! Carries out a request, whichever spelling it came in: resolves the targets (IDs,
//! `-All`, or piped objects), plans them with the core's rules, applies what-if and
//! confirm, acts through the host backend, and reports each outcome in the formats and
//! with the exit status of SPEC section 6.

use crate::agent_client::AgentClient;
use crate::cmdlet::{missing_selection, ActionPreference, BindError, OutputFormat, SelectionArg};
use crate::confirm::{Answer, Prompter};
use crate::systems::Systems;
use crate::{output, pipeline};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use wms_core::api::{ActionRequest, ActionVerb};
use wms_core::{unique_ids, Caller, Outcome, Selection, Session, SessionId, TargetResult, Verb};
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

    /// PowerShell's what-if line (on standard error when standard output carries JSON).
    fn what_if(&self, label: &str) {
        let line = format!(
            "What if: Performing the operation \"{}\" on target \"{label}\".",
            self.verb.cmdlet()
        );
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
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
            // One piece of work per target and server; the merge below groups them.
            targets
                .into_iter()
                .flat_map(|t| {
                    let servers = match (&t.server, req.servers.is_empty()) {
                        (Some(s), true) => vec![s.clone()],
                        _ => default_servers.clone(),
                    };
                    servers.into_iter().map(move |server| ServerWork {
                        server,
                        selection: Selection::Ids(vec![t.session_id]),
                    })
                })
                .collect()
        }
    };
    // One entry per server, in the order first named; localhost and this host's own names
    // are one host.
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
    let remote = merged.iter().any(|w| !host.names.is_local(&w.server));
    let systems = remote.then(|| crate::systems::path().and_then(|p| Systems::load(&p)));
    // Each server's backend. This host: its agent when one answers (it has the privileges
    // and keeps the audit log), else the engine here with the caller's own identity.
    // Another host: its agent, over TLS.
    let jobs: Vec<(ServerWork, Result<Backend, String>)> = merged
        .into_iter()
        .map(|w| {
            let backend = if host.names.is_local(&w.server) {
                Ok(match AgentClient::connect(&host.config.socket) {
                    Some(a) => {
                        tracing::debug!(agent = %a.describe(), "using the agent");
                        Backend::Agent(a)
                    }
                    None => Backend::Local {
                        host: &host,
                        caller: host.caller(),
                    },
                })
            } else {
                remote_backend(
                    &w.server,
                    systems.as_ref().expect("loaded for remote servers"),
                )
            };
            (w, backend)
        })
        .collect();
    let stepwise = req.confirm || req.verbose || req.error_action == ActionPreference::Stop;
    if jobs.len() == 1 || (req.verb != Verb::Get && stepwise) {
        for (w, backend) in &jobs {
            if rep.stopped {
                break;
            }
            match backend {
                Err(e) => rep.error_line(e, "InvalidOperationException"),
                Ok(b) if req.verb == Verb::Get => match b.sessions() {
                    Ok(sessions) => select(
                        labelled(sessions, b, &w.server),
                        &w.selection,
                        &w.server,
                        &mut rep,
                        &mut listed,
                    ),
                    Err(e) => rep.error_line(&e, "InvalidOperationException"),
                },
                Ok(b) => act_on(b, &req, &w.selection, &mut rep, &mut prompter),
            }
        }
    } else {
        // Many servers at once: each is worked on concurrently, and the results are
        // reported in the order the servers were given.
        let outs = concurrently(&jobs, |(w, backend)| match backend {
            Err(e) => Err(e.clone()),
            Ok(b) if req.verb == Verb::Get => b
                .sessions()
                .map(|s| Done::Sessions(labelled(s, b, &w.server))),
            Ok(b) => b
                .action(&action_request(&req, &w.selection, req.what_if))
                .map(Done::Results),
        });
        for ((w, _), out) in jobs.iter().zip(outs) {
            if rep.stopped {
                break;
            }
            match out {
                Err(e) => rep.error_line(&e, "InvalidOperationException"),
                Ok(Done::Sessions(s)) => select(s, &w.selection, &w.server, &mut rep, &mut listed),
                Ok(Done::Results(r)) => report_all(&mut rep, r),
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

/// Where the engine runs for this host: here, or in the agent.
enum Backend<'a> {
    Local { host: &'a Host, caller: Caller },
    Agent(AgentClient),
}

/// Sessions listed through another host's agent carry the server name they came through.
fn labelled(mut sessions: Vec<Session>, backend: &Backend, server: &str) -> Vec<Session> {
    if backend.is_remote() {
        for s in &mut sessions {
            s.server = Some(server.to_string());
        }
    }
    sessions
}

/// What one server's work produced.
enum Done {
    Sessions(Vec<Session>),
    Results(Vec<TargetResult>),
}

/// The agent of another host, as `wms system add` recorded it.
fn remote_backend(
    server: &str,
    systems: &Result<Systems, String>,
) -> Result<Backend<'static>, String> {
    let systems = systems.as_ref().map_err(Clone::clone)?;
    let system = systems.find(server).ok_or_else(|| {
        format!(
            "Cannot connect to server '{server}': it has not been added; add it with `wms system add {server}`."
        )
    })?;
    AgentClient::remote(system).map(Backend::Agent)
}

/// The most servers worked on at once.
const MAX_CONCURRENT_SERVERS: usize = 32;

/// Runs `work` on every job, up to [`MAX_CONCURRENT_SERVERS`] at a time, showing progress
/// on a terminal; the outputs are in the jobs' order.
fn concurrently<J: Sync, T: Send>(jobs: &[J], work: impl Fn(&J) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outs: Mutex<Vec<Option<T>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    let progress = crate::progress::Progress::new(jobs.len());
    std::thread::scope(|scope| {
        for _ in 0..jobs.len().min(MAX_CONCURRENT_SERVERS) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let out = work(job);
                outs.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(out);
                progress.show(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    progress.finish();
    outs.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

/// The request for `verb` over `sel`.
fn action_request(req: &Request, sel: &Selection, what_if: bool) -> ActionRequest {
    let verb = ActionVerb::from_verb(req.verb).expect("Get is not an action");
    ActionRequest::new(verb, sel, req.message.clone(), what_if)
}

/// Reports a batch of results: a what-if line for each WhatIf, then the outcome.
fn report_all(rep: &mut Reporter, results: Vec<TargetResult>) {
    for r in results {
        if rep.stopped {
            break;
        }
        if r.outcome == Outcome::WhatIf {
            rep.what_if(&r.target_label());
        }
        rep.result(&r, false);
    }
}

impl Backend<'_> {
    fn is_remote(&self) -> bool {
        matches!(self, Backend::Agent(a) if a.is_remote())
    }

    fn sessions(&self) -> Result<Vec<Session>, String> {
        match self {
            Backend::Local { host, .. } => host
                .sessions()
                .map_err(|e| format!("Cannot read the sessions of {}: {e}", host.names.fqdn)),
            Backend::Agent(a) => a.sessions(),
        }
    }

    fn action(&self, r: &ActionRequest) -> Result<Vec<TargetResult>, String> {
        match self {
            Backend::Local { host, caller } => {
                let sel = r.selection()?;
                host.run_action(caller, r, &sel)
                    .map_err(|e| format!("Cannot read the sessions of {}: {e}", host.names.fqdn))
            }
            Backend::Agent(a) => a.action(r).map(|resp| resp.results),
        }
    }
}

/// Get: the sessions named by `sel`, and NotFound for IDs that name none.
fn select(
    sessions: Vec<Session>,
    sel: &Selection,
    computer: &str,
    rep: &mut Reporter,
    listed: &mut Vec<Session>,
) {
    match sel {
        Selection::All => listed.extend(sessions),
        Selection::Ids(ids) => {
            for id in unique_ids(ids) {
                match sessions.iter().find(|s| s.session_id == id) {
                    Some(s) => listed.push(s.clone()),
                    None => rep.result(
                        &TargetResult {
                            computer_name: computer.to_string(),
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
}

/// An action on one host: what-if, or act at once, or (with -Confirm, -Verbose or
/// -ErrorAction Stop) plan first and then ask and act one target at a time, so a prompt
/// or an error can end the command between targets.
fn act_on(
    backend: &Backend,
    req: &Request,
    sel: &Selection,
    rep: &mut Reporter,
    prompter: &mut Prompter,
) {
    let request = |sel: &Selection, what_if: bool| action_request(req, sel, what_if);
    let call = |rep: &mut Reporter, r: ActionRequest| match backend.action(&r) {
        Ok(v) => Some(v),
        Err(e) => {
            rep.error_line(&e, "InvalidOperationException");
            None
        }
    };
    let stepwise = req.confirm || req.verbose || req.error_action == ActionPreference::Stop;
    if req.what_if || !stepwise {
        let results = call(rep, request(sel, req.what_if)).unwrap_or_default();
        report_all(rep, results);
        return;
    }
    // Sessions that are not locked, to say so when -Verbose unlocks them.
    let not_locked: Vec<SessionId> = if req.verb == Verb::Unlock {
        backend
            .sessions()
            .map(|v| {
                v.into_iter()
                    .filter(|s| !s.is_locked)
                    .map(|s| s.session_id)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for planned in call(rep, request(sel, true)).unwrap_or_default() {
        if rep.stopped {
            break;
        }
        if planned.outcome != Outcome::WhatIf {
            rep.result(&planned, false);
            continue;
        }
        let label = planned.target_label();
        let (answer, quiet) = if !req.confirm {
            (Answer::Yes, false)
        } else if !prompter.can_ask() {
            (Answer::NoToAll, false)
        } else {
            (
                prompter.ask(req.verb.cmdlet(), &label, &mut io::stderr()),
                true,
            )
        };
        let declined = match answer {
            Answer::Yes | Answer::YesToAll => {
                rep.verbose(&format!(
                    "Performing the operation \"{}\" on target \"{label}\".",
                    req.verb.cmdlet()
                ));
                if not_locked.contains(&planned.session_id) {
                    rep.verbose(&format!(
                        "{label} is not locked; there is nothing to unlock."
                    ));
                }
                let one = Selection::Ids(vec![planned.session_id]);
                for r in call(rep, request(&one, false)).unwrap_or_default() {
                    rep.result(&r, false);
                }
                continue;
            }
            Answer::No | Answer::NoToAll if quiet => "declined at the confirmation prompt",
            Answer::No | Answer::NoToAll => {
                "confirmation is required and standard input is not a terminal to ask on; declined"
            }
            Answer::Suspend => {
                rep.error_line(
                    "The operation was stopped at the prompt; the remaining sessions were not touched.",
                    "PipelineStoppedException",
                );
                rep.stopped = true;
                break;
            }
        };
        rep.result(
            &TargetResult {
                outcome: Outcome::Skipped(declined.into()),
                ..planned
            },
            quiet,
        );
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

fn pipeline_error(verb: Verb, message: &str) -> BindError {
    BindError {
        cmdlet: verb.cmdlet().to_string(),
        message: format!("Cannot bind pipeline input: {message}. Nothing was done."),
        category: "ParameterBindingException",
    }
}
