//! Weights kept: each finished run has its initial and final weights as safetensors. The
//! initial file holds exactly the seed's init draws, the final one reproduces the run's
//! recorded final eval loss, and Python's `safetensors` reads both (when it can be
//! installed here).

use crate::util::*;
use resweep::config::RunConfig;
use resweep::experiment::model::{init_params, loss, Arch};
use resweep::experiment::streams;
use resweep::store::weights::decode;

#[test]
fn finished_runs_keep_their_initial_and_final_weights() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("weights", 40, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let runs = dir.path().join("runs/weights/runs");
    let mut checked = 0;
    for run in std::fs::read_dir(&runs).unwrap() {
        let run = run.unwrap().path();
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap())
                .unwrap();
        let cfg: RunConfig = serde_json::from_value(config["config"].clone()).unwrap();
        let arch = Arch::of(&cfg);
        let (init, meta) =
            decode(&std::fs::read(run.join("weights_init.safetensors")).unwrap()).unwrap();
        assert_eq!(meta.step, 0);
        assert_eq!(meta.run_id, cfg.run_id());
        let (want, _) = init_params(&cfg);
        assert!(
            init.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "initial weights differ from the seed's init draws"
        );
        let (last, meta) =
            decode(&std::fs::read(run.join("weights_final.safetensors")).unwrap()).unwrap();
        assert_eq!(
            (meta.step, meta.depth, meta.width),
            (cfg.steps, cfg.depth, cfg.width)
        );
        assert_ne!(last, init, "the final weights are the trained ones");
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("result.json")).unwrap())
                .unwrap();
        let recorded = result["metrics"]["final_eval_loss"].as_f64().unwrap();
        let eval = streams::eval_batch(cfg.seed, cfg.eval_size, cfg.width);
        let recomputed = loss(arch, &last, &eval).unwrap();
        assert!(
            (recomputed - recorded).abs() <= 1e-9 * recorded.abs(),
            "final weights give eval loss {recomputed}, the run recorded {recorded}"
        );
        // Both files are sealed.
        let seal = &result["seal"]["files"];
        assert!(seal["weights_init.safetensors"]["sha256"].is_string());
        assert!(seal["weights_final.safetensors"]["sha256"].is_string());
        checked += 1;
    }
    assert_eq!(checked, 2);

    // An independent reader: Python's safetensors (numpy), when it can be imported.
    let probe = std::process::Command::new("python3")
        .args(["-c", "import safetensors.numpy, numpy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped the Python check: python3 with safetensors and numpy is not installed (.ci/run installs them)");
        return;
    }
    let script = r#"
import json, sys, glob
from safetensors.numpy import load_file
from safetensors import safe_open
out = {}
for path in sorted(glob.glob(sys.argv[1] + "/*/weights_*.safetensors")):
    t = load_file(path)
    with safe_open(path, "numpy") as f:
        meta = json.loads(f.metadata()["resweep"])
    out[path] = {"step": meta["step"], "shapes": {k: list(v.shape) for k, v in t.items()},
                 "sum": float(sum(float(v.astype("float64").sum()) for v in t.values()))}
print(json.dumps(out))
"#;
    let py = std::process::Command::new("python3")
        .args(["-c", script, runs.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let files: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    let files = files.as_object().unwrap();
    assert_eq!(files.len(), 4);
    for (path, info) in files {
        let (params, meta) = decode(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(info["step"].as_u64().unwrap() as usize, meta.step);
        assert_eq!(info["shapes"]["layers.0.weight"], serde_json::json!([8, 8]));
        assert_eq!(info["shapes"]["layers.2.bias"], serde_json::json!([8]));
        let sum: f64 = params.iter().map(|&v| f64::from(v)).sum();
        let py_sum = info["sum"].as_f64().unwrap();
        assert!(
            (sum - py_sum).abs() <= 1e-9 * (1.0 + sum.abs()),
            "{path}: {sum} vs {py_sum}"
        );
    }
}
