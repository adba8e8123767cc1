//! Figure drawing: plain Rust data in, PNG files out.
//!
//! This module owns every pixel of resweep's figures and nothing else: it reads no files,
//! knows no polars, and never decides *what* to plot — the caller prepares bands, curves,
//! heat maps and pairs. Each public function draws into an in-memory RGB buffer and writes
//! the PNG atomically (temporary file in the same directory, then rename), so a figure on
//! disk is always complete. Output is PNG whatever the extension of `path`.
//!
//! Robustness is part of the contract: NaN/inf values, non-positive values on a log axis,
//! ragged vectors and empty inputs never panic, never break an axis and are never dropped
//! silently. They are left out of the range computation, whatever is finite is drawn, and a
//! note saying what happened is written inside the plot area (after any caller notes).
//! Line panels and heat maps extend their y axis so the notes sit in a strip free of data;
//! scatter panels put them in the least crowded corner. When notes do not fit, caller notes
//! are shortened before automatic ones and the box says how many were left out. Values
//! ≤ 0 on a log axis are drawn at the axis bottom with hollow markers (all ≤ 0: at the floor
//! 1e-30). An empty panel says "no data".
//!
//! Text uses DejaVu Sans, embedded in the binary and registered as "sans-serif" by
//! [`ensure_font`], which every drawing entry point calls first (plotters' `ab_glyph`
//! backend has no fallback font: drawing text without a registered font fails with
//! `FontUnavailable`). Colours are the Okabe-Ito colour-blind-safe palette; a label
//! containing "plain" prefers vermillion and one containing "res" blue, so the two arms keep
//! their colours across figures. Theory curves are dashed black/grey.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

// ---------------------------------------------------------------------------------------
// Public data types
// ---------------------------------------------------------------------------------------

/// Mean ± std band over seeds, drawn as a line with a semi-transparent band.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Band {
    /// Legend label (e.g. "ResMLP"); the legend adds "(n = …)".
    pub label: String,
    /// x positions (e.g. step or layer).
    pub xs: Vec<f64>,
    /// Mean over seeds at each x.
    pub mean: Vec<f64>,
    /// Standard deviation over seeds at each x (the band is mean ± std).
    pub std: Vec<f64>,
    /// Number of seeds aggregated.
    pub n: usize,
}

/// A plain curve, drawn dashed in black/grey (theory predictions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// x positions.
    pub xs: Vec<f64>,
    /// y values.
    pub ys: Vec<f64>,
}

/// One panel of a [`bands_figure`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic y axis (values ≤ 0 are drawn at the axis bottom and noted).
    pub log_y: bool,
    /// Mean ± std bands (one per arm/config).
    pub bands: Vec<Band>,
    /// Dashed reference curves (theory).
    pub curves: Vec<Curve>,
    /// Caller notes, rendered inside the plot area before the automatic ones.
    pub notes: Vec<String>,
}

/// One heat map of a [`heatmap_pair`]: layer on y, step on x.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Heat {
    /// Panel title.
    pub title: String,
    /// Number of layers (rows of the map, layer 1 at the bottom).
    pub layers: usize,
    /// Step of each column (cells are equally wide, one per probe; the axis is labelled
    /// with these values).
    pub steps: Vec<f64>,
    /// `values[step_index][layer - 1]`, coloured **as given** on a linear colour scale: apply
    /// `log10` yourself when you want a log colour scale, and say so in the colour-bar label.
    /// Non-finite cells (e.g. `log10(0) = -inf`) are grey and counted in a note; missing
    /// cells (short rows) likewise.
    pub values: Vec<Vec<f64>>,
    /// Caller notes, rendered inside the plot area before the automatic ones.
    pub notes: Vec<String>,
}

/// Per-seed pairs for a [`paired_scatter`] panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pairs {
    /// x-axis label (arm A).
    pub x_label: String,
    /// y-axis label (arm B).
    pub y_label: String,
    /// `(arm A value, arm B value, seed label)`.
    pub points: Vec<(f64, f64, String)>,
}

/// Mean with symmetric error bars, for [`error_bars`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorSeries {
    /// Legend label.
    pub label: String,
    /// x positions (e.g. depth).
    pub xs: Vec<f64>,
    /// Mean at each x.
    pub mean: Vec<f64>,
    /// Half-length of the error bar at each x (std, stderr or CI half-width).
    pub err: Vec<f64>,
}

// ---------------------------------------------------------------------------------------
// Public drawing functions
// ---------------------------------------------------------------------------------------

/// One figure with one panel per entry of `panels`, laid out 1×1, 1×2, 1×3, 2×2 (and a
/// near-square grid beyond four). Each panel has its own axes and its own legend below the
/// plot (panels of a row reserve the same legend height, so their axes line up); notes go
/// in a strip at the top of the plot area. No panels draws one "no data" panel. Sizes: one
/// panel 1000×650 px, two 1640×676, three 2100×676, four 1600×1256.
pub fn bands_figure(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    let (size, buf) = bands_buffer(title, panels)?;
    write_png(path, size, &buf)
}

/// Two heat maps (layer on y, step on x) side by side with one shared colour scale and a
/// labelled colour bar (range = finite values of both maps; a constant map is widened).
/// Values are coloured as given (see [`Heat::values`]). 1700×720 px.
pub fn heatmap_pair(
    path: &Path,
    title: &str,
    left: &Heat,
    right: &Heat,
    colorbar_label: &str,
) -> Result<()> {
    let (size, buf) = heatmap_buffer(title, left, right, colorbar_label)?;
    write_png(path, size, &buf)
}

/// Scatter of arm A (x) against arm B (y), one point per seed, with the y = x line; one
/// panel per group. Both axes share one range; they are log-log when every finite value of
/// the panel is positive, else linear (noted). Counts above/below the diagonal are noted;
/// seed labels are placed next to their points where they fit (at most 20 seeds). Panels
/// are 680×680 px (+56 px for the title), laid out like [`bands_figure`].
pub fn paired_scatter(path: &Path, title: &str, groups: &[(String, Pairs)]) -> Result<()> {
    let (size, buf) = scatter_buffer(title, groups)?;
    write_png(path, size, &buf)
}

/// Mean ± error bar against x (e.g. final loss against depth), one line per series, with
/// optional log y. Series sharing x positions are dodged slightly. 1000×650 px.
pub fn error_bars(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    series: &[ErrorSeries],
) -> Result<()> {
    let (size, buf) = error_bars_buffer(title, x_label, y_label, log_y, series)?;
    write_png(path, size, &buf)
}

// ---------------------------------------------------------------------------------------
// Font, rendering and PNG output
// ---------------------------------------------------------------------------------------

/// Font family every text element uses.
pub const FONT_FAMILY: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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

type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Size = (u32, u32);

/// Draws into a white RGB buffer of `size`. The only place a backend is created for
/// drawing, so the font is always registered first.
fn render(size: Size, draw: impl FnOnce(&Root<'_>) -> Result<()>) -> Result<Vec<u8>> {
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
fn write_png(path: &Path, size: Size, buf: &[u8]) -> Result<()> {
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

// ---------------------------------------------------------------------------------------
// Style
// ---------------------------------------------------------------------------------------

const TITLE_PX: f64 = 30.0;
const PANEL_TITLE_PX: f64 = 23.0;
const AXIS_DESC_PX: f64 = 20.0;
const TICK_PX: f64 = 17.0;
const LEGEND_PX: f64 = 18.0;
const NOTE_PX: f64 = 17.0;
const FIG_TITLE_H: u32 = 56;
const LEGEND_ROW_H: i32 = 28;

const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const OI_BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREENISH: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const OI_YELLOW: RGBColor = RGBColor(240, 228, 66);
/// Okabe-Ito, in the order colours are handed out after the arm colours.
const PALETTE: [RGBColor; 7] = [
    VERMILLION, OI_BLUE, ORANGE, SKY, GREENISH, PURPLE, OI_YELLOW,
];
const GREY: RGBColor = RGBColor(110, 110, 110);
const GRID_BOLD: RGBColor = RGBColor(222, 222, 222);
const GRID_LIGHT: RGBColor = RGBColor(243, 243, 243);
const MISSING: RGBColor = RGBColor(200, 200, 200);
const NOTE_TEXT: RGBColor = RGBColor(150, 30, 0);

fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, px).into_font())
}

fn font_at(px: f64, h: HPos, v: VPos) -> TextStyle<'static> {
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
fn assign_colors(labels: &[&str]) -> Vec<RGBColor> {
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
fn curve_style(i: usize) -> (RGBColor, (i32, i32)) {
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

fn viridis(t: f64) -> RGBColor {
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

// ---------------------------------------------------------------------------------------
// Numbers, ticks and axes
// ---------------------------------------------------------------------------------------

fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// Removes trailing zeros of a decimal, turns "-0" into "0" and '-' into a minus sign.
fn tidy(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s.replace('-', "−")
}

/// `v` with `sig` significant digits as `m×10ᵉ` (or `10ᵉ` when m = 1).
fn sci(v: f64, sig: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return short_num(v);
    }
    let mut e = v.abs().log10().floor() as i32;
    let mut m = v / 10f64.powi(e);
    let d = sig.saturating_sub(1).min(6);
    if (m.abs() * 10f64.powi(d as i32)).round() >= 10f64.powi(d as i32 + 1) {
        e += 1;
        m = v / 10f64.powi(e);
    }
    let ms = tidy(format!("{m:.d$}"));
    match ms.as_str() {
        "1" => format!("10{}", superscript(e)),
        "−1" => format!("−10{}", superscript(e)),
        _ => format!("{ms}×10{}", superscript(e)),
    }
}

/// A compact, readable number for labels and notes (≤ 4 significant digits).
fn short_num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+inf".into()
        } else {
            "−inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let d = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        tidy(format!("{v:.d$}"))
    } else {
        sci(v, 3)
    }
}

/// Tick label format of an axis (applied to the value, i.e. after `10^t` on log axes).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fmt {
    /// Fixed number of decimals.
    Fixed(usize),
    /// `m×10ᵉ` with this many significant digits.
    Sci(usize),
    /// `10ᵏ` for integer decades.
    Pow10,
    /// [`short_num`].
    Short,
}

/// A 1-2-2.5-5 step giving about `target` intervals over `lo..hi` (overflow-safe).
fn nice_step(lo: f64, hi: f64, target: usize) -> f64 {
    let t = target.max(1) as f64;
    let raw = hi / t - lo / t;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f < 1.5 {
        1.0
    } else if f < 2.25 {
        2.0
    } else if f < 3.5 {
        2.5
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Round-number ticks in `[lo, hi]` and the label format that fits them.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Fmt) {
    let step = nice_step(lo, hi, target);
    if !(step.is_finite() && step > 0.0) {
        return (vec![lo, hi], Fmt::Short);
    }
    let mut ticks = Vec::new();
    let mut k = (lo / step - 1e-9).ceil();
    while ticks.len() < 200 {
        let mut v = k * step;
        if v > hi + step * 1e-9 {
            break;
        }
        if v.abs() < step * 1e-9 {
            v = 0.0;
        }
        ticks.push(v.clamp(lo, hi));
        k += 1.0;
    }
    let e_step = step.log10().floor() as i32;
    let m_step = step / 10f64.powi(e_step);
    let extra = i32::from((m_step - 2.5).abs() < 1e-6);
    let mag = lo.abs().max(hi.abs());
    let fmt = if !(1e-3..1e5).contains(&mag) {
        let e_mag = mag.log10().floor() as i32;
        Fmt::Sci(((e_mag - e_step + 1 + extra).max(1)) as usize)
    } else {
        Fmt::Fixed((extra - e_step).max(0) as usize)
    };
    (ticks, fmt)
}

/// One axis in drawing coordinates `t`: `t = v` on a linear axis, `t = log10 v` on a log
/// axis. `lo..hi` always contains every drawn point (values are clamped before drawing,
/// because plotters does not clip).
#[derive(Clone, Debug)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    light: Vec<f64>,
    fmt: Fmt,
}

