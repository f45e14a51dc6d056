//! Thumbnails (issue 11's performance target): a Medium thumbnail (320 pixels wide) of a
//! 1920x1080 desktop through the agent (`GET /v1/sessions/{id}/thumbnail?size=medium`,
//! which finds the session's X server, reads the screen, scales and encodes it), against
//! the classic pipeline `xwd -root | xwdtopnm | pnmscale -width 320 | pnmtopng` on the
//! same display, taking turns. The desktop is the test kit's: Xvfb in a real ssh session,
//! a window open on a coloured background.

use crate::agent::Agent;
use crate::measure::Series;
use crate::{Args, Res};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Instant;
use wms_testkit::{user, Desktop, DesktopOptions, Role, Sshd, WindowSpec};

pub fn thumbnail_bench(a: &Args) -> Res<Value> {
    let sshd = Sshd::start();
    let d = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 1920,
            height: 1080,
            // The screen is what is measured; a window manager adds nothing to it.
            window_manager: false,
            ..Default::default()
        },
    );
    let _w = d.open_window(WindowSpec {
        x: 300,
        y: 200,
        width: 900,
        height: 600,
        ..Default::default()
    });
    let agent = Agent::start(&a.bin_dir, "thumbnail")?;
    let path = format!("/v1/sessions/{}/thumbnail?size=medium", d.session_id());
    let (status, body) = agent.get(&path)?;
    if status != 200 {
        return Err(format!("the agent answered {status}: {body}"));
    }
    let pipeline = "xwd -root -silent | xwdtopnm 2>/dev/null | pnmscale -width 320 2>/dev/null | pnmtopng 2>/dev/null > /dev/null";
    let netpbm = || {
        let mut c = d.x_command("sh");
        c.args(["-c", pipeline])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let ok = netpbm().status().map_err(|e| format!("sh: {e}"))?;
    if !ok.success() {
        return Err(format!("`{pipeline}` failed: {ok}"));
    }
    let runs = if a.quick { 5 } else { 31 };
    let (mut wms, mut pbm) = (Series::default(), Series::default());
    for _ in 0..runs {
        let t = Instant::now();
        let (status, _) = agent.get(&path)?;
        wms.push(t.elapsed().as_secs_f64());
        if status != 200 {
            return Err(format!("the agent answered {status}"));
        }
        let t = Instant::now();
        let s = netpbm().status().map_err(|e| format!("sh: {e}"))?;
        pbm.push(t.elapsed().as_secs_f64());
        if !s.success() {
            return Err(format!("`{pipeline}` failed: {s}"));
        }
    }
    Ok(json!({
        "screen": "1920x1080",
        "runs": runs,
        "wms_agent": wms.json(),
        "netpbm": pbm.json(),
    }))
}
