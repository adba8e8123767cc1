//! The "Micro-world" section: why one arm trains and the other does not, from the probes
//! every run records ([`crate::experiment::probes`]; tables in
//! [`crate::analysis::probe_tables`], branch ratios and update sizes in the layers
//! table). One function per figure, each with its reading, every number computed from
//! the tables; then the two explanations the symptom figures leave open.

use super::data::{bands_by, f64s, pl, u32s, LayerFrames, Line};
use super::explain::explain;
use super::probe_data::{at, mean, median, per_line, read, ProbeFrames};
use super::Report;
use crate::format;
use crate::report::plots::{self, Band, Panel};
use crate::store::SweepDir;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn panel(title: &str, x: &str, y: &str, log_y: bool, bands: Vec<Band>) -> Panel {
    Panel {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        log_y,
        bands,
        curves: vec![],
        notes: vec![],
    }
}

/// The section: every figure whose data exist, then the explanations.
pub(super) fn write(
    report: &mut Report,
    dir: &SweepDir,
    labels: &DataFrame,
    lines: &[Line],
    layers: &LayerFrames,
    runs: &DataFrame,
) -> anyhow::Result<()> {
    let _ = writeln!(report.md, "## Micro-world: why\n");
    let p = read(dir, labels)?;
    if p.probes.height() == 0 {
        let _ = writeln!(
            report.md,
            "No run of this sweep recorded the micro-world probes (runs finished by a resweep \
             older than the probes have none); `resweep run --fresh` would record them.\n"
        );
        return Ok(());
    }
    let _ = writeln!(
        report.md,
        "Each run measures its own network at step 0 and at its last step, on the first inputs \
         of its fixed eval batch: the input-output Jacobian at 16 inputs, lesions and branch \
         ratios on 64, and the gradient along one line of 256 points. Branch ratios and update \
         sizes are also recorded at every probe step. Bands are mean ± std over seeds.\n"
    );
    jacobian(report, lines, &p)?;
    branch(report, lines, layers)?;
    lesions(report, lines, &p)?;
    updates(report, lines, layers)?;
    shattering(report, lines, &p, runs)?;
    landscape(report, dir)?;
    explain(report, lines, &p, layers, runs)?;
    Ok(())
}

/// Bins per decade of the spectrum histogram.
const BINS_PER_DECADE: i32 = 4;
/// The histogram's lowest decade: smaller singular values (down to exact zeros, and
/// values far below f32's range that the f64 product still resolves) are counted in the
/// figure's notes, not drawn, so that the range where the identity lives stays readable.
const SPECTRUM_FLOOR: i32 = -10;

/// Quarter-decade bins of log10 singular values from `lo` to `hi` (decades): each run's
/// histogram (fraction of its values per bin; values below `lo` left out and counted),
/// averaged over the line's seeds.
fn spectrum_bands(
    df: &DataFrame,
    lines: &[Line],
    lo: i32,
    hi: i32,
) -> anyhow::Result<(Vec<Band>, Vec<f64>)> {
    let g = u32s(df, "group")?;
    let ids = df.column("run_id")?.str()?.clone();
    let s = f64s(df, "singular_value")?;
    let bins = ((hi - lo) * BINS_PER_DECADE).max(1) as usize;
    let mut runs: BTreeMap<(u32, String), (Vec<f64>, usize, usize)> = BTreeMap::new();
    for i in 0..df.height() {
        let id = ids.get(i).unwrap_or_default().to_string();
        let e = runs.entry((g[i], id)).or_insert((vec![0.0; bins], 0, 0));
        e.2 += 1;
        if s[i] >= 10f64.powi(lo) && s[i].is_finite() {
            let b = ((s[i].log10() - f64::from(lo)) * f64::from(BINS_PER_DECADE)).floor();
            e.0[(b as usize).min(bins - 1)] += 1.0;
        } else {
            e.1 += 1;
        }
    }
    let mut per_line: Vec<Vec<Vec<f64>>> = vec![Vec::new(); lines.len()];
    let mut zeros = vec![(0usize, 0usize); lines.len()];
    for ((g, _), (h, z, n)) in runs {
        let Some(l) = per_line.get_mut(g as usize) else {
            continue;
        };
        l.push(h.iter().map(|c| c / n as f64).collect());
        zeros[g as usize].0 += z;
        zeros[g as usize].1 += n;
    }
    let xs: Vec<f64> = (0..bins)
        .map(|b| f64::from(lo) + (b as f64 + 0.5) / f64::from(BINS_PER_DECADE))
        .collect();
    let bands = lines
        .iter()
        .zip(&per_line)
        .map(|(line, hs)| {
            let k = hs.len().max(1) as f64;
            let m: Vec<f64> = (0..bins)
                .map(|b| hs.iter().map(|h| h[b]).sum::<f64>() / k)
                .collect();
            let sd: Vec<f64> = (0..bins)
                .map(|b| {
                    if hs.len() < 2 {
                        return 0.0;
                    }
                    let v = hs.iter().map(|h| (h[b] - m[b]).powi(2)).sum::<f64>() / (k - 1.0);
                    v.sqrt()
                })
                .collect();
            Band {
                label: line.label.clone(),
                xs: xs.clone(),
                mean: m,
                std: sd,
                n: hs.len(),
                range: None,
            }
        })
        .filter(|b| b.n > 0)
        .collect();
    let zero_frac = zeros
        .iter()
        .map(|&(z, n)| if n > 0 { z as f64 / n as f64 } else { f64::NAN })
        .collect();
    Ok((bands, zero_frac))
}

