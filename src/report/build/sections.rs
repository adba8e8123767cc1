//! The text sections of `report.md` that are not figures: the question and setup, the
//! fairness audit, the results table over seeds, and how to reproduce the report. Each
//! section appends its markdown to the report; the figure sections are in
//! [`super::figures`].

use super::data::{distinct, f64s, Line};
use super::Sweep;
use crate::analysis::compare::{self, CompareSpec, Comparison};
use crate::analysis::stats;
use crate::config::SETTING_NAMES;
use crate::report::plots::Band;
use crate::sweep::AxisValue;
use polars::prelude::DataFrame;
use std::fmt::Write as _;

/// `mean ± std`, both as the summary writes values.
pub(super) fn pm(m: f64, s: f64) -> String {
    format!("{} ± {}", crate::format::value(m), crate::format::value(s))
}

/// `v` joined by ", ", or `none` when it is empty.
fn joined_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.into()
    } else {
        v.join(", ")
    }
}

/// The metric columns of the runs table the report uses, each read once (empty when it
/// cannot be read, so every value of it is NaN).
pub(super) struct RunColumns {
    /// `initial_eval_loss`.
    pub(super) initial_loss: Vec<f64>,
    /// `final_eval_loss`.
    pub(super) final_loss: Vec<f64>,
    /// `loss_reduction` (final / initial).
    pub(super) loss_reduction: Vec<f64>,
    /// `grad_norm_first_init`: the weight-gradient norm of layer 1 at initialisation.
    pub(super) grad_first: Vec<f64>,
    /// `grad_norm_last_init`: the weight-gradient norm of layer L at initialisation.
    pub(super) grad_last: Vec<f64>,
}

impl RunColumns {
    /// Reads the columns from the runs table.
    pub(super) fn read(runs: &DataFrame) -> Self {
        let column = |name: &str| f64s(runs, name).unwrap_or_default();
        RunColumns {
            initial_loss: column("initial_eval_loss"),
            final_loss: column("final_eval_loss"),
            loss_reduction: column("loss_reduction"),
            grad_first: column("grad_norm_first_init"),
            grad_last: column("grad_norm_last_init"),
        }
    }
}

/// The title, the question, the sweep's description and the setup: what each run does,
/// every setting (fixed or axis) and the run counts.
pub(super) fn title(md: &mut String, sweep: &Sweep<'_>) {
    let _ = writeln!(md, "# resweep report: `{}`\n", sweep.spec.name);
    let _ = writeln!(
        md,
        "> **Did the residual connection help, or was the comparison unfair?** A PlainMLP \
         (`x = relu(Wx+b)`) and a ResMLP (`x = x + relu(Wx+b)`) are trained to reproduce their \
         input (the *Distant Identity* task: `x ~ U(-1,1)^width`, target `x`, MSE).\n"
    );
}

/// The setup: the sweep's description and settings.
pub(super) fn setup(md: &mut String, sweep: &Sweep<'_>) {
    let spec = &sweep.spec;
    if let Some(d) = &spec.description {
        let _ = writeln!(md, "{d}\n");
    }
    let _ = writeln!(md, "## Setup\n");
    let b = &spec.base;
    let configs = spec.expand().unwrap_or_default();
    let d = crate::config::RunConfig::default();
    let original_model = configs.iter().all(|c| {
        c.weight_init == d.weight_init
            && c.bias_init == d.bias_init
            && crate::experiment::model::Block::of(c).fused()
    });
    let model = if original_model {
        "`depth` layers of `width x width` with bias, Kaiming-He normal init \
         (std `init_scale * sqrt(2/width)`), zero bias"
    } else {
        "`depth` layers of `width x width` with bias; weights drawn by `weight_init` \
         times `init_scale`, biases by `bias_init`, every layer's non-linearity `activation` \
         (the last layer's too unless `output_relu` is false), a LayerNorm before each \
         linear map when `norm` is `layernorm`, and for a ResMLP each branch scaled by \
         `branch_scale` and, with `gate = rezero`, by a learned gate starting at \
         `gate_init` (the values of this sweep's runs are in the table)"
    };
    let _ = writeln!(
        md,
        "Each run: {model}; a fresh batch of `batch_size` samples every \
         step; a fixed held-out eval batch of `eval_size` samples; {} for `steps` steps. Layer `l`'s \
         initial draws depend only on (seed, l) and step `t`'s batch only on (seed, t), so both arms \
         of a seed start from the same draws and see the same data.\n",
        if b.optimizer == crate::config::OptimizerKind::Adam { "Adam (0.9, 0.999, eps 1e-8, no weight decay)" } else { "SGD with momentum" }
    );
    let _ = writeln!(md, "| setting | value |\n|---|---|");
    // The values the runs really have (an [[include]] may give some runs another value
    // than the fixed one), in natural order.
    let arm_axis = if sweep.has("residual") {
        Some("residual")
    } else {
        sweep.axes.iter().map(String::as_str).find(|a| *a != "seed")
    };
    for name in SETTING_NAMES {
        let _ = writeln!(
            md,
            "| `{name}` | {} |",
            setup_value(spec, &configs, arm_axis, name)
        );
    }
    let _ = writeln!(
        md,
        "\nRuns: {}. The frozen sweep file is [`sweep.toml`](sweep.toml); every number below is \
         read back from [`tables/`](tables/) (parquet).\n",
        sweep.collected.status_line()
    );
}

