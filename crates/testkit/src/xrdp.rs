//! Remote desktops through a real xrdp: a private `xrdp-sesman` and `xrdp` started in the
//! foreground (`--nodaemon`) with copies of Debian's configuration (own listening port,
//! logs in their own directory, openbox as the window manager), and the real RDP client
//! `xfreerdp` under its own Xvfb.
//!
//! What xrdp 0.9 fixes at build time and the kit cannot make private: `xrdp` finds sesman
//! at the port `/etc/xrdp/sesman.ini` names, and xorgxrdp's sockets live in
//! `/run/xrdp/sockdir`. So one such server runs on the machine at a time: [`XrdpServer`]
//! holds an exclusive lock (`/run/wms-testkit-xrdp.lock`) for its lifetime, and tests that
//! use it wait for one another, across test processes too.
//!
//! The sessions are real audit sessions only if `pam_loginuid` is in sesman's PAM stack,
//! which Debian's `/etc/pam.d/xrdp-sesman` does not include; the kit adds it there (see
//! [`ensure_pam_loginuid`]), as the README tells administrators to do.

use super::*;

/// The lock serialising xrdp servers (see the module's documentation).
pub const XRDP_LOCK_PATH: &str = "/run/wms-testkit-xrdp.lock";
/// sesman's PAM service file.
pub const SESMAN_PAM: &str = "/etc/pam.d/xrdp-sesman";
/// The password the kit gives the users it logs in over RDP.
pub const RDP_PASSWORD: &str = "wms-Rdp-test-1";
/// The line the kit adds to [`SESMAN_PAM`].
const LOGINUID_LINE: &str = "session required pam_loginuid.so";
/// How long a connection may take to show its desktop.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(40);

/// Makes sure sesman's PAM stack opens an audit session (`pam_loginuid`), adding the line
/// before the common session modules if it is missing. Idempotent, under the kit's lock,
/// written to a new file renamed over the old one; left in place (the machine is then
/// configured as the README asks, and parallel test processes never see it flicker).
pub fn ensure_pam_loginuid() {
    let _guard = GlobalLock::acquire();
    let text = fs::read_to_string(SESMAN_PAM).unwrap_or_else(|e| panic!("read {SESMAN_PAM}: {e}"));
    let has = text.lines().any(|l| {
        let l = l.trim_start();
        !l.starts_with('#') && l.contains("pam_loginuid.so")
    });
    if has {
        return;
    }
    let mut out = String::new();
    let mut added = false;
    for line in text.lines() {
        if !added && line.trim_start().starts_with("@include common-session") {
            out.push_str(LOGINUID_LINE);
            out.push('\n');
            added = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !added {
        out.push_str(LOGINUID_LINE);
        out.push('\n');
    }
    let tmp = PathBuf::from(format!("{SESMAN_PAM}.wms-testkit"));
    fs::write(&tmp, out).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    chmod(&tmp, 0o644);
    fs::rename(&tmp, SESMAN_PAM).unwrap_or_else(|e| panic!("rename to {SESMAN_PAM}: {e}"));
}

/// Gives `user` the password [`RDP_PASSWORD`] (RDP logins need one).
pub fn set_rdp_password(user: &TestUser) {
    let _guard = GlobalLock::acquire();
    let mut child = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run chpasswd");
    child
        .stdin
        .take()
        .expect("chpasswd's stdin")
        .write_all(format!("{}:{RDP_PASSWORD}\n", user.name).as_bytes())
        .expect("write to chpasswd");
    assert!(
        child.wait().expect("wait chpasswd").success(),
        "chpasswd failed"
    );
}

/// A private xrdp with its sesman (see the module's documentation). Dropping it SIGKILLs
/// what is left of the sessions opened through it, stops sesman and xrdp by PID and
/// removes its directory.
pub struct XrdpServer {
    sesman: Child,
    xrdp: Child,
    port: u16,
    dir: PathBuf,
    /// The desktops opened through it: session id, display number, owner.
    sessions: Mutex<Vec<(u32, u32, u32)>>,
    _lock: File,
}

impl fmt::Debug for XrdpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrdpServer")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish()
    }
}

