//! Confounds the audit can detect beyond hashes: equal seeds, draws and data do not make
//! a comparison of a PlainMLP and a ResMLP fair when one arm cannot represent the target,
//! when the init scale removes one arm's signal by construction, when one learning rate
//! is imposed on both, or when the strongest baseline is missing. Each is a warning with
//! the control sweep that would settle it, never a failure (`--strict` ignores them).
//!
//! When the sweep holds the strongest pair — the PlainMLP at init scale 1 (Kaiming-He,
//! which keeps a plain net's signal the same size through depth) beside the ResMLP at an
//! init scale below 1 — it is compared too, paired by seed ([`Baseline`]): the two runs of
//! a seed share their unscaled draws and their data but not their init scale, on purpose.

use super::{PairRow, Row};
use crate::analysis::stats::{self, Paired};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A PlainMLP whose signal std at its output is below this fraction of its input's at
/// init (mean field: `s^L`) has no usable signal by construction.
const VANISHED: f64 = 1e-3;

/// A confound found in the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Confound {
    /// Short kind: `relu-output`, `vanishing-init`, `shared-lr`, `missing-baseline`,
    /// `one-arm`.
    pub kind: &'static str,
    /// What the confound is, with the settings and numbers concerned.
    pub message: String,
    /// The control sweep that would settle it (`None` for plain notes).
    pub control: Option<String>,
}

/// The strongest baseline against the ResMLP: PlainMLP at init scale 1 (A) against the
/// ResMLP at a smaller init scale (B), paired by seed with every other setting equal.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// `depth=20: PlainMLP at init_scale=1 vs ResMLP at init_scale=1/sqrt(depth)`.
    pub label: String,
    /// Pairs by seed (`a`: PlainMLP, `b`: ResMLP).
    pub pairs: Vec<PairRow>,
    /// Paired statistics of the metric.
    pub stats: Option<Paired>,
}

