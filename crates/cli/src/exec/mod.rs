//! The second of the command line's two steps: carries out a [`Plan`], whichever spelling
//! it came from. Each server's backend is chosen ([`backend`]), Get lists and selects,
//! actions go through what-if and confirm ([`act`]), many servers are worked on at once
//! ([`fleet`]), and each outcome is reported ([`report`]) in the formats and with the exit
//! status of SPEC section 6. All network calls run on one runtime.

mod act;
pub(crate) mod backend;
mod fleet;
pub(crate) mod report;
mod thumbs;

use crate::cmdlet::{ActionPreference, OutputFormat};
use crate::confirm::Prompter;
use crate::filter::Filter;
use crate::output::{self, WriteError};
use crate::plan::{Plan, Spelling};
use act::{act_on, action_request, answer_source};
use backend::{labelled, Backend, BackendError};
use report::Reporter;
use std::io::IsTerminal;
use std::sync::Arc;
use wms_core::{unique_ids, Outcome, Selection, Session, TargetResult, Verb};

/// Exit statuses (SPEC 6).
pub mod exit {
    /// Every target was handled (or standard output was closed by its reader).
    pub const OK: u8 = 0;
    /// At least one target ended in an error.
    pub const TARGET_ERROR: u8 = 1;
    /// A usage or binding error; nothing was done.
    pub const USAGE: u8 = 2;
}

/// What one server's work produced.
enum Done {
    Sessions(Vec<Session>),
    Results(Vec<TargetResult>),
}

/// One server's work and where it is done.
struct Job {
    server: String,
    selection: Selection,
    backend: Result<Arc<Backend>, String>,
}

/// Carries out `plan`; returns the exit status.
pub fn run(plan: Plan) -> u8 {
    let mut rep = Reporter {
        spelling: plan.spelling,
        verb: if plan.thumbnail.is_some() {
            Verb::Thumbnail
        } else {
            plan.verb
        },
        json: plan.output == Some(OutputFormat::Json) && plan.verb != Verb::Get,
        verbose: plan.verbose,
        error_action: plan.error_action,
        warning_action: plan.warning_action,
        any_error: false,
        stopped: false,
        stdout_closed: false,
        inquirer: crate::confirm::Inquirer::new(
            (plan.error_action == ActionPreference::Inquire
                || plan.warning_action == ActionPreference::Inquire)
                .then(act::terminal)
                .flatten(),
        ),
    };
    if plan.empty_pipeline {
        rep.verbose("No session objects on standard input; nothing to do.");
    }
    let rt = match crate::agent_client::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wms: {e}");
            return exit::TARGET_ERROR;
        }
    };
    let mut prompter = Prompter::new(if plan.confirm {
        answer_source(plan.stdin_is_pipeline)
    } else {
        None
    });
    let jobs: Vec<Job> = plan
        .targets
        .iter()
        .map(|t| Job {
            server: t.server.clone(),
            selection: t.selection.clone(),
            backend: Backend::for_place(&plan.host, &t.place)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
        })
        .collect();
    if let Some(want) = &plan.thumbnail {
        thumbs::run(&plan, want, &rt, &jobs, &mut rep);
        return if rep.any_error {
            exit::TARGET_ERROR
        } else {
            exit::OK
        };
    }
    let mut listed = Vec::new();
    if jobs.len() == 1 || (plan.verb != Verb::Get && plan.stepwise()) {
        for job in &jobs {
            if rep.stopped {
                break;
            }
            match &job.backend {
                Err(e) => rep.error_line(e, "InvalidOperationException"),
                Ok(b) if plan.verb == Verb::Get => match rt.block_on(b.sessions()) {
                    Ok(sessions) => select(
                        labelled(sessions, b, &job.server),
                        &plan,
                        job,
                        &mut rep,
                        &mut listed,
                    ),
                    Err(e) => rep.error_line(&e.to_string(), "InvalidOperationException"),
                },
                Ok(b) => match rt.block_on(narrow(b, &job.selection, &plan.filter)) {
                    Ok(None) => rep.verbose(&format!(
                        "No session on {} matches the filter; nothing to do.",
                        job.server
                    )),
                    Ok(Some(sel)) => act_on(&rt, b, &plan, &sel, &mut rep, &mut prompter),
                    Err(e) => rep.error_line(&e.to_string(), "InvalidOperationException"),
                },
            }
        }
    } else {
        // Many servers at once: each is worked on concurrently, and the results are
        // reported in the order the servers were given.
        let outs: Vec<Result<Done, BackendError>> = rt.block_on(fleet::each(&jobs, |job| {
            let backend = job.backend.clone();
            let server = job.server.clone();
            let selection = job.selection.clone();
            let filter = plan.filter.clone();
            let verb = plan.verb;
            // The request with the selection still to be narrowed by the filter.
            let request =
                (verb != Verb::Get).then(|| action_request(&plan, &job.selection, plan.what_if));
            async move {
                let b = backend.map_err(BackendError::Unresolved)?;
                let Some(mut request) = request else {
                    return Ok(Done::Sessions(labelled(b.sessions().await?, &b, &server)));
                };
                match narrow(&b, &selection, &filter).await? {
                    None => Ok(Done::Results(Vec::new())),
                    Some(sel) => {
                        request = request.with_selection(&sel);
                        Ok(Done::Results(b.action(&request).await?))
                    }
                }
            }
        }));
        for (job, out) in jobs.iter().zip(outs) {
            if rep.stopped {
                break;
            }
            match out {
                Err(e) => rep.error_line(&e.to_string(), "InvalidOperationException"),
                Ok(Done::Sessions(s)) => select(s, &plan, job, &mut rep, &mut listed),
                Ok(Done::Results(r)) => rep.all(r),
            }
        }
    }
    if plan.verb == Verb::Get && !rep.stdout_closed {
        plan.view.sort(&mut listed);
        let format = plan.output.unwrap_or(OutputFormat::List);
        // Nothing printed would look like a hang or a failure on a terminal; a pipe gets
        // nothing, as a reader of JSON lines expects.
        if listed.is_empty()
            && plan.spelling == Spelling::Unix
            && format != OutputFormat::Json
            && std::io::stdout().is_terminal()
        {
            let what = if plan.filter.is_empty() {
                "No login sessions."
            } else {
                "No login session matches."
            };
            let _ = output::stdout_line(what);
        }
        let text = output::sessions(format, &listed);
        match output::stdout(&text) {
            Ok(()) | Err(WriteError::Closed) => {}
            Err(e) => rep.error_line(&e.to_string(), "WriteErrorException"),
        }
    }
    if rep.any_error {
        exit::TARGET_ERROR
    } else {
        exit::OK
    }
}

