//! `wms dashboard` end to end, in Debian's headless chromium (the test kit's [`Browser`]):
//! real agents (wmsd over TLS, added with `wms system add`) and real sessions (sshd
//! logins, Xvfb desktops) on this host, the page as a person uses it, and what it did read
//! back from the operating system and the desktops' screens (tesseract). A screenshot of
//! each step is saved under `target/test-output/dashboard/`.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use wms_testkit::{Browser, Desktop, DesktopOptions, FetchRequest};

/// Where the screenshots go (`target/test-output/SUITE`).
const SUITE: &str = "dashboard";
/// A bound for what should take a moment (the page loading, a server listed), generous
/// for a loaded machine: a test that needs longer fails.
const SOON: Duration = Duration::from_secs(20);

/// An administrator's machine: its own ~/.config/wms with the saved systems.
struct Client {
    home: PathBuf,
}

impl Client {
    fn new() -> Client {
        Client {
            home: fresh_dir("dashboard-client"),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(wms_path());
        c.env("WMS_CONFIG", fast_config())
            .env("XDG_CONFIG_HOME", &self.home)
            .stdin(Stdio::null());
        c
    }

    fn wms(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Saves `agent` as system `name` with an administrator's token, its certificate pinned.
    fn add(&self, name: &str, agent: &Agent) {
        self.add_as(name, agent, "admin");
    }

    /// Saves `agent` as system `name` with a token of `role`.
    fn add_as(&self, name: &str, agent: &Agent, role: &str) {
        let out = agent.wmsd(&[
            "token",
            "create",
            "--name",
            &format!("dashboard-{name}"),
            "--role",
            role,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let token = stdout(&out).trim().to_string();
        let fp = agent.fingerprint();
        let out = self.wms(&[
            "system",
            "add",
            &agent.address(),
            "--name",
            name,
            "--token",
            &token,
            "--fingerprint",
            &fp,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// `wms session list -o json --server NAME`: the session objects, by ID.
    fn list(&self, server: &str) -> BTreeMap<String, Value> {
        let out = self.wms(&["session", "list", "-o", "json", "--server", server]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .map(|v| (v["SessionId"].to_string(), v))
            .collect()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A running `wms dashboard`, ended by its PID.
struct Dashboard {
    child: Child,
    /// The link it printed.
    link: String,
    /// `http://127.0.0.1:PORT`
    origin: String,
    port: u16,
    /// What it printed after the link on standard output (nothing, by the contract),
    /// sent once it closed its standard output.
    rest: mpsc::Receiver<Vec<u8>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

/// Appends everything `source` gives to a shared buffer, on a thread.
fn collect(mut source: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let into = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = source.read(&mut chunk) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

impl Dashboard {
    /// `wms dashboard ARGS...` as `client`'s administrator; waits for the link it prints.
    fn start(client: &Client, args: &[&str]) -> Dashboard {
        let child = client
            .command()
            .arg("dashboard")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run wms dashboard");
        Dashboard::wait_link(child)
    }

    fn wait_link(mut child: Child) -> Dashboard {
        let stderr = collect(child.stderr.take().unwrap());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let (rest_tx, rest) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
            let mut more = Vec::new();
            let _ = out.read_to_end(&mut more);
            let _ = rest_tx.send(more);
        });
        let line = rx.recv_timeout(SOON).unwrap_or_else(|_| {
            panic!(
                "wms dashboard printed no link in {SOON:?}: {}",
                String::from_utf8_lossy(&stderr.lock().unwrap())
            )
        });
        let link = line.trim_end_matches('\n').to_string();
        // http://127.0.0.1:PORT/?secret=HEX64
        let (origin, secret) = link
            .split_once("/?secret=")
            .unwrap_or_else(|| panic!("not the dashboard's link: {line:?}"));
        let port: u16 = origin
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback address: {line:?}"));
        assert!(
            secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
            "the secret is not 64 hex digits: {line:?}"
        );
        Dashboard {
            child,
            origin: origin.to_string(),
            link,
            port,
            rest,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// SIGTERM by PID; its exit status.
    fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// The browser on the dashboard's page: opens the link (spending its secret) and waits
/// until every server named is listed (`data-status=ok`).
fn open(d: &Dashboard, servers: &[&str]) -> Browser {
    let mut b = Browser::launch();
    let status = b.goto(&d.link).unwrap();
    assert_eq!(status, 200, "the link did not lead to the page");
    assert_eq!(
        b.eval("location.href").unwrap(),
        format!("{}/", d.origin),
        "the link's secret stays in the address bar"
    );
    wait_servers_ok(&mut b, d, servers);
    b
}

fn wait_servers_ok(b: &mut Browser, d: &Dashboard, servers: &[&str]) {
    let names = serde_json::to_string(servers).unwrap();
    let js = format!(
        "{names}.every(s => document.querySelector(`section.server[data-server=\"${{s}}\"]`)?.dataset.status === 'ok')"
    );
    if let Err(e) = b.wait_for(&js, SOON) {
        let groups = b
            .eval("[...document.querySelectorAll('section.server')].map(s => [s.dataset.server, s.dataset.status, s.querySelector('.server-error')?.textContent])")
            .unwrap_or_default();
        panic!(
            "the servers {servers:?} are not all listed: {e}\ngroups: {groups}\ndashboard: {}\npage: {}",
            d.stderr(),
            b.driver_log()
        );
    }
}

/// The CSS selector of session `id`'s tile on `server`.
fn tile(server: &str, id: u32) -> String {
    format!("article.tile[data-server=\"{server}\"][data-session=\"{id}\"]")
}

/// [`tile`], ready to stand in a single-quoted script string.
fn tile_js(server: &str, id: u32) -> String {
    tile(server, id).replace('\'', "\\'")
}

/// Every tile of `server` on the page, by session ID: its attributes, whether it has a
/// thumbnail, and the group it sits in.
fn tiles(b: &mut Browser, server: &str) -> BTreeMap<String, Value> {
    let js = format!(
        r#"return [...document.querySelectorAll('article.tile[data-server="{server}"]')].map(t => ({{
            session: t.dataset.session, user: t.dataset.user, state: t.dataset.state,
            type: t.dataset.type, locked: t.dataset.locked, class: t.dataset.class,
            allowed: t.dataset.allowed, thumb: !!t.querySelector('img.thumb'),
            select: !!t.querySelector('input.select[type=checkbox]'),
            group: t.closest('section.server')?.dataset.server }}))"#
    );
    b.eval(&js)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["session"].as_str().unwrap_or_default().to_string(),
                t.clone(),
            )
        })
        .collect()
}

/// The attributes a tile should show for the session object `s` of `server`; a property
/// the listing leaves out (not known) is `null`.
fn expected_tile(server: &str, s: &Value) -> Value {
    let text = |k: &str| match &s[k] {
        Value::String(v) => Value::from(v.as_str()),
        _ => Value::Null,
    };
    serde_json::json!({
        "session": s["SessionId"].to_string(),
        "user": text("UserName"),
        "state": text("State"),
        "type": text("Type"),
        "locked": s["IsLocked"].as_bool().unwrap_or(false).to_string(),
        "class": text("Class"),
        "group": server,
    })
}

/// What the page shows for a property the listing leaves out, by attribute: nothing, or
/// the contract's word for not known.
fn unknown_words(attr: &str) -> &'static [&'static str] {
    match attr {
        "type" => &["", "unspecified"],
        "state" => &["", "Unknown"],
        // A session whose class is not known counts as a user's login (Session::is_login).
        "class" => &["", "user"],
        _ => &[""],
    }
}

/// How tile `t` differs from the session object `want` (from [`expected_tile`]), in words.
fn differences(t: &Value, want: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (attr, w) in want.as_object().unwrap() {
        let got = t[attr].as_str().unwrap_or_default();
        let ok = match w {
            Value::Null => unknown_words(attr).contains(&got),
            w => w.as_str() == Some(got),
        };
        if !ok {
            out.push(format!("{attr}: page {got:?}, listed {w}"));
        }
    }
    out
}

/// Waits until the page's tiles of `server` are `wms session list`'s sessions of it,
/// with the same attributes, at a moment when the listing held still (other tests open
/// and close sessions on this host all the time); panics with the difference.
fn assert_tiles_match_list(b: &mut Browser, client: &Client, server: &str) {
    let end = Instant::now() + SOON;
    let shape = |l: &BTreeMap<String, Value>| -> Vec<Value> {
        l.values().map(|s| expected_tile(server, s)).collect()
    };
    loop {
        let before = client.list(server);
        // The page follows events: give them a moment to arrive.
        std::thread::sleep(Duration::from_millis(500));
        let page = tiles(b, server);
        let after = client.list(server);
        let mut wrong: Vec<String> = Vec::new();
        for (id, listed) in &after {
            match page.get(id) {
                None => wrong.push(format!("session {id} listed, no tile")),
                Some(t) => {
                    for d in differences(t, &expected_tile(server, listed)) {
                        wrong.push(format!("session {id}: {d}"));
                    }
                }
            }
        }
        for id in page.keys().filter(|id| !after.contains_key(*id)) {
            wrong.push(format!("a tile for session {id}, not listed"));
        }
        if shape(&before) == shape(&after) && wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "the tiles of {server} never matched `wms session list`: {wrong:#?}"
        );
    }
}

/// Whether session `id`'s tile on `server` has a thumbnail that decoded: its natural
/// size and the colour of its pixel at (x, y), read back through a canvas.
fn thumbnail(b: &mut Browser, server: &str, id: u32, x: u32, y: u32) -> Value {
    b.wait_for(
        &format!(
            r#"const img = document.querySelector('{} img.thumb');
            if (!img) return null;
            // Pictures are asked for as they come into view.
            img.scrollIntoView({{ block: 'center' }});
            if (!img.complete || !img.naturalWidth) return null;
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d');
            g.drawImage(img, 0, 0);
            const p = g.getImageData({x}, {y}, 1, 1).data;
            return {{ width: img.naturalWidth, height: img.naturalHeight, rgb: [p[0], p[1], p[2]], src: img.getAttribute('src') }};"#,
            tile_js(server, id)
        ),
        SOON,
    )
    .unwrap_or_else(|e| panic!("no thumbnail on {server}'s tile {id}: {e}"))
}

/// The RGB pixels of the thumbnail on session `id`'s tile, as the page decoded it.
fn page_pixels(b: &mut Browser, server: &str, id: u32) -> (u32, u32, Vec<u8>) {
    let v = b
        .eval(&format!(
            r#"const img = document.querySelector('{} img.thumb');
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d');
            g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            const rgb = [];
            for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
            return [c.width, c.height, rgb]"#,
            tile_js(server, id)
        ))
        .unwrap();
    let (w, h, rgb): (u32, u32, Vec<u8>) = serde_json::from_value(v).unwrap();
    (w, h, rgb)
}

/// `wms session thumbnail ID --size small --server SERVER`, decoded: size and RGB.
fn cli_thumbnail(client: &Client, server: &str, id: u32) -> (u32, u32, Vec<u8>) {
    let dir = fresh_dir("dashboard-thumb");
    let out = client
        .command()
        .args(["session", "thumbnail", &id.to_string(), "--size", "small"])
        .args(["--server", server, "--output"])
        .arg(&dir)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let path = dir.join(stdout(&out).trim());
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG");
    let mut buf = vec![0; d.output_buffer_size().unwrap()];
    let info = d.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    let _ = std::fs::remove_dir_all(&dir);
    (info.width, info.height, buf)
}

fn close_to(a: &Value, (r, g, bl): (u8, u8, u8)) -> bool {
    let c: Vec<i64> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    (c[0] - i64::from(r)).abs() <= 8
        && (c[1] - i64::from(g)).abs() <= 8
        && (c[2] - i64::from(bl)).abs() <= 8
}

/// Milliseconds since the epoch, as the page's `Date.now()`.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn the_tiles_match_the_session_list_of_every_server_thumbnails_included() {
    let (a, bb) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &bb);
    let sshd = Sshd::start();
    let desk = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            width: 1024,
            height: 768,
            background: (0x20, 0x60, 0xa0),
            ..Default::default()
        },
    );
    // A window of another colour, so the pictures have something to compare.
    let window = desk.open_window(wms_testkit::WindowSpec {
        x: 500,
        y: 300,
        width: 320,
        height: 240,
        color: (0xf0, 0xc0, 0x10),
        ..Default::default()
    });
    let term = sshd.open_session(&user(Role::Plain2), "exec sleep 600", true);
    let d = Dashboard::start(&client, &["--server", "lab-a", "--server", "lab-b"]);
    let mut b = open(&d, &["lab-a", "lab-b"]);
    b.save_screenshot(SUITE, "tiles-1-open");

