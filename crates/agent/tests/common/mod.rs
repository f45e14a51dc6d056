//! The agent tests' harness: a real wmsd (its own socket, state directory, configuration
//! and loopback port) and a real TLS client (rustls with wms's own pinning verifier).

#![allow(dead_code)] // each test file uses its part

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;

pub const WMSD: &str = env!("CARGO_BIN_EXE_wmsd");

// ---------------------------------------------------------------------------------------
// A real agent
// ---------------------------------------------------------------------------------------

/// A real wmsd on a loopback port, with its own socket, state directory and configuration.
pub struct Agent {
    pub child: Child,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
}

pub fn fresh_dir(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wms-agent-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A configuration for an agent in `dir` listening on `port`, plus `extra` lines.
pub fn config_in(dir: &Path, port: u16, extra: &str) -> PathBuf {
    wms_testkit::config_file(&format!(
        "grace_period = 1\nkill_timeout = 10\nsocket = \"{d}/wmsd.sock\"\nstate_dir = \"{d}/state\"\nlisten = [\"127.0.0.1:{port}\"]\n{extra}",
        d = dir.display()
    ))
}

/// Runs `wmsd args...` with the configuration `config`.
pub fn wmsd(config: &Path, args: &[&str]) -> Output {
    Command::new(WMSD)
        .args(args)
        .env("WMS_CONFIG", config)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Agent {
    pub fn start() -> Agent {
        Agent::start_with("")
    }

    /// Starts an agent with `extra` configuration lines, on a free port (trying another
    /// if someone took the one picked before the agent could bind it).
    pub fn start_with(extra: &str) -> Agent {
        Agent::start_in(fresh_dir("agent"), extra)
    }

    /// Starts an agent whose socket and state are in `dir`.
    pub fn start_in(dir: PathBuf, extra: &str) -> Agent {
        Agent::launch(dir, extra, None)
    }

    /// Starts an agent whose soft and hard limits of open files are both `nofile`, so it
    /// cannot raise them (as under a unit with `LimitNOFILE=nofile`).
    pub fn start_with_nofile(extra: &str, nofile: u64) -> Agent {
        Agent::launch(fresh_dir("agent"), extra, Some(nofile))
    }

    fn launch(dir: PathBuf, extra: &str, nofile: Option<u64>) -> Agent {
        for _ in 0..5 {
            let port = free_port();
            let config = config_in(&dir, port, extra);
            let log = std::fs::File::create(dir.join("wmsd.log")).unwrap();
            // prlimit(1) sets the limits and executes wmsd in the same process.
            let mut cmd = match nofile {
                None => Command::new(WMSD),
                Some(n) => {
                    let mut c = Command::new("prlimit");
                    c.arg(format!("--nofile={n}:{n}")).arg("--").arg(WMSD);
                    c
                }
            };
            let mut child = cmd
                .env("WMS_CONFIG", &config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let end = Instant::now() + Duration::from_secs(20);
            loop {
                // The Unix socket is bound after the TCP listeners: once it answers, both do.
                if UnixStream::connect(dir.join("wmsd.sock")).is_ok() {
                    return Agent {
                        child,
                        dir,
                        config,
                        port,
                    };
                }
                if let Some(status) = child.try_wait().unwrap() {
                    let log = std::fs::read_to_string(dir.join("wmsd.log")).unwrap_or_default();
                    assert!(
                        log.contains("Address in use"),
                        "wmsd exited ({status}): {log}"
                    );
                    break;
                }
                assert!(Instant::now() < end, "wmsd never listened");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for wmsd after 5 tries");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn wmsd(&self, args: &[&str]) -> Output {
        wmsd(&self.config, args)
    }

    /// A new token with `role`, as `wmsd token create` prints it.
    pub fn token(&self, name: &str, role: &str) -> String {
        let out = self.wmsd(&["token", "create", "--name", name, "--role", role]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    pub fn fingerprint(&self) -> String {
        let out = self.wmsd(&["fingerprint"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    pub fn pinned(&self) -> Arc<ClientConfig> {
        pinned_client(&self.fingerprint())
    }

    /// One HTTP request over TLS, pinning the agent's fingerprint.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        https(
            self.addr(),
            self.pinned(),
            "localhost",
            method,
            path,
            headers,
            body,
        )
        .unwrap()
    }

    /// `POST /v1/actions` with `body` and the headers.
    pub fn act(&self, headers: &[(&str, &str)], body: &str) -> Reply {
        self.request("POST", "/v1/actions", headers, body)
    }

    pub fn audit(&self) -> Vec<Value> {
        self.audit_file("audit.log")
    }

    /// The records of `state/<name>` (the log, or one of its rotated files).
    pub fn audit_file(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("state").join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("wmsd.log")).unwrap_or_default()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("wmsd.sock")
    }

    /// One raw HTTP/1.1 exchange on the Unix socket (the request should say
    /// `Connection: close`); the answer, or why there was none within `wait`.
    pub fn unix_http(&self, request: &str, wait: Duration) -> Result<String, String> {
        let mut s = UnixStream::connect(self.socket()).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(wait)).unwrap();
        s.set_write_timeout(Some(wait)).unwrap();
        s.write_all(request.as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)
            .map_err(|e| format!("read: {e} after {:?}", text(&answer)))?;
        Ok(text(&answer))
    }

    /// Sends SIGTERM and waits up to `wait` for the agent to exit; its status, or `None`
    /// if it was still running (it is then killed).
    pub fn stop(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + wait;
        while Instant::now() < end {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGTERM to the agent this test started, by its PID.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// ---------------------------------------------------------------------------------------
// A real TLS client
// ---------------------------------------------------------------------------------------

/// `SHA256:` and uppercase hex pairs joined by `:`, computed here independently.
pub fn fingerprint_of(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = d.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    format!("SHA256:{}", hex.join(":"))
}

/// Trusts exactly the certificate with a pinned fingerprint, with wms's own verifier.
pub fn pinned_client(fingerprint: &str) -> Arc<ClientConfig> {
    wms_trust::pinned_config(wms_trust::Pin::new(Some(fingerprint.to_string())))
}

/// Trusts `ca_pem` as a certificate authority and checks the server's name, as
/// `wms system add --ca` does.
pub fn ca_client(ca_pem: &Path) -> Arc<ClientConfig> {
    wms_trust::ca_config(ca_pem).unwrap()
}

/// A TLS connection to `addr` whose handshake has finished, pinning `config`.
pub fn tls_open(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    tls_open_within(addr, config, Duration::from_secs(60))
}

/// [`tls_open`], giving up (an error of kind `WouldBlock` or `TimedOut`) when the server
/// sends nothing for `patience` during the handshake.
pub fn tls_open_within(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    patience: Duration,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect_timeout(&addr, patience)?;
    tcp.set_read_timeout(Some(patience))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    tls.sock.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(tls)
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// One HTTP/1.1 request over TLS to `addr`, presenting `name` as the server name.
pub fn https(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, String> {
    let server_name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, server_name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if let Err(e) = tls.read_to_end(&mut out) {
        // A peer that closes without close_notify after a complete answer is fine here.
        if out.is_empty() || e.kind() != std::io::ErrorKind::UnexpectedEof {
            return Err(e.to_string());
        }
    }
    let out = text(&out);
    let (head, body) = out
        .split_once("\r\n\r\n")
        .ok_or(format!("no HTTP answer: {out:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no status: {head:?}"))?;
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    Ok(Reply {
        status,
        head: head.to_string(),
        body,
    })
}
