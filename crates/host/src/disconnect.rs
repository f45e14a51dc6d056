//! Where a session is disconnected (SPEC section 4): its connection ends and its programs
//! stay. For an ssh session that means ending the session's sshd processes, which hold
//! the connection and the terminal; the shell then gets its hangup, and programs made to
//! outlive their terminal (tmux, screen, nohup) keep running, so the session lists as
//! Disconnected. Other kinds of session are NotSupported, never a pretend success.

use crate::close::{pin, scan_session};
use crate::sys::{wait_any_exit, PinnedProcess};
use rustix::process::Signal;
use std::time::{Duration, Instant};
use wms_core::SessionId;

/// What a disconnect found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnected {
    /// The connection was ended.
    Now,
    /// The session had no connection left.
    Already,
}

fn is_sshd(comm: &str) -> bool {
    matches!(comm, "sshd" | "sshd-session" | "sshd-auth")
}

/// Ends the ssh connection of session `id`. `remote` says whether the session came in
/// over ssh (a session without sshd processes is then already disconnected).
pub fn disconnect(
    id: SessionId,
    remote: bool,
    service: Option<&str>,
) -> Result<Disconnected, DisconnectError> {
    let scan =
        || scan_session(id).map_err(|e| DisconnectError::Failed(format!("cannot read /proc: {e}")));
    let sshd: Vec<PinnedProcess> = scan()?
        .into_iter()
        .filter(|p| is_sshd(&p.comm))
        .filter_map(|p| pin(p.pid, p.start_time, id))
        .collect();
    if sshd.is_empty() {
        return if remote {
            Ok(Disconnected::Already)
        } else {
            Err(DisconnectError::NotSupported(format!(
                "it is a local session{}, not a remote connection; wms can disconnect only ssh sessions",
                service.map(|s| format!(" opened by {s}")).unwrap_or_default()
            )))
        };
    }
    // sshd's monitor ends its connection and its child on SIGTERM.
    let mut denied = false;
    for p in &sshd {
        if let Err(e) = p.signal(Signal::TERM) {
            denied |= e.raw_os_error() == Some(libc::EPERM);
        }
    }
    let end = Instant::now() + Duration::from_secs(3);
    let mut left: Vec<&PinnedProcess> = sshd.iter().collect();
    while !left.is_empty() && Instant::now() < end {
        let _ = wait_any_exit(&left, Duration::from_millis(50));
        left.retain(|p| !p.has_exited());
    }
    for p in &left {
        let _ = p.signal(Signal::KILL);
    }
    let end = Instant::now() + Duration::from_secs(2);
    while !left.is_empty() && Instant::now() < end {
        let _ = wait_any_exit(&left, Duration::from_millis(50));
        left.retain(|p| !p.has_exited());
    }
    if left.is_empty() {
        Ok(Disconnected::Now)
    } else if denied {
        Err(DisconnectError::Failed(
            "permission to end its sshd processes was denied: run wms as root or through wmsd"
                .into(),
        ))
    } else {
        Err(DisconnectError::Failed(format!(
            "{} sshd process(es) of the session did not end",
            left.len()
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectError {
    NotSupported(String),
    Failed(String),
}