impl Axis {
    /// Linear axis over data `[min, max]`, padded by `pad` of the span; a zero span is
    /// widened. With `floor_zero`, non-negative data never get a negative axis.
    fn linear(min: f64, max: f64, pad: f64, floor_zero: bool, target: usize) -> Axis {
        let (mut lo, hi);
        let span = max / 2.0 - min / 2.0;
        if span.is_nan() || span <= 1e-12 * max.abs().max(min.abs()) || !span.is_finite() {
            let half = if max != 0.0 && max.is_finite() {
                max.abs() * 0.1
            } else {
                1.0
            };
            lo = (min - half).max(f64::MIN);
            hi = (max + half).min(f64::MAX);
        } else {
            lo = (min - 2.0 * span * pad).max(f64::MIN);
            hi = (max + 2.0 * span * pad).min(f64::MAX);
        }
        if floor_zero && min >= 0.0 && lo < 0.0 {
            lo = 0.0;
        }
        Axis::linear_span(lo, hi, target)
    }

    /// Linear axis over exactly `lo..hi` (falls back to -1..1 when that is not a range).
    fn linear_span(mut lo: f64, mut hi: f64, target: usize) -> Axis {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            lo = -1.0;
            hi = 1.0;
        }
        let (ticks, fmt) = nice_ticks(lo, hi, target);
        Axis {
            log: false,
            lo,
            hi,
            ticks,
            light: Vec::new(),
            fmt,
        }
    }

    /// Log axis over positive data `[min, max]`, padded by 5% of its decades (at least 0.05
    /// of a decade); a zero span is widened to one decade.
    fn log(min: f64, max: f64, target: usize) -> Axis {
        let (lmin, lmax) = (min.log10(), max.log10());
        let span = lmax - lmin;
        let (lo, hi) = if span < 1e-9 {
            (lmin - 0.5, lmax + 0.5)
        } else {
            let pad = (0.05 * span).max(0.05);
            (lmin - pad, lmax + pad)
        };
        Axis::log_span(lo, hi, target)
    }

    /// Log axis over exactly `lo..hi` in decades (`t = log10 v`).
    fn log_span(lo: f64, hi: f64, target: usize) -> Axis {
        let (ticks, light, fmt) = log_ticks(lo, hi, target);
        Axis {
            log: true,
            lo,
            hi,
            ticks,
            light,
            fmt,
        }
    }

    /// The same axis extended upwards so that the top `frac` of it holds no data (room for
    /// notes inside the plot area); ticks are recomputed.
    fn with_headroom(&self, frac: f64, target: usize) -> Axis {
        if frac.is_nan() || frac <= 0.0 {
            return self.clone();
        }
        let frac = frac.min(MAX_HEADROOM);
        let hi =
            (self.hi + (self.hi / 2.0 - self.lo / 2.0) * (2.0 * frac / (1.0 - frac))).min(f64::MAX);
        let mut a = if self.log {
            Axis::log_span(self.lo, hi, target)
        } else {
            Axis::linear_span(self.lo, hi, target)
        };
        // Keep custom (data) ticks of the original.
        if self.fmt == Fmt::Short && !self.log {
            a.ticks = self.ticks.clone();
            a.fmt = Fmt::Short;
        }
        a
    }

    /// Drawing coordinate of a value, `None` when it cannot be drawn on this axis.
    fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    fn clamp(&self, t: f64) -> f64 {
        t.clamp(self.lo, self.hi)
    }

    fn label(&self, t: f64) -> String {
        let v = if self.log { 10f64.powf(t) } else { t };
        match self.fmt {
            Fmt::Fixed(d) => tidy_fixed(v, d),
            Fmt::Sci(sig) => sci(v, sig),
            Fmt::Pow10 => format!("10{}", superscript(t.round() as i32)),
            Fmt::Short => short_num(v),
        }
    }

    fn coord(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            bold: self.ticks.clone(),
            light: self.light.clone(),
        }
    }
}

/// A linear f64 coordinate with explicit tick positions (plotters' `WithKeyPoints` over
/// `RangedCoordf64` has no default value formatter, so `configure_mesh` rejects it).
#[derive(Clone, Debug)]
struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // Halves keep the arithmetic finite for ranges near ±f64::MAX.
        let half_span = self.hi / 2.0 - self.lo / 2.0;
        if half_span.is_nan() || half_span <= 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let f = ((v / 2.0 - self.lo / 2.0) / half_span).clamp(-1.0, 2.0);
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn tidy_fixed(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    let s = if s
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    };
    s.replace('-', "−")
}

/// Ticks of a log axis in `t = log10 v`: whole decades when at least three fit (thinned to
/// about `target`), else 1-2-5 values, else two decades, else round values of a linear
/// scale.
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<f64>, Fmt) {
    let inside = |t: &f64| *t >= lo - 1e-9 && *t <= hi + 1e-9;
    let first = lo.ceil() as i64;
    let last = hi.floor() as i64;
    let decades: Vec<i64> = (first..=last).collect();
    if decades.len() >= 3 {
        let step = [1i64, 2, 3, 4, 5, 10, 20, 25, 50, 100, 200]
            .into_iter()
            .find(|s| decades.len() as i64 / s <= target.max(2) as i64)
            .unwrap_or(500);
        let ticks: Vec<f64> = decades
            .iter()
            .filter(|k| k.rem_euclid(step) == 0)
            .map(|&k| k as f64)
            .collect();
        let light: Vec<f64> = if step == 1 && hi - lo <= 8.0 {
            (first - 1..=last)
                .flat_map(|k| (2..10).map(move |m| k as f64 + (m as f64).log10()))
                .filter(inside)
                .collect()
        } else if decades.len() <= 60 {
            decades
                .iter()
                .filter(|k| k.rem_euclid(step) != 0)
                .map(|&k| k as f64)
                .collect()
        } else {
            Vec::new()
        };
        if ticks.len() >= 2 {
            return (ticks, light, Fmt::Pow10);
        }
        let all: Vec<f64> = decades.iter().map(|&k| k as f64).collect();
        return (all, Vec::new(), Fmt::Pow10);
    }
    let one_two_five: Vec<f64> = (first - 2..=last + 1)
        .flat_map(|k| [1.0f64, 2.0, 5.0].map(|m| k as f64 + m.log10()))
        .filter(inside)
        .collect();
    let light: Vec<f64> = (first - 2..=last + 1)
        .flat_map(|k| (1..10).map(move |m| k as f64 + (m as f64).log10()))
        .filter(inside)
        .collect();
    if one_two_five.len() >= 3 {
        return (one_two_five, light, Fmt::Short);
    }
    if decades.len() == 2 {
        let ticks = decades.iter().map(|&k| k as f64).collect();
        return (ticks, light, Fmt::Pow10);
    }
    let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
    let (values, fmt) = nice_ticks(vlo, vhi, target.min(6));
    let ticks: Vec<f64> = values
        .into_iter()
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .filter(inside)
        .collect();
    (ticks, Vec::new(), fmt)
}

/// "1 point", "3 points".
fn count(k: usize, noun: &str) -> String {
    if k == 1 {
        format!("1 {noun}")
    } else {
        format!("{k} {noun}s")
    }
}

/// Running min/max over the values that can be drawn.
#[derive(Clone, Copy, Debug)]
struct Extent {
    min: f64,
    max: f64,
}

