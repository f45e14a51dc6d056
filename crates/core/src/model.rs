//! The session model: kernel identities as newtypes, and the session object that
//! Get-WmsSession returns, with the PascalCase property names of SPEC section 3.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A kernel audit session ID (`/proc/PID/sessionid`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
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

/// What kind of session it is, in systemd-logind's words (`loginctl show-session -p
/// Class`). What an administrator means by a session is a login: [`SessionClass::User`]
/// and [`SessionClass::Greeter`]; the rest are listed only when asked for and never taken
/// by `-All`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionClass {
    /// A user's login (ssh, a console, a desktop).
    User,
    /// A display manager's login screen.
    Greeter,
    /// A screen locker's session.
    LockScreen,
    /// A job without a login: cron, at.
    Background,
    /// A user's service manager (`systemd --user`, PAM service `systemd-user`).
    Manager,
}

impl SessionClass {
    pub const ALL: [SessionClass; 5] = [
        SessionClass::User,
        SessionClass::Greeter,
        SessionClass::LockScreen,
        SessionClass::Background,
        SessionClass::Manager,
    ];

    /// The class as logind spells it.
    pub fn name(self) -> &'static str {
        match self {
            SessionClass::User => "user",
            SessionClass::Greeter => "greeter",
            SessionClass::LockScreen => "lock-screen",
            SessionClass::Background => "background",
            SessionClass::Manager => "manager",
        }
    }

    /// A class from logind's name; its variants (`user-early`, `manager-early`,
    /// `background-light`, ...) are the class they vary. Case-insensitive.
    pub fn parse(name: &str) -> Option<SessionClass> {
        let n = name.to_ascii_lowercase();
        let base = n
            .strip_suffix("-early")
            .or_else(|| n.strip_suffix("-light"))
            .or_else(|| n.strip_suffix("-incomplete"))
            .unwrap_or(&n);
        let base = if base == "lockscreen" {
            "lock-screen"
        } else {
            base
        };
        SessionClass::ALL.into_iter().find(|c| c.name() == base)
    }

    /// Whether it is a login (user or greeter): what is listed by default and what
    /// `-All` acts on.
    pub fn is_login(self) -> bool {
        matches!(self, SessionClass::User | SessionClass::Greeter)
    }

    /// How an action names a session of this class that is not a login.
    pub fn describe(self) -> &'static str {
        match self {
            SessionClass::User => "user login",
            SessionClass::Greeter => "login screen",
            SessionClass::LockScreen => "lock screen",
            SessionClass::Background => "background session",
            SessionClass::Manager => "user service manager",
        }
    }
}

impl fmt::Display for SessionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the session is used, in systemd-logind's words (`loginctl show-session -p Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    Tty,
    X11,
    Wayland,
    Mir,
    Web,
    Unspecified,
}

impl SessionType {
    pub const ALL: [SessionType; 6] = [
        SessionType::Tty,
        SessionType::X11,
        SessionType::Wayland,
        SessionType::Mir,
        SessionType::Web,
        SessionType::Unspecified,
    ];

    /// The type as logind spells it.
    pub fn name(self) -> &'static str {
        match self {
            SessionType::Tty => "tty",
            SessionType::X11 => "x11",
            SessionType::Wayland => "wayland",
            SessionType::Mir => "mir",
            SessionType::Web => "web",
            SessionType::Unspecified => "unspecified",
        }
    }

    /// A type from logind's name, case-insensitive.
    pub fn parse(name: &str) -> Option<SessionType> {
        SessionType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for SessionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a session's fields came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionSource {
    /// systemd-logind (or elogind) over D-Bus, with what only `/proc` knows added.
    Logind,
    /// `/proc` alone (the embedded default: no service needed).
    Proc,
}

impl SessionSource {
    pub fn name(self) -> &'static str {
        match self {
            SessionSource::Logind => "logind",
            SessionSource::Proc => "proc",
        }
    }
}

impl fmt::Display for SessionSource {
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
    /// Send a message (write it to the session's terminals, or show it on its desktop).
    Message,
    /// Looking at a desktop's screen (`Get-WmsSession -Thumbnail`): acting on the session
    /// by SPEC 5's rules, though it changes nothing.
    Thumbnail,
}

