//! Where a terminal session is locked and unlocked (SPEC section 4).
//!
//! Lock stops the terminal's shell and its foreground job (programs in other process
//! groups, such as background jobs, keep running), turns off echo, signals and flow
//! control on the terminal so typed keys reach nothing, and shows a full-screen notice
//! on the alternate screen. What it changed is recorded in the state directory before it
//! is changed, so any later wms process, even after the locking one was killed, can undo
//! exactly that: Unlock discards what was typed while locked, puts back the screen and
//! the terminal's modes, continues the stopped processes (the job before its shell, so
//! the shell never sees its job as stopped), and nudges full-screen programs to redraw.

pub mod desktop;
mod locker;
pub use locker::main as locker_main;

use crate::process::{is_connection_process, pin, scan_session, ProcessKey, Stat};
use crate::procfs;
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::process::Signal;
use rustix::termios::{
    tcflush, tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, InputModes, LocalModes,
    OptionalActions, QueueSelector,
};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use wms_core::{Pid, SessionId};

/// The terminal modes Lock turns off: echo, line editing, keyboard signals (Ctrl-C must
/// not reach the stopped job when it is continued), and flow control (Ctrl-S must not
/// freeze the notice).
const LOCAL_OFF: LocalModes = LocalModes::ECHO
    .union(LocalModes::ECHONL)
    .union(LocalModes::ICANON)
    .union(LocalModes::ISIG)
    .union(LocalModes::IEXTEN);
const INPUT_OFF: InputModes = InputModes::IXON.union(InputModes::IXOFF);

/// Why a lock or an unlock did not happen (or not all of it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("cannot open its terminal {path}: {source}")]
    OpenTerminal {
        path: String,
        source: rustix::io::Errno,
    },
    #[error("cannot stat {path}: {source}")]
    StatTerminal {
        path: String,
        source: rustix::io::Errno,
    },
    #[error("cannot read /proc: {0}")]
    Scan(#[source] io::Error),
    /// The terminal is not (or no longer) the session's: it is never touched.
    #[error("no process of the session has {path} as its terminal")]
    NotTheirs { path: String },
    #[error("its lock record {} cannot be read ({why}), so what the lock stopped and changed is unknown; the session may still be blocked: look at the record, or close the session", .path.display())]
    RecordUnreadable { path: PathBuf, why: Unreadable },
    #[error("cannot record the lock in {}: {source}", .dir.display())]
    Record { dir: PathBuf, source: io::Error },
    #[error("cannot read this boot's ID")]
    NoBootId,
    #[error("cannot read the modes of /dev/{tty}: {source}")]
    ReadModes {
        tty: String,
        source: rustix::io::Errno,
    },
    #[error("cannot change the modes of /dev/{tty}: {source}")]
    SetModes {
        tty: String,
        source: rustix::io::Errno,
    },
    #[error("cannot restore the modes of /dev/{tty}: {source}")]
    RestoreModes {
        tty: String,
        source: rustix::io::Errno,
    },
}

/// Why a lock record that is there cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unreadable {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("it names session {0}")]
    OtherSession(u32),
    #[error("this boot's ID cannot be read")]
    NoBootId,
}

/// A process Lock stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedProcess {
    pub pid: i32,
    pub start_time: u64,
    /// The terminal's session leader (the shell), continued last.
    pub shell: bool,
}

impl StoppedProcess {
    fn key(&self) -> ProcessKey {
        ProcessKey {
            pid: Pid(self.pid),
            start_time: self.start_time,
        }
    }
}

