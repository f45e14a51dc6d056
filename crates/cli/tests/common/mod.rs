//! Shared helpers for the integration tests: the real `wms` binary, run as root outside
//! any session or as a test user inside a real ssh session.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
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
