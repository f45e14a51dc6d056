//! The agent benchmarks (issue 8): with 1,000 generated sessions of 5 processes open and a
//! `wmsd` the harness started,
//!
//! - agent-idle: the agent's resident memory after start, and its voluntary context
//!   switches before and after a quiet minute (with the host's own forks over the same
//!   minute, since every process the host creates is an event the agent receives);
//! - agent-list: `wms session list -o json` through the agent, against the same command
//!   in-process (no agent on the configured socket) and `loginctl list-sessions` in the
//!   logind sandbox, taking turns;
//! - agent-load: `GET /v1/sessions` over TLS with keep-alive at a fixed rate (oha, with
//!   its correction for coordinated omission), and the agent's resident memory under it;
//! - agent-watch: how long after a session's first process a watcher of `GET /v1/events`
//!   on the Unix socket sees its SessionNew.

use crate::agent::{forks_since_boot, Agent};
use crate::measure::{median, time_cmd, Series};
use crate::{in_mnt_ns, Args, HeldGen, Res};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wms_testkit::gen::{generate, GenOptions};

pub const NAMES: &[&str] = &["agent-idle", "agent-list", "agent-load", "agent-watch"];

/// The rate and duration of the load, as the issue sets them.
const RATE: u32 = 1000;
const LOAD_SECONDS: u32 = 10;

pub fn agent_suite(a: &Args, sandbox_ns: Option<&std::fs::File>) -> Res<Value> {
    let held = HeldGen::start(&a.bin("wms-gen"), 1000, 5, false)?;
    let t = Instant::now();
    let agent = Agent::start(&a.bin_dir, "agent")?;
    let startup_ms = t.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "wms-bench: agent PID {} answering after {startup_ms:.0} ms",
        agent.pid()
    );

    // Check that wms, through the agent, sees exactly what was generated.
    let before = agent.sessions_requests()?;
    let out = agent
        .wms(&a.wms())
        .args(["session", "list", "-o", "json"])
        .output()
        .map_err(|e| format!("run wms: {e}"))?;
    let after = agent.sessions_requests()?;
    if after < before + 1.0 {
        return Err("`wms session list` did not go through the agent".into());
    }
    let listed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ok = listed
        .iter()
        .filter(|s| {
            s["SessionId"]
                .as_u64()
                .is_some_and(|id| held.ids.contains(&(id as u32)))
                && s["ProcessCount"] == 5
        })
        .count();
    if ok != held.ids.len() {
        return Err(format!(
            "the agent lists {ok} of the {} generated sessions correctly",
            held.ids.len()
        ));
    }

    let mut r = json!({
        "sessions": held.ids.len(),
        "processes_per_session": 5,
        "processes_on_host": crate::ps_count(),
        "startup_ms": (startup_ms * 10.0).round() / 10.0,
        "limits_raised": crate::agent::RAISED_LIMITS.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>(),
    });
    if a.wants("agent-idle") {
        eprintln!("wms-bench: agent idle for {} s", idle_seconds(a));
        r["idle"] = idle(a, &agent)?;
    }
    if a.wants("agent-list") {
        eprintln!("wms-bench: wms session list through the agent");
        r["list"] = list(a, &agent, sandbox_ns)?;
    }
    if a.wants("agent-load") {
        match &a.oha {
            Some(oha) => {
                eprintln!("wms-bench: GET /v1/sessions at {RATE}/s for {LOAD_SECONDS} s (oha)");
                r["load"] = load(oha, &agent)?;
            }
            None => r["load_missing"] = json!("oha was not found"),
        }
    }
    if a.wants("agent-watch") {
        eprintln!("wms-bench: a watcher of /v1/events and new sessions");
        r["watch"] = watch(a, &agent)?;
    }
    drop(agent);
    drop(held);
    Ok(r)
}

fn idle_seconds(a: &Args) -> u64 {
    if a.quick {
        20
    } else {
        60
    }
}

