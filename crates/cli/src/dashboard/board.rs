//! What the dashboard shows: every chosen server's sessions, kept current by one feed per
//! server, and the messages that tell the open pages what changed.
//!
//! A page gets one `snapshot` of everything when it connects, then `server` (one server's
//! whole group: after a listing, or when it becomes reachable or not), `tile` (one
//! session new or changed) and `gone` (one session ended). Each tile is the session object
//! as `wms session list -o json` prints it, with `Allowed`: the actions the server's rules
//! (SPEC 5) let this dashboard's caller take there. While a server cannot be reached its
//! tiles are kept as last seen, and nothing is allowed on them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;
use wms_core::api::CallerInfo;
use wms_core::authz::TargetFacts;
use wms_core::{Decision, Session, SessionId, Verb};

/// How many messages a page may fall behind before it is sent a new snapshot instead.
const BACKLOG: usize = 4096;

/// The actions a tile can offer, by the names the page uses.
const ACTIONS: [(Verb, &str); 6] = [
    (Verb::Close, "close"),
    (Verb::Disconnect, "disconnect"),
    (Verb::Lock, "lock"),
    (Verb::Unlock, "unlock"),
    (Verb::Message, "message"),
    (Verb::Thumbnail, "thumbnail"),
];

/// Whether a server's sessions can be seen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not listed yet.
    Connecting,
    Ok,
    /// Cannot be reached or refuses; the reason, for the group's heading.
    Error(String),
}

struct ServerState {
    name: String,
    status: Status,
    /// Who the server takes the dashboard to be; unknown allows nothing.
    caller: Option<CallerInfo>,
    sessions: BTreeMap<SessionId, Session>,
}

/// One message to the pages, ready to send as a Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Message {
    pub event: &'static str,
    pub data: Arc<str>,
}

pub struct Board {
    servers: Mutex<Vec<ServerState>>,
    /// Told when an action was taken on the server (for a feed that reads by itself).
    actions: Vec<tokio::sync::Notify>,
    tx: broadcast::Sender<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Group<'a> {
    name: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    tiles: Vec<Tile<'a>>,
}

#[derive(Serialize)]
struct Tile<'a> {
    #[serde(flatten)]
    session: &'a Session,
    #[serde(rename = "Allowed")]
    allowed: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TileChange<'a> {
    server: &'a str,
    tile: Tile<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Gone<'a> {
    server: &'a str,
    session_id: SessionId,
}

