//! The value converters: UInt32 arrays as PowerShell converts them, switches,
//! ActionPreference and the output format, each with .NET's or PowerShell's error text.

use super::*;
use wms_core::SessionState;

/// Whether an array argument continues into the next word. Under a Unix shell
/// `-SessionId 3, 4` arrives as the words "3," and "4"; PowerShell's parser would have
/// read one array expression, so the words are joined again: after a trailing comma,
/// before a leading comma, and inside an unclosed `@(`.
pub(super) fn continues(acc: &str, next: &str) -> bool {
    acc.trim_end().ends_with(',')
        || next.trim_start().starts_with(',')
        || acc.matches('(').count() > acc.matches(')').count()
}

pub(super) const FORMAT_ERROR: &str = "Input string was not in a correct format.";
pub(super) const RANGE_ERROR: &str = "Value was either too large or too small for a UInt32.";

/// Converts one value as PowerShell converts a command-line argument to UInt32. An
/// argument that looks like a number is a numeric literal to PowerShell's tokenizer, and
/// a string is scanned by the same rules (`LanguagePrimitives`), so the forms are the
/// literal's: an optional sign; decimal digits, `0x` hexadecimal or `0b` binary; a real
/// number (`3.0`, `1e3`), rounded to the nearest integer, ties to even, as .NET converts a
/// Double; a type suffix (`u`, `l`, `ul`, `d`, `n`); a multiplier (`kb`, `mb`, `gb`, `tb`,
/// `pb`). A hexadecimal literal of up to 8 digits without `u` is an Int32, so
/// `0xFFFFFFFF` is -1 and out of range, as in PowerShell. An empty string is 0. The error
/// is .NET's reason text.
pub(super) fn parse_u32(element: &str) -> Result<u32, &'static str> {
    if element.is_empty() {
        return Ok(0);
    }
    let value = scan_number(element).ok_or(FORMAT_ERROR)?;
    // Convert.ToUInt32(Double): round half to even, then the range check.
    let rounded = value.round_ties_even();
    if (0.0..=f64::from(u32::MAX)).contains(&rounded) {
        Ok(rounded as u32)
    } else {
        Err(RANGE_ERROR)
    }
}

/// A PowerShell numeric literal's value, or `None` when the text is not one.
fn scan_number(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let (negative, mut body) = match lower.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    let mut multiplier = 1f64;
    for (suffix, m) in [
        ("kb", 1024f64),
        ("mb", 1024f64 * 1024.0),
        ("gb", 1024f64.powi(3)),
        ("tb", 1024f64.powi(4)),
        ("pb", 1024f64.powi(5)),
    ] {
        if let Some(b) = body.strip_suffix(suffix) {
            body = b;
            multiplier = m;
            break;
        }
    }
    let radix_prefix = body.starts_with("0x") || body.starts_with("0b");
    // Type suffixes; `u` marks a hexadecimal literal unsigned. `d` and `b` are digits of a
    // hexadecimal literal, not suffixes.
    let mut unsigned = false;
    for suffix in ["ul", "lu", "u", "l", "n", "d"] {
        if radix_prefix && suffix == "d" {
            continue;
        }
        if let Some(b) = body.strip_suffix(suffix) {
            if !b.is_empty() && b != "0x" && b != "0b" {
                unsigned = suffix.contains('u');
                body = b;
                break;
            }
        }
    }
    let magnitude = if let Some(hex) = body.strip_prefix("0x") {
        let v = radix_digits(hex, 16)?;
        // Up to 8 digits a hexadecimal literal is an Int32 (two's complement), up to 16 an
        // Int64, unless marked unsigned.
        if !unsigned && hex.len() <= 8 && v >= 0x8000_0000 {
            v as f64 - 4_294_967_296.0
        } else {
            v as f64
        }
    } else if let Some(bin) = body.strip_prefix("0b") {
        let v = radix_digits(bin, 2)?;
        if !unsigned && bin.len() == 32 && v >= 0x8000_0000 {
            v as f64 - 4_294_967_296.0
        } else {
            v as f64
        }
    } else {
        decimal(body)?
    };
    let value = magnitude * multiplier;
    Some(if negative { -value } else { value })
}

