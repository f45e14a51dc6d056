//! Where a message is written to a terminal session (SPEC section 4, Send-WmsMessage),
//! as `write(1)` writes it: a banner naming the sender, the text, and `EOF`, on every
//! terminal the session's processes hold.
//!
//! The agent runs as root, so a terminal is opened only once it is known to be the
//! session's: the path is `/dev/` and a name derived from the device number the kernel
//! reports for the session's processes (never a name a user gave), opened without
//! following links, without becoming a controlling terminal and without blocking; the
//! opened file must then be that character device, a terminal, owned by the session's
//! user, and still held by the session's processes once it is open. What is written is
//! text: the message was checked (`wms_core::message`) and is made printable again here,
//! and so are the names in the banner.
//!
//! `mesg n` (the terminal's group write bit cleared) is not obeyed, as root's `write`
//! does not obey it: `mesg` keeps other users from writing to a terminal, and only the
//! session's own user, an operator or an administrator may send a message (SPEC 5).

use crate::process::scan_session;
use crate::procfs;
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};
use wms_core::{SessionId, Uid};

/// Who sent a message, as the banner names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sender {
    pub user: String,
    pub host: String,
    /// The sender's terminal (`pts/3`), or `<no tty>` as `write` says.
    pub tty: String,
    /// The local time it was sent.
    pub hour: u32,
    pub minute: u32,
}

/// What is written to each terminal: `write`'s banner (with its bells), the lines of the
/// text, and `EOF`, each line ended with CR LF so that a terminal in raw mode (a
/// full-screen program) shows it from the left edge too.
pub(crate) fn compose(from: &Sender, text: &str) -> Vec<u8> {
    let clean = |s: &str| wms_core::message::printable(s).replace('\n', " ");
    let mut out = format!(
        "\r\n\x07\x07\x07Message from {}@{} on {} at {:02}:{:02} ...\r\n",
        clean(&from.user),
        clean(&from.host),
        clean(&from.tty),
        from.hour,
        from.minute
    );
    for line in wms_core::message::printable(text).lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("EOF\r\n");
    out.into_bytes()
}

/// Why a message did not reach a session's terminals.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MessageError {
    /// The session's processes hold no terminal.
    #[error("no process of the session has a terminal")]
    NoTerminal,
    #[error("cannot read /proc: {0}")]
    Scan(#[source] std::io::Error),
    /// Some terminals (or all) could not be written; each says why.
    #[error("{}", .0.join("; "))]
    Terminals(Vec<String>),
}

/// Writes `bytes` to every terminal of session `id`, whose user is `owner`. Returns the
/// terminals written to (`pts/3`), in the order the session's processes hold them.
pub(crate) fn write_to_terminals(
    id: SessionId,
    owner: Uid,
    bytes: &[u8],
) -> Result<Vec<String>, MessageError> {
    let procs = scan_session(id).map_err(MessageError::Scan)?;
    let mut ttys: Vec<u32> = Vec::new();
    for p in procs.iter().filter(|p| !p.is_dead() && p.tty_nr != 0) {
        if !ttys.contains(&p.tty_nr) {
            ttys.push(p.tty_nr);
        }
    }
    if ttys.is_empty() {
        return Err(MessageError::NoTerminal);
    }
    let mut written = Vec::new();
    let mut failed = Vec::new();
    let mut opened = Vec::new();
    for tty_nr in ttys {
        let Some(name) = procfs::tty_name(tty_nr) else {
            // A device wms has no name for (not a pty, console or serial line) is not
            // opened by a guessed path.
            let (major, minor) = procfs::tty_major_minor(tty_nr);
            failed.push(format!(
                "its terminal {major}:{minor} has no known device name"
            ));
            continue;
        };
        match open_terminal(&name, tty_nr, owner) {
            Ok(fd) => opened.push((tty_nr, name, fd)),
            Err(why) => failed.push(why),
        }
    }
    // Held by the session still, now that it is open: a terminal its processes let go of
    // between the scan and the open may already be another login's.
    let held: Vec<u32> = scan_session(id)
        .map_err(MessageError::Scan)?
        .iter()
        .filter(|p| !p.is_dead())
        .map(|p| p.tty_nr)
        .collect();
    for (tty_nr, name, fd) in opened {
        if !held.contains(&tty_nr) {
            failed.push(format!(
                "/dev/{name} was let go of by the session meanwhile; nothing was written to it"
            ));
            continue;
        }
        match write_all(&fd, &name, bytes) {
            Ok(()) => written.push(name),
            Err(why) => failed.push(why),
        }
    }
    if failed.is_empty() {
        Ok(written)
    } else {
        if !written.is_empty() {
            failed.push(format!("written to {}", written.join(", ")));
        }
        Err(MessageError::Terminals(failed))
    }
}

