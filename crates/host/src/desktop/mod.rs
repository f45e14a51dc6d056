//! A session's X desktop: finding the X server a session's screen is on, with the
//! session's own credentials (its cookie), and talking to it with x11rb. What the
//! thumbnail, the lock and the messages of desktops build on.
//!
//! [`find`] reads the session's processes: the X servers running inside it (`Xvfb`,
//! xrdp's `Xorg`, with their `:N` and `-auth FILE`) and their environments (`DISPLAY`,
//! `XAUTHORITY`, `WAYLAND_DISPLAY`, `XDG_SESSION_TYPE`). All of that is the session's
//! user's to set, and wms runs as root, so nothing is believed on its word:
//!
//! - the X server is the process at the other end of `/tmp/.X11-unix/X<n>`, as the kernel
//!   vouches for it (`SO_PEERCRED`), and must be a process of the session itself, or the
//!   console's X server a display manager runs as root for the session (outside every
//!   login session, and a child of the display manager that also opened the session);
//!   [`connect`] checks again that it is the same process;
//! - the cookie is read from a regular file owned by the session's user (or, for the
//!   console's root X server, the root-owned file its own `-auth` names), opened without
//!   following a symbolic link (see `auth`).
//!
//! A Wayland desktop, a display forwarded over ssh, or a server that cannot be reached is
//! [`NotDesktop`], with the reason in words.

mod auth;
mod capture;
mod shots;
mod stream;

use crate::process::{is_x_server, scan_session, Stat};
use crate::procfs;
use std::path::PathBuf;
use std::time::Duration;
use wms_core::{Pid, SessionId};

pub use auth::Cookie;
pub use capture::{thumbnail, CaptureError, Thumbnail, MAX_FULL_PIXELS, MAX_SCREEN_PIXELS};
pub use shots::{record_intent_in_process, thumbnails, ThumbnailResult, Viewed};
pub use stream::TimedStream;

/// A connection to a session's X server (see [`connect`]).
pub type Connection = x11rb::rust_connection::RustConnection<TimedStream>;

/// Where the socket of local X display `n` is.
pub fn socket_path(display: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{display}"))
}

/// How long one wait for the X server may last in [`connect`]: a server that is stopped
/// or hung must not hold whoever asked (the agent) for ever.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A session's X desktop, found by [`find`]: its display, the server serving it, and the
/// session's own cookie for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopTarget {
    pub session: SessionId,
    /// The session's user (its login uid).
    pub uid: u32,
    /// The display number (`:N`).
    pub display: u32,
    /// The server's socket, `/tmp/.X11-unix/X<n>`.
    pub socket: PathBuf,
    /// The X server process, as the kernel named it at the socket's other end.
    pub server_pid: Pid,
    /// Its start time (clock ticks since boot): with the PID, that one process for good.
    pub server_start: u64,
    pub server_uid: u32,
    /// Whether the server runs inside the session (`Xvfb`, xrdp's `Xorg`), rather than
    /// being the console's root X server of a display manager.
    pub server_in_session: bool,
    /// The session's cookie for the display; `None` when no authority file had one (the
    /// server may still let the connection in, by its own access rules).
    pub cookie: Option<Cookie>,
    /// The authority file the cookie was read from.
    pub cookie_file: Option<PathBuf>,
}

impl DesktopTarget {
    /// The display as `DISPLAY` names it (`:3`).
    pub fn display_name(&self) -> String {
        format!(":{}", self.display)
    }
}

/// Why a session has no X desktop wms can reach, in words for the user ("session 7 is a
/// Wayland desktop: ..."): what the lock and the thumbnail give as NotSupported.
/// The flag says whether a desktop is there that wms cannot draw on (Wayland, an X display
/// it cannot use), rather than none at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotDesktop(pub String, pub bool);

impl NotDesktop {
    /// No desktop: a terminal session, one that ended, one whose display is elsewhere.
    fn none(why: String) -> NotDesktop {
        NotDesktop(why, false)
    }

    /// A desktop wms cannot draw on.
    fn undrawable(why: String) -> NotDesktop {
        NotDesktop(why, true)
    }
}

/// What one process's environment says of the desktop.
#[derive(Debug, Default)]
struct Env {
    display: Option<Vec<u8>>,
    xauthority: Option<PathBuf>,
    wayland: bool,
    session_type: Option<String>,
}

/// The most processes of a session whose environments are read.
const MAX_ENVIRONMENTS: usize = 256;

fn env_of(pid: Pid) -> Option<Env> {
    use std::os::unix::ffi::OsStrExt;
    procfs::with_file(pid, "environ", |b| {
        let var = |k| procfs::environ_value(b, k).filter(|v| !v.is_empty());
        Some(Env {
            display: var("DISPLAY").map(<[u8]>::to_vec),
            xauthority: var("XAUTHORITY").map(|v| PathBuf::from(std::ffi::OsStr::from_bytes(v))),
            wayland: var("WAYLAND_DISPLAY").is_some(),
            session_type: var("XDG_SESSION_TYPE").map(|v| String::from_utf8_lossy(v).into_owned()),
        })
    })
}

