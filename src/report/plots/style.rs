//! Style: font sizes, the Okabe-Ito palette and how colours are handed to labels, theory
//! curve dashes, and the viridis colour scale of the heat maps.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Font family every text element uses (the embedded font is registered under it by
/// `canvas::ensure_font`).
pub const FONT_FAMILY: &str = "sans-serif";

// Text sizes in pixels, the height of the figure title strip and of one legend row.
pub(super) const TITLE_PX: f64 = 30.0;
pub(super) const PANEL_TITLE_PX: f64 = 23.0;
pub(super) const AXIS_DESC_PX: f64 = 20.0;
pub(super) const TICK_PX: f64 = 17.0;
pub(super) const LEGEND_PX: f64 = 18.0;
pub(super) const NOTE_PX: f64 = 17.0;
pub(super) const FIG_TITLE_H: u32 = 56;
pub(super) const LEGEND_ROW_H: i32 = 28;

// The Okabe-Ito colour-blind-safe colours.
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(super) const OI_BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREENISH: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const OI_YELLOW: RGBColor = RGBColor(240, 228, 66);

/// Okabe-Ito, in the order colours are handed out after the arm colours.
const PALETTE: [RGBColor; 7] = [
    VERMILLION, OI_BLUE, ORANGE, SKY, GREENISH, PURPLE, OI_YELLOW,
];

// Text, grid, missing-cell and note colours.
pub(super) const GREY: RGBColor = RGBColor(110, 110, 110);
pub(super) const GRID_BOLD: RGBColor = RGBColor(222, 222, 222);
pub(super) const GRID_LIGHT: RGBColor = RGBColor(243, 243, 243);
pub(super) const MISSING: RGBColor = RGBColor(200, 200, 200);
pub(super) const NOTE_TEXT: RGBColor = RGBColor(150, 30, 0);

pub(super) fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, px).into_font())
}

pub(super) fn font_at(px: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    font(px).pos(Pos::new(h, v))
}

/// The arm family of a label: 0 for "plain…", 1 for "res…", none otherwise.
fn family(label: &str) -> Option<usize> {
    let l = label.to_lowercase();
    if l.contains("plain") {
        Some(0)
    } else if l.contains("res") {
        Some(1)
    } else {
        None
    }
}

/// Light and dark ends of each arm family's colour ramp (warm for PlainMLP, cool for ResMLP).
const RAMPS: [(RGBColor, RGBColor); 2] = [
    (RGBColor(244, 180, 110), RGBColor(125, 35, 0)),
    (RGBColor(150, 205, 240), RGBColor(8, 48, 107)),
];

fn lerp(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let m = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Distinct colours for `labels`: "plain…" prefers vermillion, "res…" blue, the rest take
/// the next unused Okabe-Ito colour (cycling when more than seven are needed). When an arm
/// has more than two labels (say one per depth), its labels take a light-to-dark ramp of
/// the arm's hue in order of appearance instead, so arms stay apart at a glance and
/// "darker" reads as "later in the sweep's order".
pub(super) fn assign_colors(labels: &[&str]) -> Vec<RGBColor> {
    let counts = [0, 1].map(|f| labels.iter().filter(|l| family(l) == Some(f)).count());
    let mut seen = [0usize; 2];
    let mut used = [false; PALETTE.len()];
    let mut out: Vec<Option<RGBColor>> = vec![None; labels.len()];
    for (i, label) in labels.iter().enumerate() {
        let Some(f) = family(label) else { continue };
        if counts[f] > 2 {
            let t = seen[f] as f64 / (counts[f] - 1) as f64;
            seen[f] += 1;
            out[i] = Some(lerp(RAMPS[f].0, RAMPS[f].1, t));
            used[f] = true;
        } else if !used[f] {
            used[f] = true;
            out[i] = Some(PALETTE[f]);
        }
    }
    let mut next = 0;
    for slot in out.iter_mut().filter(|c| c.is_none()) {
        let free = (0..PALETTE.len()).find(|&k| !used[(next + k) % PALETTE.len()]);
        let k = match free {
            Some(k) => (next + k) % PALETTE.len(),
            None => next % PALETTE.len(),
        };
        used[k] = true;
        next = k + 1;
        *slot = Some(PALETTE[k]);
    }
    out.into_iter().map(|c| c.unwrap_or(BLACK)).collect()
}

/// Colour and dash pattern of the `i`-th theory curve of a panel.
pub(super) fn curve_style(i: usize) -> (RGBColor, (i32, i32)) {
    let color = if i.is_multiple_of(2) { BLACK } else { GREY };
    let dash = [(12, 6), (6, 5), (3, 4)][(i / 2) % 3];
    (color, dash)
}

/// Viridis at 0, 0.1, …, 1 (matplotlib's), linearly interpolated.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x25, 0x76),
    (0x41, 0x44, 0x87),
    (0x35, 0x60, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x90, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x43, 0xbf, 0x71),
    (0x7a, 0xd1, 0x51),
    (0xbb, 0xdf, 0x27),
    (0xfd, 0xe7, 0x25),
];

pub(super) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_distinguish_arms() {
        let c = assign_colors(&["PlainMLP", "ResMLP", "other"]);
        assert_eq!(c[0], VERMILLION);
        assert_eq!(c[1], OI_BLUE);
        assert_ne!(c[2], c[0]);
        let c = assign_colors(&["ResMLP s=1", "ResMLP s=0.22"]);
        assert_ne!(c[0], c[1]);
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        // Many groups per arm: a warm ramp for PlainMLP, a cool one for ResMLP, all distinct.
        let labels: Vec<String> = [2, 5, 10, 20]
            .iter()
            .flat_map(|d| [format!("PlainMLP, depth={d}"), format!("ResMLP, depth={d}")])
            .collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let c = assign_colors(&refs);
        for (label, color) in refs.iter().zip(&c) {
            let warm = color.0 > color.2;
            assert_eq!(warm, label.starts_with("Plain"), "{label}: {color:?}");
        }
        let distinct: std::collections::HashSet<(u8, u8, u8)> =
            c.iter().map(|k| (k.0, k.1, k.2)).collect();
        assert_eq!(distinct.len(), c.len());
    }
}
