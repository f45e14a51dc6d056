//! Text drawn for a person on a desktop (the lock screen, the message window): the
//! message laid out in DejaVu Sans (ab_glyph), large, dark on light, wrapped and centred, into a
//! 32-bit pixel buffer the X server takes as it is (blue, green, red, pad: the ZPixmap
//! layout of a 24-bit TrueColor screen on a little-endian host).
//!
//! The text is what `wms_core::message::printable` leaves: text, never a command.

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};

/// Where Debian's fonts-dejavu-core (a dependency of the package) puts the font.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The colours, as 0xRRGGBB.
pub const BACKGROUND: u32 = 0xf2f2f2;
pub const INK: u32 = 0x101010;

/// A loaded font.
pub struct Typeface(FontVec);

impl Typeface {
    /// Loads DejaVu Sans; the error names the file and what is wrong with it.
    pub fn load() -> Result<Typeface, String> {
        let bytes = std::fs::read(FONT_PATH).map_err(|e| {
            format!("cannot read the font {FONT_PATH}: {e} (install fonts-dejavu-core)")
        })?;
        FontVec::try_from_vec(bytes)
            .map(Typeface)
            .map_err(|e| format!("cannot load the font {FONT_PATH}: {e}"))
    }
}

/// A picture of `width` x `height` pixels, 4 bytes each (B, G, R, 0), row after row.
pub struct Picture {
    pub width: u16,
    pub height: u16,
    pub pixels: Vec<u8>,
}

impl Picture {
    pub fn filled(width: u16, height: u16, rgb: u32) -> Picture {
        let px = [
            (rgb & 0xff) as u8,
            (rgb >> 8 & 0xff) as u8,
            (rgb >> 16) as u8,
            0,
        ];
        let n = usize::from(width) * usize::from(height);
        Picture {
            width,
            height,
            pixels: px.repeat(n),
        }
    }

    /// Blends `ink` over the pixel at (x, y) by `coverage` (0..=255); outside: nothing.
    fn blend(&mut self, x: i32, y: i32, ink: u32, coverage: u8) {
        if x < 0 || y < 0 || x >= i32::from(self.width) || y >= i32::from(self.height) {
            return;
        }
        let at = (y as usize * usize::from(self.width) + x as usize) * 4;
        let a = u32::from(coverage);
        for (i, shift) in [0u32, 8, 16].into_iter().enumerate() {
            let fg = ink >> shift & 0xff;
            let bg = u32::from(self.pixels[at + i]);
            self.pixels[at + i] = ((fg * a + bg * (255 - a)) / 255) as u8;
        }
    }

    /// A rectangle's outline, `thick` pixels wide.
    pub fn frame(&mut self, x: i32, y: i32, w: i32, h: i32, thick: i32, ink: u32) {
        for yy in y..y + h {
            for xx in x..x + w {
                let edge =
                    yy < y + thick || yy >= y + h - thick || xx < x + thick || xx >= x + w - thick;
                if edge {
                    self.blend(xx, yy, ink, 255);
                }
            }
        }
    }
}

/// How wide `s` is at `size` pixels.
fn width_of(font: &FontVec, s: &str, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    s.chars().map(|c| scaled.h_advance(font.glyph_id(c))).sum()
}

/// Lines of `text` (paragraphs kept) wrapped to `max_width` pixels at `size`.
fn wrap(font: &FontVec, text: &str, size: f32, max_width: f32) -> Vec<String> {
    let width = |s: &str| -> f32 { width_of(font, s, size) };
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate) <= max_width || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            }
            // A word wider than the line is cut into pieces that fit.
            while width(&line) > max_width && line.chars().count() > 1 {
                let mut head = String::new();
                for c in line.chars() {
                    if width(&format!("{head}{c}")) > max_width && !head.is_empty() {
                        break;
                    }
                    head.push(c);
                }
                let rest: String = line.chars().skip(head.chars().count()).collect();
                lines.push(head);
                line = rest;
            }
        }
        lines.push(line);
    }
    lines
}

