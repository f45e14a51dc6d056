//! `desktop::find` and `desktop::connect` against real X desktops (Xvfb with openbox) in
//! real ssh sessions, and against sessions whose environment points elsewhere.

use std::time::Duration;
use wms_core::SessionId;
use wms_host::desktop;
use wms_testkit::*;
use x11rb::connection::Connection as _;

#[test]
fn a_desktop_session_is_found_with_its_own_display_cookie_and_server() {
    let sshd = Sshd::start();
    let d = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 800,
            height: 600,
            ..Default::default()
        },
    );
    let t = desktop::find(SessionId(d.session_id())).expect("the desktop is found");
    assert_eq!(t.display, d.display());
    assert_eq!(t.socket, desktop::socket_path(d.display()));
    assert_eq!(t.server_pid.0 as u32, d.xvfb_pid());
    assert!(t.server_in_session);
    assert_eq!(t.uid, user(Role::Plain).uid);
    assert_eq!(
        t.cookie.as_ref().map(|c| c.data.as_slice()),
        Some(d.cookie())
    );
    assert_eq!(t.cookie_file.as_deref(), Some(d.xauthority()));
    let (conn, screen) = desktop::connect(&t).expect("connected with the session's cookie");
    let root = &conn.setup().roots[screen];
    assert_eq!((root.width_in_pixels, root.height_in_pixels), (800, 600));
}

#[test]
fn a_terminal_session_has_no_desktop_and_says_why() {
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let e = desktop::find(SessionId(s.session_id())).unwrap_err();
    assert!(e.0.contains("terminal session"), "{e}");
}

#[test]
fn another_users_display_and_authority_file_are_not_taken_from_the_environment() {
    let sshd = Sshd::start();
    let victim = Desktop::start(&sshd, &user(Role::Plain2), DesktopOptions::default());
    // A session that names the other user's display and cookie file as its own.
    let s = sshd.open_session(
        &user(Role::Plain),
        &format!(
            "export DISPLAY={} XAUTHORITY={}; exec sleep 600",
            victim.display_name(),
            victim.xauthority().display()
        ),
        false,
    );
    wait_session_runs(s.session_id(), "sleep");
    let e = desktop::find(SessionId(s.session_id())).unwrap_err();
    assert!(e.0.contains("not session"), "{e}");
    assert!(e.0.contains(&victim.xvfb_pid().to_string()), "{e}");
}

#[test]
fn a_cookie_file_the_user_does_not_own_is_never_read() {
    let sshd = Sshd::start();
    let mut d = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            window_manager: false,
            ..Default::default()
        },
    );
    // A root-owned authority file with another cookie for the same display, named by the
    // session's environment directly and through a link the user owns.
    let planted = d.dir().with_extension("planted");
    let status = std::process::Command::new("xauth")
        .args(["-q", "-f"])
        .arg(&planted)
        .args(["add", &d.display_name(), "MIT-MAGIC-COOKIE-1"])
        .arg("00112233445566778899aabbccddeeff")
        .status()
        .unwrap();
    assert!(status.success());
    let link = d.dir().join("link");
    d.spawn(&format!(
        "exec ln -s {} {}",
        planted.display(),
        link.display()
    ));
    for f in [&planted, &link] {
        d.spawn(&format!("exec env XAUTHORITY={} sleep 600", f.display()));
    }
    std::thread::sleep(Duration::from_millis(300));
    let t = desktop::find(SessionId(d.session_id())).expect("the desktop is found");
    // The display came from the server's own socket (it was started with -displayfd), the
    // cookie from the server's -auth file: the user's own.
    assert_eq!(t.display, d.display());
    assert_eq!(
        t.cookie.as_ref().map(|c| c.data.as_slice()),
        Some(d.cookie())
    );
    assert_eq!(t.cookie_file.as_deref(), Some(d.xauthority()));
    desktop::connect(&t).expect("connected");
    let _ = std::fs::remove_file(&planted);
}
