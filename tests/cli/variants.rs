//! Model variants as sweep axes (`weight_init`, `bias_init`, `output_relu`, `branch_scale`,
//! `gate`, `activation`, `norm`): the shipped sweeps run at reduced scale and their audits
//! say what they should; impossible settings are bad input; variant runs are bitwise the
//! same vectorized or not.

use crate::util::*;
use std::path::{Path, PathBuf};

/// A shipped sweep file.
fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sweeps/{name}.toml"))
}

/// Overrides that shrink a shipped sweep to seconds: a narrow net, few steps, a small eval
/// batch (the depth is set per sweep).
const SMALL: &[&str] = &[
    "model.width=8",
    "train.steps=6",
    "train.batch_size=16",
    "task.eval_size=64",
    "probe.eval_every=3",
    "probe.probe_every=3",
];

/// Runs shipped sweep `name` with `SMALL` and `extra` overrides in `dir`; returns its
/// directory.
fn run_small(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let file = shipped(name);
    let mut args = vec!["run", file.to_str().unwrap()];
    args.extend(SMALL);
    args.extend(extra);
    args.push("--quiet");
    let o = run_in(dir, &args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{name}: {out}\n{err}");
    dir.join("runs").join(name)
}

fn csv(sweep: &Path, sql: &str) -> String {
    ok(run_in(
        sweep.parent().unwrap().parent().unwrap(),
        &["query", sweep.to_str().unwrap(), sql, "--format", "csv"],
    ))
}

fn compare(sweep: &Path, axis: &str) -> (Option<i32>, String) {
    let o = run_in(
        sweep.parent().unwrap().parent().unwrap(),
        &[
            "compare",
            sweep.to_str().unwrap(),
            "--axis",
            axis,
            "--strict",
        ],
    );
    (o.status.code(), text(&o).0)
}

#[test]
fn the_seed_story_is_flagged_and_its_fair_version_passes() {
    let dir = tempfile::tempdir().unwrap();
    let unfair = run_small(dir.path(), "seed_story", &["model.depth=4"]);
    let (code, out) = compare(&unfair, "residual");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("UNFAIR"), "{out}");
    assert!(
        out.contains("init_scale differs from the other arm")
            && out.contains("init_scale (1 vs 1/sqrt(depth))"),
        "the cause is named: {out}"
    );
    let fair = run_small(dir.path(), "seed_story_fair", &["model.depth=4"]);
    let (code, out) = compare(&fair, "residual");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("strongest baseline"), "{out}");
    assert_eq!(
        csv(&fair, "SELECT count(*) AS n FROM runs"),
        "n\n20\n",
        "2 arms x 2 scales x 5 seeds"
    );
}

#[test]
fn what_matters_crosses_every_factor_and_compares_each() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = run_small(dir.path(), "what_matters", &["model.depth=4"]);
    // 2 x 4 x 2 x 2 combinations x 5 seeds, plus the PlainMLP at scale 1: 16 x 5.
    assert_eq!(csv(&sweep, "SELECT count(*) AS n FROM runs"), "n\n240\n");
    let per = csv(
        &sweep,
        "SELECT weight_init, count(*) AS n FROM runs GROUP BY weight_init ORDER BY weight_init",
    );
    assert_eq!(
        per,
        "weight_init,n\nkaiming_normal,60\nkaiming_uniform,60\northogonal,60\ntorch_default,60\n"
    );
    // Every factor is an axis the audit pairs fairly; the init hash differs between
    // weight inits by design and is not checked along that axis.
    for axis in ["residual", "weight_init", "bias_init", "output_relu"] {
        let (code, out) = compare(&sweep, axis);
        assert_eq!(code, Some(0), "--axis {axis}: {out}");
    }
    let (_, out) = compare(&sweep, "weight_init");
    assert!(
        out.contains("init hash (a weight_init axis changes the initial draws)"),
        "{out}"
    );
    // The output-ReLU confound is named, with the sweep's own control.
    let (_, out) = compare(&sweep, "residual");
    assert!(out.contains("[relu-output]"), "{out}");
    assert!(out.contains("this sweep has the output_relu axis"), "{out}");
    // With an output ReLU a PlainMLP's outputs are never negative: its loss is at least
    // the 1/6 of relu(x) (up to the eval batch's sampling); without, it is not bounded so.
    let floor = csv(
        &sweep,
        "SELECT min(final_eval_loss) AS low FROM runs WHERE NOT residual AND output_relu",
    );
    let low: f64 = floor.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        low > 0.12,
        "a PlainMLP with an output ReLU below 1/6: {low}"
    );
}

