//! The agent's wire types (HTTP/JSON, version 1), shared by `wmsd` and the `wms` client so
//! both speak one definition. Session objects travel as Get-WmsSession prints them.

use crate::model::{SessionId, Verb};
use crate::outcome::TargetResult;
use crate::plan::Selection;
use serde::{Deserialize, Serialize};

/// An action verb on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionVerb {
    Close,
    Disconnect,
    Lock,
    Unlock,
    Message,
}

impl ActionVerb {
    pub fn verb(self) -> Verb {
        match self {
            ActionVerb::Close => Verb::Close,
            ActionVerb::Disconnect => Verb::Disconnect,
            ActionVerb::Lock => Verb::Lock,
            ActionVerb::Unlock => Verb::Unlock,
            ActionVerb::Message => Verb::Message,
        }
    }

    pub fn from_verb(v: Verb) -> Option<ActionVerb> {
        Some(match v {
            Verb::Close => ActionVerb::Close,
            Verb::Disconnect => ActionVerb::Disconnect,
            Verb::Lock => ActionVerb::Lock,
            Verb::Unlock => ActionVerb::Unlock,
            Verb::Message => ActionVerb::Message,
            Verb::Get | Verb::Thumbnail => return None,
        })
    }
}

/// The most session IDs one request may name: far more than any host has sessions open,
/// and few enough that a request, its plan and its audit record stay small.
pub const MAX_SESSION_IDS: usize = 4096;

/// `POST /v1/actions`: act on sessions by ID, or on all the caller may act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionRequest {
    pub verb: ActionVerb,
    /// The session IDs; absent with `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ids: Option<Vec<SessionId>>,
    #[serde(default)]
    pub all: bool,
    /// Lock's notice, or the message sent (verb `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Lock or unlock through logind (`org.freedesktop.login1.Session.Lock`/`Unlock`),
    /// for a desktop that listens to logind: no message then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logind: bool,
    /// Plan only: every target the caller may act on is answered WhatIf.
    #[serde(default)]
    pub what_if: bool,
}

impl ActionRequest {
    /// The request for `verb` over `selection`.
    pub fn new(
        verb: ActionVerb,
        selection: &Selection,
        message: Option<String>,
        what_if: bool,
    ) -> ActionRequest {
        ActionRequest {
            verb,
            session_ids: None,
            all: false,
            message,
            logind: false,
            what_if,
        }
        .with_selection(selection)
    }

    /// The same request over `selection` instead (a filter narrowed it).
    pub fn with_selection(mut self, selection: &Selection) -> ActionRequest {
        self.session_ids = match selection {
            Selection::Ids(ids) => Some(ids.clone()),
            Selection::All => None,
        };
        self.all = matches!(selection, Selection::All);
        self
    }

    /// The request, through logind (see [`ActionRequest::logind`]) when `logind`.
    pub fn through_logind(mut self, logind: bool) -> ActionRequest {
        self.logind = logind;
        self
    }

    /// The sessions the request names; the error says what is wrong with its shape.
    pub fn selection(&self) -> Result<Selection, String> {
        let sel = match (&self.session_ids, self.all) {
            (Some(ids), false) if !ids.is_empty() => Selection::Ids(ids.clone()),
            (None, true) => Selection::All,
            (Some(_), true) => return Err("give sessionIds or all, not both".into()),
            _ => return Err("give sessionIds (a non-empty list) or all: true".into()),
        };
        if let Selection::Ids(ids) = &sel {
            if ids.len() > MAX_SESSION_IDS {
                return Err(format!(
                    "{} session IDs named; at most {MAX_SESSION_IDS} may be named in one request (use all: true to act on every session)",
                    ids.len()
                ));
            }
        }
        if self.logind {
            return match (self.verb, &self.message) {
                (ActionVerb::Lock | ActionVerb::Unlock, None) => Ok(sel),
                (ActionVerb::Lock, Some(_)) => Err(
                    "logind's lock shows no message (the desktop draws its own lock screen): give a message or logind, not both".into(),
                ),
                _ => Err(format!(
                    "logind goes only with lock or unlock, not with {}",
                    self.verb.verb().cmdlet()
                )),
            };
        }
        match (self.verb, self.message.as_deref()) {
            (v, None) if v.verb().takes_message() => {
                return Err(format!("{} needs a message", verb_name(v)))
            }
            (v, Some(m)) if v.verb().takes_message() && m.trim().is_empty() => {
                return Err(format!("{} needs a message", verb_name(v)))
            }
            (v, Some(m)) if v.verb().takes_message() => crate::message::check_message(m)?,
            (_, Some(_)) => {
                return Err(format!(
                    "a message goes only with lock or message, not with {}",
                    self.verb.verb().cmdlet()
                ))
            }
            (_, None) => {}
        }
        Ok(sel)
    }
}

