//! The live session table: every process of every login session on the host, built by
//! one full scan of `/proc` and then kept current from the kernel's process events (the
//! proc connector: fork, exec, exit, and changes of IDs, setsid session and name), so a
//! long-lived reader (the agent) answers without rescanning.
//!
//! What a process's audit session is can change without an event of its own: `login`,
//! sshd and cron write the login uid (which opens a new session) and then fork, exec or
//! change user, and each of those events makes the table read the process again (on a
//! fork, the parent too). When the kernel drops events (the socket's receive buffer
//! overflowed, `ENOBUFS`) the table is rebuilt by a full scan: it never keeps a guess.
//! The follower sleeps in `poll` with no timeout: a quiet host costs no wake-ups.

use crate::process::{scan, SessionProcess};
use crate::procfs;
use crate::sys::proc_events::{messages, Event, ProcEvents};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use wms_core::{Pid, SessionId};

/// The processes of one session, as the table holds them.
#[derive(Debug, Clone)]
pub struct TableSession {
    pub id: SessionId,
    /// In start order (oldest first).
    pub processes: Vec<SessionProcess>,
}

#[derive(Debug, Default)]
struct State {
    procs: HashMap<Pid, SessionProcess>,
    by_session: BTreeMap<SessionId, BTreeSet<Pid>>,
    /// Bumped whenever a process or session comes or goes, or a process changes.
    generation: u64,
    /// How many full scans the table was built from (the first, and one after each loss
    /// of events).
    scans: u64,
}

impl State {
    fn insert(&mut self, p: SessionProcess) -> bool {
        let pid = p.stat.pid;
        if let Some(old) = self.procs.get(&pid) {
            if old.session == p.session
                && old.stat.start_time == p.stat.start_time
                && old.stat.comm == p.stat.comm
                && old.stat.ppid == p.stat.ppid
                && old.stat.tty_nr == p.stat.tty_nr
                && old.stat.sid == p.stat.sid
                && old.env_range == p.env_range
                && old.login_uid == p.login_uid
            {
                return false;
            }
            self.remove(pid);
        }
        self.by_session.entry(p.session).or_default().insert(pid);
        self.procs.insert(pid, p);
        true
    }

    fn remove(&mut self, pid: Pid) -> bool {
        let Some(old) = self.procs.remove(&pid) else {
            return false;
        };
        if let Some(set) = self.by_session.get_mut(&old.session) {
            set.remove(&pid);
            if set.is_empty() {
                self.by_session.remove(&old.session);
            }
        }
        true
    }

    fn replace_all(&mut self, procs: Vec<SessionProcess>) {
        self.procs.clear();
        self.by_session.clear();
        for p in procs {
            self.insert(p);
        }
        self.scans += 1;
        self.generation += 1;
    }
}

/// One process, read as the full scan reads it; `None` when it is gone, dead, or in no
/// login session.
fn read_process(pid: Pid) -> Option<SessionProcess> {
    let session = procfs::session_id(pid).and_then(SessionId::from_kernel)?;
    let (stat, env_range) = procfs::stat_and_env_range(pid)?;
    if stat.is_dead() {
        return None;
    }
    let login_uid = procfs::login_uid(pid)?;
    // The session may have changed while it was read (a login uid written between the
    // two reads): read it again rather than file the process under the old one.
    let again = procfs::session_id(pid).and_then(SessionId::from_kernel)?;
    (again == session).then_some(SessionProcess {
        session,
        login_uid,
        stat,
        env_range,
    })
}

/// The live table. Clones share it.
#[derive(Clone)]
pub struct LiveTable {
    state: Arc<Mutex<State>>,
    /// The events subscription, shared with the follower so that readers can tell whether
    /// events are still waiting to be applied ([`LiveTable::settled`]).
    events: Arc<ProcEvents>,
    /// Set by the follower from the moment it wakes for events until it has applied them.
    busy: Arc<std::sync::atomic::AtomicBool>,
    /// When the follower last found the socket empty, in nanoseconds since `epoch`, once
    /// it had applied everything it read before: every event sent before then is in the
    /// table. On a busy host the socket is seldom empty for long, so readers wait for
    /// this instead of for a quiet moment.
    drained: Arc<std::sync::atomic::AtomicU64>,
    epoch: std::time::Instant,
}

impl std::fmt::Debug for LiveTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("LiveTable")
            .field("processes", &s.procs.len())
            .field("sessions", &s.by_session.len())
            .field("generation", &s.generation)
            .finish()
    }
}

