//! Every number of the report's readings recomputed from the tables (read back through
//! `resweep query`, aggregated here by hand) and found, formatted as the report formats
//! it, in `report.md`.
//!
//! Numbers that are not in the tables (the mean-field predictions of `report::theory`)
//! are left out of these checks; the theory has its own tests against the networks.

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

/// Rows of a query over the `readings` sweep as JSON objects.
fn query(dir: &Path, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    query_in(dir, "runs/readings", sql)
}

/// Rows of a query over the sweep directory `sweep` as JSON objects.
fn query_in(dir: &Path, sweep: &str, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let json = ok(run_in(dir, &["query", sweep, sql, "--format", "json"]));
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

/// Sample standard deviation (n − 1), as the report's mean ± std.
fn sample_std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// `exp(mean(ln v))`, the seeds' geometric mean.
fn geo(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// The report's line of `md` that starts with `prefix`.
fn line_of<'a>(md: &'a str, prefix: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("report.md has no line starting {prefix:?}\n{md}"))
}

#[test]
fn loss_activation_and_unit_activity_readings_are_recomputed_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", SWEEP);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let md = std::fs::read_to_string(dir.path().join("runs/readings/report.md")).unwrap();
    let has = |s: &str| assert!(md.contains(s), "report.md lacks {s:?}\n{md}");

    // Loss over steps: the seeds' mean ± sample std of the eval loss at the first and the
    // last eval, and their ratio.
    let steps = query(
        dir.path(),
        "SELECT s.step, s.eval_loss, r.residual, r.init_scale_expr \
         FROM steps s JOIN runs r ON s.run_id = r.run_id WHERE s.eval_loss IS NOT NULL",
    );
    let eval = by_line(&steps, "step", "eval_loss");
    assert_eq!(eval.len(), 4);
    for (line, by_step) in &eval {
        let (first, last) = (
            by_step.first_key_value().unwrap(),
            by_step.last_key_value().unwrap(),
        );
        assert_eq!(*first.0, 0);
        let (m0, s0, m1, s1) = (
            mean(first.1),
            sample_std(first.1),
            mean(last.1),
            sample_std(last.1),
        );
        has(&format!(
            "- **{line}** (n = {}): eval loss {} ± {} at step 0 → {} ± {} at step {} (mean ± std over seeds; ×{}).",
            first.1.len(),
            format::value(m0),
            format::value(s0),
            format::value(m1),
            format::value(s1),
            last.0,
            format::sig(m1 / m0, 3),
        ));
    }

    // Activations: the last layer's output std at initialisation (mean over seeds), its
    // across-input std and per-unit offset at initialisation and at the last probe step
    // (geometric means over seeds).
    let layers = query(
        dir.path(),
        "SELECT l.step, l.layer, l.act_std, l.input_std, l.unit_offset, r.residual, r.init_scale_expr, r.depth \
         FROM layers l JOIN runs r ON l.run_id = r.run_id",
    );
    let depth = layers
        .iter()
        .map(|r| r["depth"].as_i64().unwrap())
        .max()
        .unwrap();
    let last_step = layers
        .iter()
        .map(|r| r["step"].as_i64().unwrap())
        .max()
        .unwrap();
    let top = |step: i64, v: &str| -> BTreeMap<String, Vec<f64>> {
        let rows: Vec<_> = layers
            .iter()
            .filter(|r| r["step"].as_i64() == Some(step) && r["layer"].as_i64() == Some(depth))
            .cloned()
            .collect();
        by_line(&rows, "layer", v)
            .into_iter()
            .map(|(line, m)| (line, m[&depth].clone()))
            .collect()
    };
    let (std0, in0, off0, in1, off1) = (
        top(0, "act_std"),
        top(0, "input_std"),
        top(0, "unit_offset"),
        top(last_step, "input_std"),
        top(last_step, "unit_offset"),
    );
    for line in eval.keys() {
        let text = line_of(
            &md,
            &format!("- **{line}**: the output std of layer {depth}"),
        );
        let head = format!(
            "- **{line}**: the output std of layer {depth} at initialisation is {} (mean over seeds; mean-field prediction ",
            format::value(mean(&std0[line])),
        );
        assert!(text.starts_with(&head), "{text:?} does not start {head:?}");
        let tail = format!(
            "); over the eval inputs its across-input std is {} and its per-unit offset {} (geometric means over seeds): only the across-input part can carry information about the input; at the end {} and {}.",
            format::value(geo(&in0[line])),
            format::value(geo(&off0[line])),
            format::value(geo(&in1[line])),
            format::value(geo(&off1[line])),
        );
        assert!(text.ends_with(&tail), "{text:?} does not end {tail:?}");
    }

    // Per-unit activity: per run the first and last histogram bins averaged over layers,
    // then the mean over seeds, at initialisation and at the last probe step.
    let activity = query(
        dir.path(),
        "SELECT l.step, l.run_id, avg(l.activity_0) AS low, avg(l.activity_9) AS high, \
         r.residual, r.init_scale_expr FROM layers l JOIN runs r ON l.run_id = r.run_id \
         WHERE l.activity_0 IS NOT NULL GROUP BY l.step, l.run_id, r.residual, r.init_scale_expr",
    );
    let (low, high) = (
        by_line(&activity, "step", "low"),
        by_line(&activity, "step", "high"),
    );
    for line in eval.keys() {
        has(&format!(
            "- **{line}**: units on for fewer than 10% of the eval inputs: {} at initialisation, {} at the end; on for at least 90%: {} and {}.",
            pct(mean(&low[line][&0])),
            pct(mean(&low[line][&last_step])),
            pct(mean(&high[line][&0])),
            pct(mean(&high[line][&last_step])),
        ));
    }
}