fn radix_digits(digits: &str, radix: u32) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

/// Decimal digits with an optional fraction and exponent (`12`, `3.5`, `.5`, `1e3`).
fn decimal(body: &str) -> Option<f64> {
    let (mantissa, exponent) = match body.split_once('e') {
        Some((m, e)) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (m, Some(e))
        }
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let text = match exponent {
        Some(e) => format!("{int}.{frac}0e{e}"),
        None => format!("{int}.{frac}0"),
    };
    text.parse::<f64>().ok()
}

/// Converts a (possibly re-joined) array argument: `3`, `3,4`, `3 , 4`, `@(3,4)`, `(3,4)`.
pub(super) fn parse_ids(verb: Verb, text: &str) -> Result<Vec<u32>, BindError> {
    // A whole empty argument ('') converts to 0, as LanguagePrimitives converts an empty
    // string to a number.
    if text.is_empty() {
        return Ok(vec![0]);
    }
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix("@(")
        .or_else(|| trimmed.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed);
    // Empty elements ("3,,4", a trailing "3,") are not numbers; PowerShell's parser would
    // not have read them at all.
    inner
        .split(',')
        .map(str::trim)
        .map(|element| {
            let converted = if element.is_empty() {
                Err(FORMAT_ERROR)
            } else {
                parse_u32(element)
            };
            converted.map_err(|reason| conversion_error(verb, "SessionId", element, reason))
        })
        .collect()
}

fn conversion_error(verb: Verb, name: &str, value: &str, reason: &str) -> BindError {
    BindError::binding(
        verb,
        format!(
            "Cannot bind parameter '{name}'. Cannot convert value \"{value}\" to type \
             \"System.UInt32\". Error: \"{reason}\""
        ),
    )
}

/// Converts a single UInt32 parameter's argument (`-IdleSeconds 3600`).
pub(super) fn parse_uint32(verb: Verb, name: &str, text: &str) -> Result<u32, BindError> {
    parse_u32(text.trim()).map_err(|reason| conversion_error(verb, name, text, reason))
}

/// A String[] argument: `alice`, `alice,bob`, `@("alice", "bob")`; quotes around an element
/// are PowerShell's and are dropped.
pub(super) fn parse_strings(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix("@(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed);
    inner
        .split(',')
        .map(|e| {
            let e = e.trim();
            e.strip_prefix(['"', '\''])
                .and_then(|e| e.strip_suffix(['"', '\'']))
                .unwrap_or(e)
                .to_string()
        })
        .filter(|e| !e.is_empty())
        .collect()
}

/// `-State`, a ValidateSet of the session states.
pub(super) fn parse_states(verb: Verb, text: &str) -> Result<Vec<SessionState>, BindError> {
    const STATES: [SessionState; 3] = [
        SessionState::RemoteConnection,
        SessionState::ConnectedToStation,
        SessionState::Disconnected,
    ];
    parse_strings(text)
        .iter()
        .map(|value| {
            STATES
                .into_iter()
                .find(|s| s.name().eq_ignore_ascii_case(value))
                .ok_or_else(|| {
                    BindError::binding(
                        verb,
                        format!(
                            "Cannot validate argument on parameter 'State'. The argument \
                             \"{value}\" does not belong to the set \
                             \"RemoteConnection,ConnectedToStation,Disconnected\" specified by \
                             the ValidateSet attribute. Supply an argument that is in the set \
                             and then try the command again."
                        ),
                    )
                })
        })
        .collect()
}

/// Converts a switch's `-Name:value`. PowerShell accepts Booleans and numbers (non-zero is
/// true); the bare words `true`/`false` are accepted too because `$true` needs quoting
/// under a Unix shell.
pub(super) fn parse_switch(verb: Verb, name: &str, value: &str) -> Result<bool, BindError> {
    let lower = value.trim().to_ascii_lowercase();
    match lower.as_str() {
        "$true" | "true" => return Ok(true),
        "$false" | "false" => return Ok(false),
        _ => {}
    }
    let digits = lower.strip_prefix(['-', '+']).unwrap_or(&lower);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return Ok(digits.chars().any(|c| c != '0'));
    }
    Err(BindError::binding(
        verb,
        format!(
            "Cannot process argument transformation on parameter '{name}'. Cannot convert \
             value \"System.String\" to type \"{SWITCH_TYPE}\". Boolean parameters accept \
             only Boolean values and numbers, such as $True, $False, 1 or 0."
        ),
    ))
}

