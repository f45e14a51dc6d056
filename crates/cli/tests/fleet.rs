//! Remote servers and fleets: real wmsd agents on loopback ports (each with its own state
//! directory), added with `wms system add`, serving every verb over TLS to a remote wms.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A remote wms user: its own ~/.config/wms.
struct Client {
    home: PathBuf,
}

impl Client {
    fn new() -> Client {
        Client {
            home: fresh_dir("client"),
        }
    }

    fn wms(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(wms_path())
            .args(args)
            .env("WMS_CONFIG", fast_config())
            .env("XDG_CONFIG_HOME", &self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn add(&self, name: &str, agent: &Agent) {
        let token = agent.token(&format!("t-{name}"));
        let fp = agent.fingerprint();
        let out = self.wms(
            &[
                "system",
                "add",
                &agent.address(),
                "--name",
                name,
                "--token",
                &token,
                "--fingerprint",
                &fp,
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("{fp} pinned")),
            "{}",
            stdout(&out)
        );
    }

    fn json(&self, args: &[&str]) -> (Output, Vec<serde_json::Value>) {
        let out = self.wms(args, b"");
        let v = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, v)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

#[test]
fn two_agents_serve_every_verb_to_a_remote_wms() {
    let (a, b) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &b);
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let mut to_close = sshd.open_session(&u, "sleep 600", false);
    let mut to_disconnect =
        sshd.open_session(&u, "nohup sleep 600 >/dev/null 2>&1 & exec sleep 601", true);
    let to_lock = sshd.open_session(&u, "exec env PS1='wms$ ' bash --norc --noprofile -i", true);
    wait_screen(&to_lock, "a prompt", |t| t.contains("wms$ "));

    // List through each agent: the objects say which server they came through.
    let (out, listed) = client.json(&[
        "session",
        "list",
        &to_close.session_id().to_string(),
        "--server",
        "lab-a",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(listed[0]["Server"], "lab-a");
    assert_eq!(listed[0]["UserName"], "wmst-plain");

    let lock_id = to_lock.session_id().to_string();
    let out = client.wms(
        &[
            "session",
            "lock",
            &lock_id,
            "--server",
            "lab-b",
            "-m",
            "Remote lock",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&to_lock, "the lock notice", |t| t.contains("Remote lock"));
    // Lock state lives in the state directory of the agent that locked (one per host).
    let out = client.wms(&["Unlock-WmsSession", &lock_id, "-Server", "lab-b"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&to_lock, "the unlocked prompt", |t| {
        !t.contains("Remote lock") && t.contains("wms$ ")
    });

    let out = client.wms(
        &[
            "session",
            "disconnect",
            &to_disconnect.session_id().to_string(),
            "--server",
            "lab-a",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(to_disconnect.wait_exit(Duration::from_secs(20)).is_some());
    let (_, listed) = client.json(&[
        "session",
        "list",
        &to_disconnect.session_id().to_string(),
        "--server",
        "lab-b",
        "-o",
        "json",
    ]);
    assert_eq!(listed[0]["State"], "Disconnected");

    let out = client.wms(
        &[
            "Close-WmsSession",
            "-SessionId",
            &format!("{},{}", to_close.session_id(), to_disconnect.session_id()),
            "-Server",
            "lab-b",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(to_close.session_id());
    assert_gone(to_disconnect.session_id());
    assert!(to_close.wait_exit(Duration::from_secs(20)).is_some());
    // Each agent audited what it did, with the token's name.
    let verbs = |ag: &Agent| -> Vec<String> {
        ag.audit()
            .iter()
            .map(|r| r["verb"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(
        verbs(&b).contains(&"Unlock-WmsSession".to_string()),
        "{:?}",
        b.audit()
    );
    assert!(
        verbs(&a).contains(&"Disconnect-WmsSession".to_string()),
        "{:?}",
        a.audit()
    );
    assert!(
        verbs(&b).contains(&"Lock-WmsSession".to_string()),
        "{:?}",
        b.audit()
    );
    assert!(
        verbs(&b).contains(&"Close-WmsSession".to_string()),
        "{:?}",
        b.audit()
    );
    assert!(
        b.audit().iter().all(|r| r["tokenName"] == "t-lab-b"),
        "{:?}",
        b.audit()
    );
}

#[test]
fn a_table_from_several_servers_has_a_server_column() {
    let (a, b) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &b);
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = s.session_id().to_string();
    let args = [
        "session", "list", &id, "--server", "lab-a", "--server", "lab-b", "-o", "table",
    ];
    let out = client.wms(&args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Server SessionId State"), "{text}");
    assert!(lines[2].starts_with(&format!("lab-a  {id} ")), "{text}");
    assert!(lines[3].starts_with(&format!("lab-b  {id} ")), "{text}");
    // One server: no Server column.
    let out = client.wms(
        &["session", "list", &id, "--server", "lab-a", "-o", "table"],
        b"",
    );
    assert!(
        stdout(&out).starts_with("SessionId State"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_server_whose_certificate_changed_is_refused_naming_both_fingerprints() {
    let port = free_port();
    let mut first = Agent::start_with(fresh_dir("first"), Some(port), "");
    let client = Client::new();
    client.add("lab-a", &first);
    let pinned = first.fingerprint();
    first.stop();
    // Another agent (another key) on the same address.
    let second = Agent::start_with(fresh_dir("second"), Some(port), "");
    let now = second.fingerprint();
    assert_ne!(pinned, now);
    let out = client.wms(&["session", "list", "--server", "lab-a"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("HAS CHANGED") && err.contains(&pinned) && err.contains(&now),
        "{err}"
    );
    // Nothing, not even the token, reached the impostor.
    assert!(second.audit().is_empty(), "{:?}", second.audit());
}

#[test]
fn one_unreachable_server_does_not_stop_the_others() {
    let (a, b) = (Agent::tls(), Agent::tls());
    let mut dead = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-dead", &dead);
    client.add("lab-b", &b);
    dead.stop();
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain2), "sleep 600", false);
    let id = s.session_id().to_string();
    // A hosts file names the fleet.
    let hosts = client.home.join("hosts");
    std::fs::write(
        &hosts,
        "# the lab\nlab-a\nlab-dead\n\nlab-b  # second room\n",
    )
    .unwrap();
    let hosts = hosts.display().to_string();
    let (out, listed) =
        client.json(&["session", "list", &id, "--hosts-file", &hosts, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let servers: Vec<&str> = listed
        .iter()
        .map(|s| s["Server"].as_str().unwrap())
        .collect();
    assert_eq!(servers, ["lab-a", "lab-b"], "{listed:?}");
    assert!(
        stderr(&out).contains(&format!("cannot connect to {}", dead.address())),
        "{}",
        stderr(&out)
    );
    // The same for an action: the reachable server acts, the dead one is reported.
    let out = client.wms(
        &[
            "session", "close", &id, "--server", "lab-dead", "--server", "lab-b", "-o", "json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("\"Outcome\":\"Done\""),
        "{}",
        stdout(&out)
    );
    assert_gone(s.session_id());
}

#[test]
fn piped_objects_from_several_servers_go_back_to_their_own_server() {
    let (a, b) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &b);
    let sshd = Sshd::start();
    let u = user(Role::Plain);
    let s1 = sshd.open_session(&u, "sleep 600", false);
    let s2 = sshd.open_session(&u, "sleep 600", false);
    let (_, l1) = client.json(&[
        "session",
        "list",
        &s1.session_id().to_string(),
        "--server",
        "lab-a",
        "-o",
        "json",
    ]);
    let (_, l2) = client.json(&[
        "session",
        "list",
        &s2.session_id().to_string(),
        "--server",
        "lab-b",
        "-o",
        "json",
    ]);
    let input = format!("{}\n{}\n", l1[0], l2[0]);
    let out = client.wms(&["session", "close"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_gone(s1.session_id());
    assert_gone(s2.session_id());
    let closed_by = |ag: &Agent| -> Vec<u64> {
        ag.audit()
            .iter()
            .filter(|r| r["verb"] == "Close-WmsSession" && r["whatIf"] == false)
            .filter_map(|r| r["results"][0]["SessionId"].as_u64())
            .collect()
    };
    assert_eq!(closed_by(&a), [u64::from(s1.session_id())]);
    assert_eq!(closed_by(&b), [u64::from(s2.session_id())]);
}

#[test]
fn system_add_pins_only_what_it_should_and_list_and_remove_work() {
    let a = Agent::tls();
    let client = Client::new();
    let token = a.token("t");
    // Without a terminal or --fingerprint, it shows the fingerprint and saves nothing.
    let out = client.wms(&["system", "add", &a.address(), "--token", &token], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&a.fingerprint()), "{}", stderr(&out));
    // A wrong fingerprint or a wrong token saves nothing.
    let wrong = format!("SHA256:{}", ["00"; 32].join(":"));
    let out = client.wms(
        &[
            "system",
            "add",
            &a.address(),
            "--token",
            &token,
            "--fingerprint",
            &wrong,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was saved"),
        "{}",
        stderr(&out)
    );
    let bad = format!("wms_{}", "0".repeat(64));
    let out = client.wms(
        &[
            "system",
            "add",
            &a.address(),
            "--token",
            &bad,
            "--fingerprint",
            &a.fingerprint(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown token") && stderr(&out).contains("nothing was saved"),
        "{}",
        stderr(&out)
    );
    assert!(!client.home.join("wms/systems.json").exists());
    // A good add is listed, private, and removable.
    let out = client.wms(
        &[
            "system",
            "add",
            &a.address(),
            "--name",
            "lab-a",
            "--token",
            &token,
            "--fingerprint",
            &a.fingerprint(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = client.home.join("wms/systems.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = client.wms(&["system", "list"], b"");
    assert!(
        stdout(&out).contains("lab-a") && stdout(&out).contains(&a.fingerprint()),
        "{}",
        stdout(&out)
    );
    let out = client.wms(&["system", "remove", "lab-a"], b"");
    assert_eq!(out.status.code(), Some(0));
    let out = client.wms(&["system", "remove", "lab-a"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("there is no system named 'lab-a'"),
        "{}",
        stderr(&out)
    );
}

/// Makes a CA and an agent certificate for 127.0.0.1 signed by it (with openssl); returns
/// (ca.pem, cert.pem, key.pem).
fn ca_signed_pair(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=wms test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "agent.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "agent.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

#[test]
fn a_server_with_a_ca_signed_certificate_is_trusted_through_its_ca() {
    let keys = fresh_dir("ca");
    let (ca, cert, key) = ca_signed_pair(&keys);
    let agent = Agent::start_with(
        fresh_dir("agent-ca"),
        Some(free_port()),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let token = agent.token("ca");
    let client = Client::new();
    let address = agent.address();
    let ca_arg = ca.display().to_string();
    let out = client.wms(
        &[
            "system", "add", &address, "--name", "lab-ca", "--token", &token, "--ca", &ca_arg,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("trusted"), "{}", stdout(&out));
    let out = client.wms(
        &["session", "list", "--server", "lab-ca", "-o", "json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Another CA does not vouch for this agent.
    let other = fresh_dir("other-ca");
    let (other_ca, _, _) = ca_signed_pair(&other);
    let other_arg = other_ca.display().to_string();
    let out = client.wms(
        &[
            "system", "add", &address, "--name", "lab-x", "--token", &token, "--ca", &other_arg,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was saved"),
        "{}",
        stderr(&out)
    );
    for d in [keys, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Issue 8, defect 4: a saved token with a stray byte (a pasted `\r`) made the client
/// panic while building its request. It is a clear error naming the server and the byte,
/// and `wms system add` refuses such a token before saving it.
#[test]
fn a_token_with_a_stray_byte_is_a_clear_error_not_a_panic() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let file = client.home.join("wms/systems.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let token = saved["systems"][0]["token"].as_str().unwrap().to_string();
    saved["systems"][0]["token"] = format!("{token}\r").into();
    std::fs::write(&file, saved.to_string()).unwrap();
    let out = client.wms(&["session", "list", "--server", "lab-a"], b"");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("lab-a") && err.contains("token") && err.contains("carriage return"),
        "{err}"
    );
    // The same for an action, and for a non-ASCII byte.
    saved["systems"][0]["token"] = format!("{token}\u{e9}").into();
    std::fs::write(&file, saved.to_string()).unwrap();
    let out = client.wms(
        &[
            "session",
            "close",
            "--all",
            "--server",
            "lab-a",
            "--what-if",
        ],
        b"",
    );
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lab-a") && err.contains("non-ASCII"), "{err}");
    // Such a token is refused when it is added, and nothing is saved.
    std::fs::remove_file(&file).unwrap();
    let out = client.wms(
        &[
            "system",
            "add",
            &a.address(),
            "--name",
            "lab-b",
            "--token",
            &format!("{token}\r"),
            "--fingerprint",
            &a.fingerprint(),
        ],
        b"",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("carriage return") && err.contains("nothing was saved"),
        "{err}"
    );
    assert!(!file.exists());
}
