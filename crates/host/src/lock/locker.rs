//! The processes that hold a desktop lock (see [`super::desktop`]): the launcher, which
//! leaves the audit session and starts the locker; the locker, which covers the monitors
//! and holds the grabs; the keeper, which starts the locker again if it dies (and which
//! the locker starts again if it dies).

use super::desktop::{stands, wait_exit, GRAB_BOUND, SUBCOMMAND};
use crate::desktop::Connection as RustConnection;
use crate::screen_text::{lock_screen, Typeface, BACKGROUND};
use crate::xwin;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::process::{pidfd_open, PidfdFlags};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use wms_core::SessionId;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, EventMask, Screen, Visibility, Window};
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;

/// The locker's exit code when the session's X server cannot be reached.
const UNREACHABLE: u8 = 3;

/// How often the locker checks its record, raises its windows and renews its grabs.
const TICK: Duration = Duration::from_millis(100);

/// `__wms-desktop-lock ROLE SESSION NONCE STATE_DIR`.
pub fn main(args: &[String]) -> ExitCode {
    let [role, id, nonce, state_dir] = args else {
        return ExitCode::from(2);
    };
    let Some(id) = id.parse().ok().map(SessionId) else {
        return ExitCode::from(2);
    };
    let state_dir = PathBuf::from(state_dir);
    match role.as_str() {
        "launch" => launch(id, nonce, &state_dir),
        "locker-first" => run_locker(id, nonce, &state_dir, true),
        "locker" => run_locker(id, nonce, &state_dir, false),
        "keeper" => run_keeper(id, nonce, &state_dir),
        _ => ExitCode::from(2),
    }
}

