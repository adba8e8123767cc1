//! The JSON the page's script reads: every figure's inputs (curves thinned for display),
//! the groups and their colours, the heat maps' colour scale, and the per-run series of the
//! drill-down. Numbers are rounded to 7 significant digits (display only: the tables keep
//! exact values); non-finite numbers are `null`.

use super::{Input, RELOAD_MS};
use crate::report::plots::{self, Band, Figure};
use polars::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// At most this many points per displayed curve (min and max of each bucket are kept, so
/// spikes survive thinning).
pub(super) const MAX_POINTS: usize = 1000;

/// At most this many probe steps per run in the drill-down's heat maps.
const MAX_PROBES: usize = 100;

/// A number for display: 7 significant digits; `null` when not finite.
pub(super) fn num(v: f64) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    let rounded: f64 = format!("{v:.6e}").parse().unwrap_or(v);
    serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
}

fn nums(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|&x| num(x)).collect())
}

/// The indices of `ys` kept for display: all of them up to [`MAX_POINTS`]; beyond, the
/// first and last, and the smallest and largest finite value of each of `MAX_POINTS / 2`
/// equal buckets, in order.
pub(super) fn thin(ys: &[f64]) -> Vec<usize> {
    let n = ys.len();
    if n <= MAX_POINTS {
        return (0..n).collect();
    }
    let buckets = MAX_POINTS / 2;
    let mut keep = vec![0, n - 1];
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, ((b + 1) * n / buckets).min(n));
        let finite = (lo..hi).filter(|&i| ys[i].is_finite());
        let min = finite.clone().min_by(|&a, &b| ys[a].total_cmp(&ys[b]));
        let max = finite.max_by(|&a, &b| ys[a].total_cmp(&ys[b]));
        match (min, max) {
            (Some(a), Some(b)) => keep.extend([a, b]),
            _ => keep.push(lo),
        }
    }
    keep.sort_unstable();
    keep.dedup();
    keep
}

fn pick(v: &[f64], idx: &[usize]) -> Vec<f64> {
    idx.iter()
        .map(|&i| v.get(i).copied().unwrap_or(f64::NAN))
        .collect()
}

fn band(b: &Band) -> Value {
    let idx = thin(&b.mean);
    let mut o = json!({
        "label": b.label,
        "n": b.n,
        "xs": nums(&pick(&b.xs, &idx)),
        "mean": nums(&pick(&b.mean, &idx)),
    });
    match &b.range {
        Some((lo, hi)) => {
            o["lo"] = nums(&pick(lo, &idx));
            o["hi"] = nums(&pick(hi, &idx));
        }
        None if !b.std.is_empty() => o["std"] = nums(&pick(&b.std, &idx)),
        None => {}
    }
    o
}

/// `{label: [r, g, b]}` as the PNG figures colour `labels`.
fn colors(labels: &[&str], into: &mut Map<String, Value>) {
    for (l, c) in labels.iter().zip(plots::colors(labels)) {
        into.entry(l.to_string()).or_insert_with(|| json!(c));
    }
}

