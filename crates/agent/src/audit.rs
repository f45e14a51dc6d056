//! The audit log: JSON lines, appended and synced to disk. A request that changes
//! something leaves two records with one `id`: its intent (who, from where, what, which
//! targets), written *before* anything is done, and its outcomes after. A request that
//! changes nothing (what-if, every target refused, or the request itself refused) leaves
//! one record, written before it is answered.

use crate::Peer;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use wms_core::api::{ActionRequest, MAX_SESSION_IDS};
use wms_core::{Caller, SessionId, TargetResult};
use wms_host::PlannedTarget;

/// The open audit log.
pub struct Audit {
    file: Mutex<File>,
}

impl Audit {
    /// Opens (creating, mode 0600) the log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Audit {
            file: Mutex::new(file),
        })
    }

    /// Appends `record` and syncs it. On failure (a full filesystem, say) whatever part
    /// of the line reached the file is cut off again, so the log stays whole lines.
    pub fn write(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let before = f.metadata()?.len();
        let written = f.write_all(&line).and_then(|()| f.sync_data());
        if written.is_err() {
            let _ = f.set_len(before);
        }
        written
    }
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
