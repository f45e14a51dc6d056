//! Which sessions a command is about beyond IDs and `-All`: by user, by state, by idleness
//! (`--user`, `--state`, `--idle`; `-UserName`, `-State`, `-MinimumIdleSeconds`). One
//! [`Filter`] serves both spellings and both listing and acting: an action lists the
//! sessions first and acts on those that match.
//!
//! Each criterion is a list (any of its values matches) and the criteria are ANDed. A new
//! criterion is one field here, one line in [`Filter::matches`], one flag in `cli.rs` and
//! one parameter in the binder's table (logind's Class is the next one).

use wms_core::{Session, SessionState};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// User names as sessions show them (a user that does not resolve shows as its uid);
    /// empty matches every user.
    pub users: Vec<String>,
    /// Empty matches every state.
    pub states: Vec<SessionState>,
    /// Input idle at least this long; a Disconnected session counts as idle (nobody is
    /// connected to type into it); a session whose idleness is unknown does not match.
    pub min_idle_seconds: Option<u64>,
}

impl Filter {
    /// Whether no criterion is set (everything matches).
    pub fn is_empty(&self) -> bool {
        self == &Filter::default()
    }

    pub fn matches(&self, s: &Session) -> bool {
        // By name only: sessions listed through an agent carry no uid.
        let user = self.users.is_empty() || self.users.contains(&s.user_name);
        // A session whose state the caller cannot know matches no state asked for.
        let state = self.states.is_empty() || s.state.is_some_and(|st| self.states.contains(&st));
        let idle = match self.min_idle_seconds {
            None => true,
            Some(_) if s.state == Some(SessionState::Disconnected) => true,
            Some(min) => s.idle_seconds.is_some_and(|i| i >= min),
        };
        user && state && idle
    }
}

/// Parses a duration for `--idle`: whole seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("'{text}' is not a duration: write seconds, or a number with s, m, h or d (90, 30m, 2h)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            format!("'{text}' is not a duration: write seconds, or a number with s, m, h or d (90, 30m, 2h)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wms_core::{SessionId, Uid};

    fn s(id: u32, user: &str, uid: u32, state: SessionState, idle: Option<u64>) -> Session {
        Session {
            session_id: SessionId(id),
            state: Some(state),
            user_name: user.into(),
            domain_name: "lab".into(),
            computer_name: "lab1".into(),
            idle_seconds: idle,
            process_count: 1,
            uid: Uid(uid),
            ..Default::default()
        }
    }

    #[test]
    fn each_criterion_and_their_conjunction() {
        let alice = s(3, "alice", 1001, SessionState::RemoteConnection, Some(10));
        let bob = s(4, "bob", 1002, SessionState::Disconnected, None);
        let carol = s(5, "carol", 1003, SessionState::ConnectedToStation, None);
        assert!(Filter::default().matches(&alice));
        let by_user = Filter {
            users: vec!["alice".into(), "bob".into()],
            ..Filter::default()
        };
        assert!(by_user.matches(&alice) && by_user.matches(&bob) && !by_user.matches(&carol));
        let by_state = Filter {
            states: vec![SessionState::Disconnected],
            ..Filter::default()
        };
        assert!(!by_state.matches(&alice) && by_state.matches(&bob));
        let idle = Filter {
            min_idle_seconds: Some(10),
            ..Filter::default()
        };
        assert!(idle.matches(&alice), "idle exactly the minimum");
        assert!(idle.matches(&bob), "disconnected counts as idle");
        assert!(!idle.matches(&carol), "unknown idleness does not match");
        let both = Filter {
            users: vec!["alice".into()],
            states: vec![SessionState::Disconnected],
            min_idle_seconds: None,
        };
        assert!(!both.matches(&alice) && !both.matches(&bob));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2H"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86400));
        for bad in ["", "m", "1w", "-5", "1.5h", "99999999999999999999"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad}: {e}");
        }
    }
}
