//! `wms-bench`: the benchmark harness that `scripts/bench` runs (SPEC 9). Every figure is
//! a ratio against a baseline measured in the same run, on the same machine.
//!
//!     wms-bench run --out BENCHMARKS.md --bin-dir target/release
//!                   [--sandbox-pid PID --sandbox-port PORT] [--runs N] [--quick]
//!                   [--only NAME,...] [--oha PATH]
//!     wms-bench close-all-inner ...    (run by `run` inside a private PID namespace)
//!
//! - list: `wms session list -o json` over 1,000 generated sessions of 5 processes, against
//!   the floor program (`floor`) and `ps -e -o pid,sess,uid,stat,comm`, taking turns;
//! - the agent (`agent_bench`), with 1,000 sessions of 5 processes: idle memory and
//!   wake-ups, `wms session list` through it against in-process and `loginctl`,
//!   `GET /v1/sessions` at 1,000 requests/s over TLS (oha), and how soon a watcher of
//!   `GET /v1/events` sees a new session;
//! - close one: `wms session close ID` on a session of 50 processes that honour SIGTERM,
//!   in-process and through an agent, against `loginctl terminate-session` on an ssh
//!   session of 50 processes in the logind sandbox, all measured until every process of
//!   the session has exited;
//! - desktop lock (`desktop_lock_bench`): 20 real X desktops locked with one command,
//!   against locking one;
//! - close all: 500 sessions of 5 processes, by their IDs, and with `--all` inside a private
//!   PID namespace that holds only the generated sessions;
//! - peak memory (maximum RSS from `/usr/bin/time -v`) of wms in each case.
//!
//! The results section of the output file (between the `results` markers) is rewritten;
//! the rest of the file is left as written by hand. Raw figures also go to
//! `target/bench/results.json`.
// Benchmark code: it measures processes with raw system calls (wait4, epoll, setns),
// each unsafe block with its SAFETY line; the product denies `unsafe` outside wms-host's sys.
#![allow(unsafe_code)]

mod agent;
mod agent_bench;
mod desktop_lock_bench;
mod logind_bench;
mod measure;
mod report;
mod thumb_bench;

use agent::Agent;
use measure::{
    median, pin_all, raise_nofile_limit, read_gen_output, time_command, time_until_gone, Gone,
    Series,
};
use report::Report;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use wms_testkit::gen::{generate, GenOptions};

/// What `run` was asked to do.
struct Args {
    out: PathBuf,
    bin_dir: PathBuf,
    sandbox_pid: Option<u32>,
    sandbox_port: u16,
    runs: usize,
    quick: bool,
    /// The benchmarks to run (`--only list,agent-idle,agent-list,agent-load,agent-watch,
    /// close-one,sandbox,logind-list,desktop-lock,thumbnail,close-all,close-all-ns`; `agent`
    /// for the four agent ones); all when empty.
    only: Vec<String>,
    /// The load generator for `GET /v1/sessions` (oha); not measured without it.
    oha: Option<PathBuf>,
}