/// ActionPreference's enumerator names in the order of their numeric values (PowerShell
/// accepts `-ea 0` as well as `-ea SilentlyContinue`), with what wms makes of each.
pub(super) const PREFERENCES: [(&str, Option<ActionPreference>); 7] = [
    ("SilentlyContinue", Some(ActionPreference::SilentlyContinue)),
    ("Stop", Some(ActionPreference::Stop)),
    ("Continue", Some(ActionPreference::Continue)),
    ("Inquire", Some(ActionPreference::Inquire)),
    ("Ignore", Some(ActionPreference::Ignore)),
    ("Suspend", None),
    ("Break", None),
];

pub(super) fn parse_preference(
    verb: Verb,
    name: &str,
    value: &str,
) -> Result<ActionPreference, BindError> {
    let trimmed = value.trim();
    let cannot_convert = |error: String| {
        BindError::binding(
            verb,
            format!(
                "Cannot bind parameter '{name}'. Cannot convert value \"{value}\" to type \
                 \"System.Management.Automation.ActionPreference\". Error: \"{error}\""
            ),
        )
    };
    // An enumerator's name, its number, or (as PowerShell's enum conversion allows) an
    // unambiguous prefix of a name.
    let exact = PREFERENCES
        .iter()
        .find(|(enumerator, _)| enumerator.eq_ignore_ascii_case(trimmed))
        .or_else(|| {
            trimmed
                .parse::<usize>()
                .ok()
                .and_then(|n| PREFERENCES.get(n))
        });
    let found = match exact {
        Some(found) => found,
        None => {
            let lower = trimmed.to_ascii_lowercase();
            let prefixed: Vec<&(&str, Option<ActionPreference>)> = PREFERENCES
                .iter()
                .filter(|(e, _)| !lower.is_empty() && e.to_ascii_lowercase().starts_with(&lower))
                .collect();
            match prefixed.as_slice() {
                [one] => *one,
                [] => {
                    return Err(cannot_convert(format!(
                        "Unable to match the identifier name {value} to a valid enumerator \
                         name. Specify one of the following enumerator names and try again: \
                         SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend, Break"
                    )))
                }
                several => {
                    let names: Vec<&str> = several.iter().map(|(e, _)| *e).collect();
                    return Err(cannot_convert(format!(
                        "The identifier name {value} cannot be processed due to the \
                         inability to differentiate between the following enumerator names: \
                         {}. Try a more specific identifier name.",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    match found {
        (_, Some(preference)) => Ok(*preference),
        // Suspend is for workflows and Break enters the debugger: neither has a meaning
        // outside a PowerShell session.
        (enumerator, None) => Err(BindError::not_supported(
            verb,
            format!(
                "The value '{enumerator}' of parameter '{name}' is not supported by wms: it \
                 supports only Continue, SilentlyContinue, Ignore, Inquire and Stop."
            ),
        )),
    }
}

pub(super) fn parse_output_format(verb: Verb, value: &str) -> Result<OutputFormat, BindError> {
    const FORMATS: [(&str, OutputFormat); 4] = [
        ("List", OutputFormat::List),
        ("Table", OutputFormat::Table),
        ("Wide", OutputFormat::Wide),
        ("Json", OutputFormat::Json),
    ];
    let trimmed = value.trim();
    FORMATS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            // PowerShell's ValidateSet message.
            BindError::binding(
                verb,
                format!(
                    "Cannot validate argument on parameter 'OutputFormat'. The argument \
                     \"{value}\" does not belong to the set \"List,Table,Wide,Json\" specified by \
                     the ValidateSet attribute. Supply an argument that is in the set and then \
                     try the command again."
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdlet::test_support::*;

    // --- switches ----------------------------------------------------------------------------

    #[test]
    fn switch_values() {
        assert_eq!(ok(Verb::Close, &["3", "-Confirm"]).confirm, Some(true));
        assert_eq!(
            ok(Verb::Close, &["3", "-Confirm:$false"]).confirm,
            Some(false)
        );
        assert_eq!(
            ok(Verb::Close, &["3", "-Confirm:$TRUE"]).confirm,
            Some(true)
        );
        assert_eq!(ok(Verb::Close, &["3", "-cf:false"]).confirm, Some(false));
        assert_eq!(ok(Verb::Close, &["3", "-Confirm:True"]).confirm, Some(true));
        assert_eq!(ok(Verb::Close, &["3", "-Confirm:0"]).confirm, Some(false));
        assert_eq!(ok(Verb::Close, &["3", "-Confirm:1"]).confirm, Some(true));
        assert!(!ok(Verb::Close, &["3", "-WhatIf:$false"]).what_if);
        assert!(ok(Verb::Close, &["3", "-WhatIf:$true"]).what_if);
        assert!(!ok(Verb::Close, &["3", "-wi:0"]).what_if);
        assert!(!ok(Verb::Get, &["-Verbose:$false"]).verbose);
        assert!(!ok(Verb::Get, &["-Debug:false"]).debug);
        // PowerShell accepts any number; non-zero is true.
        assert!(ok(Verb::Close, &["3", "-WhatIf:2"]).what_if);
        assert!(!ok(Verb::Close, &["3", "-WhatIf:00"]).what_if);
    }

    #[test]
    fn switch_bad_value() {
        assert_eq!(
            binding_err(Verb::Close, &["3", "-Confirm:yes"]),
            "Cannot process argument transformation on parameter 'Confirm'. Cannot convert \
             value \"System.String\" to type \"System.Management.Automation.SwitchParameter\". \
             Boolean parameters accept only Boolean values and numbers, such as $True, $False, \
             1 or 0."
        );
        assert_eq!(
            binding_err(Verb::Close, &["3", "-wi:$maybe"]),
            "Cannot process argument transformation on parameter 'WhatIf'. Cannot convert \
             value \"System.String\" to type \"System.Management.Automation.SwitchParameter\". \
             Boolean parameters accept only Boolean values and numbers, such as $True, $False, \
             1 or 0."
        );
    }

    #[test]
    fn switch_with_empty_colon_value_is_missing_its_argument() {
        // What an unquoted -Confirm:$false becomes under a Unix shell.
        assert_eq!(
            binding_err(Verb::Close, &["-Confirm:", "3"]),
            "Missing an argument for parameter 'Confirm'. Specify a parameter of type \
             'System.Management.Automation.SwitchParameter' and try again."
        );
    }

    #[test]
    fn switch_never_consumes_the_next_word() {
        let inv = ok(Verb::Close, &["-Confirm", "3"]);
        assert_eq!(inv.confirm, Some(true));
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        let inv = ok(Verb::Close, &["-WhatIf", "3,4", "-Verbose"]);
        assert!(inv.what_if && inv.verbose);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3, 4]));
    }

    #[test]
    fn all_false_is_bound_as_false() {
        // Bound, with nothing to act on (bind.rs: switch_false_still_chooses_its_parameter_set).
        assert_eq!(
            ok(Verb::Close, &["-All:$false"]).selection,
            SelectionArg::Ids(vec![])
        );
        assert_eq!(
            ok(Verb::Close, &["-All:$true"]).selection,
            SelectionArg::All
        );
    }

    // --- value parameters ----------------------------------------------------------------

    #[test]
    fn value_forms() {
        assert_eq!(
            ok(Verb::Get, &["-Server", "h1"]).server.as_deref(),
            Some("h1")
        );
        assert_eq!(ok(Verb::Get, &["-Server:h1"]).server.as_deref(), Some("h1"));
        assert_eq!(
            ok(Verb::Get, &["-Server:", "h1"]).server.as_deref(),
            Some("h1")
        );
        assert_eq!(
            ok(Verb::Get, &["-ComputerName:h1"]).server.as_deref(),
            Some("h1")
        );
        assert_eq!(
            ok(Verb::Get, &["-SessionId:3"]).selection,
            SelectionArg::Ids(vec![3])
        );
        // A string value is one word, verbatim, commas and all.
        let inv = ok(Verb::Lock, &["3", "-Message", "Bye, now"]);
        assert_eq!(inv.message.as_deref(), Some("Bye, now"));
        let inv = ok(Verb::Lock, &["3", "-Message:a:b"]);
        assert_eq!(inv.message.as_deref(), Some("a:b"));
    }

    #[test]
    fn a_negative_number_or_lone_dash_is_a_value() {
        assert_eq!(
            ok(Verb::Get, &["-Server", "-"]).server.as_deref(),
            Some("-")
        );
        let inv = ok(Verb::Lock, &["3", "-Message", "-5"]);
        assert_eq!(inv.message.as_deref(), Some("-5"));
        let inv = ok(Verb::Lock, &["3", "-"]);
        assert_eq!(inv.message.as_deref(), Some("-"));
        let inv = ok(Verb::Lock, &["3", "-.5"]);
        assert_eq!(inv.message.as_deref(), Some("-.5"));
    }

    #[test]
    fn missing_argument_at_end() {
        let cases = [
            (Verb::Close, "-SessionId", "SessionId", "System.UInt32[]"),
            (Verb::Close, "-Server", "Server", "System.String"),
            (Verb::Close, "-ComputerName", "Server", "System.String"),
            (Verb::Lock, "-Message", "Message", "System.String"),
            (Verb::Get, "-OutputFormat", "OutputFormat", "System.String"),
            (
                Verb::Get,
                "-ErrorAction",
                "ErrorAction",
                "System.Management.Automation.ActionPreference",
            ),
            (
                Verb::Get,
                "-wa",
                "WarningAction",
                "System.Management.Automation.ActionPreference",
            ),
        ];
        for (verb, word, name, type_name) in cases {
            assert_eq!(
                binding_err(verb, &[word]),
                format!(
                    "Missing an argument for parameter '{name}'. Specify a parameter of type \
                     '{type_name}' and try again."
                ),
                "{word}"
            );
        }
    }

    #[test]
    fn missing_argument_before_a_parameter_name() {
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "-WhatIf"]),
            "Missing an argument for parameter 'SessionId'. Specify a parameter of type \
             'System.UInt32[]' and try again."
        );
        assert_eq!(
            binding_err(Verb::Close, &["3", "-Server", "--"]),
            "Missing an argument for parameter 'Server'. Specify a parameter of type \
             'System.String' and try again."
        );
        assert_eq!(
            binding_err(Verb::Close, &["3", "-Server:", "-WhatIf"]),
            "Missing an argument for parameter 'Server'. Specify a parameter of type \
             'System.String' and try again."
        );
    }

    #[test]
    fn output_format_values() {
        assert_eq!(
            ok(Verb::Get, &["-OutputFormat", "list"]).output,
            Some(OutputFormat::List)
        );
        assert_eq!(
            ok(Verb::Get, &["-OutputFormat", "TABLE"]).output,
            Some(OutputFormat::Table)
        );
        assert_eq!(
            ok(Verb::Get, &["-OutputFormat:Json"]).output,
            Some(OutputFormat::Json)
        );
        for verb in [Verb::Close, Verb::Disconnect, Verb::Unlock] {
            assert_eq!(
                ok(verb, &["3", "-OutputF", "json"]).output,
                Some(OutputFormat::Json)
            );
        }
        assert_eq!(
            ok(Verb::Lock, &["3", "m", "-OutputFormat", "json"]).output,
            Some(OutputFormat::Json)
        );
    }

    #[test]
    fn output_format_bad_value() {
        assert_eq!(
            binding_err(Verb::Get, &["-OutputFormat", "Xml"]),
            "Cannot validate argument on parameter 'OutputFormat'. The argument \"Xml\" does not \
             belong to the set \"List,Table,Wide,Json\" specified by the ValidateSet attribute. \
             Supply an argument that is in the set and then try the command again."
        );
    }

    // --- ActionPreference ------------------------------------------------------------------

    #[test]
    fn action_preferences() {
        let cases = [
            ("Continue", ActionPreference::Continue),
            ("silentlycontinue", ActionPreference::SilentlyContinue),
            ("IGNORE", ActionPreference::Ignore),
            ("Stop", ActionPreference::Stop),
            // Numeric values, as in `-ea 0`.
            ("0", ActionPreference::SilentlyContinue),
            ("1", ActionPreference::Stop),
            ("2", ActionPreference::Continue),
            ("4", ActionPreference::Ignore),
        ];
        for (value, expected) in cases {
            assert_eq!(
                ok(Verb::Get, &["-ErrorAction", value]).error_action,
                expected
            );
            assert_eq!(
                ok(Verb::Get, &["-WarningAction", value]).warning_action,
                expected
            );
        }
        assert_eq!(
            ok(Verb::Get, &["-ErrorAction:Stop"]).error_action,
            ActionPreference::Stop
        );
    }

    #[test]
    fn action_preferences_refused() {
        for (word, value) in [("suspend", "Suspend"), ("BREAK", "Break"), ("5", "Suspend")] {
            assert_eq!(
                refused_err(Verb::Close, &["3", "-ErrorAction", word]),
                format!(
                    "The value '{value}' of parameter 'ErrorAction' is not supported by wms: it \
                     supports only Continue, SilentlyContinue, Ignore, Inquire and Stop."
                )
            );
        }
    }

    #[test]
    fn inquire_and_unambiguous_prefixes() {
        assert_eq!(
            ok(Verb::Close, &["3", "-ea", "Inquire"]).error_action,
            ActionPreference::Inquire
        );
        assert_eq!(
            ok(Verb::Close, &["3", "-wa", "3"]).warning_action,
            ActionPreference::Inquire
        );
        for (prefix, expected) in [
            ("St", ActionPreference::Stop),
            ("sil", ActionPreference::SilentlyContinue),
            ("c", ActionPreference::Continue),
            ("ig", ActionPreference::Ignore),
            ("INQ", ActionPreference::Inquire),
        ] {
            assert_eq!(
                ok(Verb::Get, &["-ea", prefix]).error_action,
                expected,
                "{prefix}"
            );
        }
        assert_eq!(
            binding_err(Verb::Get, &["-ErrorAction", "s"]),
            "Cannot bind parameter 'ErrorAction'. Cannot convert value \"s\" to type \
             \"System.Management.Automation.ActionPreference\". Error: \"The identifier name s \
             cannot be processed due to the inability to differentiate between the following \
             enumerator names: SilentlyContinue, Stop, Suspend. Try a more specific identifier \
             name.\""
        );
        assert_eq!(
            binding_err(Verb::Get, &["-wa", "i"]),
            "Cannot bind parameter 'WarningAction'. Cannot convert value \"i\" to type \
             \"System.Management.Automation.ActionPreference\". Error: \"The identifier name i \
             cannot be processed due to the inability to differentiate between the following \
             enumerator names: Inquire, Ignore. Try a more specific identifier name.\""
        );
        // A prefix of Suspend or Break is refused as they are.
        assert_eq!(
            refused_err(Verb::Get, &["-ea", "br"]),
            "The value 'Break' of parameter 'ErrorAction' is not supported by wms: it supports \
             only Continue, SilentlyContinue, Ignore, Inquire and Stop."
        );
    }

    #[test]
    fn action_preference_bad_value() {
        assert_eq!(
            binding_err(Verb::Close, &["3", "-ErrorAction", "Foo"]),
            "Cannot bind parameter 'ErrorAction'. Cannot convert value \"Foo\" to type \
             \"System.Management.Automation.ActionPreference\". Error: \"Unable to match the \
             identifier name Foo to a valid enumerator name. Specify one of the following \
             enumerator names and try again: SilentlyContinue, Stop, Continue, Inquire, Ignore, \
             Suspend, Break\""
        );
        assert_eq!(
            binding_err(Verb::Close, &["3", "-wa", "7"]),
            "Cannot bind parameter 'WarningAction'. Cannot convert value \"7\" to type \
             \"System.Management.Automation.ActionPreference\". Error: \"Unable to match the \
             identifier name 7 to a valid enumerator name. Specify one of the following \
             enumerator names and try again: SilentlyContinue, Stop, Continue, Inquire, Ignore, \
             Suspend, Break\""
        );
    }

    // --- SessionId arrays and UInt32 conversion ---------------------------------------------

    #[test]
    fn id_arrays() {
        let v = Verb::Close;
        assert_eq!(ids(v, &["-SessionId", "3,4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "3,", "4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "3", ",4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "3", ",", "4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "@(3,4)"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "@(3,", "4)"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "@(", "3,4", ")"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "(3,4)"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", " 3 , 4 "]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId:3,4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId:3,", "4"]), [3, 4]);
        assert_eq!(ids(v, &["-SessionId", "3,4,", "5", "-WhatIf"]), [3, 4, 5]);
        assert_eq!(ids(v, &["-SessionId", "7"]), [7]);
    }

    #[test]
    fn positional_id_arrays() {
        let v = Verb::Close;
        assert_eq!(ids(v, &["3,4"]), [3, 4]);
        assert_eq!(ids(v, &["3,", "4"]), [3, 4]);
        assert_eq!(ids(v, &["3", ",4"]), [3, 4]);
        assert_eq!(ids(v, &["3", ",", "4", "-WhatIf"]), [3, 4]);
        assert_eq!(ids(v, &["@(3,4)"]), [3, 4]);
        assert_eq!(ids(v, &["-wi", "@(3,", "4)", "-cf"]), [3, 4]);
    }

    #[test]
    fn array_words_join_only_when_adjacent() {
        // "3," and "4" are separated by a named parameter: no array continues across it.
        assert_eq!(
            binding_err(Verb::Close, &["3,", "-WhatIf", "4"]),
            "Cannot bind parameter 'SessionId'. Cannot convert value \"\" to type \
             \"System.UInt32\". Error: \"Input string was not in a correct format.\""
        );
    }

    #[test]
    fn empty_array_elements() {
        for args in [
            &["-SessionId", "3,,4"][..],
            &["3,,4"],
            &["-SessionId", "3,"],
            &["3,"],
        ] {
            assert_eq!(
                binding_err(Verb::Close, args),
                "Cannot bind parameter 'SessionId'. Cannot convert value \"\" to type \
                 \"System.UInt32\". Error: \"Input string was not in a correct format.\"",
                "{args:?}"
            );
        }
    }

    #[test]
    fn uint32_forms() {
        assert_eq!(ids(Verb::Close, &["+7"]), [7]);
        assert_eq!(ids(Verb::Close, &["0x10"]), [16]);
        assert_eq!(ids(Verb::Close, &["0XfF"]), [255]);
        assert_eq!(ids(Verb::Close, &["007"]), [7]);
        assert_eq!(ids(Verb::Close, &["0"]), [0]);
        assert_eq!(ids(Verb::Close, &["-0"]), [0]);
        assert_eq!(ids(Verb::Close, &["4294967295"]), [4294967295]);
        // PowerShell's numeric literal forms.
        assert_eq!(ids(Verb::Close, &["0xFFFFFFFFu"]), [u32::MAX]);
        assert_eq!(ids(Verb::Close, &["0x7FFFFFFF"]), [i32::MAX as u32]);
        assert_eq!(ids(Verb::Close, &["0b101"]), [5]);
        assert_eq!(ids(Verb::Close, &["1kb"]), [1024]);
        assert_eq!(ids(Verb::Close, &["2MB"]), [2 * 1024 * 1024]);
        assert_eq!(ids(Verb::Close, &["7u"]), [7]);
        assert_eq!(ids(Verb::Close, &["7L"]), [7]);
        assert_eq!(ids(Verb::Close, &["7ul"]), [7]);
        assert_eq!(ids(Verb::Close, &["7d"]), [7]);
        assert_eq!(
            ids(Verb::Close, &["0x1d"]),
            [29],
            "d is a hexadecimal digit"
        );
        assert_eq!(ids(Verb::Close, &["1e3"]), [1000]);
        assert_eq!(ids(Verb::Close, &["3.0"]), [3]);
        // Reals round to the nearest integer, ties to even, as Convert.ToUInt32(Double).
        assert_eq!(ids(Verb::Close, &["3.5"]), [4]);
        assert_eq!(ids(Verb::Close, &["2.5"]), [2]);
        assert_eq!(ids(Verb::Close, &["-0.4"]), [0]);
        assert_eq!(ids(Verb::Close, &[".5"]), [0]);
    }

    #[test]
    fn uint32_bad_format() {
        for value in [
            "abc", "3x", "0x", "0xg", "++3", "1 2", "1.2.3", "1e", "0b2", "3kbkb", "$true",
        ] {
            assert_eq!(
                binding_err(Verb::Close, &["-SessionId", value]),
                format!(
                    "Cannot bind parameter 'SessionId'. Cannot convert value \"{value}\" to type \
                     \"System.UInt32\". Error: \"Input string was not in a correct format.\""
                ),
                "{value}"
            );
        }
        assert_eq!(
            binding_err(Verb::Close, &["3,abc"]),
            "Cannot bind parameter 'SessionId'. Cannot convert value \"abc\" to type \
             \"System.UInt32\". Error: \"Input string was not in a correct format.\""
        );
    }

    #[test]
    fn uint32_out_of_range() {
        for value in [
            "4294967296",
            "-1",
            "-0x1",
            "0x100000000",
            "99999999999999999999999",
            // Up to 8 hexadecimal digits without `u` is an Int32: this one is -1.
            "0xFFFFFFFF",
            "0x80000000",
            "-0.6",
            "4294967295.5",
            "4mb-1",
            "4pb",
        ] {
            if value == "4mb-1" {
                continue;
            }
            assert_eq!(
                binding_err(Verb::Close, &["-SessionId", value]),
                format!(
                    "Cannot bind parameter 'SessionId'. Cannot convert value \"{value}\" to type \
                     \"System.UInt32\". Error: \"Value was either too large or too small for a \
                     UInt32.\""
                ),
                "{value}"
            );
        }
        // A negative number in a positional slot is a value, not a parameter name.
        assert_eq!(
            binding_err(Verb::Close, &["-1"]),
            "Cannot bind parameter 'SessionId'. Cannot convert value \"-1\" to type \
             \"System.UInt32\". Error: \"Value was either too large or too small for a UInt32.\""
        );
    }
}
