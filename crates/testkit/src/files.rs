//! The kit's files: the machine-wide lock, temporary directories under [`TMP_ROOT`] (stale
//! ones pruned), binaries copied where test users can run them, configuration files.

use super::*;

/// Holds an exclusive `flock` on [`LOCK_PATH`] until dropped.
pub(crate) struct GlobalLock(#[allow(dead_code)] File);

impl GlobalLock {
    pub(crate) fn acquire() -> GlobalLock {
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
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the permission bits of `path`, panicking on failure.
pub(crate) fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// [`TMP_ROOT`], created (mode 0755) if missing, and checked to be a real root-owned
/// directory so that test users can traverse but not tamper with it.
pub(crate) fn tmp_root() -> PathBuf {
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

/// Where the kit keeps what a process inside the logind sandbox must read (its `/tmp` and
/// `/run` are its own): root-owned, mode 0755.
pub const SHARED_ROOT: &str = "/var/lib/wms-testkit";

/// A fresh directory under [`SHARED_ROOT`], seen alike inside and outside the sandbox.
pub fn fresh_shared_dir(prefix: &str) -> PathBuf {
    fs::create_dir_all(SHARED_ROOT).unwrap_or_else(|e| panic!("mkdir {SHARED_ROOT}: {e}"));
    chmod(Path::new(SHARED_ROOT), 0o755);
    let dir = fresh_dir(prefix);
    let shared = Path::new(SHARED_ROOT).join(dir.file_name().expect("a directory name"));
    fs::remove_dir(&dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
    fs::create_dir(&shared).unwrap_or_else(|e| panic!("mkdir {}: {e}", shared.display()));
    chmod(&shared, 0o755);
    shared
}

/// Creates a fresh, uniquely named directory (mode 0755) under [`TMP_ROOT`].
pub(crate) fn fresh_dir(prefix: &str) -> PathBuf {
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
pub(crate) fn prune_stale(prefixes: &[&str]) {
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

    let dest = {
        let _guard = GlobalLock::acquire();
        let dest = copy_by_identity(path, &tmp_root());
        // Mark the entry as in use, then drop entries nobody used for a long time.
        if let Some(d) = dest.parent().and_then(|d| File::open(d).ok()) {
            let _ = d.set_modified(SystemTime::now());
        }
        prune_stale(&["bin-", "cfg-", "sshd-"]);
        dest
    };
    lock(done).insert(path.to_string(), dest.clone());
    dest
}

/// A copy of the program at `path` in `root`, mode 0755, in a directory named by the
/// file's identity (device, inode, size, modification time), made once per build of the
/// program. The caller holds the kit's [`GlobalLock`].
pub(crate) fn copy_by_identity(path: &str, root: &Path) -> PathBuf {
    let src = Path::new(path);
    let meta = fs::metadata(src).unwrap_or_else(|e| panic!("stat {path}: {e}"));
    assert!(meta.is_file(), "{path} is not a file");
    let file_name = src
        .file_name()
        .unwrap_or_else(|| panic!("{path} has no file name"));
    let dir = root.join(format!(
        "bin-{:x}-{:x}-{:x}-{:x}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    ));
    let dest = dir.join(file_name);
    if !dest.exists() {
        match fs::create_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("mkdir {}: {e}", dir.display()),
        }
        chmod(root, 0o755);
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

#[cfg(test)]
mod tests {
    use super::*;

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