/// A desktop session xrdp opened, as the operating system shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdpDesktop {
    /// The audit session id.
    pub session_id: u32,
    /// The X display (`:N`).
    pub display: String,
    /// The PID of the session's X server.
    pub xorg_pid: u32,
}

/// The value of `key` in section `section` of an ini file's text.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim().eq_ignore_ascii_case(key) {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// `text` with `key=` set to `value` in section `section`, added at the section's start
/// if it is not there (comment lines, `#key=`, are left alone).
fn ini_set(text: &str, section: &str, key: &str, value: &str) -> String {
    let header = format!("[{section}]");
    let mut inside = false;
    let mut found = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('[') {
                inside = t == header;
            }
            match t.split_once('=') {
                Some((k, _)) if inside && k.trim().eq_ignore_ascii_case(key) => {
                    found = true;
                    format!("{key}={value}")
                }
                _ => l.to_string(),
            }
        })
        .collect();
    if !found {
        match lines.iter().position(|l| l.trim() == header) {
            Some(i) => lines.insert(i + 1, format!("{key}={value}")),
            None => lines.extend([header, format!("{key}={value}")]),
        }
    }
    lines.join("\n") + "\n"
}

impl XrdpServer {
    /// Starts sesman and xrdp (xrdp on a free port of 127.0.0.1) once no other server of
    /// the kit runs, and waits until both listen. Each desktop runs `xlogo` (a window
    /// named "xlogo") and openbox.
    pub fn start() -> XrdpServer {
        Self::start_with(true)
    }

