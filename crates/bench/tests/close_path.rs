//! The close path that the close-all benchmark measures: a host that has listed its
//! sessions closes them one after another by following process events (when it can) rather
//! than rescanning /proc for each. These check that it still finds every process a scan
//! would, including processes forked after the listing and after the events started, and
//! touches nothing else.

use std::time::Duration;

use wms_core::{Outcome, Session};
use wms_host::{Config, Host};
use wms_testkit::gen::{generate, GenOptions};
use wms_testkit::{session_pids, user, Role, Sshd};

fn find(sessions: &[Session], id: u32) -> Session {
    sessions
        .iter()
        .find(|s| s.session_id.0 == id)
        .unwrap_or_else(|| panic!("session {id} not listed"))
        .clone()
}

fn following_events(host: &Host) -> bool {
    format!("{host:?}").contains("following_events: true")
}

#[test]
fn newcomers_forked_after_the_listing_are_found_and_ended() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    // Each session starts a new process every 20 ms, for as long as it lives.
    let forker = "while :; do sleep 60 & sleep 0.02; done";
    let a = sshd.open_session(&u, forker, false);
    let b = sshd.open_session(&u, forker, false);
    let host = Host::new(Config::default());
    let sessions = host.sessions().unwrap();
    let (sa, sb) = (
        find(&sessions, a.session_id()),
        find(&sessions, b.session_id()),
    );
    // Processes the listing never saw.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(host.close(&sa), Outcome::Done);
    assert!(session_pids(a.session_id()).is_empty());
    // As root in the initial namespaces the second close follows events; the processes
    // b forked since they started are found through them.
    let events = following_events(&host);
    eprintln!("following process events: {events}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(host.close(&sb), Outcome::Done);
    assert!(
        session_pids(b.session_id()).is_empty(),
        "session {} left {:?} (following events: {events})",
        b.session_id(),
        session_pids(b.session_id())
    );
}

#[test]
fn closing_many_listed_sessions_ends_each_and_spares_the_rest() {
    let closing = generate(&GenOptions::new(40, 3)).unwrap();
    let spared = generate(&GenOptions::new(3, 2).ignore_term(true)).unwrap();
    let host = Host::new(Config::default());
    let sessions = host.sessions().unwrap();
    for id in closing.ids() {
        assert_eq!(
            host.close(&find(&sessions, id)),
            Outcome::Done,
            "session {id}"
        );
        assert!(session_pids(id).is_empty(), "session {id} survived");
    }
    for s in &spared.sessions {
        let mut pids = s.pids.clone();
        pids.sort_unstable();
        assert_eq!(session_pids(s.id), pids, "session {} was touched", s.id);
    }
}

#[test]
fn a_new_listing_starts_the_events_again() {
    let first = generate(&GenOptions::new(2, 2)).unwrap();
    let host = Host::new(Config::default());
    let sessions = host.sessions().unwrap();
    assert_eq!(host.close(&find(&sessions, first.ids()[0])), Outcome::Done);
    // Sessions opened after the tracker started are not among its listed sessions; a new
    // listing makes them closable the same way.
    let later = generate(&GenOptions::new(2, 2)).unwrap();
    let sessions = host.sessions().unwrap();
    for id in [first.ids()[1], later.ids()[0], later.ids()[1]] {
        assert_eq!(
            host.close(&find(&sessions, id)),
            Outcome::Done,
            "session {id}"
        );
        assert!(session_pids(id).is_empty(), "session {id} survived");
    }
}

/// Runs the test `name` of this binary again inside a private PID namespace with its own
/// /proc, where the kernel sends no process events, so the host falls back to scanning.
fn in_pid_namespace(name: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(exe)
        .args([name, "--exact", "--include-ignored", "--nocapture"])
        .env("WMS_BENCH_IN_PID_NAMESPACE", "1")
        .output()
        .expect("run unshare");
    assert!(
        out.status.success(),
        "{name} in a PID namespace: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn inside() -> bool {
    std::env::var_os("WMS_BENCH_IN_PID_NAMESPACE").is_some()
}

#[test]
fn without_events_closes_find_newcomers_and_spare_the_rest() {
    in_pid_namespace("fallback_newcomers");
}

#[test]
fn without_events_a_quiet_host_is_scanned_once() {
    in_pid_namespace("fallback_quiet_host");
}

/// A root shell that makes itself a session of `uid` (as pam_loginuid would) and starts a
/// process every 20 ms for as long as it lives; returns it and its session.
fn forking_session(uid: u32) -> (std::process::Child, u32) {
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo {uid} > /proc/self/loginuid && exec sh -c 'while :; do sleep 60 & sleep 0.02; done'"
        ))
        .spawn()
        .unwrap();
    let pid = child.id();
    for _ in 0..200 {
        match wms_testkit::process_session_id(pid) {
            Some(id) if id != wms_testkit::NO_SESSION => return (child, id),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("the forking shell {pid} got no session");
}

#[test]
#[ignore = "run by without_events_closes_find_newcomers_and_spare_the_rest"]
fn fallback_newcomers() {
    assert!(inside(), "run through in_pid_namespace");
    let uid = user(Role::Plain).uid;
    let (mut a_sh, a) = forking_session(uid);
    let (mut b_sh, b) = forking_session(uid);
    let spared = generate(&GenOptions::new(2, 2).ignore_term(true)).unwrap();
    let host = Host::new(Config::default());
    let sessions = host.sessions().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(host.close(&find(&sessions, a)), Outcome::Done);
    assert!(
        session_pids(a).is_empty(),
        "session {a} left {:?}",
        session_pids(a)
    );
    assert!(
        !following_events(&host),
        "no process events in a nested PID namespace"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(host.close(&find(&sessions, b)), Outcome::Done);
    assert!(
        session_pids(b).is_empty(),
        "session {b} left {:?}",
        session_pids(b)
    );
    for s in &spared.sessions {
        assert_eq!(session_pids(s.id).len(), 2, "session {} was touched", s.id);
    }
    let _ = a_sh.wait();
    let _ = b_sh.wait();
}

#[test]
#[ignore = "run by without_events_a_quiet_host_is_scanned_once"]
fn fallback_quiet_host() {
    assert!(inside(), "run through in_pid_namespace");
    let closing = generate(&GenOptions::new(30, 3)).unwrap();
    let spared = generate(&GenOptions::new(2, 2).ignore_term(true)).unwrap();
    let host = Host::new(Config::default());
    let sessions = host.sessions().unwrap();
    for id in closing.ids() {
        assert_eq!(
            host.close(&find(&sessions, id)),
            Outcome::Done,
            "session {id}"
        );
        assert!(session_pids(id).is_empty(), "session {id} survived");
    }
    eprintln!("{host:?}");
    for s in &spared.sessions {
        assert_eq!(session_pids(s.id).len(), 2, "session {} was touched", s.id);
    }
}