fn jacobian(report: &mut Report, lines: &[Line], p: &ProbeFrames) -> anyhow::Result<()> {
    let (init, last) = (at(&p.spectrum, "init")?, at(&p.spectrum, "final")?);
    let logs: Vec<f64> = f64s(&p.spectrum, "singular_value")?
        .into_iter()
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(f64::log10)
        .collect();
    if logs.is_empty() {
        return Ok(());
    }
    let lo =
        (logs.iter().copied().fold(f64::INFINITY, f64::min).floor() as i32).max(SPECTRUM_FLOOR);
    let hi = logs
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .floor() as i32
        + 1;
    let (b_init, z_init) = spectrum_bands(&init, lines, lo, hi)?;
    let (b_last, z_last) = spectrum_bands(&last, lines, lo, hi)?;
    let zero_notes = |z: &[f64]| -> Vec<String> {
        lines
            .iter()
            .zip(z)
            .filter(|(_, f)| **f > 0.0)
            .map(|(l, f)| {
                format!(
                    "{}: {}% of singular values below 1e{lo} or exactly 0 (not drawn)",
                    l.label,
                    format::percent(*f)
                )
            })
            .collect()
    };
    let _ = writeln!(report.md, "### Input-output Jacobian spectrum\n");
    report.figure("jacobian_spectrum.png", "Jacobian singular values", |path| {
        let mut a = panel("At initialisation", "log10(singular value of dy/dx)", "fraction of singular values", false, b_init.clone());
        a.notes = zero_notes(&z_init);
        let mut b = panel("At the end", "log10(singular value of dy/dx)", "fraction of singular values", false, b_last.clone());
        b.notes = zero_notes(&z_last);
        plots::bands_figure(path, "Singular values of the input-output Jacobian (16 eval inputs per run; histogram per quarter decade)", &[a, b])
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "The identity map has every singular value 1 (log10 = 0). The effective rank is the \
         participation ratio `(Σs²)²/Σs⁴`; the numerical rank counts singular values above \
         numpy's `matrix_rank` tolerance: the input directions that reach the output at all. \
         Medians over seeds:\n"
    );
    let probes_init = at(&p.probes, "init")?;
    let probes_last = at(&p.probes, "final")?;
    let get = |df: &DataFrame, c: &str| per_line(df, c, lines);
    let (er0, er1) = (
        get(&probes_init, "jac_effective_rank")?,
        get(&probes_last, "jac_effective_rank")?,
    );
    let (nr0, nr1) = (
        get(&probes_init, "jac_numerical_rank")?,
        get(&probes_last, "jac_numerical_rank")?,
    );
    let (q0, q1) = (get(&probes_init, "jac_q50")?, get(&probes_last, "jac_q50")?);
    for (i, line) in lines.iter().enumerate() {
        if er0[i].is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "- **{}**: effective rank {} → {}, numerical rank {} → {} of {}; median singular value {} → {}.",
            line.label,
            format::reading(median(&er0[i])),
            format::reading(median(&er1[i])),
            format::reading(median(&nr0[i])),
            format::reading(median(&nr1[i])),
            line.width,
            format::reading(median(&q0[i])),
            format::reading(median(&q1[i])),
        );
    }
    let _ = writeln!(md);
    Ok(())
}

