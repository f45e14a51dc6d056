//! -Server naming this host or another, JSON result objects, the own session under an
//! administrator's -All, and a missing selection on a real terminal.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn this_hosts_own_names_work_in_process_and_other_hosts_are_an_error() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = a.session_id().to_string();
    let me = session(a.session_id()).unwrap()["ComputerName"]
        .as_str()
        .unwrap()
        .to_string();
    let out = wms(&["Get-WmsSession", &id, "-Server", &me]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("SessionId    : {id}")));
    let out = wms(&["session", "close", &id, "--server", "no-such-host.invalid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .starts_with("wms session close: cannot connect to server 'no-such-host.invalid'")
            && stderr(&out).trim_end().ends_with(
                "it has not been added; add it with `wms system add no-such-host.invalid`"
            ),
        "{}",
        stderr(&out)
    );
    assert!(
        !session_pids(a.session_id()).is_empty(),
        "nothing was closed"
    );
    // localhost and the host's own name are one host: the session is closed once.
    let out = wms(&[
        "session",
        "close",
        &id,
        "--server",
        "localhost",
        "--server",
        &me,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_gone(a.session_id());
}

#[test]
fn json_results_carry_each_targets_outcome() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let out = wms(&[
        "session",
        "close",
        &format!("{},4294967292", a.session_id()),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let results: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["SessionId"], a.session_id());
    assert_eq!(results[0]["UserName"], "wmst-plain");
    assert_eq!(results[0]["Outcome"], "Done");
    assert_eq!(results[1]["SessionId"], 4294967292u32);
    assert_eq!(results[1]["Outcome"], "NotFound");
    assert_gone(a.session_id());
}

#[test]
fn an_administrators_all_spares_the_session_it_runs_in() {
    let sshd = Sshd::start();
    let other = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    // -WhatIf keeps this safe beside other tests' sessions; the plan is what is checked.
    let out = wms_as(
        &sshd,
        &TestUser::root(),
        "Close-WmsSession -All -WhatIf",
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let own = format!("Session {} (root) on ", out.session_id);
    assert!(
        !out.stdout.contains(&own),
        "own session offered: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&format!("WARNING: {own}"))
            && out
                .stderr
                .contains("it is the session this command runs in"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!(
            "What if: Performing the operation \"Close-WmsSession\" on target \"Session {} (wmst-plain) on ",
            other.session_id()
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn no_ids_on_a_terminal_is_asked_for_in_the_cmdlet_spelling_and_an_error_in_the_unix_one() {
    let sshd = Sshd::start();
    // PowerShell asks for a mandatory parameter left out; an empty answer is an empty
    // array (binder.rs has the prompt's full round).
    let mut t = sshd.open_session_with_env(
        &TestUser::root(),
        &format!(
            "{} Close-WmsSession; echo WMS-EXIT=$?; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    assert!(
        t.wait_for_output("SessionId[0]: ", Duration::from_secs(20)),
        "{}",
        t.output_text()
    );
    t.send(b"\r");
    assert!(
        t.wait_for_output("WMS-EXIT=2", Duration::from_secs(20)),
        "{}",
        t.output_text()
    );
    assert!(
        t.output_text().contains(
            "Close-WmsSession: Cannot bind argument to parameter 'SessionId' because it is an empty array."
        ),
        "{}",
        t.output_text()
    );
    // A Unix tool does not prompt: it says what is missing.
    let t = sshd.open_session_with_env(
        &TestUser::root(),
        &format!("{} session close; echo WMS-EXIT=$?; sleep 600", wms_path()),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    assert!(
        t.wait_for_output("WMS-EXIT=2", Duration::from_secs(20)),
        "{}",
        t.output_text()
    );
    assert!(
        t.output_text()
            .contains("wms: session close: no session IDs given: give IDs, --all, or pipe"),
        "{}",
        t.output_text()
    );
}
