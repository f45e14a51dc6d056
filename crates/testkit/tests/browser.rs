//! The browser driver itself, against a small HTTP server each test runs on 127.0.0.1:
//! navigation and statuses, scripts, waits that time out, typing and clicking, zoom,
//! screenshots read back pixel by pixel, requests sent without the page's cookie, and no
//! chromium left behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use wms_testkit::*;

/// The page: a green body, a 100x50 blue box at the top left, a form that greets.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>driver</title>
<style>body { margin: 0; background: rgb(10, 200, 30); }
#bar { width: 100px; height: 50px; background: rgb(0, 0, 255); }</style></head>
<body><div id="bar"></div>
<input id="name"> <input id="box" type="checkbox"> <button id="go">Go</button>
<p id="out"></p>
<script>
document.getElementById('go').onclick = () => {
  document.getElementById('out').textContent = 'Hello ' + document.getElementById('name').value;
};
setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; p.textContent = 'late'; document.body.append(p); }, 300);
</script></body></html>"#;

/// A server on a free loopback port; each request is answered by its path:
/// `/` the page (`/strict` under a strict Content-Security-Policy), `/login` sets a cookie and redirects to `/` (303), `/echo` answers with
/// the method, Host, Cookie and body it got; anything else 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    url
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (mut host, mut cookie, mut length) = (String::new(), String::new(), 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "host" => host = v.trim().to_string(),
            "cookie" => cookie = v.trim().to_string(),
            "content-length" => length = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, extra, text) = match path.as_str() {
        "/" => ("200 OK", "Content-Type: text/html\r\n", PAGE.to_string()),
        // The page under a policy that forbids evaluating strings, as the dashboard's.
        "/strict" => (
            "200 OK",
            "Content-Type: text/html\r\nContent-Security-Policy: default-src 'none'; script-src 'self'\r\n",
            PAGE.to_string(),
        ),
        "/login" => (
            "303 See Other",
            "Set-Cookie: k=v42; HttpOnly; SameSite=Strict\r\nLocation: /\r\n",
            String::new(),
        ),
        "/echo" => (
            "200 OK",
            "Content-Type: text/plain\r\n",
            format!(
                "method={method} host={host} cookie={cookie} body={}",
                String::from_utf8_lossy(&body)
            ),
        ),
        _ => ("404 Not Found", "", "no such page".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// A PNG's size and RGB(A) pixels.
fn decode(path: &std::path::Path) -> (u32, u32, usize, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG");
    let mut buf = vec![0; d.output_buffer_size().unwrap()];
    let info = d.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    (info.width, info.height, channels, buf)
}

fn pixel(png: &(u32, u32, usize, Vec<u8>), x: u32, y: u32) -> (u8, u8, u8) {
    let i = (y * png.0 + x) as usize * png.2;
    (png.3[i], png.3[i + 1], png.3[i + 2])
}

#[test]
fn the_driver_navigates_scripts_types_clicks_and_waits_with_a_bound() {
    let url = serve();
    let mut b = Browser::launch();
    assert_eq!(b.goto(&format!("{url}/nowhere")).unwrap(), 404);
    assert_eq!(b.goto(&format!("{url}/")).unwrap(), 200);
    assert_eq!(b.eval("document.title").unwrap(), "driver");
    assert_eq!(b.eval("return 6 * 7").unwrap(), 42);
    let err = b.eval("no_such_name.field").unwrap_err();
    assert!(err.message.contains("no_such_name"), "{err}");

    // A wait returns the predicate's value once it holds.
    let late = b
        .wait_for(
            "document.getElementById('late')?.textContent",
            Duration::from_secs(5),
        )
        .unwrap();
    assert_eq!(late, "late");
    // One that never holds fails at its bound, saying so, and the page still answers.
    let started = Instant::now();
    let err = b
        .wait_for(
            "document.getElementById('never')",
            Duration::from_millis(400),
        )
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        err.message.contains("timed out after 400 ms")
            && err.message.contains("getElementById('never')"),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(b.eval("1 + 1").unwrap(), 2);

    // A page that forbids eval to its own scripts can still be asked and waited on.
    assert_eq!(b.goto(&format!("{url}/strict")).unwrap(), 200);
    assert_eq!(
        b.wait_for(
            "document.getElementById('bar') && document.title",
            Duration::from_secs(5)
        )
        .unwrap(),
        "driver"
    );
    // (Its inline script did not run.)
    assert!(b
        .wait_for(
            "document.getElementById('late')",
            Duration::from_millis(600)
        )
        .is_err());
    b.goto(&format!("{url}/")).unwrap();

    b.fill("#name", "Ada").unwrap();
    b.click("#go").unwrap();
    assert_eq!(
        b.eval("document.getElementById('out').textContent")
            .unwrap(),
        "Hello Ada"
    );
    b.check("#box").unwrap();
    assert_eq!(
        b.eval("document.getElementById('box').checked").unwrap(),
        true
    );
    // The keyboard: Shift+Tab from the checkbox reaches the name field, where keys type.
    b.press("Shift+Tab").unwrap();
    assert_eq!(b.eval("document.activeElement.id").unwrap(), "name");
    b.press("End").unwrap();
    b.press("x").unwrap();
    assert_eq!(
        b.eval("document.getElementById('name').value").unwrap(),
        "Adax"
    );
    // Everything the page asked for, in order.
    let asked = b.requests().unwrap();
    assert_eq!(
        asked,
        [
            format!("{url}/nowhere"),
            format!("{url}/"),
            format!("{url}/strict"),
            format!("{url}/"),
        ],
    );
    // A selector that matches nothing is an error, not a hang.
    let err = b.click("#missing").unwrap_err();
    assert!(err.message.contains("#missing"), "{err}");
}

#[test]
fn zoom_and_screenshots_show_what_the_page_draws() {
    let url = serve();
    let mut b = Browser::launch();
    b.goto(&format!("{url}/")).unwrap();
    let plain = b.save_screenshot("browser", "zoom-100");
    let shot = decode(&plain);
    assert_eq!((shot.0, shot.1), VIEWPORT);
    assert_eq!(pixel(&shot, 50, 25), (0, 0, 255));
    assert_eq!(pixel(&shot, 150, 25), (10, 200, 30));
    assert_eq!(pixel(&shot, 50, 75), (10, 200, 30));

    // At 200% the page lays out in half the CSS pixels and draws each twice as large.
    assert_eq!(b.zoom(2.0).unwrap(), (640.0, 450.0, 2.0));
    let zoomed = b.save_screenshot("browser", "zoom-200");
    let shot = decode(&zoomed);
    assert_eq!((shot.0, shot.1), VIEWPORT);
    assert_eq!(pixel(&shot, 150, 25), (0, 0, 255));
    assert_eq!(pixel(&shot, 150, 75), (0, 0, 255));
    assert_eq!(pixel(&shot, 250, 25), (10, 200, 30));
    // The zoom holds across a reload, and clicks still land.
    b.goto(&format!("{url}/")).unwrap();
    assert_eq!(
        b.eval("[innerWidth, devicePixelRatio]").unwrap(),
        serde_json::json!([640, 2])
    );
    b.fill("#name", "Zoe").unwrap();
    b.click("#go").unwrap();
    assert_eq!(
        b.eval("document.getElementById('out').textContent")
            .unwrap(),
        "Hello Zoe"
    );
    assert_eq!(b.zoom(1.0).unwrap(), (1280.0, 900.0, 1.0));
    assert!(b.zoom(0.0).is_err());
}

#[test]
fn fetch_goes_without_the_pages_cookie_and_sends_what_it_is_given() {
    let url = serve();
    let mut b = Browser::launch();
    // The page's own requests carry the cookie the redirect set.
    assert_eq!(b.goto(&format!("{url}/login")).unwrap(), 200);
    assert_eq!(b.eval("location.pathname").unwrap(), "/");
    let seen = b
        .wait_for(
            &format!("return fetch('{url}/echo').then(r => r.text())"),
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(seen.as_str().unwrap().contains("cookie=k=v42"), "{seen}");
    let cookies = b.cookies().unwrap();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(
        (
            &cookies[0]["name"],
            &cookies[0]["value"],
            &cookies[0]["httpOnly"],
            &cookies[0]["sameSite"]
        ),
        (&"k".into(), &"v42".into(), &true.into(), &"Strict".into())
    );

    // node's do not, nor follow a redirect.
    let r = b
        .fetch(&format!("{url}/echo"), FetchRequest::default())
        .unwrap();
    assert_eq!(r.status, 200);
    let host = url.trim_start_matches("http://");
    assert_eq!(r.body, format!("method=GET host={host} cookie= body="));
    let r = b
        .fetch(&format!("{url}/login"), FetchRequest::default())
        .unwrap();
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/");
    assert!(r.headers["set-cookie"].contains("k=v42"), "{:?}", r.headers);

    // Any method, headers (even Host) and body.
    let r = b
        .fetch(
            &format!("{url}/echo"),
            FetchRequest {
                method: Some("POST"),
                headers: &[("Host", "evil.example:80"), ("Cookie", "k=forged")],
                body: Some("{\"a\":1}"),
            },
        )
        .unwrap();
    assert_eq!(
        r.body,
        "method=POST host=evil.example:80 cookie=k=forged body={\"a\":1}"
    );
    // A port nothing listens on is an error naming the refusal.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = b
        .fetch(
            &format!("http://127.0.0.1:{port}/"),
            FetchRequest::default(),
        )
        .unwrap_err();
    assert!(err.message.contains("ECONNREFUSED"), "{err}");
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn closing_or_dropping_the_browser_leaves_no_chromium_even_when_node_is_killed() {
    let url = serve();
    // Closed: node closes chromium and exits.
    let mut b = Browser::launch();
    b.goto(&format!("{url}/")).unwrap();
    let tree: Vec<(u32, u64)> = b
        .processes()
        .into_iter()
        .filter_map(|p| Some((p, process_start_time(p)?)))
        .collect();
    assert!(
        tree.iter().any(|&(p, _)| comm(p) == "node"),
        "no node in {tree:?}"
    );
    assert!(
        tree.iter()
            .filter(|&&(p, _)| comm(p).starts_with("chrom"))
            .count()
            >= 2,
        "chromium and its helpers are not in {tree:?}"
    );
    b.close();
    let left: Vec<_> = tree.iter().filter(|&&(p, s)| still_running(p, s)).collect();
    assert!(left.is_empty(), "still running after close: {left:?}");

    // node killed outright cannot close chromium; dropping the browser still ends it all.
    let mut b = Browser::launch();
    b.goto(&format!("{url}/")).unwrap();
    let tree: Vec<(u32, u64)> = b
        .processes()
        .into_iter()
        .filter_map(|p| Some((p, process_start_time(p)?)))
        .collect();
    let node = tree[0].0;
    assert_eq!(comm(node), "node");
    std::process::Command::new("kill")
        .args(["-KILL", &node.to_string()])
        .status()
        .unwrap();
    let err = b.eval("1").unwrap_err();
    assert!(err.message.contains("exited"), "{err}");
    drop(b);
    let left: Vec<_> = tree.iter().filter(|&&(p, s)| still_running(p, s)).collect();
    assert!(left.is_empty(), "still running after drop: {left:?}");
}
