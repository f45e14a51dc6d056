//! Where a session is killed: the reliable close of SPEC section 4.
//!
//! Graceful first: every process of the session gets SIGTERM (and SIGCONT, so a stopped
//! process can act on it), newcomers too, until none is left or the grace period ends.
//! Then forced: the session is frozen with SIGSTOP, rescanning until a scan finds nothing
//! new, so a fork loop cannot outrun us; then everything gets SIGKILL. Done only when a
//! scan finds no live process of the session.
//!
//! Never a signal outside the session: each process is pinned by a pidfd, and only after
//! the pidfd is open are its session ID and start time checked again; if the process the
//! pidfd names is still alive after that check, the check was about it, so a PID reused
//! between the scan and the pidfd is never signalled. Every signal goes through the pidfd.
//!
//! Finding the processes: a scan reads the session ID of every process in `/proc`, which
//! costs as much as the host has processes, and a close scans several times; closing 500
//! sessions one after the other that way rescans the host a thousand times. So when the
//! sessions being closed come from a listing ([`CloseCache`]) and the kernel's process
//! events can be had (root, in the initial PID and user namespaces), a close follows
//! them instead: one scan when the first close starts notes the processes of every listed
//! session, and from then on each fork event adds the new process to its session's list,
//! so a "scan" of a session reads only its own processes, plus one `sessionid` per process
//! the host created since. Why that finds every process a full scan would: see [`Tracker`].
//! Anywhere else (and whenever events were lost) a close scans `/proc` as before.

use crate::discover::{par_chunks, par_chunks_counted};
use crate::procfs::{self, Stat};
use crate::sys::proc_events::{messages, Event, ProcEvents};
use crate::sys::{wait_any_exit, PinnedProcess};
use rustix::process::Signal;
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wms_core::{Pid, SessionId};

/// What a successful close did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseReport {
    /// Processes that were sent SIGTERM.
    pub terminated: usize,
    /// Processes that had to be killed.
    pub killed: usize,
}

/// The live processes of session `id` (never this process itself).
pub(crate) fn scan_session(id: SessionId) -> io::Result<Vec<Stat>> {
    let me = Pid(std::process::id() as i32);
    let pids = procfs::pids()?;
    Ok(par_chunks(&pids, 128, |chunk| {
        let mut out = Vec::new();
        for &pid in chunk {
            if pid == me || procfs::session_id(pid) != Some(id.0) {
                continue;
            }
            if let Some(st) = procfs::stat(pid).filter(|s| !s.is_dead()) {
                out.push(st);
            }
        }
        out
    }))
}

/// The live processes of session `id` among `pids` (never this process itself), in PID
/// order; `keep` learns which of `pids` still are in the session.
fn live_among(id: SessionId, pids: &[Pid], mut keep: impl FnMut(Pid, bool)) -> Vec<Stat> {
    let me = Pid(std::process::id() as i32);
    let mut out = Vec::new();
    for &pid in pids {
        let live = pid != me
            && procfs::session_id(pid) == Some(id.0)
            && match procfs::stat(pid) {
                Some(st) if !st.is_dead() => {
                    out.push(st);
                    true
                }
                _ => false,
            };
        keep(pid, live);
    }
    out.sort_by_key(|s| s.pid);
    out
}

/// Pins the process a scan saw as `seen` by pidfd and confirms, after pinning, that it is
/// still that process (same start time) of session `id`. `None` when it has exited or its
/// PID now names another process.
pub(crate) fn pin(pid: Pid, start_time: u64, id: SessionId) -> Option<PinnedProcess> {
    let p = PinnedProcess::open(pid).ok()?;
    let same = procfs::session_id(pid) == Some(id.0)
        && procfs::stat(pid).is_some_and(|st| st.start_time == start_time && !st.is_dead());
    // Alive after the check: the check read the pinned process, not a successor.
    (same && !p.has_exited()).then_some(p)
}

struct Tracked {
    pin: PinnedProcess,
    /// When it was pinned, in order (see `wait_all`).
    seq: u64,
    comm: String,
    stopped: bool,
    killed: bool,
    denied: bool,
}

type Key = (Pid, u64);

fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::TERM => "SIGTERM",
        Signal::CONT => "SIGCONT",
        Signal::STOP => "SIGSTOP",
        Signal::KILL => "SIGKILL",
        _ => "other",
    }
}

struct Closer {
    id: SessionId,
    tracked: HashMap<Key, Tracked>,
    /// How many processes were pinned so far.
    pinned: u64,
    report: CloseReport,
}

