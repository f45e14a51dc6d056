//! Readers and parsers for the few `/proc` files wms needs. The parsers are pure and take
//! hostile content: a process name may hold spaces, parentheses and newlines, so
//! `/proc/PID/stat` is split at the *last* `)` and never at the first.

use std::fs;
use std::io;
use std::path::Path;
use wms_core::Pid;

/// The fields of `/proc/PID/stat` that wms uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: Pid,
    pub comm: String,
    /// `R`, `S`, `D`, `T`, `t`, `Z`, `X`, ...
    pub state: char,
    pub ppid: Pid,
    /// The process group.
    pub pgrp: i32,
    /// The (kernel, setsid) session: the PID of its leader.
    pub sid: i32,
    /// The controlling terminal's device number, 0 for none.
    pub tty_nr: u32,
    /// The foreground process group of the controlling terminal, -1 for none.
    pub tpgid: i32,
    /// Start time in clock ticks since boot; with the PID it names one process for good.
    pub start_time: u64,
    /// CPU time used in user and kernel mode, in clock ticks (fields 14 and 15).
    pub cpu_ticks: u64,
    /// Resident set size in pages (field 24).
    pub rss_pages: u64,
}

impl Stat {
    /// A zombie or dead process holds nothing and is not counted as alive.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the content of `/proc/PID/stat`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    let pid: i32 = s[..open].trim().parse().ok()?;
    let comm = s[open + 1..close].to_string();
    // Fields after the name, numbered as in proc(5) from 3 (state).
    let mut rest = s[close + 1..].split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid: i32 = rest.next()?.parse().ok()?;
    let pgrp: i32 = rest.next()?.parse().ok()?;
    let sid: i32 = rest.next()?.parse().ok()?;
    let tty_nr: i64 = rest.next()?.parse().ok()?;
    let tpgid: i32 = rest.next()?.parse().ok()?;
    // Fields 9..=13 are not needed; user and system time are 14 and 15, start time is
    // field 22 and the resident set size 24.
    let utime: u64 = rest.nth(14 - 9)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    let start_time: u64 = rest.nth(22 - 16)?.parse().ok()?;
    let rss: i64 = rest.nth(24 - 23)?.parse().ok()?;
    Some(Stat {
        pid: Pid(pid),
        comm,
        state,
        ppid: Pid(ppid),
        pgrp,
        sid,
        tty_nr: tty_nr as u32,
        tpgid,
        start_time,
        cpu_ticks: utime.saturating_add(stime),
        rss_pages: rss.max(0) as u64,
    })
}

/// Where the environment block of a process lies in its memory: fields 50 and 51
/// (`env_start`, `env_end`) of `/proc/PID/stat`, which the kernel fills in only for a reader
/// that may read the environment; `None` when they are absent or zero.
pub fn parse_env_range(s: &str) -> Option<(u64, u64)> {
    let close = s.rfind(')')?;
    let mut rest = s[close + 1..].split_ascii_whitespace();
    let start: u64 = rest.nth(50 - 3)?.parse().ok()?;
    let end: u64 = rest.next()?.parse().ok()?;
    (start != 0 && end > start).then_some((start, end))
}

/// Parses a decimal u32 file such as `/proc/PID/sessionid` or `/proc/PID/loginuid`.
pub fn parse_u32(s: &str) -> Option<u32> {
    s.trim().parse().ok()
}

/// The value of `key` in a NUL-separated environment block.
pub fn environ_value<'a>(env: &'a [u8], key: &str) -> Option<&'a [u8]> {
    env.split(|b| *b == 0).find_map(|kv| {
        kv.strip_prefix(key.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}

/// The number of a local X display as `DISPLAY` names it: `:0`, `:1.0`, `unix:2`,
/// `unix/:3`. `None` for a display on another host (`localhost:10.0`, what `ssh -X`
/// forwards to its client) and for anything else.
pub fn local_display_number(display: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(display).ok()?;
    let (host, rest) = text.rsplit_once(':')?;
    if !matches!(host, "" | "unix" | "unix/") {
        return None;
    }
    let number = rest.split_once('.').map_or(rest, |(n, _)| n);
    if number.is_empty() || number.len() > 6 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// What an X server's arguments say: its display (`:N`) and its authority file
/// (`-auth FILE`), as `Xorg` and `Xvfb` take them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XServerArgs {
    pub display: Option<u32>,
    pub auth: Option<std::path::PathBuf>,
}

/// [`XServerArgs`] from an X server's command line (its program name first).
pub fn x_server_args(args: &[Vec<u8>]) -> XServerArgs {
    use std::os::unix::ffi::OsStrExt;
    let mut out = XServerArgs::default();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a.as_slice() == b"-auth" {
            out.auth = it
                .next()
                .map(|f| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(f)));
        } else if a.first() == Some(&b':') && out.display.is_none() {
            out.display = local_display_number(a);
        }
    }
    out
}

