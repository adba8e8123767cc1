//! The loss figures: training and eval loss over steps, and the eval loss split into its
//! constant offset and its input-dependent part.

use super::super::data::{geo_bands_by, Line};
use super::super::sections::pm;
use super::super::Report;
use super::{at, bands_by, diverged_notes, last};
use crate::report::plots::{self, Band, Curve, Panel};
use polars::prelude::*;
use std::fmt::Write as _;

/// A line whose geometric-mean loss exceeds this anywhere gets panels of its own, so its
/// range does not squash the range where the others learn.
const OWN_PANEL_LOSS: f64 = 1e3;

/// The loss of a net that outputs 0 on `x ~ U(-1, 1)`: `E[x²] = 1/3`.
pub(crate) const ZERO_OUTPUT_LOSS: f64 = 1.0 / 3.0;
/// The best loss of a non-negative output (`relu(x)`): `E[x²; x < 0] = 1/6`.
pub(crate) const RELU_FLOOR_LOSS: f64 = 1.0 / 6.0;

/// Whether some PlainMLP line's last layer ends in a ReLU, so its loss has the floor 1/6
/// (the reference line and the sentences about it are drawn only then).
fn relu_floored(lines: &[Line]) -> bool {
    lines.iter().any(|g| {
        !g.residual
            && g.variant
                .is_some_and(|v| v.output_relu && v.activation == crate::config::Activation::Relu)
    })
}

/// Whether every ResMLP line's branches are ReLUs (so they add only non-negative values).
fn relu_branches(lines: &[Line]) -> bool {
    lines.iter().filter(|g| g.residual).all(|g| {
        g.variant
            .is_some_and(|v| v.activation == crate::config::Activation::Relu)
    })
}

/// Indices of the lines whose bands reach [`OWN_PANEL_LOSS`].
fn large_lines(bands: &[Band]) -> Vec<usize> {
    bands
        .iter()
        .enumerate()
        .filter(|(_, b)| b.mean.iter().any(|v| *v > OWN_PANEL_LOSS))
        .map(|(i, _)| i)
        .collect()
}

/// A horizontal dashed reference line over `xs`' range.
fn reference(label: &str, y: f64, bands: &[Band]) -> Option<Curve> {
    let xs = bands.iter().flat_map(|b| b.xs.iter().copied());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    (lo <= hi).then(|| Curve {
        label: label.into(),
        xs: vec![lo, hi],
        ys: vec![y, y],
    })
}

/// Training and eval loss over steps: the seeds' geometric mean with their 10–90% range
/// (losses span decades), lines that explode in panels of their own.
pub(super) fn loss(report: &mut Report, lines: &[Line], steps: &DataFrame) -> anyhow::Result<()> {
    let train = geo_bands_by(steps, "step", "train_loss", lines)?;
    let eval = geo_bands_by(steps, "step", "eval_loss", lines)?;
    let eval_stats = bands_by(steps, "step", "eval_loss", lines)?;
    let large = large_lines(&train)
        .into_iter()
        .chain(large_lines(&eval))
        .collect::<std::collections::BTreeSet<_>>();
    let pick = |bands: &[Band], want_large: bool| -> Vec<Band> {
        bands
            .iter()
            .enumerate()
            .filter(|(i, _)| large.contains(i) == want_large)
            .map(|(_, b)| b.clone())
            .collect()
    };
    let floored = relu_floored(lines);
    let panel = |title: String, bands: Vec<Band>, notes: Vec<String>| Panel {
        curves: [
            ("1/3: outputs 0", ZERO_OUTPUT_LOSS),
            ("1/6: best non-negative output", RELU_FLOOR_LOSS),
        ]
        .iter()
        .filter(|(_, y)| floored || *y != RELU_FLOOR_LOSS)
        .filter_map(|(l, y)| reference(l, *y, &bands))
        .collect(),
        title,
        x_label: "step".into(),
        y_label: "MSE".into(),
        log_y: true,
        bands,
        notes,
    };
    let mut panels = Vec::new();
    for (want_large, suffix) in [(false, ""), (true, " — lines above 1e3")] {
        let (t, e) = (pick(&train, want_large), pick(&eval, want_large));
        if t.is_empty() && e.is_empty() {
            continue;
        }
        let notes = if want_large || large.is_empty() {
            diverged_notes(lines)
        } else {
            vec![]
        };
        panels.push(panel(
            format!("Training loss (fresh batch each step){suffix}"),
            t,
            notes,
        ));
        panels.push(panel(
            format!("Eval loss (fixed held-out batch){suffix}"),
            e,
            vec![],
        ));
    }
    let _ = writeln!(report.md, "### Loss\n");
    report.figure("loss.png", "Loss over training", |path| {
        plots::bands_figure(
            path,
            "Loss over training (geometric mean over seeds, band: 10–90% of seeds)",
            &panels,
        )
    })?;
    let md = &mut report.md;
    for (b, g) in eval_stats.iter().zip(lines) {
        if let (Some((m0, s0)), Some((t, m1, s1))) = (at(b, 0.0), last(b)) {
            if m0 == 0.0 && m1 == 0.0 {
                let why = if g
                    .variant
                    .is_some_and(|v| v.gate == crate::config::Gate::Rezero && v.gate_init == 0.0)
                {
                    "every ReZero gate starts at 0, so the network is exactly the identity and its output is its target; every gradient is then 0 and nothing ever changes: perfect by construction, not by learning"
                } else {
                    "the output equals the target in every seed"
                };
                let _ = writeln!(
                    md,
                    "- **{}** (n = {}): eval loss exactly 0 at step 0 and at step {t}: {why}.",
                    b.label, b.n
                );
                continue;
            }
            let _ = writeln!(
                md,
                "- **{}** (n = {}): eval loss {} at step 0 → {} at step {t} (mean ± std over seeds; ×{}).",
                b.label,
                b.n,
                pm(m0, s0),
                pm(m1, s1),
                crate::format::sig(m1 / m0, 3)
            );
        }
    }
    let _ = write!(md, "\nA net that outputs zero scores `E[x²] = 1/3` here (dashed): a loss stuck near 0.333 means nothing was learned.");
    if floored {
        let _ = write!(md, " A ReLU output cannot go negative, so a PlainMLP whose last layer ends in a ReLU cannot go below 1/6 (dashed grey).");
    }
    let _ = writeln!(md, "\n");
    Ok(())
}

