//! SPEC 5 for Disconnect, Lock and Unlock: roles, the own session, and -All.

mod common;
use common::*;

const VERBS: [(&str, &str); 3] = [
    ("Disconnect-WmsSession", ""),
    ("Lock-WmsSession", " -Message 'Exam over'"),
    ("Unlock-WmsSession", ""),
];

#[test]
fn an_operator_may_not_touch_an_administrators_session_with_any_verb() {
    let sshd = Sshd::start();
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", true);
    let pids = session_pids(admin.session_id());
    for (verb, extra) in VERBS {
        let out = wms_as(
            &sshd,
            &user(Role::Operator),
            &format!("{verb} {}{extra}", admin.session_id()),
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", out.stderr);
        assert!(
            out.stderr
                .starts_with(&format!("{verb}: Access to Session {}", admin.session_id()))
                && out.stderr.contains("(UnauthorizedAccessException)"),
            "{verb}: {}",
            out.stderr
        );
    }
    assert_untouched(admin.session_id(), &pids);
    assert_eq!(session(admin.session_id()).unwrap()["IsLocked"], false);
}

#[test]
fn a_plain_user_may_not_touch_another_users_session_with_any_verb() {
    let sshd = Sshd::start();
    let other = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let pids = session_pids(other.session_id());
    for (verb, extra) in VERBS {
        let out = wms_as(
            &sshd,
            &user(Role::Plain),
            &format!("{verb} {}{extra}", other.session_id()),
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", out.stderr);
        assert!(
            out.stderr.contains("belongs to another user"),
            "{verb}: {}",
            out.stderr
        );
    }
    assert_untouched(other.session_id(), &pids);
}

#[test]
fn nobody_disconnects_or_locks_the_session_the_command_runs_in() {
    let sshd = Sshd::start();
    for verb in [
        "Disconnect-WmsSession",
        "Lock-WmsSession -Message hi -SessionId",
    ] {
        let out = wms_as(
            &sshd,
            &TestUser::root(),
            &format!("{verb} $(cat /proc/self/sessionid); echo still-here"),
            b"",
        );
        assert!(out.stdout.contains("still-here"), "{verb}: {}", out.stderr);
        assert!(
            out.stderr.contains("is the session this command runs in")
                && out.stderr.contains("(InvalidOperationException)"),
            "{verb}: {}",
            out.stderr
        );
    }
}

#[test]
fn all_as_a_plain_user_disconnects_only_their_other_sessions() {
    let sshd = Sshd::start();
    let me = user(Role::AllPlain);
    let mut mine = sshd.open_session(
        &me,
        "nohup sleep 600 >/dev/null 2>&1 & exec sleep 601",
        true,
    );
    let theirs = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let pt = session_pids(theirs.session_id());
    let out = wms_as(&sshd, &me, "session disconnect --all; echo exit=$?", b"");
    assert!(
        out.stdout.contains("exit=0"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(mine.wait_exit(std::time::Duration::from_secs(20)).is_some());
    assert_eq!(session(mine.session_id()).unwrap()["State"], "Disconnected");
    assert_untouched(theirs.session_id(), &pt);
    assert!(
        out.stderr
            .contains("it is the session this command runs in"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("belongs to another user"),
        "{}",
        out.stderr
    );
    // Lock and Unlock plan -All the same way.
    for verb in [
        "Lock-WmsSession -All -Message x -WhatIf",
        "Unlock-WmsSession -All -WhatIf",
    ] {
        let out = wms_as(&sshd, &me, verb, b"");
        assert_eq!(out.status.code(), Some(0), "{verb}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "WARNING: Session {} (wmst-plain2)",
                theirs.session_id()
            )),
            "{verb}: {}",
            out.stderr
        );
    }
}