/// Draws `text` centred in the box (x, y, w, h) of `picture`, as large as fits between
/// `min_size` and `max_size` pixels. Returns the bottom of the text.
pub fn draw_centred(
    picture: &mut Picture,
    face: &Typeface,
    text: &str,
    area: (i32, i32, i32, i32),
    sizes: (f32, f32),
) -> i32 {
    let font = &face.0;
    let (x, y, w, h) = area;
    let text = wms_core::message::printable(text);
    let mut size = sizes.1;
    let mut lines;
    loop {
        lines = wrap(font, &text, size, w as f32);
        let needed = lines.len() as f32 * size * 1.3;
        if needed <= h as f32 || size <= sizes.0 {
            break;
        }
        size = (size * 0.9).max(sizes.0);
    }
    let line_height = (size * 1.3).round() as i32;
    let total = line_height * lines.len() as i32;
    let mut baseline = y + (h - total).max(0) / 2 + (size * 1.0).round() as i32;
    for line in &lines {
        let line_width = width_of(font, line, size);
        let mut pen = x as f32 + (w as f32 - line_width).max(0.0) / 2.0;
        let scaled = font.as_scaled(PxScale::from(size));
        for c in line.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(size, point(pen, baseline as f32));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let a = (cov.clamp(0.0, 1.0) * 255.0) as u8;
                    if a > 0 {
                        picture.blend(
                            b.min.x as i32 + gx as i32,
                            b.min.y as i32 + gy as i32,
                            INK,
                            a,
                        );
                    }
                });
            }
            pen += scaled.h_advance(id);
        }
        baseline += line_height;
    }
    baseline - line_height
}

/// The lock screen of one monitor: "This session is locked." and the message.
pub fn lock_screen(face: &Typeface, width: u16, height: u16, message: &str) -> Picture {
    let mut p = Picture::filled(width, height, BACKGROUND);
    let (w, h) = (i32::from(width), i32::from(height));
    let big = (h as f32 / 10.0).clamp(24.0, 96.0);
    let margin = w / 12;
    draw_centred(
        &mut p,
        face,
        "This session is locked.",
        (margin, h / 8, w - 2 * margin, h / 5),
        (20.0, big),
    );
    draw_centred(
        &mut p,
        face,
        message,
        (margin, h / 3, w - 2 * margin, h / 2),
        (18.0, big * 0.8),
    );
    p
}

/// Where the message window's OK button is, in its own coordinates.
pub fn ok_button(width: u16, height: u16) -> (i32, i32, i32, i32) {
    let (w, h) = (i32::from(width), i32::from(height));
    let bw = (w / 5).max(80);
    let bh = (h / 6).max(36);
    ((w - bw) / 2, h - bh - h / 12, bw, bh)
}

/// The message window's picture: the message and an OK button.
pub fn message_box(face: &Typeface, width: u16, height: u16, text: &str) -> Picture {
    let mut p = Picture::filled(width, height, BACKGROUND);
    let (w, h) = (i32::from(width), i32::from(height));
    p.frame(0, 0, w, h, 4, INK);
    let big = (h as f32 / 8.0).clamp(18.0, 64.0);
    let (bx, by, bw, bh) = ok_button(width, height);
    draw_centred(
        &mut p,
        face,
        text,
        (w / 16, h / 12, w - w / 8, by - h / 8),
        (14.0, big),
    );
    p.frame(bx, by, bw, bh, 3, INK);
    draw_centred(
        &mut p,
        face,
        "OK",
        (bx, by, bw, bh),
        (14.0, (bh as f32 * 0.6).min(big)),
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Option<Typeface> {
        Typeface::load().ok()
    }

    fn ink_rows(p: &Picture) -> usize {
        p.pixels
            .chunks(usize::from(p.width) * 4)
            .filter(|row| row.chunks(4).any(|px| px[0] < 0x80))
            .count()
    }

    #[test]
    fn the_lock_screen_has_ink_where_the_text_is_and_only_there() {
        let Some(face) = face() else { return };
        let p = lock_screen(&face, 640, 480, "Eyes to the front");
        assert_eq!(p.pixels.len(), 640 * 480 * 4);
        let rows = ink_rows(&p);
        assert!(rows > 40 && rows < 300, "{rows} rows with ink");
        // The margins stay background.
        assert!(p.pixels[..640 * 4 * 40].chunks(4).all(|px| px[0] == 0xf2));
    }

    #[test]
    fn long_words_and_many_lines_stay_inside() {
        let Some(face) = face() else { return };
        let font = &face.0;
        let lines = wrap(font, &"x".repeat(300), 40.0, 200.0);
        assert!(lines.len() > 5, "{lines:?}");
        for l in &lines {
            let w = width_of(font, l, 40.0);
            assert!(w <= 200.0, "{l}");
        }
        let mut p = Picture::filled(100, 50, BACKGROUND);
        draw_centred(
            &mut p,
            &face,
            &"word ".repeat(200),
            (0, 0, 100, 50),
            (8.0, 40.0),
        );
    }
}
