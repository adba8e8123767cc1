//! Hydra-style `key=value` overrides on `run`, `plan` and `train`: checked like the file,
//! frozen into `sweep.toml`, the same run ids as the same sweep written out.

use crate::util::*;

/// The ids `plan` lists, in order.
fn planned_ids(plan: &str) -> Vec<String> {
    plan.lines()
        .filter(|l| l.starts_with('d') && l.contains("-seed"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn overrides_give_the_runs_of_the_same_sweep_written_out_and_are_frozen() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("ov", 10, 1));
    let written = small_sweep("ov2", 12, 3).replace("width = 8", "width = 6");
    sweep_file(dir.path(), "w.toml", &written);
    let args = [
        "s.toml",
        "name=ov2",
        "train.steps=12",
        "grid.seed=0..2",
        "model.width=6",
    ];
    let with = ok(run_in(dir.path(), &[&["plan"][..], &args].concat()));
    let file = ok(run_in(dir.path(), &["plan", "w.toml"]));
    assert_eq!(planned_ids(&with), planned_ids(&file));
    assert_eq!(planned_ids(&with).len(), 6);

    ok(run_in(
        dir.path(),
        &[&["run", "--quiet"][..], &args].concat(),
    ));
    let frozen = std::fs::read_to_string(dir.path().join("runs/ov2/sweep.toml")).unwrap();
    assert!(
        frozen.starts_with("# s.toml with the command-line overrides: name=ov2 train.steps=12")
            && frozen.contains("steps = 12")
            && frozen.contains("width = 6")
            && frozen.contains("seed = { start = 0, stop = 2 }"),
        "{frozen}"
    );
    // The frozen sweep is the effective one: planning it finds every run done.
    let again = ok(run_in(dir.path(), &["plan", "runs/ov2"]));
    assert!(again.contains("6 runs: 6 done"), "{again}");
    // Without a sweep file, the overrides apply to the default sweep.
    let default = ok(run_in(
        dir.path(),
        &["plan", "train.steps=3", "grid.seed=0..0", "name=tiny"],
    ));
    assert!(
        default.contains("sweep `tiny`") && default.contains("4 runs"),
        "{default}"
    );
}

#[test]
fn a_bad_override_is_named_with_the_files_did_you_mean_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("bad", 10, 1));
    for (word, expect) in [
        ("model.dept=4", "did you mean `depth`?"),
        ("stpes=4", "did you mean `steps`?"),
        ("train.lr=-1", "lr = -1 is impossible"),
        ("model.lr=0.1", "[train]"),
        ("grid.seed=5", "[5]"),
        ("include.depth=3", "[[include]]"),
    ] {
        for cmd in ["run", "plan"] {
            let o = run_in(dir.path(), &[cmd, "s.toml", word]);
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {word}: {err}");
            assert!(
                err.starts_with(&format!("error: override `{word}`")) && err.contains(expect),
                "{cmd} {word}: {err}"
            );
        }
    }
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn train_takes_key_value_settings_beside_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ok(run_in(
        dir.path(),
        &[
            "train",
            "--depth",
            "3",
            "--width",
            "8",
            "--steps",
            "20",
            "--eval-size",
            "64",
            "--optimizer",
            "sgd",
        ],
    ));
    let mixed = ok(run_in(
        dir.path(),
        &[
            "train",
            "--depth",
            "3",
            "model.width=8",
            "steps=20",
            "task.eval_size=64",
            "train.optimizer=sgd",
        ],
    ));
    assert_eq!(flags.lines().next(), mixed.lines().next());
    assert!(mixed.contains("sgd"), "{mixed}");
    for (word, expect) in [
        ("train.optimizr=sgd", "did you mean `optimizer`?"),
        ("grid.seed=0..3", "belong to resweep run"),
    ] {
        let o = run_in(dir.path(), &["train", word]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{err}");
    }
}
