//! A finished [`Comparison`] in its three output forms: terminal text
//! ([`render_text`]), the report's markdown ([`render_markdown`]) and the two parquet
//! frames of `resweep compare` ([`frames`]). It reads a comparison; it computes nothing.

use super::*;
use crate::format;
use polars::prelude::*;
use std::collections::BTreeSet;

/// `1.00 [0.84, 1.00]`, or `1.00 (no interval: …)` when the interval was left out.
pub fn prob_improvement_text(p: &Paired) -> String {
    if p.prob_improvement_ci_low.is_nan() {
        let why = if p.n < stats::SMALL_SAMPLE {
            format!("fewer than {} pairs", stats::SMALL_SAMPLE)
        } else {
            "every resample agrees".to_string()
        };
        format!("{:.2} (no interval: {why})", p.prob_improvement)
    } else {
        format!(
            "{:.2} [{:.2}, {:.2}]",
            p.prob_improvement, p.prob_improvement_ci_low, p.prob_improvement_ci_high
        )
    }
}

/// `mean A vs B: paired difference D (95% t CI [low, high])`.
fn difference_text(p: &Paired) -> String {
    format!(
        "mean {} vs {}: paired difference {} (95% {} CI [{}, {}])",
        format::value(p.mean_a),
        format::value(p.mean_b),
        format::value(p.mean_diff),
        p.diff_ci_method,
        format::value(p.diff_ci_low),
        format::value(p.diff_ci_high),
    )
}

/// The audit and the statistics as text for the terminal.
pub fn render_text(c: &Comparison) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let better = if c.lower_is_better {
        "lower is better"
    } else {
        "higher is better"
    };
    let _ = writeln!(
        s,
        "fairness audit: {} ({}), metric {} ({better})",
        c.axis,
        c.arms.join(" vs "),
        c.metric
    );
    let _ = writeln!(s, "{}", c.verdict());
    if c.fair() {
        let mut checked = vec!["seed"];
        if !c.skipped_checks.iter().any(|x| x.starts_with("init")) {
            checked.extend(["initial-weight hash", "parameter count"]);
        }
        if !c.skipped_checks.iter().any(|x| x.starts_with("data")) {
            checked.push("data hash");
        }
        let _ = writeln!(
            s,
            "  identical within every pair: {} and every other setting",
            checked.join(", ")
        );
    }
    for f in &c.flags {
        let _ = writeln!(s, "  - [{}] {}", f.kind, f.message);
    }
    for skipped in &c.skipped_checks {
        let _ = writeln!(s, "  not checked: {skipped}");
    }
    if !c.confounds.is_empty() {
        let _ = writeln!(
            s,
            "confounds the hashes cannot see (warnings, not failures; --strict ignores them):"
        );
        for f in &c.confounds {
            let _ = writeln!(s, "  - [{}] {}", f.kind, f.message);
            if let Some(control) = &f.control {
                let _ = writeln!(s, "    control: {control}");
            }
        }
    }
    for b in &c.baselines {
        let _ = writeln!(
            s,
            "\nstrongest baseline, {}: {} pairs by seed (same draws and data, each arm at its own init scale)",
            b.label,
            b.pairs.len()
        );
        if let Some(p) = &b.stats {
            let _ = writeln!(
                s,
                "  {}; ResMLP better in {} of {} seeds; sign test p = {}",
                difference_text(p),
                p.wins_b,
                p.n,
                format::value(p.sign_test_p)
            );
        }
    }
    if c.pairs == 0 {
        let _ = writeln!(s, "\n{}", no_pairs(c));
    }
    // A stratum without pairs has no table to show (the flags say why).
    for st in c.strata.iter().filter(|st| !st.pairs.is_empty()) {
        let (a, b) = (
            format!("{}={}", c.axis, c.baseline),
            format!("{}={}", c.axis, st.arm),
        );
        let _ = writeln!(
            s,
            "\n{}: {a} vs {b}, {} pairs by seed",
            st.label(),
            st.pairs.len()
        );
        let header = vec![
            "seed".to_string(),
            a.clone(),
            b.clone(),
            format!("diff ({} - {})", st.arm, c.baseline),
        ];
        let table_rows: Vec<Vec<String>> = st
            .pairs
            .iter()
            .map(|p| {
                vec![
                    p.seed.clone(),
                    format::value(p.a),
                    format::value(p.b),
                    format::value(p.b - p.a),
                ]
            })
            .collect();
        for line in crate::table::aligned(&header, &table_rows).lines() {
            let _ = writeln!(s, "  {line}");
        }
        if let Some(p) = &st.stats {
            let _ = writeln!(
                s,
                "  {}, ratio of means {}",
                difference_text(p),
                format::value(p.ratio_of_means)
            );
            let _ = writeln!(
                s,
                "  {b} better in {} of {} seeds ({} ties); probability of improvement {}; sign test p = {}",
                p.wins_b,
                p.n,
                p.ties,
                prob_improvement_text(p),
                format::value(p.sign_test_p)
            );
            if let Some(w) = &p.warning {
                let _ = writeln!(s, "  warning: {w}");
            }
        }
    }
    s
}

