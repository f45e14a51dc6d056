//! Desktop sessions against real X desktops (Xvfb with openbox) inside real ssh sessions:
//! their Type and Display in the listing.

mod common;
use common::*;
use serde_json::Value;
use wms_testkit::{Desktop, DesktopOptions};

#[test]
fn a_desktop_lists_as_x11_with_its_display_and_a_terminal_as_tty_without() {
    let sshd = Sshd::start();
    let d = Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default());
    let t = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let s = session(d.session_id()).expect("the desktop session is listed");
    assert_eq!(s["Type"], "x11", "{s}");
    assert_eq!(s["Display"], Value::from(d.display_name()), "{s}");
    let s = session(t.session_id()).expect("the terminal session is listed");
    assert_eq!(s["Type"], "tty", "{s}");
    assert!(s.get("Display").is_none(), "{s}");

    // Its user sees the same; another plain user cannot read the session's environment,
    // so neither its Type nor its Display is given to them.
    let ids = format!("{} -o json", d.session_id());
    let own = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!("session list {ids}"),
        b"",
    );
    let own: Value = serde_json::from_str(own.stdout.trim()).expect("JSON");
    assert_eq!(own["Type"], "x11", "{own}");
    assert_eq!(own["Display"], Value::from(d.display_name()), "{own}");
    let other = wms_as(
        &sshd,
        &user(Role::Plain2),
        &format!("session list {ids}"),
        b"",
    );
    let other: Value = serde_json::from_str(other.stdout.trim()).expect("JSON");
    assert!(
        other.get("Type").is_none() && other.get("Display").is_none(),
        "{other}"
    );
}

/// A PNG's size and RGB pixels.
fn decode(path: &str) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut d = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG");
    let mut buf = vec![0; d.output_buffer_size().unwrap()];
    let info = d.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(png: &(u32, u32, Vec<u8>), x: u32, y: u32) -> (u8, u8, u8) {
    let i = ((y * png.0 + x) * 3) as usize;
    (png.2[i], png.2[i + 1], png.2[i + 2])
}

/// A configuration with its own state directory and no agent.
fn own_config(dir: &std::path::Path) -> String {
    wms_testkit::config_file(&format!(
        "grace_period = 1\nsocket = \"{d}/none.sock\"\nstate_dir = \"{d}/state\"\n",
        d = dir.display()
    ))
    .display()
    .to_string()
}