/// PlainMLP and ResMLP both stuck or both learning would say nothing about the view: this
/// sweep's PlainMLP vanishes at depth 12 and scale 0.1 (its loss stays at the 1/3 of
/// outputting 0 in every seed, up to the eval set's sampling) while its ResMLP learns.
const CONSTANT: &str = r#"name = "constant"
[model]
depth = 12
width = 16
[train]
batch_size = 16
steps = 20
[task]
eval_size = 4096
[probe]
eval_every = 10
probe_every = 10
[grid]
residual = [false, true]
init_scale = [0.1]
seed = { start = 0, count = 3 }
"#;

/// Below this relative spread across seeds an arm counts as constant (the report's
/// criterion, restated).
const CONSTANT_SPREAD: f64 = 0.02;

/// `(max − min) / |median|` of three or more values.
fn relative_spread(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (v[n - 1] - v[0]) / median.abs()
}

/// Recomputes the paired-seeds readings of the sweep `name` (3 seeds per arm) from its
/// runs table and checks them in its report.md; returns whether the figure shows the
/// paired differences (an arm constant across seeds) rather than the scatter.
fn check_paired_seeds(dir: &Path, name: &str) -> bool {
    let md = std::fs::read_to_string(dir.join(format!("runs/{name}/report.md"))).unwrap();
    let has = |s: &str| assert!(md.contains(s), "report.md lacks {s:?}\n{md}");
    let runs = query_in(
        dir,
        &format!("runs/{name}"),
        "SELECT residual, init_scale_expr, seed, final_eval_loss FROM runs ORDER BY seed",
    );
    let mut strata: BTreeMap<String, [Vec<f64>; 2]> = BTreeMap::new();
    for r in &runs {
        let arm = usize::from(r["residual"].as_bool().unwrap());
        strata
            .entry(r["init_scale_expr"].as_str().unwrap().to_string())
            .or_default()[arm]
            .push(f(r, "final_eval_loss"));
    }
    let mut constant = Vec::new();
    for (scale, [plain, res]) in &strata {
        assert_eq!(plain.len(), 3);
        let diffs: Vec<f64> = plain.iter().zip(res).map(|(a, b)| b - a).collect();
        let m = mean(&diffs);
        // t(0.975, 2) = 4.302652729749462 (scipy.stats.t.ppf).
        let half = 4.302652729749462 * sample_std(&diffs) / 3f64.sqrt();
        has(&format!(
            "- **init_scale={scale}**: the ResMLP has the lower final eval loss in {} of 3 seeds; mean paired difference {} (95% t CI [{}, {}]).",
            diffs.iter().filter(|d| **d < 0.0).count(),
            format::value(m),
            format::value(m - half),
            format::value(m + half),
        ));
        let arm = [("PlainMLP", plain), ("ResMLP", res)]
            .into_iter()
            .find(|(_, v)| relative_spread(v) < CONSTANT_SPREAD);
        if let Some((net, v)) = arm {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            constant.push(format!(
                "{net} at init_scale={scale}: {}–{}, relative spread {}",
                format::value(lo),
                format::value(hi),
                pct(relative_spread(v)),
            ));
        }
    }
    let differences = !constant.is_empty();
    if differences {
        has("Shown: each seed's paired difference (ResMLP − PlainMLP)");
        has(&format!(
            "so a scatter of arm against arm would stack its seeds into a line and hide their spread: {}. Points below 0 are seeds where the ResMLP ended lower.",
            constant.join("; ")
        ));
        assert!(!md.contains("Points below the diagonal"), "{md}");
    } else {
        has("Shown: each seed's final eval loss in one arm against the other (no arm is constant across seeds");
        assert!(
            !md.contains("paired difference (ResMLP − PlainMLP)"),
            "{md}"
        );
    }
    // The scatter is an interactive chart of report.html; the differences are its PNG.
    let html = std::fs::read_to_string(dir.join(format!("runs/{name}/report.html"))).unwrap();
    assert_eq!(html.contains("\"kind\":\"pairs\""), !differences);
    differences
}

