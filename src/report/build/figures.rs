//! The figure sections of `report.md`: one function per figure, each preparing the
//! figure's data from the tables, drawing it through [`Report::figure`] (which writes the
//! file and its link) and writing its reading (numbers from the same data).
//!
//! To add a figure: write `fn my_figure(report: &mut Report, …) -> anyhow::Result<()>`
//! here (heading, `report.figure("my_figure.png", "Alt text", |path| plots::…)`, then the
//! bullet points that read it) and call it from [`write`] in the order it should appear.

mod flow;
mod loss;
mod overlay;
mod paired;
mod units;

use super::data::{bands_by, f64s, geo_bands_by, values_by, LayerFrames, Line};
use super::Report;
use crate::analysis::compare::Comparison;
use crate::analysis::stats;
use crate::report::plots::{self, Band, Curve, ErrorSeries, Panel};
use crate::report::theory;
use overlay::{activation_gaps, activation_predictions, gradient_gaps, theory_curves};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the figure sections read besides the lines.
pub(super) struct FigureInputs<'a> {
    /// The steps table's rows, with their line (`group`) column.
    pub(super) steps: DataFrame,
    /// The layers table's rows, read once.
    pub(super) layers: &'a LayerFrames,
    /// Activation std at initialisation per layer, one band per line (shared with the
    /// results table).
    pub(super) act_std_init: &'a [Band],
    /// The fairness comparison, when there was one.
    pub(super) comparison: Option<&'a Comparison>,
    /// Final eval loss of each row of the runs table.
    pub(super) final_loss: &'a [f64],
    /// Whether `depth` is an axis of the sweep.
    pub(super) depth_axis: bool,
}

/// The "Figures" section: every figure that applies, in order.
pub(super) fn write(
    report: &mut Report,
    lines: &[Line],
    f: &FigureInputs<'_>,
) -> anyhow::Result<()> {
    let _ = writeln!(report.md, "## Figures\n");
    loss::loss(report, lines, &f.steps)?;
    loss::loss_decomposition(report, lines, &f.steps)?;
    gradients(report, lines, f.layers)?;
    activations(report, lines, f.layers, f.act_std_init)?;
    flow::gradient_flow(report, lines, f.layers)?;
    units::sparsity_and_dead_units(report, lines, f.layers)?;
    units::activity_histogram(report, lines, f.layers)?;
    paired::paired_seeds(report, f.comparison)?;
    if f.depth_axis {
        depth(report, lines, f.final_loss)?;
    }
    Ok(())
}

