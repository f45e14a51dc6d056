//! Mandatory parameters left out, as PowerShell handles them: on a terminal they are
//! asked for under "Supply values for the following parameters:" (an array one element
//! per line, an empty line ending it), and what is typed is bound with the same
//! conversions and checks as the command line; without a terminal a missing Message is a
//! binding error, and a missing SessionId may still come from the pipeline (the plan
//! decides). The terminal is passed in, so this stays free of I/O of its own.

use super::*;
use std::io::{BufRead, Write};

/// Where to ask: what the user types, and where the prompts go.
pub struct Prompt<'a> {
    pub input: &'a mut dyn BufRead,
    pub out: &'a mut dyn Write,
}

impl Prompt<'_> {
    /// One answer, without its line ending; `None` at the end of input.
    fn ask(&mut self, label: &str) -> Option<String> {
        let _ = write!(self.out, "{label}: ");
        let _ = self.out.flush();
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                let _ = writeln!(self.out);
                None
            }
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }
}

/// Completes `inv` with the mandatory parameters it lacks: asked on `terminal` when there
/// is one, else refused as PowerShell refuses them.
pub fn complete(
    mut inv: Invocation,
    terminal: Option<Prompt<'_>>,
) -> Result<Invocation, BindError> {
    let verb = inv.verb;
    // Get-WmsSession's SessionId is optional (no IDs lists every session).
    let need_ids =
        verb.changes_state() && inv.selection == SelectionArg::Unbound && terminal.is_some();
    let need_message = verb.takes_message() && inv.message.is_none() && !inv.logind;
    if !need_ids && !need_message {
        return Ok(inv);
    }
    let Some(mut p) = terminal else {
        return Err(BindError::binding(
            verb,
            "Cannot process command because of one or more missing mandatory parameters: \
             Message.",
        ));
    };
    let _ = write!(
        p.out,
        "\ncmdlet {} at command pipeline position 1\nSupply values for the following parameters:\n",
        verb.cmdlet()
    );
    if need_ids {
        let mut ids = Vec::new();
        while let Some(line) = p.ask(&format!("SessionId[{}]", ids.len())) {
            if line.trim().is_empty() {
                break;
            }
            ids.push(parse_uint32(verb, "SessionId", &line)?);
        }
        if ids.is_empty() {
            return Err(empty_array_argument(verb, "SessionId"));
        }
        inv.selection = SelectionArg::Ids(ids);
    }
    if need_message {
        let line = p.ask("Message").unwrap_or_default();
        inv.message = Some(check_message(verb, &line)?);
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdlet::test_support::*;

    fn prompted(verb: Verb, args: &[&str], typed: &str) -> (Result<Invocation, BindError>, String) {
        let mut input = std::io::Cursor::new(typed.as_bytes().to_vec());
        let mut out = Vec::new();
        let r = complete(
            ok(verb, args),
            Some(Prompt {
                input: &mut input,
                out: &mut out,
            }),
        );
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_missing_message_is_asked_for_on_a_terminal() {
        let (r, out) = prompted(Verb::Lock, &["3"], "Exam over\n");
        assert_eq!(r.unwrap().message.as_deref(), Some("Exam over"));
        assert_eq!(
            out,
            "\ncmdlet Lock-WmsSession at command pipeline position 1\n\
             Supply values for the following parameters:\nMessage: "
        );
    }

    #[test]
    fn missing_session_ids_are_asked_for_one_per_line() {
        let (r, out) = prompted(Verb::Close, &["-WhatIf"], "3\n0x10\n\n");
        assert_eq!(r.unwrap().selection, SelectionArg::Ids(vec![3, 16]));
        assert!(
            out.ends_with("SessionId[0]: SessionId[1]: SessionId[2]: "),
            "{out}"
        );
        // Both for Lock, in position order.
        let (r, out) = prompted(Verb::Lock, &[], "7\n\nhello\n");
        let inv = r.unwrap();
        assert_eq!(inv.selection, SelectionArg::Ids(vec![7]));
        assert_eq!(inv.message.as_deref(), Some("hello"));
        assert!(
            out.ends_with("SessionId[0]: SessionId[1]: Message: "),
            "{out}"
        );
    }

    #[test]
    fn what_is_typed_binds_with_powershells_checks() {
        let (r, _) = prompted(Verb::Close, &[], "\n");
        assert_eq!(
            r.unwrap_err().message,
            "Cannot bind argument to parameter 'SessionId' because it is an empty array."
        );
        let (r, _) = prompted(Verb::Close, &[], "abc\n");
        assert_eq!(
            r.unwrap_err().message,
            "Cannot bind parameter 'SessionId'. Cannot convert value \"abc\" to type \
             \"System.UInt32\". Error: \"Input string was not in a correct format.\""
        );
        let (r, _) = prompted(Verb::Lock, &["3"], "\n");
        assert_eq!(
            r.unwrap_err().message,
            "Cannot bind argument to parameter 'Message' because it is an empty string."
        );
        // The end of input is an empty answer.
        let (r, _) = prompted(Verb::Lock, &["3"], "");
        assert!(r.is_err());
    }

    #[test]
    fn without_a_terminal_a_missing_message_is_a_binding_error() {
        for args in [&["3"][..], &["-All"], &[]] {
            let e = complete(ok(Verb::Lock, args), None).unwrap_err();
            assert_eq!(e.message, MISSING_MESSAGE, "{args:?}");
        }
        // A missing SessionId is left for the pipeline.
        let inv = complete(ok(Verb::Close, &[]), None).unwrap();
        assert_eq!(inv.selection, SelectionArg::Unbound);
    }

    #[test]
    fn get_asks_for_nothing() {
        let (r, out) = prompted(Verb::Get, &[], "3\n");
        assert_eq!(r.unwrap().selection, SelectionArg::Unbound);
        assert_eq!(out, "");
    }

    #[test]
    fn nothing_is_asked_when_nothing_is_missing() {
        let (r, out) = prompted(Verb::Lock, &["3", "hi"], "never read\n");
        assert_eq!(r.unwrap().message.as_deref(), Some("hi"));
        assert_eq!(out, "");
    }
}
