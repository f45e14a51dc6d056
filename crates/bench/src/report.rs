//! The machine and the figures: JSON for `target/bench/results.json`, Markdown for the
//! results section of BENCHMARKS.md, and a short summary for the terminal.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BEGIN: &str =
    "<!-- results:begin (written by scripts/bench; edits here are overwritten) -->";
pub const END: &str = "<!-- results:end -->";

#[derive(Default)]
pub struct Report {
    pub machine: Value,
    pub list: Vec<(String, Value)>,
    pub close_one_gen: Option<Value>,
    pub close_one_sandbox: Option<Value>,
    /// The agent benchmarks (crates/bench/src/agent_bench.rs).
    pub agent: Option<Value>,
    pub close_all_ids: Option<Value>,
    pub close_all_ns: Option<Value>,
    /// Listing the sessions a real logind registered (crates/bench/src/logind_bench.rs).
    pub logind_list: Option<Value>,
    /// Locking 20 X desktops with one command (crates/bench/src/desktop_lock_bench.rs).
    pub desktop_lock: Option<Value>,
    /// A desktop's thumbnail through the agent against netpbm (issue 11).
    pub thumbnail: Option<Value>,
    pub notes: Vec<String>,
    bin_dir: PathBuf,
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages: other work on the machine during a run shows
/// in every elapsed time.
pub fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A list result's median elapsed time in milliseconds.
fn hf_ms(v: &Value) -> f64 {
    s_ms(&v["wall"])
}

/// A list result's median CPU time in milliseconds.
fn hf_cpu_ms(v: &Value) -> f64 {
    s_ms(&v["cpu"])
}

/// A list result as "median ms (min–max)".
fn hf_cell(v: &Value) -> String {
    s_cell(&v["wall"])
}

/// A series' median in milliseconds.
fn s_ms(v: &Value) -> f64 {
    v["median_ms"].as_f64().unwrap_or(f64::NAN)
}

fn s_cell(v: &Value) -> String {
    format!(
        "{:.1} ms ({:.1}–{:.1})",
        s_ms(v),
        v["min_ms"].as_f64().unwrap_or(f64::NAN),
        v["max_ms"].as_f64().unwrap_or(f64::NAN)
    )
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**no**"
    }
}

fn mib(kib: &Value) -> String {
    kib.as_f64()
        .map(|k| format!("{:.1} MiB", k / 1024.0))
        .unwrap_or_else(|| "–".into())
}

