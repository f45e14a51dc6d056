//! The processes of login sessions: scanning `/proc` for them, pinning one so that a signal
//! reaches it and no successor with the same PID ([`ProcessKey`], [`pin`]), following them
//! by the kernel's process events ([`follow`]), and telling which of them hold a session's
//! connection ([`is_connection_process`]). The actions (close, disconnect, lock) reach the
//! kernel's process table through here, the close through the [`table::ProcessTable`] seam.

pub(crate) mod follow;
pub(crate) mod table;

#[cfg(test)]
pub(crate) mod fake;

use crate::procfs;
use crate::sys::PinnedProcess;
use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use wms_core::{Pid, SessionId};

pub use crate::procfs::Stat;

/// One process for good: a PID names another process once it has been reused, a PID with
/// the process's start time (in clock ticks since boot) never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    pub pid: Pid,
    pub start_time: u64,
}

impl From<&Stat> for ProcessKey {
    fn from(s: &Stat) -> ProcessKey {
        ProcessKey {
            pid: s.pid,
            start_time: s.start_time,
        }
    }
}

/// A process that belongs to a login session.
#[derive(Debug, Clone)]
pub struct SessionProcess {
    pub session: SessionId,
    pub login_uid: u32,
    pub stat: Stat,
    /// Where its environment lies in its memory, when `/proc/PID/stat` shows it.
    pub env_range: Option<(u64, u64)>,
}

impl SessionProcess {
    /// The process, for good (see [`ProcessKey`]).
    pub fn key(&self) -> ProcessKey {
        ProcessKey::from(&self.stat)
    }
}

/// Whether a process of this name holds a session's connection: sshd's per-connection
/// processes (`sshd` before OpenSSH 9.8, `sshd-session` and `sshd-auth` since). The one
/// place that says so: discovery (a session with one is connected), disconnect (these are
/// what it ends) and lock (these keep serving the locked terminal) all ask here.
pub fn is_connection_process(comm: &str) -> bool {
    matches!(comm, "sshd" | "sshd-session" | "sshd-auth")
}

/// Whether a process of this name is an X server (`Xorg`, `Xvfb`, xrdp's `Xorg`, VNC's
/// `Xvnc`, ...): a session that runs one is an X11 desktop whose display it serves.
/// Discovery (the session's Type and Display) and `desktop` (the server to talk to) ask
/// here. `Xwayland` is not one of them: it serves X clients of a Wayland desktop, whose
/// screen is the compositor's.
pub fn is_x_server(comm: &str) -> bool {
    matches!(
        comm,
        "X" | "Xorg" | "Xvfb" | "Xephyr" | "Xvnc" | "Xtigervnc" | "Xtightvnc" | "Xdummy"
    )
}

/// Reads every live process that belongs to a login session. Processes that exit during
/// the scan are simply not part of it.
///
/// The scan is spread over the CPUs (see [`par_chunks`]): reading `/proc` is system calls
/// that run in parallel in the kernel. Every process of a session has the session's login
/// uid (the kernel sets the login uid and a new session ID together, and a child inherits
/// both), so `loginuid` is read once per session rather than once per process.
pub fn scan() -> io::Result<Vec<SessionProcess>> {
    scan_where(&|_| true)
}