/// Every setting but `residual` and `init_scale`: what a strongest-baseline pair shares.
fn shared_key(r: &Row) -> Vec<(String, String)> {
    r.settings
        .iter()
        .filter(|(k, _)| k.as_str() != "residual" && k.as_str() != "init_scale")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The confounds of `rows` (with `scales`, each row's numeric init scale) and the
/// strongest-baseline comparisons.
pub(super) fn detect(
    rows: &[Row],
    scales: &[f64],
    sweep_axes: &[String],
    lower_is_better: bool,
) -> (Vec<Confound>, Vec<Baseline>) {
    let plain: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].settings["residual"] == "false")
        .collect();
    let res: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].settings["residual"] == "true")
        .collect();
    let mut out = Vec::new();
    if plain.is_empty() || res.is_empty() {
        return (out, Vec::new());
    }
    // PlainMLPs whose activated last layer cannot go below a bound, so cannot reach the
    // negative targets: a loss floor that the ResMLP's `x + ...` does not have.
    let floors: BTreeSet<(String, String)> = plain
        .iter()
        .filter(|&&i| {
            rows[i]
                .settings
                .get("output_relu")
                .is_none_or(|v| v == "true")
        })
        .filter_map(|&i| {
            let activation = rows[i]
                .settings
                .get("activation")
                .map_or("relu", |s| s.as_str());
            output_floor(activation).map(|(bound, floor)| {
                (
                    activation.to_string(),
                    format!("{bound}, so loss ≥ {floor}"),
                )
            })
        })
        .collect();
    if !floors.is_empty() {
        let what: Vec<String> = floors.iter().map(|(a, f)| format!("{a}: {f}")).collect();
        let control = if sweep_axes.iter().any(|a| a == "output_relu") {
            "this sweep has the output_relu axis: compare the arms at output_relu = false, where neither output is bounded".to_string()
        } else {
            "both arms with a linear last layer: add `output_relu = [true, false]` to [grid] (sweeps/what_matters.toml does); meanwhile read the PlainMLP's loss against its floor, not 0".to_string()
        };
        out.push(Confound {
            kind: "relu-output",
            message: format!(
                "the PlainMLP's last layer ends in its activation, which cannot go below a bound ({}): on this task (target x ~ U(-1, 1)) its loss has that floor, while the ResMLP's output x + … can reach 0; part of any gap is the output layer, not the residual connection",
                what.join("; ")
            ),
            control: Some(control),
        });
    }

    // PlainMLP init scales that vanish the signal by construction.
    let mut vanishing: BTreeMap<String, BTreeSet<(i64, String)>> = BTreeMap::new();
    // Mean field holds this for ReLU layers without a norm (a LayerNorm restores the
    // signal's size at every layer); PyTorch's default weights have a sixth of He's
    // variance, so a gain of s/sqrt(6) per layer.
    for &i in plain.iter().filter(|&&i| {
        let is = |k: &str, v: &str| rows[i].settings.get(k).is_none_or(|x| x == v);
        is("activation", "relu") && is("norm", "none")
    }) {
        let torch = rows[i]
            .settings
            .get("weight_init")
            .is_some_and(|w| w == "torch_default");
        let s = scales[i] / if torch { 6f64.sqrt() } else { 1.0 };
        let depth: i64 = rows[i].settings["depth"].parse().unwrap_or(0);
        let factor = s.powi(depth as i32);
        if s < 1.0 && factor < VANISHED {
            vanishing
                .entry(rows[i].settings["init_scale"].clone())
                .or_default()
                .insert((depth, crate::format::value(factor)));
        }
    }
    for (expr, depths) in vanishing {
        let list: Vec<String> = depths
            .iter()
            .map(|(d, f)| format!("{f} at depth {d}"))
            .collect();
        out.push(Confound {
            kind: "vanishing-init",
            message: format!(
                "init_scale={expr} shrinks the PlainMLP's signal by construction: its mean-field output std is s^depth of its input's ({}), so that arm starts without usable signal whatever a residual connection could add",
                list.join(", ")
            ),
            control: Some("the PlainMLP at init_scale = 1 (Kaiming-He keeps its signal's size): add `[[include]] residual = false, init_scale = 1.0` with the same depths and seeds (sweeps/depth.toml has this arm)".into()),
        });
    }

    if !sweep_axes.iter().any(|a| a == "lr") {
        let lrs: BTreeSet<&str> = rows.iter().map(|r| r.settings["lr"].as_str()).collect();
        out.push(Confound {
            kind: "shared-lr",
            message: format!(
                "one learning rate ({}) for both arms and no lr axis: each arm may have its own best learning rate, so the comparison holds at this learning rate only",
                lrs.into_iter().collect::<Vec<_>>().join(", ")
            ),
            control: Some("an lr axis, e.g. `lr = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]` in [grid], comparing each arm at its own best learning rate".into()),
        });
    }

    // The strongest baseline: PlainMLP at scale 1 beside each ResMLP at a scale below 1.
    let plain_at_one: BTreeMap<Vec<(String, String)>, usize> = plain
        .iter()
        .filter(|&&i| scales[i] == 1.0)
        .map(|&i| (shared_key(&rows[i]), i))
        .collect();
    // (depth, ResMLP init scale) -> (ResMLP row, its PlainMLP-at-1 partner).
    type Members = Vec<(usize, Option<usize>)>;
    let mut groups: BTreeMap<(i64, String), Members> = BTreeMap::new();
    for &j in res.iter().filter(|&&j| scales[j] < 1.0) {
        let depth: i64 = rows[j].settings["depth"].parse().unwrap_or(0);
        let partner = plain_at_one.get(&shared_key(&rows[j])).copied();
        groups
            .entry((depth, rows[j].settings["init_scale"].clone()))
            .or_default()
            .push((j, partner));
    }
    let mut baselines = Vec::new();
    let mut missing = BTreeSet::new();
    for ((depth, expr), members) in groups {
        let mut pairs: Vec<PairRow> = members
            .iter()
            .filter_map(|&(j, i)| {
                let i = i?;
                Some(PairRow {
                    seed: rows[j].settings["seed"].clone(),
                    run_a: rows[i].run_id.clone(),
                    run_b: rows[j].run_id.clone(),
                    a: rows[i].metric,
                    b: rows[j].metric,
                })
            })
            .collect();
        if pairs.is_empty() {
            missing.insert(format!("{expr} at depth {depth}"));
            continue;
        }
        pairs.sort_by(|x, y| super::arm_order(&x.seed, &y.seed));
        let (va, vb): (Vec<f64>, Vec<f64>) = pairs.iter().map(|p| (p.a, p.b)).unzip();
        baselines.push(Baseline {
            label: format!(
                "depth={depth}: PlainMLP at init_scale=1 vs ResMLP at init_scale={expr}"
            ),
            stats: stats::paired(&va, &vb, lower_is_better, stats::BOOTSTRAP_SEED).ok(),
            pairs,
        });
    }
    if !missing.is_empty() {
        out.push(Confound {
            kind: "missing-baseline",
            message: format!(
                "no PlainMLP at init_scale = 1 beside the ResMLP at init_scale={}: the most informative pair, each arm at an init that keeps its own signal, is not in this sweep",
                missing.into_iter().collect::<Vec<_>>().join(", ")
            ),
            control: Some("add `[[include]] residual = false, init_scale = 1.0` with the ResMLP's depths and seeds".into()),
        });
    }
    (out, baselines)
}

/// The lowest value of an activation and the least MSE an output bounded below by it can
/// reach on `x ~ U(-1, 1)`: `E[(x − b)² ; x < b] = (1 + b)³ / 6`. `None` for an
/// activation that reaches every target (tanh tends to ±1; linear).
pub(crate) fn output_floor(activation: &str) -> Option<(&'static str, String)> {
    let (label, bound) = match activation {
        "relu" => ("output ≥ 0", 0.0),
        // GELU's minimum, z Φ(z) at z ≈ -0.7518.
        "gelu" => ("output ≥ -0.170", GELU_MIN),
        _ => return None,
    };
    let floor: f64 = (1.0 + bound).powi(3) / 6.0;
    Some((
        label,
        if bound == 0.0 {
            "1/6".to_string()
        } else {
            crate::format::value(floor)
        },
    ))
}

