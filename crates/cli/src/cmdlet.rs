//! The PowerShell-style parameter binder for the cmdlet spelling of the command line
//! (`wms Close-WmsSession -SessionId 3,4 -WhatIf`, SPEC section 6).
//!
//! This module owns the translation of the words after a cmdlet name into an
//! [`Invocation`], following PowerShell's binding rules closely enough that a MultiPoint
//! administrator's command lines keep working and that mistakes get the messages they
//! know:
//!
//! - the parameter table of each cmdlet (names, aliases, types, positions, parameter sets),
//!   including the common parameters, which are recognised even when wms refuses them so
//!   that they take part in prefix matching exactly as in PowerShell;
//! - the name matcher (case-insensitive, aliases, unambiguous prefixes);
//! - the value converters (UInt32 arrays, switches, ActionPreference, output format);
//! - named binding, then positional binding, then parameter-set and mandatory checks,
//!   with PowerShell's error texts.
//!
//! It is pure: no I/O. Whether a command with no `-SessionId`/`-All` reads session objects
//! from standard input is the caller's decision ([`SelectionArg::Unbound`],
//! [`missing_selection`]).

use std::fmt;

use wms_core::Verb;

/// What a command does with a non-terminating error or a warning (`-ErrorAction`,
/// `-WarningAction`). Only the preferences that mean something outside a PowerShell
/// session are representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActionPreference {
    #[default]
    Continue,
    SilentlyContinue,
    Ignore,
    Stop,
}

/// How the targets were chosen on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionArg {
    /// `-SessionId` (by name or position).
    Ids(Vec<u32>),
    /// `-All`.
    All,
    /// Neither `-SessionId` nor `-All` given: the IDs may still come from the pipeline.
    Unbound,
}

/// The wms extension `-OutputFormat List|Table|Json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    List,
    Table,
    Json,
}

/// A fully bound cmdlet invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub verb: Verb,
    pub selection: SelectionArg,
    pub server: Option<String>,
    /// Lock-WmsSession only (mandatory there).
    pub message: Option<String>,
    pub what_if: bool,
    /// `Some(true)` for `-Confirm`, `Some(false)` for `-Confirm:$false`, `None` if not given.
    pub confirm: Option<bool>,
    pub verbose: bool,
    pub debug: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub output: Option<OutputFormat>,
}

/// A usage error: the command line does not bind. Nothing may be done when this happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    /// The canonical cmdlet name, e.g. "Close-WmsSession".
    pub cmdlet: String,
    pub message: String,
    /// The PowerShell exception category shown in parentheses.
    pub category: &'static str,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.cmdlet, self.message, self.category)
    }
}

impl std::error::Error for BindError {}

const BINDING: &str = "ParameterBindingException";
const NOT_SUPPORTED: &str = "NotSupportedException";

impl BindError {
    fn binding(verb: Verb, message: impl Into<String>) -> Self {
        BindError {
            cmdlet: verb.cmdlet().to_string(),
            message: message.into(),
            category: BINDING,
        }
    }

    fn not_supported(verb: Verb, message: impl Into<String>) -> Self {
        BindError {
            cmdlet: verb.cmdlet().to_string(),
            message: message.into(),
            category: NOT_SUPPORTED,
        }
    }
}

const VERBS: [Verb; 5] = [
    Verb::Get,
    Verb::Close,
    Verb::Disconnect,
    Verb::Lock,
    Verb::Unlock,
];

/// The verb named by a cmdlet name, case-insensitive ("close-wmssession" -> Close); None if
/// not a cmdlet name.
pub fn cmdlet_verb(name: &str) -> Option<Verb> {
    VERBS
        .into_iter()
        .find(|verb| verb.cmdlet().eq_ignore_ascii_case(name))
}

/// The error for a command whose SessionId/All was never bound and has no pipeline input.
pub fn missing_selection(verb: Verb) -> BindError {
    // PowerShell itself would say the parameter set cannot be resolved (two sets, neither
    // chosen); naming what is missing and how to give it is more useful.
    BindError::binding(
        verb,
        "Cannot process command because of one or more missing mandatory parameters: \
         SessionId. Give session IDs, -All, or pipe session objects on standard input.",
    )
}

