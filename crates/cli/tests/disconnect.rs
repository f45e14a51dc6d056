//! Disconnect-WmsSession against real ssh sessions: the connection ends, programs made to
//! outlive their terminal keep running, and the session lists as Disconnected.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn disconnect_keeps(program: &str, tty: bool) {
    let sshd = Sshd::start();
    let mut s = sshd.open_session(&user(Role::Plain), program, tty);
    let id = s.session_id();
    let bystander = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let keep = session_pids(bystander.session_id());
    // Wait until the program that should survive is up.
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !session_pids(id).iter().any(|p| comm(*p) == "sleep") {
        assert!(std::time::Instant::now() < end, "program never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = wms(&["Disconnect-WmsSession", "-SessionId", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        s.wait_exit(Duration::from_secs(20)).is_some(),
        "ssh client still connected"
    );
    let left = session_pids(id);
    assert!(
        left.iter().any(|p| comm(*p) == "sleep"),
        "the program did not survive: {left:?}"
    );
    assert!(
        !left.iter().any(|p| comm(*p) == "sshd"),
        "sshd still serves it: {left:?}"
    );
    let listed = session(id).expect("the session is still listed");
    assert_eq!(listed["State"], "Disconnected", "{listed}");
    assert_untouched(bystander.session_id(), &keep);
    // Close then ends it.
    let out = wms(&["session", "close", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(id);
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn a_tmux_program_survives_disconnect() {
    disconnect_keeps(
        "tmux -L wms-test-$$ new-session -d 'sleep 600'; exec sleep 601",
        true,
    );
}

#[test]
fn a_nohup_program_survives_disconnect() {
    disconnect_keeps(
        "nohup sleep 600 >/dev/null 2>&1 & exec bash --norc -i",
        true,
    );
}

#[test]
fn disconnecting_a_disconnected_session_is_harmless() {
    let sshd = Sshd::start();
    let s = sshd.open_session(
        &user(Role::Plain),
        "nohup sleep 600 >/dev/null 2>&1 & exec sleep 601",
        false,
    );
    let id = s.session_id().to_string();
    let out = wms(&["session", "disconnect", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = wms(&["session", "disconnect", &id, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"Outcome\":\"Done\""),
        "{}",
        stdout(&out)
    );
    assert_eq!(session(s.session_id()).unwrap()["State"], "Disconnected");
}

#[test]
fn a_local_session_cannot_be_disconnected_or_locked_and_is_left_alone() {
    // A login session opened directly, as pam_loginuid does for a console login.
    let mut child = Command::new("sh")
        .args(["-c", "echo 0 > /proc/self/loginuid && exec sleep 600"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    let id = loop {
        if let Some(id) = wms_testkit::process_session_id(pid).filter(|i| *i != u32::MAX) {
            if comm(pid) == "sleep" {
                break id;
            }
        }
        assert!(std::time::Instant::now() < end, "no session");
        std::thread::sleep(Duration::from_millis(20));
    };
    let listed = session(id).unwrap();
    assert_eq!(listed["State"], "ConnectedToStation", "{listed}");
    let out = wms(&["Disconnect-WmsSession", &id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("not a remote connection; wms can disconnect only ssh and xrdp sessions")
            && stderr(&out).contains("(NotSupportedException)"),
        "{}",
        stderr(&out)
    );
    let out = wms(&["Lock-WmsSession", &id.to_string(), "-Message", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(NotSupportedException)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(session_pids(id), vec![pid]);
    let _ = child.kill();
    let _ = child.wait();
}
