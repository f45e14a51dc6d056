//! The plan: which requested targets are acted on and which are answered at once
//! (NotFound, AccessDenied, OwnSession, Skipped). What-if and confirm then apply to the
//! `Act` steps only, so nothing the caller may not touch is ever even offered.

use crate::authz::{authorize, Caller, Decision, DenyReason, TargetFacts};
use crate::model::{Session, SessionId, Verb};
use crate::outcome::Outcome;

/// Which sessions a command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Ids(Vec<SessionId>),
    All,
}

/// One step of a plan, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Act on this session (after what-if/confirm).
    Act(Box<Session>),
    /// Report this outcome without acting.
    Report {
        session_id: SessionId,
        user_name: Option<String>,
        outcome: Outcome,
    },
}

fn facts(s: &Session) -> TargetFacts {
    TargetFacts {
        session_id: s.session_id,
        uid: s.uid,
        is_admin: s.is_admin,
    }
}

/// `ids` in their order, each once.
pub fn unique_ids(ids: &[SessionId]) -> Vec<SessionId> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Builds the plan for `verb` over `selection`, given the host's sessions.
///
/// Explicit IDs keep their order (duplicates once); an unknown ID is NotFound, a session
/// the caller may not touch is AccessDenied or OwnSession. `All` takes every session in ID
/// order and reports the ones the caller may not touch as Skipped with the reason; it
/// takes logins only (see [`Session::is_login`]): user service managers and background
/// sessions are never touched by `All`, only by ID.
pub fn plan(caller: &Caller, verb: Verb, selection: &Selection, sessions: &[Session]) -> Vec<Step> {
    match selection {
        Selection::Ids(ids) => unique_ids(ids)
            .into_iter()
            .map(|id| match sessions.iter().find(|s| s.session_id == id) {
                None => Step::Report {
                    session_id: id,
                    user_name: None,
                    outcome: Outcome::NotFound,
                },
                Some(s) => match authorize(caller, verb, &facts(s)) {
                    Decision::Allow => Step::Act(Box::new(s.clone())),
                    Decision::Deny(DenyReason::OwnSession) => Step::Report {
                        session_id: s.session_id,
                        user_name: Some(s.user_name.clone()),
                        outcome: Outcome::OwnSession,
                    },
                    Decision::Deny(r) => Step::Report {
                        session_id: s.session_id,
                        user_name: Some(s.user_name.clone()),
                        outcome: Outcome::AccessDenied(r.explain().to_string()),
                    },
                },
            })
            .collect(),
        Selection::All => {
            let mut all: Vec<&Session> = sessions.iter().filter(|s| s.is_login()).collect();
            all.sort_by_key(|s| s.session_id);
            all.into_iter()
                .map(|s| match authorize(caller, verb, &facts(s)) {
                    Decision::Allow => Step::Act(Box::new(s.clone())),
                    Decision::Deny(r) => Step::Report {
                        session_id: s.session_id,
                        user_name: Some(s.user_name.clone()),
                        outcome: Outcome::Skipped(r.explain().to_string()),
                    },
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Role;
    use crate::model::{SessionState, Uid};

    fn s(id: u32, uid: u32, admin: bool) -> Session {
        Session {
            session_id: SessionId(id),
            state: Some(SessionState::RemoteConnection),
            user_name: format!("u{uid}"),
            domain_name: "d".into(),
            is_admin: admin,
            station_id: Some(0),
            computer_name: "h".into(),
            process_count: 1,
            uid: Uid(uid),
            ..Default::default()
        }
    }

    fn outcomes(steps: &[Step]) -> Vec<(u32, String)> {
        steps
            .iter()
            .map(|st| match st {
                Step::Act(s) => (s.session_id.0, "Act".to_string()),
                Step::Report {
                    session_id,
                    outcome,
                    ..
                } => (session_id.0, outcome.name().to_string()),
            })
            .collect()
    }

    #[test]
    fn ids_keep_order_dedupe_and_report_unknowns() {
        let caller = Caller {
            uid: Uid(0),
            role: Role::Administrator,
            own_session: Some(SessionId(1)),
        };
        let sessions = [s(1, 0, true), s(2, 1000, false), s(3, 1001, false)];
        let p = plan(
            &caller,
            Verb::Close,
            &Selection::Ids(vec![SessionId(3), SessionId(9), SessionId(3), SessionId(1)]),
            &sessions,
        );
        assert_eq!(
            outcomes(&p),
            [
                (3, "Act".into()),
                (9, "NotFound".into()),
                (1, "OwnSession".into())
            ]
        );
    }

    #[test]
    fn all_skips_what_the_caller_may_not_touch_with_a_reason() {
        let caller = Caller {
            uid: Uid(1000),
            role: Role::Operator,
            own_session: Some(SessionId(2)),
        };
        let sessions = [s(3, 1001, false), s(1, 0, true), s(2, 1000, false)];
        let p = plan(&caller, Verb::Close, &Selection::All, &sessions);
        assert_eq!(
            outcomes(&p),
            [
                (1, "Skipped".into()),
                (2, "Skipped".into()),
                (3, "Act".into())
            ]
        );
        match &p[0] {
            Step::Report {
                outcome: Outcome::Skipped(why),
                ..
            } => assert!(why.contains("administrator"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn all_never_takes_service_managers_or_background_sessions_but_ids_do() {
        use crate::model::SessionClass;
        let caller = Caller {
            uid: Uid(0),
            role: Role::Administrator,
            own_session: None,
        };
        let mut sessions = vec![s(1, 1000, false), s(2, 1000, false), s(3, 1000, false)];
        sessions[0].class = Some(SessionClass::Manager);
        sessions[1].class = Some(SessionClass::Background);
        sessions[2].class = Some(SessionClass::User);
        let mut unknown = s(4, 1000, false);
        unknown.class = None;
        sessions.push(unknown);
        let p = plan(&caller, Verb::Close, &Selection::All, &sessions);
        assert_eq!(outcomes(&p), [(3, "Act".into()), (4, "Act".into())]);
        let p = plan(
            &caller,
            Verb::Close,
            &Selection::Ids(vec![SessionId(1), SessionId(2)]),
            &sessions,
        );
        assert_eq!(outcomes(&p), [(1, "Act".into()), (2, "Act".into())]);
    }

    #[test]
    fn explicit_ids_the_caller_may_not_touch_are_access_denied() {
        let caller = Caller {
            uid: Uid(1000),
            role: Role::User,
            own_session: None,
        };
        let sessions = [s(3, 1001, false), s(4, 1000, false)];
        let p = plan(
            &caller,
            Verb::Close,
            &Selection::Ids(vec![SessionId(3), SessionId(4)]),
            &sessions,
        );
        assert_eq!(
            outcomes(&p),
            [(3, "AccessDenied".into()), (4, "Act".into())]
        );
    }
}
