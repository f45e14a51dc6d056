//! Binding a command line: named parameters first (in order, so the first bad one is the
//! error), then the positional words, then the parameter-set and mandatory checks.

use super::*;

/// The binding in progress.
pub(super) struct State {
    pub(super) verb: Verb,
    /// Parameters bound by name, to refuse a second spelling of the same one.
    pub(super) named: Vec<Param>,
    pub(super) ids: Option<Vec<u32>>,
    pub(super) all: bool,
    pub(super) server: Option<String>,
    pub(super) message: Option<String>,
    pub(super) logind: bool,
    pub(super) what_if: bool,
    pub(super) confirm: Option<bool>,
    pub(super) verbose: bool,
    pub(super) debug: bool,
    pub(super) error_action: ActionPreference,
    pub(super) warning_action: ActionPreference,
    pub(super) output: Option<OutputFormat>,
    pub(super) filter: crate::filter::Filter,
    pub(super) classes: Option<Vec<wms_core::SessionClass>>,
    pub(super) sort: Option<&'static str>,
    pub(super) descending: bool,
    pub(super) thumbnail: Option<wms_core::ThumbnailSize>,
}

impl State {
    pub(super) fn new(verb: Verb) -> Self {
        State {
            verb,
            named: Vec::new(),
            ids: None,
            all: false,
            server: None,
            message: None,
            logind: false,
            what_if: false,
            confirm: None,
            verbose: false,
            debug: false,
            error_action: ActionPreference::default(),
            warning_action: ActionPreference::default(),
            output: None,
            filter: crate::filter::Filter::default(),
            classes: None,
            sort: None,
            descending: false,
            thumbnail: None,
        }
    }

    pub(super) fn set_switch(&mut self, param: Param, on: bool) {
        match param {
            // `-All:$false` is as if -All were not given.
            Param::All => self.all = on,
            Param::WhatIf => self.what_if = on,
            Param::Confirm => self.confirm = Some(on),
            Param::Verbose => self.verbose = on,
            Param::Debug => self.debug = on,
            Param::SortDescending => self.descending = on,
            Param::UseLogind => self.logind = on,
            _ => unreachable!("{param:?} is not a switch"),
        }
    }

    /// Converts and stores a value argument (already re-joined for arrays).
    pub(super) fn set_value(
        &mut self,
        param: Param,
        name: &str,
        text: &str,
    ) -> Result<(), BindError> {
        let verb = self.verb;
        let null = text.trim().eq_ignore_ascii_case("$null");
        let empty_array = is_empty_array(text);
        match param {
            // SessionId is mandatory in its set: PowerShell refuses null and an empty
            // array before the cmdlet sees them.
            Param::SessionId if null => return Err(null_argument(verb, "SessionId")),
            Param::SessionId if empty_array => return Err(empty_array_argument(verb, "SessionId")),
            Param::SessionId => self.ids = Some(parse_ids(verb, text)?),
            // Server is optional: null is as if it were not given.
            Param::Server if null => self.server = None,
            Param::Server => self.server = Some(text.to_string()),
            Param::Message => self.message = Some(check_message(verb, text)?),
            Param::OutputFormat => self.output = Some(parse_output_format(verb, text)?),
            Param::Class => {
                let classes = crate::view::parse_classes(&[text.to_string()]).map_err(|e| {
                    BindError::binding(verb, format!("Cannot bind parameter 'SessionClass': {e}."))
                })?;
                self.classes = Some(classes);
            }
            Param::Sort => {
                let key = crate::view::parse_sort(text).map_err(|e| {
                    BindError::binding(verb, format!("Cannot bind parameter 'Sort': {e}."))
                })?;
                self.sort = Some(key);
            }
            Param::Thumbnail => self.thumbnail = Some(parse_thumbnail_size(verb, text)?),
            Param::ErrorAction => self.error_action = parse_preference(verb, name, text)?,
            Param::WarningAction => self.warning_action = parse_preference(verb, name, text)?,
            Param::UserName if null || empty_array => {}
            Param::UserName => self.filter.users = parse_strings(text),
            Param::State if null || empty_array => {}
            Param::State => self.filter.states = parse_states(verb, text)?,
            Param::IdleSeconds => {
                self.filter.min_idle_seconds = Some(u64::from(parse_uint32(verb, name, text)?))
            }
            _ => unreachable!("{param:?} takes no value"),
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Invocation {
        let all_named = self.named.contains(&Param::All);
        let selection = match (self.ids, all_named, self.all) {
            (Some(ids), _, _) => SelectionArg::Ids(ids),
            (None, true, true) => SelectionArg::All,
            // `-All:$false` still chooses the All parameter set, as in PowerShell, where
            // SessionId cannot be bound (by position or from the pipeline); the cmdlet then
            // has nothing to act on.
            (None, true, false) => SelectionArg::Ids(Vec::new()),
            (None, false, _) => SelectionArg::Unbound,
        };
        Invocation {
            verb: self.verb,
            selection,
            server: self.server,
            message: self.message,
            logind: self.logind,
            what_if: self.what_if,
            confirm: self.confirm,
            verbose: self.verbose,
            debug: self.debug,
            error_action: self.error_action,
            warning_action: self.warning_action,
            output: self.output,
            filter: self.filter,
            classes: self.classes,
            sort: self.sort,
            descending: self.descending,
            thumbnail: self.thumbnail,
        }
    }
}

/// `-Thumbnail`'s value: one of MultiPoint's sizes, any case, as PowerShell binds an enum.
fn parse_thumbnail_size(verb: Verb, text: &str) -> Result<wms_core::ThumbnailSize, BindError> {
    use wms_core::ThumbnailSize as S;
    let t = text.trim();
    S::ALL
        .into_iter()
        .find(|s| format!("{s:?}").eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            BindError::binding(
                verb,
                format!(
                    "Cannot bind parameter 'Thumbnail'. Cannot convert value \"{t}\" to type \"ThumbnailSize\". Error: \"Unable to match the identifier name {t} to a valid enumerator name. Specify one of the following enumerator names and try again: Small, Medium, Large, FullScreen\""
                ),
            )
        })
}

/// A word that did not bind by name, with its index in `args` (to know which words are
/// adjacent, since only adjacent words form one array argument).
pub(super) struct PositionalWord<'a> {
    pub(super) index: usize,
    pub(super) text: &'a str,
}