impl Closer {
    fn send(&mut self, key: Key, sig: Signal) {
        if let Some(t) = self.tracked.get_mut(&key) {
            match t.pin.signal(sig) {
                Ok(()) => {
                    tracing::debug!(pid = key.0 .0, comm = %t.comm, signal = signal_name(sig), "signalled")
                }
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => t.denied = true,
                // ESRCH: it has just exited, which is what we want.
                Err(_) => {}
            }
        }
    }

    /// Pins the processes of `live` not yet tracked; returns their keys.
    ///
    /// As [`pin`] does one by one, but with one poll for the whole batch: each process is
    /// pinned, then checked, and only those still alive at the poll, after their check,
    /// are kept, so every check was about the pinned process.
    fn track_new(&mut self, live: &[Stat]) -> Vec<Key> {
        let mut candidates: Vec<(Key, PinnedProcess, &Stat)> = Vec::new();
        for s in live {
            let key = (s.pid, s.start_time);
            if self.tracked.contains_key(&key) {
                continue;
            }
            let Ok(p) = PinnedProcess::open(s.pid) else {
                continue;
            };
            let same = procfs::session_id(s.pid) == Some(self.id.0)
                && procfs::stat(s.pid)
                    .is_some_and(|st| st.start_time == s.start_time && !st.is_dead());
            if same {
                candidates.push((key, p, s));
            }
        }
        let exited: HashSet<usize> = {
            let pins: Vec<&PinnedProcess> = candidates.iter().map(|(_, p, _)| p).collect();
            match wait_any_exit(&pins, Duration::ZERO) {
                Ok(v) => v.into_iter().collect(),
                // Cannot tell: trust none of them this round; the next scan retries.
                Err(_) => (0..pins.len()).collect(),
            }
        };
        let mut new = Vec::new();
        for (i, (key, pin, s)) in candidates.into_iter().enumerate() {
            if exited.contains(&i) {
                continue;
            }
            self.tracked.insert(
                key,
                Tracked {
                    pin,
                    seq: self.pinned,
                    comm: s.comm.clone(),
                    stopped: false,
                    killed: false,
                    denied: false,
                },
            );
            self.pinned += 1;
            new.push(key);
        }
        new
    }

    /// Forgets the tracked processes that have exited (one poll for all of them).
    fn forget_exited(&mut self) {
        if self.tracked.is_empty() {
            return;
        }
        let keys: Vec<Key> = self.tracked.keys().copied().collect();
        let pins: Vec<&PinnedProcess> = keys.iter().map(|k| &self.tracked[k].pin).collect();
        let exited: Vec<usize> = match wait_any_exit(&pins, Duration::ZERO) {
            Ok(v) => v,
            // An error polling: ask each one, as before.
            Err(_) => (0..keys.len()).filter(|&i| pins[i].has_exited()).collect(),
        };
        for i in exited {
            self.tracked.remove(&keys[i]);
        }
    }

    /// Waits up to `timeout` until every tracked process has exited.
    ///
    /// It waits for one process at a time, the last one pinned (and so signalled), then
    /// looks at all of them: processes signalled together die together, so this wakes
    /// about once rather than once per process, and on a busy machine every wake-up can
    /// cost a wait for a CPU.
    fn wait_all(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        loop {
            self.forget_exited();
            let now = Instant::now();
            if self.tracked.is_empty() || now >= end {
                return;
            }
            if let Some(last) = self.tracked.values().max_by_key(|t| t.seq) {
                // An error here only shortens the wait; the next look tells the truth.
                let _ = wait_any_exit(&[&last.pin], end - now);
            }
        }
    }

    fn failure(&self, live: &[Stat]) -> String {
        let names: Vec<String> = live
            .iter()
            .take(5)
            .map(|s| format!("{} ({})", s.pid, s.comm))
            .collect();
        let more = if live.len() > 5 {
            format!(" and {} more", live.len() - 5)
        } else {
            String::new()
        };
        let denied = self.tracked.values().any(|t| t.denied);
        let cause = if denied {
            "; permission to signal them was denied: run wms as root or through wmsd"
        } else {
            ""
        };
        format!(
            "{} process{} of the session still running after SIGKILL: {}{more}{cause}",
            live.len(),
            if live.len() == 1 { " is" } else { "es are" },
            names.join(", ")
        )
    }
}