    for server in ["lab-a", "lab-b"] {
        assert_tiles_match_list(&mut b, &client, server);
        let page = tiles(&mut b, server);
        // The desktop has a picture of its screen: Small (160 pixels wide, the screen's
        // shape), its background's colour in the corner.
        let t = &page[&desk.session_id().to_string()];
        assert_eq!(
            (&t["type"], &t["thumb"], &t["select"]),
            (&"x11".into(), &true.into(), &true.into()),
            "{t}"
        );
        let words: Vec<&str> = t["allowed"].as_str().unwrap().split(' ').collect();
        for verb in [
            "close",
            "disconnect",
            "lock",
            "unlock",
            "message",
            "thumbnail",
        ] {
            assert!(words.contains(&verb), "an administrator may {verb}: {t}");
        }
        let pic = thumbnail(&mut b, server, desk.session_id(), 4, 4);
        assert_eq!(
            (&pic["width"], &pic["height"]),
            (&160.into(), &120.into()),
            "{pic}"
        );
        assert!(close_to(&pic["rgb"], (0x20, 0x60, 0xa0)), "{pic}");
        // The terminal has none.
        let t = &page[&term.session_id().to_string()];
        assert_eq!(
            (&t["type"], &t["thumb"], &t["user"]),
            (&"tty".into(), &false.into(), &"wmst-plain2".into()),
            "{t}"
        );
    }
    // Each picture is the dashboard's own (no other origin), and what `wms session
    // thumbnail` gives for the session through the same server.
    for server in ["lab-a", "lab-b"] {
        let pic = thumbnail(&mut b, server, desk.session_id(), 4, 4);
        assert!(
            !pic["src"].as_str().unwrap().contains("://"),
            "the thumbnail is not loaded from the dashboard: {pic}"
        );
        let page = page_pixels(&mut b, server, desk.session_id());
        let cli = cli_thumbnail(&client, server, desk.session_id());
        assert_eq!((page.0, page.1), (cli.0, cli.1));
        let differ = differing(&page.2, &cli.2);
        assert!(
            differ * 100 < page.2.len(),
            "{differ} of {} samples differ between the page's picture and wms's",
            page.2.len()
        );
        // The window shows where it is on the screen (the window manager placed it): at
        // 160/1024 of its place.
        let at = |x: i32, y: i32| {
            ((y as u32 * 160 / 1024 * page.0 + x as u32 * 160 / 1024) * 3) as usize
        };
        let centre = at(
            window.x + window.width as i32 / 2,
            window.y + window.height as i32 / 2,
        );
        assert!(
            page.2[centre..centre + 3]
                .iter()
                .zip([0xf0u8, 0xc0, 0x10])
                .all(|(p, w)| p.abs_diff(w) <= 8),
            "not the window's colour in the picture at the centre of {window:?}: {:?}",
            &page.2[centre..centre + 3]
        );
    }
    b.save_screenshot(SUITE, "tiles-2-matched");

