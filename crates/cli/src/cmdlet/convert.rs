//! The value converters: UInt32 arrays as PowerShell converts them, switches,
//! ActionPreference and the output format, each with .NET's or PowerShell's error text.

use super::*;

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

/// Converts one array element as PowerShell converts a number to UInt32: decimal with an
/// optional sign, or `0x` hexadecimal. The error is .NET's reason text.
pub(super) fn parse_u32(element: &str) -> Result<u32, &'static str> {
    let (negative, body) = match element.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, element.strip_prefix('+').unwrap_or(element)),
    };
    let (radix, digits) = match body.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("0x") => (16, &body[2..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(FORMAT_ERROR);
    }
    // The digits are valid, so the only failure left is overflow.
    match (negative, u32::from_str_radix(digits, radix)) {
        (false, Ok(value)) | (true, Ok(value @ 0)) => Ok(value),
        _ => Err(RANGE_ERROR),
    }
}

/// Converts a (possibly re-joined) array argument: `3`, `3,4`, `3 , 4`, `@(3,4)`, `(3,4)`.
pub(super) fn parse_ids(verb: Verb, text: &str) -> Result<Vec<u32>, BindError> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix("@(")
        .or_else(|| trimmed.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed);
    // Empty elements ("3,,4", a trailing "3,") fail like any other unconvertible value.
    inner
        .split(',')
        .map(str::trim)
        .map(|element| {
            parse_u32(element).map_err(|reason| {
                BindError::binding(
                    verb,
                    format!(
                        "Cannot bind parameter 'SessionId'. Cannot convert value \"{element}\" \
                         to type \"System.UInt32\". Error: \"{reason}\""
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
    ("Inquire", None),
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
    let found = PREFERENCES
        .iter()
        .find(|(enumerator, _)| enumerator.eq_ignore_ascii_case(trimmed))
        .or_else(|| {
            trimmed
                .parse::<usize>()
                .ok()
                .and_then(|n| PREFERENCES.get(n))
        });
    match found {
        Some((_, Some(preference))) => Ok(*preference),
        // Inquire would prompt mid-stream, Suspend is for workflows and Break enters the
        // debugger: none has a meaning outside a PowerShell session.
        Some((enumerator, None)) => Err(BindError::not_supported(
            verb,
            format!(
                "The value '{enumerator}' of parameter '{name}' is not supported by wms: it \
                 supports only Continue, SilentlyContinue, Ignore and Stop."
            ),
        )),
        None => Err(BindError::binding(
            verb,
            format!(
                "Cannot bind parameter '{name}'. Cannot convert value \"{value}\" to type \
                 \"System.Management.Automation.ActionPreference\". Error: \"Unable to match \
                 the identifier name {value} to a valid enumerator name. Specify one of the \
                 following enumerator names and try again: SilentlyContinue, Stop, Continue, \
                 Inquire, Ignore, Suspend, Break\""
            ),
        )),
    }
}

pub(super) fn parse_output_format(verb: Verb, value: &str) -> Result<OutputFormat, BindError> {
    const FORMATS: [(&str, OutputFormat); 3] = [
        ("List", OutputFormat::List),
        ("Table", OutputFormat::Table),
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
                     \"{value}\" does not belong to the set \"List,Table,Json\" specified by \
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
    fn all_false_means_all_not_given() {
        assert_eq!(
            ok(Verb::Close, &["-All:$false"]).selection,
            SelectionArg::Unbound
        );
        assert_eq!(
            ok(Verb::Close, &["-All:$false", "-SessionId", "3"]).selection,
            SelectionArg::Ids(vec![3])
        );
        assert_eq!(
            ok(Verb::Close, &["-All:0", "3"]).selection,
            SelectionArg::Ids(vec![3])
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
             belong to the set \"List,Table,Json\" specified by the ValidateSet attribute. \
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
        for (word, value) in [
            ("Inquire", "Inquire"),
            ("suspend", "Suspend"),
            ("BREAK", "Break"),
        ] {
            assert_eq!(
                refused_err(Verb::Close, &["3", "-ErrorAction", word]),
                format!(
                    "The value '{value}' of parameter 'ErrorAction' is not supported by wms: it \
                     supports only Continue, SilentlyContinue, Ignore and Stop."
                )
            );
        }
        assert_eq!(
            refused_err(Verb::Close, &["3", "-wa", "3"]),
            "The value 'Inquire' of parameter 'WarningAction' is not supported by wms: it \
             supports only Continue, SilentlyContinue, Ignore and Stop."
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
        assert_eq!(ids(Verb::Close, &["0xFFFFFFFF"]), [u32::MAX]);
    }

    #[test]
    fn uint32_bad_format() {
        for value in ["abc", "3x", "0x", "0xg", "++3", "3.5", "1 2"] {
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
        ] {
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
