//! A closed standard output ends wms quietly (SPEC 6, "Unix habits"): `wms session list |
//! head -1` and its kin never panic and never complain. Standard output here is a pipe
//! whose reading end is closed before wms starts, so every write meets EPIPE.

mod common;
use common::*;
use std::process::{Command, Output, Stdio};

/// Runs `wms args...` as root with standard output a pipe that nobody reads.
fn wms_into_closed_pipe(args: &[&str], home: &std::path::Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", fast_config())
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn wms_session_list_piped_to_head_ends_quietly_and_never_panics() {
    let home = fresh_dir("closed-stdout");
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let id = s.session_id().to_string();
    for args in [
        &["session", "list"][..],
        &["session", "list", "-o", "json"],
        &[
            "Get-WmsSession",
            "-SessionId",
            &id,
            "-OutputFormat",
            "Table",
        ],
        // What-if lines and JSON results go to standard output too.
        &["session", "close", &id, "--what-if"],
        &["Close-WmsSession", &id, "-WhatIf"],
        &["session", "lock", &id, "-m", "x", "--what-if", "-o", "json"],
        &["system", "list"],
    ] {
        let out = wms_into_closed_pipe(args, &home);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "wms {args:?}: {err}");
        // Quietly: nothing on standard error but what-if lines (there with -o json).
        assert!(
            err.lines().all(|l| l.starts_with("What if: ")),
            "wms {args:?}: {err}"
        );
    }
    // Nothing was done to the session.
    assert!(session(s.session_id()).is_some());
    let _ = std::fs::remove_dir_all(home);
}
