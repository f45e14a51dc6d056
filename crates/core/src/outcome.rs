//! Per-target outcomes (SPEC section 4) and how each is reported.

use crate::model::{SessionClass, SessionId};
use serde::{Deserialize, Serialize};

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Outcome", content = "Reason")]
pub enum Outcome {
    Done,
    WhatIf,
    NotFound,
    AccessDenied(String),
    OwnSession,
    /// Not acted on, with the reason (`-All` over a session the caller may not touch, a
    /// declined confirmation). A warning, not an error.
    Skipped(String),
    NotSupported(String),
    Failed(String),
}

impl Outcome {
    /// The outcome's name as printed in JSON results.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Done => "Done",
            Outcome::WhatIf => "WhatIf",
            Outcome::NotFound => "NotFound",
            Outcome::AccessDenied(_) => "AccessDenied",
            Outcome::OwnSession => "OwnSession",
            Outcome::Skipped(_) => "Skipped",
            Outcome::NotSupported(_) => "NotSupported",
            Outcome::Failed(_) => "Failed",
        }
    }

    /// Whether the outcome is an error (and so makes the exit status 1).
    pub fn is_error(&self) -> bool {
        !matches!(self, Outcome::Done | Outcome::WhatIf | Outcome::Skipped(_))
    }

    /// The PowerShell exception name shown after an error message.
    pub fn category(&self) -> Option<&'static str> {
        match self {
            Outcome::NotFound => Some("ItemNotFoundException"),
            Outcome::AccessDenied(_) => Some("UnauthorizedAccessException"),
            Outcome::OwnSession => Some("InvalidOperationException"),
            Outcome::NotSupported(_) => Some("NotSupportedException"),
            Outcome::Failed(_) => Some("InvalidOperationException"),
            Outcome::Done | Outcome::WhatIf | Outcome::Skipped(_) => None,
        }
    }
}

/// The outcome for one target, labelled with where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetResult {
    pub computer_name: String,
    pub session_id: SessionId,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_name: Option<String>,
    /// The class of a session acted on that is not a login (a user service manager, a
    /// background session), so that the result names what it was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<SessionClass>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl TargetResult {
    /// How the target is named in what-if lines, prompts and messages (as
    /// `Session::target_label` names a session).
    pub fn target_label(&self) -> String {
        let kind = self
            .class
            .filter(|c| !c.is_login())
            .map(SessionClass::describe);
        match (&self.user_name, kind) {
            (Some(u), Some(kind)) => format!(
                "Session {} ({u}, {kind}) on {}",
                self.session_id, self.computer_name
            ),
            (Some(u), None) => format!(
                "Session {} ({}) on {}",
                self.session_id, u, self.computer_name
            ),
            (None, _) => format!("Session {} on {}", self.session_id, self.computer_name),
        }
    }

    /// The error or warning text for this result, without the cmdlet prefix or category.
    pub fn message(&self, verb_past: &str) -> String {
        let who = self.target_label();
        match &self.outcome {
            Outcome::Done => format!("{who} was {verb_past}."),
            Outcome::WhatIf => format!("{who} would be {verb_past}."),
            Outcome::NotFound => format!(
                "Cannot find session {} on {}: no login session has that ID.",
                self.session_id, self.computer_name
            ),
            Outcome::AccessDenied(why) => format!("Access to {who} is denied: {why}."),
            Outcome::OwnSession => {
                format!("{who} is the session this command runs in; it cannot be {verb_past}.")
            }
            Outcome::Skipped(why) => format!("{who} was skipped: {why}."),
            Outcome::NotSupported(why) => format!("{who} cannot be {verb_past}: {why}."),
            Outcome::Failed(why) => format!("{who} could not be {verb_past}: {why}."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_result_carries_outcome_and_reason() {
        let r = TargetResult {
            computer_name: "h".into(),
            session_id: SessionId(3),
            user_name: Some("alice".into()),
            class: None,
            outcome: Outcome::Skipped("declined".into()),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Outcome"], "Skipped");
        assert_eq!(v["Reason"], "declined");
        assert_eq!(v["SessionId"], 3);
        let done = TargetResult {
            outcome: Outcome::Done,
            ..r
        };
        let v = serde_json::to_value(&done).unwrap();
        assert_eq!(v["Outcome"], "Done");
        assert!(v.get("Reason").is_none());
        let back: TargetResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, done);
        let skipped: TargetResult = serde_json::from_str(
            r#"{"ComputerName":"h","SessionId":4,"Outcome":"Skipped","Reason":"declined"}"#,
        )
        .unwrap();
        assert_eq!(skipped.outcome, Outcome::Skipped("declined".into()));
    }

    #[test]
    fn errors_and_non_errors() {
        assert!(!Outcome::Done.is_error());
        assert!(!Outcome::WhatIf.is_error());
        assert!(!Outcome::Skipped("x".into()).is_error());
        for o in [
            Outcome::NotFound,
            Outcome::OwnSession,
            Outcome::AccessDenied("x".into()),
            Outcome::NotSupported("x".into()),
            Outcome::Failed("x".into()),
        ] {
            assert!(o.is_error());
            assert!(o.category().is_some());
        }
    }
}
