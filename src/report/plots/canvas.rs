//! The canvas: the embedded font, drawing into an in-memory RGB buffer, writing it as a
//! PNG atomically, and the page layout every figure shares (figure title strip, panel
//! grid, text measurement, pixel rectangles).
//!
//! [`render`] is the only place a plotters backend is created for drawing, so the font is
//! always registered first (plotters' `ab_glyph` backend has no fallback font).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{font, font_at, FIG_TITLE_H, FONT_FAMILY, PANEL_TITLE_PX, TITLE_PX};

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Registers the embedded DejaVu Sans as "sans-serif" (once per process). Every drawing
/// function here calls it; call it yourself before drawing text with plotters elsewhere.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded DejaVu Sans is not a valid TrueType font".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

pub(super) type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
pub(super) type Size = (u32, u32);

/// Draws into a white RGB buffer of `size`. The only place a backend is created for
/// drawing, so the font is always registered first.
pub(super) fn render(size: Size, draw: impl FnOnce(&Root<'_>) -> Result<()>) -> Result<Vec<u8>> {
    ensure_font()?;
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(buf)
}

/// Writes an RGB buffer as PNG: to a temporary sibling first, then renamed over `path`.
/// Creates the parent directory if needed.
pub(super) fn write_png(path: &Path, size: Size, buf: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("figure path {} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating the figure directory {}", dir.display()))?;
    }
    let tmp: PathBuf = path.with_file_name(format!(
        ".{name}.{}-{}.tmp.png",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| -> Result<()> {
        let mut backend = BitMapBackend::new(&tmp, size);
        backend
            .blit_bitmap((0, 0), size, buf)
            .map_err(|e| anyhow!("{e:?}"))?;
        backend.present().map_err(|e| anyhow!("{e:?}"))?;
        Ok(())
    })();
    let renamed = written.and_then(|()| fs::rename(&tmp, path).map_err(Into::into));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed.with_context(|| format!("writing figure {}", path.display()))
}

pub(super) fn text_size(root: &Root<'_>, text: &str, style: &TextStyle) -> Result<(i32, i32)> {
    let (w, h) = root.estimate_text_size(text, style)?;
    Ok((w as i32, h as i32))
}

/// Pixel rectangle (absolute backend coordinates), `x0 < x1`, `y0 < y1`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rect {
    pub(super) x0: i32,
    pub(super) y0: i32,
    pub(super) x1: i32,
    pub(super) y1: i32,
}

impl Rect {
    /// The rectangle of a drawing area's pixel range (`DrawingArea::get_pixel_range`).
    pub(super) fn of_pixels((x, y): (std::ops::Range<i32>, std::ops::Range<i32>)) -> Rect {
        Rect {
            x0: x.start,
            y0: y.start,
            x1: x.end,
            y1: y.end,
        }
    }

    pub(super) fn contains(&self, (x, y): (i32, i32)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }

    pub(super) fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

/// The area below the figure title (or all of `root` when the title is empty).
pub(super) fn titled<'a>(root: &Root<'a>, title: &str) -> Result<Root<'a>> {
    if title.trim().is_empty() {
        return Ok(root.clone());
    }
    let (top, rest) = root.split_vertically(FIG_TITLE_H);
    let (w, _) = top.dim_in_pixel();
    // A title wider than the figure (one narrow panel) is set smaller, never clipped.
    let room = (w as i32 - 24).max(1);
    let wide = text_size(root, title, &font(TITLE_PX))?.0;
    let px = if wide > room {
        (TITLE_PX * room as f64 / wide as f64).max(12.0)
    } else {
        TITLE_PX
    };
    top.draw_text(
        title,
        &font_at(px, HPos::Center, VPos::Center),
        (w as i32 / 2, FIG_TITLE_H as i32 / 2),
    )?;
    Ok(rest)
}

pub(super) fn grid(n: usize) -> (usize, usize) {
    match n {
        0 | 1 => (1, 1),
        2 => (1, 2),
        3 => (1, 3),
        4 => (2, 2),
        n => {
            let cols = (n as f64).sqrt().ceil() as usize;
            (n.div_ceil(cols), cols)
        }
    }
}

/// Height plotters' `caption` takes for `title` (0 when there is no title).
pub(super) fn caption_height(root: &Root<'_>, title: &str) -> Result<i32> {
    if title.trim().is_empty() {
        return Ok(0);
    }
    let h = text_size(root, title, &font(PANEL_TITLE_PX))?.1;
    Ok(h + 2 * (h / 2).min(5))
}
