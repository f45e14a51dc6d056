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
//! The sequence runs against a [`ProcessTable`]: the kernel's in production, whose scans
//! follow process events where they can (see [`crate::process::follow`]), and a recording
//! fake in the unit tests below.

use crate::process::follow::CloseCache;
use crate::process::table::{Kernel, ProcessTable};
use crate::process::{ProcessKey, Stat};
use rustix::process::Signal;
use std::collections::{HashMap, HashSet};
use std::io;
use std::time::Duration;
use wms_core::{Pid, SessionId};

/// What a successful close did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CloseReport {
    /// Processes that were sent SIGTERM.
    pub(crate) terminated: usize,
    /// Processes that had to be killed.
    pub(crate) killed: usize,
}

/// Why a close did not end every process of the session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloseError {
    /// The session's processes could not be listed.
    #[error("cannot read /proc: {0}")]
    Scan(#[source] io::Error),
    /// Processes were still running when the deadline passed.
    #[error("{}", survivors_message(.survivors, *.denied))]
    Survivors {
        /// Every process still running: PID and name.
        survivors: Vec<(Pid, String)>,
        /// Whether a signal to one of them was refused (EPERM).
        denied: bool,
    },
}

fn survivors_message(live: &[(Pid, String)], denied: bool) -> String {
    let names: Vec<String> = live
        .iter()
        .take(5)
        .map(|(pid, comm)| format!("{pid} ({comm})"))
        .collect();
    let more = if live.len() > 5 {
        format!(" and {} more", live.len() - 5)
    } else {
        String::new()
    };
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

/// Closes session `id` of the last listing of `cache`: every process of it ends,
/// gracefully within `grace`, else by force. The processes are found by following process
/// events where possible (see [`CloseCache`]).
pub(crate) fn close_listed(
    cache: &CloseCache,
    id: SessionId,
    grace: Duration,
    kill_deadline: Duration,
) -> Result<CloseReport, CloseError> {
    let table = Kernel {
        session: id,
        scan: cache.scans_of(id),
    };
    close_with(table, id, grace, kill_deadline)
}

struct Tracked<P> {
    pin: P,
    /// When it was pinned, in order (see `wait_all`).
    seq: u64,
    comm: String,
    stopped: bool,
    killed: bool,
    denied: bool,
}

struct Closer<T: ProcessTable> {
    table: T,
    tracked: HashMap<ProcessKey, Tracked<T::Pin>>,
    /// How many processes were pinned so far.
    pinned: u64,
    report: CloseReport,
}

impl<T: ProcessTable> Closer<T> {
    fn scan(&mut self) -> Result<Vec<Stat>, CloseError> {
        self.table.scan().map_err(CloseError::Scan)
    }

    fn send(&mut self, key: ProcessKey, sig: Signal) {
        if let Some(t) = self.tracked.get_mut(&key) {
            match self.table.signal(&t.pin, sig) {
                Ok(()) => {
                    tracing::debug!(pid = key.pid.0, comm = %t.comm, signal = crate::process::table::signal_name(sig), "signalled")
                }
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => t.denied = true,
                // ESRCH: it has just exited, which is what we want.
                Err(_) => {}
            }
        }
    }

    /// Pins the processes of `live` not yet tracked; returns their keys.
    ///
    /// As `process::pin` does one by one, but with one poll for the whole batch: each
    /// process is pinned, then checked, and only those still alive at the poll, after
    /// their check, are kept, so every check was about the pinned process.
    fn track_new(&mut self, live: &[Stat]) -> Vec<ProcessKey> {
        let mut candidates: Vec<(ProcessKey, T::Pin, &Stat)> = Vec::new();
        for s in live {
            let key = ProcessKey::from(s);
            if self.tracked.contains_key(&key) {
                continue;
            }
            if let Some(p) = self.table.pin(key) {
                candidates.push((key, p, s));
            }
        }
        let exited: HashSet<usize> = {
            let pins: Vec<&T::Pin> = candidates.iter().map(|(_, p, _)| p).collect();
            match self.table.wait_any_exit(&pins, Duration::ZERO) {
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
        let keys: Vec<ProcessKey> = self.tracked.keys().copied().collect();
        let pins: Vec<&T::Pin> = keys.iter().map(|k| &self.tracked[k].pin).collect();
        let exited: Vec<usize> = match self.table.wait_any_exit(&pins, Duration::ZERO) {
            Ok(v) => v,
            // An error polling: ask each one (an error again counts as exited).
            Err(_) => (0..keys.len())
                .filter(|&i| {
                    self.table
                        .wait_any_exit(&[pins[i]], Duration::ZERO)
                        .map_or(true, |v| !v.is_empty())
                })
                .collect(),
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
        let end = self.table.now() + timeout;
        loop {
            self.forget_exited();
            let now = self.table.now();
            if self.tracked.is_empty() || now >= end {
                return;
            }
            if let Some(last) = self.tracked.values().max_by_key(|t| t.seq) {
                // An error here only shortens the wait; the next look tells the truth.
                let _ = self.table.wait_any_exit(&[&last.pin], end - now);
            }
        }
    }

    fn failure(&self, live: &[Stat]) -> CloseError {
        CloseError::Survivors {
            survivors: live.iter().map(|s| (s.pid, s.comm.clone())).collect(),
            denied: self.tracked.values().any(|t| t.denied),
        }
    }
}

/// The close of session `id` against `table`.
fn close_with<T: ProcessTable>(
    table: T,
    id: SessionId,
    grace: Duration,
    kill_deadline: Duration,
) -> Result<CloseReport, CloseError> {
    let mut c = Closer {
        table,
        tracked: HashMap::new(),
        pinned: 0,
        report: CloseReport::default(),
    };
    let grace_end = c.table.now() + grace;
    let mut tick = Duration::from_millis(5);
    // Graceful phase.
    loop {
        let live = c.scan()?;
        if live.is_empty() {
            return Ok(c.report);
        }
        c.forget_exited();
        for key in c.track_new(&live) {
            c.report.terminated += 1;
            c.send(key, Signal::TERM);
            c.send(key, Signal::CONT);
        }
        let now = c.table.now();
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
    let kill_end = c.table.now() + kill_deadline;
    loop {
        // Freeze: stop every process until a scan finds none that is not stopped.
        loop {
            let live = c.scan()?;
            c.track_new(&live);
            let mut stopped_now = 0;
            for s in &live {
                let key = ProcessKey::from(s);
                if c.tracked.get(&key).is_some_and(|t| !t.stopped) {
                    c.send(key, Signal::STOP);
                    if let Some(t) = c.tracked.get_mut(&key) {
                        t.stopped = true;
                    }
                    stopped_now += 1;
                }
            }
            if stopped_now == 0 || c.table.now() >= kill_end {
                break;
            }
        }
        let keys: Vec<ProcessKey> = c.tracked.keys().copied().collect();
        for key in keys {
            c.send(key, Signal::KILL);
            if let Some(t) = c.tracked.get_mut(&key).filter(|t| !t.killed) {
                t.killed = true;
                c.report.killed += 1;
            }
        }
        let left = kill_end.saturating_duration_since(c.table.now());
        c.wait_all(Duration::from_millis(500).min(left));
        let live = c.scan()?;
        if live.is_empty() {
            return Ok(c.report);
        }
        if c.table.now() >= kill_end {
            return Err(c.failure(&live));
        }
        // Survivors: newcomers or processes we may not signal; go round again.
        for t in c.tracked.values_mut() {
            t.stopped = false;
        }
        c.table.sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::fake::{Behaviour::*, Call, FakeTable};

    const GRACE: Duration = Duration::from_secs(2);
    const DEADLINE: Duration = Duration::from_secs(3);

    fn signals_to(t: &FakeTable, pid: i32) -> Vec<&'static str> {
        t.calls()
            .iter()
            .filter_map(|c| match c {
                Call::Signal(p, s) if p.0 == pid => Some(*s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn all_exit_in_the_grace_period() {
        let t = FakeTable::new(&[(10, "bash", Obeys), (11, "sleep", Obeys)]);
        let report = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap();
        assert_eq!(
            report,
            CloseReport {
                terminated: 2,
                killed: 0
            }
        );
        for pid in [10, 11] {
            assert_eq!(signals_to(&t, pid), ["SIGTERM", "SIGCONT"], "{pid}");
        }
        // Each process pinned before it was signalled, and nothing frozen or killed.
        let calls = t.calls();
        let pinned = calls.iter().position(|c| *c == Call::Pin(Pid(10))).unwrap();
        let termed = calls
            .iter()
            .position(|c| *c == Call::Signal(Pid(10), "SIGTERM"))
            .unwrap();
        assert!(pinned < termed, "{calls:?}");
        assert!(t.elapsed() < GRACE, "{:?}", t.elapsed());
        assert!(t.live().is_empty());
    }

    #[test]
    fn processes_that_ignore_sigterm_are_frozen_then_killed_after_the_grace_period() {
        let t = FakeTable::new(&[(10, "bash", Obeys), (20, "stubborn", IgnoresTerm)]);
        let report = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap();
        assert_eq!(
            report,
            CloseReport {
                terminated: 2,
                killed: 1
            }
        );
        assert_eq!(signals_to(&t, 10), ["SIGTERM", "SIGCONT"]);
        assert_eq!(
            signals_to(&t, 20),
            ["SIGTERM", "SIGCONT", "SIGSTOP", "SIGKILL"]
        );
        // The force waited for the grace period, no longer.
        assert!(t.elapsed() >= GRACE && t.elapsed() < GRACE + DEADLINE);
        assert!(t.live().is_empty());
    }

    #[test]
    fn a_fork_during_the_freeze_is_frozen_and_killed_too() {
        let t = FakeTable::new(&[(20, "forker", ForksOnStop)]);
        let report = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap();
        let child = t.forked().expect("the fake forked");
        // The child was never seen in the graceful phase: frozen, then killed.
        assert_eq!(signals_to(&t, child.0), ["SIGSTOP", "SIGKILL"]);
        assert_eq!(
            signals_to(&t, 20),
            ["SIGTERM", "SIGCONT", "SIGSTOP", "SIGKILL"]
        );
        // The freeze scanned again after the stop that let the child in, before killing.
        let calls = t.calls();
        let child_stop = calls
            .iter()
            .position(|c| *c == Call::Signal(child, "SIGSTOP"))
            .unwrap();
        let first_kill = calls
            .iter()
            .position(|c| matches!(c, Call::Signal(_, "SIGKILL")))
            .unwrap();
        assert!(child_stop < first_kill, "{calls:?}");
        assert_eq!(
            report,
            CloseReport {
                terminated: 1,
                killed: 2
            }
        );
        assert!(t.live().is_empty());
    }

    #[test]
    fn eperm_on_a_process_fails_naming_it_and_the_remedy() {
        let t = FakeTable::new(&[(10, "bash", Obeys), (30, "setuid-thing", Denies)]);
        let err = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 process is of the session still running after SIGKILL: 30 (setuid-thing); \
             permission to signal them was denied: run wms as root or through wmsd"
        );
        assert!(t.elapsed() >= GRACE + DEADLINE);
        assert_eq!(t.live(), [Pid(30)]);
    }

    #[test]
    fn a_deadline_passed_with_survivors_fails_naming_them() {
        let procs: Vec<(i32, &str, _)> = (40..47).map(|p| (p, "stuck", Unkillable)).collect();
        let t = FakeTable::new(&procs);
        let err = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap_err();
        assert!(
            matches!(&err, CloseError::Survivors { survivors, denied: false } if survivors.len() == 7),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "7 processes are of the session still running after SIGKILL: 40 (stuck), \
             41 (stuck), 42 (stuck), 43 (stuck), 44 (stuck) and 2 more"
        );
        // It kept trying until the deadline, no longer than a round past it.
        let e = t.elapsed();
        assert!(e >= GRACE + DEADLINE && e < GRACE + DEADLINE + Duration::from_secs(1));
        // Each was killed more than once (every round), and counted once.
        assert!(
            signals_to(&t, 40)
                .iter()
                .filter(|s| **s == "SIGKILL")
                .count()
                > 1
        );
    }

    #[test]
    fn a_pid_reused_before_it_was_pinned_is_never_signalled() {
        let t = FakeTable::new(&[(10, "bash", Obeys), (50, "other", Reused)]);
        // The scan still lists it (a stale view), the pin refuses it: no signal, ever.
        let _ = close_with(&t, SessionId(1), GRACE, Duration::from_millis(100));
        assert!(signals_to(&t, 50).is_empty(), "{:?}", t.calls());
        assert_eq!(signals_to(&t, 10), ["SIGTERM", "SIGCONT"]);
    }

    #[test]
    fn a_scan_that_fails_says_so() {
        let t = FakeTable::new(&[]);
        t.fail_scans();
        let err = close_with(&t, SessionId(1), GRACE, DEADLINE).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /proc: "), "{err}");
    }
}
