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

use crate::procfs::{self, Stat};
use crate::sys::{wait_any_exit, PinnedProcess};
use rustix::process::Signal;
use std::collections::HashMap;
use std::io;
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
    let mut out = Vec::new();
    for pid in procfs::pids()? {
        if pid == me || procfs::session_id(pid) != Some(id.0) {
            continue;
        }
        if let Some(st) = procfs::stat(pid).filter(|s| !s.is_dead()) {
            out.push(st);
        }
    }
    Ok(out)
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
    fn track_new(&mut self, live: &[Stat]) -> Vec<Key> {
        let mut new = Vec::new();
        for s in live {
            let key = (s.pid, s.start_time);
            if self.tracked.contains_key(&key) {
                continue;
            }
            if let Some(pin) = pin(s.pid, s.start_time, self.id) {
                self.tracked.insert(
                    key,
                    Tracked {
                        pin,
                        comm: s.comm.clone(),
                        stopped: false,
                        killed: false,
                        denied: false,
                    },
                );
                new.push(key);
            }
        }
        new
    }

    fn forget_exited(&mut self) {
        self.tracked.retain(|_, t| !t.pin.has_exited());
    }

    /// Waits up to `timeout` for a tracked process to exit.
    fn wait(&self, timeout: Duration) {
        let pins: Vec<&PinnedProcess> = self.tracked.values().map(|t| &t.pin).collect();
        if pins.is_empty() {
            return;
        }
        // An error here only shortens the wait; the next scan tells the truth.
        let _ = wait_any_exit(&pins, timeout);
    }

    /// Waits up to `timeout` until every tracked process has exited.
    fn wait_all(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        loop {
            self.forget_exited();
            let now = Instant::now();
            if self.tracked.is_empty() || now >= end {
                return;
            }
            self.wait(end - now);
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
    let scan = || scan_session(id).map_err(|e| format!("cannot read /proc: {e}"));
    let mut c = Closer {
        id,
        tracked: HashMap::new(),
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
        c.wait(tick.min(grace_end - now));
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
