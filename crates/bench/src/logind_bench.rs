//! Listing sessions that a real logind registered (issue 10's performance target): 250
//! sessions opened inside the logind sandbox as a login service opens them (a new audit
//! session, then `su` with pam_systemd), listed by `wms session list --class all` through
//! logind (its default there), by wms from `/proc` alone (`WMS_SESSION_SOURCE=proc`), and
//! by `loginctl list-sessions`, taking turns. Every session it opened is ended by its audit
//! session ID afterwards.

use crate::measure::{time_cmd, Series};
use crate::{in_mnt_ns, Args, Res};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
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
    let result = measure(a, &ns, &wms, ids.len());
    for id in &ids {
        wms_testkit::kill_session(*id);
    }
    for mut c in openers {
        let _ = c.wait();
    }
    result
}

fn measure(a: &Args, ns: &std::fs::File, wms: &std::path::Path, sessions: usize) -> Res<Value> {
    let make = |i: usize| {
        let mut c = match i {
            0 => {
                let mut c = Command::new(wms);
                c.args(["session", "list", "--class", "all", "-o", "json"])
                    .env("WMS_SESSION_SOURCE", "logind");
                c
            }
            1 => {
                let mut c = Command::new(wms);
                c.args(["session", "list", "--class", "all", "-o", "json"])
                    .env("WMS_SESSION_SOURCE", "proc");
                c
            }
            _ => {
                let mut c = Command::new("loginctl");
                c.args(["list-sessions", "--no-pager"]);
                c
            }
        };
        // The harness's configuration lies in this /tmp, not the sandbox's; no agent
        // runs in there.
        c.env_remove("WMS_CONFIG");
        in_mnt_ns(&mut c, ns);
        c
    };
    let (warmup, runs) = (2, if a.quick { 5 } else { 21 });
    let mut wall: [Series; 3] = Default::default();
    let mut cpu: [Series; 3] = Default::default();
    for round in 0..warmup + runs {
        for k in 0..3 {
            let i = (round + k) % 3;
            let (w, c) = time_cmd(make(i))?;
            if round >= warmup {
                wall[i].push(w);
                cpu[i].push(c);
            }
        }
    }
    let res = |i: usize| json!({"wall": wall[i].json(), "cpu": cpu[i].json()});
    Ok(json!({
        "sessions": sessions,
        "runs": runs,
        "wms_logind": res(0),
        "wms_proc": res(1),
        "loginctl": res(2),
    }))
}
