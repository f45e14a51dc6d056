//! Checks that the session generator opens real, distinct audit sessions of the right size
//! as its user, and that dropping it leaves none of its processes behind.

// Test code: it forks, waits and signals with raw system calls.
#![allow(unsafe_code)]

use std::fs;
use std::time::Duration;

use wms_testkit::gen::{generate, GenOptions, GEN_USER};
use wms_testkit::{process_session_id, session_pids, NO_SESSION};

fn proc_field(pid: u32, file: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default()
}

/// The real uid of `pid` (first number of the `Uid:` line of its status).
fn real_uid(pid: u32) -> Option<u32> {
    proc_field(pid, "status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn alive(pid: u32, start: u64) -> bool {
    wms_testkit::gen::start_time(pid) == Some(start)
        && !proc_field(pid, "stat")
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

#[test]
fn sessions_are_distinct_real_sessions_and_end_on_drop() {
    let own = process_session_id(std::process::id());
    let generated = generate(&GenOptions::new(20, 3)).expect("generate 20 sessions of 3");
    assert_eq!(generated.user.name, GEN_USER);
    assert_eq!(generated.sessions.len(), 20);

    let mut ids = generated.ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        20,
        "session ids are not distinct: {:?}",
        generated.ids()
    );

    for s in &generated.sessions {
        assert_ne!(s.id, NO_SESSION);
        assert_ne!(Some(s.id), own);
        // What the operating system shows as the session is exactly what was generated.
        let mut pids = s.pids.clone();
        pids.sort_unstable();
        assert_eq!(session_pids(s.id), pids, "session {}", s.id);
        for &pid in &s.pids {
            assert_eq!(
                proc_field(pid, "loginuid").trim(),
                generated.user.uid.to_string()
            );
            assert_eq!(real_uid(pid), Some(generated.user.uid), "pid {pid}");
        }
        // The leader is the parent of the other members.
        let leader = s.pids[0];
        for &pid in &s.pids[1..] {
            let stat = proc_field(pid, "stat");
            let ppid: u32 = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse().ok())
                .unwrap();
            assert_eq!(ppid, leader);
        }
    }

    let starts: Vec<(u32, u64)> = generated
        .pids()
        .into_iter()
        .map(|p| (p, generated.start_time(p).unwrap()))
        .collect();
    let ids = generated.ids();
    drop(generated);
    for id in ids {
        assert!(
            session_pids(id).is_empty(),
            "session {id} survived the drop"
        );
    }
    for (pid, start) in starts {
        assert!(!alive(pid, start), "process {pid} survived the drop");
    }
}

#[test]
fn ignoring_processes_survive_sigterm_and_still_end_on_drop() {
    let generated = generate(&GenOptions::new(2, 2).ignore_term(true)).unwrap();
    for &pid in &generated.pids() {
        // SAFETY: kill on a PID of a process this test generated and still holds.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    std::thread::sleep(Duration::from_millis(100));
    for s in &generated.sessions {
        assert_eq!(
            session_pids(s.id).len(),
            2,
            "session {} lost a process",
            s.id
        );
    }
    let ids = generated.ids();
    drop(generated);
    for id in ids {
        assert!(session_pids(id).is_empty());
    }
}

#[test]
fn honouring_processes_end_on_sigterm_and_drop_then_signals_nothing() {
    let mut generated = generate(&GenOptions::new(1, 4)).unwrap();
    let s = generated.sessions[0].clone();
    for &pid in &s.pids {
        // SAFETY: kill on a PID of a process this test generated and still holds.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    assert!(wms_testkit::wait_session_gone(
        s.id,
        Duration::from_secs(10)
    ));
    // Everything is gone already: the cleanup finds nothing that is still the same process.
    assert_eq!(generated.kill_all(), 0);
}
