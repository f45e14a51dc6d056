//! Session events: what changed between two views of the host's sessions (SessionNew,
//! SessionRemoved, StateChanged, Locked, Unlocked), each with the session object and an
//! event ID that only grows, served as Server-Sent Events on `GET /v1/events`.
//!
//! Events are written to a journal in the state directory before they are sent, so a
//! client that reconnects with `Last-Event-ID` gets exactly what it missed, even across a
//! restart of the agent: the journal holds the last view the agent published, and what
//! changed while it was down is published, with the next IDs, when it starts again. The
//! journal is bounded: past [`JOURNAL_EVENTS`] events it is rewritten as one snapshot of
//! the sessions followed by the last [`RING`] events. A client further behind than that is
//! told to list afresh (a `Resync` event) rather than given a silent gap.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use wms_core::{Session, SessionId};

/// How many recent events are kept in memory for clients that resume.
pub const RING: usize = 4096;
/// How many events the journal may hold after its snapshot before it is rewritten.
pub const JOURNAL_EVENTS: usize = 2 * RING;

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    SessionNew,
    SessionRemoved,
    StateChanged,
    Locked,
    Unlocked,
}

/// One event, as sent and as journalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionEvent {
    pub event_id: u64,
    #[serde(rename = "Type")]
    pub kind: EventType,
    pub time: String,
    pub session: Session,
}

impl SessionEvent {
    /// The event as one Server-Sent Events message.
    pub fn sse(&self) -> String {
        let data = serde_json::to_string(self).unwrap_or_default();
        format!(
            "id: {}\nevent: {:?}\ndata: {data}\n\n",
            self.event_id, self.kind
        )
    }
}

/// Whether `now` is in another state than `old`, or has become another kind of session
/// (a desktop started in it, or ended: its Type and Display), or has another client
/// (an RDP client came or went): a StateChanged carries the session as it is now.
fn changed_state(old: &Session, now: &Session) -> bool {
    (old.state, old.session_type, &old.display, &old.client_name)
        != (now.state, now.session_type, &now.display, &now.client_name)
}

/// A journal line: the snapshot that starts it, or an event.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
enum Line {
    Snapshot {
        /// The boot the sessions were of: session IDs mean nothing under another.
        boot_id: String,
        /// The ID of the last event before the snapshot.
        last_event_id: u64,
        sessions: Vec<Session>,
    },
    Event(Box<SessionEvent>),
}

/// What a client resuming after an event ID gets.
pub enum Resume {
    /// The events it missed (maybe none), in order.
    Events(Vec<Arc<SessionEvent>>),
    /// Too far behind (or an ID this agent never gave): it must list afresh.
    Resync,
}

struct Inner {
    last_id: u64,
    ring: VecDeque<Arc<SessionEvent>>,
    /// The view the last events describe.
    known: BTreeMap<SessionId, Session>,
    journal: Option<Journal>,
    boot_id: String,
    /// The known view is of an earlier boot: all of it has ended, and session IDs now
    /// name other sessions.
    stale: bool,
}

/// The event publisher.
pub struct Hub {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<SessionEvent>>,
}

