//! A `wmsd` the harness starts for the agent benchmarks: its own configuration, state
//! directory, Unix socket, TLS port on loopback and admin token, ended by its PID; and a
//! small HTTP/1.1 client over its Unix socket (requests, and the event stream).

use crate::Res;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The limits the harness raises above the agent's defaults (SPEC 7), so that its own load
/// is not refused: the report says so. Everything else is the default.
pub const RAISED_LIMITS: &[(&str, &str)] = &[
    ("list_concurrency", "64"),
    ("max_connections_per_ip", "256"),
    ("actions_per_second", "1000"),
    ("actions_burst", "1000"),
];

/// Writes a configuration file as wms accepts it (root's, not writable by others).
pub fn write_config(path: &Path, text: &str) -> Res<()> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// The configuration of `wms` with no agent on its socket (in-process), with the same close
/// timings as the agent's.
pub fn no_agent_config(dir: &Path) -> String {
    format!(
        "socket = \"{0}/no-agent.sock\"\nstate_dir = \"{0}/in-process-state\"\nlisten = []\ngrace_period = 5.0\nkill_timeout = 5.0\n",
        dir.display()
    )
}

pub struct Agent {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub port: u16,
    pub token: String,
    child: Child,
}

fn free_port() -> Res<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

impl Agent {
    /// Starts `wmsd` from `bin_dir` and waits until it answers on its socket.
    pub fn start(bin_dir: &Path, name: &str) -> Res<Agent> {
        let dir = std::env::temp_dir().join(format!("wms-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        let port = free_port()?;
        let socket = dir.join("wmsd.sock");
        let mut text = format!(
            "socket = \"{}\"\nstate_dir = \"{}/state\"\nlisten = [\"127.0.0.1:{port}\"]\ngrace_period = 5.0\nkill_timeout = 5.0\n",
            socket.display(),
            dir.display()
        );
        for (k, v) in RAISED_LIMITS {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let config = dir.join("wms.toml");
        write_config(&config, &text)?;
        let wmsd = bin_dir.join("wmsd");
        let out = Command::new(&wmsd)
            .args(["token", "create", "--name", "bench", "--role", "admin"])
            .env("WMS_CONFIG", &config)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{} token create: {e}", wmsd.display()))?;
        if !out.status.success() {
            return Err(format!(
                "wmsd token create: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let log = std::fs::File::create(dir.join("wmsd.log"))
            .map_err(|e| format!("create wmsd.log: {e}"))?;
        let child = Command::new(&wmsd)
            .env("WMS_CONFIG", &config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", wmsd.display()))?;
        let mut agent = Agent {
            dir,
            config,
            socket,
            port,
            token,
            child,
        };
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = agent.child.try_wait() {
                return Err(format!(
                    "wmsd exited ({status}): {}",
                    std::fs::read_to_string(agent.dir.join("wmsd.log")).unwrap_or_default()
                ));
            }
            if matches!(agent.get("/v1/sessions"), Ok((200, _))) {
                return Ok(agent);
            }
            if Instant::now() > end {
                return Err("wmsd did not answer on its socket within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` on the Unix socket: the status and the body.
    pub fn get(&self, path: &str) -> Res<(u16, String)> {
        get(&self.socket, path)
    }

    /// How many `GET /v1/sessions` the agent has answered (its latency histogram's count).
    pub fn sessions_requests(&self) -> Res<f64> {
        sessions_requests(&self.socket)
    }

    /// A field of `/proc/PID/status` (the number, without its unit).
    pub fn status_field(&self, name: &str) -> Option<u64> {
        status_field(self.pid(), name)
    }

    /// The agent's CPU time (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// A `wms` command that goes through this agent.
    pub fn wms(&self, wms: &Path) -> Command {
        let mut c = Command::new(wms);
        c.env("WMS_CONFIG", &self.config);
        c
    }

    /// Opens the event stream; each event arrives on the channel as (when, type, session
    /// ID) once the reader thread has parsed it.
    pub fn watch(&self) -> Res<mpsc::Receiver<(Instant, String, u64)>> {
        let mut s = UnixStream::connect(&self.socket).map_err(|e| format!("connect: {e}"))?;
        write!(
            s,
            "GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
        )
        .map_err(|e| format!("write: {e}"))?;
        let mut r = BufReader::new(s);
        let (status, chunked) = read_head(&mut r)?;
        if status != 200 {
            return Err(format!("GET /v1/events answered {status}"));
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            loop {
                let chunk = if chunked {
                    match read_chunk(&mut r) {
                        Ok(Some(c)) => c,
                        _ => return,
                    }
                } else {
                    let mut buf = vec![0; 65536];
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf[..n].to_vec(),
                    }
                };
                let now = Instant::now();
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let msg: String = text.drain(..end + 2).collect();
                    let mut kind = String::new();
                    let mut id = 0;
                    for line in msg.lines() {
                        if let Some(k) = line.strip_prefix("event: ") {
                            kind = k.to_string();
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            if let Ok(v) = serde_json::from_str::<serde_json::Value>(d) {
                                id = v["Session"]["SessionId"].as_u64().unwrap_or(0);
                            }
                        }
                    }
                    if !kind.is_empty() && tx.send((now, kind, id)).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// The CPU time (user + system) of process `pid` so far, in seconds; 0 once it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15 (utime, stime), counted from the state (field 3) at index 0.
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (t(11) + t(12)) / hz
}

/// A field of `/proc/PID/status` (the number, without its unit).
pub fn status_field(pid: u32, name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The sum of a field of `/proc/PID/task/TID/status` over every thread of `pid`.
pub fn threads_sum(pid: u32, name: &str) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse::<u32>().ok()?;
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The kernel's count of tasks created since boot (`processes` in `/proc/stat`).
pub fn forks_since_boot() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("processes "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn read_head(r: &mut impl BufRead) -> Res<(u16, bool)> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    Ok((status, chunked))
}

/// One chunk of a chunked body; `None` at its end.
fn read_chunk(r: &mut impl BufRead) -> Res<Option<Vec<u8>>> {
    let mut line = String::new();
    if r.read_line(&mut line).map_err(|e| format!("read: {e}"))? == 0 {
        return Ok(None);
    }
    let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
        .map_err(|_| format!("bad chunk size {line:?}"))?;
    if size == 0 {
        return Ok(None);
    }
    let mut buf = vec![0; size + 2];
    r.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
    buf.truncate(size);
    Ok(Some(buf))
}

impl Drop for Agent {
    /// SIGTERM to the agent by its PID, SIGKILL if it has not exited within 20 s.
    fn drop(&mut self) {
        // SAFETY: kill on our own child's PID, which is not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET path` on the agent's Unix socket `socket`: the status and the body.
pub fn get(socket: &Path, path: &str) -> Res<(u16, String)> {
    let mut s = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut r = BufReader::new(s);
    let (status, chunked) = read_head(&mut r)?;
    let mut body = Vec::new();
    if chunked {
        while let Some(chunk) = read_chunk(&mut r)? {
            body.extend(chunk);
        }
    } else {
        r.read_to_end(&mut body).map_err(|e| format!("read: {e}"))?;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// How many `GET /v1/sessions` the agent on `socket` has answered (its latency histogram's count).
pub fn sessions_requests(socket: &Path) -> Res<f64> {
    let (_, text) = get(socket, "/metrics")?;
    Ok(text
        .lines()
        .find_map(|l| {
            l.strip_prefix("wms_http_request_duration_seconds_count{route=\"/v1/sessions\"} ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0))
}