fn wms_with(config: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(wms_path())
        .args(args)
        .env("WMS_CONFIG", config)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_thumbnail_shows_the_screen_at_the_asked_size_and_is_audited() {
    let sshd = Sshd::start();
    let d = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 1024,
            height: 768,
            background: (0x20, 0x60, 0xa0),
            ..Default::default()
        },
    );
    let w = d.open_window(wms_testkit::WindowSpec {
        x: 500,
        y: 300,
        width: 320,
        height: 240,
        color: (0xf0, 0xc0, 0x10),
        ..Default::default()
    });
    let dir = fresh_dir("thumbs");
    let config = own_config(&dir);
    let id = d.session_id().to_string();
    let out = wms_with(
        &config,
        &dir,
        &[
            "session",
            "thumbnail",
            &id,
            "--size",
            "medium",
            "--output",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let path = stdout(&out).trim().to_string();
    assert!(
        path.ends_with(&format!("-session-{id}-medium.png")),
        "{path}"
    );
    let png = decode(&path);
    assert_eq!((png.0, png.1), (320, 240));
    // 1024 to 320: every thumbnail pixel is the mean of a 3.2-pixel box.
    let s = 320.0 / 1024.0;
    let at = |x: i32, y: i32| ((x as f64 * s) as u32, (y as f64 * s) as u32);
    let (bx, by) = at(20, 700);
    assert_eq!(pixel(&png, bx, by), (0x20, 0x60, 0xa0), "the background");
    let (cx, cy) = at(w.x + w.width as i32 / 2, w.y + w.height as i32 / 2);
    assert_eq!(
        pixel(&png, cx, cy),
        (0xf0, 0xc0, 0x10),
        "the window at {cx},{cy}"
    );
    // Just outside the window's right edge is background again.
    let (ox, oy) = at(w.x + w.width as i32 + 30, w.y + w.height as i32 / 2);
    assert_eq!(pixel(&png, ox, oy), (0x20, 0x60, 0xa0));

    // The full screen is the screen, pixel for pixel where it is not moving.
    let out = wms_with(
        &config,
        &dir,
        &["session", "thumbnail", &id, "--size", "full"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let name = stdout(&out).trim().to_string();
    assert!(!name.contains('/'), "{name}");
    let full = decode(dir.join(name).to_str().unwrap());
    let shot = d.screenshot();
    assert_eq!((full.0, full.1), (shot.width, shot.height));
    assert_eq!(full.2, shot.rgb);

    // What was about to be looked at was recorded first, in the state directory.
    let log = std::fs::read_to_string(dir.join("state/audit.log")).expect("an audit log");
    let intent: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(intent["phase"], "intent");
    assert_eq!(intent["verb"], "Get-WmsSession -Thumbnail Medium");
    assert_eq!(intent["targets"][0]["sessionId"], d.session_id());
}

#[test]
fn a_terminal_has_no_thumbnail_and_another_users_screen_is_refused() {
    let sshd = Sshd::start();
    let d = Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default());
    let t = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let dir = fresh_dir("thumbs");
    let config = own_config(&dir);
    let out = wms_with(
        &config,
        &dir,
        &["session", "thumbnail", &t.session_id().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("terminal session"), "{err}");
    assert!(stdout(&out).is_empty());

    // A plain user, in-process and through the agent, may not look at another's screen;
    // its own user may.
    let agent = Agent::unix();
    let cmd = format!("session thumbnail {} --output /tmp", d.session_id());
    for r in [
        wms_as(&sshd, &user(Role::Plain2), &cmd, b""),
        agent.wms_as(&sshd, &user(Role::Plain2), &cmd),
    ] {
        assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
        assert!(r.stderr.contains("denied"), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    // Its own user may, in-process (with the user's own rights) as through the agent.
    let own = wms_as(
        &sshd,
        &user(Role::Plain),
        &format!(
            "session thumbnail {} --size large --output {}",
            d.session_id(),
            d.dir().display()
        ),
        b"",
    );
    assert_eq!(own.status.code(), Some(0), "{}", own.stderr);
    assert_eq!(decode(own.stdout.trim()).0, 640);
    let own = agent.wms_as(
        &sshd,
        &user(Role::Plain),
        &format!(
            "session thumbnail {} --size small --output {}",
            d.session_id(),
            d.dir().display()
        ),
    );
    assert_eq!(own.status.code(), Some(0), "{}", own.stderr);
    let png = decode(own.stdout.trim());
    assert_eq!((png.0, png.1), (160, 120));
    assert_eq!(pixel(&png, 2, 118), d.background());
    // The agent recorded the intent before it read the screen, and the outcome after.
    let audit = agent.audit();
    let mine: Vec<&Value> = audit
        .iter()
        .filter(|r| r["verb"] == "Get-WmsSession -Thumbnail Small")
        .collect();
    assert_eq!(mine.len(), 2, "{audit:?}");
    assert_eq!(mine[0]["phase"], "intent");
    assert_eq!(mine[1]["phase"], "outcome");
    assert_eq!(mine[1]["results"][0]["Outcome"], "Done");
}

#[test]
fn get_wmssession_thumbnail_names_the_file_in_each_desktop_session_object() {
    let sshd = Sshd::start();
    let d = Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default());
    let dir = fresh_dir("thumbs");
    let config = own_config(&dir);
    let out = wms_with(
        &config,
        &dir,
        &[
            "Get-WmsSession",
            "-SessionId",
            &d.session_id().to_string(),
            "-Thumbnail",
            "small",
            "-OutputFormat",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(s["SessionId"], d.session_id());
    let path = s["Thumbnail"]
        .as_str()
        .expect("a Thumbnail property")
        .to_string();
    let path = if path.starts_with('/') {
        path
    } else {
        dir.join(path).display().to_string()
    };
    assert_eq!(decode(&path).0, 160);
    // Without IDs: every session listed, the desktops with their thumbnails.
    let t = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let all = wms_with(
        &config,
        &dir,
        &[
            "Get-WmsSession",
            "-Thumbnail",
            "Small",
            "-OutputFormat",
            "json",
        ],
    );
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let listed: Vec<Value> = stdout(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |id: u32| listed.iter().find(|s| s["SessionId"] == id).unwrap();
    assert!(find(d.session_id())["Thumbnail"].is_string());
    assert!(find(t.session_id()).get("Thumbnail").is_none());
    let bad = wms_with(&config, &dir, &["Get-WmsSession", "-Thumbnail", "Huge"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("Small, Medium, Large, FullScreen"),
        "{}",
        stderr(&bad)
    );
}