impl Verb {
    /// Every verb, in the order the documentation lists them.
    pub const ALL: [Verb; 6] = [
        Verb::Get,
        Verb::Close,
        Verb::Disconnect,
        Verb::Lock,
        Verb::Unlock,
        Verb::Message,
    ];

    /// The MultiPoint cmdlet name, used in what-if lines, prompts and error prefixes.
    pub fn cmdlet(self) -> &'static str {
        match self {
            Verb::Get => "Get-WmsSession",
            Verb::Close => "Close-WmsSession",
            Verb::Disconnect => "Disconnect-WmsSession",
            Verb::Lock => "Lock-WmsSession",
            Verb::Unlock => "Unlock-WmsSession",
            Verb::Message => "Send-WmsMessage",
            Verb::Thumbnail => "Get-WmsSession",
        }
    }

    /// Whether the verb carries a message (Lock's notice, the message sent).
    pub fn takes_message(self) -> bool {
        matches!(self, Verb::Lock | Verb::Message)
    }

    /// Whether the verb changes a session (and so is subject to SPEC 5's rules).
    pub fn changes_state(self) -> bool {
        !matches!(self, Verb::Get)
    }
}

/// A session as Get-WmsSession returns it. Properties that this host cannot know for a
/// session are `None` and left out of the output, never filled with a constant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    pub session_id: SessionId,
    /// Left out when the caller cannot tell (a plain user looking at another user's
    /// session whose connection is gone, without the agent).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<SessionState>,
    pub user_name: String,
    pub domain_name: String,
    pub is_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub station_id: Option<u32>,
    pub computer_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_name: Option<String>,
    /// logind's Class: what kind of session it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<SessionClass>,
    /// logind's Type.
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none", default)]
    pub session_type: Option<SessionType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tty: Option<String>,
    /// The seat of a local session (`seat0`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seat: Option<String>,
    /// The virtual terminal of a session on a seat.
    #[serde(rename = "VTNr", skip_serializing_if = "Option::is_none", default)]
    pub vt_nr: Option<u32>,
    /// The X11 display of a desktop session (`:0`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display: Option<String>,
    /// Whether the login came from another host (logind's rule: a remote host that is not
    /// a name of this one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote: Option<bool>,
    /// The remote host the login came from, as the login service gave it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logon_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idle_seconds: Option<u64>,
    /// Whether the session is idle, as logind (or its terminal's idleness) tells.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idle_hint: Option<bool>,
    pub process_count: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub leader_pid: Option<Pid>,
    /// CPU time (user and system) its live processes have used, in seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_seconds: Option<f64>,
    /// The resident memory of its live processes, in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory_bytes: Option<u64>,
    /// Whether wms has locked the session (Lock-WmsSession).
    #[serde(default)]
    pub is_locked: bool,
    /// The message shown on a locked session.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lock_message: Option<String>,
    /// Whether the session's desktop says its screen is locked (logind's LockedHint).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locked_hint: Option<bool>,
    /// Where the fields came from: `logind` or `proc`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<SessionSource>,
    /// The server name this session was listed through (`--server`), when that was not
    /// this host: piped back into wms, the object goes to the same server.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    /// The PNG file a thumbnail of its screen was written to (`Get-WmsSession
    /// -Thumbnail`), on the machine that ran the command.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub thumbnail: Option<String>,
    /// The session's loginuid; what the authorization rules compare, not shown.
    #[serde(skip)]
    pub uid: Uid,
}

