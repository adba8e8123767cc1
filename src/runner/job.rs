//! One run from start (or checkpoint) to `result.json`: the only place that ties the
//! trainer to a run directory.

use super::{Event, EventSink, RunOutcome};
use crate::config::{RunConfig, SCHEMA_VERSION};
use crate::experiment::{
    Ending, LayerRecord, Observer, RunMetrics, StepRecord, TrainState, Trainer,
};
use crate::store::checkpoint::Checkpoint;
use crate::store::jsonl;
use crate::store::{RunDir, RunResult};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How often (in steps) a worker reports progress.
const PROGRESS_EVERY: usize = 10;

/// Writes a run's records to its directory, checkpoints it, relays progress and watches
/// for cancellation.
struct Recorder<'a> {
    dir: &'a RunDir,
    steps: jsonl::Writer,
    layers: jsonl::Writer,
    worker: usize,
    run_id: &'a str,
    total: usize,
    events: &'a EventSink,
    cancel: &'a AtomicBool,
    started: Instant,
    elapsed_before: f64,
}

impl Recorder<'_> {
    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn save(&mut self, state: &TrainState) -> anyhow::Result<()> {
        let steps_len = self.steps.sync()?;
        let layers_len = self.layers.sync()?;
        self.dir.write_checkpoint(&Checkpoint {
            state: state.clone(),
            steps_len,
            layers_len,
            elapsed_s: self.elapsed(),
        })
    }
}

impl Observer for Recorder<'_> {
    fn record(&mut self, step: &StepRecord, layers: &[LayerRecord]) -> anyhow::Result<()> {
        self.steps.append(step)?;
        for l in layers {
            self.layers.append(l)?;
        }
        if step.step.is_multiple_of(PROGRESS_EVERY) || step.step == self.total {
            self.events.send(Event::Progress {
                worker: self.worker,
                run_id: self.run_id.to_string(),
                step: step.step,
                steps: self.total,
                loss: step.train_loss,
            });
        }
        Ok(())
    }

    fn checkpoint(&mut self, state: &TrainState) -> anyhow::Result<()> {
        self.save(state)
    }

    fn should_stop(&mut self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Trains one run into its directory, resuming from its checkpoint when there is one.
/// The caller holds the run's lock.
pub fn run_one(
    dir: &RunDir,
    cfg: &RunConfig,
    checkpoint_every: usize,
    worker: usize,
    events: &EventSink,
    cancel: &AtomicBool,
) -> anyhow::Result<RunOutcome> {
    let run_id = cfg.run_id();
    dir.prepare(&run_id, cfg)?;
    dir.clear_failure()?;

    // Resume from a valid checkpoint; otherwise start afresh (truncating any records).
    let mut resumed = false;
    let (mut trainer, steps_len, layers_len, elapsed_before) = match dir.read_checkpoint() {
        Ok(c) => {
            resumed = true;
            let t = Trainer::resume(cfg, c.state)?;
            (t, c.steps_len, c.layers_len, c.elapsed_s)
        }
        Err(e) => {
            if dir.checkpoint_file().exists() {
                events.send(Event::Warning(format!(
                    "{run_id}: {e}; restarting the run from step 0"
                )));
            }
            (Trainer::new(cfg)?, 0, 0, 0.0)
        }
    };
    let start_step = trainer.state().step;
    events.send(Event::Started {
        worker,
        run_id: run_id.clone(),
        steps: cfg.steps,
        from_step: start_step,
    });
    let mut rec = Recorder {
        dir,
        steps: jsonl::Writer::open_at(&dir.steps_file(), steps_len)?,
        layers: jsonl::Writer::open_at(&dir.layers_file(), layers_len)?,
        worker,
        run_id: &run_id,
        total: cfg.steps,
        events,
        cancel,
        started: Instant::now(),
        elapsed_before,
    };
    let ending = trainer.run(checkpoint_every, &mut rec)?;
    if let Ending::Interrupted { .. } = ending {
        rec.save(trainer.state())?;
        return Ok(RunOutcome::Interrupted);
    }
    rec.steps.sync()?;
    rec.layers.sync()?;
    let wall = rec.elapsed();

    // The result is computed from what is on disk, as aggregation will see it.
    let (steps, layers) = dir.read_records()?;
    let diverged_step = match ending {
        Ending::Diverged { step } => Some(step),
        _ => None,
    };
    let metrics = RunMetrics::from_records(cfg.depth, &steps, &layers, diverged_step);
    let result = RunResult {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.clone(),
        status: if diverged_step.is_some() {
            "diverged"
        } else {
            "completed"
        }
        .into(),
        config: cfg.clone(),
        metrics,
        fingerprints: trainer.fingerprints().clone(),
        param_count: cfg.param_count(),
        wall_time_s: wall,
        steps_per_s: (steps.len() as f64) / wall.max(1e-9),
        resumed,
        threads: 1,
        vectorize: 1,
        resweep_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: option_env!("RESWEEP_GIT_COMMIT").map(str::to_string),
        finished_at: crate::store::run_dir::now_rfc3339(),
    };
    dir.finish(&result)?;
    Ok(match diverged_step {
        Some(step) => RunOutcome::Diverged { step },
        None => RunOutcome::Completed,
    })
}
