//! Following the processes of listed sessions instead of rescanning `/proc`.
//!
//! A scan reads the session ID of every process in `/proc`, which costs as much as the
//! host has processes, and a close scans several times; closing 500 sessions one after
//! the other that way rescans the host a thousand times. So when the sessions being closed
//! come from a listing ([`CloseCache`]) and the kernel's process events can be had (root,
//! in the initial PID and user namespaces), a close follows them instead: one scan when
//! the first close starts notes the processes of every listed session, and from then on
//! each fork event adds the new process to its session's list, so a "scan" of a session
//! reads only its own processes, plus one `sessionid` per process the host created since.
//! Why that finds every process a full scan would: see [`Tracker`]. Anywhere else (and
//! whenever events were lost) a close scans `/proc` as before, or uses the [`Snapshot`]
//! of a quiet host.

use super::{live_among, par_chunks, par_chunks_counted, scan_session, Stat};
use crate::procfs;
use crate::sys::proc_events::{messages, Event, ProcEvents};
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Mutex;
use wms_core::{Pid, SessionId};

/// What the closes of one [`crate::Host`] share: the sessions of its last listing, and,
/// once a close has started, the [`Tracker`] that follows their processes.
///
/// A tracker is only ever used for sessions of the listing that completed before it
/// started. Such a session existed before the tracker's scan began, and that is what makes
/// the scan and the fork events complete for it (see [`Tracker`]). A new listing therefore
/// discards the tracker; the next close starts a new one.
#[derive(Default)]
pub(crate) struct CloseCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The sessions of the last listing, with the processes it found in each.
    listed: HashMap<u32, Vec<Pid>>,
    tracker: Option<Tracker>,
    /// Process events cannot be had here (not root, another PID or user namespace, no
    /// connector): closes scan `/proc`, or use the [`Snapshot`] of a quiet host.
    no_events: bool,
    snapshot: Option<Snapshot>,
}

impl std::fmt::Debug for CloseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("CloseCache")
            .field("listed", &st.listed.len())
            .field("following_events", &st.tracker.is_some())
            .field("no_events", &st.no_events)
            .field("snapshot", &st.snapshot.is_some())
            .finish()
    }
}

impl CloseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scans of one close of session `id`: the first as [`Self::first_scan`] finds it,
    /// the rest through [`Self::scan`]. What the listing saw is no proof that nothing else
    /// is left: an empty first answer is checked by a real scan.
    pub(crate) fn scans_of(&self, id: SessionId) -> impl FnMut() -> io::Result<Vec<Stat>> + '_ {
        let mut first = self.first_scan(id);
        move || match first.take() {
            Some(live) if !live.is_empty() => Ok(live),
            _ => self.scan(id),
        }
    }

    /// Records a completed listing: `sessions` with the PIDs found in each.
    pub(crate) fn listed(&self, sessions: impl IntoIterator<Item = (SessionId, Vec<Pid>)>) {
        let mut st = self.lock();
        st.listed = sessions.into_iter().map(|(id, p)| (id.0, p)).collect();
        st.tracker = None;
        st.snapshot = None;
    }

    /// Stops following process events (and forgets the snapshot) until the next close;
    /// for the end of a batch of closes in a process that lives on.
    pub(crate) fn done(&self) {
        let mut st = self.lock();
        st.tracker = None;
        st.snapshot = None;
    }

    /// The first scan of a close of `id`: through the tracker (started now if need be)
    /// when events can be had, or the snapshot of a host that has not forked since;
    /// otherwise, for a listed session, its processes as listed that are still live in it,
    /// so that only later rounds scan all of `/proc` (the processes it gained since the
    /// listing are found by the next round). `None`: scan.
    fn first_scan(&self, id: SessionId) -> Option<Vec<Stat>> {
        let mut st = self.lock();
        let st = &mut *st;
        if !st.listed.contains_key(&id.0) {
            return None;
        }
        if st.tracker.is_none() && !st.no_events {
            st.start_tracker();
        }
        if st.tracker.is_some() || st.snapshot.as_ref().is_some_and(Snapshot::current) {
            return None;
        }
        Some(live_among(id, &st.listed[&id.0], |_, _| {}))
    }

    /// The live processes of session `id` now, as [`scan_session`] would find them.
    fn scan(&self, id: SessionId) -> io::Result<Vec<Stat>> {
        let mut st = self.lock();
        let st = &mut *st;
        if st.listed.contains_key(&id.0) && !st.no_events {
            for _ in 0..2 {
                if st.tracker.is_none() {
                    st.start_tracker();
                }
                let Some(t) = st.tracker.as_mut() else {
                    break;
                };
                match t.session(id, &st.listed) {
                    Ok(live) => return Ok(live),
                    Err(e) => {
                        // Events were lost (the socket overflowed): start over once.
                        tracing::debug!(error = %e, "process events lost; starting again");
                        st.tracker = None;
                    }
                }
            }
        }
        if st.listed.contains_key(&id.0) && st.no_events {
            return Snapshot::scan(&mut st.snapshot, id, &st.listed);
        }
        scan_session(id)
    }
}

