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
    // From /proc, the login completes when its first process after the PAM session
    // started; logind's Timestamp is when pam_systemd asked for the session, and on a
    // user's first login pam_systemd waits for their service manager to start (seconds
    // on a loaded machine) before sshd goes on.
    let slack = if exact_time { 0 } else { 3 };
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

/// Waits until `pred` holds (20 s), else panics with `what`.
fn wait_for(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn service_managers_and_background_sessions_are_listed_only_when_asked_and_survive_close_all() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    // A user of this test alone: other tests close --all as wmst-allp on the host, which
    // sees the sandbox's processes too.
    let allp = wms_testkit::ensure_user("wmst-class", &[]);
    let login = sshd.open_session(&allp, "sleep 600", true);
    // A background session: su without a terminal (pam_systemd makes it class
    // background), opened as a login service would (a new audit session first).
    let bg_cmd = format!(
        "echo {uid} > /proc/self/loginuid && exec setsid su - {name} -c 'exec sleep 600' </dev/null >/dev/null 2>&1",
        uid = allp.uid,
        name = allp.name
    );
    let mut bg = sb.command("sh").args(["-c", &bg_cmd]).spawn().unwrap();
    let all = || listed("auto", &["--class", "all"]);
    let of_class = |class: &str| -> Vec<u32> {
        all()
            .iter()
            .filter(|s| s["UserName"] == allp.name.as_str() && s["Class"] == class)
            .map(|s| s["SessionId"].as_u64().unwrap() as u32)
            .collect()
    };
    wait_for(
        "the user's service manager and a background session",
        || !of_class("manager").is_empty() && !of_class("background").is_empty(),
    );
    let managers = of_class("manager");
    let background = of_class("background");
    // Not listed by default; listed with their class when asked for, in both spellings.
    let default: Vec<u64> = listed("auto", &[])
        .iter()
        .map(|s| s["SessionId"].as_u64().unwrap())
        .collect();
    assert!(
        default.contains(&(login.session_id() as u64)),
        "{default:?}"
    );
    for id in managers.iter().chain(&background) {
        assert!(!default.contains(&(*id as u64)), "{id} listed by default");
    }
    let out = wms_in_sandbox(
        "auto",
        &[
            "Get-WmsSession",
            "-SessionClass",
            "manager",
            "-OutputFormat",
            "Json",
        ],
    );
    let cmdlet: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cmdlet.iter().all(|s| s["Class"] == "manager"), "{cmdlet:?}");
    assert!(
        cmdlet.iter().any(|s| s["SessionId"] == managers[0]),
        "{cmdlet:?}"
    );
    // close --all as their user, from another session of theirs: the manager and the
    // background session survive; the other login does not.
    let other = sshd.open_session(&allp, "sleep 600", false);
    let wms = wms_inside();
    let out = sshd.run(&allp, &format!("{wms} session close --all"), b"");
    assert!(out.status.success(), "{}", out.stderr);
    wms_testkit::wait_session_gone(other.session_id(), Duration::from_secs(20));
    for id in managers.iter().chain(&background) {
        assert!(
            !wms_testkit::session_pids(*id).is_empty(),
            "session {id} was closed by --all"
        );
    }
    // By ID it is acted on, and named for what it is.
    let out = wms_in_sandbox(
        "auto",
        &["session", "close", &background[0].to_string(), "--what-if"],
    );
    assert!(
        stdout(&out).contains(&format!(
            "Session {} ({}, background session)",
            background[0], allp.name
        )),
        "{}",
        stdout(&out)
    );
    wms_testkit::kill_session(background[0]);
    let _ = bg.kill();
    let _ = bg.wait();
}

