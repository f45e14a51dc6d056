//! X clients of a test desktop run from the test process itself (x11rb, with the
//! session's cookie): a window of a known colour at a known place that logs the keys and
//! buttons it receives, and the screen read back as RGB.

use super::*;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::Event;
use x11rb::rust_connection::{DefaultStream, RustConnection};
use x11rb::wrapper::ConnectionExt as _;

/// A connection to local display `display` with `cookie`.
pub fn connect(display: u32, cookie: &[u8]) -> RustConnection {
    let path = format!("/tmp/.X11-unix/X{display}");
    let stream = UnixStream::connect(&path).unwrap_or_else(|e| panic!("connect {path}: {e}"));
    let (stream, _) = DefaultStream::from_unix_stream(stream).expect("an X stream");
    RustConnection::connect_to_stream_with_auth_info(
        stream,
        0,
        b"MIT-MAGIC-COOKIE-1".to_vec(),
        cookie.to_vec(),
    )
    .unwrap_or_else(|e| panic!("connect to :{display}: {e}"))
}

/// What window [`crate::Desktop::open_window`] opens.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
    pub color: (u8, u8, u8),
    /// Its title (`WM_NAME`), for `xdotool search --name`.
    pub title: String,
    /// Placed by the X server itself, bypassing the window manager (override-redirect):
    /// exactly at its place, without a frame, and never focused by the window manager.
    pub override_redirect: bool,
}

impl Default for WindowSpec {
    fn default() -> WindowSpec {
        WindowSpec {
            x: 100,
            y: 80,
            width: 320,
            height: 200,
            color: (0xd0, 0x20, 0x30),
            title: "wms-test-window".to_string(),
            override_redirect: false,
        }
    }
}

/// One input event a [`TestWindow`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// A key pressed: its keycode.
    Key(u8),
    /// A pointer button pressed: the button, and where in the window.
    Button(u8, i16, i16),
}

/// A window opened by [`crate::Desktop::open_window`]; closed when dropped.
pub struct TestWindow {
    conn: Arc<RustConnection>,
    id: u32,
    /// Where it is shown, in root coordinates (the window manager may move a managed one).
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    events: Arc<Mutex<Vec<InputEvent>>>,
    stop: Arc<AtomicBool>,
    reader: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for TestWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestWindow")
            .field("id", &self.id)
            .field("at", &(self.x, self.y, self.width, self.height))
            .finish()
    }
}

impl TestWindow {
    /// The window's X ID (for `xdotool ... --window`).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The keys and buttons it received so far.
    pub fn events(&self) -> Vec<InputEvent> {
        lock(&self.events).clone()
    }

    /// Waits up to `timeout` until it has received at least `n` events.
    pub fn wait_events(&self, n: usize, timeout: Duration) -> Vec<InputEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            if events.len() >= n || Instant::now() >= deadline {
                return events;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gives it the keyboard focus.
    pub fn focus(&self) {
        let _ = self
            .conn
            .set_input_focus(xproto::InputFocus::PARENT, self.id, x11rb::CURRENT_TIME);
        let _ = self.conn.sync();
    }
}

impl Drop for TestWindow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let _ = self.conn.destroy_window(self.id);
        let _ = self.conn.sync();
    }
}