/// Why there are no statistics, and what would make the sweep comparable.
fn no_pairs(c: &Comparison) -> String {
    format!(
        "no pairs: no two runs differ only in {axis}, so there are no paired statistics. To make the sweep comparable, give every {axis} arm the same other settings: make each setting named above a [grid] axis (every arm then runs every value), or give it the same value in every [[include]] rule; then rerun `resweep run`.",
        axis = c.axis
    )
}

/// The audit and the statistics as markdown (for report.md).
pub fn render_markdown(c: &Comparison) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "**{}**\n", c.verdict());
    for f in &c.flags {
        let _ = writeln!(s, "- `{}`: {}", f.kind, f.message);
    }
    if c.fair() {
        let _ = writeln!(
            s,
            "Within every pair the seed, the initial-weight hash, the data hash, the parameter count and every other setting are identical{}.",
            if c.skipped_checks.is_empty() { String::new() } else { format!(" (not checked: {})", c.skipped_checks.join("; ")) }
        );
    }
    if !c.confounds.is_empty() {
        let _ = writeln!(
            s,
            "\n**Confounds the hashes cannot see** (warnings, not failures):\n"
        );
        for f in &c.confounds {
            match &f.control {
                Some(control) => {
                    let _ = writeln!(s, "- `{}`: {}. *Control:* {control}.", f.kind, f.message);
                }
                None => {
                    let _ = writeln!(s, "- `{}`: {}.", f.kind, f.message);
                }
            }
        }
    }
    if !c.baselines.is_empty() {
        let _ = writeln!(s, "\n**Strongest baseline** (PlainMLP at init scale 1 against the ResMLP at its smaller scale; paired by seed: same draws and data, each arm at its own init scale):\n");
        let _ = writeln!(
            s,
            "| pair | pairs | mean (PlainMLP) | mean (ResMLP) | paired diff [95% CI] | CI | ResMLP better | sign p |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for b in &c.baselines {
            if let Some(p) = &b.stats {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} [{}, {}] | {} | {}/{} | {} |",
                    b.label,
                    p.n,
                    format::value(p.mean_a),
                    format::value(p.mean_b),
                    format::value(p.mean_diff),
                    format::value(p.diff_ci_low),
                    format::value(p.diff_ci_high),
                    p.diff_ci_method,
                    p.wins_b,
                    p.n,
                    format::value(p.sign_test_p)
                );
            }
        }
    }
    let better = if c.lower_is_better {
        "lower is better"
    } else {
        "higher is better"
    };
    let _ = writeln!(
        s,
        "\nMetric `{}` ({better}); paired by seed, difference = arm − baseline (baseline {}={}); 95% CI of the mean difference: Student t below {} pairs, percentile bootstrap from {} on (the CI column names it); P(improvement) gets a bootstrap interval only from {} pairs on.\n",
        c.metric, c.axis, c.baseline, stats::SMALL_SAMPLE, stats::SMALL_SAMPLE, stats::SMALL_SAMPLE
    );
    if c.pairs == 0 {
        let _ = writeln!(s, "{}", no_pairs(c));
        return s;
    }
    let _ = writeln!(s, "| stratum | arms | pairs | mean (baseline) | mean (arm) | paired diff [95% CI] | CI | ratio | arm better | P(improvement) | sign p |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for st in &c.strata {
        if let Some(p) = &st.stats {
            let _ = writeln!(
                s,
                "| {} | {}={} vs {} | {} | {} | {} | {} [{}, {}] | {} | {} | {}/{} | {} | {} |",
                st.label(),
                c.axis,
                c.baseline,
                st.arm,
                p.n,
                format::value(p.mean_a),
                format::value(p.mean_b),
                format::value(p.mean_diff),
                format::value(p.diff_ci_low),
                format::value(p.diff_ci_high),
                p.diff_ci_method,
                format::value(p.ratio_of_means),
                p.wins_b,
                p.n,
                prob_improvement_text(p),
                format::value(p.sign_test_p)
            );
        }
    }
    let warnings: BTreeSet<&str> = c
        .strata
        .iter()
        .filter_map(|st| st.stats.as_ref()?.warning.as_deref())
        .collect();
    for w in warnings {
        let _ = writeln!(s, "\n> {w}");
    }
    s
}

