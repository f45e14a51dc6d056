//! What the binder's unit tests share: binding a command line and reading its result.

#![allow(dead_code)]

use super::*;

pub(super) fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub(super) fn ok(verb: Verb, args: &[&str]) -> Invocation {
    match bind(verb, &words(args)) {
        Ok(invocation) => invocation,
        Err(e) => panic!("{args:?} should bind, got: {e}"),
    }
}

pub(super) fn err(verb: Verb, args: &[&str]) -> BindError {
    match bind(verb, &words(args)) {
        Ok(invocation) => panic!("{args:?} should not bind, got: {invocation:?}"),
        Err(e) => e,
    }
}

/// The message of a ParameterBindingException.
pub(super) fn binding_err(verb: Verb, args: &[&str]) -> String {
    let e = err(verb, args);
    assert_eq!(e.category, "ParameterBindingException", "{e}");
    assert_eq!(e.cmdlet, verb.cmdlet());
    e.message
}

/// The message of a NotSupportedException.
pub(super) fn refused_err(verb: Verb, args: &[&str]) -> String {
    let e = err(verb, args);
    assert_eq!(e.category, "NotSupportedException", "{e}");
    assert_eq!(e.cmdlet, verb.cmdlet());
    e.message
}

pub(super) fn ids(verb: Verb, args: &[&str]) -> Vec<u32> {
    match ok(verb, args).selection {
        SelectionArg::Ids(ids) => ids,
        other => panic!("{args:?}: expected IDs, got {other:?}"),
    }
}

pub(super) const SET_ERROR: &str = "Parameter set cannot be resolved using the specified named \
    parameters. One or more parameters issued cannot be used together or an insufficient \
    number of parameters were provided.";

pub(super) const MISSING_MESSAGE: &str =
    "Cannot process command because of one or more missing mandatory parameters: Message.";