#[test]
fn rescue_plain_and_branch_sweeps_run_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = run_small(dir.path(), "rescue_plain", &["model.depth=4"]);
    assert_eq!(csv(&sweep, "SELECT count(*) AS n FROM runs"), "n\n90\n");
    for axis in [
        "residual",
        "norm",
        "activation",
        "output_relu",
        "weight_init",
    ] {
        let (code, out) = compare(&sweep, axis);
        assert_eq!(code, Some(0), "--axis {axis}: {out}");
    }
    let sweep = run_small(dir.path(), "branch", &["grid.depth=2,3"]);
    // 2 depths x 3 scales x 5 seeds, plus ReZero at 4 depths x 5 seeds.
    assert_eq!(csv(&sweep, "SELECT count(*) AS n FROM runs"), "n\n50\n");
    let (code, out) = compare(&sweep, "branch_scale");
    assert_eq!(code, Some(0), "{out}");
    // ReZero with its gates at 0 is the identity: loss exactly 0 from step 0, and the
    // gates never move (every gradient is 0).
    let rezero = csv(
        &sweep,
        "SELECT max(initial_eval_loss) AS a, max(final_eval_loss) AS b FROM runs WHERE gate = 'rezero'",
    );
    assert_eq!(rezero, "a,b\n0.0,0.0\n");
    let plan = ok(run_in(
        dir.path(),
        &["plan", shipped("what_matters").to_str().unwrap()],
    ));
    assert!(!plan.contains("no meaning"), "{plan}");
}

#[test]
fn a_branch_scale_axis_over_both_arms_collapses_the_plain_points() {
    let dir = tempfile::tempdir().unwrap();
    let body = small_sweep("collapse", 4, 1).replace(
        "residual = [false, true]\n",
        "residual = [false, true]\nbranch_scale = [1.0, 0.5, \"1/depth\"]\ngate = [\"none\", \"rezero\"]\n",
    );
    sweep_file(dir.path(), "s.toml", &body);
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    // 1 PlainMLP point + 3 x 2 ResMLP points.
    assert!(plan.contains("7 runs"), "{plan}");
    assert!(
        plan.contains("note: branch_scale, gate have no meaning for a PlainMLP"),
        "{plan}"
    );
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let sweep = dir.path().join("runs/collapse");
    // The PlainMLP's id is the default PlainMLP's: its branch settings are the defaults.
    let plain = csv(
        &sweep,
        "SELECT run_id, branch_scale, gate FROM runs WHERE NOT residual",
    );
    let id = plain
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let default_plain =
        small_sweep("plain", 4, 1).replace("residual = [false, true]", "residual = [false]");
    sweep_file(dir.path(), "p.toml", &default_plain);
    let p = ok(run_in(dir.path(), &["plan", "p.toml"]));
    assert!(p.contains(&id), "{id} not in\n{p}");
    assert!(
        plain.ends_with(",,\n"),
        "null where the settings do not apply: {plain}"
    );
}