impl Extent {
    fn new() -> Self {
        Extent {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }
    fn is_empty(&self) -> bool {
        self.min > self.max
    }
}

// ---------------------------------------------------------------------------------------
// Text helpers: wrapping, notes box, "no data"
// ---------------------------------------------------------------------------------------

fn text_size(root: &Root<'_>, text: &str, style: &TextStyle) -> Result<(i32, i32)> {
    let (w, h) = root.estimate_text_size(text, style)?;
    Ok((w as i32, h as i32))
}

/// Greedy word wrap to `max_w` pixels.
fn wrap(root: &Root<'_>, text: &str, style: &TextStyle, max_w: i32) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_size(root, &candidate, style)?.0 > max_w {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

/// Pixel rectangle (absolute backend coordinates), `x0 < x1`, `y0 < y1`.
#[derive(Clone, Copy, Debug)]
struct Rect {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Rect {
    fn contains(&self, (x, y): (i32, i32)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }

    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

/// Notes wrapped into lines, with the size of their box.
struct NotesBox {
    lines: Vec<String>,
    w: i32,
    h: i32,
}

/// Wraps notes to `max_w` pixels within `max_lines` lines; `None` when there is nothing to
/// say. The first `n_caller` notes are the caller's, the rest automatic (data problems).
/// When everything does not fit, caller notes are dropped first (from the last), then
/// automatic ones, and a final line says how many were left out.
fn layout_notes(
    root: &Root<'_>,
    notes: &[String],
    n_caller: usize,
    max_w: i32,
    max_lines: usize,
) -> Result<Option<NotesBox>> {
    let style = note_style();
    let max_lines = max_lines.max(2);
    let mut wrapped: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, note) in notes.iter().enumerate() {
        if note.trim().is_empty() {
            continue;
        }
        wrapped.push((i, wrap(root, note, &style, (max_w - 16).max(80))?));
    }
    if wrapped.is_empty() {
        return Ok(None);
    }
    let total = |w: &[(usize, Vec<String>)]| w.iter().map(|(_, l)| l.len()).sum::<usize>();
    let mut dropped = 0;
    if total(&wrapped) > max_lines {
        // Room for the "… more" line.
        while wrapped.len() > 1 && total(&wrapped) + 1 > max_lines {
            let victim = wrapped
                .iter()
                .rposition(|(i, _)| *i < n_caller)
                .unwrap_or(wrapped.len() - 1);
            wrapped.remove(victim);
            dropped += 1;
        }
        if let Some((_, l)) = wrapped.first_mut() {
            l.truncate(max_lines - 1);
        }
    }
    let mut lines = Vec::new();
    for (_, wl) in &wrapped {
        for (i, l) in wl.iter().enumerate() {
            lines.push(if i == 0 {
                format!("• {l}")
            } else {
                format!("   {l}")
            });
        }
    }
    if dropped > 0 {
        lines.push(format!("… and {} not shown", count(dropped, "more note")));
    }
    let mut w = 0;
    for l in &lines {
        w = w.max(text_size(root, l, &style)?.0);
    }
    let h = NOTE_LINE_H * lines.len() as i32 + 10;
    Ok(Some(NotesBox {
        lines,
        w: w + 16,
        h,
    }))
}

/// Lines of notes that fit in `frac` of a plot `plot_h` pixels high.
fn note_lines_for(plot_h: i32, frac: f64) -> usize {
    ((plot_h as f64 * frac - 10.0 - 2.0 * NOTE_MARGIN as f64) / NOTE_LINE_H as f64).max(2.0)
        as usize
}

const NOTE_LINE_H: i32 = 22;
const NOTE_MARGIN: i32 = 8;
/// Largest fraction of a plot's height kept free of data for notes.
const MAX_HEADROOM: f64 = 0.6;

/// The notes of a plot area about `plot_w` x `plot_h` pixels, laid out for the strip at its
/// top (at most `lines_frac` of the height in lines), and the fraction of the height (at most
/// [`MAX_HEADROOM`]) the axis must keep free of data for that strip: `None` when there are
/// no notes or no room.
fn notes_strip(
    root: &Root<'_>,
    notes: &[String],
    n_caller: usize,
    (plot_w, plot_h): (i32, i32),
    lines_frac: f64,
) -> Result<(Option<NotesBox>, Option<f64>)> {
    let notes_box = layout_notes(
        root,
        notes,
        n_caller,
        (plot_w as f64 * 0.92) as i32,
        note_lines_for(plot_h, lines_frac),
    )?;
    let headroom = match &notes_box {
        Some(nb) if plot_h > 0 => {
            Some(((nb.h + 2 * NOTE_MARGIN + 4) as f64 / plot_h as f64).min(MAX_HEADROOM))
        }
        _ => None,
    };
    Ok((notes_box, headroom))
}

fn note_style() -> TextStyle<'static> {
    font_at(NOTE_PX, HPos::Left, VPos::Top).color(&NOTE_TEXT)
}

/// Where a notes box goes inside `plot`: the top-left corner when `headroom` (the axis left
/// that strip free of data), else whichever corner covers the fewest `occupied` pixels
/// (ties: top-right, top-left, bottom-right, bottom-left).
fn notes_corner(plot: Rect, nb: &NotesBox, occupied: &[(i32, i32)], headroom: bool) -> Rect {
    let (bw, bh, m) = (nb.w, nb.h, NOTE_MARGIN);
    let candidates = [
        (plot.x1 - m - bw, plot.y0 + m),
        (plot.x0 + m, plot.y0 + m),
        (plot.x1 - m - bw, plot.y1 - m - bh),
        (plot.x0 + m, plot.y1 - m - bh),
    ]
    .map(|(x, y)| Rect {
        x0: x,
        y0: y,
        x1: x + bw,
        y1: y + bh,
    });
    if headroom {
        return candidates[1];
    }
    candidates
        .iter()
        .copied()
        .min_by_key(|r| occupied.iter().filter(|p| r.contains(**p)).count())
        .unwrap_or(candidates[0])
}

fn draw_notes_box(root: &Root<'_>, nb: &NotesBox, r: Rect) -> Result<()> {
    root.draw(&Rectangle::new(
        [(r.x0, r.y0), (r.x1, r.y1)],
        WHITE.mix(0.9).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(r.x0, r.y0), (r.x1, r.y1)],
        NOTE_TEXT.mix(0.6).stroke_width(1),
    ))?;
    let style = note_style();
    for (i, l) in nb.lines.iter().enumerate() {
        root.draw_text(l, &style, (r.x0 + 8, r.y0 + 6 + i as i32 * NOTE_LINE_H))?;
    }
    Ok(())
}

fn place_notes(
    root: &Root<'_>,
    plot: Rect,
    nb: &NotesBox,
    occupied: &[(i32, i32)],
    headroom: bool,
) -> Result<()> {
    draw_notes_box(root, nb, notes_corner(plot, nb, occupied, headroom))
}

/// A panel with only a title, a frame, "no data" and the notes.
fn draw_no_data(area: &Root<'_>, title: &str, notes: &[String], n_caller: usize) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw_text(
        title,
        &font_at(PANEL_TITLE_PX, HPos::Center, VPos::Top),
        (w / 2, 12),
    )?;
    area.draw(&Rectangle::new(
        [(50, 52), (w - 30, h - 30)],
        RGBColor(170, 170, 170).stroke_width(1),
    ))?;
    area.draw_text(
        "no data",
        &font_at(30.0, HPos::Center, VPos::Center).color(&GREY),
        (w / 2, h / 2 - 20),
    )?;
    let top = h / 2 + 14;
    let max_lines = ((h - 40 - top) / NOTE_LINE_H).max(2) as usize;
    if let Some(nb) = layout_notes(area, notes, n_caller, w - 140, max_lines)? {
        let style = note_style();
        let x = (w - nb.w) / 2 + 8;
        for (i, l) in nb.lines.iter().enumerate() {
            area.draw_text(l, &style, (x, top + i as i32 * NOTE_LINE_H))?;
        }
    }
    Ok(())
}

/// The area below the figure title (or all of `root` when the title is empty).
fn titled<'a>(root: &Root<'a>, title: &str) -> Result<Root<'a>> {
    if title.trim().is_empty() {
        return Ok(root.clone());
    }
    let (top, rest) = root.split_vertically(FIG_TITLE_H);
    let (w, _) = top.dim_in_pixel();
    top.draw_text(
        title,
        &font_at(TITLE_PX, HPos::Center, VPos::Center),
        (w as i32 / 2, FIG_TITLE_H as i32 / 2),
    )?;
    Ok(rest)
}

fn grid(n: usize) -> (usize, usize) {
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

// ---------------------------------------------------------------------------------------
// Line panels (bands, curves, error bars)
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Mean line with a mean ± spread band.
    Band,
    /// Dashed line, no spread.
    Dashed((i32, i32)),
    /// Markers joined by a thin line, with error bars of ± spread.
    Errors,
}

struct Series<'a> {
    label: String,
    kind: Kind,
    color: RGBColor,
    xs: &'a [f64],
    ys: &'a [f64],
    spread: Option<&'a [f64]>,
    /// Horizontal shift in data units (dodging of error bars).
    dx: f64,
}

struct LinePanel<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    log_y: bool,
    series: Vec<Series<'a>>,
    notes: Vec<String>,
    /// Use the distinct x values as ticks when there are few (depth axes).
    x_ticks_at_data: bool,
    /// Fraction of the x span padded on each side.
    x_pad: f64,
    /// Height reserved for the legend at least (aligns the panels of a row).
    legend_min_h: u32,
}

/// One classified point of a series, in data values.
#[derive(Clone, Copy, Debug)]
enum Pt {
    /// Not drawable: breaks the line.
    Gap,
    /// A finite value ≤ 0 on a log axis: drawn at the floor.
    Floor { x: f64 },
    /// Drawable; `spread` is `(low, high)` when the spread is usable.
    Ok {
        x: f64,
        y: f64,
        spread: Option<(f64, f64)>,
    },
}

struct Classified {
    pts: Vec<Pt>,
    notes: Vec<String>,
    clipped_low: usize,
}

fn classify(s: &Series<'_>, log: bool, x_ext: &mut Extent, y_ext: &mut Extent) -> Classified {
    let mut notes = Vec::new();
    let label = if s.label.is_empty() {
        "series".to_string()
    } else {
        s.label.clone()
    };
    let mut n = s.xs.len().min(s.ys.len());
    if let Some(sp) = s.spread {
        n = n.min(sp.len());
    }
    let lens: Vec<usize> = [
        Some(s.xs.len()),
        Some(s.ys.len()),
        s.spread.map(<[f64]>::len),
    ]
    .into_iter()
    .flatten()
    .collect();
    if lens.iter().any(|&l| l != n) {
        let lens: Vec<String> = lens.iter().map(usize::to_string).collect();
        notes.push(format!(
            "{label}: vector lengths {} differ — using the first {n}",
            lens.join("/")
        ));
    }
    let mut pts = Vec::with_capacity(n);
    let (mut bad, mut nonpos, mut bad_spread, mut clipped_low) = (0, 0, 0, 0);
    let mut first_bad: Option<usize> = None;
    for i in 0..n {
        let shifted = s.xs[i] + s.dx;
        let x = if shifted.is_finite() {
            shifted
        } else {
            s.xs[i]
        };
        let y = s.ys[i];
        if !x.is_finite() || !y.is_finite() {
            bad += 1;
            first_bad.get_or_insert(i);
            pts.push(Pt::Gap);
            continue;
        }
        x_ext.add(x);
        if log && y <= 0.0 {
            nonpos += 1;
            pts.push(Pt::Floor { x });
            continue;
        }
        y_ext.add(y);
        let spread = match s.spread.map(|sp| sp[i]) {
            None => None,
            Some(e) if !(e.is_finite() && e >= 0.0) => {
                bad_spread += 1;
                None
            }
            Some(e) => {
                let (lo, hi) = (y - e, y + e);
                y_ext.add(hi);
                if !log {
                    y_ext.add(lo);
                } else if lo > 0.0 {
                    // A lower edge far below the mean would squash the plot: it is allowed
                    // two decades below the mean and clamped beyond.
                    y_ext.add(lo.max(y / 100.0));
                } else {
                    clipped_low += 1;
                }
                Some((lo, hi))
            }
        };
        pts.push(Pt::Ok { x, y, spread });
    }
    if bad > 0 {
        let i0 = first_bad.unwrap_or(0);
        let suffix = pts[i0..].iter().all(|p| matches!(p, Pt::Gap));
        let at =
            s.xs.get(i0)
                .copied()
                .filter(|x| x.is_finite())
                .map(|x| format!("x = {}", short_num(x)))
                .unwrap_or_else(|| format!("point #{i0}"));
        if bad == n {
            notes.push(format!(
                "{label}: all {n} values not finite (NaN/inf) — nothing to draw"
            ));
        } else if suffix {
            notes.push(format!(
                "{label}: not finite from {at} on ({bad} of {n} points) — diverged?"
            ));
        } else {
            notes.push(format!(
                "{label}: {bad} of {n} points not finite (first at {at}) — gaps in the line"
            ));
        }
    }
    if nonpos > 0 && nonpos < n - bad {
        notes.push(format!(
            "{label}: {nonpos} of {n} values ≤ 0 — drawn at the axis bottom (hollow markers)"
        ));
    }
    if bad_spread > 0 {
        notes.push(format!(
            "{label}: spread not finite or negative at {} — no band/bar there",
            count(bad_spread, "point")
        ));
    }
    Classified {
        pts,
        notes,
        clipped_low,
    }
}

/// Legend entry swatch.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    Band(RGBColor),
    Dashed(RGBColor, (i32, i32)),
    Errors(RGBColor),
}

struct Legend {
    items: Vec<(String, Swatch)>,
    /// Rows of `(item index, x offset)`.
    rows: Vec<Vec<(usize, i32)>>,
}

const SWATCH_W: i32 = 40;

fn layout_legend(root: &Root<'_>, items: Vec<(String, Swatch)>, max_w: i32) -> Result<Legend> {
    let style = font(LEGEND_PX);
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 0;
    for (i, (label, _)) in items.iter().enumerate() {
        let w = SWATCH_W + 8 + text_size(root, label, &style)?.0 + 28;
        if rows.is_empty() || (x + w > max_w && x > 0) {
            rows.push(Vec::new());
            x = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((i, x));
        }
        x += w;
    }
    Ok(Legend { items, rows })
}

impl Legend {
    fn height(&self) -> u32 {
        if self.rows.is_empty() {
            0
        } else {
            (self.rows.len() as i32 * LEGEND_ROW_H + 12) as u32
        }
    }

