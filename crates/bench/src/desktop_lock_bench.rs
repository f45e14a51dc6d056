//! Locking desktops (issue 11's target: 20 desktops with one command in under 1 s): 20
//! real X desktops (Xvfb 1024x768 with openbox, each in its own ssh session), locked with
//! one `wms session lock ID... --message` and unlocked with one `wms session unlock ID...`,
//! against locking and unlocking one of them, in the same run, taking turns. A lock is
//! timed until wms returns, which it does once every locker has grabbed the input and
//! drawn the message.

use crate::measure::{time_cmd, Series};
use crate::{Args, Res};
use serde_json::{json, Value};
use std::process::Command;
use wms_testkit::{Desktop, DesktopOptions, Sshd};

/// How many desktops are locked at once.
pub const DESKTOPS: usize = 20;

fn wms(a: &Args, args: &[String]) -> Command {
    let mut c = Command::new(a.wms());
    c.args(args);
    c
}

fn lock_args(ids: &[String]) -> Vec<String> {
    let mut v = vec!["session".to_string(), "lock".to_string()];
    v.extend(ids.iter().cloned());
    v.extend(["--message".to_string(), "Eyes to the front".to_string()]);
    v
}

fn unlock_args(ids: &[String]) -> Vec<String> {
    let mut v = vec!["session".to_string(), "unlock".to_string()];
    v.extend(ids.iter().cloned());
    v
}

pub fn lock_desktops(a: &Args) -> Res<Value> {
    let sshd = Sshd::start();
    let user = wms_testkit::ensure_user("wmst-bench", &[]);
    let desktops: Vec<Desktop> = (0..DESKTOPS)
        .map(|_| {
            Desktop::start(
                &sshd,
                &user,
                DesktopOptions {
                    window_manager: true,
                    ..DesktopOptions::default()
                },
            )
        })
        .collect();
    let ids: Vec<String> = desktops
        .iter()
        .map(|d| d.session_id().to_string())
        .collect();
    let runs = if a.quick { 2 } else { a.runs.clamp(3, 5) };
    let (mut one_lock, mut one_unlock, mut all_lock, mut all_unlock) = (
        Series::default(),
        Series::default(),
        Series::default(),
        Series::default(),
    );
    for _ in 0..runs {
        let (t, _) = time_cmd(wms(a, &lock_args(&ids[..1])))?;
        one_lock.push(t);
        let (t, _) = time_cmd(wms(a, &unlock_args(&ids[..1])))?;
        one_unlock.push(t);
        let (t, _) = time_cmd(wms(a, &lock_args(&ids)))?;
        all_lock.push(t);
        let (t, _) = time_cmd(wms(a, &unlock_args(&ids)))?;
        all_unlock.push(t);
    }
    drop(desktops);
    drop(sshd);
    Ok(json!({
        "desktops": DESKTOPS,
        "runs": runs,
        "lock_one": one_lock.json(),
        "unlock_one": one_unlock.json(),
        "lock_all": all_lock.json(),
        "unlock_all": all_unlock.json(),
    }))
}
