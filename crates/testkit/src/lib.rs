//! Test fixtures for wms: real Linux login sessions opened through a real OpenSSH `sshd`.
//!
//! wms manages kernel audit sessions (`/proc/PID/sessionid`), which PAM's `pam_loginuid`
//! assigns at each login. To test that for real, this crate:
//!
//! - creates fixed test users on demand ([`user`], [`ensure_user`]), idempotently and under a
//!   machine-wide file lock (`/run/wms-testkit.lock`) so parallel test processes agree;
//! - runs a private `sshd` on a free port of 127.0.0.1 with its own host key, client key and
//!   `authorized_keys` ([`Sshd`]);
//! - opens sessions with the real `ssh` client, with a terminal (`ssh -tt` whose local side is
//!   a pseudo-terminal owned by this kit, so a test reads the client's screen as a user would)
//!   or without one ([`Sshd::open_session`], [`Sshd::run`]);
//! - observes sessions the way the operating system shows them ([`session_pids`],
//!   [`wait_session_gone`]).
//!
//! Everything here must run as root, and is safe to use from many test processes at once.
//! Processes are only ever signalled by a PID this kit started, or by membership in a
//! session this kit opened; never by name.
//!
//! Every remote command is preceded by a marker line, `WMS-SESSION=<id> WMS-PID=<pid>`,
//! printed by the remote login shell before it `exec`s the command; the kit reads it to
//! learn the session id (and the PID of the remote command).

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::FlockOperation;
use rustix::process::{Pid, Signal};

// The generator forks and runs raw system calls in the child (test code; each unsafe
// block says why it is sound).
#[allow(unsafe_code)]
pub mod gen;

/// The machine-wide lock file serialising user creation and the binary cache.
pub const LOCK_PATH: &str = "/run/wms-testkit.lock";
/// The directory under which this kit keeps its temporary files (mode 0755).
pub const TMP_ROOT: &str = "/tmp/wms-testkit";
/// The group whose members are wms operators ([`Role::Operator`]).
pub const OPERATORS_GROUP: &str = "wms-operators";
/// The administrator group the admin test user belongs to ([`Role::Admin`]).
pub const ADMIN_GROUP: &str = "sudo";
/// The audit session id of processes outside any login session.
pub const NO_SESSION: u32 = u32::MAX;

/// The prefix of the marker line the remote side prints before running a command.
const MARKER: &str = "WMS-SESSION=";
/// Temporary entries older than this are pruned (they belong to dead test processes).
const STALE_AFTER: Duration = Duration::from_secs(12 * 3600);
/// How long [`Sshd::open_session`] waits for the session marker.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`Sshd::run`] waits for the command to finish.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Sshd::start`] waits for sshd to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

/// A test role; each maps to a fixed test user, created on demand by [`user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `wmst-plain`: an ordinary user.
    Plain,
    /// `wmst-plain2`: a second ordinary user (for "someone else's session").
    Plain2,
    /// `wmst-oper`: a member of the `wms-operators` group.
    Operator,
    /// `wmst-admin`: a member of the `sudo` group (an administrator by wms's default rules).
    Admin,
    /// `wmst-allp`: an ordinary user used only by tests that run `-All` as a plain user, so
    /// that such tests cannot disturb sessions of the other roles' tests.
    AllPlain,
}

impl Role {
    /// Every role, for tests that iterate over them.
    pub const ALL: [Role; 5] = [
        Role::Plain,
        Role::Plain2,
        Role::Operator,
        Role::Admin,
        Role::AllPlain,
    ];

    /// The login name of this role's test user.
    pub fn user_name(self) -> &'static str {
        match self {
            Role::Plain => "wmst-plain",
            Role::Plain2 => "wmst-plain2",
            Role::Operator => "wmst-oper",
            Role::Admin => "wmst-admin",
            Role::AllPlain => "wmst-allp",
        }
    }

    /// The supplementary groups this role's test user must belong to.
    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Role::Operator => &[OPERATORS_GROUP],
            Role::Admin => &[ADMIN_GROUP],
            Role::Plain | Role::Plain2 | Role::AllPlain => &[],
        }
    }
}

/// A user account that sessions can be opened as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestUser {
    /// The login name.
    pub name: String,
    /// The numeric user id.
    pub uid: u32,
}

