//! Where a session is disconnected (SPEC section 4): its connection ends and its programs
//! stay. For an ssh session that means ending the session's sshd processes, which hold
//! the connection and the terminal; the shell then gets its hangup, and programs made to
//! outlive their terminal (tmux, screen, nohup) keep running, so the session lists as
//! Disconnected. For an xrdp desktop it means ending the xrdp process that serves its RDP
//! client: the X server and everything on it keep running, and xrdp gives the desktop back
//! at the user's next login. Other kinds of session are NotSupported, never a pretend
//! success.

use crate::process::{is_connection_process, pin, scan_session, ProcessKey};
use crate::sys::{wait_any_exit, PinnedProcess};
use crate::xrdp;
use rustix::process::Signal;
use std::io;
use std::time::{Duration, Instant};
use wms_core::{Pid, SessionId};

/// What a disconnect found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disconnected {
    /// The connection was ended.
    Now,
    /// The session had no connection left.
    Already,
}

/// Ends the ssh connection of session `id`. `remote` says whether the session came in
/// over ssh (a session without sshd processes is then already disconnected).
pub(crate) fn disconnect(
    id: SessionId,
    remote: bool,
    service: Option<&str>,
) -> Result<Disconnected, DisconnectError> {
    if service == Some(xrdp::SERVICE) {
        return disconnect_xrdp(id);
    }
    let sshd: Vec<PinnedProcess> = scan_session(id)
        .map_err(DisconnectError::Scan)?
        .iter()
        .filter(|p| is_connection_process(&p.comm))
        .filter_map(|p| pin(ProcessKey::from(p), id))
        .collect();
    if sshd.is_empty() {
        return if remote {
            Ok(Disconnected::Already)
        } else {
            Err(DisconnectError::Local {
                service: service.map(str::to_string),
            })
        };
    }
    // sshd's monitor ends its connection and its child on SIGTERM.
    end(&sshd)
}

/// Ends the xrdp process that serves the RDP client of xrdp's session `id`.
///
/// That process is not in the session (xrdp forks it as root for the connection, outside
/// every audit session), so it is chosen by what the kernel vouches for, not by name or
/// parentage: it holds the peer of an accepted connection on the `xrdp_display_*` socket of
/// one of the session's own processes (its X server), and it is a root `xrdp` process
/// outside every audit session (see [`xrdp::connections`]). Another session's xrdp process
/// holds the peer of that session's X server, never of this one's. After it is pinned by
/// pidfd the choice is made again: only a pinned process that is still the same process
/// (PID and start time) serving this session is signalled.
fn disconnect_xrdp(id: SessionId) -> Result<Disconnected, DisconnectError> {
    let serving = || -> Result<Vec<xrdp::Connection>, DisconnectError> {
        let pids: Vec<Pid> = scan_session(id)
            .map_err(DisconnectError::Scan)?
            .iter()
            .map(|p| p.pid)
            .collect();
        // xrdp's processes are root's: another caller cannot tell which one serves it.
        let mut all = xrdp::connections(&[(id, pids)]).map_err(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                DisconnectError::Denied
            } else {
                DisconnectError::Scan(e)
            }
        })?;
        Ok(all.remove(&id).unwrap_or_default())
    };
    let found = serving()?;
    if found.is_empty() {
        return Ok(Disconnected::Already);
    }
    if found.iter().any(|c| c.shared) {
        return Err(DisconnectError::SharedXrdp);
    }
    let pinned: Vec<(ProcessKey, PinnedProcess)> = found
        .iter()
        .filter_map(|c| {
            let p = PinnedProcess::open(c.pid).ok()?;
            let key = ProcessKey {
                pid: c.pid,
                start_time: c.start_time,
            };
            Some((key, p))
        })
        .collect();
    let again = serving()?;
    let confirmed: Vec<PinnedProcess> = pinned
        .into_iter()
        .filter(|(key, _)| {
            again
                .iter()
                .any(|c| c.pid == key.pid && c.start_time == key.start_time && !c.shared)
        })
        .map(|(_, p)| p)
        // Alive after the second look: it read the pinned process, not a successor.
        .filter(|p| !p.has_exited())
        .collect();
    if confirmed.is_empty() {
        return Ok(Disconnected::Already);
    }
    // xrdp's connection process closes the client's connection and exits on SIGTERM.
    end(&confirmed)
}

/// Ends the connection processes `procs`: SIGTERM, then SIGKILL to those left after a
/// while.
fn end(procs: &[PinnedProcess]) -> Result<Disconnected, DisconnectError> {
    let mut denied = false;
    for p in procs {
        if let Err(e) = p.signal(Signal::TERM) {
            denied |= e.raw_os_error() == Some(libc::EPERM);
        }
    }
    let end = Instant::now() + Duration::from_secs(3);
    let mut left: Vec<&PinnedProcess> = procs.iter().collect();
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
        Err(DisconnectError::Denied)
    } else {
        Err(DisconnectError::Survived(left.len()))
    }
}

/// Why a session was not disconnected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DisconnectError {
    /// A local session: there is no connection to end (NotSupported, not a failure).
    #[error(
        "it is a local session{}, not a remote connection; wms can disconnect only ssh and xrdp sessions",
        .service.as_ref().map(|s| format!(" opened by {s}")).unwrap_or_default()
    )]
    Local { service: Option<String> },
    #[error("cannot read /proc: {0}")]
    Scan(#[source] io::Error),
    #[error(
        "permission to end its connection processes was denied: run wms as root or through wmsd"
    )]
    Denied,
    #[error(
        "its xrdp process also serves other desktops or listens for new connections (xrdp \
         runs with fork=false); ending it would disconnect more than this session: set \
         fork=true in xrdp.ini"
    )]
    SharedXrdp,
    #[error("{0} connection process(es) of the session did not end")]
    Survived(usize),
}

impl DisconnectError {
    /// Whether the session is of a kind that cannot be disconnected at all (NotSupported),
    /// rather than one whose disconnect failed.
    pub(crate) fn is_not_supported(&self) -> bool {
        matches!(
            self,
            DisconnectError::Local { .. } | DisconnectError::SharedXrdp
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened_and_what_to_do() {
        let local = DisconnectError::Local {
            service: Some("login".into()),
        };
        assert!(local.is_not_supported());
        assert_eq!(
            local.to_string(),
            "it is a local session opened by login, not a remote connection; wms can disconnect only ssh and xrdp sessions"
        );
        assert_eq!(
            DisconnectError::Local { service: None }.to_string(),
            "it is a local session, not a remote connection; wms can disconnect only ssh and xrdp sessions"
        );
        assert!(!DisconnectError::Denied.is_not_supported());
        assert!(DisconnectError::SharedXrdp.is_not_supported());
        assert!(DisconnectError::SharedXrdp
            .to_string()
            .contains("set fork=true in xrdp.ini"));
        assert_eq!(
            DisconnectError::Survived(2).to_string(),
            "2 connection process(es) of the session did not end"
        );
    }
}