/// What Lock changed, kept in `<state_dir>/locks/<SessionId>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub session_id: u32,
    pub boot_id: String,
    /// The terminal (empty for a desktop lock).
    #[serde(default)]
    pub tty: String,
    pub message: String,
    pub locked_at: i64,
    pub locked_by_uid: u32,
    /// The terminal's modes before the lock, of the bits Lock turns off.
    pub local_modes: u32,
    pub input_modes: u32,
    pub stopped: Vec<StoppedProcess>,
    /// A full-screen program (one that turned off line editing) had the foreground, so it
    /// owns the alternate screen: the notice is drawn over its screen, and it redraws.
    #[serde(default)]
    pub full_screen: bool,
    /// A desktop lock: held by a locker process, not by changes to a terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktop: Option<desktop::DesktopLock>,
}

pub(crate) fn locks_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("locks")
}

fn record_path(state_dir: &Path, id: SessionId) -> PathBuf {
    locks_dir(state_dir).join(format!("{id}.json"))
}

/// The lock records of this boot, by session. Records of another boot mean nothing.
pub fn load_all(state_dir: &Path) -> Vec<LockRecord> {
    let Some(boot) = procfs::boot_id() else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir(locks_dir(state_dir)) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
        serde_json::from_str::<LockRecord>(&text).ok()
    })
    .filter(|r| r.boot_id == boot)
    .collect()
}

/// The lock record of `id`: `Ok(None)` when the session is not locked (no record, or a
/// record of another boot, when session IDs meant other sessions). A record that is there
/// but cannot be read is an error: whatever it recorded (stopped processes, terminal
/// modes) must not be taken for "not locked".
pub(crate) fn load(state_dir: &Path, id: SessionId) -> Result<Option<LockRecord>, LockError> {
    let path = record_path(state_dir, id);
    let read = || -> Result<Option<LockRecord>, Unreadable> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let r: LockRecord = serde_json::from_str(&text)?;
        if r.session_id != id.0 {
            return Err(Unreadable::OtherSession(r.session_id));
        }
        let boot = procfs::boot_id().ok_or(Unreadable::NoBootId)?;
        Ok((r.boot_id == boot).then_some(r))
    };
    read().map_err(|why| LockError::RecordUnreadable {
        path: path.clone(),
        why,
    })
}

/// Writes the record atomically (a reader sees the old record or the new, never half).
pub(crate) fn save(state_dir: &Path, r: &LockRecord) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = locks_dir(state_dir);
    std::fs::create_dir_all(&dir)?;
    // Readable by all, whatever the umask: every user may see IsLocked, as `who` shows all.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    let path = record_path(state_dir, SessionId(r.session_id));
    crate::fsutil::write_atomic(&path, serde_json::to_string_pretty(r)?.as_bytes(), 0o644)
}

/// Removes the lock record of `id`, if any (after its session has ended, say).
pub(crate) fn forget(state_dir: &Path, id: SessionId) {
    let _ = std::fs::remove_file(record_path(state_dir, id));
}

/// The terminal of a session as its processes see it.
struct Terminal {
    fd: OwnedFd,
    /// The shell: the leader of the terminal's (kernel) session.
    leader: Pid,
    /// The terminal's foreground process group.
    foreground: Option<i32>,
    /// The live processes of the audit session, from the scan that found the above.
    procs: Vec<Stat>,
}