// ---------------------------------------------------------------------------------------
// The parameter table
// ---------------------------------------------------------------------------------------

/// The parameters wms binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    SessionId,
    All,
    Server,
    Message,
    WhatIf,
    Confirm,
    OutputFormat,
    Verbose,
    Debug,
    ErrorAction,
    WarningAction,
}

/// The type of a parameter that takes a value (switches take none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    UInt32Array,
    Text,
    OutputFormat,
    Preference,
}

impl ValueType {
    /// The .NET type name PowerShell shows in "Missing an argument" messages.
    fn type_name(self) -> &'static str {
        match self {
            ValueType::UInt32Array => "System.UInt32[]",
            ValueType::Text | ValueType::OutputFormat => "System.String",
            ValueType::Preference => "System.Management.Automation.ActionPreference",
        }
    }
}

const SWITCH_TYPE: &str = "System.Management.Automation.SwitchParameter";

impl Param {
    /// `None` for a switch.
    fn value_type(self) -> Option<ValueType> {
        match self {
            Param::SessionId => Some(ValueType::UInt32Array),
            Param::Server | Param::Message => Some(ValueType::Text),
            Param::OutputFormat => Some(ValueType::OutputFormat),
            Param::ErrorAction | Param::WarningAction => Some(ValueType::Preference),
            Param::All | Param::WhatIf | Param::Confirm | Param::Verbose | Param::Debug => None,
        }
    }
}

/// What a recognised parameter name leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Bind(Param),
    /// A common parameter that only has meaning inside a PowerShell session. It is in the
    /// table so that it is matched (and makes prefixes ambiguous) exactly as in PowerShell,
    /// and is then refused rather than reported as unknown.
    Refused,
}

/// Which cmdlets have a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Every,
    /// The state-changing cmdlets (ShouldProcess: -WhatIf, -Confirm).
    Actions,
    LockOnly,
}

impl Scope {
    fn includes(self, verb: Verb) -> bool {
        match self {
            Scope::Every => true,
            Scope::Actions => verb.changes_state(),
            Scope::LockOnly => verb == Verb::Lock,
        }
    }
}

#[derive(Debug)]
struct ParamSpec {
    name: &'static str,
    aliases: &'static [&'static str],
    role: Role,
    scope: Scope,
}

