//! The agent, wmsd, on its Unix socket: wms goes through it when it answers, callers are
//! known by their peer credentials, the same rules hold, and every action is audited.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn an_operator_closes_a_plain_users_session_through_the_agent_and_it_is_audited() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let mut target = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let oper = user(Role::Operator);
    let out = agent.wms_as(
        &sshd,
        &oper,
        &format!("session close {} -v", target.session_id()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_gone(target.session_id());
    assert!(target.wait_exit(Duration::from_secs(20)).is_some());
    let audit = agent.audit();
    let rec = audit
        .iter()
        .find(|r| r["whatIf"] == false && r["uid"] == oper.uid && r["phase"] == "outcome")
        .unwrap_or_else(|| panic!("no audit record: {audit:?}"));
    assert_eq!(rec["via"], "unix");
    assert_eq!(rec["role"], "Operator");
    assert_eq!(rec["verb"], "Close-WmsSession");
    assert_eq!(rec["results"][0]["SessionId"], target.session_id());
    assert_eq!(rec["results"][0]["Outcome"], "Done");
}

#[test]
fn the_agent_applies_the_rules_and_audits_refusals() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let pids = session_pids(admin.session_id());
    let oper = user(Role::Operator);
    let out = agent.wms_as(
        &sshd,
        &oper,
        &format!("Close-WmsSession {}", admin.session_id()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("(UnauthorizedAccessException)"),
        "{}",
        out.stderr
    );
    assert_untouched(admin.session_id(), &pids);
    // Its own session, named by ID, through the agent.
    let out = agent.wms_as(
        &sshd,
        &oper,
        "Close-WmsSession $(cat /proc/self/sessionid); echo still-here",
    );
    assert!(out.stdout.contains("still-here"), "{}", out.stderr);
    assert!(
        out.stderr.contains("is the session this command runs in"),
        "{}",
        out.stderr
    );
    let audit = agent.audit();
    assert!(
        audit
            .iter()
            .any(|r| r["results"][0]["Outcome"] == "AccessDenied"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|r| r["results"][0]["Outcome"] == "OwnSession"),
        "{audit:?}"
    );
}

#[test]
fn malformed_requests_are_refused_with_the_cause_and_audited() {
    let agent = Agent::unix();
    for (body, needle) in [
        ("{bad json", "malformed request"),
        ("{\"verb\":\"reboot\",\"all\":true}", "malformed request"),
        ("{\"verb\":\"close\"}", "give sessionIds"),
        ("{\"verb\":\"lock\",\"all\":true}", "lock needs a message"),
    ] {
        let (status, reply) = agent.http(&format!(
            "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        assert!(status.contains("400"), "{body}: {status} {reply}");
        assert!(reply.contains(needle), "{body}: {reply}");
    }
    let audit = agent.audit();
    assert_eq!(
        audit.iter().filter(|r| r.get("refused").is_some()).count(),
        4,
        "{audit:?}"
    );
}

#[test]
fn the_agent_serves_its_openapi_document_and_the_session_list() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let (status, body) =
        agent.http("GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(status.contains("200"), "{status}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/v1/actions"]["post"].is_object());
    // A plain user listing through the agent sees the client of another user's session,
    // which its own processes could not read.
    let out = agent.wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("session list {} -o json", s.session_id()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["UserName"], "wmst-plain2");
    assert_eq!(v["ClientName"], "127.0.0.1");
}

#[test]
fn wmsd_start_up_errors_name_the_cause() {
    let agent = Agent::unix();
    // A second agent on the same socket.
    let out = Command::new(wmsd_path())
        .env("WMS_CONFIG", &agent.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another wmsd is already serving on"),
        "{}",
        stderr(&out)
    );
    // A bad configuration line.
    let bad = wms_testkit::config_file("grace_period = 1\nsokcet = \"/tmp/x\"\n");
    let out = Command::new(wmsd_path())
        .env("WMS_CONFIG", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 2:") && stderr(&out).contains("sokcet"),
        "{}",
        stderr(&out)
    );
    // An audit log that cannot be opened.
    let dir = std::env::temp_dir().join(format!("wms-agent-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state"), "a file, not a directory").unwrap();
    let cfg = wms_testkit::config_file(&format!(
        "socket = \"{d}/s.sock\"\nstate_dir = \"{d}/state\"\n",
        d = dir.display()
    ));
    let out = Command::new(wmsd_path())
        .env("WMS_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot open the audit log"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