pub(super) fn missing_argument(verb: Verb, name: &str, type_name: &str) -> BindError {
    BindError::binding(
        verb,
        format!(
            "Missing an argument for parameter '{name}'. Specify a parameter of type \
             '{type_name}' and try again."
        ),
    )
}

/// PowerShell's refusal of `$null` for a mandatory parameter.
pub(super) fn null_argument(verb: Verb, name: &str) -> BindError {
    BindError::binding(
        verb,
        format!("Cannot bind argument to parameter '{name}' because it is null."),
    )
}

/// PowerShell's refusal of an empty array (`@()`) for a mandatory array parameter.
pub(super) fn empty_array_argument(verb: Verb, name: &str) -> BindError {
    BindError::binding(
        verb,
        format!("Cannot bind argument to parameter '{name}' because it is an empty array."),
    )
}

/// Whether an argument is an empty array expression, `@()` (spaces allowed inside).
pub(super) fn is_empty_array(text: &str) -> bool {
    text.trim()
        .strip_prefix("@(")
        .and_then(|r| r.strip_suffix(')'))
        .is_some_and(|inner| inner.trim().is_empty())
}

/// Message (Lock's, Send-WmsMessage's), mandatory: neither `$null` nor an empty string binds.
pub(super) fn check_message(verb: Verb, text: &str) -> Result<String, BindError> {
    if text.trim().eq_ignore_ascii_case("$null") {
        return Err(null_argument(verb, "Message"));
    }
    if text.is_empty() {
        return Err(BindError::binding(
            verb,
            "Cannot bind argument to parameter 'Message' because it is an empty string.",
        ));
    }
    Ok(text.to_string())
}

pub(super) fn set_unresolved(verb: Verb) -> BindError {
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
                    _ => match next_value(verb, &args[i + 1..])? {
                        Some((taken, value)) => {
                            i += taken;
                            value
                        }
                        None => {
                            return Err(missing_argument(verb, spec.name, value_type.type_name()))
                        }
                    },
                };
                let mut text = first.to_string();
                // Only arrays re-join words: a String value is one word, taken verbatim,
                // because the shell has already grouped the user's quoted text.
                if matches!(value_type, ValueType::UInt32Array | ValueType::TextArray) {
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

    // SessionId and All are in different parameter sets; `-All:$false` chooses the All set
    // as much as `-All` does.
    if state.named.contains(&Param::All) && state.ids.is_some() {
        return Err(set_unresolved(verb));
    }
    // UseLogind's set has no Message: logind's lock shows none.
    if state.logind && state.named.contains(&Param::Message) {
        return Err(set_unresolved(verb));
    }

    bind_positional(&mut state, &positional)?;
    // Mandatory parameters still missing (Lock's Message, a SessionId) are prompted for
    // on a terminal or refused: [`super::complete`].
    Ok(state.finish())
}

