//! The physics of the Distant Identity task at the real scale (depth 20, width 64, 500
//! steps, seeds 0..9): the PlainMLP's gradient vanishes and it does not learn, the ResMLP
//! learns, and an unscaled ResMLP explodes at init.

use crate::util::*;
use std::collections::BTreeMap;

const PHYSICS: &str = r#"name = "physics"
[model]
depth = 20
width = 64
init_scale = "1/sqrt(depth)"
[train]
steps = 500
batch_size = 64
lr = 1e-3
[probe]
eval_every = 100
probe_every = 250
[grid]
residual = [false, true]
seed = { start = 0, count = 10 }
"#;

const EXPLOSION: &str = r#"name = "explosion"
[model]
depth = 20
residual = true
init_scale = 1.0
[train]
steps = 1
[grid]
seed = { start = 0, count = 3 }
"#;

#[test]
fn plain_vanishes_res_learns_unscaled_res_explodes() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "physics.toml", PHYSICS);
    ok(run_in(
        dir.path(),
        &["run", "physics.toml", "--jobs", "2", "--quiet"],
    ));
    let results = results(&dir.path().join("runs/physics"));
    assert_eq!(results.len(), 20);

    let mut by_arm: BTreeMap<bool, Vec<&serde_json::Value>> = BTreeMap::new();
    for r in results.values() {
        by_arm
            .entry(r["config"]["residual"].as_bool().unwrap())
            .or_default()
            .push(r);
    }
    let metric = |arm: bool, key: &str| -> Vec<f64> {
        by_arm[&arm]
            .iter()
            .map(|r| r["metrics"][key].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;

    let res_initial = metric(true, "initial_train_loss");
    assert!(
        (8.0..30.0).contains(&mean(&res_initial)),
        "ResMLP initial loss {res_initial:?}"
    );
    for g in metric(false, "grad_norm_first_init") {
        assert!(g < 1e-10, "PlainMLP layer-1 gradient at init {g}");
    }
    for l in metric(false, "final_eval_loss") {
        assert!(l >= 0.30, "PlainMLP final eval loss {l}");
    }
    for l in metric(true, "final_eval_loss") {
        assert!(l < 0.1, "ResMLP final eval loss {l}");
    }

    // Common random numbers: both arms of a seed share init draws and data.
    for seed in 0..10 {
        let pick = |arm: bool| {
            by_arm[&arm]
                .iter()
                .find(|r| r["config"]["seed"] == seed)
                .map(|r| r["fingerprints"].clone())
                .unwrap()
        };
        assert_eq!(pick(false), pick(true), "seed {seed}");
    }

    sweep_file(dir.path(), "explosion.toml", EXPLOSION);
    ok(run_in(dir.path(), &["run", "explosion.toml", "--quiet"]));
    for r in results_of(&dir.path().join("runs/explosion")) {
        let initial = r["metrics"]["initial_train_loss"].as_f64().unwrap();
        assert!(initial > 1e6, "unscaled ResMLP initial loss {initial}");
    }
}

fn results_of(dir: &std::path::Path) -> Vec<serde_json::Value> {
    results(dir).into_values().collect()
}