#[test]
fn paired_seeds_readings_are_recomputed_and_the_view_follows_the_data() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", SWEEP);
    sweep_file(dir.path(), "c.toml", CONSTANT);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    ok(run_in(dir.path(), &["run", "c.toml", "--quiet"]));
    // Both arms learn at depth 3: arm against arm.
    assert!(!check_paired_seeds(dir.path(), "readings"));
    // A vanished PlainMLP: its paired differences.
    assert!(check_paired_seeds(dir.path(), "constant"));
}

#[test]
fn the_depth_reading_is_recomputed_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    // Depths listed out of order: the reading goes by depth, naturally.
    sweep_file(
        dir.path(),
        "d.toml",
        r#"name = "depths"
[model]
width = 8
[train]
batch_size = 16
steps = 10
[task]
eval_size = 32
[probe]
eval_every = 10
probe_every = 10
[grid]
depth = [24, 4, 12]
residual = [false, true]
seed = { start = 0, count = 2 }
"#,
    );
    ok(run_in(dir.path(), &["run", "d.toml", "--quiet"]));
    let md = std::fs::read_to_string(dir.path().join("runs/depths/report.md")).unwrap();
    let runs = query_in(
        dir.path(),
        "runs/depths",
        "SELECT residual, depth, final_eval_loss FROM runs",
    );
    // Final eval loss, mean over seeds, per arm and depth.
    let mut by_arm: BTreeMap<&str, BTreeMap<i64, Vec<f64>>> = BTreeMap::new();
    for r in &runs {
        let arm = if r["residual"].as_bool().unwrap() {
            "ResMLP"
        } else {
            "PlainMLP"
        };
        by_arm
            .entry(arm)
            .or_default()
            .entry(r["depth"].as_i64().unwrap())
            .or_default()
            .push(f(r, "final_eval_loss"));
    }
    assert_eq!(by_arm.len(), 2);
    for (arm, depths) in &by_arm {
        assert_eq!(depths.len(), 3);
        let points: Vec<String> = depths
            .iter()
            .map(|(d, v)| format!("{d}: {}", format::value(mean(v))))
            .collect();
        let line = format!("- **{arm}**: {}.", points.join(", "));
        assert!(md.contains(&line), "report.md lacks {line:?}\n{md}");
    }
}

/// `a–b` as the report writes a range of ratios (3 significant digits; one number when
/// both read the same).
fn range_text(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (format::sig(lo, 3), format::sig(hi, 3));
    if a == b {
        a
    } else {
        format!("{a}–{b}")
    }
}

#[test]
fn the_gradient_theory_reading_is_recomputed_from_the_tables() {
    use resweep::analysis::stats::quantile_sorted;
    use resweep::report::theory;
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", SWEEP);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let md = std::fs::read_to_string(dir.path().join("runs/readings/report.md")).unwrap();
    let rows = query(
        dir.path(),
        "SELECT r.residual, r.init_scale_expr, r.init_scale, r.depth, r.width, r.batch_size, \
         l.layer, l.grad_norm FROM runs r JOIN layers l ON r.run_id = l.run_id \
         WHERE NOT r.residual AND l.step = 0",
    );
    let grads = by_line(&rows, "layer", "grad_norm");
    assert_eq!(grads.len(), 2, "both PlainMLP lines");
    for (line, by_layer) in &grads {
        let r = rows.iter().find(|r| &label(r) == line).unwrap();
        let (depth, width, batch) = (
            f(r, "depth") as usize,
            f(r, "width") as usize,
            f(r, "batch_size") as usize,
        );
        let th = theory::plain_weight_grad_norm(depth, f(r, "init_scale"), batch, width);
        let (mut ratios, mut rms, mut inside, mut n) = (Vec::new(), Vec::new(), 0, 0);
        for (l, &t) in (1..=depth).zip(&th) {
            let mut seeds = by_layer[&(l as i64)].clone();
            seeds.sort_by(f64::total_cmp);
            n = n.max(seeds.len());
            let q = [0.1, 0.5, 0.9].map(|q| quantile_sorted(&seeds, q));
            let usable = q[1] > 0.0 && q[1].is_finite();
            if theory::f32_underflows(t, width) || !usable {
                continue;
            }
            ratios.push(t / q[1]);
            rms.push(t / (seeds.iter().map(|v| v * v).sum::<f64>() / seeds.len() as f64).sqrt());
            inside += usize::from(q[0] <= t && t <= q[2]);
        }
        let reading = line_of(&md, &format!("- **{line}**: the theory"));
        let max_dev = ratios.iter().map(|r| (r - 1.0).abs()).fold(0.0, f64::max);
        let want = if max_dev <= 0.2 {
            format!(
                "the theory is within {}% of the seeds' median at every layer (theory/median {}, n = {n})",
                format::sig(100.0 * max_dev, 2),
                range_text(&ratios)
            )
        } else {
            format!(
                "theory/median is {} over the layers, theory/root-mean-square over seeds {}, and the theory lies inside the seeds' 10–90% range at {inside} of {} layers (n = {n})",
                range_text(&ratios),
                range_text(&rms),
                ratios.len()
            )
        };
        assert!(
            reading.contains(&want),
            "{line}: expected {want:?} in\n{reading}"
        );
    }
}