/// The fairness audit: the comparison along `residual` (or the first axis but `seed`)
/// of the final eval loss, rendered by [`compare::render::render_markdown`]. Returns the
/// comparison for the paired-seeds figure.
pub(super) fn fairness(md: &mut String, sweep: &Sweep<'_>) -> Option<Comparison> {
    let _ = writeln!(md, "## Fairness audit\n");
    let axes = &sweep.axes;
    let runs = &sweep.collected.runs;
    let compare_axis = if sweep.has("residual") {
        Some("residual".to_string())
    } else {
        axes.iter().find(|a| a.as_str() != "seed").cloned()
    };
    match (&compare_axis, runs.height()) {
        (Some(axis), h) if h > 0 => {
            let spec_c = CompareSpec {
                axis: axis.clone(),
                metric: "final_eval_loss".into(),
                baseline: None,
                lower_is_better: true,
            };
            match compare::compare(runs, axes, &spec_c) {
                Ok(c) => {
                    let _ = writeln!(md, "{}", compare::render::render_markdown(&c));
                    Some(c)
                }
                Err(e) => {
                    let _ = writeln!(md, "No comparison along `{axis}`: {e:#}\n");
                    None
                }
            }
        }
        _ => {
            let _ = writeln!(md, "This sweep has no axis to compare along (besides seeds), so there is no pair to audit.\n");
            None
        }
    }
}

