//! Who is on the other end of the agent's Unix socket, from what the kernel vouches for
//! at `connect` time only: the user and primary group (`SO_PEERCRED`), the supplementary
//! groups (`SO_PEERGROUPS`) and the process that connected (`SO_PEERPIDFD`).
//!
//! Why this matters: a PID read from `SO_PEERCRED` and looked up in `/proc` later names
//! whatever process has that PID *then*. A caller that connects, hands the socket to a
//! child and exits lets its PID be reused, by another user's process, say an
//! administrator's, whose groups and session a later lookup would take for the caller's.
//! So the role comes from the credentials the kernel recorded at connect time, never
//! from `/proc`, and the one thing `/proc` is still asked (the caller's own audit
//! session, which only protects the caller) is read while the process is pinned by its
//! pidfd and checked to be the process that connected. When that cannot be shown, the
//! caller is not identified at all: fail closed.

use crate::procfs;
use crate::sys;
use rustix::fd::{AsFd, OwnedFd};
use std::io;
use wms_core::{Pid, SessionId, Uid};

/// The caller on a Unix socket, as the kernel vouched for it when it connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The process that connected (in the agent's PID namespace).
    pub pid: Pid,
    pub uid: Uid,
    /// Its primary group, then its supplementary groups.
    pub gids: Vec<u32>,
    /// The audit session the connecting process was in; `None` for a process outside
    /// any login session (a daemon).
    pub own_session: Option<SessionId>,
}

/// Why a peer could not be identified; each refuses the caller.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the kernel gave no credentials for the peer: {0}")]
    Credentials(#[source] io::Error),
    #[error("the kernel gave no groups for the peer: {0}")]
    Groups(#[source] io::Error),
    #[error("the kernel gave no process for the peer: {0}")]
    Process(#[source] io::Error),
    #[error("the process that connected (PID {0}) is gone, so its session cannot be told")]
    Gone(Pid),
}

/// The credentials of the peer of the connected Unix socket `sock`.
pub fn unix_peer(sock: impl AsFd) -> Result<PeerCredentials, PeerError> {
    let sock = sock.as_fd();
    let cred = rustix::net::sockopt::socket_peercred(sock)
        .map_err(|e| PeerError::Credentials(e.into()))?;
    let pid = Pid(cred.pid.as_raw_nonzero().get());
    let mut gids = vec![cred.gid.as_raw()];
    gids.extend(sys::peer::peer_groups(sock).map_err(PeerError::Groups)?);
    let pidfd = sys::peer::peer_pidfd(sock).map_err(PeerError::Process)?;
    let own_session = session_of(pid, pidfd.as_ref())?;
    Ok(PeerCredentials {
        pid,
        uid: Uid(cred.uid.as_raw()),
        gids,
        own_session,
    })
}

/// The audit session of the process that connected.
///
/// With a pidfd (Linux 6.5+): read `/proc/PID`, then check that the pinned process has
/// not exited; while it lives its PID cannot name another process, so what was read is
/// its own. Without one: the process read must be the same one before and after the
/// read (its start time) and alive. That leaves a narrow race on old kernels (the peer
/// exits and its PID is reused between connect and accept), and only for the caller's
/// own session, which protects nobody but the caller; the role never depends on it.
fn session_of(pid: Pid, pidfd: Option<&OwnedFd>) -> Result<Option<SessionId>, PeerError> {
    let before = procfs::stat(pid).ok_or(PeerError::Gone(pid))?;
    let session = procfs::session_id(pid).ok_or(PeerError::Gone(pid))?;
    match pidfd {
        Some(fd) => {
            if sys::pidfd_has_exited(fd.as_fd()) {
                return Err(PeerError::Gone(pid));
            }
        }
        None => {
            let after = procfs::stat(pid).ok_or(PeerError::Gone(pid))?;
            if after.start_time != before.start_time || after.is_dead() {
                return Err(PeerError::Gone(pid));
            }
        }
    }
    Ok(SessionId::from_kernel(session))
}
