//! Which sessions a listing shows and in what order: the class filter (`--class`,
//! `-SessionClass`) and the sort (`--sort`, `-Sort`). By default a listing shows logins (classes
//! user and greeter, and sessions whose class is not known); user service managers and
//! background sessions are shown when their class is asked for. Sessions named by ID are
//! always shown, whatever their class.

use wms_core::{Session, SessionClass};

/// Every property a listing can be sorted by, as Get-WmsSession names them.
pub const COLUMNS: [&str; 29] = [
    "SessionId",
    "State",
    "UserName",
    "DomainName",
    "IsAdmin",
    "StationId",
    "ComputerName",
    "Server",
    "ClientName",
    "Class",
    "Type",
    "Tty",
    "Seat",
    "VTNr",
    "Display",
    "Remote",
    "RemoteHost",
    "Service",
    "LogonTime",
    "IdleSeconds",
    "IdleHint",
    "ProcessCount",
    "LeaderPid",
    "CpuSeconds",
    "MemoryBytes",
    "IsLocked",
    "LockMessage",
    "LockedHint",
    "Source",
];

/// What a listing shows, and in what order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// The classes asked for; `None` for logins only.
    pub classes: Option<Vec<SessionClass>>,
    /// The property to sort by (one of [`COLUMNS`]); `None` for session ID order.
    pub sort: Option<&'static str>,
    pub descending: bool,
}

/// A class filter or sort key that does not name a class or a property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error(
        "'{0}' is not a session class: use user, greeter, lock-screen, background, manager or all"
    )]
    Class(String),
    #[error("cannot sort by '{0}': it is not a session property (SessionId, UserName, CpuSeconds, MemoryBytes, LogonTime, ...)")]
    Sort(String),
}

/// The classes named in `words` (comma-separated, case-insensitive; `all` for every one).
pub fn parse_classes(words: &[String]) -> Result<Vec<SessionClass>, ViewError> {
    let mut out = Vec::new();
    for w in words.iter().flat_map(|w| w.split(',')) {
        let w = w.trim();
        if w.is_empty() {
            continue;
        }
        if w.eq_ignore_ascii_case("all") {
            out.extend(SessionClass::ALL);
            continue;
        }
        out.push(SessionClass::parse(w).ok_or_else(|| ViewError::Class(w.to_string()))?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The property `name` names, case-insensitive.
pub fn parse_sort(name: &str) -> Result<&'static str, ViewError> {
    COLUMNS
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| ViewError::Sort(name.to_string()))
}

impl View {
    /// Whether a listing of every session shows `s`.
    pub fn shows(&self, s: &Session) -> bool {
        match (&self.classes, s.class) {
            (None, _) => s.is_login(),
            // A session whose class is not known is shown wherever logins are.
            (Some(asked), None) => asked.iter().any(|c| c.is_login()),
            (Some(asked), Some(c)) => asked.contains(&c),
        }
    }

    /// Sorts `sessions` by the chosen property (stable, so ties keep their order):
    /// numbers as numbers, text case-insensitively, sessions without the property last.
    pub fn sort(&self, sessions: &mut [Session]) {
        let Some(key) = self.sort else {
            return;
        };
        let value = |s: &Session| {
            s.properties()
                .into_iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
        };
        let mut keyed: Vec<(Option<String>, Session)> =
            sessions.iter().map(|s| (value(s), s.clone())).collect();
        keyed.sort_by(|(a, _), (b, _)| {
            use std::cmp::Ordering;
            match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => {
                    let o = match (a.parse::<f64>(), b.parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.total_cmp(&y),
                        _ => a.to_lowercase().cmp(&b.to_lowercase()),
                    };
                    if self.descending {
                        o.reverse()
                    } else {
                        o
                    }
                }
            }
        });
        for (slot, (_, s)) in sessions.iter_mut().zip(keyed) {
            *slot = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wms_core::{SessionId, SessionState, Uid};

    fn s(id: u32, class: Option<SessionClass>, cpu: Option<f64>) -> Session {
        let mut s: Session = serde_json::from_value(serde_json::json!({
            "SessionId": id, "UserName": "u", "DomainName": "d", "IsAdmin": false,
            "ComputerName": "h", "ProcessCount": 1
        }))
        .unwrap();
        s.state = Some(SessionState::RemoteConnection);
        s.class = class;
        s.cpu_seconds = cpu;
        s.uid = Uid(1000);
        s
    }

    #[test]
    fn logins_by_default_and_the_classes_asked_for() {
        use SessionClass::*;
        let all = [
            s(1, Some(User), None),
            s(2, Some(Manager), None),
            s(3, Some(Background), None),
            s(4, None, None),
            s(5, Some(Greeter), None),
        ];
        let shown = |v: &View| -> Vec<u32> {
            all.iter()
                .filter(|s| v.shows(s))
                .map(|s| s.session_id.0)
                .collect()
        };
        assert_eq!(shown(&View::default()), [1, 4, 5]);
        let managers = View {
            classes: Some(parse_classes(&["Manager".into()]).unwrap()),
            ..View::default()
        };
        assert_eq!(shown(&managers), [2]);
        let every = View {
            classes: Some(parse_classes(&["all".into()]).unwrap()),
            ..View::default()
        };
        assert_eq!(shown(&every), [1, 2, 3, 4, 5]);
        assert_eq!(
            parse_classes(&["user,nonsense".into()]),
            Err(ViewError::Class("nonsense".into()))
        );
    }

    #[test]
    fn sorts_numbers_as_numbers_and_missing_last() {
        let mut v = vec![
            s(1, None, Some(2.0)),
            s(2, None, None),
            s(3, None, Some(10.0)),
            s(4, None, Some(0.5)),
        ];
        let view = View {
            sort: Some(parse_sort("cpuseconds").unwrap()),
            descending: true,
            ..View::default()
        };
        view.sort(&mut v);
        let ids: Vec<u32> = v.iter().map(|s| s.session_id.0).collect();
        assert_eq!(ids, [3, 1, 4, 2]);
        assert_eq!(v[0].session_id, SessionId(3));
        assert!(parse_sort("Nope").is_err());
    }
}
