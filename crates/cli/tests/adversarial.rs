//! Sessions that fight back: processes that ignore SIGTERM, stopped processes, and fork
//! loops. Close leaves no process behind and touches nothing outside the session.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// Opens a session running `script`, waits until it has at least `min` processes.
fn hostile(sshd: &Sshd, script: &str, min: usize) -> SshSession {
    let s = sshd.open_session(&user(Role::Plain), script, false);
    let end = Instant::now() + Duration::from_secs(20);
    while session_pids(s.session_id()).len() < min {
        assert!(
            Instant::now() < end,
            "session never reached {min} processes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

fn close_and_check(mut s: SshSession, bystander: &SshSession) {
    let keep = session_pids(bystander.session_id());
    let out = wms(&["session", "close", &s.session_id().to_string(), "--debug"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // These sessions resist SIGTERM: only the forced phase ends them.
    assert!(
        stderr(&out).contains("signal=\"SIGKILL\""),
        "{}",
        stderr(&out)
    );
    // Done is reported only when nothing is left, so this holds at once.
    assert!(
        session_pids(s.session_id()).is_empty(),
        "left behind: {:?}",
        session_pids(s.session_id())
    );
    assert!(
        s.wait_exit(Duration::from_secs(20)).is_some(),
        "ssh client still running"
    );
    assert_untouched(bystander.session_id(), &keep);
    // The session is no longer listed.
    assert!(session(s.session_id()).is_none());
}

#[test]
fn processes_ignoring_sigterm_and_sighup_are_killed() {
    let sshd = Sshd::start();
    let bystander = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let s = hostile(
        &sshd,
        "trap '' TERM HUP INT; setsid sh -c 'trap \"\" TERM HUP; while :; do sleep 1; done' & nohup sleep 700 >/dev/null 2>&1 & sleep 600",
        5,
    );
    close_and_check(s, &bystander);
}

#[test]
fn stopped_processes_are_ended() {
    let sshd = Sshd::start();
    let bystander = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let s = hostile(
        &sshd,
        "sleep 601 & kill -STOP $!; sh -c 'trap \"\" TERM; kill -STOP $$; sleep 1' & sleep 600",
        5,
    );
    close_and_check(s, &bystander);
}

#[test]
fn a_fork_loop_leaves_nothing_behind() {
    let sshd = Sshd::start();
    let bystander = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let s = hostile(
        &sshd,
        "setsid sh -c 'trap \"\" TERM HUP; while :; do sleep 0.5 & done' & trap '' TERM HUP; sleep 600",
        30,
    );
    close_and_check(s, &bystander);
}

#[test]
fn a_session_that_honours_sigterm_is_closed_without_sigkill() {
    let sshd = Sshd::start();
    let s = hostile(
        &sshd,
        "for i in 1 2 3 4 5 6 7 8; do sleep 600 & done; sleep 600",
        10,
    );
    let id = s.session_id().to_string();
    let out = wms(&["session", "close", &id, "--debug"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("signal=\"SIGTERM\""), "{err}");
    assert!(err.contains("killed=0"), "{err}");
    assert!(!err.contains("SIGKILL"), "{err}");
    assert!(session_pids(s.session_id()).is_empty());
}