#[test]
fn close_ends_processes_moved_to_another_scope_and_logind_drops_the_session() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let s = sshd.open_session(
        &wms_testkit::TestUser::root(),
        "systemd-run --quiet --scope --unit=wms-test-$$ sleep 600 & exec sleep 600",
        false,
    );
    let id = s.session_id();
    wait_for("the scope's process", || {
        !sb.run(&["systemctl", "list-units", "--no-legend", "wms-test-*"])
            .stdout
            .is_empty()
    });
    assert!(sb.listed_sessions().contains(&id.to_string()));
    let out = wms_in_sandbox("auto", &["session", "close", &id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        wms_testkit::session_pids(id).is_empty(),
        "processes of the session are left (the scope's sleep?)"
    );
    wait_for("logind dropping the closed session", || {
        !sb.listed_sessions().contains(&id.to_string())
    });
}

#[test]
fn logon_time_and_leader_never_move_to_a_survivor_after_a_disconnect() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let s = sshd.open_session(
        &user(Role::Plain),
        "tmux new-session -d 'sleep 600'; exec sleep 600",
        true,
    );
    let id = s.session_id();
    let l = sb.show_session(id).expect("logind knows it");
    let before = one("proc", id);
    assert_agrees(&before, &l, false);
    assert!(before["LeaderPid"].is_u64(), "{before}");
    let before_dbus = one("logind", id);
    let out = wms_in_sandbox("proc", &["session", "disconnect", &id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Through logind, LogonTime is what it was; the leader (sshd) is gone, so LeaderPid
    // is left out, never replaced by a survivor.
    let through_dbus = one("logind", id);
    assert_eq!(through_dbus["State"], "Disconnected", "{through_dbus}");
    assert_eq!(
        through_dbus["LogonTime"], before_dbus["LogonTime"],
        "{through_dbus}\nbefore: {before_dbus}"
    );
    assert!(through_dbus.get("LeaderPid").is_none(), "{through_dbus}");
    // From /proc alone, a new wms process knows it from what root's wms recorded while
    // the leader lived (state_dir/logins), never from the tmux server that survived.
    let through_proc = one("proc", id);
    assert!(through_proc.get("LeaderPid").is_none(), "{through_proc}");
    assert_eq!(
        through_proc["LogonTime"], before["LogonTime"],
        "{through_proc}"
    );
    assert_eq!(through_proc["State"], "Disconnected", "{through_proc}");

    wms_testkit::kill_session(id);
}

#[test]
fn cpu_seconds_grow_with_a_busy_loop_and_memory_counts_what_is_held() {
    let sshd = Sshd::start();
    let busy = sshd.open_session(&user(Role::Plain), "while :; do :; done", false);
    let held = sshd.open_session(
        &user(Role::Plain),
        "python3 -c 'import time; b = bytearray(200 << 20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(600)'",
        false,
    );
    let cpu = |id: u32| session(id).and_then(|s| s["CpuSeconds"].as_f64()).unwrap();
    let first = cpu(busy.session_id());
    std::thread::sleep(Duration::from_millis(1500));
    let second = cpu(busy.session_id());
    assert!(second > first + 0.3, "CpuSeconds {first} then {second}");
    // Through an agent too, whose table follows process events (a busy loop sends none).
    let agent = Agent::unix();
    let through_agent = |id: u32| -> f64 {
        let (_, body) =
            agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let all: Vec<Value> = serde_json::from_str(&body).unwrap();
        all.iter()
            .find(|s| s["SessionId"] == id)
            .and_then(|s| s["CpuSeconds"].as_f64())
            .unwrap_or_else(|| panic!("{id} not listed by the agent: {body}"))
    };
    let first = through_agent(busy.session_id());
    // An agent's listing may be a second behind in what changes by itself.
    std::thread::sleep(Duration::from_millis(2500));
    let second = through_agent(busy.session_id());
    assert!(
        second > first + 0.3,
        "CpuSeconds through the agent {first} then {second}"
    );
    wait_for("200 MB resident", || {
        session(held.session_id())
            .and_then(|s| s["MemoryBytes"].as_u64())
            .is_some_and(|m| m >= 200 << 20)
    });
    // Both figures in every format, and sortable.
    let table = stdout(&wms(&["session", "list", "-o", "table"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("CPU(s)") && header.contains("Mem(M)"),
        "{table}"
    );
    // (These two only: the host is shared with other work.)
    let (b, h) = (busy.session_id().to_string(), held.session_id().to_string());
    for (sort, top) in [
        ("CpuSeconds", busy.session_id()),
        ("MemoryBytes", held.session_id()),
    ] {
        let out = wms(&[
            "session",
            "list",
            &h,
            &b,
            "-o",
            "json",
            "--sort",
            sort,
            "--descending",
        ]);
        let first: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
        assert_eq!(first["SessionId"], top, "{sort}: {first}");
        let out = wms(&[
            "Get-WmsSession",
            &format!("{h},{b}"),
            "-Sort",
            sort,
            "-OutputFormat",
            "Json",
        ]);
        let first: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
        assert_ne!(first["SessionId"], top, "{sort} ascending: {first}");
    }
    wms_testkit::kill_session(busy.session_id());
    wms_testkit::kill_session(held.session_id());
}

#[test]
fn logon_time_is_when_a_slow_authentication_completed() {
    let sb = sandbox();
    // Authentication takes 4 s: the key is checked by a command that waits first, then
    // accepts the key offered (a test sshd on loopback).
    let dir = wms_testkit::fresh_shared_dir("slow-keys");
    let keys = dir.join("slow-keys");
    std::fs::write(&keys, "#!/bin/sh\nsleep 4\necho \"$1 $2\"\n").unwrap();
    let made = std::process::Command::new("chmod")
        .args(["755", keys.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(made.success());
    let sshd = wms_testkit::Sshd::start_in_sandbox(
        &sb,
        &format!(
            "AuthorizedKeysFile none\nAuthorizedKeysCommand {} %t %k\nAuthorizedKeysCommandUser root",
            keys.display()
        ),
    );
    // The user's service manager already runs (a first login waits for it to start,
    // which is not authentication).
    let warm = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let _first = warm.open_session(&user(Role::Plain), "exec sleep 600", false);
    let connected = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let s = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let id = s.session_id();
    let l = sb.show_session(id).expect("logind knows it");
    let stamp = sandbox()
        .run(&["date", "-u", "-d", &l["Timestamp"], "+%s"])
        .stdout;
    let stamp: i64 = String::from_utf8_lossy(&stamp).trim().parse().unwrap();
    assert!(
        stamp >= connected + 3,
        "the authentication did not take its time: connected at {connected}, logged in at {stamp}"
    );
    // Through /proc alone: within a second of logind's Timestamp, so several seconds
    // after sshd accepted the connection.
    let through_proc = one("proc", id);
    assert_agrees(&through_proc, &l, false);
    let ours = unix(through_proc["LogonTime"].as_str().unwrap());
    assert!(
        (ours - stamp).abs() <= 1,
        "{ours} vs {stamp}: {through_proc}"
    );
    assert!(
        unix(through_proc["LogonTime"].as_str().unwrap()) >= connected + 3,
        "{through_proc}"
    );
    assert_agrees(&one("logind", id), &l, true);
    wms_testkit::kill_session(id);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plain_user_without_the_agent_is_shown_only_what_they_can_know() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let other = user(Role::Plain2);
    let s = sshd.open_session(
        &other,
        "tmux new-session -d 'sleep 600'; exec sleep 600",
        true,
    );
    let id = s.session_id();
    // Disconnected by root's wms with a state directory of its own, so that nothing it
    // learned of the login is kept where the plain user's wms reads.
    let dir = wms_testkit::fresh_shared_dir("elsewhere");
    let elsewhere = dir.join("wms.toml");
    std::fs::write(
        &elsewhere,
        format!(
            "state_dir = \"{}\"\n",
            elsewhere.with_file_name("state").display()
        ),
    )
    .unwrap();
    let config = format!("WMS_CONFIG={}", elsewhere.display());
    let wms = wms_inside();
    let out = sb.run(&[
        "env",
        &config,
        "WMS_SESSION_SOURCE=proc",
        &wms,
        "session",
        "disconnect",
        &id.to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Listed by a plain user, in a new process (so nothing was seen while the leader
    // lived, and nothing was kept), from /proc alone: what the environments of another
    // user's processes would tell is left out, and nothing is guessed in its place.
    let me = user(Role::Plain);
    let as_plain = |source: &str| -> Value {
        let uid = format!("--reuid={}", me.uid);
        let gid = format!("--regid={}", me.uid);
        let setting = format!("WMS_SESSION_SOURCE={source}");
        let id = id.to_string();
        let out = sb.run(&[
            "setpriv",
            &uid,
            &gid,
            "--init-groups",
            "env",
            &setting,
            &wms,
            "session",
            "list",
            &id,
            "-o",
            "json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(stdout(&out).lines().next().expect("listed")).unwrap()
    };
    let seen = as_plain("proc");
    for field in [
        "State",
        "Service",
        "ClientName",
        "RemoteHost",
        "LeaderPid",
        "LogonTime",
        "Class",
    ] {
        assert!(seen.get(field).is_none(), "{field} is a guess: {seen}");
    }
    assert_eq!(seen["UserName"], other.name.as_str(), "{seen}");
    // logind knows how the session was opened, and tells anyone.
    let seen = as_plain("auto");
    assert_eq!(seen["State"], "Disconnected", "{seen}");
    assert_eq!(seen["Service"], "sshd", "{seen}");
    assert_eq!(seen["Source"], "logind", "{seen}");
    wms_testkit::kill_session(id);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `/v1/sessions` requests the agent on `socket` has answered (its metrics).
fn listings_answered(socket: &std::path::Path) -> f64 {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines()
        .find_map(|l| {
            l.strip_prefix("wms_http_request_duration_seconds_count{route=\"/v1/sessions\"} ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn an_agent_inside_with_session_source_logind_lists_logind_s_fields() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    // wmsd as it is deployed there: inside every namespace of the sandbox, on a socket
    // in a directory both sides see.
    let wmsd = wms_testkit::sandbox_binary(&wmsd_path().display().to_string());
    let dir = std::path::Path::new(wms_testkit::SHARED_ROOT)
        .join(format!("wms-logind-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = dir.join("wmsd.sock");
    let config = dir.join("wms.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{}\"\nstate_dir = \"{}/state\"\nlisten = []\nsession_source = \"logind\"\n",
            socket.display(),
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let setting = format!("WMS_CONFIG={}", config.display());
    let mut nsenter = sb
        .command("env")
        .arg(&setting)
        .arg(&wmsd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("wmsd in the sandbox listens", || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    let agent = wms_testkit::children(nsenter.id())[0];
    let before = listings_answered(&socket);
    let id = s.session_id().to_string();
    let wms = wms_inside();
    let out = sb.run(&["env", &setting, &wms, "session", "list", &id, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        listings_answered(&socket),
        before + 1.0,
        "not through the agent"
    );
    let through_agent: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(through_agent["Source"], "logind", "{through_agent}");
    let l = sb
        .show_session(s.session_id())
        .unwrap_or_else(|| panic!("logind does not know session {id}"));
    assert_agrees(&through_agent, &l, true);
    // SIGTERM to the agent this test started (the child of its unreaped nsenter).
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &agent.to_string()])
        .status();
    let _ = nsenter.wait();
    let _ = std::fs::remove_dir_all(&dir);
    wms_testkit::kill_session(s.session_id());
}

/// A screen locker as xss-lock or GNOME's is, for logind's side of it: it listens to its
/// session's Lock and Unlock signals and answers each with SetLockedHint, as the session's
/// user. (gdbus subscribes to the signals as any client may; busctl makes the calls.)
const LOCK_LISTENER: &str = r#"#!/bin/sh
p=$(busctl --system call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager GetSession s auto | cut -d'"' -f2)
hint() { busctl --system call org.freedesktop.login1 "$p" org.freedesktop.login1.Session SetLockedHint b "$1"; }
stdbuf -oL gdbus monitor --system --dest org.freedesktop.login1 --object-path "$p" | while read -r line; do
  case "$line" in
    *org.freedesktop.login1.Session.Lock*) hint true ;;
    *org.freedesktop.login1.Session.Unlock*) hint false ;;
    *Monitoring*) echo listening ;;
  esac
done
"#;

/// A session of its own whose "desktop" is [`LOCK_LISTENER`], listening once it returns.
fn start_listener(sshd: &wms_testkit::Sshd, dir: &std::path::Path) -> wms_testkit::SshSession {
    assert!(
        std::path::Path::new("/usr/bin/gdbus").exists(),
        "the logind lock tests need gdbus (apt-get install libglib2.0-bin)"
    );
    let script = dir.join("listen");
    std::fs::write(&script, LOCK_LISTENER).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let listening = sshd.open_session(&user(Role::Plain), &script.display().to_string(), false);
    assert!(
        listening.wait_for_output("listening", Duration::from_secs(20)),
        "the listener did not start: {}",
        listening.output_text()
    );
    listening
}

fn locked_hint(id: u32) -> String {
    sandbox()
        .show_session(id)
        .unwrap_or_else(|| panic!("logind does not know session {id}"))["LockedHint"]
        .clone()
}

/// `wms session VERB ID --logind` inside the sandbox: its exit status and what it said.
fn via_logind(verb: &str, id: u32) -> (Option<i32>, String) {
    let out = wms_in_sandbox("auto", &["session", verb, &id.to_string(), "--logind"]);
    (out.status.code(), stderr(&out))
}

#[test]
fn lock_through_logind_is_confirmed_by_a_listening_desktop_and_honest_without_one() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let dir = wms_testkit::fresh_shared_dir("lock-listener");
    let listening = start_listener(&sshd, &dir);
    let deaf = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let (id, deaf_id) = (listening.session_id(), deaf.session_id());
    assert_eq!(locked_hint(id), "no");

    let (code, err) = via_logind("lock", id);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(locked_hint(id), "yes", "loginctl shows it locked");
    let (code, err) = via_logind("unlock", id);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(locked_hint(id), "no", "loginctl shows it unlocked");
    // The cmdlet spelling.
    let sid = id.to_string();
    let out = wms_in_sandbox(
        "auto",
        &["Lock-WmsSession", "-SessionId", &sid, "-UseLogind"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(locked_hint(id), "yes");
    let out = wms_in_sandbox("auto", &["Unlock-WmsSession", &sid, "-UseLogind"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(locked_hint(id), "no");

    // Nothing listens: logind passes the Lock on to no one, and wms says so.
    let (code, err) = via_logind("lock", deaf_id);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("logind asked the session to lock, but its desktop did not confirm it (LockedHint stayed false): nothing on it listens to logind's Lock"),
        "{err}"
    );
    assert_eq!(locked_hint(deaf_id), "no");

    // A desktop wms cannot draw on, in a session logind manages: the reason says where to
    // turn.
    let wayland = sshd.open_session(
        &user(Role::Plain),
        "env -u DISPLAY WAYLAND_DISPLAY=wayland-0 sleep 600",
        false,
    );
    std::thread::sleep(Duration::from_millis(300));
    let wid = wayland.session_id().to_string();
    let out = wms_in_sandbox("auto", &["Lock-WmsSession", &wid, "Hello"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "its desktop may listen to logind's lock: `wms session lock {wid} --logind`"
        )),
        "{}",
        stderr(&out)
    );

    // A session with no desktop at all is not told to turn to logind.
    let out = wms_in_sandbox("auto", &["Lock-WmsSession", &deaf_id.to_string(), "Hello"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is a terminal session") && !stderr(&out).contains("--logind"),
        "{}",
        stderr(&out)
    );

    // A login logind never heard of (its own audit session, no pam_systemd).
    let plain = user(Role::Plain);
    let id_file = dir.join("unmanaged.id");
    let mut unmanaged = sb
        .command("sh")
        .args([
            "-c",
            &format!(
                "echo {} > /proc/self/loginuid && cat /proc/self/sessionid > {} && exec setpriv --reuid {} sleep 600",
                plain.uid,
                id_file.display(),
                plain.uid
            ),
        ])
        .spawn()
        .unwrap();
    wait_for("the unmanaged login's ID", || {
        std::fs::read_to_string(&id_file).is_ok_and(|t| t.trim().parse::<u32>().is_ok())
    });
    let unmanaged_id: u32 = std::fs::read_to_string(&id_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (code, err) = via_logind("lock", unmanaged_id);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot be locked: logind does not manage this session"),
        "{err}"
    );
    let _ = unmanaged.kill();
    let _ = unmanaged.wait();
    wms_testkit::kill_session(unmanaged_id);

    // A message with it is a usage error that says why, and nothing is asked of logind.
    let out = wms_in_sandbox(
        "auto",
        &["session", "lock", &id.to_string(), "--logind", "-m", "hi"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--logind shows no message"),
        "{}",
        stderr(&out)
    );
    assert_eq!(locked_hint(id), "no");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lock_through_logind_by_the_agent_is_audited_and_confirmed() {
    let sb = sandbox();
    let sshd = wms_testkit::Sshd::start_in_sandbox(&sb, "");
    let dir = wms_testkit::fresh_shared_dir("logind-agent");
    let listening = start_listener(&sshd, &dir);
    let id = listening.session_id();
    // An agent inside the sandbox, where logind's bus is; its PID is written before it
    // starts, so it is ended by that PID.
    let config = dir.join("wmsd.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{d}/wmsd.sock\"\nstate_dir = \"{d}/state\"\nlisten = []\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let wmsd = wms_testkit::sandbox_binary(&wmsd_path().display().to_string());
    let pid_file = dir.join("wmsd.pid");
    let mut starter = sb
        .command("sh")
        .args([
            "-c",
            &format!(
                "echo $$ > {} && WMS_CONFIG={} exec {} </dev/null >/dev/null 2>&1",
                pid_file.display(),
                config.display(),
                wmsd.display()
            ),
        ])
        .spawn()
        .unwrap();
    wait_for("the agent in the sandbox listens", || {
        std::os::unix::net::UnixStream::connect(dir.join("wmsd.sock")).is_ok()
    });
    let wms = wms_inside();
    let cfg = format!("WMS_CONFIG={}", config.display());
    let through_agent = |verb: &str| {
        sb.run(&[
            "env",
            &cfg,
            &wms,
            "session",
            verb,
            &id.to_string(),
            "--logind",
        ])
    };
    let out = through_agent("lock");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(locked_hint(id), "yes");
    let out = through_agent("unlock");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(locked_hint(id), "no");
    // Audited as every lock: the intent before, the outcome after, with logind named.
    let audit: Vec<Value> = std::fs::read_to_string(dir.join("state/audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (verb, phase) in [
        ("Lock-WmsSession", "intent"),
        ("Lock-WmsSession", "outcome"),
        ("Unlock-WmsSession", "intent"),
        ("Unlock-WmsSession", "outcome"),
    ] {
        assert!(
            audit.iter().any(|r| r["verb"] == verb
                && r["phase"] == phase
                && r["logind"] == true
                && (phase == "intent" || r["results"][0]["Outcome"] == "Done")),
            "no {phase} record of {verb} through logind: {audit:?}"
        );
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    sb.run(&["kill", pid.trim()]);
    let _ = starter.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
