//! Denial of service by anyone who can connect (issue 8, defect 3), pinned against the real
//! wmsd with real sockets and real TLS. Each test is named after what was wrong: on the
//! code before the fix, every one of them fails. Bounds on waits here are liveness checks
//! (generous, so a loaded machine passes), never timing assertions.

mod common;

use common::*;
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen at once or after a deadline
/// of a second or two.
const PATIENCE: Duration = Duration::from_secs(20);

/// Whether the peer closed `conn` within `PATIENCE`: reads until end of file or an error
/// other than a read timeout.
fn closed_by_peer(conn: &mut impl Read) -> Result<(), String> {
    let end = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match conn.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Ok(()),
        }
    }
    Err(format!(
        "still open after {PATIENCE:?}; it sent {:?}",
        text(&got)
    ))
}

/// The head of the first answer on `conn` (up to the blank line), within `PATIENCE`.
fn answer_head(conn: &mut impl Read) -> Result<String, String> {
    let end = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Some(i) = text(&got).find("\r\n\r\n") {
            return Ok(text(&got)[..i].to_string());
        }
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("{e} after {:?}", text(&got))),
        }
    }
    Err(format!("no answer; got {:?}", text(&got)))
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn unix_conn(agent: &Agent) -> UnixStream {
    let s = UnixStream::connect(agent.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s
}

/// Lets this test process open as many descriptors as its hard limit allows.
fn raise_own_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: now.maximum,
            maximum: now.maximum,
        },
    );
}

