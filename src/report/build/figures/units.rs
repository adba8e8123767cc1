//! The unit figures: sparsity (ReLU outputs that are 0) against true dead units (off for
//! every eval input) and f32 underflow, and the per-unit activity histogram.

use super::super::data::{pl, quantile_bands_by, u32s, LayerFrames, Line};
use super::super::Report;
use crate::analysis::stats;
use crate::report::plots::{self, Band, Panel};
use polars::prelude::*;
use std::fmt::Write as _;

/// Whether the layers table has the unit statistics (runs recorded before them do not).
fn has_units(layers: &LayerFrames) -> bool {
    layers.init.column("dead_units").is_ok()
}

/// The mean of the finite values of a band's centre line.
fn avg(b: &Band) -> f64 {
    let v: Vec<f64> = b.mean.iter().copied().filter(|v| v.is_finite()).collect();
    stats::mean(&v)
}

/// Layers (x) whose band centre is exactly `y` (e.g. every seed underflowed).
fn layers_at(b: &Band, y: f64) -> Vec<usize> {
    b.xs.iter()
        .zip(&b.mean)
        .filter(|(_, m)| **m == y)
        .map(|(x, _)| *x as usize)
        .collect()
}

/// Sparsity, dead units and underflow per layer, at initialisation and at the end.
pub(super) fn sparsity_and_dead_units(
    report: &mut Report,
    lines: &[Line],
    layers: &LayerFrames,
) -> anyhow::Result<()> {
    let _ = writeln!(report.md, "### Sparsity, dead units and underflow\n");
    let band = |frame: &DataFrame, value: &str| {
        quantile_bands_by(frame, "layer", value, lines, stats::mean)
    };
    let s_init = band(&layers.init, "sparsity")?;
    let s_last = band(&layers.last, "sparsity")?;
    if !has_units(layers) {
        let _ = writeln!(report.md, "Dead units and underflow are not drawn: these runs were recorded before they were measured.\n");
        return Ok(());
    }
    let d_init = band(&layers.init, "dead_units")?;
    let d_last = band(&layers.last, "dead_units")?;
    let u_init = band(&layers.init, "underflow")?;
    let u_last = band(&layers.last, "underflow")?;
    let panel = |title: &str, y: &str, bands: &[Band]| Panel {
        title: title.into(),
        x_label: "layer".into(),
        y_label: y.into(),
        log_y: false,
        bands: bands.to_vec(),
        curves: vec![],
        notes: vec![],
    };
    report.figure("dead_units.png", "Sparsity, dead units and underflow", |path| {
        plots::bands_figure(
            path,
            "Sparsity vs dead units vs underflow by layer (mean over seeds, band: 10–90% of seeds)",
            &[
                panel("Sparsity at init: ReLU outputs = 0", "fraction of outputs", &s_init),
                panel("Sparsity at the end", "fraction of outputs", &s_last),
                panel("Dead units at init: off for every eval input", "fraction of units", &d_init),
                panel("Dead units at the end", "fraction of units", &d_last),
                panel("Underflow at init: pre-activation exactly 0 (f32)", "fraction of pre-activations", &u_init),
                panel("Underflow at the end", "fraction of pre-activations", &u_last),
            ],
        )
    })?;
    let md = &mut report.md;
    for (i, g) in lines.iter().enumerate() {
        let pct = |v: f64| format!("{}%", crate::format::sig(100.0 * v, 2));
        let max_dead = d_last[i].mean.iter().copied().fold(0.0, f64::max);
        let mut text = format!(
            "- **{}**: sparsity (ReLU outputs = 0, averaged over layers) {} at initialisation and {} at the end; dead units {} and {} (at most {} in a layer at the end)",
            g.label,
            pct(avg(&s_init[i])),
            pct(avg(&s_last[i])),
            pct(avg(&d_init[i])),
            pct(avg(&d_last[i])),
            pct(max_dead),
        );
        for (when, u) in [("initialisation", &u_init[i]), ("the end", &u_last[i])] {
            if avg(u) > 0.0 {
                let all = layers_at(u, 1.0);
                let _ = write!(
                    text,
                    "; at {when} {} of pre-activations (averaged over layers) underflowed f32 to exactly 0{}: those zeros, and units \"dead\" through them, are underflow, not ReLU sparsity",
                    pct(avg(u)),
                    if all.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", every one of them in {} of every seed",
                            super::layer_list(&all)
                        )
                    }
                );
            }
        }
        let _ = writeln!(md, "{text}.");
    }
    let _ = writeln!(
        md,
        "\nSparsity is the fraction of a layer's ReLU outputs that are zero on a batch; a unit is dead only when it is off for every one of the eval inputs, so no gradient reaches its weights through them. Underflow counts pre-activations that are exactly 0: real inputs never give that by chance, f32 flushing values below ~1.2e-38 to zero does.\n"
    );
    Ok(())
}

