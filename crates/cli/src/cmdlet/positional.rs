//! Positional binding: the words left over from named binding go to SessionId (adjacent
//! words joined into one array argument) and then to Message (Lock-WmsSession's notice,
//! Send-WmsMessage's text).

use super::*;

/// Binds the words left over from named binding to the positional parameters that are
/// still unbound, in position order (SessionId, then Message).
pub(super) fn bind_positional(
    state: &mut State,
    words: &[PositionalWord<'_>],
) -> Result<(), BindError> {
    let verb = state.verb;
    let mut slots = Vec::new();
    // With -All (even -All:$false) the parameter set is the All set, which has no
    // SessionId: the first word goes to Message (`Lock-WmsSession -All "hello"`).
    if !state.named.contains(&Param::All) && !state.named.contains(&Param::SessionId) {
        slots.push(Param::SessionId);
    }
    if verb.takes_message() && !state.named.contains(&Param::Message) && !state.logind {
        slots.push(Param::Message);
    }

    let mut k = 0;
    for slot in slots {
        let Some(first) = words.get(k) else { break };
        k += 1;
        let mut text = first.text.to_string();
        if slot == Param::SessionId {
            while let Some(next) = words.get(k) {
                let adjacent = next.index == words[k - 1].index + 1;
                if !adjacent || !continues(&text, next.text) {
                    break;
                }
                text.push(' ');
                text.push_str(next.text);
                k += 1;
            }
            state.set_value(Param::SessionId, "SessionId", &text)?;
        } else {
            state.message = Some(check_message(verb, &text)?);
        }
    }

    // A word left over is PowerShell's error for it, also when it would have been a
    // SessionId but -All chose the set without one (as `Get-Process -Id 1 notepad`).
    match words.get(k) {
        None => Ok(()),
        Some(extra) => Err(BindError::binding(
            verb,
            format!(
                "A positional parameter cannot be found that accepts argument '{}'.",
                extra.text
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdlet::test_support::*;

    // --- positional binding --------------------------------------------------------------

    #[test]
    fn lock_positional_id_and_message() {
        let inv = ok(Verb::Lock, &["3", "hello"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        assert_eq!(inv.message.as_deref(), Some("hello"));
        let inv = ok(Verb::Lock, &["3,", "4", "Bye now"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3, 4]));
        assert_eq!(inv.message.as_deref(), Some("Bye now"));
    }

    #[test]
    fn lock_all_binds_message_positionally() {
        let inv = ok(Verb::Lock, &["-All", "hello"]);
        assert_eq!(inv.selection, SelectionArg::All);
        assert_eq!(inv.message.as_deref(), Some("hello"));
        let inv = ok(Verb::Lock, &["hello", "-All"]);
        assert_eq!(inv.selection, SelectionArg::All);
        assert_eq!(inv.message.as_deref(), Some("hello"));
    }

    #[test]
    fn positional_skips_parameters_bound_by_name() {
        let inv = ok(Verb::Lock, &["-Message", "hi", "3"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        assert_eq!(inv.message.as_deref(), Some("hi"));
        let inv = ok(Verb::Lock, &["-SessionId", "3", "hello"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        assert_eq!(inv.message.as_deref(), Some("hello"));
    }

    #[test]
    fn too_many_positional_arguments() {
        assert_eq!(
            binding_err(Verb::Close, &["3", "4"]),
            "A positional parameter cannot be found that accepts argument '4'."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "3", "x"]),
            "A positional parameter cannot be found that accepts argument 'x'."
        );
        assert_eq!(
            binding_err(Verb::Close, &["3", "-SessionId", "4"]),
            "A positional parameter cannot be found that accepts argument '3'."
        );
        assert_eq!(
            binding_err(Verb::Lock, &["3", "hello", "extra"]),
            "A positional parameter cannot be found that accepts argument 'extra'."
        );
        assert_eq!(
            binding_err(Verb::Lock, &["-Message", "hi", "-SessionId", "3", "x"]),
            "A positional parameter cannot be found that accepts argument 'x'."
        );
    }

    #[test]
    fn double_dash_ends_parameters() {
        let inv = ok(Verb::Lock, &["3", "--", "-hello"]);
        assert_eq!(inv.message.as_deref(), Some("-hello"));
        assert_eq!(ids(Verb::Close, &["--", "3"]), [3]);
        assert_eq!(
            binding_err(Verb::Close, &["--", "-WhatIf"]),
            "Cannot bind parameter 'SessionId'. Cannot convert value \"-WhatIf\" to type \
             \"System.UInt32\". Error: \"Input string was not in a correct format.\""
        );
    }
}
