//! A recording fake of [`ProcessTable`] for unit tests of the close sequence: a few
//! processes of one session, each with a [`Behaviour`], in fake time, every call recorded
//! in order. A fake is for the logic; the proof that a close works is the real-session
//! tests.

use super::table::ProcessTable;
use super::{ProcessKey, Stat};
use rustix::process::Signal;
use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};
use wms_core::Pid;

/// How a fake process answers signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Ends on SIGTERM.
    Obeys,
    /// Ends only on SIGKILL.
    IgnoresTerm,
    /// Every signal is refused with `EPERM` (another user's process, without privilege).
    Denies,
    /// Takes every signal and never ends (as a process stuck in the kernel).
    Unkillable,
    /// Ignores SIGTERM; on its first SIGSTOP a child (ignoring SIGTERM too) appears, as if
    /// it had forked just before the stop took effect.
    ForksOnStop,
    /// The scan lists it, but its PID names another process by the time it is pinned.
    Reused,
}

/// One call the close made, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Scan,
    Pin(Pid),
    Signal(Pid, &'static str),
    Wait { pins: usize, timeout: Duration },
    Sleep(Duration),
}

struct Proc {
    stat: Stat,
    behaviour: Behaviour,
    exited: bool,
}

struct State {
    procs: Vec<Proc>,
    calls: Vec<Call>,
    elapsed: Duration,
    forked: Option<Pid>,
    fail_scans: bool,
}

pub(crate) struct FakeTable {
    base: Instant,
    state: RefCell<State>,
}

fn stat(pid: i32, comm: &str) -> Stat {
    Stat {
        pid: Pid(pid),
        comm: comm.to_string(),
        state: 'S',
        ppid: Pid(1),
        pgrp: pid,
        sid: pid,
        tty_nr: 0,
        tpgid: -1,
        start_time: 1000 + pid as u64,
        cpu_ticks: 0,
        rss_pages: 0,
    }
}

impl FakeTable {
    /// A session of processes `(pid, name, behaviour)`.
    pub(crate) fn new(procs: &[(i32, &str, Behaviour)]) -> FakeTable {
        FakeTable {
            base: Instant::now(),
            state: RefCell::new(State {
                procs: procs
                    .iter()
                    .map(|&(pid, comm, behaviour)| Proc {
                        stat: stat(pid, comm),
                        behaviour,
                        exited: false,
                    })
                    .collect(),
                calls: Vec::new(),
                elapsed: Duration::ZERO,
                forked: None,
                fail_scans: false,
            }),
        }
    }

    /// From now on every scan fails.
    pub(crate) fn fail_scans(&self) {
        self.state.borrow_mut().fail_scans = true;
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.borrow().calls.clone()
    }

    /// Fake time passed.
    pub(crate) fn elapsed(&self) -> Duration {
        self.state.borrow().elapsed
    }

    /// The processes not ended.
    pub(crate) fn live(&self) -> Vec<Pid> {
        let st = self.state.borrow();
        st.procs
            .iter()
            .filter(|p| !p.exited)
            .map(|p| p.stat.pid)
            .collect()
    }

    /// The child a [`Behaviour::ForksOnStop`] process forked.
    pub(crate) fn forked(&self) -> Option<Pid> {
        self.state.borrow().forked
    }
}

impl ProcessTable for &FakeTable {
    type Pin = ProcessKey;

    fn scan(&mut self) -> io::Result<Vec<Stat>> {
        let mut st = self.state.borrow_mut();
        st.calls.push(Call::Scan);
        // A scan of /proc takes time: without this a loop of scans would never see its
        // deadline pass.
        st.elapsed += Duration::from_millis(1);
        if st.fail_scans {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        let mut live: Vec<Stat> = st
            .procs
            .iter()
            .filter(|p| !p.exited)
            .map(|p| p.stat.clone())
            .collect();
        live.sort_by_key(|s| s.pid);
        Ok(live)
    }

    fn pin(&mut self, key: ProcessKey) -> Option<ProcessKey> {
        let mut st = self.state.borrow_mut();
        st.calls.push(Call::Pin(key.pid));
        st.procs
            .iter()
            .find(|p| ProcessKey::from(&p.stat) == key)
            .filter(|p| !p.exited && p.behaviour != Behaviour::Reused)
            .map(|_| key)
    }

    fn signal(&mut self, pin: &ProcessKey, sig: Signal) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        st.calls
            .push(Call::Signal(pin.pid, super::table::signal_name(sig)));
        let next_pid = st.procs.iter().map(|p| p.stat.pid.0).max().unwrap_or(0) + 1;
        let first_fork = st.forked.is_none();
        let Some(p) = st
            .procs
            .iter_mut()
            .find(|p| ProcessKey::from(&p.stat) == *pin)
        else {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        };
        if p.exited {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        match (p.behaviour, sig) {
            (Behaviour::Denies, _) => return Err(io::Error::from_raw_os_error(libc::EPERM)),
            (Behaviour::Unkillable | Behaviour::Reused, _) => {}
            (Behaviour::Obeys, Signal::TERM) => p.exited = true,
            (_, Signal::KILL) => p.exited = true,
            (Behaviour::ForksOnStop, Signal::STOP) if first_fork => {
                let mut child = stat(next_pid, "forked");
                child.ppid = pin.pid;
                st.forked = Some(child.pid);
                st.procs.push(Proc {
                    stat: child,
                    behaviour: Behaviour::IgnoresTerm,
                    exited: false,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn wait_any_exit(&mut self, pins: &[&ProcessKey], timeout: Duration) -> io::Result<Vec<usize>> {
        let mut st = self.state.borrow_mut();
        st.calls.push(Call::Wait {
            pins: pins.len(),
            timeout,
        });
        let exited: Vec<usize> = pins
            .iter()
            .enumerate()
            .filter(|(_, k)| {
                st.procs
                    .iter()
                    .find(|p| ProcessKey::from(&p.stat) == ***k)
                    .is_none_or(|p| p.exited)
            })
            .map(|(i, _)| i)
            .collect();
        if exited.is_empty() {
            // Nothing ends while we wait: the whole timeout passes.
            st.elapsed += timeout;
        }
        Ok(exited)
    }

    fn now(&self) -> Instant {
        self.base + self.state.borrow().elapsed
    }

    fn sleep(&mut self, d: Duration) {
        let mut st = self.state.borrow_mut();
        st.calls.push(Call::Sleep(d));
        st.elapsed += d;
    }
}
