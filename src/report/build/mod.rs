//! Assembles a sweep's figures and `report.md`.
//!
//! Where the numbers come from: the runs table is the frame that `collect` built from the
//! runs' files and wrote to `tables/runs.parquet` (handed over as [`Collected::runs`]: the
//! same rows, not read back from disk); the steps and layers tables are read back from
//! `tables/`; the settings come from the frozen `sweep.toml`; the fairness comparison is
//! computed from the runs table. Nothing comes from the memory of a run. The dashed theory
//! curves and the "mean-field prediction" numbers are computed by [`super::theory`].
//!
//! The runs are grouped by the sweep's axes without `seed` into lines (`data::Line`: one
//! line or band of the figures and one row of the results table, aggregated over seeds),
//! drawn by [`super::plots`] and explained in markdown with numbers computed from the same
//! data. Figures adapt to the axes: paired seeds and gradient-flow pairs need a `residual`
//! axis, the depth figure a `depth` axis; a figure that does not apply is not linked and
//! the report says why.
//!
//! The report is a sequence of sections, in the order [`build`] calls them: in
//! `sections.rs` `setup`, `fairness` and `results`; then `figures::write` (`figures.rs`,
//! one function per figure with its reading); then `sections::reproducibility`. A figure
//! is drawn and linked by `Report::figure`, so each figure's file name is written once.

mod data;
mod explain;
mod figures;
mod microworld;
mod probe_data;
mod sections;

use super::{html, plots};
use crate::analysis::tables::Collected;
use crate::store::{write_atomic, SweepDir};
use crate::sweep::SweepSpec;
use polars::prelude::DataFrame;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `build` wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// `report.md`.
    pub report: PathBuf,
    /// `report.html`, beside it.
    pub html: PathBuf,
    /// Every figure written.
    pub figures: Vec<PathBuf>,
}

/// What every section reads: the sweep, its collected tables and its lines.
struct Sweep<'a> {
    /// The sweep directory.
    dir: &'a SweepDir,
    /// The frozen sweep.
    spec: SweepSpec,
    /// The sweep's axis names.
    axes: Vec<String>,
    /// What `collect` found and wrote.
    collected: &'a Collected,
    /// The complete runs grouped by every axis but `seed`.
    lines: Vec<data::Line>,
    /// run_id → line index (see [`data::line_frame`]), to join table rows to lines.
    labels: DataFrame,
}

impl Sweep<'_> {
    /// Whether `axis` is an axis of the sweep.
    fn has(&self, axis: &str) -> bool {
        self.axes.iter().any(|x| x == axis)
    }
}

/// The report being written: its markdown and the figures drawn so far.
struct Report {
    /// `report.md` so far.
    md: String,
    /// The figure directory.
    plots: PathBuf,
    /// The figure directory relative to `report.md`, with `/` separators (for links).
    plots_link: String,
    /// Every figure written, in order.
    figures: Vec<PathBuf>,
    /// Every figure written, with the inputs it was drawn from (for report.html).
    drawn: Vec<html::DrawnFigure>,
}

impl Report {
    /// Draws the figure `file` into the figure directory with `draw` (given its path),
    /// records it, and writes its markdown image `![alt](plots/file)` and a blank line.
    fn figure(
        &mut self,
        file: &str,
        alt: &str,
        draw: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let path = self.plots.join(file);
        let (drawn, figures) = plots::capture(|| draw(&path));
        drawn?;
        let link = format!("{}/{file}", self.plots_link);
        let _ = writeln!(self.md, "![{alt}]({link})\n");
        self.drawn.push(html::DrawnFigure {
            path: path.clone(),
            link,
            alt: alt.to_string(),
            figures,
        });
        self.figures.push(path);
        Ok(())
    }
}

