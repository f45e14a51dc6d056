//! Small file-system steps the agent's state files need: an exclusive lock for a
//! read-modify-write, and (from the host crate) a write that a crash cannot leave half
//! done.

use std::fs::{File, OpenOptions};
use std::io;
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

/// Appends `bytes` to `file` (opened for appending) and syncs them; on failure (a full
/// filesystem, say) whatever part reached the file is cut off again, so a log of lines
/// stays whole lines. `len` is the file's length before.
pub fn append_synced(file: &mut File, len: u64, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let written = file.write_all(bytes).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(len);
    }
    written
}

/// The one atomic write of the workspace: see [`wms_host::fsutil::write_atomic`].
pub use wms_host::fsutil::write_atomic;