impl TestUser {
    /// The root account (ssh key login as root is allowed by the kit's sshd).
    pub fn root() -> TestUser {
        TestUser {
            name: "root".to_string(),
            uid: 0,
        }
    }
}

/// Groups that make a user more than a plain user; a role's user is removed from those its
/// role does not list, so a stray `usermod` cannot silently change what a test proves.
const PRIVILEGED_GROUPS: [&str; 4] = [ADMIN_GROUP, OPERATORS_GROUP, "wheel", "admin"];

/// Returns the test user of `role`, creating it (and its groups) if missing, and making sure
/// it belongs to exactly the role's groups among `sudo`, `wms-operators`, `wheel`, `admin`.
pub fn user(role: Role) -> TestUser {
    ensure_user_inner(role.user_name(), role.groups(), &PRIVILEGED_GROUPS)
}

/// Makes sure user `name` exists (`useradd -m -s /bin/bash`) and belongs to every group in
/// `groups` (each created with `groupadd` if missing); idempotent and safe under concurrency
/// (it holds [`LOCK_PATH`] while checking and changing the user database).
pub fn ensure_user(name: &str, groups: &[&str]) -> TestUser {
    ensure_user_inner(name, groups, &[])
}

/// [`ensure_user`], also removing the user from each group of `exclusive` not in `groups`.
fn ensure_user_inner(name: &str, groups: &[&str], exclusive: &[&str]) -> TestUser {
    /// Users already ensured by this process.
    type Done = Mutex<HashMap<(String, Vec<String>, Vec<String>), TestUser>>;
    static DONE: OnceLock<Done> = OnceLock::new();
    let strings = |list: &[&str]| list.iter().map(|g| g.to_string()).collect::<Vec<_>>();
    let key = (name.to_string(), strings(groups), strings(exclusive));
    let done = DONE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(user) = lock(done).get(&key) {
        return user.clone();
    }

    let _guard = GlobalLock::acquire();
    if lookup_uid(name).is_none() {
        retry_admin_command(
            || lookup_uid(name).is_some(),
            &["useradd", "-m", "-s", "/bin/bash", name],
        );
    }
    for group in groups {
        if !group_exists(group) {
            retry_admin_command(|| group_exists(group), &["groupadd", group]);
        }
    }
    let current = user_groups(name);
    let missing: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|g| !current.iter().any(|c| c == g))
        .collect();
    if !missing.is_empty() {
        let list = missing.join(",");
        retry_admin_command(
            || {
                let now = user_groups(name);
                missing.iter().all(|g| now.iter().any(|c| c == g))
            },
            &["usermod", "-a", "-G", &list, name],
        );
    }
    for group in exclusive.iter().filter(|g| !groups.contains(g)) {
        if user_groups(name).iter().any(|c| c == group) {
            retry_admin_command(
                || !user_groups(name).iter().any(|c| c == group),
                &["gpasswd", "-d", name, group],
            );
        }
    }
    let uid = lookup_uid(name).unwrap_or_else(|| panic!("user {name} missing after useradd"));
    let user = TestUser {
        name: name.to_string(),
        uid,
    };
    lock(done).insert(key, user.clone());
    user
}