/// `path` relative to `base`, with `/` separators (a markdown link target).
fn relative_link(path: &Path, base: &Path) -> anyhow::Result<String> {
    let rel = path.strip_prefix(base).map_err(|_| {
        anyhow::anyhow!(
            "{} is not inside {}, so report.md cannot link to it",
            path.display(),
            base.display()
        )
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Writes every figure, `report.md` and `report.html`; returns what was written.
/// `command` is the command line that produced the report.
pub fn build(dir: &SweepDir, collected: &Collected, command: &str) -> anyhow::Result<Built> {
    build_with(dir, collected, command, None)
}

/// [`build`], for a sweep that is still running when `live` is set (report.html then
/// says so and reloads itself).
pub fn build_with(
    dir: &SweepDir,
    collected: &Collected,
    command: &str,
    live: Option<html::Live>,
) -> anyhow::Result<Built> {
    let spec = SweepSpec::from_file(&dir.frozen_sweep()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let axes = spec.axis_names();
    let plots_dir = dir.plots();
    std::fs::create_dir_all(&plots_dir)?;
    let report_path = dir.report();
    let plots_link = relative_link(&plots_dir, report_path.parent().unwrap_or(Path::new(".")))?;
    let runs = &collected.runs;
    let lines = if runs.height() > 0 {
        data::lines(runs, &axes)?
    } else {
        Vec::new()
    };
    let labels = data::line_frame(&lines)?;
    let sweep = Sweep {
        dir,
        spec,
        axes,
        collected,
        lines,
        labels,
    };
    let mut report = Report {
        md: String::new(),
        plots: plots_dir,
        plots_link,
        figures: Vec::new(),
        drawn: Vec::new(),
    };

    sections::title(&mut report.md, &sweep);
    let answer_at = report.md.len();
    sections::setup(&mut report.md, &sweep);
    let comparison = sections::fairness(&mut report.md, &sweep);
    let columns = sections::RunColumns::read(runs);
    let layers = if runs.height() > 0 {
        Some(data::layer_frames(dir, &sweep.labels)?)
    } else {
        None
    };
    let act_std_init = match &layers {
        Some(layers) => data::bands_by(&layers.init, "layer", "act_std", &sweep.lines)?,
        None => Vec::new(),
    };
    sections::results(&mut report.md, &sweep.lines, &columns, &act_std_init);
    let mut steps_rows = None;
    match &layers {
        Some(layers) => {
            let steps = data::with_groups(data::scan(dir, "steps")?, &sweep.labels, "step rows")?;
            steps_rows = Some(steps.clone());
            let inputs = figures::FigureInputs {
                steps,
                layers,
                act_std_init: &act_std_init,
                comparison: comparison.as_ref(),
                final_loss: &columns.final_loss,
                depth_axis: sweep.has("depth"),
            };
            figures::write(&mut report, &sweep.lines, &inputs)?;
            microworld::write(&mut report, dir, &sweep.labels, &sweep.lines, layers, runs)?;
        }
        None => {
            let _ = writeln!(
                report.md,
                "No run is complete yet: there is nothing to plot.\n"
            );
        }
    }
    sections::reproducibility(&mut report.md, &sweep, command);
    let mut answer = String::new();
    explain::answer(&mut answer, comparison.as_ref());
    report.md.insert_str(answer_at, &answer);

    write_atomic(&report_path, report.md.as_bytes())?;
    check_links(&report_path, &report.md)?;
    let groups: Vec<html::Group> = sweep
        .lines
        .iter()
        .map(|g| html::Group {
            label: g.label.clone(),
            depthless: g.depthless_label.clone(),
            depth: g.depth,
            runs: g.runs.clone(),
        })
        .collect();
    let html_path = report_path.with_file_name("report.html");
    html::write(
        &html_path,
        &html::Input {
            sweep: &sweep.spec.name,
            md: &report.md,
            figures: &report.drawn,
            groups: &groups,
            runs,
            steps: steps_rows.as_ref(),
            layers: layers.as_ref().map(|l| &l.all),
            comparison: comparison.as_ref(),
            axes: &sweep.axes,
            live,
        },
    )?;
    Ok(Built {
        report: report_path,
        html: html_path,
        figures: report.figures,
    })
}

/// Every relative link of the report must resolve (the figures of earlier reports were
/// broken twice); a dangling link is an error, not a warning.
pub fn check_links(report: &Path, md: &str) -> anyhow::Result<()> {
    let base = report.parent().unwrap_or(Path::new("."));
    for target in links(md) {
        anyhow::ensure!(
            base.join(&target).exists(),
            "report.md links to {target}, which does not exist"
        );
    }
    Ok(())
}

/// The targets of markdown links and images: `[text](target)` / `![alt](target)`.
pub fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let target = &after[..j];
                if !target.contains("://") && !target.is_empty() {
                    out.push(target.to_string());
                }
                rest = &after[j..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_is_drawn_recorded_and_linked_under_one_name() {
        let t = tempfile::tempdir().unwrap();
        let plots = t.path().join("plots");
        std::fs::create_dir_all(&plots).unwrap();
        let mut report = Report {
            md: String::new(),
            plots: plots.clone(),
            plots_link: relative_link(&plots, t.path()).unwrap(),
            figures: Vec::new(),
            drawn: Vec::new(),
        };
        report
            .figure("x.png", "An x", |path| {
                std::fs::write(path, b"png")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(report.md, "![An x](plots/x.png)\n\n");
        assert_eq!(report.figures, [plots.join("x.png")]);
        check_links(&t.path().join("report.md"), &report.md).unwrap();

        // A figure that fails to draw is neither recorded nor linked.
        let failed = report.figure("y.png", "y", |_| anyhow::bail!("cannot draw"));
        assert!(failed.is_err());
        assert_eq!(report.figures.len(), 1);
        assert_eq!(report.md, "![An x](plots/x.png)\n\n");
    }

    #[test]
    fn links_are_relative_and_checked() {
        let md = "[a](x.md) ![b](plots/b.png) [c](https://example.org) []()";
        assert_eq!(links(md), ["x.md", "plots/b.png"]);
        let t = tempfile::tempdir().unwrap();
        let report = t.path().join("report.md");
        let err = check_links(&report, "![b](plots/b.png)").unwrap_err();
        assert!(err.to_string().contains("plots/b.png"), "{err}");
        let nested = t.path().join("a").join("b");
        assert_eq!(relative_link(&nested, t.path()).unwrap(), "a/b");
        assert!(relative_link(Path::new("elsewhere"), t.path()).is_err());
    }
}