/// The name of a terminal device number as `ps` and `w` show it (`pts/3`, `tty2`).
pub fn tty_name(tty_nr: u32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let (major, minor) = tty_major_minor(tty_nr);
    match major {
        136..=143 => Some(format!("pts/{}", (major - 136) * 256 + minor)),
        4 if minor < 64 => Some(format!("tty{minor}")),
        4 => Some(format!("ttyS{}", minor - 64)),
        _ => None,
    }
}

/// The (major, minor) of a `tty_nr` as `/proc/PID/stat` encodes it.
pub fn tty_major_minor(tty_nr: u32) -> (u32, u32) {
    (
        (tty_nr >> 8) & 0xfff,
        (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00),
    )
}

/// The virtual terminal number of a console tty name (`tty3` is 3).
pub fn vt_number(tty: &str) -> Option<u32> {
    tty.strip_prefix("tty")?.parse().ok()
}

/// Reads a small `/proc` file as text; `NotFound`/`ESRCH` mean the process is gone.
pub fn read_text(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

/// Leaves the caller's audit session for good (root only): a process with no login
/// session belongs to none, so closing any session (the administrator's own included)
/// never reaches it.
pub fn leave_audit_session() -> Result<(), String> {
    std::fs::write("/proc/self/loginuid", "4294967295")
        .map_err(|e| format!("cannot leave the audit session (/proc/self/loginuid): {e}"))?;
    match session_id(Pid(std::process::id() as i32)) {
        Some(u32::MAX) => Ok(()),
        other => Err(format!(
            "still in audit session {other:?} after clearing the login UID"
        )),
    }
}

/// Every numeric entry of `/proc`, i.e. every process (thread group) ID.
pub fn pids() -> io::Result<Vec<Pid>> {
    let mut out = Vec::with_capacity(512);
    for entry in fs::read_dir("/proc")? {
        let entry = entry?;
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            out.push(Pid(pid));
        }
    }
    Ok(out)
}

pub fn session_id(pid: Pid) -> Option<u32> {
    with_file(pid, "sessionid", |b| {
        parse_u32(std::str::from_utf8(b).ok()?)
    })
}

pub fn login_uid(pid: Pid) -> Option<u32> {
    with_file(pid, "loginuid", |b| parse_u32(std::str::from_utf8(b).ok()?))
}

pub fn stat(pid: Pid) -> Option<Stat> {
    // The name may not be UTF-8; a lossy read keeps the numeric fields intact.
    with_file(pid, "stat", |b| parse_stat(&String::from_utf8_lossy(b)))
}

/// The value of `key` in the environment of `pid`, without copying the whole block.
pub fn environ_var(pid: Pid, key: &str) -> Option<Vec<u8>> {
    with_file(pid, "environ", |b| {
        environ_value(b, key).map(<[u8]>::to_vec)
    })
}

/// `/proc/PID/stat`, and where the process's environment lies (see [`parse_env_range`]).
pub fn stat_and_env_range(pid: Pid) -> Option<(Stat, Option<(u64, u64)>)> {
    with_file(pid, "stat", |b| {
        let text = String::from_utf8_lossy(b);
        Some((parse_stat(&text)?, parse_env_range(&text)))
    })
}

/// [`environ_var`], given where the environment lies (from [`stat_and_env_range`]).
///
/// `/proc/PID/environ` is the bytes from `env_start` to `env_end` of the process's memory;
/// `process_vm_readv` copies the same bytes in one system call, without opening a file.
/// Anything short of the whole range (no permission to read another process's memory,
/// the process gone, a range that changed) falls back to reading the file, so the answer
/// is always the file's.
pub fn environ_var_in(pid: Pid, range: Option<(u64, u64)>, key: &str) -> Option<Vec<u8>> {
    const MAX: u64 = 4 << 20;
    if let Some((start, end)) = range.filter(|(s, e)| e - s <= MAX) {
        let found = READER.with(|r| {
            let mut r = r.borrow_mut();
            let len = (end - start) as usize;
            if r.buf.len() < len {
                r.buf.resize(len, 0);
            }
            let n = crate::sys::read_process_memory(pid, start as usize, &mut r.buf[..len]);
            (n.ok() == Some(len)).then(|| environ_value(&r.buf[..len], key).map(<[u8]>::to_vec))
        });
        if let Some(found) = found {
            return found;
        }
    }
    environ_var(pid, key)
}

