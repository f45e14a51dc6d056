//! `-Confirm`: PowerShell's prompt and choices, asked per target. Without a terminal to
//! ask on, it declines rather than acting.

use std::io::{BufRead, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    YesToAll,
    No,
    NoToAll,
    /// PowerShell's Suspend; here it stops the command.
    Suspend,
}

const CHOICES: &str =
    "[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [S] Suspend  [?] Help (default is \"Y\"): ";

const HELP: &str = "Y - Continue with only the next step of the operation.
A - Continue with all the steps of the operation.
N - Skip this operation and proceed with the next operation.
L - Skip this operation and all subsequent operations.
S - Stop this command; the remaining operations are not performed.
";

/// The prompt shown before acting on `target`.
pub fn prompt_text(cmdlet: &str, target: &str) -> String {
    format!(
        "\nConfirm\nAre you sure you want to perform this action?\nPerforming the operation \"{cmdlet}\" on target \"{target}\".\n{CHOICES}"
    )
}

/// What a typed line means: `None` asks again (after Help for `?`).
fn parse(line: &str) -> Option<Answer> {
    match line.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" => Some(Answer::Yes),
        "a" | "yes to all" => Some(Answer::YesToAll),
        "n" | "no" => Some(Answer::No),
        "l" | "no to all" => Some(Answer::NoToAll),
        "s" | "suspend" => Some(Answer::Suspend),
        _ => None,
    }
}

/// Asks per target, remembering Yes to All and No to All.
pub struct Prompter {
    input: Option<Box<dyn BufRead>>,
    sticky: Option<Answer>,
}

impl Prompter {
    /// `input` is where answers come from: a terminal, or `None` when there is none.
    pub fn new(input: Option<Box<dyn BufRead>>) -> Prompter {
        Prompter {
            input,
            sticky: None,
        }
    }

    /// Whether there is anywhere to ask.
    pub fn can_ask(&self) -> bool {
        self.input.is_some() || self.sticky.is_some()
    }

    /// Asks about one target, writing the prompt to `out`. End of input answers No to All.
    pub fn ask(&mut self, cmdlet: &str, target: &str, out: &mut dyn Write) -> Answer {
        if let Some(a) = self.sticky {
            return a;
        }
        let Some(input) = self.input.as_mut() else {
            return Answer::NoToAll;
        };
        let _ = write!(out, "{}", prompt_text(cmdlet, target));
        loop {
            let _ = out.flush();
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = writeln!(out);
                    self.sticky = Some(Answer::NoToAll);
                    return Answer::NoToAll;
                }
                Ok(_) => {}
            }
            match parse(&line) {
                Some(a) => {
                    if matches!(a, Answer::YesToAll | Answer::NoToAll) {
                        self.sticky = Some(a);
                    }
                    return a;
                }
                None => {
                    if line.trim() == "?" {
                        let _ = write!(out, "{HELP}");
                    }
                    let _ = write!(out, "{CHOICES}");
                }
            }
        }
    }
}

/// What `-ErrorAction Inquire` (or `-WarningAction Inquire`) was told at its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inquiry {
    /// Yes or Yes to All: the error is reported and the command goes on.
    Continue,
    /// Halt Command (or Suspend, which here also stops): the command ends.
    Halt,
}

const INQUIRE_CHOICES: &str =
    "[Y] Yes  [A] Yes to All  [H] Halt Command  [S] Suspend  [?] Help (default is \"Y\"): ";

const INQUIRE_HELP: &str = "Y - Continue with only the next step of the operation.
A - Continue with all the steps of the operation.
H - Stop this command.
S - Stop this command; the remaining operations are not performed.
";

/// PowerShell's Inquire: asks, on an error or a warning, whether to go on. Without a
/// terminal to ask on (or at the end of input) it halts, as Stop would.
pub struct Inquirer {
    input: Option<Box<dyn BufRead>>,
    yes_to_all: bool,
}

impl Inquirer {
    pub fn new(input: Option<Box<dyn BufRead>>) -> Inquirer {
        Inquirer {
            input,
            yes_to_all: false,
        }
    }

