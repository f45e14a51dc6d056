//! A session generator: many real audit sessions, fast, for benchmarks and tests.
//!
//! SPEC section 8 allows "a small harness that opens audit sessions directly" next to the
//! sshd fixtures, which prove the real login path but open a session in tens of
//! milliseconds. [`generate`] opens `N` sessions of `M` processes each in well under a
//! second per thousand processes, the way `pam_loginuid` does it:
//!
//! 1. The calling process forks a *holder* (a child process that owns everything generated,
//!    so the caller's own children and signal handling are not disturbed). The holder makes
//!    itself a child subreaper, so processes orphaned inside a session come back to it.
//!    The processes are named `wmsgen-holder`, `wmsgen-leader` and `wmsgen-member`.
//! 2. For each session the holder forks a *leader*, which writes the user's uid to
//!    `/proc/self/loginuid` (the kernel then gives it a new audit session id, exactly as at
//!    a login), calls `setsid`, drops to the user (`setgroups`, `setgid`, `setuid`), and
//!    forks `M - 1` members, which inherit its session. Every process blocks in `read` on a
//!    *lifeline* pipe whose only write end the holder keeps, so nothing outlives the holder.
//! 3. Every process reports its PID on a pipe; the caller reads the session ids from
//!    `/proc/PID/sessionid` and records each process's start time.
//!
//! Cleanup ([`Generated`]'s `Drop`, or [`Generated::kill_all`]) SIGKILLs exactly the
//! recorded processes, each through a pidfd opened first and then checked against the
//! recorded start time, so a PID reused since (say, after `wms` closed the session) is never
//! signalled. It then closes the holder's control pipe; the holder closes the lifeline, kills
//! and reaps whatever of its own descendants is left (only ever its own unreaped children),
//! and exits, and the caller reaps it. If the caller dies instead, the control pipe closes
//! all the same and the holder cleans up on its own.
//!
//! Between `fork` and `_exit` the generated processes only make raw system calls: no
//! allocation, no locks, so forking from a multi-threaded test process is safe.

use crate::{ensure_user, TestUser};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};

/// The user generated sessions belong to unless [`GenOptions::user`] names another: a
/// dedicated test user, so generated sessions never pass for a role's sessions.
pub const GEN_USER: &str = "wmst-gen";

/// How long cleanup waits for the holder to reap everything before giving up.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// How many sessions.
    pub sessions: usize,
    /// How many processes in each session (the leader included); at least 1.
    pub procs: usize,
    /// Whether the processes ignore SIGTERM (so only SIGKILL ends them).
    pub ignore_term: bool,
    /// The login user of the sessions; [`GEN_USER`] (created on demand) when `None`.
    pub user: Option<TestUser>,
}

impl GenOptions {
    /// `sessions` sessions of `procs` processes that honour SIGTERM, as [`GEN_USER`].
    pub fn new(sessions: usize, procs: usize) -> GenOptions {
        GenOptions {
            sessions,
            procs,
            ignore_term: false,
            user: None,
        }
    }

    /// Makes every process ignore SIGTERM.
    pub fn ignore_term(mut self, yes: bool) -> GenOptions {
        self.ignore_term = yes;
        self
    }

    /// Opens the sessions as `user` instead of [`GEN_USER`].
    pub fn user(mut self, user: TestUser) -> GenOptions {
        self.user = Some(user);
        self
    }
}

/// One generated session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenSession {
    /// The kernel audit session id (`/proc/PID/sessionid`).
    pub id: u32,
    /// Its processes; the first is the leader (the parent of the others).
    pub pids: Vec<u32>,
}

/// Sessions opened by [`generate`]; dropping this ends every one of their processes.
pub struct Generated {
    /// The sessions, in the order they were opened.
    pub sessions: Vec<GenSession>,
    /// Their login user.
    pub user: TestUser,
    /// Each generated process's start time (clock ticks since boot), to recognise it.
    start_times: HashMap<u32, u64>,
    holder: Option<Holder>,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("sessions", &self.sessions.len())
            .field("user", &self.user.name)
            .finish_non_exhaustive()
    }
}