impl Board {
    pub fn new(names: &[String]) -> Arc<Board> {
        let servers = names
            .iter()
            .map(|name| ServerState {
                name: name.clone(),
                status: Status::Connecting,
                caller: None,
                sessions: BTreeMap::new(),
            })
            .collect();
        Arc::new(Board {
            actions: names.iter().map(|_| tokio::sync::Notify::new()).collect(),
            servers: Mutex::new(servers),
            tx: broadcast::channel(BACKLOG).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<ServerState>> {
        self.servers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An action was taken on server `index`.
    pub fn act(&self, index: usize) {
        self.actions[index].notify_one();
    }

    /// Waits for an action on server `index`.
    pub async fn acted(&self, index: usize) {
        self.actions[index].notified().await
    }

    /// The server's index by its name, if it is one of the board's.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.lock().iter().position(|s| s.name == name)
    }

    /// A snapshot of everything, and the messages that follow it: taken together, so a
    /// page misses nothing between the two.
    pub fn subscribe(&self) -> (Message, broadcast::Receiver<Message>) {
        let servers = self.lock();
        let rx = self.tx.subscribe();
        let groups: Vec<Group> = servers.iter().map(group).collect();
        let data = serde_json::json!({ "servers": groups }).to_string();
        (
            Message {
                event: "snapshot",
                data: data.into(),
            },
            rx,
        )
    }

    fn send(&self, event: &'static str, data: String) {
        // No page open is not an error.
        let _ = self.tx.send(Message {
            event,
            data: data.into(),
        });
    }

    /// Changes server `index`'s group by `change`, and sends the whole group to the pages
    /// if `change` says it changed anything.
    fn change_group(&self, index: usize, change: impl FnOnce(&mut ServerState) -> bool) {
        let mut servers = self.lock();
        let s = &mut servers[index];
        if !change(s) {
            return;
        }
        let data = serde_json::to_string(&group(s)).unwrap_or_default();
        drop(servers);
        self.send("server", data);
    }

    /// The server's whole list, as just read, and who it takes the dashboard to be.
    pub fn replace(&self, index: usize, caller: Option<CallerInfo>, sessions: Vec<Session>) {
        self.change_group(index, |s| {
            s.status = Status::Ok;
            s.caller = caller;
            s.sessions = sessions
                .into_iter()
                .filter(Session::is_login)
                .map(|x| (x.session_id, x))
                .collect();
            true
        });
    }

    /// The server can be seen again (its event stream resumed where it left off).
    pub fn reachable(&self, index: usize, caller: Option<CallerInfo>) {
        self.change_group(index, |s| {
            let changed = s.status != Status::Ok || s.caller != caller;
            s.status = Status::Ok;
            s.caller = caller;
            changed
        });
    }

    /// The server cannot be seen, and why. Its tiles stay as last seen.
    pub fn unreachable(&self, index: usize, why: String) {
        self.change_group(index, |s| {
            let why = Status::Error(why);
            let changed = s.status != why;
            s.status = why;
            changed
        });
    }

    /// A session new or changed (an agent's event, or a new listing here).
    pub fn upsert(&self, index: usize, session: Session) {
        if !session.is_login() {
            return;
        }
        let mut servers = self.lock();
        let s = &mut servers[index];
        if s.sessions.get(&session.session_id) == Some(&session) {
            return;
        }
        let id = session.session_id;
        s.sessions.insert(id, session);
        let data = serde_json::to_string(&TileChange {
            server: &s.name,
            tile: tile(s, &s.sessions[&id]),
        })
        .unwrap_or_default();
        drop(servers);
        self.send("tile", data);
    }

    /// The idle times of `listed`, for the sessions the board holds (a listing that may be
    /// newer or older than the events around it adds and removes nothing).
    pub fn refresh_idle(&self, index: usize, listed: &[Session]) {
        let mut servers = self.lock();
        let s = &mut servers[index];
        let mut changed = Vec::new();
        for l in listed {
            if let Some(x) = s.sessions.get_mut(&l.session_id) {
                if (x.idle_seconds, x.idle_hint) != (l.idle_seconds, l.idle_hint) {
                    (x.idle_seconds, x.idle_hint) = (l.idle_seconds, l.idle_hint);
                    changed.push(l.session_id);
                }
            }
        }
        let messages: Vec<String> = changed
            .iter()
            .map(|id| {
                serde_json::to_string(&TileChange {
                    server: &s.name,
                    tile: tile(s, &s.sessions[id]),
                })
                .unwrap_or_default()
            })
            .collect();
        drop(servers);
        for m in messages {
            self.send("tile", m);
        }
    }

    /// A session ended.
    pub fn remove(&self, index: usize, id: SessionId) {
        let mut servers = self.lock();
        let s = &mut servers[index];
        if s.sessions.remove(&id).is_none() {
            return;
        }
        let data = serde_json::to_string(&Gone {
            server: &s.name,
            session_id: id,
        })
        .unwrap_or_default();
        drop(servers);
        self.send("gone", data);
    }

    /// The session's list as the board holds it (for a server listed by polling, to
    /// tell what changed).
    pub fn session_ids(&self, index: usize) -> Vec<SessionId> {
        self.lock()[index].sessions.keys().copied().collect()
    }

    /// Whether `verb` is allowed on session `id` of the server now.
    pub fn allows(&self, index: usize, id: SessionId, verb: Verb) -> bool {
        let servers = self.lock();
        let s = &servers[index];
        s.sessions
            .get(&id)
            .is_some_and(|x| allowed(s, x).contains(&name_of(verb)))
    }
}

fn name_of(verb: Verb) -> &'static str {
    ACTIONS
        .iter()
        .find(|(v, _)| *v == verb)
        .map(|(_, n)| *n)
        .unwrap_or("")
}

fn group(s: &ServerState) -> Group<'_> {
    let (status, error) = match &s.status {
        Status::Connecting => ("connecting", None),
        Status::Ok => ("ok", None),
        Status::Error(e) => ("error", Some(e.as_str())),
    };
    Group {
        name: &s.name,
        status,
        error,
        tiles: s.sessions.values().map(|x| tile(s, x)).collect(),
    }
}

fn tile<'a>(s: &ServerState, session: &'a Session) -> Tile<'a> {
    Tile {
        session,
        allowed: allowed(s, session),
    }
}

