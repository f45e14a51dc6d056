//! Timing: until a command has exited and every process of the target sessions is gone.

use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Timings of one run, in seconds from the command's spawn.
pub struct Gone {
    /// When the command exited.
    pub command: f64,
    /// When the last process of the target sessions had exited.
    pub gone: f64,
    /// The command's own CPU time (user + system), which the load of the machine
    /// affects far less than elapsed time.
    pub cpu: f64,
    /// What the command printed.
    pub stdout: String,
}

/// Seconds of a series of runs.
#[derive(Default)]
pub struct Series(Vec<f64>);

impl Series {
    pub fn push(&mut self, s: f64) {
        self.0.push(s);
    }

    pub fn json(&self) -> Value {
        let ms: Vec<f64> = self.0.iter().map(|s| round(s * 1e3)).collect();
        json!({
            "median_ms": round(median(&self.0) * 1e3),
            "min_ms": ms.iter().copied().fold(f64::INFINITY, f64::min),
            "max_ms": ms.iter().copied().fold(0.0, f64::max),
            "runs_ms": ms,
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Raises the soft limit of open files to the hard limit (a pidfd per process).
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Pidfds of `pids` (those still alive).
pub fn pin_all(pids: &[u32]) -> Vec<OwnedFd> {
    pids.iter()
        .filter_map(|&p| rustix::process::Pid::from_raw(p as i32))
        .filter_map(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
        .collect()
}

/// The session ids of the sessions `wms-gen` printed.
pub fn read_gen_output(line: &str) -> Result<Vec<u32>, String> {
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| e.to_string())?;
    v["sessions"]
        .as_array()
        .ok_or("no sessions")?
        .iter()
        .map(|s| {
            s["id"]
                .as_u64()
                .map(|i| i as u32)
                .ok_or_else(|| "a session without an id".to_string())
        })
        .collect()
}

/// Live processes (not zombies) whose session is one of `ids`.
fn live_in(ids: &HashSet<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if wms_testkit::process_session_id(pid).is_some_and(|s| ids.contains(&s)) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with(['Z', 'X']));
            if !stat.is_empty() && !zombie {
                out.push(pid);
            }
        }
    }
    out
}

/// Runs `cmd` and measures until it has exited and every process of `pins` (pidfds of the
/// target sessions' processes, opened before) has exited; then checks that no process of
/// `ids` is left, waiting for any newcomer too.
pub fn time_until_gone(mut cmd: Command, pins: &[OwnedFd], ids: &[u32]) -> Result<Gone, String> {
    let ep = Epoll::new()?;
    for (i, fd) in pins.iter().enumerate() {
        ep.add(fd.as_raw_fd(), i as u64)?;
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let child_fd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(child.id() as i32).expect("child pid"),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|e| format!("pidfd of the command: {e}"))?;
    const CHILD: u64 = u64::MAX;
    ep.add(child_fd.as_raw_fd(), CHILD)?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut left = pins.len();
    let mut command = None;
    let mut gone = if left == 0 { Some(0.0) } else { None };
    let deadline = t0 + Duration::from_secs(60);
    while command.is_none() || gone.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{cmd:?}: {left} processes still running after 60 s"
            ));
        }
        for key in ep.wait(Duration::from_millis(500))? {
            let t = t0.elapsed().as_secs_f64();
            if key == CHILD {
                command.get_or_insert(t);
                ep.delete(child_fd.as_raw_fd());
            } else {
                ep.delete(pins[key as usize].as_raw_fd());
                left -= 1;
                if left == 0 {
                    gone = Some(t);
                }
            }
        }
    }
    // wait4, for the command's resource usage (std's wait does not give it).
    let (status, cpu) = {
        let mut raw = 0;
        // SAFETY: rusage is plain old data, for which all zeroes is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(child.id() as i32, &mut raw, 0, &mut ru) };
        if r < 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (
            <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(raw),
            secs(ru.ru_utime) + secs(ru.ru_stime),
        )
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{cmd:?} failed ({status}): {}", stderr.trim()));
    }
    let (command, mut gone) = (command.unwrap_or(0.0), gone.unwrap_or(0.0));
    // Anything the pins did not cover (a newcomer) must end too.
    let ids: HashSet<u32> = ids.iter().copied().collect();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let live = live_in(&ids);
        if live.is_empty() {
            break;
        }
        if Instant::now() > end {
            return Err(format!(
                "{cmd:?}: processes {live:?} of the sessions are left"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
        gone = t0.elapsed().as_secs_f64();
    }
    Ok(Gone {
        command,
        gone,
        cpu,
        stdout,
    })
}

/// Runs `argv` (output discarded) and returns its elapsed and CPU (user + system) seconds.
pub fn time_command(argv: &[String]) -> Result<(f64, f64), String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    time_cmd(cmd)
}

/// Runs `cmd` (output discarded) and returns its elapsed and CPU (user + system) seconds.
pub fn time_cmd(mut cmd: Command) -> Result<(f64, f64), String> {
    let argv = format!("{cmd:?}");
    let t0 = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {argv}: {e}"))?;
    let mut raw = 0;
    // SAFETY: rusage is plain old data, for which all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid out-pointers.
    let r = unsafe { libc::wait4(child.id() as i32, &mut raw, 0, &mut ru) };
    let wall = t0.elapsed().as_secs_f64();
    if r < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let status = <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(raw);
    if !status.success() {
        return Err(format!("{argv} failed: {status}"));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((wall, secs(ru.ru_utime) + secs(ru.ru_stime)))
}

/// A minimal epoll wrapper.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Epoll, String> {
        // SAFETY: epoll_create1 returns a fresh descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        Ok(Epoll(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }))
    }

    fn add(&self, fd: i32, key: u64) -> Result<(), String> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: valid descriptors and event struct.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    fn delete(&self, fd: i32) {
        // SAFETY: valid descriptors; a NULL event is allowed for EPOLL_CTL_DEL.
        unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    fn wait(&self, timeout: Duration) -> Result<Vec<u64>, String> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: evs is a writable array of 256 events.
        let n = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                evs.as_mut_ptr(),
                evs.len() as i32,
                timeout.as_millis() as i32,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(Vec::new());
            }
            return Err(format!("epoll_wait: {e}"));
        }
        Ok(evs[..n as usize].iter().map(|e| e.u64).collect())
    }
}