/// The results table: one row per line, mean ± sample std over seeds of the losses and
/// the gradient norms at initialisation, and the range over layers of the activation std
/// at initialisation (`act_std_init`, one band per line; empty when there are no runs).
pub(super) fn results(
    md: &mut String,
    lines: &[Line],
    columns: &RunColumns,
    act_std_init: &[Band],
) {
    let _ = writeln!(md, "## Results over seeds\n");
    let _ = writeln!(md, "Mean ± sample std over seeds (n per row); gradient norms are of the weight gradient at initialisation.\n");
    let _ = writeln!(
        md,
        "| group | n | initial eval loss | final eval loss | final / initial | grad norm, layer 1 | grad norm, layer L | activation std at init, min–max over layers |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (gi, g) in lines.iter().enumerate() {
        // The mean and sample std that `stats::summarize` would report, without its bootstrap.
        let s = |v: Vec<f64>| {
            if v.is_empty() {
                "n/a".into()
            } else {
                pm(stats::mean(&v), stats::sample_std(&v))
            }
        };
        let (initial, fin) = (
            g.values(&columns.initial_loss),
            g.values(&columns.final_loss),
        );
        let range = act_std_init.get(gi).map_or("n/a".into(), |b| {
            let finite: Vec<f64> = b.mean.iter().copied().filter(|v| v.is_finite()).collect();
            let (lo, hi) = (
                finite.iter().cloned().fold(f64::INFINITY, f64::min),
                finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            );
            format!(
                "{} – {}",
                crate::format::value(lo),
                crate::format::value(hi)
            )
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            g.label,
            g.runs.len(),
            s(initial),
            s(fin),
            s(g.values(&columns.loss_reduction)),
            s(g.values(&columns.grad_first)),
            s(g.values(&columns.grad_last)),
            range
        );
    }
    let _ = writeln!(md, "\nThe full summary with 95% CIs of the mean per metric (Student t below 20 seeds, each interval naming its method) is in [`tables/summary.md`](tables/summary.md).\n");
}

/// Versions and commits of the runs and of the report, the command line, the determinism
/// guarantee, and the command that reruns the sweep.
pub(super) fn reproducibility(md: &mut String, sweep: &Sweep<'_>, command: &str) {
    let runs = &sweep.collected.runs;
    let _ = writeln!(md, "## Reproducibility\n");
    let versions = distinct(runs, "resweep_version");
    let commits = distinct(runs, "git_commit");
    let _ = writeln!(
        md,
        "- resweep version of the runs: {}",
        joined_or(&versions, "n/a")
    );
    let _ = writeln!(
        md,
        "- git commit of the runs: {}",
        joined_or(&commits, "unknown")
    );
    let _ = writeln!(
        md,
        "- report written by resweep {} (commit {}) on {} with: `{command}`",
        env!("CARGO_PKG_VERSION"),
        option_env!("RESWEEP_GIT_COMMIT").unwrap_or("unknown"),
        crate::store::run_dir::now_rfc3339()
    );
    let _ = writeln!(
        md,
        "- each run's math ran on one thread; same configuration and seed give bitwise-identical metrics whatever the number of parallel jobs"
    );
    let _ = writeln!(
        md,
        "- rerun: `resweep run {}` (complete runs are skipped)",
        sweep.dir.frozen_sweep().display()
    );
}

/// A setting's cell of the setup table: `**axis**: 4, 12, 24`, its one value, or, when
/// include or exclude rules make it differ between runs without being an axis, the real
/// values per arm (`residual=false: 1/sqrt(depth); residual=true: 1`).
fn setup_value(
    spec: &crate::sweep::SweepSpec,
    configs: &[crate::config::RunConfig],
    arm_axis: Option<&str>,
    name: &str,
) -> String {
    let text =
        |c: &crate::config::RunConfig| AxisValue::of(c, name).map_or("?".into(), |v| v.to_string());
    let distinct = |cs: &mut dyn Iterator<Item = &crate::config::RunConfig>| -> Vec<String> {
        natural_values(cs.map(text).collect())
    };
    let all = distinct(&mut configs.iter());
    if spec.axes.iter().any(|a| a.name == name) {
        return format!("**axis**: {}", all.join(", "));
    }
    if arm_axis == Some(name) && all.len() > 1 {
        return format!("**axis** (from include rules): {}", all.join(", "));
    }
    match (all.len(), arm_axis) {
        (0, _) => AxisValue::of(&spec.base, name).map_or("?".into(), |v| v.to_string()),
        (1, _) => all[0].clone(),
        (_, Some(arm)) if arm != name => {
            let arms = natural_values(
                configs
                    .iter()
                    .filter_map(|c| AxisValue::of(c, arm).map(|v| v.to_string()))
                    .collect(),
            );
            let values: Vec<Vec<String>> = arms
                .iter()
                .map(|a| {
                    distinct(
                        &mut configs
                            .iter()
                            .filter(|c| AxisValue::of(c, arm).is_some_and(|v| v.to_string() == *a)),
                    )
                })
                .collect();
            if values.iter().all(|v| *v == values[0]) {
                // The same values in every arm (seeds listed per include rule).
                return format!("**axis** (from include rules): {}", all.join(", "));
            }
            let per_arm: Vec<String> = arms
                .iter()
                .zip(&values)
                .map(|(a, v)| format!("{arm}={a}: {}", v.join(", ")))
                .collect();
            format!(
                "**differs between runs** (include/exclude rules): {}",
                per_arm.join("; ")
            )
        }
        _ => format!(
            "**differs between runs** (include/exclude rules): {}",
            all.join(", ")
        ),
    }
}

/// Distinct values in the order first seen, or in numeric order when all are numbers
/// (depth 4, 12, 24 however the file lists them).
fn natural_values(values: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    if seen.iter().all(|v| v.parse::<f64>().is_ok()) {
        seen.sort_by(|a, b| crate::format::natural_cmp(a, b));
    }
    seen
}
