//! The fairness audit and the paired comparison of two (or more) arms.
//!
//! `resweep compare --axis residual` answers two questions from stored data:
//!
//! 1. **Was it the same setup?** Runs are paired when they differ only in the compared
//!    axis. Within every pair the audit checks the seed, the initial-weight hash (of the
//!    unscaled draws), the data hash and the parameter count — except where the axis
//!    itself legitimately changes one (a depth axis changes the network, a batch-size axis
//!    the data). Runs without a partner are flagged with the settings that differ from
//!    their nearest run of the other arm (e.g. an include that gave each arm its own
//!    init scale); unequal seed sets and settings that vary without being an axis of the
//!    sweep (a fixed setting changed with `--force`) are flagged too.
//! 2. **How large and how certain is the difference?** For every combination of the other
//!    axes, the arms are paired by seed: per-seed table, mean paired difference with a
//!    Student-t CI (bootstrap from 20 pairs), ratio of means, wins, probability of improvement and a sign test,
//!    with a plain warning when there are too few seeds to support a claim.

pub mod confounds;
pub mod render;

use super::stats::{self, Paired};
use crate::config::SETTING_NAMES;
use crate::format;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareSpec {
    /// The setting whose values are the arms (e.g. `residual`).
    pub axis: String,
    /// The metric column of runs.parquet (e.g. `final_eval_loss`).
    pub metric: String,
    /// The arm the others are compared against (default: the first value).
    pub baseline: Option<String>,
    /// Lower metric values are better (losses); false for scores.
    pub lower_is_better: bool,
}

/// One unfairness the audit found.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    /// Short kind: `unpaired`, `seeds`, `fingerprint`, `changed-setting`.
    pub kind: &'static str,
    /// What is wrong, in a sentence that names settings and values.
    pub message: String,
    /// The runs concerned.
    pub runs: Vec<String>,
}

/// One seed's pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairRow {
    /// The seed.
    pub seed: String,
    /// Run of the baseline arm.
    pub run_a: String,
    /// Run of the compared arm.
    pub run_b: String,
    /// Metric of the baseline run (NaN when missing).
    pub a: f64,
    /// Metric of the compared run (NaN when missing).
    pub b: f64,
}

/// One combination of the other axes, one compared arm.
#[derive(Clone, Debug)]
pub struct Stratum {
    /// The other settings that vary in the sweep, with their values.
    pub settings: Vec<(String, String)>,
    /// The compared arm (the baseline is [`Comparison::baseline`]).
    pub arm: String,
    /// Pairs by seed.
    pub pairs: Vec<PairRow>,
    /// Paired statistics (None when there is no pair).
    pub stats: Option<Paired>,
}

impl Stratum {
    /// `depth=20, init_scale=1/sqrt(depth)` (or `all runs`).
    pub fn label(&self) -> String {
        if self.settings.is_empty() {
            "all runs".into()
        } else {
            settings_label(&self.settings)
        }
    }
}

/// `depth=20, init_scale=1/sqrt(depth)`: settings as `name=value`, comma-separated.
fn settings_label(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The audit and the statistics.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The compared setting.
    pub axis: String,
    /// The metric.
    pub metric: String,
    /// Lower is better.
    pub lower_is_better: bool,
    /// The arms (values of the axis), baseline first.
    pub arms: Vec<String>,
    /// The baseline arm.
    pub baseline: String,
    /// Runs considered.
    pub runs: usize,
    /// Pairs found (over every stratum and compared arm).
    pub pairs: usize,
    /// What is unfair (empty: fair).
    pub flags: Vec<Flag>,
    /// Fingerprint checks skipped because the axis changes them legitimately.
    pub skipped_checks: Vec<String>,
    /// Statistics per stratum and compared arm.
    pub strata: Vec<Stratum>,
    /// Confounds the hashes cannot see (warnings with their control sweeps, not flags).
    pub confounds: Vec<confounds::Confound>,
    /// The strongest-baseline comparisons (PlainMLP at init scale 1 vs ResMLP below 1).
    pub baselines: Vec<confounds::Baseline>,
}

impl Comparison {
    /// No flag.
    pub fn fair(&self) -> bool {
        self.flags.is_empty()
    }

