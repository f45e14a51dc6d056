//! The agent's live session table, its event stream and its metrics, against real
//! sessions: sshd logins, generated audit sessions and bursts of short-lived processes.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wms_testkit::gen::{generate, GenOptions};

/// One event off the stream.
#[derive(Debug, Clone)]
struct Ev {
    id: u64,
    kind: String,
    session: Option<u64>,
    locked: Option<bool>,
    client: Option<String>,
}

/// A client of `GET /v1/events` on the agent's socket.
struct Watch {
    rx: mpsc::Receiver<Ev>,
    _stream: UnixStream,
}

impl Watch {
    fn open(agent: &Agent, last_event_id: Option<u64>) -> Watch {
        let mut s = UnixStream::connect(agent.socket()).unwrap();
        let resume = last_event_id
            .map(|n| format!("Last-Event-ID: {n}\r\n"))
            .unwrap_or_default();
        s.write_all(format!("GET /v1/events HTTP/1.1\r\nHost: x\r\n{resume}\r\n").as_bytes())
            .unwrap();
        let reader = s.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut id = 0;
            let mut kind = String::new();
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { return };
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.trim().parse().unwrap_or(0);
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    let data: Value = serde_json::from_str(v).unwrap_or(Value::Null);
                    let ev = Ev {
                        id,
                        kind: kind.clone(),
                        session: data["Session"]["SessionId"].as_u64(),
                        locked: data["Session"]["IsLocked"].as_bool(),
                        client: data["Session"]["ClientName"].as_str().map(String::from),
                    };
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            }
        });
        Watch { rx, _stream: s }
    }

    /// The next event, within a generous bound.
    fn next(&self) -> Ev {
        self.rx
            .recv_timeout(Duration::from_secs(20))
            .expect("an event within 20 s")
    }

    /// The next event about session `id` of kind `kind`, skipping events about others
    /// (other tests open sessions too); every event about `id` on the way is returned
    /// with it, in order.
    fn until(&self, id: u32, kind: &str) -> (Ev, Vec<Ev>) {
        let mut about = Vec::new();
        loop {
            let e = self.next();
            if e.session == Some(u64::from(id)) {
                about.push(e.clone());
                if e.kind == kind {
                    return (e, about);
                }
            }
        }
    }
}

