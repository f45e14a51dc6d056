//! Thumbnails: `wms session thumbnail ID...` writes a PNG file per desktop session and
//! prints its path; `Get-WmsSession -Thumbnail SIZE` lists the sessions as Get does, each
//! desktop with a `Thumbnail` property naming the file written for it.
//!
//! Files are named `HOST-session-ID-SIZE.png` (the server as named, this host by its full
//! name), so that sessions of several servers written to one directory never clash.

use super::backend::Backend;
use super::report::Reporter;
use super::{select, Job};
use crate::cmdlet::OutputFormat;
use crate::output::{self, WriteError};
use crate::plan::{Plan, Spelling, ThumbnailWant};
use std::path::{Path, PathBuf};
use wms_core::{Outcome, Selection, Session, SessionId, TargetResult};

/// Carries out a thumbnail plan on every server, one after the other.
pub(super) fn run(
    plan: &Plan,
    want: &ThumbnailWant,
    rt: &tokio::runtime::Runtime,
    jobs: &[Job],
    rep: &mut Reporter,
) {
    // Without --output, the files' names alone: in the current directory.
    let dir = want.dir.clone().unwrap_or_default();
    let mut listed: Vec<Session> = Vec::new();
    for job in jobs {
        if rep.stopped {
            break;
        }
        let b = match &job.backend {
            Ok(b) => b,
            Err(e) => {
                rep.error_line(e, "InvalidOperationException");
                continue;
            }
        };
        match plan.spelling {
            Spelling::Unix => {
                let Selection::Ids(ids) = &job.selection else {
                    continue;
                };
                match rt.block_on(b.thumbnails(ids, want.size, &job.server)) {
                    Ok(results) => {
                        for (r, png) in results {
                            match write(&dir, &r, want, png.as_deref()) {
                                Some(Ok(path)) => {
                                    if let Err(WriteError::Closed) =
                                        output::stdout_line(&path.display().to_string())
                                    {
                                        rep.stdout_closed = true;
                                    }
                                }
                                Some(Err(e)) => rep.error_line(&e, "WriteErrorException"),
                                None => rep.result(&r, false),
                            }
                        }
                    }
                    Err(e) => rep.error_line(&e.to_string(), "InvalidOperationException"),
                }
            }
            Spelling::Cmdlet => {
                let sessions = match rt.block_on(b.sessions()) {
                    Ok(s) => super::labelled(s, b, &job.server),
                    Err(e) => {
                        rep.error_line(&e.to_string(), "InvalidOperationException");
                        continue;
                    }
                };
                let mut these = Vec::new();
                select(sessions, plan, job, rep, &mut these);
                with_thumbnails(rt, b, job, want, &dir, &mut these, rep);
                listed.extend(these);
            }
        }
    }
    if plan.spelling == Spelling::Cmdlet && !rep.stdout_closed {
        plan.view.sort(&mut listed);
        let text = output::sessions(plan.output.unwrap_or(OutputFormat::List), &listed);
        match output::stdout(&text) {
            Ok(()) | Err(WriteError::Closed) => {}
            Err(e) => rep.error_line(&e.to_string(), "WriteErrorException"),
        }
    }
}

/// Sets the `Thumbnail` of each of `sessions` whose screen could be read. Asked for by ID,
/// a session that has none is an error, as for the other verbs; listing every session,
/// those without a desktop (or that the caller may not look at) are simply shown without.
fn with_thumbnails(
    rt: &tokio::runtime::Runtime,
    b: &Backend,
    job: &Job,
    want: &ThumbnailWant,
    dir: &Path,
    sessions: &mut [Session],
    rep: &mut Reporter,
) {
    let by_id = matches!(job.selection, Selection::Ids(_));
    // Listing every session, only those known to be X11 desktops are asked for (a look
    // is audited, and through an agent counted against the caller's rate of actions).
    let ids: Vec<SessionId> = sessions
        .iter()
        .filter(|s| by_id || s.session_type == Some(wms_core::SessionType::X11))
        .map(|s| s.session_id)
        .collect();
    if ids.is_empty() {
        return;
    }
    let results = match rt.block_on(b.thumbnails(&ids, want.size, &job.server)) {
        Ok(r) => r,
        Err(e) => return rep.error_line(&e.to_string(), "InvalidOperationException"),
    };
    for (r, png) in results {
        let Some(s) = sessions.iter_mut().find(|s| s.session_id == r.session_id) else {
            continue;
        };
        match write(dir, &r, want, png.as_deref()) {
            Some(Ok(path)) => s.thumbnail = Some(path.display().to_string()),
            Some(Err(e)) => rep.error_line(&e, "WriteErrorException"),
            None if by_id => rep.result(&r, false),
            None => {}
        }
    }
}

/// Writes the thumbnail of result `r` to `dir`; `None` when there is none.
fn write(
    dir: &Path,
    r: &TargetResult,
    want: &ThumbnailWant,
    png: Option<&[u8]>,
) -> Option<Result<PathBuf, String>> {
    let png = png.filter(|_| r.outcome == Outcome::Done)?;
    let host: String = r
        .computer_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!(
        "{host}-session-{}-{}.png",
        r.session_id,
        want.size.name()
    ));
    Some(
        std::fs::write(&path, png)
            .map(|()| path.clone())
            .map_err(|e| format!("Cannot write {}: {e}", path.display())),
    )
}
