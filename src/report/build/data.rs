//! The report's view of the tables: reading parquet columns, the [`Line`]s the runs are
//! grouped into (one line or band of the figures, one row of the results table), and the
//! aggregation over seeds that turns a table's rows into [`Band`]s.

use crate::analysis::compare::cell;
use crate::analysis::stats;
use crate::analysis::tables::table_path;
use crate::config::{Activation, BiasInit, Gate, Norm, WeightInit};
use crate::report::plots::Band;
use crate::report::theory::Variant;
use crate::store::SweepDir;
use polars::prelude::*;
use std::collections::BTreeMap;

/// One line of the figures and one row of the results table: the runs that share every
/// axis value but the seed.
///
/// The same grouping key as the summary's groups (`crate::analysis::summary`, the sweep's
/// axes without `seed`), but read from the rows of the runs table and carrying what the
/// figures need: labels, the arm, the settings the theory curves use, and the other axis
/// values that pair a PlainMLP line with its ResMLP line.
#[derive(Clone, Debug)]
pub(super) struct Line {
    /// "`arm`, a=1, b=2": the legend label and the results-table row name.
    pub(super) label: String,
    /// `label` without the depth: one line of the depth figure.
    pub(super) depthless_label: String,
    /// ResMLP (`true`) or PlainMLP.
    pub(super) residual: bool,
    /// Number of layers (0 when the runs table does not say).
    pub(super) depth: usize,
    /// Numeric init scale (NaN when the runs table does not say).
    pub(super) init_scale: f64,
    /// Batch size (0 when the runs table does not say).
    pub(super) batch_size: usize,
    /// Layer width (0 when the runs table does not say).
    pub(super) width: usize,
    /// The model variant the theory curves need (the settings read from the runs table's
    /// columns, the default for a column the table lacks; `None` when a setting's value
    /// cannot be read).
    pub(super) variant: Option<Variant>,
    /// Axis values other than `residual`, `depth` and `seed` (for pairing figures).
    pub(super) others: Vec<(String, String)>,
    /// Ids of the line's runs.
    pub(super) runs: Vec<String>,
    /// Row of each run in the runs table.
    pub(super) rows: Vec<usize>,
    /// Runs of the line that diverged.
    pub(super) diverged: usize,
}