/// An action's selection narrowed by the filter: the sessions it names that match, by ID
/// (`None` when none does). Without a filter the selection is unchanged, so `-All` keeps
/// its meaning (the sessions the caller may not act on are reported as skipped).
async fn narrow(
    backend: &Backend,
    sel: &Selection,
    filter: &Filter,
) -> Result<Option<Selection>, BackendError> {
    if filter.is_empty() {
        return Ok(Some(sel.clone()));
    }
    let sessions = backend.sessions().await?;
    let ids: Vec<_> = match sel {
        // As -All alone: logins only, never service managers or background sessions.
        Selection::All => sessions
            .iter()
            .filter(|s| filter.matches(s) && s.is_login())
            .map(|s| s.session_id)
            .collect(),
        // An ID that names no session stays, to be reported as not found.
        Selection::Ids(ids) => unique_ids(ids)
            .into_iter()
            .filter(|id| match sessions.iter().find(|s| s.session_id == *id) {
                None => true,
                Some(s) => filter.matches(s),
            })
            .collect(),
    };
    Ok((!ids.is_empty()).then_some(Selection::Ids(ids)))
}

/// Get: the sessions named by `sel` that pass the filter, and NotFound for IDs that name
/// none.
fn select(
    sessions: Vec<Session>,
    plan: &Plan,
    job: &Job,
    rep: &mut Reporter,
    listed: &mut Vec<Session>,
) {
    let (view, filter) = (&plan.view, &plan.filter);
    match &job.selection {
        // Listing every session shows the classes asked for; one named by ID is shown
        // whatever its class.
        Selection::All => listed.extend(
            sessions
                .into_iter()
                .filter(|s| view.shows(s) && filter.matches(s)),
        ),
        Selection::Ids(ids) => {
            for id in unique_ids(ids) {
                match sessions.iter().find(|s| s.session_id == id) {
                    Some(s) if filter.matches(s) => listed.push(s.clone()),
                    Some(_) => {}
                    None => rep.result(
                        &TargetResult {
                            computer_name: job.server.clone(),
                            session_id: id,
                            user_name: None,
                            class: None,
                            outcome: Outcome::NotFound,
                        },
                        false,
                    ),
                }
            }
        }
    }
}
