//! Lock-WmsSession and Unlock-WmsSession against real ssh terminal sessions, reading the
//! client's screen through its pty as the user sees it.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn mark() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

/// An interactive bash on a real terminal, with a known prompt.
fn shell(sshd: &Sshd) -> SshSession {
    let s = sshd.open_session(
        &user(Role::Plain),
        "exec env PS1='wms$ ' bash --norc --noprofile -i",
        true,
    );
    wait_screen(&s, "a prompt", |t| t.contains("wms$ "));
    s
}

fn size(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn lock_shows_the_message_swallows_input_and_unlock_restores_the_screen() {
    let sshd = Sshd::start();
    let mut s = shell(&sshd);
    let id = s.session_id().to_string();
    let m = mark();
    let bg = format!("/tmp/wms-bg-{m}");
    let forbidden = format!("/tmp/wms-locked-{m}");
    s.send(format!("echo before-{m}\r").as_bytes());
    wait_screen(&s, "the echo", |t| t.contains(&format!("\nbefore-{m}")));
    s.send(format!("(while :; do echo x >> {bg}; sleep 0.1; done) &\r").as_bytes());
    let end = Instant::now() + Duration::from_secs(10);
    while size(&bg) == 0 {
        assert!(Instant::now() < end, "background job never wrote");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the shell print its job line and prompt, then remember the screen.
    std::thread::sleep(Duration::from_millis(500));
    let before = screen(&s);

    let out = wms(&[
        "session",
        "lock",
        &id,
        "--message",
        &format!("Exam over {m}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "the lock notice", |t| {
        t.contains("This session is locked.") && t.contains(&format!("Exam over {m}"))
    });
    let listed = session(s.session_id()).unwrap();
    assert_eq!(listed["IsLocked"], true, "{listed}");
    assert_eq!(listed["LockMessage"], format!("Exam over {m}"), "{listed}");

    // What the user types reaches nothing; the background job keeps writing.
    let written = size(&bg);
    s.send(format!("touch {forbidden}\r").as_bytes());
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        !Path::new(&forbidden).exists(),
        "typed command ran while locked"
    );
    assert!(
        size(&bg) > written,
        "the background job stopped while locked"
    );
    assert!(
        !screen(&s).contains("touch"),
        "typed keys were echoed:\n{}",
        screen(&s)
    );

    let out = wms(&["Unlock-WmsSession", "-SessionId", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = wait_screen(&s, "the screen from before the lock", |t| t == before);
    assert!(after.contains(&format!("before-{m}")));
    s.send(format!("echo after-{m}\r").as_bytes());
    wait_screen(&s, "the shell answering", |t| {
        t.contains(&format!("\nafter-{m}"))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !Path::new(&forbidden).exists(),
        "keys typed while locked ran after unlock"
    );
    assert_eq!(session(s.session_id()).unwrap()["IsLocked"], false);
    let _ = std::fs::remove_file(&bg);
}

#[test]
fn a_lock_outlives_the_process_that_made_it() {
    let sshd = Sshd::start();
    let mut s = shell(&sshd);
    let id = s.session_id().to_string();
    s.send(b"echo ready-to-lock\r");
    wait_screen(&s, "the echo", |t| t.contains("\nready-to-lock"));
    std::thread::sleep(Duration::from_millis(300));
    let before = screen(&s);
    let mut locker = Command::new(wms_path())
        .args(["session", "lock", &id, "-m", "Back in five"])
        .env("WMS_CONFIG", fast_config())
        .spawn()
        .unwrap();
    wait_screen(&s, "the lock notice", |t| t.contains("Back in five"));
    // The locking process is killed outright (a no-op if it has already finished).
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(session(s.session_id()).unwrap()["IsLocked"], true);
    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "the screen from before the lock", |t| t == before);
    s.send(b"echo unlocked-ok\r");
    wait_screen(&s, "the shell answering", |t| t.contains("\nunlocked-ok"));
}

#[test]
fn a_full_screen_program_redraws_after_unlock() {
    let sshd = Sshd::start();
    let mut s = shell(&sshd);
    let id = s.session_id().to_string();
    s.send(b"seq 1000 | less\r");
    wait_screen(&s, "less", |t| {
        t.contains("\n23\n") && !t.contains("wms$ seq")
    });
    let out = wms(&["session", "lock", &id, "-m", "Pens down"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "the lock notice", |t| t.contains("Pens down"));
    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "less redrawn", |t| {
        t.contains("\n22\n") && !t.contains("Pens down")
    });
    // less still answers its keys.
    s.send(b"q");
    wait_screen(&s, "the prompt after less", |t| {
        t.trim_end().ends_with("wms$")
    });
}

#[test]
fn unlocking_a_session_that_is_not_locked_is_a_harmless_no_op() {
    let sshd = Sshd::start();
    let s = shell(&sshd);
    let out = wms(&["Unlock-WmsSession", &s.session_id().to_string(), "-Verbose"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Regression: it also said the session "was unlocked". PowerShell's own line for the
    // operation, then one line from the cmdlet.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("VERBOSE: Performing the operation \"Unlock-WmsSession\""));
    assert!(
        lines[1].starts_with("VERBOSE: Session ")
            && lines[1].ends_with("is not locked; there is nothing to unlock."),
        "{lines:?}"
    );
}

#[test]
fn a_terminal_of_unknown_size_gets_the_notice_drawn_for_80x24() {
    // Regression: a 0x0 terminal (one nobody sized) got the notice squeezed into 20
    // columns. The client's screen is 80x24; the terminal says 0x0.
    let sshd = Sshd::start();
    let s = sshd.open_session(
        &user(Role::Plain),
        "stty rows 0 cols 0; stty size; exec sleep 600",
        true,
    );
    wait_screen(&s, "the size 0 0", |t| t.contains("0 0"));
    let id = s.session_id().to_string();
    let out = wms(&["session", "lock", &id, "--message", "Back at ten"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let border = format!("+{}+", "-".repeat(70));
    let screen = wait_screen(&s, "the notice", |t| t.contains("Back at ten"));
    assert!(screen.contains(&border), "not drawn 72 wide:\n{screen}");
    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_session_without_a_terminal_cannot_be_locked() {
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "sleep 600", false);
    let pids = session_pids(s.session_id());
    let out = wms(&["Lock-WmsSession", &s.session_id().to_string(), "Hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("it has no terminal, and no desktop wms can lock")
            && stderr(&out).contains("(NotSupportedException)"),
        "{}",
        stderr(&out)
    );
    assert_untouched(s.session_id(), &pids);
    assert_eq!(session(s.session_id()).unwrap()["IsLocked"], false);
}

#[test]
fn the_foreground_job_is_frozen_while_locked_and_the_terminal_modes_come_back() {
    let sshd = Sshd::start();
    let mut s = shell(&sshd);
    let id = s.session_id().to_string();
    let m = mark();
    let (modes_before, modes_after, job) = (
        format!("/tmp/wms-stty-a-{m}"),
        format!("/tmp/wms-stty-b-{m}"),
        format!("/tmp/wms-fg-{m}"),
    );
    s.send(format!("stty -g > {modes_before}\r").as_bytes());
    // A foreground job that writes as long as it runs, then says it is done.
    s.send(
        format!("for i in $(seq 40); do echo x >> {job}; sleep 0.1; done; echo fg-done-{m}\r")
            .as_bytes(),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while size(&job) == 0 {
        assert!(Instant::now() < end, "the job never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = wms(&["session", "lock", &id, "-m", "Frozen"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "the lock notice", |t| t.contains("Frozen"));
    let frozen = size(&job);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(size(&job), frozen, "the foreground job ran while locked");
    let out = wms(&["session", "unlock", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_screen(&s, "the job finishing", |t| {
        t.contains(&format!("\nfg-done-{m}"))
    });
    assert!(size(&job) > frozen);
    s.send(format!("stty -g > {modes_after}\r").as_bytes());
    let end = Instant::now() + Duration::from_secs(10);
    while size(&modes_after) == 0 {
        assert!(Instant::now() < end, "the shell did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&modes_before).unwrap(),
        std::fs::read_to_string(&modes_after).unwrap(),
        "the terminal's modes differ after unlock"
    );
    for f in [modes_before, modes_after, job] {
        let _ = std::fs::remove_file(f);
    }
}

/// Regression: a shell waiting for its foreground job could collect the job's stop
/// before its own SIGSTOP took effect, then print "Stopped" and take the terminal back
/// after unlock. Lock now stops the job only once the shell has really stopped.
#[test]
fn regression_shell_never_sees_its_job_stopped_across_lock_cycles() {
    let sshd = Sshd::start();
    let mut s = shell(&sshd);
    let id = s.session_id().to_string();
    s.send(b"seq 1000 | less\r");
    wait_screen(&s, "less", |t| {
        t.contains("\n23\n") && !t.contains("wms$ seq")
    });
    for round in 0..20 {
        let out = wms(&["session", "lock", &id, "-m", &format!("Round {round}")]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = wms(&["session", "unlock", &id]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    wait_screen(&s, "less redrawn", |t| {
        t.contains("\n22\n") && !t.contains("Round")
    });
    assert!(
        !String::from_utf8_lossy(&s.output()).contains("Stopped"),
        "the shell saw its job stopped:\n{}",
        screen(&s)
    );
    s.send(b"q");
    wait_screen(&s, "the prompt after less", |t| {
        t.trim_end().ends_with("wms$")
    });
}
