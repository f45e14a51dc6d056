//! Close-WmsSession against real sshd sessions: what ends, what is left alone, and how
//! unknown IDs, what-if and confirmation behave.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn closing_one_id_ends_every_process_and_the_client_and_nothing_else() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let mut target = sshd.open_session(&u, "sleep 600 & sleep 601 & exec sleep 602", true);
    let mut other = sshd.open_session(&u, "sleep 600", false);
    let other_pids = session_pids(other.session_id());
    assert!(session_pids(target.session_id()).len() >= 4);
    let out = wms(&["session", "close", &target.session_id().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "actions print nothing on success");
    assert_gone(target.session_id());
    assert!(
        target.wait_exit(Duration::from_secs(20)).is_some(),
        "the ssh client of the closed session is still running"
    );
    assert!(other.is_running());
    assert_untouched(other.session_id(), &other_pids);
}

#[test]
fn an_unknown_id_is_item_not_found_and_the_known_one_is_still_closed() {
    let sshd = Sshd::start();
    let mut a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let missing = 4_294_967_290u32;
    assert!(session_pids(missing).is_empty());
    let out = wms(&[
        "Close-WmsSession",
        "-SessionId",
        &format!("{},{missing}", a.session_id()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "Close-WmsSession: Cannot find session {missing} on "
        )) && err.trim_end().ends_with("(ItemNotFoundException)"),
        "{err}"
    );
    assert_gone(a.session_id());
    assert!(a.wait_exit(Duration::from_secs(20)).is_some());
}

#[test]
fn what_if_prints_a_line_per_target_and_changes_nothing() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let b = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let (pa, pb) = (session_pids(a.session_id()), session_pids(b.session_id()));
    let ids = format!("{},{}", a.session_id(), b.session_id());
    for args in [
        vec!["Close-WmsSession", ids.as_str(), "-WhatIf"],
        vec!["close-wmssession", ids.as_str(), "-wi"],
        vec!["session", "close", ids.as_str(), "--what-if"],
    ] {
        let out = wms(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!(
                "What if: Performing the operation \"Close-WmsSession\" on target \"Session {} (wmst-plain) on ",
                a.session_id()
            )) && lines[0].ends_with("\"."),
            "{lines:?}"
        );
        assert!(lines[1].contains(&format!("Session {} (wmst-plain2)", b.session_id())));
    }
    assert_untouched(a.session_id(), &pa);
    assert_untouched(b.session_id(), &pb);
}

#[test]
fn what_if_false_acts() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let out = wms(&[
        "Close-WmsSession",
        &a.session_id().to_string(),
        "-WhatIf:$false",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(a.session_id());
}

#[test]
fn confirm_on_a_non_terminal_stdin_declines() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let pids = session_pids(a.session_id());
    let id = a.session_id().to_string();
    let out = wms(&["Close-WmsSession", &id, "-Confirm"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a terminal"), "{}", stderr(&out));
    // Answers on a pipe are not taken as consent either.
    let out = wms_in(&["session", "close", &id, "--confirm"], b"y\ny\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_untouched(a.session_id(), &pids);
    // -Confirm:$false does not ask.
    let out = wms(&["Close-WmsSession", &id, "-Confirm:$false"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(a.session_id());
}

/// Runs `wms <args>` as root in a real terminal session, answering prompts as a user.
fn confirm_session(sshd: &Sshd, args: &str) -> SshSession {
    sshd.open_session_with_env(
        &TestUser::root(),
        &format!("{} {args}; echo WMS-EXIT=$?; sleep 600", wms_path()),
        true,
        &[("WMS_CONFIG", &fast_config())],
    )
}

const PROMPT: &str =
    "[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [S] Suspend  [?] Help (default is \"Y\"): ";

fn prompt_for(s: &SshSession, id: u32) -> bool {
    s.wait_for_output(
        &format!(
            "Performing the operation \"Close-WmsSession\" on target \"Session {id} (wmst-plain)"
        ),
        Duration::from_secs(20),
    ) && s.wait_for_output(PROMPT, Duration::from_secs(5))
}

#[test]
fn confirm_no_changes_nothing_and_yes_acts() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", false);
    let pa = session_pids(a.session_id());
    let mut t = confirm_session(
        &sshd,
        &format!(
            "Close-WmsSession {},{} -Confirm",
            a.session_id(),
            b.session_id()
        ),
    );
    assert!(prompt_for(&t, a.session_id()), "{}", t.output_text());
    t.send(b"n\r");
    assert!(prompt_for(&t, b.session_id()), "{}", t.output_text());
    t.send(b"y\r");
    assert!(
        t.wait_for_output("WMS-EXIT=0", Duration::from_secs(30)),
        "{}",
        t.output_text()
    );
    assert_gone(b.session_id());
    assert_untouched(a.session_id(), &pa);
}

#[test]
fn confirm_yes_to_all_acts_on_the_rest_and_help_explains() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let s: Vec<SshSession> = (0..3)
        .map(|_| sshd.open_session(&u, "sleep 600", false))
        .collect();
    let ids: Vec<String> = s.iter().map(|x| x.session_id().to_string()).collect();
    let p0 = session_pids(s[0].session_id());
    let mut t = confirm_session(&sshd, &format!("session close {} --confirm", ids.join(" ")));
    assert!(prompt_for(&t, s[0].session_id()), "{}", t.output_text());
    t.send(b"?\r");
    assert!(
        t.wait_for_output(
            "A - Continue with all the steps of the operation.",
            Duration::from_secs(10)
        ),
        "{}",
        t.output_text()
    );
    t.send(b"N\r");
    assert!(prompt_for(&t, s[1].session_id()), "{}", t.output_text());
    t.send(b"a\r");
    assert!(
        t.wait_for_output("WMS-EXIT=0", Duration::from_secs(30)),
        "{}",
        t.output_text()
    );
    assert!(
        !t.output_text()
            .contains(&format!("Session {} (wmst-plain)", s[2].session_id())),
        "Yes to All asks no more: {}",
        t.output_text()
    );
    assert_gone(s[1].session_id());
    assert_gone(s[2].session_id());
    assert_untouched(s[0].session_id(), &p0);
}

#[test]
fn confirm_suspend_stops_the_command() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", false);
    let (pa, pb) = (session_pids(a.session_id()), session_pids(b.session_id()));
    let mut t = confirm_session(
        &sshd,
        &format!("Close-WmsSession {},{} -cf", a.session_id(), b.session_id()),
    );
    assert!(prompt_for(&t, a.session_id()), "{}", t.output_text());
    t.send(b"s\r");
    assert!(
        t.wait_for_output("WMS-EXIT=1", Duration::from_secs(30)),
        "{}",
        t.output_text()
    );
    assert!(
        t.output_text().contains("(PipelineStoppedException)"),
        "{}",
        t.output_text()
    );
    assert_untouched(a.session_id(), &pa);
    assert_untouched(b.session_id(), &pb);
}