/// The comparison as two frames: one row per stratum and arm (statistics and verdict),
/// and one row per pair.
pub fn frames(c: &Comparison) -> anyhow::Result<(DataFrame, DataFrame)> {
    let st = &c.strata;
    let stat = |f: fn(&Paired) -> f64| -> Vec<Option<f64>> {
        st.iter().map(|s| s.stats.as_ref().map(f)).collect()
    };
    let flags = c
        .flags
        .iter()
        .map(|f| format!("[{}] {}", f.kind, f.message))
        .collect::<Vec<_>>()
        .join("\n");
    let confounds = c
        .confounds
        .iter()
        .map(|f| match &f.control {
            Some(control) => format!("[{}] {} (control: {control})", f.kind, f.message),
            None => format!("[{}] {}", f.kind, f.message),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let n = st.len();
    let labels: Vec<String> = st.iter().map(Stratum::label).collect();
    let summary = DataFrame::new(
        n,
        vec![
            Column::new("axis".into(), vec![c.axis.clone(); n]),
            Column::new("metric".into(), vec![c.metric.clone(); n]),
            Column::new("lower_is_better".into(), vec![c.lower_is_better; n]),
            Column::new("stratum".into(), &labels),
            Column::new("baseline".into(), vec![c.baseline.clone(); n]),
            Column::new(
                "arm".into(),
                st.iter().map(|s| s.arm.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n_pairs".into(),
                st.iter().map(|s| s.pairs.len() as i64).collect::<Vec<_>>(),
            ),
            Column::new("mean_baseline".into(), stat(|p| p.mean_a)),
            Column::new("mean_arm".into(), stat(|p| p.mean_b)),
            Column::new("mean_diff".into(), stat(|p| p.mean_diff)),
            Column::new("diff_ci_low".into(), stat(|p| p.diff_ci_low)),
            Column::new("diff_ci_high".into(), stat(|p| p.diff_ci_high)),
            Column::new(
                "diff_ci_method".into(),
                st.iter()
                    .map(|s| s.stats.as_ref().map(|p| p.diff_ci_method.name()))
                    .collect::<Vec<_>>(),
            ),
            Column::new("ratio_of_means".into(), stat(|p| p.ratio_of_means)),
            Column::new("wins_arm".into(), stat(|p| p.wins_b as f64)),
            Column::new("ties".into(), stat(|p| p.ties as f64)),
            Column::new("prob_improvement".into(), stat(|p| p.prob_improvement)),
            Column::new(
                "prob_improvement_ci_low".into(),
                stat(|p| p.prob_improvement_ci_low),
            ),
            Column::new(
                "prob_improvement_ci_high".into(),
                stat(|p| p.prob_improvement_ci_high),
            ),
            Column::new("sign_test_p".into(), stat(|p| p.sign_test_p)),
            Column::new(
                "warning".into(),
                st.iter()
                    .map(|s| s.stats.as_ref().and_then(|p| p.warning.clone()))
                    .collect::<Vec<_>>(),
            ),
            Column::new("fair".into(), vec![c.fair(); n]),
            Column::new("verdict".into(), vec![c.verdict(); n]),
            Column::new("flags".into(), vec![flags; n]),
            Column::new("confounds".into(), vec![confounds; n]),
        ],
    )?;
    // Every pair with its stratum's label and arm.
    let all: Vec<(&str, &str, &PairRow)> = st
        .iter()
        .zip(&labels)
        .flat_map(|(s, label)| {
            s.pairs
                .iter()
                .map(move |p| (label.as_str(), s.arm.as_str(), p))
        })
        .collect();
    let m = all.len();
    let text = |name: &str, get: fn(&PairRow) -> &str| {
        Column::new(
            name.into(),
            all.iter().map(|(_, _, p)| get(p)).collect::<Vec<&str>>(),
        )
    };
    let value = |name: &str, get: fn(&PairRow) -> f64| {
        Column::new(
            name.into(),
            all.iter().map(|(_, _, p)| get(p)).collect::<Vec<f64>>(),
        )
    };
    let pairs = DataFrame::new(
        m,
        vec![
            Column::new(
                "stratum".into(),
                all.iter().map(|t| t.0).collect::<Vec<_>>(),
            ),
            Column::new("baseline".into(), vec![c.baseline.clone(); m]),
            Column::new("arm".into(), all.iter().map(|t| t.1).collect::<Vec<_>>()),
            text("seed", |p| &p.seed),
            text("run_baseline", |p| &p.run_a),
            text("run_arm", |p| &p.run_b),
            value("value_baseline", |p| p.a),
            value("value_arm", |p| p.b),
            value("diff", |p| p.b - p.a),
        ],
    )?;
    Ok((summary, pairs))
}
