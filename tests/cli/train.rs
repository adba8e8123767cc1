//! `resweep train`.

use crate::util::*;

#[test]
fn train_prints_a_summary_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(run_in(
        dir.path(),
        &[
            "train",
            "--depth",
            "4",
            "--width",
            "8",
            "--steps",
            "30",
            "--residual",
        ],
    ));
    assert!(out.contains("ResMLP  depth 4  width 8"), "{out}");
    assert!(out.contains("eval loss"), "{out}");
    assert!(out.contains("grad norm     layer 1:"), "{out}");

    let json = ok(run_in(
        dir.path(),
        &[
            "train", "--depth", "4", "--width", "8", "--steps", "30", "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["config"]["depth"], 4);
    assert_eq!(v["param_count"], 4 * (64 + 8));
    assert_eq!(v["steps"].as_array().unwrap().len(), 31);
    assert!(v["metrics"]["initial_train_loss"].as_f64().unwrap() > 0.0);
    // Nothing is written without --out.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn train_out_writes_a_run_directory_equal_to_the_in_memory_run() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train", "--depth", "3", "--width", "8", "--steps", "25", "--json",
    ];
    let mem: serde_json::Value = serde_json::from_str(&ok(run_in(dir.path(), &args))).unwrap();
    let mut with_out = args.to_vec();
    with_out.extend(["--out", "one"]);
    let disk: serde_json::Value = serde_json::from_str(&ok(run_in(dir.path(), &with_out))).unwrap();
    assert_eq!(mem["steps"], disk["steps"]);
    assert_eq!(mem["layers"], disk["layers"]);
    assert_eq!(mem["metrics"], disk["metrics"]);
    for f in ["config.json", "steps.jsonl", "layers.jsonl", "result.json"] {
        assert!(dir.path().join("one").join(f).is_file(), "{f}");
    }
}

#[test]
fn train_rejects_impossible_values() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["train", "--depth", "0"], "depth"),
        (
            vec!["train", "--init-scale", "1/log(depth)"],
            "unknown name \"log\"",
        ),
        (vec!["train", "--lr", "-1"], "lr"),
        (vec!["train", "--optimizer", "rmsprop"], "unknown optimizer"),
    ] {
        let o = run_in(dir.path(), &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
