//! The X requests wms makes on a desktop: where its monitors are (RandR 1.5), a window
//! above all others showing a picture, and grabs of the keyboard and pointer.

use crate::screen_text::Picture;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, CreateGCAux,
    CreateWindowAux, EventMask, GrabMode, GrabStatus, ImageFormat, Screen, StackMode, Window,
    WindowClass,
};
use x11rb::CURRENT_TIME;

/// A rectangle of the screen: x, y, width, height.
pub type Rect = (i16, i16, u16, u16);

/// Any X error, as text for a person.
pub fn why(e: impl std::fmt::Display) -> String {
    format!("the X server: {e}")
}

/// The monitors of the screen (RandR 1.5 GetMonitors, active ones); the whole screen
/// when the server has no RandR 1.5 or reports none.
pub fn monitors(conn: &impl Connection, screen: &Screen) -> Vec<Rect> {
    let whole = vec![(0, 0, screen.width_in_pixels, screen.height_in_pixels)];
    let Ok(v) = conn
        .randr_query_version(1, 5)
        .map_err(why)
        .and_then(|c| c.reply().map_err(why))
    else {
        return whole;
    };
    if (v.major_version, v.minor_version) < (1, 5) {
        return whole;
    }
    match conn
        .randr_get_monitors(screen.root, true)
        .map_err(why)
        .and_then(|c| c.reply().map_err(why))
    {
        Ok(r) if !r.monitors.is_empty() => distinct(
            r.monitors
                .iter()
                .filter(|m| m.width > 0 && m.height > 0)
                .map(|m| (m.x, m.y, m.width, m.height))
                .collect(),
        ),
        _ => whole,
    }
}

/// The monitors a person looks at: a mirror listed twice is one, and a monitor that holds
/// others whole (the server's own monitor of an output split into client-defined ones)
/// is left to them, so each message sits where one screen shows it whole.
pub fn distinct(mut rects: Vec<Rect>) -> Vec<Rect> {
    rects.sort();
    rects.dedup();
    let contains = |a: &Rect, b: &Rect| {
        a != b
            && a.0 <= b.0
            && a.1 <= b.1
            && i32::from(a.0) + i32::from(a.2) >= i32::from(b.0) + i32::from(b.2)
            && i32::from(a.1) + i32::from(a.3) >= i32::from(b.1) + i32::from(b.3)
    };
    let keep: Vec<Rect> = rects
        .iter()
        .filter(|a| !rects.iter().any(|b| contains(a, b)))
        .copied()
        .collect();
    keep
}

/// Whether the screen takes [`Picture`]'s pixels as they are: 24 or 32 bits deep, 32 bits
/// a pixel, least significant byte first.
pub fn takes_pictures(conn: &impl Connection, screen: &Screen) -> Result<(), String> {
    let setup = conn.setup();
    let bpp = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == screen.root_depth)
        .map(|f| f.bits_per_pixel);
    if !matches!(screen.root_depth, 24 | 32)
        || bpp != Some(32)
        || setup.image_byte_order != x11rb::protocol::xproto::ImageOrder::LSB_FIRST
    {
        return Err(format!(
            "its screen is {} bits deep at {:?} bits a pixel; wms draws on 24-bit TrueColor screens",
            screen.root_depth, bpp
        ));
    }
    Ok(())
}

/// A window at `rect` above all others, plain `rgb` until painted. With override-redirect
/// no window manager frames, moves or lowers it.
pub fn cover_window(
    conn: &impl Connection,
    screen: &Screen,
    rect: Rect,
    rgb: u32,
    events: EventMask,
) -> Result<Window, String> {
    let window = conn.generate_id().map_err(why)?;
    conn.create_window(
        screen.root_depth,
        window,
        screen.root,
        rect.0,
        rect.1,
        rect.2,
        rect.3,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .background_pixel(rgb)
            .override_redirect(1)
            .event_mask(events),
    )
    .map_err(why)?;
    conn.map_window(window).map_err(why)?;
    raise(conn, window)?;
    Ok(window)
}

