//! The parameter table (names, aliases, types, positions and which cmdlets and parameter
//! sets have each parameter) and the name matcher: case-insensitive, aliases, unambiguous
//! prefixes, PowerShell's ambiguity messages.

use super::*;

/// The parameters wms binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Param {
    SessionId,
    All,
    Server,
    Message,
    WhatIf,
    Confirm,
    OutputFormat,
    Class,
    Sort,
    SortDescending,
    Verbose,
    Debug,
    ErrorAction,
    WarningAction,
}

/// The type of a parameter that takes a value (switches take none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueType {
    UInt32Array,
    Text,
    OutputFormat,
    Preference,
}

impl ValueType {
    /// The .NET type name PowerShell shows in "Missing an argument" messages.
    pub(super) fn type_name(self) -> &'static str {
        match self {
            ValueType::UInt32Array => "System.UInt32[]",
            ValueType::Text | ValueType::OutputFormat => "System.String",
            ValueType::Preference => "System.Management.Automation.ActionPreference",
        }
    }
}

pub(super) const SWITCH_TYPE: &str = "System.Management.Automation.SwitchParameter";

impl Param {
    /// `None` for a switch.
    pub(super) fn value_type(self) -> Option<ValueType> {
        match self {
            Param::SessionId => Some(ValueType::UInt32Array),
            Param::Server | Param::Message | Param::Class | Param::Sort => Some(ValueType::Text),
            Param::OutputFormat => Some(ValueType::OutputFormat),
            Param::ErrorAction | Param::WarningAction => Some(ValueType::Preference),
            Param::All
            | Param::WhatIf
            | Param::Confirm
            | Param::Verbose
            | Param::Debug
            | Param::SortDescending => None,
        }
    }
}

/// What a recognised parameter name leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Bind(Param),
    /// A common parameter that only has meaning inside a PowerShell session. It is in the
    /// table so that it is matched (and makes prefixes ambiguous) exactly as in PowerShell,
    /// and is then refused rather than reported as unknown.
    Refused,
}

/// Which cmdlets have a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Every,
    /// The state-changing cmdlets (ShouldProcess: -WhatIf, -Confirm).
    Actions,
    LockOnly,
    GetOnly,
}

impl Scope {
    pub(super) fn includes(self, verb: Verb) -> bool {
        match self {
            Scope::Every => true,
            Scope::Actions => verb.changes_state(),
            Scope::LockOnly => verb == Verb::Lock,
            Scope::GetOnly => verb == Verb::Get,
        }
    }
}

#[derive(Debug)]
pub(super) struct ParamSpec {
    pub(super) name: &'static str,
    pub(super) aliases: &'static [&'static str],
    pub(super) role: Role,
    pub(super) scope: Scope,
}

impl ParamSpec {
    /// The canonical name first, so that when both the name and an alias match a prefix
    /// the name is the one reported.
    pub(super) fn spellings(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

pub(super) const fn spec(
    name: &'static str,
    aliases: &'static [&'static str],
    role: Role,
    scope: Scope,
) -> ParamSpec {
    ParamSpec {
        name,
        aliases,
        role,
        scope,
    }
}

/// Every parameter of the family in declaration order, which is the order ambiguity
/// messages list matches in: the cmdlet's own parameters, then the common ones.
/// SessionId (position 0) and Message (position 1, Lock) are the positional ones.
pub(super) static PARAMS: &[ParamSpec] = &[
    spec("SessionId", &[], Role::Bind(Param::SessionId), Scope::Every),
    spec("All", &[], Role::Bind(Param::All), Scope::Every),
    spec(
        "Server",
        &["ComputerName"],
        Role::Bind(Param::Server),
        Scope::Every,
    ),
    spec("Message", &[], Role::Bind(Param::Message), Scope::LockOnly),
    spec("WhatIf", &["wi"], Role::Bind(Param::WhatIf), Scope::Actions),
    spec(
        "Confirm",
        &["cf"],
        Role::Bind(Param::Confirm),
        Scope::Actions,
    ),
    spec(
        "OutputFormat",
        &[],
        Role::Bind(Param::OutputFormat),
        Scope::Every,
    ),
    spec("Class", &[], Role::Bind(Param::Class), Scope::GetOnly),
    spec("Sort", &[], Role::Bind(Param::Sort), Scope::GetOnly),
    spec(
        "SortDescending",
        &[],
        Role::Bind(Param::SortDescending),
        Scope::GetOnly,
    ),
    spec("Verbose", &["vb"], Role::Bind(Param::Verbose), Scope::Every),
    spec("Debug", &["db"], Role::Bind(Param::Debug), Scope::Every),
    spec(
        "ErrorAction",
        &["ea"],
        Role::Bind(Param::ErrorAction),
        Scope::Every,
    ),
    spec(
        "WarningAction",
        &["wa"],
        Role::Bind(Param::WarningAction),
        Scope::Every,
    ),
    spec("InformationAction", &["infa"], Role::Refused, Scope::Every),
    spec("ErrorVariable", &["ev"], Role::Refused, Scope::Every),
    spec("WarningVariable", &["wv"], Role::Refused, Scope::Every),
    spec("InformationVariable", &["iv"], Role::Refused, Scope::Every),
    spec("OutVariable", &["ov"], Role::Refused, Scope::Every),
    spec("OutBuffer", &["ob"], Role::Refused, Scope::Every),
    spec("PipelineVariable", &["pv"], Role::Refused, Scope::Every),
    spec("ProgressAction", &["proga"], Role::Refused, Scope::Every),
];

// ---------------------------------------------------------------------------------------
// The name matcher
// ---------------------------------------------------------------------------------------

/// Finds the parameter `typed` (the word without its dash and any `:value`) names.
pub(super) fn resolve(verb: Verb, typed: &str) -> Result<&'static ParamSpec, BindError> {
    resolve_in(PARAMS, verb, typed)
}

