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
    UserName,
    State,
    IdleSeconds,
    Thumbnail,
    UseLogind,
}

/// The type of a parameter that takes a value (switches take none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueType {
    UInt32Array,
    UInt32,
    Text,
    TextArray,
    OutputFormat,
    Preference,
}

impl ValueType {
    /// The .NET type name PowerShell shows in "Missing an argument" messages.
    pub(super) fn type_name(self) -> &'static str {
        match self {
            ValueType::UInt32Array => "System.UInt32[]",
            ValueType::UInt32 => "System.UInt32",
            ValueType::Text | ValueType::OutputFormat => "System.String",
            ValueType::TextArray => "System.String[]",
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
            Param::Server | Param::Message | Param::Class | Param::Sort | Param::Thumbnail => {
                Some(ValueType::Text)
            }
            Param::OutputFormat => Some(ValueType::OutputFormat),
            Param::ErrorAction | Param::WarningAction => Some(ValueType::Preference),
            Param::UserName | Param::State => Some(ValueType::TextArray),
            Param::IdleSeconds => Some(ValueType::UInt32),
            Param::All
            | Param::WhatIf
            | Param::Confirm
            | Param::Verbose
            | Param::Debug
            | Param::SortDescending
            | Param::UseLogind => None,
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
    /// The cmdlets that carry a message: Lock-WmsSession, Send-WmsMessage.
    WithMessage,
    /// Lock-WmsSession and Unlock-WmsSession.
    LockUnlock,
    GetOnly,
}

impl Scope {
    pub(super) fn includes(self, verb: Verb) -> bool {
        match self {
            Scope::Every => true,
            Scope::Actions => verb.changes_state(),
            Scope::WithMessage => verb.takes_message(),
            Scope::LockUnlock => matches!(verb, Verb::Lock | Verb::Unlock),
            Scope::GetOnly => verb == Verb::Get,
        }
    }
}

/// Where a parameter comes from, which decides a prefix that matches several: the
/// cmdlet's own parameter wins over the common and ShouldProcess ones (PowerShell's
/// `ParameterBinderAssociation`: declared formal parameters first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Declared by the cmdlet itself (wms's extensions included).
    Cmdlet,
    /// A common parameter (`-Verbose`, `-ErrorAction`, ...).
    Common,
    /// `-WhatIf`, `-Confirm`, which PowerShell adds to cmdlets that support ShouldProcess.
    ShouldProcess,
}

#[derive(Debug)]
pub(super) struct ParamSpec {
    pub(super) name: &'static str,
    pub(super) aliases: &'static [&'static str],
    pub(super) role: Role,
    pub(super) scope: Scope,
    pub(super) origin: Origin,
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
        origin: Origin::Cmdlet,
    }
}

const fn common(name: &'static str, aliases: &'static [&'static str], role: Role) -> ParamSpec {
    ParamSpec {
        name,
        aliases,
        role,
        scope: Scope::Every,
        origin: Origin::Common,
    }
}

const fn should_process(
    name: &'static str,
    alias: &'static [&'static str],
    param: Param,
) -> ParamSpec {
    ParamSpec {
        name,
        aliases: alias,
        role: Role::Bind(param),
        scope: Scope::Actions,
        origin: Origin::ShouldProcess,
    }
}