impl ParamSpec {
    /// The canonical name first, so that when both the name and an alias match a prefix
    /// the name is the one reported.
    fn spellings(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

const fn spec(
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
static PARAMS: &[ParamSpec] = &[
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
fn resolve(verb: Verb, typed: &str) -> Result<&'static ParamSpec, BindError> {
    resolve_in(PARAMS, verb, typed)
}

fn resolve_in<'t>(
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
fn is_name_like(word: &str) -> bool {
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

// ---------------------------------------------------------------------------------------
// Value converters
// ---------------------------------------------------------------------------------------

/// Whether an array argument continues into the next word. Under a Unix shell
/// `-SessionId 3, 4` arrives as the words "3," and "4"; PowerShell's parser would have
/// read one array expression, so the words are joined again: after a trailing comma,
/// before a leading comma, and inside an unclosed `@(`.
fn continues(acc: &str, next: &str) -> bool {
    acc.trim_end().ends_with(',')
        || next.trim_start().starts_with(',')
        || acc.matches('(').count() > acc.matches(')').count()
}

const FORMAT_ERROR: &str = "Input string was not in a correct format.";
const RANGE_ERROR: &str = "Value was either too large or too small for a UInt32.";

/// Converts one array element as PowerShell converts a number to UInt32: decimal with an
/// optional sign, or `0x` hexadecimal. The error is .NET's reason text.
fn parse_u32(element: &str) -> Result<u32, &'static str> {
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
fn parse_ids(verb: Verb, text: &str) -> Result<Vec<u32>, BindError> {
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
fn parse_switch(verb: Verb, name: &str, value: &str) -> Result<bool, BindError> {
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
const PREFERENCES: [(&str, Option<ActionPreference>); 7] = [
    ("SilentlyContinue", Some(ActionPreference::SilentlyContinue)),
    ("Stop", Some(ActionPreference::Stop)),
    ("Continue", Some(ActionPreference::Continue)),
    ("Inquire", None),
    ("Ignore", Some(ActionPreference::Ignore)),
    ("Suspend", None),
    ("Break", None),
];

fn parse_preference(verb: Verb, name: &str, value: &str) -> Result<ActionPreference, BindError> {
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

fn parse_output_format(verb: Verb, value: &str) -> Result<OutputFormat, BindError> {
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

// ---------------------------------------------------------------------------------------
// Binding
// ---------------------------------------------------------------------------------------

/// The binding in progress.
struct State {
    verb: Verb,
    /// Parameters bound by name, to refuse a second spelling of the same one.
    named: Vec<Param>,
    ids: Option<Vec<u32>>,
    all: bool,
    server: Option<String>,
    message: Option<String>,
    what_if: bool,
    confirm: Option<bool>,
    verbose: bool,
    debug: bool,
    error_action: ActionPreference,
    warning_action: ActionPreference,
    output: Option<OutputFormat>,
}

impl State {
    fn new(verb: Verb) -> Self {
        State {
            verb,
            named: Vec::new(),
            ids: None,
            all: false,
            server: None,
            message: None,
            what_if: false,
            confirm: None,
            verbose: false,
            debug: false,
            error_action: ActionPreference::default(),
            warning_action: ActionPreference::default(),
            output: None,
        }
    }

    fn set_switch(&mut self, param: Param, on: bool) {
        match param {
            // `-All:$false` is as if -All were not given.
            Param::All => self.all = on,
            Param::WhatIf => self.what_if = on,
            Param::Confirm => self.confirm = Some(on),
            Param::Verbose => self.verbose = on,
            Param::Debug => self.debug = on,
            _ => unreachable!("{param:?} is not a switch"),
        }
    }

    /// Converts and stores a value argument (already re-joined for arrays).
    fn set_value(&mut self, param: Param, name: &str, text: &str) -> Result<(), BindError> {
        let verb = self.verb;
        match param {
            Param::SessionId => self.ids = Some(parse_ids(verb, text)?),
            Param::Server => self.server = Some(text.to_string()),
            Param::Message => self.message = Some(text.to_string()),
            Param::OutputFormat => self.output = Some(parse_output_format(verb, text)?),
            Param::ErrorAction => self.error_action = parse_preference(verb, name, text)?,
            Param::WarningAction => self.warning_action = parse_preference(verb, name, text)?,
            _ => unreachable!("{param:?} takes no value"),
        }
        Ok(())
    }

    fn finish(self) -> Invocation {
        let selection = match (self.ids, self.all) {
            (Some(ids), _) => SelectionArg::Ids(ids),
            (None, true) => SelectionArg::All,
            (None, false) => SelectionArg::Unbound,
        };
        Invocation {
            verb: self.verb,
            selection,
            server: self.server,
            message: self.message,
            what_if: self.what_if,
            confirm: self.confirm,
            verbose: self.verbose,
            debug: self.debug,
            error_action: self.error_action,
            warning_action: self.warning_action,
            output: self.output,
        }
    }
}

/// A word that did not bind by name, with its index in `args` (to know which words are
/// adjacent, since only adjacent words form one array argument).
struct PositionalWord<'a> {
    index: usize,
    text: &'a str,
}

fn missing_argument(verb: Verb, name: &str, type_name: &str) -> BindError {
    BindError::binding(
        verb,
        format!(
            "Missing an argument for parameter '{name}'. Specify a parameter of type \
             '{type_name}' and try again."
        ),
    )
}

fn set_unresolved(verb: Verb) -> BindError {
    BindError::binding(
        verb,
        "Parameter set cannot be resolved using the specified named parameters. One or more \
         parameters issued cannot be used together or an insufficient number of parameters \
         were provided.",
    )
}

/// Binds `args` (the words after the cmdlet name) for `verb`, PowerShell-style.
///
/// As in PowerShell, named parameters bind first (in order, so the first bad one is the
/// error), then the remaining words bind by position, then the parameter set and the
/// mandatory parameters are checked. A missing selection is not an error here: the caller
/// may still bind it from pipeline input, and reports [`missing_selection`] otherwise.
pub fn bind(verb: Verb, args: &[String]) -> Result<Invocation, BindError> {
    let mut state = State::new(verb);
    let mut positional: Vec<PositionalWord<'_>> = Vec::new();
    let mut only_positional = false;

    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_str();
        if !only_positional && word == "--" {
            // End of parameters: everything after is a value, even "-x".
            only_positional = true;
            i += 1;
            continue;
        }
        if only_positional || !is_name_like(word) {
            positional.push(PositionalWord {
                index: i,
                text: word,
            });
            i += 1;
            continue;
        }

        let body = &word[1..];
        let (typed, inline) = match body.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let spec = resolve(verb, typed)?;
        let param = match spec.role {
            Role::Bind(param) => param,
            Role::Refused => {
                return Err(BindError::not_supported(
                    verb,
                    format!(
                        "The common parameter '{}' is not supported by wms: it only has \
                         meaning inside a PowerShell session.",
                        spec.name
                    ),
                ))
            }
        };
        if state.named.contains(&param) {
            return Err(BindError::binding(
                verb,
                format!(
                    "Cannot bind parameter because parameter '{}' is specified more than once. \
                     To provide multiple values to parameters that can accept multiple values, \
                     use the array syntax. For example, \"-parameter value1,value2,value3\".",
                    spec.name
                ),
            ));
        }
        state.named.push(param);

        match param.value_type() {
            None => {
                // A switch never takes the next word: `-Confirm 3` is Confirm and ID 3.
                let on = match inline {
                    None => true,
                    // `-Confirm:` with nothing after the colon. PowerShell would take the next
                    // word; wms does not, because under a Unix shell an unquoted
                    // `-Confirm:$false` arrives as `-Confirm:` ($false expands to nothing),
                    // and taking the next word would turn an ID into the switch's value.
                    Some("") => return Err(missing_argument(verb, spec.name, SWITCH_TYPE)),
                    Some(value) => parse_switch(verb, spec.name, value)?,
                };
                state.set_switch(param, on);
            }
            Some(value_type) => {
                let first = match inline {
                    Some(value) if !value.is_empty() => value,
                    // `-Name value` and `-Name: value`.
                    _ => match args.get(i + 1) {
                        Some(next) if !is_name_like(next) => {
                            i += 1;
                            next.as_str()
                        }
                        _ => return Err(missing_argument(verb, spec.name, value_type.type_name())),
                    },
                };
                let mut text = first.to_string();
                // Only arrays re-join words: a String value is one word, taken verbatim,
                // because the shell has already grouped the user's quoted text.
                if value_type == ValueType::UInt32Array {
                    while let Some(next) = args.get(i + 1) {
                        if is_name_like(next) || !continues(&text, next) {
                            break;
                        }
                        text.push(' ');
                        text.push_str(next);
                        i += 1;
                    }
                }
                state.set_value(param, spec.name, &text)?;
            }
        }
        i += 1;
    }

    if state.all && state.ids.is_some() {
        return Err(set_unresolved(verb));
    }

    bind_positional(&mut state, &positional)?;

    if verb == Verb::Lock && state.message.is_none() {
        // Only Message: a missing SessionId may still come from the pipeline.
        return Err(BindError::binding(
            verb,
            "Cannot process command because of one or more missing mandatory parameters: \
             Message.",
        ));
    }
    Ok(state.finish())
}

/// Binds the words left over from named binding to the positional parameters that are
/// still unbound, in position order (SessionId, then Lock's Message).
fn bind_positional(state: &mut State, words: &[PositionalWord<'_>]) -> Result<(), BindError> {
    let verb = state.verb;
    let mut slots = Vec::new();
    // With -All the parameter set is the All set, which has no SessionId: the first word
    // goes to Message (`Lock-WmsSession -All "hello"`).
    if !state.all && !state.named.contains(&Param::SessionId) {
        slots.push(Param::SessionId);
    }
    if verb == Verb::Lock && !state.named.contains(&Param::Message) {
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
            state.ids = Some(parse_ids(verb, &text)?);
        } else {
            state.message = Some(text);
        }
    }

    match words.get(k) {
        None => Ok(()),
        // A word left over with -All bound would have been a SessionId: the user gave both
        // IDs and -All, which is the set conflict rather than a stray argument.
        Some(_) if state.all => Err(set_unresolved(verb)),
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

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn ok(verb: Verb, args: &[&str]) -> Invocation {
        match bind(verb, &words(args)) {
            Ok(invocation) => invocation,
            Err(e) => panic!("{args:?} should bind, got: {e}"),
        }
    }

    fn err(verb: Verb, args: &[&str]) -> BindError {
        match bind(verb, &words(args)) {
            Ok(invocation) => panic!("{args:?} should not bind, got: {invocation:?}"),
            Err(e) => e,
        }
    }

    /// The message of a ParameterBindingException.
    fn binding_err(verb: Verb, args: &[&str]) -> String {
        let e = err(verb, args);
        assert_eq!(e.category, "ParameterBindingException", "{e}");
        assert_eq!(e.cmdlet, verb.cmdlet());
        e.message
    }

    /// The message of a NotSupportedException.
    fn refused_err(verb: Verb, args: &[&str]) -> String {
        let e = err(verb, args);
        assert_eq!(e.category, "NotSupportedException", "{e}");
        assert_eq!(e.cmdlet, verb.cmdlet());
        e.message
    }

    fn ids(verb: Verb, args: &[&str]) -> Vec<u32> {
        match ok(verb, args).selection {
            SelectionArg::Ids(ids) => ids,
            other => panic!("{args:?}: expected IDs, got {other:?}"),
        }
    }

    const SET_ERROR: &str = "Parameter set cannot be resolved using the specified named \
        parameters. One or more parameters issued cannot be used together or an insufficient \
        number of parameters were provided.";

    const MISSING_MESSAGE: &str =
        "Cannot process command because of one or more missing mandatory parameters: Message.";

    // --- cmdlet names and errors -----------------------------------------------------

    #[test]
    fn cmdlet_verb_is_case_insensitive_and_exact() {
        assert_eq!(cmdlet_verb("get-wmssession"), Some(Verb::Get));
        assert_eq!(cmdlet_verb("CLOSE-WMSSESSION"), Some(Verb::Close));
        assert_eq!(cmdlet_verb("Disconnect-WmsSession"), Some(Verb::Disconnect));
        assert_eq!(cmdlet_verb("lock-WmsSession"), Some(Verb::Lock));
        assert_eq!(cmdlet_verb("Unlock-wmssession"), Some(Verb::Unlock));
        assert_eq!(cmdlet_verb("Close-WmsSessions"), None);
        assert_eq!(cmdlet_verb("Close"), None);
        assert_eq!(cmdlet_verb(""), None);
    }

    #[test]
    fn bind_error_display() {
        let e = BindError {
            cmdlet: "Close-WmsSession".into(),
            message: "A parameter cannot be found that matches parameter name 'Foo'.".into(),
            category: "ParameterBindingException",
        };
        assert_eq!(
            e.to_string(),
            "Close-WmsSession: A parameter cannot be found that matches parameter name 'Foo'. \
             (ParameterBindingException)"
        );
    }

    #[test]
    fn errors_name_the_canonical_cmdlet() {
        for verb in VERBS {
            let e = err(verb, &["-Foo"]);
            assert_eq!(e.cmdlet, verb.cmdlet());
            assert!(e.to_string().starts_with(&format!("{}: ", verb.cmdlet())));
        }
    }

    #[test]
    fn missing_selection_message() {
        for verb in VERBS {
            let e = missing_selection(verb);
            assert_eq!(
                e.to_string(),
                format!(
                    "{}: Cannot process command because of one or more missing mandatory \
                     parameters: SessionId. Give session IDs, -All, or pipe session objects on \
                     standard input. (ParameterBindingException)",
                    verb.cmdlet()
                )
            );
        }
    }

    // --- defaults and a full command line --------------------------------------------

    #[test]
    fn defaults() {
        assert_eq!(
            ok(Verb::Close, &["3"]),
            Invocation {
                verb: Verb::Close,
                selection: SelectionArg::Ids(vec![3]),
                server: None,
                message: None,
                what_if: false,
                confirm: None,
                verbose: false,
                debug: false,
                error_action: ActionPreference::Continue,
                warning_action: ActionPreference::Continue,
                output: None,
            }
        );
    }

    #[test]
    fn no_arguments_leave_the_selection_unbound() {
        for verb in [Verb::Get, Verb::Close, Verb::Disconnect, Verb::Unlock] {
            assert_eq!(ok(verb, &[]).selection, SelectionArg::Unbound);
        }
        assert_eq!(
            ok(Verb::Lock, &["-Message", "hi"]).selection,
            SelectionArg::Unbound
        );
    }

    #[test]
    fn full_command_line() {
        let inv = ok(
            Verb::Lock,
            &[
                "-SessionId",
                "3,4",
                "-Message",
                "Please save your work, then log off",
                "-ComputerName",
                "host1.example.org",
                "-WhatIf",
                "-Confirm:$false",
                "-Verbose",
                "-Debug",
                "-ErrorAction",
                "Stop",
                "-WarningAction",
                "SilentlyContinue",
                "-OutputFormat",
                "json",
            ],
        );
        assert_eq!(
            inv,
            Invocation {
                verb: Verb::Lock,
                selection: SelectionArg::Ids(vec![3, 4]),
                server: Some("host1.example.org".into()),
                message: Some("Please save your work, then log off".into()),
                what_if: true,
                confirm: Some(false),
                verbose: true,
                debug: true,
                error_action: ActionPreference::Stop,
                warning_action: ActionPreference::SilentlyContinue,
                output: Some(OutputFormat::Json),
            }
        );
    }

    #[test]
    fn get_all_with_server_and_format() {
        let inv = ok(
            Verb::Get,
            &["-All", "-Server", "h1", "-OutputFormat", "Table"],
        );
        assert_eq!(inv.selection, SelectionArg::All);
        assert_eq!(inv.server.as_deref(), Some("h1"));
        assert_eq!(inv.output, Some(OutputFormat::Table));
    }

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
        // On Get, "C" matches only ComputerName (Get has no -Confirm).
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

    // --- parameter sets and mandatory parameters ------------------------------------------

    #[test]
    fn session_id_and_all_by_name() {
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "3", "-All"]),
            SET_ERROR
        );
        assert_eq!(
            binding_err(Verb::Get, &["-All", "-SessionId", "3"]),
            SET_ERROR
        );
    }

    #[test]
    fn session_id_and_all_by_position() {
        assert_eq!(binding_err(Verb::Close, &["3", "-All"]), SET_ERROR);
        assert_eq!(binding_err(Verb::Disconnect, &["-All", "3"]), SET_ERROR);
        assert_eq!(binding_err(Verb::Lock, &["-All", "3", "hello"]), SET_ERROR);
        assert_eq!(binding_err(Verb::Lock, &["3", "hello", "-All"]), SET_ERROR);
    }

    #[test]
    fn set_error_takes_precedence_over_missing_message() {
        assert_eq!(
            binding_err(Verb::Lock, &["-All", "-SessionId", "3"]),
            SET_ERROR
        );
    }

    #[test]
    fn lock_without_message() {
        assert_eq!(binding_err(Verb::Lock, &["3"]), MISSING_MESSAGE);
        assert_eq!(binding_err(Verb::Lock, &["-All"]), MISSING_MESSAGE);
        // No selection either: only Message is reported (IDs may come from the pipeline).
        assert_eq!(binding_err(Verb::Lock, &[]), MISSING_MESSAGE);
    }

    #[test]
    fn same_parameter_twice() {
        let cases = [
            (&["-SessionId", "3", "-SessionId", "4"][..], "SessionId"),
            (&["3", "-Server", "a", "-ComputerName", "b"], "Server"),
            (&["3", "-wi", "-WhatIf"], "WhatIf"),
            (&["3", "-Confirm:$false", "-cf"], "Confirm"),
            (&["-All:$false", "-All"], "All"),
            (&["3", "-ea", "Stop", "-ErrorA", "Stop"], "ErrorAction"),
            (&["3", "-vb", "-Verbose"], "Verbose"),
        ];
        for (args, name) in cases {
            assert_eq!(
                binding_err(Verb::Close, args),
                format!(
                    "Cannot bind parameter because parameter '{name}' is specified more than \
                     once. To provide multiple values to parameters that can accept multiple \
                     values, use the array syntax. For example, \"-parameter \
                     value1,value2,value3\"."
                ),
                "{args:?}"
            );
        }
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
