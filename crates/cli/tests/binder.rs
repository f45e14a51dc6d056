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
        "Close-WmsSession: Parameter cannot be processed because the parameter name 'S' is ambiguous. Possible matches include: -SessionId -Server. (ParameterBindingException)",
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
        &["Close-WmsSession", "3", "-All"],
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
