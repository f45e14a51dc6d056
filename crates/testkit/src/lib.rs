//! Test fixtures for wms: real Linux login sessions opened through a real OpenSSH `sshd`.
//!
//! wms manages kernel audit sessions (`/proc/PID/sessionid`), which PAM's `pam_loginuid`
//! assigns at each login. To test that for real, this crate:
//!
//! - creates fixed test users on demand ([`user`], [`ensure_user`]), idempotently and under a
//!   machine-wide file lock (`/run/wms-testkit.lock`) so parallel test processes agree;
//! - runs a private `sshd` on a free port of 127.0.0.1 with its own host key, client key and
//!   `authorized_keys` ([`Sshd`]);
//! - opens sessions with the real `ssh` client, with a terminal (`ssh -tt` whose local side is
//!   a pseudo-terminal owned by this kit, so a test reads the client's screen as a user would)
//!   or without one ([`Sshd::open_session`], [`Sshd::run`]);
//! - starts real X desktops (`Xvfb` with `openbox`) inside such sessions ([`Desktop`]);
//! - drives a real headless `chromium` through `playwright-core` ([`Browser`]);
//! - observes sessions the way the operating system shows them ([`session_pids`],
//!   [`wait_session_gone`]).
//!
//! Everything here must run as root, and is safe to use from many test processes at once.
//! Processes are only ever signalled by a PID this kit started, or by membership in a
//! session this kit opened; never by name.
//!
//! Every remote command is preceded by a marker line, `WMS-SESSION=<id> WMS-PID=<pid>`,
//! printed by the remote login shell before it `exec`s the command; the kit reads it to
//! learn the session id (and the PID of the remote command).

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::FlockOperation;
use rustix::process::{Pid, Signal};

// The generator forks and runs raw system calls in the child (test code; each unsafe
// block says why it is sound).
#[allow(unsafe_code)]
pub mod gen;

mod browser;
mod desktop;
mod files;
mod output;
mod processes;
mod sandbox;
mod sessions;
mod sshd;
mod users;
mod xrdp;
mod xwindow;

pub use browser::*;
pub use desktop::*;
pub use files::*;
use output::*;
pub use processes::*;
pub use sandbox::*;
pub use sessions::*;
pub use sshd::*;
pub use users::*;
pub use xrdp::*;
pub use xwindow::{InputEvent, Screenshot, TestWindow, WindowSpec};

/// The machine-wide lock file serialising user creation and the binary cache.
pub const LOCK_PATH: &str = "/run/wms-testkit.lock";
/// The directory under which this kit keeps its temporary files (mode 0755).
pub const TMP_ROOT: &str = "/tmp/wms-testkit";
/// The group whose members are wms operators ([`Role::Operator`]).
pub const OPERATORS_GROUP: &str = "wms-operators";
/// The administrator group the admin test user belongs to ([`Role::Admin`]).
pub const ADMIN_GROUP: &str = "sudo";
/// The audit session id of processes outside any login session.
pub const NO_SESSION: u32 = u32::MAX;

/// The prefix of the marker line the remote side prints before running a command.
pub(crate) const MARKER: &str = "WMS-SESSION=";
/// Temporary entries older than this are pruned (they belong to dead test processes).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(12 * 3600);
/// How long [`Sshd::open_session`] waits for the session marker.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`Sshd::run`] waits for the command to finish.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Sshd::start`] waits for sshd to listen.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sshd>();
        send_sync::<SshSession>();
        send_sync::<TestUser>();
    }
}
