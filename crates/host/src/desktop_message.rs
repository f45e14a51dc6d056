//! A message on a desktop (Send-WmsMessage, SPEC section 4): a window on top of the
//! session's X desktop showing the text and an OK button, which any key or click
//! dismisses. It grabs nothing: the user goes on working around it. It lives in a process
//! of its own, root's and outside every audit session like the desktop locker (but not
//! started again if it ends), so [`show`] returns once it is on the screen.

use crate::desktop::{self as xconnect, NotDesktop};
use crate::screen_text::{message_box, Typeface, BACKGROUND};
use crate::xwin;
use rustix::event::{poll, PollFd, PollFlags};
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use wms_core::SessionId;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, EventMask, InputFocus, PropMode};
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;

/// The hidden subcommand the message window runs as.
pub const SUBCOMMAND: &str = "__wms-desktop-message";

/// Where the text travels to the window's process: its environment, which only root
/// can read (`/proc/PID/environ`), rather than its command line, which anyone can.
const TEXT_VAR: &str = "WMS_MESSAGE_TEXT";

/// The window's title (what `xdotool search --name` finds).
pub const TITLE: &str = "wms message";

/// Why a message was not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowError {
    /// wms cannot draw on that desktop (Wayland, no X display, a server it cannot reach).
    NotSupported(String),
    Failed(String),
}

impl std::fmt::Display for ShowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShowError::NotSupported(s) | ShowError::Failed(s) => f.write_str(s),
        }
    }
}

impl From<NotDesktop> for ShowError {
    fn from(e: NotDesktop) -> Self {
        ShowError::NotSupported(e.0)
    }
}

/// Shows `text` in a window on the X desktop of session `session`; returns once the
/// window is on the screen (it stays until the user dismisses it). `text` is checked
/// message text (`wms_core::message::check_message`); it is drawn as text whatever it holds.
pub fn show(session: SessionId, text: &str) -> Result<(), ShowError> {
    let target = xconnect::find(session)?;
    drop(xconnect::connect(&target)?);
    let mut child = Command::new("/proc/self/exe")
        .args([SUBCOMMAND, "launch", &session.0.to_string()])
        .env(TEXT_VAR, text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ShowError::Failed(format!("cannot start the message window: {e}")))?;
    let mut out = child.stdout.take().expect("piped");
    let _ = child.wait();
    let end = Instant::now() + Duration::from_secs(10);
    let mut said = Vec::new();
    let mut buf = [0u8; 512];
    while !said.contains(&b'\n') && said.len() < 4096 {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let ts = crate::sys::timespec(left);
        let _ = poll(&mut [PollFd::new(&out, PollFlags::IN)], Some(&ts));
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let said = String::from_utf8_lossy(&said);
    let line = said.lines().next().unwrap_or("").trim();
    match line.strip_prefix("failed: ") {
        None if line == "shown" => Ok(()),
        Some(why) => Err(ShowError::Failed(why.to_string())),
        None => Err(ShowError::Failed(
            "the message window ended before it was shown".into(),
        )),
    }
}

/// `__wms-desktop-message ROLE SESSION`, the text in the environment.
pub fn main(args: &[String]) -> ExitCode {
    let [role, id] = args else {
        return ExitCode::from(2);
    };
    let Some(id) = id.parse().ok().map(SessionId) else {
        return ExitCode::from(2);
    };
    let text = std::env::var(TEXT_VAR).unwrap_or_default();
    match role.as_str() {
        "launch" => {
            if let Err(why) = crate::procfs::leave_audit_session() {
                say(&format!("failed: {why}"));
                return ExitCode::from(1);
            }
            let _ = rustix::process::setsid();
            match Command::new("/proc/self/exe")
                .args([SUBCOMMAND, "window", &id.0.to_string()])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    say(&format!("failed: cannot start the message window: {e}"));
                    ExitCode::from(1)
                }
            }
        }
        "window" => match window(id, &text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                say(&format!("failed: {why}"));
                ExitCode::from(1)
            }
        },
        _ => ExitCode::from(2),
    }
}

/// Tells the one waiting on the pipe, then lets go of it.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

/// The window's process: shows the message, says so, and waits to be dismissed.
fn window(id: SessionId, text: &str) -> Result<(), String> {
    let target = xconnect::find(id).map_err(|e| e.to_string())?;
    let (conn, screen_num) = xconnect::connect_with(&target, None).map_err(|e| e.to_string())?;
    let face = Typeface::load()?;
    let screen = conn.setup().roots[screen_num].clone();
    xwin::takes_pictures(&conn, &screen)?;
    let monitor = xwin::monitors(&conn, &screen)[0];
    let width = (monitor.2 / 2).max(320).min(monitor.2);
    let height = (monitor.3 * 2 / 5).max(200).min(monitor.3);
    let rect = (
        monitor.0 + ((monitor.2 - width) / 2) as i16,
        monitor.1 + ((monitor.3 - height) / 2) as i16,
        width,
        height,
    );
    let window = xwin::cover_window(
        &conn,
        &screen,
        rect,
        BACKGROUND,
        EventMask::KEY_PRESS | EventMask::BUTTON_PRESS,
    )?;
    conn.change_property8(
        PropMode::REPLACE,
        window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        TITLE.as_bytes(),
    )
    .map_err(xwin::why)?;
    xwin::paint(
        &conn,
        &screen,
        window,
        &message_box(&face, width, height, text),
    )?;
    // Keys reach it without a grab: it has the focus until the user puts it elsewhere.
    conn.set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME)
        .map_err(xwin::why)?;
    conn.sync().map_err(xwin::why)?;
    say("shown");
    loop {
        match conn.wait_for_event().map_err(xwin::why)? {
            Event::KeyPress(e) if e.event == window => break,
            Event::ButtonPress(e) if e.event == window => break,
            _ => {}
        }
    }
    conn.destroy_window(window).map_err(xwin::why)?;
    conn.sync().map_err(xwin::why)?;
    Ok(())
}
