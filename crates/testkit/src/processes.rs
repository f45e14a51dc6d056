//! Processes and sessions as the operating system shows them (`/proc`), signals by PID
//! or session membership of what this kit started, and spawning with a death signal.

use super::*;

/// The audit session id of process `pid`, if it is readable.
pub fn process_session_id(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/sessionid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether process `pid` exists and is not a zombie.
pub(crate) fn is_live(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the last ')' (the command name may contain anything).
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => state != "Z" && state != "X" && state != "x",
        None => false,
    }
}

/// PIDs of live processes whose `/proc/PID/sessionid` equals `id` (zombies excluded).
pub fn session_pids(id: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if process_session_id(pid) == Some(id) && is_live(pid) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Waits until a process of session `id` runs `program` (its comm), so that what was
/// exported for it is in its environment (a shell's exports show in `/proc/PID/environ`
/// only once it has exec'd the program); panics after 10 s.
pub fn wait_session_runs(id: u32, program: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !session_pids(id).iter().any(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == program)
    }) {
        assert!(
            Instant::now() < deadline,
            "session {id} never ran {program}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `timeout` until no live process has session `id`; true if so.
pub fn wait_session_gone(id: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if session_pids(id).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// SIGKILLs every process of session `id` (repeatedly, until none is left or 10 s pass);
/// true if the session is gone. For cleaning up sessions a test opened; refuses the
/// "no session" id and the session this process itself runs in.
pub fn kill_session(id: u32) -> bool {
    assert_ne!(
        id, NO_SESSION,
        "refusing to kill every process outside a session"
    );
    assert_ne!(
        Some(id),
        process_session_id(std::process::id()),
        "refusing to kill the test's own session"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = session_pids(id);
        if pids.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for pid in pids {
            signal(pid, Signal::KILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` to `pid`, ignoring errors (the process may be gone already).
pub(crate) fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Waits up to `timeout` for `child` to exit.
pub(crate) fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("waitpid {}: {e}", child.id()),
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Spawns `cmd` so that it gets SIGTERM if this test process dies (e.g. killed by the test
/// runner's timeout), so no sshd or ssh client outlives its test.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, so every spawn
/// goes through one spawner thread that lives as long as the process.
pub(crate) fn spawn_guarded(mut cmd: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("wms-testkit-spawner".to_string())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start the spawner thread");
        tx
    });
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec and only makes raw,
    // async-signal-safe system calls (prctl, getppid) without allocating or locking.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
            if rustix::process::getppid() != Some(parent) {
                // The test process died before the prctl took effect.
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((cmd, reply_tx))
        .expect("the spawner thread is gone");
    reply_rx.recv().expect("the spawner thread is gone")
}