/// Reads `/proc/PID/NAME` whole and hands its bytes to `f`; `None` when the process (or
/// the file) is gone or unreadable.
///
/// Listing and closing read a few small files of thousands of processes, so this is the
/// hot path of wms: each thread keeps a descriptor of `/proc` (paths are opened relative to
/// it) and one buffer, and a file is one `openat`, one `read` and one `close`. `std::fs::read`
/// would add a `statx` and several reads growing from 32 bytes (each read of `environ` maps
/// the target's memory again). A read that leaves the buffer unfilled has returned the
/// whole file: `stat`, `sessionid` and `loginuid` are generated whole on each read, and a
/// read of `environ` copies on until the buffer is full or the environment ends (a page it
/// cannot copy makes the read return nothing, as end of file would).
pub fn with_file<T>(pid: Pid, name: &str, f: impl FnOnce(&[u8]) -> Option<T>) -> Option<T> {
    READER.with(|r| {
        let mut r = r.borrow_mut();
        let bytes = r.read(pid, name)?;
        f(bytes)
    })
}

thread_local! {
    static READER: std::cell::RefCell<Reader> = std::cell::RefCell::new(Reader::new());
}

/// A thread's `/proc` descriptor and read buffer (see [`with_file`]).
struct Reader {
    proc_dir: Option<rustix::fd::OwnedFd>,
    buf: Vec<u8>,
}

impl Reader {
    /// The buffer every read starts with; a larger one (a big environment) is given back
    /// after use.
    const BUF: usize = 16 * 1024;