impl Session {
    /// The `(Name, Value)` pairs in display order, for list and table output.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let b = |v: bool| if v { "True" } else { "False" }.to_string();
        let mut p = vec![
            ("SessionId", Some(self.session_id.to_string())),
            ("State", self.state.map(|s| s.to_string())),
            ("UserName", Some(self.user_name.clone())),
            ("DomainName", Some(self.domain_name.clone())),
            ("IsAdmin", Some(b(self.is_admin))),
            ("StationId", self.station_id.map(|s| s.to_string())),
            ("ComputerName", Some(self.computer_name.clone())),
            ("Server", self.server.clone()),
            ("ClientName", self.client_name.clone()),
            ("Class", self.class.map(|c| c.to_string())),
            ("Type", self.session_type.map(|t| t.to_string())),
            ("Tty", self.tty.clone()),
            ("Seat", self.seat.clone()),
            ("VTNr", self.vt_nr.map(|v| v.to_string())),
            ("Display", self.display.clone()),
            ("Remote", self.remote.map(b)),
            ("RemoteHost", self.remote_host.clone()),
            ("Service", self.service.clone()),
            ("LogonTime", self.logon_time.clone()),
            ("IdleSeconds", self.idle_seconds.map(|s| s.to_string())),
            ("IdleHint", self.idle_hint.map(b)),
            ("ProcessCount", Some(self.process_count.to_string())),
            ("LeaderPid", self.leader_pid.map(|l| l.to_string())),
            ("CpuSeconds", self.cpu_seconds.map(|c| format!("{c:.2}"))),
            ("MemoryBytes", self.memory_bytes.map(|m| m.to_string())),
            ("IsLocked", Some(b(self.is_locked))),
            ("LockMessage", self.lock_message.clone()),
            ("LockedHint", self.locked_hint.map(b)),
            ("Source", self.source.map(|s| s.to_string())),
            ("Thumbnail", self.thumbnail.clone()),
        ];
        p.retain(|(_, v)| v.is_some());
        p.into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect()
    }

    /// Whether it is a login (see [`SessionClass::is_login`]); a session whose class is
    /// not known counts as one.
    pub fn is_login(&self) -> bool {
        self.class.is_none_or(SessionClass::is_login)
    }

    /// What an action says about a session that is not a login (`user service manager`),
    /// so that acting on one by ID names what it is.
    pub fn kind_note(&self) -> Option<&'static str> {
        self.class
            .filter(|c| !c.is_login())
            .map(SessionClass::describe)
    }

    /// How targets are named in what-if lines, prompts and messages.
    pub fn target_label(&self) -> String {
        match self.kind_note() {
            Some(kind) => format!(
                "Session {} ({}, {kind}) on {}",
                self.session_id, self.user_name, self.computer_name
            ),
            None => format!(
                "Session {} ({}) on {}",
                self.session_id, self.user_name, self.computer_name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Session {
        Session {
            session_id: SessionId(3),
            state: Some(SessionState::RemoteConnection),
            user_name: "alice".into(),
            domain_name: "example.org".into(),
            station_id: Some(0),
            computer_name: "host1.example.org".into(),
            client_name: Some("10.0.0.5".into()),
            service: Some("sshd".into()),
            process_count: 4,
            leader_pid: Some(Pid(100)),
            uid: Uid(1000),
            ..Default::default()
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
    fn logind_fields_use_its_names_and_spelling() {
        let mut s = sample();
        s.class = Some(SessionClass::LockScreen);
        s.session_type = Some(SessionType::X11);
        s.vt_nr = Some(2);
        s.cpu_seconds = Some(1.5);
        s.memory_bytes = Some(4096);
        s.source = Some(SessionSource::Logind);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Class"], "lock-screen");
        assert_eq!(v["Type"], "x11");
        assert_eq!(v["VTNr"], 2);
        assert_eq!(v["CpuSeconds"], 1.5);
        assert_eq!(v["MemoryBytes"], 4096);
        assert_eq!(v["Source"], "logind");
        let back: Session = serde_json::from_value(v).unwrap();
        // The uid is not shown, so it does not come back.
        assert_eq!(back, Session { uid: Uid(0), ..s });
    }

    #[test]
    fn classes_parse_logind_variants_and_only_logins_are_logins() {
        assert_eq!(SessionClass::parse("user-early"), Some(SessionClass::User));
        assert_eq!(
            SessionClass::parse("manager-early"),
            Some(SessionClass::Manager)
        );
        assert_eq!(
            SessionClass::parse("Background-Light"),
            Some(SessionClass::Background)
        );
        assert_eq!(SessionClass::parse("nonsense"), None);
        let logins: Vec<_> = SessionClass::ALL
            .into_iter()
            .filter(|c| c.is_login())
            .collect();
        assert_eq!(logins, [SessionClass::User, SessionClass::Greeter]);
        let mut s = sample();
        assert!(s.is_login());
        assert_eq!(s.target_label(), "Session 3 (alice) on host1.example.org");
        s.class = Some(SessionClass::Manager);
        assert!(!s.is_login());
        assert_eq!(
            s.target_label(),
            "Session 3 (alice, user service manager) on host1.example.org"
        );
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