    // Search: by user, then by server; sort by user.
    let shown = |b: &mut Browser| -> Vec<(String, String)> {
        serde_json::from_value(
            b.eval("[...document.querySelectorAll('article.tile')].filter(t => t.checkVisibility()).map(t => [t.dataset.server, t.dataset.user])")
                .unwrap(),
        )
        .unwrap()
    };
    b.fill("input#search", "wmst-plain2").unwrap();
    b.wait_for(
        "[...document.querySelectorAll('article.tile')].filter(t => t.checkVisibility()).every(t => t.dataset.user === 'wmst-plain2')",
        SOON,
    )
    .unwrap();
    let only = shown(&mut b);
    assert!(
        only.iter().filter(|(_, u)| u == "wmst-plain2").count() >= 2,
        "the terminal's tiles on both servers: {only:?}"
    );
    b.save_screenshot(SUITE, "tiles-3-search-user");
    b.fill("input#search", "lab-b").unwrap();
    b.wait_for(
        "[...document.querySelectorAll('article.tile')].filter(t => t.checkVisibility()).every(t => t.dataset.server === 'lab-b')",
        SOON,
    )
    .unwrap();
    assert!(!shown(&mut b).is_empty());
    b.fill("input#search", "").unwrap();
    b.eval(
        "const s = document.querySelector('select#sort'); s.value = 'user'; s.dispatchEvent(new Event('input', { bubbles: true })); s.dispatchEvent(new Event('change', { bubbles: true })); return true",
    )
    .unwrap();
    b.wait_for(
        r#"return [...document.querySelectorAll('section.server')].every(g => {
            const users = [...g.querySelectorAll('article.tile')].map(t => t.dataset.user);
            return users.length > 1 && users.every((u, i) => i === 0 || users[i - 1].localeCompare(u) <= 0);
        })"#,
        SOON,
    )
    .unwrap_or_else(|e| panic!("not sorted by user: {e}"));
    b.save_screenshot(SUITE, "tiles-4-sorted-by-user");

    // Nothing came from anywhere but the dashboard (its assets are in the binary).
    let asked = b.requests().unwrap();
    let elsewhere: Vec<&String> = asked
        .iter()
        .filter(|u| !u.starts_with(&format!("{}/", d.origin)))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "the page asked elsewhere: {elsewhere:?}"
    );
    for path in ["/app.js", "/app.css", "/api/events", "/api/thumbnail?"] {
        assert!(
            asked.iter().any(|u| u.contains(path)),
            "the page never asked for {path}: {asked:?}"
        );
    }
}

/// Installs a watcher in the page that notes, by the page's clock, when each tile first
/// showed and when it went: `window.wmsSeen["SERVER/ID"]`, `window.wmsGone[...]`. It also
/// marks this load of the page, to tell later that nothing reloaded it.
fn watch_tiles(b: &mut Browser) {
    b.eval(
        r#"window.wmsLoad = 'this-load';
        window.wmsSeen = {}; window.wmsGone = {};
        const note = () => {
            const now = Date.now(), present = new Set();
            for (const t of document.querySelectorAll('article.tile')) {
                const k = t.dataset.server + '/' + t.dataset.session;
                present.add(k);
                if (!(k in wmsSeen)) wmsSeen[k] = now;
            }
            for (const k of Object.keys(wmsSeen)) if (!present.has(k) && !(k in wmsGone)) wmsGone[k] = now;
        };
        note();
        new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
        return true"#,
    )
    .unwrap();
}

/// Waits for `table["SERVER/ID"]` to be set; its value (the page's time).
fn wait_noted(b: &mut Browser, table: &str, server: &str, id: u32) -> i64 {
    b.wait_for(&format!("window.{table}['{server}/{id}']"), SOON)
        .unwrap_or_else(|e| panic!("{table} of {server}/{id}: {e}"))
        .as_i64()
        .unwrap()
}

/// The events an agent publishes (`GET /v1/events` on its Unix socket, as root), each
/// noted with the time it arrived here: kind, session ID, milliseconds since the epoch.
struct AgentEvents {
    rx: mpsc::Receiver<(String, u64, i64)>,
    _stream: std::os::unix::net::UnixStream,
}

