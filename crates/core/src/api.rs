//! The agent's wire types (HTTP/JSON, version 1), shared by `wmsd` and the `wms` client so
//! both speak one definition. Session objects travel as Get-WmsSession prints them.

use crate::authz::{authorize, Caller, Decision, DenyReason, Role, TargetFacts};
use crate::model::{SessionId, Uid, Verb};
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

/// `GET /v1/caller`: who the agent takes the caller to be, so that a front end can show
/// beforehand what the caller may not do there, by the same rules ([`authorize`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerInfo {
    pub role: Role,
    /// The caller's user on that host; left out for a caller known by a token, which is
    /// nobody's there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Uid>,
    /// The session the caller runs in on that host, which is protected; left out when it
    /// runs in none there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_session: Option<SessionId>,
}

/// The user ID of a caller whose user is not known: `(uid_t)-1`, which no account has.
const NO_UID: Uid = Uid(u32::MAX);

impl CallerInfo {
    /// A caller the host knows by its user (on the agent's Unix socket, or in-process).
    pub fn of_user(caller: &Caller) -> CallerInfo {
        CallerInfo {
            role: caller.role,
            uid: Some(caller.uid),
            own_session: caller.own_session,
        }
    }

    /// A caller known by a token: its role, and its own session if it named one on this
    /// host, but no user.
    pub fn of_token(caller: &Caller) -> CallerInfo {
        CallerInfo {
            uid: None,
            ..CallerInfo::of_user(caller)
        }
    }

    /// The caller as the rules take it. Without a user ID the caller's is one no account
    /// has; decide with [`CallerInfo::authorize`], which does not lean on that.
    pub fn caller(&self) -> Caller {
        Caller {
            uid: self.uid.unwrap_or(NO_UID),
            role: self.role,
            own_session: self.own_session,
        }
    }

    /// Whether this caller may apply `verb` to `target` ([`authorize`]). A plain user whose
    /// user ID is not known cannot be shown to own any session, so every change is denied
    /// it, as if each session were another user's (deny by default).
    pub fn authorize(&self, verb: Verb, target: &TargetFacts) -> Decision {
        match authorize(&self.caller(), verb, target) {
            Decision::Allow if self.uid.is_none() && self.role == Role::User => {
                if !verb.changes_state() {
                    Decision::Allow
                } else if target.is_admin {
                    Decision::Deny(DenyReason::AdministratorSession)
                } else {
                    Decision::Deny(DenyReason::OtherUsersSession)
                }
            }
            decision => decision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: u32, uid: u32, is_admin: bool) -> TargetFacts {
        TargetFacts {
            session_id: SessionId(id),
            uid: Uid(uid),
            is_admin,
        }
    }

    #[test]
    fn caller_info_speaks_spec_5s_roles_in_camel_case_and_leaves_out_what_it_does_not_know() {
        let operator = Caller {
            uid: Uid(1001),
            role: Role::Operator,
            own_session: Some(SessionId(7)),
        };
        let info = CallerInfo::of_user(&operator);
        let text = serde_json::to_string(&info).unwrap();
        assert_eq!(text, r#"{"role":"operator","uid":1001,"ownSession":7}"#);
        assert_eq!(serde_json::from_str::<CallerInfo>(&text).unwrap(), info);
        assert_eq!(info.caller(), operator);
        let token = CallerInfo::of_token(&Caller {
            uid: NO_UID,
            role: Role::Administrator,
            own_session: None,
        });
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            r#"{"role":"administrator"}"#
        );
        let user: CallerInfo = serde_json::from_str(r#"{"role":"user","uid":1000}"#).unwrap();
        assert_eq!(user.role, Role::User);
        assert_eq!(user.own_session, None);
        // A role the rules do not know is an error, not a guess.
        assert!(serde_json::from_str::<CallerInfo>(r#"{"role":"admin"}"#).is_err());
        assert!(serde_json::from_str::<CallerInfo>(r#"{"uid":0}"#).is_err());
    }

    #[test]
    fn caller_info_decides_as_the_rules_do() {
        let admin = CallerInfo {
            role: Role::Administrator,
            uid: None,
            own_session: Some(SessionId(1)),
        };
        assert_eq!(
            admin.authorize(Verb::Close, &facts(2, 0, true)),
            Decision::Allow
        );
        assert_eq!(
            admin.authorize(Verb::Lock, &facts(1, 0, true)),
            Decision::Deny(DenyReason::OwnSession)
        );
        let operator = CallerInfo {
            role: Role::Operator,
            ..admin.clone()
        };
        assert_eq!(
            operator.authorize(Verb::Close, &facts(2, 1000, false)),
            Decision::Allow
        );
        assert_eq!(
            operator.authorize(Verb::Thumbnail, &facts(2, 0, true)),
            Decision::Deny(DenyReason::AdministratorSession)
        );
        let user = CallerInfo {
            role: Role::User,
            uid: Some(Uid(1000)),
            own_session: None,
        };
        assert_eq!(
            user.authorize(Verb::Close, &facts(2, 1000, false)),
            Decision::Allow
        );
        assert_eq!(
            user.authorize(Verb::Close, &facts(3, 1001, false)),
            Decision::Deny(DenyReason::OtherUsersSession)
        );
    }

    #[test]
    fn a_user_whose_uid_is_not_known_may_change_nothing() {
        let nobody = CallerInfo {
            role: Role::User,
            uid: None,
            own_session: None,
        };
        // Not even a session whose user ID is the one that stands in for "not known".
        for verb in [
            Verb::Close,
            Verb::Disconnect,
            Verb::Lock,
            Verb::Unlock,
            Verb::Message,
            Verb::Thumbnail,
        ] {
            assert_eq!(
                nobody.authorize(verb, &facts(2, u32::MAX, false)),
                Decision::Deny(DenyReason::OtherUsersSession),
                "{verb:?}"
            );
            assert_eq!(
                nobody.authorize(verb, &facts(3, 0, true)),
                Decision::Deny(DenyReason::AdministratorSession),
                "{verb:?}"
            );
        }
        assert_eq!(
            nobody.authorize(Verb::Get, &facts(2, u32::MAX, false)),
            Decision::Allow
        );
    }

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
