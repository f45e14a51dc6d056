//! The agent against its own OpenAPI document, with schemathesis (PyPI): every operation
//! fuzzed, POST included, and every answer checked against the document (status codes,
//! content types, schemas; valid requests accepted and invalid ones refused).
//!
//! `all: true` really closes, disconnects and locks, so the agent runs as PID 1 of a
//! private PID namespace (with its own /proc) that holds nothing but a few sessions made
//! for it: whatever schemathesis asks for can touch nothing else. There the kernel's
//! process events cannot be had, so the agent has no live table and `/v1/events` answers
//! 503; the event stream is left out here and tested against real sessions in
//! crates/cli/tests/live.rs.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The agent in its namespace; the namespace (and everything in it) goes when dropped.
struct Namespaced(std::process::Child);

impl Drop for Namespaced {
    fn drop(&mut self) {
        // `unshare --kill-child` takes the agent, PID 1 of the namespace, and with it
        // every process there.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn schemathesis_finds_no_failure_against_the_openapi_document() {
    let schemathesis = std::env::var("WMS_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let dir = fresh_dir("schema");
    let port = free_port();
    // Rate limits far above what the run sends: they are tested elsewhere, and a 429
    // here would only hide what was asked. Idle deadlines long enough for schemathesis's
    // pauses between requests on a busy machine: a kept-alive connection the agent closed
    // as idle fails the client's next POST on it (it does not retry a POST), which says
    // nothing about the API.
    let config = config_in(
        &dir,
        port,
        "actions_burst = 1000000\nactions_per_second = 1000000.0\nauth_failures_burst = 1000000\nauth_failures_per_minute = 1000000.0\nidle_timeout = 600\nheader_timeout = 600\n",
    );
    let token = text(
        &wmsd(
            &config,
            &["token", "create", "--name", "schema", "--role", "admin"],
        )
        .stdout,
    )
    .trim()
    .to_string();
    assert!(token.starts_with("wms_"), "no token: {token}");
    let owner = wms_testkit::user(wms_testkit::Role::Plain2);
    let sessions = format!(
        "for i in 1 2 3; do sh -c 'echo {uid} > /proc/self/loginuid && exec sleep 600' & done; exec env WMS_CONFIG={cfg} {wmsd}",
        uid = owner.uid,
        cfg = config.display(),
        wmsd = env!("CARGO_BIN_EXE_wmsd"),
    );
    let agent = Namespaced(
        Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child=SIGKILL",
                "sh",
                "-c",
            ])
            .arg(&sessions)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)"),
    );
    let end = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "the agent never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(&schemathesis)
        .arg("run")
        .arg(format!("https://127.0.0.1:{port}/openapi.json"))
        .args(["--tls-verify", "false", "--checks", "all", "--exclude-path", "/v1/events"])
        .args(["--max-examples", "150", "--workers", "1", "--no-color", "--seed", "1"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {schemathesis} ({e}): scripts/test installs it (pip install schemathesis)")
        });
    drop(agent);
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    // It really tested the operations (a run that tested nothing would also succeed):
    // every one but the event stream.
    assert!(report.contains("Tested: 5"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