fn branch(report: &mut Report, lines: &[Line], layers: &LayerFrames) -> anyhow::Result<()> {
    let (b0, b1) = (
        bands_by(&layers.init, "layer", "branch_ratio", lines)?,
        bands_by(&layers.last, "layer", "branch_ratio", lines)?,
    );
    if b0.iter().all(|b| b.xs.is_empty()) {
        return Ok(());
    }
    let _ = writeln!(report.md, "### Branch ratio\n");
    report.figure("branch_ratio.png", "Branch ratio by layer", |path| {
        plots::bands_figure(
            path,
            "||relu(W x + b)|| / ||x|| by layer (64 eval inputs)",
            &[
                panel(
                    "At initialisation",
                    "layer",
                    "branch / stream",
                    true,
                    b0.clone(),
                ),
                panel("At the end", "layer", "branch / stream", true, b1.clone()),
            ],
        )
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "For a ResMLP this is the branch against the residual stream it is added to; for a \
         PlainMLP, the layer's output against its input (1 keeps the signal's size). Mean over \
         layers and seeds:\n"
    );
    for (a, b) in b0.iter().zip(&b1) {
        if a.mean.is_empty() {
            continue;
        }
        let zero_layers: Vec<String> =
            b.xs.iter()
                .zip(&b.mean)
                .filter(|(_, m)| **m == 0.0)
                .map(|(x, _)| format!("{x}"))
                .collect();
        let _ = writeln!(
            md,
            "- **{}**: {} at initialisation, {} at the end{}.",
            a.label,
            format::reading(mean(&a.mean)),
            format::reading(mean(&b.mean)),
            if zero_layers.is_empty() {
                String::new()
            } else {
                format!(
                    "; exactly 0 for every seed at layer {} (the layer's output is zero for every probe input)",
                    zero_layers.join(", ")
                )
            }
        );
    }
    let _ = writeln!(md);
    Ok(())
}

/// `x` as a relative change: `+3.1%` for ratios near 1, `×12` otherwise.
fn change(ratio: f64) -> String {
    if !ratio.is_finite() {
        "undefined".into()
    } else if (0.5..=2.0).contains(&ratio) {
        format!("{:+.1}%", 100.0 * (ratio - 1.0))
    } else {
        format!("×{}", format::reading(ratio))
    }
}

fn lesions(report: &mut Report, lines: &[Line], p: &ProbeFrames) -> anyhow::Result<()> {
    let single = bands_by(&at(&p.layers, "final")?, "layer", "lesion_ratio", lines)?;
    let random = bands_by(&at(&p.lesions, "final")?, "k", "ratio", lines)?;
    if single.iter().all(|b| b.xs.is_empty()) {
        return Ok(());
    }
    let _ = writeln!(report.md, "### Lesions\n");
    report.figure("lesions.png", "Lesions", |path| {
        plots::bands_figure(
            path,
            "Eval loss with blocks removed / intact loss, trained nets (64 eval inputs)",
            &[
                panel(
                    "One block removed",
                    "removed layer",
                    "loss ratio",
                    true,
                    single.clone(),
                ),
                panel(
                    "k random blocks removed",
                    "blocks removed (k)",
                    "loss ratio",
                    true,
                    random.clone(),
                ),
            ],
        )
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "Removing block `l` means `x_(l+1) = x_l` (for a PlainMLP the layer becomes the identity). \
         Veit et al. (2016) read a residual net as an ensemble of paths: no single block is \
         essential. Mean over layers and seeds, trained nets:\n"
    );
    for (s, r) in single.iter().zip(&random) {
        if s.mean.is_empty() {
            continue;
        }
        let worst = s.mean.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            md,
            "- **{}**: removing one block changes the loss by {} on average (worst layer {}); \
             removing {} random blocks, by {}.",
            s.label,
            change(mean(&s.mean)),
            change(worst),
            r.xs.last().copied().unwrap_or(0.0),
            change(r.mean.last().copied().unwrap_or(f64::NAN)),
        );
    }
    let _ = writeln!(md);
    Ok(())
}

/// The probe step nearest the middle of training.
fn mid_step(layers: &LayerFrames) -> anyhow::Result<Option<i64>> {
    let steps = f64s(&layers.all, "step")?;
    let max = steps.iter().copied().fold(0.0, f64::max);
    Ok(steps
        .iter()
        .copied()
        .min_by(|a, b| (a - max / 2.0).abs().total_cmp(&(b - max / 2.0).abs()))
        .map(|s| s as i64))
}

fn updates(report: &mut Report, lines: &[Line], layers: &LayerFrames) -> anyhow::Result<()> {
    let Some(mid) = mid_step(layers)? else {
        return Ok(());
    };
    let at_mid = pl(
        layers
            .all
            .clone()
            .lazy()
            .filter(col("step").eq(lit(mid)))
            .collect(),
        "layer rows mid-training",
    )?;
    let (w0, w1) = (
        bands_by(&layers.init, "layer", "update_ratio", lines)?,
        bands_by(&at_mid, "layer", "update_ratio", lines)?,
    );
    let b1 = bands_by(&at_mid, "layer", "bias_update", lines)?;
    if w0.iter().all(|b| b.xs.is_empty()) {
        return Ok(());
    }
    let _ = writeln!(report.md, "### Which layers move\n");
    report.figure("update_sizes.png", "Update sizes by layer", |path| {
        plots::bands_figure(
            path,
            "Size of one optimizer update by layer",
            &[
                panel(
                    "Weights, update 1",
                    "layer",
                    "||ΔW|| / ||W||",
                    true,
                    w0.clone(),
                ),
                panel(
                    &format!("Weights, update {}", mid + 1),
                    "layer",
                    "||ΔW|| / ||W||",
                    true,
                    w1.clone(),
                ),
                panel(
                    &format!("Biases, update {}", mid + 1),
                    "layer",
                    "||Δb||",
                    true,
                    b1.clone(),
                ),
            ],
        )
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "The update applied right after the probe step, relative to the weights it changes \
         (biases: absolute, as they start at 0). Layer 1 against the last layer, mean over seeds:\n"
    );
    for ((a, b), c) in w0.iter().zip(&w1).zip(&b1) {
        let ends = |x: &Band| match (x.mean.first(), x.mean.last()) {
            (Some(f), Some(l)) => format!(
                "{} (layer 1) vs {} (layer {})",
                format::reading(*f),
                format::reading(*l),
                x.xs.last().copied().unwrap_or(0.0)
            ),
            _ => "not recorded".into(),
        };
        let _ = writeln!(
            md,
            "- **{}**: ||ΔW||/||W|| {} at update 1, {} at update {}; ||Δb|| {} at update {}.",
            a.label,
            ends(a),
            ends(b),
            mid + 1,
            ends(c),
            mid + 1
        );
    }
    let _ = writeln!(md);
    Ok(())
}

/// The loss landscapes of `resweep landscape`'s last call, when its slices are on disk
/// and up to date; otherwise a line saying how to compute them.
fn landscape(report: &mut Report, dir: &SweepDir) -> anyhow::Result<()> {
    let _ = writeln!(report.md, "### Loss landscape\n");
    let Some((chosen, slices)) = crate::analysis::landscape::last_slices(dir) else {
        let _ = writeln!(
            report.md,
            "Not computed for this sweep: `resweep landscape {}` draws 2-D slices of the eval \
             loss around the initial and final weights of one seed per group (Li et al. \
             2018, filter-normalised directions), and the next report includes them.\n",
            dir.root().display()
        );
        return Ok(());
    };
    report.figure(
        crate::report::landscape::FIGURE,
        "Loss landscapes",
        |path| crate::report::landscape::draw(path, &chosen, &slices),
    )?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "The eval loss at `θ + a d1 + b d2` for `a, b` in `[-span, span]`, with `d1`, `d2` \
         random directions scaled per neuron to the weights (Li et al. 2018), the same draws \
         for both arms of a seed. Sharpness is the mean loss on the ring at radius `span` \
         over the loss at the centre (1 = flat):\n"
    );
    for c in &chosen {
        let mut parts = Vec::new();
        for s in slices.iter().filter(|s| s.run_id == c.run_id) {
            let r = s.reading();
            parts.push(format!(
                "{}: centre {}, ring {}, sharpness {}",
                if s.when == "init" {
                    "around the initial weights"
                } else {
                    "around the final weights"
                },
                format::reading(r.centre),
                format::reading(r.ring_mean),
                format::reading(r.sharpness)
            ));
        }
        let _ = writeln!(md, "- **{}**: {}.", c.label(), parts.join("; "));
    }
    let _ = writeln!(md);
    Ok(())
}

/// Notes for lines drawn exactly on top of an earlier one (a PlainMLP with zero biases is
/// positively homogeneous: its init scale rescales g and leaves its shape unchanged).
fn coincide(bands: &[Band]) -> Vec<String> {
    let mut notes = Vec::new();
    for (i, b) in bands.iter().enumerate() {
        let same = bands[..i].iter().find(|a| {
            a.xs == b.xs
                && !a.mean.is_empty()
                && a.mean
                    .iter()
                    .zip(&b.mean)
                    .all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + x.abs()))
        });
        if let Some(a) = same {
            notes.push(format!("{} lies under {}", a.label, b.label));
        }
    }
    notes
}

