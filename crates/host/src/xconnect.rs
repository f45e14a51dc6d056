//! Reaching a session's own X server, as root, without being tricked: the display is
//! the one its processes use, the server's socket must be held by a process of the
//! session's user (or root, a display manager's), and the cookie file is opened without
//! following links and used only if the session's user owns it.

use crate::procfs;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use wms_core::{Pid, SessionId};
use x11rb::rust_connection::{DefaultStream, RustConnection};

/// Why a session's desktop cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// wms cannot draw on it (Wayland, no X display, a server it cannot reach).
    NotSupported(String),
    /// It should have worked: the reason.
    Failed(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::NotSupported(s) | Unreachable::Failed(s) => f.write_str(s),
        }
    }
}

/// A session's X display as its processes name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub session: SessionId,
    pub uid: u32,
    /// The display number (`:N`).
    pub display: u32,
    /// The cookie file the session uses, if it names one.
    pub authority: Option<PathBuf>,
}

/// `:N` or `:N.S` (a local display); anything else (`host:N`, a TCP display such as
/// ssh's forwarding) is `None`.
pub fn parse_display(d: &str) -> Option<u32> {
    let rest = d.strip_prefix(':').or_else(|| d.strip_prefix("unix:"))?;
    let num = rest.split('.').next()?;
    num.parse().ok()
}

/// Finds the X display of session `id` from the environment of its processes.
pub fn find(id: SessionId) -> Result<Target, Unreachable> {
    let pids =
        procfs::pids().map_err(|e| Unreachable::Failed(format!("cannot read /proc: {e}")))?;
    let mut wayland = None;
    let mut remote = None;
    let mut uid = None;
    for pid in pids {
        if procfs::session_id(pid) != Some(id.0) {
            continue;
        }
        uid = uid.or_else(|| procfs::login_uid(pid));
        let Some(d) = procfs::environ_var(pid, "DISPLAY") else {
            if wayland.is_none() {
                wayland = procfs::environ_var(pid, "WAYLAND_DISPLAY");
            }
            continue;
        };
        let d = String::from_utf8_lossy(&d).into_owned();
        match parse_display(&d) {
            Some(display) => {
                let authority = procfs::environ_var(pid, "XAUTHORITY")
                    .map(|a| PathBuf::from(String::from_utf8_lossy(&a).into_owned()));
                return Ok(Target {
                    session: id,
                    uid: uid.or_else(|| procfs::login_uid(pid)).unwrap_or(u32::MAX),
                    display,
                    authority,
                });
            }
            None => remote = Some(d),
        }
    }
    Err(Unreachable::NotSupported(match (wayland, remote) {
        (Some(w), _) => format!(
            "it is a Wayland desktop ({}), which wms cannot draw on; where logind manages it, its own lock screen can be asked for with --logind",
            String::from_utf8_lossy(&w)
        ),
        (None, Some(d)) => format!("its X display {d} is not a local one wms can reach"),
        (None, None) => "it has neither a terminal nor an X display; only terminal and X11 desktop sessions can be locked".into(),
    }))
}

/// The MIT-MAGIC-COOKIE-1 for display `num` in an Xauthority file's bytes.
pub fn cookie_for(bytes: &[u8], num: u32) -> Option<Vec<u8>> {
    let mut at = 0;
    let field = |at: &mut usize| -> Option<Vec<u8>> {
        let len = usize::from(u16::from_be_bytes([*bytes.get(*at)?, *bytes.get(*at + 1)?]));
        let v = bytes.get(*at + 2..*at + 2 + len)?.to_vec();
        *at += 2 + len;
        Some(v)
    };
    let want = num.to_string().into_bytes();
    while at + 2 <= bytes.len() {
        at += 2; // family
        let _addr = field(&mut at)?;
        let number = field(&mut at)?;
        let name = field(&mut at)?;
        let data = field(&mut at)?;
        if name == b"MIT-MAGIC-COOKIE-1" && (number == want || number.is_empty()) {
            return Some(data);
        }
    }
    None
}

/// Reads the cookie file: no link followed, owned by the session's user, bounded.
fn read_authority(path: &Path, uid: u32) -> io::Result<Vec<u8>> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if st.st_uid != uid
        || rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile
    {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a file of the session's user", path.display()),
        ));
    }
    let mut buf = vec![0; 64 * 1024];
    let n = rustix::io::read(&fd, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Connects to the session's X server as its own user's client would.
pub fn connect(t: &Target) -> Result<(RustConnection, usize), Unreachable> {
    let path = format!("/tmp/.X11-unix/X{}", t.display);
    let unreachable = |why: String| {
        Unreachable::NotSupported(format!(
            "its X server :{} cannot be reached: {why}",
            t.display
        ))
    };
    let stream = UnixStream::connect(&path).map_err(|e| unreachable(format!("{path}: {e}")))?;
    let cred = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| unreachable(format!("cannot ask who serves {path}: {e}")))?;
    let server_uid = cred.uid.as_raw();
    let server_session = procfs::session_id(Pid(cred.pid.as_raw_nonzero().get()));
    if server_uid != t.uid && server_uid != 0 && server_session != Some(t.session.0) {
        return Err(unreachable(format!(
            "{path} is served by a process of user {server_uid}, not of the session's user"
        )));
    }
    let authority = t.authority.clone().or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(t.uid))
            .ok()
            .flatten()
            .map(|u| u.dir.join(".Xauthority"))
    });
    let cookie = authority
        .and_then(|p| read_authority(&p, t.uid).ok())
        .and_then(|b| cookie_for(&b, t.display));
    let (name, data) = match cookie {
        Some(c) => (b"MIT-MAGIC-COOKIE-1".to_vec(), c),
        None => (Vec::new(), Vec::new()),
    };
    let (stream, _) =
        DefaultStream::from_unix_stream(stream).map_err(|e| unreachable(e.to_string()))?;
    let conn = RustConnection::connect_to_stream_with_auth_info(stream, 0, name, data)
        .map_err(|e| unreachable(format!("the server refused the session's credentials: {e}")))?;
    Ok((conn, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays() {
        assert_eq!(parse_display(":0"), Some(0));
        assert_eq!(parse_display(":12.0"), Some(12));
        assert_eq!(parse_display("unix:3"), Some(3));
        assert_eq!(parse_display("localhost:10.0"), None);
        assert_eq!(parse_display(":x"), None);
    }

    #[test]
    fn cookies_by_display_number() {
        let entry = |num: &str, data: &[u8]| {
            let mut v = vec![1, 0];
            for f in [
                b"host".as_slice(),
                num.as_bytes(),
                b"MIT-MAGIC-COOKIE-1",
                data,
            ] {
                v.extend((f.len() as u16).to_be_bytes());
                v.extend(f);
            }
            v
        };
        let mut file = entry("3", b"three");
        file.extend(entry("7", b"seven"));
        assert_eq!(cookie_for(&file, 7), Some(b"seven".to_vec()));
        assert_eq!(cookie_for(&file, 3), Some(b"three".to_vec()));
        assert_eq!(cookie_for(&file, 5), None);
        assert_eq!(cookie_for(&file[..9], 3), None);
    }
}