impl AgentEvents {
    fn open(agent: &Agent) -> AgentEvents {
        use std::io::Write;
        let mut s = std::os::unix::net::UnixStream::connect(agent.socket()).unwrap();
        s.write_all(b"GET /v1/events HTTP/1.1\r\nHost: wmsd\r\n\r\n")
            .unwrap();
        let reader = s.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut kind = String::new();
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { return };
                if let Some(k) = line.strip_prefix("event: ") {
                    kind = k.trim().to_string();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    if let Some(id) = data["Session"]["SessionId"].as_u64() {
                        if tx.send((kind.clone(), id, now_ms())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        AgentEvents { rx, _stream: s }
    }

    /// When the first `kind` event of session `id` arrived; waits for it.
    fn wait(&self, kind: &str, id: u32) -> i64 {
        let end = Instant::now() + SOON;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let (k, session, at) = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the agent published no {kind} of session {id}"));
            if k == kind && session == u64::from(id) {
                return at;
            }
        }
    }
}

#[test]
fn a_new_login_appears_and_a_closed_one_disappears_without_reloading() {
    let (a, bb) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &bb);
    let sshd = Sshd::start();
    let d = Dashboard::start(&client, &["--server", "lab-a", "--server", "lab-b"]);
    let mut b = open(&d, &["lab-a", "lab-b"]);
    watch_tiles(&mut b);
    let events = [
        ("lab-a", AgentEvents::open(&a)),
        ("lab-b", AgentEvents::open(&bb)),
    ];

    let asked = now_ms();
    let s = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let logged_in = now_ms();
    let id = s.session_id();
    // (server, ms after its agent published it, after the login was complete, after ssh
    // was started)
    let mut seen = Vec::new();
    for (server, agent) in &events {
        let at = wait_noted(&mut b, "wmsSeen", server, id);
        let published = agent.wait("SessionNew", id);
        seen.push((*server, at - published, at - logged_in, at - asked));
    }
    b.eval(&format!(
        "document.querySelector('{}').scrollIntoView({{ block: 'center' }}); return true",
        tile_js("lab-a", id)
    ))
    .unwrap();
    b.save_screenshot(SUITE, "live-1-login-shown");
    println!(
        "login {id} shown, ms after (its agent's event, the login complete, ssh started): {seen:?}"
    );

    assert!(kill_session(id), "session {id} would not end");
    let ended = now_ms();
    let mut gone = Vec::new();
    for (server, agent) in &events {
        let at = wait_noted(&mut b, "wmsGone", server, id);
        let published = agent.wait("SessionRemoved", id);
        gone.push((*server, at - published, at - ended));
    }
    b.save_screenshot(SUITE, "live-2-logout-gone");
    println!("login {id} gone, ms after (its agent's event, its last process ended): {gone:?}");
    assert_eq!(
        b.eval("window.wmsLoad").unwrap(),
        "this-load",
        "the page was reloaded"
    );
    // Within a second of the agent telling, and of the login being complete or ended.
    for (server, after_event, after_login, _) in &seen {
        assert!(
            *after_event <= 1000 && *after_login <= 1000,
            "{server} showed login {id} {after_event} ms after its agent's event, {after_login} ms after the login"
        );
    }
    for (server, after_event, after_end) in &gone {
        assert!(
            *after_event <= 1000 && *after_end <= 1000,
            "{server} dropped login {id} {after_event} ms after its agent's event, {after_end} ms after it ended"
        );
    }
}

/// What tesseract reads on the whole screen of `d`, lowercase words.
fn read_screen(d: &Desktop) -> String {
    let shot = d.screenshot();
    let mut ppm = format!("P6\n{} {}\n255\n", shot.width, shot.height).into_bytes();
    ppm.extend_from_slice(&shot.rgb);
    common::ocr(&ppm)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Waits until `pred` holds of what tesseract reads on `d`'s screen.
fn wait_screen_reads(d: &Desktop, what: &str, pred: impl Fn(&str) -> bool) {
    let end = Instant::now() + SOON;
    loop {
        let read = read_screen(d);
        if pred(&read) {
            return;
        }
        assert!(
            Instant::now() < end,
            "desktop {} never read {what}: {read:?}",
            d.session_id()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Ticks the tiles of `ids` on `server`, clicks the toolbar's `action`, (types
/// `message`,) asks for the what-if and checks it names each target; then confirms and
/// waits for a `Done` result for each. Screenshots at each step as `NAME-...`.
fn act(
    b: &mut Browser,
    server: &str,
    ids: &[u32],
    action: &str,
    message: Option<&str>,
    name: &str,
) {
    preview(b, server, ids, action, message, name);
    confirm(b, server, ids, name);
}

/// The first half of [`act`]: up to the what-if shown, nothing confirmed. The targets'
/// texts, by session ID.
fn preview(
    b: &mut Browser,
    server: &str,
    ids: &[u32],
    action: &str,
    message: Option<&str>,
    name: &str,
) -> BTreeMap<u32, String> {
    for id in ids {
        let select = format!("{} input.select", tile(server, *id));
        if b.eval(&format!(
            "document.querySelector('{}').checked",
            select.replace('\'', "\\'")
        ))
        .unwrap()
            != true
        {
            b.check(&select).unwrap();
        }
    }
    let button = format!("button[data-action={action}]");
    b.wait_for(
        &format!("!document.querySelector('{button}').disabled"),
        SOON,
    )
    .unwrap_or_else(|e| panic!("{button} stays disabled with {ids:?} selected: {e}"));
    b.click(&button).unwrap();
    b.wait_for("document.querySelector('dialog#action-dialog').open", SOON)
        .unwrap();
    // Confirm is never offered before a what-if lists the targets (an action without a
    // message may ask for its what-if as the dialog opens).
    assert_eq!(
        b.eval("document.querySelector('#action-confirm').disabled || document.querySelectorAll('#action-targets li').length > 0")
            .unwrap(),
        true,
        "Confirm is enabled before the what-if"
    );
    if let Some(m) = message {
        b.fill("textarea#action-message", m).unwrap();
        assert_eq!(
            b.eval("document.querySelector('#action-confirm').disabled")
                .unwrap(),
            true,
            "Confirm is enabled for a message no what-if has shown"
        );
    }
    b.save_screenshot(SUITE, &format!("{name}-dialog"));
    b.click("button#action-preview").unwrap();
    let targets = b
        .wait_for(
            &format!(
                r#"const li = [...document.querySelectorAll('#action-targets li')];
                const want = {ids:?}.map(String);
                const mine = li.filter(l => l.dataset.server === '{server}' && want.includes(l.dataset.session));
                return mine.length === want.length && !document.querySelector('#action-confirm').disabled
                    ? li.map(l => [l.dataset.server, l.dataset.session, l.textContent]) : null"#
            ),
            SOON,
        )
        .unwrap_or_else(|e| {
            panic!(
                "the what-if never listed {ids:?} on {server}: {e}\n{}",
                b.eval("document.querySelector('dialog#action-dialog').innerText")
                    .unwrap_or_default()
            )
        });
    b.save_screenshot(SUITE, &format!("{name}-what-if"));
    let targets: Vec<(String, String, String)> = serde_json::from_value(targets).unwrap();
    assert_eq!(
        targets.len(),
        ids.len(),
        "the what-if lists other targets too: {targets:?}"
    );
    targets
        .into_iter()
        .map(|(_, id, text)| {
            assert!(!text.trim().is_empty(), "a target without a word: {id}");
            (id.parse().unwrap(), text)
        })
        .collect()
}

/// The second half of [`act`].
fn confirm(b: &mut Browser, server: &str, ids: &[u32], name: &str) {
    b.click("button#action-confirm").unwrap();
    let results = b
        .wait_for(
            &format!(
                r#"const want = {ids:?}.map(String);
                const li = [...document.querySelectorAll('#action-results li')]
                    .filter(l => l.dataset.server === '{server}' && want.includes(l.dataset.session));
                return li.length === want.length ? li.map(l => [l.dataset.session, l.dataset.outcome, l.textContent]) : null"#
            ),
            SOON,
        )
        .unwrap_or_else(|e| panic!("no result for each of {ids:?}: {e}"));
    b.save_screenshot(SUITE, &format!("{name}-results"));
    for r in results.as_array().unwrap() {
        assert_eq!(r[1], "Done", "{results}");
    }
    b.click("button#action-close").unwrap();
    b.wait_for("!document.querySelector('dialog#action-dialog').open", SOON)
        .unwrap();
}

fn wait_attr(b: &mut Browser, server: &str, id: u32, attr: &str, value: &str) {
    let sel = tile(server, id);
    b.wait_for(
        &format!(
            "document.querySelector('{}')?.getAttribute('{attr}') === '{value}'",
            sel.replace('\'', "\\'")
        ),
        SOON,
    )
    .unwrap_or_else(|e| panic!("{sel} never had {attr}={value}: {e}"));
}

#[test]
fn locking_two_desktops_from_the_page_shows_the_message_on_both_and_unlocking_removes_it() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let desks = [
        Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default()),
        Desktop::start(
            &sshd,
            &user(Role::Plain2),
            DesktopOptions {
                background: (0x60, 0x20, 0x20),
                ..Default::default()
            },
        ),
    ];
    let ids: Vec<u32> = desks.iter().map(Desktop::session_id).collect();
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    for id in &ids {
        wait_tile(&mut b, "lab-a", *id);
    }
    b.save_screenshot(SUITE, "lock-1-open");

    let message = "Eyes to the front please";
    let targets = preview(&mut b, "lab-a", &ids, "lock", Some(message), "lock-2");
    println!("lock what-if: {targets:?}");
    // Nothing locked yet. (Locks are recorded by the agent that made them: it is asked.)
    let locked = |id: u32| client.list("lab-a")[&id.to_string()]["IsLocked"].clone();
    for desk in &desks {
        assert_eq!(locked(desk.session_id()), false);
    }
    confirm(&mut b, "lab-a", &ids, "lock-2");
    for desk in &desks {
        wait_screen_reads(desk, "the lock's message", |r| {
            r.contains("eyes to the front please")
        });
        assert_eq!(locked(desk.session_id()), true);
        wait_attr(&mut b, "lab-a", desk.session_id(), "data-locked", "true");
    }
    b.save_screenshot(SUITE, "lock-3-locked");

    act(&mut b, "lab-a", &ids, "unlock", None, "lock-4-unlock");
    for desk in &desks {
        wait_screen_reads(desk, "no lock", |r| !r.contains("eyes to the front"));
        assert_eq!(locked(desk.session_id()), false);
        wait_attr(&mut b, "lab-a", desk.session_id(), "data-locked", "false");
    }
    b.save_screenshot(SUITE, "lock-5-unlocked");
}

#[test]
fn log_off_shows_its_targets_and_changes_nothing_until_confirmed() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let sessions = [
        sshd.open_session(&user(Role::Plain), "exec sleep 600", false),
        sshd.open_session(&user(Role::Plain2), "exec sleep 601", true),
    ];
    let ids: Vec<u32> = sessions.iter().map(|s| s.session_id()).collect();
    let pids: Vec<Vec<u32>> = ids.iter().map(|&id| session_pids(id)).collect();
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    for id in &ids {
        wait_tile(&mut b, "lab-a", *id);
    }

    let targets = preview(&mut b, "lab-a", &ids, "close", None, "logoff-1");
    println!("log off what-if: {targets:?}");
    // The what-if changed nothing, and nothing happens while it waits for a yes.
    std::thread::sleep(Duration::from_secs(2));
    for (id, pids) in ids.iter().zip(&pids) {
        assert_untouched(*id, pids);
        assert!(
            b.eval(&format!(
                "!!document.querySelector('{}')",
                tile_js("lab-a", *id)
            ))
            .unwrap()
                == true,
            "tile {id} went before the confirmation"
        );
    }
    assert!(
        !a.audit()
            .iter()
            .any(|r| r["verb"] == "Close-WmsSession" && r["whatIf"] != true),
        "the agent acted before the confirmation: {:?}",
        a.audit()
    );
    confirm(&mut b, "lab-a", &ids, "logoff-1");
    for id in &ids {
        assert_gone(*id);
        let sel = tile_js("lab-a", *id);
        b.wait_for(&format!("!document.querySelector('{sel}')"), SOON)
            .unwrap_or_else(|e| panic!("the tile of logged-off {id} stays: {e}"));
    }
    b.save_screenshot(SUITE, "logoff-2-gone");
}

#[test]
fn a_stopped_agent_shows_an_error_on_its_group_while_the_other_server_keeps_working() {
    let (a, mut stopped) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &stopped);
    let sshd = Sshd::start();
    let d = Dashboard::start(&client, &["--server", "lab-a", "--server", "lab-b"]);
    let mut b = open(&d, &["lab-a", "lab-b"]);
    watch_tiles(&mut b);

    stopped.kill();
    let why = b
        .wait_for(
            r#"const s = document.querySelector('section.server[data-server="lab-b"]');
            const e = s.querySelector('.server-error');
            return s.dataset.status === 'error' && e && e.checkVisibility() && e.textContent.trim()"#,
            SOON,
        )
        .unwrap_or_else(|e| panic!("lab-b's group shows no error: {e}"));
    println!("lab-b's group says: {why}");
    assert_eq!(
        b.eval(r#"document.querySelector('section.server[data-server="lab-a"]').dataset.status"#)
            .unwrap(),
        "ok"
    );
    assert_eq!(
        b.eval(
            r#"const e = document.querySelector('section.server[data-server="lab-a"] .server-error');
            return !!e && e.checkVisibility() && e.textContent.trim() !== ''"#
        )
        .unwrap(),
        false,
        "lab-a shows an error too"
    );
    b.eval(r#"document.querySelector('section.server[data-server="lab-b"] .server-error').scrollIntoView({ block: 'center' }); return true"#)
        .unwrap();
    b.save_screenshot(SUITE, "stopped-1-error");

    // lab-a still follows its sessions: a login comes and goes on it.
    let s = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let id = s.session_id();
    wait_noted(&mut b, "wmsSeen", "lab-a", id);
    b.save_screenshot(SUITE, "stopped-2-other-server-login");
    assert!(kill_session(id));
    wait_noted(&mut b, "wmsGone", "lab-a", id);
    assert_eq!(
        b.eval(&format!("window.wmsSeen['lab-b/{id}'] === undefined"))
            .unwrap(),
        true,
        "the stopped server showed a new login"
    );
    b.save_screenshot(SUITE, "stopped-3-other-server-logout");
}

/// A configuration with its own (empty) state directory and no agent, so the dashboard
/// shows this host in its own process.
fn no_agent_config(dir: &std::path::Path) -> String {
    wms_testkit::config_file(&format!(
        "grace_period = 1\nsocket = \"{d}/none.sock\"\nstate_dir = \"{d}/state\"\n",
        d = dir.display()
    ))
    .display()
    .to_string()
}

#[test]
fn requests_without_the_secret_with_a_spent_one_or_another_host_are_refused() {
    let sshd = Sshd::start();
    let victim = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let vid = victim.session_id();
    let victim_pids = session_pids(vid);
    let dir = fresh_dir("dashboard-gate");
    // This host, without an agent: the dashboard acts as root itself.
    let child = Command::new(wms_path())
        .arg("dashboard")
        .env("WMS_CONFIG", no_agent_config(&dir))
        .env("XDG_CONFIG_HOME", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut d = Dashboard::wait_link(child);
    let mut b = Browser::launch();
    let o = d.origin.clone();
    let host = format!("127.0.0.1:{}", d.port);
    let get = |b: &mut Browser, url: &str, headers: &[(&str, &str)]| {
        b.fetch(
            url,
            FetchRequest {
                headers,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let close_body =
        format!(r#"{{"action":"close","targets":[{{"server":"localhost","sessionId":{vid}}}]}}"#);
    let post = |b: &mut Browser, path: &str, headers: &[(&str, &str)]| {
        b.fetch(
            &format!("{o}{path}"),
            FetchRequest {
                method: Some("POST"),
                headers,
                body: Some(&close_body),
            },
        )
        .unwrap()
    };
    let json = ("Content-Type", "application/json");

    // Nobody let in yet: every path is refused, and nothing is done (the server's name
    // matters not: nothing is read before the gate).
    for path in [
        "/",
        "/app.js",
        "/api/events",
        &format!("/api/thumbnail?server=localhost&id={vid}"),
    ] {
        let r = get(&mut b, &format!("{o}{path}"), &[]);
        assert_eq!(r.status, 403, "GET {path}: {}", r.body);
    }
    for path in ["/api/preview", "/api/act"] {
        let r = post(&mut b, path, &[json]);
        assert_eq!(r.status, 403, "POST {path}: {}", r.body);
    }
    // A wrong secret, and the right one under another Host name (DNS rebinding).
    let wrong = format!("{o}/?secret={}", "0".repeat(64));
    let r = get(&mut b, &wrong, &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.headers.contains_key("set-cookie"), "{:?}", r.headers);
    let elsewhere = format!("localhost:{}", d.port);
    let r = get(&mut b, &d.link, &[("Host", &elsewhere)]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.headers.contains_key("set-cookie"), "{:?}", r.headers);

    // The browser that opens the link is let in, once: the secret is then spent.
    assert_eq!(b.goto(&d.link).unwrap(), 200);
    // One group: this host, under its own name.
    let here = b
        .wait_for(
            "document.querySelectorAll('section.server').length === 1 && document.querySelector('section.server').dataset.status === 'ok' && document.querySelector('section.server').dataset.server",
            SOON,
        )
        .unwrap();
    println!("this host's group: {here}");
    b.save_screenshot(SUITE, "gate-1-let-in");
    let r = get(&mut b, &d.link, &[]);
    assert_eq!(r.status, 403, "the spent secret let in another: {}", r.body);
    assert!(!r.headers.contains_key("set-cookie"), "{:?}", r.headers);

    // The cookie the page holds: HttpOnly, SameSite=Strict; it opens the page only at
    // the dashboard's own address.
    let cookies = b.cookies().unwrap();
    let cookie = cookies
        .iter()
        .find(|c| c["httpOnly"] == true)
        .unwrap_or_else(|| panic!("no HttpOnly cookie: {cookies:?}"));
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(
        b.eval("document.cookie").unwrap(),
        "",
        "the page's script can read its cookie"
    );
    let pair = format!(
        "{}={}",
        cookie["name"].as_str().unwrap(),
        cookie["value"].as_str().unwrap()
    );
    let r = get(&mut b, &format!("{o}/"), &[("Cookie", &pair)]);
    assert_eq!(
        r.status, 200,
        "the page's own cookie is refused: {}",
        r.body
    );
    let r = get(
        &mut b,
        &format!("{o}/"),
        &[("Cookie", &pair), ("Host", &elsewhere)],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = get(&mut b, &format!("{o}/"), &[("Host", &host)]);
    assert_eq!(r.status, 403, "{}", r.body);
    let forged = format!("{}={}", cookie["name"].as_str().unwrap(), "0".repeat(64));
    let r = get(&mut b, &format!("{o}/"), &[("Cookie", &forged)]);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = post(&mut b, "/api/act", &[json, ("Cookie", &forged)]);
    assert_eq!(r.status, 403, "{}", r.body);
    // Another site's page, even with the cookie (a browser would send it).
    let r = post(
        &mut b,
        "/api/act",
        &[json, ("Cookie", &pair), ("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403, "{}", r.body);

    // None of it reached the session.
    assert_untouched(vid, &victim_pids);
    b.save_screenshot(SUITE, "gate-2-after-refusals");
    drop(b);
    assert_eq!(d.stop(), Some(0), "{}", d.stderr());
    let rest = d.rest.recv_timeout(SOON).expect("standard output closed");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "",
        "more than the link on standard output"
    );
}

/// Presses `key` until `js` holds of the focused element (`el`), at most `times` times;
/// panics saying where the focus is.
fn press_until(b: &mut Browser, key: &str, js: &str, times: usize) {
    let test = format!("return (el => {js})(document.activeElement)");
    for _ in 0..times {
        if b.eval(&test).unwrap() == true {
            return;
        }
        b.press(key).unwrap();
    }
    let at = b
        .eval("document.activeElement.outerHTML.slice(0, 200)")
        .unwrap();
    assert_eq!(
        b.eval(&test).unwrap(),
        true,
        "{times} presses of {key} never reached {js}; the focus is on {at}"
    );
}

#[test]
fn the_page_is_usable_by_keyboard_and_readable_at_200_percent_zoom() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let s = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let id = s.session_id();
    let pids = session_pids(id);
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    wait_tile(&mut b, "lab-a", id);
    let sel = tile_js("lab-a", id);

    // At 200% the page reflows into half the width: nothing needs scrolling sideways, and
    // the toolbar and the tiles are whole on screen.
    let (width, _, ratio) = b.zoom(2.0).unwrap();
    assert_eq!((width, ratio), (640.0, 2.0));
    let overflow = b
        .eval(&format!(
            r#"const w = innerWidth, out = [];
            if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth);
            const all = document.querySelectorAll('button[data-action], input#search, select#sort, {sel}');
            // The five actions, the search, the sort and the tile.
            if (all.length !== 8) out.push(all.length + ' elements to look at, not 8');
            for (const e of all) {{
                const r = e.getBoundingClientRect();
                if (r.left < 0 || r.right > w) out.push(e.outerHTML.slice(0, 60) + ' ' + r.left + '..' + r.right);
                if (e.scrollWidth > e.clientWidth + 1) out.push('clipped: ' + e.outerHTML.slice(0, 60));
            }}
            return out"#
        ))
        .unwrap();
    b.save_screenshot(SUITE, "keyboard-1-zoom-200");
    assert_eq!(overflow, serde_json::json!([]), "cut off at 200%");

    // By keyboard alone: to the search field, narrow to the session, tick its tile, open
    // Log off, which shows its target; Escape leaves it, nothing done.
    b.eval("document.activeElement.blur(); return true")
        .unwrap();
    press_until(&mut b, "Tab", "el.id === 'search'", 30);
    for c in id.to_string().chars() {
        b.press(&c.to_string()).unwrap();
    }
    // Other tiles may match too (the search looks at terminals and addresses as well).
    b.wait_for(
        &format!(
            "document.querySelector('#search').value === '{id}' && document.querySelector('{sel}')"
        ),
        SOON,
    )
    .unwrap();
    press_until(
        &mut b,
        "Tab",
        &format!("el.matches('{sel} input.select')"),
        300,
    );
    b.press("Space").unwrap();
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('{sel} input.select').checked"
        ))
        .unwrap(),
        true
    );
    press_until(
        &mut b,
        "Shift+Tab",
        "el.matches('button[data-action=close]')",
        60,
    );
    b.press("Enter").unwrap();
    b.wait_for("document.querySelector('dialog#action-dialog').open", SOON)
        .unwrap();
    let listed = format!("document.querySelector('#action-targets li[data-session=\"{id}\"]')");
    if b.wait_for(&listed, Duration::from_secs(3)).is_err() {
        // Not asked as the dialog opened: ask for the what-if.
        press_until(&mut b, "Tab", "el.id === 'action-preview'", 10);
        b.press("Enter").unwrap();
        b.wait_for(&listed, SOON).unwrap();
    }
    b.save_screenshot(SUITE, "keyboard-2-what-if");
    b.press("Escape").unwrap();
    b.wait_for("!document.querySelector('dialog#action-dialog').open", SOON)
        .unwrap();
    assert_untouched(id, &pids);
    b.save_screenshot(SUITE, "keyboard-3-closed");
}

#[test]
fn what_an_operators_token_may_not_do_is_shown_unavailable_and_refused_by_the_agent() {
    let a = Agent::tls();
    let client = Client::new();
    client.add_as("lab-a", &a, "operator");
    let sshd = Sshd::start();
    let plain = sshd.open_session(&user(Role::Plain), "exec sleep 600", false);
    let admin = sshd.open_session(&user(Role::Admin), "exec sleep 600", false);
    let (pid, aid) = (plain.session_id(), admin.session_id());
    let admin_pids = session_pids(aid);
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    for id in [pid, aid] {
        wait_tile(&mut b, "lab-a", id);
    }
    // SPEC 5: an operator acts on sessions of non-administrators only.
    let page = tiles(&mut b, "lab-a");
    let allowed = |id: u32| -> Vec<String> {
        page[&id.to_string()]["allowed"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    for verb in ["close", "disconnect", "lock", "message"] {
        assert!(allowed(pid).iter().any(|v| v == verb), "{:?}", allowed(pid));
        assert!(
            !allowed(aid).iter().any(|v| v == verb),
            "{:?}",
            allowed(aid)
        );
    }
    // The administrator's tile alone selected: Log off is unavailable.
    b.check(&format!("{} input.select", tile("lab-a", aid)))
        .unwrap();
    b.wait_for(
        "document.querySelector('button[data-action=close]').disabled && document.querySelector('article.tile input.select:checked')",
        SOON,
    )
    .unwrap_or_else(|e| panic!("Log off is offered for an administrator's session: {e}"));
    b.save_screenshot(SUITE, "operator-1-unavailable");
    // With the plain user's too, the what-if says which would be logged off, and that
    // the other is not the operator's to touch.
    let targets = preview(&mut b, "lab-a", &[pid, aid], "close", None, "operator-2");
    println!("operator's what-if: {targets:?}");
    assert_ne!(targets[&pid], targets[&aid]);
    let mut outcome = |id: u32| {
        b.eval(&format!(
            "document.querySelector('#action-targets li[data-session=\"{id}\"]').dataset.outcome"
        ))
        .unwrap()
    };
    assert_eq!(outcome(pid), "WhatIf");
    assert_eq!(outcome(aid), "AccessDenied");
    b.click("button#action-close").unwrap();
    assert_untouched(aid, &admin_pids);
}

#[test]
fn a_message_and_a_disconnect_from_the_page_reach_the_sessions() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let shell = sshd.open_session(
        &user(Role::Plain),
        "exec env PS1='wms$ ' bash --norc --noprofile -i",
        true,
    );
    wait_screen(&shell, "a prompt", |t| t.contains("wms$ "));
    let mut away = sshd.open_session(
        &user(Role::Plain2),
        "nohup sleep 600 >/dev/null 2>&1 & exec sleep 601",
        true,
    );
    let (sid, did) = (shell.session_id(), away.session_id());
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    for id in [sid, did] {
        wait_tile(&mut b, "lab-a", id);
    }

    let text = format!("Pens down in five minutes {}", std::process::id());
    act(&mut b, "lab-a", &[sid], "message", Some(&text), "message");
    assert!(
        shell.wait_for_output(&text, SOON),
        "the message never reached the terminal:\n{}",
        shell.output_text()
    );
    // Ticked tiles stay ticked after an action: clear them before the next.
    b.eval("document.querySelectorAll('article.tile input.select:checked').forEach(c => c.click()); return true")
        .unwrap();

    act(&mut b, "lab-a", &[did], "disconnect", None, "disconnect");
    assert!(
        away.wait_exit(SOON).is_some(),
        "the ssh client is still connected"
    );
    wait_attr(&mut b, "lab-a", did, "data-state", "Disconnected");
    assert_eq!(
        client.list("lab-a")[&did.to_string()]["State"],
        "Disconnected"
    );
    assert!(
        session_pids(did)
            .iter()
            .any(|p| std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")),
        "the session's programs did not outlive its connection"
    );
    b.save_screenshot(SUITE, "disconnect-2-disconnected");
    kill_session(did);
}

#[test]
fn an_xrdp_desktop_is_a_tile_with_its_picture_as_wms_gives_it() {
    // The RDP tests' user (one xrdp of the kit runs at a time).
    let rdp = wms_testkit::ensure_user("wmst-rdp", &[]);
    wms_testkit::set_rdp_password(&rdp);
    let xrdp = wms_testkit::XrdpServer::start();
    let (_viewer, desk) = xrdp.connect(&rdp);
    let id = desk.session_id;
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    assert_tiles_match_list(&mut b, &client, "lab-a");
    let t = &tiles(&mut b, "lab-a")[&id.to_string()];
    assert_eq!(
        (&t["type"], &t["state"], &t["user"], &t["thumb"]),
        (
            &"x11".into(),
            &"RemoteConnection".into(),
            &"wmst-rdp".into(),
            &true.into()
        ),
        "{t}"
    );
    // The client asked for 800x600: 160x120.
    let pic = thumbnail(&mut b, "lab-a", id, 4, 4);
    assert_eq!(
        (&pic["width"], &pic["height"]),
        (&160.into(), &120.into()),
        "{pic}"
    );
    let page = page_pixels(&mut b, "lab-a", id);
    let cli = cli_thumbnail(&client, "lab-a", id);
    assert_eq!((page.0, page.1), (cli.0, cli.1));
    let differ = differing(&page.2, &cli.2);
    assert!(
        differ * 50 < page.2.len(),
        "{differ} of {} samples differ between the page's picture and wms's",
        page.2.len()
    );
    // Not a blank picture: the desktop shows more than one colour.
    let first = &page.2[..3];
    assert!(
        page.2.chunks(3).any(|p| p != first),
        "the picture is one colour"
    );
    b.save_screenshot(SUITE, "xrdp-1-tile");
}

/// How many times `agent` has read session `id`'s screen (its audit's intents).
fn screen_reads(agent: &Agent, id: u32) -> usize {
    agent
        .audit()
        .iter()
        .filter(|r| {
            r["phase"] == "intent"
                && r["verb"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("Get-WmsSession -Thumbnail"))
                && r["sessionIds"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i == id))
        })
        .count()
}

#[test]
fn pictures_follow_the_screen_and_are_read_at_a_bounded_rate() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let desk = Desktop::start(
        &sshd,
        &user(Role::Plain),
        DesktopOptions {
            background: (0x20, 0x60, 0xa0),
            ..Default::default()
        },
    );
    let id = desk.session_id();
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    // The middle of the screen, where the window will be.
    let (x, y) = (80, 60);
    let before = thumbnail(&mut b, "lab-a", id, x, y);
    assert!(close_to(&before["rgb"], (0x20, 0x60, 0xa0)), "{before}");

    // A window opens: the tile's picture shows it without a reload, within a few of the
    // page's refreshes.
    let window = desk.open_window(wms_testkit::WindowSpec {
        x: 312,
        y: 234,
        width: 400,
        height: 300,
        color: (0xf0, 0xc0, 0x10),
        ..Default::default()
    });
    let opened = Instant::now();
    assert!(
        (window.x..window.x + 400).contains(&512) && (window.y..window.y + 300).contains(&384),
        "the window manager put the window elsewhere: {window:?}"
    );
    loop {
        let now = thumbnail(&mut b, "lab-a", id, x, y);
        if close_to(&now["rgb"], (0xf0, 0xc0, 0x10)) {
            break;
        }
        assert!(
            opened.elapsed() < Duration::from_secs(30),
            "the picture never showed the window: {now}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "the picture showed the new window after {:?}",
        opened.elapsed()
    );
    b.save_screenshot(SUITE, "pictures-1-window-shown");

    // However often a page asks, the screen is read at a bounded rate (once per 5 s a
    // session): 80 asks in 8 s make one or two reads. Each ask replaces the last before
    // its answer came (as scrolling does), so the dashboard must finish and keep a read
    // the page stopped waiting for.
    let reads = screen_reads(&a, id);
    assert!(
        reads >= 2,
        "the agent's audit shows {reads} reads of the screen"
    );
    let started = Instant::now();
    b.eval(&format!(
        r#"const img = document.querySelector('{} img.thumb');
        let n = 0;
        const t = setInterval(() => {{ img.src = '/api/thumbnail?server=lab-a&id={id}&burst=' + n; if (++n === 80) clearInterval(t); }}, 100);
        return true"#,
        tile_js("lab-a", id)
    ))
    .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let took = started.elapsed();
    let read = screen_reads(&a, id) - reads;
    println!("{read} screen reads in {took:?} while the page asked 80 times");
    assert!((1..=2).contains(&read), "{read} screen reads in {took:?}");
}

#[test]
fn a_desktop_started_while_the_page_is_open_becomes_a_desktop_tile() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    // A display manager's login has its display from the start; a desktop started from a
    // login (as here, or startx) gets it a moment later.
    let desk = Desktop::start(&sshd, &user(Role::Plain), DesktopOptions::default());
    let id = desk.session_id();
    assert_eq!(client.list("lab-a")[&id.to_string()]["Type"], "x11");
    let sel = tile_js("lab-a", id);
    let shown = b.wait_for(
        &format!("document.querySelector('{sel}')?.dataset.type === 'x11' && document.querySelector('{sel} img.thumb')"),
        Duration::from_secs(10),
    );
    b.save_screenshot(SUITE, "late-desktop");
    let t = &tiles(&mut b, "lab-a")[&id.to_string()];
    assert!(shown.is_ok(), "desktop {id} is still shown as {t}");
}

#[test]
fn a_hosts_file_names_the_groups_in_order_a_port_is_kept_and_sigint_ends_it() {
    let (a, bb) = (Agent::tls(), Agent::tls());
    let client = Client::new();
    client.add("lab-a", &a);
    client.add("lab-b", &bb);
    let hosts = client.home.join("hosts");
    std::fs::write(&hosts, "# the lab\nlab-b  # second room\n\nlab-a\n").unwrap();
    let port = free_port();
    let mut d = Dashboard::start(
        &client,
        &[
            "--hosts-file",
            hosts.to_str().unwrap(),
            "--port",
            &port.to_string(),
        ],
    );
    assert_eq!(d.port, port, "{}", d.link);
    let mut b = open(&d, &["lab-b", "lab-a"]);
    assert_eq!(
        b.eval("[...document.querySelectorAll('section.server')].map(s => s.dataset.server)")
            .unwrap(),
        serde_json::json!(["lab-b", "lab-a"])
    );
    b.save_screenshot(SUITE, "hosts-file-1-groups");
    drop(b);
    // Ctrl+C ends it cleanly, having printed nothing but the link.
    let _ = Command::new("kill")
        .args(["-INT", &d.child.id().to_string()])
        .status();
    let end = Instant::now() + SOON;
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < end, "SIGINT did not end the dashboard");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    let rest = d.rest.recv_timeout(SOON).expect("standard output closed");
    assert_eq!(String::from_utf8_lossy(&rest), "");
}

#[test]
fn what_the_keyboard_focuses_is_never_hidden_under_the_bar() {
    let a = Agent::tls();
    let client = Client::new();
    client.add("lab-a", &a);
    let sshd = Sshd::start();
    // Enough tiles to scroll by (four rows and more at 1280 pixels).
    let sessions: Vec<SshSession> = (0..30)
        .map(|_| sshd.open_session(&user(Role::Plain), "exec sleep 600", false))
        .collect();
    let d = Dashboard::start(&client, &["--server", "lab-a"]);
    let mut b = open(&d, &["lab-a"]);
    for s in &sessions {
        wait_tile(&mut b, "lab-a", s.session_id());
    }
    // From the last tile's checkbox back up to the toolbar, one Shift+Tab at a time.
    b.eval("const boxes = document.querySelectorAll('article.tile input.select'); boxes[boxes.length - 1].focus(); return true")
        .unwrap();
    let mut hidden = Vec::new();
    let mut steps = 0;
    loop {
        let at = b
            .eval(
                r#"const e = document.activeElement, r = e.getBoundingClientRect();
                const bar = document.querySelector('header').getBoundingClientRect();
                return { tile: e.closest('article.tile')?.dataset.session ?? null, top: r.top, bottom: r.bottom, bar: bar.bottom, height: innerHeight }"#,
            )
            .unwrap();
        if at["tile"].is_null() {
            break;
        }
        let (top, bottom) = (at["top"].as_f64().unwrap(), at["bottom"].as_f64().unwrap());
        if top < at["bar"].as_f64().unwrap() || bottom > at["height"].as_f64().unwrap() {
            hidden.push(at.clone());
            if hidden.len() == 1 {
                b.save_screenshot(SUITE, "focus-1-hidden");
            }
        }
        steps += 1;
        assert!(steps < 5000, "Shift+Tab never left the tiles");
        b.press("Shift+Tab").unwrap();
    }
    assert!(steps >= 30, "only {steps} tiles were passed through");
    assert!(
        hidden.is_empty(),
        "focused but hidden under the bar or below the window: {hidden:?}"
    );
}

/// How many samples of two pictures of the same size differ by more than a rounding.
fn differing(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > 8).count()
}

/// Waits until the tile of session `id` of `server` is on the page.
fn wait_tile(b: &mut Browser, server: &str, id: u32) {
    b.wait_for(
        &format!("document.querySelector('{}')", tile_js(server, id)),
        SOON,
    )
    .unwrap();
}
