//! The agent's live view of the host: the session table that kernel events keep current
//! ([`wms_host::table`]), the sessions built from it (cached while nothing changes, so a
//! listing costs a copy of bytes), and the publisher that turns its changes into events.

use crate::events::Hub;
use axum::body::Bytes;
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use wms_core::{Session, SessionId};
use wms_host::discover::ssh_client;
use wms_host::process::SessionProcess;
use wms_host::table::LiveTable;
use wms_host::Host;

/// A session's client address as last read, with the processes it was read from: an
/// address never changes for a session, but a session that had none yet (its shell not
/// started) is asked again when its processes change.
type ClientCache = HashMap<SessionId, (u64, Option<String>)>;

/// The listing as JSON, and what it was built from.
struct Listing {
    /// The table's generation and the lock records' stamp.
    shape: (u64, i128),
    /// When it was made (seconds since the epoch).
    second: i64,
    body: Bytes,
}

/// The live view.
pub struct Live {
    pub table: LiveTable,
    pub hub: Arc<Hub>,
    /// Poked when the table or a lock changed: the publisher then publishes.
    pub changed: Arc<Notify>,
    clients: Mutex<ClientCache>,
    built: Mutex<Built>,
    listing: tokio::sync::Mutex<Option<Listing>>,
    /// A listing is being made again in the background.
    refreshing: AtomicBool,
}

/// What the sessions were last built from: the table's generation, the lock records and
/// the user database (a user's name or groups may change while their processes do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BuiltKey {
    generation: u64,
    locks: i128,
    users: [i128; 2],
}

/// The sessions last built, each with the fingerprint of the processes it was built from.
#[derive(Default)]
struct Built {
    key: Option<BuiltKey>,
    sessions: Vec<(u64, Session)>,
}

impl Live {
    /// Starts the table (`event_buffer`: the events socket's receive buffer) and opens
    /// the event journal in `state_dir`.
    pub fn start(state_dir: &Path, event_buffer: usize) -> io::Result<Live> {
        let changed = Arc::new(Notify::new());
        let poke = changed.clone();
        let table = LiveTable::start(event_buffer, move |_| poke.notify_one())?;
        std::fs::create_dir_all(state_dir)?;
        let boot = wms_host::boot_id().unwrap_or_default();
        let hub = Hub::open(Some(&state_dir.join("events.log")), &boot)?;
        Ok(Live {
            table,
            hub: Arc::new(hub),
            changed,
            clients: Mutex::new(HashMap::new()),
            built: Mutex::default(),
            listing: tokio::sync::Mutex::new(None),
            refreshing: AtomicBool::new(false),
        })
    }

    /// The host's sessions as built from the table (blocking: it may read environments
    /// and the user database), without reading again what changes by itself. A session
    /// whose processes, locks and users are as they were at the last call is not built
    /// again, so the work grows with what changed, not with the host.
    fn built(&self, host: &Host) -> Vec<Session> {
        let key = BuiltKey {
            generation: self.table.generation(),
            locks: locks_stamp(&host.config.state_dir),
            users: users_stamp(),
        };
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if built.key != Some(key) {
            let reuse = built
                .key
                .is_some_and(|k| k.locks == key.locks && k.users == key.users);
            let mut old: HashMap<SessionId, (u64, Session)> = std::mem::take(&mut built.sessions)
                .into_iter()
                .filter(|_| reuse)
                .map(|(stamp, s)| (s.session_id, (stamp, s)))
                .collect();
            let mut sessions = Vec::new();
            let mut changed = Vec::new();
            let mut stamps = HashMap::new();
            for t in self.table.sessions() {
                let stamp = fingerprint(&t.processes);
                match old.remove(&t.id) {
                    Some((was, s)) if was == stamp => sessions.push((stamp, s)),
                    _ => {
                        stamps.insert(t.id, stamp);
                        changed.extend(t.processes);
                    }
                }
            }
            if !changed.is_empty() {
                for s in self.build(host, changed) {
                    sessions.push((stamps[&s.session_id], s));
                }
                sessions.sort_by_key(|(_, s)| s.session_id);
            }
            // The client cache holds no session that has gone (it stays as large as the
            // host's sessions, however many come and go).
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            clients.retain(|id, _| {
                sessions
                    .binary_search_by_key(id, |(_, s)| s.session_id)
                    .is_ok()
            });
            *built = Built {
                key: Some(key),
                sessions,
            };
        }
        built.sessions.iter().map(|(_, s)| s.clone()).collect()
    }

    /// The host's sessions now: [`Live::built`], with what changes by itself read again.
    pub fn sessions(&self, host: &Host) -> Vec<Session> {
        let mut all = self.built(host);
        host.refresh(&mut all);
        all
    }

    /// The sessions `keep` takes, built from the table now (for an action, which must
    /// also give the close engine the processes it found).
    pub fn sessions_where(&self, host: &Host, keep: impl Fn(SessionId) -> bool) -> Vec<Session> {
        let procs = self
            .table
            .sessions_where(keep)
            .into_iter()
            .flat_map(|s| s.processes)
            .collect();
        self.build(host, procs)
    }

