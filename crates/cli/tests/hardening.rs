//! Hardening: PID reuse while a close works, hostile /proc content, users that do not
//! resolve, processes that exit mid-scan, and many wms processes closing overlapping sets.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn pids_reused_during_a_close_never_receive_a_signal() {
    let dir = tempdir("churn");
    let config = wms_testkit::config_file("grace_period = 4\nkill_timeout = 10\n");
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "bash"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/scripts/pid_churn.sh"
        ))
        .arg(wms_path())
        .arg(&dir)
        .env("WMS_CONFIG", &config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}");
    let reused: u32 = text
        .split("reused=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {text}"));
    // The test means something only if PIDs really were reused under the close.
    assert!(reused >= 20, "only {reused} PIDs were reused: {text}");
    assert!(text.contains("\"Outcome\":\"Done\""), "{text}");
    eprintln!("{text}");
}

fn tempdir(tag: &str) -> String {
    let d = std::env::temp_dir().join(format!("wms-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.display().to_string()
}

/// A login session opened directly (as pam_loginuid does): `script` runs as root with
/// loginuid `uid` in a new audit session. Returns the child and the session ID.
// The child is handed to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
fn direct_session(uid: u32, script: &str) -> (Child, u32) {
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!("echo {uid} > /proc/self/loginuid || exit 1\n{script}"),
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let id = wms_testkit::process_session_id(pid);
        let login = std::fs::read_to_string(format!("/proc/{pid}/loginuid")).unwrap_or_default();
        if let Some(id) = id.filter(|_| login.trim() == uid.to_string()) {
            return (child, id);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no session for {pid}: sessionid {id:?}, loginuid {login:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn hostile_process_names_are_listed_and_closed() {
    let dir = tempdir("names");
    // Names that would shift the fields of /proc/PID/stat if it were split naively.
    let names = ["a) Z 1 2 (b", "x\ny) R 9", "(((", "sp ace )) T"];
    let mut script = String::new();
    for n in names {
        let path = format!("{dir}/{n}");
        std::fs::copy("/bin/sleep", &path).unwrap();
        script.push_str(&format!("'{path}' 600 & "));
    }
    script.push_str("exec sleep 600");
    let (mut child, id) = direct_session(0, &script);
    let end = Instant::now() + Duration::from_secs(10);
    while session_pids(id).len() < names.len() + 1 {
        assert!(Instant::now() < end);
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = session(id).unwrap();
    assert_eq!(s["ProcessCount"], names.len() as u64 + 1, "{s}");
    assert_eq!(s["UserName"], "root", "{s}");
    let table = wms(&["session", "list", &id.to_string(), "-o", "table"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let out = wms(&["session", "close", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(session_pids(id).is_empty());
    let _ = child.wait();
}

#[test]
fn a_user_that_does_not_resolve_is_shown_by_number_and_can_be_closed() {
    let (mut child, id) = direct_session(54321, "exec sleep 600");
    let s = session(id).unwrap();
    assert_eq!(s["UserName"], "54321", "{s}");
    assert_eq!(s["IsAdmin"], false, "{s}");
    // Groups in the configuration that do not exist make nobody an administrator.
    let config = wms_testkit::config_file(
        "admin_groups = [\"no-such-group-wms\"]\noperator_groups = [\"nor-this-one\"]\n",
    );
    let out = Command::new(wms_path())
        .args(["session", "list", &id.to_string(), "-o", "json"])
        .env("WMS_CONFIG", &config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"UserName\":\"54321\""),
        "{}",
        stdout(&out)
    );
    let out = wms(&["session", "close", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(session_pids(id).is_empty());
    let _ = child.wait();
}

#[test]
fn listing_while_processes_come_and_go_never_fails() {
    // A session that starts and reaps short-lived processes as fast as it can.
    let (mut child, id) = direct_session(
        0,
        "i=0; while [ $i -lt 100000 ]; do /bin/true & /bin/true & wait; i=$((i+1)); done",
    );
    // Five listings while it churns, however long they take on a busy machine.
    for _ in 0..5 {
        let out = wms(&["session", "list", "-o", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        for line in stdout(&out).lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("valid JSON while churning");
            assert!(v["ProcessCount"].as_u64().unwrap() >= 1, "{v}");
        }
    }
    let out = wms(&["session", "close", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(session_pids(id).is_empty());
    let _ = child.wait();
}

#[test]
fn concurrent_closes_of_overlapping_sets_report_only_done_or_not_found() {
    let sessions: Vec<(Child, u32)> = (0..12)
        .map(|_| direct_session(54322, "sleep 600 & sleep 601 & exec sleep 602"))
        .collect();
    let bystander = direct_session(54322, "exec sleep 600");
    let keep = session_pids(bystander.1);
    let ids: Vec<u32> = sessions.iter().map(|s| s.1).collect();
    // Four wms processes, each closing a window of six that overlaps its neighbours.
    let closers: Vec<(Vec<u32>, Child)> = (0..4)
        .map(|k| {
            let set: Vec<u32> = ids.iter().copied().cycle().skip(k * 3).take(6).collect();
            let arg = set.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let child = Command::new(wms_path())
                .args(["session", "close", &arg, "-o", "json"])
                .env("WMS_CONFIG", fast_config())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (set, child)
        })
        .collect();
    for (set, child) in closers {
        let out = child.wait_with_output().unwrap();
        let results: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(results.len(), set.len(), "{results:?} {}", stderr(&out));
        for r in &results {
            assert!(
                r["Outcome"] == "Done" || r["Outcome"] == "NotFound",
                "{r} {}",
                stderr(&out)
            );
        }
    }
    for id in &ids {
        assert!(session_pids(*id).is_empty(), "session {id} survived");
    }
    assert_untouched(bystander.1, &keep);
    for (mut c, _) in sessions.into_iter().chain(std::iter::once(bystander)) {
        let _ = c.kill();
        let _ = c.wait();
    }
}
