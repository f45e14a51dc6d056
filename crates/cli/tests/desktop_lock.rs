//! Lock-WmsSession and Unlock-WmsSession on real X11 desktops (Xvfb with openbox, two
//! monitors, inside a real ssh audit session), read back from the X server as a person
//! sees it (tesseract) and typed at as a person would (xdotool).

mod common;
#[allow(unused_imports)]
use common::Agent;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wms_testkit::{Desktop, DesktopOptions, TestWindow, WindowSpec};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, GrabMode, GrabStatus};

/// The lockers (not their keepers) of session `id`'s desktop lock.
fn locker_pids(id: &str) -> Vec<i32> {
    lock_processes_where(id, |role| role.starts_with(b"locker"))
}

/// A two-monitor desktop (1600x600, two RandR monitors of 800x600) in a real ssh
/// session, and a window on the left monitor that logs the input it receives.
fn desktop(sshd: &Sshd) -> (Desktop, TestWindow) {
    let d = Desktop::start(
        sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 1600,
            height: 600,
            two_monitors: true,
            ..DesktopOptions::default()
        },
    );
    let w = d.open_window(WindowSpec::default());
    (d, w)
}

/// Focuses the logging window, then types `key` and clicks inside it.
fn type_and_click(d: &Desktop, w: &TestWindow, key: &str) {
    w.focus();
    let (x, y) = (w.x + 50, w.y + 50);
    let run = |args: &[&str]| {
        let out = d.x_command("xdotool").args(args).output().unwrap();
        assert!(out.status.success(), "xdotool {args:?}: {}", stderr(&out));
    };
    run(&["mousemove", &x.to_string(), &y.to_string()]);
    run(&["key", key]);
    run(&["click", "2"]);
    std::thread::sleep(Duration::from_millis(300));
}

/// What tesseract reads on the monitor at `left` (800 pixels wide).
fn read_monitor(d: &Desktop, left: u32) -> String {
    let shot = d.screenshot();
    let (w, h) = (800, shot.height);
    let mut ppm = format!("P6\n{w} {h}\n255\n").into_bytes();
    for y in 0..h {
        let at = ((y * shot.width + left) * 3) as usize;
        ppm.extend_from_slice(&shot.rgb[at..at + (w * 3) as usize]);
    }
    common::ocr(&ppm)
}