/// Opens a window of `spec` on `display` and waits until it is shown (10 s).
pub(crate) fn open(display: u32, cookie: &[u8], spec: WindowSpec) -> TestWindow {
    let conn = connect(display, cookie);
    let screen = conn.setup().roots[0].clone();
    let id = conn.generate_id().expect("an X id");
    let (r, g, b) = spec.color;
    let aux = xproto::CreateWindowAux::new()
        .background_pixel((u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b))
        .override_redirect(u32::from(spec.override_redirect))
        .event_mask(
            xproto::EventMask::KEY_PRESS
                | xproto::EventMask::BUTTON_PRESS
                | xproto::EventMask::EXPOSURE
                | xproto::EventMask::STRUCTURE_NOTIFY,
        );
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        id,
        screen.root,
        spec.x,
        spec.y,
        spec.width,
        spec.height,
        0,
        xproto::WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &aux,
    )
    .expect("CreateWindow");
    // WM_NORMAL_HINTS: the user asked for this place and size (USPosition, USSize,
    // PPosition, PSize), which window managers keep.
    let mut hints = [0u32; 18];
    hints[0] = 1 | 2 | 4 | 8;
    hints[1] = spec.x as u32;
    hints[2] = spec.y as u32;
    hints[3] = u32::from(spec.width);
    hints[4] = u32::from(spec.height);
    conn.change_property32(
        xproto::PropMode::REPLACE,
        id,
        xproto::AtomEnum::WM_NORMAL_HINTS,
        xproto::AtomEnum::WM_SIZE_HINTS,
        &hints,
    )
    .expect("WM_NORMAL_HINTS");
    conn.change_property8(
        xproto::PropMode::REPLACE,
        id,
        xproto::AtomEnum::WM_NAME,
        xproto::AtomEnum::STRING,
        spec.title.as_bytes(),
    )
    .expect("WM_NAME");
    conn.map_window(id).expect("MapWindow");
    conn.flush().expect("flush");
    // Shown once exposed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut early = Vec::new();
    // A window manager that is still starting may drop the MapRequest (openbox discards
    // what was queued before it took over): ask again until the window is mapped.
    let mut again = Instant::now() + Duration::from_millis(1500);
    loop {
        if Instant::now() >= again {
            again = Instant::now() + Duration::from_millis(1500);
            conn.map_window(id).expect("MapWindow");
            conn.flush().expect("flush");
        }
        match conn.poll_for_event().expect("X connection") {
            Some(Event::Expose(e)) if e.window == id => break,
            Some(Event::MapNotify(e)) if e.window == id => {
                early.push(Event::MapNotify(e));
                break;
            }
            Some(e) => early.push(e),
            None if Instant::now() >= deadline => {
                let attrs = conn
                    .get_window_attributes(id)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .map(|a| a.map_state);
                panic!("window {id:#x} was never shown (map state {attrs:?}; events {early:?})")
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    }
    // Let the window manager finish placing it.
    thread::sleep(Duration::from_millis(100));
    let at = conn
        .translate_coordinates(id, screen.root, 0, 0)
        .expect("TranslateCoordinates")
        .reply()
        .expect("TranslateCoordinates reply");
    let geometry = conn
        .get_geometry(id)
        .expect("GetGeometry")
        .reply()
        .expect("GetGeometry reply");
    let conn = Arc::new(conn);
    let events = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (conn, events, stop) = (conn.clone(), events.clone(), stop.clone());
        thread::Builder::new()
            .name("wms-testkit-xwindow".to_string())
            .spawn(move || {
                let record = |e: &Event| match e {
                    Event::KeyPress(k) if k.event == id => {
                        lock(&events).push(InputEvent::Key(k.detail))
                    }
                    Event::ButtonPress(b) if b.event == id => {
                        lock(&events).push(InputEvent::Button(b.detail, b.event_x, b.event_y))
                    }
                    _ => {}
                };
                early.iter().for_each(record);
                while !stop.load(Ordering::Relaxed) {
                    match conn.poll_for_event() {
                        Ok(Some(e)) => record(&e),
                        Ok(None) => thread::sleep(Duration::from_millis(5)),
                        Err(_) => return,
                    }
                }
            })
            .expect("start the window's reader")
    };
    TestWindow {
        conn,
        id,
        x: i32::from(at.dst_x),
        y: i32::from(at.dst_y),
        width: u32::from(geometry.width),
        height: u32::from(geometry.height),
        events,
        stop,
        reader: Some(reader),
    }
}

/// A screen's pixels, RGB, row by row.
#[derive(Clone, PartialEq, Eq)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Screenshot({}x{})", self.width, self.height)
    }
}

impl Screenshot {
    /// The colour at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.width + x) * 3) as usize;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

/// The root window of `display` as it is now. Expects the usual 24-bit TrueColor screen
/// (32 bits a pixel, blue first).
pub(crate) fn screenshot(display: u32, cookie: &[u8]) -> Screenshot {
    let conn = connect(display, cookie);
    let screen = &conn.setup().roots[0];
    let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
    let image = conn
        .get_image(xproto::ImageFormat::Z_PIXMAP, screen.root, 0, 0, w, h, !0)
        .expect("GetImage")
        .reply()
        .expect("GetImage reply");
    assert_eq!(image.depth, 24, "a 24-bit screen");
    assert_eq!(
        image.data.len(),
        usize::from(w) * usize::from(h) * 4,
        "32 bits a pixel"
    );
    let rgb = image
        .data
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    Screenshot {
        width: u32::from(w),
        height: u32::from(h),
        rgb,
    }
}
