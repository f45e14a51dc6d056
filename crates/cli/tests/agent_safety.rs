//! The agent among untrusted users: who a caller is comes only from what the kernel
//! vouched for when it connected; nothing is done that the audit log cannot account for;
//! slow actions never stall listings; a lock is text and leaves an honest record. Each
//! test is named after the defect it pins.

mod common;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One HTTP request on the agent's socket, answered: the status code and the JSON body.
fn post(agent: &Agent, body: &str) -> (u16, Value) {
    let (status, reply) = agent.http(&format!(
        "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, serde_json::from_str(&reply).unwrap_or(Value::Null))
}

/// Waits until `path` exists; panics naming `what`.
fn wait_file(path: &Path, what: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < end, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory test users may write to, for the marks their sessions leave.
fn shared_dir(what: &str) -> PathBuf {
    let d = fresh_dir(what);
    Command::new("chmod").arg("1777").arg(&d).status().unwrap();
    d
}

/// A shell loop that notes SIGTERM in `mark` and carries on: a session that is slow to
/// close (it lasts the whole grace period). The shell writes the marks itself (a
/// redirection, no child): a child would be a new process of the session, which the close
/// signals as soon as it sees it. Once its traps are set it writes `mark.ready`;
/// [`open_stubborn`] waits for that, so a close never finds it half started.
fn stubborn(mark: &Path) -> String {
    format!(
        "sh -c 'trap \"\" HUP PIPE; trap \": > {m}\" TERM; : > {m}.ready; while :; do sleep 0.05; done'",
        m = mark.display()
    )
}

/// A real ssh session running [`stubborn`], once its traps are set.
fn open_stubborn(sshd: &Sshd, who: &TestUser, mark: &Path) -> SshSession {
    let s = sshd.open_session(who, &stubborn(mark), false);
    wait_file(&mark.with_extension("ready"), "the session's start");
    s
}

#[test]
fn a_reused_peer_pid_never_lends_its_role_to_the_caller() {
    let plain = user(Role::Plain);
    let admin = user(Role::Admin);
    let dir = fresh_dir("pidreuse");
    let config = wms_testkit::config_file(&format!(
        "grace_period = 1\nkill_timeout = 10\nsocket = \"{d}/wmsd.sock\"\nstate_dir = \"{d}/state\"\nlisten = []\n",
        d = dir.display()
    ));
    // Test users must reach the socket's directory.
    Command::new("chmod").arg("755").arg(&dir).status().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pid_reuse.py");
    let gid = |u: &TestUser| {
        let out = Command::new("id").args(["-g", &u.name]).output().unwrap();
        stdout(&out).trim().to_string()
    };
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "/usr/bin/python3"])
        .arg(&script)
        .arg(wmsd_path())
        .arg(&config)
        .arg(dir.join("wmsd.sock"))
        .args([plain.uid.to_string(), gid(&plain)])
        .args([admin.uid.to_string(), gid(&admin)])
        .output()
        .unwrap();
    let text = stdout(&out);
    let result: Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr(&out)));
    // The attack really happened: an administrator's process had the PID the plain
    // user connected with when the plain user's request came.
    assert_eq!(result["reused"], true, "{result}\n{}", stderr(&out));
    // ...and the agent still knew the caller for the plain user it was.
    assert!(
        result["status"].as_str().unwrap_or("").contains(" 200 "),
        "{result}"
    );
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["results"][0]["Outcome"], "AccessDenied", "{body}");
    assert_eq!(result["target_alive"], true, "{result}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_action_leaves_its_intent_in_the_audit_log_before_the_agent_is_killed() {
    let marks = shared_dir("intent");
    let mark = marks.join("got-term");
    // A long grace period: the close is surely under way, and not finished, when the
    // agent is killed.
    let mut agent = Agent::start_graced(fresh_dir("agent"), None, 30.0, "");
    let sshd = Sshd::start();
    let target = open_stubborn(&sshd, &user(Role::Plain), &mark);
    let id = target.session_id();
    let pending = {
        let socket = agent.socket();
        std::thread::spawn(move || {
            let body = format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}");
            let mut s = UnixStream::connect(socket).unwrap();
            let _ = s.write_all(format!(
                "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ).as_bytes());
            let mut sink = String::new();
            let _ = s.read_to_string(&mut sink);
            eprintln!("the agent answered the close: {sink}");
        })
    };
    // The close has begun: the session's shell has had its SIGTERM.
    wait_file(&mark, "the close's SIGTERM");
    agent.kill();
    pending.join().unwrap();
    let audit = agent.audit();
    let intent = audit
        .iter()
        .find(|r| r["phase"] == "intent")
        .unwrap_or_else(|| panic!("no intent record of the close: {audit:?}"));
    assert_eq!(intent["verb"], "Close-WmsSession", "{intent}");
    assert_eq!(intent["via"], "unix", "{intent}");
    assert_eq!(intent["uid"], 0, "{intent}");
    assert_eq!(intent["role"], "Administrator", "{intent}");
    assert_eq!(intent["targets"][0]["sessionId"], id, "{intent}");
    assert_eq!(intent["targets"][0]["userName"], "wmst-plain", "{intent}");
    kill_session(id);
}

/// A tmpfs mounted for a test, unmounted (and its directory removed) when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_state_filesystem_refuses_the_action_and_changes_nothing() {
    let dir = fresh_dir("full");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(ok.success(), "cannot mount a tmpfs on {}", state.display());
    let _mount = Mount(state.clone());
    let agent = Agent::start_with(dir.clone(), None, "");
    let sshd = Sshd::start();
    let target = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = target.session_id();
    let pids = session_pids(id);
    // Fill the state directory's filesystem to the last byte.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", state.join("filler").display()))
        .output()
        .unwrap();
    let log_before = std::fs::read(state.join("audit.log")).unwrap();

    let (status, body) = post(
        &agent,
        &format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}"),
    );
    assert_eq!(status, 503, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("audit log") && message.contains("nothing was done"),
        "{body}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_untouched(id, &pids);
    // No half-written line was left behind.
    assert_eq!(std::fs::read(state.join("audit.log")).unwrap(), log_before);
    drop(agent);
    kill_session(id);
}

