//! `resweep train`: one configuration from flags.

use super::{bad_diagnostic, bad_input, Exit};
use crate::cli::{FlagValue, TrainArgs};
use crate::config::RunConfig;
use crate::experiment::{
    Collect, Ending, Fingerprints, LayerRecord, RunMetrics, StepRecord, Trainer,
};
use crate::format;
use crate::runner::{job, EventSink, RunOutcome};
use crate::store::{Outcome, RunDir};
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The full record `--json` prints.
#[derive(Serialize)]
struct TrainRecord<'a> {
    run_id: String,
    status: Outcome,
    config: &'a RunConfig,
    param_count: usize,
    fingerprints: &'a Fingerprints,
    metrics: &'a RunMetrics,
    wall_time_s: f64,
    steps: &'a [StepRecord],
    layers: &'a [LayerRecord],
}

/// Builds the configuration from flags; bad values are [`super::BadInput`]: a flag
/// that does not read as its setting's kind (`--init-scale: ...`), or a value no run can
/// have (`--batch-size = 0 is impossible ...`).
pub fn config_from_args(a: &TrainArgs) -> anyhow::Result<RunConfig> {
    let mut cfg = RunConfig::default();
    for (setting, flag) in &a.settings.values {
        let value = match flag {
            FlagValue::Typed(v) => v.clone(),
            FlagValue::Text(text) => setting
                .kind
                .parse_text(setting.name, text)
                .map_err(|e| bad_input(format!("--{}: {e}", setting.flag())))?,
        };
        (setting.set)(&mut cfg, &value)
            .map_err(|e| bad_input(format!("--{}: {e}", setting.flag())))?;
    }
    if !a.overrides.is_empty() {
        cfg = with_overrides(cfg, &a.overrides)?;
    }
    cfg.validate()
        .map_err(|e| bad_input(format!("--{}", e.replacen('_', "-", 1))))?;
    if let Some(e) = cfg.inapplicable() {
        return Err(bad_input(format!("--{}", e.replacen('_', "-", 1))));
    }
    Ok(cfg)
}

/// The flags' configuration with `key=value` settings on top, each checked exactly as
/// a sweep file's line (the same messages and did-you-mean); only settings, not `[grid]`
/// or `[execution]`: `train` runs one configuration.
fn with_overrides(mut cfg: RunConfig, overrides: &[String]) -> anyhow::Result<RunConfig> {
    let mut keys = Vec::new();
    for o in overrides {
        let parsed = crate::sweep::Override::parse(o).map_err(|e| bad_diagnostic(e.to_string()))?;
        if !parsed
            .table
            .as_deref()
            .is_some_and(|t| crate::sweep::FIXED_TABLES.contains(&t))
        {
            return Err(bad_input(format!(
                "override `{o}`: resweep train takes run settings (model.depth=30, train.steps=200); grid axes, [execution] and the sweep's name belong to resweep run"
            )));
        }
        keys.push(parsed.key);
    }
    // Checked as the lines of a sweep file: each alone, then together.
    let empty = crate::sweep::SweepSpec::parse("name = \"train\"\n", "train")
        .map_err(|e| bad_diagnostic(e.to_string()))?;
    let spec = empty
        .with_overrides(overrides)
        .map_err(|e| bad_diagnostic(e.to_string()))?;
    for (o, key) in overrides.iter().zip(&keys) {
        let value = crate::sweep::AxisValue::of(&spec.base, key)
            .ok_or_else(|| bad_input(format!("override `{o}`: unknown setting `{key}`")))?;
        value
            .apply(&mut cfg, key)
            .map_err(|e| bad_input(format!("override `{o}`: {e}")))?;
    }
    Ok(cfg)
}

/// Runs `resweep train`.
pub fn run(a: &TrainArgs) -> anyhow::Result<Exit> {
    let cfg = config_from_args(a)?;
    let (steps, layers, status, fingerprints, wall) = match &a.out {
        Some(out) => {
            let dir = RunDir::new(out.clone());
            let never = AtomicBool::new(false);
            let outcome = job::run_one(&dir, &cfg, 100, 0, &EventSink::discard(), &never)?;
            let result = dir.read_result()?;
            let (steps, layers) = dir.read_records()?;
            let status = if matches!(outcome, RunOutcome::Diverged { .. }) {
                Outcome::Diverged
            } else {
                Outcome::Completed
            };
            (
                steps,
                layers,
                status,
                result.fingerprints,
                result.wall_time_s,
            )
        }
        None => {
            let start = Instant::now();
            let mut trainer = Trainer::new(&cfg)?;
            let mut c = Collect::default();
            let ending = trainer.run(0, &mut c)?;
            let status = if matches!(ending, Ending::Diverged { .. }) {
                Outcome::Diverged
            } else {
                Outcome::Completed
            };
            (
                c.steps,
                c.layers,
                status,
                trainer.fingerprints().clone(),
                start.elapsed().as_secs_f64(),
            )
        }
    };
    let diverged = steps
        .last()
        .filter(|_| status == Outcome::Diverged)
        .map(|s| s.step);
    let metrics = RunMetrics::from_records(cfg.depth, &steps, &layers, diverged);
    if a.json {
        let record = TrainRecord {
            run_id: cfg.run_id(),
            status,
            config: &cfg,
            param_count: cfg.param_count(),
            fingerprints: &fingerprints,
            metrics: &metrics,
            wall_time_s: wall,
            steps: &steps,
            layers: &layers,
        };
        crate::dataln!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        crate::out!(
            "{}",
            human_summary(
                &cfg,
                &metrics,
                &fingerprints,
                status.as_str(),
                wall,
                steps.len()
            )
        );
        if let Some(out) = &a.out {
            crate::outln!("  written to {}", out.display());
        }
    }
    Ok(Exit::Ok)
}