/// Makes `picture` the background of `window` (the server redraws it by itself on every
/// expose, so nothing has to answer for it).
pub fn paint(
    conn: &impl Connection,
    screen: &Screen,
    window: Window,
    picture: &Picture,
) -> Result<(), String> {
    let pixmap = conn.generate_id().map_err(why)?;
    conn.create_pixmap(
        screen.root_depth,
        pixmap,
        screen.root,
        picture.width,
        picture.height,
    )
    .map_err(why)?;
    let gc = conn.generate_id().map_err(why)?;
    conn.create_gc(gc, pixmap, &CreateGCAux::new())
        .map_err(why)?;
    // In strips that each fit a request.
    let row = usize::from(picture.width) * 4;
    let max = conn.maximum_request_bytes().saturating_sub(64).max(row);
    let rows_per = (max / row).clamp(1, usize::from(u16::MAX));
    for (i, strip) in picture.pixels.chunks(row * rows_per).enumerate() {
        conn.put_image(
            ImageFormat::Z_PIXMAP,
            pixmap,
            gc,
            picture.width,
            (strip.len() / row) as u16,
            0,
            (i * rows_per) as i16,
            0,
            screen.root_depth,
            strip,
        )
        .map_err(why)?;
    }
    conn.free_gc(gc).map_err(why)?;
    conn.change_window_attributes(
        window,
        &ChangeWindowAttributesAux::new().background_pixmap(pixmap),
    )
    .map_err(why)?;
    conn.free_pixmap(pixmap).map_err(why)?;
    conn.clear_area(false, window, 0, 0, 0, 0).map_err(why)?;
    Ok(())
}

/// Puts `window` above all its siblings.
pub fn raise(conn: &impl Connection, window: Window) -> Result<(), String> {
    conn.configure_window(
        window,
        &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
    )
    .map_err(why)?;
    Ok(())
}

/// Grabs the keyboard and the pointer for `window`, retrying while another client holds
/// either, for at most `bound`; the error says which could not be had and why.
pub fn grab(conn: &impl Connection, window: Window, bound: Duration) -> Result<(), String> {
    let end = Instant::now() + bound;
    loop {
        let keyboard = conn
            .grab_keyboard(
                false,
                window,
                CURRENT_TIME,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
            )
            .map_err(why)?
            .reply()
            .map_err(why)?
            .status;
        let pointer = conn
            .grab_pointer(
                false,
                window,
                EventMask::BUTTON_PRESS | EventMask::BUTTON_RELEASE | EventMask::POINTER_MOTION,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
                x11rb::NONE,
                x11rb::NONE,
                CURRENT_TIME,
            )
            .map_err(why)?
            .reply()
            .map_err(why)?
            .status;
        if keyboard == GrabStatus::SUCCESS && pointer == GrabStatus::SUCCESS {
            return Ok(());
        }
        if Instant::now() >= end {
            let what = |s: GrabStatus| match s {
                GrabStatus::ALREADY_GRABBED => "another client holds it",
                GrabStatus::FROZEN => "another client froze it",
                GrabStatus::NOT_VIEWABLE => "the lock window is not viewable",
                GrabStatus::INVALID_TIME => "invalid time",
                _ => "granted",
            };
            let _ = conn.ungrab_keyboard(CURRENT_TIME);
            let _ = conn.ungrab_pointer(CURRENT_TIME);
            let _ = conn.flush();
            return Err(format!(
                "cannot grab the desktop's input within {} s: keyboard: {}, pointer: {}",
                bound.as_secs(),
                what(keyboard),
                what(pointer)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::distinct;

    #[test]
    fn split_outputs_and_mirrors_are_the_monitors_seen() {
        let whole = (0, 0, 1600, 600);
        let left = (0, 0, 800, 600);
        let right = (800, 0, 800, 600);
        assert_eq!(distinct(vec![left, right, whole]), vec![left, right]);
        assert_eq!(distinct(vec![left, left]), vec![left]);
        assert_eq!(distinct(vec![whole]), vec![whole]);
        // Side by side, overlapping but neither inside the other: both.
        let a = (0, 0, 1000, 600);
        let b = (600, 0, 1000, 600);
        assert_eq!(distinct(vec![b, a]), vec![a, b]);
    }
}
