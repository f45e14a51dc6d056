//! Thumbnails of desktop sessions (`Get-WmsSession -Thumbnail`, `wms session thumbnail`):
//! the sizes MultiPoint names, and what a thumbnail is.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A thumbnail's size, by MultiPoint's names. Each but FullScreen is a width; the height
/// keeps the screen's aspect ratio, and a screen narrower than the width is not enlarged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ThumbnailSize {
    /// 160 pixels wide: a tile in a wall of many screens.
    Small,
    /// 320 pixels wide: what a dashboard shows by default.
    Medium,
    /// 640 pixels wide: one screen looked at closely.
    Large,
    /// The screen at its own size.
    FullScreen,
}

impl ThumbnailSize {
    pub const ALL: [ThumbnailSize; 4] = [
        ThumbnailSize::Small,
        ThumbnailSize::Medium,
        ThumbnailSize::Large,
        ThumbnailSize::FullScreen,
    ];

    /// The width in pixels; `None` for the screen's own.
    pub fn width(self) -> Option<u32> {
        match self {
            ThumbnailSize::Small => Some(160),
            ThumbnailSize::Medium => Some(320),
            ThumbnailSize::Large => Some(640),
            ThumbnailSize::FullScreen => None,
        }
    }

    /// The Unix spelling's name (`small`, `medium`, `large`, `full`), also the agent's.
    pub fn name(self) -> &'static str {
        match self {
            ThumbnailSize::Small => "small",
            ThumbnailSize::Medium => "medium",
            ThumbnailSize::Large => "large",
            ThumbnailSize::FullScreen => "full",
        }
    }

    /// The size named `name`, in either spelling, any case (`medium`, `Medium`,
    /// `full`, `FullScreen`).
    pub fn parse(name: &str) -> Option<ThumbnailSize> {
        let n = name.to_ascii_lowercase();
        match n.as_str() {
            "small" => Some(ThumbnailSize::Small),
            "medium" => Some(ThumbnailSize::Medium),
            "large" => Some(ThumbnailSize::Large),
            "full" | "fullscreen" => Some(ThumbnailSize::FullScreen),
            _ => None,
        }
    }

    /// The size of the thumbnail of a `width` x `height` screen: the width, at most the
    /// screen's, and the height in proportion (at least one pixel).
    pub fn scaled(self, width: u32, height: u32) -> (u32, u32) {
        let w = self.width().map_or(width, |t| t.min(width)).max(1);
        let h = ((u64::from(height) * u64::from(w) + u64::from(width) / 2)
            / u64::from(width.max(1)))
        .max(1);
        (w, h as u32)
    }
}

impl fmt::Display for ThumbnailSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_aspect_ratio_and_never_enlarge() {
        assert_eq!(ThumbnailSize::Medium.scaled(1920, 1080), (320, 180));
        assert_eq!(ThumbnailSize::Small.scaled(1024, 768), (160, 120));
        assert_eq!(ThumbnailSize::Large.scaled(3840, 1080), (640, 180));
        assert_eq!(ThumbnailSize::Large.scaled(320, 200), (320, 200));
        assert_eq!(ThumbnailSize::FullScreen.scaled(1920, 1080), (1920, 1080));
        assert_eq!(ThumbnailSize::Small.scaled(10000, 10), (160, 1));
    }

    #[test]
    fn both_spellings_name_the_sizes() {
        for s in ThumbnailSize::ALL {
            assert_eq!(ThumbnailSize::parse(s.name()), Some(s));
            assert_eq!(ThumbnailSize::parse(&format!("{s:?}")), Some(s));
        }
        assert_eq!(ThumbnailSize::parse("huge"), None);
    }
}