/// Opens the session's terminal and checks, from the processes of session `id` that have
/// it as their controlling terminal, that it is theirs: a terminal reused by another login
/// is never touched. (The terminal ioctls that would tell its session and foreground group
/// answer only a process whose own controlling terminal it is; /proc tells the same.)
fn open_tty(tty: &str, id: SessionId) -> Result<Terminal, LockError> {
    let path = format!("/dev/{tty}");
    let fd = rustix::fs::open(
        &path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| LockError::OpenTerminal {
        path: path.clone(),
        source,
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|source| LockError::StatTerminal {
        path: path.clone(),
        source,
    })?;
    let dev = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
    let procs = scan_session(id).map_err(LockError::Scan)?;
    let on_tty: Vec<&Stat> = procs
        .iter()
        .filter(|p| p.tty_nr != 0 && procfs::tty_major_minor(p.tty_nr) == dev)
        .collect();
    let leader = on_tty
        .iter()
        .find(|p| p.pid.0 == p.sid)
        .map(|p| p.pid)
        .ok_or(LockError::NotTheirs { path })?;
    let foreground = on_tty
        .iter()
        .find(|p| p.pid == leader)
        .map(|p| p.tpgid)
        .filter(|g| *g > 0);
    Ok(Terminal {
        fd,
        leader,
        foreground,
        procs,
    })
}

/// Writes to the terminal without ever blocking on a client that does not read.
fn write_tty(fd: &OwnedFd, bytes: &[u8]) {
    let mut rest = bytes;
    let mut tries = 0;
    while !rest.is_empty() && tries < 200 {
        match rustix::io::write(fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::AGAIN) => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

/// The full-screen notice: a framed box, centred, with the message wrapped to fit. On a
/// shell's screen it goes on the alternate screen, so Unlock can give the screen back as
/// it was; over a full-screen program it is drawn in place, and the program redraws.
pub fn render_notice(message: &str, rows: u16, cols: u16, full_screen: bool) -> String {
    // A terminal that does not know its size says 0x0 (a pty nobody sized, a serial
    // line): draw for the classic 80x24 rather than squeeze the notice into a sliver.
    let (rows, cols) = if rows == 0 || cols == 0 {
        (24, 80)
    } else {
        (rows, cols)
    };
    let cols = usize::from(cols.max(20));
    let rows = usize::from(rows.max(5));
    let inner = (cols - 4).min(72);
    let width = inner - 4;
    let mut lines = Vec::new();
    // Checked text already (wms_core::message), and made printable again here: whatever
    // reaches a user's terminal from a record on disk is never a command to it.
    let header = format!(
        "This session is locked.\n\n{}",
        wms_core::message::printable(message)
    );
    for para in header.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let w: String = word.chars().take(width).collect();
            if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&w);
        }
        lines.push(line);
    }
    let top = rows.saturating_sub(lines.len() + 4) / 2 + 1;
    let left = (cols - inner) / 2 + 1;
    let mut out = String::from(if full_screen {
        "\x1b[?25l\x1b[H\x1b[2J"
    } else {
        "\x1b7\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J"
    });
    let border = format!("+{}+", "-".repeat(inner - 2));
    let mut row = top;
    let mut put = |out: &mut String, text: &str| {
        out.push_str(&format!("\x1b[{row};{left}H{text}"));
        row += 1;
    };
    put(&mut out, &border);
    put(&mut out, &format!("|{}|", " ".repeat(inner - 2)));
    for l in &lines {
        let pad = width - l.chars().count();
        put(&mut out, &format!("| {l}{} |", " ".repeat(pad)));
    }
    put(&mut out, &format!("|{}|", " ".repeat(inner - 2)));
    put(&mut out, &border);
    out
}

const RESTORE_SCREEN: &str = "\x1b[?25h\x1b[?1049l\x1b8";
const CLEAR_FOR_REDRAW: &str = "\x1b[H\x1b[2J\x1b[?25h";