impl Args {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| o == name || (o == "agent" && name.starts_with("agent-")))
    }
    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
    fn wms(&self) -> PathBuf {
        self.bin("wms")
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: wms-bench run --out FILE --bin-dir DIR [--sandbox-pid PID] [--sandbox-port PORT] [--runs N] [--quick] [--only NAME,...] [--oha PATH]\n       wms-bench close-all-inner --wms PATH --sessions N --procs M --runs R"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let flag = |name: &str| args.iter().any(|a| a == name);
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("wms-bench: the benchmarks open real login sessions and must run as root");
        return ExitCode::from(2);
    }
    raise_nofile_limit();
    match cmd.as_str() {
        "run" => {
            let (Some(out), Some(bin_dir)) = (opt("--out"), opt("--bin-dir")) else {
                return usage();
            };
            let quick = flag("--quick");
            let a = Args {
                out: out.into(),
                bin_dir: bin_dir.into(),
                sandbox_pid: opt("--sandbox-pid").and_then(|p| p.parse().ok()),
                sandbox_port: opt("--sandbox-port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(2398),
                runs: opt("--runs")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(if quick { 5 } else { 15 }),
                quick,
                only: opt("--only")
                    .map(|o| o.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                oha: opt("--oha").map(PathBuf::from).filter(|p| p.is_file()),
            };
            match run(&a) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wms-bench: {e}");
                    ExitCode::from(1)
                }
            }
        }
        "close-all-inner" => {
            let (Some(wms), Some(n), Some(m), Some(runs)) = (
                opt("--wms"),
                opt("--sessions").and_then(|v| v.parse().ok()),
                opt("--procs").and_then(|v| v.parse().ok()),
                opt("--runs").and_then(|v| v.parse().ok()),
            ) else {
                return usage();
            };
            match close_all_runs(Path::new(&wms), n, m, runs, &["--all"], flag("--rss")) {
                Ok(v) => {
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wms-bench close-all-inner: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => usage(),
    }
}

type Res<T> = Result<T, String>;

fn run(a: &Args) -> Res<()> {
    for b in ["wms", "wmsd", "floor", "wms-gen"] {
        if !a.bin(b).is_file() {
            return Err(format!(
                "{} is missing: build the release binaries first",
                a.bin(b).display()
            ));
        }
    }
    let mut rep = Report::new(&a.bin_dir);
    eprintln!("wms-bench: machine: {}", rep.machine_line());

    // Every in-process `wms` the harness runs gets a configuration of its own whose socket
    // has no agent, so that an agent running on this host (at the default socket) is never
    // measured in its place; the agent benchmarks name their own agent's configuration.
    let conf_dir = std::env::temp_dir().join(format!("wms-bench-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&conf_dir);
    std::fs::create_dir_all(&conf_dir).map_err(|e| format!("mkdir {}: {e}", conf_dir.display()))?;
    let no_agent = conf_dir.join("wms.toml");
    agent::write_config(&no_agent, &agent::no_agent_config(&conf_dir))?;
    // Set before any thread of the harness starts.
    std::env::set_var("WMS_CONFIG", &no_agent);
    let res = run_benches(a, &mut rep);
    let _ = std::fs::remove_dir_all(&conf_dir);
    res?;

    write_results(a, &mut rep)
}

fn run_benches(a: &Args, rep: &mut Report) -> Res<()> {
    // 1. List.
    for (label, ssh_like) in [("console-like", false), ("ssh-like", true)] {
        if !a.wants("list") {
            break;
        }
        eprintln!("wms-bench: list 1,000 {label} sessions of 5 processes");
        let r = list_bench(a, ssh_like)?;
        rep.list.push((label.to_string(), r));
    }

    // 2. The agent, with 1,000 sessions of 5 processes.
    if agent_bench::NAMES.iter().any(|n| a.wants(n)) {
        let ns = a
            .sandbox_pid
            .and_then(|pid| std::fs::File::open(format!("/proc/{pid}/ns/mnt")).ok());
        if ns.is_none() {
            rep.notes.push(
                "The logind sandbox was not available, so `loginctl list-sessions` was not measured."
                    .into(),
            );
        }
        match agent_bench::agent_suite(a, ns.as_ref()) {
            Ok(v) => rep.agent = Some(v),
            Err(e) => {
                eprintln!("wms-bench: the agent benchmarks failed: {e}");
                rep.notes.push(format!("The agent benchmarks failed: {e}"));
            }
        }
    }

    // 3. Close one session of 50, in-process and through an agent of its own.
    let close_agent = if a.wants("close-one") || a.wants("sandbox") {
        match Agent::start(&a.bin_dir, "close") {
            Ok(agent) => Some(agent),
            Err(e) => {
                rep.notes.push(format!(
                    "The agent for the close benchmarks did not start ({e}): closes were measured in-process only."
                ));
                None
            }
        }
    } else {
        None
    };
    if a.wants("close-one") {
        eprintln!("wms-bench: close one generated session of 50 processes");
        rep.close_one_gen = Some(close_one_gen(a, close_agent.as_ref())?);
    }
    match a.sandbox_pid {
        _ if !a.wants("sandbox") => {}
        Some(pid) => {
            eprintln!("wms-bench: close one ssh session of 50 processes in the logind sandbox");
            match close_one_sandbox(a, pid, close_agent.as_ref()) {
                Ok(v) => rep.close_one_sandbox = Some(v),
                Err(e) => {
                    eprintln!("wms-bench: the logind sandbox benchmark failed: {e}");
                    rep.notes.push(format!("The logind sandbox benchmark failed: {e}"));
                }
            }
        }
        None => rep.notes.push(
            "The logind sandbox was not available, so `loginctl terminate-session` was not measured."
                .into(),
        ),
    }

    drop(close_agent);

    // 3b. List the sessions a real logind registered (issue 10).
    match a.sandbox_pid {
        _ if !a.wants("logind-list") => {}
        Some(pid) => {
            eprintln!(
                "wms-bench: list {} logind sessions in the sandbox",
                logind_bench::SESSIONS
            );
            match logind_bench::list_logind(a, pid) {
                Ok(v) => rep.logind_list = Some(v),
                Err(e) => rep
                    .notes
                    .push(format!("Listing logind's sessions failed: {e}")),
            }
        }
        None => rep.notes.push(
            "The logind sandbox was not available, so listing through logind was not measured."
                .into(),
        ),
    }

    // 3c. Lock 20 desktops with one command (issue 11).
    if a.wants("desktop-lock") {
        eprintln!(
            "wms-bench: lock {} X desktops with one command",
            desktop_lock_bench::DESKTOPS
        );
        match desktop_lock_bench::lock_desktops(a) {
            Ok(v) => rep.desktop_lock = Some(v),
            Err(e) => {
                eprintln!("wms-bench: the desktop lock benchmark failed: {e}");
                rep.notes
                    .push(format!("The desktop lock benchmark failed: {e}"));
            }
        }
    }

    // 3d. A desktop's thumbnail through the agent (issue 11).
    if a.wants("thumbnail") {
        eprintln!("wms-bench: a Medium thumbnail of a 1920x1080 desktop through the agent");
        match thumb_bench::thumbnail_bench(a) {
            Ok(v) => rep.thumbnail = Some(v),
            Err(e) => rep
                .notes
                .push(format!("The thumbnail benchmark failed: {e}")),
        }
    }

    // 4. Close all of 500.
    let runs = if a.quick { 2 } else { 5 };
    if a.wants("close-all") {
        eprintln!("wms-bench: close 500 sessions of 5 processes by their IDs");
        rep.close_all_ids = Some(close_all_runs(&a.wms(), 500, 5, runs, &[], true)?);
    }
    if a.wants("close-all-ns") {
        eprintln!("wms-bench: close --all of 500 sessions inside a private PID namespace");
        match close_all_in_namespace(a, runs) {
            Ok(v) => rep.close_all_ns = Some(v),
            Err(e) => {
                eprintln!("wms-bench: close --all in a PID namespace failed: {e}");
                rep.notes.push(format!(
                    "`close --all` in a private PID namespace failed: {e}"
                ));
            }
        }
    }

    Ok(())
}

fn write_results(a: &Args, rep: &mut Report) -> Res<()> {
    rep.machine["loadavg_after"] = json!(report::loadavg());
    let results = rep.json();
    let dir = Path::new("target/bench");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(
        // A partial run must not pass for the figures the Markdown shows.
        dir.join(if a.only.is_empty() {
            "results.json"
        } else {
            "partial.json"
        }),
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    );
    if a.only.is_empty() {
        rep.write_markdown(&a.out)
            .map_err(|e| format!("write {}: {e}", a.out.display()))?;
        eprintln!("wms-bench: results written to {}", a.out.display());
    } else {
        eprintln!(
            "wms-bench: a partial run (--only): {} left as it was",
            a.out.display()
        );
    }
    print!("{}", rep.summary());
    Ok(())
}

/// A `wms-gen --hold` child and the sessions it printed.
struct HeldGen {
    child: Child,
    ids: Vec<u32>,
}

impl HeldGen {
    fn start(gen: &Path, sessions: usize, procs: usize, ssh_like: bool) -> Res<HeldGen> {
        let mut cmd = Command::new(gen);
        cmd.args([
            "--sessions",
            &sessions.to_string(),
            "--procs",
            &procs.to_string(),
            "--hold",
        ])
        // The generated processes carry wms-gen's environment: make it the same on every
        // machine, and, for ssh-like sessions, name a client as sshd does for a shell.
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if ssh_like {
            cmd.env("SSH_CONNECTION", "192.0.2.10 50022 192.0.2.1 22")
                .env("SSH_CLIENT", "192.0.2.10 50022 22");
        }
        let mut child = cmd.spawn().map_err(|e| format!("start wms-gen: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| format!("read wms-gen: {e}"))?;
        let ids = read_gen_output(&line).map_err(|e| format!("wms-gen said {line:?}: {e}"))?;
        Ok(HeldGen { child, ids })
    }
}

impl Drop for HeldGen {
    fn drop(&mut self) {
        // End of its standard input ends the hold; it then kills exactly its processes.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Maximum resident set size (KiB) of `argv`, from `/usr/bin/time -v`.
fn max_rss_kib(argv: &[String]) -> Res<u64> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(argv)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("run /usr/bin/time: {e}"))?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no maximum resident set size in /usr/bin/time's output".into())
}

fn list_bench(a: &Args, ssh_like: bool) -> Res<Value> {
    let held = HeldGen::start(&a.bin("wms-gen"), 1000, 5, ssh_like)?;
    let wms = a.wms().display().to_string();
    // Check that wms sees exactly what was generated before timing it.
    let out = Command::new(&wms)
        .args(["session", "list", "-o", "json"])
        .output()
        .map_err(|e| format!("run wms: {e}"))?;
    let listed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ours: Vec<&Value> = listed
        .iter()
        .filter(|s| {
            s["SessionId"]
                .as_u64()
                .is_some_and(|id| held.ids.contains(&(id as u32)))
        })
        .collect();
    if ours.len() != held.ids.len() || ours.iter().any(|s| s["ProcessCount"] != 5) {
        return Err(format!(
            "wms lists {} of the {} generated sessions correctly",
            ours.iter().filter(|s| s["ProcessCount"] == 5).count(),
            held.ids.len()
        ));
    }
    let states: Vec<String> = ours
        .iter()
        .filter_map(|s| s["State"].as_str().map(str::to_string))
        .collect();
    let argv = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<String>>();
    let commands = [
        argv(&format!("{wms} session list -o json")),
        vec![a.bin("floor").display().to_string()],
        argv("ps -e -o pid,sess,uid,stat,comm"),
    ];
    // The three commands take turns, each round in another order, so a change in the
    // machine's load during the run weighs on all of them alike.
    let (warmup, runs) = (3, if a.quick { 7 } else { 31 });
    let mut wall: [Series; 3] = Default::default();
    let mut cpu: [Series; 3] = Default::default();
    for round in 0..warmup + runs {
        for k in 0..3 {
            let i = (round + k) % 3;
            let (w, c) = time_command(&commands[i])?;
            if round >= warmup {
                wall[i].push(w);
                cpu[i].push(c);
            }
        }
    }
    let results: Vec<Value> = (0..3)
        .map(|i| json!({"wall": wall[i].json(), "cpu": cpu[i].json()}))
        .collect();
    let rss = max_rss_kib(&[
        wms,
        "session".into(),
        "list".into(),
        "-o".into(),
        "json".into(),
    ])?;
    let processes = ps_count();
    Ok(json!({
        "sessions": held.ids.len(),
        "state": states.first(),
        "processes_on_host": processes,
        "runs": runs,
        "wms": results[0],
        "floor": results[1],
        "ps": results[2],
        "wms_max_rss_kib": rss,
    }))
}

fn ps_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0)
}

/// `wms session close ID` on freshly generated sessions of 50 processes: in-process, and,
/// taking turns with it when there is one, through `agent`.
fn close_one_gen(a: &Args, agent: Option<&Agent>) -> Res<Value> {
    let warmup = 2;
    let mut cmd_times = Series::default();
    let mut gone_times = Series::default();
    let mut cpu_times = Series::default();
    let (mut a_cmd, mut a_gone, mut a_cpu) = Default::default();
    let ways: &[bool] = if agent.is_some() {
        &[false, true]
    } else {
        &[false]
    };
    for i in 0..warmup + a.runs {
        for k in 0..ways.len() {
            let through_agent = ways[(i + k) % ways.len()];
            let g = generate(&GenOptions::new(1, 50)).map_err(|e| format!("generate: {e}"))?;
            let s = &g.sessions[0];
            let mut cmd = match agent {
                Some(agent) if through_agent => agent.wms(&a.wms()),
                _ => Command::new(a.wms()),
            };
            cmd.args(["session", "close", &s.id.to_string()]);
            let t = time_until_gone(cmd, &pin_all(&s.pids), &[s.id])?;
            if i >= warmup {
                let (c, gn, cp): (&mut Series, &mut Series, &mut Series) = if through_agent {
                    (&mut a_cmd, &mut a_gone, &mut a_cpu)
                } else {
                    (&mut cmd_times, &mut gone_times, &mut cpu_times)
                };
                c.push(t.command);
                gn.push(t.gone);
                cp.push(t.cpu);
            }
            drop(g);
        }
    }
    let g = generate(&GenOptions::new(1, 50)).map_err(|e| format!("generate: {e}"))?;
    let rss = max_rss_kib(&[
        a.wms().display().to_string(),
        "session".into(),
        "close".into(),
        g.sessions[0].id.to_string(),
    ])?;
    drop(g);
    Ok(json!({
        "processes": 50,
        "runs": a.runs,
        "command": cmd_times.json(),
        "gone": gone_times.json(),
        "cpu": cpu_times.json(),
        "wms_max_rss_kib": rss,
        "agent": agent.map(|_| json!({"command": a_cmd.json(), "gone": a_gone.json(), "cpu": a_cpu.json()})),
    }))
}

/// The logind sandbox: its ssh port and its mount namespace (where `loginctl` finds the
/// system bus and knows it runs under systemd).
struct Sandbox {
    /// The sandbox's mount namespace, which `loginctl` enters.
    mnt_ns: std::fs::File,
    port: u16,
    key: PathBuf,
    user: String,
}

impl Sandbox {
    fn setup(pid: u32, port: u16) -> Res<Sandbox> {
        let user = wms_testkit::ensure_user("wmst-bench", &[]);
        let dir = std::env::temp_dir().join(format!("wms-bench-ssh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let key = dir.join("id_ed25519");
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "wms-bench", "-f"])
            .arg(&key)
            .status()
            .map_err(|e| format!("ssh-keygen: {e}"))?
            .success();
        if !ok {
            return Err("ssh-keygen failed".into());
        }
        let pubkey = std::fs::read_to_string(key.with_extension("pub"))
            .map_err(|e| format!("read public key: {e}"))?;
        let home = PathBuf::from(format!("/home/{}", user.name));
        let ssh = home.join(".ssh");
        std::fs::create_dir_all(&ssh).map_err(|e| format!("mkdir {}: {e}", ssh.display()))?;
        std::fs::write(ssh.join("authorized_keys"), pubkey)
            .map_err(|e| format!("write authorized_keys: {e}"))?;
        let chown = Command::new("chown")
            .args(["-R", &format!("{0}:{0}", user.name)])
            .arg(&ssh)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        let chmod = Command::new("chmod")
            .args(["-R", "go-rwx"])
            .arg(&ssh)
            .status()
            .map_err(|e| format!("chmod: {e}"))?;
        if !chown.success() || !chmod.success() {
            return Err("cannot set up the bench user's authorized_keys".into());
        }
        let mnt_ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| format!("open the sandbox's mount namespace: {e}"))?;
        Ok(Sandbox {
            mnt_ns,
            port,
            key,
            user: user.name,
        })
    }

    /// Opens an ssh session of `procs` processes (sshd's two included); returns the ssh
    /// client and the session id once every process is there.
    fn open(&self, procs: usize) -> Res<(Child, u32)> {
        let sleepers = procs.saturating_sub(3);
        let remote = format!(
            "for i in $(seq {sleepers}); do sleep 1000 & done; echo READY $(cat /proc/self/sessionid) $XDG_SESSION_ID; exec sleep 1000"
        );
        let mut child = Command::new("ssh")
            .args(["-q", "-T", "-p", &self.port.to_string(), "-i"])
            .arg(&self.key)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                &format!("{}@127.0.0.1", self.user),
                &remote,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // "Connection closed by remote host" is what closing it should do.
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("ssh: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| format!("read ssh: {e}"))?;
        let mut words = line.split_whitespace();
        let (Some("READY"), Some(id), xdg) = (words.next(), words.next(), words.next()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the ssh session said {line:?}"));
        };
        let id: u32 = id.parse().map_err(|e| format!("session id {id:?}: {e}"))?;
        if xdg != Some(&id.to_string()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "logind's session id {xdg:?} is not the audit session {id}: is the session registered with logind?"
            ));
        }
        let end = Instant::now() + Duration::from_secs(10);
        while wms_testkit::session_pids(id).len() < procs && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok((child, id))
    }
}

impl Drop for Sandbox {
    /// Removes the key pair and the bench user's authorized key.
    fn drop(&mut self) {
        if let Some(dir) = self.key.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_file(format!("/home/{}/.ssh/authorized_keys", self.user));
    }
}

impl Sandbox {
    /// `loginctl terminate-session ID`, to be run in the sandbox's mount namespace (the
    /// command must be spawned while the sandbox is alive, which holds the namespace).
    fn loginctl(&self, id: u32) -> Res<Command> {
        let mut cmd = Command::new("loginctl");
        cmd.args(["terminate-session", &id.to_string()]);
        in_mnt_ns(&mut cmd, &self.mnt_ns);
        Ok(cmd)
    }
}

/// Makes `cmd` enter the mount namespace `ns` just before `exec` (so no `nsenter` is timed);
/// `ns` must stay open until `cmd` is spawned.
fn in_mnt_ns(cmd: &mut Command, ns: &std::fs::File) {
    // SAFETY: setns in the forked child before exec; a raw system call, no allocation.
    unsafe {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = ns.as_raw_fd();
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Waits up to a few seconds for an ssh client whose session was closed.
fn finish_ssh(mut child: Child) {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn close_one_sandbox(a: &Args, pid: u32, agent: Option<&Agent>) -> Res<Value> {
    let sb = Sandbox::setup(pid, a.sandbox_port)?;
    let warmup = 2;
    // loginctl, wms in-process, wms through the agent: command, gone, CPU.
    let mut series: [[Series; 3]; 3] = Default::default();
    let mut sizes = Vec::new();
    // What the agent's synced intent record costs by itself on this disk.
    let mut synced = Series::default();
    let mut runs_done = 0;
    let tools: &[usize] = if agent.is_some() { &[0, 1, 2] } else { &[0, 1] };
    for i in 0..warmup + a.runs {
        // Take turns, each round in another order, so drift over the run affects all alike.
        for k in 0..tools.len() {
            let tool = tools[(i + k) % tools.len()];
            let (client, id) = sb.open(50)?;
            let pids = wms_testkit::session_pids(id);
            sizes.push(pids.len());
            let cmd = match (tool, agent) {
                (0, _) => sb.loginctl(id)?,
                (2, Some(agent)) => {
                    let mut c = agent.wms(&a.wms());
                    c.args(["session", "close", &id.to_string()]);
                    c
                }
                _ => {
                    let mut c = Command::new(a.wms());
                    c.args(["session", "close", &id.to_string()]);
                    c
                }
            };
            let t: Gone = time_until_gone(cmd, &pin_all(&pids), &[id])?;
            finish_ssh(client);
            if i >= warmup {
                let s = &mut series[tool];
                s[0].push(t.command);
                s[1].push(t.gone);
                s[2].push(t.cpu);
                if let (2, Some(agent)) = (tool, agent) {
                    synced.push(sync_cost(&agent.dir.join("state"))?);
                }
            }
        }
        runs_done = i + 1 - warmup.min(i + 1);
    }
    drop(sb);
    let j =
        |s: &[Series; 3]| json!({"command": s[0].json(), "gone": s[1].json(), "cpu": s[2].json()});
    Ok(json!({
        "processes": median(&sizes.iter().map(|&n| n as f64).collect::<Vec<_>>()),
        "runs": runs_done,
        "loginctl": {"command": series[0][0].json(), "gone": series[0][1].json()},
        "wms": j(&series[1]),
        "agent": agent.map(|_| j(&series[2])),
        "state_dir_sync": agent.map(|_| synced.json()),
    }))
}

/// Seconds to append an audit-sized record (400 bytes) to a file in `dir` and sync it, as
/// the agent does with the intent record of every action before it acts.
fn sync_cost(dir: &std::path::Path) -> Res<f64> {
    use std::io::Write;
    let path = dir.join("bench-sync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    let start = Instant::now();
    f.write_all(&[b'x'; 400])
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    let t = start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(t)
}

/// Closes `n` generated sessions of `m` processes with one wms command, `runs` times: by
/// their IDs when `extra` is empty, else with `extra` (`--all`) instead of IDs.
fn close_all_runs(
    wms: &Path,
    n: usize,
    m: usize,
    runs: usize,
    extra: &[&str],
    rss: bool,
) -> Res<Value> {
    let mut cmd_times = Series::default();
    let mut gone_times = Series::default();
    let mut cpu_times = Series::default();
    let mut outcomes = Vec::new();
    let mut max_rss = None;
    for i in 0..runs + usize::from(rss) {
        let g = generate(&GenOptions::new(n, m)).map_err(|e| format!("generate: {e}"))?;
        let ids = g.ids();
        let mut argv: Vec<String> =
            vec!["session".into(), "close".into(), "-o".into(), "json".into()];
        if extra.is_empty() {
            argv.extend(ids.iter().map(|i| i.to_string()));
        } else {
            argv.extend(extra.iter().map(|s| s.to_string()));
        }
        if rss && i == runs {
            let mut full = vec![wms.display().to_string()];
            full.extend(argv);
            max_rss = Some(max_rss_kib(&full)?);
            drop(g);
            continue;
        }
        let mut cmd = Command::new(wms);
        cmd.args(&argv);
        let t = time_until_gone(cmd, &pin_all(&g.pids()), &ids)?;
        let done = t
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["Outcome"] == "Done"
                    && v["SessionId"]
                        .as_u64()
                        .is_some_and(|id| ids.contains(&(id as u32)))
            })
            .count();
        outcomes.push(done);
        cmd_times.push(t.command);
        gone_times.push(t.gone);
        cpu_times.push(t.cpu);
        drop(g);
    }
    Ok(json!({
        "sessions": n,
        "processes": n * m,
        "runs": runs,
        "done_per_run": outcomes,
        "command": cmd_times.json(),
        "gone": gone_times.json(),
        "cpu": cpu_times.json(),
        "wms_max_rss_kib": max_rss,
    }))
}

fn close_all_in_namespace(a: &Args, runs: usize) -> Res<Value> {
    let me = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(me)
        .args(["close-all-inner", "--wms"])
        .arg(a.wms())
        .args([
            "--sessions",
            "500",
            "--procs",
            "5",
            "--runs",
            &runs.to_string(),
            "--rss",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if !out.status.success() {
        return Err(format!("unshare ... close-all-inner: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| format!("close-all-inner said {text:?}: {e}"))
}