    /// [`XrdpServer::start`], with xrdp's `fork` setting: `false` serves every connection
    /// from the listening process itself.
    pub fn start_with(fork: bool) -> XrdpServer {
        ensure_pam_loginuid();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(XRDP_LOCK_PATH)
            .unwrap_or_else(|e| panic!("open {XRDP_LOCK_PATH}: {e}"));
        loop {
            match rustix::fs::flock(&lock, FlockOperation::LockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => panic!("flock {XRDP_LOCK_PATH}: {e}"),
            }
        }
        let dir = fresh_dir("xrdp");
        let system_sesman =
            fs::read_to_string("/etc/xrdp/sesman.ini").expect("read /etc/xrdp/sesman.ini");
        let sesman_port: u16 = ini_value(&system_sesman, "Globals", "ListenPort")
            .and_then(|p| p.parse().ok())
            .unwrap_or(3350);
        let wm = dir.join("desktop.sh");
        fs::write(
            &wm,
            "#!/bin/sh\n# The kit's desktop: a known window, then the window manager.\n\
             xlogo -geometry 200x200+20+20 &\nexec openbox\n",
        )
        .expect("write desktop.sh");
        chmod(&wm, 0o755);

        let mut sesman_ini = system_sesman.clone();
        for (section, k, v) in [
            (
                "Logging",
                "LogFile",
                dir.join("sesman.log").display().to_string(),
            ),
            ("Logging", "EnableSyslog", "false".to_string()),
            ("Globals", "EnableUserWindowManager", "false".to_string()),
            ("Globals", "DefaultWindowManager", wm.display().to_string()),
            // Displays from here up (sesman takes the first free one).
            ("Sessions", "X11DisplayOffset", "60".to_string()),
            ("Sessions", "KillDisconnected", "false".to_string()),
        ] {
            sesman_ini = ini_set(&sesman_ini, section, k, &v);
        }
        let sesman_conf = dir.join("sesman.ini");
        fs::write(&sesman_conf, sesman_ini).expect("write sesman.ini");
        let log = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
                .expect("open a log")
        };
        let mut cmd = Command::new("/usr/sbin/xrdp-sesman");
        cmd.args(["--nodaemon", "--config"])
            .arg(&sesman_conf)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log("sesman.out"))
            .stderr(log("sesman.out"));
        let mut sesman = spawn_guarded(cmd).expect("spawn xrdp-sesman");
        wait_listening(&mut sesman, sesman_port, &dir.join("sesman.out"));

        let system_xrdp =
            fs::read_to_string("/etc/xrdp/xrdp.ini").expect("read /etc/xrdp/xrdp.ini");
        let mut last = String::new();
        for _attempt in 0..10 {
            let port = pick_port();
            let mut xrdp_ini = system_xrdp.clone();
            for (section, k, v) in [
                ("Globals", "port", format!("tcp://127.0.0.1:{port}")),
                ("Globals", "autorun", "Xorg".to_string()),
                ("Globals", "fork", fork.to_string()),
                (
                    "Logging",
                    "LogFile",
                    dir.join("xrdp.log").display().to_string(),
                ),
                ("Logging", "EnableSyslog", "false".to_string()),
            ] {
                xrdp_ini = ini_set(&xrdp_ini, section, k, &v);
            }
            let conf = dir.join("xrdp.ini");
            fs::write(&conf, xrdp_ini).expect("write xrdp.ini");
            let mut cmd = Command::new("/usr/sbin/xrdp");
            cmd.args(["--nodaemon", "--config"])
                .arg(&conf)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log("xrdp.out"))
                .stderr(log("xrdp.out"));
            let mut xrdp = spawn_guarded(cmd).expect("spawn xrdp");
            if wait_listening_soft(&mut xrdp, port) {
                return XrdpServer {
                    sesman,
                    xrdp,
                    port,
                    dir,
                    sessions: Mutex::new(Vec::new()),
                    _lock: lock,
                };
            }
            signal(xrdp.id(), Signal::KILL);
            let _ = xrdp.wait();
            last = fs::read_to_string(dir.join("xrdp.log")).unwrap_or_default();
        }
        signal(sesman.id(), Signal::TERM);
        let _ = wait_child(&mut sesman, Duration::from_secs(5));
        panic!("xrdp did not listen: {last}");
    }

    /// The port xrdp listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its directory (configuration, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// sesman's and xrdp's logs.
    pub fn logs(&self) -> String {
        ["sesman.log", "sesman.out", "xrdp.log", "xrdp.out"]
            .iter()
            .map(|f| {
                format!(
                    "== {f}\n{}",
                    fs::read_to_string(self.dir.join(f)).unwrap_or_default()
                )
            })
            .collect()
    }

    /// The desktop of `user` this server's sesman runs, if any: its X server is a
    /// grandchild of sesman (sesman forks a child per session, which starts it).
    pub fn desktop_of(&self, user: &TestUser) -> Option<RdpDesktop> {
        let sesman = self.sesman.id();
        for pid in all_pids() {
            let Some((comm, ppid)) = comm_and_ppid(pid) else {
                continue;
            };
            if comm != "Xorg" || comm_and_ppid(ppid).map(|(_, p)| p) != Some(sesman) {
                continue;
            }
            let uid = fs::read_to_string(format!("/proc/{pid}/loginuid")).ok()?;
            if uid.trim() != user.uid.to_string() {
                continue;
            }
            let args = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let display = args
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).to_string())
                .find(|a| a.starts_with(':'))?;
            let session_id = process_session_id(pid)?;
            if session_id == NO_SESSION {
                return None;
            }
            let number: u32 = display.trim_start_matches(':').parse().ok()?;
            let mut ids = lock(&self.sessions);
            if !ids.iter().any(|(id, _, _)| *id == session_id) {
                ids.push((session_id, number, user.uid));
            }
            drop(ids);
            return Some(RdpDesktop {
                session_id,
                display,
                xorg_pid: pid,
            });
        }
        None
    }

    /// Connects `user` (whose password is [`RDP_PASSWORD`]) with xfreerdp and waits until
    /// the desktop's X server is served (its `xrdp_display` socket connected) and the
    /// desktop's window manager runs.
    pub fn connect(&self, user: &TestUser) -> (RdpClient, RdpDesktop) {
        let client = RdpClient::start(self.port, user);
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut client = client;
        loop {
            if let Some(d) = self.desktop_of(user) {
                if served(d.xorg_pid) && has_child_named(d.xorg_pid, "openbox") {
                    return (client, d);
                }
            }
            if let Some(status) = client.try_exit() {
                panic!(
                    "xfreerdp exited ({status}) before the desktop came:\n{}\n{}",
                    client.output(),
                    self.logs()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "no desktop for {} within {CONNECT_TIMEOUT:?}:\n{}\n{}",
                    user.name,
                    client.output(),
                    self.logs()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether `xorg`'s X server holds an accepted connection on its `xrdp_display` socket
/// (a connected Unix socket bound to that name, in `/proc/net/unix`).
pub fn served(xorg: u32) -> bool {
    let held = socket_inodes(xorg);
    let table = fs::read_to_string(format!("/proc/{xorg}/net/unix")).unwrap_or_default();
    // Num RefCount Protocol Flags Type St Inode Path; St 03 is connected.
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 8
            && f[5] == "03"
            && f[7]
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("xrdp_display_"))
            && f[6].parse().is_ok_and(|ino: u64| held.contains(&ino))
    })
}

/// The inodes of the sockets process `pid` holds.
fn socket_inodes(pid: u32) -> Vec<u64> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_str()?;
                    l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether process `pid` listens on TCP `port` (`/proc/PID/net/tcp{,6}`).
fn listens(pid: u32, port: u16) -> bool {
    let held = socket_inodes(pid);
    ["tcp", "tcp6"].iter().any(|t| {
        let table = fs::read_to_string(format!("/proc/{pid}/net/{t}")).unwrap_or_default();
        // sl local_address rem_address st ... inode (the tenth field); st 0A is LISTEN.
        table.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 10
                && f[3] == "0A"
                && f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                    == Some(port)
                && f[9].parse().is_ok_and(|ino: u64| held.contains(&ino))
        })
    })
}