impl LiveTable {
    /// Subscribes to the kernel's process events, builds the table by a full scan, and
    /// starts the thread that follows the events. `on_change` is called (on that thread)
    /// with the new generation after each batch of events that changed the table.
    /// `event_buffer` is the events socket's receive buffer in bytes.
    pub fn start(
        event_buffer: usize,
        on_change: impl Fn(u64) + Send + 'static,
    ) -> io::Result<LiveTable> {
        // Subscribed before the scan, so nothing that happens during it is missed.
        let events = Arc::new(ProcEvents::subscribe_to(None, event_buffer)?);
        let table = LiveTable {
            state: Arc::new(Mutex::new(State::default())),
            events: events.clone(),
            busy: Arc::default(),
            drained: Arc::default(),
            epoch: std::time::Instant::now(),
        };
        let procs = scan()?;
        table.lock().replace_all(procs);
        let follower = table.clone();
        std::thread::Builder::new()
            .name("wmsd-table".into())
            .spawn(move || follower.follow(events, on_change))?;
        Ok(table)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether every process event the kernel had sent when this was called has been
    /// applied: none waits in the socket, and the follower is not applying any. Events are
    /// sent as processes fork, exec and exit, so a reader that waits for this (a moment, on
    /// a quiet host) sees every session that existed when its request came.
    pub fn settled(&self) -> bool {
        use std::sync::atomic::Ordering;
        // The follower raises `busy` before it reads the socket, so an event is always
        // either still in the socket or being applied.
        !self.busy.load(Ordering::Acquire)
            && !self.events.pending()
            && !self.busy.load(Ordering::Acquire)
    }

    /// Whether every process event the kernel sent before `since` has been applied: the
    /// table is [`settled`](Self::settled), or the follower has since found the socket
    /// empty and applied what it had read. On a host that forks all the time the first
    /// seldom holds; the second comes within one round of the follower.
    pub fn settled_since(&self, since: std::time::Instant) -> bool {
        let since = since.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.drained.load(std::sync::atomic::Ordering::Acquire) >= since || self.settled()
    }

    /// The generation: it changes whenever the table does.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// How many full scans built the table (1, plus one per loss of events).
    pub fn scans(&self) -> u64 {
        self.lock().scans
    }

    /// Every session, in ID order, with its processes in start order.
    pub fn sessions(&self) -> Vec<TableSession> {
        self.sessions_where(|_| true)
    }

    /// The sessions `keep` takes, in ID order.
    pub fn sessions_where(&self, keep: impl Fn(SessionId) -> bool) -> Vec<TableSession> {
        let s = self.lock();
        s.by_session
            .iter()
            .filter(|(id, _)| keep(**id))
            .map(|(id, pids)| {
                let mut processes: Vec<SessionProcess> = pids
                    .iter()
                    .filter_map(|p| s.procs.get(p).cloned())
                    .collect();
                processes.sort_by_key(|p| (p.stat.start_time, p.stat.pid));
                TableSession { id: *id, processes }
            })
            .collect()
    }

    fn follow(self, events: Arc<ProcEvents>, on_change: impl Fn(u64)) {
        use std::sync::atomic::Ordering;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            self.busy.store(false, Ordering::Release);
            if let Err(e) = events.wait() {
                tracing::error!(error = %e, "cannot wait for process events; the session table stops following");
                return;
            }
            self.busy.store(true, Ordering::Release);
            let mut batch = Vec::new();
            let mut lost = false;
            let drained = loop {
                match events.recv(&mut buf) {
                    Ok(Some(n)) => batch.extend(messages(&buf[..n])),
                    // The kernel queues an event as the process forks, execs or exits, so
                    // everything sent before this moment has been read.
                    Ok(None) => break self.epoch.elapsed().as_nanos() as u64,
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => lost = true,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read process events; the session table stops following");
                        return;
                    }
                }
            };
            let changed = if lost {
                tracing::debug!("process events were lost; rescanning");
                match scan() {
                    Ok(procs) => {
                        self.lock().replace_all(procs);
                        true
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot rescan /proc");
                        false
                    }
                }
            } else {
                self.apply(&batch)
            };
            if changed {
                let generation = {
                    let mut s = self.lock();
                    s.generation += 1;
                    s.generation
                };
                on_change(generation);
            }
            self.drained.fetch_max(drained, Ordering::Release);
        }
    }

    /// Applies a batch of events; whether the table changed.
    fn apply(&self, batch: &[Event]) -> bool {
        let mut changed = false;
        for ev in batch {
            // Each read happens without the lock held across other reads, so readers of
            // the table are never kept waiting for /proc.
            let touched: [Option<Pid>; 2] = match *ev {
                // A new thread is not a new process.
                Event::Fork {
                    pid,
                    tgid,
                    parent_tgid,
                } if pid == tgid => [Some(Pid(tgid)), Some(Pid(parent_tgid))],
                Event::Exec { tgid, .. } | Event::Changed { tgid, .. } => [Some(Pid(tgid)), None],
                Event::Exit { pid, tgid } if pid == tgid => {
                    changed |= self.lock().remove(Pid(pid));
                    [None, None]
                }
                _ => [None, None],
            };
            for pid in touched.into_iter().flatten() {
                let read = read_process(pid);
                let mut s = self.lock();
                changed |= match read {
                    Some(p) => s.insert(p),
                    None => s.remove(pid),
                };
            }
        }
        changed
    }
}
