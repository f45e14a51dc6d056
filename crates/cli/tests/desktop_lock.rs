//! Lock-WmsSession and Unlock-WmsSession on real X11 desktops (Xvfb with openbox, two
//! monitors, inside a real ssh audit session), read back from the X server as a person
//! sees it (tesseract) and typed at as a person would (xdotool).

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, GrabMode, GrabStatus};

/// A desktop in a real ssh session: Xvfb 1600x600 split into two RandR monitors of
/// 800x600, openbox, and `xev` as a window that logs every key and click it receives.
struct Desktop {
    _sshd: Sshd,
    session: SshSession,
    display: String,
    authority: String,
    log: String,
}

fn mark() -> String {
    format!("{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap()[..8].to_string()
}

const RIG: &str = r#"
D="$1"; mkdir -p "$D"; chmod 755 "$D"
export XAUTHORITY="$D/xauth"
n=60
while [ $n -lt 600 ]; do
  n=$((n + 1 + $$ % 7))
  [ -e /tmp/.X$n-lock ] && continue
  : > "$XAUTHORITY"
  xauth -f "$XAUTHORITY" add :$n . "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  Xvfb :$n -noreset -screen 0 1600x600x24 -nolisten tcp -auth "$XAUTHORITY" 2>"$D/xvfb.err" &
  x=$!
  i=0
  while [ $i -lt 100 ] && kill -0 $x 2>/dev/null && ! xdpyinfo -display :$n >/dev/null 2>&1; do
    sleep 0.05; i=$((i + 1))
  done
  kill -0 $x 2>/dev/null && break
done
export DISPLAY=:$n
xrandr --setmonitor wms-left 800/211x600/158+0+0 none
xrandr --setmonitor wms-right 800/211x600/158+800+0 none
xsetroot -solid '#336699'
openbox >/dev/null 2>&1 &
sleep 0.5
xev -geometry 300x200+200+150 > "$D/log" 2>&1 &
echo $n > "$D/display.tmp"; mv "$D/display.tmp" "$D/display"
wait
"#;

fn desktop() -> Desktop {
    let sshd = Sshd::start();
    let dir = format!("/tmp/wms-desk-{}", mark());
    let script = format!("{dir}.sh");
    std::fs::write(&script, RIG).unwrap();
    let session = sshd.open_session(&user(Role::Plain), &format!("sh {script} {dir}"), false);
    let end = Instant::now() + Duration::from_secs(30);
    let display = loop {
        if let Ok(n) = std::fs::read_to_string(format!("{dir}/display")) {
            break format!(":{}", n.trim());
        }
        assert!(Instant::now() < end, "the desktop never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let d = Desktop {
        _sshd: sshd,
        session,
        display,
        authority: format!("{dir}/xauth"),
        log: format!("{dir}/log"),
    };
    // The logging window is up, mapped and focused.
    let end = Instant::now() + Duration::from_secs(10);
    while d
        .xdotool(&["search", "--name", "^Event Tester$"])
        .trim()
        .is_empty()
    {
        assert!(Instant::now() < end, "the logging window never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

impl Drop for Desktop {
    fn drop(&mut self) {
        kill_session(self.session.session_id());
    }
}

impl Desktop {
    fn id(&self) -> String {
        self.session.session_id().to_string()
    }

    fn tool(&self, prog: &str, args: &[&str]) -> std::process::Output {
        Command::new(prog)
            .args(args)
            .env("DISPLAY", &self.display)
            .env("XAUTHORITY", &self.authority)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {prog}: {e}"))
    }

    fn xdotool(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.tool("xdotool", args).stdout).into_owned()
    }

    /// Focuses the logging window, then types `key` and clicks inside it.
    fn type_and_click(&self, key: &str) {
        let w = self.xdotool(&["search", "--name", "^Event Tester$"]);
        let w = w.lines().next().unwrap_or("").to_string();
        self.tool("xdotool", &["windowfocus", &w]);
        self.tool("xdotool", &["mousemove", "--window", &w, "50", "50"]);
        self.tool("xdotool", &["key", key]);
        self.tool("xdotool", &["click", "2"]);
        std::thread::sleep(Duration::from_millis(300));
    }

    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The screen as a portable pixmap (`xwd -root | xwdtopnm`).
    fn capture(&self) -> Vec<u8> {
        let sh = format!(
            "xwd -root -silent -display {} | xwdtopnm 2>/dev/null",
            self.display
        );
        let out = Command::new("sh")
            .args(["-c", &sh])
            .env("XAUTHORITY", &self.authority)
            .output()
            .unwrap();
        assert!(!out.stdout.is_empty(), "no capture");
        out.stdout
    }

    /// What tesseract reads on the monitor at `left` (800x600).
    fn read_monitor(&self, left: u32) -> String {
        let sh = format!(
            "xwd -root -silent -display {} | xwdtopnm 2>/dev/null | pnmcut -left {left} -top 0 -width 800 -height 600 | tee /tmp/wms-ocr-{left}.pnm | tesseract stdin stdout 2>/dev/null",
            self.display
        );
        let out = Command::new("sh")
            .args(["-c", &sh])
            .env("XAUTHORITY", &self.authority)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether a client of the desktop's user could take the keyboard now.
    fn keyboard_free(&self) -> bool {
        let target = wms_host::xconnect::Target {
            session: wms_core::SessionId(self.session.session_id()),
            uid: user(Role::Plain).uid,
            display: self.display[1..].parse().unwrap(),
            authority: Some(self.authority.clone().into()),
        };
        let (conn, screen) = wms_host::xconnect::connect(&target).expect("connect");
        let root = conn.setup().roots[screen].root;
        let status = conn
            .grab_keyboard(
                false,
                root,
                x11rb::CURRENT_TIME,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
            )
            .unwrap()
            .reply()
            .unwrap()
            .status;
        if status == GrabStatus::SUCCESS {
            conn.ungrab_keyboard(x11rb::CURRENT_TIME).unwrap();
            conn.sync_ok();
            return true;
        }
        false
    }
}

trait SyncOk {
    fn sync_ok(&self);
}
impl<C: Connection> SyncOk for C {
    fn sync_ok(&self) {
        let _ = self.get_input_focus().map(|c| c.reply());
    }
}

/// Lowercase words of what tesseract read, for matching text despite line breaks.
fn words(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn locker_pids(id: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if argv.get(1) == Some(&b"__wms-desktop-lock".as_slice())
            && argv.get(2).is_some_and(|r| r.starts_with(b"locker"))
            && argv.get(3) == Some(&id.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_desktop_lock_covers_both_monitors_swallows_input_survives_its_killing_and_unlocks_clean() {
    let d = desktop();
    let id = d.id();
    // Input reaches the logging window before the lock.
    d.type_and_click("a");
    let log = d.logged();
    assert!(log.contains("(keysym 0x61, a)"), "{log}");
    assert!(log.contains("button 2"), "{log}");
    std::thread::sleep(Duration::from_millis(300));
    let before = d.capture();

    let out = wms(&["session", "lock", &id, "--message", "Eyes to the front"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for left in [0, 800] {
        let read = words(&d.read_monitor(left));
        assert!(
            read.contains("eyes to the front") && read.contains("locked"),
            "monitor at {left} reads {read:?}"
        );
    }
    assert_eq!(session(d.session.session_id()).unwrap()["IsLocked"], true);
    assert!(!d.keyboard_free(), "another client took the keyboard");

    // Keys and clicks while locked reach nothing.
    let seen = d.logged().len();
    d.type_and_click("q");
    assert!(!d.logged().contains("(keysym 0x71, q)"), "{}", d.logged());
    let since = d.logged()[seen..].to_string();
    assert!(!since.contains("ButtonPress"), "{since}");

    // Killed as root by its PID, the lock is back within a second.
    let pids = locker_pids(&id);
    assert_eq!(pids.len(), 1, "{pids:?}");
    let killed = Instant::now();
    Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status()
        .unwrap();
    loop {
        let now = locker_pids(&id);
        if now.len() == 1 && now[0] != pids[0] && !d.keyboard_free() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "no lock a second after the kill: {:?} {}",
            now,
            String::from_utf8_lossy(
                &Command::new("ps")
                    .args(["-eo", "pid,ppid,stat,args"])
                    .output()
                    .unwrap()
                    .stdout
            )
            .lines()
            .filter(|l| l.contains("__wms"))
            .collect::<Vec<_>>()
            .join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The message follows the grab.
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let read = words(&d.read_monitor(800));
        if read.contains("eyes to the front") {
            break;
        }
        assert!(Instant::now() < end, "after the kill: {read:?}");
    }

    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(locker_pids(&id).is_empty());
    assert_eq!(session(d.session.session_id()).unwrap()["IsLocked"], false);
    // Nothing typed while locked arrives after; new input does.
    d.type_and_click("z");
    let log = d.logged();
    assert!(log.contains("(keysym 0x7a, z)"), "{log}");
    assert!(!log.contains("(keysym 0x71, q)"), "{log}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        d.capture() == before,
        "the screen after unlock differs from the one before"
    );
}

#[test]
fn a_desktop_wms_cannot_reach_is_not_supported() {
    let sshd = Sshd::start();
    // A Wayland session's environment, and an X display that nothing serves.
    let wayland = sshd.open_session(
        &user(Role::Plain),
        "env -u DISPLAY WAYLAND_DISPLAY=wayland-0 sleep 600",
        false,
    );
    let nowhere = sshd.open_session(&user(Role::Plain), "env DISPLAY=:999 sleep 600", false);
    std::thread::sleep(Duration::from_millis(300));
    let out = wms(&[
        "Lock-WmsSession",
        &wayland.session_id().to_string(),
        "Hello",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Wayland") && err.contains("(NotSupportedException)"),
        "{err}"
    );
    let out = wms(&[
        "Lock-WmsSession",
        &nowhere.session_id().to_string(),
        "Hello",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("its X server :999 cannot be reached")
            && err.contains("(NotSupportedException)"),
        "{err}"
    );
    for s in [&wayland, &nowhere] {
        assert_eq!(session(s.session_id()).unwrap()["IsLocked"], false);
        assert!(locker_pids(&s.session_id().to_string()).is_empty());
        kill_session(s.session_id());
    }
}