const LIST: &str = "GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn idle_tls_connections_do_not_starve_the_unix_socket() {
    raise_own_nofile();
    // The agent cannot raise its limit of 1024, and no deadline will help it here: only
    // the caps can keep descriptors for the local socket. The per-address cap is out of
    // the way too, so the total cap is what is tested.
    let agent = Agent::start_with_nofile(
        "max_connections_per_ip = 100000\nhandshake_timeout = 3600\nheader_timeout = 3600\nidle_timeout = 3600\n",
        1024,
    );
    let config = agent.pinned();
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..1100 {
        // An agent out of descriptors leaves new connections in its backlog: their
        // handshake never starts, and there is no point in piling up more.
        match tls_open_within(agent.addr(), config.clone(), Duration::from_secs(5)) {
            Ok(c) => open.push(c),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => refused += 1,
        }
    }
    // Every `wms` on the host still gets its answer.
    let answer = agent.unix_http(LIST, PATIENCE).unwrap_or_else(|e| {
        panic!(
            "the Unix socket does not answer ({} TLS connections open): {e}\n{}",
            open.len(),
            agent.log()
        )
    });
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(refused > 0, "all 1100 TLS connections were taken");
    assert!(
        agent.log().contains("over the cap"),
        "no warning about the cap: {}",
        agent.log()
    );
    // Those over the cap were closed at once, not left in the backlog: once some close,
    // others get in.
    open.truncate(open.len() / 2);
    let token = agent.token("after", "operator");
    let r = agent.request(
        "GET",
        "/v1/sessions",
        &[("Authorization", &bearer(&token))],
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_their_deadline() {
    let agent = Agent::start_with(
        "handshake_timeout = 1\nheader_timeout = 1\nidle_timeout = 1\nbody_timeout = 1\n",
    );
    let token = agent.token("ops", "admin");
    let auth = bearer(&token);

    // A TCP client that never starts its handshake.
    let mut tcp = TcpStream::connect(agent.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    // A TLS client that finished its handshake and says nothing.
    let mut silent = tls_open(agent.addr(), agent.pinned()).unwrap();
    silent
        .sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    // Half a request head.
    let mut half_head = tls_open(agent.addr(), agent.pinned()).unwrap();
    half_head
        .sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    half_head
        .write_all(b"GET /v1/sessions HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A whole head, and ten bytes of a body of a hundred.
    let mut half_body = tls_open(agent.addr(), agent.pinned()).unwrap();
    half_body
        .sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    half_body
        .write_all(
            format!(
                "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"verb\":\"c"
            )
            .as_bytes(),
        )
        .unwrap();
    // A kept-alive connection after its answer.
    let mut kept = tls_open(agent.addr(), agent.pinned()).unwrap();
    kept.sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    kept.write_all(
        format!("GET /openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let head = answer_head(&mut kept).unwrap();
    assert_eq!(status_of(&head), 200, "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // The same on the Unix socket: silent, half a head, half a body.
    let mut unix_silent = unix_conn(&agent);
    let mut unix_half_head = unix_conn(&agent);
    unix_half_head.write_all(b"GET /v1/sess").unwrap();
    let mut unix_half_body = unix_conn(&agent);
    unix_half_body
        .write_all(b"POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();

    closed_by_peer(&mut tcp).expect("a client that never shakes hands");
    closed_by_peer(&mut silent).expect("a silent TLS client");
    closed_by_peer(&mut half_head).expect("half a head over TLS");
    let head = answer_head(&mut half_body).expect("half a body over TLS");
    assert_eq!(status_of(&head), 408, "{head}");
    closed_by_peer(&mut half_body).expect("half a body over TLS, after its answer");
    closed_by_peer(&mut kept).expect("an idle kept-alive connection");
    closed_by_peer(&mut unix_silent).expect("a silent local client");
    closed_by_peer(&mut unix_half_head).expect("half a head on the socket");
    let head = answer_head(&mut unix_half_body).expect("half a body on the socket");
    assert_eq!(status_of(&head), 408, "{head}");

    // And the agent still serves.
    let answer = agent.unix_http(LIST, PATIENCE).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn the_token_is_checked_before_the_body_is_read() {
    let agent = Agent::start();
    let wrong = format!("wms_{}", "0123456789abcdef".repeat(4));
    for (length, auth) in [
        (100_000_000u64, None),
        (60_000, Some(bearer(&wrong))),
        (1_000, Some("Basic d21zOndtcw==".to_string())),
    ] {
        // Only the head is sent: the answer must come without the body.
        let mut conn = tls_open(agent.addr(), agent.pinned()).unwrap();
        let mut head = format!(
            "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
        );
        if let Some(a) = &auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        let answer = answer_head(&mut conn)
            .unwrap_or_else(|e| panic!("Content-Length {length}, {auth:?}: {e}"));
        assert_eq!(status_of(&answer), 401, "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{answer}"
        );
    }
    let refused: Vec<Value> = agent
        .audit()
        .into_iter()
        .filter(|r| r["refused"].is_string())
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
}

#[test]
fn oversized_bodies_and_id_lists_are_refused_and_the_audit_record_stays_small() {
    let agent = Agent::start();
    let token = agent.token("ops", "admin");
    let auth = bearer(&token);

    // A declared body over the limit: refused at once, naming the limit.
    let mut conn = tls_open(agent.addr(), agent.pinned()).unwrap();
    conn.write_all(
        format!("POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 100000\r\n\r\n").as_bytes(),
    )
    .unwrap();
    conn.sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = text(&answer);
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert!(answer.contains("65536 bytes"), "{answer}");

    // More session IDs than the agent takes, many times over: refused naming the limit.
    let ids: Vec<String> = (1_000_000..1_005_000).map(|i| i.to_string()).collect();
    let many = format!(
        "{{\"verb\":\"close\",\"whatIf\":true,\"sessionIds\":[{}]}}",
        ids.join(",")
    );
    for _ in 0..10 {
        let r = agent.act(&[("Authorization", &auth)], &many);
        assert_eq!(r.status, 400, "{:?}", r.head);
        let e = r.body["error"].as_str().unwrap();
        assert!(e.contains("5000") && e.contains("4096"), "{e}");
    }
    // A request whose error would quote what the peer sent, at length.
    let field = "x".repeat(50_000);
    let r = agent.act(
        &[("Authorization", &auth)],
        &format!("{{\"verb\":\"close\",\"{field}\":1}}"),
    );
    assert_eq!(r.status, 400, "{:?}", r.head);

    // The log holds short lines only, and few of them.
    let log = std::fs::read_to_string(agent.dir.join("state/audit.log")).unwrap();
    for line in log.lines() {
        assert!(line.len() < 1024, "an audit line of {} bytes", line.len());
    }
    assert!(log.len() < 8192, "{} bytes of audit log: {log}", log.len());
}

#[test]
fn failed_authentication_is_rate_limited_and_its_refusals_coalesced() {
    let mut agent = Agent::start();
    let good = agent.token("ops", "admin");
    let wrong = bearer(&format!("wms_{}", "0123456789abcdef".repeat(4)));
    let close = "{\"verb\":\"close\",\"whatIf\":true,\"sessionIds\":[999999]}";
    let tries = 40;
    let mut unauthorized = 0;
    let mut too_many = Vec::new();
    for _ in 0..tries {
        let r = agent.act(&[("Authorization", &wrong)], close);
        match r.status {
            401 => unauthorized += 1,
            429 => too_many.push(r),
            other => panic!("{other}: {r:?}"),
        }
    }
    // The default allowance is ten failures at once; a few more may have grown back
    // on a slow machine.
    assert!(
        (10..20).contains(&unauthorized),
        "{unauthorized} refused with 401"
    );
    let r = &too_many[0];
    let retry: u64 = r
        .head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after: ")
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no Retry-After: {r:?}"))
        .trim()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{r:?}");
    // Meanwhile the address cannot even try a good token.
    let r = agent.act(&[("Authorization", &bearer(&good))], close);
    assert_eq!(r.status, 429, "{r:?}");

    // Stopping writes the counts still pending; every refusal is accounted for in a few
    // lines: a refusal's first record, and then one with the count of its repeats.
    assert!(
        agent.stop(PATIENCE).is_some_and(|s| s.success()),
        "{}",
        agent.log()
    );
    let audit = agent.audit();
    assert!(audit.len() <= 4, "{audit:#?}");
    let accounted: u64 = audit
        .iter()
        .map(|r| r["repeated"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(accounted, tries + 1, "{audit:#?}");
    assert!(
        audit.iter().any(|r| r["repeated"].as_u64().unwrap_or(0) > 0
            && r["firstRepeat"].is_string()
            && r["lastRepeat"].is_string()),
        "{audit:#?}"
    );
}

#[test]
fn the_audit_log_rotates_at_its_size_limit() {
    let agent = Agent::start_with("audit_max_bytes = 4096\naudit_keep = 2\n");
    let log = agent.dir.join("state/audit.log");
    let mut sent = Vec::new();
    // Root on the socket: each what-if close of a missing session leaves one record.
    for i in 0..60u32 {
        let id = 1_000_000 + i;
        let body = format!("{{\"verb\":\"close\",\"whatIf\":true,\"sessionIds\":[{id}]}}");
        let answer = agent
            .unix_http(
                &format!(
                    "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                PATIENCE,
            )
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        sent.push(u64::from(id));
    }
    let files = ["audit.log.2", "audit.log.1", "audit.log"];
    let mut kept = Vec::new();
    for f in files {
        let path = agent.dir.join("state").join(f);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() <= 4096, "{f} has {} bytes", meta.len());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
        for r in agent.audit_file(f) {
            kept.push(r["sessionIds"][0].as_u64().unwrap());
        }
    }
    assert!(!agent.dir.join("state/audit.log.3").exists());
    // The newest records, in order, none missing between them.
    assert!(kept.len() >= 10, "{kept:?}");
    assert_eq!(kept, sent[sent.len() - kept.len()..], "{kept:?}");
    assert!(log.exists());
}

#[test]
fn shutdown_finishes_within_its_deadline_despite_half_sent_requests() {
    let mut agent = Agent::start_with(
        "shutdown_timeout = 2\nheader_timeout = 3600\nidle_timeout = 3600\nbody_timeout = 3600\n",
    );
    let token = agent.token("ops", "admin");
    // Idle and half-sent, on both ways in.
    let _unix_silent = unix_conn(&agent);
    let mut unix_half_head = unix_conn(&agent);
    unix_half_head.write_all(b"GET /v1/sess").unwrap();
    let mut unix_half_body = unix_conn(&agent);
    unix_half_body
        .write_all(b"POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    let _tls_silent = tls_open(agent.addr(), agent.pinned()).unwrap();
    let mut tls_half_body = tls_open(agent.addr(), agent.pinned()).unwrap();
    tls_half_body
        .write_all(
            format!(
                "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n{{",
                bearer(&token)
            )
            .as_bytes(),
        )
        .unwrap();
    // The requests have arrived (an answer on the socket comes after them).
    let answer = agent.unix_http(LIST, PATIENCE).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let status = agent.stop(PATIENCE);
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        agent.log()
    );
    assert!(!agent.socket().exists(), "the socket file was left behind");
}