/// The holder process, as the caller sees it.
struct Holder {
    pid: libc::pid_t,
    /// A pidfd of the holder, to wait for it with a timeout.
    pidfd: OwnedFd,
    /// The write end of the control pipe; closing it tells the holder to clean up.
    ctl: Option<OwnedFd>,
}

impl Generated {
    /// The session ids, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.sessions.iter().map(|s| s.id).collect()
    }

    /// Every generated PID.
    pub fn pids(&self) -> Vec<u32> {
        self.sessions
            .iter()
            .flat_map(|s| s.pids.iter().copied())
            .collect()
    }

    /// The recorded start time of generated process `pid`.
    pub fn start_time(&self, pid: u32) -> Option<u64> {
        self.start_times.get(&pid).copied()
    }

    /// SIGKILLs every generated process that is still the process it was (pidfd, then a
    /// start-time check), then has the holder reap everything and waits for it to exit.
    /// Returns how many processes were signalled. Idempotent.
    pub fn kill_all(&mut self) -> usize {
        let mut signalled = 0;
        for s in &self.sessions {
            for &pid in &s.pids {
                if let Some(start) = self.start_times.get(&pid) {
                    if kill_if_same(pid, *start) {
                        signalled += 1;
                    }
                }
            }
        }
        if let Some(mut h) = self.holder.take() {
            drop(h.ctl.take());
            // The holder exits once it has reaped every descendant.
            let _ = wait_readable(h.pidfd.as_fd(), CLEANUP_TIMEOUT);
            let mut status = 0;
            // SAFETY: plain waitpid on our own child; a stuck holder is left for init
            // rather than blocking forever.
            let r = unsafe { libc::waitpid(h.pid, &mut status, libc::WNOHANG) };
            if r == 0 {
                eprintln!(
                    "wms-testkit gen: holder {} did not finish cleaning up within {CLEANUP_TIMEOUT:?}",
                    h.pid
                );
            }
        }
        signalled
    }
}