/// Closes session `id`: every process of it ends, gracefully within `grace`, else by
/// force. Returns the cause when processes are still left `kill_deadline` after the
/// forced phase began.
pub fn close_session(
    id: SessionId,
    grace: Duration,
    kill_deadline: Duration,
) -> Result<CloseReport, String> {
    close_with(id, grace, kill_deadline, || scan_session(id))
}

/// [`close_session`] for a session of the last listing of `cache`: the processes are
/// found by following process events where possible (see [`CloseCache`]).
pub(crate) fn close_listed(
    cache: &CloseCache,
    id: SessionId,
    grace: Duration,
    kill_deadline: Duration,
) -> Result<CloseReport, String> {
    let mut first = cache.first_scan(id);
    close_with(id, grace, kill_deadline, || match first.take() {
        // What the listing saw is no proof that nothing else is left: an empty answer
        // is checked by a real scan.
        Some(live) if !live.is_empty() => Ok(live),
        _ => cache.scan(id),
    })
}

/// The close, with `scan` finding the live processes of the session (as [`scan_session`]).
fn close_with(
    id: SessionId,
    grace: Duration,
    kill_deadline: Duration,
    mut scan: impl FnMut() -> io::Result<Vec<Stat>>,
) -> Result<CloseReport, String> {
    let mut scan = || scan().map_err(|e| format!("cannot read /proc: {e}"));
    let mut c = Closer {
        id,
        tracked: HashMap::new(),
        pinned: 0,
        report: CloseReport::default(),
    };
    let grace_end = Instant::now() + grace;
    let mut tick = Duration::from_millis(5);
    // Graceful phase.
    loop {
        let live = scan()?;
        if live.is_empty() {
            return Ok(c.report);
        }
        c.forget_exited();
        for key in c.track_new(&live) {
            c.report.terminated += 1;
            c.send(key, Signal::TERM);
            c.send(key, Signal::CONT);
        }
        let now = Instant::now();
        if now >= grace_end {
            break;
        }
        // Until all of them have gone (the common case: one more scan confirms it) or the
        // tick passes (newcomers and slow ones are looked at again).
        c.wait_all(tick.min(grace_end - now));
        tick = (tick * 2).min(Duration::from_millis(100));
    }
    // Forced phase.
    tracing::debug!(session = id.0, "grace period over; freezing and killing");
    let kill_end = Instant::now() + kill_deadline;
    loop {
        // Freeze: stop every process until a scan finds none that is not stopped.
        loop {
            let live = scan()?;
            c.track_new(&live);
            let mut stopped_now = 0;
            for s in &live {
                let key = (s.pid, s.start_time);
                if c.tracked.get(&key).is_some_and(|t| !t.stopped) {
                    c.send(key, Signal::STOP);
                    if let Some(t) = c.tracked.get_mut(&key) {
                        t.stopped = true;
                    }
                    stopped_now += 1;
                }
            }
            if stopped_now == 0 || Instant::now() >= kill_end {
                break;
            }
        }
        let keys: Vec<Key> = c.tracked.keys().copied().collect();
        for key in keys {
            c.send(key, Signal::KILL);
            if let Some(t) = c.tracked.get_mut(&key).filter(|t| !t.killed) {
                t.killed = true;
                c.report.killed += 1;
            }
        }
        c.wait_all(
            Duration::from_millis(500).min(kill_end.saturating_duration_since(Instant::now())),
        );
        let live = scan()?;
        if live.is_empty() {
            return Ok(c.report);
        }
        if Instant::now() >= kill_end {
            return Err(c.failure(&live));
        }
        // Survivors: newcomers or processes we may not signal; go round again.
        for t in c.tracked.values_mut() {
            t.stopped = false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// Following process events instead of rescanning /proc
// ---------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_among_keeps_only_processes_of_the_session() {
        let me = Pid(std::process::id() as i32);
        let own = procfs::session_id(me).and_then(SessionId::from_kernel);
        // This process is never among the results, whatever its session.
        if let Some(own) = own {
            let mut kept = Vec::new();
            assert!(live_among(own, &[me], |p, l| kept.push((p, l))).is_empty());
            assert_eq!(kept, vec![(me, false)]);
        }
        // A PID that does not exist is dropped.
        let mut kept = Vec::new();
        assert!(live_among(SessionId(1), &[Pid(i32::MAX)], |p, l| kept.push((p, l))).is_empty());
        assert_eq!(kept, vec![(Pid(i32::MAX), false)]);
    }
}