/// The compact human summary of one run.
pub fn human_summary(
    cfg: &RunConfig,
    m: &RunMetrics,
    fp: &Fingerprints,
    status: &str,
    wall: f64,
    steps_recorded: usize,
) -> String {
    let mut s = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "{}  depth {}  width {}  init_scale {} = {}  seed {}  ({})",
        cfg.arm_label(),
        cfg.depth,
        cfg.width,
        cfg.init_scale,
        format::sig(cfg.init_scale_value(), 4),
        cfg.seed,
        cfg.run_id()
    );
    let _ = writeln!(
        s,
        "{} lr {}  batch {}  {} steps  {} parameters",
        cfg.optimizer.as_str(),
        cfg.lr,
        cfg.batch_size,
        cfg.steps,
        cfg.param_count()
    );
    if let Some(step) = m.diverged_step {
        let _ = writeln!(
            s,
            "  DIVERGED at step {step}: the loss was not finite (recorded, not an error)"
        );
    }
    let _ = writeln!(
        s,
        "  train loss    {} -> {}  (mean of last 10 steps)",
        format::metric(m.initial_train_loss),
        format::metric(m.final_train_loss)
    );
    let _ = writeln!(
        s,
        "  eval loss     {} -> {}  (best {}, final/initial {})",
        format::metric(m.initial_eval_loss),
        format::metric(m.final_eval_loss),
        format::metric(m.best_eval_loss),
        format::metric(m.loss_reduction)
    );
    let _ = writeln!(
        s,
        "  grad norm     layer 1: {} -> {}   layer {}: {} -> {}",
        format::metric(m.grad_norm_first_init),
        format::metric(m.grad_norm_first_final),
        cfg.depth,
        format::metric(m.grad_norm_last_init),
        format::metric(m.grad_norm_last_final)
    );
    let _ = writeln!(
        s,
        "  act std       layer {}: {} -> {}",
        cfg.depth,
        format::metric(m.act_std_last_init),
        format::metric(m.act_std_last_final)
    );
    let _ = writeln!(
        s,
        "  init hash {}  data hash {}",
        fp.init_hash, fp.data_hash
    );
    let _ = writeln!(
        s,
        "  {status} in {wall:.2} s ({:.0} steps/s)",
        steps_recorded as f64 / wall.max(1e-9)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn config(flags: &[&str]) -> anyhow::Result<RunConfig> {
        let args = ["resweep", "train"].iter().chain(flags);
        match Cli::try_parse_from(args)?.command {
            Some(Command::Train(a)) => config_from_args(&a),
            other => panic!("not train: {other:?}"),
        }
    }

    #[test]
    fn flags_give_the_recorded_ids() {
        // Ids recorded from `resweep train --json` before the flags were generated from
        // the settings' declarations.
        let id = |flags: &[&str]| config(flags).unwrap().run_id();
        assert_eq!(config(&[]).unwrap(), RunConfig::default());
        assert_eq!(
            id(&[
                "--depth",
                "3",
                "--width",
                "8",
                "--steps",
                "5",
                "--eval-size",
                "16"
            ]),
            "d3-plain-s0.577-seed0-1f467e7a"
        );
        assert_eq!(
            id(&[
                "--depth",
                "4",
                "--width",
                "8",
                "--steps",
                "6",
                "--residual",
                "--optimizer",
                "sgd",
                "--lr",
                "0.02",
                "--momentum",
                "0.8",
                "--seed",
                "9",
                "--init-scale",
                "0.7",
                "--batch-size",
                "8",
                "--eval-size",
                "32",
                "--eval-every",
                "2",
                "--probe-every",
                "3",
            ]),
            "d4-res-s0.7-seed9-dc546cdb"
        );
        assert_eq!(
            id(&[
                "--depth",
                "2",
                "--width",
                "4",
                "--steps",
                "3",
                "--init-scale",
                "1/depth",
                "--lr",
                "5e-4",
                "--eval-size",
                "8",
            ]),
            "d2-plain-s0.5-seed0-8a1ba49d"
        );
    }

    #[test]
    fn bad_flags_are_bad_input_naming_the_flag() {
        let bad = |flags: &[&str]| {
            let e = config(flags).unwrap_err();
            let (message, code) = crate::commands::failure(&e);
            assert_eq!(code, 2, "{message}");
            message
        };
        assert_eq!(
            bad(&["--batch-size", "0"]),
            "error: --batch-size = 0 is impossible: it must be at least 1"
        );
        assert!(bad(&["--init-scale", "1/log(depth)"]).starts_with("error: --init-scale: "));
        assert_eq!(
            bad(&["--optimizer", "rmsprop"]),
            "error: --optimizer: unknown optimizer \"rmsprop\": expected \"adam\" or \"sgd\""
        );
        assert!(bad(&["--lr", "-1"]).starts_with("error: --lr = -1 is impossible"));
    }
}