fn spawn(
    role: &str,
    id: SessionId,
    nonce: &str,
    state_dir: &Path,
    stdout: Stdio,
) -> std::io::Result<Child> {
    Command::new("/proc/self/exe")
        .args([
            SUBCOMMAND,
            role,
            &id.0.to_string(),
            nonce,
            &state_dir.display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    // The one who waits for this line reads to the end: let go of the pipe.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

/// The launcher: out of the audit session and the caller's process group, starts the
/// locker (which inherits the pipe to the caller) and exits, so nobody has to reap it.
fn launch(id: SessionId, nonce: &str, state_dir: &Path) -> ExitCode {
    if let Err(why) = crate::procfs::leave_audit_session() {
        say(&format!("failed: {why}"));
        return ExitCode::from(1);
    }
    let _ = rustix::process::setsid();
    match spawn("locker-first", id, nonce, state_dir, Stdio::inherit()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("failed: cannot start the locker: {e}"));
            ExitCode::from(1)
        }
    }
}

/// The windows covering the monitors.
struct Cover {
    windows: Vec<(Window, xwin::Rect)>,
    message: String,
}

impl Cover {
    /// Covers every monitor (plain, at once: the grabs need the windows viewable).
    fn build(conn: &RustConnection, screen: &Screen) -> Result<Cover, String> {
        xwin::takes_pictures(conn, screen)?;
        let mut windows = Vec::new();
        for rect in xwin::monitors(conn, screen) {
            let w = xwin::cover_window(
                conn,
                screen,
                rect,
                BACKGROUND,
                EventMask::VISIBILITY_CHANGE
                    | EventMask::STRUCTURE_NOTIFY
                    | EventMask::KEY_PRESS
                    | EventMask::BUTTON_PRESS,
            )?;
            windows.push((w, rect));
        }
        conn.flush().map_err(xwin::why)?;
        Ok(Cover {
            windows,
            message: String::new(),
        })
    }

    /// Shows `message` on every monitor.
    fn paint(
        &mut self,
        conn: &RustConnection,
        screen: &Screen,
        face: &Typeface,
        message: &str,
    ) -> Result<(), String> {
        for (w, rect) in &self.windows {
            xwin::paint(
                conn,
                screen,
                *w,
                &lock_screen(face, rect.2, rect.3, message),
            )?;
        }
        conn.sync().map_err(xwin::why)?;
        self.message = message.to_string();
        Ok(())
    }

    fn has(&self, window: Window) -> bool {
        self.windows.iter().any(|(w, _)| *w == window)
    }

    fn first(&self) -> Window {
        self.windows[0].0
    }

    fn remove(&self, conn: &RustConnection) {
        let _ = conn.ungrab_keyboard(x11rb::CURRENT_TIME);
        let _ = conn.ungrab_pointer(x11rb::CURRENT_TIME);
        for (w, _) in &self.windows {
            let _ = conn.destroy_window(*w);
        }
        let _ = conn.sync();
    }

    fn raise(&self, conn: &RustConnection) {
        for (w, _) in &self.windows {
            let _ = xwin::raise(conn, *w);
        }
    }
}

/// The other process of the pair, watched through a pidfd.
struct Partner {
    fd: OwnedFd,
    /// Our child (reaped when it exits), or our parent.
    child: Option<Child>,
}

impl Partner {
    /// The parent, when it is the partner that started us; `None` if it has gone already.
    fn parent() -> Option<Partner> {
        let ppid = rustix::process::getppid()?;
        let fd = pidfd_open(ppid, PidfdFlags::empty()).ok()?;
        // Still our parent once pinned: not a reused PID.
        (rustix::process::getppid() == Some(ppid)).then_some(Partner { fd, child: None })
    }

    fn start(role: &str, id: SessionId, nonce: &str, state_dir: &Path) -> Option<Partner> {
        let child = spawn(role, id, nonce, state_dir, Stdio::null()).ok()?;
        let pid = rustix::process::Pid::from_raw(child.id() as i32)?;
        // Our own unreaped child: its PID cannot be reused before we wait for it.
        let fd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
        Some(Partner {
            fd,
            child: Some(child),
        })
    }

    /// Reaps it; its exit code when it was our child.
    fn reap(self) -> Option<i32> {
        self.child
            .and_then(|mut c| c.wait().ok())
            .and_then(|s| s.code())
    }
}

fn run_locker(id: SessionId, nonce: &str, state_dir: &Path, first: bool) -> ExitCode {
    let fail = |why: String, code: u8| {
        if first {
            say(&format!("failed: {why}"));
        }
        ExitCode::from(code)
    };
    let Some(record) = stands(state_dir, id, nonce) else {
        return ExitCode::SUCCESS;
    };
    let display = record.desktop.as_ref().map(|d| d.display);
    let target = match crate::desktop::find(id) {
        Ok(t) if Some(t.display) == display => t,
        Ok(t) => {
            return fail(
                format!(
                    "the session's display is now :{}, not the one locked",
                    t.display
                ),
                UNREACHABLE,
            )
        }
        Err(e) => return fail(e.to_string(), UNREACHABLE),
    };
    // No bound on waits: the locker waits for events; a dead server ends the connection.
    let (conn, screen_num) = match crate::desktop::connect_with(&target, None) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string(), UNREACHABLE),
    };
    let screen = conn.setup().roots[screen_num].clone();
    // Told of every window mapped, raised or moved, to stay above them.
    if let Err(e) = conn.change_window_attributes(
        screen.root,
        &x11rb::protocol::xproto::ChangeWindowAttributesAux::new()
            .event_mask(EventMask::SUBSTRUCTURE_NOTIFY),
    ) {
        return fail(xwin::why(e), 5);
    }
    let mut cover = match Cover::build(&conn, &screen) {
        Ok(c) => c,
        Err(why) => return fail(why, 5),
    };
    // Input first, the text after: the desktop is out of reach before anything is drawn.
    if let Err(why) = xwin::grab(&conn, cover.first(), GRAB_BOUND) {
        cover.remove(&conn);
        return fail(why, 5);
    }
    let painted = Typeface::load().and_then(|face| {
        cover.paint(&conn, &screen, &face, &record.message)?;
        Ok(face)
    });
    let face = match painted {
        Ok(f) => f,
        Err(why) => {
            cover.remove(&conn);
            return fail(why, 4);
        }
    };
    if first {
        say("locked");
    }
    let mut partner = if first {
        Partner::start("keeper", id, nonce, state_dir)
    } else {
        Partner::parent().or_else(|| Partner::start("keeper", id, nonce, state_dir))
    };
    let mut last_check = Instant::now();
    loop {
        let ts = crate::sys::timespec(TICK);
        {
            let xfd = conn.stream().as_fd();
            let mut fds = vec![PollFd::new(&xfd, PollFlags::IN)];
            if let Some(p) = &partner {
                fds.push(PollFd::new(&p.fd, PollFlags::IN));
            }
            let _ = poll(&mut fds, Some(&ts));
        }
        let mut raise = false;
        let mut rebuild = false;
        loop {
            match conn.poll_for_event() {
                Ok(Some(ev)) => match ev {
                    Event::VisibilityNotify(e) if cover.has(e.window) => {
                        raise |= e.state != Visibility::UNOBSCURED;
                    }
                    Event::UnmapNotify(e) if cover.has(e.window) => rebuild = true,
                    Event::DestroyNotify(e) if cover.has(e.window) => rebuild = true,
                    Event::MapNotify(e) if !cover.has(e.window) => raise = true,
                    Event::ConfigureNotify(e) if !cover.has(e.window) => raise = true,
                    Event::CreateNotify(_) | Event::ReparentNotify(_) => raise = true,
                    _ => {}
                },
                Ok(None) => break,
                // The server is gone or broke the connection: the keeper starts a new
                // locker, which finds out whether there is still a desktop to lock.
                Err(_) => return ExitCode::from(UNREACHABLE),
            }
        }
        if partner
            .as_ref()
            .is_some_and(|p| wait_exit(&p.fd, Duration::ZERO))
        {
            if let Some(p) = partner.take() {
                p.reap();
            }
            if stands(state_dir, id, nonce).is_some() {
                partner = Partner::start("keeper", id, nonce, state_dir);
            }
        }
        if last_check.elapsed() >= TICK || rebuild {
            last_check = Instant::now();
            let Some(record) = stands(state_dir, id, nonce) else {
                cover.remove(&conn);
                return ExitCode::SUCCESS;
            };
            if rebuild {
                cover.remove(&conn);
                cover = match Cover::build(&conn, &screen) {
                    Ok(c) => c,
                    Err(_) => return ExitCode::from(5),
                };
            }
            // Renewed every tick: a grab lost (a window unmapped under it) is had again.
            let _ = xwin::grab(&conn, cover.first(), Duration::ZERO);
            if (rebuild || record.message != cover.message)
                && cover.paint(&conn, &screen, &face, &record.message).is_err()
            {
                return ExitCode::from(5);
            }
            raise = true;
        }
        if raise {
            cover.raise(&conn);
            let _ = conn.flush();
        }
    }
}