/// Lowercase words of what tesseract read, for matching text despite line breaks.
fn words(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Waits until tesseract reads `text` on the monitor at `left`.
fn wait_read(d: &Desktop, left: u32, text: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let read = words(&read_monitor(d, left));
        if read.contains(text) {
            return;
        }
        assert!(
            Instant::now() < end,
            "monitor at {left} reads {read:?}, not {text:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asks for the keyboard on `conn`'s root window, as any client may.
fn grab_keyboard(conn: &x11rb::rust_connection::RustConnection) -> GrabStatus {
    let root = conn.setup().roots[0].root;
    conn.grab_keyboard(
        false,
        root,
        x11rb::CURRENT_TIME,
        GrabMode::ASYNC,
        GrabMode::ASYNC,
    )
    .unwrap()
    .reply()
    .unwrap()
    .status
}

/// Whether another client of the desktop could take the keyboard now.
fn keyboard_free(d: &Desktop) -> bool {
    let conn = d.connect();
    if grab_keyboard(&conn) == GrabStatus::SUCCESS {
        conn.ungrab_keyboard(x11rb::CURRENT_TIME).unwrap();
        let _ = conn.get_input_focus().map(|c| c.reply());
        return true;
    }
    false
}

#[test]
fn a_desktop_lock_covers_both_monitors_swallows_input_survives_its_killing_and_unlocks_clean() {
    let sshd = Sshd::start();
    let (d, w) = desktop(&sshd);
    let id = d.session_id().to_string();
    // Input reaches the logging window before the lock.
    type_and_click(&d, &w, "a");
    let seen = w.wait_events(2, Duration::from_secs(5));
    assert_eq!(seen.len(), 2, "{seen:?}");
    let before = d.screenshot();

    let out = wms(&["session", "lock", &id, "--message", "Eyes to the front"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for left in [0, 800] {
        let read = words(&read_monitor(&d, left));
        assert!(
            read.contains("eyes to the front") && read.contains("locked"),
            "monitor at {left} reads {read:?}"
        );
    }
    assert_eq!(session(d.session_id()).unwrap()["IsLocked"], true);
    assert!(!keyboard_free(&d), "another client took the keyboard");

    // Keys and clicks while locked reach nothing.
    type_and_click(&d, &w, "q");
    assert_eq!(w.events(), seen, "input reached the window while locked");

    // Its processes are outside every audit session: no close (not --all, not the
    // administrator's own session's) reaches them.
    for p in lock_processes(&id) {
        let sid = std::fs::read_to_string(format!("/proc/{p}/sessionid")).unwrap();
        assert_eq!(
            sid.trim(),
            "4294967295",
            "lock process {p} is in session {sid}"
        );
    }

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
        if now.len() == 1 && now[0] != pids[0] && !keyboard_free(&d) {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "no lock a second after the kill: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The message follows the grab.
    wait_read(&d, 800, "eyes to the front");
    type_and_click(&d, &w, "q");
    assert_eq!(w.events(), seen, "input reached the window while locked");
    // Locking it again replaces the message, with the same locker.
    let locker = locker_pids(&id);
    let out = wms(&["session", "lock", &id, "--message", "Pens down now"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_read(&d, 0, "pens down now");
    assert_eq!(locker_pids(&id), locker);

    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(locker_pids(&id).is_empty());
    assert_eq!(session(d.session_id()).unwrap()["IsLocked"], false);
    // Nothing typed while locked arrives after; new input does.
    type_and_click(&d, &w, "z");
    let after = w.wait_events(4, Duration::from_secs(5));
    assert_eq!(after.len(), 4, "{after:?}");
    assert_eq!(&after[..2], &seen[..]);
    assert_ne!(
        after[2], seen[0],
        "the key typed while locked arrived after the unlock"
    );
    assert!(
        d.screenshot() == before,
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
    wms_testkit::wait_session_runs(wayland.session_id(), "sleep");
    wms_testkit::wait_session_runs(nowhere.session_id(), "sleep");
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
        err.contains("display :999") && err.contains("(NotSupportedException)"),
        "{err}"
    );
    for s in [&wayland, &nowhere] {
        assert_eq!(session(s.session_id()).unwrap()["IsLocked"], false);
        assert!(locker_pids(&s.session_id().to_string()).is_empty());
        kill_session(s.session_id());
    }
}

/// Every process of session `id`'s desktop lock (locker and keeper).
fn lock_processes(id: &str) -> Vec<i32> {
    lock_processes_where(id, |_| true)
}

/// The processes of session `id`'s desktop lock whose role (`locker`, `keeper`, the
/// hidden subcommand's first argument) passes `role`.
fn lock_processes_where(id: &str, role: impl Fn(&[u8]) -> bool) -> Vec<i32> {
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
            && argv.get(2).is_some_and(|r| role(r))
            && argv.get(3) == Some(&id.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// `wms args...` as root with the configuration `config` (an agent's: it goes through it).
fn wms_with(config: &str, args: &[&str]) -> std::process::Output {
    Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", config)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_locked_desktop_stays_on_top_survives_an_agent_restart_is_held_again_and_unlocks_after() {
    let sshd = Sshd::start();
    let (d, _w) = desktop(&sshd);
    let id = d.session_id().to_string();
    let mut agent = Agent::unix();
    let config = agent.config.clone();
    let out = wms_with(
        &config,
        &["session", "lock", &id, "--message", "Back at ten"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_read(&d, 0, "back at ten");

    // A window mapped above the lock afterwards (override-redirect, so no window manager
    // stands in between) is covered again.
    let above = d.open_window(WindowSpec {
        x: 900,
        y: 100,
        override_redirect: true,
        ..WindowSpec::default()
    });
    let red = WindowSpec::default().color;
    wait_until(
        "the lock was not raised over a new window",
        Duration::from_secs(2),
        || {
            let shot = d.screenshot();
            (900..1220).all(|x| (100..300).all(|y| shot.pixel(x, y) != red))
        },
    );
    drop(above);

    // Without the agent the lock holds.
    agent.kill();
    assert!(!keyboard_free(&d));
    // Both of its processes, stopped and then killed together: only the record is left.
    let pids = lock_processes(&id);
    assert_eq!(pids.len(), 2, "{pids:?}");
    for sig in ["-STOP", "-KILL"] {
        let mut kill = Command::new("kill");
        kill.arg(sig);
        for p in &pids {
            kill.arg(p.to_string());
        }
        assert!(kill.status().unwrap().success());
    }
    wait_until(
        "the killed locker kept the keyboard",
        Duration::from_secs(5),
        || keyboard_free(&d),
    );
    // The agent that starts finds the record without its locker and holds the lock again.
    agent.start_again();
    wait_until(
        "the agent did not hold the lock again",
        Duration::from_secs(10),
        || !keyboard_free(&d),
    );
    wait_read(&d, 800, "back at ten");
    let listed = wms_with(&config, &["session", "list", &id, "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_str(stdout(&listed).trim()).unwrap();
    assert_eq!(listed["IsLocked"], true, "{listed}");

    let out = wms_with(&config, &["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(lock_processes(&id).is_empty());
    assert!(keyboard_free(&d));
}

#[test]
fn a_grab_another_client_holds_fails_the_lock_with_the_reason_and_leaves_nothing() {
    let sshd = Sshd::start();
    let (d, _w) = desktop(&sshd);
    let id = d.session_id().to_string();
    let holder = d.connect();
    assert_eq!(grab_keyboard(&holder), GrabStatus::SUCCESS);
    let before = d.screenshot();

    let out = wms(&["Lock-WmsSession", &id, "Hello"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cannot grab the desktop's input") && err.contains("another client holds it"),
        "{err}"
    );
    assert!(lock_processes(&id).is_empty());
    assert_eq!(session(d.session_id()).unwrap()["IsLocked"], false);
    assert!(
        d.screenshot() == before,
        "the failed lock left something on the screen"
    );

    // Once the grab is let go, the lock is had.
    drop(holder);
    let out = wms(&["Lock-WmsSession", &id, "Hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = wms(&["Unlock-WmsSession", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(lock_processes(&id).is_empty());
}

#[test]
fn a_message_window_shows_the_text_grabs_nothing_and_goes_when_dismissed() {
    let sshd = Sshd::start();
    let (d, _w) = desktop(&sshd);
    let id = d.session_id().to_string();
    let out = Command::new(wms_path())
        .args([
            "session",
            "message",
            &id,
            "--text",
            "Lunch is ready",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("\"Done\""),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    wait_read(&d, 0, "lunch is ready");
    // Under a line naming the sender, as write's banner does.
    wait_read(&d, 0, "message from root@");
    assert!(keyboard_free(&d), "the message window took the keyboard");
    let find = || {
        let out = d
            .x_command("xdotool")
            .args(["search", "--name", "^wms message$"])
            .output()
            .unwrap();
        stdout(&out).trim().to_string()
    };
    assert!(!find().is_empty(), "no message window");
    let key = d
        .x_command("xdotool")
        .args(["key", "Return"])
        .output()
        .unwrap();
    assert!(key.status.success());
    wait_until("the message window stayed", Duration::from_secs(5), || {
        find().is_empty()
    });
    assert!(!words(&read_monitor(&d, 0)).contains("lunch is ready"));
}
