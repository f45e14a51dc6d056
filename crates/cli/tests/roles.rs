//! SPEC 5 through the real binary in real sessions: who may close what, and nobody the
//! session the command runs in.

mod common;
use common::*;

#[test]
fn an_operator_cannot_close_an_administrators_session() {
    let sshd = Sshd::start();
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let pids = session_pids(admin.session_id());
    let out = wms_as(
        &sshd,
        &user(Role::Operator),
        &format!("Close-WmsSession -SessionId {}", admin.session_id()),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Close-WmsSession: Access to Session {} (wmst-admin)",
            admin.session_id()
        )) && out.stderr.contains("only administrators may act on it")
            && out
                .stderr
                .trim_end()
                .ends_with("(UnauthorizedAccessException)"),
        "{}",
        out.stderr
    );
    assert_untouched(admin.session_id(), &pids);
}

#[test]
fn a_plain_user_cannot_close_another_users_session() {
    let sshd = Sshd::start();
    let other = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let pids = session_pids(other.session_id());
    let out = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("session close {}", other.session_id()),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("belongs to another user"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .starts_with("wms session close: access to Session "),
        "{}",
        out.stderr
    );
    assert_untouched(other.session_id(), &pids);
}

#[test]
fn nobody_can_close_the_session_the_command_runs_in() {
    let sshd = Sshd::start();
    for who in [TestUser::root(), user(Role::Admin), user(Role::Plain)] {
        // The command closes the session it runs in, named by its own session ID.
        let out = wms_as(
            &sshd,
            &who,
            "Close-WmsSession -SessionId $(cat /proc/self/sessionid); echo still-here",
            b"",
        );
        assert!(
            out.stdout.contains("still-here"),
            "{}: {}",
            who.name,
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!(
                "Close-WmsSession: Session {} ({}) on ",
                out.session_id, who.name
            )) && out.stderr.contains("is the session this command runs in")
                && out.stderr.contains("(InvalidOperationException)"),
            "{}: {}",
            who.name,
            out.stderr
        );
    }
}

#[test]
fn all_as_a_plain_user_closes_only_their_other_sessions_and_skips_the_rest() {
    let sshd = Sshd::start();
    let me = user(Role::AllPlain);
    let mine = sshd.open_session(&me, "sleep 600", false);
    let mine_tty = sshd.open_session(&me, "sleep 600", true);
    let theirs = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let admins = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let (pt, pa) = (
        session_pids(theirs.session_id()),
        session_pids(admins.session_id()),
    );
    let out = wms_as(
        &sshd,
        &me,
        "Close-WmsSession -All; echo exit=$?; cat /proc/self/sessionid",
        b"",
    );
    assert!(
        out.stdout.contains("exit=0"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_gone(mine.session_id());
    assert_gone(mine_tty.session_id());
    assert_untouched(theirs.session_id(), &pt);
    assert_untouched(admins.session_id(), &pa);
    // The others were skipped with the reason, and its own session was spared.
    assert!(
        out.stderr.contains(&format!(
            "WARNING: Session {} (wmst-plain2) on ",
            theirs.session_id()
        )) && out.stderr.contains("belongs to another user"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("Session {} (wmst-allp) on ", out.session_id))
            && out
                .stderr
                .contains("it is the session this command runs in"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.trim_end().ends_with(&out.session_id.to_string()),
        "{}",
        out.stdout
    );
}

#[test]
fn warning_action_silently_continue_hides_skips() {
    let sshd = Sshd::start();
    let me = user(Role::AllPlain);
    let out = wms_as(
        &sshd,
        &me,
        "Close-WmsSession -All -WhatIf -WarningAction SilentlyContinue",
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
}