/// The value for a parameter that takes one, from the words after it: PowerShell takes
/// the next word even when it begins with `-` (`-Message "-- maintenance at 5 --"`),
/// unless it names a parameter of the cmdlet or carries its own `:value`, in which case
/// the parameter is missing its argument (`Ok(None)`); a word that is ambiguous is that
/// error. After `--`, the word that follows is the value. Returns how many words were
/// taken.
fn next_value(verb: Verb, rest: &[String]) -> Result<Option<(usize, &str)>, BindError> {
    let Some(next) = rest.first() else {
        return Ok(None);
    };
    if next == "--" {
        return Ok(rest.get(1).map(|v| (2, v.as_str())));
    }
    if !is_name_like(next) {
        return Ok(Some((1, next)));
    }
    let body = &next[1..];
    if matches!(body.split_once(':'), Some((_, v)) if !v.is_empty()) {
        return Ok(None);
    }
    let name = body.strip_suffix(':').unwrap_or(body);
    match resolve(verb, name) {
        Ok(_) => Ok(None),
        Err(e) if e.message.starts_with("A parameter cannot be found") => Ok(Some((1, next))),
        Err(ambiguous) => Err(ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdlet::test_support::*;

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
                logind: false,
                what_if: false,
                confirm: None,
                verbose: false,
                debug: false,
                error_action: ActionPreference::Continue,
                warning_action: ActionPreference::Continue,
                output: None,
                filter: crate::filter::Filter::default(),
                classes: None,
                sort: None,
                descending: false,
                thumbnail: None,
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
                logind: false,
                what_if: true,
                confirm: Some(false),
                verbose: true,
                debug: true,
                error_action: ActionPreference::Stop,
                warning_action: ActionPreference::SilentlyContinue,
                output: Some(OutputFormat::Json),
                filter: crate::filter::Filter::default(),
                classes: None,
                sort: None,
                descending: false,
                thumbnail: None,
            }
        );
    }

    #[test]
    fn get_takes_a_class_filter_and_a_sort() {
        let inv = ok(
            Verb::Get,
            &[
                "-SessionClass",
                "manager,Background",
                "-Sort",
                "cpuseconds",
                "-SortDescending",
            ],
        );
        assert_eq!(
            inv.classes,
            Some(vec![
                wms_core::SessionClass::Background,
                wms_core::SessionClass::Manager
            ])
        );
        assert_eq!(inv.sort, Some("CpuSeconds"));
        assert!(inv.descending);
        let e = binding_err(Verb::Get, &["-SessionClass", "robots"]);
        assert!(e.contains("'robots' is not a session class"), "{e}");
        let e = binding_err(Verb::Get, &["-Sort", "Shoe"]);
        assert!(e.contains("cannot sort by 'Shoe'"), "{e}");
        // Only Get-WmsSession has them.
        assert!(binding_err(Verb::Close, &["3", "-SessionClass", "user"]).contains("SessionClass"));
    }

    #[test]
    fn get_takes_a_thumbnail_size_by_multipoints_names() {
        use wms_core::ThumbnailSize;
        assert_eq!(
            ok(Verb::Get, &["7", "-Thumbnail", "fullscreen"]).thumbnail,
            Some(ThumbnailSize::FullScreen)
        );
        assert_eq!(
            ok(Verb::Get, &["-Th", "Small"]).thumbnail,
            Some(ThumbnailSize::Small)
        );
        assert_eq!(ok(Verb::Get, &["7"]).thumbnail, None);
        let e = binding_err(Verb::Get, &["-Thumbnail", "full"]);
        assert!(e.contains("Small, Medium, Large, FullScreen"), "{e}");
        assert!(binding_err(Verb::Lock, &["3", "-Thumbnail", "Small"]).contains("Thumbnail"));
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
    fn a_word_left_over_after_all_is_powershells_positional_error() {
        // -All chooses the set without SessionId, so an ID by position is left over, as
        // `Get-Process -Id 1 notepad` leaves "notepad".
        let left_over = |w: &str| {
            format!("A positional parameter cannot be found that accepts argument '{w}'.")
        };
        assert_eq!(binding_err(Verb::Close, &["3", "-All"]), left_over("3"));
        assert_eq!(
            binding_err(Verb::Disconnect, &["-All", "3"]),
            left_over("3")
        );
        assert_eq!(
            binding_err(Verb::Close, &["-All:$false", "3"]),
            left_over("3")
        );
        // Lock's Message takes the first word; the second is left over.
        assert_eq!(
            binding_err(Verb::Lock, &["-All", "3", "hello"]),
            left_over("hello")
        );
        assert_eq!(
            binding_err(Verb::Lock, &["3", "hello", "-All"]),
            left_over("hello")
        );
    }

    #[test]
    fn set_error_takes_precedence_over_missing_message() {
        assert_eq!(
            binding_err(Verb::Lock, &["-All", "-SessionId", "3"]),
            SET_ERROR
        );
    }

    #[test]
    fn use_logind_is_a_set_of_lock_and_unlock_without_message() {
        let inv = ok(Verb::Lock, &["3", "-UseLogind"]);
        assert!(inv.logind && inv.message.is_none());
        assert!(ok(Verb::Unlock, &["-All", "-uselogind"]).logind);
        assert!(
            binding_err(Verb::Lock, &["3", "-UseLogind", "-Message", "hi"])
                .starts_with("Parameter set cannot be resolved")
        );
        // No positional Message in its set.
        assert!(binding_err(Verb::Lock, &["3", "hi", "-UseLogind"])
            .contains("cannot be found that accepts argument 'hi'"));
        assert!(binding_err(Verb::Close, &["3", "-UseLogind"])
            .contains("matches parameter name 'UseLogind'"));
    }

    #[test]
    fn lock_without_message_binds_and_is_completed_later() {
        // The missing Message is asked for on a terminal or refused (prompt.rs).
        assert_eq!(ok(Verb::Lock, &["3"]).message, None);
        assert_eq!(ok(Verb::Lock, &["-All"]).message, None);
    }

    #[test]
    fn send_wms_message_binds_as_lock_does() {
        // Positional: SessionId, then Message; -Text is Message's alias.
        let inv = ok(Verb::Message, &["3,4", "Back at five"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3, 4]));
        assert_eq!(inv.message.as_deref(), Some("Back at five"));
        let inv = ok(Verb::Message, &["-All", "-Text", "hi", "-WhatIf"]);
        assert_eq!(
            (inv.selection, inv.message.as_deref(), inv.what_if),
            (SelectionArg::All, Some("hi"), true)
        );
        let inv = ok(Verb::Message, &["-All", "hello"]);
        assert_eq!(inv.message.as_deref(), Some("hello"));
        assert_eq!(ok(Verb::Message, &["3"]).message, None);
        assert!(binding_err(Verb::Message, &["3", "-Message", ""]).contains("empty string"));
        // Message is not a parameter of the cmdlets without one.
        assert!(binding_err(Verb::Close, &["3", "-Text", "hi"]).contains("'Text'"));
    }

    #[test]
    fn switch_false_still_chooses_its_parameter_set() {
        // `-All:$false` binds All (false): the All set, with nothing to act on.
        assert_eq!(
            ok(Verb::Close, &["-All:$false"]).selection,
            SelectionArg::Ids(vec![])
        );
        assert_eq!(
            binding_err(Verb::Close, &["-All:$false", "-SessionId", "3"]),
            SET_ERROR
        );
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "3", "-All:0"]),
            SET_ERROR
        );
        // Switches in every set change no set.
        let inv = ok(Verb::Close, &["3", "-WhatIf:$false", "-Confirm:$false"]);
        assert_eq!(inv.selection, SelectionArg::Ids(vec![3]));
    }

    #[test]
    fn a_value_parameter_takes_a_next_word_that_starts_with_a_dash() {
        // PowerShell takes it unless it names a parameter of the cmdlet.
        let inv = ok(Verb::Lock, &["3", "-Message", "-- maintenance at 5 --"]);
        assert_eq!(inv.message.as_deref(), Some("-- maintenance at 5 --"));
        let inv = ok(Verb::Lock, &["-Message", "-not-a-parameter", "3"]);
        assert_eq!(inv.message.as_deref(), Some("-not-a-parameter"));
        // A quoted message with spaces is never a parameter, by position too.
        let inv = ok(Verb::Lock, &["3", "-Note: back at 5"]);
        assert_eq!(inv.message.as_deref(), Some("-Note: back at 5"));
        let inv = ok(Verb::Lock, &["3", "-Message", "-Server: back at 5"]);
        assert_eq!(inv.message.as_deref(), Some("-Server: back at 5"));
        assert_eq!(
            ok(Verb::Get, &["-Server", "-h1"]).server.as_deref(),
            Some("-h1")
        );
        // After `--` the next word is the value, whatever it looks like.
        let inv = ok(Verb::Lock, &["3", "-Message", "--", "-WhatIf"]);
        assert_eq!(inv.message.as_deref(), Some("-WhatIf"));
        assert!(!inv.what_if);
        // A parameter of the cmdlet (by name, alias or prefix), or a word with its own
        // `:value`, leaves the parameter without its argument.
        for next in [
            "-WhatIf",
            "-wi",
            "-Conf",
            "-OutVariable",
            "-x:y",
            "-Server:h",
        ] {
            assert_eq!(
                binding_err(Verb::Lock, &["3", "-Message", next]),
                "Missing an argument for parameter 'Message'. Specify a parameter of type \
                 'System.String' and try again.",
                "{next}"
            );
        }
        // An ambiguous one is the ambiguity.
        assert_eq!(
            binding_err(Verb::Lock, &["3", "-Message", "-S"]),
            "Parameter cannot be processed because the parameter name 'S' is ambiguous. \
             Possible matches include: -SessionId -Server -State."
        );
    }

    #[test]
    fn null_empty_and_empty_arrays_as_powershell_binds_them() {
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "$null"]),
            "Cannot bind argument to parameter 'SessionId' because it is null."
        );
        assert_eq!(
            binding_err(Verb::Close, &["-SessionId", "@()"]),
            "Cannot bind argument to parameter 'SessionId' because it is an empty array."
        );
        assert_eq!(
            binding_err(Verb::Close, &["@( )"]),
            "Cannot bind argument to parameter 'SessionId' because it is an empty array."
        );
        // An empty string converts to 0, as LanguagePrimitives converts it.
        assert_eq!(ids(Verb::Close, &["-SessionId", ""]), [0]);
        assert_eq!(ids(Verb::Close, &[""]), [0]);
        // Message is mandatory: neither null nor empty.
        assert_eq!(
            binding_err(Verb::Lock, &["3", "-Message", "$NULL"]),
            "Cannot bind argument to parameter 'Message' because it is null."
        );
        for args in [&["3", "-Message", ""][..], &["3", ""], &["3", "-Message:"]] {
            if args[1] == "-Message:" {
                continue;
            }
            assert_eq!(
                binding_err(Verb::Lock, args),
                "Cannot bind argument to parameter 'Message' because it is an empty string.",
                "{args:?}"
            );
        }
        // Server is optional: null is as if it were not given.
        assert_eq!(ok(Verb::Get, &["-Server", "$null"]).server, None);
    }

    #[test]
    fn filters_bind_by_name() {
        let inv = ok(
            Verb::Close,
            &[
                "-All",
                "-UserName",
                "alice,",
                "bob",
                "-State",
                "disconnected",
                "-Idle",
                "3600",
            ],
        );
        assert_eq!(inv.filter.users, ["alice", "bob"]);
        assert_eq!(inv.filter.states, [wms_core::SessionState::Disconnected]);
        assert_eq!(inv.filter.min_idle_seconds, Some(3600));
        assert_eq!(
            binding_err(Verb::Get, &["-State", "Idle"]),
            "Cannot validate argument on parameter 'State'. The argument \"Idle\" does not \
             belong to the set \"RemoteConnection,ConnectedToStation,Disconnected\" specified \
             by the ValidateSet attribute. Supply an argument that is in the set and then try \
             the command again."
        );
        assert_eq!(
            binding_err(Verb::Get, &["-IdleSeconds", "soon"]),
            "Cannot bind parameter 'IdleSeconds'. Cannot convert value \"soon\" to type \
             \"System.UInt32\". Error: \"Input string was not in a correct format.\""
        );
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
}
