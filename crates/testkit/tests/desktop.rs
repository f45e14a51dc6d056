//! The desktop rig itself: a real Xvfb with openbox in a real ssh session, its
//! background, its monitors, windows that show their colour and log their input, and
//! programs run inside the session.

use std::time::Duration;
use wms_testkit::*;

#[test]
fn a_desktop_shows_its_background_and_windows_and_logs_their_input() {
    let sshd = Sshd::start();
    let mut d = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 640,
            height: 480,
            background: (10, 20, 200),
            two_monitors: true,
            ..Default::default()
        },
    );
    // Everything runs inside the one audit session.
    assert_eq!(process_session_id(d.xvfb_pid()), Some(d.session_id()));
    assert_eq!(
        process_session_id(d.wm_pid().unwrap()),
        Some(d.session_id())
    );
    let out = d
        .x_command("xrandr")
        .arg("--listmonitors")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Monitors: 2"), "{text}");
    assert!(text.contains("320/") && text.contains("+320+0"), "{text}");

    let w = d.open_window(WindowSpec {
        x: 200,
        y: 150,
        width: 100,
        height: 80,
        color: (250, 200, 0),
        ..Default::default()
    });
    let shot = d.screenshot();
    assert_eq!((shot.width, shot.height), (640, 480));
    assert_eq!(shot.pixel(5, 470), (10, 20, 200));
    let (cx, cy) = (w.x as u32 + w.width / 2, w.y as u32 + w.height / 2);
    assert_eq!(shot.pixel(cx, cy), (250, 200, 0));

    // Keys and clicks reach it as a user's would.
    w.focus();
    let ok = d
        .x_command("xdotool")
        .args(["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"])
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = d.x_command("xdotool").args(["key", "a"]).status().unwrap();
    assert!(ok.success());
    let events = w.wait_events(2, Duration::from_secs(5));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, InputEvent::Button(1, ..))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, InputEvent::Key(_))),
        "{events:?}"
    );

    // Programs started inside the session run there, with the display.
    let pid = d.spawn("exec sleep 600");
    assert_eq!(process_session_id(pid), Some(d.session_id()));
    let (session, xvfb) = (d.session_id(), d.xvfb_pid());
    drop(w);
    d.stop();
    assert!(
        wait_session_gone(session, Duration::from_secs(10)),
        "{:?}",
        session_pids(session)
            .iter()
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
            .collect::<Vec<_>>()
    );
    // Gone, or a zombie its new parent has yet to reap.
    let stat = std::fs::read_to_string(format!("/proc/{xvfb}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
}