/// One figure as the page draws it.
pub(super) fn figure(f: &Figure) -> Value {
    match f {
        Figure::Bands { title, panels } => {
            let mut cols = Map::new();
            let panels: Vec<Value> = panels
                .iter()
                .map(|p| {
                    let labels: Vec<&str> = p.bands.iter().map(|b| b.label.as_str()).collect();
                    colors(&labels, &mut cols);
                    json!({
                        "title": p.title,
                        "x_label": p.x_label,
                        "y_label": p.y_label,
                        "log_y": p.log_y,
                        "notes": p.notes,
                        "bands": p.bands.iter().map(band).collect::<Vec<_>>(),
                        "curves": p.curves.iter().map(|c| {
                            let idx = thin(&c.ys);
                            json!({"label": c.label, "xs": nums(&pick(&c.xs, &idx)), "ys": nums(&pick(&c.ys, &idx))})
                        }).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"kind": "bands", "title": title, "colors": cols, "panels": panels})
        }
        Figure::ErrorBars {
            title,
            x_label,
            y_label,
            log_y,
            series,
        } => {
            let mut cols = Map::new();
            let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
            colors(&labels, &mut cols);
            json!({
                "kind": "error_bars", "title": title, "x_label": x_label, "y_label": y_label,
                "log_y": log_y, "colors": cols,
                "series": series.iter().map(|s| json!({
                    "label": s.label, "xs": nums(&s.xs), "mean": nums(&s.mean), "err": nums(&s.err),
                })).collect::<Vec<_>>(),
            })
        }
        Figure::Heatmaps {
            title,
            left,
            right,
            colorbar_label,
        } => {
            let map = |h: &plots::Heat| {
                json!({
                    "title": h.title, "layers": h.layers, "steps": nums(&h.steps), "notes": h.notes,
                    "values": h.values.iter().map(|r| nums(r)).collect::<Vec<_>>(),
                })
            };
            json!({"kind": "heatmaps", "title": title, "colorbar_label": colorbar_label, "maps": [map(left), map(right)]})
        }
        Figure::Pairs { title, panels } => {
            let mut cols = Map::new();
            let labels: Vec<&str> = panels.iter().map(|(t, _)| t.as_str()).collect();
            colors(&labels, &mut cols);
            json!({
                "kind": "pairs", "title": title, "colors": cols,
                "panels": panels.iter().map(|(t, p)| json!({
                    "title": t, "x_label": p.x_label, "y_label": p.y_label,
                    "points": p.points.iter().map(|(a, b, s)| json!([num(*a), num(*b), s])).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        }
    }
}

/// A column as f64 (nulls as NaN); empty when missing.
pub(super) fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .ok()
        .and_then(|c| c.cast(&DataType::Float64).ok())
        .and_then(|c| {
            c.f64()
                .ok()
                .map(|c| c.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        })
        .unwrap_or_default()
}

/// A column as text (nulls as empty); empty when missing.
pub(super) fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .ok()
        .and_then(|c| c.cast(&DataType::String).ok())
        .and_then(|c| {
            c.str()
                .ok()
                .map(|c| c.iter().map(|v| v.unwrap_or("").to_string()).collect())
        })
        .unwrap_or_default()
}

fn sorted(df: &DataFrame, by: &[&str]) -> anyhow::Result<DataFrame> {
    df.sort(by.to_vec(), SortMultipleOptions::default())
        .map_err(|e| anyhow::anyhow!("sorting for report.html: {e}"))
}

/// Each run's loss curves: `{run_id: {step, train, eval, diverged_step}}`. Steps are thinned
/// alike in every run (every k-th step, every evaluated step and each run's last), so the
/// runs of a group share their x positions and the page can average them.
fn drill_steps(steps: &DataFrame, runs: &DataFrame) -> anyhow::Result<Value> {
    let steps = sorted(steps, &["run_id", "step"])?;
    let (ids, step, train, eval) = (
        strs(&steps, "run_id"),
        f64s(&steps, "step"),
        f64s(&steps, "train_loss"),
        f64s(&steps, "eval_loss"),
    );
    let max_step = step.iter().copied().fold(0.0, f64::max);
    let k = ((max_step + 1.0) / MAX_POINTS as f64).ceil().max(1.0);
    let diverged: BTreeMap<String, f64> = strs(runs, "run_id")
        .into_iter()
        .zip(f64s(runs, "diverged_step"))
        .collect();
    let mut out = Map::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j < ids.len() && ids[j] == ids[i] {
            j += 1;
        }
        let keep: Vec<usize> = (i..j)
            .filter(|&r| step[r] % k == 0.0 || eval[r].is_finite() || r + 1 == j)
            .collect();
        out.insert(
            ids[i].clone(),
            json!({
                "step": nums(&pick(&step, &keep)),
                "train": nums(&pick(&train, &keep)),
                "eval": nums(&pick(&eval, &keep)),
                "diverged_step": num(diverged.get(&ids[i]).copied().unwrap_or(f64::NAN)),
            }),
        );
        i = j;
    }
    Ok(Value::Object(out))
}

/// Each run's per-layer gradient norm and output std at its probe steps:
/// `{run_id: {layers, steps, grad: [step][layer - 1], act: [step][layer - 1]}}`, at most
/// [`MAX_PROBES`] probe steps (every k-th of the sweep's probe steps, and each run's last).
fn drill_layers(layers: &DataFrame) -> anyhow::Result<Value> {
    let layers = sorted(layers, &["run_id", "step", "layer"])?;
    let (ids, step, layer, grad, act) = (
        strs(&layers, "run_id"),
        f64s(&layers, "step"),
        f64s(&layers, "layer"),
        f64s(&layers, "grad_norm"),
        f64s(&layers, "act_std"),
    );
    let mut probes: Vec<f64> = step.clone();
    probes.sort_by(f64::total_cmp);
    probes.dedup();
    let k = probes.len().div_ceil(MAX_PROBES).max(1);
    let kept: Vec<f64> = probes.iter().step_by(k).copied().collect();
    let mut out = Map::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j < ids.len() && ids[j] == ids[i] {
            j += 1;
        }
        let depth = (i..j).map(|r| layer[r] as usize).max().unwrap_or(0);
        let last = step[j - 1];
        let (mut st, mut g, mut a): (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<f64>>) = Default::default();
        for r in i..j {
            if !(kept.contains(&step[r]) || step[r] == last) {
                continue;
            }
            if st.last() != Some(&step[r]) {
                st.push(step[r]);
                g.push(vec![f64::NAN; depth]);
                a.push(vec![f64::NAN; depth]);
            }
            let l = layer[r] as usize;
            if let (true, Some(gr), Some(ar)) =
                ((1..=depth).contains(&l), g.last_mut(), a.last_mut())
            {
                gr[l - 1] = grad[r];
                ar[l - 1] = act[r];
            }
        }
        out.insert(
            ids[i].clone(),
            json!({
                "layers": depth,
                "steps": nums(&st),
                "grad": g.iter().map(|r| nums(r)).collect::<Vec<_>>(),
                "act": a.iter().map(|r| nums(r)).collect::<Vec<_>>(),
            }),
        );
        i = j;
    }
    Ok(Value::Object(out))
}

/// The page's data, as JSON safe to inline in a `<script>` element.
pub(super) fn payload(input: &Input<'_>, charts: &[&Figure]) -> anyhow::Result<String> {
    let labels: Vec<&str> = input.groups.iter().map(|g| g.label.as_str()).collect();
    let mut group_colors = Map::new();
    colors(&labels, &mut group_colors);
    let drill = match (input.steps, input.layers) {
        (Some(s), Some(l)) if input.runs.height() > 0 => {
            json!({"steps": drill_steps(s, input.runs)?, "layers": drill_layers(l)?})
        }
        _ => Value::Null,
    };
    let v = json!({
        "sweep": input.sweep,
        "figures": charts.iter().map(|f| figure(f)).collect::<Vec<_>>(),
        "groups": input.groups.iter().map(|g| json!({
            "label": g.label, "depthless": g.depthless, "depth": g.depth, "runs": g.runs,
        })).collect::<Vec<_>>(),
        "group_colors": group_colors,
        "color_scale": plots::color_scale(11),
        "drill": drill,
        "live": input.live.map(|l| json!({"total": l.total, "reload_ms": RELOAD_MS})),
    });
    // `<` only ever appears inside JSON strings, where `\u003c` means the same: the text can
    // then never close the script element.
    Ok(serde_json::to_string(&v)?.replace('<', "\\u003c"))
}
