//! The probe tables as the micro-world section and its explanations read them: the rows
//! of the lines' runs with their `group`, and small per-line helpers.

use super::data::{f64s, pl, scan, u32s, with_groups, Line};
use crate::store::SweepDir;
use polars::prelude::*;

/// The probe tables' rows of the lines' runs, with their `group`.
pub(super) struct ProbeFrames {
    pub(super) probes: DataFrame,
    pub(super) layers: DataFrame,
    pub(super) lesions: DataFrame,
    pub(super) spectrum: DataFrame,
    pub(super) shatter: DataFrame,
    pub(super) autocorr: DataFrame,
}

pub(super) fn read(dir: &SweepDir, labels: &DataFrame) -> anyhow::Result<ProbeFrames> {
    let t = |name: &str| with_groups(scan(dir, name)?, labels, name);
    Ok(ProbeFrames {
        probes: t("probes")?,
        layers: t("probe_layers")?,
        lesions: t("lesions")?,
        spectrum: t("spectrum")?,
        shatter: t("shatter")?,
        autocorr: t("autocorr")?,
    })
}

/// The rows of a probe table at `init` or `final`.
pub(super) fn at(df: &DataFrame, when: &str) -> anyhow::Result<DataFrame> {
    pl(
        df.clone()
            .lazy()
            .filter(col("when").eq(lit(when)))
            .collect(),
        "probe rows",
    )
}

/// The finite values of `value` per line.
pub(super) fn per_line(
    df: &DataFrame,
    value: &str,
    lines: &[Line],
) -> anyhow::Result<Vec<Vec<f64>>> {
    let (g, v) = (u32s(df, "group")?, f64s(df, value)?);
    let mut out = vec![Vec::new(); lines.len()];
    for (g, v) in g.iter().zip(v) {
        if v.is_finite() {
            if let Some(o) = out.get_mut(*g as usize) {
                o.push(v);
            }
        }
    }
    Ok(out)
}

/// Median of values (NaN for none).
pub(super) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

pub(super) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