fn post(agent: &Agent, body: &str) -> Value {
    let (status, reply) = agent.http(&format!(
        "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    assert!(status.contains(" 200 "), "{status} {reply}");
    serde_json::from_str(&reply).unwrap()
}

#[test]
fn events_of_real_ssh_sessions_come_in_order_and_resume_after_a_restart() {
    let mut agent = Agent::unix();
    let sshd = Sshd::start();
    let watch = Watch::open(&agent, None);
    let ready = watch.next();
    assert_eq!(ready.kind, "Ready", "{ready:?}");

    let s = sshd.open_session(&user(Role::Plain), "sleep 600", true);
    let id = s.session_id();
    let (new, _) = watch.until(id, "SessionNew");
    assert_eq!(new.locked, Some(false));
    post(
        &agent,
        &format!("{{\"verb\":\"lock\",\"sessionIds\":[{id}],\"message\":\"Eyes to the front\"}}"),
    );
    let (locked, between) = watch.until(id, "Locked");
    assert_eq!(locked.locked, Some(true));
    // Nothing else about the session on the way, but its client becoming known once its
    // shell started (a StateChanged that carries it).
    let (last, before) = between.split_last().unwrap();
    assert_eq!(last.kind, "Locked");
    assert!(
        before.len() <= 1
            && before
                .iter()
                .all(|e| e.kind == "StateChanged" && e.client.is_some()),
        "{between:?}"
    );
    post(
        &agent,
        &format!("{{\"verb\":\"unlock\",\"sessionIds\":[{id}]}}"),
    );
    let (unlocked, _) = watch.until(id, "Unlocked");
    post(
        &agent,
        &format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}"),
    );
    let (removed, _) = watch.until(id, "SessionRemoved");
    // In order, each with a greater ID.
    assert!(
        new.id < locked.id && locked.id < unlocked.id && unlocked.id < removed.id,
        "{new:?} {locked:?} {unlocked:?} {removed:?}"
    );
    drop(watch);

    // While the agent is down, a session opens; after the restart a client resuming from
    // the last event it saw is told of it with the next ID, and of nothing twice.
    let last = {
        let w = Watch::open(&agent, Some(removed.id));
        // Whatever happened on the host after the close (other tests), then Ready.
        let mut last = removed.id;
        loop {
            let e = w.next();
            if e.kind == "Ready" {
                break last.max(e.id);
            }
            last = e.id;
        }
    };
    agent.stop();
    let during = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    agent.start_again();
    let resumed = Watch::open(&agent, Some(last));
    let mut seen = Vec::new();
    let (new_during, _) = loop {
        let e = resumed.next();
        if e.kind == "Ready" {
            continue;
        }
        seen.push(e.clone());
        if e.session == Some(u64::from(during.session_id())) && e.kind == "SessionNew" {
            break (e, ());
        }
    };
    let ids: Vec<u64> = seen.iter().map(|e| e.id).collect();
    assert_eq!(
        ids[0],
        last + 1,
        "the first event after the restart: {seen:?}"
    );
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
    assert!(new_during.id > last);
    assert!(seen.iter().all(|e| e.kind != "Resync"), "{seen:?}");
}

/// The sessions of `uid` as `/proc` shows them now: session ID → live process count.
fn scan_of(uid: u32) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).ok();
        let (Some(ses), Some(luid), Some(stat)) =
            (read("sessionid"), read("loginuid"), read("stat"))
        else {
            continue;
        };
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        if luid.trim() != uid.to_string() || matches!(state, Some(Some('Z' | 'X'))) {
            continue;
        }
        if let Ok(ses) = ses.trim().parse::<u64>() {
            if ses != u64::from(u32::MAX) {
                *out.entry(ses).or_default() += 1;
            }
        }
    }
    out
}

