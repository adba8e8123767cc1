//! Assembles a sweep's figures and `report.md` from its parquet tables.
//!
//! Everything is read back from `tables/` (never from a run's memory), grouped by the
//! sweep's axes without `seed` (one group = one line or band, aggregated over seeds), drawn
//! by [`super::plots`] and explained in markdown with numbers computed from the same data.
//! Figures adapt to the axes: paired seeds and gradient-flow pairs need a `residual`
//! axis, the depth figure a `depth` axis; a figure that does not apply is not linked and
//! the report says why.

use super::plots::{self, Band, Curve, ErrorSeries, Heat, Pairs, Panel};
use super::theory;
use crate::analysis::compare::{self, cell, CompareSpec, Comparison};
use crate::analysis::stats;
use crate::analysis::summary::fmt_value;
use crate::analysis::tables::{table_path, Collected};
use crate::config::{format_sig, SETTING_NAMES};
use crate::store::{write_atomic, SweepDir};
use crate::sweep::{AxisValue, SweepSpec};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One line of the figures: the runs that share every axis value but the seed.
#[derive(Clone, Debug)]
struct Group {
    label: String,
    /// `label` without the depth: one line of the depth figure.
    depthless_label: String,
    residual: bool,
    depth: usize,
    init_scale: f64,
    batch_size: usize,
    /// Axis values other than `residual`, `depth` and `seed` (for pairing figures).
    others: Vec<(String, String)>,
    runs: Vec<String>,
    /// Row of each run in the runs table.
    rows: Vec<usize>,
    diverged: usize,
}

impl Group {
    /// The arm's name: "ResMLP" or "PlainMLP".
    fn arm(&self) -> &'static str {
        arm_name(self.residual)
    }

    /// This group's values of a runs-table column (NaN where the column has no row).
    fn values(&self, column: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .map(|&i| column.get(i).copied().unwrap_or(f64::NAN))
            .collect()
    }
}

fn arm_name(residual: bool) -> &'static str {
    if residual {
        "ResMLP"
    } else {
        "PlainMLP"
    }
}

/// "`arm`, a=1, b=2", or the arm alone when there are no other axis values.
fn arm_label(arm: &str, parts: &[String]) -> String {
    if parts.is_empty() {
        arm.to_string()
    } else {
        format!("{arm}, {}", parts.join(", "))
    }
}

/// `v` joined by ", ", or `none` when it is empty.
fn joined_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.into()
    } else {
        v.join(", ")
    }
}

/// What `build` wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// `report.md`.
    pub report: PathBuf,
    /// Every figure written.
    pub figures: Vec<PathBuf>,
}

fn pl<T>(r: PolarsResult<T>, what: &str) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

fn scan(dir: &SweepDir, table: &str) -> anyhow::Result<LazyFrame> {
    let path = table_path(dir, table);
    let p = pl(PlRefPath::try_from_path(&path), "table path")?;
    pl(
        LazyFrame::scan_parquet(p, ScanArgsParquet::default()),
        &format!("reading {}", path.display()),
    )
}

