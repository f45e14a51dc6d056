//! A desktop's screen as a PNG thumbnail: the root window read from the session's own X
//! server (MIT-SHM's `GetImage` into shared memory where the server has it, else
//! `GetImage` through the socket; in strips), scaled down by averaging the screen's pixels over each
//! thumbnail pixel's area, and encoded with `png`'s fast settings.
//!
//! Memory is bounded whatever the screen: a screen larger than [`MAX_SCREEN_PIXELS`] is
//! refused, the screen is read a strip of at most [`STRIP_BYTES`] at a time (two strips
//! asked for at once, so the server works while the last one is scaled), and only the
//! thumbnail itself is kept whole.

use super::{connect, DesktopTarget, NotDesktop};
use wms_core::ThumbnailSize;
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::cookie::Cookie;
use x11rb::protocol::xproto::{ConnectionExt as _, GetImageReply, ImageFormat, ImageOrder};

/// The largest screen read: 8K UHD (7680 x 4320).
pub const MAX_SCREEN_PIXELS: u64 = 7680 * 4320;
/// The largest full-size thumbnail: 4K (4096 x 2160) and a little more.
pub const MAX_FULL_PIXELS: u64 = 4096 * 2304;
/// The most bytes of screen read at once.
pub const STRIP_BYTES: usize = 4 << 20;

/// A thumbnail of a desktop.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The screen's own size.
    pub screen_width: u32,
    pub screen_height: u32,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Thumbnail({}x{} of {}x{}, {} bytes)",
            self.width,
            self.height,
            self.screen_width,
            self.screen_height,
            self.png.len()
        )
    }
}

/// Why a thumbnail was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The desktop cannot be read by wms at all (NotSupported).
    #[error("{0}")]
    NotSupported(String),
    /// It could be, and reading it failed (Failed).
    #[error("{0}")]
    Failed(String),
}

impl From<NotDesktop> for CaptureError {
    fn from(e: NotDesktop) -> CaptureError {
        CaptureError::NotSupported(e.0)
    }
}

/// A `size` thumbnail of `target`'s screen.
pub fn thumbnail(target: &DesktopTarget, size: ThumbnailSize) -> Result<Thumbnail, CaptureError> {
    let (conn, screen) = connect(target)?;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        CaptureError::Failed(format!("display {}: {what}: {e}", target.display_name()))
    };
    let setup = conn.setup();
    let root = &setup.roots[screen];
    let (w, h) = (
        u32::from(root.width_in_pixels),
        u32::from(root.height_in_pixels),
    );
    if u64::from(w) * u64::from(h) > MAX_SCREEN_PIXELS {
        return Err(CaptureError::NotSupported(format!(
            "its screen of {w}x{h} is larger than wms reads ({MAX_SCREEN_PIXELS} pixels)"
        )));
    }
    let (tw, th) = size.scaled(w, h);
    if u64::from(tw) * u64::from(th) > MAX_FULL_PIXELS {
        return Err(CaptureError::NotSupported(format!(
            "a full-size thumbnail of its {w}x{h} screen is larger than wms makes ({MAX_FULL_PIXELS} pixels); ask for a Large one"
        )));
    }
    // The pixel layout this reads: 32 bits a pixel, 8 bits a colour, in the byte order the
    // server says; other screens (16-bit, paletted) are refused.
    let depth = root.root_depth;
    let bpp = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == depth)
        .map(|f| f.bits_per_pixel);
    let visual = root
        .allowed_depths
        .iter()
        .flat_map(|d| &d.visuals)
        .find(|v| v.visual_id == root.root_visual);
    let masks = visual.map(|v| (v.red_mask, v.green_mask, v.blue_mask));
    if !(matches!(depth, 24 | 32) && bpp == Some(32) && masks == Some((0xff_0000, 0xff00, 0xff))) {
        return Err(CaptureError::NotSupported(format!(
            "its screen's pixel format (depth {depth}, {} bits a pixel) is not one wms reads",
            bpp.unwrap_or(0)
        )));
    }
    let lsb_first = setup.image_byte_order == ImageOrder::LSB_FIRST;
    let mut scaler = Scaler::new(w, h, tw, th);
    let rows = (STRIP_BYTES / (w as usize * 4)).clamp(1, h as usize) as u32;
    let read = read_shared(&conn, root.root, (w, h), rows, &mut scaler, lsb_first)
        .map_err(|e| failed("MIT-SHM GetImage", &e))?;
    if !read {
        read_through_socket(&conn, root.root, (w, h), rows, &mut scaler, lsb_first)
            .map_err(|e| failed("GetImage", &e))?;
    }
    let rgb = scaler.finish();
    let png = encode(&rgb, tw, th).map_err(|e| failed("PNG", &e))?;
    Ok(Thumbnail {
        png,
        width: tw,
        height: th,
        screen_width: w,
        screen_height: h,
    })
}

