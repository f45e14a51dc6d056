//! A real X desktop inside a real audit session: `Xvfb` with `openbox`, started by a test
//! user in an ssh session opened through the kit's [`Sshd`], as a display manager would
//! start a console desktop (its own cookie in its own authority file, `DISPLAY` and
//! `XAUTHORITY` in the environment of the session's processes).
//!
//! The test gets the session ID, the display, the authority file and cookie, the PIDs of
//! the X server and the window manager; it can run programs as the user inside the
//! session ([`Desktop::spawn`]), run X clients as root from outside it
//! ([`Desktop::x_command`]), open windows of a known colour that log their input
//! ([`Desktop::open_window`], see `xwindow`) and read the screen back
//! ([`Desktop::screenshot`]).
//!
//! Dropping it ends every process it started by PID, then what is left of its session,
//! and removes its directory.

use super::*;
use crate::xwindow::{self, Screenshot, TestWindow, WindowSpec};

/// What kind of desktop [`Desktop::start`] starts.
#[derive(Debug, Clone)]
pub struct DesktopOptions {
    pub width: u32,
    pub height: u32,
    /// The root window's solid colour (`xsetroot -solid`), as RGB.
    pub background: (u8, u8, u8),
    /// Two RandR monitors side by side on the one screen (each half its width, set with
    /// `xrandr --setmonitor`), as a two-monitor desk shows: for the lock's tests.
    pub two_monitors: bool,
    /// Whether `openbox` manages the windows.
    pub window_manager: bool,
}

impl Default for DesktopOptions {
    fn default() -> DesktopOptions {
        DesktopOptions {
            width: 1024,
            height: 768,
            background: (0x2e, 0x8b, 0x57),
            two_monitors: false,
            window_manager: true,
        }
    }
}

/// A running desktop (see the module documentation).
pub struct Desktop {
    session: SshSession,
    session_id: u32,
    display: u32,
    dir: PathBuf,
    xauthority: PathBuf,
    cookie: Vec<u8>,
    xvfb_pid: u32,
    wm_pid: Option<u32>,
    /// Everything started through [`Desktop::spawn`], for teardown.
    spawned: Vec<u32>,
    options: DesktopOptions,
    user: TestUser,
}

impl fmt::Debug for Desktop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Desktop")
            .field("session_id", &self.session_id)
            .field("display", &self.display)
            .field("xvfb_pid", &self.xvfb_pid)
            .field("wm_pid", &self.wm_pid)
            .field("user", &self.user.name)
            .finish()
    }
}

/// How long the desktop may take to come up.
const DESKTOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The shell script the user's session runs: the cookie, Xvfb on a display it picks
/// itself (`-displayfd`), the window manager, the background, the monitors; then one
/// program per line read from standard input, each started in the background with
/// `DISPLAY` and `XAUTHORITY` set, its PID printed.
const SCRIPT: &str = r#"set -e
d="$1"; cookie="$2"; size="$3"; background="$4"; monitors="$5"; wm="$6"
umask 077
cd "$d"
# The server reads every record of its -auth file; clients look theirs up by display.
xauth -q -f "$d/Xauthority" add :0 MIT-MAGIC-COOKIE-1 "$cookie"
Xvfb -displayfd 3 -auth "$d/Xauthority" -screen 0 "${size}x24" -nolisten tcp -noreset \
    3>"$d/display" </dev/null >>"$d/xvfb.log" 2>&1 &
xvfb=$!
i=0
until [ -s "$d/display" ]; do
    i=$((i + 1)); [ "$i" -lt 600 ] || { echo "WMS-DESKTOP-FAILED Xvfb gave no display"; exit 1; }
    kill -0 "$xvfb" 2>/dev/null || { echo "WMS-DESKTOP-FAILED Xvfb exited: $(cat "$d/xvfb.log")"; exit 1; }
    sleep 0.05