impl Line {
    /// The arm's name: "ResMLP" or "PlainMLP".
    pub(super) fn arm(&self) -> &'static str {
        arm_name(self.residual)
    }

    /// This line's values of a runs-table column (NaN where the column has no row).
    pub(super) fn values(&self, column: &[f64]) -> Vec<f64> {
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

/// A polars result as an anyhow one, saying what was being done.
pub(super) fn pl<T>(r: PolarsResult<T>, what: &str) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// A lazy scan of `tables/<table>.parquet`.
pub(super) fn scan(dir: &SweepDir, table: &str) -> anyhow::Result<LazyFrame> {
    let path = table_path(dir, table);
    let p = pl(PlRefPath::try_from_path(&path), "table path")?;
    pl(
        LazyFrame::scan_parquet(p, ScanArgsParquet::default()),
        &format!("reading {}", path.display()),
    )
}

/// A column as f64 (nulls as NaN).
pub(super) fn f64s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<f64>> {
    let c = pl(df.column(name), name)?;
    let c = pl(c.cast(&DataType::Float64), name)?;
    Ok(pl(c.f64(), name)?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// A column as u32 (nulls as 0).
pub(super) fn u32s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<u32>> {
    let c = pl(df.column(name), name)?;
    let c = pl(c.cast(&DataType::UInt32), name)?;
    Ok(pl(c.u32(), name)?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Groups the complete runs by every axis but `seed` into [`Line`]s, in a stable order.
pub(super) fn lines(runs: &DataFrame, axes: &[String]) -> anyhow::Result<Vec<Line>> {
    let col = |n: &str| pl(runs.column(n), n);
    let (ids, residual, depth, scale, batch, status) = (
        col("run_id")?,
        col("residual")?,
        col("depth")?,
        col("init_scale")?,
        col("batch_size")?,
        col("status")?,
    );
    let width = runs.column("width").ok();
    let group_axes: Vec<&String> = axes.iter().filter(|a| a.as_str() != "seed").collect();
    let mut by_key: BTreeMap<Vec<String>, Line> = BTreeMap::new();
    for i in 0..runs.height() {
        let res = cell(residual, i)? == "true";
        let mut key = Vec::new();
        let mut parts = Vec::new();
        let mut others = Vec::new();
        for a in &group_axes {
            // An init-scale kind reads as written (`1/sqrt(depth)`), not as its value.
            let is_expr =
                crate::config::setting(a).is_some_and(|s| s.kind == crate::config::Kind::InitScale);
            let source = if is_expr {
                format!("{a}_expr")
            } else {
                a.to_string()
            };
            let v = cell(col(&source)?, i)?;
            key.push(format!("{a}={v}"));
            // A setting that does not apply to the run (null) is left out of its label.
            if a.as_str() != "residual" && v != "null" {
                parts.push(format!("{a}={v}"));
                if a.as_str() != "depth" {
                    others.push((a.to_string(), v));
                }
            }
        }
        let arm = arm_name(res);
        let g = by_key.entry(key).or_insert_with(|| {
            let (depth, init_scale, width) = (
                cell(depth, i)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                cell(scale, i)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
                width
                    .and_then(|w| cell(w, i).ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            );
            Line {
                label: arm_label(arm, &parts),
                depthless_label: arm_label(
                    arm,
                    &others
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>(),
                ),
                residual: res,
                depth,
                init_scale,
                batch_size: cell(batch, i)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                width,
                variant: variant_of(
                    runs,
                    i,
                    Variant::default_block(res, depth, width, init_scale),
                ),
                others,
                runs: Vec::new(),
                rows: Vec::new(),
                diverged: 0,
            }
        });
        g.runs.push(cell(ids, i)?);
        g.rows.push(i);
        if cell(status, i)? == "diverged" {
            g.diverged += 1;
        }
    }
    let mut out: Vec<Line> = by_key.into_values().collect();
    out.sort_by(|a, b| (&a.others, a.depth, a.residual).cmp(&(&b.others, b.depth, b.residual)));
    Ok(out)
}

/// The model variant of row `i` of the runs table, from `base` (its shape and init
/// scale, the default block) and the setting columns: a missing column or a null (a
/// setting that does not apply, such as `branch_scale` for a PlainMLP) keeps the default;
/// a value that cannot be read gives `None`.
fn variant_of(runs: &DataFrame, i: usize, base: Variant) -> Option<Variant> {
    let value = |name: &str| {
        runs.column(name)
            .ok()
            .and_then(|c| c.get(i).ok())
            .filter(|v| !v.is_null())
            .map(|v| v.into_static())
    };
    fn choice<T: std::str::FromStr>(v: Option<AnyValue<'static>>, default: T) -> Option<T> {
        match v {
            None => Some(default),
            Some(v) => v.get_str().and_then(|s| s.parse().ok()),
        }
    }
    let number = |name: &str, default: f64| match value(name) {
        None => Some(default),
        Some(v) => v.extract::<f64>(),
    };
    let output_relu = match value("output_relu") {
        None => Some(base.output_relu),
        Some(AnyValue::Boolean(b)) => Some(b),
        Some(_) => None,
    };
    let mut v = Variant {
        weight_init: choice::<WeightInit>(value("weight_init"), base.weight_init)?,
        bias_init: choice::<BiasInit>(value("bias_init"), base.bias_init)?,
        output_relu: output_relu?,
        activation: choice::<Activation>(value("activation"), base.activation)?,
        norm: choice::<Norm>(value("norm"), base.norm)?,
        ..base
    };
    if v.residual {
        v.branch_scale = number("branch_scale", base.branch_scale)?;
        v.gate = choice::<Gate>(value("gate"), base.gate)?;
        v.gate_init = number("gate_init", base.gate_init)?;
    }
    Some(v)
}

/// A frame mapping run_id to its line index (column `group`), for joins.
pub(super) fn line_frame(lines: &[Line]) -> anyhow::Result<DataFrame> {
    let mut ids = Vec::new();
    let mut idx = Vec::new();
    for (g, line) in lines.iter().enumerate() {
        for r in &line.runs {
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

/// The rows of `lf` (rows with run_id) that belong to a line, with their `group` column
/// (the line's index; see [`line_frame`]).
pub(super) fn with_groups(
    lf: LazyFrame,
    labels: &DataFrame,
    what: &str,
) -> anyhow::Result<DataFrame> {
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

/// Mean and std over seeds of `value` per line and `x`, from `grouped` (rows with their
/// `group`, see [`with_groups`]).
pub(super) fn bands_by(
    grouped: &DataFrame,
    x: &str,
    value: &str,
    lines: &[Line],
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
    let mut bands: Vec<Band> = lines
        .iter()
        .map(|line| Band {
            label: line.label.clone(),
            n: line.runs.len(),
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

/// For roughly log-normal quantities (gradient norms, activation std, losses spanning
/// decades): the seeds' geometric mean of `value` per line and `x`, with the seeds' 10%
/// and 90% quantiles as the band ([`Band::range`]), to draw on a log axis where a mean ±
/// std band would be cut off at the axis. The geometric mean of values one of which is 0
/// is 0 (drawn at the axis bottom and noted); a negative or non-finite value leaves the
/// geometric mean undefined (NaN). `x` is rounded to an integer (steps, layers).
pub(super) fn geo_bands_by(
    grouped: &DataFrame,
    x: &str,
    value: &str,
    lines: &[Line],
) -> anyhow::Result<Vec<Band>> {
    quantile_bands_by(grouped, x, value, lines, geometric_mean)
}

/// The seeds' `center` (e.g. their mean) of `value` per line and `x`, with the seeds'
/// 10% and 90% quantiles as the band: a band that stays inside the values' own range
/// (fractions stay inside [0, 1], where mean ± std would not).
pub(super) fn quantile_bands_by(
    grouped: &DataFrame,
    x: &str,
    value: &str,
    lines: &[Line],
    center: fn(&[f64]) -> f64,
) -> anyhow::Result<Vec<Band>> {
    let values = values_by(grouped, x, value, lines)?;
    Ok(lines
        .iter()
        .zip(values)
        .map(|(line, by_x)| {
            let mut b = Band {
                label: line.label.clone(),
                n: line.runs.len(),
                ..Band::default()
            };
            let (mut lo, mut hi) = (Vec::new(), Vec::new());
            for (x, seeds) in by_x {
                b.xs.push(x as f64);
                b.mean.push(center(&seeds));
                b.std.push(0.0);
                lo.push(stats::quantile_sorted(&seeds, 0.1));
                hi.push(stats::quantile_sorted(&seeds, 0.9));
            }
            b.range = Some((lo, hi));
            b
        })
        .collect())
}

/// `exp(mean(ln v))`; 0 when a value is 0; NaN when a value is negative or not finite, or
/// there is none.
pub(super) fn geometric_mean(vs: &[f64]) -> f64 {
    if vs.is_empty() || vs.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return f64::NAN;
    }
    if vs.contains(&0.0) {
        return 0.0;
    }
    (vs.iter().map(|v| v.ln()).sum::<f64>() / vs.len() as f64).exp()
}

/// The seeds' values of `value` at each `x` (rounded to an integer, e.g. a layer), one map
/// per line, each list sorted ascending; nulls and NaN are left out.
pub(super) fn values_by(
    grouped: &DataFrame,
    x: &str,
    value: &str,
    lines: &[Line],
) -> anyhow::Result<Vec<BTreeMap<i64, Vec<f64>>>> {
    let df = pl(
        grouped
            .clone()
            .lazy()
            .filter(col(value).is_not_null())
            .select([col("group"), col(x), col(value)])
            .collect(),
        "collecting values over seeds",
    )?;
    let (g, xs, vs) = (u32s(&df, "group")?, f64s(&df, x)?, f64s(&df, value)?);
    let mut out = vec![BTreeMap::<i64, Vec<f64>>::new(); lines.len()];
    for ((g, x), v) in g.iter().zip(&xs).zip(&vs) {
        if let Some(m) = out.get_mut(*g as usize) {
            if x.is_finite() && !v.is_nan() {
                m.entry(x.round() as i64).or_default().push(*v);
            }
        }
    }
    for m in &mut out {
        m.values_mut().for_each(|v| v.sort_by(f64::total_cmp));
    }
    Ok(out)
}

/// The layer rows of the lines' runs (see [`with_groups`]), read once.
pub(super) struct LayerFrames {
    /// Every probe.
    pub(super) all: DataFrame,
    /// Step 0.
    pub(super) init: DataFrame,
    /// Each run's last probe.
    pub(super) last: DataFrame,
}

/// Reads the layers table once and keeps the rows each figure needs (see [`LayerFrames`]).
pub(super) fn layer_frames(dir: &SweepDir, labels: &DataFrame) -> anyhow::Result<LayerFrames> {
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

/// The distinct non-null values of a column as text, sorted (empty when there is no such
/// column).
pub(super) fn distinct(df: &DataFrame, name: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Five runs: PlainMLP and ResMLP at depth 2 with two seeds each (one PlainMLP seed
    /// diverged), and one ResMLP run at depth 4.
    fn runs() -> DataFrame {
        let columns = vec![
            Column::new("run_id".into(), ["a", "b", "c", "d", "e"]),
            Column::new("residual".into(), [false, true, false, true, true]),
            Column::new("depth".into(), [2i64, 2, 2, 2, 4]),
            Column::new("init_scale".into(), [1.0f64, 1.0, 1.0, 1.0, 0.5]),
            Column::new("init_scale_expr".into(), ["1", "1", "1", "1", "0.5"]),
            Column::new("batch_size".into(), [8i64, 8, 8, 8, 8]),
            Column::new(
                "status".into(),
                ["complete", "complete", "diverged", "complete", "complete"],
            ),
            Column::new("seed".into(), [0i64, 0, 1, 1, 0]),
        ];
        DataFrame::new(5, columns).unwrap()
    }

    #[test]
    fn lines_group_every_axis_but_seed() {
        let axes: Vec<String> = ["residual", "depth", "seed"].map(String::from).to_vec();
        let lines = lines(&runs(), &axes).unwrap();
        let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            ["PlainMLP, depth=2", "ResMLP, depth=2", "ResMLP, depth=4"]
        );
        let depthless: Vec<&str> = lines.iter().map(|l| l.depthless_label.as_str()).collect();
        assert_eq!(depthless, ["PlainMLP", "ResMLP", "ResMLP"]);
        assert_eq!(lines[0].runs, ["a", "c"]);
        assert_eq!(lines[0].rows, [0, 2]);
        assert_eq!(lines[0].diverged, 1);
        assert_eq!(lines[1].diverged, 0);
        assert_eq!((lines[2].depth, lines[2].batch_size), (4, 8));
        assert_eq!(lines[2].init_scale, 0.5);
        assert_eq!(lines[0].arm(), "PlainMLP");
        assert_eq!(lines[1].arm(), "ResMLP");
        // A line's values of a runs-table column; rows past the column's end are NaN.
        let column = [10.0, 11.0, 12.0];
        assert_eq!(lines[0].values(&column), [10.0, 12.0]);
        assert!(lines[2].values(&column)[0].is_nan());

        let frame = line_frame(&lines).unwrap();
        assert_eq!(u32s(&frame, "group").unwrap(), [0, 0, 1, 1, 2]);
    }

    #[test]
    fn lines_read_the_variant_settings_or_their_defaults() {
        let axes: Vec<String> = ["residual", "depth", "seed"].map(String::from).to_vec();
        // A table collected before the variant settings existed: the default block.
        let old = lines(&runs(), &axes).unwrap();
        let d = Variant::default_block(false, 2, 0, 1.0);
        assert_eq!(old[0].variant, Some(d));
        assert!(old.iter().all(|l| l.variant.unwrap().is_default_block()));
        // Every setting column; nulls where a setting does not apply.
        let mut df = runs();
        let extra = vec![
            Column::new(
                "activation".into(),
                ["tanh", "tanh", "tanh", "tanh", "gelu"],
            ),
            Column::new("norm".into(), ["layernorm"; 5]),
            Column::new("weight_init".into(), ["orthogonal"; 5]),
            Column::new("bias_init".into(), ["torch_default"; 5]),
            Column::new("output_relu".into(), [false; 5]),
            Column::new(
                "branch_scale".into(),
                [None, Some(0.5f64), None, Some(0.5), Some(0.25)],
            ),
            Column::new(
                "gate".into(),
                [None, Some("rezero"), None, Some("rezero"), Some("none")],
            ),
            Column::new(
                "gate_init".into(),
                [None, Some(0.125f64), None, Some(0.125), None],
            ),
        ];
        for c in extra {
            df.with_column(c).unwrap();
        }
        let new = lines(&df, &axes).unwrap();
        let plain = new[0].variant.unwrap();
        assert_eq!(
            (
                plain.activation,
                plain.norm,
                plain.weight_init,
                plain.bias_init
            ),
            (
                Activation::Tanh,
                Norm::LayerNorm,
                WeightInit::Orthogonal,
                BiasInit::TorchDefault
            )
        );
        assert!(!plain.output_relu && plain.branch_scale == 1.0 && plain.gate == Gate::None);
        let res = new[1].variant.unwrap();
        assert_eq!(
            (res.branch_scale, res.gate, res.gate_init),
            (0.5, Gate::Rezero, 0.125)
        );
        let res4 = new[2].variant.unwrap();
        assert_eq!(
            (
                res4.activation,
                res4.branch_scale,
                res4.gate,
                res4.gate_init
            ),
            (Activation::Gelu, 0.25, Gate::None, 0.0)
        );
        // A value that cannot be read: no variant, so no theory.
        let mut bad = runs();
        bad.with_column(Column::new(
            "activation".into(),
            ["relu", "swish", "relu", "swish", "relu"],
        ))
        .unwrap();
        let bad = lines(&bad, &axes).unwrap();
        assert!(bad[0].variant.is_some() && bad[1].variant.is_none());
    }

    #[test]
    fn other_axes_label_and_pair_lines() {
        let axes: Vec<String> = ["init_scale", "residual", "seed"]
            .map(String::from)
            .to_vec();
        let lines = lines(&runs(), &axes).unwrap();
        let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "ResMLP, init_scale=0.5",
                "PlainMLP, init_scale=1",
                "ResMLP, init_scale=1"
            ]
        );
        assert_eq!(
            lines[1].others,
            [("init_scale".to_string(), "1".to_string())]
        );
    }

    #[test]
    fn distinct_values_are_sorted_without_nulls() {
        let df = DataFrame::new(
            3,
            vec![Column::new(
                "git_commit".into(),
                [Some("b"), None, Some("a")],
            )],
        )
        .unwrap();
        assert_eq!(distinct(&df, "git_commit"), ["a", "b"]);
        assert!(distinct(&df, "no_such_column").is_empty());
    }
}
