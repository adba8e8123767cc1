//! Test fixtures: sweep directories holding synthetic runs written the way the store
//! writes them (`RunDir::prepare`, JSON-lines records, `RunDir::finish`).

use crate::config::{RunConfig, SCHEMA_VERSION};
use crate::experiment::{Fingerprints, LayerRecord, RunMetrics, StepRecord};
use crate::store::jsonl;
use crate::store::{RunResult, SweepDir};
use crate::sweep::SweepSpec;

/// Two arms x three seeds of a tiny network.
pub(crate) const SWEEP_TOML: &str = r#"
name = "tiny"

[model]
depth = 2
width = 4

[train]
batch_size = 8
steps = 10

[task]
eval_size = 16

[probe]
eval_every = 5
probe_every = 5

[grid]
residual = [false, true]
seed = { start = 0, count = 3 }
"#;

/// A sweep directory in a temporary directory.
pub(crate) struct Fixture {
    /// Keeps the directory alive.
    pub _tmp: tempfile::TempDir,
    /// The sweep directory (`sweep.toml` written).
    pub dir: SweepDir,
    /// The sweep's runs in expansion order.
    pub configs: Vec<RunConfig>,
}

/// A sweep directory with `toml` frozen in it and no runs.
pub(crate) fn sweep_dir(toml: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let spec = SweepSpec::parse(toml, "test.toml").unwrap();
    let dir = SweepDir::new(tmp.path(), &spec.name);
    std::fs::create_dir_all(dir.root()).unwrap();
    std::fs::write(dir.frozen_sweep(), toml).unwrap();
    let configs = spec.expand().unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        configs,
    }
}

/// Deterministic records of a run: training loss every step, eval loss every
/// `eval_every` steps and at the end, probes every `probe_every` steps and at the end.
/// With `diverge_at`, the records stop at that step with a null training loss.
pub(crate) fn records(
    cfg: &RunConfig,
    diverge_at: Option<usize>,
) -> (Vec<StepRecord>, Vec<LayerRecord>) {
    let base = if cfg.residual { 2.0 } else { 0.5 };
    let s = cfg.seed as f64;
    let last = diverge_at.unwrap_or(cfg.steps);
    let mut steps = Vec::new();
    let mut layers = Vec::new();
    for t in 0..=last {
        let tf = t as f64;
        let loss = base * (-0.1 * tf).exp() + 0.01 * s + 0.001 * tf * s;
        let end = t == cfg.steps;
        let diverged = diverge_at == Some(t);
        steps.push(StepRecord {
            step: t,
            train_loss: (!diverged).then_some(loss),
            eval_loss: (!diverged && (t % cfg.eval_every == 0 || end)).then_some(loss * 1.1),
            eval_offset: (!diverged && (t % cfg.eval_every == 0 || end)).then_some(loss * 0.3),
            eval_input_dependent: (!diverged && (t % cfg.eval_every == 0 || end))
                .then_some(loss * 0.8),
        });
        if !diverged && (t % cfg.probe_every == 0 || end) {
            for l in 1..=cfg.depth {
                let lf = l as f64;
                layers.push(LayerRecord {
                    step: t,
                    layer: l,
                    grad_norm: (s + 1.0) * lf * 0.1 / (tf + 1.0)
                        * if cfg.residual { 3.0 } else { 1.0 },
                    bias_grad_norm: 0.01 * lf,
                    act_mean: 0.1 * lf + s,
                    act_std: 0.5 * lf + 0.1 * s + 0.01 * tf,
                    sparsity: 0.25,
                    weight_norm: 1.0 + 0.01 * tf,
                    branch_ratio: Some(0.2 + 0.01 * lf + 0.001 * s),
                    update_ratio: (!end).then_some(1e-3 * lf),
                    bias_update: (!end).then_some(1e-4 * (tf + 1.0)),
                    // Unit statistics where the probe is also an eval.
                    ..if t % cfg.eval_every == 0 || end {
                        LayerRecord {
                            dead_units: Some(0.01 * lf),
                            always_on_units: Some(0.02),
                            activity: Some([0.1; 10]),
                            underflow: Some(if lf > 2.0 { 0.5 } else { 0.0 }),
                            unit_offset: Some(0.3 + 0.01 * s),
                            input_std: Some(0.4 + 0.01 * lf),
                            ..LayerRecord::default()
                        }
                    } else {
                        LayerRecord::default()
                    }
                });
            }
        }
    }
    (steps, layers)
}

/// Writes a complete run (records, then `result.json`) and returns its result.
pub(crate) fn write_complete(
    dir: &SweepDir,
    cfg: &RunConfig,
    diverge_at: Option<usize>,
) -> RunResult {
    let id = cfg.run_id();
    let rd = dir.run(&id);
    rd.prepare(&id, cfg).unwrap();
    let (steps, layers) = records(cfg, diverge_at);
    write_records(dir, cfg, &steps, &layers);
    let result = RunResult {
        schema_version: SCHEMA_VERSION,
        run_id: id.clone(),
        status: if diverge_at.is_some() {
            crate::store::Outcome::Diverged
        } else {
            crate::store::Outcome::Completed
        },
        config: cfg.clone(),
        metrics: RunMetrics::from_records(cfg.depth, &steps, &layers, diverge_at),
        fingerprints: Fingerprints {
            init_hash: format!("init-{}", cfg.seed),
            data_hash: format!("data-{}", cfg.seed),
        },
        param_count: cfg.param_count(),
        wall_time_s: 1.5 + cfg.seed as f64,
        steps_per_s: 100.0,
        resumed: cfg.seed == 1,
        threads: 1,
        vectorize: 1,
        resweep_version: "0.1.0".into(),
        git_commit: (cfg.seed == 0).then(|| "abc123".to_string()),
        finished_at: "2025-01-01T00:00:00Z".into(),
        seal: None,
    };
    rd.finish(&result).unwrap()
}

/// Writes the step and layer files of a run (after `prepare`).
pub(crate) fn write_records(
    dir: &SweepDir,
    cfg: &RunConfig,
    steps: &[StepRecord],
    layers: &[LayerRecord],
) {
    let rd = dir.run(&cfg.run_id());
    rd.prepare(&cfg.run_id(), cfg).unwrap();
    let mut w = jsonl::Writer::open_at(&rd.steps_file(), 0, None).unwrap();
    for s in steps {
        w.append(s).unwrap();
    }
    w.sync().unwrap();
    let mut w = jsonl::Writer::open_at(&rd.layers_file(), 0, None).unwrap();
    for l in layers {
        w.append(l).unwrap();
    }
    w.sync().unwrap();
}