    fn new() -> Reader {
        use rustix::fs::{Mode, OFlags};
        Reader {
            proc_dir: rustix::fs::open(
                "/proc",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok(),
            buf: Vec::new(),
        }
    }

    fn read(&mut self, pid: Pid, name: &str) -> Option<&[u8]> {
        use rustix::fs::{Mode, OFlags};
        use std::io::Write as _;
        // "PID/NAME" relative to /proc, formatted without allocating.
        let mut path = [0u8; 64];
        let free = {
            let mut w = &mut path[..];
            write!(w, "/proc/{}/{name}", pid.0).ok()?;
            w.len()
        };
        let path = std::str::from_utf8(&path[..path.len() - free]).ok()?;
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match &self.proc_dir {
            Some(dir) => rustix::fs::openat(dir, &path["/proc/".len()..], flags, Mode::empty()),
            None => rustix::fs::open(path, flags, Mode::empty()),
        }
        .ok()?;
        if self.buf.len() > Self::BUF {
            self.buf.truncate(Self::BUF);
            self.buf.shrink_to(Self::BUF);
        }
        self.buf.resize(Self::BUF, 0);
        let mut len = 0;
        loop {
            match rustix::io::read(&fd, &mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len < self.buf.len() {
                        break;
                    }
                    let more = self.buf.len() * 2;
                    self.buf.resize(more, 0);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return None,
            }
        }
        Some(&self.buf[..len])
    }
}

/// This boot's random ID: state recorded under one boot means nothing under another,
/// where session IDs start again from 1.
pub fn boot_id() -> Option<String> {
    read_text(Path::new("/proc/sys/kernel/random/boot_id"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// How many tasks (processes and threads) the kernel has created since boot, in every PID
/// namespace (`processes` of `/proc/stat`).
pub fn forks() -> Option<u64> {
    read_text(Path::new("/proc/stat"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("processes "))
        .and_then(|v| v.trim().parse().ok())
}

/// The boot time in nanoseconds since the epoch: the real-time clock less the time since
/// boot, which is what process start times count from. `btime` of `/proc/stat` is cut to
/// whole seconds, up to a second early.
pub fn boot_time_ns() -> Option<i128> {
    use rustix::time::{clock_gettime, ClockId};
    let ns =
        |t: rustix::time::Timespec| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    let since_boot = ns(clock_gettime(ClockId::Boottime));
    let now = ns(clock_gettime(ClockId::Realtime));
    (now > since_boot).then_some(now - since_boot)
}

/// The arguments of `pid` (`/proc/PID/cmdline`).
pub fn cmdline(pid: Pid) -> Option<Vec<Vec<u8>>> {
    with_file(pid, "cmdline", |b| {
        Some(
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        )
    })
}

/// Whether this process is in the initial PID namespace, with a `/proc` of it: its
/// `NSpid` has one ID only, so every process of the host is in `/proc`.
pub fn sees_every_process() -> bool {
    read_text(Path::new("/proc/self/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|ids| ids.split_ascii_whitespace().count() == 1)
        })
        .unwrap_or(false)
}

/// Whether `pid` is the init (PID 1) of some PID namespace, which adopts orphans: the
/// last of its `NSpid` IDs is 1.
pub fn is_namespace_init(pid: Pid) -> bool {
    pid.0 == 1
        || with_file(pid, "status", |b| {
            let text = std::str::from_utf8(b).ok()?;
            let ids = text.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
            Some(ids.split_ascii_whitespace().last()? == "1")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSHD: &str = "1900 (sshd) S 1896 1900 1900 0 -1 4194560 512 0 0 0 1 0 0 0 20 0 1 0 123456 12345678 1234 18446744073709551615 0 0 0 0 0 0 0 4096 81926 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn only_local_displays_have_a_number_here() {
        for (d, n) in [
            (":0", Some(0)),
            (":12.0", Some(12)),
            ("unix:3", Some(3)),
            ("unix/:4.1", Some(4)),
        ] {
            assert_eq!(local_display_number(d.as_bytes()), n, "{d}");
        }
        for d in [
            "localhost:10.0",
            "host:0",
            ":",
            ":x",
            ":1234567",
            "",
            "0",
            ":-1",
        ] {
            assert_eq!(local_display_number(d.as_bytes()), None, "{d}");
        }
    }

    #[test]
    fn an_x_servers_arguments_name_its_display_and_authority() {
        let args = |l: &str| {
            l.split(' ')
                .map(|a| a.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        let a = x_server_args(&args(
            "/usr/lib/xorg/Xorg :0 -seat seat0 -auth /var/run/lightdm/root/:0 vt7",
        ));
        assert_eq!(a.display, Some(0));
        assert_eq!(
            a.auth.as_deref(),
            Some(std::path::Path::new("/var/run/lightdm/root/:0"))
        );
        let a = x_server_args(&args(
            "Xvfb -displayfd 3 -auth /tmp/x/auth -screen 0 640x480x24",
        ));
        assert_eq!(a.display, None);
        assert_eq!(a.auth.as_deref(), Some(std::path::Path::new("/tmp/x/auth")));
        // The program's own name is not its display, nor is a trailing `-auth`.
        assert_eq!(x_server_args(&args(":5 -auth")), XServerArgs::default());
    }

    #[test]
    fn parses_a_plain_stat() {
        let s = parse_stat(SSHD).unwrap();
        assert_eq!(s.pid, Pid(1900));
        assert_eq!(s.comm, "sshd");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, Pid(1896));
        assert_eq!(s.pgrp, 1900);
        assert_eq!(s.sid, 1900);
        assert_eq!(s.tpgid, -1);
        assert_eq!(s.tty_nr, 0);
        assert_eq!(s.start_time, 123456);
        assert_eq!(s.cpu_ticks, 1);
        assert_eq!(s.rss_pages, 1234);
    }

    #[test]
    fn hostile_names_do_not_shift_fields() {
        let evil = SSHD.replace("(sshd)", "(a) R 1 2 3 (b\n) Z 9)");
        let s = parse_stat(&evil).unwrap();
        assert_eq!(s.comm, "a) R 1 2 3 (b\n) Z 9");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, Pid(1896));
        assert_eq!(s.start_time, 123456);
    }

    #[test]
    fn environment_range_is_fields_50_and_51() {
        let fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        let line = format!("42 (a) b) {}\n", fields.join(" "));
        assert_eq!(parse_env_range(&line), Some((50, 51)));
        // Zeros (a reader not allowed to see them) and short lines give nothing.
        assert_eq!(parse_env_range(SSHD), None);
        assert_eq!(parse_env_range("42 (a) S 1 2"), None);
    }

    #[test]
    fn environment_through_memory_is_the_file() {
        let me = Pid(std::process::id() as i32);
        let (_, range) = stat_and_env_range(me).unwrap();
        for key in ["PATH", "HOME", "NO_SUCH_VARIABLE_HERE"] {
            assert_eq!(
                environ_var_in(me, range, key),
                environ_var(me, key),
                "{key}"
            );
            assert_eq!(environ_var_in(me, None, key), environ_var(me, key), "{key}");
        }
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat(") 12 (x"), None);
    }

    #[test]
    fn tty_numbers_name_like_ps() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name((136 << 8) | 3), Some("pts/3".into()));
        // pts/300: minor 300 = low byte 44, high bits 1 in bits 20..
        assert_eq!(
            tty_name((136 << 8) | 44 | (1 << 20)),
            Some("pts/300".into())
        );
        assert_eq!(tty_name((4 << 8) | 2), Some("tty2".into()));
        assert_eq!(tty_name((4 << 8) | 65), Some("ttyS1".into()));
        assert_eq!(vt_number("tty3"), Some(3));
        assert_eq!(vt_number("pts/3"), None);
    }

    #[test]
    fn environ_lookup() {
        let env = b"A=1\0SSH_CONNECTION=10.0.0.5 5000 10.0.0.1 22\0SSH_CONNECTIONX=no\0";
        assert_eq!(
            environ_value(env, "SSH_CONNECTION"),
            Some(&b"10.0.0.5 5000 10.0.0.1 22"[..])
        );
        assert_eq!(environ_value(env, "SSH"), None);
    }
}