pub(super) fn resolve_in<'t>(
    table: &'t [ParamSpec],
    verb: Verb,
    typed: &str,
) -> Result<&'t ParamSpec, BindError> {
    let unknown = || {
        BindError::binding(
            verb,
            format!("A parameter cannot be found that matches parameter name '{typed}'."),
        )
    };
    // An empty name would be a prefix of everything; it names nothing.
    if typed.is_empty() {
        return Err(unknown());
    }
    let params = || table.iter().filter(|p| p.scope.includes(verb));

    // An exact name or alias wins even when it is also a prefix of another parameter.
    if let Some(exact) = params().find(|p| p.spellings().any(|s| s.eq_ignore_ascii_case(typed))) {
        return Ok(exact);
    }

    let prefix = typed.to_ascii_lowercase();
    // One entry per parameter: a prefix of both a name and its own alias is one match.
    let matches: Vec<(&ParamSpec, &str)> = params()
        .filter_map(|p| {
            p.spellings()
                .find(|s| s.to_ascii_lowercase().starts_with(&prefix))
                .map(|s| (p, s))
        })
        .collect();
    match matches.as_slice() {
        [] => Err(unknown()),
        [(only, _)] => Ok(only),
        several => {
            let names: Vec<String> = several.iter().map(|(_, s)| format!("-{s}")).collect();
            Err(BindError::binding(
                verb,
                format!(
                    "Parameter cannot be processed because the parameter name '{typed}' is \
                     ambiguous. Possible matches include: {}.",
                    names.join(" ")
                ),
            ))
        }
    }
}