/// The X desktop of session `id` (see the module's documentation for what is checked).
pub fn find(id: SessionId) -> Result<DesktopTarget, NotDesktop> {
    let mut procs = scan_session(id)
        .map_err(|e| NotDesktop::none(format!("cannot read the processes of session {id}: {e}")))?;
    procs.sort_by_key(|p| (p.start_time, p.pid));
    let Some(leader) = procs.first().cloned() else {
        return Err(NotDesktop::none(format!("session {id} has no processes")));
    };
    let uid = procfs::login_uid(leader.pid)
        .ok_or_else(|| NotDesktop::none(format!("session {id} ended")))?;
    let envs: Vec<(Pid, Env)> = procs
        .iter()
        .filter(|p| !is_x_server(&p.comm))
        .take(MAX_ENVIRONMENTS)
        .filter_map(|p| Some((p.pid, env_of(p.pid)?)))
        .collect();
    if envs.is_empty() && procs.iter().any(|p| !is_x_server(&p.comm)) {
        return Err(NotDesktop::none(format!(
            "the environments of session {id}'s processes cannot be read here"
        )));
    }
    if envs.iter().any(|(_, e)| {
        e.session_type.as_deref() == Some("wayland") || (e.wayland && e.display.is_none())
    }) {
        return Err(NotDesktop::undrawable(format!(
            "session {id} is a Wayland desktop: wms reads and draws on X11 desktops only"
        )));
    }
    let servers: Vec<(&Stat, procfs::XServerArgs)> = procs
        .iter()
        .filter(|p| is_x_server(&p.comm))
        .map(|p| {
            let args = procfs::cmdline(p.pid).unwrap_or_default();
            (p, procfs::x_server_args(&args))
        })
        .collect();
    // The displays to try, each once: those of the X servers inside the session, then
    // those its processes name (their authority files: `named_auth`).
    let mut candidates: Vec<u32> = Vec::new();
    let mut add = |n: u32| {
        if !candidates.contains(&n) {
            candidates.push(n);
        }
    };
    for (p, args) in &servers {
        // `Xvfb -displayfd` names no display: the socket it listens on does.
        if let Some(n) = args.display.or_else(|| listening_display(p.pid)) {
            add(n);
        }
    }
    let mut forwarded = None;
    for (_, e) in &envs {
        let Some(d) = &e.display else { continue };
        match procfs::local_display_number(d) {
            Some(n) => add(n),
            None => forwarded = Some(String::from_utf8_lossy(d).into_owned()),
        }
    }
    // The authority files named for each display by any process, in order.
    let named_auth = |n: u32| -> Vec<PathBuf> {
        envs.iter()
            .filter(|(_, e)| e.display.as_deref().and_then(procfs::local_display_number) == Some(n))
            .filter_map(|(_, e)| e.xauthority.clone())
            .collect()
    };
    let mut why = Vec::new();
    for n in &candidates {
        match server_of(id, *n, &leader) {
            Ok(server) => {
                let mut files: Vec<(PathBuf, u32)> =
                    named_auth(*n).into_iter().map(|f| (f, uid)).collect();
                if let Some((_, args)) = servers.iter().find(|(p, _)| p.pid == server.pid) {
                    if let Some(f) = &args.auth {
                        files.push((f.clone(), server.uid));
                    }
                } else if !server.in_session {
                    // The console's root X server: the file its own arguments name.
                    let args = procfs::cmdline(server.pid).unwrap_or_default();
                    if let Some(f) = procfs::x_server_args(&args).auth {
                        files.push((f, 0));
                    }
                }
                if let Some(home) = home_of(uid) {
                    files.push((home.join(".Xauthority"), uid));
                }
                let (cookie, cookie_file) = cookie_from(&files, *n);
                return Ok(DesktopTarget {
                    session: id,
                    uid,
                    display: *n,
                    socket: socket_path(*n),
                    server_pid: server.pid,
                    server_start: server.start,
                    server_uid: server.uid,
                    server_in_session: server.in_session,
                    cookie,
                    cookie_file,
                });
            }
            Err(e) => why.push(e),
        }
    }
    if !why.is_empty() {
        return Err(NotDesktop::undrawable(format!(
            "session {id}'s X display cannot be used: {}",
            why.join("; ")
        )));
    }
    if let Some(d) = forwarded {
        return Err(NotDesktop::none(format!(
            "session {id} has no desktop on this host: its display {d} is forwarded to its client"
        )));
    }
    if !servers.is_empty() {
        return Err(NotDesktop::undrawable(format!(
            "session {id} runs an X server whose display cannot be told"
        )));
    }
    Err(NotDesktop::none(format!(
        "session {id} has no X display: it is a terminal session"
    )))
}