/// Reads the screen (`w` x `h`) into `scaler` with MIT-SHM, a strip of `rows` rows at a
/// time: the server writes each strip into memory shared with it (a memfd it is given),
/// instead of sending it through the socket. `Ok(false)` when the server has no MIT-SHM
/// 1.2 (descriptor passing) or does not take the segment: nothing was read, and the caller
/// reads through the socket.
fn read_shared(
    conn: &super::Connection,
    root: u32,
    (w, h): (u32, u32),
    rows: u32,
    scaler: &mut Scaler,
    lsb_first: bool,
) -> Result<bool, String> {
    use x11rb::protocol::shm::{self, ConnectionExt as _};
    let has = conn
        .extension_information(shm::X11_EXTENSION_NAME)
        .ok()
        .flatten()
        .is_some();
    let version = has
        .then(|| conn.shm_query_version().ok()?.reply().ok())
        .flatten();
    if version.is_none_or(|v| (v.major_version, v.minor_version) < (1, 2)) {
        return Ok(false);
    }
    let len = w as usize * rows as usize * 4;
    let Ok(mem) = crate::sys::SharedMemory::new(len) else {
        return Ok(false);
    };
    let Ok(fd) = mem.fd() else {
        return Ok(false);
    };
    let seg = conn.generate_id().map_err(|e| e.to_string())?;
    let attached = conn
        .shm_attach_fd(seg, fd, false)
        .map_err(|e| e.to_string())?
        .check();
    if attached.is_err() {
        return Ok(false);
    }
    let mut buf = Vec::with_capacity(len);
    let mut y = 0;
    let done = (|| -> Result<(), String> {
        while y < h {
            let n = rows.min(h - y);
            let reply = conn
                .shm_get_image(
                    root,
                    0,
                    y as i16,
                    w as u16,
                    n as u16,
                    !0,
                    ImageFormat::Z_PIXMAP.into(),
                    seg,
                    0,
                )
                .map_err(|e| e.to_string())?
                .reply()
                .map_err(|e| e.to_string())?;
            let bytes = (w * n * 4) as usize;
            if reply.size as usize != bytes {
                return Err(format!("{} bytes for {w}x{n} pixels", reply.size));
            }
            mem.copy(bytes, &mut buf);
            for row in buf.chunks_exact(w as usize * 4) {
                scaler.add_row(row, lsb_first);
            }
            y += n;
        }
        Ok(())
    })();
    let _ = conn.shm_detach(seg);
    done.map(|()| true)
}

/// Reads the screen into `scaler` with `GetImage` through the socket, a strip of `rows`
/// rows at a time, two strips asked for at once.
fn read_through_socket(
    conn: &super::Connection,
    root: u32,
    (w, h): (u32, u32),
    rows: u32,
    scaler: &mut Scaler,
    lsb_first: bool,
) -> Result<(), String> {
    let ask = |y: u32| -> Result<Cookie<'_, _, GetImageReply>, String> {
        let n = rows.min(h - y);
        conn.get_image(
            ImageFormat::Z_PIXMAP,
            root,
            0,
            y as i16,
            w as u16,
            n as u16,
            !0,
        )
        .map_err(|e| e.to_string())
    };
    let mut pending = std::collections::VecDeque::new();
    let mut next = 0;
    while next < h && pending.len() < 2 {
        pending.push_back(ask(next)?);
        next += rows;
    }
    conn.flush().map_err(|e| e.to_string())?;
    let mut y = 0;
    while let Some(cookie) = pending.pop_front() {
        if next < h {
            pending.push_back(ask(next)?);
            next += rows;
            conn.flush().map_err(|e| e.to_string())?;
        }
        let reply = cookie.reply().map_err(|e| e.to_string())?;
        let n = rows.min(h - y);
        if reply.data.len() != (w * n * 4) as usize {
            return Err(format!("{} bytes for {w}x{n} pixels", reply.data.len()));
        }
        for row in reply.data.chunks_exact(w as usize * 4) {
            scaler.add_row(row, lsb_first);
        }
        y += n;
    }
    Ok(())
}

/// Scales a screen down, row by row, by averaging: each thumbnail pixel is the mean of
/// the screen pixels in its box (boxes tile the screen, each screen pixel in one box).
struct Scaler {
    w: u32,
    tw: u32,
    /// The thumbnail column of each screen column.
    column: Vec<u32>,
    /// How many screen columns each thumbnail column has.
    columns_in: Vec<u32>,
    /// The first screen row of each thumbnail row, and one past the last row's end.
    row_start: Vec<u32>,
    /// The thumbnail row being summed, and the screen row next added.
    ty: u32,
    y: u32,
    sums: Vec<u32>,
    out: Vec<u8>,
}

