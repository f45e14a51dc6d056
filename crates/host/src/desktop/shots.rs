//! Thumbnails of sessions for a caller (`Get-WmsSession -Thumbnail`): who may look at
//! which screen is SPEC 5's rule for acting on a session (a plain user their own
//! sessions, an operator non-administrators', an administrator anyone's), and what is
//! about to be looked at is recorded before a pixel is read.
//!
//! Looking at the session the command runs in is allowed, unlike closing or locking it:
//! it cuts nobody off, and shows its user only their own screen.

use super::{capture, find, CaptureError, Thumbnail};
use std::io;
use std::path::Path;
use wms_core::{
    plan, Caller, Outcome, Selection, Session, Step, TargetResult, ThumbnailSize, Verb,
};

/// A session about to be looked at, as the intent record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewed {
    pub session_id: wms_core::SessionId,
    pub user_name: String,
}

/// One target's result, and its thumbnail when it was made.
#[derive(Debug, Clone)]
pub struct ThumbnailResult {
    pub result: TargetResult,
    pub thumbnail: Option<Thumbnail>,
}

/// Thumbnails of the sessions `selection` names among `sessions` (those the caller may
/// look at), of `size`. `intent` is given the sessions about to be looked at before any
/// is read; if it fails, nothing is read and its error is returned. `fqdn` labels the
/// results of sessions not found.
pub fn thumbnails(
    caller: &Caller,
    selection: &Selection,
    sessions: &[Session],
    size: ThumbnailSize,
    fqdn: &str,
    intent: &mut dyn FnMut(&[Viewed]) -> io::Result<()>,
) -> io::Result<Vec<ThumbnailResult>> {
    let steps = plan(caller, Verb::Thumbnail, selection, sessions);
    let targets: Vec<Viewed> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Act(s) => Some(Viewed {
                session_id: s.session_id,
                user_name: s.user_name.clone(),
            }),
            Step::Report { .. } => None,
        })
        .collect();
    if !targets.is_empty() {
        intent(&targets)?;
    }
    Ok(steps
        .into_iter()
        .map(|step| match step {
            Step::Report {
                session_id,
                user_name,
                outcome,
            } => ThumbnailResult {
                result: TargetResult {
                    computer_name: fqdn.to_string(),
                    session_id,
                    user_name,
                    class: None,
                    outcome,
                },
                thumbnail: None,
            },
            Step::Act(s) => {
                let made = find(s.session_id)
                    .map_err(CaptureError::from)
                    .and_then(|t| capture::thumbnail(&t, size));
                let (outcome, thumbnail) = match made {
                    Ok(t) => (Outcome::Done, Some(t)),
                    Err(CaptureError::NotSupported(why)) => (Outcome::NotSupported(why), None),
                    Err(CaptureError::Failed(why)) => (Outcome::Failed(why), None),
                };
                ThumbnailResult {
                    result: TargetResult {
                        computer_name: s.computer_name.clone(),
                        session_id: s.session_id,
                        user_name: Some(s.user_name.clone()),
                        class: s.class.filter(|c| !c.is_login()),
                        outcome,
                    },
                    thumbnail,
                }
            }
        })
        .collect())
}

/// The intent record of the engine run in-process (no agent): as root, a line in the
/// state directory's `audit.log` (the agent's log, in the agent's record shape), written
/// and synced before anything is read; failing that, nothing is read. A user who is not
/// root can only read their own sessions' screens (another user's environment is closed
/// to them), and nobody else's screen is shown: the record then goes to the system log
/// where one listens, and its absence stops nothing.
pub fn record_intent_in_process(
    state_dir: &Path,
    caller: &Caller,
    size: ThumbnailSize,
    targets: &[Viewed],
) -> io::Result<()> {
    let record = serde_json::json!({
        "time": wms_core::time::rfc3339_utc(wms_core::time::now_unix()),
        "id": format!("in-process-{}", std::process::id()),
        "phase": "intent",
        "via": "in-process",
        "peerPid": std::process::id(),
        "uid": caller.uid.0,
        "role": format!("{:?}", caller.role),
        "verb": format!("{} -Thumbnail {size:?}", Verb::Thumbnail.cmdlet()),
        "targets": targets.iter().map(|t| serde_json::json!({
            "sessionId": t.session_id.0,
            "userName": t.user_name,
        })).collect::<Vec<_>>(),
        "all": false,
        "whatIf": false,
    });
    let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
    line.push(b'\n');
    if rustix::process::geteuid().is_root() {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(state_dir)?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(state_dir.join("audit.log"))?;
        f.write_all(&line)?;
        return f.sync_data();
    }
    let message = format!(
        "<85>wms[{}]: {}",
        std::process::id(),
        String::from_utf8_lossy(&line).trim_end()
    );
    let sent = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.send_to(message.as_bytes(), "/dev/log"));
    if let Err(e) = sent {
        tracing::debug!(error = %e, "no system log to record the thumbnail in");
    }
    Ok(())
}
