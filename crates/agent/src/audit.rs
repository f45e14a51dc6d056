//! The audit log: one JSON line per state-changing request (who, from where, what, the
//! targets and their outcomes, or why it was refused), appended and synced to disk
//! before the request is answered.

use crate::Peer;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use wms_core::api::ActionRequest;
use wms_core::{Caller, SessionId, TargetResult};

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

    pub fn write(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)?;
        f.sync_data()
    }
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
