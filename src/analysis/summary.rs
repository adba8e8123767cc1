//! Summaries over seeds: runs grouped by every swept setting except `seed`, each key
//! metric described by [`stats::summarize`] (n, mean, sample std, stderr, min, max, 95%
//! CI of the mean: Student t below [`stats::SMALL_SAMPLE`] seeds, percentile bootstrap
//! from there on), as rows, as a polars frame (`summary.parquet`,
//! `summary.csv`) and as text (terminal and `summary.md`).
//!
//! Pure: takes run results, returns data and strings; [`super::tables`] does the I/O.
//!
//! A metric a run does not have (`null` in `result.json`: the run never produced a finite
//! value, e.g. it diverged before the step the metric is read at) enters the statistics
//! as `NaN`, so that the group's mean is `NaN` instead of silently describing only the
//! runs that behaved (see the conventions of [`stats`]); `n_missing` counts those runs
//! and `diverged` counts the group's diverged runs.

use std::collections::HashMap;

use polars::prelude::*;
use rayon::prelude::*;

use super::stats::{self, Summary};
use crate::config::RunConfig;
use crate::experiment::RunMetrics;
use crate::store::RunResult;

/// The metrics summarised per group, in the order tables show them.
pub const SUMMARY_METRICS: &[&str] = &[
    "initial_train_loss",
    "initial_eval_loss",
    "final_eval_loss",
    "loss_reduction",
    "grad_norm_first_init",
    "grad_norm_last_init",
    "grad_norm_first_final",
    "grad_norm_last_final",
    "act_std_last_final",
];

/// The value of one of [`SUMMARY_METRICS`] (or any other float metric of
/// [`RunMetrics`]) by name; `None` for a metric the run does not have or an unknown name.
pub fn metric_value(m: &RunMetrics, name: &str) -> Option<f64> {
    match name {
        "initial_train_loss" => m.initial_train_loss,
        "initial_eval_loss" => m.initial_eval_loss,
        "final_eval_loss" => m.final_eval_loss,
        "final_train_loss" => m.final_train_loss,
        "best_eval_loss" => m.best_eval_loss,
        "loss_reduction" => m.loss_reduction,
        "grad_norm_first_init" => m.grad_norm_first_init,
        "grad_norm_last_init" => m.grad_norm_last_init,
        "grad_norm_first_final" => m.grad_norm_first_final,
        "grad_norm_last_final" => m.grad_norm_last_final,
        "act_std_last_init" => m.act_std_last_init,
        "act_std_last_final" => m.act_std_last_final,
        _ => None,
    }
}

/// One metric of one group of runs, described over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The group: `(setting, value)` for every grouping setting, in grouping order
    /// (values as they read in the sweep file: `true`, `20`, `1/sqrt(depth)`).
    pub group: Vec<(String, String)>,
    /// The metric's name (one of [`SUMMARY_METRICS`]).
    pub metric: String,
    /// Runs of the group without this metric (counted in `stats.n`, as `NaN`).
    pub n_missing: usize,
    /// Diverged runs in the group.
    pub diverged: usize,
    /// n, mean, std, stderr, min, max and the 95% CI of the mean (with its method).
    pub stats: Summary,
}

/// A group of runs sharing every grouping setting.
#[derive(Clone, Debug)]
pub(crate) struct Group<'a> {
    /// Display values of the grouping settings.
    pub values: Vec<String>,
    /// The group's runs (in the order given).
    pub runs: Vec<&'a RunResult>,
}