    fn draw(&self, root: &Root<'_>, x0: i32, y0: i32) -> Result<()> {
        let style = font_at(LEGEND_PX, HPos::Left, VPos::Center);
        for (r, row) in self.rows.iter().enumerate() {
            let y = y0 + r as i32 * LEGEND_ROW_H + LEGEND_ROW_H / 2;
            for &(i, dx) in row {
                let x = x0 + dx;
                let (label, swatch) = &self.items[i];
                match *swatch {
                    Swatch::Band(c) => {
                        root.draw(&Rectangle::new(
                            [(x, y - 8), (x + SWATCH_W, y + 8)],
                            c.mix(0.25).filled(),
                        ))?;
                        root.draw(&PathElement::new(
                            vec![(x, y), (x + SWATCH_W, y)],
                            c.stroke_width(3),
                        ))?;
                    }
                    Swatch::Dashed(c, (dash, gap)) => {
                        let mut sx = x;
                        while sx < x + SWATCH_W {
                            let ex = (sx + dash).min(x + SWATCH_W);
                            root.draw(&PathElement::new(
                                vec![(sx, y), (ex, y)],
                                c.stroke_width(2),
                            ))?;
                            sx += dash + gap;
                        }
                    }
                    Swatch::Errors(c) => {
                        root.draw(&PathElement::new(
                            vec![(x, y), (x + SWATCH_W, y)],
                            c.stroke_width(2),
                        ))?;
                        let cx = x + SWATCH_W / 2;
                        root.draw(&PathElement::new(
                            vec![(cx, y - 9), (cx, y + 9)],
                            c.stroke_width(2),
                        ))?;
                        root.draw(&Circle::new((cx, y), 5, c.filled()))?;
                    }
                }
                root.draw_text(label, &style, (x + SWATCH_W + 8, y))?;
            }
        }
        Ok(())
    }
}

/// Samples pixels along a polyline every few pixels (for the notes placement).
fn sample_polyline(pix: &[(i32, i32)], out: &mut Vec<(i32, i32)>) {
    out.extend_from_slice(pix);
    for w in pix.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).abs()).max((b.1 - a.1).abs());
        let steps = (len / 4).min(400);
        for k in 1..steps {
            let f = k as f64 / steps as f64;
            out.push((
                a.0 + ((b.0 - a.0) as f64 * f) as i32,
                a.1 + ((b.1 - a.1) as f64 * f) as i32,
            ));
        }
    }
}

/// The legend of a line panel `width` pixels wide.
fn panel_legend(root: &Root<'_>, p: &LinePanel<'_>, width: u32) -> Result<Legend> {
    let items: Vec<(String, Swatch)> = p
        .series
        .iter()
        .map(|s| {
            let sw = match s.kind {
                Kind::Band => Swatch::Band(s.color),
                Kind::Dashed(d) => Swatch::Dashed(s.color, d),
                Kind::Errors => Swatch::Errors(s.color),
            };
            (s.label.clone(), sw)
        })
        .filter(|(l, _)| !l.is_empty())
        .collect();
    layout_legend(root, items, width as i32 - 60)
}

/// Draws one line panel into `area` (which gets a legend strip at its bottom).
fn draw_line_panel(root: &Root<'_>, area: &Root<'_>, p: &LinePanel<'_>) -> Result<()> {
    let mut notes = p.notes.clone();
    let (mut x_ext, mut y_ext) = (Extent::new(), Extent::new());
    let mut classified = Vec::with_capacity(p.series.len());
    for s in &p.series {
        let c = classify(s, p.log_y, &mut x_ext, &mut y_ext);
        notes.extend(c.notes.iter().cloned());
        classified.push(c);
    }
    let any_point = classified
        .iter()
        .any(|c| c.pts.iter().any(|q| !matches!(q, Pt::Gap)));
    if p.series.is_empty() || !any_point || x_ext.is_empty() {
        return draw_no_data(area, p.title, &notes, p.notes.len());
    }

    let (aw, ah) = area.dim_in_pixel();
    let legend = panel_legend(root, p, aw)?;
    let legend_h = legend.height().max(p.legend_min_h);
    let (chart_area, _) = area.split_vertically(ah.saturating_sub(legend_h));
    let (_, ch) = chart_area.dim_in_pixel();

    // Axes.
    let y_target = ((ch as usize).saturating_sub(120) / 70).clamp(3, 8);
    let x_target = ((aw as usize).saturating_sub(160) / 120).clamp(3, 8);
    let (y_axis, floor_t) = if p.log_y {
        if y_ext.is_empty() {
            notes.push(if all_zero(p) {
                "all values are 0 (e.g. no gradient signal) — shown at the floor 1e−30".into()
            } else {
                "all values are ≤ 0 — shown at the floor 1e−30".into()
            });
            let a = Axis::log(1e-31, 1e-29, y_target);
            (a, -30.0)
        } else {
            let a = Axis::log(y_ext.min, y_ext.max, y_target);
            let lo = a.lo;
            (a, lo)
        }
    } else {
        let a = Axis::linear(y_ext.min, y_ext.max, 0.05, true, y_target);
        let lo = a.lo;
        (a, lo)
    };
    let mut x_axis = Axis::linear(x_ext.min, x_ext.max, p.x_pad, false, x_target);
    if p.x_ticks_at_data {
        let mut xs: Vec<f64> = p
            .series
            .iter()
            .flat_map(|s| s.xs.iter().copied())
            .filter(|x| x.is_finite())
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        if (2..=12).contains(&xs.len()) {
            x_axis.ticks = xs;
            x_axis.fmt = Fmt::Short;
        }
    }
    for (s, c) in p.series.iter().zip(&classified) {
        if c.clipped_low > 0 && p.log_y {
            let what = match s.kind {
                Kind::Errors => "mean − err ≤ 0 at {} — bar cut at the axis bottom",
                _ => "mean − std ≤ 0 at {} — band cut at the axis bottom",
            };
            notes.push(format!(
                "{}: {}",
                s.label,
                what.replace("{}", &count(c.clipped_low, "point"))
            ));
        }
    }

    // Notes go in a strip at the top of the plot area that the y axis keeps free of data.
    let ylab_w = tick_label_width(root, &y_axis)?;
    let caption_h = caption_height(root, p.title)?;
    let plot_w_est = aw as i32 - 40 - (ylab_w + 48);
    let plot_h_est = ch as i32 - 20 - caption_h - 62;
    let (notes_box, headroom) =
        notes_strip(root, &notes, p.notes.len(), (plot_w_est, plot_h_est), 0.45)?;
    let y_axis = match headroom {
        Some(frac) => y_axis.with_headroom(frac, y_target),
        None => y_axis,
    };

    // Chart frame.
    let ylab_w = tick_label_width(root, &y_axis)?;
    let xf = |v: &f64| x_axis.label(*v);
    let yf = |v: &f64| y_axis.label(*v);
    let mut builder = ChartBuilder::on(&chart_area);
    builder
        .margin(10)
        .margin_right(30)
        .x_label_area_size(62)
        .y_label_area_size(ylab_w as u32 + 48);
    if !p.title.trim().is_empty() {
        builder.caption(p.title, font(PANEL_TITLE_PX));
    }
    let mut chart = builder.build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
    chart
        .configure_mesh()
        .x_desc(p.x_label)
        .y_desc(p.y_label)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    let plot = Rect {
        x0: px.start,
        y0: py.start,
        x1: px.end,
        y1: py.end,
    };

    // Data: bands first (under every line), then lines, then dashed theory on top.
    let tx = |x: f64| x_axis.clamp(x);
    let ty = |y: f64| y_axis.t(y).map(|t| y_axis.clamp(t));
    let mut occupied: Vec<(i32, i32)> = Vec::new();
    let pa = chart.plotting_area();
    let order = |k: Kind| match k {
        Kind::Band => 0,
        Kind::Errors => 1,
        Kind::Dashed(_) => 2,
    };
    for pass in 0..3 {
        for (s, c) in p.series.iter().zip(&classified) {
            if order(s.kind) != pass {
                continue;
            }
            let segments = c
                .pts
                .split(|q| matches!(q, Pt::Gap))
                .filter(|g| !g.is_empty());
            for seg in segments {
                let line: Vec<(f64, f64)> = seg
                    .iter()
                    .filter_map(|q| match *q {
                        Pt::Floor { x } => Some((tx(x), floor_t)),
                        Pt::Ok { x, y, .. } => Some((tx(x), ty(y).unwrap_or(floor_t))),
                        Pt::Gap => None,
                    })
                    .collect();
                let floors: Vec<bool> = seg
                    .iter()
                    .filter(|q| !matches!(q, Pt::Gap))
                    .map(|q| matches!(q, Pt::Floor { .. }))
                    .collect();
                // Values drawn at the floor get hollow markers.
                let marker = |pt: (f64, f64), r: u32, floor: bool| -> Result<()> {
                    if floor {
                        pa.draw(&Circle::new(pt, r + 1, WHITE.filled()))?;
                        pa.draw(&Circle::new(pt, r + 1, s.color.stroke_width(2)))?;
                    } else {
                        pa.draw(&Circle::new(pt, r, s.color.filled()))?;
                    }
                    Ok(())
                };
                let edges: Vec<Option<(f64, f64, f64)>> = seg
                    .iter()
                    .map(|q| match *q {
                        Pt::Ok {
                            x,
                            spread: Some((lo, hi)),
                            ..
                        } => Some((
                            tx(x),
                            ty(lo).unwrap_or(y_axis.lo),
                            ty(hi).unwrap_or(y_axis.lo),
                        )),
                        _ => None,
                    })
                    .collect();
                match s.kind {
                    Kind::Band => {
                        for run in edges.split(Option::is_none).filter(|r| !r.is_empty()) {
                            let run: Vec<(f64, f64, f64)> = run.iter().flatten().copied().collect();
                            if run.len() == 1 {
                                let (x, lo, hi) = run[0];
                                pa.draw(&PathElement::new(
                                    vec![(x, lo), (x, hi)],
                                    s.color.mix(0.5).stroke_width(6),
                                ))?;
                                continue;
                            }
                            let mut poly: Vec<(f64, f64)> =
                                run.iter().map(|e| (e.0, e.2)).collect();
                            poly.extend(run.iter().rev().map(|e| (e.0, e.1)));
                            pa.draw(&Polygon::new(poly.clone(), s.color.mix(0.22).filled()))?;
                            let upper: Vec<(i32, i32)> = run
                                .iter()
                                .map(|e| chart.backend_coord(&(e.0, e.2)))
                                .collect();
                            let lower: Vec<(i32, i32)> = run
                                .iter()
                                .map(|e| chart.backend_coord(&(e.0, e.1)))
                                .collect();
                            sample_polyline(&upper, &mut occupied);
                            sample_polyline(&lower, &mut occupied);
                        }
                        if line.len() == 1 {
                            marker(line[0], 5, floors[0])?;
                        } else {
                            pa.draw(&PathElement::new(line.clone(), s.color.stroke_width(3)))?;
                            for (&pt, &floor) in line.iter().zip(&floors) {
                                if floor || line.len() <= 40 {
                                    marker(pt, 3, floor)?;
                                }
                            }
                        }
                    }
                    Kind::Errors => {
                        let cap = (x_axis.hi / 2.0 - x_axis.lo / 2.0) * 0.014;
                        for &(x, lo, hi) in edges.iter().flatten() {
                            pa.draw(&PathElement::new(
                                vec![(x, lo), (x, hi)],
                                s.color.stroke_width(2),
                            ))?;
                            // No cap where the bar was cut at the axis bottom.
                            let cut = lo <= y_axis.lo + 1e-9 * (y_axis.hi - y_axis.lo);
                            let caps: &[f64] = if cut { &[hi] } else { &[lo, hi] };
                            for &yy in caps {
                                pa.draw(&PathElement::new(
                                    vec![(tx(x - cap), yy), (tx(x + cap), yy)],
                                    s.color.stroke_width(2),
                                ))?;
                            }
                            sample_polyline(
                                &[chart.backend_coord(&(x, lo)), chart.backend_coord(&(x, hi))],
                                &mut occupied,
                            );
                        }
                        if line.len() > 1 {
                            pa.draw(&PathElement::new(line.clone(), s.color.stroke_width(2)))?;
                        }
                        for (&pt, &floor) in line.iter().zip(&floors) {
                            marker(pt, 5, floor)?;
                        }
                    }
                    Kind::Dashed((dash, gap)) => {
                        if line.len() == 1 {
                            pa.draw(&Cross::new(line[0], 6, s.color.stroke_width(2)))?;
                        } else {
                            pa.draw(&DashedPathElement::new(
                                line.clone(),
                                dash,
                                gap,
                                s.color.stroke_width(2),
                            ))?;
                        }
                    }
                }
                let pix: Vec<(i32, i32)> = line.iter().map(|q| chart.backend_coord(q)).collect();
                sample_polyline(&pix, &mut occupied);
            }
        }
    }

    legend.draw(root, plot.x0, chart_area.get_base_pixel().1 + ch as i32)?;
    match &notes_box {
        Some(nb) => place_notes(root, plot, nb, &occupied, true),
        None => Ok(()),
    }
}

