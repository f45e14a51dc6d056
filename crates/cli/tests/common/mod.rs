//! Shared helpers for the integration tests: the real `wms` binary, run as root outside
//! any session or as a test user inside a real ssh session.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
#[allow(unused_imports)]
pub use wms_testkit::{
    kill_session, session_pids, user, wait_session_gone, Role, SshSession, Sshd, TestUser,
};

/// The `wms` binary, copied where test users can run it.
pub fn wms_path() -> String {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| wms_testkit::shared_binary(env!("CARGO_BIN_EXE_wms")))
        .display()
        .to_string()
}

/// A configuration with a short grace period, so tests of SIGTERM-ignoring sessions are quick.
pub fn fast_config() -> String {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| wms_testkit::config_file("grace_period = 1\nkill_timeout = 10\n"))
        .display()
        .to_string()
}

/// Runs `wms args...` as root (the test process), with `stdin` as standard input.
pub fn wms_in(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", fast_config())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wms");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs `wms args...` as root with standard input from /dev/null (not a terminal).
pub fn wms(args: &[&str]) -> Output {
    Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", fast_config())
        .stdin(Stdio::null())
        .output()
        .expect("run wms")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The session objects `wms session list -o json` prints for `ids`.
pub fn list_json(ids: &[u32]) -> Vec<Value> {
    let mut args = vec![
        "session".to_string(),
        "list".into(),
        "-o".into(),
        "json".into(),
    ];
    args.extend(ids.iter().map(|i| i.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wms(&args);
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The session object for `id`, if the session exists.
pub fn session(id: u32) -> Option<Value> {
    list_json(&[id]).into_iter().next()
}

/// Runs `wms <command>` as `user` inside a new real ssh session; the command line is
/// given to the user's shell after the binary path.
pub fn wms_as(sshd: &Sshd, user: &TestUser, command: &str, stdin: &[u8]) -> wms_testkit::RunOutput {
    sshd.run_with_env(
        user,
        &format!("{} {command}", wms_path()),
        stdin,
        &[("WMS_CONFIG", &fast_config())],
    )
}

/// Asserts that session `id` is fully gone within a generous bound.
pub fn assert_gone(id: u32) {
    assert!(
        wait_session_gone(id, Duration::from_secs(30)),
        "session {id} still has processes: {:?}",
        session_pids(id)
    );
}

/// Asserts that session `id` still has all of `pids` alive.
pub fn assert_untouched(id: u32, pids: &[u32]) {
    let now = session_pids(id);
    for p in pids {
        assert!(
            now.contains(p),
            "process {p} of session {id} is gone; left: {now:?}"
        );
    }
}

/// The `wmsd` built beside `wms`.
pub fn wmsd_path() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_wms")).with_file_name("wmsd");
    assert!(
        p.exists(),
        "{} is missing: build the whole workspace (cargo build --workspace) first",
        p.display()
    );
    p
}

/// A new empty directory for this test process.
pub fn fresh_dir(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("wms-{what}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real wmsd with its own socket, state directory and configuration, ended by its PID.
pub struct Agent {
    child: Option<Child>,
    pub dir: PathBuf,
    pub config: String,
    pub port: Option<u16>,
}

impl Agent {
    /// An agent on its Unix socket only (concurrent agents cannot all have port 7390).
    pub fn unix() -> Agent {
        Agent::start_with(fresh_dir("agent"), None, "")
    }

    /// An agent also serving TLS on a free loopback port.
    pub fn tls() -> Agent {
        Agent::start_with(fresh_dir("agent"), Some(free_port()), "")
    }

    /// An agent in `dir`, serving TLS on `port` if given, with `extra` configuration lines.
    pub fn start_with(dir: PathBuf, port: Option<u16>, extra: &str) -> Agent {
        Agent::start_graced(dir, port, 1.0, extra)
    }

    /// As [`Agent::start_with`], with a close's grace period of `grace` seconds.
    pub fn start_graced(dir: PathBuf, port: Option<u16>, grace: f64, extra: &str) -> Agent {
        let listen = port
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .unwrap_or_default();
        let config = wms_testkit::config_file(&format!(
            "grace_period = {grace:?}\nkill_timeout = 10\nsocket = \"{d}/wmsd.sock\"\nstate_dir = \"{d}/state\"\nlisten = [{listen}]\n{extra}",
            d = dir.display()
        ))
        .display()
        .to_string();
        let mut agent = Agent {
            child: None,
            dir,
            config,
            port,
        };
        agent.run();
        agent
    }

    /// Starts the agent's process and waits until it listens.
    fn run(&mut self) {
        let child = Command::new(wmsd_path())
            .env("WMS_CONFIG", &self.config)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        let port = self.port;
        let up = |a: &Agent| {
            UnixStream::connect(a.socket()).is_ok()
                && port.is_none_or(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok())
        };
        while !up(self) {
            assert!(Instant::now() < end, "wmsd never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the agent again, with the same configuration and state, after [`Agent::stop`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the agent is still running");
        self.run();
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("wmsd.sock")
    }

    /// `127.0.0.1:PORT` of its TLS listener.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port.expect("a TLS agent"))
    }

    /// Runs `wmsd args...` with this agent's configuration.
    pub fn wmsd(&self, args: &[&str]) -> Output {
        Command::new(wmsd_path())
            .args(args)
            .env("WMS_CONFIG", &self.config)
            .output()
            .unwrap()
    }

    /// A new admin token.
    pub fn token(&self, name: &str) -> String {
        let out = self.wmsd(&["token", "create", "--name", name, "--role", "admin"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    }

    pub fn fingerprint(&self) -> String {
        stdout(&self.wmsd(&["fingerprint"])).trim().to_string()
    }

    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("state/audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }

    /// Runs `wms <command>` as `user` in a real ssh session, configured to use this agent.
    pub fn wms_as(&self, sshd: &Sshd, user: &TestUser, command: &str) -> wms_testkit::RunOutput {
        sshd.run_with_env(
            user,
            &format!("{} {command}", wms_path()),
            b"",
            &[("WMS_CONFIG", &self.config)],
        )
    }

    /// One raw HTTP request on the socket; the status line and body.
    pub fn http(&self, request: &str) -> (String, String) {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.lines().next().unwrap_or_default().to_string();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        (status, body)
    }

    /// The agent's PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running agent").id()
    }

    /// SIGKILL to the agent, by its PID, and wait for it: it gets no chance to tidy up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM to the agent, by its PID, and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The ssh client's screen as a terminal shows it (the kit gives it 80x24).
pub fn screen(s: &SshSession) -> String {
    let mut p = vt100::Parser::default();
    p.process(&s.output());
    p.screen().contents()
}

/// Waits until the screen satisfies `pred` and returns it; panics naming `what`.
pub fn wait_screen(s: &SshSession, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let now = screen(s);
        if pred(&now) {
            return now;
        }
        assert!(Instant::now() < end, "screen never showed {what}:\n{now}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What tesseract reads in `ppm` (a binary PPM image), as it printed it.
pub fn ocr(ppm: &[u8]) -> String {
    let mut child = Command::new("tesseract")
        .args(["stdin", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run tesseract");
    child.stdin.take().unwrap().write_all(ppm).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