/// The eval loss's constant offset and input-dependent part over steps, one panel per
/// line, with the reference levels 1/3, 1/6 and 0.
pub(super) fn loss_decomposition(
    report: &mut Report,
    lines: &[Line],
    steps: &DataFrame,
) -> anyhow::Result<()> {
    let floored = relu_floored(lines);
    if steps.column("eval_offset").is_err() {
        let _ = writeln!(report.md, "### Eval loss: offset and input-dependent part\n\nNot drawn: these runs were recorded before the eval loss was decomposed.\n");
        return Ok(());
    }
    let offset = bands_by(steps, "step", "eval_offset", lines)?;
    let input = bands_by(steps, "step", "eval_input_dependent", lines)?;
    let eval = bands_by(steps, "step", "eval_loss", lines)?;
    let panels: Vec<Panel> = lines
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let label = |name: &str, b: &Band| Band {
                label: name.into(),
                ..b.clone()
            };
            let bands = vec![
                label("constant offset (squared per-unit mean error)", &offset[i]),
                label("input-dependent part", &input[i]),
            ];
            // Parts spanning decades get a log axis, where 0 cannot be drawn.
            let log_y = bands.iter().any(|b| b.mean.iter().any(|v| *v > 1.0));
            let curves = [
                ("1/3: outputs 0", ZERO_OUTPUT_LOSS),
                ("1/6: best non-negative output", RELU_FLOOR_LOSS),
                ("0: perfect", 0.0),
            ]
            .iter()
            .filter(|(_, y)| !log_y || *y > 0.0)
            .filter(|(_, y)| floored || *y != RELU_FLOOR_LOSS)
            .filter_map(|(l, y)| reference(l, *y, &bands))
            .collect();
            Panel {
                title: format!("{} (n = {})", g.label, g.runs.len()),
                x_label: "step".into(),
                y_label: "part of the eval MSE".into(),
                log_y,
                bands,
                curves,
                notes: if log_y {
                    vec![
                        "log axis (the parts span decades): 0, a perfect fit, lies below it".into(),
                    ]
                } else {
                    vec![]
                },
            }
        })
        .collect();
    let _ = writeln!(
        report.md,
        "### Eval loss: offset and input-dependent part\n"
    );
    report.figure(
        "loss_decomposition.png",
        "Eval loss decomposition",
        |path| {
            plots::bands_figure(
                path,
                "Eval loss = constant offset + input-dependent part (mean ± std over seeds)",
                &panels,
            )
        },
    )?;
    let md = &mut report.md;
    for ((g, o), (inp, e)) in lines.iter().zip(&offset).zip(input.iter().zip(&eval)) {
        let share = |b: &Band, x: f64| at(b, x).map(|(m, _)| m);
        let (Some(o0), Some(e0)) = (share(o, 0.0), share(e, 0.0)) else {
            continue;
        };
        let Some((t, o1, _)) = last(o) else { continue };
        let (Some(i1), Some(e1)) = (share(inp, t), share(e, t)) else {
            continue;
        };
        let _ = writeln!(
            md,
            "- **{}**: at step 0, {}% of the eval loss ({}) is the constant offset ({}); at step {t} the offset is {} and the input-dependent part {} (eval loss {}, {} 1/6).",
            g.label,
            crate::format::sig(100.0 * o0 / e0, 3),
            crate::format::value(e0),
            crate::format::value(o0),
            crate::format::value(o1),
            crate::format::value(i1),
            crate::format::value(e1),
            if e1 < RELU_FLOOR_LOSS { "below" } else { "not below" },
        );
    }
    let _ = write!(
        md,
        "\nThe offset is what the net would still pay if its output were right up to one constant per unit: a large offset that training removes means learning here largely shifts outputs rather than shaping them"
    );
    if relu_branches(lines) && lines.iter().any(|g| g.residual) {
        let _ = write!(md, " (a ResMLP's branches add only non-negative values, so removing its offset means turning branch outputs down or off)");
    }
    let _ = write!(md, ".");
    if floored {
        let _ = write!(md, " A PlainMLP whose output is a ReLU cannot go negative, so its loss cannot go below 1/6.");
    }
    let _ = writeln!(md, "\n");
    Ok(())
}
