//! Checks that the fixtures open real login sessions through a real sshd.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use wms_testkit::{
    config_file, process_session_id, session_pids, shared_binary, shell_quote, user,
    wait_session_gone, Role, Sshd, NO_SESSION,
};

const GONE: Duration = Duration::from_secs(15);

fn own_session() -> Option<u32> {
    process_session_id(std::process::id())
}

#[test]
fn sshd_starts_and_stops() {
    let sshd = Sshd::start();
    assert!(sshd.port() > 0);
    assert!(sshd.log().contains("Server listening"), "{}", sshd.log());
    let pid = sshd.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(sshd);
    // Reaped by the drop: no such process any more.
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn sessions_get_distinct_real_ids_and_end() {
    let sshd = Sshd::start();
    let plain = user(Role::Plain);
    let mut piped = sshd.open_session(&plain, "sleep 300", false);
    let tty = sshd.open_session(&plain, "sleep 300", true);

    let (a, b) = (piped.session_id(), tty.session_id());
    for id in [a, b] {
        assert_ne!(id, NO_SESSION);
        assert_ne!(Some(id), own_session());
    }
    assert_ne!(a, b);
    for session in [&piped, &tty] {
        let pids = session_pids(session.session_id());
        assert!(!pids.is_empty());
        assert!(
            pids.contains(&session.remote_pid()),
            "{pids:?} lacks the remote shell {}",
            session.remote_pid()
        );
        assert!(!pids.contains(&session.client_pid()));
        let loginuid = fs::read_to_string(format!("/proc/{}/loginuid", session.remote_pid()))
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap();
        assert_eq!(loginuid, plain.uid);
    }
    assert!(piped.is_running());

    // Killing the client of a terminal session ends the session (the shell gets SIGHUP).
    drop(tty);
    assert!(wait_session_gone(b, GONE), "{:?}", session_pids(b));

    // Killing the remote shell of a session without a terminal ends it, and the client.
    let killed = sshd.run(&plain, &format!("kill {}", piped.remote_pid()), b"");
    assert!(killed.status.success(), "{killed:?}");
    assert_ne!(killed.session_id, a);
    assert!(wait_session_gone(a, GONE), "{:?}", session_pids(a));
    assert!(piped.wait_exit(GONE).is_some());
    assert!(!piped.is_running());
}

#[test]
fn terminal_session_shows_the_screen_and_takes_input() {
    let sshd = Sshd::start();
    let plain = user(Role::Plain2);
    let mut s = sshd.open_session(&plain, "tty; stty size; echo ready-$((40+2)); cat", true);
    assert!(s.is_tty());
    assert!(
        s.wait_for_output("ready-42", Duration::from_secs(10)),
        "{}",
        s.output_text()
    );
    let screen = s.output_text();
    assert!(screen.contains("/dev/pts/"), "{screen}");
    assert!(screen.contains("24 80"), "{screen}");
    assert!(screen.contains("WMS-SESSION="), "{screen}");

    s.send(b"typed-text\r");
    assert!(
        s.wait_for_output("typed-text", Duration::from_secs(10)),
        "{}",
        s.output_text()
    );
    // Ctrl-D ends cat, the shell exits, the session ends and the client exits with 0.
    s.close_input();
    let status = s.wait_exit(GONE).expect("ssh exits");
    assert!(status.success(), "{status:?}");
    assert!(wait_session_gone(s.session_id(), GONE));
    assert!(!s.wait_for_output("never printed", Duration::from_millis(100)));
}

#[test]
fn piped_session_takes_input() {
    let sshd = Sshd::start();
    let plain = user(Role::Plain);
    let mut s = sshd.open_session(&plain, "while read -r l; do echo got-$l; done", false);
    assert!(!s.is_tty());
    s.send(b"one\n");
    assert!(s.wait_for_output("got-one", Duration::from_secs(10)));
    s.close_input();
    let status = s.wait_exit(GONE).expect("ssh exits");
    assert!(status.success());
    assert!(wait_session_gone(s.session_id(), GONE));
}

#[test]
fn run_returns_output_status_and_session() {
    let sshd = Sshd::start();
    let plain = user(Role::Plain);
    let out = sshd.run(&plain, "id -un", b"");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), plain.name);
    assert_eq!(out.stderr, "");
    assert_ne!(out.session_id, NO_SESSION);
    assert_ne!(Some(out.session_id), own_session());
    assert!(wait_session_gone(out.session_id, GONE));

    let again = sshd.run(&plain, "cat; echo err >&2; exit 3", b"input bytes\n");
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(again.stdout, "input bytes\n");
    assert_eq!(again.stderr, "err\n");
    assert_ne!(again.session_id, out.session_id);

    let conn = sshd.run(&plain, "printf %s \"$SSH_CONNECTION\"", b"");
    assert!(conn.stdout.starts_with("127.0.0.1 "), "{conn:?}");

    let env = sshd.run_with_env(
        &plain,
        "printf %s \"$WMS_TESTKIT_PROBE\"",
        b"",
        &[("WMS_TESTKIT_PROBE", "a 'b' c")],
    );
    assert_eq!(env.stdout, "a 'b' c");

    let quoted = sshd.run(
        &plain,
        &format!("printf %s {}", shell_quote("it's $HOME")),
        b"",
    );
    assert_eq!(quoted.stdout, "it's $HOME");
}

#[test]
fn roles_have_the_right_groups() {
    let sshd = Sshd::start();
    for role in Role::ALL {
        let u = user(role);
        assert_eq!(u.name, role.user_name());
        assert_ne!(u.uid, 0);
        let out = std::process::Command::new("id")
            .args(["-nG", &u.name])
            .output()
            .unwrap();
        let groups: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for g in ["sudo", "wms-operators"] {
            assert_eq!(
                groups.iter().any(|x| x == g),
                role.groups().contains(&g),
                "{} groups {groups:?}",
                u.name
            );
        }
        // The session sees the same groups.
        let remote = sshd.run(&u, "id -nG", b"");
        for g in role.groups() {
            assert!(
                remote.stdout.split_whitespace().any(|x| x == *g),
                "{remote:?}"
            );
        }
    }
    // Idempotent.
    assert_eq!(user(Role::Operator), user(Role::Operator));
}

#[test]
fn shared_binary_and_config_are_usable_by_test_users() {
    let sshd = Sshd::start();
    let plain = user(Role::AllPlain);
    let copy = shared_binary("/usr/bin/id");
    assert_eq!(copy, shared_binary("/usr/bin/id"));
    assert_eq!(
        fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let out = sshd.run(&plain, &format!("{} -un", copy.display()), b"");
    assert_eq!(out.stdout.trim(), plain.name, "{out:?}");

    let cfg = config_file("[policy]\nx = 1\n");
    let meta = fs::metadata(&cfg).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    let out = sshd.run(&plain, &format!("cat {}", cfg.display()), b"");
    assert_eq!(out.stdout, "[policy]\nx = 1\n");
}

#[test]
fn dropping_sshd_cleans_up_its_sessions() {
    let sshd = Sshd::start();
    let plain = user(Role::Plain);
    let s = sshd.open_session(&plain, "sleep 300", false);
    let id = s.session_id();
    drop(s);
    // Without a terminal the command outlives its client...
    std::thread::sleep(Duration::from_millis(300));
    assert!(!session_pids(id).is_empty());
    // ...until the fixture that opened it goes away.
    drop(sshd);
    assert!(wait_session_gone(id, GONE), "{:?}", session_pids(id));
}