impl Scaler {
    fn new(w: u32, h: u32, tw: u32, th: u32) -> Scaler {
        let start = |i: u32, n: u32, of: u32| (u64::from(i) * u64::from(of) / u64::from(n)) as u32;
        let column: Vec<u32> = (0..w)
            .map(|x| {
                // The last thumbnail column whose box starts at or before x.
                let mut c = (u64::from(x) * u64::from(tw) / u64::from(w)) as u32;
                while c + 1 < tw && start(c + 1, tw, w) <= x {
                    c += 1;
                }
                while c > 0 && start(c, tw, w) > x {
                    c -= 1;
                }
                c
            })
            .collect();
        let mut columns_in = vec![0u32; tw as usize];
        for &c in &column {
            columns_in[c as usize] += 1;
        }
        let row_start = (0..=th).map(|r| start(r, th, h)).collect();
        Scaler {
            w,
            tw,
            column,
            columns_in,
            row_start,
            ty: 0,
            y: 0,
            sums: vec![0; tw as usize * 3],
            out: Vec::with_capacity(tw as usize * th as usize * 3),
        }
    }

    /// Adds the next screen row (`w` pixels of 4 bytes).
    fn add_row(&mut self, row: &[u8], lsb_first: bool) {
        let (r, g, b) = if lsb_first { (2, 1, 0) } else { (1, 2, 3) };
        for (x, px) in row.chunks_exact(4).enumerate().take(self.w as usize) {
            let c = self.column[x] as usize * 3;
            self.sums[c] += u32::from(px[r]);
            self.sums[c + 1] += u32::from(px[g]);
            self.sums[c + 2] += u32::from(px[b]);
        }
        self.y += 1;
        if self.y == self.row_start[self.ty as usize + 1] {
            let rows = self.y - self.row_start[self.ty as usize];
            for c in 0..self.tw as usize {
                let n = self.columns_in[c] * rows;
                for k in 0..3 {
                    let s = &mut self.sums[c * 3 + k];
                    self.out.push(((*s + n / 2) / n.max(1)) as u8);
                    *s = 0;
                }
            }
            self.ty += 1;
        }
    }

    fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// `rgb` (`w` x `h`) as a PNG file, with the fast settings.
fn encode(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::with_capacity(rgb.len() / 4 + 1024);
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    e.set_compression(png::Compression::Fast);
    let mut writer = e.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(w: u32, h: u32, tw: u32, th: u32, px: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut s = Scaler::new(w, h, tw, th);
        for y in 0..h {
            let row: Vec<u8> = (0..w)
                .flat_map(|x| {
                    let [r, g, b] = px(x, y);
                    [b, g, r, 0]
                })
                .collect();
            s.add_row(&row, true);
        }
        s.finish()
    }

    #[test]
    fn each_thumbnail_pixel_is_the_mean_of_its_box() {
        // A 4x2 screen: left half black, right half white, to 2x1.
        let out = scale(4, 2, 2, 1, |x, _| if x < 2 { [0; 3] } else { [255; 3] });
        assert_eq!(out, [0, 0, 0, 255, 255, 255]);
        // Stripes one pixel wide average to grey.
        let out = scale(6, 3, 3, 1, |x, _| {
            if x % 2 == 0 {
                [0, 0, 0]
            } else {
                [200, 100, 50]
            }
        });
        assert_eq!(out, [100, 50, 25].repeat(3));
        // Full size is the screen itself.
        let out = scale(3, 2, 3, 2, |x, y| [x as u8, y as u8, 7]);
        assert_eq!(out, [0, 0, 7, 1, 0, 7, 2, 0, 7, 0, 1, 7, 1, 1, 7, 2, 1, 7]);
    }

    #[test]
    fn uneven_boxes_cover_every_pixel_once() {
        let (w, h, tw, th) = (1920, 1080, 320, 180);
        let s = Scaler::new(w, h, tw, th);
        assert_eq!(s.columns_in.iter().sum::<u32>(), w);
        assert!(s.columns_in.iter().all(|&n| n == 6));
        let s = Scaler::new(1366, 768, 160, 90);
        assert_eq!(s.columns_in.iter().sum::<u32>(), 1366);
        assert!(s.columns_in.iter().all(|&n| (8..=9).contains(&n)));
        assert_eq!(*s.row_start.last().unwrap(), 768);
        let out = scale(1366, 768, 160, 90, |_, _| [9, 8, 7]);
        assert_eq!(out, [9, 8, 7].repeat(160 * 90));
    }

    #[test]
    fn a_png_is_written_that_decodes_to_the_pixels() {
        let rgb: Vec<u8> = (0..5 * 3 * 3).map(|i| i as u8).collect();
        let bytes = encode(&rgb, 5, 3).unwrap();
        let mut d = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; d.output_buffer_size().unwrap()];
        let info = d.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (5, 3));
        assert_eq!(&buf[..info.buffer_size()], &rgb[..]);
    }
}
