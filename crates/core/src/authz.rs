//! Who may do what (SPEC section 5), as one pure function over domain types.
//!
//! Administrators may act on any session, operators on sessions of non-administrators,
//! users only on their own other sessions; nobody may close, disconnect or lock the
//! session the command runs in; anyone may list.

use crate::model::{SessionId, Uid, Verb};
use serde::{Deserialize, Serialize};

/// The caller's role, decided by the host (groups) or the agent (token). On the wire
/// (`GET /v1/caller`) it is SPEC 5's word: `administrator`, `operator`, `user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Operator,
    Administrator,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub uid: Uid,
    pub role: Role,
    /// The session the command runs in, on the target host, if any. It is protected.
    pub own_session: Option<SessionId>,
}

/// The facts about a target that the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetFacts {
    pub session_id: SessionId,
    pub uid: Uid,
    pub is_admin: bool,
}

#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The session the command runs in.
    OwnSession,
    /// An administrator's session, and the caller is not an administrator.
    AdministratorSession,
    /// Another user's session, and the caller is a plain user.
    OtherUsersSession,
}

impl DenyReason {
    /// Why, in words, for messages and Skipped reasons.
    pub fn explain(self) -> &'static str {
        match self {
            DenyReason::OwnSession => "it is the session this command runs in",
            DenyReason::AdministratorSession => {
                "it is an administrator's session and only administrators may act on it"
            }
            DenyReason::OtherUsersSession => {
                "it belongs to another user and only operators and administrators may act on it"
            }
        }
    }
}

/// Decides whether `caller` may apply `verb` to `target`.
pub fn authorize(caller: &Caller, verb: Verb, target: &TargetFacts) -> Decision {
    if !verb.changes_state() {
        return Decision::Allow;
    }
    // Unlocking one's own session gives nothing away, nor does looking at the screen one
    // sits at, and a message to it (as `write` to one's own terminal) takes nothing from
    // it; every other change to it would cut off the command that asks for it.
    if caller.own_session == Some(target.session_id)
        && !matches!(verb, Verb::Unlock | Verb::Message | Verb::Thumbnail)
    {
        return Decision::Deny(DenyReason::OwnSession);
    }
    match caller.role {
        Role::Administrator => Decision::Allow,
        Role::Operator if target.is_admin => Decision::Deny(DenyReason::AdministratorSession),
        Role::Operator => Decision::Allow,
        Role::User if target.uid == caller.uid => Decision::Allow,
        Role::User if target.is_admin => Decision::Deny(DenyReason::AdministratorSession),
        Role::User => Decision::Deny(DenyReason::OtherUsersSession),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Uid = Uid(1000);
    const BOB: Uid = Uid(1001);
    const ADMIN: Uid = Uid(1002);

    fn caller(uid: Uid, role: Role) -> Caller {
        Caller {
            uid,
            role,
            own_session: Some(SessionId(1)),
        }
    }
    fn target(id: u32, uid: Uid, is_admin: bool) -> TargetFacts {
        TargetFacts {
            session_id: SessionId(id),
            uid,
            is_admin,
        }
    }
    const CHANGING: [Verb; 5] = [
        Verb::Close,
        Verb::Disconnect,
        Verb::Lock,
        Verb::Unlock,
        Verb::Message,
    ];

    #[test]
    fn administrators_may_act_on_any_other_session() {
        let c = caller(ADMIN, Role::Administrator);
        for v in CHANGING {
            assert_eq!(authorize(&c, v, &target(2, BOB, false)), Decision::Allow);
            assert_eq!(
                authorize(&c, v, &target(3, Uid::ROOT, true)),
                Decision::Allow
            );
            assert_eq!(authorize(&c, v, &target(4, ADMIN, true)), Decision::Allow);
        }
    }

    #[test]
    fn operators_may_not_touch_administrator_sessions() {
        let c = caller(ALICE, Role::Operator);
        for v in CHANGING {
            assert_eq!(authorize(&c, v, &target(2, BOB, false)), Decision::Allow);
            assert_eq!(
                authorize(&c, v, &target(3, ADMIN, true)),
                Decision::Deny(DenyReason::AdministratorSession)
            );
        }
    }

    #[test]
    fn users_act_only_on_their_own_other_sessions() {
        let c = caller(ALICE, Role::User);
        for v in CHANGING {
            assert_eq!(authorize(&c, v, &target(2, ALICE, false)), Decision::Allow);
            assert_eq!(
                authorize(&c, v, &target(3, BOB, false)),
                Decision::Deny(DenyReason::OtherUsersSession)
            );
            assert_eq!(
                authorize(&c, v, &target(4, ADMIN, true)),
                Decision::Deny(DenyReason::AdministratorSession)
            );
        }
    }

    #[test]
    fn nobody_closes_disconnects_or_locks_their_own_session() {
        for role in [Role::User, Role::Operator, Role::Administrator] {
            let c = caller(ALICE, role);
            for v in [Verb::Close, Verb::Disconnect, Verb::Lock] {
                assert_eq!(
                    authorize(&c, v, &target(1, ALICE, false)),
                    Decision::Deny(DenyReason::OwnSession),
                    "{role:?} {v:?}"
                );
            }
            for v in [Verb::Unlock, Verb::Message] {
                assert_eq!(authorize(&c, v, &target(1, ALICE, false)), Decision::Allow);
            }
        }
    }

    #[test]
    fn anyone_may_list() {
        let c = caller(ALICE, Role::User);
        assert_eq!(
            authorize(&c, Verb::Get, &target(4, ADMIN, true)),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, Verb::Get, &target(1, ALICE, false)),
            Decision::Allow
        );
    }

    #[test]
    fn a_caller_outside_any_session_has_no_own_session_to_protect() {
        let c = Caller {
            uid: Uid::ROOT,
            role: Role::Administrator,
            own_session: None,
        };
        assert_eq!(
            authorize(&c, Verb::Close, &target(1, ALICE, false)),
            Decision::Allow
        );
    }
}