impl Drop for Generated {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Opens `opts.sessions` sessions of `opts.procs` processes each (see the module docs).
pub fn generate(opts: &GenOptions) -> io::Result<Generated> {
    if opts.procs == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a session needs at least one process",
        ));
    }
    if rustix::process::geteuid().as_raw() != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "opening audit sessions needs root (writing /proc/self/loginuid)",
        ));
    }
    let user = opts
        .user
        .clone()
        .unwrap_or_else(|| ensure_user(GEN_USER, &[]));
    let gid = primary_gid(&user.name)?;
    let params = Params::new(opts, user.uid, gid);

    let (ctl_r, ctl_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    // SAFETY: the child runs only `holder_main`, which makes raw system calls on values
    // prepared before the fork and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the forked child; see holder_main.
        unsafe { holder_main(ctl_r.as_raw_fd(), rep_w.as_raw_fd(), &params) }
    }
    drop(ctl_r);
    drop(rep_w);
    let holder_pid = Pid::from_raw(pid).expect("fork returned a positive PID");
    let pidfd = match rustix::process::pidfd_open(holder_pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            // Without the control pipe the holder cleans up and exits; reap it.
            drop(ctl_w);
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(e.into());
        }
    };
    let holder_pid = pid;
    let mut generated = Generated {
        sessions: Vec::new(),
        user,
        start_times: HashMap::new(),
        holder: Some(Holder {
            pid: holder_pid,
            pidfd,
            ctl: Some(ctl_w),
        }),
    };

    // Read every process's record: (slot, pid, errno).
    let mut slots: Vec<Vec<u32>> = vec![Vec::with_capacity(opts.procs); opts.sessions];
    let mut first_error: Option<io::Error> = None;
    let mut reports = File::from(rep_r);
    let total = opts.sessions * opts.procs;
    let mut buf = vec![0u8; RECORD * 1024];
    let mut have = 0usize;
    let mut seen = 0usize;
    while seen < total {
        let n = match reports.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        have += n;
        let whole = have / RECORD * RECORD;
        for rec in buf[..whole].chunks_exact(RECORD) {
            let word = |i: usize| i32::from_ne_bytes(rec[i * 4..i * 4 + 4].try_into().unwrap());
            let (slot, pid, err) = (word(0) as usize, word(1), word(2));
            seen += 1;
            if err != 0 || pid <= 0 || slot >= slots.len() {
                first_error.get_or_insert_with(|| io::Error::from_raw_os_error(err.max(1)));
            } else {
                slots[slot].push(pid as u32);
            }
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
    // Record start times first, so cleanup can recognise whatever was created.
    for pids in &slots {
        for &pid in pids {
            if let Some(st) = start_time(pid) {
                generated.start_times.insert(pid, st);
            }
        }
    }
    generated.sessions = slots
        .into_iter()
        .map(|pids| GenSession { id: 0, pids })
        .collect();
    if let Some(e) = first_error {
        return Err(io::Error::new(
            e.kind(),
            format!("generating sessions failed: {e}"),
        ));
    }
    if seen < total {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("generating sessions failed: {seen} of {total} processes reported"),
        ));
    }
    let own = crate::process_session_id(std::process::id());
    for s in &mut generated.sessions {
        let id = crate::process_session_id(s.pids[0]).unwrap_or(crate::NO_SESSION);
        let bad = id == crate::NO_SESSION
            || Some(id) == own
            || s.pids
                .iter()
                .any(|&p| crate::process_session_id(p) != Some(id));
        if bad {
            return Err(io::Error::other(format!(
                "generated processes {:?} are not in one new session (leader's is {id})",
                s.pids
            )));
        }
        s.id = id;
    }
    Ok(generated)
}

/// SIGKILLs `pid` if it is still the process that started at `start`; true if signalled.
fn kill_if_same(pid: u32, start: u64) -> bool {
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let Ok(fd) = rustix::process::pidfd_open(p, PidfdFlags::empty()) else {
        return false;
    };
    // Checked after pinning: if the start time matches now, the pidfd names that process.
    // A zombie still matches, but it has ended already and is not counted as signalled
    // (the holder reaps it in its own time).
    if start_time(pid) != Some(start) || !crate::processes::is_live(pid) {
        return false;
    }
    rustix::process::pidfd_send_signal(&fd, Signal::KILL).is_ok()
}

/// The start time (field 22 of `/proc/PID/stat`) of `pid`.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Fields after the name start at 3 (state); start time is field 22.
    rest.split_ascii_whitespace().nth(22 - 3)?.parse().ok()
}

/// Waits until `fd` polls readable (a pidfd: the process has exited) or `timeout` passes.
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ts = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// The primary group of user `name`, from the user database.
fn primary_gid(name: &str) -> io::Result<u32> {
    let out = std::process::Command::new("getent")
        .args(["passwd", name])
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.split(':').nth(3))
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| io::Error::other(format!("user {name} has no passwd entry")))
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

// ---------------------------------------------------------------------------------------
// The forked side: raw system calls only.
// ---------------------------------------------------------------------------------------

/// The size of one report record: three native-endian i32s (slot, pid, errno).
const RECORD: usize = 12;

/// Everything the forked processes need, prepared before the fork.
struct Params {
    sessions: usize,
    procs: usize,
    ignore_term: bool,
    uid: libc::uid_t,
    gid: libc::gid_t,
    /// The uid in decimal, for `/proc/self/loginuid`.
    uid_text: [u8; 12],
    uid_len: usize,
}

