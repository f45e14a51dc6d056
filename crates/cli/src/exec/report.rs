//! How outcomes reach the user (SPEC 6): error lines `Cmdlet: message (Category)` and
//! warnings on standard error, what-if lines, `-Verbose` narration, JSON results on
//! standard output, and what `-ErrorAction`/`-WarningAction` make of them.

use crate::cmdlet::ActionPreference;
use crate::output::{stdout_line, WriteError};
use wms_core::{Outcome, TargetResult, Verb};

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
pub(super) struct Reporter {
    pub verb: Verb,
    pub json: bool,
    pub verbose: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub any_error: bool,
    /// Set by `-ErrorAction Stop` (or `-WarningAction Stop`), at a prompt's Suspend, or
    /// when standard output was closed: no further targets.
    pub stopped: bool,
    /// Standard output was closed by its reader: the command ends quietly.
    pub stdout_closed: bool,
}

impl Reporter {
    fn silent(p: ActionPreference) -> bool {
        matches!(
            p,
            ActionPreference::SilentlyContinue | ActionPreference::Ignore
        )
    }

    /// A line on standard output; a closed standard output stops the command quietly, and
    /// another failure to write is an error.
    pub fn out(&mut self, line: &str) {
        if self.stdout_closed {
            return;
        }
        match stdout_line(line) {
            Ok(()) => {}
            Err(WriteError::Closed) => {
                self.stdout_closed = true;
                self.stopped = true;
            }
            Err(e @ WriteError::Failed(_)) => {
                self.any_error = true;
                self.stopped = true;
                eprintln!("{}: {e} (WriteErrorException)", self.verb.cmdlet());
            }
        }
    }

    pub fn error_line(&mut self, message: &str, category: &str) {
        self.any_error = true;
        if !Self::silent(self.error_action) {
            eprintln!("{}: {message} ({category})", self.verb.cmdlet());
        }
        if self.error_action == ActionPreference::Stop {
            self.stopped = true;
        }
    }

    pub fn warning(&mut self, message: &str) {
        if !Self::silent(self.warning_action) {
            eprintln!("WARNING: {message}");
        }
        if self.warning_action == ActionPreference::Stop {
            self.any_error = true;
            self.stopped = true;
        }
    }

    /// PowerShell's what-if line (on standard error when standard output carries JSON).
    pub fn what_if(&mut self, label: &str) {
        let line = format!(
            "What if: Performing the operation \"{}\" on target \"{label}\".",
            self.verb.cmdlet()
        );
        if self.json {
            eprintln!("{line}");
        } else {
            self.out(&line);
        }
    }

    pub fn verbose(&self, message: &str) {
        if self.verbose {
            eprintln!("VERBOSE: {message}");
        }
    }

    /// Reports one result; `quiet_skip` keeps a declined confirmation from warning.
    pub fn result(&mut self, r: &TargetResult, quiet_skip: bool) {
        if self.json {
            self.out(&serde_json::to_string(r).expect("results serialise"));
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

    /// Reports a batch of results: a what-if line for each WhatIf, then the outcome.
    pub fn all(&mut self, results: Vec<TargetResult>) {
        for r in results {
            if self.stopped {
                break;
            }
            if r.outcome == Outcome::WhatIf {
                self.what_if(&r.target_label());
            }
            self.result(&r, false);
        }
    }
}
