//! The seam between the close sequence and the kernel's process table (youki's `Syscall`
//! trait is the model): what a close needs of the kernel, and nothing more. [`Kernel`] is
//! the real thing; the recording fake in `process::fake` lets unit tests drive every path
//! of the sequence (grace, freeze, kill, EPERM, deadlines) call by call and in fake time.
//! The proof that a close works stays the tests against real sessions.

use super::{open_pin, ProcessKey, Stat};
use crate::sys::{wait_any_exit, PinnedProcess};
use rustix::process::Signal;
use std::io;
use std::time::{Duration, Instant};
use wms_core::SessionId;

/// The process table of one session, as a close sees it.
pub(crate) trait ProcessTable {
    /// A process held so that signals reach it and no successor with its PID.
    type Pin;

    /// The live processes of the session now (never the calling process).
    fn scan(&mut self) -> io::Result<Vec<Stat>>;

    /// Pins `key` and confirms, after pinning, that it is still that process of the
    /// session; `None` when it is gone or its PID names another process. Whether it was
    /// still alive after the confirmation is for the caller to ask ([`Self::wait_any_exit`]
    /// with no timeout), for a whole batch at once.
    fn pin(&mut self, key: ProcessKey) -> Option<Self::Pin>;

    /// Sends `sig` to the pinned process (an error such as `EPERM` or `ESRCH` as is).
    fn signal(&mut self, pin: &Self::Pin, sig: Signal) -> io::Result<()>;

    /// Waits up to `timeout` until at least one of `pins` has exited; the indexes of
    /// those that have. With no pins it just waits.
    fn wait_any_exit(&mut self, pins: &[&Self::Pin], timeout: Duration) -> io::Result<Vec<usize>>;

    /// The time the close measures its grace period and deadline by.
    fn now(&self) -> Instant;

    fn sleep(&mut self, d: Duration);
}

/// The kernel's process table, the processes of session `session` found by `scan`
/// (a scan of `/proc`, or the process follower of [`super::follow`]), pinned by pidfd.
pub(crate) struct Kernel<S> {
    pub(crate) session: SessionId,
    pub(crate) scan: S,
}

impl<S: FnMut() -> io::Result<Vec<Stat>>> ProcessTable for Kernel<S> {
    type Pin = PinnedProcess;

    fn scan(&mut self) -> io::Result<Vec<Stat>> {
        (self.scan)()
    }

    fn pin(&mut self, key: ProcessKey) -> Option<PinnedProcess> {
        open_pin(key, self.session)
    }

    fn signal(&mut self, pin: &PinnedProcess, sig: Signal) -> io::Result<()> {
        pin.signal(sig)
    }

    fn wait_any_exit(
        &mut self,
        pins: &[&PinnedProcess],
        timeout: Duration,
    ) -> io::Result<Vec<usize>> {
        wait_any_exit(pins, timeout)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The name of a signal the close sequence sends, for logs and the fake's record.
pub(crate) fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::TERM => "SIGTERM",
        Signal::CONT => "SIGCONT",
        Signal::STOP => "SIGSTOP",
        Signal::KILL => "SIGKILL",
        _ => "other",
    }
}