impl Hub {
    /// A hub journalling to `path` (None: in memory only), continuing from what the
    /// journal there holds.
    pub fn open(path: Option<&Path>, boot_id: &str) -> io::Result<Hub> {
        let mut inner = Inner {
            last_id: 0,
            ring: VecDeque::new(),
            known: BTreeMap::new(),
            journal: None,
            boot_id: boot_id.to_string(),
            stale: false,
        };
        if let Some(path) = path {
            let (journal, restored) = Journal::open(path)?;
            match restored {
                Some(r) => {
                    inner.last_id = r.last_id;
                    inner.ring = r.ring.into_iter().map(Arc::new).collect();
                    inner.stale = r.boot_id != boot_id;
                    inner.known = r.known;
                    inner.journal = Some(journal);
                }
                None => {
                    // A new journal starts with a snapshot, which says which boot it
                    // is of.
                    let mut journal = journal;
                    journal.rewrite(boot_id, 0, &[], &VecDeque::new())?;
                    inner.journal = Some(journal);
                }
            }
        }
        let (tx, _) = broadcast::channel(1024);
        Ok(Hub {
            inner: Mutex::new(inner),
            tx,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of the events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SessionEvent>> {
        self.tx.subscribe()
    }

    /// The ID of the last event published.
    pub fn last_id(&self) -> u64 {
        self.lock().last_id
    }

    /// What a client that last saw `after` has missed.
    pub fn resume(&self, after: u64) -> Resume {
        let inner = self.lock();
        if after > inner.last_id {
            return Resume::Resync;
        }
        let oldest_kept = inner.ring.front().map_or(inner.last_id + 1, |e| e.event_id);
        if after + 1 < oldest_kept {
            return Resume::Resync;
        }
        Resume::Events(
            inner
                .ring
                .iter()
                .filter(|e| e.event_id > after)
                .cloned()
                .collect(),
        )
    }

    /// Publishes what changed from the last view to `sessions` (the host's sessions now);
    /// the events are journalled (and synced) before they are sent. Returns how many.
    pub fn update(&self, sessions: Vec<Session>) -> io::Result<usize> {
        let time = wms_core::time::rfc3339_utc(wms_core::time::now_unix());
        let mut inner = self.lock();
        let mut events = Vec::new();
        let mut next = inner.last_id;
        let mut event = |kind: EventType, session: &Session| {
            next += 1;
            events.push(SessionEvent {
                event_id: next,
                kind,
                time: time.clone(),
                session: session.clone(),
            });
        };
        let now: BTreeMap<SessionId, Session> =
            sessions.into_iter().map(|s| (s.session_id, s)).collect();
        // After a reboot every session of the old view has ended, whatever its ID.
        let stale = std::mem::take(&mut inner.stale);
        if stale {
            for old in std::mem::take(&mut inner.known).values() {
                event(EventType::SessionRemoved, old);
            }
        }
        // Gone first (in ID order), then new and changed (in ID order).
        for (id, old) in &inner.known {
            if !now.contains_key(id) {
                event(EventType::SessionRemoved, old);
            }
        }
        for (id, s) in &now {
            match inner.known.get(id) {
                None => event(EventType::SessionNew, s),
                Some(old) => {
                    if changed_state(old, s) {
                        event(EventType::StateChanged, s);
                    }
                    if s.is_locked && (!old.is_locked || old.lock_message != s.lock_message) {
                        event(EventType::Locked, s);
                    } else if old.is_locked && !s.is_locked {
                        event(EventType::Unlocked, s);
                    }
                }
            }
        }
        let boot_id = inner.boot_id.clone();
        if let Some(j) = inner.journal.as_mut() {
            j.append(&events)?;
        }
        inner.known = now;
        inner.last_id = next;
        let events: Vec<Arc<SessionEvent>> = events.into_iter().map(Arc::new).collect();
        for e in &events {
            inner.ring.push_back(e.clone());
            if inner.ring.len() > RING {
                inner.ring.pop_front();
            }
        }
        // Rewritten when long, and at once after a reboot, so its snapshot names this boot.
        let compact = inner
            .journal
            .as_ref()
            .is_some_and(|j| stale || j.events >= JOURNAL_EVENTS);
        if compact {
            let Inner {
                last_id,
                ring,
                known,
                journal,
                ..
            } = &mut *inner;
            if let Some(j) = journal.as_mut() {
                let sessions: Vec<Session> = known.values().cloned().collect();
                // The snapshot describes the view before the kept events; replaying the
                // kept events over it is only for readers, who resume by ID.
                if let Err(e) = j.rewrite(&boot_id, *last_id, &sessions, ring) {
                    tracing::warn!(error = %e, "cannot compact the event journal");
                }
            }
        }
        let n = events.len();
        for e in events {
            // No receivers is fine: nobody is watching.
            let _ = self.tx.send(e);
        }
        Ok(n)
    }
}

/// The journal file.
struct Journal {
    path: PathBuf,
    file: File,
    /// Events written since the snapshot.
    events: usize,
}

struct Restored {
    boot_id: String,
    last_id: u64,
    known: BTreeMap<SessionId, Session>,
    ring: VecDeque<SessionEvent>,
}

impl Journal {
    fn open(path: &Path) -> io::Result<(Journal, Option<Restored>)> {
        let mut restored: Option<Restored> = None;
        let mut events = 0;
        let mut good_len: u64 = 0;
        if let Ok(f) = File::open(path) {
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            loop {
                line.clear();
                let n = reader.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
                    break;
                };
                good_len += n as u64;
                match parsed {
                    Line::Snapshot {
                        boot_id,
                        last_event_id,
                        sessions,
                    } => {
                        // The events before a snapshot are the ones kept for readers;
                        // the view is the snapshot's.
                        let (ring, before) =
                            restored.map(|r| (r.ring, r.last_id)).unwrap_or_default();
                        restored = Some(Restored {
                            boot_id,
                            last_id: last_event_id.max(before),
                            known: sessions.into_iter().map(|s| (s.session_id, s)).collect(),
                            ring,
                        });
                        events = 0;
                    }
                    Line::Event(e) => {
                        let r = restored.get_or_insert_with(|| Restored {
                            boot_id: String::new(),
                            last_id: 0,
                            known: BTreeMap::new(),
                            ring: VecDeque::new(),
                        });
                        r.last_id = r.last_id.max(e.event_id);
                        match e.kind {
                            EventType::SessionRemoved => {
                                r.known.remove(&e.session.session_id);
                            }
                            _ => {
                                r.known.insert(e.session.session_id, e.session.clone());
                            }
                        }
                        r.ring.push_back(*e);
                        if r.ring.len() > RING {
                            r.ring.pop_front();
                        }
                        events += 1;
                    }
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        // A line cut short by a crash is dropped, so appends start on a line of their own.
        if file.metadata()?.len() > good_len {
            file.set_len(good_len)?;
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                events,
            },
            restored,
        ))
    }

    fn append(&mut self, events: &[SessionEvent]) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for e in events {
            serde_json::to_writer(&mut buf, &Line::Event(Box::new(e.clone())))?;
            buf.push(b'\n');
        }
        let before = self.file.metadata()?.len();
        crate::fsutil::append_synced(&mut self.file, before, &buf)?;
        self.events += events.len();
        Ok(())
    }

    /// Rewrites the journal as a snapshot of `sessions` (the view after `last_id`) and
    /// the `kept` events, atomically.
    fn rewrite(
        &mut self,
        boot_id: &str,
        last_id: u64,
        sessions: &[Session],
        kept: &VecDeque<Arc<SessionEvent>>,
    ) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // The kept events first (for readers that resume by ID), then the snapshot
            // of the view now, which a restart starts from.
            let mut buf = Vec::new();
            for e in kept {
                serde_json::to_writer(&mut buf, &Line::Event(Box::new((**e).clone())))?;
                buf.push(b'\n');
            }
            serde_json::to_writer(
                &mut buf,
                &Line::Snapshot {
                    boot_id: boot_id.to_string(),
                    last_event_id: last_id,
                    sessions: sessions.to_vec(),
                },
            )?;
            buf.push(b'\n');
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.events = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wms_core::{SessionState, SessionType};

    fn session(id: u32) -> Session {
        Session {
            session_id: SessionId(id),
            state: Some(SessionState::RemoteConnection),
            user_name: "alice".into(),
            ..Default::default()
        }
    }

    fn kinds(hub: &Hub, sessions: Vec<Session>) -> Vec<EventType> {
        let mut rx = hub.subscribe();
        hub.update(sessions).unwrap();
        std::iter::from_fn(|| rx.try_recv().ok().map(|e| e.kind)).collect()
    }

    #[test]
    fn a_desktop_started_in_a_session_is_a_state_change() {
        let hub = Hub::open(None, "boot").unwrap();
        assert_eq!(kinds(&hub, vec![session(3)]), [EventType::SessionNew]);
        assert_eq!(kinds(&hub, vec![session(3)]), []);
        let mut desktop = session(3);
        desktop.session_type = Some(SessionType::X11);
        desktop.display = Some(":5".into());
        assert_eq!(kinds(&hub, vec![desktop.clone()]), [EventType::StateChanged]);
        let mut connected = desktop.clone();
        connected.client_name = Some("10.0.0.5".into());
        assert_eq!(kinds(&hub, vec![connected]), [EventType::StateChanged]);
        // What changes all the time (CPU, memory, idle) is not an event.
        let mut busy = session(4);
        hub.update(vec![busy.clone()]).unwrap();
        busy.cpu_seconds = Some(3.0);
        busy.idle_seconds = Some(60);
        assert_eq!(kinds(&hub, vec![busy]), []);
    }
}