/// Runs a user-database command, retrying a few times (the shadow tools fail when another
/// program holds their own lock) until `done` reports success.
fn retry_admin_command(done: impl Fn() -> bool, argv: &[&str]) {
    let mut last = String::new();
    for attempt in 0..10 {
        if attempt > 0 {
            if done() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        match Command::new(argv[0]).args(&argv[1..]).output() {
            Ok(out) if out.status.success() => return,
            Ok(out) => {
                last = format!(
                    "{}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            Err(e) => last = e.to_string(),
        }
    }
    if !done() {
        panic!("{argv:?} failed: {last}");
    }
}

/// The uid of `name` from the user database, if it exists.
fn lookup_uid(name: &str) -> Option<u32> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .expect("run getent");
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    line.lines()
        .next()?
        .split(':')
        .nth(2)
        .and_then(|s| s.parse().ok())
}

/// Whether group `name` exists.
fn group_exists(name: &str) -> bool {
    Command::new("getent")
        .args(["group", name])
        .stdout(Stdio::null())
        .status()
        .expect("run getent")
        .success()
}

/// The names of the groups `name` belongs to (`id -nG`).
fn user_groups(name: &str) -> Vec<String> {
    let out = Command::new("id")
        .args(["-nG", name])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Locking, temporary files, shared binaries, configuration files
// ---------------------------------------------------------------------------------------

/// Holds an exclusive `flock` on [`LOCK_PATH`] until dropped.
struct GlobalLock(#[allow(dead_code)] File);

impl GlobalLock {
    fn acquire() -> GlobalLock {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(LOCK_PATH)
            .unwrap_or_else(|e| panic!("open {LOCK_PATH}: {e}"));
        loop {
            match rustix::fs::flock(&file, FlockOperation::LockExclusive) {
                Ok(()) => return GlobalLock(file),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => panic!("flock {LOCK_PATH}: {e}"),
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test must not break its neighbours).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the permission bits of `path`, panicking on failure.
fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// [`TMP_ROOT`], created (mode 0755) if missing, and checked to be a real root-owned
/// directory so that test users can traverse but not tamper with it.
fn tmp_root() -> PathBuf {
    let root = PathBuf::from(TMP_ROOT);
    match fs::create_dir(&root) {
        Ok(()) => chmod(&root, 0o755),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("mkdir {TMP_ROOT}: {e}"),
    }
    let meta = fs::symlink_metadata(&root).unwrap_or_else(|e| panic!("stat {TMP_ROOT}: {e}"));
    assert!(meta.is_dir(), "{TMP_ROOT} is not a directory");
    assert_eq!(meta.uid(), 0, "{TMP_ROOT} is not owned by root");
    if meta.mode() & 0o7777 != 0o755 {
        chmod(&root, 0o755);
    }
    root
}

/// Creates a fresh, uniquely named directory (mode 0755) under [`TMP_ROOT`].
fn fresh_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let root = tmp_root();
    loop {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = root.join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => {
                chmod(&dir, 0o755);
                return dir;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("mkdir {}: {e}", dir.display()),
        }
    }
}

/// Removes entries of [`TMP_ROOT`] with one of `prefixes` not modified for
/// [`STALE_AFTER`] (left behind by test processes that were killed). Call under the lock.
fn prune_stale(prefixes: &[&str]) {
    let Ok(entries) = fs::read_dir(TMP_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Makes the executable at `path` (e.g. `env!("CARGO_BIN_EXE_wms")`) executable by the test
/// users, who cannot reach the build directory: copies it into a world-readable directory
/// under [`TMP_ROOT`] (directories 0755, file 0755) and returns the copy's path.
///
/// The copy is made at most once per test process, and is shared between test processes
/// through a cache keyed by the source file's identity (device, inode, size, modification
/// time), so a rebuilt binary always gets a fresh copy while hundreds of test processes do not
/// each copy a large debug binary. Cache entries unused for 12 hours are pruned.
pub fn shared_binary(path: &str) -> PathBuf {
    static DONE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(copy) = lock(done).get(path) {
        return copy.clone();
    }

    let src = Path::new(path);
    let meta = fs::metadata(src).unwrap_or_else(|e| panic!("stat {path}: {e}"));
    assert!(meta.is_file(), "{path} is not a file");
    let file_name = src
        .file_name()
        .unwrap_or_else(|| panic!("{path} has no file name"));
    let key = format!(
        "bin-{:x}-{:x}-{:x}-{:x}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let root = tmp_root();
    let dir = root.join(key);
    let dest = dir.join(file_name);
    {
        let _guard = GlobalLock::acquire();
        if !dest.exists() {
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("mkdir {}: {e}", dir.display()),
            }
            chmod(&dir, 0o755);
            let tmp = dir.join(format!(
                ".{}.tmp-{}",
                file_name.to_string_lossy(),
                std::process::id()
            ));
            fs::copy(src, &tmp).unwrap_or_else(|e| panic!("copy {path} to {}: {e}", tmp.display()));
            chmod(&tmp, 0o755);
            fs::rename(&tmp, &dest).unwrap_or_else(|e| panic!("rename {}: {e}", tmp.display()));
        }
        // Mark the entry as in use, then drop entries nobody used for a long time.
        if let Ok(d) = File::open(&dir) {
            let _ = d.set_modified(SystemTime::now());
        }
        prune_stale(&["bin-", "cfg-", "sshd-"]);
    }
    lock(done).insert(path.to_string(), dest.clone());
    dest
}

/// Writes a wms configuration file with `contents`, owned by root with mode 0644, in a fresh
/// directory (mode 0755) under [`TMP_ROOT`], and returns its path. Tests pass it to wms in
/// the `WMS_CONFIG` environment variable.
pub fn config_file(contents: &str) -> PathBuf {
    let dir = fresh_dir("cfg");
    let path = dir.join("wms.toml");
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o644)
        .open(&path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    file.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    drop(file);
    std::os::unix::fs::chown(&path, Some(0), Some(0))
        .unwrap_or_else(|e| panic!("chown root {}: {e}", path.display()));
    chmod(&path, 0o644);
    path
}

/// Quotes `s` as a single POSIX shell word (`'...'`, with embedded quotes escaped).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------
// Processes and sessions
// ---------------------------------------------------------------------------------------

/// The audit session id of process `pid`, if it is readable.
pub fn process_session_id(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/sessionid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether process `pid` exists and is not a zombie.
fn is_live(pid: u32) -> bool {
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
fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Waits up to `timeout` for `child` to exit.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
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
fn spawn_guarded(mut cmd: Command) -> io::Result<Child> {
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

// ---------------------------------------------------------------------------------------
// Output collection
// ---------------------------------------------------------------------------------------

/// Bytes collected by a reader thread, with a condition variable signalled on every change.
#[derive(Default)]
struct Buffer {
    state: Mutex<BufferState>,
    changed: Condvar,
}

#[derive(Default)]
struct BufferState {
    bytes: Vec<u8>,
    /// The reader saw end of file (or an error such as EIO on a pty master).
    closed: bool,
}

impl Buffer {
    /// Starts a thread that appends everything read from `source` to a new buffer.
    fn collect(mut source: impl Read + Send + 'static) -> Arc<Buffer> {
        let buffer = Arc::new(Buffer::default());
        let writer = Arc::clone(&buffer);
        thread::Builder::new()
            .name("wms-testkit-reader".to_string())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match source.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            lock(&writer.state).bytes.extend_from_slice(&chunk[..n]);
                            writer.changed.notify_all();
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                lock(&writer.state).closed = true;
                writer.changed.notify_all();
            })
            .expect("start a reader thread");
        buffer
    }

    fn bytes(&self) -> Vec<u8> {
        lock(&self.state).bytes.clone()
    }

    /// Waits up to `timeout` until `done(bytes)` holds; returns its last value. Stops early
    /// once the source is closed.
    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            if let Some(v) = done(&state.bytes) {
                return Some(v);
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits up to `timeout` for the source to reach end of file.
    fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A parsed marker line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker {
    session_id: u32,
    pid: u32,
    /// Byte range of the whole line in the text, including its line end.
    start: usize,
    end: usize,
}

/// Finds the complete marker line `WMS-SESSION=<id> WMS-PID=<pid>` (ended by `\n`) in `text`.
fn find_marker(text: &[u8]) -> Option<Marker> {
    let mut from = 0;
    while let Some(pos) = find(&text[from..], MARKER.as_bytes()).map(|p| p + from) {
        from = pos + 1;
        let line_end = match text[pos..].iter().position(|&b| b == b'\n') {
            Some(n) => pos + n,
            None => return None,
        };
        let line = String::from_utf8_lossy(&text[pos + MARKER.len()..line_end]);
        let mut words = line.trim_end_matches('\r').split(' ');
        let id = words.next().and_then(|s| s.parse().ok());
        let pid = words
            .next()
            .and_then(|s| s.strip_prefix("WMS-PID="))
            .and_then(|s| s.parse().ok());
        if let (Some(session_id), Some(pid)) = (id, pid) {
            return Some(Marker {
                session_id,
                pid,
                start: pos,
                end: line_end + 1,
            });
        }
    }
    None
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// sshd
// ---------------------------------------------------------------------------------------

/// A private OpenSSH server on 127.0.0.1, with its own host key, client key and
/// `authorized_keys` (accepting the client key for every user), in a temporary directory.
///
/// Dropping it SIGKILLs what is left of the sessions opened through it (by their audit
/// session ids), SIGTERMs the sshd process it started, waits for it and removes its directory.
pub struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    log_path: PathBuf,
    client_key: PathBuf,
    /// Session ids opened through this server, for cleanup.
    sessions: Arc<Mutex<Vec<u32>>>,
}

impl fmt::Debug for Sshd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sshd")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish()
    }
}

/// The result of [`Sshd::run`].
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit status of the ssh client (the remote command's status, or 255 for ssh errors).
    pub status: std::process::ExitStatus,
    /// Everything the command wrote to standard output.
    pub stdout: String,
    /// Everything written to standard error, without the kit's marker line.
    pub stderr: String,
    /// The audit session id the command ran in.
    pub session_id: u32,
}

/// Creates an ed25519 key pair at `path` (and `path.pub`).
fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "wms-testkit", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port on 127.0.0.1 that was free a moment ago.
fn pick_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

impl Sshd {
    /// Starts `/usr/sbin/sshd -D` on a free port of 127.0.0.1 and waits until it listens.
    /// Retries with another port if sshd cannot bind (another process took the port).
    pub fn start() -> Sshd {
        // sshd's privilege separation directory (normally made by its init script).
        match fs::create_dir("/run/sshd") {
            Ok(()) => chmod(Path::new("/run/sshd"), 0o755),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("mkdir /run/sshd: {e}"),
        }
        let dir = fresh_dir("sshd");
        let host_key = dir.join("host_key");
        let client_key = dir.join("client_key");
        let authorized_keys = dir.join("authorized_keys");
        let config = dir.join("sshd_config");
        let log_path = dir.join("sshd.log");
        keygen(&host_key);
        keygen(&client_key);
        fs::copy(client_key.with_extension("pub"), &authorized_keys)
            .expect("write authorized_keys");
        chmod(&authorized_keys, 0o644);

        let mut last_log = String::new();
        for _attempt in 0..20 {
            let port = pick_port();
            let text = format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {host_key}\n\
                 UsePAM yes\n\
                 PidFile {pid_file}\n\
                 AuthorizedKeysFile {authorized_keys}\n\
                 StrictModes no\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 PerSourceMaxStartups none\n\
                 MaxStartups 200\n\
                 MaxSessions 100\n\
                 LogLevel VERBOSE\n\
                 AcceptEnv WMS_*\n\
                 PermitUserEnvironment no\n\
                 PrintMotd no\n\
                 PrintLastLog no\n\
                 UseDNS no\n\
                 X11Forwarding no\n",
                host_key = host_key.display(),
                pid_file = dir.join("sshd.pid").display(),
                authorized_keys = authorized_keys.display(),
            );
            fs::write(&config, text).expect("write sshd_config");
            let log = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&log_path)
                .expect("create sshd log");
            let stderr = OpenOptions::new()
                .append(true)
                .open(&log_path)
                .expect("open sshd log");
            drop(log);
            let mut cmd = Command::new("/usr/sbin/sshd");
            cmd.arg("-D")
                .arg("-f")
                .arg(&config)
                .arg("-E")
                .arg(&log_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            let mut child = spawn_guarded(cmd).expect("spawn /usr/sbin/sshd");

            let listening = format!("Server listening on 127.0.0.1 port {port}.");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = fs::read_to_string(&log_path).unwrap_or_default();
                if let Ok(Some(status)) = child.try_wait() {
                    last_log = format!("sshd exited with {status}:\n{text}");
                    break;
                }
                if text.contains(&listening) {
                    return Sshd {
                        child,
                        port,
                        dir,
                        log_path,
                        client_key,
                        sessions: Arc::default(),
                    };
                }
                if Instant::now() >= deadline {
                    signal(child.id(), Signal::KILL);
                    let _ = child.wait();
                    let _ = fs::remove_dir_all(&dir);
                    panic!("sshd did not listen on port {port} within {START_TIMEOUT:?}:\n{text}");
                }
                thread::sleep(Duration::from_millis(10));
            }
            if !(last_log.contains("Address already in use")
                || last_log.contains("Cannot bind any address"))
            {
                break;
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!("sshd failed to start: {last_log}");
    }

    /// The port sshd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PID of the sshd listener process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The sshd log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// The `ssh` client command to log in as `user` and run `remote` (a command line the
    /// user's login shell runs). `env` entries (names must start with `WMS_`) are set in the
    /// client's environment and forwarded to the session (`SendEnv`/`AcceptEnv WMS_*`).
    fn ssh_command(
        &self,
        user: &TestUser,
        tty: bool,
        remote: &str,
        env: &[(&str, &str)],
    ) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(&self.client_key)
            .arg("-p")
            .arg(self.port.to_string());
        for option in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
            "ServerAliveInterval=0",
            "IdentitiesOnly=yes",
            "ConnectTimeout=20",
            "SendEnv=WMS_*",
        ] {
            cmd.arg("-o").arg(option);
        }
        cmd.arg(if tty { "-tt" } else { "-T" })
            .arg("--")
            .arg(format!("{}@127.0.0.1", user.name))
            .arg(remote);
        cmd.env_remove("SSH_AUTH_SOCK");
        if tty {
            cmd.env("TERM", "xterm");
        }
        for (name, value) in env {
            assert!(
                name.starts_with("WMS_"),
                "only WMS_* variables are forwarded to sessions, not {name}"
            );
            cmd.env(name, value);
        }
        cmd
    }

    /// The remote command line: print the marker (to stderr if `to_stderr`), then run
    /// `command` with the user's login shell in place of the shell that printed it.
    fn remote_line(command: &str, to_stderr: bool) -> String {
        format!(
            "printf '{MARKER}%s WMS-PID=%s\\n' \"$(cat /proc/self/sessionid)\" \"$$\"{}; exec \"$SHELL\" -c {}",
            if to_stderr { " >&2" } else { "" },
            shell_quote(command)
        )
    }

    /// Opens a session running `command` (a shell command line, run by the user's login shell)
    /// as `user`.
    ///
    /// With `tty`, the client runs as `ssh -tt` with its stdin, stdout and stderr on a
    /// pseudo-terminal (80x24, `TERM=xterm`) that this kit opens and whose master it reads,
    /// so [`SshSession::output`] is the client's screen as a user would see it. Without, the
    /// client runs as `ssh -T` with piped stdin, stdout and stderr.
    ///
    /// Before running `command` the remote side prints a marker line with its session id;
    /// this waits for it (20 s), panicking with everything read so far and the sshd log if
    /// it does not come.
    pub fn open_session(&self, user: &TestUser, command: &str, tty: bool) -> SshSession {
        self.open_session_with_env(user, command, tty, &[])
    }

    /// [`Sshd::open_session`] with `WMS_*` environment variables forwarded to the session.
    pub fn open_session_with_env(
        &self,
        user: &TestUser,
        command: &str,
        tty: bool,
        env: &[(&str, &str)],
    ) -> SshSession {
        let remote = Self::remote_line(command, false);
        let mut cmd = self.ssh_command(user, tty, &remote, env);
        let (child, input, output, errors) = if tty {
            let pty = Pty::open();
            let slave = &pty.slave;
            cmd.stdin(slave.try_clone().expect("dup pty slave"))
                .stdout(slave.try_clone().expect("dup pty slave"))
                .stderr(slave.try_clone().expect("dup pty slave"));
            // SAFETY: the closure runs in the forked child before exec and only makes raw,
            // async-signal-safe system calls (setsid, ioctl) without allocating or locking.
            #[allow(unsafe_code)]
            unsafe {
                cmd.pre_exec(|| {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
                    Ok(())
                });
            }
            let child = spawn_guarded(cmd).expect("spawn ssh");
            // Only the client may hold the slave now, so the master reports EIO once it exits.
            let master = pty.master;
            drop(pty.slave);
            let reader = master.try_clone().expect("dup pty master");
            (child, Input::Pty(master), Buffer::collect(reader), None)
        } else {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = spawn_guarded(cmd).expect("spawn ssh");
            let stdin = child.stdin.take();
            let out = Buffer::collect(child.stdout.take().expect("ssh stdout"));
            let err = Buffer::collect(child.stderr.take().expect("ssh stderr"));
            (child, Input::Pipe(stdin), out, Some(err))
        };
        let mut session = SshSession {
            child,
            status: None,
            session_id: NO_SESSION,
            remote_pid: 0,
            tty,
            input,
            output,
            errors,
        };
        match session.output.wait_until(OPEN_TIMEOUT, find_marker) {
            Some(marker) => {
                session.session_id = marker.session_id;
                session.remote_pid = marker.pid;
                lock(&self.sessions).push(marker.session_id);
                session
            }
            None => {
                let status = session.wait_exit(Duration::from_millis(200));
                signal(session.child.id(), Signal::KILL);
                let _ = session.child.wait();
                panic!(
                    "no session marker from ssh as {} running {command:?} (tty={tty}, client status {status:?})\n\
                     --- client output ---\n{}\n--- client stderr ---\n{}\n--- sshd log ---\n{}",
                    user.name,
                    String::from_utf8_lossy(&session.output()),
                    String::from_utf8_lossy(&session.stderr_output()),
                    self.log()
                );
            }
        }
    }

    /// Runs `command` (executed by the user's login shell) as `user` in a new ssh session
    /// without a terminal, feeding it `stdin`, and waits for it to finish (60 s, else panics
    /// with the output so far and the sshd log). Returns its status, output and session id.
    pub fn run(&self, user: &TestUser, command: &str, stdin: &[u8]) -> RunOutput {
        self.run_with_env(user, command, stdin, &[])
    }

    /// [`Sshd::run`] with `WMS_*` environment variables forwarded to the session.
    pub fn run_with_env(
        &self,
        user: &TestUser,
        command: &str,
        stdin: &[u8],
        env: &[(&str, &str)],
    ) -> RunOutput {
        let remote = Self::remote_line(command, true);
        let mut cmd = self.ssh_command(user, false, &remote, env);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_guarded(cmd).expect("spawn ssh");
        let mut child_stdin = child.stdin.take().expect("ssh stdin");
        let input = stdin.to_vec();
        let writer = thread::spawn(move || {
            // The command may not read its input; a broken pipe is not an error here.
            let _ = child_stdin.write_all(&input);
        });
        let out = Buffer::collect(child.stdout.take().expect("ssh stdout"));
        let err = Buffer::collect(child.stderr.take().expect("ssh stderr"));
        let status = wait_child(&mut child, RUN_TIMEOUT);
        let Some(status) = status else {
            signal(child.id(), Signal::KILL);
            let _ = child.wait();
            if let Some(marker) = find_marker(&err.bytes()) {
                lock(&self.sessions).push(marker.session_id);
            }
            panic!(
                "ssh as {} running {command:?} did not finish within {RUN_TIMEOUT:?}\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}\n--- sshd log ---\n{}",
                user.name,
                String::from_utf8_lossy(&out.bytes()),
                String::from_utf8_lossy(&err.bytes()),
                self.log()
            );
        };
        let _ = writer.join();
        out.wait_closed(Duration::from_secs(10));
        err.wait_closed(Duration::from_secs(10));
        let stdout = out.bytes();
        let mut stderr = err.bytes();
        let Some(marker) = find_marker(&stderr) else {
            panic!(
                "no session marker from ssh as {} running {command:?} (status {status})\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}\n--- sshd log ---\n{}",
                user.name,
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr),
                self.log()
            );
        };
        lock(&self.sessions).push(marker.session_id);
        stderr.drain(marker.start..marker.end);
        RunOutput {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            session_id: marker.session_id,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let sessions = std::mem::take(&mut *lock(&self.sessions));
        let own = process_session_id(std::process::id());
        for id in sessions {
            if id != NO_SESSION && Some(id) != own {
                kill_session(id);
            }
        }
        signal(self.child.id(), Signal::TERM);
        if wait_child(&mut self.child, Duration::from_secs(5)).is_none() {
            signal(self.child.id(), Signal::KILL);
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

/// A pseudo-terminal pair.
struct Pty {
    master: File,
    slave: File,
}

impl Pty {
    /// Opens a pseudo-terminal (close-on-exec on both ends) with an 80x24 window.
    fn open() -> Pty {
        use rustix::pty::OpenptFlags;
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .expect("open /dev/ptmx");
        rustix::pty::grantpt(&master).expect("grantpt");
        rustix::pty::unlockpt(&master).expect("unlockpt");
        let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
        let name = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&name)
            .unwrap_or_else(|e| panic!("open {}: {e}", name.display()));
        rustix::termios::tcsetwinsize(
            &slave,
            rustix::termios::Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("set the pty window size");
        Pty {
            master: File::from(master),
            slave,
        }
    }
}

/// Where [`SshSession::send`] writes.
enum Input {
    /// The pty master (what the user types).
    Pty(File),
    /// The ssh client's stdin pipe (`None` once closed).
    Pipe(Option<ChildStdin>),
}

/// A live ssh session opened by [`Sshd::open_session`].
///
/// Dropping it SIGKILLs the ssh client (by its PID, if still running) and reaps it. That
/// ends a terminal session (the remote shell gets SIGHUP), but a command without a terminal
/// may outlive its connection: kill it (or use [`kill_session`]) if the test needs it gone.
pub struct SshSession {
    child: Child,
    status: Option<ExitStatus>,
    session_id: u32,
    remote_pid: u32,
    tty: bool,
    input: Input,
    output: Arc<Buffer>,
    errors: Option<Arc<Buffer>>,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("session_id", &self.session_id)
            .field("client_pid", &self.child.id())
            .field("remote_pid", &self.remote_pid)
            .field("tty", &self.tty)
            .field("status", &self.status)
            .finish()
    }
}

impl SshSession {
    /// The audit session id the remote command runs in.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// The PID of the local ssh client.
    pub fn client_pid(&self) -> u32 {
        self.child.id()
    }

    /// The PID of the remote shell that printed the marker and then became (by `exec`) the
    /// user's shell running the command.
    pub fn remote_pid(&self) -> u32 {
        self.remote_pid
    }

    /// Whether the session has a terminal (`ssh -tt`).
    pub fn is_tty(&self) -> bool {
        self.tty
    }

    /// Waits up to `timeout` for the ssh client to exit; `Some(status)` if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            self.status = wait_child(&mut self.child, timeout);
        }
        self.status
    }

    /// Whether the ssh client is still running.
    pub fn is_running(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// Sends `bytes` as input: for a terminal session, writes them to the pty master (what
    /// the user types); otherwise to the ssh client's stdin. Errors (the client is gone) are
    /// ignored: tests check outcomes, not whether typing succeeded.
    pub fn send(&mut self, bytes: &[u8]) {
        match &mut self.input {
            Input::Pty(master) => {
                let _ = master.write_all(bytes);
            }
            Input::Pipe(Some(stdin)) => {
                let _ = stdin.write_all(bytes).and_then(|()| stdin.flush());
            }
            Input::Pipe(None) => {}
        }
    }

    /// Closes the ssh client's stdin (end of input) for a session without a terminal; for a
    /// terminal session, types the end-of-file character (Ctrl-D).
    pub fn close_input(&mut self) {
        match &mut self.input {
            Input::Pty(master) => {
                let _ = master.write_all(b"\x04");
            }
            Input::Pipe(stdin) => drop(stdin.take()),
        }
    }

    /// All bytes the client has printed so far (its screen for a terminal session, including
    /// the marker line and anything PAM printed before it; its stdout otherwise).
    pub fn output(&self) -> Vec<u8> {
        self.output.bytes()
    }

    /// [`SshSession::output`] as (lossily decoded) text.
    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// What the client wrote to stderr (sessions without a terminal; empty otherwise, as a
    /// terminal client's stderr is part of [`SshSession::output`]).
    pub fn stderr_output(&self) -> Vec<u8> {
        self.errors.as_ref().map(|e| e.bytes()).unwrap_or_default()
    }

    /// Waits up to `timeout` until [`SshSession::output`] contains `needle`; false if it did
    /// not (also as soon as the client has exited and closed its output without it).
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        self.output
            .wait_until(timeout, |bytes| {
                contains(bytes, needle.as_bytes()).then_some(())
            })
            .is_some()
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            } else {
                signal(self.child.id(), Signal::KILL);
                self.status = self.child.wait().ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_parsing() {
        let text = b"motd\r\nWMS-SESSION=42 WMS-PID=1234\r\nrest";
        let m = find_marker(text).unwrap();
        assert_eq!((m.session_id, m.pid), (42, 1234));
        assert_eq!(&text[m.start..m.end], b"WMS-SESSION=42 WMS-PID=1234\r\n");
        assert_eq!(find_marker(b"WMS-SESSION=42 WMS-PID=12"), None);
        assert_eq!(
            find_marker(b"WMS-SESSION=x\nWMS-SESSION=7 WMS-PID=8\n")
                .unwrap()
                .session_id,
            7
        );
    }

    #[test]
    fn fixtures_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sshd>();
        send_sync::<SshSession>();
        send_sync::<TestUser>();
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote("a'b \"$HOME\" `x` \\")))
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"a'b \"$HOME\" `x` \\");
    }
}