#[test]
fn slow_closes_do_not_stall_listings() {
    let marks = shared_dir("slow");
    let agent = Agent::start_graced(fresh_dir("agent"), None, 5.0, "");
    let sshd = Sshd::start();
    let slow = 6;
    let sessions: Vec<_> = (0..slow)
        .map(|i| {
            let mark = marks.join(format!("term-{i}"));
            (open_stubborn(&sshd, &user(Role::Plain), &mark), mark)
        })
        .collect();
    let finished = Arc::new(AtomicUsize::new(0));
    let closes: Vec<_> = sessions
        .iter()
        .map(|(s, _)| {
            let id = s.session_id();
            let socket = agent.socket();
            let finished = finished.clone();
            std::thread::spawn(move || {
                let body = format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}");
                let mut c = UnixStream::connect(socket).unwrap();
                c.write_all(format!(
                    "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ).as_bytes()).unwrap();
                let mut reply = String::new();
                let _ = c.read_to_string(&mut reply);
                finished.fetch_add(1, Ordering::SeqCst);
                reply
            })
        })
        .collect();
    // Every close is under way (its session has had SIGTERM) and in its grace period.
    for (_, mark) in &sessions {
        wait_file(mark, "a close's SIGTERM");
    }
    let (status, body) =
        agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let done_by_then = finished.load(Ordering::SeqCst);
    assert!(status.contains(" 200 "), "{status} {body}");
    assert_eq!(
        done_by_then, 0,
        "the listing was answered only after {done_by_then} of the closes finished"
    );
    for c in closes {
        let reply = c.join().unwrap();
        assert!(reply.contains("\"Outcome\":\"Done\""), "{reply}");
    }
}

#[test]
fn a_lock_message_with_terminal_control_sequences_is_refused() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let id = s.session_id();
    for message in [
        "\\u001b]0;pwned\\u0007",
        "clear\\u001b[2J",
        "a\\u009b2J",
        "bell\\u0007",
    ] {
        let (status, body) = post(
            &agent,
            &format!("{{\"verb\":\"lock\",\"sessionIds\":[{id}],\"message\":\"{message}\"}}"),
        );
        assert_eq!(status, 400, "{message}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("control character") && error.contains("U+00"),
            "{message}: {body}"
        );
    }
    // Nothing was locked.
    let (_, listing) =
        agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let sessions: Vec<Value> = serde_json::from_str(&listing).unwrap();
    let me = sessions.iter().find(|x| x["SessionId"] == id).unwrap();
    assert_eq!(me["IsLocked"], false, "{me}");
    // Text with line breaks is a message.
    let (status, body) = post(
        &agent,
        &format!("{{\"verb\":\"lock\",\"sessionIds\":[{id}],\"message\":\"Eyes\\nto the front\",\"whatIf\":true}}"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["Outcome"], "WhatIf", "{body}");
}

#[test]
fn a_lock_through_the_agent_records_the_callers_uid() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let target = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let id = target.session_id();
    let oper = user(Role::Operator);
    let out = agent.wms_as(
        &sshd,
        &oper,
        &format!("session lock {id} --message 'Eyes to the front'"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.dir.join(format!("state/locks/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["locked_by_uid"], oper.uid, "{record}");
    let out = agent.wms_as(&sshd, &oper, &format!("session unlock {id}"));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
}

#[test]
fn unlock_of_an_unreadable_lock_record_fails_instead_of_reporting_done() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let target = sshd.open_session(&user(Role::Plain2), "sleep 600", true);
    let id = target.session_id();
    let (status, body) = post(
        &agent,
        &format!("{{\"verb\":\"lock\",\"sessionIds\":[{id}],\"message\":\"Back in five\"}}"),
    );
    assert_eq!(
        (status, &body["results"][0]["Outcome"]),
        (200, &Value::from("Done")),
        "{body}"
    );
    let record = agent.dir.join(format!("state/locks/{id}.json"));
    let good = std::fs::read(&record).unwrap();
    std::fs::write(&record, b"{\"session_id\": 3, \"tty\": ").unwrap();

    let (status, body) = post(
        &agent,
        &format!("{{\"verb\":\"unlock\",\"sessionIds\":[{id}]}}"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["Outcome"], "Failed", "{body}");
    let reason = body["results"][0]["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("lock record") && reason.contains(&record.display().to_string()),
        "{body}"
    );
    // The record is still there to be looked at, and with it put right, unlock works.
    std::fs::write(&record, good).unwrap();
    let (_, body) = post(
        &agent,
        &format!("{{\"verb\":\"unlock\",\"sessionIds\":[{id}]}}"),
    );
    assert_eq!(body["results"][0]["Outcome"], "Done", "{body}");
    assert!(!record.exists());
}