/// Width in pixels of the widest tick label of `axis`.
fn tick_label_width(root: &Root<'_>, axis: &Axis) -> Result<i32> {
    let style = font(TICK_PX);
    let mut w = 0;
    for t in &axis.ticks {
        w = w.max(text_size(root, &axis.label(*t), &style)?.0);
    }
    Ok(w)
}

/// Height plotters' `caption` takes for `title` (0 when there is no title).
fn caption_height(root: &Root<'_>, title: &str) -> Result<i32> {
    if title.trim().is_empty() {
        return Ok(0);
    }
    let h = text_size(root, title, &font(PANEL_TITLE_PX))?.1;
    Ok(h + 2 * (h / 2).min(5))
}

/// Whether every finite value of a panel's series is exactly zero.
fn all_zero(p: &LinePanel<'_>) -> bool {
    p.series
        .iter()
        .flat_map(|s| s.ys.iter())
        .filter(|v| v.is_finite())
        .all(|v| *v == 0.0)
}

fn bands_buffer(title: &str, panels: &[Panel]) -> Result<(Size, Vec<u8>)> {
    let (rows, cols) = grid(panels.len());
    let (pw, ph) = match (rows, cols) {
        (1, 1) => (1000, 650 - FIG_TITLE_H),
        (1, 2) => (820, 620),
        (1, _) => (700, 620),
        _ => (800, 600),
    };
    // Legends sit below the plots, about two entries a row: a panel with many bands and
    // theory curves grows taller instead of squeezing its plot area.
    let entries = panels
        .iter()
        .map(|p| p.bands.len() + p.curves.iter().filter(|c| !c.label.is_empty()).count())
        .max()
        .unwrap_or(0);
    let extra_rows = entries.div_ceil(2).saturating_sub(3) as u32;
    let ph = ph + extra_rows * LEGEND_ROW_H as u32;
    let size = (pw * cols as u32, FIG_TITLE_H + ph * rows as u32);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let areas = body.split_evenly((rows, cols));
        if panels.is_empty() {
            return draw_no_data(&areas[0], "", &["no panels were given".to_string()], 0);
        }
        let mut line_panels = Vec::with_capacity(panels.len());
        for panel in panels {
            let labels: Vec<&str> = panel.bands.iter().map(|b| b.label.as_str()).collect();
            let colors = assign_colors(&labels);
            let mut series: Vec<Series<'_>> = panel
                .bands
                .iter()
                .zip(colors)
                .map(|(b, color)| Series {
                    label: if b.label.is_empty() {
                        String::new()
                    } else {
                        format!("{} (n = {})", b.label, b.n)
                    },
                    kind: Kind::Band,
                    color,
                    xs: &b.xs,
                    ys: &b.mean,
                    spread: Some(&b.std),
                    dx: 0.0,
                })
                .collect();
            series.extend(panel.curves.iter().enumerate().map(|(i, c)| {
                let (color, dash) = curve_style(i);
                Series {
                    label: c.label.clone(),
                    kind: Kind::Dashed(dash),
                    color,
                    xs: &c.xs,
                    ys: &c.ys,
                    spread: None,
                    dx: 0.0,
                }
            }));
            let lp = LinePanel {
                title: &panel.title,
                x_label: &panel.x_label,
                y_label: &panel.y_label,
                log_y: panel.log_y,
                series,
                notes: panel.notes.clone(),
                x_ticks_at_data: false,
                x_pad: 0.0,
                legend_min_h: 0,
            };
            line_panels.push(lp);
        }
        // Panels of one row reserve the same legend height, so their axes line up.
        for row in line_panels.chunks_mut(cols) {
            let mut h = 0;
            for lp in row.iter() {
                h = h.max(panel_legend(root, lp, pw)?.height());
            }
            row.iter_mut().for_each(|lp| lp.legend_min_h = h);
        }
        for (lp, area) in line_panels.iter().zip(&areas) {
            draw_line_panel(root, area, lp)?;
        }
        Ok(())
    })?;
    Ok((size, buf))
}

fn error_bars_buffer(
    title: &str,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    series: &[ErrorSeries],
) -> Result<(Size, Vec<u8>)> {
    let size = (1000, 650);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        let colors = assign_colors(&labels);
        let span = {
            let mut e = Extent::new();
            series
                .iter()
                .flat_map(|s| s.xs.iter())
                .for_each(|x| e.add(*x));
            if e.is_empty() || e.max == e.min {
                1.0
            } else {
                e.max - e.min
            }
        };
        let k = series.len();
        let lp = LinePanel {
            title: "",
            x_label,
            y_label,
            log_y,
            series: series
                .iter()
                .zip(colors)
                .enumerate()
                .map(|(i, (s, color))| Series {
                    label: s.label.clone(),
                    kind: Kind::Errors,
                    color,
                    xs: &s.xs,
                    ys: &s.mean,
                    spread: Some(&s.err),
                    dx: if k > 1 {
                        (i as f64 - (k - 1) as f64 / 2.0) * 0.012 * span
                    } else {
                        0.0
                    },
                })
                .collect(),
            notes: Vec::new(),
            x_ticks_at_data: true,
            x_pad: 0.06,
            legend_min_h: 0,
        };
        draw_line_panel(root, &body, &lp)
    })?;
    Ok((size, buf))
}

// ---------------------------------------------------------------------------------------
// Heat maps
// ---------------------------------------------------------------------------------------

/// Layer ticks: multiples of a 1-2-5 step giving at most about ten labels.
fn layer_ticks(layers: usize) -> Vec<f64> {
    let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .find(|s| layers / s <= 10)
        .unwrap_or(layers.max(1));
    let mut t: Vec<f64> = (1..=layers)
        .filter(|l| l % step == 0)
        .map(|l| l as f64)
        .collect();
    if step >= 5 || t.is_empty() {
        t.insert(0, 1.0);
    }
    t
}

/// x ticks of a heat map whose column `i` spans `[i, i + 1]`: `(position, label)`. Up to
/// eight columns, every column is labelled with its step. For more columns with strictly
/// increasing finite steps, round step values placed by linear interpolation
/// between the columns they fall between; otherwise evenly spaced columns labelled with
/// their step (or `#index` when the step is missing).
fn step_ticks(steps: &[f64], n: usize, target: usize) -> Vec<(f64, String)> {
    let increasing = n > 8
        && steps.len() == n
        && steps.iter().all(|s| s.is_finite())
        && steps.windows(2).all(|w| w[1] > w[0]);
    if increasing {
        let (values, _) = nice_ticks(steps[0], steps[n - 1], target);
        let ticks: Vec<(f64, String)> = values
            .into_iter()
            .map(|v| {
                let i = steps.partition_point(|s| *s <= v).clamp(1, n - 1) - 1;
                let f = (v - steps[i]) / (steps[i + 1] - steps[i]);
                let pos = (i as f64 + 0.5 + f).clamp(0.5, n as f64 - 0.5);
                (pos, short_num(v))
            })
            .collect();
        if ticks.len() >= 2 {
            return ticks;
        }
    }
    let idx: Vec<usize> = if n <= 8 {
        (0..n).collect()
    } else {
        let k = target.max(2);
        let mut idx: Vec<usize> = (0..k)
            .map(|j| ((j * (n - 1)) as f64 / (k - 1) as f64).round() as usize)
            .collect();
        idx.dedup();
        idx
    };
    idx.into_iter()
        .map(|i| {
            let label = match steps.get(i) {
                Some(s) => short_num(*s),
                None => format!("#{i}"),
            };
            (i as f64 + 0.5, label)
        })
        .collect()
}

/// Draws one heat map; returns the pixel rectangle of its cells, or `None` for a "no data"
/// panel.
fn draw_heat(
    root: &Root<'_>,
    area: &Root<'_>,
    heat: &Heat,
    (vmin, vmax): (f64, f64),
) -> Result<Option<Rect>> {
    let mut notes = heat.notes.clone();
    let n = heat.values.len();
    let layers = heat.layers;
    if n == 0 || layers == 0 {
        notes.push(format!("{} steps × {} layers — nothing to draw", n, layers));
        draw_no_data(area, &heat.title, &notes, heat.notes.len())?;
        return Ok(None);
    }
    if heat.steps.len() != n {
        notes.push(format!(
            "{} step labels for {} columns — columns without a step are labelled by index",
            heat.steps.len(),
            n
        ));
    }
    let (mut nan, mut neg_inf, mut pos_inf, mut missing, mut extra) = (0, 0, 0, 0, 0);
    for row in &heat.values {
        missing += layers.saturating_sub(row.len());
        extra += row.len().saturating_sub(layers);
        for v in row.iter().take(layers) {
            if v.is_nan() {
                nan += 1;
            } else if *v == f64::NEG_INFINITY {
                neg_inf += 1;
            } else if *v == f64::INFINITY {
                pos_inf += 1;
            }
        }
    }
    if nan + neg_inf + pos_inf > 0 {
        let mut parts = Vec::new();
        if nan > 0 {
            parts.push(format!("{nan} NaN"));
        }
        if neg_inf > 0 {
            parts.push(format!("{neg_inf} −inf"));
        }
        if pos_inf > 0 {
            parts.push(format!("{pos_inf} +inf"));
        }
        let hint = if neg_inf > 0 {
            "; −inf is what log10 of 0 gives"
        } else {
            ""
        };
        notes.push(format!(
            "{} of {} cells not finite ({}) — grey{hint}",
            nan + neg_inf + pos_inf,
            n * layers,
            parts.join(", ")
        ));
    }
    if missing > 0 {
        notes.push(format!("{missing} cells missing (short rows) — grey"));
    }
    if extra > 0 {
        notes.push(format!(
            "{extra} values beyond layer {layers} ignored (long rows)"
        ));
    }

    let x_ticks = step_ticks(&heat.steps, n, 6);
    let xf = |t: &f64| {
        x_ticks
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    let yf = |t: &f64| format!("{}", t.round() as i64);
    // Notes sit in a white strip above the top layer, inside the plot area.
    let (aw, ah) = area.dim_in_pixel();
    let caption_h = caption_height(root, &heat.title)?;
    let plot_w_est = aw as i32 - 34 - 80;
    let plot_h_est = ah as i32 - 20 - caption_h - 62;
    let (notes_box, headroom) = notes_strip(
        root,
        &notes,
        heat.notes.len(),
        (plot_w_est, plot_h_est),
        0.4,
    )?;
    let top = layers as f64 + 0.5;
    let hi = headroom.map_or(top, |frac| top + layers as f64 * frac / (1.0 - frac));
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .margin_right(24)
        .x_label_area_size(62)
        .y_label_area_size(80);
    if !heat.title.trim().is_empty() {
        builder.caption(&heat.title, font(PANEL_TITLE_PX));
    }
    let mut chart = builder.build_cartesian_2d(
        Ticked {
            lo: 0.0,
            hi: n as f64,
            bold: x_ticks.iter().map(|(t, _)| *t).collect(),
            light: Vec::new(),
        },
        Ticked {
            lo: 0.5,
            hi,
            bold: layer_ticks(layers),
            light: Vec::new(),
        },
    )?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("step")
        .y_desc("layer")
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let pa = chart.plotting_area();
    let span = vmax - vmin;
    for (i, row) in heat.values.iter().enumerate() {
        for l in 0..layers {
            let color = match row.get(l) {
                Some(v) if v.is_finite() => viridis((v - vmin) / span),
                _ => MISSING,
            };
            let (x0, x1) = (i as f64, (i + 1) as f64);
            let (y0, y1) = (l as f64 + 0.5, l as f64 + 1.5);
            pa.draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))?;
        }
    }
    let (px, py) = pa.get_pixel_range();
    let plot = Rect {
        x0: px.start,
        y0: py.start,
        x1: px.end,
        y1: py.end,
    };
    if let Some(nb) = &notes_box {
        place_notes(root, plot, nb, &[], true)?;
    }
    let cells_top = chart.backend_coord(&(0.0, top)).1;
    Ok(Some(Rect {
        y0: cells_top,
        ..plot
    }))
}

