//! systemd-logind (or elogind) as a source of sessions: its session records read over
//! D-Bus (`org.freedesktop.login1`), for the hosts where it runs. wms acts on sessions
//! through the kernel (see `close`); the one thing it asks of logind is Lock and Unlock
//! ([`lock`]), which logind passes on to whatever listens on the session's desktop.
//!
//! logind names a session by its audit session ID when it has one (`Audit`), which is how
//! its records are matched with the sessions found in `/proc`.

use std::path::Path;
use zbus::zvariant::{as_value, OwnedObjectPath, Type};

const DEST: &str = "org.freedesktop.login1";
const MANAGER_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
const SESSION: &str = "org.freedesktop.login1.Session";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// The most calls awaiting logind's replies at once: well under the bus's limit per
/// connection, and enough that logind always has the next one to answer.
const IN_FLIGHT: usize = 64;
/// Where the system bus listens unless `DBUS_SYSTEM_BUS_ADDRESS` says otherwise.
const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// Why logind's sessions could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogindError {
    #[error("no system bus runs here ({SYSTEM_BUS_SOCKET} does not exist)")]
    NoBus,
    #[error("logind is not running (nothing owns {DEST} on the system bus)")]
    NotRunning,
    #[error("cannot reach systemd-logind over D-Bus: {0}")]
    Bus(#[from] zbus::Error),
    #[error("systemd-logind gave an answer wms does not understand: {0}")]
    Reply(String),
    #[error("the D-Bus client thread could not be run: {0}")]
    Thread(std::io::Error),
}

/// One of logind's sessions, as `loginctl show-session` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogindSession {
    /// logind's session ID (the audit session ID as text, or `c1`, ... without one).
    pub id: String,
    /// The audit session ID, when the session has one.
    pub audit: Option<u32>,
    pub uid: u32,
    pub name: String,
    /// When the session was registered (the login completed), in microseconds since the
    /// Unix epoch.
    pub timestamp_us: u64,
    /// The PID of the session's leader, in logind's PID namespace; 0 for none.
    pub leader: u32,
    pub class: String,
    pub session_type: String,
    pub seat: String,
    pub vt_nr: u32,
    pub tty: String,
    pub display: String,
    pub remote: bool,
    pub remote_host: String,
    pub service: String,
    pub state: String,
    pub idle_hint: bool,
    pub locked_hint: bool,
}

/// Every session logind knows. Fails quickly when there is no system bus.
///
/// The D-Bus client runs its own small runtime, which must not be started on a thread of
/// another (the agent and the CLI run tokio): the query runs on a thread of its own.
pub fn sessions() -> Result<Vec<LogindSession>, LogindError> {
    sessions_but(&|_| false).map(|(_, read)| read)
}

