//! Small file-system steps the agent's state files need: an exclusive lock for a
//! read-modify-write, and a write that a crash cannot leave half done.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Holds an exclusive `flock` on a lock file until dropped.
pub struct Lock(#[allow(dead_code)] File);

/// Takes an exclusive lock on `path` (created with mode 0600), waiting for it.
pub fn lock(path: &Path) -> io::Result<Lock> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Lock(f))
}

/// Replaces `path` with `contents` (mode `mode` from its creation on): written to a
/// temporary file in the same directory, synced, renamed over `path`, and the directory
/// synced, so readers see the old file or the new one and never a part of either.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // A temporary file left by a crashed process of the same PID may have another mode.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = (|| {
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
