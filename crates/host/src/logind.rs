//! systemd-logind (or elogind) as a source of sessions: its session records read over
//! D-Bus (`org.freedesktop.login1`), for the hosts where it runs. Only reading: wms acts on
//! sessions through the kernel (see `close`), never through logind.
//!
//! logind names a session by its audit session ID when it has one (`Audit`), which is how
//! its records are matched with the sessions found in `/proc`.

use std::collections::HashMap;
use std::path::Path;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Structure, Value};

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
    let props: HashMap<String, OwnedValue> = reply
        .body()
        .deserialize()
        .map_err(|e| LogindError::Reply(format!("session {id}: {e}")))?;
    Ok(Some(from_properties(id, &props)))
}

/// A session from its D-Bus properties; what is missing or of another type is left empty.
fn from_properties(id: &str, p: &HashMap<String, OwnedValue>) -> LogindSession {
    let text = |k: &str| {
        p.get(k)
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            .unwrap_or_default()
    };
    let num = |k: &str| p.get(k).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let flag = |k: &str| {
        p.get(k)
            .and_then(|v| bool::try_from(v).ok())
            .unwrap_or(false)
    };
    // `User` is (uid, path) and `Seat` is (name, path): the first field of a structure.
    let first_of = |k: &str| -> Option<Value<'static>> {
        let s: Structure = p.get(k)?.try_clone().ok()?.try_into().ok()?;
        s.fields().first()?.try_to_owned().ok().map(Value::from)
    };
    let audit = num("Audit");
    LogindSession {
        id: id.to_string(),
        audit: (audit != 0).then_some(audit),
        uid: first_of("User")
            .and_then(|v| u32::try_from(&v).ok())
            .unwrap_or(u32::MAX),
        name: text("Name"),
        timestamp_us: p
            .get("Timestamp")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
        leader: num("Leader"),
        class: text("Class"),
        session_type: text("Type"),
        seat: first_of("Seat")
            .and_then(|v| <&str>::try_from(&v).ok().map(str::to_string))
            .unwrap_or_default(),
        vt_nr: num("VTNr"),
        tty: text("TTY"),
        display: text("Display"),
        remote: flag("Remote"),
        remote_host: text("RemoteHost"),
        service: text("Service"),
        state: text("State"),
        idle_hint: flag("IdleHint"),
        locked_hint: flag("LockedHint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::ObjectPath;

    #[test]
    fn properties_of_a_session_read_as_loginctl_shows_them() {
        let mut p: HashMap<String, OwnedValue> = HashMap::new();
        let mut put = |k: &str, v: Value<'static>| {
            p.insert(k.into(), OwnedValue::try_from(v).unwrap());
        };
        put("Audit", Value::U32(7));
        put("Name", Value::from("alice"));
        put("Timestamp", Value::U64(1_700_000_000_123_456));
        put("Leader", Value::U32(640));
        put("Class", Value::from("user"));
        put("Type", Value::from("tty"));
        put("VTNr", Value::U32(0));
        put("Remote", Value::Bool(true));
        put("RemoteHost", Value::from("10.0.0.5"));
        put("Service", Value::from("sshd"));
        put(
            "User",
            Value::from((
                1000u32,
                ObjectPath::try_from("/org/freedesktop/login1/user/_1000").unwrap(),
            )),
        );
        put(
            "Seat",
            Value::from((
                "seat0",
                ObjectPath::try_from("/org/freedesktop/login1/seat/seat0").unwrap(),
            )),
        );
        let s = from_properties("7", &p);
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