/// The minimum of the exact GELU `z Φ(z)`.
pub(crate) const GELU_MIN: f64 = -0.169_971_207_479_903_7;

/// Each row's numeric init scale (`init_scale` column; NaN where missing).
pub(super) fn scales(df: &DataFrame) -> Vec<f64> {
    let n = df.height();
    df.column("init_scale")
        .ok()
        .and_then(|c| c.cast(&DataType::Float64).ok())
        .and_then(|c| {
            c.f64()
                .ok()
                .map(|v| v.iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        })
        .unwrap_or_else(|| vec![f64::NAN; n])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One run: (residual, init_scale expr, numeric scale, depth, seed, metric).
    fn row(residual: bool, expr: &str, depth: i64, seed: i64, metric: f64) -> Row {
        let settings = [
            ("residual", residual.to_string()),
            ("init_scale", expr.to_string()),
            ("depth", depth.to_string()),
            ("seed", seed.to_string()),
            ("lr", "0.001".to_string()),
            ("width", "64".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Row {
            run_id: format!("{residual}-{expr}-d{depth}-s{seed}"),
            settings,
            metric,
            init_hash: format!("h{seed}"),
            data_hash: format!("d{seed}"),
            param_count: "1".into(),
        }
    }

    fn kinds(c: &[Confound]) -> Vec<&str> {
        c.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn the_default_sweeps_confounds_and_its_strongest_baseline() {
        // Depth 20: both arms at 1/sqrt(20) and at 1, three seeds.
        let s = 1.0 / 20f64.sqrt();
        let mut rows = Vec::new();
        let mut scales = Vec::new();
        for seed in 0..3 {
            for (residual, expr, scale, metric) in [
                (false, "1/sqrt(depth)", s, 0.3335),
                (true, "1/sqrt(depth)", s, 0.06 + 0.001 * seed as f64),
                (false, "1", 1.0, 0.326),
                (true, "1", 1.0, 1.2e4),
            ] {
                rows.push(row(residual, expr, 20, seed, metric));
                scales.push(scale);
            }
        }
        let axes = vec!["residual".to_string(), "init_scale".into(), "seed".into()];
        let (c, b) = detect(&rows, &scales, &axes, true);
        assert_eq!(kinds(&c), ["relu-output", "vanishing-init", "shared-lr"]);
        // s^L = 20^-10 = 9.8e-14.
        assert!(
            c[1].message.contains("9.766e-14 at depth 20"),
            "{}",
            c[1].message
        );
        assert!(c[1]
            .control
            .as_deref()
            .unwrap()
            .contains("init_scale = 1.0"));
        assert!(c[2].message.contains("0.001"), "{}", c[2].message);
        // The strongest pair is present: compared, PlainMLP at 1 (A) vs ResMLP at 1/sqrt(20).
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].label,
            "depth=20: PlainMLP at init_scale=1 vs ResMLP at init_scale=1/sqrt(depth)"
        );
        let p = b[0].stats.as_ref().unwrap();
        assert_eq!((p.n, p.wins_b), (3, 3));
        assert!((p.mean_a - 0.326).abs() < 1e-12 && (p.mean_b - 0.061).abs() < 1e-12);
        // With an lr axis, no shared-lr warning; at scale 1 only, nothing vanishes.
        let axes = vec!["residual".to_string(), "lr".into(), "seed".into()];
        let ones: Vec<usize> = (0..rows.len()).filter(|&i| scales[i] == 1.0).collect();
        let r1: Vec<Row> = ones.iter().map(|&i| rows[i].clone()).collect();
        let (c, b) = detect(&r1, &vec![1.0; r1.len()], &axes, true);
        assert_eq!(kinds(&c), ["relu-output"]);
        assert!(b.is_empty());
    }

    #[test]
    fn a_missing_strongest_baseline_is_named_with_its_control() {
        let s = 1.0 / 50f64.sqrt();
        let rows = vec![
            row(false, "1/sqrt(depth)", 50, 0, 0.3333),
            row(true, "1/sqrt(depth)", 50, 0, 0.05),
        ];
        let (c, b) = detect(&rows, &[s, s], &["residual".to_string()], true);
        assert!(b.is_empty());
        let missing = c.iter().find(|c| c.kind == "missing-baseline").unwrap();
        assert!(
            missing.message.contains("1/sqrt(depth) at depth 50"),
            "{}",
            missing.message
        );
        assert!(missing.control.as_deref().unwrap().contains("[[include]]"));
        // One arm only: nothing to say about PlainMLP vs ResMLP.
        let (c, _) = detect(&rows[..1], &[s], &[], true);
        assert!(c.is_empty());
    }
}
