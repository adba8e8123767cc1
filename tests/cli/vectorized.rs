//! Vectorized training (`--vectorize N`, `[execution] vectorize`): runs of one shape
//! trained together in one batched graph keep the one-run semantics — their own
//! directories, records, checkpoints and resume — and record the same numbers.

use crate::util::*;
use std::path::Path;

/// Every run's `result.json`, as written.
fn result_json(sweep_dir: &Path) -> Vec<serde_json::Value> {
    raw_results(sweep_dir).into_values().collect()
}

/// Eval losses of every run, by run id: `(step, eval_loss)` in step order.
fn eval_curves(sweep_dir: &Path) -> std::collections::BTreeMap<String, Vec<(u64, f64)>> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(sweep_dir.join("runs")).unwrap() {
        let run = e.unwrap().path();
        let text = std::fs::read_to_string(run.join("steps.jsonl")).unwrap();
        let curve = text
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Some((v["step"].as_u64()?, v.get("eval_loss")?.as_f64()?))
            })
            .collect();
        out.insert(
            run.file_name().unwrap().to_string_lossy().into_owned(),
            curve,
        );
    }
    out
}

#[test]
fn a_vectorized_sweep_records_what_one_run_at_a_time_records() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("vec", 40, 4));
    let out = ok(run_in(
        dir.path(),
        &["run", "s.toml", "--jobs", "1", "--vectorize", "4"],
    ));
    assert!(out.contains("8 completed"), "{out}");
    assert!(
        out.contains("vectorize 4: batches of up to 4 runs"),
        "{out}"
    );
    let sweep_dir = dir.path().join("runs/vec");
    let written = result_json(&sweep_dir);
    assert_eq!(written.len(), 8);
    for r in &written {
        assert_eq!(r["vectorize"], 4, "{r}");
        assert_eq!(r["status"], "completed");
    }

    let alone = tempfile::tempdir().unwrap();
    sweep_file(alone.path(), "s.toml", &small_sweep("vec", 40, 4));
    ok(run_in(
        alone.path(),
        &["run", "s.toml", "--jobs", "2", "--quiet"],
    ));
    let alone_dir = alone.path().join("runs/vec");
    for r in result_json(&alone_dir) {
        assert_eq!(r["vectorize"], 1);
    }
    // Every metrics file is bitwise the one-run path's, and so is every result apart from
    // timing and the vectorization width.
    assert_eq!(run_files(&sweep_dir), run_files(&alone_dir));
    let strip = |mut m: std::collections::BTreeMap<String, serde_json::Value>| {
        for v in m.values_mut() {
            v.as_object_mut().unwrap().remove("vectorize");
        }
        m
    };
    assert_eq!(strip(results(&sweep_dir)), strip(results(&alone_dir)));

    // The sweep file's setting works too, and the flag overrides it.
    let third = tempfile::tempdir().unwrap();
    let body = small_sweep("vec", 40, 4).replace(
        "checkpoint_every = 10\n",
        "checkpoint_every = 10\nvectorize = 2\n",
    );
    sweep_file(third.path(), "s.toml", &body);
    ok(run_in(
        third.path(),
        &["run", "s.toml", "--jobs", "1", "--quiet"],
    ));
    for r in result_json(&third.path().join("runs/vec")) {
        assert_eq!(r["vectorize"], 2);
    }
    assert_eq!(
        run_files(&third.path().join("runs/vec")),
        run_files(&alone_dir)
    );
}

