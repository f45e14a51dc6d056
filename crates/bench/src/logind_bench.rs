//! Listing sessions that a real logind registered (issue 10's performance target): 250
//! sessions opened inside the logind sandbox as a login service opens them (a new audit
//! session, then `su` with pam_systemd), listed by `wms session list --class all` through
//! logind (its default there), by wms from `/proc` alone (`WMS_SESSION_SOURCE=proc`), by
//! wms through a `wmsd` running inside the sandbox with `session_source = "logind"` (as it
//! is deployed), and by `loginctl list-sessions`, taking turns. Every session it opened is
//! ended by its audit session ID afterwards, and the agent by its PID.

use crate::agent::{get, sessions_requests, write_config};
use crate::measure::{time_cmd, Series};
use crate::{in_mnt_ns, Args, Res};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many sessions are opened.
pub const SESSIONS: usize = 250;

/// The sessions of `user` that the sandbox's logind lists.
fn registered(ns: &std::fs::File, user: &str) -> Vec<u32> {
    let mut c = Command::new("loginctl");
    c.args(["list-sessions", "--no-legend", "--no-pager"]);
    in_mnt_ns(&mut c, ns);
    let out = c.stdin(Stdio::null()).output().ok();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some(user))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

pub fn list_logind(a: &Args, sandbox_pid: u32) -> Res<Value> {
    let ns = std::fs::File::open(format!("/proc/{sandbox_pid}/ns/mnt"))
        .map_err(|e| format!("the sandbox's mount namespace: {e}"))?;
    let user = wms_testkit::ensure_user("wmst-bench", &[]);
    // wms where processes in the sandbox can run it (its /tmp is its own).
    let wms = wms_testkit::sandbox_binary(&a.wms().display().to_string());
    let before = registered(&ns, &user.name).len();
    let mut openers = Vec::new();
    for _ in 0..SESSIONS {
        let line = format!(
            "echo {uid} > /proc/self/loginuid && exec setsid su - {name} -c 'exec sleep 3600' </dev/null >/dev/null 2>&1",
            uid = user.uid,
            name = user.name
        );
        let child = Command::new("nsenter")
            .args(["-t", &sandbox_pid.to_string(), "-a", "sh", "-c", &line])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("nsenter: {e}"))?;
        openers.push(child);
    }
    // Until logind has them all, or stops taking more (D-Bus allows a user 256
    // connections, and each su keeps one).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut last, mut still) = (0, Instant::now());
    loop {
        let n = registered(&ns, &user.name).len().saturating_sub(before);
        if n >= SESSIONS || Instant::now() > deadline || still.elapsed() > Duration::from_secs(5) {
            break;
        }
        if n != last {
            (last, still) = (n, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ids = registered(&ns, &user.name);
    let result = SandboxAgent::start(a, sandbox_pid)
        .and_then(|agent| measure(a, sandbox_pid, &wms, &agent, ids.len()));
    for id in &ids {
        wms_testkit::kill_session(*id);
    }
    for mut c in openers {
        let _ = c.wait();
    }
    result
}

/// A `wmsd` running inside the sandbox (all its namespaces) with `session_source =
/// "logind"`, on a Unix socket under the test kit's shared directory, which the sandbox
/// sees too. In the sandbox's PID namespace the kernel sends no process events, so it has
/// no live table: it scans `/proc` for each listing and keeps logind's records for a
/// second between listings.
struct SandboxAgent {
    dir: PathBuf,
    config: PathBuf,
    socket: PathBuf,
    /// `nsenter`, and the agent (its child) as seen from here.
    nsenter: Child,
    pid: Option<u32>,
}

impl SandboxAgent {
    fn start(a: &Args, sandbox_pid: u32) -> Res<SandboxAgent> {
        let wmsd = wms_testkit::sandbox_binary(&a.bin("wmsd").display().to_string());
        let dir = Path::new(wms_testkit::SHARED_ROOT)
            .join(format!("wms-bench-logind-agent-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        let socket = dir.join("wmsd.sock");
        let config = dir.join("wms.toml");
        write_config(
            &config,
            &format!(
                "socket = \"{}\"\nstate_dir = \"{}/state\"\nlisten = []\nsession_source = \"logind\"\n",
                socket.display(),
                dir.display()
            ),
        )?;
        let log = std::fs::File::create(dir.join("wmsd.log"))
            .map_err(|e| format!("create wmsd.log: {e}"))?;
        let nsenter = Command::new("nsenter")
            .args(["-t", &sandbox_pid.to_string(), "-a", "env"])
            .arg(format!("WMS_CONFIG={}", config.display()))
            .arg(&wmsd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("nsenter wmsd: {e}"))?;
        let mut agent = SandboxAgent {
            dir,
            config,
            socket,
            nsenter,
            pid: None,
        };
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            agent.pid = agent
                .pid
                .or_else(|| wms_testkit::children(agent.nsenter.id()).first().copied());
            if let Ok(Some(status)) = agent.nsenter.try_wait() {
                return Err(format!(
                    "wmsd in the sandbox exited ({status}): {}",
                    std::fs::read_to_string(agent.dir.join("wmsd.log")).unwrap_or_default()
                ));
            }
            if agent.pid.is_some() && matches!(get(&agent.socket, "/v1/sessions"), Ok((200, _))) {
                return Ok(agent);
            }
            if Instant::now() > end {
                return Err("wmsd in the sandbox did not answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's CPU time so far (user + system), in seconds.
    fn cpu_seconds(&self) -> f64 {
        self.pid.map_or(0.0, crate::agent::cpu_seconds)
    }
}

impl Drop for SandboxAgent {
    /// SIGTERM to the agent by its PID (SIGKILL after 20 s), then `nsenter` is reaped.
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: kill on the agent's PID, the child of our own unreaped nsenter.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                if let Ok(Some(_)) = self.nsenter.try_wait() {
                    let _ = std::fs::remove_dir_all(&self.dir);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = self.nsenter.kill();
        let _ = self.nsenter.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn measure(
    a: &Args,
    sandbox_pid: u32,
    wms: &Path,
    agent: &SandboxAgent,
    sessions: usize,
) -> Res<Value> {
    // The agent lists logind's sessions, each with logind's fields (Source "logind").
    let (_, body) = get(&agent.socket, "/v1/sessions")?;
    let listed: Vec<Value> =
        serde_json::from_str(&body).map_err(|e| format!("the agent's listing: {e}"))?;
    let from_logind = listed.iter().filter(|s| s["Source"] == "logind").count();
    if from_logind < sessions {
        return Err(format!(
            "the agent in the sandbox lists {from_logind} sessions with logind's fields of the {sessions} logind registered"
        ));
    }
    const N: usize = 4;
    // Each command runs inside every namespace of the sandbox, as it would run on a host
    // where logind registered these sessions: wms reads the PIDs of its own namespace in
    // /proc, and reaches the sessions' memory by them (run from outside, with only the
    // sandbox's mounts, each environment read would fail and fall back to reading a file).
    // `nsenter` costs the same in every row; its CPU is counted with the command's.
    let make = |i: usize| {
        let mut c = Command::new("nsenter");
        c.args(["-t", &sandbox_pid.to_string(), "-a"]);
        // The harness's configuration lies in this /tmp, not the sandbox's: no agent
        // runs on the socket that wms finds without one.
        c.env_remove("WMS_CONFIG");
        let list = ["session", "list", "--class", "all", "-o", "json"];
        match i {
            0 => c.arg(wms).args(list).env("WMS_SESSION_SOURCE", "logind"),
            1 => c.arg(wms).args(list).env("WMS_SESSION_SOURCE", "proc"),
            2 => c.arg(wms).args(list).env("WMS_CONFIG", &agent.config),
            _ => c.args(["loginctl", "list-sessions", "--no-pager"]),
        };
        c
    };
    let (warmup, runs) = (2, if a.quick { 5 } else { 21 });
    let mut wall: [Series; N] = Default::default();
    let mut cpu: [Series; N] = Default::default();
    let mut agent_cpu = Series::default();
    let asked = sessions_requests(&agent.socket)?;
    for round in 0..warmup + runs {
        for k in 0..N {
            let i = (round + k) % N;
            let before = agent.cpu_seconds();
            let (w, c) = time_cmd(make(i))?;
            if round >= warmup {
                wall[i].push(w);
                cpu[i].push(c);
                if i == 2 {
                    agent_cpu.push(agent.cpu_seconds() - before);
                }
            }
        }
    }
    // Every listing through the agent went through it (not in-process for want of one).
    let answered = sessions_requests(&agent.socket)? - asked;
    if answered < (warmup + runs) as f64 {
        return Err(format!(
            "the agent in the sandbox answered {answered} of {} listings",
            warmup + runs
        ));
    }
    let res = |i: usize| json!({"wall": wall[i].json(), "cpu": cpu[i].json()});
    Ok(json!({
        "sessions": sessions,
        "runs": runs,
        "wms_logind": res(0),
        "wms_proc": res(1),
        "wms_agent": res(2),
        "agent_cpu": agent_cpu.json(),
        "loginctl": res(3),
    }))
}
