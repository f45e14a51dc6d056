//! wms against a real systemd-logind (the logind sandbox, booted when not running): the
//! fields it shares with `loginctl show-session`, through D-Bus and through /proc alone;
//! what is a session (service managers and background sessions); LogonTime after a slow
//! authentication and across a disconnect; close of a session with processes in another
//! scope. wms runs inside the sandbox, so it sees the sandbox's processes and logind.

mod common;
use common::*;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wms_testkit::LogindSandbox;

fn sandbox() -> LogindSandbox {
    LogindSandbox::get()
}

/// wms, copied where processes in the sandbox can run it.
fn wms_inside() -> String {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        wms_testkit::sandbox_binary(env!("CARGO_BIN_EXE_wms"))
            .display()
            .to_string()
    })
    .clone()
}

/// `wms ARGS` as root inside the sandbox, with sessions read from `source`.
fn wms_in_sandbox(source: &str, args: &[&str]) -> std::process::Output {
    let wms = wms_inside();
    let mut argv = vec!["env", "WMS_SESSION_SOURCE=", &wms];
    let setting = format!("WMS_SESSION_SOURCE={source}");
    argv[1] = &setting;
    argv.extend_from_slice(args);
    sandbox().run(&argv)
}

fn listed(source: &str, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["session", "list", "-o", "json"];
    a.extend_from_slice(args);
    let out = wms_in_sandbox(source, &a);
    assert!(out.status.success(), "wms {a:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn one(source: &str, id: u32) -> Value {
    listed(source, &[&id.to_string()])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("session {id} not listed from {source}"))
}

/// Seconds since the epoch of an RFC 3339 UTC time as wms prints it.
fn unix(t: &str) -> i64 {
    let d: Vec<i64> = t
        .trim_end_matches('Z')
        .split(['-', 'T', ':'])
        .map(|p| p.parse().unwrap())
        .collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400 + d[3] * 3600 + d[4] * 60 + d[5]
}

/// Every field wms shares with `loginctl show-session`, as wms's value from `s` and
/// logind's from `l` (logind's empty value and 0 are wms's missing one).
fn assert_agrees(s: &Value, l: &std::collections::HashMap<String, String>, exact_time: bool) {
    let text = |k: &str| {
        s.get(k).map(|v| match v {
            Value::String(x) => x.clone(),
            Value::Bool(b) => {
                if *b {
                    "yes".into()
                } else {
                    "no".into()
                }
            }
            other => other.to_string(),
        })
    };
    let logind = |k: &str| l.get(k).filter(|v| !v.is_empty() && *v != "0").cloned();
    for (ours, theirs) in [
        ("UserName", "Name"),
        ("Class", "Class"),
        ("Type", "Type"),
        ("Seat", "Seat"),
        ("VTNr", "VTNr"),
        ("Display", "Display"),
        ("Remote", "Remote"),
        ("RemoteHost", "RemoteHost"),
        ("Service", "Service"),
        ("LeaderPid", "Leader"),
    ] {
        assert_eq!(text(ours), logind(theirs), "{ours} vs {theirs}: {s}\n{l:?}");
    }
    if s["Source"] == "logind" {
        assert_eq!(text("IdleHint"), logind("IdleHint"), "{s}");
        assert_eq!(text("LockedHint"), logind("LockedHint"), "{s}");
    }
    let stamp = sandbox()
        .run(&["date", "-u", "-d", &l["Timestamp"], "+%s"])
        .stdout;
    let stamp: i64 = String::from_utf8_lossy(&stamp).trim().parse().unwrap();
    let ours = unix(
        s["LogonTime"]
            .as_str()
            .unwrap_or_else(|| panic!("no LogonTime: {s}")),
    );
    let slack = if exact_time { 0 } else { 1 };
    assert!(
        (ours - stamp).abs() <= slack,
        "LogonTime {ours} vs logind's Timestamp {stamp}: {s}\n{l:?}"
    );
}

#[test]
fn every_shared_field_agrees_with_loginctl_through_dbus_and_through_proc() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let root = sshd.open_session(&wms_testkit::TestUser::root(), "sleep 600", true);
    let plain = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    // `su -` as a login service opens it: pam_loginuid first (Debian's su stack has
    // none), then su's own PAM session with pam_systemd, on a terminal (script's pty).
    let su_user = user(Role::Plain2);
    let su_cmd = format!(
        "echo {} > /proc/self/loginuid && cat /proc/self/sessionid > {}/su.id && exec su - {} -c 'exec sleep 600'",
        su_user.uid,
        wms_testkit::SHARED_ROOT,
        su_user.name,
    );
    let mut su = sb
        .command("script")
        .args(["-qfc", &su_cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let id_file = format!("{}/su.id", wms_testkit::SHARED_ROOT);
    let deadline = Instant::now() + Duration::from_secs(20);
    let su_id: u32 = loop {
        if let Some(id) = std::fs::read_to_string(&id_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break id;
        }
        assert!(Instant::now() < deadline, "su - did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&id_file);
    for id in [root.session_id(), plain.session_id(), su_id] {
        let l = sb
            .show_session(id)
            .unwrap_or_else(|| panic!("logind does not know session {id}"));
        let through_dbus = one("logind", id);
        assert_eq!(through_dbus["Source"], "logind", "{through_dbus}");
        assert_agrees(&through_dbus, &l, true);
        let through_proc = one("proc", id);
        assert_eq!(through_proc["Source"], "proc", "{through_proc}");
        assert_agrees(&through_proc, &l, false);
    }
    let s = one("logind", su_id);
    assert_eq!(
        (s["Service"].as_str(), s["Type"].as_str()),
        (Some("su-l"), Some("tty"))
    );
    wms_testkit::kill_session(su_id);
    let _ = su.kill();
    let _ = su.wait();
}
