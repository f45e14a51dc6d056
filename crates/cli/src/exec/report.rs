//! How outcomes reach the user (SPEC 6): error lines `Cmdlet: message (Category)` and
//! warnings on standard error, what-if lines, `-Verbose` narration, JSON results on
//! standard output, and what `-ErrorAction`/`-WarningAction` make of them.

use crate::cmdlet::ActionPreference;
use crate::confirm::{Inquirer, Inquiry};
use crate::output::{stdout_line, WriteError};
use crate::plan::{unix_verb, Spelling};
use wms_core::{Outcome, TargetResult, Verb};

pub(crate) fn past_tense(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "listed",
        Verb::Close => "closed",
        Verb::Disconnect => "disconnected",
        Verb::Lock => "locked",
        Verb::Unlock => "unlocked",
        Verb::Message => "sent a message",
        Verb::Thumbnail => "captured",
    }
}

/// A message as a Unix tool words it: no capital to start, no closing full stop, no
/// exception category (`cannot find session 9 on lab1: no login session has that ID`).
pub(super) fn unix_message(message: &str) -> String {
    lower_first(message.trim_end().trim_end_matches('.'))
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Prints outcomes as they come and remembers whether any was an error.
pub(super) struct Reporter {
    /// The Unix spelling reports like a Unix tool (`wms: session 9 ...`), the cmdlet one
    /// like PowerShell (`Close-WmsSession: ... (ItemNotFoundException)`).
    pub spelling: Spelling,
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
    /// Where `-ErrorAction Inquire` and `-WarningAction Inquire` ask.
    pub inquirer: Inquirer,
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

    /// Whether an Inquire preference lets the command go on after `message`.
    fn inquire(&mut self, preference: ActionPreference, message: &str) -> bool {
        if preference != ActionPreference::Inquire {
            return true;
        }
        let go_on = self.inquirer.ask(message, &mut std::io::stderr()) == Inquiry::Continue;
        if !go_on {
            self.stopped = true;
        }
        go_on
    }

    pub fn error_line(&mut self, message: &str, category: &str) {
        self.any_error = true;
        self.inquire(self.error_action, message);
        if !Self::silent(self.error_action) {
            match self.spelling {
                Spelling::Cmdlet => eprintln!("{}: {message} ({category})", self.verb.cmdlet()),
                Spelling::Unix => eprintln!(
                    "wms session {}: {}",
                    unix_verb(self.verb),
                    unix_message(message)
                ),
            }
        }
        if self.error_action == ActionPreference::Stop {
            self.stopped = true;
        }
    }

    pub fn warning(&mut self, message: &str) {
        if !self.inquire(self.warning_action, message) {
            self.any_error = true;
        }
        if !Self::silent(self.warning_action) {
            match self.spelling {
                Spelling::Cmdlet => eprintln!("WARNING: {message}"),
                Spelling::Unix => eprintln!(
                    "wms session {}: warning: {}",
                    unix_verb(self.verb),
                    unix_message(message)
                ),
            }
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
            match self.spelling {
                Spelling::Cmdlet => eprintln!("VERBOSE: {message}"),
                Spelling::Unix => eprintln!(
                    "wms session {}: {}",
                    unix_verb(self.verb),
                    unix_message(message)
                ),
            }
        }
    }

    /// The JSON result object, when results are printed as JSON.
    pub fn json_result(&mut self, r: &TargetResult) {
        if self.json {
            self.out(&serde_json::to_string(r).expect("results serialise"));
        }
    }

    /// Reports one result; `quiet_skip` keeps a declined confirmation from warning.
    pub fn result(&mut self, r: &TargetResult, quiet_skip: bool) {
        self.json_result(r);
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

#[cfg(test)]
mod tests {
    use super::unix_message;

    #[test]
    fn unix_messages_start_small_and_end_without_a_full_stop() {
        assert_eq!(
            unix_message("Cannot find session 9 on lab1: no login session has that ID."),
            "cannot find session 9 on lab1: no login session has that ID"
        );
        assert_eq!(
            unix_message("Session 3 (alice) on lab1 was closed."),
            "session 3 (alice) on lab1 was closed"
        );
        assert_eq!(unix_message(""), "");
    }
}