    /// The one-line verdict.
    pub fn verdict(&self) -> String {
        let arms = self.arms.join(" vs ");
        if self.fair() {
            format!(
                "fair: only {} differs ({arms}) across {} runs in {} pairs",
                self.axis, self.runs, self.pairs
            )
        } else {
            format!(
                "UNFAIR: {} problem{} found comparing {} ({arms}) across {} runs",
                self.flags.len(),
                if self.flags.len() == 1 { "" } else { "s" },
                self.axis,
                self.runs
            )
        }
    }
}

/// One run as the audit sees it.
#[derive(Clone, Debug)]
struct Row {
    run_id: String,
    /// Every setting by name, as text (`init_scale` as written).
    settings: BTreeMap<String, String>,
    metric: f64,
    init_hash: String,
    data_hash: String,
    param_count: String,
}

/// One cell of a frame as text (`null`, strings bare, floats compact).
pub fn cell(col: &Column, i: usize) -> anyhow::Result<String> {
    let v = col.get(i).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(text(v))
}

/// Every cell of a column as text, as [`cell`] gives it.
fn cells(col: &Column) -> Vec<String> {
    if col.is_empty() {
        return Vec::new();
    }
    col.as_materialized_series().iter().map(text).collect()
}

fn text(v: AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Float64(f) => format::compact(f),
        AnyValue::Float32(f) => format::compact(f as f64),
        other => other.to_string(),
    }
}

fn rows(df: &DataFrame, metric: &str) -> anyhow::Result<Vec<Row>> {
    let col = |name: &str| {
        df.column(name)
            .map_err(|_| anyhow::anyhow!("runs.parquet has no column `{name}`"))
    };
    let metric_col = df.column(metric).map_err(|_| {
        let numeric: Vec<String> = df
            .columns()
            .iter()
            .filter(|c| c.dtype().is_primitive_numeric())
            .map(|c| c.name().to_string())
            .collect();
        crate::error::bad_input(format!(
            "--metric {metric}: runs.parquet has no such column; numeric columns are: {}",
            numeric.join(", ")
        ))
    })?;
    anyhow::ensure!(
        metric_col.dtype().is_primitive_numeric(),
        crate::error::BadInput::Message(format!("--metric {metric} is not a numeric column"))
    );
    let metric_vals = metric_col
        .cast(&DataType::Float64)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let metric_vals = metric_vals.f64().map_err(|e| anyhow::anyhow!("{e}"))?;
    // A setting's column (`<name>_expr` for an init-scale kind). A table collected before
    // a setting existed lacks its column: every run then had its default.
    let setting_cols: Vec<(&str, Option<&Column>)> = SETTING_NAMES
        .iter()
        .map(|&name| {
            let info = crate::config::setting(name).expect("a declared setting");
            let source = if info.kind == crate::config::Kind::InitScale {
                format!("{name}_expr")
            } else {
                name.to_string()
            };
            match col(&source) {
                Ok(c) => Ok((name, Some(c))),
                Err(_) if info.canonical == crate::config::Canonical::UnlessDefault => {
                    Ok((name, None))
                }
                Err(e) => Err(e),
            }
        })
        .collect::<anyhow::Result<_>>()?;
    let (ids, ih, dh, pc) = (
        col("run_id")?,
        col("init_hash")?,
        col("data_hash")?,
        col("param_count")?,
    );
    // Each column to text once, then row by row.
    let mut settings: Vec<(&str, std::vec::IntoIter<String>)> = setting_cols
        .iter()
        .map(|(name, c)| {
            // A setting that does not apply to a run (null: `branch_scale` of a PlainMLP,
            // `momentum` under Adam) compares as its default, which is what such a run
            // computes with; so does a setting whose column the table lacks.
            let default = (crate::config::setting(name)
                .expect("a setting")
                .default_flag)();
            let texts = match c {
                Some(c) => cells(c)
                    .into_iter()
                    .map(|v| if v == "null" { default.clone() } else { v })
                    .collect(),
                None => vec![default; df.height()],
            };
            (*name, texts.into_iter())
        })
        .collect();
    let rows = cells(ids)
        .into_iter()
        .zip(metric_vals.iter())
        .zip(cells(ih).into_iter().zip(cells(dh)).zip(cells(pc)))
        .map(
            |((run_id, metric), ((init_hash, data_hash), param_count))| Row {
                run_id,
                settings: settings
                    .iter_mut()
                    .map(|(name, vals)| (name.to_string(), vals.next().expect("one per row")))
                    .collect(),
                metric: metric.unwrap_or(f64::NAN),
                init_hash,
                data_hash,
                param_count,
            },
        )
        .collect();
    Ok(rows)
}