/// Locks the terminal session `id` on `tty` with `message`. Locking a locked session
/// replaces its message.
pub(crate) fn lock(
    state_dir: &Path,
    id: SessionId,
    tty: &str,
    message: &str,
    by_uid: u32,
) -> Result<(), LockError> {
    let state_err = |source: io::Error| LockError::Record {
        dir: locks_dir(state_dir),
        source,
    };
    let Terminal {
        fd,
        leader,
        foreground,
        procs,
    } = open_tty(tty, id)?;
    let size = tcgetwinsize(&fd).unwrap_or(rustix::termios::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    if let Some(mut r) = load(state_dir, id)? {
        r.message = message.to_string();
        save(state_dir, &r).map_err(state_err)?;
        write_tty(
            &fd,
            render_notice(message, size.ws_row, size.ws_col, r.full_screen).as_bytes(),
        );
        return Ok(());
    }
    let modes = tcgetattr(&fd).map_err(|source| LockError::ReadModes {
        tty: tty.to_string(),
        source,
    })?;
    // The shell and the terminal's foreground job; sshd, which serves the terminal, and
    // every other process group keep running.
    let stopped: Vec<StoppedProcess> = procs
        .into_iter()
        .filter(|p| p.pid == leader || Some(p.pgrp) == foreground)
        .filter(|p| !is_connection_process(&p.comm))
        .map(|p| StoppedProcess {
            pid: p.pid.0,
            start_time: p.start_time,
            shell: p.pid == leader,
        })
        .collect();
    let record = LockRecord {
        session_id: id.0,
        boot_id: procfs::boot_id().ok_or(LockError::NoBootId)?,
        tty: tty.to_string(),
        message: message.to_string(),
        locked_at: wms_core::time::now_unix(),
        locked_by_uid: by_uid,
        local_modes: (modes.local_modes & LOCAL_OFF).bits(),
        input_modes: (modes.input_modes & INPUT_OFF).bits(),
        full_screen: foreground.is_some_and(|g| g != leader.0)
            && !modes.local_modes.contains(LocalModes::ICANON),
        stopped,
        desktop: None,
    };
    // Recorded first: whatever happens next, an unlock can undo it.
    save(state_dir, &record).map_err(state_err)?;
    // The shell first, and only once it has really stopped the job: a signal takes effect
    // when its target next runs, and a shell waiting for its job could otherwise collect
    // the job's stop first, then report it as stopped and take the terminal back.
    let mut order: Vec<&StoppedProcess> = record.stopped.iter().collect();
    order.sort_by_key(|p| !p.shell);
    for p in order {
        if let Some(pinned) = pin(p.key(), id) {
            if pinned.signal(Signal::STOP).is_ok() && p.shell {
                wait_stopped(Pid(p.pid), p.start_time);
            }
        }
    }
    let mut locked = modes.clone();
    locked.local_modes -= LOCAL_OFF;
    locked.input_modes -= INPUT_OFF;
    if let Err(source) = tcsetattr(&fd, OptionalActions::Now, &locked) {
        let _ = unlock(state_dir, id);
        return Err(LockError::SetModes {
            tty: tty.to_string(),
            source,
        });
    }
    write_tty(
        &fd,
        render_notice(message, size.ws_row, size.ws_col, record.full_screen).as_bytes(),
    );
    Ok(())
}

/// Waits (briefly) until the process is in the stopped state.
fn wait_stopped(pid: Pid, start_time: u64) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < end {
        match procfs::stat(pid) {
            Some(st) if st.start_time == start_time && st.state != 'T' => {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            // Stopped, or gone (then there is nothing to wait for).
            _ => return,
        }
    }
}

/// Undoes the lock of session `id`. `Ok(false)` when it was not locked.
pub(crate) fn unlock(state_dir: &Path, id: SessionId) -> Result<bool, LockError> {
    let Some(r) = load(state_dir, id)? else {
        return Ok(false);
    };
    if r.desktop.is_some() {
        desktop::unlock(state_dir, id);
        return Ok(true);
    }
    let fd = match open_tty(&r.tty, id) {
        Ok(t) => t.fd,
        Err(e) => {
            // The terminal is gone or someone else's: nothing of the lock is left to undo
            // on it, but the stopped processes still are.
            continue_stopped(&r, id);
            forget(state_dir, id);
            tracing::debug!(session = id.0, cause = %e, "terminal gone; lock record dropped");
            return Ok(true);
        }
    };
    // Keys typed while locked are thrown away, never delivered.
    let _ = tcflush(&fd, QueueSelector::IFlush);
    write_tty(
        &fd,
        if r.full_screen {
            CLEAR_FOR_REDRAW
        } else {
            RESTORE_SCREEN
        }
        .as_bytes(),
    );
    let mut modes = tcgetattr(&fd).map_err(|source| LockError::ReadModes {
        tty: r.tty.clone(),
        source,
    })?;
    modes.local_modes =
        (modes.local_modes - LOCAL_OFF) | LocalModes::from_bits_retain(r.local_modes);
    modes.input_modes =
        (modes.input_modes - INPUT_OFF) | InputModes::from_bits_retain(r.input_modes);
    tcsetattr(&fd, OptionalActions::Now, &modes).map_err(|source| LockError::RestoreModes {
        tty: r.tty.clone(),
        source,
    })?;
    let _ = tcflush(&fd, QueueSelector::IFlush);
    continue_stopped(&r, id);
    redraw(&fd);
    forget(state_dir, id);
    Ok(true)
}

/// Continues what Lock stopped: the job first, its shell last.
fn continue_stopped(r: &LockRecord, id: SessionId) {
    let mut order: Vec<&StoppedProcess> = r.stopped.iter().collect();
    order.sort_by_key(|p| p.shell);
    for p in order {
        if let Some(pinned) = pin(p.key(), id) {
            let _ = pinned.signal(Signal::CONT);
        }
    }
}

/// Makes full-screen programs redraw: a change of window size sends the foreground job
/// SIGWINCH, and putting the size back sends another.
fn redraw(fd: &OwnedFd) {
    if let Ok(size) = tcgetwinsize(fd) {
        if size.ws_row > 1 {
            let mut smaller = size;
            smaller.ws_row -= 1;
            let _ = tcsetwinsize(fd, smaller);
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tcsetwinsize(fd, size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_frames_and_wraps_the_message() {
        let n = render_notice(
            "The exam is over. Please leave the room quietly.",
            24,
            40,
            false,
        );
        assert!(
            n.starts_with("\x1b7\x1b[?1049h"),
            "switches to the alternate screen"
        );
        let over = render_notice("x", 24, 40, true);
        assert!(
            !over.contains("1049"),
            "a full-screen program keeps its screen"
        );
        assert!(n.contains("This session is locked."));
        assert!(n.contains("The exam is over. Please leave"), "{n:?}");
        assert!(n.contains("the room quietly."), "{n:?}");
        for line in n.split("\x1b[").filter(|l| l.contains('|')) {
            let text = &line[line.find('H').unwrap() + 1..];
            assert_eq!(text.chars().count(), 36, "{text:?}");
        }
    }

    #[test]
    fn an_unknown_size_is_drawn_for_80x24() {
        // Regression: a 0x0 terminal got the 20-column minimum.
        assert_eq!(
            render_notice("hi", 0, 0, false),
            render_notice("hi", 24, 80, false)
        );
        assert_eq!(
            render_notice("hi", 0, 132, false),
            render_notice("hi", 24, 80, false)
        );
        let border = format!("+{}+", "-".repeat(70));
        assert!(render_notice("hi", 0, 0, false).contains(&border));
    }

    #[test]
    fn notice_survives_tiny_windows_and_long_words() {
        // The header wraps in a narrow window; a word longer than the box is cut.
        let n = render_notice(&"x".repeat(500), 2, 3, false);
        assert!(
            n.contains("| This session |") && n.contains("| is locked.   |"),
            "{n:?}"
        );
        assert!(n.contains(&format!("| {} |", "x".repeat(12))), "{n:?}");
    }

    #[test]
    fn records_round_trip() {
        let r = LockRecord {
            session_id: 3,
            boot_id: "b".into(),
            tty: "pts/1".into(),
            message: "m".into(),
            locked_at: 1,
            locked_by_uid: 0,
            local_modes: LOCAL_OFF.bits(),
            input_modes: 0,
            stopped: vec![StoppedProcess {
                pid: 10,
                start_time: 99,
                shell: true,
            }],
            full_screen: true,
            desktop: None,
        };
        let back: LockRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
