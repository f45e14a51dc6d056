//! wmsd over TCP with TLS and bearer tokens, tested with the real binary, a real TLS
//! client (rustls, pinning the fingerprint `wmsd fingerprint` prints, or trusting the
//! certificate as a CA would) and real sshd sessions.
//!
//! These tests live with the agent rather than beside the Unix-socket ones in
//! crates/cli/tests because they need a TLS client, which is this crate's dependency.

mod common;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wms_testkit::{session_pids, user, wait_session_gone, Role, Sshd};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

fn machine_id() -> String {
    ["/etc/machine-id", "/proc/sys/kernel/random/boot_id"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap()
}

fn assert_untouched(id: u32, pids: &[u32]) {
    let now = session_pids(id);
    for p in pids {
        assert!(
            now.contains(p),
            "process {p} of session {id} is gone; left: {now:?}"
        );
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn tcp_callers_without_a_valid_token_are_refused_change_nothing_and_are_audited() {
    let agent = Agent::start();
    let sshd = Sshd::start();
    let admin = sshd.open_session(&user(Role::Admin), "sleep 600", false);
    let pids = session_pids(admin.session_id());
    assert!(!pids.is_empty());
    let close = format!(
        "{{\"verb\":\"close\",\"sessionIds\":[{}]}}",
        admin.session_id()
    );
    let soon_revoked = agent.token("soon-revoked", "admin");
    let operator = agent.token("helpdesk", "operator");

    // No token; a token this agent never issued; not a bearer header at all.
    let r = agent.act(&[], &close);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.body["error"].as_str().unwrap().starts_with("no token"),
        "{r:?}"
    );
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{r:?}"
    );
    let wrong = format!("wms_{}", "0123456789abcdef".repeat(4));
    let r = agent.act(&[("Authorization", &bearer(&wrong))], &close);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown token"),
        "{r:?}"
    );
    let r = agent.act(&[("Authorization", "Basic d21zOndtcw==")], &close);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("malformed Authorization header"),
        "{r:?}"
    );

    // A token that works, revoked while the agent runs: refused on the very next request.
    let r = agent.request(
        "GET",
        "/v1/sessions",
        &[("Authorization", &bearer(&soon_revoked))],
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let out = agent.wmsd(&["token", "revoke", "soon-revoked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = agent.act(&[("Authorization", &bearer(&soon_revoked))], &close);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.body["error"].as_str().unwrap().split(':').next().unwrap(),
        "revoked token \"soon-revoked\"",
        "{r:?}"
    );
    let r = agent.request(
        "GET",
        "/v1/sessions",
        &[("Authorization", &bearer(&soon_revoked))],
        "",
    );
    assert_eq!(r.status, 401, "{r:?}");

    // An operator's token on an administrator's session: the rules refuse it.
    let r = agent.act(&[("Authorization", &bearer(&operator))], &close);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["results"][0]["Outcome"], "AccessDenied", "{r:?}");
    assert_eq!(r.body["results"][0]["SessionId"], admin.session_id());

    // Listing needs a token over TCP too, and so does asking who one is; the API
    // description does not.
    let r = agent.request("GET", "/v1/sessions", &[], "");
    assert_eq!(r.status, 401, "{r:?}");
    let r = agent.request("GET", "/v1/caller", &[], "");
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.body["error"].as_str().unwrap().starts_with("no token"),
        "{r:?}"
    );
    let r = agent.request(
        "GET",
        "/v1/caller",
        &[("Authorization", &bearer(&soon_revoked))],
        "",
    );
    assert_eq!(r.status, 401, "{r:?}");
    let r = agent.request("GET", "/openapi.json", &[], "");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(r.body["paths"]["/v1/actions"]["post"]["responses"]["401"].is_object());

    // On the Unix socket the caller is known by its credentials and sends no token.
    let mut unix = UnixStream::connect(agent.dir.join("wmsd.sock")).unwrap();
    unix.write_all(b"GET /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    unix.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Nothing changed: every process of the administrator's session is still there.
    std::thread::sleep(Duration::from_millis(300));
    assert_untouched(admin.session_id(), &pids);

    // Each refusal left an audit record saying where from and why; none holds a token.
    let audit = agent.audit();
    let tcp: Vec<&Value> = audit.iter().filter(|r| r["via"] == "tcp").collect();
    assert_eq!(tcp.len(), 5, "{audit:#?}");
    for r in &tcp {
        assert!(
            r["peerAddr"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{r}"
        );
        assert!(r.get("uid").is_none() && r.get("peerPid").is_none(), "{r}");
    }
    let refused: Vec<&str> = tcp.iter().filter_map(|r| r["refused"].as_str()).collect();
    assert_eq!(refused.len(), 4, "{audit:#?}");
    assert!(refused[0].starts_with("no token"), "{refused:?}");
    assert!(refused[1].starts_with("unknown token"), "{refused:?}");
    assert!(
        refused[2].starts_with("malformed Authorization header"),
        "{refused:?}"
    );
    assert!(
        refused[3].starts_with("revoked token \"soon-revoked\""),
        "{refused:?}"
    );
    assert_eq!(tcp[3]["tokenName"], "soon-revoked");
    let op = tcp[4];
    assert_eq!(op["tokenName"], "helpdesk");
    assert_eq!(op["role"], "Operator");
    assert_eq!(op["verb"], "Close-WmsSession");
    assert_eq!(op["results"][0]["Outcome"], "AccessDenied");
    let everything = format!(
        "{}{}",
        std::fs::read_to_string(agent.dir.join("state/audit.log")).unwrap(),
        agent.log()
    );
    for t in [&soon_revoked, &operator, &wrong] {
        assert!(!everything.contains(&t[4..]), "a token was written down");
    }
}

#[test]
fn a_token_caller_is_told_its_role_and_its_own_session_only_when_on_this_host() {
    let agent = Agent::start();
    let operator = agent.token("desk", "operator");
    let auth = bearer(&operator);
    let here = machine_id();
    let ask = |headers: &[(&str, &str)]| {
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        agent.request("GET", "/v1/caller", &all, "")
    };
    // The token's role, and no user: a token is nobody's on this host.
    let r = ask(&[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, serde_json::json!({"role": "operator"}));
    // The session named counts when the machine named is this one, as for an action.
    let r = ask(&[("X-Wms-Machine-Id", &here), ("X-Wms-Session-Id", "42")]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        serde_json::json!({"role": "operator", "ownSession": 42})
    );
    let elsewhere = "ffffffffffffffffffffffffffffffff";
    let r = ask(&[("X-Wms-Machine-Id", elsewhere), ("X-Wms-Session-Id", "42")]);
    assert_eq!(r.body, serde_json::json!({"role": "operator"}), "{r:?}");
    let r = ask(&[("X-Wms-Machine-Id", &here), ("X-Wms-Session-Id", "banana")]);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("X-Wms-Session-Id"),
        "{r:?}"
    );
    // Reading who one is changes nothing and records nothing.
    assert!(agent.audit().is_empty(), "{:?}", agent.audit());
}

#[test]
fn an_admin_token_closes_a_real_ssh_session_over_tls_but_not_the_callers_own() {
    let agent = Agent::start();
    let sshd = Sshd::start();
    let mut target = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = target.session_id();
    let pids = session_pids(id);
    let token = agent.token("fleet-admin", "admin");
    let auth = bearer(&token);
    let close = format!("{{\"verb\":\"close\",\"sessionIds\":[{id}]}}");

    // A caller on this very host that runs in the target session: its own, so refused.
    let here = machine_id();
    let own = id.to_string();
    let r = agent.act(
        &[
            ("Authorization", &auth),
            ("X-Wms-Machine-Id", &here),
            ("X-Wms-Session-Id", &own),
        ],
        &close,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["results"][0]["Outcome"], "OwnSession", "{r:?}");
    assert_untouched(id, &pids);

    // The same session ID on another machine is not this session: it is closed.
    let r = agent.act(
        &[
            ("Authorization", &auth),
            ("X-Wms-Machine-Id", "0123456789abcdef0123456789abcdef"),
            ("X-Wms-Session-Id", &own),
        ],
        &close,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["results"][0]["Outcome"], "Done", "{r:?}");
    assert_eq!(r.body["results"][0]["UserName"], "wmst-plain");
    assert!(
        wait_session_gone(id, Duration::from_secs(30)),
        "session {id} still has processes: {:?}",
        session_pids(id)
    );
    assert!(target.wait_exit(Duration::from_secs(20)).is_some());

    // The refusal of its own session changed nothing: one record. The close left its
    // intent (written before acting) and its outcome.
    let audit = agent.audit();
    assert_eq!(audit.len(), 3, "{audit:#?}");
    for rec in &audit {
        assert_eq!(rec["via"], "tcp");
        assert_eq!(rec["tokenName"], "fleet-admin");
        assert_eq!(rec["role"], "Administrator");
        assert_eq!(rec["verb"], "Close-WmsSession");
        assert!(rec["peerAddr"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    assert_eq!(audit[0]["results"][0]["Outcome"], "OwnSession");
    assert_eq!(audit[1]["phase"], "intent");
    assert_eq!(audit[1]["targets"][0]["sessionId"], id);
    assert_eq!(audit[2]["phase"], "outcome");
    assert_eq!(audit[2]["id"], audit[1]["id"]);
    assert_eq!(audit[2]["results"][0]["Outcome"], "Done");
    assert_eq!(audit[2]["results"][0]["SessionId"], id);
}

#[test]
fn the_agent_makes_its_certificate_once_and_serves_it_for_its_names() {
    let dir = fresh_dir("cert");
    let config = config_in(&dir, 1, "");
    let tls = dir.join("state/tls");
    // `wmsd fingerprint` makes the pair when there is none yet.
    let out = wmsd(&config, &["fingerprint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let fp = printed.trim();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert_eq!(fp.len(), "SHA256:".len() + 32 * 3 - 1, "{fp}");
    assert!(fp.starts_with("SHA256:"), "{fp}");
    assert!(fp[7..].split(':').all(|p| p.len() == 2
        && p.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())));
    assert_eq!(mode(&tls.join("key.pem")), 0o600);
    let cert = CertificateDer::from_pem_file(tls.join("cert.pem")).unwrap();
    assert_eq!(fingerprint_of(&cert), fp);
    // Asking again, and starting the agent, keep the pair.
    let out = wmsd(&config, &["fingerprint"]);
    assert_eq!(text(&out.stdout).trim(), fp);
    let pem = std::fs::read(tls.join("cert.pem")).unwrap();
    let agent = Agent::start_in(dir, "");
    assert_eq!(agent.fingerprint(), fp);
    assert_eq!(std::fs::read(tls.join("cert.pem")).unwrap(), pem);

    // The pinned client gets in; a client pinning another fingerprint does not.
    let r = agent.request("GET", "/openapi.json", &[], "");
    assert_eq!(r.status, 200, "{r:?}");
    let other = format!("SHA256:{}", ["AB"; 32].join(":"));
    let e = https(
        agent.addr(),
        pinned_client(&other),
        "localhost",
        "GET",
        "/openapi.json",
        &[],
        "",
    )
    .unwrap_err();
    assert!(e.contains("is not the pinned"), "{e}");

    // Trusted as a CA would be, the certificate is valid for this host's names,
    // localhost and the loopback addresses.
    let names = wms_host::identity::HostNames::discover();
    let client = ca_client(&agent.dir.join("state/tls/cert.pem"));
    for name in [
        names.short.as_str(),
        names.fqdn.as_str(),
        "localhost",
        "127.0.0.1",
        "::1",
    ] {
        let r = https(
            agent.addr(),
            client.clone(),
            name,
            "GET",
            "/openapi.json",
            &[],
            "",
        )
        .unwrap_or_else(|e| panic!("as {name}: {e}"));
        assert_eq!(r.status, 200, "as {name}: {r:?}");
    }
    let e = https(
        agent.addr(),
        client,
        "elsewhere.invalid",
        "GET",
        "/openapi.json",
        &[],
        "",
    )
    .unwrap_err();
    assert!(e.contains("certificate"), "{e}");
}

#[test]
fn a_configured_ca_signed_pair_is_served_instead_of_the_self_signed_one() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let certs = fresh_dir("ca");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wms test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    std::fs::write(certs.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(certs.join("cert.pem"), leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(certs.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    std::fs::set_permissions(certs.join("key.pem"), PermissionsExt::from_mode(0o600)).unwrap();

    let agent = Agent::start_with(&format!(
        "tls_cert = \"{c}/cert.pem\"\ntls_key = \"{c}/key.pem\"\n",
        c = certs.display()
    ));
    assert_eq!(agent.fingerprint(), fingerprint_of(leaf.der()));
    assert!(
        !agent.dir.join("state/tls").exists(),
        "a self-signed pair was made"
    );
    let token = agent.token("ops", "operator");
    let client = ca_client(&certs.join("ca.pem"));
    let r = https(
        agent.addr(),
        client,
        "localhost",
        "GET",
        "/v1/sessions",
        &[("Authorization", &bearer(&token))],
        "",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.is_array(), "{r:?}");
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn token_create_list_and_revoke() {
    let dir = fresh_dir("tokens");
    let config = config_in(&dir, 1, "");
    let hex64 =
        |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));

    let out = wmsd(
        &config,
        &["token", "create", "--name", "ci", "--role", "admin"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let ci = printed.trim().to_string();
    assert!(ci.strip_prefix("wms_").is_some_and(hex64), "{ci}");
    assert!(
        text(&out.stderr).contains("shown only this once"),
        "{}",
        text(&out.stderr)
    );
    let out = wmsd(
        &config,
        &[
            "token", "create", "--name", "helpdesk", "--role", "operator",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let helpdesk = text(&out.stdout).trim().to_string();
    assert_ne!(ci, helpdesk);

    // Only hashes are stored, in a file only root may read.
    let store = dir.join("state/tokens.json");
    assert_eq!(mode(&store), 0o600);
    let stored = std::fs::read_to_string(&store).unwrap();
    for t in [&ci, &helpdesk] {
        assert!(!stored.contains(&t[4..]), "{stored}");
        let digest = ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert!(stored.contains(&hex), "{stored}");
    }

    // Names are unique; the role is admin or operator; names are plain.
    let out = wmsd(
        &config,
        &["token", "create", "--name", "ci", "--role", "operator"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("a token named \"ci\" already exists"),
        "{}",
        text(&out.stderr)
    );
    let out = wmsd(
        &config,
        &["token", "create", "--name", "x", "--role", "root"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = wmsd(
        &config,
        &["token", "create", "--name", "a b", "--role", "admin"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("a token name is"),
        "{}",
        text(&out.stderr)
    );

    let out = wmsd(&config, &["token", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert_eq!(rows[0], ["NAME", "ROLE", "CREATED", "REVOKED"], "{list}");
    assert_eq!(
        (rows[1][0], rows[1][1], rows[1][3]),
        ("ci", "admin", "no"),
        "{list}"
    );
    assert_eq!(
        (rows[2][0], rows[2][1], rows[2][3]),
        ("helpdesk", "operator", "no"),
        "{list}"
    );
    assert!(
        rows[1][2].len() == 20 && rows[1][2].ends_with('Z'),
        "{list}"
    );
    assert!(!list.contains(&ci[4..]) && !list.contains(&helpdesk[4..]));

    let out = wmsd(&config, &["token", "revoke", "ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Revoked the token \"ci\".\n");
    let out = wmsd(&config, &["token", "revoke", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no token is named \"ghost\""),
        "{}",
        text(&out.stderr)
    );
    let list = text(&wmsd(&config, &["token", "list"]).stdout);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows[1][0] == "ci" && rows[1][3].ends_with('Z'), "{list}");
    assert_eq!(rows[2][3], "no", "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `wmsd` (serve) with `config` and expects it to fail at once with exit 1 and a
/// message containing `needle`; returns the message.
fn fails_to_start(config: &Path, needle: &str) -> String {
    let mut child = Command::new(WMSD)
        .env("WMS_CONFIG", config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            panic!("wmsd started, but should have failed with {needle:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    err
}

#[test]
fn wmsd_start_up_errors_over_tcp_name_the_cause() {
    let dir = fresh_dir("errors");
    let raw = |body: &str| {
        wms_testkit::config_file(&format!(
            "socket = \"{d}/wmsd.sock\"\nstate_dir = \"{d}/state\"\n{body}",
            d = dir.display()
        ))
    };

    // The port is taken; nothing is left bound or behind.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    fails_to_start(
        &config_in(&dir, port, ""),
        &format!("wmsd: cannot listen on 127.0.0.1:{port}: Address in use"),
    );
    assert!(!dir.join("wmsd.sock").exists());
    drop(taken);

    // A configured key that cannot be read, or is not a key, or is not the certificate's.
    let other = fresh_dir("errors-other");
    for d in [&dir, &other] {
        let out = wmsd(&config_in(d, 1, ""), &["fingerprint"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let cert = dir.join("state/tls/cert.pem");
    let pair = |cert: &Path, key: &Path| {
        raw(&format!(
            "listen = [\"127.0.0.1:{}\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            free_port(),
            cert.display(),
            key.display()
        ))
    };
    let missing = dir.join("missing-key.pem");
    fails_to_start(
        &pair(&cert, &missing),
        &format!(
            "wmsd: cannot read the TLS key {}: No such file or directory",
            missing.display()
        ),
    );
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").unwrap();
    fails_to_start(
        &pair(&cert, &garbage),
        &format!(
            "wmsd: cannot read the TLS key {}: no PEM private key in it",
            garbage.display()
        ),
    );
    fails_to_start(
        &pair(&garbage, &dir.join("state/tls/key.pem")),
        &format!(
            "wmsd: cannot read the TLS certificate {}: no PEM certificate in it",
            garbage.display()
        ),
    );
    fails_to_start(
        &pair(&cert, &other.join("state/tls/key.pem")),
        "does not fit the certificate",
    );

    // Half a pair, and an address that is not one.
    fails_to_start(
        &raw(&format!("tls_cert = \"{}\"\n", cert.display())),
        "tls_cert and tls_key go together",
    );
    fails_to_start(
        &raw("listen = [\"localhost\"]\n"),
        "listen: \"localhost\" is not a socket address",
    );
    assert!(!dir.join("wmsd.sock").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}