/// The IDs of every session logind knows, and the records of those `known` does not take
/// (a caller that keeps records asks only for the new ones).
pub fn sessions_but(
    known: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(Vec<String>, Vec<LogindSession>), LogindError> {
    if std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_none()
        && !Path::new(SYSTEM_BUS_SOCKET).exists()
    {
        return Err(LogindError::NoBus);
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("wms-logind".into())
            .spawn_scoped(s, || query(known))
            .map_err(LogindError::Thread)?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn query(
    known: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(Vec<String>, Vec<LogindSession>), LogindError> {
    // A runtime of this thread alone: the connection's reader and every call run on it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(LogindError::Thread)?;
    rt.block_on(query_async(known))
}

/// A GetAll's answer, with the place of its session in logind's list.
type Answer = (usize, Result<Option<LogindSession>, LogindError>);

/// ListSessions, then one GetAll per session not `known`, all sent at once over the one
/// connection and their replies taken as they come: logind answers them back to back, and
/// no round trip waits for another (one after the other, 250 sessions took 250 round
/// trips; from a few threads, as many as the threads allowed).
async fn query_async(
    known: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(Vec<String>, Vec<LogindSession>), LogindError> {
    let conn = zbus::Connection::system().await?;
    let reply = conn
        .call_method(Some(DEST), MANAGER_PATH, Some(MANAGER), "ListSessions", &())
        .await?;
    let list: Vec<(String, u32, String, String, OwnedObjectPath)> = reply
        .body()
        .deserialize()
        .map_err(|e| LogindError::Reply(format!("ListSessions: {e}")))?;
    let ids: Vec<String> = list.iter().map(|(id, ..)| id.clone()).collect();
    let mut calls = tokio::task::JoinSet::new();
    let mut read = Vec::new();
    let mut take = |done: Option<Result<Answer, tokio::task::JoinError>>| {
        let Some(done) = done else { return Ok(()) };
        let (n, session) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if let Some(session) = session? {
            read.push((n, session));
        }
        Ok::<(), LogindError>(())
    };
    for (n, (id, _, _, _, path)) in list.into_iter().filter(|(id, ..)| !known(id)).enumerate() {
        // The bus refuses a connection more than a set number of calls awaiting replies
        // (dbus-daemon's max_replies_per_connection, 128 on Debian's system bus).
        if calls.len() >= IN_FLIGHT {
            take(calls.join_next().await)?;
        }
        let conn = conn.clone();
        calls.spawn(async move { (n, properties(&conn, &id, &path).await) });
    }
    while !calls.is_empty() {
        take(calls.join_next().await)?;
    }
    // In logind's order, as ListSessions gave them.
    read.sort_unstable_by_key(|(n, _)| *n);
    Ok((ids, read.into_iter().map(|(_, s)| s).collect()))
}

/// The properties of session `id` at `path`; `None` when it ended meanwhile.
async fn properties(
    conn: &zbus::Connection,
    id: &str,
    path: &OwnedObjectPath,
) -> Result<Option<LogindSession>, LogindError> {
    let reply = match conn
        .call_method(
            Some(DEST),
            path.as_str(),
            Some(PROPERTIES),
            "GetAll",
            &(SESSION,),
        )
        .await
    {
        Ok(r) => r,
        // A session that ended between the two calls is simply not listed.
        Err(zbus::Error::MethodError(name, _, _)) if name.contains("UnknownObject") => {
            return Ok(None)
        }
        Err(e) => return Err(e.into()),
    };
    let props: Properties = reply
        .body()
        .deserialize()
        .map_err(|e| LogindError::Reply(format!("session {id}: {e}")))?;
    Ok(Some(from_properties(id, props)))
}

/// The properties of a session that wms reads, decoded straight from GetAll's `a{sv}`
/// (the others are skipped, never built into values): what is missing is left empty.
#[derive(Debug, Default, serde::Deserialize, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
#[serde(default, rename_all = "PascalCase")]
struct Properties {
    #[serde(with = "as_value")]
    audit: u32,
    /// (uid, object path)
    #[serde(with = "as_value::optional")]
    user: Option<(u32, OwnedObjectPath)>,
    #[serde(with = "as_value")]
    name: String,
    #[serde(with = "as_value")]
    timestamp: u64,
    #[serde(with = "as_value")]
    leader: u32,
    #[serde(with = "as_value")]
    class: String,
    #[serde(with = "as_value")]
    r#type: String,
    /// (name, object path)
    #[serde(with = "as_value::optional")]
    seat: Option<(String, OwnedObjectPath)>,
    #[serde(rename = "VTNr", with = "as_value")]
    vt_nr: u32,
    #[serde(rename = "TTY", with = "as_value")]
    tty: String,
    #[serde(with = "as_value")]
    display: String,
    #[serde(with = "as_value")]
    remote: bool,
    #[serde(with = "as_value")]
    remote_host: String,
    #[serde(with = "as_value")]
    service: String,
    #[serde(with = "as_value")]
    state: String,
    #[serde(with = "as_value")]
    idle_hint: bool,
    #[serde(with = "as_value")]
    locked_hint: bool,
}

/// A session from its D-Bus properties.
fn from_properties(id: &str, p: Properties) -> LogindSession {
    LogindSession {
        id: id.to_string(),
        audit: (p.audit != 0).then_some(p.audit),
        uid: p.user.map_or(u32::MAX, |(uid, _)| uid),
        name: p.name,
        timestamp_us: p.timestamp,
        leader: p.leader,
        class: p.class,
        session_type: p.r#type,
        seat: p.seat.map(|(name, _)| name).unwrap_or_default(),
        vt_nr: p.vt_nr,
        tty: p.tty,
        display: p.display,
        remote: p.remote,
        remote_host: p.remote_host,
        service: p.service,
        state: p.state,
        idle_hint: p.idle_hint,
        locked_hint: p.locked_hint,
    }
}

/// What became of a Lock or Unlock asked of logind ([`lock`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// The session's LockedHint turned to what was asked.
    Confirmed,
    /// logind passed it on, and LockedHint did not follow within the wait.
    Unconfirmed,
    /// logind does not manage session `id`, or manages it for another user.
    NotManaged,
}

/// Asks logind to lock (`lock`) or unlock session `id` of user `uid` (Session.Lock or
/// Unlock on its object), then waits up to `wait` for its LockedHint to follow: logind
/// only signals the session, and a screen locker listening there sets the hint.
pub fn lock(
    id: u32,
    uid: u32,
    lock: bool,
    wait: std::time::Duration,
) -> Result<Asked, LogindError> {
    if std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_none()
        && !Path::new(SYSTEM_BUS_SOCKET).exists()
    {
        return Err(LogindError::NoBus);
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("wms-logind".into())
            .spawn_scoped(s, || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                    .map_err(LogindError::Thread)?
                    .block_on(lock_async(id, uid, lock, wait))
            })
            .map_err(LogindError::Thread)?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

async fn lock_async(
    id: u32,
    uid: u32,
    lock: bool,
    wait: std::time::Duration,
) -> Result<Asked, LogindError> {
    let conn = zbus::Connection::system().await?;
    let Some(path) = find(&conn, id, uid).await? else {
        return Ok(Asked::NotManaged);
    };
    let name = id.to_string();
    let method = if lock { "Lock" } else { "Unlock" };
    conn.call_method(Some(DEST), path.as_str(), Some(SESSION), method, &())
        .await?;
    let end = tokio::time::Instant::now() + wait;
    loop {
        match properties(&conn, &name, &path).await? {
            Some(s) if s.locked_hint == lock => return Ok(Asked::Confirmed),
            Some(_) => {}
            None => return Ok(Asked::NotManaged),
        }
        if tokio::time::Instant::now() >= end {
            return Ok(Asked::Unconfirmed);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether logind manages session `id` of user `uid`; `false` too when it does not run.
pub fn manages(id: u32, uid: u32) -> bool {
    if std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_none()
        && !Path::new(SYSTEM_BUS_SOCKET).exists()
    {
        return false;
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("wms-logind".into())
            .spawn_scoped(s, || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let conn = zbus::Connection::system().await.ok()?;
                    find(&conn, id, uid).await.ok()?
                })
            })
            .ok()?
            .join()
            .ok()?
    })
    .is_some()
}

/// The object of logind's session `id` of user `uid`, when logind manages it: logind names
/// a session with an audit ID by that ID, and its Audit and User must be the same login's.
async fn find(
    conn: &zbus::Connection,
    id: u32,
    uid: u32,
) -> Result<Option<OwnedObjectPath>, LogindError> {
    let name = id.to_string();
    let path: OwnedObjectPath = match conn
        .call_method(
            Some(DEST),
            MANAGER_PATH,
            Some(MANAGER),
            "GetSession",
            &(&name,),
        )
        .await
    {
        Ok(r) => r
            .body()
            .deserialize()
            .map_err(|e| LogindError::Reply(format!("GetSession: {e}")))?,
        Err(zbus::Error::MethodError(err, _, _)) if err.contains("NoSuchSession") => {
            return Ok(None)
        }
        Err(zbus::Error::MethodError(err, _, _))
            if err.contains("ServiceUnknown") || err.contains("NameHasNoOwner") =>
        {
            return Err(LogindError::NotRunning)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(properties(conn, &name, &path)
        .await?
        .filter(|s| s.audit == Some(id) && s.uid == uid)
        .map(|_| path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use zbus::zvariant::serialized::Context;
    use zbus::zvariant::{ObjectPath, Value, LE};

    #[test]
    fn properties_of_a_session_read_as_loginctl_shows_them() {
        let mut p: HashMap<&str, Value<'_>> = HashMap::new();
        p.insert("Audit", Value::U32(7));
        p.insert("Name", Value::from("alice"));
        p.insert("Timestamp", Value::U64(1_700_000_000_123_456));
        p.insert("Leader", Value::U32(640));
        p.insert("Class", Value::from("user"));
        p.insert("Type", Value::from("tty"));
        p.insert("VTNr", Value::U32(0));
        p.insert("Remote", Value::Bool(true));
        p.insert("RemoteHost", Value::from("10.0.0.5"));
        p.insert("Service", Value::from("sshd"));
        // Properties wms does not read are skipped, whatever their type.
        p.insert("Scope", Value::from("session-7.scope"));
        p.insert("IdleSinceHint", Value::U64(5));
        p.insert(
            "User",
            Value::from((
                1000u32,
                ObjectPath::try_from("/org/freedesktop/login1/user/_1000").unwrap(),
            )),
        );
        p.insert(
            "Seat",
            Value::from((
                "seat0",
                ObjectPath::try_from("/org/freedesktop/login1/seat/seat0").unwrap(),
            )),
        );
        // As GetAll's reply carries them: an a{sv} in D-Bus encoding.
        let bytes = zbus::zvariant::to_bytes(Context::new_dbus(LE, 0), &p).unwrap();
        let (props, _): (Properties, _) = bytes.deserialize().unwrap();
        let s = from_properties("7", props);
        assert_eq!(s.audit, Some(7));
        assert_eq!(s.uid, 1000);
        assert_eq!(s.name, "alice");
        assert_eq!(s.timestamp_us, 1_700_000_000_123_456);
        assert_eq!(s.leader, 640);
        assert_eq!((s.class.as_str(), s.session_type.as_str()), ("user", "tty"));
        assert_eq!(s.seat, "seat0");
        assert!(s.remote);
        assert_eq!(s.remote_host, "10.0.0.5");
        assert_eq!(s.service, "sshd");
        // What is missing is empty, not invented.
        assert_eq!(s.display, "");
        assert!(!s.idle_hint);
    }
}