/// Per-unit activity: the fraction of units by the share of eval inputs they are on for,
/// averaged over layers, at initialisation and at the end.
pub(super) fn activity_histogram(
    report: &mut Report,
    lines: &[Line],
    layers: &LayerFrames,
) -> anyhow::Result<()> {
    if !has_units(layers) {
        return Ok(());
    }
    let bins = crate::experiment::units::ACTIVITY_BINS;
    let histogram = |frame: &DataFrame| -> anyhow::Result<Vec<Band>> {
        // Per run: each bin averaged over layers; then over seeds.
        let per_run = pl(
            frame
                .clone()
                .lazy()
                .filter(col("activity_0").is_not_null())
                .group_by([col("group"), col("run_id")])
                .agg(
                    (0..bins)
                        .map(|k| col(format!("activity_{k}")).mean())
                        .collect::<Vec<_>>(),
                )
                .sort(["group", "run_id"], SortMultipleOptions::default())
                .collect(),
            "activity histogram",
        )?;
        let g = u32s(&per_run, "group")?;
        let cols: Vec<Vec<f64>> = (0..bins)
            .map(|k| super::f64s(&per_run, &format!("activity_{k}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(lines
            .iter()
            .enumerate()
            .map(|(li, line)| {
                let mut b = Band {
                    label: line.label.clone(),
                    n: line.runs.len(),
                    ..Band::default()
                };
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                for (k, col) in cols.iter().enumerate() {
                    let mut seeds: Vec<f64> = g
                        .iter()
                        .zip(col)
                        .filter(|(gi, v)| **gi as usize == li && v.is_finite())
                        .map(|(_, v)| *v)
                        .collect();
                    if seeds.is_empty() {
                        continue;
                    }
                    seeds.sort_by(f64::total_cmp);
                    b.xs.push((k as f64 + 0.5) / bins as f64);
                    b.mean.push(stats::mean(&seeds));
                    b.std.push(0.0);
                    lo.push(stats::quantile_sorted(&seeds, 0.1));
                    hi.push(stats::quantile_sorted(&seeds, 0.9));
                }
                b.range = Some((lo, hi));
                b
            })
            .collect())
    };
    let (h_init, h_last) = (histogram(&layers.init)?, histogram(&layers.last)?);
    let panel = |title: &str, bands: &[Band]| Panel {
        title: title.into(),
        x_label: "share of eval inputs the unit is on for (bin centre)".into(),
        y_label: "fraction of units".into(),
        log_y: false,
        bands: bands.to_vec(),
        curves: vec![],
        notes: vec![],
    };
    let _ = writeln!(report.md, "### Per-unit activity\n");
    report.figure("unit_activity.png", "Per-unit activity histogram", |path| {
        plots::bands_figure(
            path,
            "How often each unit is on: histogram over units, averaged over layers (mean over seeds, band: 10–90%)",
            &[panel("At initialisation", &h_init), panel("At the end", &h_last)],
        )
    })?;
    let md = &mut report.md;
    for (a, b) in h_init.iter().zip(&h_last) {
        let first = |h: &Band| h.mean.first().copied().unwrap_or(f64::NAN);
        let lastb = |h: &Band| h.mean.last().copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            md,
            "- **{}**: units on for fewer than 10% of the eval inputs: {}% at initialisation, {}% at the end; on for at least 90%: {}% and {}%.",
            a.label,
            crate::format::sig(100.0 * first(a), 2),
            crate::format::sig(100.0 * first(b), 2),
            crate::format::sig(100.0 * lastb(a), 2),
            crate::format::sig(100.0 * lastb(b), 2),
        );
    }
    let _ = writeln!(md);
    Ok(())
}
