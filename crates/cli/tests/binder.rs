//! The cmdlet binder through the real binary: binding errors print PowerShell's message
//! and exit 2 with nothing done; aliases, prefixes and arrays reach the same action.
//! (Every binder rule also has a unit test in src/cmdlet.rs.)

mod common;
use common::*;

fn usage_error(args: &[&str], expected: &str) {
    let out = wms(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out).trim_end(), expected, "{args:?}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn binding_errors_have_powershell_messages_and_exit_2() {
    usage_error(
        &["Close-WmsSession", "-Foo", "3"],
        "Close-WmsSession: A parameter cannot be found that matches parameter name 'Foo'. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-S", "3"],
        "Close-WmsSession: Parameter cannot be processed because the parameter name 'S' is ambiguous. Possible matches include: -SessionId -Server -State. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-SessionId", "abc"],
        "Close-WmsSession: Cannot bind parameter 'SessionId'. Cannot convert value \"abc\" to type \"System.UInt32\". Error: \"Input string was not in a correct format.\" (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-SessionId"],
        "Close-WmsSession: Missing an argument for parameter 'SessionId'. Specify a parameter of type 'System.UInt32[]' and try again. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-SessionId", "3", "-All"],
        "Close-WmsSession: Parameter set cannot be resolved using the specified named parameters. One or more parameters issued cannot be used together or an insufficient number of parameters were provided. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "3", "-OutVariable", "x"],
        "Close-WmsSession: The common parameter 'OutVariable' is not supported by wms: it only has meaning inside a PowerShell session. (NotSupportedException)",
    );
}

