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
//!
//! # Where things are
//!
//! This file holds the figure input types ([`Band`], [`Curve`], [`Panel`], [`Heat`],
//! [`Pairs`], [`Diffs`], [`ErrorSeries`]). One file per figure kind holds its public
//! entry function:
//!
//! | figure kind | file | entry |
//! |---|---|---|
//! | bands over steps or layers, with theory curves | `bands.rs` | [`bands_figure`] |
//! | mean ± error bars against x (depth) | `error_bars.rs` | [`error_bars`] |
//! | two heat maps with a shared colour bar | `heatmap.rs` | [`heatmap_pair`] |
//! | paired seeds, arm A against arm B | `scatter.rs` | [`paired_scatter`] |
//! | paired seeds, the per-seed difference B − A with its mean and interval | `difference.rs` | [`paired_differences`] |
//! | square heat maps over 2-D slices, shared colour bar | `landscape.rs` | [`landscape_grid`] |
//!
//! They share the drawing rooms: `canvas.rs` (font, buffer, PNG writing, title strip and
//! panel grid), `style.rs` (sizes, palette, colour scales), `ticks.rs` (number formatting,
//! ticks, axes), `notes.rs` (notes box and "no data"), `legend.rs`, and `line_panel.rs`
//! (the line panel drawn by both `bands.rs` and `error_bars.rs`).
//!
//! Every entry function first offers its inputs to [`capture`] (`capture.rs`), which hands
//! them to report.html when the report is being built, so the interactive chart is drawn
//! from the PNG's own numbers.
//!
//! A new figure kind: add its input type here, a file with `pub fn my_figure(path, …)`
//! that builds a buffer with `canvas::render` and writes it with `canvas::write_png`
//! (draw panels with `line_panel` when they are lines), re-export the function below and
//! add a test in `tests.rs`; add its variant of [`Figure`] and offer its inputs (see
//! `docs/CONTRIBUTING.md`, "Adding a figure").

mod bands;
mod canvas;
mod capture;
mod difference;
mod error_bars;
mod heatmap;
mod landscape;
mod legend;
mod line_panel;
mod notes;
mod scatter;
mod style;
mod ticks;

#[cfg(test)]
mod tests;

pub use bands::bands_figure;
pub use canvas::ensure_font;
pub use capture::{capture, color_scale, colors, Figure};
pub use difference::paired_differences;
pub use error_bars::error_bars;
pub use heatmap::heatmap_pair;
pub use landscape::landscape_grid;
pub use scatter::paired_scatter;
pub use style::FONT_FAMILY;

/// Mean ± std band over seeds, drawn as a line with a semi-transparent band (or, with
/// [`Band::range`], any line with explicit band edges, e.g. the median with quantiles).
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
    /// Explicit `(low, high)` edges of the band at each x, drawn instead of `mean ± std`
    /// (e.g. the seeds' 10% and 90% quantiles around their median in `mean`).
    pub range: Option<(Vec<f64>, Vec<f64>)>,
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
    /// What a grey (NaN) cell means, when the caller knows (e.g. "0 in every seed"): the
    /// colour bar's swatch says so instead of "not finite", and NaN cells get no
    /// automatic note (the caller's notes count them). Infinite cells are still noted.
    pub grey: Option<String>,
}

/// One panel of a [`landscape_grid`]: a value over a square grid of `(a, b)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Field {
    /// Panel title.
    pub title: String,
    /// The coordinates of both axes (increasing, equally spaced).
    pub axis: Vec<f64>,
    /// `values[j * axis.len() + i]` at `a = axis[i]`, `b = axis[j]`, coloured as given
    /// (apply `log10` yourself for a log scale). Non-finite or missing cells are grey.
    pub values: Vec<f64>,
    /// Lines written in the panel's top-left corner.
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

/// Per-seed paired differences for a [`paired_differences`] panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diffs {
    /// y-axis label (e.g. "ResMLP − PlainMLP, final eval loss").
    pub y_label: String,
    /// `(seed label, arm B value − arm A value)`, in the order drawn.
    pub points: Vec<(String, f64)>,
    /// Mean difference (NaN: not drawn).
    pub mean: f64,
    /// `(low, high)` of its interval (either NaN: not drawn).
    pub ci: (f64, f64),
    /// Caller notes, rendered inside the plot area before the automatic ones.
    pub notes: Vec<String>,
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