impl Report {
    pub fn new(bin_dir: &Path) -> Report {
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_default();
        let mem_kib: u64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        // SAFETY: getrlimit on a local struct.
        let nproc_limit = unsafe {
            let mut r: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NPROC, &mut r);
            r.rlim_cur
        };
        let machine = json!({
            "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
            "loadavg_before": loadavg(),
            "cpu": cpu,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            "kernel": sh("uname -r"),
            "os": read("/etc/debian_version"),
            "pid_max": read("/proc/sys/kernel/pid_max"),
            "ulimit_u": if nproc_limit == libc::RLIM_INFINITY { "unlimited".to_string() } else { nproc_limit.to_string() },
            "ps": sh("ps --version"),
            "wms_commit": sh("git rev-parse --short HEAD 2>/dev/null; git diff --quiet 2>/dev/null || echo '(with uncommitted changes)'").replace('\n', " "),
        });
        Report {
            machine,
            bin_dir: bin_dir.to_path_buf(),
            ..Default::default()
        }
    }

    pub fn machine_line(&self) -> String {
        let m = &self.machine;
        format!(
            "{} ({} cores), {} GiB, Linux {}, Debian {}; pid_max {}, ulimit -u {}",
            m["cpu"].as_str().unwrap_or("?"),
            m["cores"],
            m["memory_gib"],
            m["kernel"].as_str().unwrap_or("?"),
            m["os"].as_str().unwrap_or("?"),
            m["pid_max"].as_str().unwrap_or("?"),
            m["ulimit_u"].as_str().unwrap_or("?"),
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "machine": self.machine,
            "bin_dir": self.bin_dir.display().to_string(),
            "list": self.list.iter().map(|(k, v)| json!({"kind": k, "result": v})).collect::<Vec<_>>(),
            "close_one_generated": self.close_one_gen,
            "close_one_sandbox": self.close_one_sandbox,
            "agent": self.agent,
            "close_all_by_id": self.close_all_ids,
            "close_all_in_pid_namespace": self.close_all_ns,
            "list_logind_sessions": self.logind_list,
            "desktop_lock": self.desktop_lock,
            "thumbnail": self.thumbnail,
            "notes": self.notes,
        })
    }

    /// The loginctl figure (every process gone), when it was measured.
    fn loginctl_gone(&self) -> Option<f64> {
        self.close_one_sandbox
            .as_ref()
            .map(|v| s_ms(&v["loginctl"]["gone"]))
    }

    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(o, "{BEGIN}");
        let _ = writeln!(o, "## Results\n");
        let _ = writeln!(
            o,
            "Written by `scripts/bench` on {} (wms {}), on: {}. Raw figures: `target/bench/results.json`.\n",
            m["date"].as_str().unwrap_or("?"),
            m["wms_commit"].as_str().unwrap_or("?").trim(),
            self.machine_line()
        );
        let _ = writeln!(
            o,
            "Times are medians, with the fastest and slowest run in brackets; a ratio is wms's median over the baseline's median from the same run (below 1 means wms is faster). CPU is the command's own user + system time (median), which other load on the machine affects far less than elapsed time. Load average (1, 5, 15 min) before the run: {}; after: {}.\n",
            m["loadavg_before"].as_str().unwrap_or("?"),
            m["loadavg_after"].as_str().unwrap_or("?"),
        );

        let _ = writeln!(o, "### Listing 1,000 sessions of 5 processes\n");
        let _ = writeln!(
            o,
            "| sessions | `wms session list -o json` | floor | `ps -e -o pid,sess,uid,stat,comm` | wms / floor | wms / ps | CPU: wms, floor | wms max RSS |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
        for (kind, v) in &self.list {
            let (w, f, p) = (&v["wms"], &v["floor"], &v["ps"]);
            let _ = writeln!(
                o,
                "| {kind} (listed as {}; {} processes on the host) | {} | {} | {} | **{:.2}** | {:.2} | {:.1} ms, {:.1} ms | {} |",
                v["state"].as_str().unwrap_or("?"),
                v["processes_on_host"],
                hf_cell(w),
                hf_cell(f),
                hf_cell(p),
                hf_ms(w) / hf_ms(f),
                hf_ms(w) / hf_ms(p),
                hf_cpu_ms(w),
                hf_cpu_ms(f),
                mib(&v["wms_max_rss_kib"]),
            );
        }

        let _ = writeln!(
            o,
            "\n### Closing one session of 50 processes that honour SIGTERM\n"
        );
        let _ = writeln!(
            o,
            "Measured from starting the command until it has exited, and until every process of the session has exited (pidfds opened before the start).\n"
        );
        let _ = writeln!(
            o,
            "| session | command | returns | every process gone | / loginctl (gone) | wms CPU | max RSS |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        let lc = self.loginctl_gone();
        let ratio = |v: f64| {
            lc.map(|l| format!("**{:.2}**", v / l))
                .unwrap_or_else(|| "–".into())
        };
        if let Some(v) = &self.close_one_sandbox {
            let n = v["processes"].as_f64().unwrap_or(0.0);
            let _ = writeln!(
                o,
                "| ssh session in the logind sandbox ({n:.0} processes) | `loginctl terminate-session ID` | {} | {} | 1.00 (baseline) | – | – |",
                s_cell(&v["loginctl"]["command"]),
                s_cell(&v["loginctl"]["gone"]),
            );
            let _ = writeln!(
                o,
                "| the same kind of ssh session ({n:.0} processes) | `wms session close ID` | {} | {} | {} | {:.1} ms | – |",
                s_cell(&v["wms"]["command"]),
                s_cell(&v["wms"]["gone"]),
                ratio(s_ms(&v["wms"]["gone"])),
                s_ms(&v["wms"]["cpu"]),
            );
            if v["agent"].is_object() {
                let _ = writeln!(
                    o,
                    "| the same kind of ssh session ({n:.0} processes) | `wms session close ID` through the agent (of which the synced intent record alone: {}) | {} | {} | {} | {:.1} ms (client) | – |",
                    s_cell(&v["state_dir_sync"]),
                    s_cell(&v["agent"]["command"]),
                    s_cell(&v["agent"]["gone"]),
                    ratio(s_ms(&v["agent"]["gone"])),
                    s_ms(&v["agent"]["cpu"]),
                );
            }
        }
        if let Some(v) = &self.close_one_gen {
            let _ = writeln!(
                o,
                "| generated session (50 processes) | `wms session close ID` | {} | {} | {} | {:.1} ms | {} |",
                s_cell(&v["command"]),
                s_cell(&v["gone"]),
                ratio(s_ms(&v["gone"])),
                s_ms(&v["cpu"]),
                mib(&v["wms_max_rss_kib"]),
            );
            if v["agent"].is_object() {
                let _ = writeln!(
                    o,
                    "| generated session (50 processes) | `wms session close ID` through the agent | {} | {} | {} | {:.1} ms (client) | – |",
                    s_cell(&v["agent"]["command"]),
                    s_cell(&v["agent"]["gone"]),
                    ratio(s_ms(&v["agent"]["gone"])),
                    s_ms(&v["agent"]["cpu"]),
                );
            }
        }

        if let Some(v) = &self.agent {
            self.agent_markdown(&mut o, v);
        }

        let _ = writeln!(
            o,
            "\n### Closing all of 500 sessions of 5 processes (2,500 processes)\n"
        );
        let _ = writeln!(
            o,
            "| how | returns | every process gone | wms CPU | sessions Done per run | max RSS |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for (label, v) in [
            ("`wms session close -o json ID...` (the 500 generated IDs), on the host", &self.close_all_ids),
            ("`wms session close -o json --all` in a private PID namespace holding only the generated sessions", &self.close_all_ns),
        ] {
            if let Some(v) = v {
                let _ = writeln!(
                    o,
                    "| {label} | {} | {} | {:.0} ms | {} | {} |",
                    s_cell(&v["command"]),
                    s_cell(&v["gone"]),
                    s_ms(&v["cpu"]),
                    v["done_per_run"],
                    mib(&v["wms_max_rss_kib"]),
                );
            }
        }

        let _ = writeln!(o, "\n### Against the targets (SPEC 9, issue 8)\n");
        let _ = writeln!(o, "| target | figure | met |");
        let _ = writeln!(o, "|---|---|---|");
        for (kind, v) in &self.list {
            let r = hf_ms(&v["wms"]) / hf_ms(&v["floor"]);
            let _ = writeln!(
                o,
                "| list 1,000 {kind} sessions no slower than the floor | {r:.2} × floor | {} |",
                yes(r <= 1.0)
            );
        }
        if let (Some(l), Some(v)) = (lc, &self.close_one_gen) {
            let r = s_ms(&v["gone"]) / l;
            let _ = writeln!(
                o,
                "| close a session of 50 no slower than loginctl (until gone) | {r:.2} × loginctl | {} |",
                yes(r <= 1.0)
            );
        }
        if let (Some(l), Some(v)) = (lc, &self.close_one_sandbox) {
            let r = s_ms(&v["wms"]["gone"]) / l;
            let _ = writeln!(
                o,
                "| the same, on the same kind of ssh session as loginctl | {r:.2} × loginctl | {} |",
                yes(r <= 1.0)
            );
        }
        for (label, v) in [
            ("by ID", &self.close_all_ids),
            ("with --all", &self.close_all_ns),
        ] {
            if let Some(v) = v {
                let g = s_ms(&v["gone"]);
                let _ = writeln!(
                    o,
                    "| close all of 500 sessions in under 1 s ({label}) | {:.0} ms | {} |",
                    g,
                    yes(g < 1000.0)
                );
            }
        }
        if let Some(v) = &self.agent {
            self.agent_targets(&mut o, v);
        }
        if let Some(v) = &self.logind_list {
            let lc = s_ms(&v["loginctl"]["wall"]);
            let _ = writeln!(
                o,
                "\nListing the {} sessions logind registered in the sandbox ({} runs each, taking turns):\n",
                v["sessions"], v["runs"]
            );
            let _ = writeln!(o, "| command | elapsed | CPU | / loginctl |");
            let _ = writeln!(o, "|---|---|---|---|");
            for (label, key) in [
                (
                    "`wms session list --class all -o json` through logind (D-Bus)",
                    "wms_logind",
                ),
                (
                    "the same from /proc alone (`WMS_SESSION_SOURCE=proc`)",
                    "wms_proc",
                ),
                (
                    "the same through a `wmsd` in the sandbox (`session_source = \"logind\"`; the client's CPU)",
                    "wms_agent",
                ),
                ("`loginctl list-sessions`", "loginctl"),
            ] {
                if v[key].is_null() {
                    continue;
                }
                let _ = writeln!(
                    o,
                    "| {label} | {} | {:.1} ms | {:.2} |",
                    hf_cell(&v[key]),
                    hf_cpu_ms(&v[key]),
                    s_ms(&v[key]["wall"]) / lc
                );
            }
            let r = s_ms(&v["wms_logind"]["wall"]) / lc;
            let _ = writeln!(
                o,
                "| list {} logind sessions through logind no slower than loginctl list-sessions | {r:.2} × loginctl | {} |",
                v["sessions"],
                yes(r <= 1.0)
            );
            if !v["wms_agent"].is_null() {
                let r = s_ms(&v["wms_agent"]["wall"]) / lc;
                let _ = writeln!(
                    o,
                    "| the same through the agent in the sandbox (which used {:.1} ms of CPU per listing) | {r:.2} × loginctl | {} |",
                    s_ms(&v["agent_cpu"]),
                    yes(r <= 1.0)
                );
            }
        }
        if let Some(v) = &self.desktop_lock {
            let ms = |key: &str| v[key]["median_ms"].as_f64().unwrap_or(f64::NAN);
            let one = ms("lock_one");
            let _ = writeln!(
                o,
                "\nLocking {} X desktops (Xvfb 1024x768 with openbox, each in its own ssh session) with one command, against locking one of them ({} runs each, taking turns; median):\n",
                v["desktops"], v["runs"]
            );
            let _ = writeln!(o, "| command | elapsed | / one desktop |");
            let _ = writeln!(o, "|---|---|---|");
            for (label, key, base) in [
                (
                    "`wms session lock ID --message ...`, one desktop",
                    "lock_one",
                    "lock_one",
                ),
                (
                    "`wms session unlock ID`, one desktop",
                    "unlock_one",
                    "unlock_one",
                ),
                (
                    "`wms session lock ID... --message ...`, all of them",
                    "lock_all",
                    "lock_one",
                ),
                (
                    "`wms session unlock ID...`, all of them",
                    "unlock_all",
                    "unlock_one",
                ),
            ] {
                let _ = writeln!(
                    o,
                    "| {label} | {:.1} ms | {:.2} |",
                    ms(key),
                    ms(key) / ms(base)
                );
            }
            let all = ms("lock_all");
            let _ = writeln!(
                o,
                "| lock {} desktops with one command in under 1 s | {all:.0} ms ({:.2} × one) | {} |",
                v["desktops"],
                all / one,
                yes(all < 1000.0)
            );
        }
        if let Some(v) = &self.thumbnail {
            let (w, p) = (&v["wms_agent"], &v["netpbm"]);
            let _ = writeln!(
                o,
                "\n### A desktop's thumbnail\n\nA Medium thumbnail (320x180 PNG) of a {} Xvfb desktop in a real ssh session, {} runs each, taking turns:\n",
                v["screen"].as_str().unwrap_or("?"),
                v["runs"]
            );
            let _ = writeln!(o, "| command | elapsed | / netpbm |");
            let _ = writeln!(o, "|---|---|---|");
            let r = s_ms(w) / s_ms(p);
            let _ = writeln!(
                o,
                "| `GET /v1/sessions/ID/thumbnail?size=medium` (wmsd) | {} | **{r:.2}** |",
                s_cell(w)
            );
            let _ = writeln!(
                o,
                "| `xwd -root \\| xwdtopnm \\| pnmscale -width 320 \\| pnmtopng` | {} | 1 |",
                s_cell(p)
            );
            let _ = writeln!(
                o,
                "| a Medium thumbnail of a 1920x1080 desktop through the agent in under 50 ms | {:.1} ms | {} |",
                s_ms(w),
                yes(s_ms(w) < 50.0)
            );
        }
        for n in &self.notes {
            let _ = writeln!(o, "\nNote: {n}");
        }
        let _ = writeln!(o, "\n{END}");
        o
    }

    /// Replaces the results section of `path` (or appends one).
    pub fn write_markdown(&self, path: &Path) -> std::io::Result<()> {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let section = self.markdown();
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => {
                format!(
                    "{}{}{}",
                    &old[..b],
                    section.trim_end(),
                    &old[e + END.len()..]
                )
            }
            _ if old.is_empty() => format!("# Benchmarks\n\n{section}"),
            _ => format!("{}\n\n{section}", old.trim_end()),
        };
        std::fs::write(path, new)
    }

    pub fn summary(&self) -> String {
        let mut o = String::new();
        for (kind, v) in &self.list {
            let _ = writeln!(
                o,
                "list {kind}: wms {:.1} ms, floor {:.1} ms, ps {:.1} ms (wms/floor {:.2})",
                hf_ms(&v["wms"]),
                hf_ms(&v["floor"]),
                hf_ms(&v["ps"]),
                hf_ms(&v["wms"]) / hf_ms(&v["floor"])
            );
        }
        if let Some(v) = &self.close_one_sandbox {
            let _ = writeln!(
                o,
                "close one ssh session: loginctl gone {:.1} ms, wms gone {:.1} ms",
                s_ms(&v["loginctl"]["gone"]),
                s_ms(&v["wms"]["gone"])
            );
        }
        if let Some(v) = &self.close_one_gen {
            let _ = writeln!(
                o,
                "close one generated session of 50: wms gone {:.1} ms",
                s_ms(&v["gone"])
            );
        }
        if let Some(v) = &self.agent {
            if v["list"].is_object() {
                let _ = writeln!(
                    o,
                    "list through the agent: {:.1} ms; in-process {:.1} ms; loginctl {:.1} ms",
                    s_ms(&v["list"]["agent"]["wall"]),
                    s_ms(&v["list"]["in_process"]["wall"]),
                    s_ms(&v["list"]["loginctl"]["wall"]),
                );
            }
            if v["load"].is_object() {
                let l = &v["load"];
                let _ = writeln!(
                    o,
                    "GET /v1/sessions at {}/s: p99 {} ms, {} of {} answered 200, {} errors, agent max RSS {}",
                    l["rate"], l["p99_ms"], l["responses_200"], l["responses"], l["errors"],
                    mib(&l["agent_vm_rss_kib_max"]),
                );
            }
            if v["idle"].is_object() {
                let i = &v["idle"];
                let _ = writeln!(
                    o,
                    "idle {} s: RSS {}, voluntary context switches +{} (host forks +{})",
                    i["seconds"],
                    mib(&i["end"]["vm_rss_kib"]),
                    i["voluntary_ctxt_switches_delta"],
                    i["host_forks_delta"],
                );
            }
            if v["watch"].is_object() {
                let w = &v["watch"];
                let _ = writeln!(
                    o,
                    "SessionNew seen: median {:.1} ms, p99 {:.1} ms, missed {}",
                    w["median_ms"].as_f64().unwrap_or(f64::NAN),
                    w["p99_ms"].as_f64().unwrap_or(f64::NAN),
                    w["missed"],
                );
            }
        }
        if let Some(v) = &self.close_all_ids {
            let _ = writeln!(o, "close 500 by id: gone {:.1} ms", s_ms(&v["gone"]));
        }
        if let Some(v) = &self.close_all_ns {
            let _ = writeln!(
                o,
                "close --all 500 in a PID namespace: gone {:.1} ms",
                s_ms(&v["gone"])
            );
        }
        o
    }

    fn agent_markdown(&self, o: &mut String, v: &Value) {
        let _ = writeln!(
            o,
            "\n### The agent, with {} sessions of {} processes open\n",
            v["sessions"], v["processes_per_session"]
        );
        let limits: Vec<String> = v["limits_raised"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(|l| format!("`{l}`")))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "A `wmsd` the harness started (release build; its own configuration, Unix socket, state directory, TLS on 127.0.0.1 with its self-signed certificate, an admin token), answering {:.0} ms after it was started with {} processes on the host. Limits raised above the defaults so that the benchmarks' own load is not refused: {}; everything else is the default.\n",
            v["startup_ms"].as_f64().unwrap_or(f64::NAN),
            v["processes_on_host"],
            limits.join(", "),
        );
        let l = &v["list"];
        if l.is_object() {
            let a = s_ms(&l["agent"]["wall"]);
            let ip = s_ms(&l["in_process"]["wall"]);
            let lc = &l["loginctl"];
            let lcr = |x: f64| {
                if lc.is_object() {
                    format!("{:.2}", x / s_ms(&lc["wall"]))
                } else {
                    "–".into()
                }
            };
            let _ = writeln!(
                o,
                "`wms session list -o json` end to end (from starting the command until it exited; {} runs each, taking turns, after 3 warm-up rounds; the agent's metrics show it answered {} listings in that time, one for each run and warm-up of the command through it):\n",
                l["runs"], l["requests_the_agent_answered"]
            );
            let _ = writeln!(o, "| command | elapsed | CPU | / in-process | / loginctl |");
            let _ = writeln!(o, "|---|---|---|---|---|");
            let _ = writeln!(
                o,
                "| `wms session list -o json` through the agent | {} | {:.1} ms | **{:.3}** | {} |",
                hf_cell(&l["agent"]),
                hf_cpu_ms(&l["agent"]),
                a / ip,
                lcr(a)
            );
            let _ = writeln!(
                o,
                "| the same with no agent on the configured socket (in-process scan of /proc) | {} | {:.1} ms | 1.00 (baseline) | {} |",
                hf_cell(&l["in_process"]),
                hf_cpu_ms(&l["in_process"]),
                lcr(ip)
            );
            if lc.is_object() {
                let _ = writeln!(
                    o,
                    "| `loginctl list-sessions` in the logind sandbox (it lists the {} sessions logind registered, not the generated ones, which logind never sees) | {} | {:.1} ms | {:.2} | 1.00 (baseline) |",
                    l["loginctl_sessions_listed"],
                    hf_cell(lc),
                    hf_cpu_ms(lc),
                    s_ms(&lc["wall"]) / ip,
                );
            }
        }
        let ld = &v["load"];
        if ld.is_object() {
            let p99 = ld["p99_ms"].as_f64().unwrap_or(f64::NAN);
            let _ = writeln!(
                o,
                "\n`GET /v1/sessions` over TLS with keep-alive at a fixed rate, `oha -z {}s -q {} --latency-correction --wait-ongoing-requests-after-deadline` ({}; its default 50 connections; requests in flight at the end are waited for; latencies corrected for coordinated omission, so a stall counts for every request it delayed):\n",
                ld["seconds"],
                ld["rate"],
                ld["oha_version"].as_str().unwrap_or("oha"),
            );
            let _ = writeln!(
                o,
                "| p50 | p90 | p99 | p99.9 | slowest | p99 / 5 ms target | answered 200 / all | errors | rate reached | agent CPU | agent VmRSS before, highest |"
            );
            let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|");
            let f = |k: &str| {
                ld[k]
                    .as_f64()
                    .map(|x| format!("{x:.2} ms"))
                    .unwrap_or_else(|| "–".into())
            };
            let _ = writeln!(
                o,
                "| {} | {} | **{}** | {} | {} | **{:.2}** | {} / {} | {} | {:.0}/s | {} ms | {}, {} |",
                f("p50_ms"),
                f("p90_ms"),
                f("p99_ms"),
                f("p99_9_ms"),
                f("slowest_ms"),
                p99 / 5.0,
                ld["responses_200"],
                ld["responses"],
                ld["errors"],
                ld["requests_per_second"].as_f64().unwrap_or(f64::NAN),
                ld["agent_cpu_ms"],
                mib(&ld["agent_vm_rss_kib_before"]),
                mib(&ld["agent_vm_rss_kib_max"]),
            );
            if l.is_object() {
                let _ = writeln!(
                    o,
                    "\nFor scale: one in-process `wms session list -o json` (a scan of /proc, what each request cost before the live table) took {:.1} ms in this run, {:.0} times that p99.",
                    s_ms(&l["in_process"]["wall"]),
                    s_ms(&l["in_process"]["wall"]) / p99
                );
            }
        } else if let Some(why) = v["load_missing"].as_str() {
            let _ = writeln!(
                o,
                "\n`GET /v1/sessions` under load was not measured: {why}."
            );
        }
        let i = &v["idle"];
        if i.is_object() {
            let _ = writeln!(
                o,
                "\nIdle: the agent left alone for {} s (no client), 2 s after it answered:\n",
                i["seconds"]
            );
            let _ = writeln!(
                o,
                "| VmRSS at the start, at the end | of which its own memory (RssAnon), program and libraries (RssFile) at the end | voluntary context switches: start, end (change) | involuntary (change) | agent CPU in the {} s | tasks the host created in the same time | threads |",
                i["seconds"]
            );
            let _ = writeln!(o, "|---|---|---|---|---|---|---|");
            let _ = writeln!(
                o,
                "| {}, {} | {}, {} | {}, {} (**+{}**) | +{} | {} ms | {} | {} |",
                mib(&i["start"]["vm_rss_kib"]),
                mib(&i["end"]["vm_rss_kib"]),
                mib(&i["end"]["rss_anon_kib"]),
                mib(&i["end"]["rss_file_kib"]),
                i["start"]["voluntary_ctxt_switches"],
                i["end"]["voluntary_ctxt_switches"],
                i["voluntary_ctxt_switches_delta"],
                i["nonvoluntary_ctxt_switches_delta"],
                i["cpu_ms_delta"],
                i["host_forks_delta"],
                i["end"]["threads"],
            );
        }
        let w = &v["watch"];
        if w.is_object() {
            let _ = writeln!(
                o,
                "\nA watcher (`GET /v1/events` on the Unix socket, the harness's own SSE client) and {} new sessions of 5 processes opened one at a time by the generator: from just before the generator starts (the leader's fork and its write of the login uid come right after) to the SessionNew event's arrival at the watcher.\n",
                w["sessions"]
            );
            let _ = writeln!(
                o,
                "| median | p99 | fastest–slowest | missed (no SessionNew within 5 s) | from when the generator returned (all 5 processes there), median |"
            );
            let _ = writeln!(o, "|---|---|---|---|---|");
            let fs = &w["from_generate_start"];
            let _ = writeln!(
                o,
                "| **{:.1} ms** | **{:.1} ms** | {:.1}–{:.1} ms | {} | {:.1} ms |",
                w["median_ms"].as_f64().unwrap_or(f64::NAN),
                w["p99_ms"].as_f64().unwrap_or(f64::NAN),
                fs["min_ms"].as_f64().unwrap_or(f64::NAN),
                fs["max_ms"].as_f64().unwrap_or(f64::NAN),
                w["missed"],
                s_ms(&w["after_generate_returned"]),
            );
        }
    }

    /// The rows of the targets table that issue 8 sets for the agent.
    fn agent_targets(&self, o: &mut String, v: &Value) {
        let mb = |kib: &Value| kib.as_f64().map(|k| k * 1024.0 / 1e6);
        if v["load"].is_object() {
            let l = &v["load"];
            let p99 = l["p99_ms"].as_f64().unwrap_or(f64::NAN);
            let errors = l["errors"].as_u64().unwrap_or(0);
            let bad =
                l["responses"].as_u64().unwrap_or(0) - l["responses_200"].as_u64().unwrap_or(0);
            let _ = writeln!(
                o,
                "| `GET /v1/sessions` at 1,000/s over TLS: p99 under 5 ms, no errors | p99 {p99:.2} ms ({:.2} × target), {errors} errors, {bad} answers not 200 | {} |",
                p99 / 5.0,
                yes(p99 < 5.0 && errors == 0 && bad == 0)
            );
            let m = mb(&l["agent_vm_rss_kib_max"]).unwrap_or(f64::NAN);
            let _ = writeln!(
                o,
                "| agent resident memory under that load under 30 MB | {m:.1} MB | {} |",
                yes(m < 30.0)
            );
        }
        if v["list"].is_object() {
            let a = s_ms(&v["list"]["agent"]["wall"]);
            let _ = writeln!(
                o,
                "| `wms session list -o json` through the agent under 5 ms | {a:.1} ms | {} |",
                yes(a < 5.0)
            );
        }
        if v["idle"].is_object() {
            let i = &v["idle"];
            let m = mb(&i["end"]["vm_rss_kib"]).unwrap_or(f64::NAN);
            let _ = writeln!(
                o,
                "| agent idle: resident memory under 10 MB | {m:.1} MB | {} |",
                yes(m < 10.0)
            );
            let d = i["voluntary_ctxt_switches_delta"]
                .as_f64()
                .unwrap_or(f64::NAN);
            let _ = writeln!(
                o,
                "| agent idle: no wake-ups over {} s (voluntary context switches unchanged) | +{d:.0} (the host created {} tasks meanwhile) | {} |",
                i["seconds"],
                i["host_forks_delta"],
                yes(d == 0.0)
            );
        }
        if v["watch"].is_object() {
            let w = &v["watch"];
            let p99 = w["p99_ms"].as_f64().unwrap_or(f64::NAN);
            let _ = writeln!(
                o,
                "| a watcher sees a new session within 50 ms of its first process | median {:.1} ms, p99 {p99:.1} ms, {} missed | {} |",
                w["median_ms"].as_f64().unwrap_or(f64::NAN),
                w["missed"],
                yes(p99 < 50.0 && w["missed"] == 0)
            );
        }
        if let Some(l) = self.loginctl_gone() {
            for (label, x) in [
                (
                    "ssh session",
                    self.close_one_sandbox.as_ref().map(|v| &v["agent"]),
                ),
                (
                    "generated session",
                    self.close_one_gen.as_ref().map(|v| &v["agent"]),
                ),
            ] {
                if let Some(x) = x.filter(|x| x.is_object()) {
                    let r = s_ms(&x["gone"]) / l;
                    let _ = writeln!(
                        o,
                        "| close one {label} of 50 through the agent at most 0.7 × loginctl (until gone) | {r:.2} × loginctl | {} |",
                        yes(r <= 0.7)
                    );
                }
            }
        }
    }
}