/// Whether a sibling of `pid` (a child of its parent) is named `name`.
fn has_child_named(pid: u32, name: &str) -> bool {
    let Some((_, parent)) = comm_and_ppid(pid) else {
        return false;
    };
    children(parent)
        .into_iter()
        .any(|c| comm_and_ppid(c).is_some_and(|(comm, _)| comm == name))
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A process's name and parent.
fn comm_and_ppid(pid: u32) -> Option<(String, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let ppid = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((stat[open + 1..close].to_string(), ppid))
}

/// Waits until `child` listens on TCP `port` (any address), or panics with its output.
fn wait_listening(child: &mut Child, port: u16, out: &Path) {
    if !wait_listening_soft(child, port) {
        panic!(
            "{} did not listen on port {port}: {}",
            child.id(),
            fs::read_to_string(out).unwrap_or_default()
        );
    }
}

/// Whether `child` listens on TCP `port` within 10 s (false if it exits first).
fn wait_listening_soft(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if listens(child.id(), port) {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Removes what a desktop's X server (display `number`, run by `uid`) left behind when
/// killed: its X socket and lock file and xorgxrdp's sockets, each only if that user owns
/// it and no live process holds the lock.
fn remove_display_files(number: u32, uid: u32) {
    let lock_file = PathBuf::from(format!("/tmp/.X{number}-lock"));
    if let Ok(text) = fs::read_to_string(&lock_file) {
        if text.trim().parse::<u32>().is_ok_and(is_live) {
            return;
        }
    }
    let mut paths = vec![
        lock_file,
        PathBuf::from(format!("/tmp/.X11-unix/X{number}")),
    ];
    for prefix in [
        "xrdp_display_",
        "xrdp_disconnect_display_",
        "xrdp_chansrv_socket_",
        "xrdp_chansrv_audio_in_socket_",
        "xrdp_chansrv_audio_out_socket_",
        "xrdpapi_",
    ] {
        paths.push(PathBuf::from(format!("/run/xrdp/sockdir/{prefix}{number}")));
    }
    for p in paths {
        if fs::symlink_metadata(&p).is_ok_and(|m| m.uid() == uid) {
            let _ = fs::remove_file(&p);
        }
    }
}

impl Drop for XrdpServer {
    fn drop(&mut self) {
        let desktops: Vec<(u32, u32, u32)> = lock(&self.sessions).drain(..).collect();
        // SIGTERM first, so that each X server removes its socket and lock file (sesman
        // would skip a display whose files stay), then SIGKILL what is left.
        for (id, _, _) in &desktops {
            for pid in session_pids(*id) {
                signal(pid, Signal::TERM);
            }
        }
        for (id, number, uid) in &desktops {
            if !wait_session_gone(*id, Duration::from_secs(5)) {
                kill_session(*id);
            }
            remove_display_files(*number, *uid);
        }
        for child in [&mut self.xrdp, &mut self.sesman] {
            signal(child.id(), Signal::TERM);
            if wait_child(child, Duration::from_secs(5)).is_none() {
                signal(child.id(), Signal::KILL);
                let _ = child.wait();
            }
        }
        // xrdp's connection processes end with their client; any left are the server's.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The RDP client `xfreerdp`, under an Xvfb of its own (both started, and stopped, by
/// PID).
pub struct RdpClient {
    xvfb: Child,
    client: Child,
    out: PathBuf,
    exited: Option<ExitStatus>,
}

impl fmt::Debug for RdpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdpClient")
            .field("pid", &self.client.id())
            .finish()
    }
}

impl RdpClient {
    /// Starts Xvfb (`-displayfd`, so it picks a free display) and xfreerdp on it,
    /// logging `user` in to 127.0.0.1:`port`.
    pub fn start(port: u16, user: &TestUser) -> RdpClient {
        let dir = fresh_dir("rdp-client");
        let (read, write) = std::io::pipe().expect("pipe");
        let write_fd = std::os::fd::OwnedFd::from(write);
        // Xvfb inherits the pipe's write end (without close-on-exec) and writes its
        // display number there.
        rustix::io::fcntl_setfd(&write_fd, rustix::io::FdFlags::empty()).expect("fcntl");
        let raw = std::os::fd::AsRawFd::as_raw_fd(&write_fd);
        let mut cmd = Command::new("Xvfb");
        cmd.arg("-displayfd")
            .arg(raw.to_string())
            .args(["-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let xvfb = spawn_guarded(cmd).expect("spawn Xvfb");
        drop(write_fd);
        let mut display = String::new();
        let mut read = read;
        let mut byte = [0u8; 1];
        while read.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            display.push(byte[0] as char);
        }
        assert!(!display.is_empty(), "Xvfb did not say its display");
        let out = dir.join("xfreerdp.out");
        let log = File::create(&out).expect("create xfreerdp.out");
        let mut cmd = Command::new("xfreerdp");
        cmd.arg(format!("/v:127.0.0.1:{port}"))
            .arg(format!("/u:{}", user.name))
            .arg(format!("/p:{RDP_PASSWORD}"))
            .args(["/cert:ignore", "/size:800x600"])
            .env("DISPLAY", format!(":{display}"))
            .env("HOME", &dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let client = spawn_guarded(cmd).expect("spawn xfreerdp");
        RdpClient {
            xvfb,
            client,
            out,
            exited: None,
        }
    }

    /// The client's PID.
    pub fn pid(&self) -> u32 {
        self.client.id()
    }

    /// What the client printed.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.client.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits up to `timeout` for the client to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for RdpClient {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            signal(self.client.id(), Signal::KILL);
            let _ = self.client.wait();
        }
        signal(self.xvfb.id(), Signal::TERM);
        if wait_child(&mut self.xvfb, Duration::from_secs(5)).is_none() {
            signal(self.xvfb.id(), Signal::KILL);
            let _ = self.xvfb.wait();
        }
        if let Some(dir) = self.out.parent() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_port_is_set_and_the_sections_keep_theirs() {
        let ini = "[Globals]\nport=3389\nuse_vsock=false\n[Xorg]\nport=-1\ncode=20\n";
        assert_eq!(
            ini_set(ini, "Globals", "port", "tcp://127.0.0.1:4000"),
            "[Globals]\nport=tcp://127.0.0.1:4000\nuse_vsock=false\n[Xorg]\nport=-1\ncode=20\n"
        );
        assert_eq!(
            ini_set(ini, "Xorg", "name", "Xorg"),
            "[Globals]\nport=3389\nuse_vsock=false\n[Xorg]\nname=Xorg\nport=-1\ncode=20\n"
        );
        assert_eq!(ini_value(ini, "Xorg", "code").as_deref(), Some("20"));
        assert_eq!(ini_value(ini, "Globals", "code"), None);
    }
}