fn idle(a: &Args, agent: &Agent) -> Res<Value> {
    // Let the start (the first scan, the journal's snapshot) settle.
    std::thread::sleep(Duration::from_secs(2));
    let take = || {
        json!({
            "vm_rss_kib": agent.status_field("VmRSS"),
            "vm_hwm_kib": agent.status_field("VmHWM"),
            // The agent's own memory, and the pages of its program and libraries (shared
            // with the page cache).
            "rss_anon_kib": agent.status_field("RssAnon"),
            "rss_file_kib": agent.status_field("RssFile"),
            // Of every thread: /proc/PID/status counts only the main thread's.
            "voluntary_ctxt_switches": crate::agent::threads_sum(agent.pid(), "voluntary_ctxt_switches"),
            "nonvoluntary_ctxt_switches": crate::agent::threads_sum(agent.pid(), "nonvoluntary_ctxt_switches"),
            "threads": agent.status_field("Threads"),
            "cpu_ms": (agent.cpu_seconds() * 1e3).round(),
            "host_forks_since_boot": forks_since_boot(),
        })
    };
    let start = take();
    std::thread::sleep(Duration::from_secs(idle_seconds(a)));
    let end = take();
    let d = |k: &str| end[k].as_f64().unwrap_or(0.0) - start[k].as_f64().unwrap_or(0.0);
    Ok(json!({
        "seconds": idle_seconds(a),
        "start": start,
        "end": end,
        "voluntary_ctxt_switches_delta": d("voluntary_ctxt_switches"),
        "nonvoluntary_ctxt_switches_delta": d("nonvoluntary_ctxt_switches"),
        "cpu_ms_delta": d("cpu_ms"),
        "host_forks_delta": d("host_forks_since_boot"),
    }))
}

fn list(a: &Args, agent: &Agent, sandbox_ns: Option<&std::fs::File>) -> Res<Value> {
    let wms = a.wms();
    let make = |i: usize| -> Option<Command> {
        match i {
            0 => {
                let mut c = agent.wms(&wms);
                c.args(["session", "list", "-o", "json"]);
                Some(c)
            }
            1 => {
                // WMS_CONFIG of the harness: no agent on its socket.
                let mut c = Command::new(&wms);
                c.args(["session", "list", "-o", "json"]);
                Some(c)
            }
            _ => sandbox_ns.map(|ns| {
                let mut c = Command::new("loginctl");
                c.args(["list-sessions", "--no-pager"]);
                in_mnt_ns(&mut c, ns);
                c
            }),
        }
    };
    let loginctl_sessions = make(2).and_then(|mut c| {
        c.arg("--no-legend")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
    });
    let n = if make(2).is_some() && loginctl_sessions.is_some() {
        3
    } else {
        2
    };
    let (warmup, runs) = (3, if a.quick { 7 } else { 31 });
    let mut wall: [Series; 3] = Default::default();
    let mut cpu: [Series; 3] = Default::default();
    let requests_before = agent.sessions_requests()?;
    for round in 0..warmup + runs {
        for k in 0..n {
            let i = (round + k) % n;
            let cmd = make(i).expect("made above");
            let (w, c) = time_cmd(cmd)?;
            if round >= warmup {
                wall[i].push(w);
                cpu[i].push(c);
            }
        }
    }
    let through_agent = agent.sessions_requests()? - requests_before;
    let res = |i: usize| json!({"wall": wall[i].json(), "cpu": cpu[i].json()});
    Ok(json!({
        "runs": runs,
        "agent": res(0),
        "in_process": res(1),
        "loginctl": if n == 3 { res(2) } else { Value::Null },
        "loginctl_sessions_listed": loginctl_sessions,
        "requests_the_agent_answered": through_agent,
    }))
}