fn shattering(
    report: &mut Report,
    lines: &[Line],
    p: &ProbeFrames,
    runs: &DataFrame,
) -> anyhow::Result<()> {
    let (a0, a1) = (
        bands_by(&at(&p.autocorr, "init")?, "lag", "autocorr", lines)?,
        bands_by(&at(&p.autocorr, "final")?, "lag", "autocorr", lines)?,
    );
    // One seed's g(t) at init per line: the lowest seed, standardised (g spans decades
    // across arms).
    let seeds = f64s(runs, "seed")?;
    let init = at(&p.shatter, "init")?;
    let ids = init.column("run_id")?.str()?.clone();
    let (t, g) = (f64s(&init, "t")?, f64s(&init, "gradient")?);
    let mut curves = Vec::new();
    let mut seed_shown = f64::NAN;
    for line in lines {
        let Some((k, &seed)) = line
            .rows
            .iter()
            .map(|&r| seeds.get(r).unwrap_or(&f64::NAN))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
        else {
            continue;
        };
        let id = &line.runs[k];
        let rows: Vec<usize> = (0..init.height())
            .filter(|&i| ids.get(i) == Some(id.as_str()))
            .collect();
        let gs: Vec<f64> = rows.iter().map(|&i| g[i]).collect();
        let (m, sd) = (
            mean(&gs),
            (gs.iter().map(|v| (v - mean(&gs)).powi(2)).sum::<f64>() / gs.len() as f64).sqrt(),
        );
        if rows.is_empty() || sd.is_nan() || sd <= 0.0 {
            continue;
        }
        seed_shown = seed;
        curves.push(Band {
            label: line.label.clone(),
            xs: rows.iter().map(|&i| t[i]).collect(),
            mean: gs.iter().map(|v| (v - m) / sd).collect(),
            std: vec![0.0; rows.len()],
            n: 1,
            range: None,
        });
    }
    if a0.iter().all(|b| b.xs.is_empty()) {
        return Ok(());
    }
    let _ = writeln!(report.md, "### Shattered gradients\n");
    report.figure("shattering.png", "Gradient along a line", |path| {
        let mut first = panel(
            &format!("g(t) at initialisation, seed {seed_shown}"),
            "t",
            "standardised g(t)",
            false,
            curves.clone(),
        );
        first.notes = coincide(&curves);
        let mut second = panel(
            "Autocorrelation, initialisation",
            "lag (points)",
            "autocorrelation",
            false,
            a0.clone(),
        );
        second.notes = coincide(&a0);
        plots::bands_figure(
            path,
            "Gradient of sum(y) along x0 + t d (256 points) and its autocorrelation",
            &[
                first,
                second,
                panel(
                    "Autocorrelation, at the end",
                    "lag (points)",
                    "autocorrelation",
                    false,
                    a1.clone(),
                ),
            ],
        )
    })?;
    let md = &mut report.md;
    let _ = writeln!(
        md,
        "`g(t) = d sum(y)/dt` along the line `x0 + t d`, `t ∈ [-1, 1]`, with `x0` and `d` the \
         run's first two eval inputs (Balduzzi et al. 2017: the gradients of deep plain nets \
         decorrelate between nearby inputs, those of residual nets much less). Mean over seeds:\n"
    );
    for (a, b) in a0.iter().zip(&a1) {
        let lag = |x: &Band, k: f64| x.xs.iter().position(|v| *v == k).map(|i| x.mean[i]);
        let f = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format::fixed(v, 2));
        let _ = writeln!(
            md,
            "- **{}**: autocorrelation at lag 1 / 8 / 32: {} / {} / {} at initialisation, {} / {} / {} at the end.",
            a.label,
            f(lag(a, 1.0)),
            f(lag(a, 8.0)),
            f(lag(a, 32.0)),
            f(lag(b, 1.0)),
            f(lag(b, 8.0)),
            f(lag(b, 32.0)),
        );
    }
    let _ = writeln!(md);
    Ok(())
}