/// Every parameter of the family in the order PowerShell's merged parameter table holds
/// them, which is the order ambiguity messages list matches in: the cmdlet's own
/// parameters, then the common parameters (in the order of PowerShell's
/// `CommonParameters`), then the ShouldProcess ones. SessionId (position 0) and Message
/// (position 1, Lock and Send-WmsMessage) are the positional ones. UserName, State and IdleSeconds are wms's
/// filters, named after the properties they filter on.
pub(super) static PARAMS: &[ParamSpec] = &[
    spec("SessionId", &[], Role::Bind(Param::SessionId), Scope::Every),
    spec("All", &[], Role::Bind(Param::All), Scope::Every),
    spec(
        "Server",
        &["ComputerName"],
        Role::Bind(Param::Server),
        Scope::Every,
    ),
    // -Text: the word the Unix spelling uses (`wms session message --text`).
    spec(
        "Message",
        &["Text"],
        Role::Bind(Param::Message),
        Scope::WithMessage,
    ),
    spec(
        "OutputFormat",
        &[],
        Role::Bind(Param::OutputFormat),
        Scope::Every,
    ),
    // Lock and unlock through logind: a parameter set of its own, without Message.
    spec(
        "UseLogind",
        &[],
        Role::Bind(Param::UseLogind),
        Scope::LockUnlock,
    ),
    spec("UserName", &[], Role::Bind(Param::UserName), Scope::Every),
    spec("State", &[], Role::Bind(Param::State), Scope::Every),
    // Not -Class: -C must stay -ComputerName's (-Server's) prefix.
    spec(
        "SessionClass",
        &[],
        Role::Bind(Param::Class),
        Scope::GetOnly,
    ),
    spec("Sort", &[], Role::Bind(Param::Sort), Scope::GetOnly),
    spec(
        "Thumbnail",
        &[],
        Role::Bind(Param::Thumbnail),
        Scope::GetOnly,
    ),
    spec(
        "SortDescending",
        &[],
        Role::Bind(Param::SortDescending),
        Scope::GetOnly,
    ),
    spec(
        "IdleSeconds",
        &[],
        Role::Bind(Param::IdleSeconds),
        Scope::Every,
    ),
    common("Verbose", &["vb"], Role::Bind(Param::Verbose)),
    common("Debug", &["db"], Role::Bind(Param::Debug)),
    common("ErrorAction", &["ea"], Role::Bind(Param::ErrorAction)),
    common("WarningAction", &["wa"], Role::Bind(Param::WarningAction)),
    common("InformationAction", &["infa"], Role::Refused),
    common("ProgressAction", &["proga"], Role::Refused),
    common("ErrorVariable", &["ev"], Role::Refused),
    common("WarningVariable", &["wv"], Role::Refused),
    common("InformationVariable", &["iv"], Role::Refused),
    common("OutVariable", &["ov"], Role::Refused),
    common("OutBuffer", &["ob"], Role::Refused),
    common("PipelineVariable", &["pv"], Role::Refused),
    should_process("WhatIf", &["wi"], Param::WhatIf),
    should_process("Confirm", &["cf"], Param::Confirm),
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
    let lower = typed.to_ascii_lowercase();
    let is_prefix = |s: &str| s.to_ascii_lowercase().starts_with(&lower);

    // As PowerShell's GetMatchingParameter: names first, then aliases; an exact name or
    // alias wins at once, even when it is also a prefix of another parameter.
    if let Some(exact) = params().find(|p| p.name.eq_ignore_ascii_case(typed)) {
        return Ok(exact);
    }
    if let Some(exact) = params().find(|p| p.aliases.iter().any(|a| a.eq_ignore_ascii_case(typed)))
    {
        return Ok(exact);
    }
    // Every parameter whose name the prefix matches, in table order, then those only an
    // alias matches; one entry per parameter.
    let mut matches: Vec<&ParamSpec> = params().filter(|p| is_prefix(p.name)).collect();
    for p in params() {
        if p.aliases.iter().any(|a| is_prefix(a)) && !matches.iter().any(|m| std::ptr::eq(*m, p)) {
            matches.push(p);
        }
    }
    if matches.len() > 1 {
        // The cmdlet's own parameter wins over common and ShouldProcess ones
        // (`Get-WmsSession -o table`, `Close-WmsSession -C host`).
        let own: Vec<&ParamSpec> = matches
            .iter()
            .copied()
            .filter(|p| p.origin == Origin::Cmdlet)
            .collect();
        if let [only] = own.as_slice() {
            return Ok(only);
        }
        // The message lists every match by its name, aliases never.
        let names: Vec<String> = matches.iter().map(|p| format!("-{}", p.name)).collect();
        return Err(BindError::binding(
            verb,
            format!(
                "Parameter cannot be processed because the parameter name '{typed}' is \
                 ambiguous. Possible matches include: {}.",
                names.join(" ")
            ),
        ));
    }
    matches.first().copied().ok_or_else(unknown)
}