/// The agent's view of the sessions of `user`: session ID → ProcessCount.
fn table_of(agent: &Agent, user: &str) -> BTreeMap<u64, u64> {
    let (_, body) = agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let sessions: Vec<Value> = serde_json::from_str(&body).unwrap();
    sessions
        .iter()
        .filter(|s| s["UserName"] == user)
        .map(|s| {
            (
                s["SessionId"].as_u64().unwrap(),
                s["ProcessCount"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The agent's table scans so far (1, plus one per loss of events), from its metrics.
fn scans(agent: &Agent) -> u64 {
    let (_, body) = agent.http("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    body.lines()
        .find_map(|l| l.strip_prefix("wms_table_scans_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no wms_table_scans_total in:\n{body}"))
}

/// What a churn leaves open: generated sessions and real ssh logins.
type Held = (Vec<wms_testkit::gen::Generated>, Vec<SshSession>);

/// Churn for `churner`: generated sessions opened and closed, real ssh logins, and
/// bursts of short-lived processes inside sessions, all at once; some sessions of each
/// kind are opened while it goes on and left open.
fn churn(sshd: &Sshd, churner: &TestUser) -> Held {
    let held: Vec<_> = (0..2)
        .map(|_| generate(&GenOptions::new(5, 3).user(churner.clone())).unwrap())
        .collect();
    let logins: Vec<SshSession> = (0..3)
        .map(|i| sshd.open_session(churner, "sleep 600", i % 2 == 0))
        .collect();
    std::thread::scope(|s| {
        // Sessions opened and closed.
        s.spawn(|| {
            for _ in 0..20 {
                let g = generate(&GenOptions::new(10, 4).user(churner.clone())).unwrap();
                drop(g);
            }
        });
        // Real logins, each with a burst of short-lived processes.
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..4 {
                    let out = sshd.run(
                        churner,
                        "for i in $(seq 300); do /bin/true & done; wait; sh -c 'sleep 0.2 & wait'",
                        b"",
                    );
                    assert!(out.status.success(), "{}", out.stderr);
                }
            });
        }
    });
    (held, logins)
}

/// Waits until the agent's view of `user`'s sessions equals `/proc`'s, which it must
/// reach once the host is quiet; panics showing both.
fn assert_converges(agent: &Agent, user: &TestUser, empty: bool) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (table, scan) = (table_of(agent, &user.name), scan_of(user.uid));
        if table == scan && scan.is_empty() == empty {
            return;
        }
        assert!(
            Instant::now() < end,
            "the table never matched /proc:\ntable {table:?}\n/proc {scan:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_live_table_equals_a_full_scan_after_churn() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let churner = wms_testkit::ensure_user("wmst-churn", &[]);
    let (generated, logins) = churn(&sshd, &churner);
    // The table followed the events (on a machine this busy with other tests it may also
    // have had to rescan once the kernel dropped some; the next test makes sure of that
    // path), and matches /proc.
    assert_converges(&agent, &churner, false);
    // Once every session is gone, none is left in the table either.
    drop(generated);
    for l in &logins {
        kill_session(l.session_id());
    }
    assert_converges(&agent, &churner, true);
}

#[test]
fn the_live_table_equals_a_full_scan_after_events_were_dropped() {
    // A receive buffer far too small for the bursts: the kernel drops events, and the
    // table must notice and rescan rather than keep a wrong view.
    let agent = Agent::start_with(fresh_dir("agent"), None, "event_buffer = 4096\n");
    let sshd = Sshd::start();
    let churner = wms_testkit::ensure_user("wmst-churn2", &[]);
    // On a machine slowed by other work the agent may keep up with one round of churn;
    // another round then comes faster than it can read.
    let mut rounds = vec![churn(&sshd, &churner)];
    while scans(&agent) == 1 && rounds.len() < 4 {
        rounds.push(churn(&sshd, &churner));
    }
    assert_converges(&agent, &churner, false);
    assert!(
        scans(&agent) > 1,
        "no events were lost in {} rounds of churn: the test proved nothing",
        rounds.len()
    );
    for (generated, logins) in rounds {
        drop(generated);
        for l in &logins {
            kill_session(l.session_id());
        }
    }
}

#[test]
fn promtool_accepts_the_metrics() {
    let agent = Agent::unix();
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    // Something in every family: an action, a refusal, a listing.
    post(
        &agent,
        &format!(
            "{{\"verb\":\"close\",\"sessionIds\":[{}],\"whatIf\":true}}",
            s.session_id()
        ),
    );
    let _ = agent.http(
        "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{x}",
    );
    let _ = agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, body) =
        agent.http("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        body.contains("wms_actions_total{verb=\"close\",outcome=\"WhatIf\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("wms_refusals_total{reason=\"bad_request\"} 1"),
        "{body}"
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{body}",
        stdout(&out),
        stderr(&out)
    );
}

/// `wms session watch -o json` as a running process, its lines read as they come.
struct WatchCommand {
    child: std::process::Child,
    lines: mpsc::Receiver<Value>,
}

impl WatchCommand {
    fn start(agent: &Agent) -> WatchCommand {
        let mut child = Command::new(wms_path())
            .args(["session", "watch", "-o", "json"])
            .env("WMS_CONFIG", &agent.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch printed a line that is not JSON ({e}): {line}")
                });
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        WatchCommand { child, lines }
    }

    /// Events until one about session `id` of type `kind`; all of them, in order.
    fn until(&self, id: u32, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let v = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {kind} of session {id} within 30 s: {seen:#?}"));
            let done = v["Session"]["SessionId"] == id && v["Type"] == kind;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for WatchCommand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn wms_session_watch_shows_events_in_order_and_resumes_after_a_restart() {
    let mut agent = Agent::unix();
    let sshd = Sshd::start();
    let watch = WatchCommand::start(&agent);
    // The watch is connected once it shows an event: a session opened after it started.
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", true);
    let id = s.session_id();
    let mut all = watch.until(id, "SessionNew");
    let lock = agent.wms_as(
        &sshd,
        &user(Role::Admin),
        &format!("session lock {id} -m 'Eyes to the front'"),
    );
    assert_eq!(lock.status.code(), Some(0), "{}", lock.stderr);
    all.extend(watch.until(id, "Locked"));
    assert_eq!(
        all.last().unwrap()["Session"]["LockMessage"],
        "Eyes to the front"
    );
    post(
        &agent,
        &format!("{{\"verb\":\"unlock\",\"sessionIds\":[{id}]}}"),
    );
    all.extend(watch.until(id, "Unlocked"));
    post(
        &agent,
        &format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}"),
    );
    all.extend(watch.until(id, "SessionRemoved"));
    // Its events, in order.
    let mine: Vec<&str> = all
        .iter()
        .filter(|v| v["Session"]["SessionId"] == id)
        .filter_map(|v| v["Type"].as_str())
        .collect();
    assert_eq!(mine.first(), Some(&"SessionNew"), "{mine:?}");
    let pos = |k: &str| mine.iter().position(|m| *m == k).unwrap();
    assert!(
        pos("SessionNew") < pos("Locked")
            && pos("Locked") < pos("Unlocked")
            && pos("Unlocked") < pos("SessionRemoved"),
        "{mine:?}"
    );

    // The agent restarts while a session opens; the same watch goes on by itself and
    // shows it, with no event lost or shown twice (the IDs run on one by one).
    agent.stop();
    let during = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    agent.start_again();
    all.extend(watch.until(during.session_id(), "SessionNew"));
    let ids: Vec<u64> = all.iter().map(|v| v["EventId"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "event IDs not one after another: {ids:?}"
    );
    assert!(all.iter().all(|v| v["ComputerName"].is_string()));
}

#[test]
fn a_listing_follows_the_user_database_while_the_processes_stay_the_same() {
    // The agent keeps each session built while its processes stay the same; a user made
    // an administrator meanwhile must be listed so at once all the same.
    let group = "wmst-live-admins";
    // Makes the group (as one of this other user's groups).
    wms_testkit::ensure_user("wmst-live-member", &[group]);
    let user = wms_testkit::ensure_user("wmst-live-promoted", &[]);
    let member = || {
        let out = Command::new("id")
            .args(["-nG", &user.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|g| g == group)
    };
    let set_member = |yes: bool| {
        // The user database is locked while others' tests add users: try again.
        for _ in 0..100 {
            if member() == yes {
                return;
            }
            let op = if yes { "-a" } else { "-d" };
            let _ = Command::new("gpasswd")
                .args([op, &user.name, group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("cannot make {} a member of {group}: {yes}", user.name);
    };
    set_member(false);
    let agent = Agent::start_with(
        fresh_dir("agent"),
        None,
        &format!("admin_groups = [\"{group}\"]\n"),
    );
    let generated = generate(&GenOptions::new(1, 2).user(user.clone())).unwrap();
    let id = u64::from(generated.sessions[0].id);
    let is_admin = || {
        let (_, body) =
            agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let sessions: Vec<Value> = serde_json::from_str(&body).unwrap();
        sessions
            .iter()
            .find(|s| s["SessionId"].as_u64() == Some(id))
            .and_then(|s| s["IsAdmin"].as_bool())
    };
    let until = |want: bool| {
        let end = Instant::now() + Duration::from_secs(10);
        while is_admin() != Some(want) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        is_admin()
    };
    assert_eq!(
        until(false),
        Some(false),
        "session {id} not listed as a plain user's"
    );
    set_member(true);
    let after = until(true);
    set_member(false);
    assert_eq!(
        after,
        Some(true),
        "session {id} still listed as not an administrator's"
    );
    drop(generated);
}
