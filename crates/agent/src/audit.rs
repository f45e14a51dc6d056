//! The audit log: one JSON line per state-changing request (who, from where, what, the
//! targets and their outcomes, or why it was refused), appended and synced to disk
//! before the request is answered; rotated by size ([`SizePolicy`]) so it never grows
//! without bound.

use crate::Peer;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wms_core::api::ActionRequest;
use wms_core::{Caller, SessionId, TargetResult};

/// How large the log may grow, and how many old logs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizePolicy {
    /// The log is rotated before a record would take it past this many bytes.
    pub max_bytes: u64,
    /// Old logs kept: `audit.log.1` (the newest) to `audit.log.<keep>`.
    pub keep: u32,
}

impl Default for SizePolicy {
    fn default() -> Self {
        SizePolicy {
            max_bytes: 64 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// The open audit log.
pub struct Audit {
    path: PathBuf,
    policy: SizePolicy,
    file: Mutex<Open>,
}

struct Open {
    file: File,
    /// Bytes in the file, as this process has written them.
    len: u64,
}

impl Audit {
    /// Opens (creating, mode 0600) the log at `path` for appending, with the default
    /// size policy.
    pub fn open(path: &Path) -> io::Result<Audit> {
        Audit::open_with(path, SizePolicy::default())
    }

    /// Opens the log at `path` for appending, rotated by `policy`.
    pub fn open_with(path: &Path, policy: SizePolicy) -> io::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_log(path)?;
        Ok(Audit {
            path: path.to_owned(),
            policy,
            file: Mutex::new(file),
        })
    }

    /// Appends `record` as one line and syncs it; rotates first when the line would take
    /// the log past its size limit. The record is never lost to a rotation: it is
    /// written to the new log, or, if that cannot be made, to the old one still open.
    pub fn write<R: Serialize + ?Sized>(&self, record: &R) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut open = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if open.len > 0 && open.len + line.len() as u64 > self.policy.max_bytes {
            match self.rotate() {
                Ok(new) => *open = new,
                Err(e) => tracing::error!(
                    error = %e,
                    log = %self.path.display(),
                    "cannot rotate the audit log; writing on to the current one"
                ),
            }
        }
        open.file.write_all(&line)?;
        open.len += line.len() as u64;
        open.file.sync_data()
    }

    /// `audit.log.<keep-1>` becomes `.<keep>` (the oldest is dropped), ..., `audit.log`
    /// becomes `.1`, and a new `audit.log` is opened. Called with the log's lock held, so
    /// no record is written in between.
    fn rotate(&self) -> io::Result<Open> {
        let old = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        for n in (1..self.policy.keep).rev() {
            match std::fs::rename(old(n), old(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, old(1))?;
        let new = open_log(&self.path)?;
        if let Some(dir) = self.path.parent() {
            // The renames are durable before records go to the new file.
            File::open(dir)?.sync_all()?;
        }
        Ok(new)
    }
}

/// Opens the log for appending, mode 0600 whatever the file had (the opened file is
/// changed, not the path looked up again).
fn open_log(path: &Path) -> io::Result<Open> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.permissions().mode() & 0o7777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Open {
        file,
        len: meta.len(),
    })
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub time: String,
    /// `unix` (the local socket) or `tcp`.
    pub via: &'static str,
    /// On the Unix socket: the calling process and its user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Over TCP: the client's address and port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_addr: Option<String>,
    /// Over TCP: the name of the token presented (never the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ids: Option<Vec<SessionId>>,
    pub all: bool,
    pub what_if: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<TargetResult>>,
}

impl Record {
    pub fn new(peer: &Peer) -> Record {
        let now = wms_core::time::now_unix();
        Record {
            time: wms_core::time::rfc3339_utc(now),
            via: peer.via(),
            peer_pid: match *peer {
                Peer::Unix { pid, .. } => pid,
                Peer::Tcp { .. } => None,
            },
            uid: match *peer {
                Peer::Unix { uid, .. } => Some(uid),
                Peer::Tcp { .. } => None,
            },
            peer_addr: match *peer {
                Peer::Unix { .. } => None,
                Peer::Tcp { addr } => Some(addr.to_string()),
            },
            token_name: None,
            role: None,
            verb: None,
            session_ids: None,
            all: false,
            what_if: false,
            refused: None,
            results: None,
        }
    }

    pub fn caller(&mut self, c: &Caller) {
        self.role = Some(format!("{:?}", c.role));
    }

    pub fn request(&mut self, r: &ActionRequest) {
        self.verb = Some(r.verb.verb().cmdlet().to_string());
        self.session_ids = r.session_ids.clone();
        self.all = r.all;
        self.what_if = r.what_if;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_every_record_of_the_kept_files_in_order_and_drops_the_oldest_files() {
        let dir = std::env::temp_dir().join(format!("wms-audit-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("audit.log");
        let policy = SizePolicy {
            max_bytes: 4096,
            keep: 3,
        };
        let audit = Audit::open_with(&path, policy).unwrap();
        for i in 0..2000u32 {
            audit.write(&serde_json::json!({ "n": i })).unwrap();
        }
        let mut seen = Vec::new();
        for name in ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"] {
            let p = dir.join(name);
            let meta = std::fs::metadata(&p).unwrap();
            assert!(meta.len() <= 4096, "{name}: {}", meta.len());
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                seen.push(v["n"].as_u64().unwrap());
            }
        }
        assert!(!dir.join("audit.log.4").exists());
        let first = seen[0];
        assert_eq!(seen, (first..2000).collect::<Vec<_>>());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
