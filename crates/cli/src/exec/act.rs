//! An action on one server, one step at a time when it must be: what-if, or act at once,
//! or (with -Confirm, -Verbose or -ErrorAction Stop) plan first and then ask and act one
//! target at a time, so that a prompt or an error can end the command between targets.

use super::backend::Backend;
use super::report::Reporter;
use crate::confirm::{Answer, Prompter};
use crate::plan::Plan;
use std::io::{self, BufRead, IsTerminal};
use tokio::runtime::Runtime;
use wms_core::api::{ActionRequest, ActionVerb};
use wms_core::{Outcome, Selection, SessionId, TargetResult, Verb};

/// The request for the plan's verb over `sel`.
pub(super) fn action_request(plan: &Plan, sel: &Selection, what_if: bool) -> ActionRequest {
    let verb = ActionVerb::from_verb(plan.verb).expect("Get is not an action");
    ActionRequest::new(verb, sel, plan.message.clone(), what_if).through_logind(plan.logind)
}

/// Where confirmation answers come from: standard input when it is a terminal; when
/// standard input carried the pipeline, the controlling terminal if there is one.
pub(super) fn answer_source(stdin_is_pipeline: bool) -> Option<Box<dyn BufRead>> {
    if !stdin_is_pipeline {
        let stdin = io::stdin();
        return stdin
            .is_terminal()
            .then(|| Box::new(stdin.lock()) as Box<dyn BufRead>);
    }
    terminal()
}

/// The controlling terminal, to ask on whatever standard input is (`-ErrorAction
/// Inquire` asks there, beside a `-Confirm` that may be reading standard input).
pub(super) fn terminal() -> Option<Box<dyn BufRead>> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    tty.is_terminal()
        .then(|| Box::new(io::BufReader::new(tty)) as Box<dyn BufRead>)
}

pub(super) fn act_on(
    rt: &Runtime,
    backend: &Backend,
    plan: &Plan,
    sel: &Selection,
    rep: &mut Reporter,
    prompter: &mut Prompter,
) {
    let request = |sel: &Selection, what_if: bool| action_request(plan, sel, what_if);
    let call = |rep: &mut Reporter, r: ActionRequest| match rt.block_on(backend.action(&r)) {
        Ok(v) => Some(v),
        Err(e) => {
            rep.error_line(&e.to_string(), "InvalidOperationException");
            None
        }
    };
    if plan.what_if || !plan.stepwise() {
        let results = call(rep, request(sel, plan.what_if)).unwrap_or_default();
        rep.all(results);
        return;
    }
    // Sessions that are not locked, to say so when -Verbose unlocks them.
    let not_locked: Vec<SessionId> = if plan.verb == Verb::Unlock && !plan.logind {
        rt.block_on(backend.sessions())
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
        let (answer, quiet) = if !plan.confirm {
            (Answer::Yes, false)
        } else if !prompter.can_ask() {
            (Answer::NoToAll, false)
        } else {
            (
                prompter.ask(plan.verb.cmdlet(), &label, &mut io::stderr()),
                true,
            )
        };
        let declined = match answer {
            Answer::Yes | Answer::YesToAll => {
                rep.verbose(&format!(
                    "Performing the operation \"{}\" on target \"{label}\".",
                    plan.verb.cmdlet()
                ));
                let was_unlocked = not_locked.contains(&planned.session_id);
                let one = Selection::Ids(vec![planned.session_id]);
                for r in call(rep, request(&one, false)).unwrap_or_default() {
                    // Unlocking a session that is not locked is done, and says only that
                    // (not also "was unlocked").
                    if was_unlocked && r.outcome == Outcome::Done {
                        rep.verbose(&format!(
                            "{label} is not locked; there is nothing to unlock."
                        ));
                        rep.json_result(&r);
                    } else {
                        rep.result(&r, false);
                    }
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