#[test]
fn a_missing_selection_on_a_terminal_is_a_binding_error() {
    // With stdin not a terminal, no IDs means pipeline input; an empty pipeline is a no-op.
    let out = wms(&["Close-WmsSession"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_binding_error_does_nothing_even_with_valid_ids() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let pids = session_pids(a.session_id());
    let id = a.session_id().to_string();
    let out = wms(&["Close-WmsSession", &id, "-Bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let out = wms(&["session", "close", &id, "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid session ID 'x'"),
        "{}",
        stderr(&out)
    );
    assert_untouched(a.session_id(), &pids);
}

#[test]
fn prefixes_aliases_positional_and_arrays_bind() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", false);
    // `-Sess` prefix, `3,` `4` split array, `-ComputerName` alias, `-Confirm:$false`.
    let out = wms(&[
        "CLOSE-WMSSESSION",
        "-sess",
        &format!("{},", a.session_id()),
        &b.session_id().to_string(),
        "-ComputerName",
        "localhost",
        "-Confirm:$false",
        "-Verbose",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("VERBOSE: Performing the operation \"Close-WmsSession\""),
        "{}",
        stderr(&out)
    );
    assert_gone(a.session_id());
    assert_gone(b.session_id());
}

#[test]
fn error_action_stop_stops_at_the_first_error() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let pids = session_pids(a.session_id());
    let out = wms(&[
        "Close-WmsSession",
        &format!("4294967291,{}", a.session_id()),
        "-ErrorAction",
        "Stop",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("(ItemNotFoundException)"));
    assert_untouched(a.session_id(), &pids);
    let out = wms(&[
        "Close-WmsSession",
        &format!("4294967291,{}", a.session_id()),
        "-ea",
        "SilentlyContinue",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error still sets the exit status"
    );
    assert_eq!(stderr(&out), "");
    assert_gone(a.session_id());
}

#[test]
fn lock_without_a_message_is_a_binding_error() {
    usage_error(
        &["Lock-WmsSession", "3"],
        "Lock-WmsSession: Cannot process command because of one or more missing mandatory parameters: Message. (ParameterBindingException)",
    );
}

#[test]
fn powershells_binding_rules_through_the_binary() {
    // The cmdlet's own parameter wins a prefix over common ones: -o is OutputFormat.
    let out = wms(&["Get-WmsSession", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for l in stdout(&out).lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    // Module-qualified names resolve.
    let out = wms(&["MultiPoint\\Close-WmsSession", "4294967291"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(ItemNotFoundException)"),
        "{}",
        stderr(&out)
    );
    // A value that begins with a dash is taken; the session is then not found (exit 1).
    let out = wms(&[
        "Lock-WmsSession",
        "4294967291",
        "-Message",
        "-- maintenance at 5 --",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    usage_error(
        &["Lock-WmsSession", "3", "-Message", ""],
        "Lock-WmsSession: Cannot bind argument to parameter 'Message' because it is an empty string. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "@()"],
        "Close-WmsSession: Cannot bind argument to parameter 'SessionId' because it is an empty array. (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-ErrorAction", "s", "3"],
        "Close-WmsSession: Cannot bind parameter 'ErrorAction'. Cannot convert value \"s\" to type \"System.Management.Automation.ActionPreference\". Error: \"The identifier name s cannot be processed due to the inability to differentiate between the following enumerator names: SilentlyContinue, Stop, Suspend. Try a more specific identifier name.\" (ParameterBindingException)",
    );
    usage_error(
        &["Close-WmsSession", "-All", "3"],
        "Close-WmsSession: A positional parameter cannot be found that accepts argument '3'. (ParameterBindingException)",
    );
}

#[test]
fn all_false_chooses_the_all_set_and_acts_on_nothing() {
    let sshd = Sshd::start();
    let a = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let pids = session_pids(a.session_id());
    let out = wms(&["Close-WmsSession", "-All:$false"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_untouched(a.session_id(), &pids);
}

#[test]
fn error_action_inquire_asks_on_the_terminal_and_stops_without_one() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let pids = session_pids(a.session_id());
    let ids = format!("4294967291,{}", a.session_id());
    // No terminal to ask on: it halts as Stop does, and the session is left alone.
    let out = wms(&["Close-WmsSession", &ids, "-ErrorAction", "Inquire"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_untouched(a.session_id(), &pids);
    // On a terminal: PowerShell's prompt; Yes goes on to the next session.
    let mut s = sshd.open_session_with_env(
        &u,
        &format!(
            "{} Close-WmsSession {ids} -ErrorAction Inquire; echo exit=$?; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    assert!(
        s.wait_for_output("[H] Halt Command", std::time::Duration::from_secs(20)),
        "{}",
        s.output_text()
    );
    assert!(
        s.output_text().contains("Cannot find session 4294967291"),
        "{}",
        s.output_text()
    );
    s.send(b"y\r");
    assert!(
        s.wait_for_output("exit=1", std::time::Duration::from_secs(30)),
        "{}",
        s.output_text()
    );
    assert_gone(a.session_id());
}

#[test]
fn a_mandatory_parameter_left_out_on_a_terminal_is_asked_for() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let id = a.session_id().to_string();
    let mut s = sshd.open_session_with_env(
        &u,
        &format!(
            "{} Close-WmsSession -WhatIf; echo exit=$?; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    let wait = |s: &SshSession, what: &str| {
        assert!(
            s.wait_for_output(what, std::time::Duration::from_secs(20)),
            "never showed {what}: {}",
            s.output_text()
        )
    };
    wait(&s, "Supply values for the following parameters:");
    wait(&s, "SessionId[0]: ");
    s.send(format!("{id}\r").as_bytes());
    wait(&s, "SessionId[1]: ");
    s.send(b"\r");
    wait(&s, "exit=0");
    assert!(
        s.output_text().contains(&format!(
            "What if: Performing the operation \"Close-WmsSession\" on target \"Session {id} (wmst-plain)"
        )),
        "{}",
        s.output_text()
    );
    // Get-WmsSession's SessionId is optional: on a terminal it lists, asking nothing.
    let s2 = sshd.open_session_with_env(
        &u,
        &format!(
            "{} Get-WmsSession -UserName wmst-plain; echo exit=$?; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    wait(&s2, "exit=0");
    assert!(
        !s2.output_text().contains("Supply values"),
        "{}",
        s2.output_text()
    );
    assert!(
        s2.output_text().contains(&format!("SessionId    : {id}")),
        "{}",
        s2.output_text()
    );
    // Lock's Message, left empty, is PowerShell's binding error.
    let mut s = sshd.open_session_with_env(
        &u,
        &format!(
            "{} Lock-WmsSession {id}; echo exit=$?; sleep 600",
            wms_path()
        ),
        true,
        &[("WMS_CONFIG", &fast_config())],
    );
    wait(&s, "Message: ");
    s.send(b"\r");
    wait(&s, "exit=2");
    assert!(
        s.output_text()
            .contains("Cannot bind argument to parameter 'Message' because it is an empty string."),
        "{}",
        s.output_text()
    );
}