/// What the server's rules let the dashboard's caller do to `session`: nothing while the
/// server cannot be reached or its caller is unknown (deny by default).
fn allowed(s: &ServerState, session: &Session) -> Vec<&'static str> {
    let Some(caller) = s.caller.as_ref().filter(|_| s.status == Status::Ok) else {
        return Vec::new();
    };
    let facts = TargetFacts {
        session_id: session.session_id,
        uid: session.uid,
        is_admin: session.is_admin,
    };
    ACTIONS
        .iter()
        .filter(|(verb, _)| caller.authorize(*verb, &facts) == Decision::Allow)
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wms_core::{Role, Uid};

    fn session(id: u32, uid: u32, admin: bool) -> Session {
        Session {
            session_id: SessionId(id),
            user_name: format!("u{uid}"),
            uid: Uid(uid),
            is_admin: admin,
            ..Default::default()
        }
    }

    fn operator() -> CallerInfo {
        CallerInfo::of_user(&wms_core::Caller {
            uid: Uid(0),
            role: Role::Operator,
            own_session: Some(SessionId(9)),
        })
    }

    fn next(rx: &mut broadcast::Receiver<Message>) -> (String, serde_json::Value) {
        let m = rx.try_recv().expect("a message");
        (m.event.to_string(), serde_json::from_str(&m.data).unwrap())
    }

    #[test]
    fn a_page_gets_a_snapshot_then_each_change() {
        let board = Board::new(&["a".into(), "b".into()]);
        let (snap, mut rx) = board.subscribe();
        let snap: serde_json::Value = serde_json::from_str(&snap.data).unwrap();
        assert_eq!(snap["servers"][1]["status"], "connecting");
        board.replace(0, Some(operator()), vec![session(3, 1000, false)]);
        let (event, group) = next(&mut rx);
        assert_eq!(event, "server");
        assert_eq!(group["tiles"][0]["SessionId"], 3);
        board.upsert(0, session(4, 1001, true));
        let (event, change) = next(&mut rx);
        assert_eq!((event.as_str(), &change["server"]), ("tile", &"a".into()));
        // Unchanged: nothing sent.
        board.upsert(0, session(4, 1001, true));
        board.remove(0, SessionId(4));
        assert_eq!(next(&mut rx).0, "gone");
        board.remove(0, SessionId(4));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn tiles_allow_what_the_servers_rules_allow_and_nothing_unreachable() {
        let board = Board::new(&["a".into()]);
        board.replace(
            0,
            Some(operator()),
            vec![
                session(3, 1000, false),
                session(4, 1001, true),
                session(9, 0, false),
            ],
        );
        assert!(board.allows(0, SessionId(3), Verb::Lock));
        // An administrator's session is not an operator's to touch.
        assert!(!board.allows(0, SessionId(4), Verb::Close));
        // The session the dashboard runs in may be unlocked and messaged, not closed.
        assert!(!board.allows(0, SessionId(9), Verb::Close));
        assert!(board.allows(0, SessionId(9), Verb::Unlock));
        board.unreachable(0, "connection refused".into());
        assert!(!board.allows(0, SessionId(3), Verb::Lock));
        let (snap, _) = board.subscribe();
        let snap: serde_json::Value = serde_json::from_str(&snap.data).unwrap();
        assert_eq!(snap["servers"][0]["error"], "connection refused");
        assert_eq!(
            snap["servers"][0]["tiles"][0]["Allowed"],
            serde_json::json!([])
        );
        // No caller known: nothing allowed.
        board.replace(0, None, vec![session(3, 1000, false)]);
        assert!(!board.allows(0, SessionId(3), Verb::Lock));
    }

    #[test]
    fn idle_times_are_refreshed_and_nothing_else() {
        let board = Board::new(&["a".into()]);
        board.replace(0, Some(operator()), vec![session(3, 1000, false)]);
        let (_, mut rx) = board.subscribe();
        let mut later = session(3, 1000, false);
        later.idle_seconds = Some(120);
        later.user_name = "changed".into();
        board.refresh_idle(0, &[later, session(4, 1000, false)]);
        let (event, change) = next(&mut rx);
        assert_eq!(event, "tile");
        assert_eq!(change["tile"]["IdleSeconds"], 120);
        assert_eq!(change["tile"]["UserName"], "u1000");
        assert_eq!(board.session_ids(0), [SessionId(3)]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn sessions_that_are_not_logins_are_not_tiles() {
        let board = Board::new(&["a".into()]);
        let mut manager = session(5, 1000, false);
        manager.class = Some(wms_core::SessionClass::Manager);
        board.replace(0, Some(operator()), vec![manager.clone()]);
        board.upsert(0, manager);
        assert!(board.session_ids(0).is_empty());
    }
}