/// The settings other than `axis` in which two runs differ, in [`SETTING_NAMES`] order.
fn differing<'a>(axis: &'a str, r: &'a Row, o: &'a Row) -> impl Iterator<Item = &'static str> + 'a {
    SETTING_NAMES
        .iter()
        .copied()
        .filter(move |n| *n != axis && o.settings[*n] != r.settings[*n])
}

/// Orders arm values naturally: numbers numerically, then text.
fn arm_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

/// Runs the audit and the statistics over the rows of runs.parquet. `sweep_axes` are the
/// axes of the sweep (settings expected to vary).
pub fn compare(
    df: &DataFrame,
    sweep_axes: &[String],
    spec: &CompareSpec,
) -> anyhow::Result<Comparison> {
    if !SETTING_NAMES.contains(&spec.axis.as_str()) || spec.axis == "seed" {
        let choices: Vec<&str> = SETTING_NAMES
            .iter()
            .filter(|s| **s != "seed")
            .copied()
            .collect();
        let hint = crate::sweep::did_you_mean(&spec.axis, &choices)
            .map_or(String::new(), |m| format!("did you mean {m}? "));
        return Err(crate::error::bad_input(format!(
            "--axis {}: not a setting that arms can differ in; {hint}choose one of: {}",
            spec.axis,
            choices.join(", ")
        )));
    }
    let rows = rows(df, &spec.metric)?;
    let axis = spec.axis.as_str();
    let mut arms: Vec<String> = rows
        .iter()
        .map(|r| r.settings[axis].clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    arms.sort_by(|a, b| arm_order(a, b));
    if arms.len() < 2 {
        return Err(crate::error::bad_input(format!(
            "--axis {axis}: the sweep's {} complete runs all have {axis} = {}; there is nothing to compare",
            rows.len(),
            arms.first().map_or("(none)", String::as_str)
        )));
    }
    let baseline = match &spec.baseline {
        Some(b) if arms.contains(b) => b.clone(),
        Some(b) => {
            return Err(crate::error::bad_input(format!(
                "--baseline {b}: not a value of {axis} in this sweep (values: {})",
                arms.join(", ")
            )))
        }
        None => arms[0].clone(),
    };
    arms.retain(|a| a != &baseline);
    arms.insert(0, baseline.clone());

    let mut flags = Vec::new();
    // Settings that vary without being an axis: a fixed setting changed between runs.
    for name in SETTING_NAMES {
        if *name == axis || sweep_axes.iter().any(|a| a == name) {
            continue;
        }
        let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &rows {
            values
                .entry(r.settings[*name].as_str())
                .or_default()
                .push(&r.run_id);
        }
        if values.len() > 1 {
            let counts: Vec<String> = values
                .iter()
                .map(|(v, ids)| format!("{v}: {} runs", ids.len()))
                .collect();
            flags.push(Flag {
                kind: "changed-setting",
                message: format!(
                    "{name} varies across runs ({}) but is not an axis of the sweep: a fixed setting changed between invocations",
                    counts.join(", ")
                ),
                runs: values.values().flatten().map(|s| s.to_string()).collect(),
            });
        }
    }

    // Pair groups: every setting but the axis (seed included).
    let key_of = |r: &Row| -> Vec<(String, String)> {
        r.settings
            .iter()
            .filter(|(k, _)| k.as_str() != axis)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let mut groups: BTreeMap<Vec<(String, String)>, BTreeMap<String, &Row>> = BTreeMap::new();
    for r in &rows {
        groups
            .entry(key_of(r))
            .or_default()
            .insert(r.settings[axis].clone(), r);
    }

    // Unpaired runs: explain with the nearest run of another arm and the same seed — the
    // fewest differing settings, then the smallest run id (the first such row on a tie).
    let mut by_seed: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in &rows {
        by_seed
            .entry(r.settings["seed"].as_str())
            .or_default()
            .push(r);
    }
    // A run whose combination of the other axes holds no run of another arm (an include
    // that adds one arm only) has nothing to pair with: a note, not an unfairness.
    let stratum_of = |r: &Row| -> Vec<String> {
        sweep_axes
            .iter()
            .filter(|a| a.as_str() != axis && a.as_str() != "seed")
            .map(|a| r.settings.get(a).cloned().unwrap_or_default())
            .collect()
    };
    let mut arms_of: HashMap<Vec<String>, BTreeSet<&str>> = HashMap::new();
    for r in &rows {
        arms_of
            .entry(stratum_of(r))
            .or_default()
            .insert(r.settings[axis].as_str());
    }
    let mut one_arm: BTreeMap<String, usize> = BTreeMap::new();
    let mut unpaired: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for members in groups.values() {
        if members.len() > 1 {
            continue;
        }
        let (arm, r) = members.iter().next().expect("non-empty group");
        let nearest = by_seed[r.settings["seed"].as_str()]
            .iter()
            .filter(|o| &o.settings[axis] != arm)
            .min_by_key(|o| (differing(axis, r, o).count(), o.run_id.as_str()));
        // An extra arm: its settings hold no run of another arm, and its nearest run of
        // another arm is itself paired (as the PlainMLP at init scale 1 that
        // sweeps/depth.toml adds beside the paired arms). When that run is unpaired too,
        // each arm has its own settings: unfair, flagged below.
        let counterpart_paired = nearest.is_some_and(|o| groups[&key_of(o)].len() > 1);
        if arms_of[&stratum_of(r)].len() == 1 && counterpart_paired {
            let label: Vec<String> = sweep_axes
                .iter()
                .filter(|a| a.as_str() != axis && a.as_str() != "seed")
                .map(|a| format!("{a}={}", r.settings.get(a).cloned().unwrap_or_default()))
                .collect();
            *one_arm
                .entry(format!("{axis}={arm} at {}", label.join(", ")))
                .or_default() += 1;
            continue;
        }
        let (reason, mut ids) = match nearest {
            Some(o) => (
                format!(
                    "{} differs from the other arm",
                    differing(axis, r, o).collect::<Vec<_>>().join(", ")
                ),
                vec![format!(
                    "{} vs {}: {}",
                    r.run_id,
                    o.run_id,
                    differing(axis, r, o)
                        .map(|n| format!("{n} ({} vs {})", r.settings[n], o.settings[n]))
                        .collect::<Vec<_>>()
                        .join(", ")
                )],
            ),
            None => (
                format!("no run of another arm has seed {}", r.settings["seed"]),
                vec![r.run_id.clone()],
            ),
        };
        let e = unpaired.entry(reason).or_default();
        e.0.push(r.run_id.clone());
        e.1.append(&mut ids);
    }
    for (reason, (runs, examples)) in unpaired {
        flags.push(Flag {
            kind: "unpaired",
            message: format!(
                "{} runs have no partner that differs only in {axis}: {reason} (e.g. {})",
                runs.len(),
                examples.first().map_or("", String::as_str)
            ),
            runs,
        });
    }

    // Fingerprints within pairs, unless the axis changes them legitimately.
    let shape_axis = matches!(axis, "depth" | "width");
    // Settings that change the draws themselves (normal or uniform weights, drawn
    // biases) or add parameters (a gate per block).
    let draws_axis = shape_axis || matches!(axis, "weight_init" | "bias_init");
    let count_axis = shape_axis || axis == "gate";
    let data_axis = matches!(axis, "batch_size" | "width" | "eval_size");
    let mut skipped_checks = Vec::new();
    if shape_axis {
        skipped_checks.push(format!(
            "init hash and parameter count (a {axis} axis changes the network)"
        ));
    } else if draws_axis {
        skipped_checks.push(format!(
            "init hash (a {axis} axis changes the initial draws)"
        ));
    } else if count_axis {
        skipped_checks.push(format!("parameter count (a {axis} axis adds parameters)"));
    }
    if data_axis {
        skipped_checks.push(format!("data hash (a {axis} axis changes the batches)"));
    }
    type Check = (&'static str, bool, fn(&Row) -> &str);
    let checks: [Check; 3] = [
        ("initial-weight hash", !draws_axis, |r| &r.init_hash),
        ("data hash", !data_axis, |r| &r.data_hash),
        ("parameter count", !count_axis, |r| &r.param_count),
    ];
    for (what, active, get) in checks {
        if !active {
            continue;
        }
        let bad: Vec<String> = groups
            .values()
            .filter(|m| m.values().map(|r| get(r)).collect::<BTreeSet<_>>().len() > 1)
            .flat_map(|m| m.values().map(|r| r.run_id.clone()))
            .collect();
        if !bad.is_empty() {
            flags.push(Flag {
                kind: "fingerprint",
                message: format!(
                    "{what} differs within {} runs that differ only in {axis} (e.g. {})",
                    bad.len(),
                    bad.iter().take(2).cloned().collect::<Vec<_>>().join(" vs ")
                ),
                runs: bad,
            });
        }
    }

    // Strata: the other axes of the sweep (not seed, not the compared axis).
    let stratum_names: Vec<String> = sweep_axes
        .iter()
        .filter(|a| a.as_str() != axis && a.as_str() != "seed")
        .cloned()
        .collect();
    let mut strata_rows: BTreeMap<Vec<(String, String)>, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        let key = stratum_names
            .iter()
            .map(|n| (n.clone(), r.settings[n].clone()))
            .collect();
        strata_rows.entry(key).or_default().push(r);
    }
    // Strata in natural order of their settings' values (depth 4, 12, 24).
    let mut strata_rows: Vec<_> = strata_rows.into_iter().collect();
    strata_rows.sort_by(|(a, _), (b, _)| {
        a.iter()
            .zip(b)
            .map(|((_, x), (_, y))| arm_order(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut strata = Vec::new();
    let mut total_pairs = 0;
    for (settings, members) in strata_rows {
        let member_ids: HashSet<&str> = members.iter().map(|r| r.run_id.as_str()).collect();
        let seeds_of = |which: &str| -> BTreeSet<String> {
            members
                .iter()
                .filter(|r| r.settings[axis] == which)
                .map(|r| r.settings["seed"].clone())
                .collect()
        };
        let sa = seeds_of(&baseline);
        let label = if settings.is_empty() {
            String::new()
        } else {
            format!(" at {}", settings_label(&settings))
        };
        for arm in arms.iter().skip(1) {
            let sb = seeds_of(arm);
            if sa != sb && !sa.is_empty() && !sb.is_empty() {
                let fmt = |s: &BTreeSet<String>| {
                    let mut v: Vec<&String> = s.iter().collect();
                    v.sort_by(|a, b| arm_order(a, b));
                    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
                };
                flags.push(Flag {
                    kind: "seeds",
                    message: format!(
                        "unequal seed sets{label}: {axis}={baseline} has seeds {{{}}}, {axis}={arm} has {{{}}}",
                        fmt(&sa),
                        fmt(&sb)
                    ),
                    runs: members.iter().map(|r| r.run_id.clone()).collect(),
                });
            }
            let mut pairs = Vec::new();
            for g in groups.values() {
                if let (Some(a), Some(b)) = (g.get(&baseline), g.get(arm)) {
                    if member_ids.contains(a.run_id.as_str()) {
                        pairs.push(PairRow {
                            seed: a.settings["seed"].clone(),
                            run_a: a.run_id.clone(),
                            run_b: b.run_id.clone(),
                            a: a.metric,
                            b: b.metric,
                        });
                    }
                }
            }
            if sa.is_empty() && sb.is_empty() {
                continue;
            }
            pairs.sort_by(|x, y| arm_order(&x.seed, &y.seed));
            let (va, vb): (Vec<f64>, Vec<f64>) = pairs.iter().map(|p| (p.a, p.b)).unzip();
            let stats = stats::paired(&va, &vb, spec.lower_is_better, stats::BOOTSTRAP_SEED).ok();
            total_pairs += pairs.len();
            strata.push(Stratum {
                settings: settings.clone(),
                arm: arm.clone(),
                pairs,
                stats,
            });
        }
    }
    let (mut confounds, baselines) = confounds::detect(
        &rows,
        &confounds::scales(df),
        sweep_axes,
        spec.lower_is_better,
    );
    if !one_arm.is_empty() {
        let parts: Vec<String> = one_arm
            .iter()
            .map(|(what, n)| format!("{n} of {what}"))
            .collect();
        confounds.push(confounds::Confound {
            kind: "one-arm",
            message: format!(
                "runs with no run of another arm at their settings, so nothing to pair them with here: {}",
                parts.join("; ")
            ),
            control: None,
        });
    }
    Ok(Comparison {
        axis: axis.to_string(),
        metric: spec.metric.clone(),
        lower_is_better: spec.lower_is_better,
        arms,
        baseline,
        runs: rows.len(),
        pairs: total_pairs,
        flags,
        skipped_checks,
        strata,
        confounds,
        baselines,
    })
}

#[cfg(test)]
mod tests {
    use super::render::{frames, render_text};
    use super::*;

    /// One synthetic run: (residual, seed, init_scale, width, metric, init_hash).
    type R = (bool, i64, &'static str, i64, f64, &'static str);

    fn frame(runs: &[R]) -> DataFrame {
        let n = runs.len();
        let col_i = |name: &str, v: Vec<i64>| Column::new(name.into(), v);
        DataFrame::new(
            n,
            vec![
                Column::new(
                    "run_id".into(),
                    runs.iter()
                        .map(|r| format!("{}-s{}-{}-w{}", r.0, r.1, r.2, r.3))
                        .collect::<Vec<_>>(),
                ),
                col_i("depth", vec![20; n]),
                col_i("width", runs.iter().map(|r| r.3).collect()),
                Column::new(
                    "residual".into(),
                    runs.iter().map(|r| r.0).collect::<Vec<_>>(),
                ),
                Column::new(
                    "init_scale_expr".into(),
                    runs.iter().map(|r| r.2).collect::<Vec<_>>(),
                ),
                col_i("seed", runs.iter().map(|r| r.1).collect()),
                Column::new("optimizer".into(), vec!["adam"; n]),
                Column::new("lr".into(), vec![1e-3; n]),
                Column::new("momentum".into(), vec![0.9; n]),
                col_i("batch_size", vec![64; n]),
                col_i("steps", vec![500; n]),
                col_i("eval_size", vec![4096; n]),
                col_i("eval_every", vec![50; n]),
                col_i("probe_every", vec![50; n]),
                Column::new(
                    "final_eval_loss".into(),
                    runs.iter().map(|r| r.4).collect::<Vec<_>>(),
                ),
                Column::new(
                    "init_hash".into(),
                    runs.iter().map(|r| r.5).collect::<Vec<_>>(),
                ),
                Column::new(
                    "data_hash".into(),
                    runs.iter()
                        .map(|r| format!("data{}", r.1))
                        .collect::<Vec<_>>(),
                ),
                col_i(
                    "param_count",
                    runs.iter().map(|r| 20 * (r.3 * r.3 + r.3)).collect(),
                ),
            ],
        )
        .unwrap()
    }

    fn spec() -> CompareSpec {
        CompareSpec {
            axis: "residual".into(),
            metric: "final_eval_loss".into(),
            baseline: None,
            lower_is_better: true,
        }
    }

    fn axes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const HASH: [&str; 4] = ["h0", "h1", "h2", "h3"];

    fn fair_runs() -> Vec<R> {
        (0..4)
            .flat_map(|s| {
                [
                    (
                        false,
                        s,
                        "1/sqrt(depth)",
                        64,
                        0.333 + 0.001 * s as f64,
                        HASH[s as usize],
                    ),
                    (
                        true,
                        s,
                        "1/sqrt(depth)",
                        64,
                        0.05 + 0.01 * s as f64,
                        HASH[s as usize],
                    ),
                ]
            })
            .collect()
    }

    #[test]
    fn a_fair_sweep_passes_with_hand_checked_statistics() {
        let c = compare(&frame(&fair_runs()), &axes(&["residual", "seed"]), &spec()).unwrap();
        assert!(c.fair(), "{:?}", c.flags);
        assert_eq!(
            c.verdict(),
            "fair: only residual differs (false vs true) across 8 runs in 4 pairs"
        );
        assert_eq!(c.strata.len(), 1);
        let p = c.strata[0].stats.as_ref().unwrap();
        // a = 0.333, 0.334, 0.335, 0.336; b = 0.05, 0.06, 0.07, 0.08
        assert!((p.mean_a - 0.3345).abs() < 1e-12);
        assert!((p.mean_b - 0.065).abs() < 1e-12);
        assert!((p.mean_diff - (0.065 - 0.3345)).abs() < 1e-12);
        assert_eq!(p.wins_b, 4);
        assert_eq!(p.prob_improvement, 1.0);
        assert!(
            p.warning.as_deref().unwrap_or("").contains("too few"),
            "{:?}",
            p.warning
        );
        let text = render_text(&c);
        assert!(text.contains("identical within every pair"), "{text}");
        let (summary, pairs) = frames(&c).unwrap();
        assert_eq!((summary.height(), pairs.height()), (1, 4));
    }

    #[test]
    fn different_init_scale_per_arm_is_named() {
        let runs: Vec<R> = fair_runs()
            .into_iter()
            .map(|mut r| {
                if r.0 {
                    r.2 = "1";
                }
                r
            })
            .collect();
        let c = compare(&frame(&runs), &axes(&["residual", "seed"]), &spec()).unwrap();
        assert!(!c.fair());
        let unpaired: Vec<&Flag> = c.flags.iter().filter(|f| f.kind == "unpaired").collect();
        assert!(!unpaired.is_empty(), "{:?}", c.flags);
        assert!(
            unpaired[0].message.contains("init_scale"),
            "{}",
            unpaired[0].message
        );
        // init_scale varies without being an axis too.
        assert!(c
            .flags
            .iter()
            .any(|f| f.kind == "changed-setting" && f.message.starts_with("init_scale")));
    }

    #[test]
    fn an_extra_arm_is_a_note_but_arms_with_their_own_scales_are_unfair() {
        // Both arms at 1/sqrt(depth), plus the PlainMLP alone at 1: fair, with a note.
        let mut runs = fair_runs();
        runs.extend((0..4).map(|s| (false, s, "1", 64, 0.32, HASH[s as usize])));
        let axes = axes(&["residual", "init_scale", "seed"]);
        let c = compare(&frame(&runs), &axes, &spec()).unwrap();
        assert!(c.fair(), "{:?}", c.flags);
        assert!(c
            .confounds
            .iter()
            .any(|f| f.kind == "one-arm"
                && f.message.contains("4 of residual=false at init_scale=1")));
        // Each arm only at its own scale: no pair anywhere, unfair.
        let own: Vec<R> = fair_runs()
            .into_iter()
            .map(|mut r| {
                if r.0 {
                    r.2 = "1";
                }
                r
            })
            .collect();
        let c = compare(&frame(&own), &axes, &spec()).unwrap();
        assert!(!c.fair());
        assert!(
            c.flags.iter().any(|f| f.kind == "unpaired"),
            "{:?}",
            c.flags
        );
    }

    #[test]
    fn unequal_seed_sets_are_flagged() {
        let runs: Vec<R> = fair_runs()
            .into_iter()
            .filter(|r| !(r.0 && r.1 == 3))
            .collect();
        let c = compare(&frame(&runs), &axes(&["residual", "seed"]), &spec()).unwrap();
        let f = c
            .flags
            .iter()
            .find(|f| f.kind == "seeds")
            .expect("seed flag");
        assert!(
            f.message.contains("{0,1,2,3}") && f.message.contains("{0,1,2}"),
            "{}",
            f.message
        );
        assert!(c.flags.iter().any(
            |f| f.kind == "unpaired" && f.message.contains("no run of another arm has seed 3")
        ));
    }

    #[test]
    fn a_changed_fixed_setting_and_a_fingerprint_mismatch_are_flagged() {
        let mut runs = fair_runs();
        runs.push((false, 9, "1/sqrt(depth)", 32, 0.3, "h9"));
        runs.push((true, 9, "1/sqrt(depth)", 32, 0.1, "h9"));
        runs[1].5 = "tampered";
        let c = compare(&frame(&runs), &axes(&["residual", "seed"]), &spec()).unwrap();
        let kinds: Vec<&str> = c.flags.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&"changed-setting"), "{kinds:?}");
        assert!(
            c.flags
                .iter()
                .any(|f| f.kind == "fingerprint" && f.message.starts_with("initial-weight hash")),
            "{:?}",
            c.flags
        );
    }

    #[test]
    fn bad_axis_and_metric_are_explained() {
        let df = frame(&fair_runs());
        let bad = |s: CompareSpec| {
            compare(&df, &axes(&["residual"]), &s)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(CompareSpec {
            axis: "colour".into(),
            ..spec()
        })
        .contains("--axis colour"));
        assert!(bad(CompareSpec {
            metric: "nope".into(),
            ..spec()
        })
        .contains("numeric columns are"));
        assert!(bad(CompareSpec {
            axis: "depth".into(),
            ..spec()
        })
        .contains("nothing to compare"));
    }
}
