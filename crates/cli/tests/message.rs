//! Send-WmsMessage (`wms session message`) against real ssh sessions: the message on the
//! ssh client's screen as `write` prints it, the roles, what-if, control characters, and
//! the same through the agent (Unix socket and TLS, audited).

mod common;
use common::*;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn mark() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

/// An interactive bash on a real terminal of `who`, with a known prompt.
fn shell(sshd: &Sshd, who: Role) -> SshSession {
    let s = sshd.open_session(
        &user(who),
        "exec env PS1='wms$ ' bash --norc --noprofile -i",
        true,
    );
    wait_screen(&s, "a prompt", |t| t.contains("wms$ "));
    s
}

/// Waits until the client's raw output holds `needle`.
fn wait_output(s: &SshSession, needle: &str) -> String {
    assert!(
        s.wait_for_output(needle, Duration::from_secs(20)),
        "the client never showed {needle:?}:\n{}",
        s.output_text()
    );
    s.output_text()
}

/// Waits a moment and asserts the client's output never showed `text`.
fn never_shows(s: &SshSession, text: &str) {
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !s.output_text().contains(text),
        "the client showed {text:?}:\n{}",
        s.output_text()
    );
}

#[test]
fn a_message_reaches_the_ssh_clients_screen_as_write_prints_it() {
    let sshd = Sshd::start();
    let s = shell(&sshd, Role::Plain);
    let id = s.session_id().to_string();
    let m = mark();
    let out = wms(&[
        "session",
        "message",
        &id,
        "--text",
        &format!("Exam over {m}\nPens down"),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["Outcome"], "Done", "{result}");
    assert_eq!(result["SessionId"], s.session_id(), "{result}");
    // The terminal's output processing (ONLCR) makes each line's CR LF a CR CR LF.
    let seen = wait_output(&s, "EOF").replace('\r', "");
    // write(1)'s banner: the sender, this host, a terminal, the time.
    let banner = seen
        .lines()
        .find(|l| l.contains("Message from root@"))
        .unwrap_or_else(|| panic!("no banner:\n{seen}"));
    assert!(
        banner.contains(" on ") && banner.contains(" ..."),
        "{banner}"
    );
    assert!(
        seen.contains(&format!("...\nExam over {m}\nPens down\nEOF\n")),
        "{seen:?}"
    );
    // Session objects piped in name the targets, as for every verb.
    let listed = stdout(&wms(&["session", "list", &id, "-o", "json"]));
    let out = wms_in(
        &["session", "message", "--text", &format!("Piped {m}")],
        listed.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_output(&s, &format!("Piped {m}"));
    // The shell behind it is untouched and answers.
    let mut s = s;
    s.send(format!("echo still-{m}\r").as_bytes());
    wait_screen(&s, "the shell answering", |t| {
        t.contains(&format!("\nstill-{m}"))
    });
}

#[test]
fn a_terminal_with_mesg_n_still_gets_it_and_the_cmdlet_spelling_binds() {
    // `mesg n` keeps other users out, not an operator or administrator (as root's write).
    let sshd = Sshd::start();
    let mut s = shell(&sshd, Role::Plain);
    s.send(b"mesg n; echo mesg-is-$(mesg)\r");
    wait_screen(&s, "mesg n", |t| t.contains("\nmesg-is-is n"));
    let m = mark();
    let out = wms(&[
        "Send-WmsMessage",
        &s.session_id().to_string(),
        &format!("Positional {m}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_output(&s, &format!("Positional {m}"));
    let out = wms(&[
        "Send-WmsMessage",
        "-SessionId",
        &s.session_id().to_string(),
        "-Text",
        &format!("Named {m}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_output(&s, &format!("Named {m}"));
}

#[test]
fn what_if_sends_nothing_and_control_characters_never_reach_the_terminal() {
    let sshd = Sshd::start();
    let s = shell(&sshd, Role::Plain);
    let id = s.session_id().to_string();
    let m = mark();
    let out = wms(&[
        "Send-WmsMessage",
        "-SessionId",
        &id,
        "-Message",
        &format!("Not sent {m}"),
        "-WhatIf",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "What if: Performing the operation \"Send-WmsMessage\" on target \"Session {id}"
        )),
        "{}",
        stdout(&out)
    );
    never_shows(&s, &format!("Not sent {m}"));

    for text in [
        format!("clear\x1b[2J{m}"),
        format!("title\x1b]0;owned\x07{m}"),
        format!("csi\u{9b}2J{m}"),
        format!("cr\roverwrite{m}"),
    ] {
        let out = wms(&["session", "message", &id, "--text", &text]);
        assert_ne!(out.status.code(), Some(0), "{text:?} was accepted");
        assert!(
            stderr(&out).contains("control character"),
            "{text:?}: {}",
            stderr(&out)
        );
        let out = wms(&["Send-WmsMessage", &id, &text]);
        assert_ne!(out.status.code(), Some(0), "{text:?} was accepted");
    }
    never_shows(&s, &m);
    // Too long is refused too, and names the bound.
    let out = wms(&["session", "message", &id, "--text", &"x".repeat(1001)]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("at most 1000"), "{}", stderr(&out));
}

#[test]
fn a_session_without_a_terminal_is_not_supported_with_the_reason() {
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let out = wms(&[
        "session",
        "message",
        &s.session_id().to_string(),
        "--text",
        "hello",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["Outcome"], "NotSupported", "{result}");
    assert!(
        result["Reason"]
            .as_str()
            .unwrap()
            .contains("no terminal and no desktop"),
        "{result}"
    );
}

#[test]
fn the_rules_refuse_another_users_and_an_administrators_session_and_allow_ones_own() {
    let sshd = Sshd::start();
    let plain = shell(&sshd, Role::Plain);
    let admin = shell(&sshd, Role::Admin);
    let m = mark();
    // Another user's session: denied to a plain user, and nothing reaches it.
    let out = wms_as(
        &sshd,
        &user(Role::Plain2),
        &format!("Send-WmsMessage {} 'From plain2 {m}'", plain.session_id()),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("belongs to another user")
            && out.stderr.contains("(UnauthorizedAccessException)"),
        "{}",
        out.stderr
    );
    // An operator may not message an administrator's session (an operator's messages to
    // other users' terminals go through the agent, which has the privileges to write
    // them: see through_the_agent_it_is_audited_before_it_is_sent).
    let out = wms_as(
        &sshd,
        &user(Role::Operator),
        &format!(
            "session message {} --text 'To admin {m}'",
            admin.session_id()
        ),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("administrator's session"),
        "{}",
        out.stderr
    );
    // The owner may message their own other session.
    let out = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("Send-WmsMessage {} 'Own {m}'", plain.session_id()),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    wait_output(&plain, &format!("Own {m}"));
    never_shows(&plain, &format!("From plain2 {m}"));
    never_shows(&admin, &format!("To admin {m}"));
}

#[test]
fn through_the_agent_it_is_audited_before_it_is_sent() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let plain = shell(&sshd, Role::Plain);
    let other = shell(&sshd, Role::Plain2);
    let m = mark();
    // A plain user through the agent: their own session yes, another's no.
    let out = agent.wms_as(
        &sshd,
        &user(Role::Plain),
        &format!(
            "session message {} {} --text 'Via agent {m}'",
            plain.session_id(),
            other.session_id()
        ),
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("belongs to another user"),
        "{}",
        out.stderr
    );
    let seen = wait_output(&plain, &format!("Via agent {m}"));
    assert!(
        seen.contains(&format!("Message from {}@", user(Role::Plain).name)),
        "{seen}"
    );
    never_shows(&other, &format!("Via agent {m}"));
    // An operator through the agent reaches another user's terminal.
    let out = agent.wms_as(
        &sshd,
        &user(Role::Operator),
        &format!(
            "Send-WmsMessage -SessionId {} -Message 'From operator {m}'",
            other.session_id()
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let seen = wait_output(&other, &format!("From operator {m}"));
    assert!(
        seen.contains(&format!("Message from {}@", user(Role::Operator).name)),
        "{seen}"
    );
    // The intent, naming the target, was written before the outcome.
    let audit = agent.audit();
    let ours: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|r| r["verb"] == "Send-WmsMessage")
        .collect();
    let intent = ours
        .iter()
        .position(|r| r["phase"] == "intent")
        .unwrap_or_else(|| panic!("no intent: {audit:?}"));
    let outcome = ours
        .iter()
        .position(|r| r["phase"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome: {audit:?}"));
    assert!(intent < outcome, "{audit:?}");
    assert!(
        ours[intent]["targets"]
            .to_string()
            .contains(&format!("{}", plain.session_id())),
        "{}",
        ours[intent]
    );
    // What-if through the agent sends nothing.
    let out = agent.wms_as(
        &sshd,
        &user(Role::Plain),
        &format!(
            "Send-WmsMessage {} 'Agent what-if {m}' -WhatIf",
            plain.session_id()
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("What if:"), "{}", out.stdout);
    never_shows(&plain, &format!("Agent what-if {m}"));
}

/// `wms` as a remote client with its own ~/.config/wms.
fn remote_wms(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", fast_config())
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_fleet_server_sends_it_over_tls() {
    let agent = Agent::tls();
    let home = fresh_dir("message-client");
    let token = agent.token("msg");
    let out = remote_wms(
        &home,
        &[
            "system",
            "add",
            &agent.address(),
            "--name",
            "lab",
            "--token",
            &token,
            "--fingerprint",
            &agent.fingerprint(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sshd = Sshd::start();
    let s = shell(&sshd, Role::Plain);
    let m = mark();
    let out = remote_wms(
        &home,
        &[
            "Send-WmsMessage",
            "-SessionId",
            &s.session_id().to_string(),
            "-Message",
            &format!("Over TLS {m}"),
            "-Server",
            "lab",
            "-OutputFormat",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"Outcome\":\"Done\""),
        "{}",
        stdout(&out)
    );
    wait_output(&s, &format!("Over TLS {m}"));
    let _ = std::fs::remove_dir_all(&home);
}
