//! What was learned of a login while its leader was alive (the leader, the login service,
//! when the login completed), kept in `state_dir/logins/ID.json` so that a later `wms`
//! process that finds the leader gone still tells the same LeaderPid (left out) and
//! LogonTime. Only root writes them (the agent, or root's `wms`); anyone reads them, as
//! anyone may list sessions. A record of another boot, or one that root does not own or
//! that others could write, is not used.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One login's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecord {
    pub boot_id: String,
    pub leader_pid: i32,
    /// The leader's start time in clock ticks since boot (with the PID, that process).
    pub leader_start: u64,
    pub service: Option<String>,
    /// When the login completed, in seconds since the epoch.
    pub logon: Option<i64>,
}

/// The records of one state directory.
#[derive(Debug)]
pub struct LoginRecords {
    dir: PathBuf,
    boot: Option<String>,
    /// Whether this process writes records (it runs as root).
    writes: bool,
    /// The sessions that have a record, read once from the directory when first asked.
    existing: std::cell::OnceCell<std::collections::HashSet<u32>>,
}

impl LoginRecords {
    pub fn new(state_dir: &Path) -> LoginRecords {
        LoginRecords {
            dir: state_dir.join("logins"),
            boot: crate::procfs::boot_id(),
            writes: rustix::process::geteuid().is_root(),
            existing: std::cell::OnceCell::new(),
        }
    }

    /// Whether session `id` has a record (of any boot), as the directory was when first
    /// asked: one read of the directory, rather than one open per session.
    pub fn has(&self, id: u32) -> bool {
        self.existing
            .get_or_init(|| {
                std::fs::read_dir(&self.dir)
                    .map(|d| {
                        d.flatten()
                            .filter_map(|e| {
                                e.file_name().to_str()?.strip_suffix(".json")?.parse().ok()
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .contains(&id)
    }

    /// This boot's boot ID, which records carry.
    pub fn boot(&self) -> Option<&str> {
        self.boot.as_deref()
    }

    /// The record of session `id` of this boot, if there is one to trust.
    pub fn load(&self, id: u32) -> Option<LoginRecord> {
        let boot = self.boot.as_deref()?;
        let file = std::fs::File::open(self.dir.join(format!("{id}.json"))).ok()?;
        let meta = file.metadata().ok()?;
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 || !meta.is_file() {
            return None;
        }
        let r: LoginRecord = serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
        (r.boot_id == boot).then_some(r)
    }

    /// Keeps `r` for session `id` (as root; for anyone else, nothing is kept). Not synced:
    /// a crash is a new boot, where the record means nothing.
    pub fn save(&self, id: u32, r: &LoginRecord) {
        if !self.writes {
            return;
        }
        let write = || -> std::io::Result<()> {
            if !self.dir.is_dir() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::create_dir_all(&self.dir)?;
                std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755))?;
            }
            let path = self.dir.join(format!("{id}.json"));
            let tmp = self
                .dir
                .join(format!(".{id}.json.tmp-{}", std::process::id()));
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec(r).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::debug!(session = id, error = %e, "cannot keep the login's record");
        }
    }

    /// Removes the records of sessions that `live` does not take, after a listing of
    /// every session that began at `listed_from`; a record written since then may be of a
    /// session that listing did not see yet, and is kept. Only a process that sees every
    /// process of the host (in the initial PID namespace) removes any: elsewhere a session
    /// it does not see may well be alive.
    pub fn forget_all_but(&self, live: &dyn Fn(u32) -> bool, listed_from: std::time::SystemTime) {
        if !self.writes || !crate::procfs::sees_every_process() {
            return;
        }
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let older = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < listed_from);
            if !live(id) && older {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_comes_back_for_this_boot_only() {
        let dir = std::env::temp_dir().join(format!("wms-logins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let records = LoginRecords::new(&dir);
        if !records.writes || records.boot.is_none() {
            return;
        }
        let r = LoginRecord {
            boot_id: records.boot().unwrap().to_string(),
            leader_pid: 42,
            leader_start: 100,
            service: Some("sshd".into()),
            logon: Some(1_700_000_000),
        };
        records.save(7, &r);
        assert_eq!(records.load(7), Some(r.clone()));
        let other = LoginRecord {
            boot_id: "another boot".into(),
            ..r
        };
        records.save(8, &other);
        assert_eq!(records.load(8), None);
        records.forget_all_but(&|id| id == 7, std::time::SystemTime::now());
        assert!(records.load(7).is_some());
        assert!(!dir.join("logins/8.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