/// The display whose socket (`/tmp/.X11-unix/X<n>`, or its abstract twin) process `pid`
/// listens on: its socket descriptors' inodes looked up in its `/proc/PID/net/unix`.
fn listening_display(pid: Pid) -> Option<u32> {
    let fds = std::fs::read_dir(format!("/proc/{}/fd", pid.0)).ok()?;
    let inodes: Vec<String> = fds
        .take(4096)
        .filter_map(|e| {
            let link = std::fs::read_link(e.ok()?.path()).ok()?;
            let link = link.to_str()?;
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{}/net/unix", pid.0)).ok()?;
    table.lines().skip(1).find_map(|line| {
        // Num RefCount Protocol Flags Type St Inode Path
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let (inode, path) = (f.get(6)?, f.get(7)?);
        if !inodes.iter().any(|i| i == inode) {
            return None;
        }
        let n = path
            .trim_start_matches('@')
            .strip_prefix("/tmp/.X11-unix/X")?;
        n.parse().ok()
    })
}

/// The X server found at a display's socket.
struct Server {
    pid: Pid,
    start: u64,
    uid: u32,
    in_session: bool,
}

/// The X server of display `n`, if it may serve session `id` (whose oldest process is
/// `leader`): a process of the session, or the console's root X server that the display
/// manager which opened the session runs. Why not otherwise.
fn server_of(id: SessionId, n: u32, leader: &Stat) -> Result<Server, String> {
    let path = socket_path(n);
    let stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| format!("display :{n}: cannot connect to {}: {e}", path.display()))?;
    let peer = crate::peer::unix_peer(&stream).map_err(|e| format!("display :{n}: {e}"))?;
    let stat = procfs::stat(peer.pid)
        .ok_or_else(|| format!("display :{n}: its server (PID {}) is gone", peer.pid))?;
    let in_session = peer.own_session == Some(id);
    let console = peer.uid.0 == 0
        && peer.own_session.is_none()
        && stat.ppid == leader.ppid
        && leader.ppid.0 > 1;
    if stat.comm == "Xwayland" {
        return Err(format!(
            "display :{n} is Xwayland: session {id} is a Wayland desktop, and wms reads and draws on X11 desktops only"
        ));
    }
    if !is_x_server(&stat.comm) {
        return Err(format!(
            "display :{n} is served by `{}` (PID {}), not an X server",
            stat.comm, peer.pid
        ));
    }
    if !(in_session || console) {
        return Err(format!(
            "display :{n} is served by PID {} (uid {}), which is not session {id}'s X server",
            peer.pid, peer.uid
        ));
    }
    Ok(Server {
        pid: peer.pid,
        start: stat.start_time,
        uid: peer.uid.0,
        in_session,
    })
}

/// The first cookie for display `n` in the authority `files` (each with the uid that
/// must own it), and the file it came from.
fn cookie_from(files: &[(PathBuf, u32)], n: u32) -> (Option<Cookie>, Option<PathBuf>) {
    let host = auth::hostname();
    for (f, owner) in files {
        match auth::read_file(f, *owner) {
            Ok(bytes) => {
                if let Some(c) = auth::cookie_for(&bytes, n, &host) {
                    return (Some(c), Some(f.clone()));
                }
            }
            Err(e) => tracing::debug!(file = %f.display(), error = %e, "authority file not used"),
        }
    }
    (None, None)
}

fn home_of(uid: u32) -> Option<PathBuf> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.dir)
}

/// A connection to `target`'s X server with the session's cookie, and the number of the
/// screen to use; each wait for the server lasts at most [`IO_TIMEOUT`]. The process at
/// the socket must still be the one [`find`] vouched for.
pub fn connect(target: &DesktopTarget) -> Result<(Connection, usize), NotDesktop> {
    connect_with(target, Some(IO_TIMEOUT))
}

/// [`connect`] with another bound on each wait for the server (`None`: none, for a
/// client that waits for events, such as a locker).
pub fn connect_with(
    target: &DesktopTarget,
    timeout: Option<Duration>,
) -> Result<(Connection, usize), NotDesktop> {
    let fail =
        |what: String| NotDesktop::undrawable(format!("display {}: {what}", target.display_name()));
    let stream = std::os::unix::net::UnixStream::connect(&target.socket).map_err(|e| {
        fail(format!(
            "cannot connect to {}: {e}",
            target.socket.display()
        ))
    })?;
    let peer = crate::peer::unix_peer(&stream).map_err(|e| fail(e.to_string()))?;
    let same = peer.pid == target.server_pid
        && peer.uid.0 == target.server_uid
        && procfs::stat(peer.pid).is_some_and(|s| s.start_time == target.server_start);
    if !same {
        return Err(fail(format!(
            "its server is now PID {} (uid {}), not the X server found before",
            peer.pid, peer.uid
        )));
    }
    let stream = TimedStream::new(stream, timeout).map_err(|e| fail(e.to_string()))?;
    let (name, data) = match &target.cookie {
        Some(c) => (c.name.clone(), c.data.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let conn = x11rb::rust_connection::RustConnection::connect_to_stream_with_auth_info(
        stream, 0, name, data,
    )
    .map_err(|e| {
        fail(format!(
            "the X server refused the session's credentials: {e}"
        ))
    })?;
    Ok((conn, 0))
}