fn heatmap_buffer(
    title: &str,
    left: &Heat,
    right: &Heat,
    colorbar_label: &str,
) -> Result<(Size, Vec<u8>)> {
    let size = (1700, 720);
    let mut ext = Extent::new();
    for heat in [left, right] {
        for row in &heat.values {
            row.iter().take(heat.layers).for_each(|v| ext.add(*v));
        }
    }
    let (vmin, vmax) = if ext.is_empty() {
        (0.0, 1.0)
    } else if ext.max - ext.min <= 1e-12 * ext.max.abs().max(ext.min.abs()) {
        let half = if ext.max != 0.0 {
            ext.max.abs() * 0.05
        } else {
            0.5
        };
        (ext.min - half, ext.max + half)
    } else {
        (ext.min, ext.max)
    };
    let any_missing = [left, right].iter().any(|h| {
        h.values
            .iter()
            .any(|r| r.len() < h.layers || r.iter().take(h.layers).any(|v| !v.is_finite()))
    });
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let (bw, _) = body.dim_in_pixel();
        let (maps, bar) = body.split_horizontally(bw - 190);
        let halves = maps.split_evenly((1, 2));
        let l = draw_heat(root, &halves[0], left, (vmin, vmax))?;
        let r = draw_heat(root, &halves[1], right, (vmin, vmax))?;
        let (bx, by) = bar.get_base_pixel();
        let (_, bh) = bar.dim_in_pixel();
        let plot = l.or(r).unwrap_or(Rect {
            x0: bx,
            y0: by + 60,
            x1: bx + 10,
            y1: by + bh as i32 - 70,
        });
        draw_colorbar(
            root,
            bx + 16,
            plot.y0,
            plot.y1,
            (vmin, vmax),
            colorbar_label,
            any_missing,
            ext.is_empty(),
        )
    })?;
    Ok((size, buf))
}

#[allow(clippy::too_many_arguments)]
fn draw_colorbar(
    root: &Root<'_>,
    x0: i32,
    y0: i32,
    y1: i32,
    (vmin, vmax): (f64, f64),
    label: &str,
    show_missing: bool,
    no_values: bool,
) -> Result<()> {
    let w = 28;
    let h = (y1 - y0).max(1);
    for py in y0..y1 {
        let f = (y1 - py) as f64 / h as f64;
        root.draw(&Rectangle::new(
            [(x0, py), (x0 + w, py + 1)],
            viridis(f).filled(),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y1)],
        BLACK.stroke_width(1),
    ))?;
    let (ticks, fmt) = nice_ticks(vmin, vmax, 7);
    let fmt_axis = Axis {
        log: false,
        lo: vmin,
        hi: vmax,
        ticks: Vec::new(),
        light: Vec::new(),
        fmt,
    };
    let style = font_at(TICK_PX, HPos::Left, VPos::Center);
    let mut max_w = 0;
    for t in ticks {
        let py = y1 - ((t - vmin) / (vmax - vmin) * h as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(x0 + w, py), (x0 + w + 6, py)],
            BLACK.stroke_width(1),
        ))?;
        let text = fmt_axis.label(t);
        max_w = max_w.max(text_size(root, &text, &style)?.0);
        root.draw_text(&text, &style, (x0 + w + 10, py))?;
    }
    let label = if no_values {
        format!("{label} (no finite values)")
    } else {
        label.to_string()
    };
    let label_style = font(AXIS_DESC_PX)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(
        &label,
        &label_style,
        (x0 + w + 10 + max_w + 24, (y0 + y1) / 2),
    )?;
    if show_missing {
        let y = y1 + 22;
        root.draw(&Rectangle::new(
            [(x0, y - 9), (x0 + w, y + 9)],
            MISSING.filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(x0, y - 9), (x0 + w, y + 9)],
            BLACK.stroke_width(1),
        ))?;
        root.draw_text("not finite", &style, (x0 + w + 10, y))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Paired scatter
// ---------------------------------------------------------------------------------------

fn draw_pairs(root: &Root<'_>, area: &Root<'_>, title: &str, pairs: &Pairs) -> Result<()> {
    let mut notes = Vec::new();
    let n = pairs.points.len();
    let finite: Vec<&(f64, f64, String)> = pairs
        .points
        .iter()
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    if finite.len() < n {
        let bad: Vec<String> = pairs
            .points
            .iter()
            .filter(|(x, y, _)| !(x.is_finite() && y.is_finite()))
            .map(|(x, y, s)| format!("{s} ({}, {})", short_num(*x), short_num(*y)))
            .collect();
        let shown = bad.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
        let more = if bad.len() > 4 { ", …" } else { "" };
        notes.push(format!(
            "{} of {n} seeds not finite — not drawn: {shown}{more}",
            bad.len()
        ));
    }
    if finite.is_empty() {
        return draw_no_data(area, title, &notes, 0);
    }
    let log = finite.iter().all(|(x, y, _)| *x > 0.0 && *y > 0.0);
    if !log {
        notes.push("linear axes: some values ≤ 0".into());
    }
    let mut ext = Extent::new();
    for (x, y, _) in &finite {
        ext.add(*x);
        ext.add(*y);
    }
    let (aw, _) = area.dim_in_pixel();
    let target = ((aw as usize).saturating_sub(160) / 110).clamp(3, 7);
    let axis = if log {
        Axis::log(ext.min, ext.max, target)
    } else {
        Axis::linear(ext.min, ext.max, 0.06, false, target)
    };
    let (above, below) = (
        finite.iter().filter(|(x, y, _)| y > x).count(),
        finite.iter().filter(|(x, y, _)| y < x).count(),
    );
    let equal = finite.len() - above - below;
    let mut counts = format!(
        "y > x: {above} · y < x: {below} (of {} seeds)",
        finite.len()
    );
    if equal > 0 {
        counts = format!(
            "y > x: {above} · y < x: {below} · y = x: {equal} (of {} seeds)",
            finite.len()
        );
    }
    notes.insert(0, counts);

    let tick_style = font(TICK_PX);
    let mut ylab_w = 0;
    for t in &axis.ticks {
        ylab_w = ylab_w.max(text_size(root, &axis.label(*t), &tick_style)?.0);
    }
    let f = |v: &f64| axis.label(*v);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(PANEL_TITLE_PX))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(62)
        .y_label_area_size(ylab_w as u32 + 48)
        .build_cartesian_2d(axis.coord(), axis.coord())?;
    chart
        .configure_mesh()
        .x_desc(pairs.x_label.as_str())
        .y_desc(pairs.y_label.as_str())
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&f)
        .y_label_formatter(&f)
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        vec![(axis.lo, axis.lo), (axis.hi, axis.hi)],
        10,
        6,
        GREY.stroke_width(2),
    ))?;
    let pa = chart.plotting_area();
    let mut occupied = Vec::new();
    sample_polyline(
        &[
            chart.backend_coord(&(axis.lo, axis.lo)),
            chart.backend_coord(&(axis.hi, axis.hi)),
        ],
        &mut occupied,
    );
    let pts: Vec<((f64, f64), &str)> = finite
        .iter()
        .map(|(x, y, seed)| {
            let pt = (
                axis.clamp(axis.t(*x).unwrap_or(axis.lo)),
                axis.clamp(axis.t(*y).unwrap_or(axis.lo)),
            );
            (pt, seed.as_str())
        })
        .collect();
    let mut dots: Vec<Rect> = Vec::with_capacity(pts.len());
    for (pt, _) in &pts {
        pa.draw(&Circle::new(*pt, 7, OI_BLUE.mix(0.75).filled()))?;
        pa.draw(&Circle::new(*pt, 7, BLACK.stroke_width(1)))?;
        let (bx, by) = chart.backend_coord(pt);
        dots.push(Rect {
            x0: bx - 8,
            y0: by - 8,
            x1: bx + 8,
            y1: by + 8,
        });
        for dx in (-8..=8).step_by(2) {
            for dy in (-8..=8).step_by(2) {
                occupied.push((bx + dx, by + dy));
            }
        }
    }
    let (px, py) = pa.get_pixel_range();
    let plot = Rect {
        x0: px.start,
        y0: py.start,
        x1: px.end,
        y1: py.end,
    };

    // Notes first (least crowded corner), then seed labels around the points, avoiding
    // the plot edge, the notes, the points and each other; a label that fits nowhere is
    // left out and counted.
    let max_w = ((plot.x1 - plot.x0) as f64 * 0.92) as i32;
    let max_lines = note_lines_for(plot.y1 - plot.y0, 0.4);
    let mut taken: Vec<Rect> = dots.clone();
    let mut unlabelled = 0;
    let label_seeds = finite.len() <= 20;
    let mut labels: Vec<(String, (i32, i32))> = Vec::new();
    let left_out = |k: usize| {
        format!(
            "{} left out (no room next to the point)",
            count(k, "seed label")
        )
    };
    if !label_seeds {
        notes.push(format!("{} seeds — labels omitted", finite.len()));
    }
    // Reserve the box with room for a possible "labels left out" line.
    let notes_rect = {
        let mut provisional = notes.clone();
        if label_seeds {
            provisional.push(left_out(finite.len()));
        }
        layout_notes(root, &provisional, 0, max_w, max_lines)?
            .map(|nb| notes_corner(plot, &nb, &occupied, false))
    };
    if let Some(r) = notes_rect {
        taken.push(r);
    }
    if label_seeds {
        let style = font(16.0);
        for ((_, seed), dot) in pts.iter().zip(&dots) {
            if seed.is_empty() {
                continue;
            }
            let (w, h) = text_size(root, seed, &style)?;
            let (cx, cy) = ((dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2);
            let spots = [
                (cx + 10, cy - 4 - h),
                (cx + 10, cy + 4),
                (cx - 10 - w, cy - 4 - h),
                (cx - 10 - w, cy + 4),
                (cx - w / 2, cy - 10 - h),
                (cx - w / 2, cy + 10),
            ];
            let free = spots.iter().map(|&(x, y)| Rect {
                x0: x,
                y0: y,
                x1: x + w,
                y1: y + h,
            });
            let mut placed = false;
            for r in free {
                let inside =
                    r.x0 >= plot.x0 && r.x1 <= plot.x1 && r.y0 >= plot.y0 && r.y1 <= plot.y1;
                if inside && !taken.iter().any(|t| t.overlaps(&r)) {
                    taken.push(r);
                    labels.push((seed.to_string(), (r.x0, r.y0)));
                    placed = true;
                    break;
                }
            }
            if !placed {
                unlabelled += 1;
            }
        }
    }
    if unlabelled > 0 {
        notes.push(left_out(unlabelled));
    }
    let label_style = font_at(16.0, HPos::Left, VPos::Top).color(&GREY);
    for (text, pos) in &labels {
        root.draw_text(text, &label_style, *pos)?;
    }
    if let Some(nb) = layout_notes(root, &notes, 0, max_w, max_lines)? {
        // Same corner as reserved, anchored on the plot edges it touches.
        let r = match notes_rect {
            Some(n) => {
                let right = n.x1 >= plot.x1 - NOTE_MARGIN - 1;
                let bottom = n.y1 >= plot.y1 - NOTE_MARGIN - 1;
                let x0 = if right { n.x1 - nb.w } else { n.x0 };
                let y0 = if bottom { n.y1 - nb.h } else { n.y0 };
                Rect {
                    x0,
                    y0,
                    x1: x0 + nb.w,
                    y1: y0 + nb.h,
                }
            }
            None => notes_corner(plot, &nb, &occupied, false),
        };
        draw_notes_box(root, &nb, r)?;
    }
    Ok(())
}

