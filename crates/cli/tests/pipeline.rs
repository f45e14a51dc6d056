//! Pipeline input by property name: `wms session list -o json | wms session close`.

mod common;
use common::*;
use std::process::{Command, Stdio};

#[test]
fn list_json_piped_into_close_closes_exactly_the_listed_sessions() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", true);
    let keep = sshd.open_session(&u, "sleep 600", false);
    let pk = session_pids(keep.session_id());
    // A real shell pipeline between two real wms processes.
    let line = format!(
        "WMS_CONFIG={} {w} session list -o json {} {} | {w} session close",
        fast_config(),
        a.session_id(),
        b.session_id(),
        w = wms_path()
    );
    let out = Command::new("sh")
        .args(["-c", &line])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(a.session_id());
    assert_gone(b.session_id());
    assert_untouched(keep.session_id(), &pk);
}

#[test]
fn piped_objects_bind_case_insensitively_and_an_array_works() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let b = sshd.open_session(&u, "sleep 600", false);
    let input = format!(
        "[{{\"sessionid\": {}, \"computername\": \"localhost\"}}, {{\"SESSIONID\": \"{}\"}}]",
        a.session_id(),
        b.session_id()
    );
    let out = wms_in(&["Close-WmsSession"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(a.session_id());
    assert_gone(b.session_id());
}

#[test]
fn broken_json_names_the_line_and_closes_nothing() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let pa = session_pids(a.session_id());
    let input = format!("{{\"SessionId\": {}}}\n{{\"SessionId\": \n", a.session_id());
    let out = wms_in(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("wms: session close: standard input, line 2: not valid JSON"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).trim_end().ends_with("nothing was done"),
        "{}",
        stderr(&out)
    );
    let input = format!(
        "{{\"SessionId\": {}}}\n{{\"UserName\": \"x\"}}\n",
        a.session_id()
    );
    let out = wms_in(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 2: the object has no SessionId property"),
        "{}",
        stderr(&out)
    );
    assert_untouched(a.session_id(), &pa);
}

#[test]
fn a_piped_server_that_is_not_this_host_is_an_error_for_its_targets_only() {
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let a = sshd.open_session(&u, "sleep 600", false);
    let input = format!(
        "{{\"SessionId\": {id}, \"ComputerName\": \"elsewhere.invalid\"}}\n{{\"SessionId\": {id}}}\n",
        id = a.session_id()
    );
    let out = wms_in(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wms session close: cannot connect to server 'elsewhere.invalid'"),
        "{}",
        stderr(&out)
    );
    assert_gone(a.session_id());
}
