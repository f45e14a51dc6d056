//! `wms-gen`: opens many real audit sessions for benchmarks and manual tests (root only).
//!
//!     wms-gen --sessions N --procs M [--ignore-term] [--user NAME] [--hold]
//!
//! Prints one JSON line, `{"user":..,"uid":..,"seconds":..,"sessions":[{"id":..,"pids":[..]},..]}`
//! (the leader is the first PID of each session). With `--hold` it then keeps the sessions
//! until standard input reaches end of file or it gets SIGTERM, SIGINT or SIGHUP; without,
//! it cleans up at once. Cleanup kills exactly the generated processes (see
//! `wms_testkit::gen`), and prints how long it took on standard error.

// Test code: it forks, waits and signals with raw system calls.
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Instant;
use wms_testkit::gen::{generate, GenOptions};

const USAGE: &str = "usage: wms-gen --sessions N --procs M [--ignore-term] [--user NAME] [--hold]";

fn parse(args: &[String]) -> Result<(GenOptions, bool), String> {
    let mut opts = GenOptions::new(1, 1);
    let mut hold = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--sessions" | "-n" => {
                opts.sessions = value(a)?.parse().map_err(|e| format!("--sessions: {e}"))?
            }
            "--procs" | "-m" => {
                opts.procs = value(a)?.parse().map_err(|e| format!("--procs: {e}"))?
            }
            "--ignore-term" => opts.ignore_term = true,
            "--user" => {
                let name = value(a)?;
                opts.user = Some(wms_testkit::ensure_user(&name, &[]));
            }
            "--hold" => hold = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if opts.procs == 0 {
        return Err("--procs must be at least 1".into());
    }
    Ok((opts, hold))
}

/// Blocks the signals that end a hold, so that only `sigwait` sees them (the generated
/// processes reset their mask).
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask on this thread, before
    // any other thread exists, so every later thread inherits the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, hold) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("wms-gen: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let set = block_signals();
    let t = Instant::now();
    let mut generated = match generate(&opts) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("wms-gen: {e}");
            return ExitCode::from(1);
        }
    };
    let seconds = t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "user": generated.user.name,
        "uid": generated.user.uid,
        "seconds": seconds,
        "sessions": generated.sessions.iter().map(|s| serde_json::json!({
            "id": s.id,
            "pids": s.pids,
        })).collect::<Vec<_>>(),
    });
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{out}");
    let _ = stdout.flush();
    drop(stdout);
    if hold {
        std::thread::spawn(|| {
            let mut sink = [0u8; 4096];
            let mut stdin = io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            // SAFETY: signals this very process; the main thread is in sigwait.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        });
        let mut sig = 0;
        // SAFETY: waits for one of the blocked signals of `set`.
        unsafe { libc::sigwait(&set, &mut sig) };
    }
    let t = Instant::now();
    let killed = generated.kill_all();
    eprintln!(
        "wms-gen: generated {} sessions of {} processes in {seconds:.3} s; cleaned up {killed} in {:.3} s",
        generated.sessions.len(),
        opts.procs,
        t.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
