//! The Unix conveniences against real sessions: filters by user, state and idleness in
//! both spellings (listing and acting), `-o table` within 80 columns and `-o wide`, plain
//! session IDs on standard input, errors worded like a Unix tool's, and an empty listing
//! that says so on a terminal.

mod common;
use common::*;
use std::time::Duration;

fn ids_of(out: &std::process::Output) -> Vec<u64> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["SessionId"].as_u64().unwrap())
        .collect()
}

#[test]
fn filters_by_user_state_and_idleness_in_both_spellings() {
    let sshd = Sshd::start();
    // A plain user's terminal session (its idleness is known) and an operator's session
    // without a terminal (its idleness is not).
    let plain = sshd.open_session(&user(Role::Plain), "sleep 600", true);
    let oper = sshd.open_session(&user(Role::Operator), "sleep 600", false);
    let (p, o) = (u64::from(plain.session_id()), u64::from(oper.session_id()));
    let both = format!("{p},{o}");
    let listed = |args: &[&str]| {
        let mut all = vec!["session", "list", &both, "-o", "json"];
        all.extend_from_slice(args);
        let out = wms(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        ids_of(&out)
    };
    assert_eq!(listed(&[]), [p, o]);
    assert_eq!(listed(&["--user", "wmst-plain"]), [p]);
    assert_eq!(listed(&["-u", "wmst-oper", "-u", "wmst-plain"]), [p, o]);
    assert_eq!(listed(&["--state", "remote-connection"]), [p, o]);
    assert_eq!(listed(&["--state", "RemoteConnection"]), [p, o]);
    assert_eq!(listed(&["--state", "disconnected"]), Vec::<u64>::new());
    assert_eq!(
        listed(&["--idle", "0"]),
        [p],
        "unknown idleness never matches"
    );
    assert_eq!(listed(&["--idle", "1d"]), Vec::<u64>::new());
    assert_eq!(
        listed(&["--user", "wmst-plain", "--state", "disconnected"]),
        Vec::<u64>::new()
    );

    // The cmdlet spelling, by the properties' names.
    let out = wms(&[
        "Get-WmsSession",
        &both,
        "-UserName",
        "wmst-oper",
        "-OutputFormat",
        "Json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(ids_of(&out), [o]);
    let out = wms(&["Get-WmsSession", &both, "-IdleSeconds", "0", "-o", "json"]);
    assert_eq!(ids_of(&out), [p]);
    let out = wms(&[
        "Get-WmsSession",
        &both,
        "-State",
        "Disconnected",
        "-o",
        "json",
    ]);
    assert_eq!(ids_of(&out), Vec::<u64>::new());

    // A bad value names what was wrong.
    let out = wms(&["session", "list", "--state", "idle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'idle' for '--state <STATE>'"),
        "{}",
        stderr(&out)
    );
    let out = wms(&["session", "list", "--idle", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'soon' is not a duration"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_action_acts_only_on_the_sessions_its_filter_matches() {
    let sshd = Sshd::start();
    let plain = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let oper = sshd.open_session(&user(Role::Operator), "sleep 600", false);
    let oper_pids = session_pids(oper.session_id());
    let (p, o) = (
        plain.session_id().to_string(),
        oper.session_id().to_string(),
    );
    // What-if with --all: only matching sessions are named (other tests' sessions of
    // other users are never in it).
    let out = wms(&[
        "session",
        "close",
        "--all",
        "--user",
        "wmst-oper",
        "--what-if",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let named: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        named.iter().all(|r| r["UserName"] == "wmst-oper"),
        "{named:?}"
    );
    assert!(
        named.iter().any(|r| r["SessionId"] == oper.session_id()),
        "{named:?}"
    );
    // A real close of both IDs, filtered to the plain user's: the operator's is untouched.
    let out = wms(&[
        "Close-WmsSession",
        &format!("{p},{o}"),
        "-UserName",
        "wmst-plain",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(plain.session_id());
    assert_untouched(oper.session_id(), &oper_pids);
    // An ID that names no session is still reported, filter or not.
    let out = wms(&["session", "close", "4294967291", "--user", "wmst-plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn the_idle_filter_finds_disconnected_sessions() {
    let sshd = Sshd::start();
    let s = sshd.open_session(
        &user(Role::Plain),
        "nohup sleep 600 >/dev/null 2>&1 & exec sleep 601",
        false,
    );
    let id = s.session_id().to_string();
    let out = wms(&["session", "disconnect", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(session(s.session_id()).unwrap()["State"], "Disconnected");
    let out = wms(&["session", "list", &id, "--idle", "1h", "-o", "json"]);
    assert_eq!(
        ids_of(&out),
        [u64::from(s.session_id())],
        "{}",
        stderr(&out)
    );
    let out = wms(&[
        "session",
        "list",
        &id,
        "--state",
        "disconnected",
        "-o",
        "json",
    ]);
    assert_eq!(ids_of(&out), [u64::from(s.session_id())]);
}

#[test]
fn a_table_fits_80_columns_and_wide_shows_everything() {
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", true);
    let id = s.session_id().to_string();
    let out = wms(&["session", "list", "-o", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for l in stdout(&out).lines() {
        assert!(
            l.chars().count() <= 80,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    let out = wms(&["session", "list", &id, "-o", "table"]);
    let text = stdout(&out);
    assert!(text.starts_with("SessionId State"), "{text}");
    assert!(
        text.lines().nth(2).unwrap().starts_with(&format!("{id} ")),
        "{text}"
    );
    assert!(
        text.contains("wmst-plain") && text.contains("127.0.0.1"),
        "{text}"
    );
    let out = wms(&["Get-WmsSession", &id, "-OutputFormat", "Wide"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let header = stdout(&out).lines().next().unwrap_or_default().to_string();
    for column in [
        "SessionId",
        "DomainName",
        "ComputerName",
        "LogonTime",
        "LeaderPid",
        "IsLocked",
    ] {
        assert!(header.contains(column), "{header}");
    }
}

#[test]
fn plain_session_ids_on_standard_input_work_like_objects() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", false);
    let c = sshd.open_session(&u, "sleep 600", false);
    let c_pids = session_pids(c.session_id());
    // As `jq .SessionId` prints them: one per line (and `"5"` for a string).
    let input = format!("{}\n\"{}\"\n", a.session_id(), b.session_id());
    let out = wms_in(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(a.session_id());
    assert_gone(b.session_id());
    assert_untouched(c.session_id(), &c_pids);
    // Input that is neither is refused naming the line, and nothing is done.
    let input = format!("{}\nnot-an-id\n", c.session_id());
    let out = wms_in(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("wms: session close: standard input, line 2: not valid JSON"),
        "{}",
        stderr(&out)
    );
    assert_untouched(c.session_id(), &c_pids);
}

#[test]
fn errors_in_the_unix_spelling_read_like_a_unix_tools() {
    let out = wms(&["session", "close", "4294967291"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("wms session close: cannot find session 4294967291 on ")
            && err.trim_end().ends_with("no login session has that ID"),
        "{err}"
    );
    assert!(!err.contains("Exception"), "{err}");
    // The cmdlet spelling keeps PowerShell's form.
    let out = wms(&["Close-WmsSession", "4294967291"]);
    assert!(
        stderr(&out).starts_with("Close-WmsSession: Cannot find session 4294967291 on ")
            && stderr(&out).trim_end().ends_with("(ItemNotFoundException)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_listing_says_so_on_a_terminal_and_nothing_in_a_pipe() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    // On a terminal (a real ssh -tt session).
    let s = sshd.open_session_with_env(
        &u,
        &format!(
            "{} session list --user wmst-nobody-at-all; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    assert!(
        s.wait_for_output("No login session matches.", Duration::from_secs(20)),
        "{}",
        s.output_text()
    );
    // In a pipe: nothing at all, as a reader expects.
    let out = wms(&["session", "list", "--user", "wmst-nobody-at-all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}