done
n=$(head -n1 "$d/display")
xauth -q -f "$d/Xauthority" add ":$n" MIT-MAGIC-COOKIE-1 "$cookie"
export DISPLAY=":$n" XAUTHORITY="$d/Xauthority"
wmpid=0
if [ "$wm" = 1 ]; then
    openbox --sm-disable </dev/null >>"$d/openbox.log" 2>&1 &
    wmpid=$!
    # The window manager is up once it owns the screen's WM_S0 selection.
    i=0
    until xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id'; do
        i=$((i + 1)); [ "$i" -lt 200 ] || break
        sleep 0.05
    done
fi
xsetroot -solid "$background"
if [ "$monitors" = 2 ]; then
    w=${size%x*}; h=${size#*x}; half=$((w / 2))
    # The screen's one output goes to the left monitor, so only the two are listed.
    output=$(xrandr | awk '/ connected/ { print $1; exit }')
    xrandr --setmonitor wms-left "$half/300x$h/300+0+0" "${output:-none}"
    xrandr --setmonitor wms-right "$((w - half))/300x$h/300+$half+0" none
fi
echo "WMS-DESKTOP display=$n xvfb=$xvfb wm=$wmpid"
while IFS= read -r line; do
    sh -c "$line" </dev/null >>"$d/clients.log" 2>&1 &
    echo "WMS-STARTED $!"
done
"#;

impl Desktop {
    /// Starts a desktop as `user` in a new ssh session through `sshd`, and waits until it
    /// is up (the window manager running, the background set).
    pub fn start(sshd: &Sshd, user: &TestUser, options: DesktopOptions) -> Desktop {
        let dir = fresh_dir("desktop");
        let gid = fs::metadata(format!("/home/{}", user.name))
            .map(|m| m.gid())
            .unwrap_or(user.uid);
        rustix::fs::chown(
            &dir,
            Some(rustix::fs::Uid::from_raw(user.uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
        chmod(&dir, 0o700);
        let script = dir.join("desktop.sh");
        fs::write(&script, SCRIPT).expect("write the desktop script");
        chmod(&script, 0o644);
        let mut cookie = [0u8; 16];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut cookie))
            .expect("read /dev/urandom");
        let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
        let (r, g, b) = options.background;
        let command = [
            "sh".to_string(),
            shell_quote(&script.to_string_lossy()),
            shell_quote(&dir.to_string_lossy()),
            hex,
            format!("{}x{}", options.width, options.height),
            shell_quote(&format!("#{r:02x}{g:02x}{b:02x}")),
            if options.two_monitors { "2" } else { "1" }.to_string(),
            if options.window_manager { "1" } else { "0" }.to_string(),
        ]
        .join(" ");
        let session = sshd.open_session(user, &command, false);
        let up = session.output.wait_until(DESKTOP_TIMEOUT, |bytes| {
            let text = String::from_utf8_lossy(bytes);
            text.lines()
                .find(|l| l.starts_with("WMS-DESKTOP"))
                .map(str::to_string)
        });
        let line = up.unwrap_or_default();
        if !line.starts_with("WMS-DESKTOP ") {
            panic!(
                "the desktop of {} did not come up: {line}\n--- output ---\n{}\n--- errors ---\n{}\n--- Xvfb ---\n{}",
                user.name,
                session.output_text(),
                String::from_utf8_lossy(&session.stderr_output()),
                fs::read_to_string(dir.join("xvfb.log")).unwrap_or_default()
            );
        }
        let field = |k: &str| -> u32 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {line:?}"))
        };
        let (display, xvfb_pid, wm_pid) = (field("display"), field("xvfb"), field("wm"));
        if options.window_manager {
            // The window manager is up once it has mapped a window (while still starting,
            // openbox drops what was asked of it): one, at once closed again.
            drop(xwindow::open(
                display,
                &cookie,
                WindowSpec {
                    width: 8,
                    height: 8,
                    title: "wms-testkit-probe".into(),
                    ..Default::default()
                },
            ));
        }
        Desktop {
            session_id: session.session_id(),
            session,
            display,
            xauthority: dir.join("Xauthority"),
            dir,
            cookie: cookie.to_vec(),
            xvfb_pid,
            wm_pid: (wm_pid != 0).then_some(wm_pid),
            spawned: Vec::new(),
            options,
            user: user.clone(),
        }
    }

    /// The audit session the desktop runs in.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// The display number (`:N`).
    pub fn display(&self) -> u32 {
        self.display
    }

    /// The display as `DISPLAY` names it (`:N`).
    pub fn display_name(&self) -> String {
        format!(":{}", self.display)
    }

    /// The session's authority file (owned by the user), holding its cookie.
    pub fn xauthority(&self) -> &Path {
        &self.xauthority
    }

    /// The session's `MIT-MAGIC-COOKIE-1` data.
    pub fn cookie(&self) -> &[u8] {
        &self.cookie
    }

    /// A connection of the test's own to the desktop's X server, with the session's
    /// cookie (another client of the desktop, as far as the server can tell).
    pub fn connect(&self) -> x11rb::rust_connection::RustConnection {
        xwindow::connect(self.display, &self.cookie)
    }

    /// The X server's PID.
    pub fn xvfb_pid(&self) -> u32 {
        self.xvfb_pid
    }

    /// The window manager's PID, if one runs.
    pub fn wm_pid(&self) -> Option<u32> {
        self.wm_pid
    }

    /// The screen's size.
    pub fn size(&self) -> (u32, u32) {
        (self.options.width, self.options.height)
    }

    /// The root window's colour.
    pub fn background(&self) -> (u8, u8, u8) {
        self.options.background
    }

    /// The user the desktop runs as.
    pub fn user(&self) -> &TestUser {
        &self.user
    }

    /// The directory (owned by the user, mode 0700) holding the authority file and the
    /// logs (`clients.log` has what spawned programs print).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `command` (a shell command line) as the user inside the desktop's session,
    /// with `DISPLAY` and `XAUTHORITY` set and its output in `clients.log`, and returns its
    /// PID (the `sh -c` running it; start it with `exec` to make that the program's).
    pub fn spawn(&mut self, command: &str) -> u32 {
        assert!(!command.contains('\n'), "one line only: {command:?}");
        let count = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .lines()
                .filter(|l| l.starts_with("WMS-STARTED "))
                .count()
        };
        let before = count(&self.session.output());
        self.session.send(format!("{command}\n").as_bytes());
        let pid = self
            .session
            .output
            .wait_until(Duration::from_secs(10), |bytes| {
                let text = String::from_utf8_lossy(bytes);
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| l.starts_with("WMS-STARTED "))
                    .collect();
                (lines.len() > before).then(|| lines[before][12..].trim().parse::<u32>().ok())
            })
            .flatten()
            .unwrap_or_else(|| panic!("the desktop session did not start {command:?}"));
        self.spawned.push(pid);
        pid
    }

    /// An X client command (`xdotool`, `xwininfo`, `xwd`, ...) run as root outside the
    /// session, with the desktop's `DISPLAY` and `XAUTHORITY`.
    pub fn x_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", self.display_name())
            .env("XAUTHORITY", &self.xauthority)
            .stdin(Stdio::null());
        cmd
    }

    /// Opens a window of `spec` on the desktop, from this process (an X client with the
    /// session's cookie, as any client of that display), and waits until it is shown.
    pub fn open_window(&self, spec: WindowSpec) -> TestWindow {
        xwindow::open(self.display, &self.cookie, spec)
    }

    /// The whole screen as it is now, read from the X server.
    pub fn screenshot(&self) -> Screenshot {
        xwindow::screenshot(self.display, &self.cookie)
    }

    /// Ends the desktop now (as dropping it does).
    pub fn stop(self) {}
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for pid in self.spawned.iter().rev().copied().chain(self.wm_pid) {
            signal(pid, Signal::KILL);
        }
        signal(self.xvfb_pid, Signal::KILL);
        self.session.close_input();
        // What the programs started in turn, and the session's shell.
        if self.session_id != NO_SESSION {
            kill_session(self.session_id);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