#[test]
fn vectorize_zero_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("zero", 5, 1));
    let o = run_in(dir.path(), &["run", "s.toml", "--vectorize", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--vectorize"));
    assert!(!dir.path().join("runs").exists(), "nothing written");
}

const REAL_SCALE: &str = r#"name = "real"
[model]
depth = 20
width = 64
init_scale = "1/sqrt(depth)"
[train]
steps = 500
batch_size = 64
[probe]
eval_every = 50
probe_every = 250
[grid]
residual = [false, true]
seed = { start = 0, count = 3 }
"#;

#[test]
fn at_real_scale_res_learns_alike_and_plain_still_does_not_learn() {
    let vec_dir = tempfile::tempdir().unwrap();
    sweep_file(vec_dir.path(), "s.toml", REAL_SCALE);
    ok(run_in(
        vec_dir.path(),
        &[
            "run",
            "s.toml",
            "--jobs",
            "2",
            "--quiet",
            "--vectorize",
            "16",
        ],
    ));
    let alone_dir = tempfile::tempdir().unwrap();
    sweep_file(alone_dir.path(), "s.toml", REAL_SCALE);
    ok(run_in(
        alone_dir.path(),
        &["run", "s.toml", "--jobs", "2", "--quiet"],
    ));

    let vectorized = eval_curves(&vec_dir.path().join("runs/real"));
    let alone = eval_curves(&alone_dir.path().join("runs/real"));
    assert_eq!(vectorized.len(), 6);
    for (id, curve) in &vectorized {
        let want = &alone[id];
        assert_eq!(
            curve.len(),
            16,
            "{id}: eval at 0, 1, 2, 5, 10, 25, 50, ..., 500"
        );
        for ((step, got), (_, w)) in curve.iter().zip(want) {
            assert!(
                (got - w).abs() <= 0.01 * w.abs(),
                "{id} step {step}: eval loss {got} vectorized, {w} alone"
            );
        }
        let last = curve.last().unwrap().1;
        if id.contains("-res-") {
            assert!(last < 0.1, "{id}: ResMLP final eval loss {last}");
        } else {
            assert!(last >= 0.3, "{id}: PlainMLP final eval loss {last}");
        }
    }
    // Two workers, three runs per arm: each arm is one batch of three (also the most
    // runs of this shape the planner's cache budget allows in one batch).
    for r in result_json(&vec_dir.path().join("runs/real")) {
        assert_eq!(r["vectorize"], 3, "{r}");
    }
    assert_eq!(
        run_files(&vec_dir.path().join("runs/real")),
        run_files(&alone_dir.path().join("runs/real"))
    );
}

#[test]
fn interrupted_vectorized_runs_resume_alone_or_batched_to_the_same_bits() {
    let reference = tempfile::tempdir().unwrap();
    sweep_file(reference.path(), "s.toml", &long_sweep("vres", 4));
    ok(run_in(
        reference.path(),
        &["run", "s.toml", "--jobs", "2", "--quiet"],
    ));
    let want = run_files(&reference.path().join("runs/vres"));

    // Interrupted while vectorized, resumed vectorized: every member of the batch
    // checkpointed at the same step and the batch re-forms.
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("vres", 4));
    let sweep_dir = dir.path().join("runs/vres");
    interrupt(
        dir.path(),
        &sweep_dir,
        &["run", "s.toml", "--jobs", "1", "--vectorize", "4"],
    );
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(plan.contains("partial"), "{plan}");
    ok(run_in(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--jobs",
            "1",
            "--quiet",
            "--vectorize",
            "4",
        ],
    ));
    assert_eq!(run_files(&sweep_dir), want);

    // Interrupted one run at a time (runs stop at different steps), resumed vectorized:
    // the planner batches only runs that resume from the same step.
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("vres", 4));
    let sweep_dir = dir.path().join("runs/vres");
    interrupt(dir.path(), &sweep_dir, &["run", "s.toml", "--jobs", "2"]);
    ok(run_in(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--jobs",
            "2",
            "--quiet",
            "--vectorize",
            "8",
        ],
    ));
    assert_eq!(run_files(&sweep_dir), want);
    let resumed = result_json(&sweep_dir)
        .into_iter()
        .filter(|r| r["resumed"] == true)
        .count();
    assert!(resumed >= 1, "some run resumed from a checkpoint");
}
