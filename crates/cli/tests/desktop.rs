//! Desktop sessions against real X desktops (Xvfb with openbox) inside real ssh sessions:
//! their Type and Display in the listing.

mod common;
use common::*;
use serde_json::Value;
use wms_testkit::{Desktop, DesktopOptions};

#[test]
fn a_desktop_lists_as_x11_with_its_display_and_a_terminal_as_tty_without() {
    let sshd = Sshd::start();
    let d = Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default());
    let t = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let s = session(d.session_id()).expect("the desktop session is listed");
    assert_eq!(s["Type"], "x11", "{s}");
    assert_eq!(s["Display"], Value::from(d.display_name()), "{s}");
    let s = session(t.session_id()).expect("the terminal session is listed");
    assert_eq!(s["Type"], "tty", "{s}");
    assert!(s.get("Display").is_none(), "{s}");

    // Its user sees the same; another plain user cannot read the session's environment,
    // so neither its Type nor its Display is given to them.
    let ids = format!("{} -o json", d.session_id());
    let own = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("session list {ids}"),
        b"",
    );
    let own: Value = serde_json::from_str(own.stdout.trim()).expect("JSON");
    assert_eq!(own["Type"], "x11", "{own}");
    assert_eq!(own["Display"], Value::from(d.display_name()), "{own}");
    let other = wms_as(
        &sshd,
        &user(Role::Plain2),
        &format!("session list {ids}"),
        b"",
    );
    let other: Value = serde_json::from_str(other.stdout.trim()).expect("JSON");
    assert!(
        other.get("Type").is_none() && other.get("Display").is_none(),
        "{other}"
    );
}