    /// The sessions of `procs` (from the table), with the client addresses read before
    /// where they can be trusted still.
    fn build(&self, host: &Host, procs: Vec<SessionProcess>) -> Vec<Session> {
        let read: Mutex<Vec<(SessionId, u64, Option<String>)>> = Mutex::new(Vec::new());
        let built = host.sessions_from(procs, &|id, procs| {
            let stamp = fingerprint(procs);
            let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((was, client)) = clients.get(&id) {
                if client.is_some() || *was == stamp {
                    return client.clone();
                }
            }
            drop(clients);
            let client = ssh_client(procs);
            read.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, stamp, client.clone()));
            client
        });
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        for (id, stamp, c) in read.into_inner().unwrap_or_else(|p| p.into_inner()) {
            clients.insert(id, (stamp, c));
        }
        built
    }

    /// `GET /v1/sessions` as JSON, kept for the second it was made in while the table
    /// and the locks stay as they were. When they are the same a second later, that answer
    /// is given once more while what changes by itself (idle time, what the processes
    /// used) is read again in the background, so a request never waits for a refresh of
    /// every session: each answer is at most a second behind in those values, and exact
    /// in which sessions exist and in their processes. Anything older is built first.
    pub async fn listing(self: &Arc<Self>, host: &Host) -> io::Result<Bytes> {
        self.settle().await;
        let shape = (self.table.generation(), locks_stamp(&host.config.state_dir));
        let second = wms_core::time::now_unix();
        let cached = self.listing.lock().await;
        if let Some(l) = cached.as_ref().filter(|l| l.shape == shape) {
            if l.second == second {
                return Ok(l.body.clone());
            }
            if l.second + 1 == second {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let (me, host2) = (self.clone(), host.clone());
                    tokio::spawn(async move {
                        let _ = me.rebuild_listing(&host2, shape, second).await;
                        me.refreshing.store(false, Ordering::Release);
                    });
                }
                return Ok(l.body.clone());
            }
        }
        drop(cached);
        self.rebuild_listing(host, shape, second).await
    }

    /// Builds the listing for `second`, and keeps it unless a newer one was kept meanwhile.
    async fn rebuild_listing(
        self: &Arc<Self>,
        host: &Host,
        shape: (u64, i128),
        second: i64,
    ) -> io::Result<Bytes> {
        let (me, host2) = (self.clone(), host.clone());
        let body = tokio::task::spawn_blocking(move || {
            serde_json::to_vec(&me.sessions(&host2)).map(Bytes::from)
        })
        .await
        .map_err(io::Error::other)??;
        let mut cached = self.listing.lock().await;
        if cached
            .as_ref()
            .is_none_or(|l| (l.shape, l.second) != (shape, second) && l.second <= second)
        {
            *cached = Some(Listing {
                shape,
                second,
                body: body.clone(),
            });
        }
        Ok(body)
    }

    /// Publishes what changed, each time the table (or a lock) changes, until the agent
    /// stops. Changes that come while it publishes are taken together next time.
    pub async fn publish(self: Arc<Self>, host: Host, on_event: impl Fn(usize)) {
        loop {
            let (me, host2) = (self.clone(), host.clone());
            let published = tokio::task::spawn_blocking(move || {
                // What an event says of a session is how it was built: which sessions
                // exist and their state, not what changes by itself. An RDP client comes
                // and goes without a process event in its session: that state is read
                // again here, and looked at each second while there is such a desktop.
                let mut sessions = me.built(&host2);
                host2.refresh_connections(&mut sessions);
                let desktops = sessions.iter().any(Host::is_remote_desktop);
                (me.hub.update(sessions), desktops)
            })
            .await;
            let desktops = match published {
                Ok((Ok(n), d)) => {
                    on_event(n);
                    d
                }
                Ok((Err(e), d)) => {
                    tracing::error!(error = %e, "cannot journal session events");
                    d
                }
                Err(e) => {
                    tracing::error!(error = %e, "publishing events panicked");
                    false
                }
            };
            if desktops {
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    self.changed.notified(),
                )
                .await;
            } else {
                self.changed.notified().await;
            }
        }
    }
}

impl Live {
    /// Waits (a moment at most) until the table has applied every process event sent
    /// before now, so an answer includes the sessions that existed when it was asked for.
    pub async fn settle(&self) {
        let asked = std::time::Instant::now();
        while !self.table.settled_since(asked) && asked.elapsed() < SETTLE_AT_MOST {
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    }

    /// [`Live::settle`] for a caller off the runtime (an action's thread).
    pub fn settle_blocking(&self) {
        let asked = std::time::Instant::now();
        while !self.table.settled_since(asked) && asked.elapsed() < SETTLE_AT_MOST {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// The longest a reader waits for the table to catch up with a burst of events; past it,
/// the answer is what the table holds (and an action falls back to scanning /proc for a
/// session the table does not know yet).
const SETTLE_AT_MOST: std::time::Duration = std::time::Duration::from_millis(250);

/// Which processes a session had, running what, in one number: everything of them that a
/// session is built from.
fn fingerprint(procs: &[SessionProcess]) -> u64 {
    use std::hash::{Hash, Hasher};
    // The program each runs counts too: a forked sshd that execs the user's shell keeps
    // its PID but only then carries the client's address in its environment. The parent
    // (which process leads) and the terminal count as well.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in procs {
        let st = &p.stat;
        (st.pid.0, st.start_time, &st.comm, p.env_range).hash(&mut h);
        (st.ppid.0, st.tty_nr, p.login_uid).hash(&mut h);
    }
    h.finish()
}

/// When the user database last changed (the modification times of `/etc/passwd` and
/// `/etc/group`, which every change of a user or group replaces or rewrites).
fn users_stamp() -> [i128; 2] {
    ["/etc/passwd", "/etc/group"].map(|f| mtime(Path::new(f)))
}

fn mtime(path: &Path) -> i128 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

/// When the lock records last changed: the modification time of their directory, which
/// every lock and unlock changes (records are renamed in and removed).
fn locks_stamp(state_dir: &Path) -> i128 {
    mtime(&state_dir.join("locks"))
}