#[test]
fn impossible_variants_are_bad_input_and_write_nothing() {
    let cases: &[(&str, &[&str])] = &[
        (
            "name = \"x\"\n[model]\nactivation = \"gelu2\"\n",
            &[
                "bad.toml:3:",
                "unknown activation \"gelu2\"",
                "did you mean \"gelu\"",
                "\"tanh\"",
            ],
        ),
        (
            "name = \"x\"\n[model]\nweight_init = \"he\"\n",
            &["bad.toml:3:", "did you mean \"kaiming_normal\""],
        ),
        (
            "name = \"x\"\n[model]\nresidual = true\ngate = \"rezero\"\ngate_init = nan\n",
            &["bad.toml:5:", "gate_init", "finite"],
        ),
        (
            "name = \"x\"\n[model]\nresidual = true\nbranch_scale = inf\n",
            &["bad.toml:4:", "branch_scale", "positive, finite"],
        ),
        (
            "name = \"x\"\n[model]\nresidual = false\ngate = \"rezero\"\n",
            &[
                "bad.toml:4:",
                "gate = \"rezero\" has no meaning for a PlainMLP",
                "set residual = true",
            ],
        ),
        (
            "name = \"x\"\n[model]\nbranch_scale = 0.5\n",
            &["branch_scale = 0.5 has no meaning for a PlainMLP"],
        ),
        (
            "name = \"x\"\n[model]\nresidual = true\ngate_init = 0.5\n",
            &["gate_init = 0.5 has no meaning without a gate"],
        ),
    ];
    for (body, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        sweep_file(dir.path(), "bad.toml", body);
        let o = run_in(dir.path(), &["run", "bad.toml"]);
        let (out, err) = text(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{body}\nstdout:\n{out}\nstderr:\n{err}"
        );
        for n in *needles {
            assert!(err.contains(n), "{body}: missing {n:?} in:\n{err}");
        }
        assert!(
            !dir.path().join("runs").exists(),
            "{body}: bad input created files"
        );
    }
    // The same checks on `resweep train`'s flags.
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["train", "--gate", "rezero"],
            "--gate = \"rezero\" has no meaning for a PlainMLP",
        ),
        (
            vec!["train", "--activation", "relu6"],
            "--activation: unknown activation \"relu6\"",
        ),
        (
            vec!["train", "--residual", "--branch-scale", "0"],
            "branch_scale",
        ),
    ] {
        let o = run_in(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {:?}", text(&o));
        assert!(text(&o).1.contains(needle), "{args:?}: {}", text(&o).1);
    }
}

#[test]
fn variant_runs_are_bitwise_equal_vectorized_or_not() {
    // Variants beside default runs: the default ones batch, the others train alone.
    let body = small_sweep("var", 12, 2).replace(
        "residual = [false, true]\n",
        "residual = [false, true]\nactivation = [\"relu\", \"gelu\"]\nnorm = [\"none\", \"layernorm\"]\n",
    ).replace("[model]\n", "[model]\nbias_init = \"torch_default\"\nweight_init = \"orthogonal\"\n");
    let a = tempfile::tempdir().unwrap();
    sweep_file(a.path(), "s.toml", &body);
    ok(run_in(
        a.path(),
        &["run", "s.toml", "--jobs", "1", "--quiet"],
    ));
    let b = tempfile::tempdir().unwrap();
    sweep_file(b.path(), "s.toml", &body);
    ok(run_in(
        b.path(),
        &[
            "run",
            "s.toml",
            "--jobs",
            "2",
            "--vectorize",
            "4",
            "--quiet",
        ],
    ));
    let (fa, fb) = (
        run_files(&a.path().join("runs/var")),
        run_files(&b.path().join("runs/var")),
    );
    assert_eq!(fa.len(), fb.len());
    assert!(fa.keys().any(|k| k.ends_with("weights_final.safetensors")));
    assert_eq!(
        fa, fb,
        "vectorized variant runs differ from one-at-a-time runs"
    );
}

#[test]
fn rezero_gates_are_saved_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let body = small_sweep("gates", 5, 1)
        .replace("residual = [false, true]\n", "residual = [true]\n")
        .replace(
            "[model]\n",
            "[model]\ngate = \"rezero\"\ngate_init = 0.25\n",
        );
    sweep_file(dir.path(), "s.toml", &body);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs/gates/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let bytes = std::fs::read(runs[0].join("weights_init.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for l in 0..3 {
        let g = &header[format!("layers.{l}.gate")];
        assert_eq!(g["shape"], serde_json::json!([1]), "{header}");
        let [start, _] = [g["data_offsets"][0].as_u64().unwrap() as usize, 0];
        let at = 8 + header_len + start;
        assert_eq!(
            f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()),
            0.25
        );
    }
    // The landscape command reloads them.
    ok(run_in(
        dir.path(),
        &["landscape", "runs/gates", "--grid", "3", "--quiet"],
    ));
}
