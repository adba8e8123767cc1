//! The paired-seeds figure: each seed's final eval loss in one arm against the other, or,
//! when one arm is (near) constant across seeds, each seed's paired difference.
//!
//! A scatter of arm against arm shares one axis range between the arms; when one arm
//! barely moves across seeds (a PlainMLP stuck at its floor, ~1/3 or ~1/6, in every seed)
//! its points stack into a line and the seeds' spread is lost in the gap between the arms.
//! The criterion is [`CONSTANT_SPREAD`] on [`relative_spread`], computed from the data of
//! every stratum; the reading says which view is shown and why.

use super::super::Report;
use crate::analysis::compare::{Comparison, Stratum};
use crate::format;
use crate::report::plots::{self, Diffs, Pairs};
use std::fmt::Write as _;

/// An arm whose final eval loss has a [`relative_spread`] below this across the seeds of a
/// stratum counts as constant, and the figure shows the paired differences instead of
/// the scatter. 2% is 0.009 of a decade: on a scatter whose axes span a decade or more
/// (the default sweep's) the arm's seeds then sit within one marker's width of one
/// another, while an arm that learns spreads by far more (the default sweep: PlainMLP
/// 0.5–0.8%, ResMLP 20% and more).
pub(crate) const CONSTANT_SPREAD: f64 = 0.02;

/// `(max − min) / |median|` of `values`: how much they vary across seeds, relative to
/// their size. 0 when all are equal (zeros included), infinite when they differ around a
/// median of 0; `None` for fewer than two values or any non-finite one.
pub(crate) fn relative_spread(values: &[f64]) -> Option<f64> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let range = v[v.len() - 1] - v[0];
    if range == 0.0 {
        return Some(0.0);
    }
    let median = crate::analysis::stats::quantile_sorted(&v, 0.5);
    Some(range / median.abs())
}

/// One arm's values across seeds, and whether they count as constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArmSpread {
    /// The arm's value of the compared axis (`false`, `true`).
    pub(crate) arm: String,
    /// Smallest and largest value over the seeds.
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// [`relative_spread`] of the values.
    pub(crate) spread: f64,
}

/// The arm of a stratum whose values are constant across seeds (the baseline first), if
/// either is: its values' [`relative_spread`] is below [`CONSTANT_SPREAD`].
pub(crate) fn constant_arm(baseline: &str, st: &Stratum) -> Option<ArmSpread> {
    let arms = [
        (baseline, st.pairs.iter().map(|p| p.a).collect::<Vec<f64>>()),
        (
            st.arm.as_str(),
            st.pairs.iter().map(|p| p.b).collect::<Vec<f64>>(),
        ),
    ];
    arms.into_iter().find_map(|(arm, values)| {
        let spread = relative_spread(&values)?;
        (spread < CONSTANT_SPREAD).then(|| ArmSpread {
            arm: arm.to_string(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            spread,
        })
    })
}

/// The network of a value of the `residual` axis.
fn net(arm: &str) -> &'static str {
    if arm == "true" {
        "ResMLP"
    } else {
        "PlainMLP"
    }
}

/// `0.3329–0.3344, relative spread 0.46%`.
fn spread_text(s: &ArmSpread) -> String {
    format!(
        "{}–{}, relative spread {}%",
        format::value(s.min),
        format::value(s.max),
        format::sig(100.0 * s.spread, 2)
    )
}

