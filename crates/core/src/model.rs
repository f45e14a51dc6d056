//! The session model: kernel identities as newtypes, and the session object that
//! Get-WmsSession returns, with the PascalCase property names of SPEC section 3.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A kernel audit session ID (`/proc/PID/sessionid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u32);

impl SessionId {
    /// The kernel's "no login session" value (`AUDIT_SID_UNSET`): daemons carry it, and
    /// such processes are never listed or touched.
    pub const UNSET: u32 = u32::MAX;

    /// A session ID read from the kernel, or `None` for "no login session".
    pub fn from_kernel(raw: u32) -> Option<SessionId> {
        (raw != Self::UNSET).then_some(SessionId(raw))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user ID (for a session, its loginuid).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Uid(pub u32);

impl Uid {
    pub const ROOT: Uid = Uid(0);
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A process ID. A bare PID names a process only for an instant; the host backend pins
/// processes by pidfd before acting on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pid(pub i32);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a session is attached, in MultiPoint's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// A live remote connection (ssh).
    RemoteConnection,
    /// A local console or seat.
    ConnectedToStation,
    /// The connection is gone but processes remain.
    Disconnected,
}

impl SessionState {
    /// The state's name, as Get-WmsSession prints it.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::RemoteConnection => "RemoteConnection",
            SessionState::ConnectedToStation => "ConnectedToStation",
            SessionState::Disconnected => "Disconnected",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The operations of the cmdlet family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Close,
    Disconnect,
    Lock,
    Unlock,
}

impl Verb {
    /// The MultiPoint cmdlet name, used in what-if lines, prompts and error prefixes.
    pub fn cmdlet(self) -> &'static str {
        match self {
            Verb::Get => "Get-WmsSession",
            Verb::Close => "Close-WmsSession",
            Verb::Disconnect => "Disconnect-WmsSession",
            Verb::Lock => "Lock-WmsSession",
            Verb::Unlock => "Unlock-WmsSession",
        }
    }

    /// Whether the verb changes a session (and so is subject to SPEC 5's rules).
    pub fn changes_state(self) -> bool {
        !matches!(self, Verb::Get)
    }
}

/// A session as Get-WmsSession returns it. Properties that this host cannot know for a
/// session are `None` and left out of the output, never filled with a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    pub session_id: SessionId,
    pub state: SessionState,
    pub user_name: String,
    pub domain_name: String,
    pub is_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub station_id: Option<u32>,
    pub computer_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logon_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idle_seconds: Option<u64>,
    pub process_count: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub leader_pid: Option<Pid>,
    /// Whether wms has locked the session (Lock-WmsSession).
    #[serde(default)]
    pub is_locked: bool,
    /// The message shown on a locked session.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lock_message: Option<String>,
    /// The server name this session was listed through (`--server`), when that was not
    /// this host: piped back into wms, the object goes to the same server.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    /// The session's loginuid; what the authorization rules compare, not shown.
    #[serde(skip)]
    pub uid: Uid,
}

impl Session {
    /// The `(Name, Value)` pairs in display order, for list and table output.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("SessionId", self.session_id.to_string()),
            ("State", self.state.to_string()),
            ("UserName", self.user_name.clone()),
            ("DomainName", self.domain_name.clone()),
            (
                "IsAdmin",
                if self.is_admin { "True" } else { "False" }.to_string(),
            ),
        ];
        if let Some(s) = self.station_id {
            p.push(("StationId", s.to_string()));
        }
        p.push(("ComputerName", self.computer_name.clone()));
        if let Some(s) = &self.server {
            p.push(("Server", s.clone()));
        }
        let opt = [
            ("ClientName", self.client_name.clone()),
            ("Tty", self.tty.clone()),
            ("Service", self.service.clone()),
            ("LogonTime", self.logon_time.clone()),
            ("IdleSeconds", self.idle_seconds.map(|s| s.to_string())),
        ];
        p.extend(opt.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        p.push(("ProcessCount", self.process_count.to_string()));
        if let Some(l) = self.leader_pid {
            p.push(("LeaderPid", l.to_string()));
        }
        p.push((
            "IsLocked",
            if self.is_locked { "True" } else { "False" }.to_string(),
        ));
        if let Some(m) = &self.lock_message {
            p.push(("LockMessage", m.clone()));
        }
        p
    }

    /// How targets are named in what-if lines, prompts and messages.
    pub fn target_label(&self) -> String {
        format!(
            "Session {} ({}) on {}",
            self.session_id, self.user_name, self.computer_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Session {
        Session {
            session_id: SessionId(3),
            state: SessionState::RemoteConnection,
            user_name: "alice".into(),
            domain_name: "example.org".into(),
            is_admin: false,
            station_id: Some(0),
            computer_name: "host1.example.org".into(),
            client_name: Some("10.0.0.5".into()),
            tty: None,
            service: Some("sshd".into()),
            logon_time: None,
            idle_seconds: None,
            process_count: 4,
            leader_pid: Some(Pid(100)),
            is_locked: false,
            lock_message: None,
            server: None,
            uid: Uid(1000),
        }
    }

    #[test]
    fn unknown_properties_are_left_out_of_json() {
        let v = serde_json::to_value(sample()).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o["SessionId"], 3);
        assert_eq!(o["State"], "RemoteConnection");
        assert!(!o.contains_key("Tty"));
        assert!(!o.contains_key("Uid"));
        assert!(!o.contains_key("IdleSeconds"));
    }

    #[test]
    fn unset_session_id_is_no_session() {
        assert_eq!(SessionId::from_kernel(u32::MAX), None);
        assert_eq!(SessionId::from_kernel(7), Some(SessionId(7)));
    }

    #[test]
    fn properties_follow_display_order_and_skip_unknowns() {
        let names: Vec<_> = sample().properties().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "SessionId",
                "State",
                "UserName",
                "DomainName",
                "IsAdmin",
                "StationId",
                "ComputerName",
                "ClientName",
                "Service",
                "ProcessCount",
                "LeaderPid",
                "IsLocked"
            ]
        );
    }
}
