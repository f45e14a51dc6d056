//! Where an X11 desktop session is locked and unlocked (SPEC section 4).
//!
//! A desktop lock is held by two root processes outside every audit session (so no
//! `close`, not even `--all`, reaches them, and the user cannot signal them): the
//! *locker*, which covers every monitor with a window above all others showing the
//! message and holds the keyboard and pointer grabs, and its *keeper*. Each watches the
//! other through a pidfd and starts it again at once if it dies, for as long as the lock
//! record in the state directory stands. Unlock removes the record: the locker then
//! ungrabs and takes its windows away, and both exit. They are hidden subcommands of the
//! wms binaries (`/proc/self/exe __wms-desktop-lock ...`), so they survive the command
//! or agent that started them, and an agent that starts and finds a record without its
//! locker starts one again ([`restore`]).

use super::{forget, load, locks_dir, save, LockRecord};
use crate::procfs;
use crate::sys::PinnedProcess;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::AsFd;
use rustix::process::Signal;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wms_core::{Pid, SessionId};

/// The hidden subcommand the locker and keeper run as.
pub const SUBCOMMAND: &str = "__wms-desktop-lock";

/// How long the lock may wait for another client's grab to end.
pub(crate) const GRAB_BOUND: Duration = Duration::from_secs(5);

/// What a desktop lock record holds beyond the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopLock {
    /// The X display number (`:N`) locked.
    pub display: u32,
    /// Names this lock's processes: a locker of an older lock never takes it for its own.
    pub nonce: String,
}

/// Why a desktop was not locked.
#[derive(Debug)]
pub enum DesktopLockError {
    NotSupported(String),
    /// A desktop is there, one wms cannot draw on (Wayland, an X display it cannot use).
    Undrawable(String),
    Failed(String),
}

impl From<crate::desktop::NotDesktop> for DesktopLockError {
    fn from(e: crate::desktop::NotDesktop) -> Self {
        if e.1 {
            DesktopLockError::Undrawable(e.0)
        } else {
            DesktopLockError::NotSupported(e.0)
        }
    }
}

fn new_nonce() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("{}-{}", std::process::id(), wms_core::time::now_unix()))
}

/// The locker and keeper processes of session `id`'s lock (any nonce), pinned: root's
/// processes running the hidden subcommand for that session. (Only root can start a
/// process owned by root, so the command line of one is not a user's forgery.)
pub(crate) fn lock_processes(id: SessionId) -> Vec<(PinnedProcess, String)> {
    let Ok(pids) = procfs::pids() else {
        return Vec::new();
    };
    let id_text = id.0.to_string();
    let matches = |pid: Pid| -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata(format!("/proc/{}", pid.0)).ok()?.uid() != 0 {
            return None;
        }
        let argv = procfs::cmdline(pid)?;
        let ours = argv.get(1).map(Vec::as_slice) == Some(SUBCOMMAND.as_bytes())
            && argv.get(3).map(Vec::as_slice) == Some(id_text.as_bytes());
        if !ours {
            return None;
        }
        Some(String::from_utf8_lossy(argv.get(4)?).into_owned())
    };
    pids.into_iter()
        .filter_map(|pid| {
            matches(pid)?;
            let pinned = PinnedProcess::open(pid).ok()?;
            // Checked again once pinned: the PID may have been reused in between.
            let nonce = matches(pid)?;
            Some((pinned, nonce))
        })
        .collect()
}

/// Starts the lock's processes and waits until the locker says the desktop is locked
/// (or why it is not).
fn launch(state_dir: &Path, id: SessionId, nonce: &str) -> Result<(), String> {
    let mut child = Command::new("/proc/self/exe")
        .args([
            SUBCOMMAND,
            "launch",
            &id.0.to_string(),
            nonce,
            &state_dir.display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the locker: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let _ = child.wait();
    // The launcher has gone; the locker holds the pipe until it has locked or failed.
    let end = Instant::now() + GRAB_BOUND + Duration::from_secs(10);
    let mut said = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the locker did not say whether it locked the desktop".into());
        }
        let ts = crate::sys::timespec(left);
        let mut fds = [PollFd::new(&out, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("cannot hear from the locker: {e}")),
        }
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if said.len() < 4096 => said.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot hear from the locker: {e}")),
        }
        if said.contains(&b'\n') {
            break;
        }
    }
    let said = String::from_utf8_lossy(&said);
    let line = said.lines().next().unwrap_or("").trim();
    match line.strip_prefix("failed: ") {
        None if line == "locked" => Ok(()),
        Some(why) => Err(why.to_string()),
        None => Err("the locker ended before it locked the desktop".into()),
    }
}