/// [`scan`], reading more than the session ID only of processes of sessions `keep` takes.
pub(crate) fn scan_where(
    keep: &(dyn Fn(SessionId) -> bool + Sync),
) -> io::Result<Vec<SessionProcess>> {
    let pids = procfs::pids()?;
    // Shared by the threads: a session's processes are spread over PIDs far apart (a
    // login's shell and what it started later), so its login uid is read once in the
    // scan rather than once in each chunk that holds one of its processes.
    let shared: Mutex<HashMap<SessionId, u32>> = Mutex::new(HashMap::new());
    Ok(par_chunks(&pids, SCAN_CHUNK, |chunk| {
        let mut login_uids: HashMap<SessionId, u32> = HashMap::new();
        let mut out = Vec::new();
        for &pid in chunk {
            let Some(session) = procfs::session_id(pid)
                .and_then(SessionId::from_kernel)
                .filter(|s| keep(*s))
            else {
                continue;
            };
            let Some((stat, env_range)) = procfs::stat_and_env_range(pid) else {
                continue;
            };
            let login_uid = match login_uids.get(&session) {
                Some(&uid) => uid,
                None => {
                    let known = shared
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&session)
                        .copied();
                    let Some(uid) = known.or_else(|| procfs::login_uid(pid)) else {
                        continue;
                    };
                    if known.is_none() {
                        shared
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(session, uid);
                    }
                    login_uids.insert(session, uid);
                    uid
                }
            };
            if !stat.is_dead() {
                out.push(SessionProcess {
                    session,
                    login_uid,
                    stat,
                    env_range,
                });
            }
        }
        out
    }))
}

/// How many PIDs a scanning thread takes at a time.
const SCAN_CHUNK: usize = 64;

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
pub(crate) fn live_among(
    id: SessionId,
    pids: &[Pid],
    mut keep: impl FnMut(Pid, bool),
) -> Vec<Stat> {
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

/// Opens a pidfd for the process `key` and confirms, after it is open, that it names that
/// process (same start time, alive) of session `id`. The confirmation is only about the
/// pinned process if that process is still alive *after* it: [`pin`] checks that for one
/// process, the close for a batch with one poll.
pub(crate) fn open_pin(key: ProcessKey, id: SessionId) -> Option<PinnedProcess> {
    let p = PinnedProcess::open(key.pid).ok()?;
    let same = procfs::session_id(key.pid) == Some(id.0)
        && procfs::stat(key.pid).is_some_and(|st| st.start_time == key.start_time && !st.is_dead());
    same.then_some(p)
}

/// Pins the process a scan saw as `key` by pidfd and confirms, after pinning, that it is
/// still that process of session `id`. `None` when it has exited or its PID now names
/// another process.
pub(crate) fn pin(key: ProcessKey, id: SessionId) -> Option<PinnedProcess> {
    let p = open_pin(key, id)?;
    // Alive after the check: the check read the pinned process, not a successor.
    (!p.has_exited()).then_some(p)
}

/// Maps `f` over `items` in chunks of `chunk` on up to one thread per CPU (each taking the
/// next chunk when done with one, so uneven chunks balance), and returns the results in
/// the order of `items`. Small inputs, or a thread that cannot be started, are done on
/// the calling thread.
pub(crate) fn par_chunks<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    par_chunks_counted(items, chunk, f).0
}

/// [`par_chunks`], also telling how many threads it started.
pub(crate) fn par_chunks_counted<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> (Vec<R>, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks: Vec<&[T]> = items.chunks(chunk.max(1)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(chunks.len() / 4);
    if threads <= 1 {
        return (chunks.into_iter().flat_map(&f).collect(), 0);
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = chunks.get(i) else {
                return done;
            };
            done.push((i, f(c)));
        }
    };
    let (mut parts, started) = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let started = helpers.len();
        let mut parts: Vec<(usize, Vec<R>)> = work();
        for h in helpers {
            match h.join() {
                Ok(p) => parts.extend(p),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (parts, started)
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    (parts.into_iter().flat_map(|(_, r)| r).collect(), started)
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

    #[test]
    fn connection_processes_are_sshds_of_every_version() {
        for comm in ["sshd", "sshd-session", "sshd-auth"] {
            assert!(is_connection_process(comm), "{comm}");
        }
        for comm in ["bash", "sshd-keygen", "ssh", "sshd ", ""] {
            assert!(!is_connection_process(comm), "{comm}");
        }
    }

    #[test]
    fn par_chunks_keeps_the_order() {
        let items: Vec<u32> = (0..10_000).collect();
        let out = par_chunks(&items, 7, |c| c.iter().map(|i| i * 2).collect());
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}
