//! `report.html`: the report as one self-contained, interactive page.
//!
//! The page is report.md itself, rendered to HTML (pulldown-cmark), so its sections,
//! numbers and readings are the markdown's and cannot drift from them. Each figure's image
//! is replaced by interactive charts (uPlot, vendored in `assets/uplot/`) drawn in the
//! browser from the inputs the PNG was drawn from ([`crate::report::plots::capture`]); a
//! figure of a kind without an interactive form keeps its PNG, inlined. Beside the
//! markdown's sections the page adds the fairness audit's pairs, a table of every run and a
//! per-run drill-down (a run's loss curves and its per-layer gradients and activations over
//! time, next to its group's mean).
//!
//! Everything is inlined (scripts, styles, data) and a Content-Security-Policy forbids any
//! request, so the file opens from `file://` with no network. Long curves are thinned for
//! display ([`data::thin`]); tables carry exact values. While the sweep runs
//! ([`Live`]) the page reloads itself; a finished report never does. The same data gives
//! the same bytes.
//!
//! - `mod.rs`: the inputs and the page's skeleton.
//! - `markdown.rs`: report.md to HTML, figures swapped for charts, extra sections inserted.
//! - `data.rs`: the JSON the page's script reads (figures, drill-down series).
//! - `tables.rs`: the runs table and the audit's pairs (HTML, exact sort keys).
//! - `page.js`, `page.css`: the page's script and style.

mod data;
mod escape;
mod markdown;
mod tables;

use crate::analysis::compare::Comparison;
use crate::report::plots::Figure;
use crate::store::write_atomic;
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};

/// uPlot's script and style, vendored (version and licence in `assets/uplot/`).
const UPLOT_JS: &str = include_str!("../../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../../assets/uplot/uPlot.min.css");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// The page may load nothing: scripts and styles are inline, images are `data:` URIs.
const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/// How often a live page reloads itself, in milliseconds.
pub const RELOAD_MS: u64 = 10_000;

/// A figure of report.md as drawn: its file, its markdown link and the inputs its drawing
/// function received (empty when the drawing function offers none).
#[derive(Clone, Debug)]
pub struct DrawnFigure {
    /// The PNG on disk.
    pub path: PathBuf,
    /// The image's link target in report.md (`plots/loss.png`).
    pub link: String,
    /// Its alt text.
    pub alt: String,
    /// The figures drawn into it.
    pub figures: Vec<Figure>,
}

/// One group of runs (every axis but the seed): a line of the figures.
#[derive(Clone, Debug)]
pub struct Group {
    /// Its label (as in the figures' legends and the results table).
    pub label: String,
    /// The label without the depth (the depth figure's series).
    pub depthless: String,
    /// Its depth.
    pub depth: usize,
    /// Its runs.
    pub runs: Vec<String>,
}

/// A sweep that is still running: the page says so and reloads itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    /// Runs of the sweep.
    pub total: usize,
}

/// What the page is made of.
pub struct Input<'a> {
    /// The sweep's name.
    pub sweep: &'a str,
    /// report.md.
    pub md: &'a str,
    /// report.md's figures, in order.
    pub figures: &'a [DrawnFigure],
    /// The groups, in the figures' order.
    pub groups: &'a [Group],
    /// The runs table (one row per complete run).
    pub runs: &'a DataFrame,
    /// The steps table's rows (`run_id`, `step`, `train_loss`, `eval_loss`), when there are runs.
    pub steps: Option<&'a DataFrame>,
    /// The layers table's rows (`run_id`, `step`, `layer`, `grad_norm`, `act_std`, …).
    pub layers: Option<&'a DataFrame>,
    /// The fairness comparison, when there was one.
    pub comparison: Option<&'a Comparison>,
    /// The sweep's axes.
    pub axes: &'a [String],
    /// Set while the sweep runs.
    pub live: Option<Live>,
}

/// Writes the page to `path` (atomically).
pub fn write(path: &Path, input: &Input<'_>) -> anyhow::Result<()> {
    write_atomic(path, render(input)?.as_bytes())?;
    Ok(())
}

/// The page.
pub fn render(input: &Input<'_>) -> anyhow::Result<String> {
    let (body, charts) = markdown::body(input)?;
    let payload = data::payload(input, &charts)?;
    let mut page = String::with_capacity(payload.len() + body.len() + UPLOT_JS.len() + 8192);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
    ));
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(&format!(
        "<title>resweep report: {}</title>\n",
        escape::escape(input.sweep)
    ));
    page.push_str("<style>\n");
    page.push_str(UPLOT_CSS);
    page.push('\n');
    page.push_str(PAGE_CSS);
    page.push_str("</style>\n</head>\n<body>\n");
    if let Some(live) = input.live {
        page.push_str(&format!(
            "<div class=\"live\" id=\"live\">The sweep is running: {} of {} runs are complete. This page is rewritten as runs finish and reloads itself every {} s until the sweep ends.</div>\n",
            input.runs.height(),
            live.total,
            RELOAD_MS / 1000
        ));
    }
    page.push_str("<main id=\"report\">\n");
    page.push_str(&body);
    page.push_str("</main>\n<script type=\"application/json\" id=\"report-data\">");
    page.push_str(&payload);
    page.push_str("</script>\n<script>\n");
    page.push_str(UPLOT_JS);
    page.push_str("\n</script>\n<script>\n");
    page.push_str(PAGE_JS);
    page.push_str("</script>\n</body>\n</html>\n");
    Ok(page)
}

#[cfg(test)]
mod tests;
