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
//! The parts, each with its unit tests: this file (the public types, cmdlet names, the
//! errors), `names` (the parameter table and the name matcher), `convert` (the value
//! converters), `bind` (named binding, sets, mandatory parameters) and `positional`.
//!
//! It is pure: no I/O (the terminal a missing mandatory parameter is asked on is passed
//! in, [`complete`]). Whether a command with no `-SessionId`/`-All` reads session objects
//! from standard input is the caller's decision ([`SelectionArg::Unbound`],
//! [`missing_selection`]).

use std::fmt;

use wms_core::Verb;

mod bind;
mod convert;
mod names;
mod positional;
mod prompt;
#[cfg(test)]
mod test_support;

pub use bind::bind;
use bind::*;
use convert::*;
use names::*;
use positional::*;
pub use prompt::{complete, Prompt};

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
    /// Ask on the terminal whether to go on (PowerShell's prompt: Yes, Yes to All, Halt
    /// Command, Suspend); without a terminal to ask on, it stops as Stop does.
    Inquire,
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

/// The wms extension `-OutputFormat List|Table|Wide|Json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    List,
    /// A table fitted to 80 columns.
    Table,
    /// A table of every property, not fitted.
    Wide,
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
    /// `-UseLogind` (Lock- and Unlock-WmsSession): through logind, without a message.
    pub logind: bool,
    pub what_if: bool,
    /// `Some(true)` for `-Confirm`, `Some(false)` for `-Confirm:$false`, `None` if not given.
    pub confirm: Option<bool>,
    pub verbose: bool,
    pub debug: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub output: Option<OutputFormat>,
    /// `-UserName`, `-State`, `-MinimumIdleSeconds`.
    pub filter: crate::filter::Filter,
    /// Get-WmsSession's `-SessionClass`: the classes to list (`None`: logins only).
    pub classes: Option<Vec<wms_core::SessionClass>>,
    /// Get-WmsSession's `-Sort`: the property to sort by.
    pub sort: Option<&'static str>,
    /// Get-WmsSession's `-SortDescending`.
    pub descending: bool,
    /// Get-WmsSession's `-Thumbnail Small|Medium|Large|FullScreen`.
    pub thumbnail: Option<wms_core::ThumbnailSize>,
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

pub(crate) const BINDING: &str = "ParameterBindingException";
pub(crate) const NOT_SUPPORTED: &str = "NotSupportedException";

impl BindError {
    pub(crate) fn binding(verb: Verb, message: impl Into<String>) -> Self {
        BindError {
            cmdlet: verb.cmdlet().to_string(),
            message: message.into(),
            category: BINDING,
        }
    }

    pub(crate) fn not_supported(verb: Verb, message: impl Into<String>) -> Self {
        BindError {
            cmdlet: verb.cmdlet().to_string(),
            message: message.into(),
            category: NOT_SUPPORTED,
        }
    }
}

pub(crate) const VERBS: [Verb; 6] = [
    Verb::Get,
    Verb::Close,
    Verb::Disconnect,
    Verb::Lock,
    Verb::Unlock,
    Verb::Message,
];

/// The module the cmdlets belong to, as a module-qualified name spells it
/// (`MultiPoint\Close-WmsSession`).
pub const MODULE: &str = "MultiPoint";

/// The verb named by a cmdlet name, case-insensitive ("close-wmssession" -> Close), also
/// module-qualified as PowerShell resolves it (`MultiPoint\Close-WmsSession`); None if not
/// a cmdlet name.
pub fn cmdlet_verb(name: &str) -> Option<Verb> {
    let name = match name.split_once('\\') {
        Some((module, rest)) if module.eq_ignore_ascii_case(MODULE) => rest,
        Some(_) => return None,
        None => name,
    };
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

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    // --- cmdlet names and errors -----------------------------------------------------

    #[test]
    fn cmdlet_verb_is_case_insensitive_and_exact() {
        assert_eq!(cmdlet_verb("get-wmssession"), Some(Verb::Get));
        assert_eq!(cmdlet_verb("CLOSE-WMSSESSION"), Some(Verb::Close));
        assert_eq!(cmdlet_verb("Disconnect-WmsSession"), Some(Verb::Disconnect));
        assert_eq!(cmdlet_verb("lock-WmsSession"), Some(Verb::Lock));
        assert_eq!(cmdlet_verb("Unlock-wmssession"), Some(Verb::Unlock));
        assert_eq!(cmdlet_verb("send-wmsmessage"), Some(Verb::Message));
        assert_eq!(cmdlet_verb("Close-WmsSessions"), None);
        assert_eq!(cmdlet_verb("Close"), None);
        // Module-qualified, as PowerShell resolves it.
        assert_eq!(
            cmdlet_verb("MultiPoint\\Close-WmsSession"),
            Some(Verb::Close)
        );
        assert_eq!(cmdlet_verb("multipoint\\get-wmssession"), Some(Verb::Get));
        assert_eq!(cmdlet_verb("Other\\Close-WmsSession"), None);
        assert_eq!(cmdlet_verb("MultiPoint\\"), None);
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
}