    /// Asks about `message` (the error or warning), writing the prompt to `out`.
    pub fn ask(&mut self, message: &str, out: &mut dyn Write) -> Inquiry {
        if self.yes_to_all {
            return Inquiry::Continue;
        }
        let Some(input) = self.input.as_mut() else {
            return Inquiry::Halt;
        };
        let _ = write!(out, "\nConfirm\n{message}\n{INQUIRE_CHOICES}");
        loop {
            let _ = out.flush();
            let mut line = String::new();
            if matches!(input.read_line(&mut line), Ok(0) | Err(_)) {
                let _ = writeln!(out);
                return Inquiry::Halt;
            }
            match line.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => return Inquiry::Continue,
                "a" | "yes to all" => {
                    self.yes_to_all = true;
                    return Inquiry::Continue;
                }
                "h" | "halt command" | "s" | "suspend" => return Inquiry::Halt,
                answer => {
                    if answer == "?" {
                        let _ = write!(out, "{INQUIRE_HELP}");
                    }
                    let _ = write!(out, "{INQUIRE_CHOICES}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquire_asks_with_powershells_choices() {
        let mut i = Inquirer::new(Some(Box::new(std::io::Cursor::new("\n?\nh\n"))));
        let mut out = Vec::new();
        assert_eq!(i.ask("Cannot find session 9.", &mut out), Inquiry::Continue);
        assert_eq!(i.ask("Cannot find session 10.", &mut out), Inquiry::Halt);
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("\nConfirm\nCannot find session 9.\n[Y] Yes  [A] Yes to All  [H] Halt Command  [S] Suspend  [?] Help (default is \"Y\"): "), "{out}");
        assert!(out.contains("H - Stop this command."), "{out}");
        let mut i = Inquirer::new(Some(Box::new(std::io::Cursor::new("a\n"))));
        assert_eq!(i.ask("e1", &mut Vec::new()), Inquiry::Continue);
        assert_eq!(i.ask("e2", &mut Vec::new()), Inquiry::Continue);
        assert_eq!(Inquirer::new(None).ask("e", &mut Vec::new()), Inquiry::Halt);
        let mut i = Inquirer::new(Some(Box::new(std::io::Cursor::new(""))));
        assert_eq!(i.ask("e", &mut Vec::new()), Inquiry::Halt);
    }

    fn prompter(input: &'static str) -> Prompter {
        Prompter::new(Some(Box::new(std::io::Cursor::new(input))))
    }

    #[test]
    fn default_is_yes_and_answers_are_case_insensitive() {
        let mut p = prompter("\nN\nl\n");
        let mut out = Vec::new();
        assert_eq!(
            p.ask("Close-WmsSession", "Session 3", &mut out),
            Answer::Yes
        );
        assert_eq!(p.ask("Close-WmsSession", "Session 4", &mut out), Answer::No);
        assert_eq!(
            p.ask("Close-WmsSession", "Session 5", &mut out),
            Answer::NoToAll
        );
        assert_eq!(
            p.ask("Close-WmsSession", "Session 6", &mut out),
            Answer::NoToAll
        );
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("Performing the operation \"Close-WmsSession\" on target \"Session 3\".")
        );
        assert!(out.contains("[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [S] Suspend  [?] Help (default is \"Y\"): "));
        assert!(!out.contains("Session 6"), "No to All asks no more");
    }

    #[test]
    fn help_and_unknown_answers_ask_again() {
        let mut p = prompter("?\nmaybe\na\n");
        let mut out = Vec::new();
        assert_eq!(p.ask("X", "t1", &mut out), Answer::YesToAll);
        assert_eq!(p.ask("X", "t2", &mut out), Answer::YesToAll);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("Y - Continue with only the next step"));
        assert_eq!(out.matches("(default is \"Y\")").count(), 3);
    }

    #[test]
    fn end_of_input_and_no_terminal_decline() {
        let mut p = prompter("");
        assert_eq!(p.ask("X", "t", &mut Vec::new()), Answer::NoToAll);
        let mut p = Prompter::new(None);
        assert!(!p.can_ask());
        assert_eq!(p.ask("X", "t", &mut Vec::new()), Answer::NoToAll);
    }

    #[test]
    fn suspend_stops() {
        assert_eq!(
            prompter("s\n").ask("X", "t", &mut Vec::new()),
            Answer::Suspend
        );
    }
}
