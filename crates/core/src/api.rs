//! The agent's wire types (HTTP/JSON, version 1), shared by `wmsd` and the `wms` client so
//! both speak one definition. Session objects travel as Get-WmsSession prints them.

use crate::model::{SessionId, Verb};
use crate::outcome::TargetResult;
use serde::{Deserialize, Serialize};

/// An action verb on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionVerb {
    Close,
    Disconnect,
    Lock,
    Unlock,
}

impl ActionVerb {
    pub fn verb(self) -> Verb {
        match self {
            ActionVerb::Close => Verb::Close,
            ActionVerb::Disconnect => Verb::Disconnect,
            ActionVerb::Lock => Verb::Lock,
            ActionVerb::Unlock => Verb::Unlock,
        }
    }

    pub fn from_verb(v: Verb) -> Option<ActionVerb> {
        Some(match v {
            Verb::Close => ActionVerb::Close,
            Verb::Disconnect => ActionVerb::Disconnect,
            Verb::Lock => ActionVerb::Lock,
            Verb::Unlock => ActionVerb::Unlock,
            Verb::Get => return None,
        })
    }
}

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
    /// Lock's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Plan only: every target the caller may act on is answered WhatIf.
    #[serde(default)]
    pub what_if: bool,
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
}