/// Whether session `id` still has processes.
fn session_lives(id: SessionId) -> bool {
    crate::procfs::pids()
        .map(|pids| {
            pids.into_iter()
                .any(|p| crate::procfs::session_id(p) == Some(id.0))
        })
        .unwrap_or(true)
}

fn run_keeper(id: SessionId, nonce: &str, state_dir: &Path) -> ExitCode {
    let mut partner = Partner::parent();
    let mut unreachable = 0u32;
    loop {
        let exited = match &partner {
            Some(p) => wait_exit(&p.fd, Duration::from_millis(200)),
            None => true,
        };
        if stands(state_dir, id, nonce).is_none() {
            if let Some(p) = partner.take() {
                if exited {
                    p.reap();
                } else {
                    // The locker sees the record gone and leaves; reap it when it has.
                    wait_exit(&p.fd, Duration::from_secs(3));
                    p.reap();
                }
            }
            return ExitCode::SUCCESS;
        }
        if !exited {
            continue;
        }
        let code = partner.take().and_then(Partner::reap);
        if code == Some(i32::from(UNREACHABLE)) {
            unreachable += 1;
            if unreachable >= 3 && !session_lives(id) {
                // The session has ended: its lock with it.
                super::forget(state_dir, id);
                return ExitCode::SUCCESS;
            }
            std::thread::sleep(Duration::from_millis(200));
        } else {
            unreachable = 0;
        }
        partner = Partner::start("locker", id, nonce, state_dir);
        if partner.is_none() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