/// Without process events: what a full scan found in the listed sessions, for as long as
/// the host creates no process at all.
///
/// The kernel counts every task it creates (`processes` in `/proc/stat`, 64 bits, never
/// reset). If that count is the same as when a scan of `/proc` ended, and nothing but the
/// scan's own threads was created while it ran, then every process alive now was alive
/// throughout the scan, and was seen by it. A listed session existed before the scan
/// began, and no process enters a session later except by being forked; so the processes
/// of such a session now are among those the scan saw in it. On a quiet host, closing many
/// sessions then needs one scan rather than one per session; any fork anywhere (this
/// counts every PID namespace) means the next look scans again.
struct Snapshot {
    /// The task count when the scan ended.
    forks: u64,
    /// For each listed session, the processes the scan saw in it (less those since gone).
    members: HashMap<u32, Vec<Pid>>,
}

impl Snapshot {
    /// Whether the host has created no task since the snapshot.
    fn current(&self) -> bool {
        procfs::forks() == Some(self.forks)
    }

    /// The live processes of listed session `id`, from `snap` while it is current, else
    /// from a new full scan (kept as the snapshot if the host was quiet during it).
    fn scan(
        snap: &mut Option<Snapshot>,
        id: SessionId,
        listed: &HashMap<u32, Vec<Pid>>,
    ) -> io::Result<Vec<Stat>> {
        if let Some(s) = snap.as_mut().filter(|s| s.current()) {
            let pids = s.members.get(&id.0).cloned().unwrap_or_default();
            let mut gone = HashSet::new();
            let live = live_among(id, &pids, |pid, live| {
                if !live {
                    gone.insert(pid);
                }
            });
            if let Some(m) = s.members.get_mut(&id.0) {
                m.retain(|p| !gone.contains(p));
            }
            return Ok(live);
        }
        *snap = None;
        let before = procfs::forks();
        let pids = procfs::pids()?;
        let (found, threads) = par_chunks_counted(&pids, 128, |chunk| {
            chunk
                .iter()
                .filter_map(|&pid| {
                    let s = procfs::session_id(pid)?;
                    listed.contains_key(&s).then_some((s, pid))
                })
                .collect()
        });
        let after = procfs::forks();
        let mut members: HashMap<u32, Vec<Pid>> = HashMap::new();
        for (s, pid) in found {
            members.entry(s).or_default().push(pid);
        }
        let pids = members.get(&id.0).cloned().unwrap_or_default();
        let live = live_among(id, &pids, |_, _| {});
        match (before, after) {
            (Some(b), Some(a)) if a == b + threads as u64 => {
                *snap = Some(Snapshot { forks: a, members });
            }
            _ => tracing::debug!("the host forked during the scan; no snapshot"),
        }
        Ok(live)
    }
}