impl Params {
    fn new(opts: &GenOptions, uid: u32, gid: u32) -> Params {
        let text = uid.to_string();
        let mut uid_text = [0u8; 12];
        uid_text[..text.len()].copy_from_slice(text.as_bytes());
        Params {
            sessions: opts.sessions,
            procs: opts.procs,
            ignore_term: opts.ignore_term,
            uid,
            gid,
            uid_text,
            uid_len: text.len(),
        }
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Writes one record; a failure only means nobody is listening any more.
unsafe fn report(fd: RawFd, slot: usize, pid: i32, err: i32) {
    let words = [slot as i32, pid, err];
    // SAFETY: `words` is 12 readable bytes; a write of under PIPE_BUF bytes is atomic.
    unsafe { libc::write(fd, words.as_ptr().cast(), RECORD) };
}

/// Closes every descriptor from 3 up except `keep` (sorted ascending).
unsafe fn close_all_but(keep: &[RawFd]) {
    let mut from: u32 = 3;
    for &k in keep {
        let k = k as u32;
        if k > from {
            // SAFETY: close_range only closes descriptors.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0) };
        }
        from = from.max(k + 1);
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

extern "C" fn on_sigchld(_: libc::c_int) {}

/// Sets `sig`'s disposition.
unsafe fn set_signal(sig: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: a zeroed sigaction with an empty mask is valid.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Blocks in `read` on the lifeline until the holder is gone, then exits.
unsafe fn block_on_lifeline(life_r: RawFd) -> ! {
    let mut b = 0u8;
    loop {
        // SAFETY: reads at most one byte into `b`.
        let r = unsafe { libc::read(life_r, (&mut b as *mut u8).cast(), 1) };
        if r == 0 || (r < 0 && errno() != libc::EINTR) {
            // SAFETY: _exit ends the process without running anything of the parent's.
            unsafe { libc::_exit(0) }
        }
    }
}

/// The holder: forks the sessions, reaps, and cleans up when the control pipe closes.
unsafe fn holder_main(ctl_r: RawFd, rep_w: RawFd, p: &Params) -> ! {
    // SAFETY: (the whole function) raw system calls on valid arguments in a single-threaded
    // forked child; nothing allocates.
    unsafe {
        let mut keep = [ctl_r, rep_w];
        keep.sort_unstable();
        close_all_but(&keep);
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, c"wmsgen-holder".as_ptr(), 0, 0, 0);
        // Start from default dispositions and an empty mask, whatever the caller had;
        // SIGCHLD is blocked except while waiting in ppoll, so no exit goes unnoticed.
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                set_signal(sig, libc::SIG_DFL);
            }
        }
        set_signal(libc::SIGPIPE, libc::SIG_IGN);
        set_signal(libc::SIGCHLD, on_sigchld as *const () as libc::sighandler_t);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        let mut chld = empty;
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_SETMASK, &chld, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        let mut life = [0 as RawFd; 2];
        if libc::pipe(life.as_mut_ptr()) != 0 {
            let e = errno();
            for slot in 0..p.sessions {
                for _ in 0..p.procs {
                    report(rep_w, slot, 0, e);
                }
            }
            libc::_exit(1);
        }
        let (life_r, life_w) = (life[0], life[1]);

        for slot in 0..p.sessions {
            let pid = libc::fork();
            if pid == 0 {
                libc::close(ctl_r);
                libc::close(life_w);
                leader_main(slot, rep_w, life_r, p, &empty);
            }
            if pid < 0 {
                let e = errno();
                for _ in 0..p.procs {
                    report(rep_w, slot, 0, e);
                }
            }
        }
        libc::close(rep_w);
        libc::close(life_r);

        // Reap until the control pipe closes.
        let mut byte = [0u8; 64];
        loop {
            let mut fds = [libc::pollfd {
                fd: ctl_r,
                events: libc::POLLIN,
                revents: 0,
            }];
            let r = libc::ppoll(fds.as_mut_ptr(), 1, std::ptr::null(), &empty);
            reap_nohang();
            if r > 0 {
                let n = libc::read(ctl_r, byte.as_mut_ptr().cast(), byte.len());
                if n == 0 || (n < 0 && errno() != libc::EINTR && errno() != libc::EAGAIN) {
                    break;
                }
            }
        }

        // Clean up: the lifeline's end tells every generated process to exit; whatever is
        // stopped or stuck is killed, only ever among our own unreaped children.
        libc::close(life_w);
        // Rounds of 5 ms: a few for the lifeline to work, then SIGKILL each round; give up
        // (leaving the rest to init) after 30 s.
        for round in 0..6000 {
            if reap_nohang() {
                libc::_exit(0);
            }
            if round >= 4 {
                kill_children();
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 5_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
        }
        libc::_exit(1);
    }
}

/// Reaps every exited child; true when there are no children left at all.
unsafe fn reap_nohang() -> bool {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child of this process.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r > 0 {
            continue;
        }
        return r < 0 && errno() == libc::ECHILD;
    }
}

/// SIGKILLs every direct child of this (single-threaded) process, read from
/// `/proc/thread-self/children`. A child is unreaped, so its PID cannot name anything else.
unsafe fn kill_children() {
    // SAFETY: raw open/read/close/kill on a stack buffer.
    unsafe {
        let fd = libc::open(
            c"/proc/thread-self/children".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let mut buf = [0u8; 4096];
        let mut pid: i32 = 0;
        let mut in_number = false;
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    pid = pid.saturating_mul(10).saturating_add(i32::from(b - b'0'));
                    in_number = true;
                } else if in_number {
                    libc::kill(pid, libc::SIGKILL);
                    pid = 0;
                    in_number = false;
                }
            }
        }
        if in_number {
            libc::kill(pid, libc::SIGKILL);
        }
        libc::close(fd);
    }
}