fn f64s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<f64>> {
    let c = pl(df.column(name), name)?;
    let c = pl(c.cast(&DataType::Float64), name)?;
    Ok(pl(c.f64(), name)?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

fn u32s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<u32>> {
    let c = pl(df.column(name), name)?;
    let c = pl(c.cast(&DataType::UInt32), name)?;
    Ok(pl(c.u32(), name)?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Groups the complete runs by every axis but `seed`, in a stable order.
fn groups(runs: &DataFrame, axes: &[String]) -> anyhow::Result<Vec<Group>> {
    let col = |n: &str| pl(runs.column(n), n);
    let (ids, residual, depth, scale, batch, status) = (
        col("run_id")?,
        col("residual")?,
        col("depth")?,
        col("init_scale")?,
        col("batch_size")?,
        col("status")?,
    );
    let group_axes: Vec<&String> = axes.iter().filter(|a| a.as_str() != "seed").collect();
    let mut by_key: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for i in 0..runs.height() {
        let res = cell(residual, i)? == "true";
        let mut key = Vec::new();
        let mut parts = Vec::new();
        let mut others = Vec::new();
        for a in &group_axes {
            let source = if a.as_str() == "init_scale" {
                "init_scale_expr"
            } else {
                a.as_str()
            };
            let v = cell(col(source)?, i)?;
            key.push(format!("{a}={v}"));
            if a.as_str() != "residual" {
                parts.push(format!("{a}={v}"));
                if a.as_str() != "depth" {
                    others.push((a.to_string(), v));
                }
            }
        }
        let arm = arm_name(res);
        let g = by_key.entry(key).or_insert_with(|| Group {
            label: arm_label(arm, &parts),
            depthless_label: arm_label(
                arm,
                &others
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
            ),
            residual: res,
            depth: cell(depth, i)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            init_scale: cell(scale, i)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN),
            batch_size: cell(batch, i)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            others,
            runs: Vec::new(),
            rows: Vec::new(),
            diverged: 0,
        });
        g.runs.push(cell(ids, i)?);
        g.rows.push(i);
        if cell(status, i)? == "diverged" {
            g.diverged += 1;
        }
    }
    let mut out: Vec<Group> = by_key.into_values().collect();
    out.sort_by(|a, b| (&a.others, a.depth, a.residual).cmp(&(&b.others, b.depth, b.residual)));
    Ok(out)
}

/// A frame mapping run_id to its group index, for joins.
fn group_frame(groups: &[Group]) -> anyhow::Result<DataFrame> {
    let mut ids = Vec::new();
    let mut idx = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for r in &group.runs {
            ids.push(r.clone());
            idx.push(g as u32);
        }
    }
    let n = ids.len();
    pl(
        DataFrame::new(
            n,
            vec![
                Column::new("run_id".into(), ids),
                Column::new("group".into(), idx),
            ],
        ),
        "group frame",
    )
}

/// The rows of `lf` (rows with run_id) that belong to a group, with their `group` column.
fn with_groups(lf: LazyFrame, labels: &DataFrame, what: &str) -> anyhow::Result<DataFrame> {
    pl(
        lf.join(
            labels.clone().lazy(),
            [col("run_id")],
            [col("run_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .collect(),
        what,
    )
}

/// Mean and std over seeds of `value` per group and `x`, from `grouped` (rows with their
/// `group`, see [`with_groups`]).
fn bands_by(
    grouped: &DataFrame,
    x: &str,
    value: &str,
    groups: &[Group],
) -> anyhow::Result<Vec<Band>> {
    let df = pl(
        grouped
            .clone()
            .lazy()
            .filter(col(value).is_not_null())
            .group_by([col("group"), col(x)])
            .agg([
                col(value).mean().alias("mean"),
                col(value).std(1).alias("std"),
                col(value).count().alias("n"),
            ])
            .sort(
                [PlSmallStr::from("group"), PlSmallStr::from(x)],
                SortMultipleOptions::default(),
            )
            .collect(),
        "aggregating over seeds",
    )?;
    let (g, xs, mean, std, n) = (
        u32s(&df, "group")?,
        f64s(&df, x)?,
        f64s(&df, "mean")?,
        f64s(&df, "std")?,
        u32s(&df, "n")?,
    );
    let mut bands: Vec<Band> = groups
        .iter()
        .map(|gr| Band {
            label: gr.label.clone(),
            n: gr.runs.len(),
            ..Band::default()
        })
        .collect();
    for i in 0..df.height() {
        let b = &mut bands[g[i] as usize];
        b.xs.push(xs[i]);
        b.mean.push(mean[i]);
        b.std.push(if n[i] > 1 { std[i] } else { 0.0 });
    }
    Ok(bands)
}

/// The layer rows of the groups' runs (see [`with_groups`]), read once.
struct LayerFrames {
    /// Every probe.
    all: DataFrame,
    /// Step 0.
    init: DataFrame,
    /// Each run's last probe.
    last: DataFrame,
}

/// Reads the layers table once and keeps the rows each figure needs (see [`LayerFrames`]).
fn layer_frames(dir: &SweepDir, labels: &DataFrame) -> anyhow::Result<LayerFrames> {
    let layers = pl(scan(dir, "layers")?.collect(), "reading the layers table")?.lazy();
    let init = layers.clone().filter(col("step").eq(lit(0i64)));
    let last_step = pl(col("step").max().over([col("run_id")]), "last probe step")?;
    let last = layers.clone().filter(col("step").eq(last_step));
    Ok(LayerFrames {
        all: with_groups(layers, labels, "layer rows")?,
        init: with_groups(init, labels, "layer rows at step 0")?,
        last: with_groups(last, labels, "layer rows at the last probe")?,
    })
}

fn theory_curves(groups: &[Group], f: impl Fn(&Group) -> Option<Vec<f64>>) -> Vec<Curve> {
    let mut seen = Vec::new();
    let mut curves = Vec::new();
    for g in groups {
        let key = (g.residual, g.depth, format_sig(g.init_scale, 6));
        if seen.contains(&key) {
            continue;
        }
        if let Some(ys) = f(g) {
            seen.push(key);
            curves.push(Curve {
                label: format!(
                    "theory: {}, depth {}, scale {}",
                    g.arm(),
                    g.depth,
                    format_sig(g.init_scale, 3)
                ),
                xs: (1..=ys.len()).map(|l| l as f64).collect(),
                ys,
            });
        }
    }
    // Many groups: one legend entry for all theory curves instead of one each.
    if curves.len() > 4 {
        for (i, c) in curves.iter_mut().enumerate() {
            c.label = if i == 0 {
                "mean-field theory, one dashed curve per group".into()
            } else {
                String::new()
            };
        }
    }
    curves
}

fn diverged_notes(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g.diverged > 0)
        .map(|g| {
            format!(
                "{}: {} of {} seeds diverged (their curves stop there)",
                g.label,
                g.diverged,
                g.runs.len()
            )
        })
        .collect()
}

/// Value at `x` of a band, if present.
fn at(b: &Band, x: f64) -> Option<(f64, f64)> {
    b.xs.iter()
        .position(|&v| v == x)
        .map(|i| (b.mean[i], b.std[i]))
}

fn last(b: &Band) -> Option<(f64, f64, f64)> {
    let i = b.xs.len().checked_sub(1)?;
    Some((b.xs[i], b.mean[i], b.std[i]))
}

fn pm(m: f64, s: f64) -> String {
    format!("{} ± {}", fmt_value(m), fmt_value(s))
}

/// Writes every figure and `report.md`; returns what was written. `command` is the
/// command line that produced the report.
pub fn build(dir: &SweepDir, collected: &Collected, command: &str) -> anyhow::Result<Built> {
    let spec = SweepSpec::from_file(&dir.frozen_sweep()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let axes = spec.axis_names();
    let plots_dir = dir.plots();
    std::fs::create_dir_all(&plots_dir)?;
    let mut md = String::new();
    let mut figures = Vec::new();

    let runs = &collected.runs;
    let groups = if runs.height() > 0 {
        groups(runs, &axes)?
    } else {
        Vec::new()
    };
    let labels = group_frame(&groups)?;
    let has = |a: &str| axes.iter().any(|x| x == a);

    // --- Question and setup -----------------------------------------------------------
    let _ = writeln!(md, "# resweep report: `{}`\n", spec.name);
    let _ = writeln!(
        md,
        "> **Did the residual connection help, or was the comparison unfair?** A PlainMLP \
         (`x = relu(Wx+b)`) and a ResMLP (`x = x + relu(Wx+b)`) are trained to reproduce their \
         input (the *Distant Identity* task: `x ~ U(-1,1)^width`, target `x`, MSE).\n"
    );
    if let Some(d) = &spec.description {
        let _ = writeln!(md, "{d}\n");
    }
    let _ = writeln!(md, "## Setup\n");
    let b = &spec.base;
    let _ = writeln!(
        md,
        "Each run: `depth` layers of `width x width` with bias, Kaiming-He normal init \
         (std `init_scale * sqrt(2/width)`), zero bias; a fresh batch of `batch_size` samples every \
         step; a fixed held-out eval batch of `eval_size` samples; {} for `steps` steps. Layer `l`'s \
         initial draws depend only on (seed, l) and step `t`'s batch only on (seed, t), so both arms \
         of a seed start from the same draws and see the same data.\n",
        if b.optimizer == crate::config::OptimizerKind::Adam { "Adam (0.9, 0.999, eps 1e-8, no weight decay)" } else { "SGD with momentum" }
    );
    let _ = writeln!(md, "| setting | value |\n|---|---|");
    for name in SETTING_NAMES {
        match spec.axes.iter().find(|a| a.name == *name) {
            Some(axis) => {
                let values: Vec<String> = axis.values.iter().map(|v| v.to_string()).collect();
                let _ = writeln!(md, "| `{name}` | **axis**: {} |", values.join(", "));
            }
            None => {
                let v = AxisValue::of(b, name).map_or("?".into(), |v| v.to_string());
                let _ = writeln!(md, "| `{name}` | {v} |");
            }
        }
    }
    let _ = writeln!(
        md,
        "\nRuns: {}. The frozen sweep file is [`sweep.toml`](sweep.toml); every number below is \
         read back from [`tables/`](tables/) (parquet).\n",
        collected.status_line()
    );

    // --- Fairness ---------------------------------------------------------------------
    let _ = writeln!(md, "## Fairness audit\n");
    let compare_axis = if has("residual") {
        Some("residual".to_string())
    } else {
        axes.iter().find(|a| a.as_str() != "seed").cloned()
    };
    let comparison: Option<Comparison> = match (&compare_axis, runs.height()) {
        (Some(axis), h) if h > 0 => {
            let spec_c = CompareSpec {
                axis: axis.clone(),
                metric: "final_eval_loss".into(),
                baseline: None,
                lower_is_better: true,
            };
            match compare::compare(runs, &axes, &spec_c) {
                Ok(c) => {
                    let _ = writeln!(md, "{}", compare::render_markdown(&c));
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
    };

    // --- Summary table ----------------------------------------------------------------
    let _ = writeln!(md, "## Results over seeds\n");
    let _ = writeln!(md, "Mean ± sample std over seeds (n per row); gradient norms are of the weight gradient at initialisation.\n");
    let _ = writeln!(
        md,
        "| group | n | initial eval loss | final eval loss | final / initial | improvement (initial / final) | grad norm, layer 1 | grad norm, layer L | activation std at init, min–max over layers |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    // Each metric column of the runs table, read once (empty when it cannot be read, so
    // every value of it is NaN).
    let column = |name: &str| f64s(runs, name).unwrap_or_default();
    let initial_loss = column("initial_eval_loss");
    let final_loss = column("final_eval_loss");
    let loss_reduction = column("loss_reduction");
    let grad_first = column("grad_norm_first_init");
    let grad_last = column("grad_norm_last_init");
    let frames = if runs.height() > 0 {
        Some(layer_frames(dir, &labels)?)
    } else {
        None
    };
    let act_std_init = match &frames {
        Some(layers) => bands_by(&layers.init, "layer", "act_std", &groups)?,
        None => Vec::new(),
    };
    for (gi, g) in groups.iter().enumerate() {
        // The mean and sample std that `stats::summarize` would report, without its bootstrap.
        let s = |v: Vec<f64>| {
            if v.is_empty() {
                "n/a".into()
            } else {
                pm(stats::mean(&v), stats::sample_std(&v))
            }
        };
        let (initial, fin) = (g.values(&initial_loss), g.values(&final_loss));
        let ratio: Vec<f64> = initial.iter().zip(&fin).map(|(i, f)| i / f).collect();
        let range = act_std_init.get(gi).map_or("n/a".into(), |b| {
            let finite: Vec<f64> = b.mean.iter().copied().filter(|v| v.is_finite()).collect();
            let (lo, hi) = (
                finite.iter().cloned().fold(f64::INFINITY, f64::min),
                finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            );
            format!("{} – {}", fmt_value(lo), fmt_value(hi))
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.label,
            g.runs.len(),
            s(initial),
            s(fin),
            s(g.values(&loss_reduction)),
            s(ratio),
            s(g.values(&grad_first)),
            s(g.values(&grad_last)),
            range
        );
    }
    let _ = writeln!(md, "\nThe full summary with 95% bootstrap CIs per metric is in [`tables/summary.md`](tables/summary.md).\n");

    if let Some(layers) = frames {
        let _ = writeln!(md, "## Figures\n");
        // (a) Loss curves.
        let steps = with_groups(scan(dir, "steps")?, &labels, "step rows")?;
        let train = bands_by(&steps, "step", "train_loss", &groups)?;
        let eval = bands_by(&steps, "step", "eval_loss", &groups)?;
        let path = plots_dir.join("loss.png");
        plots::bands_figure(
            &path,
            "Loss over training (mean ± std over seeds)",
            &[
                Panel {
                    title: "Training loss (fresh batch each step)".into(),
                    x_label: "step".into(),
                    y_label: "MSE".into(),
                    log_y: true,
                    bands: train.clone(),
                    curves: vec![],
                    notes: diverged_notes(&groups),
                },
                Panel {
                    title: "Eval loss (fixed held-out batch)".into(),
                    x_label: "step".into(),
                    y_label: "MSE".into(),
                    log_y: true,
                    bands: eval.clone(),
                    curves: vec![],
                    notes: vec![],
                },
            ],
        )?;
        figures.push(path);
        let _ = writeln!(md, "### Loss\n\n![Loss over training](plots/loss.png)\n");
        for b in &eval {
            if let (Some((m0, s0)), Some((t, m1, s1))) = (at(b, 0.0), last(b)) {
                let _ = writeln!(
                    md,
                    "- **{}** (n = {}): eval loss {} at step 0 → {} at step {t} (×{}).",
                    b.label,
                    b.n,
                    pm(m0, s0),
                    pm(m1, s1),
                    format_sig(m1 / m0, 3)
                );
            }
        }
        let _ = writeln!(md, "\nA net that outputs zero scores `E[x²] = 1/3` here: a loss stuck near 0.333 means nothing was learned.\n");

        // (b) Gradient norms per layer.
        let g_init = bands_by(&layers.init, "layer", "grad_norm", &groups)?;
        let g_last = bands_by(&layers.last, "layer", "grad_norm", &groups)?;
        let grad_theory = theory_curves(&groups, |g| {
            (!g.residual && g.depth > 0)
                .then(|| theory::plain_weight_grad_norm(g.depth, g.init_scale, g.batch_size.max(1)))
        });
        let path = plots_dir.join("gradients.png");
        plots::bands_figure(
            &path,
            "Weight-gradient norm by layer (mean ± std over seeds)",
            &[
                Panel {
                    title: "At initialisation (step 0)".into(),
                    x_label: "layer (1 = next to the input)".into(),
                    y_label: "||dL/dW||".into(),
                    log_y: true,
                    bands: g_init.clone(),
                    curves: grad_theory,
                    notes: vec![],
                },
                Panel {
                    title: "At the end (last probe)".into(),
                    x_label: "layer (1 = next to the input)".into(),
                    y_label: "||dL/dW||".into(),
                    log_y: true,
                    bands: g_last,
                    curves: vec![],
                    notes: vec![],
                },
            ],
        )?;
        figures.push(path);
        let _ = writeln!(
            md,
            "### Gradients, layer by layer\n\n![Gradient norms](plots/gradients.png)\n"
        );
        for b in &g_init {
            if let (Some((first, _)), Some((_, lastv, _))) = (at(b, 1.0), last(b)) {
                let _ = writeln!(
                    md,
                    "- **{}**: at initialisation the weight gradient is {} at layer 1 and {} at layer {}.",
                    b.label,
                    fmt_value(first),
                    fmt_value(lastv),
                    b.xs.len()
                );
            }
        }
        let _ = writeln!(
            md,
            "\nThe dashed line is the mean-field prediction for the PlainMLP, `||G|| = sqrt(2 q0 (qL + q0) / B) · s^(L−1)`: \
             flat across layers, and vanishingly small when `s < 1`.\n"
        );

        // (c) Activations.
        let a_mean_init = bands_by(&layers.init, "layer", "act_mean", &groups)?;
        let a_mean_last = bands_by(&layers.last, "layer", "act_mean", &groups)?;
        let a_std_last = bands_by(&layers.last, "layer", "act_std", &groups)?;
        let predictions = |g: &Group| {
            if g.residual {
                theory::res_layer_predictions(g.depth, g.init_scale)
            } else {
                theory::plain_layer_predictions(g.depth, g.init_scale)
            }
        };
        let mean_theory = theory_curves(&groups, |g| {
            Some(predictions(g).iter().skip(1).map(|p| p.mean).collect())
        });
        let std_theory = theory_curves(&groups, |g| {
            Some(predictions(g).iter().skip(1).map(|p| p.std).collect())
        });
        let panel = |title: &str, y: &str, bands: Vec<Band>, curves: Vec<Curve>| Panel {
            title: title.into(),
            x_label: "layer".into(),
            y_label: y.into(),
            log_y: true,
            bands,
            curves,
            notes: vec![],
        };
        let path = plots_dir.join("activations.png");
        plots::bands_figure(
            &path,
            "Layer outputs: how the signal travels (mean ± std over seeds; dashed: mean-field theory)",
            &[
                panel("Mean of the layer output, at init", "mean", a_mean_init, mean_theory),
                panel("Std of the layer output, at init", "std", act_std_init.clone(), std_theory),
                panel("Mean of the layer output, at the end", "mean", a_mean_last, vec![]),
                panel("Std of the layer output, at the end", "std", a_std_last, vec![]),
            ],
        )?;
        figures.push(path);
        let _ = writeln!(
            md,
            "### Activations, layer by layer\n\n![Activations](plots/activations.png)\n"
        );
        for (g, b) in groups.iter().zip(&act_std_init) {
            if let Some((_, lastv, _)) = last(b) {
                let predicted = predictions(g).last().map_or(f64::NAN, |p| p.std);
                let _ = writeln!(
                    md,
                    "- **{}**: the output std of layer {} at initialisation is {} (mean-field prediction {}).",
                    b.label,
                    b.xs.len(),
                    fmt_value(lastv),
                    fmt_value(predicted)
                );
            }
        }
        let _ = writeln!(md);

        // (d) Gradient flow heat maps.
        let heat = pl(
            layers
                .all
                .clone()
                .lazy()
                .with_column(col("grad_norm").log(lit(10.0)).alias("lg"))
                .group_by([col("group"), col("step"), col("layer")])
                .agg([col("lg").mean().alias("lg")])
                .sort(["group", "step", "layer"], SortMultipleOptions::default())
                .collect(),
            "gradient flow",
        )?;
        let (hg, hs, hl, hv) = (
            u32s(&heat, "group")?,
            f64s(&heat, "step")?,
            u32s(&heat, "layer")?,
            f64s(&heat, "lg")?,
        );
        let heat_of = |gi: usize| -> Heat {
            let g = &groups[gi];
            let mut steps: Vec<f64> = Vec::new();
            let mut values: Vec<Vec<f64>> = Vec::new();
            for i in 0..heat.height() {
                if hg[i] as usize != gi {
                    continue;
                }
                if steps.last() != Some(&hs[i]) {
                    steps.push(hs[i]);
                    values.push(vec![f64::NAN; g.depth]);
                }
                if let Some(slot) = values
                    .last_mut()
                    .and_then(|row| row.get_mut(hl[i] as usize - 1))
                {
                    *slot = hv[i];
                }
            }
            Heat {
                title: format!("{} (n = {})", g.label, g.runs.len()),
                layers: g.depth,
                steps,
                values,
                notes: vec![],
            }
        };
        // Pair each PlainMLP group with the ResMLP group of the same other axes.
        let mut pairs_done = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if g.residual {
                continue;
            }
            if let Some(j) = groups
                .iter()
                .position(|h| h.residual && h.others == g.others && h.depth == g.depth)
            {
                pairs_done.push((i, Some(j)));
            } else {
                pairs_done.push((i, None));
            }
        }
        for (j, g) in groups.iter().enumerate() {
            if g.residual && !pairs_done.iter().any(|(_, r)| *r == Some(j)) {
                pairs_done.push((j, None));
            }
        }
        let _ = writeln!(md, "### Gradient flow\n");
        for (k, (i, j)) in pairs_done.iter().enumerate() {
            let name = if pairs_done.len() == 1 {
                "gradient_flow.png".to_string()
            } else {
                format!("gradient_flow_{}.png", k + 1)
            };
            let path = plots_dir.join(&name);
            let left = heat_of(*i);
            let right = match j {
                Some(j) => heat_of(*j),
                None => Heat {
                    title: "no matching arm in this sweep".into(),
                    layers: groups[*i].depth,
                    notes: vec!["this sweep has no run of the other arm with these settings".into()],
                    ..Heat::default()
                },
            };
            plots::heatmap_pair(
                &path,
                "Gradient flow: log10 of the weight-gradient norm (mean over seeds)",
                &left,
                &right,
                "log10 ||dL/dW||",
            )?;
            figures.push(path);
            let _ = writeln!(md, "![Gradient flow {}](plots/{name})\n", k + 1);
        }
        let _ = writeln!(
            md,
            "Each cell is one layer (rows, layer 1 at the bottom) at one probe step (columns). Grey cells \
             are layers whose gradient was exactly zero (or not finite) in at least one seed: no signal at all reached those weights.\n"
        );

        // (e) Dead units.
        let d_init = bands_by(&layers.init, "layer", "dead_frac", &groups)?;
        let d_last = bands_by(&layers.last, "layer", "dead_frac", &groups)?;
        let path = plots_dir.join("dead_units.png");
        let dead_panel = |title: &str, bands: Vec<Band>| Panel {
            title: title.into(),
            x_label: "layer".into(),
            y_label: "fraction of ReLU outputs = 0".into(),
            log_y: false,
            bands,
            curves: vec![],
            notes: vec![],
        };
        plots::bands_figure(
            &path,
            "Inactive ReLU outputs by layer (mean ± std over seeds)",
            &[
                dead_panel("At initialisation", d_init.clone()),
                dead_panel("At the end", d_last.clone()),
            ],
        )?;
        figures.push(path);
        let _ = writeln!(
            md,
            "### Dead units\n\n![Dead units](plots/dead_units.png)\n"
        );
        for (a, b) in d_init.iter().zip(&d_last) {
            let avg = |b: &Band| b.mean.iter().sum::<f64>() / b.mean.len().max(1) as f64;
            let _ = writeln!(
                md,
                "- **{}**: on average {:.0}% of ReLU outputs are zero at initialisation and {:.0}% at the end.",
                a.label,
                100.0 * avg(a),
                100.0 * avg(b)
            );
        }
        let _ = writeln!(md);

        // (f) Paired seeds.
        match comparison.as_ref().filter(|c| c.axis == "residual") {
            Some(c) => {
                let panels: Vec<(String, Pairs)> = c
                    .strata
                    .iter()
                    .map(|st| {
                        (
                            st.label(),
                            Pairs {
                                x_label: format!("final eval loss, residual = {}", c.baseline),
                                y_label: format!("final eval loss, residual = {}", st.arm),
                                points: st
                                    .pairs
                                    .iter()
                                    .map(|p| (p.a, p.b, format!("seed {}", p.seed)))
                                    .collect(),
                            },
                        )
                    })
                    .collect();
                let path = plots_dir.join("paired_seeds.png");
                plots::paired_scatter(
                    &path,
                    "Paired seeds: PlainMLP (x) vs ResMLP (y), final eval loss",
                    &panels,
                )?;
                figures.push(path);
                let _ = writeln!(
                    md,
                    "### Paired seeds\n\n![Paired seeds](plots/paired_seeds.png)\n"
                );
                for st in &c.strata {
                    if let Some(p) = &st.stats {
                        let _ = writeln!(
                            md,
                            "- **{}**: the ResMLP has the lower final eval loss in {} of {} seeds; mean paired difference {} (95% CI [{}, {}]).",
                            st.label(),
                            p.wins_b,
                            p.n,
                            fmt_value(p.mean_diff),
                            fmt_value(p.diff_ci_low),
                            fmt_value(p.diff_ci_high)
                        );
                    }
                }
                let _ = writeln!(
                    md,
                    "\nPoints below the diagonal are seeds where the ResMLP ended lower.\n"
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "### Paired seeds\n\nNot drawn: `residual` is not an axis of this sweep.\n"
                );
            }
        }

        // (g) Depth.
        if has("depth") {
            let mut series: BTreeMap<String, ErrorSeries> = BTreeMap::new();
            for g in &groups {
                let vals = g.values(&final_loss);
                if !vals.is_empty() {
                    let (mean, std) = (stats::mean(&vals), stats::sample_std(&vals));
                    let label = &g.depthless_label;
                    let e = series.entry(label.clone()).or_insert_with(|| ErrorSeries {
                        label: label.clone(),
                        ..ErrorSeries::default()
                    });
                    e.xs.push(g.depth as f64);
                    e.mean.push(mean);
                    e.err.push(if std.is_finite() { std } else { 0.0 });
                }
            }
            let series: Vec<ErrorSeries> = series.into_values().collect();
            let path = plots_dir.join("depth.png");
            plots::error_bars(
                &path,
                "Final eval loss against depth (mean ± std over seeds)",
                "depth",
                "final eval loss",
                true,
                &series,
            )?;
            figures.push(path);
            let _ = writeln!(
                md,
                "### Depth\n\n![Final loss against depth](plots/depth.png)\n"
            );
            for s in &series {
                let points: Vec<String> =
                    s.xs.iter()
                        .zip(&s.mean)
                        .map(|(d, m)| format!("{d}: {}", fmt_value(*m)))
                        .collect();
                let _ = writeln!(md, "- **{}**: {}.", s.label, points.join(", "));
            }
            let _ = writeln!(md);
        }
    } else {
        let _ = writeln!(md, "No run is complete yet: there is nothing to plot.\n");
    }

    // --- Reproducibility ----------------------------------------------------------------
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
        dir.frozen_sweep().display()
    );

    let report = dir.report();
    write_atomic(&report, md.as_bytes())?;
    check_links(&report, &md)?;
    Ok(Built { report, figures })
}

fn distinct(df: &DataFrame, name: &str) -> Vec<String> {
    let Ok(c) = df.column(name) else {
        return Vec::new();
    };
    let mut v: Vec<String> = (0..df.height())
        .filter_map(|i| cell(c, i).ok())
        .filter(|s| s != "null")
        .collect();
    v.sort();
    v.dedup();
    v
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
