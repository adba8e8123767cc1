//! Figures and the report: pure drawing functions (data in, PNG out), the mean-field theory
//! curves drawn beside the measured statistics, and the assembly of `report.md`.
//!
//! # Map
//!
//! - [`plots`]: how to draw. Figure input types in `plots/mod.rs`, one file per figure kind
//!   (`bands.rs`, `error_bars.rs`, `heatmap.rs`, `scatter.rs`) and the shared drawing rooms
//!   (`canvas.rs`, `style.rs`, `ticks.rs`, `notes.rs`, `legend.rs`, `line_panel.rs`). Knows
//!   no tables and no report.
//! - [`theory`]: the mean-field predictions at initialisation.
//! - [`landscape`]: the loss-landscape figure of `resweep landscape` (`plots/landscape.png`).
//! - [`build`]: what to draw and say. `build/mod.rs` runs the sections in order
//!   ([`build::build`]); `build/sections.rs` holds the text sections (setup, fairness audit,
//!   results over seeds, reproducibility); `build/figures.rs` one function per figure with
//!   its reading; `build/data.rs` the tables read as lines (the runs grouped over seeds)
//!   and bands.
//! - [`html`]: `report.html`, report.md rendered as one self-contained interactive page
//!   whose charts are drawn from the same inputs as the PNGs.
//!
//! # Adding a figure
//!
//! 1. If an existing figure kind fits (bands over steps or layers, error bars, a heat-map
//!    pair, a paired scatter), skip to 2. Otherwise add the input type to `plots/mod.rs`
//!    and a file `plots/<kind>.rs` with `pub fn <kind>(path, title, …) -> Result<()>`
//!    (draw with `canvas::render`, write with `canvas::write_png`), re-export it from
//!    `plots/mod.rs`, and add a test to `plots/tests.rs`.
//! 2. In `build/figures.rs`, write `fn my_figure(report: &mut Report, lines, …)`: compute
//!    its data (e.g. `data::bands_by` over a table's rows), write its `### Heading`, call
//!    `report.figure("my_figure.png", "Alt text", |path| plots::…(path, …))` (the one place
//!    the file name is written: it draws, records and links the figure), then the bullet
//!    points that read it.
//! 3. Call it from `figures::write` where it should appear (guard it when it needs an
//!    axis, as the depth figure does).
//!
//! # Adding a report section
//!
//! Write `pub(super) fn my_section(md: &mut String, sweep: &Sweep<'_>, …)` in
//! `build/sections.rs` (it appends markdown; `Sweep` has the spec, axes, collected tables
//! and lines) and call it from `build::build` in the order the report should read. Every
//! relative link it writes is checked to resolve when the report is written.

pub mod build;
pub mod html;
pub mod landscape;
pub mod plots;
pub mod theory;