/// Whether a word is a parameter name (`-Name`, `-Name:value`) rather than a value.
/// A lone "-" is a value, and so is a negative number such as "-1" (as in PowerShell,
/// where `-1` is a number token).
pub(super) fn is_name_like(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    let mut chars = rest.chars();
    match chars.next() {
        None => false,
        Some(c) if c.is_ascii_digit() => false,
        Some('.') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdlet::test_support::*;

    // --- name matching -----------------------------------------------------------------

    #[test]
    fn names_are_case_insensitive() {
        let inv = ok(
            Verb::Close,
            &["-sessionid", "3", "-SERVER", "h", "-whatif", "-CONFIRM"],
        );
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        assert_eq!(inv.server.as_deref(), Some("h"));
        assert!(inv.what_if);
        assert_eq!(inv.confirm, Some(true));
        assert_eq!(ok(Verb::Close, &["-ALL"]).selection, SelectionArg::All);
    }

    #[test]
    fn aliases() {
        let inv = ok(
            Verb::Close,
            &["-ComputerName", "h", "-wi", "-cf", "3", "-vb", "-db"],
        );
        assert_eq!(inv.server.as_deref(), Some("h"));
        assert!(inv.what_if && inv.verbose && inv.debug);
        assert_eq!(inv.confirm, Some(true));
        let inv = ok(Verb::Get, &["-ea", "Ignore", "-WA", "Stop"]);
        assert_eq!(inv.error_action, ActionPreference::Ignore);
        assert_eq!(inv.warning_action, ActionPreference::Stop);
    }

    #[test]
    fn unambiguous_prefixes() {
        let inv = ok(
            Verb::Lock,
            &["-Ses", "3", "-Me", "hi", "-Ser", "h", "-Wh", "-Con"],
        );
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
        assert_eq!(inv.message.as_deref(), Some("hi"));
        assert_eq!(inv.server.as_deref(), Some("h"));
        assert!(inv.what_if);
        assert_eq!(inv.confirm, Some(true));
        assert_eq!(ok(Verb::Close, &["-a"]).selection, SelectionArg::All);
        assert_eq!(
            ok(Verb::Close, &["-Com", "h", "3"]).server.as_deref(),
            Some("h")
        );
        assert_eq!(
            ok(Verb::Get, &["-Output", "list"]).output,
            Some(OutputFormat::List)
        );
        assert_eq!(
            ok(Verb::Get, &["-ErrorA", "Stop"]).error_action,
            ActionPreference::Stop
        );
        assert!(ok(Verb::Get, &["-d"]).debug);
    }

    #[test]
    fn prefix_of_a_name_and_its_own_alias_is_not_ambiguous() {
        // "v" is a prefix of both Verbose and its alias vb.
        assert!(ok(Verb::Get, &["-v"]).verbose);
        // On Get, "Co" matches only ComputerName (Get has no -Confirm); "C" is also a
        // prefix of Get's -Class.
        assert_eq!(ok(Verb::Get, &["-Co", "h"]).server.as_deref(), Some("h"));
        assert!(binding_err(Verb::Get, &["-C", "h"])
            .contains("Possible matches include: -ComputerName -Class."));
    }

    #[test]
    fn exact_name_or_alias_wins_over_a_longer_match() {
        let table = [
            spec("Name", &[], Role::Bind(Param::Server), Scope::Every),
            spec(
                "NameSpace",
                &["ns"],
                Role::Bind(Param::Message),
                Scope::Every,
            ),
            spec("Other", &["n"], Role::Bind(Param::All), Scope::Every),
        ];
        assert_eq!(resolve_in(&table, Verb::Get, "name").unwrap().name, "Name");
        assert_eq!(resolve_in(&table, Verb::Get, "N").unwrap().name, "Other");
        assert_eq!(
            resolve_in(&table, Verb::Get, "names").unwrap().name,
            "NameSpace"
        );
        assert_eq!(
            resolve_in(&table, Verb::Get, "na").unwrap_err().message,
            "Parameter cannot be processed because the parameter name 'na' is ambiguous. \
             Possible matches include: -Name -NameSpace."
        );
        // And in the real table: "wi" is WhatIf's alias.
        assert!(ok(Verb::Close, &["-wi"]).what_if);
    }

    #[test]
    fn ambiguous_prefix() {
        assert_eq!(
            binding_err(Verb::Close, &["-S", "3"]),
            "Parameter cannot be processed because the parameter name 'S' is ambiguous. \
             Possible matches include: -SessionId -Server."
        );
    }

    #[test]
    fn ambiguous_prefix_lists_the_alias_that_matched() {
        assert_eq!(
            binding_err(Verb::Close, &["-C", "3"]),
            "Parameter cannot be processed because the parameter name 'C' is ambiguous. \
             Possible matches include: -ComputerName -Confirm."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-co"]),
            "Parameter cannot be processed because the parameter name 'co' is ambiguous. \
             Possible matches include: -ComputerName -Confirm."
        );
    }

    #[test]
    fn ambiguous_prefix_includes_refused_common_parameters() {
        assert_eq!(
            binding_err(Verb::Get, &["-O", "json"]),
            "Parameter cannot be processed because the parameter name 'O' is ambiguous. \
             Possible matches include: -OutputFormat -OutVariable -OutBuffer."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-Out", "json"]),
            "Parameter cannot be processed because the parameter name 'Out' is ambiguous. \
             Possible matches include: -OutputFormat -OutVariable -OutBuffer."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-W"]),
            "Parameter cannot be processed because the parameter name 'W' is ambiguous. \
             Possible matches include: -WhatIf -WarningAction -WarningVariable."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-e", "Stop"]),
            "Parameter cannot be processed because the parameter name 'e' is ambiguous. \
             Possible matches include: -ErrorAction -ErrorVariable."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-I", "x"]),
            "Parameter cannot be processed because the parameter name 'I' is ambiguous. \
             Possible matches include: -InformationAction -InformationVariable."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-P", "x"]),
            "Parameter cannot be processed because the parameter name 'P' is ambiguous. \
             Possible matches include: -PipelineVariable -ProgressAction."
        );
    }

    #[test]
    fn get_has_only_warning_parameters_under_w() {
        assert_eq!(
            binding_err(Verb::Get, &["-W", "x"]),
            "Parameter cannot be processed because the parameter name 'W' is ambiguous. \
             Possible matches include: -WarningAction -WarningVariable."
        );
    }

    #[test]
    fn unknown_parameter() {
        assert_eq!(
            binding_err(Verb::Close, &["-Foo", "3"]),
            "A parameter cannot be found that matches parameter name 'Foo'."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-Foo:bar"]),
            "A parameter cannot be found that matches parameter name 'Foo'."
        );
        assert_eq!(
            binding_err(Verb::Close, &["--x"]),
            "A parameter cannot be found that matches parameter name '-x'."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-:x"]),
            "A parameter cannot be found that matches parameter name ''."
        );
    }

    #[test]
    fn get_has_no_what_if_or_confirm() {
        assert_eq!(
            binding_err(Verb::Get, &["-WhatIf"]),
            "A parameter cannot be found that matches parameter name 'WhatIf'."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-Confirm"]),
            "A parameter cannot be found that matches parameter name 'Confirm'."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-wi"]),
            "A parameter cannot be found that matches parameter name 'wi'."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-cf"]),
            "A parameter cannot be found that matches parameter name 'cf'."
        );
    }

    #[test]
    fn message_is_lock_only() {
        for verb in [Verb::Get, Verb::Close, Verb::Disconnect, Verb::Unlock] {
            assert_eq!(
                binding_err(verb, &["3", "-Message", "hi"]),
                "A parameter cannot be found that matches parameter name 'Message'."
            );
        }
    }

    #[test]
    fn what_if_and_confirm_on_every_action() {
        for verb in [Verb::Close, Verb::Disconnect, Verb::Unlock] {
            let inv = ok(verb, &["3", "-WhatIf", "-Confirm"]);
            assert!(inv.what_if);
            assert_eq!(inv.confirm, Some(true));
        }
        let inv = ok(Verb::Lock, &["3", "hi", "-WhatIf", "-Confirm"]);
        assert!(inv.what_if);
        assert_eq!(inv.confirm, Some(true));
    }

    #[test]
    fn named_errors_come_before_positional_conversion() {
        assert_eq!(
            binding_err(Verb::Close, &["abc", "-Foo"]),
            "A parameter cannot be found that matches parameter name 'Foo'."
        );
    }

    // --- refused common parameters -------------------------------------------------------

    #[test]
    fn refused_common_parameters_by_name_alias_and_prefix() {
        let cases = [
            ("-ErrorVariable", "ErrorVariable"),
            ("-ev", "ErrorVariable"),
            ("-WarningVariable", "WarningVariable"),
            ("-wv", "WarningVariable"),
            ("-InformationAction", "InformationAction"),
            ("-infa", "InformationAction"),
            ("-InformationV", "InformationVariable"),
            ("-iv", "InformationVariable"),
            ("-OutVariable", "OutVariable"),
            ("-ov", "OutVariable"),
            ("-OutV", "OutVariable"),
            ("-OutBuffer", "OutBuffer"),
            ("-ob", "OutBuffer"),
            ("-PipelineVariable", "PipelineVariable"),
            ("-pv", "PipelineVariable"),
            ("-ProgressAction", "ProgressAction"),
            ("-proga", "ProgressAction"),
            ("-Pr", "ProgressAction"),
            ("-ov:x", "OutVariable"),
        ];
        for (word, name) in cases {
            assert_eq!(
                refused_err(Verb::Close, &["3", word, "x"]),
                format!(
                    "The common parameter '{name}' is not supported by wms: it only has \
                     meaning inside a PowerShell session."
                ),
                "{word}"
            );
        }
    }

    #[test]
    fn refused_common_parameter_display() {
        assert_eq!(
            err(Verb::Close, &["3", "-OutVariable", "x"]).to_string(),
            "Close-WmsSession: The common parameter 'OutVariable' is not supported by wms: it \
             only has meaning inside a PowerShell session. (NotSupportedException)"
        );
    }

    // --- helpers --------------------------------------------------------------------------

    #[test]
    fn name_like_words() {
        assert!(is_name_like("-All"));
        assert!(is_name_like("--"));
        assert!(is_name_like("--x"));
        assert!(is_name_like("-."));
        assert!(!is_name_like("-"));
        assert!(!is_name_like("-1"));
        assert!(!is_name_like("-0x1"));
        assert!(!is_name_like("-.5"));
        assert!(!is_name_like("3"));
        assert!(!is_name_like(""));
    }
}