/// The verb's name on the wire, for errors.
fn verb_name(v: ActionVerb) -> &'static str {
    match v {
        ActionVerb::Close => "close",
        ActionVerb::Disconnect => "disconnect",
        ActionVerb::Lock => "lock",
        ActionVerb::Unlock => "unlock",
        ActionVerb::Message => "message",
    }
}

/// The answer to an action: one result per target, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResponse {
    pub results: Vec<TargetResult>,
}

/// An error answer: what was wrong, for a person to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_refuse_unknown_fields() {
        let r = ActionRequest {
            verb: ActionVerb::Lock,
            session_ids: Some(vec![SessionId(3)]),
            all: false,
            message: Some("hi".into()),
            logind: false,
            what_if: true,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"verb":"lock","sessionIds":[3],"all":false,"message":"hi","whatIf":true}"#
        );
        assert_eq!(serde_json::from_str::<ActionRequest>(&text).unwrap(), r);
        assert!(serde_json::from_str::<ActionRequest>(r#"{"verb":"close","bogus":1}"#).is_err());
        assert!(serde_json::from_str::<ActionRequest>(r#"{"verb":"reboot"}"#).is_err());
    }

    #[test]
    fn selection_round_trips_and_bad_shapes_are_named() {
        for sel in [
            Selection::All,
            Selection::Ids(vec![SessionId(3), SessionId(4)]),
        ] {
            let r = ActionRequest::new(ActionVerb::Close, &sel, None, false);
            assert_eq!(r.selection(), Ok(sel));
        }
        let mut r = ActionRequest::new(ActionVerb::Close, &Selection::All, None, false);
        r.session_ids = Some(vec![SessionId(1)]);
        assert_eq!(
            r.selection().unwrap_err(),
            "give sessionIds or all, not both"
        );
        r.all = false;
        r.session_ids = Some(vec![]);
        assert!(r.selection().unwrap_err().starts_with("give sessionIds"));
        let lock = ActionRequest::new(ActionVerb::Lock, &Selection::All, Some(" ".into()), false);
        assert_eq!(lock.selection().unwrap_err(), "lock needs a message");
        let msg = ActionRequest::new(ActionVerb::Message, &Selection::All, None, false);
        assert_eq!(msg.selection().unwrap_err(), "message needs a message");
        // Through logind: no message, and only lock or unlock.
        let via = |verb, message: Option<&str>| {
            ActionRequest::new(verb, &Selection::All, message.map(String::from), false)
                .through_logind(true)
                .selection()
        };
        assert_eq!(via(ActionVerb::Lock, None), Ok(Selection::All));
        assert_eq!(via(ActionVerb::Unlock, None), Ok(Selection::All));
        assert!(via(ActionVerb::Lock, Some("hi"))
            .unwrap_err()
            .contains("a message or logind, not both"));
        assert!(via(ActionVerb::Close, None)
            .unwrap_err()
            .starts_with("logind goes only with lock or unlock"));
        let esc = ActionRequest::new(
            ActionVerb::Message,
            &Selection::All,
            Some("hi\x1b[2J".into()),
            false,
        );
        assert!(esc.selection().unwrap_err().contains("U+001B"));
        let close = ActionRequest::new(ActionVerb::Close, &Selection::All, Some("x".into()), false);
        assert!(close
            .selection()
            .unwrap_err()
            .contains("not with Close-WmsSession"));
    }
}