/// Locks the X11 desktop of session `id` with `message`. Locking a locked desktop
/// replaces its message (the locker redraws).
pub(crate) fn lock(
    state_dir: &Path,
    id: SessionId,
    message: &str,
    by_uid: u32,
) -> Result<(), DesktopLockError> {
    let target = crate::desktop::find(id)?;
    // Reached once here, so a desktop wms cannot draw on is NotSupported before anything
    // is recorded or started.
    drop(crate::desktop::connect(&target)?);
    let record_err = |e: std::io::Error| {
        DesktopLockError::Failed(format!(
            "cannot record the lock in {}: {e}",
            locks_dir(state_dir).display()
        ))
    };
    let existing = load(state_dir, id).map_err(|e| DesktopLockError::Failed(e.to_string()))?;
    if let Some(mut r) = existing.filter(|r| r.desktop.is_some()) {
        r.message = message.to_string();
        save(state_dir, &r).map_err(record_err)?;
        let nonce = r
            .desktop
            .as_ref()
            .map(|d| d.nonce.clone())
            .unwrap_or_default();
        if lock_processes(id).iter().any(|(_, n)| *n == nonce) {
            return Ok(());
        }
        return launch(state_dir, id, &nonce).map_err(DesktopLockError::Failed);
    }
    let nonce = new_nonce();
    let record = LockRecord {
        session_id: id.0,
        boot_id: procfs::boot_id()
            .ok_or_else(|| DesktopLockError::Failed("cannot read this boot's ID".into()))?,
        tty: String::new(),
        message: message.to_string(),
        locked_at: wms_core::time::now_unix(),
        locked_by_uid: by_uid,
        local_modes: 0,
        input_modes: 0,
        stopped: Vec::new(),
        full_screen: false,
        desktop: Some(DesktopLock {
            display: target.display,
            nonce: nonce.clone(),
        }),
    };
    // Recorded first: whatever happens next, an unlock can undo it.
    save(state_dir, &record).map_err(record_err)?;
    launch(state_dir, id, &nonce).map_err(|why| {
        // Nothing left half-done: no record, no locker.
        unlock(state_dir, id);
        DesktopLockError::Failed(why)
    })
}

/// Removes the lock of session `id`: the record, then the locker's windows and grabs
/// (it takes them away itself when it sees the record gone), then its processes.
pub(crate) fn unlock(state_dir: &Path, id: SessionId) {
    forget(state_dir, id);
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let left = lock_processes(id);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= end {
            // A locker that did not leave by itself (stuck on a dead server): its
            // windows and grabs end with its connection.
            for (p, _) in &left {
                let _ = p.signal(Signal::KILL);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the locker again for every desktop lock of this boot that has none (after a
/// restart of the host's agent, or if both processes were killed at once).
pub fn restore(state_dir: &Path) {
    for r in super::load_all(state_dir) {
        let Some(d) = &r.desktop else { continue };
        let id = SessionId(r.session_id);
        if lock_processes(id).iter().any(|(_, n)| *n == d.nonce) {
            continue;
        }
        if let Err(why) = launch(state_dir, id, &d.nonce) {
            tracing::warn!(session = id.0, %why, "cannot restore the desktop's lock");
        }
    }
}

/// Whether the lock `nonce` of session `id` still stands.
pub(crate) fn stands(state_dir: &Path, id: SessionId, nonce: &str) -> Option<LockRecord> {
    load(state_dir, id)
        .ok()
        .flatten()
        .filter(|r| r.desktop.as_ref().is_some_and(|d| d.nonce == nonce))
}

/// Whether a pidfd says its process has exited, waiting at most `timeout`.
pub(crate) fn wait_exit(fd: impl AsFd, timeout: Duration) -> bool {
    let ts = crate::sys::timespec(timeout);
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match poll(&mut fds, Some(&ts)) {
        Ok(n) => n > 0,
        Err(_) => false,
    }
}
