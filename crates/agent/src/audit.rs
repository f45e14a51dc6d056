//! The audit log: JSON lines, appended and synced to disk, rotated by size
//! ([`SizePolicy`]) so it never grows without bound. A request that changes something
//! leaves two records with one `id`: its intent (who, from where, what, which targets),
//! written *before* anything is done, and its outcomes after. A request that changes
//! nothing (what-if, every target refused, or the request itself refused) leaves one
//! record, written before it is answered.

use crate::Peer;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wms_core::api::{ActionRequest, MAX_SESSION_IDS};
use wms_core::{Caller, SessionId, TargetResult};
use wms_host::PlannedTarget;

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
    /// written to the new log, or, if that cannot be made, to the old one still open. On
    /// failure (a full filesystem, say) whatever part of the line reached the file is cut
    /// off again, so the log stays whole lines.
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
        let before = open.len;
        crate::fsutil::append_synced(&mut open.file, before, &line)?;
        open.len += line.len() as u64;
        Ok(())
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

/// A target named in an intent record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentTarget {
    pub session_id: SessionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub time: String,
    /// Ties a request's intent and outcome records together (unique per agent run).
    pub id: String,
    /// `intent` (written before acting), `outcome` (after, or the only record of a
    /// request that changes nothing) or `refused`.
    pub phase: &'static str,
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
    /// The IDs the request named (each once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ids: Option<Vec<SessionId>>,
    /// In an intent record: the sessions about to be acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<IntentTarget>>,
    pub all: bool,
    /// Lock or unlock asked of logind (`-UseLogind`, `--logind`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logind: bool,
    pub what_if: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<TargetResult>>,
}

impl Record {
    pub fn new(peer: &Peer) -> Record {
        let now = wms_core::time::now_unix();
        let creds = match peer {
            Peer::Unix(Ok(c)) => Some(c),
            _ => None,
        };
        Record {
            time: wms_core::time::rfc3339_utc(now),
            id: next_id(),
            phase: "refused",
            via: peer.via(),
            peer_pid: creds.map(|c| c.pid.0),
            uid: creds.map(|c| c.uid.0),
            peer_addr: match peer {
                Peer::Unix(_) => None,
                Peer::Tcp { addr } => Some(addr.to_string()),
            },
            token_name: None,
            role: None,
            verb: None,
            session_ids: None,
            targets: None,
            all: false,
            logind: false,
            what_if: false,
            refused: None,
            results: None,
        }
    }

    pub fn caller(&mut self, c: &Caller) {
        self.role = Some(format!("{:?}", c.role));
    }

    /// What was asked. The IDs are kept only when there are no more than a request may
    /// name, so a record stays small whatever a peer sends.
    pub fn request(&mut self, r: &ActionRequest) {
        self.verb = Some(r.verb.verb().cmdlet().to_string());
        self.session_ids = r
            .session_ids
            .as_deref()
            .filter(|ids| ids.len() <= MAX_SESSION_IDS)
            .map(wms_core::unique_ids);
        self.all = r.all;
        self.logind = r.logind;
        self.what_if = r.what_if;
    }

    /// Makes this the record of what is about to be done to `targets` (those acted on).
    pub fn intent(&mut self, targets: &[PlannedTarget]) {
        self.phase = "intent";
        self.time = wms_core::time::rfc3339_utc(wms_core::time::now_unix());
        self.refused = None;
        self.targets = Some(
            targets
                .iter()
                .filter(|t| t.acts)
                .map(|t| IntentTarget {
                    session_id: t.session_id,
                    user_name: t.user_name.clone(),
                })
                .collect(),
        );
    }

    /// Makes this the record of the outcomes.
    pub fn outcome(&mut self, results: Vec<TargetResult>) {
        self.phase = "outcome";
        self.time = wms_core::time::rfc3339_utc(wms_core::time::now_unix());
        self.targets = None;
        self.results = Some(results);
    }
}

/// A request ID unique for this agent's run: its start, its PID and a counter.
fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static RUN: OnceLock<String> = OnceLock::new();
    static N: AtomicU64 = AtomicU64::new(1);
    let run =
        RUN.get_or_init(|| format!("{:x}-{}", wms_core::time::now_unix(), std::process::id()));
    format!("{run}-{}", N.fetch_add(1, Ordering::Relaxed))
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