/// Opens `/dev/<name>` for writing and checks that the opened file is the terminal
/// `tty_nr`, owned by `owner`.
fn open_terminal(name: &str, tty_nr: u32, owner: Uid) -> Result<OwnedFd, String> {
    let path = format!("/dev/{name}");
    let fd = rustix::fs::open(
        &path,
        OFlags::WRONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open its terminal {path}: {e}"))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| format!("cannot stat {path}: {e}"))?;
    let want = procfs::tty_major_minor(tty_nr);
    let is = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice || is != want {
        return Err(format!(
            "{path} is not the session's terminal (device {}:{}, expected {}:{}); nothing was written to it",
            is.0, is.1, want.0, want.1
        ));
    }
    if st.st_uid != owner.0 {
        return Err(format!(
            "{path} belongs to uid {}, not to the session's user (uid {}); nothing was written to it",
            st.st_uid, owner.0
        ));
    }
    if !rustix::termios::isatty(&fd) {
        return Err(format!("{path} is not a terminal"));
    }
    Ok(fd)
}

/// Writes all of `bytes`, waiting a little (never without bound) for a client that is
/// slow to read: a terminal whose client does not read is reported, not waited for.
fn write_all(fd: &OwnedFd, name: &str, bytes: &[u8]) -> Result<(), String> {
    let mut rest = bytes;
    let mut tries = 0;
    while !rest.is_empty() {
        match rustix::io::write(fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::AGAIN) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                return Err(format!(
                    "/dev/{name} took {} of {} bytes in a second: its client is not reading",
                    bytes.len() - rest.len(),
                    bytes.len()
                ))
            }
            Err(e) => return Err(format!("cannot write to /dev/{name}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
            user: "root".into(),
            host: "lab1".into(),
            tty: "pts/0".into(),
            hour: 9,
            minute: 5,
        }
    }

    #[test]
    fn the_banner_and_text_are_as_write_prints_them() {
        let out = String::from_utf8(compose(&sender(), "Exam over.\nPens down.")).unwrap();
        assert_eq!(
            out,
            "\r\n\x07\x07\x07Message from root@lab1 on pts/0 at 09:05 ...\r\nExam over.\r\nPens down.\r\nEOF\r\n"
        );
    }

    #[test]
    fn nothing_a_terminal_obeys_gets_through_from_the_text_or_the_names() {
        let mut from = sender();
        from.user = "ev\x1b]0;il\x07".into();
        from.host = "h\u{9b}2J".into();
        let out = String::from_utf8(compose(&from, "a\x1b[2Jb\rc\u{9b}d")).unwrap();
        // The banner's own bells are the only controls besides CR LF.
        let controls: Vec<char> = out
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\x07'))
            .collect();
        assert!(controls.is_empty(), "{out:?}");
        assert_eq!(out.matches('\x07').count(), 3, "{out:?}");
        assert!(out.contains("Message from ev]0;il@h2J on"), "{out:?}");
        assert!(out.contains("a[2Jbcd\r\n"), "{out:?}");
    }
}