/// The "Paired seeds" figure and its reading, from the comparison over `residual`.
pub(super) fn paired_seeds(
    report: &mut Report,
    comparison: Option<&Comparison>,
) -> anyhow::Result<()> {
    let Some(c) = comparison.filter(|c| c.axis == "residual") else {
        let _ = writeln!(
            report.md,
            "### Paired seeds\n\nNot drawn: `residual` is not an axis of this sweep.\n"
        );
        return Ok(());
    };
    // Strata where only one arm ran (e.g. a control added with `[[include]]`) have no
    // pairs to draw.
    let (strata, unpaired): (Vec<&Stratum>, Vec<&Stratum>) =
        c.strata.iter().partition(|st| !st.pairs.is_empty());
    let constant: Vec<Option<ArmSpread>> = strata
        .iter()
        .map(|st| constant_arm(&c.baseline, st))
        .collect();
    let differences = constant.iter().any(Option::is_some);
    let (a, b) = (
        net(&c.baseline),
        net(strata.first().map_or("true", |s| &s.arm)),
    );
    let _ = writeln!(report.md, "### Paired seeds\n");
    if differences {
        let panels: Vec<(String, Diffs)> = strata
            .iter()
            .zip(&constant)
            .map(|(st, k)| {
                let mut notes = Vec::new();
                if let Some(k) = k {
                    notes.push(format!(
                        "{} constant across seeds: {}",
                        net(&k.arm),
                        spread_text(k)
                    ));
                }
                let (mean, ci) = match &st.stats {
                    Some(p) => {
                        notes.push(format!(
                            "solid: mean {}; band: 95% {} CI [{}, {}]",
                            format::value(p.mean_diff),
                            p.diff_ci_method,
                            format::value(p.diff_ci_low),
                            format::value(p.diff_ci_high)
                        ));
                        (p.mean_diff, (p.diff_ci_low, p.diff_ci_high))
                    }
                    None => (f64::NAN, (f64::NAN, f64::NAN)),
                };
                let diffs = Diffs {
                    y_label: format!("{} − {}, final eval loss", net(&st.arm), net(&c.baseline)),
                    points: st
                        .pairs
                        .iter()
                        .map(|p| (p.seed.clone(), p.b - p.a))
                        .collect(),
                    mean,
                    ci,
                    notes,
                };
                (st.label(), diffs)
            })
            .collect();
        report.figure("paired_seeds.png", "Paired seeds", |path| {
            plots::paired_differences(
                path,
                &format!("Paired seeds: {b} − {a} final eval loss, per seed (one arm constant across seeds)"),
                &panels,
            )
        })?;
    } else {
        let panels: Vec<(String, Pairs)> = strata
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
        report.figure("paired_seeds.png", "Paired seeds", |path| {
            plots::paired_scatter(
                path,
                &format!("Paired seeds: {a} (x) vs {b} (y), final eval loss"),
                &panels,
            )
        })?;
    }
    let md = &mut report.md;
    for st in &strata {
        if let Some(p) = &st.stats {
            let _ = writeln!(
                md,
                "- **{}**: the {b} has the lower final eval loss in {} of {} seeds; mean paired difference {} (95% {} CI [{}, {}]).",
                st.label(),
                p.wins_b,
                p.n,
                format::value(p.mean_diff),
                p.diff_ci_method,
                format::value(p.diff_ci_low),
                format::value(p.diff_ci_high)
            );
        }
    }
    let limit = format::sig(100.0 * CONSTANT_SPREAD, 2);
    if differences {
        let which: Vec<String> = strata
            .iter()
            .zip(&constant)
            .filter_map(|(st, k)| {
                k.as_ref()
                    .map(|k| format!("{} at {}: {}", net(&k.arm), st.label(), spread_text(k)))
            })
            .collect();
        let _ = writeln!(
            md,
            "\nShown: each seed's paired difference ({b} − {a}) with 0 (dashed, where it is in range), the mean difference (solid) and its 95% CI (band). An arm's final eval loss is constant across seeds (relative spread (max − min)/|median| below {limit}%), so a scatter of arm against arm would stack its seeds into a line and hide their spread: {}. Points below 0 are seeds where the {b} ended lower.\n",
            which.join("; ")
        );
    } else {
        let _ = writeln!(
            md,
            "\nShown: each seed's final eval loss in one arm against the other (no arm is constant across seeds: every relative spread (max − min)/|median| is at least {limit}%). Points below the diagonal are seeds where the {b} ended lower.\n"
        );
    }
    if !unpaired.is_empty() {
        let names: Vec<String> = unpaired.iter().map(|st| st.label()).collect();
        let _ = writeln!(
            md,
            "Not drawn, having no pairs (one arm only): {}.\n",
            names.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::compare::PairRow;

    fn stratum(a: &[f64], b: &[f64]) -> Stratum {
        Stratum {
            settings: vec![],
            arm: "true".into(),
            pairs: a
                .iter()
                .zip(b)
                .enumerate()
                .map(|(i, (a, b))| PairRow {
                    seed: i.to_string(),
                    run_a: format!("a{i}"),
                    run_b: format!("b{i}"),
                    a: *a,
                    b: *b,
                })
                .collect(),
            stats: None,
        }
    }

    #[test]
    fn relative_spread_is_range_over_median() {
        let s = relative_spread(&[0.3329, 0.3344, 0.3335]).unwrap();
        assert!((s - 0.0015 / 0.3335).abs() < 1e-12, "{s}");
        assert_eq!(relative_spread(&[1.0, 1.0, 1.0]), Some(0.0));
        assert_eq!(relative_spread(&[0.0, 0.0]), Some(0.0));
        assert_eq!(relative_spread(&[-1e-3, 0.0, 1e-3]), Some(f64::INFINITY));
        assert_eq!(relative_spread(&[-2.0, -1.0, -1.0]), Some(1.0));
        assert_eq!(relative_spread(&[1.0]), None);
        assert_eq!(relative_spread(&[1.0, f64::NAN]), None);
        assert_eq!(relative_spread(&[1.0, f64::INFINITY]), None);
    }

    #[test]
    fn an_arm_is_constant_only_below_the_threshold() {
        // The default sweep's shape: a PlainMLP stuck at 1/3, a ResMLP that learns.
        let plain = [0.3329, 0.3344, 0.3335, 0.3331];
        let res = [0.0567, 0.0697, 0.0610, 0.0640];
        let k = constant_arm("false", &stratum(&plain, &res)).unwrap();
        assert_eq!(k.arm, "false");
        assert_eq!((k.min, k.max), (0.3329, 0.3344));
        assert!(k.spread < CONSTANT_SPREAD);
        // The compared arm can be the constant one.
        assert_eq!(
            constant_arm("false", &stratum(&res, &plain)).unwrap().arm,
            "true"
        );
        // Both arms vary: the scatter stays.
        assert_eq!(constant_arm("false", &stratum(&res, &res)), None);
        // Just above and just below the threshold (median 1).
        let at = |half: f64| [1.0 - half, 1.0, 1.0 + half];
        assert_eq!(constant_arm("false", &stratum(&at(0.0101), &res)), None);
        assert!(constant_arm("false", &stratum(&at(0.0099), &res)).is_some());
        // One seed, or a diverged (NaN) seed, says nothing about constancy.
        assert_eq!(constant_arm("false", &stratum(&[0.3], &[0.1])), None);
        assert_eq!(
            constant_arm("false", &stratum(&[0.3, f64::NAN, 0.3], &res[..3])),
            None
        );
    }
}