/// One note per line with diverged seeds.
fn diverged_notes(lines: &[Line]) -> Vec<String> {
    lines
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

/// Mean and std of a band at `x`, if present.
fn at(b: &Band, x: f64) -> Option<(f64, f64)> {
    b.xs.iter()
        .position(|&v| v == x)
        .map(|i| (b.mean[i], b.std[i]))
}

/// x, mean and std of a band's last point.
fn last(b: &Band) -> Option<(f64, f64, f64)> {
    let i = b.xs.len().checked_sub(1)?;
    Some((b.xs[i], b.mean[i], b.std[i]))
}

/// How far the PlainMLP gradient theory may sit from the seeds' median at a layer for the
/// report to say it holds there; beyond it the curve is read as an expectation only and
/// the seeds' 10–90% range is drawn beside it.
const GRAD_THEORY_TOLERANCE: f64 = 0.2;

/// The PlainMLP gradient theory of one line against its seeds at initialisation.
struct GradCheck {
    /// Line index.
    line: usize,
    /// Layers `1..=depth` compared (underflowed layers left out).
    layers: Vec<usize>,
    /// Layers left out because f32 cannot represent their gradients.
    underflowed: Vec<usize>,
    /// theory / seeds' median at each compared layer.
    ratios: Vec<f64>,
    /// theory / seeds' root mean square (the estimate of `sqrt(E ||G||^2)`) at each
    /// compared layer.
    rms_ratios: Vec<f64>,
    /// Compared layers whose theory lies within the seeds' 10–90% range.
    in_range: usize,
    /// The seeds' 10%, 50% and 90% quantiles at every layer `1..=depth` (NaN where no value).
    quantiles: [Vec<f64>; 3],
    /// Number of seeds.
    n: usize,
}

impl GradCheck {
    /// Largest `|theory / median - 1|` over the compared layers.
    fn max_dev(&self) -> f64 {
        self.ratios
            .iter()
            .map(|r| (r - 1.0).abs())
            .fold(0.0, f64::max)
    }

    /// Whether the theory is within [`GRAD_THEORY_TOLERANCE`] of the median at every
    /// compared layer.
    fn holds(&self) -> bool {
        !self.layers.is_empty() && self.max_dev() <= GRAD_THEORY_TOLERANCE
    }
}

/// One note per geometric-mean band that is 0 somewhere: a seed's value was exactly 0
/// there, by f32 underflow when that line's runs underflowed.
fn zero_notes(bands: &[Band], underflow: &[bool]) -> Vec<String> {
    bands
        .iter()
        .zip(underflow)
        .filter(|(b, _)| b.mean.contains(&0.0))
        .map(|(b, uf)| {
            format!(
                "{}: 0 in at least one seed at {} layers{}",
                b.label,
                b.mean.iter().filter(|m| **m == 0.0).count(),
                if *uf { " (f32 underflow)" } else { "" }
            )
        })
        .collect()
}

/// Per line: whether any seed's pre-activations underflowed f32 in `frame`'s rows (false
/// for runs recorded before underflow was measured).
fn underflowed(lines: &[Line], frame: &DataFrame) -> anyhow::Result<Vec<bool>> {
    if frame.column("underflow").is_err() {
        return Ok(vec![false; lines.len()]);
    }
    Ok(values_by(frame, "layer", "underflow", lines)?
        .iter()
        .map(|m| m.values().flatten().any(|v| *v > 0.0))
        .collect())
}

/// The PlainMLP gradient theory of a line (when it has one, the default block only):
/// `sqrt(E ||G_l||^2)`.
fn grad_theory(g: &Line) -> Option<Vec<f64>> {
    let default_block = g.variant.is_some_and(|v| v.is_default_block());
    (!g.residual && default_block && g.depth > 0 && g.width > 0 && g.batch_size > 0)
        .then(|| theory::plain_weight_grad_norm(g.depth, g.init_scale, g.batch_size, g.width))
}

/// Compares each PlainMLP line's gradient theory with its seeds' quantiles per layer.
fn grad_checks(lines: &[Line], layers: &LayerFrames) -> anyhow::Result<Vec<GradCheck>> {
    let values = values_by(&layers.init, "layer", "grad_norm", lines)?;
    let mut out = Vec::new();
    for (i, (g, by_layer)) in lines.iter().zip(&values).enumerate() {
        let Some(th) = grad_theory(g) else { continue };
        let mut c = GradCheck {
            line: i,
            layers: vec![],
            underflowed: vec![],
            ratios: vec![],
            rms_ratios: vec![],
            in_range: 0,
            quantiles: [vec![], vec![], vec![]],
            n: 0,
        };
        for (l, &t) in (1..=g.depth).zip(&th) {
            let seeds = by_layer.get(&(l as i64)).map_or(&[][..], Vec::as_slice);
            c.n = c.n.max(seeds.len());
            let q = [0.1, 0.5, 0.9].map(|q| stats::quantile_sorted(seeds, q));
            for (k, v) in q.iter().enumerate() {
                c.quantiles[k].push(*v);
            }
            if theory::f32_underflows(t, g.width) {
                c.underflowed.push(l);
            } else if q[1] > 0.0 && q[1].is_finite() {
                c.layers.push(l);
                c.ratios.push(t / q[1]);
                let ms = seeds.iter().map(|v| v * v).sum::<f64>() / seeds.len() as f64;
                c.rms_ratios.push(t / ms.sqrt());
                c.in_range += usize::from(q[0] <= t && t <= q[2]);
            }
        }
        out.push(c);
    }
    Ok(out)
}

/// "0.97–1.1", or one number when both ends print the same.
fn range_text(lo: f64, hi: f64) -> String {
    let (a, b) = (crate::format::sig(lo, 3), crate::format::sig(hi, 3));
    if a == b {
        a
    } else {
        format!("{a}–{b}")
    }
}

/// "layers 45–50" / "layer 3" / "layers 1, 4".
fn layer_list(ls: &[usize]) -> String {
    match ls {
        [] => String::new(),
        [one] => format!("layer {one}"),
        _ if ls.windows(2).all(|w| w[1] == w[0] + 1) => {
            format!("layers {}–{}", ls[0], ls[ls.len() - 1])
        }
        _ => format!(
            "layers {}",
            ls.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Weight-gradient norm per layer at initialisation (with the PlainMLP theory) and at the
/// end.
fn gradients(report: &mut Report, lines: &[Line], layers: &LayerFrames) -> anyhow::Result<()> {
    let g_init = geo_bands_by(&layers.init, "layer", "grad_norm", lines)?;
    let g_last = geo_bands_by(&layers.last, "layer", "grad_norm", lines)?;
    let mut grad_theory_curves = theory_curves(lines, grad_theory);
    for c in &mut grad_theory_curves {
        if let Some(rest) = c.label.strip_prefix("theory: ") {
            c.label = format!("theory, expectation: {rest}");
        } else if let Some(rest) = c.label.strip_prefix("mean-field theory") {
            c.label = format!("mean-field expectation{rest}");
        }
    }
    let checks = grad_checks(lines, layers)?;
    let (notes_init, notes_last) = (
        zero_notes(&g_init, &underflowed(lines, &layers.init)?),
        zero_notes(&g_last, &underflowed(lines, &layers.last)?),
    );
    let _ = writeln!(report.md, "### Gradients, layer by layer\n");
    report.figure("gradients.png", "Gradient norms", |path| {
        plots::bands_figure(
            path,
            "Weight-gradient norm by layer (geometric mean over seeds, band: 10–90% of seeds)",
            &[
                Panel {
                    title: "At initialisation (step 0)".into(),
                    x_label: "layer (1 = next to the input)".into(),
                    y_label: "||dL/dW||".into(),
                    log_y: true,
                    bands: g_init.clone(),
                    curves: grad_theory_curves,
                    notes: notes_init,
                },
                Panel {
                    title: "At the end (last probe)".into(),
                    x_label: "layer (1 = next to the input)".into(),
                    y_label: "||dL/dW||".into(),
                    log_y: true,
                    bands: g_last,
                    curves: vec![],
                    notes: notes_last,
                },
            ],
        )
    })?;
    let underflow = underflowed(lines, &layers.init)?;
    let md = &mut report.md;
    for (b, uf) in g_init.iter().zip(&underflow) {
        if let (Some((first, _)), Some((_, lastv, _))) = (at(b, 1.0), last(b)) {
            let value = |v: f64| {
                if v != 0.0 {
                    crate::format::value(v)
                } else if *uf {
                    "0 (exactly 0 in at least one seed, whose forward pass underflowed f32: underflow, not a measured gradient)".into()
                } else {
                    "0 (exactly 0 in at least one seed)".into()
                }
            };
            let _ = writeln!(
                md,
                "- **{}**: at initialisation the weight gradient (geometric mean over seeds) is {} at layer 1 and {} at layer {}.",
                b.label,
                value(first),
                value(lastv),
                b.xs.len()
            );
        }
    }
    if let Some(gap) = gradient_gaps(lines) {
        let _ = writeln!(md, "- {gap}");
    }
    let _ = writeln!(md);
    if !checks.is_empty() {
        gradient_theory(report, lines, &checks)?;
    }
    Ok(())
}

/// The PlainMLP gradient at init against its mean-field expectation: one panel per line
/// with the seeds' median and 10–90% range beside the theory, and the agreement read out.
fn gradient_theory(
    report: &mut Report,
    lines: &[Line],
    checks: &[GradCheck],
) -> anyhow::Result<()> {
    let _ = writeln!(report.md, "### Gradient theory at initialisation\n");
    let panels: Vec<Panel> = checks
        .iter()
        .map(|c| {
            let g = &lines[c.line];
            let [p10, p50, p90] = c.quantiles.clone();
            let xs: Vec<f64> = (1..=p50.len()).map(|l| l as f64).collect();
            let notes = if c.underflowed.is_empty() {
                vec![]
            } else {
                vec![format!(
                    "{}: below f32's normal range, not compared",
                    layer_list(&c.underflowed)
                )]
            };
            Panel {
                title: if g.label.contains("depth=") {
                    g.label.clone()
                } else {
                    format!("{}, depth {}", g.label, g.depth)
                },
                x_label: "layer (1 = next to the input)".into(),
                y_label: "||dL/dW|| at init".into(),
                log_y: true,
                bands: vec![Band {
                    label: format!("{}: seeds' median, 10–90% range", g.arm()),
                    xs: xs.clone(),
                    std: vec![0.0; p50.len()],
                    mean: p50,
                    n: c.n,
                    range: Some((p10, p90)),
                }],
                curves: vec![Curve {
                    label: "mean-field theory: sqrt(E ||G||²)".into(),
                    xs,
                    ys: grad_theory(g).unwrap_or_default(),
                }],
                notes,
            }
        })
        .collect();
    report.figure("gradient_theory.png", "PlainMLP gradient theory", |path| {
        plots::bands_figure(
            path,
            "PlainMLP weight gradient at init: seeds' median and 10–90% range against the mean-field expectation",
            &panels,
        )
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "The dashed line is the mean-field prediction for the PlainMLP, `sqrt(E ||G_l||²)` over weights and \
         inputs: `E ||G_l||² = (4/B) [P_l q_(l−1) + (B − 1) (R_l k_(l−1) + R_l' k_(l−1)' / n)]`, a sum over pairs \
         of examples (derivation in the theory module). The output error keeps its mean: a ReLU output has mean \
         `sqrt(qL/π)` for every example, so the masked error moment is `P_L = qL + q0/2` on the diagonal and \
         `R_L = k_L ≥ qL/π` between two examples — common to the whole batch, it does not average out. Going down, \
         the error part `x_L` keeps a component along each layer's own output, so `P_l = ((L − l + 1) qL + q0/2) s^(2(L−l))`. \
         At `s = 1/sqrt(L)` every layer gets about `sqrt(2 q0² / B) · s^(L−1)`; at `s = 1` the gradient rises \
         from layer 1 and falls again near the output. The shaded band is the seeds' 10–90% range around their \
         median (solid).\n"
    );
    for c in checks {
        let g = &lines[c.line];
        let span = |v: &[f64]| {
            v.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
                    (a.min(r), b.max(r))
                })
        };
        let (lo, hi) = span(&c.ratios);
        let (rlo, rhi) = span(&c.rms_ratios);
        let mut text = if c.layers.is_empty() {
            "no layer can be compared".to_string()
        } else if c.holds() {
            format!(
                "the theory is within {}% of the seeds' median at every layer (theory/median {}, n = {})",
                crate::format::sig(100.0 * c.max_dev(), 2),
                range_text(lo, hi),
                c.n
            )
        } else {
            format!(
                "the theory is an expectation, not the typical seed: theory/median is {} over the \
                 layers, theory/root-mean-square over seeds {}, and the theory lies inside the \
                 seeds' 10–90% range at {} of {} layers (n = {}). Per-seed gradients are heavy-tailed — finite-width fluctuations compound over depth \
                 (here depth/width = {}) — so the median sits below the mean, and the mean of a few seeds \
                 usually does too (it misses the rare large seeds; the theory's checks against 64 seeds are in the \
                 README)",
                range_text(lo, hi),
                range_text(rlo, rhi),
                c.in_range,
                c.layers.len(),
                c.n,
                crate::format::sig(g.depth as f64 / g.width as f64, 2)
            )
        };
        if !c.underflowed.is_empty() {
            let _ = write!(
                text,
                "; {} left out: their predicted gradient entries are below f32's smallest normal number, so f32 \
                 loses or flushes them",
                layer_list(&c.underflowed)
            );
        }
        let _ = writeln!(md, "- **{}**: {text}.", g.label);
    }
    let _ = writeln!(md);
    Ok(())
}

/// Mean and std of each layer's output at initialisation (with the mean-field theory) and
/// at the end.
fn activations(
    report: &mut Report,
    lines: &[Line],
    layers: &LayerFrames,
    act_std_init: &[Band],
) -> anyhow::Result<()> {
    let a_mean_init = bands_by(&layers.init, "layer", "act_mean", lines)?;
    let a_std_init = geo_bands_by(&layers.init, "layer", "act_std", lines)?;
    let split = layers.init.column("input_std").is_ok();
    let geo = |frame: &DataFrame, value: &str| -> anyhow::Result<Vec<Band>> {
        if split {
            geo_bands_by(frame, "layer", value, lines)
        } else {
            Ok(vec![])
        }
    };
    let (input_init, offset_init) = (
        geo(&layers.init, "input_std")?,
        geo(&layers.init, "unit_offset")?,
    );
    let (input_last, offset_last) = (
        geo(&layers.last, "input_std")?,
        geo(&layers.last, "unit_offset")?,
    );
    let mean_theory = theory_curves(lines, |g| {
        activation_predictions(g).map(|p| p.iter().skip(1).map(|p| p.mean).collect())
    });
    let std_theory = theory_curves(lines, |g| {
        activation_predictions(g).map(|p| p.iter().skip(1).map(|p| p.std).collect())
    });
    // A log axis, unless some mean is negative (an odd activation such as tanh, a linear
    // layer): then the values are drawn as they are, on a linear axis.
    let panel = |title: &str, y: &str, bands: Vec<Band>, curves: Vec<Curve>| Panel {
        title: title.into(),
        x_label: "layer".into(),
        y_label: y.into(),
        log_y: !bands
            .iter()
            .flat_map(|b| b.mean.iter())
            .any(|v| v.is_finite() && *v < 0.0),
        bands,
        curves,
        notes: vec![],
    };
    let mut panels = vec![
        panel(
            "Mean of the layer output, at init (mean ± std over seeds)",
            "mean",
            a_mean_init,
            mean_theory,
        ),
        panel(
            "Std of the layer output over inputs and units, at init",
            "std",
            a_std_init,
            std_theory,
        ),
    ];
    if split {
        panels.extend([
            panel(
                "Across-input std (mean over units), at init",
                "std over inputs",
                input_init.clone(),
                vec![],
            ),
            panel(
                "Per-unit offset (std of unit means), at init",
                "std of unit means",
                offset_init.clone(),
                vec![],
            ),
            panel(
                "Across-input std, at the end",
                "std over inputs",
                input_last.clone(),
                vec![],
            ),
            panel(
                "Per-unit offset, at the end",
                "std of unit means",
                offset_last.clone(),
                vec![],
            ),
        ]);
    }
    let _ = writeln!(report.md, "### Activations, layer by layer\n");
    report.figure("activations.png", "Activations", |path| {
        plots::bands_figure(
            path,
            "Layer outputs: how the signal travels (geometric mean over seeds, band: 10–90%; dashed: mean-field theory)",
            &panels,
        )
    })?;
    let underflow = underflowed(lines, &layers.init)?;
    let md = &mut report.md;
    for (i, (g, b)) in lines.iter().zip(act_std_init).enumerate() {
        if let Some((_, lastv, _)) = last(b) {
            let predicted = match activation_predictions(g).and_then(|p| p.last().copied()) {
                Some(p) => format!("mean-field prediction {}", crate::format::value(p.std)),
                None => "no mean-field prediction".into(),
            };
            let mut text = format!(
                "- **{}**: the output std of layer {} at initialisation is {}{} (mean over seeds; {})",
                b.label,
                b.xs.len(),
                crate::format::value(lastv),
                if lastv == 0.0 && underflow[i] {
                    ": f32 underflow, the signal fell below ~1.2e-38 and was flushed to 0"
                } else {
                    ""
                },
                predicted
            );
            let end = |v: &[Band]| v.get(i).and_then(last).map(|(_, m, _)| m);
            if let (Some(inp), Some(off)) = (end(&input_init), end(&offset_init)) {
                let _ = write!(
                    text,
                    "; over the eval inputs its across-input std is {} and its per-unit offset {} (geometric means over seeds): only the across-input part can carry information about the input",
                    crate::format::value(inp),
                    crate::format::value(off)
                );
                if let (Some(inp1), Some(off1)) = (end(&input_last), end(&offset_last)) {
                    let _ = write!(
                        text,
                        "; at the end {} and {}",
                        crate::format::value(inp1),
                        crate::format::value(off1)
                    );
                }
            }
            let _ = writeln!(md, "{text}.");
        }
    }
    for gap in activation_gaps(lines) {
        let _ = writeln!(md, "- {gap}");
    }
    let _ = writeln!(md);
    Ok(())
}

/// Final eval loss against depth, one error-bar series per line without its depth.
fn depth(report: &mut Report, lines: &[Line], final_loss: &[f64]) -> anyhow::Result<()> {
    let mut series: BTreeMap<String, ErrorSeries> = BTreeMap::new();
    for g in lines {
        let vals = g.values(final_loss);
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
    let _ = writeln!(report.md, "### Depth\n");
    report.figure("depth.png", "Final loss against depth", |path| {
        plots::error_bars(
            path,
            "Final eval loss against depth (mean ± std over seeds)",
            "depth",
            "final eval loss",
            true,
            &series,
        )
    })?;
    let md = &mut report.md;
    for s in &series {
        let points: Vec<String> =
            s.xs.iter()
                .zip(&s.mean)
                .map(|(d, m)| format!("{d}: {}", crate::format::value(*m)))
                .collect();
        let _ = writeln!(md, "- **{}**: {}.", s.label, points.join(", "));
    }
    let _ = writeln!(md);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lists_and_ranges_read_naturally() {
        assert_eq!(layer_list(&[]), "");
        assert_eq!(layer_list(&[3]), "layer 3");
        assert_eq!(layer_list(&[45, 46, 47]), "layers 45–47");
        assert_eq!(layer_list(&[1, 4]), "layers 1, 4");
        assert_eq!(range_text(0.9731, 0.9732), "0.973");
        assert_eq!(range_text(0.9, 1.13), "0.9–1.13");
    }

    #[test]
    fn the_gradient_theory_holds_only_within_the_tolerance_at_every_layer() {
        let check = |ratios: Vec<f64>| GradCheck {
            line: 0,
            layers: (1..=ratios.len()).collect(),
            underflowed: vec![],
            rms_ratios: ratios.clone(),
            ratios,
            in_range: 0,
            quantiles: [vec![], vec![], vec![]],
            n: 5,
        };
        assert!(check(vec![0.85, 1.0, 1.19]).holds());
        assert!(!check(vec![1.0, 1.25]).holds());
        assert!(!check(vec![]).holds(), "nothing compared is not agreement");
        assert!((check(vec![0.7, 1.1]).max_dev() - 0.3).abs() < 1e-12);
    }
}