impl CacheState {
    fn start_tracker(&mut self) {
        match Tracker::start(&self.listed) {
            Ok(t) => self.tracker = Some(t),
            Err(e) => {
                tracing::debug!(error = %e, "no process events; closes scan /proc");
                self.no_events = true;
            }
        }
    }
}

/// The processes of the listed sessions, kept current by fork events.
///
/// It subscribes to fork events first, then reads the session ID of every process, then
/// reads the session ID of each process whose fork it is told of. That finds every live
/// process of a listed session `S` at any later moment, as a full scan would:
///
/// - a process gets a session ID only by writing its login uid, which gives it a *new* ID,
///   or by being forked, which gives it its parent's; so no process enters `S` after `S`
///   was created except as the child of one of its processes;
/// - `S` existed before the tracker's scan began (it was listed before), so a process in
///   `S` that existed during that scan was seen in `S`, and one created after the
///   subscription has a fork event, queued before `fork` returns, whose child is read in
///   `S` as long as it is alive in it;
/// - every event queued is read before a session's list is used, and each process on the
///   list is read again then, so PIDs that left or were reused drop off.
///
/// The kernel reports events only to subscribers in the initial PID and user namespaces,
/// with PIDs as seen there; elsewhere there is no tracker. If the socket overflows, events
/// are lost: the tracker reports it, and a new one starts.
struct Tracker {
    events: ProcEvents,
    /// For each listed session, PIDs that may be its processes (a superset of its live ones).
    members: HashMap<u32, HashSet<i32>>,
    buf: Vec<u8>,
}

impl Tracker {
    fn start(listed: &HashMap<u32, Vec<Pid>>) -> io::Result<Tracker> {
        let events = ProcEvents::subscribe()?;
        let pids = procfs::pids()?;
        let found: Vec<(u32, i32)> = par_chunks(&pids, 128, |chunk| {
            chunk
                .iter()
                .filter_map(|&pid| {
                    let s = procfs::session_id(pid)?;
                    listed.contains_key(&s).then_some((s, pid.0))
                })
                .collect()
        });
        let mut members: HashMap<u32, HashSet<i32>> = HashMap::new();
        for (s, pid) in found {
            members.entry(s).or_default().insert(pid);
        }
        let mut t = Tracker {
            events,
            members,
            buf: vec![0; 8192],
        };
        t.drain(listed)?;
        tracing::debug!(
            sessions = listed.len(),
            processes = t.members.values().map(HashSet::len).sum::<usize>(),
            "following process events"
        );
        Ok(t)
    }

    /// Reads every queued event, adding each new process of a listed session.
    fn drain(&mut self, listed: &HashMap<u32, Vec<Pid>>) -> io::Result<()> {
        // A host forking faster than this reads would keep it here forever: past this many
        // events in one go, give up (the caller scans /proc instead).
        const MAX_EVENTS: usize = 200_000;
        let mut seen = 0;
        while let Some(n) = self.events.recv(&mut self.buf)? {
            for ev in messages(&self.buf[..n]) {
                seen += 1;
                if let Event::Fork { pid, tgid, .. } = ev {
                    // A new thread is no new process.
                    if pid != tgid {
                        continue;
                    }
                    if let Some(s) = procfs::session_id(Pid(tgid)) {
                        if listed.contains_key(&s) {
                            self.members.entry(s).or_default().insert(tgid);
                        }
                    }
                }
            }
            if seen > MAX_EVENTS {
                return Err(io::Error::other("too many process events to follow"));
            }
        }
        Ok(())
    }

    /// The live processes of listed session `id` now.
    fn session(&mut self, id: SessionId, listed: &HashMap<u32, Vec<Pid>>) -> io::Result<Vec<Stat>> {
        self.drain(listed)?;
        let Some(set) = self.members.get_mut(&id.0) else {
            return Ok(Vec::new());
        };
        let pids: Vec<Pid> = set.iter().map(|&p| Pid(p)).collect();
        Ok(live_among(id, &pids, |pid, live| {
            if !live {
                set.remove(&pid.0);
            }
        }))
    }
}