/// Whether a word is a parameter name (`-Name`, `-Name:value`) rather than a value.
/// A lone "-" is a value, and so is a negative number such as "-1" (as in PowerShell,
/// where `-1` is a number token). A word with white space in it is a value too: PowerShell
/// never reads one as a parameter token, so it is what the user quoted
/// (`"-- maintenance at 5 --"`).
pub(super) fn is_name_like(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    if word.chars().any(char::is_whitespace) {
        return false;
    }
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
        // On Get, "Co" and "C" match only ComputerName (Get has no -Confirm, and its
        // class filter is -SessionClass, so that -C stays -ComputerName's).
        assert_eq!(ok(Verb::Get, &["-Co", "h"]).server.as_deref(), Some("h"));
        assert_eq!(ok(Verb::Get, &["-C", "h"]).server.as_deref(), Some("h"));
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
             Possible matches include: -SessionId -Server -State."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-Se", "3"]),
            "Parameter cannot be processed because the parameter name 'Se' is ambiguous. \
             Possible matches include: -SessionId -Server."
        );
    }

    #[test]
    fn the_cmdlets_own_parameter_wins_over_common_ones() {
        // OutputFormat over OutVariable and OutBuffer.
        assert_eq!(
            ok(Verb::Get, &["-o", "table"]).output,
            Some(OutputFormat::Table)
        );
        assert_eq!(
            ok(Verb::Get, &["-Out", "json"]).output,
            Some(OutputFormat::Json)
        );
        // Server (by its alias ComputerName) over Confirm.
        assert_eq!(
            ok(Verb::Close, &["-C", "h", "3"]).server.as_deref(),
            Some("h")
        );
        assert_eq!(
            ok(Verb::Close, &["-co", "h", "3"]).server.as_deref(),
            Some("h")
        );
        // IdleSeconds over InformationAction and InformationVariable.
        assert_eq!(
            ok(Verb::Get, &["-I", "60"]).filter.min_idle_seconds,
            Some(60)
        );
        // Among the cmdlet's own, a prefix is still ambiguous (the `-S` case above).
    }

    #[test]
    fn ambiguity_names_parameters_never_aliases_in_powershells_order() {
        // Common parameters in PowerShell's order, then ShouldProcess ones; a parameter
        // matched by name and by alias is listed once, by name.
        assert_eq!(
            binding_err(Verb::Close, &["3", "-W"]),
            "Parameter cannot be processed because the parameter name 'W' is ambiguous. \
             Possible matches include: -WarningAction -WarningVariable -WhatIf."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-P", "x"]),
            "Parameter cannot be processed because the parameter name 'P' is ambiguous. \
             Possible matches include: -ProgressAction -PipelineVariable."
        );
    }

    #[test]
    fn ambiguous_prefix_includes_refused_common_parameters() {
        // ErrorVariable and InformationVariable are refused, yet they make a prefix
        // ambiguous exactly as in PowerShell.
        assert_eq!(
            binding_err(Verb::Get, &["-e", "Stop"]),
            "Parameter cannot be processed because the parameter name 'e' is ambiguous. \
             Possible matches include: -ErrorAction -ErrorVariable."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-Inf", "x"]),
            "Parameter cannot be processed because the parameter name 'Inf' is ambiguous. \
             Possible matches include: -InformationAction -InformationVariable."
        );
        // A prefix of one refused parameter is that parameter, refused.
        assert_eq!(
            refused_err(Verb::Get, &["-OutB", "1"]),
            "The common parameter 'OutBuffer' is not supported by wms: it only has meaning \
             inside a PowerShell session."
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
        assert!(!is_name_like("-- maintenance at 5 --"));
        assert!(!is_name_like("-Note: back at 5"));
    }
}
