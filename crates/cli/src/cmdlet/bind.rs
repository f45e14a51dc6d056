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
    pub(super) what_if: bool,
    pub(super) confirm: Option<bool>,
    pub(super) verbose: bool,
    pub(super) debug: bool,
    pub(super) error_action: ActionPreference,
    pub(super) warning_action: ActionPreference,
    pub(super) output: Option<OutputFormat>,
    pub(super) classes: Option<Vec<wms_core::SessionClass>>,
    pub(super) sort: Option<&'static str>,
    pub(super) descending: bool,
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
            what_if: false,
            confirm: None,
            verbose: false,
            debug: false,
            error_action: ActionPreference::default(),
            warning_action: ActionPreference::default(),
            output: None,
            classes: None,
            sort: None,
            descending: false,
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
        match param {
            Param::SessionId => self.ids = Some(parse_ids(verb, text)?),
            Param::Server => self.server = Some(text.to_string()),
            Param::Message => self.message = Some(text.to_string()),
            Param::OutputFormat => self.output = Some(parse_output_format(verb, text)?),
            Param::Class => {
                let classes = crate::view::parse_classes(&[text.to_string()]).map_err(|e| {
                    BindError::binding(verb, format!("Cannot bind parameter 'Class': {e}."))
                })?;
                self.classes = Some(classes);
            }
            Param::Sort => {
                let key = crate::view::parse_sort(text).map_err(|e| {
                    BindError::binding(verb, format!("Cannot bind parameter 'Sort': {e}."))
                })?;
                self.sort = Some(key);
            }
            Param::ErrorAction => self.error_action = parse_preference(verb, name, text)?,
            Param::WarningAction => self.warning_action = parse_preference(verb, name, text)?,
            _ => unreachable!("{param:?} takes no value"),
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Invocation {
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
            classes: self.classes,
            sort: self.sort,
            descending: self.descending,
        }
    }
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
                what_if: false,
                confirm: None,
                verbose: false,
                debug: false,
                error_action: ActionPreference::Continue,
                warning_action: ActionPreference::Continue,
                output: None,
                classes: None,
                sort: None,
                descending: false,
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
                classes: None,
                sort: None,
                descending: false,
            }
        );
    }

    #[test]
    fn get_takes_a_class_filter_and_a_sort() {
        let inv = ok(
            Verb::Get,
            &[
                "-Class",
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
        let e = binding_err(Verb::Get, &["-Class", "robots"]);
        assert!(e.contains("'robots' is not a session class"), "{e}");
        let e = binding_err(Verb::Get, &["-Sort", "Shoe"]);
        assert!(e.contains("cannot sort by 'Shoe'"), "{e}");
        // Only Get-WmsSession has them.
        assert!(binding_err(Verb::Close, &["3", "-Class", "user"]).contains("Class"));
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
}