fn load(oha: &std::path::Path, agent: &Agent) -> Res<Value> {
    let url = format!("https://127.0.0.1:{}/v1/sessions", agent.port);
    // One request first: the token and TLS work.
    let oha_at = |load: &[&str]| {
        let mut cmd = Command::new(oha);
        cmd.args(load)
            .args(["--no-tui", "--insecure", "--output-format", "json"])
            .args(["-H", &format!("Authorization: Bearer {}", agent.token)])
            .arg(&url);
        run_oha(cmd)
    };
    let first = oha_at(&["-n", "1"])?;
    if first["statusCodeDistribution"]["200"].as_u64() != Some(1) {
        return Err(format!("oha's first request: {first}"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let max_rss = Arc::new(AtomicU64::new(0));
    let pid = agent.pid();
    let sampler = {
        let (stop, max_rss) = (stop.clone(), max_rss.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(v) = crate::agent::status_field(pid, "VmRSS") {
                    max_rss.fetch_max(v, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let rss_before = agent.status_field("VmRSS");
    let cpu0 = agent.cpu_seconds();
    let requests0 = agent.sessions_requests()?;
    let res = oha_at(&[
        "-z",
        &format!("{LOAD_SECONDS}s"),
        "-q",
        &RATE.to_string(),
        "--latency-correction",
        // Requests still in flight when the time is up are waited for, not counted as
        // errors ("aborted due to deadline"): every request sent is answered or failed.
        "--wait-ongoing-requests-after-deadline",
    ]);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let res = res?;
    let cpu = agent.cpu_seconds() - cpu0;
    let answered = agent.sessions_requests()? - requests0;
    let ms = |v: &Value| v.as_f64().map(|s| (s * 1e5).round() / 100.0);
    let p = &res["latencyPercentiles"];
    let summary = &res["summary"];
    let total = summary["total"].as_f64();
    let ok = res["statusCodeDistribution"]["200"].as_u64().unwrap_or(0);
    let all: u64 = res["statusCodeDistribution"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let errors: u64 = res["errorDistribution"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    Ok(json!({
        "rate": RATE,
        "seconds": LOAD_SECONDS,
        "oha_version": Command::new(oha).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default(),
        "p50_ms": ms(&p["p50"]),
        "p90_ms": ms(&p["p90"]),
        "p99_ms": ms(&p["p99"]),
        "p99_9_ms": ms(&p["p99.9"]),
        "slowest_ms": ms(&summary["slowest"]),
        "requests_per_second": summary["requestsPerSec"].as_f64(),
        "success_rate": summary["successRate"].as_f64(),
        "total_seconds": total,
        "responses": all,
        "responses_200": ok,
        "status_codes": res["statusCodeDistribution"],
        "errors": errors,
        "error_kinds": res["errorDistribution"],
        "agent_answered": answered,
        "agent_cpu_ms": (cpu * 1e3).round(),
        "agent_vm_rss_kib_before": rss_before,
        "agent_vm_rss_kib_max": max_rss.load(Ordering::Relaxed),
        "agent_vm_hwm_kib": agent.status_field("VmHWM"),
    }))
}

fn run_oha(mut cmd: Command) -> Res<Value> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run oha: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "oha failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "oha's output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn watch(a: &Args, agent: &Agent) -> Res<Value> {
    let events = agent.watch()?;
    // The stream begins with Ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok((_, kind, _)) if kind == "Ready" => break,
            Ok(_) => {}
            Err(_) => return Err("no Ready event on /v1/events within 10 s".into()),
        }
    }
    let n = if a.quick { 15 } else { 50 };
    let mut from_start = Series::default();
    let mut from_open = Series::default();
    let mut missed = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let g = generate(&GenOptions::new(1, 5)).map_err(|e| format!("generate: {e}"))?;
        let t1 = Instant::now();
        let id = u64::from(g.sessions[0].id);
        let end = t0 + Duration::from_secs(5);
        let mut seen = None;
        while seen.is_none() {
            let left = end.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok((when, kind, sid)) if kind == "SessionNew" && sid == id => seen = Some(when),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        match seen {
            Some(when) => {
                from_start.push(when.duration_since(t0).as_secs_f64());
                // Negative when the event came before the generator returned.
                from_open.push(when.saturating_duration_since(t1).as_secs_f64());
            }
            None => missed += 1,
        }
        drop(g);
        // Let the SessionRemoved go by, so that each new session is seen on its own.
        std::thread::sleep(Duration::from_millis(100));
        while events.try_recv().is_ok() {}
    }
    let v = from_start.json();
    let runs: Vec<f64> = v["runs_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    Ok(json!({
        "sessions": n,
        "missed": missed,
        "from_generate_start": v,
        "p99_ms": percentile(&runs, 0.99),
        "median_ms": median(&runs),
        "after_generate_returned": from_open.json(),
    }))
}

/// The `q` quantile of `v` (nearest rank).
pub fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}