fn scatter_buffer(title: &str, groups: &[(String, Pairs)]) -> Result<(Size, Vec<u8>)> {
    let (rows, cols) = grid(groups.len());
    let (pw, ph) = (680, 680);
    let size = (pw * cols as u32, FIG_TITLE_H + ph * rows as u32);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let areas = body.split_evenly((rows, cols));
        if groups.is_empty() {
            return draw_no_data(&areas[0], "", &["no groups were given".to_string()], 0);
        }
        for ((name, pairs), area) in groups.iter().zip(&areas) {
            draw_pairs(root, area, name, pairs)?;
        }
        Ok(())
    })?;
    Ok((size, buf))
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::theory;
    use std::collections::HashSet;

    /// Width and height from a PNG's signature and IHDR chunk.
    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = fs::read(path).expect("figure written");
        assert!(bytes.len() >= 24, "PNG too short");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR", "IHDR chunk first");
        let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        (w, h)
    }

    fn distinct_colors(buf: &[u8]) -> usize {
        buf.chunks_exact(3)
            .map(|p| (p[0], p[1], p[2]))
            .collect::<HashSet<_>>()
            .len()
    }

    fn non_white_fraction(buf: &[u8]) -> f64 {
        let px = buf.chunks_exact(3);
        let n = px.len() as f64;
        px.filter(|p| p != &[255, 255, 255]).count() as f64 / n
    }

    fn assert_rich(size: Size, buf: &[u8], min_colors: usize) {
        assert_eq!(buf.len(), size.0 as usize * size.1 as usize * 3);
        let colors = distinct_colors(buf);
        assert!(colors >= min_colors, "only {colors} distinct colours");
        let ink = non_white_fraction(buf);
        assert!(ink > 0.01, "almost blank: {ink}");
    }

    fn assert_png(path: &Path, size: Size) {
        assert_eq!(png_size(path), size);
        let len = fs::metadata(path).unwrap().len();
        assert!(len > 8_000, "suspiciously small PNG: {len} bytes");
    }

    /// Where sample figures go: `$RESWEEP_PLOT_SAMPLES` when set (to look at them),
    /// else a temporary directory.
    fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
        match std::env::var_os("RESWEEP_PLOT_SAMPLES") {
            Some(d) => {
                let d = PathBuf::from(d);
                fs::create_dir_all(&d).unwrap();
                (None, d)
            }
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        }
    }

    /// Small deterministic noise in [-1, 1].
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    fn loss_bands() -> Vec<Band> {
        let xs: Vec<f64> = (0..=100).map(|i| i as f64 * 10.0).collect();
        let mut r = noise(1);
        let res_mean: Vec<f64> = xs
            .iter()
            .map(|s| 15.0 * (-s / 60.0).exp() + 0.03 + 0.01 * r().abs())
            .collect();
        let res_std: Vec<f64> = res_mean.iter().map(|m| 0.3 * m).collect();
        let plain_mean: Vec<f64> = xs.iter().map(|_| 0.333 + 0.002 * r()).collect();
        let plain_std = vec![0.004; xs.len()];
        vec![
            Band {
                label: "PlainMLP".into(),
                xs: xs.clone(),
                mean: plain_mean,
                std: plain_std,
                n: 10,
            },
            Band {
                label: "ResMLP".into(),
                xs,
                mean: res_mean,
                std: res_std,
                n: 10,
            },
        ]
    }

    fn layer_panel(log_y: bool) -> Panel {
        let s = 1.0 / 20f64.sqrt();
        let layers: Vec<f64> = (1..=20).map(|l| l as f64).collect();
        let plain = theory::plain_layer_predictions(20, s);
        let res = theory::res_layer_predictions(20, s);
        let mut r = noise(7);
        let band =
            |label: &str, preds: &[theory::LayerPrediction], r: &mut dyn FnMut() -> f64| Band {
                label: label.into(),
                xs: layers.clone(),
                mean: preds[1..]
                    .iter()
                    .map(|p| p.std * (1.0 + 0.1 * r()))
                    .collect(),
                std: preds[1..].iter().map(|p| p.std * 0.15).collect(),
                n: 10,
            };
        Panel {
            title: "Activation std at init".into(),
            x_label: "layer".into(),
            y_label: "std of layer output".into(),
            log_y,
            bands: vec![
                band("PlainMLP", &plain, &mut r),
                band("ResMLP", &res, &mut r),
            ],
            curves: vec![
                Curve {
                    label: "mean-field theory (plain)".into(),
                    xs: layers.clone(),
                    ys: plain[1..].iter().map(|p| p.std).collect(),
                },
                Curve {
                    label: "mean-field theory (res)".into(),
                    xs: layers.clone(),
                    ys: res[1..].iter().map(|p| p.std).collect(),
                },
            ],
            notes: vec!["init scale 1/√20, width 64, batch 64".into()],
        }
    }

    /// The figure the report draws at init: measured mean ± std over seeds beside the
    /// mean-field predictions (1×3 layout).
    #[test]
    fn init_figure_with_theory_overlay() {
        let (_keep, dir) = out_dir();
        let s = 1.0 / 20f64.sqrt();
        let layers: Vec<f64> = (1..=20).map(|l| l as f64).collect();
        let plain = theory::plain_layer_predictions(20, s);
        let res = theory::res_layer_predictions(20, s);
        let mut r = noise(11);
        let mut measured = |label: &str, ys: Vec<f64>| Band {
            label: label.into(),
            xs: layers.clone(),
            mean: ys.iter().map(|y| y * (1.0 + 0.08 * r())).collect(),
            std: ys.iter().map(|y| y * 0.2).collect(),
            n: 10,
        };
        let theory_curve = |label: &str, ys: Vec<f64>| Curve {
            label: label.into(),
            xs: layers.clone(),
            ys,
        };
        let pick = |p: &[theory::LayerPrediction], f: fn(&theory::LayerPrediction) -> f64| {
            p[1..].iter().map(f).collect::<Vec<f64>>()
        };
        let grad_plain = theory::plain_weight_grad_norm(20, s, 64);
        let grad_res: Vec<f64> = (1..=20).map(|l| 0.5 + 0.02 * l as f64).collect();
        // One activation panel: "mean" or "std" of the layer output, measured and predicted.
        let mut activation = |stat: &str, f: fn(&theory::LayerPrediction) -> f64| Panel {
            title: format!("Activation {stat}"),
            x_label: "layer".into(),
            y_label: format!("{stat} of layer output"),
            log_y: true,
            bands: vec![
                measured("PlainMLP", pick(&plain, f)),
                measured("ResMLP", pick(&res, f)),
            ],
            curves: vec![
                theory_curve("theory, plain", pick(&plain, f)),
                theory_curve("theory, res", pick(&res, f)),
            ],
            notes: vec![],
        };
        let panels = vec![
            activation("mean", |p| p.mean),
            activation("std", |p| p.std),
            Panel {
                title: "Weight-gradient norm".into(),
                x_label: "layer".into(),
                y_label: "‖∇W‖ (Frobenius)".into(),
                log_y: true,
                bands: vec![
                    measured("PlainMLP", grad_plain.clone()),
                    measured("ResMLP", grad_res),
                ],
                curves: vec![theory_curve("theory, plain", grad_plain)],
                notes: vec!["no ResMLP gradient theory (see theory.rs)".into()],
            },
        ];
        let p = dir.join("init_theory.png");
        bands_figure(
            &p,
            "At init: measured (10 seeds) vs mean-field theory",
            &panels,
        )
        .unwrap();
        assert_png(&p, (2100, FIG_TITLE_H + 620));
    }

    #[test]
    fn font_registers_once_and_text_renders() {
        ensure_font().unwrap();
        ensure_font().unwrap();
        let buf = render((300, 80), |root| {
            root.draw_text("±10⁻²⁷ ≤ − ×", &font(24.0), (10, 20))?;
            Ok(())
        })
        .unwrap();
        assert!(non_white_fraction(&buf) > 0.01, "no text pixels");
    }

    #[test]
    fn tick_formats() {
        assert_eq!(superscript(-27), "⁻²⁷");
        assert_eq!(sci(3e8, 2), "3×10⁸");
        assert_eq!(sci(1e-14, 2), "10⁻¹⁴");
        assert_eq!(short_num(0.0333), "0.0333");
        assert_eq!(short_num(-2.5), "−2.5");
        assert_eq!(short_num(120.0), "120");
        let (t, f) = nice_ticks(0.0, 1000.0, 5);
        assert_eq!(t, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert_eq!(f, Fmt::Fixed(0));
        let a = Axis::log(1e-27, 1.0, 7);
        assert!(a.ticks.len() >= 2 && a.ticks.len() <= 9, "{:?}", a.ticks);
        assert!(a.ticks.iter().all(|t| *t >= a.lo && *t <= a.hi));
        let narrow = Axis::log(0.33, 0.336, 6);
        assert!(narrow.ticks.len() >= 2, "{:?}", narrow.ticks);
        assert!(narrow.lo < 0.33f64.log10() && narrow.hi > 0.336f64.log10());
        let flat = Axis::log(0.5, 0.5, 6);
        assert!(flat.hi - flat.lo >= 0.99);
        let flat_lin = Axis::linear(2.0, 2.0, 0.05, false, 6);
        assert!(flat_lin.lo < 2.0 && flat_lin.hi > 2.0);
        assert_eq!(tidy_fixed(-0.0001, 2), "0.00");
    }

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

    #[test]
    fn bands_figure_writes_png_of_expected_size() {
        let (_keep, dir) = out_dir();
        let loss = Panel {
            title: "Training loss".into(),
            x_label: "step".into(),
            y_label: "MSE".into(),
            log_y: true,
            bands: loss_bands(),
            curves: vec![],
            notes: vec![],
        };
        let one = dir.join("bands_one.png");
        bands_figure(
            &one,
            "Distant Identity, depth 20",
            std::slice::from_ref(&loss),
        )
        .unwrap();
        assert_png(&one, (1000, 650));
        let (size, buf) = bands_buffer("t", std::slice::from_ref(&loss)).unwrap();
        assert_rich(size, &buf, 200);

        let four = dir.join("bands_four.png");
        let mut lin = layer_panel(false);
        lin.title = "Activation std (linear y)".into();
        let panels = [loss.clone(), layer_panel(true), lin, loss];
        bands_figure(&four, "Four panels", &panels).unwrap();
        assert_png(&four, (1600, FIG_TITLE_H + 1200));
        let two = dir.join("bands_two.png");
        bands_figure(&two, "Two panels", &panels[..2]).unwrap();
        assert_png(&two, (1640, FIG_TITLE_H + 620));
    }

    #[test]
    fn bands_survive_nan_inf_zero_and_empty() {
        let (_keep, dir) = out_dir();
        let xs: Vec<f64> = (0..50).map(|i| i as f64 * 10.0).collect();
        let diverged: Vec<f64> = xs
            .iter()
            .map(|&x| if x >= 120.0 { f64::NAN } else { 10.0 + x })
            .collect();
        let holes: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, _)| match i % 7 {
                0 => f64::INFINITY,
                3 => 0.0,
                _ => 1.0 + i as f64,
            })
            .collect();
        let panels = vec![
            Panel {
                title: "diverged + holes (log)".into(),
                x_label: "step".into(),
                y_label: "loss".into(),
                log_y: true,
                bands: vec![
                    Band {
                        label: "ResMLP".into(),
                        xs: xs.clone(),
                        mean: diverged,
                        std: vec![f64::NAN; 50],
                        n: 10,
                    },
                    Band {
                        label: "PlainMLP".into(),
                        xs: xs.clone(),
                        mean: holes,
                        std: vec![5.0; 49],
                        n: 10,
                    },
                ],
                curves: vec![],
                notes: vec!["diverged: 3 of 10 seeds not finite after step 120".into()],
            },
            Panel {
                title: "all zero (log)".into(),
                x_label: "layer".into(),
                y_label: "grad norm".into(),
                log_y: true,
                bands: vec![Band {
                    label: "PlainMLP".into(),
                    xs: xs.clone(),
                    mean: vec![0.0; 50],
                    std: vec![0.0; 50],
                    n: 5,
                }],
                ..Default::default()
            },
            Panel {
                title: "all NaN".into(),
                log_y: false,
                bands: vec![Band {
                    label: "ResMLP".into(),
                    xs: xs.clone(),
                    mean: vec![f64::NAN; 50],
                    std: vec![f64::NAN; 50],
                    n: 5,
                }],
                ..Default::default()
            },
            Panel {
                title: "empty".into(),
                ..Default::default()
            },
        ];
        let p = dir.join("bands_robust.png");
        bands_figure(&p, "Robustness", &panels).unwrap();
        assert_png(&p, (1600, FIG_TITLE_H + 1200));
        let p = dir.join("bands_empty.png");
        bands_figure(&p, "No panels", &[]).unwrap();
        assert_eq!(png_size(&p), (1000, 650));
        // One constant point, one single-point band.
        let single = Panel {
            title: "single point".into(),
            log_y: true,
            bands: vec![Band {
                label: "ResMLP".into(),
                xs: vec![3.0],
                mean: vec![2.0],
                std: vec![1.0],
                n: 1,
            }],
            curves: vec![Curve {
                label: "theory".into(),
                xs: vec![3.0],
                ys: vec![2.0],
            }],
            ..Default::default()
        };
        let (size, buf) = bands_buffer("single", &[single]).unwrap();
        assert_rich(size, &buf, 50);
    }

    fn heat(title: &str, layers: usize, steps: usize, f: impl Fn(usize, usize) -> f64) -> Heat {
        Heat {
            title: title.into(),
            layers,
            steps: (0..steps).map(|s| (s * 50) as f64).collect(),
            values: (0..steps)
                .map(|s| (1..=layers).map(|l| f(s, l)).collect())
                .collect(),
            notes: vec![],
        }
    }

    #[test]
    fn heatmap_pair_shares_scale_and_survives_bad_cells() {
        let (_keep, dir) = out_dir();
        let plain = heat("PlainMLP", 20, 21, |_, _| -13.5);
        let res = heat("ResMLP", 20, 21, |s, l| {
            -1.0 + 0.05 * l as f64 - 0.1 * s as f64
        });
        let p = dir.join("heat.png");
        heatmap_pair(&p, "log10 weight-gradient norm", &plain, &res, "log10 ‖∇W‖").unwrap();
        assert_png(&p, (1700, 720));
        let (size, buf) = heatmap_buffer("t", &plain, &res, "log10 ‖∇W‖").unwrap();
        assert_rich(size, &buf, 200);

        let mut bad = heat("with −inf and NaN", 12, 300, |s, l| (s * l) as f64);
        bad.values[3][2] = f64::NEG_INFINITY;
        bad.values[10][5] = f64::NAN;
        bad.values[20].truncate(4);
        bad.notes.push("caller note".into());
        let p = dir.join("heat_bad.png");
        heatmap_pair(&p, "Robustness", &bad, &Heat::default(), "value").unwrap();
        assert_png(&p, (1700, 720));
        let p = dir.join("heat_empty.png");
        heatmap_pair(&p, "", &Heat::default(), &Heat::default(), "value").unwrap();
        assert_eq!(png_size(&p), (1700, 720));
        let constant = heat("constant", 3, 2, |_, _| 0.0);
        let p = dir.join("heat_constant.png");
        heatmap_pair(&p, "", &constant, &constant, "value").unwrap();
        assert_eq!(png_size(&p), (1700, 720));
    }

    #[test]
    fn paired_scatter_log_linear_and_empty() {
        let (_keep, dir) = out_dir();
        let mut r = noise(3);
        let pairs = |x_label: &str, f: &mut dyn FnMut(usize) -> (f64, f64)| Pairs {
            x_label: x_label.into(),
            y_label: "ResMLP".into(),
            points: (0..10)
                .map(|s| {
                    let (x, y) = f(s);
                    (x, y, format!("seed {s}"))
                })
                .collect(),
        };
        let groups = vec![
            (
                "final loss, depth 20".to_string(),
                pairs("PlainMLP", &mut |_| {
                    (0.333 + 0.003 * r(), 0.03 * (1.0 + 0.5 * r()))
                }),
            ),
            (
                "difference (can be < 0)".to_string(),
                pairs("PlainMLP", &mut |s| (s as f64 - 4.0, 2.0 * s as f64 - 9.0)),
            ),
            (
                "with NaN".to_string(),
                pairs("PlainMLP", &mut |s| {
                    if s == 2 {
                        (f64::NAN, 1.0)
                    } else {
                        (1.0 + s as f64, f64::INFINITY.min(2.0 + s as f64))
                    }
                }),
            ),
            ("empty".to_string(), Pairs::default()),
        ];
        let p = dir.join("scatter.png");
        paired_scatter(&p, "PlainMLP vs ResMLP per seed", &groups).unwrap();
        assert_png(&p, (1360, FIG_TITLE_H + 1360));
        let (size, buf) = scatter_buffer("t", &groups[..1]).unwrap();
        assert_eq!(size, (680, FIG_TITLE_H + 680));
        assert_rich(size, &buf, 100);
        let p = dir.join("scatter_empty.png");
        paired_scatter(&p, "nothing", &[]).unwrap();
        assert_eq!(png_size(&p), (680, FIG_TITLE_H + 680));
    }

    #[test]
    fn error_bars_log_and_robust() {
        let (_keep, dir) = out_dir();
        let depths = vec![5.0, 10.0, 20.0, 50.0];
        let series = vec![
            ErrorSeries {
                label: "PlainMLP".into(),
                xs: depths.clone(),
                mean: vec![0.05, 0.2, 0.333, 0.333],
                err: vec![0.01, 0.05, 0.002, 0.001],
            },
            ErrorSeries {
                label: "ResMLP".into(),
                xs: depths.clone(),
                mean: vec![0.01, 0.02, 0.03, 0.08],
                err: vec![0.004, 0.03, 0.01, 0.02],
            },
        ];
        let p = dir.join("error_bars.png");
        error_bars(
            &p,
            "Final loss vs depth",
            "depth",
            "final loss (mean ± std)",
            true,
            &series,
        )
        .unwrap();
        assert_png(&p, (1000, 650));
        let (size, buf) = error_bars_buffer("t", "depth", "loss", true, &series).unwrap();
        assert_rich(size, &buf, 100);

        let bad = vec![ErrorSeries {
            label: "ResMLP".into(),
            xs: depths.clone(),
            mean: vec![0.0, f64::NAN, 3e8, -1.0],
            err: vec![f64::INFINITY, 1.0, 1e8, 0.5],
        }];
        let p = dir.join("error_bars_bad.png");
        error_bars(&p, "Robustness", "depth", "loss", true, &bad).unwrap();
        assert_png(&p, (1000, 650));
        let p = dir.join("error_bars_empty.png");
        error_bars(&p, "Empty", "depth", "loss", false, &[]).unwrap();
        assert_eq!(png_size(&p), (1000, 650));
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let cases: Vec<(bool, Vec<f64>, Vec<f64>)> = vec![
            (false, vec![0.0, 1.0], vec![1e300, -1e300]),
            (false, vec![0.0, 1.0], vec![f64::MAX, f64::MIN]),
            (true, vec![0.0, 1.0], vec![1e-300, 1e300]),
            (true, vec![0.0, 1.0], vec![5e-324, 1.0]),
            (true, vec![3.0, 3.0, 3.0], vec![2.0, 2.0, 2.0]),
            (
                false,
                vec![f64::NAN, 1.0, f64::INFINITY],
                vec![1.0, f64::NAN, 2.0],
            ),
            (true, vec![0.0, 1.0, 2.0], vec![-1.0, -2.0, -3.0]),
            (false, vec![], vec![]),
        ];
        let (_keep, dir) = out_dir();
        for (i, (log_y, xs, ys)) in cases.into_iter().enumerate() {
            let n = ys.len();
            let panel = Panel {
                title: "extreme".into(),
                log_y,
                bands: vec![Band {
                    label: "ResMLP".into(),
                    xs: xs.clone(),
                    mean: ys.clone(),
                    std: vec![-1.0; n],
                    n: 3,
                }],
                curves: vec![Curve {
                    label: "theory".into(),
                    xs: xs.clone(),
                    ys: ys.clone(),
                }],
                notes: vec!["a very long caller note that has to be wrapped over several lines because it is far wider than the plot area of a single panel".into(); 12],
                ..Default::default()
            };
            let p = dir.join(format!("extreme_{i}.png"));
            bands_figure(&p, "extreme", &[panel]).unwrap();
            assert_eq!(png_size(&p), (1000, 650));
            let series = [ErrorSeries {
                label: "x".into(),
                xs: xs.clone(),
                mean: ys.clone(),
                err: vec![f64::NAN; n],
            }];
            error_bars_buffer("extreme", "x", "y", log_y, &series).unwrap();
            let pairs = Pairs {
                points: xs
                    .iter()
                    .zip(&ys)
                    .map(|(x, y)| (*x, *y, String::new()))
                    .collect(),
                ..Default::default()
            };
            scatter_buffer("extreme", &[("g".into(), pairs)]).unwrap();
            let heat = Heat {
                title: "extreme".into(),
                layers: 2,
                steps: xs.clone(),
                values: ys.iter().map(|y| vec![*y; 2]).collect(),
                notes: vec![],
            };
            heatmap_buffer("extreme", &heat, &heat, "v").unwrap();
        }
    }

    #[test]
    fn write_png_is_atomic_and_creates_dirs() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("nested/dir/fig.png");
        error_bars(&p, "x", "x", "y", false, &[]).unwrap();
        assert!(p.exists());
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