/// The value of a setting as the sweep file writes it: `20`, `true`, `0.001`, `adam`,
/// `1/sqrt(depth)` (an init scale shows its label).
pub fn setting_display(cfg: &RunConfig, name: &str) -> String {
    if name == "init_scale" {
        return cfg.init_scale.label();
    }
    match cfg.canonical().remove(name) {
        Some(serde_json::Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// Groups `runs` by the settings `group_by`. Groups come in the order of their first run
/// according to `rank` (lower first; the position in the expanded sweep), runs inside a
/// group in the order given.
pub(crate) fn group_runs<'a>(
    runs: &[&'a RunResult],
    group_by: &[String],
    rank: impl Fn(&RunResult) -> usize,
) -> Vec<Group<'a>> {
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut groups: Vec<(usize, Group<'a>)> = Vec::new();
    for &r in runs {
        let canonical = r.config.canonical();
        let key: Vec<String> = group_by
            .iter()
            .map(|g| canonical.get(g).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        let i = *index.entry(key).or_insert_with(|| {
            groups.push((
                usize::MAX,
                Group {
                    values: group_by
                        .iter()
                        .map(|g| setting_display(&r.config, g))
                        .collect(),
                    runs: Vec::new(),
                },
            ));
            groups.len() - 1
        });
        groups[i].0 = groups[i].0.min(rank(r));
        groups[i].1.runs.push(r);
    }
    groups.sort_by_key(|(rank, _)| *rank);
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Summarises every metric of [`SUMMARY_METRICS`] for every group (group-major order).
/// Groups are summarised in parallel; the result does not depend on the thread count.
pub(crate) fn summarize_groups(groups: &[Group<'_>], group_by: &[String]) -> Vec<SummaryRow> {
    let jobs: Vec<(usize, &str)> = (0..groups.len())
        .flat_map(|g| SUMMARY_METRICS.iter().map(move |m| (g, *m)))
        .collect();
    jobs.par_iter()
        .filter_map(|&(g, metric)| {
            let group = &groups[g];
            let values: Vec<f64> = group
                .runs
                .iter()
                .map(|r| metric_value(&r.metrics, metric).unwrap_or(f64::NAN))
                .collect();
            let n_missing = group
                .runs
                .iter()
                .filter(|r| metric_value(&r.metrics, metric).is_none())
                .count();
            let stats = stats::summarize(&values)?;
            Some(SummaryRow {
                group: group_by
                    .iter()
                    .cloned()
                    .zip(group.values.iter().cloned())
                    .collect(),
                metric: metric.to_string(),
                n_missing,
                diverged: group
                    .runs
                    .iter()
                    .filter(|r| r.status == crate::store::Outcome::Diverged)
                    .count(),
                stats,
            })
        })
        .collect()
}

/// The `summary.parquet` frame: the grouping settings as typed columns (as in
/// `runs.parquet`; `init_scale` gives `init_scale` f64 and `init_scale_expr` str), then
/// `metric`, `n`, `n_missing`, `diverged` (i64) and `mean`, `std`, `stderr`, `min`, `max`,
/// `ci_low`, `ci_high` (f64; `NaN` where undefined, see [`stats`]), `ci_method` (str: `t`
/// or `bootstrap`). One row per group and
/// metric, group-major, metrics in [`SUMMARY_METRICS`] order.
pub(crate) fn summary_frame(
    groups: &[Group<'_>],
    group_by: &[String],
    rows: &[SummaryRow],
) -> anyhow::Result<DataFrame> {
    // One representative config per row (every run of a group shares the grouping
    // settings, and rows are group-major with every metric present).
    let per_group = SUMMARY_METRICS.len();
    anyhow::ensure!(
        rows.len() == groups.len() * per_group,
        "internal error: {} summary rows for {} groups",
        rows.len(),
        groups.len()
    );
    let configs: Vec<&RunConfig> = groups
        .iter()
        .flat_map(|g| std::iter::repeat_n(&g.runs[0].config, per_group))
        .collect();
    let mut columns = Vec::new();
    for name in group_by {
        columns.extend(super::columns::setting_columns(name, &configs)?);
    }
    let f = |name: &str, get: fn(&Summary) -> f64| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(|r| get(&r.stats)).collect::<Vec<f64>>(),
        )
    };
    let count = |name: &str, get: fn(&SummaryRow) -> usize| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(|r| get(r) as i64).collect::<Vec<i64>>(),
        )
    };
    columns.push(Column::new(
        "metric".into(),
        rows.iter()
            .map(|r| r.metric.as_str())
            .collect::<Vec<&str>>(),
    ));
    columns.push(count("n", |r| r.stats.n));
    columns.push(count("n_missing", |r| r.n_missing));
    columns.push(count("diverged", |r| r.diverged));
    columns.push(f("mean", |s| s.mean));
    columns.push(f("std", |s| s.std));
    columns.push(f("stderr", |s| s.stderr));
    columns.push(f("min", |s| s.min));
    columns.push(f("max", |s| s.max));
    columns.push(f("ci_low", |s| s.ci_low));
    columns.push(f("ci_high", |s| s.ci_high));
    columns.push(Column::new(
        "ci_method".into(),
        rows.iter()
            .map(|r| r.stats.ci_method.name())
            .collect::<Vec<&str>>(),
    ));
    Ok(DataFrame::new(rows.len(), columns)?)
}

fn mean_std(s: &Summary) -> String {
    if s.std.is_nan() {
        crate::format::value(s.mean)
    } else {
        format!(
            "{} ± {}",
            crate::format::value(s.mean),
            crate::format::value(s.std)
        )
    }
}

fn ci(s: &Summary) -> String {
    if s.ci_low.is_nan() || s.ci_high.is_nan() {
        "n/a".into()
    } else {
        format!(
            "[{}, {}] ({})",
            crate::format::value(s.ci_low),
            crate::format::value(s.ci_high),
            s.ci_method
        )
    }
}

fn count_cell(r: &SummaryRow) -> String {
    if r.n_missing > 0 {
        format!("{} ({} missing)", r.stats.n, r.n_missing)
    } else {
        r.stats.n.to_string()
    }
}

/// Header and cells of the human summary: metric-major (one block per metric, its groups
/// in sweep order) so that arms sit next to each other.
fn human_rows(group_by: &[String], rows: &[SummaryRow]) -> (Vec<String>, Vec<Vec<String>>) {
    let any_diverged = rows.iter().any(|r| r.diverged > 0);
    let mut header = vec!["metric".to_string()];
    header.extend(group_by.iter().cloned());
    header.extend([
        "n".to_string(),
        "mean ± std".to_string(),
        format!("{}% CI", ci_percent()),
    ]);
    if any_diverged {
        header.push("diverged".into());
    }
    let mut out = Vec::with_capacity(rows.len());
    for metric in SUMMARY_METRICS {
        for r in rows.iter().filter(|r| r.metric == *metric) {
            let mut cells = vec![r.metric.clone()];
            cells.extend(r.group.iter().map(|(_, v)| v.clone()));
            cells.extend([count_cell(r), mean_std(&r.stats), ci(&r.stats)]);
            if any_diverged {
                cells.push(r.diverged.to_string());
            }
            out.push(cells);
        }
    }
    (header, out)
}

fn ci_percent() -> String {
    crate::format::compact(stats::CI_LEVEL * 100.0)
}

/// The summary as aligned text for the terminal.
pub fn render_text(group_by: &[String], rows: &[SummaryRow]) -> String {
    if rows.is_empty() {
        return "no complete runs to summarize yet\n".into();
    }
    let (header, cells) = human_rows(group_by, rows);
    crate::table::aligned(&header, &cells)
}

/// The summary as a markdown table (no title).
pub fn render_markdown(group_by: &[String], rows: &[SummaryRow]) -> String {
    if rows.is_empty() {
        return "No complete runs to summarize yet.\n".into();
    }
    let (header, cells) = human_rows(group_by, rows);
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    let rule: Vec<&str> = header
        .iter()
        .map(|h| {
            if h == "n" || h == "diverged" {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in cells {
        out.push_str(&format!(
            "| {} |\n",
            row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_formatting() {
        assert_eq!(crate::format::value(1.0 / 3.0), "0.3333");
        assert_eq!(crate::format::value(15.0234), "15.02");
        assert_eq!(crate::format::value(3.0123e8), "3.012e8");
        assert_eq!(crate::format::value(1.2e-14), "1.2e-14");
        assert_eq!(crate::format::value(-2.0), "-2");
        assert_eq!(crate::format::value(0.0), "0");
        assert_eq!(crate::format::value(f64::NAN), "NaN");
        assert_eq!(crate::format::value(f64::NEG_INFINITY), "-inf");
    }
}
