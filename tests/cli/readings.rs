//! Every number of the report's readings recomputed from the tables (read back through
//! `resweep query`, aggregated here by hand) and found, formatted as the report formats
//! it, in `report.md`.

use crate::util::*;
use resweep::format;
use std::collections::BTreeMap;
use std::path::Path;

/// Both arms at two init scales, so the strongest baseline is in the sweep.
const SWEEP: &str = r#"name = "readings"
[model]
depth = 3
width = 8
[train]
batch_size = 16
steps = 40
[task]
eval_size = 64
[probe]
eval_every = 10
probe_every = 20
[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", 1.0]
seed = { start = 0, count = 3 }
"#;

/// Rows of a query as JSON objects.
fn query(dir: &Path, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let json = ok(run_in(
        dir,
        &["query", "runs/readings", sql, "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

fn f(r: &serde_json::Map<String, serde_json::Value>, k: &str) -> f64 {
    r[k].as_f64().unwrap_or_else(|| panic!("{k}: {:?}", r[k]))
}

/// The report's label of a line.
fn label(r: &serde_json::Map<String, serde_json::Value>) -> String {
    let arm = if r["residual"].as_bool().unwrap() {
        "ResMLP"
    } else {
        "PlainMLP"
    };
    format!(
        "{arm}, init_scale={}",
        r["init_scale_expr"].as_str().unwrap()
    )
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// `values[line][x]` → the seeds' values.
type ByLine = BTreeMap<String, BTreeMap<i64, Vec<f64>>>;

fn by_line(rows: &[serde_json::Map<String, serde_json::Value>], x: &str, v: &str) -> ByLine {
    let mut out = ByLine::new();
    for r in rows {
        if let Some(val) = r[v].as_f64() {
            out.entry(label(r))
                .or_default()
                .entry(r[x].as_i64().unwrap())
                .or_default()
                .push(val);
        }
    }
    out
}

fn pct(v: f64) -> String {
    format!("{}%", format::sig(100.0 * v, 2))
}

#[test]
fn every_reading_is_recomputed_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", SWEEP);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let md = std::fs::read_to_string(dir.path().join("runs/readings/report.md")).unwrap();
    let has = |s: &str| assert!(md.contains(s), "report.md lacks {s:?}\n{md}");

    // The loss decomposition: its parts add up to the eval loss at every eval ...
    let steps = query(
        dir.path(),
        "SELECT s.step, s.eval_loss, s.eval_offset, s.eval_input_dependent, r.residual, r.init_scale_expr \
         FROM steps s JOIN runs r ON s.run_id = r.run_id WHERE s.eval_loss IS NOT NULL",
    );
    // 12 runs, evals at 0, 10, 20, 30, 40 and the early steps 1, 2, 5.
    assert_eq!(steps.len(), 12 * 8);
    for r in &steps {
        let (e, o, i) = (
            f(r, "eval_loss"),
            f(r, "eval_offset"),
            f(r, "eval_input_dependent"),
        );
        assert!((o + i - e).abs() <= 1e-9 * e, "{r:?}");
    }
    // ... and each line's reading is its seeds' means.
    let (eval, offset, input) = (
        by_line(&steps, "step", "eval_loss"),
        by_line(&steps, "step", "eval_offset"),
        by_line(&steps, "step", "eval_input_dependent"),
    );
    assert_eq!(eval.len(), 4);
    for (line, e) in &eval {
        let (e0, o0) = (mean(&e[&0]), mean(&offset[line][&0]));
        let (e1, o1, i1) = (
            mean(&e[&40]),
            mean(&offset[line][&40]),
            mean(&input[line][&40]),
        );
        has(&format!(
            "- **{line}**: at step 0, {}% of the eval loss ({}) is the constant offset ({}); at step 40 the offset is {} and the input-dependent part {} (eval loss {}, {} 1/6).",
            format::sig(100.0 * o0 / e0, 3),
            format::value(e0),
            format::value(o0),
            format::value(o1),
            format::value(i1),
            format::value(e1),
            if e1 < 1.0 / 6.0 { "below" } else { "not below" },
        ));
    }

    // Sparsity and dead units: per layer the seeds' mean, then the mean over layers.
    let layers = query(
        dir.path(),
        "SELECT l.step, l.layer, l.sparsity, l.dead_units, l.underflow, l.grad_norm, r.residual, r.init_scale_expr \
         FROM layers l JOIN runs r ON l.run_id = r.run_id",
    );
    let at = |step: i64, v: &str| -> ByLine {
        let rows: Vec<_> = layers
            .iter()
            .filter(|r| r["step"].as_i64() == Some(step))
            .cloned()
            .collect();
        by_line(&rows, "layer", v)
    };
    let over_layers =
        |m: &BTreeMap<i64, Vec<f64>>| mean(&m.values().map(|v| mean(v)).collect::<Vec<_>>());
    let (s0, s1, d0, d1) = (
        at(0, "sparsity"),
        at(40, "sparsity"),
        at(0, "dead_units"),
        at(40, "dead_units"),
    );
    for line in eval.keys() {
        let max_dead = d1[line].values().map(|v| mean(v)).fold(0.0, f64::max);
        has(&format!(
            "- **{line}**: sparsity (ReLU outputs = 0, averaged over layers) {} at initialisation and {} at the end; dead units {} and {} (at most {} in a layer at the end)",
            pct(over_layers(&s0[line])),
            pct(over_layers(&s1[line])),
            pct(over_layers(&d0[line])),
            pct(over_layers(&d1[line])),
            pct(max_dead),
        ));
        // Nothing underflows in these small nets, so no reading may claim it does.
        assert!(at(0, "underflow")[line]
            .values()
            .flatten()
            .all(|u| *u == 0.0));
    }
    assert!(!md.contains("underflowed f32"), "{md}");

    // Gradients at init: the seeds' geometric mean at layer 1 and layer 3.
    let g0 = at(0, "grad_norm");
    for line in eval.keys() {
        let geo = |l: i64| {
            let v = &g0[line][&l];
            (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
        };
        has(&format!(
            "- **{line}**: at initialisation the weight gradient (geometric mean over seeds) is {} at layer 1 and {} at layer 3.",
            format::value(geo(1)),
            format::value(geo(3)),
        ));
    }

    // The strongest baseline: PlainMLP at 1 against ResMLP at 1/sqrt(depth), by seed.
    let runs = query(
        dir.path(),
        "SELECT residual, init_scale_expr, seed, final_eval_loss FROM runs ORDER BY seed",
    );
    let finals = |residual: bool, expr: &str| -> Vec<f64> {
        runs.iter()
            .filter(|r| r["residual"].as_bool() == Some(residual) && r["init_scale_expr"] == expr)
            .map(|r| f(r, "final_eval_loss"))
            .collect()
    };
    let (a, b) = (finals(false, "1"), finals(true, "1/sqrt(depth)"));
    let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
    let wins = diffs.iter().filter(|d| **d < 0.0).count();
    // The Student-t interval of the mean difference, t(0.975, 2) = 4.302652729749462
    // (scipy.stats.t.ppf).
    let m = mean(&diffs);
    let sd = (diffs.iter().map(|d| (d - m).powi(2)).sum::<f64>() / 2.0).sqrt();
    let half = 4.302652729749462 * sd / 3f64.sqrt();
    has(&format!(
        "| depth=3: PlainMLP at init_scale=1 vs ResMLP at init_scale=1/sqrt(depth) | 3 | {} | {} | {} [{}, {}] | t | {wins}/3 |",
        format::value(mean(&a)),
        format::value(mean(&b)),
        format::value(m),
        format::value(m - half),
        format::value(m + half),
    ));
    // The confounds are named with their controls.
    for kind in ["`relu-output`", "`shared-lr`", "*Control:*"] {
        has(kind);
    }
}
