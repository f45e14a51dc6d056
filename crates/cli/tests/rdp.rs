//! RDP desktops through a real xrdp (with xorgxrdp) and the real client xfreerdp: listed as
//! x11 sessions, RemoteConnection with the client's address while it is connected;
//! Disconnect ends the client's connection and keeps the desktop, which xrdp gives back at
//! the next login; Close ends every process of the desktop, its X server included.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use wms_testkit::{ensure_user, served, set_rdp_password, RdpDesktop, XrdpServer};

/// The user these tests log in over RDP (only they use it, one server at a time).
fn rdp_user() -> TestUser {
    let u = ensure_user("wmst-rdp", &[]);
    set_rdp_password(&u);
    u
}

/// The X windows named `name` on `desk`'s display, asked of its X server as the user.
fn windows(user: &TestUser, desk: &RdpDesktop, name: &str) -> Vec<String> {
    let out = Command::new("runuser")
        .args(["-u", &user.name, "--", "env"])
        .arg(format!("DISPLAY={}", desk.display))
        .arg(format!("XAUTHORITY=/home/{}/.Xauthority", user.name))
        .args(["xdotool", "search", "--name", &format!("^{name}$")])
        .output()
        .expect("run xdotool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `f` holds (within 20 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn an_rdp_desktop_is_listed_disconnected_and_given_back() {
    let user = rdp_user();
    let other = ensure_user("wmst-rdp2", &[]);
    set_rdp_password(&other);
    let server = XrdpServer::start();
    let (mut client, desk) = server.connect(&user);
    let (mut bystander, other_desk) = server.connect(&other);
    let id = desk.session_id;

    let listed = session(id).expect("the desktop is listed");
    assert_eq!(listed["State"], "RemoteConnection", "{listed}");
    assert_eq!(listed["Type"], "x11", "{listed}");
    assert_eq!(listed["ClientName"], "127.0.0.1", "{listed}");
    assert_eq!(listed["Display"], desk.display.as_str(), "{listed}");
    assert_eq!(listed["Service"], "xrdp-sesman", "{listed}");
    assert_eq!(listed["UserName"], "wmst-rdp", "{listed}");

    let mut before = Vec::new();
    eventually("the desktop's window is up", || {
        before = windows(&user, &desk, "xlogo");
        !before.is_empty()
    });

    let out = wms(&["session", "disconnect", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        client.wait_exit(Duration::from_secs(20)).is_some(),
        "xfreerdp is still connected:\n{}",
        client.output()
    );
    let listed = session(id).expect("the desktop is still listed");
    assert_eq!(listed["State"], "Disconnected", "{listed}");
    assert!(listed.get("ClientName").is_none(), "{listed}");
    assert!(alive(desk.xorg_pid), "the X server ended");
    assert_eq!(
        windows(&user, &desk, "xlogo"),
        before,
        "the window opened before is gone"
    );
    // The other user's connection, served by another xrdp process, is untouched.
    assert!(bystander.try_exit().is_none(), "the other client was cut");
    let theirs = session(other_desk.session_id).expect("the other desktop is listed");
    assert_eq!(theirs["State"], "RemoteConnection", "{theirs}");

    // A process of the user's own, named xrdp, connected to the desktop's xrdp_display
    // socket is no RDP connection: the desktop stays Disconnected, and Disconnect leaves
    // that process alone.
    let impostor = impostor(&user, &desk);
    eventually("the impostor is connected", || served(desk.xorg_pid));
    let listed = session(id).expect("the desktop is still listed");
    assert_eq!(listed["State"], "Disconnected", "{listed}");
    let out = wms(&["session", "disconnect", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(alive(impostor.id()), "a process of the user's was ended");
    drop(impostor);

    // The same user logs in again: xrdp gives back the same desktop.
    let (_client, again) = server.connect(&user);
    assert_eq!(again, desk, "another desktop was given");
    let listed = session(id).expect("the desktop is listed");
    assert_eq!(listed["State"], "RemoteConnection", "{listed}");
    assert_eq!(listed["ClientName"], "127.0.0.1", "{listed}");
    assert_eq!(windows(&user, &desk, "xlogo"), before);
}

/// A process of `user`'s that names itself `xrdp` and connects to `desk`'s xrdp_display
/// socket; killed (by PID) when dropped.
fn impostor(user: &TestUser, desk: &RdpDesktop) -> Impostor {
    let socket = format!(
        "/run/xrdp/sockdir/xrdp_display_{}",
        desk.display.trim_start_matches(':')
    );
    let script = format!(
        "import ctypes, socket, time\n\
         ctypes.CDLL(None).prctl(15, b'xrdp', 0, 0, 0)\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.connect({socket:?})\n\
         time.sleep(600)\n"
    );
    let child = Command::new("runuser")
        .args(["-u", &user.name, "--", "/usr/bin/python3", "-c", &script])
        .spawn()
        .expect("start the impostor");
    Impostor(child)
}

struct Impostor(std::process::Child);

impl Impostor {
    /// The PID of the process that connects (runuser's child).
    fn id(&self) -> u32 {
        let parent = self.0.id();
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
                .unwrap_or_default();
            if let Some(pid) = kids.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return pid;
            }
            assert!(Instant::now() < end, "the impostor did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        let pid = self.id();
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn closing_an_rdp_desktop_leaves_no_process() {
    let user = rdp_user();
    let server = XrdpServer::start();
    let (mut client, desk) = server.connect(&user);
    let id = desk.session_id;
    let pids = session_pids(id);
    assert!(pids.contains(&desk.xorg_pid), "Xorg is not in the session");

    let out = wms(&["session", "close", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(id);
    for p in pids {
        assert!(!alive(p), "process {p} of the desktop is left");
    }
    // With its X server gone, the connection ends too.
    assert!(
        client.wait_exit(Duration::from_secs(20)).is_some(),
        "xfreerdp is still connected"
    );
    assert!(session(id).is_none(), "the desktop is still listed");
}

/// Session `id` as the agent lists it.
fn agent_session(agent: &Agent, id: u32) -> Option<serde_json::Value> {
    let (_, body) = agent.http("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let all: Vec<serde_json::Value> = serde_json::from_str(&body).expect("a JSON listing");
    all.into_iter()
        .find(|s| s["SessionId"].as_u64() == Some(u64::from(id)))
}

/// `GET /v1/events` on the agent's socket: (event type, session id, State) of each event.
fn watch(agent: &Agent) -> std::sync::mpsc::Receiver<(String, u64, String)> {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(agent.socket()).unwrap();
    s.write_all(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kind = String::new();
        for line in std::io::BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            if let Some(v) = line.strip_prefix("event: ") {
                kind = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                let data: serde_json::Value = serde_json::from_str(v).unwrap_or_default();
                let id = data["Session"]["SessionId"].as_u64().unwrap_or(0);
                let state = data["Session"]["State"].as_str().unwrap_or("").to_string();
                if tx.send((kind.clone(), id, state)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Waits (20 s at most) for a StateChanged event of session `id` to `state`.
fn state_event(events: &std::sync::mpsc::Receiver<(String, u64, String)>, id: u32, state: &str) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let (kind, sid, st) = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no StateChanged to {state} of session {id}"));
        if kind == "StateChanged" && sid == u64::from(id) && st == state {
            return;
        }
    }
}

#[test]
fn the_agent_follows_the_rdp_client_and_audits_its_disconnect() {
    let user = rdp_user();
    let server = XrdpServer::start();
    let agent = Agent::unix();
    let events = watch(&agent);
    let (mut client, desk) = server.connect(&user);
    let id = desk.session_id;
    let state = || agent_session(&agent, id).map(|s| s["State"].clone());
    eventually("the agent lists the client", || {
        state().is_some_and(|s| s == "RemoteConnection")
    });

    let body = format!("{{\"verb\":\"disconnect\",\"sessionIds\":[{id}]}}");
    let (status, reply) = agent.http(&format!(
        "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    assert!(status.contains(" 200 "), "{status} {reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["results"][0]["Outcome"], "Done", "{reply}");
    assert!(client.wait_exit(Duration::from_secs(20)).is_some());
    // No process of the session changed: the agent sees the client gone all the same.
    eventually("the agent lists it Disconnected", || {
        state().is_some_and(|s| s == "Disconnected")
    });
    state_event(&events, id, "Disconnected");
    let audit = agent.audit();
    let rec = audit
        .iter()
        .find(|r| r["verb"] == "Disconnect-WmsSession" && r["phase"] == "outcome")
        .unwrap_or_else(|| panic!("no audit record: {audit:?}"));
    assert_eq!(rec["results"][0]["SessionId"], id);
    assert_eq!(rec["results"][0]["Outcome"], "Done");

    let (_client, again) = server.connect(&user);
    assert_eq!(again, desk);
    eventually("the agent lists the client again", || {
        state().is_some_and(|s| s == "RemoteConnection")
    });
    state_event(&events, id, "RemoteConnection");
}

#[test]
fn a_plain_user_is_not_told_a_guessed_state() {
    // The xrdp process serving a desktop is root's: a plain user's wms cannot read which
    // desktop it serves, and leaves the State out rather than guess.
    let user = rdp_user();
    let server = XrdpServer::start();
    let (mut client, desk) = server.connect(&user);
    let sshd = Sshd::start();
    let out = wms_as(
        &sshd,
        &user,
        &format!("session list {} -o json", desk.session_id),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let listed: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert!(listed.get("State").is_none(), "{listed}");
    assert_eq!(listed["Type"], "x11", "{listed}");
    // Nor can it tell which xrdp process to end: it is told to ask root or the agent.
    let out = wms_as(
        &sshd,
        &user,
        &format!("session disconnect {} -o json", desk.session_id),
        b"",
    );
    assert!(
        out.stdout.contains("run wms as root or through wmsd"),
        "{} {}",
        out.stdout,
        out.stderr
    );
    assert!(client.try_exit().is_none(), "the client was cut");
    assert!(served(desk.xorg_pid), "the desktop lost its connection");
    // Root sees it.
    let listed = session(desk.session_id).expect("listed");
    assert_eq!(listed["State"], "RemoteConnection", "{listed}");
}

#[test]
fn desktops_served_by_one_xrdp_process_are_not_disconnected() {
    // With fork=false one xrdp process serves every client and listens for more: ending
    // it would cut them all, so Disconnect is NotSupported and cuts nobody.
    let user = rdp_user();
    let other = ensure_user("wmst-rdp2", &[]);
    set_rdp_password(&other);
    let server = XrdpServer::start_with(false);
    let (mut client, desk) = server.connect(&user);
    let (mut bystander, other_desk) = server.connect(&other);
    let listed = session(desk.session_id).expect("listed");
    assert_eq!(listed["State"], "RemoteConnection", "{listed}");
    let theirs = session(other_desk.session_id).expect("listed");
    assert_eq!(theirs["State"], "RemoteConnection", "{theirs}");
    let out = wms(&[
        "session",
        "disconnect",
        &desk.session_id.to_string(),
        "-o",
        "json",
    ]);
    assert!(
        stdout(&out).contains("NotSupported"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("fork=true"), "{}", stdout(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert!(client.try_exit().is_none(), "the client was cut");
    assert!(bystander.try_exit().is_none(), "the other client was cut");
}