/// A session leader: becomes a new audit session of the user, forks the members, blocks.
unsafe fn leader_main(
    slot: usize,
    rep_w: RawFd,
    life_r: RawFd,
    p: &Params,
    empty: &libc::sigset_t,
) -> ! {
    // SAFETY: (the whole function) raw system calls in a single-threaded forked child.
    unsafe {
        let fail = |e: i32| -> ! {
            for _ in 0..p.procs {
                report(rep_w, slot, 0, e);
            }
            libc::_exit(1)
        };
        // Named apart from the generator itself (whose name a fork would keep).
        libc::prctl(libc::PR_SET_NAME, c"wmsgen-leader".as_ptr(), 0, 0, 0);
        set_signal(libc::SIGCHLD, libc::SIG_IGN); // members are reaped automatically
        set_signal(libc::SIGPIPE, libc::SIG_DFL);
        if p.ignore_term {
            set_signal(libc::SIGTERM, libc::SIG_IGN);
        }
        libc::sigprocmask(libc::SIG_SETMASK, empty, std::ptr::null_mut());

        // The login: a new loginuid gives this process a new audit session id.
        let fd = libc::open(
            c"/proc/self/loginuid".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            fail(errno());
        }
        if libc::write(fd, p.uid_text.as_ptr().cast(), p.uid_len) != p.uid_len as isize {
            fail(errno());
        }
        libc::close(fd);
        libc::setsid();
        let gid = p.gid;
        if libc::syscall(libc::SYS_setgroups, 1, &gid as *const libc::gid_t) != 0
            || libc::syscall(libc::SYS_setgid, gid) != 0
            || libc::syscall(libc::SYS_setuid, p.uid) != 0
        {
            fail(errno());
        }
        report(rep_w, slot, libc::getpid(), 0);
        for _ in 1..p.procs {
            let pid = libc::fork();
            if pid == 0 {
                libc::prctl(libc::PR_SET_NAME, c"wmsgen-member".as_ptr(), 0, 0, 0);
                report(rep_w, slot, libc::getpid(), 0);
                libc::close(rep_w);
                block_on_lifeline(life_r);
            }
            if pid < 0 {
                report(rep_w, slot, 0, errno());
            }
        }
        libc::close(rep_w);
        block_on_lifeline(life_r);
    }
}
