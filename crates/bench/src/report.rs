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
    pub close_all_ids: Option<Value>,
    pub close_all_ns: Option<Value>,
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
            "close_all_by_id": self.close_all_ids,
            "close_all_in_pid_namespace": self.close_all_ns,
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

        let _ = writeln!(o, "\n### Against SPEC 9\n");
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
}
