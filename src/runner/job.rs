//! Runs from start (or checkpoint) to `result.json`: the only place that ties trainers to
//! run directories.
//!
//! A run is first [`open`]ed (directory prepared, checkpoint read), then trained alone
//! with a [`Trainer`] or together with other runs of its shape in a [`BatchedTrainer`];
//! either way it gets its own [`Recorder`] writing into its own directory, its own
//! checkpoints and its own `result.json`, concluded the same way.

use super::{Event, EventSink, RunOutcome};
use crate::config::{RunConfig, SCHEMA_VERSION};
use crate::experiment::optim::OptimizerState;
use crate::experiment::probes::RunProbes;
use crate::experiment::{
    model, BatchedTrainer, Ending, Fingerprints, LayerRecord, Observer, RunMetrics, StepRecord,
    TrainState, Trainer,
};
use crate::store::checkpoint::Checkpoint;
use crate::store::jsonl;
use crate::store::{RunDir, RunResult, RunStatus};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How often (in steps) a worker reports progress.
const PROGRESS_EVERY: usize = 10;

/// A run ready to train: its directory prepared and its starting point read.
pub struct Opened {
    dir: RunDir,
    cfg: RunConfig,
    run_id: String,
    /// The checkpointed state to continue from; `None` starts afresh. Taken by the
    /// trainer.
    state: Option<TrainState>,
    /// The run continues from a checkpoint (`state` was `Some` when opened).
    resumed: bool,
    steps_len: u64,
    layers_len: u64,
    /// SHA-256 of the kept metrics prefixes, as the checkpoint recorded them.
    prefix_digests: Option<([u8; 32], [u8; 32])>,
    elapsed_before: f64,
    /// The run was damaged: its files were moved aside and it trains again.
    repaired: bool,
}

impl Opened {
    /// The run was found damaged and is being trained again (its damaged files moved
    /// aside first).
    pub fn repaired(&self) -> bool {
        self.repaired
    }

    /// The step the run starts from (0 unless resumed).
    pub fn start_step(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.step)
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// Prepares a run's directory (config.json, no stale failure) and reads its checkpoint.
/// A damaged run (a sealed file or the checkpoint that does not verify) first has its
/// files moved aside ([`RunDir::set_aside`]) and restarts from step 0; a verified
/// checkpoint is resumed; with no checkpoint the run starts from step 0 (its records are
/// truncated when the recorder opens them). The caller holds the run's lock.
pub fn open(dir: &RunDir, cfg: &RunConfig, events: &EventSink) -> anyhow::Result<Opened> {
    let run_id = cfg.run_id();
    // `status` verifies every seal and checkpoint (a failed run's too).
    let damage = match dir.status() {
        RunStatus::Damaged { damage } => Some(damage),
        _ => None,
    };
    if let Some(damage) = &damage {
        let aside = dir.set_aside(damage)?;
        events.send(Event::Warning(format!(
            "{run_id}: damaged ({damage}); its files were moved to {} and the run trains again from step 0",
            aside.display()
        )));
    }
    dir.prepare(&run_id, cfg)?;
    dir.clear_failure()?;
    let checkpoint = if dir.checkpoint_file().exists() {
        Some(
            dir.verified_checkpoint()
                .map_err(|d| anyhow::anyhow!("{d}"))?,
        )
    } else {
        None
    };
    let (state, steps_len, layers_len, prefix_digests, elapsed_before) = match checkpoint {
        Some(c) => (
            Some(c.state),
            c.steps_len,
            c.layers_len,
            Some((c.steps_sha256, c.layers_sha256)),
            c.elapsed_s,
        ),
        None => (None, 0, 0, None, 0.0),
    };
    Ok(Opened {
        dir: dir.clone(),
        cfg: cfg.clone(),
        run_id,
        resumed: state.is_some(),
        state,
        steps_len,
        layers_len,
        prefix_digests,
        elapsed_before,
        repaired: damage.is_some(),
    })
}

/// What every run trained by one worker's task shares.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    /// Checkpoint every this many steps (0 = never).
    pub checkpoint_every: usize,
    /// The worker's index, for events.
    pub worker: usize,
    /// Where events go.
    pub events: &'a EventSink,
    /// Set to stop: runs checkpoint and stop at their next step.
    pub cancel: &'a AtomicBool,
}

impl<'a> Session<'a> {
    /// Announces that run `o` starts (at `from_step`) and opens its recorder.
    fn start(self, o: &'a Opened, from_step: usize) -> anyhow::Result<Recorder<'a>> {
        self.events.send(Event::Started {
            worker: self.worker,
            run_id: o.run_id.clone(),
            steps: o.cfg.steps,
            from_step,
        });
        Recorder::new(o, self)
    }
}

/// Writes a run's records to its directory, checkpoints it, relays progress and watches
/// for cancellation.
struct Recorder<'a> {
    dir: &'a RunDir,
    steps: jsonl::Writer,
    layers: jsonl::Writer,
    session: Session<'a>,
    run_id: &'a str,
    total: usize,
    started: Instant,
    elapsed_before: f64,
}

impl<'a> Recorder<'a> {
    fn new(o: &'a Opened, session: Session<'a>) -> anyhow::Result<Recorder<'a>> {
        Ok(Recorder {
            dir: &o.dir,
            steps: jsonl::Writer::open_at(
                &o.dir.steps_file(),
                o.steps_len,
                o.prefix_digests.as_ref().map(|d| &d.0),
            )?,
            layers: jsonl::Writer::open_at(
                &o.dir.layers_file(),
                o.layers_len,
                o.prefix_digests.as_ref().map(|d| &d.1),
            )?,
            session,
            run_id: &o.run_id,
            total: o.cfg.steps,
            started: Instant::now(),
            elapsed_before: o.elapsed_before,
        })
    }

    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn save(&mut self, state: &TrainState) -> anyhow::Result<()> {
        let (steps_len, steps_sha256) = self.steps.sync()?;
        let (layers_len, layers_sha256) = self.layers.sync()?;
        self.dir.write_checkpoint(&Checkpoint {
            state: state.clone(),
            steps_len,
            layers_len,
            steps_sha256,
            layers_sha256,
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
            self.session.events.send(Event::Progress {
                worker: self.session.worker,
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
        self.session.cancel.load(Ordering::Relaxed)
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
    let opened = open(dir, cfg, events)?;
    let session = Session {
        checkpoint_every,
        worker,
        events,
        cancel,
    };
    train_alone(opened, session)
}

/// Trains opened runs, results in their order: runs that start from the same step go
/// together into one [`BatchedTrainer`] (a group of one trains alone, through the
/// one-run [`Trainer`]). The caller holds every run's lock and has checked that the runs
/// share a [`crate::experiment::BatchKey`]. The groups run one after the other.
///
/// The planner ([`super::plan_batches`]) already batches runs by start step, so there is
/// normally one group. Regrouping is the fallback for a run that another process trained
/// and checkpointed between planning and locking, which moved its start step.
pub fn run_opened(opened: Vec<Opened>, session: Session) -> Vec<anyhow::Result<RunOutcome>> {
    let n = opened.len();
    let mut groups: BTreeMap<usize, Vec<(usize, Opened)>> = BTreeMap::new();
    for (k, o) in opened.into_iter().enumerate() {
        groups.entry(o.start_step()).or_default().push((k, o));
    }
    let mut results: Vec<Option<anyhow::Result<RunOutcome>>> = (0..n).map(|_| None).collect();
    for (_, group) in groups {
        if session.cancel.load(Ordering::Relaxed) {
            // Cancelled between groups: the rest stay as they are on disk (resumable).
            for (k, _) in group {
                results[k] = Some(Ok(RunOutcome::Interrupted));
            }
            continue;
        }
        let (ks, members): (Vec<usize>, Vec<Opened>) = group.into_iter().unzip();
        let outcomes = if members.len() == 1 {
            let o = members.into_iter().next().expect("one member");
            vec![train_alone(o, session)]
        } else {
            train_batched(members, session)
        };
        for (k, r) in ks.into_iter().zip(outcomes) {
            results[k] = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("run was not trained"))))
        .collect()
}

/// One run through the one-run trainer.
fn train_alone(mut o: Opened, session: Session) -> anyhow::Result<RunOutcome> {
    let mut trainer = match o.state.take() {
        Some(state) => Trainer::resume(&o.cfg, state)?,
        None => Trainer::new(&o.cfg)?,
    };
    let mut rec = session.start(&o, trainer.state().step)?;
    let ending = trainer.run(session.checkpoint_every, &mut rec)?;
    let fingerprints = trainer.fingerprints().clone();
    conclude(&o, rec, ending, trainer.state(), fingerprints, 1)
}

/// Runs of one shape, all at the same step, through one batched trainer.
fn train_batched(mut members: Vec<Opened>, session: Session) -> Vec<anyhow::Result<RunOutcome>> {
    let vectorize = members.len();
    let states: Vec<(RunConfig, TrainState)> = members
        .iter_mut()
        .map(|o| {
            let state = o.state.take().unwrap_or_else(|| {
                let (params, _) = model::init_params(&o.cfg);
                let opt = OptimizerState::new(o.cfg.optimizer, params.len());
                TrainState {
                    step: 0,
                    params,
                    opt,
                }
            });
            (o.cfg.clone(), state)
        })
        .collect();
    let start_step = states.first().map_or(0, |(_, s)| s.step);
    let mut trainer = match BatchedTrainer::from_states(states) {
        Ok(t) => t,
        Err(e) => return fail_all(&members, &e),
    };
    // Every member is announced and gets its recorder; one that cannot open its files
    // fails alone, and the batch trains on with a recorder-less stand-in that stops it at
    // once.
    let mut recorders: Vec<anyhow::Result<Recorder>> = members
        .iter()
        .map(|o| session.start(o, start_step))
        .collect();
    let mut stand_ins: Vec<StopAtOnce> = recorders.iter().map(|_| StopAtOnce).collect();
    let endings = {
        let mut observers: Vec<&mut dyn Observer> = recorders
            .iter_mut()
            .zip(stand_ins.iter_mut())
            .map(|(r, s)| match r {
                Ok(r) => r as &mut dyn Observer,
                Err(_) => s as &mut dyn Observer,
            })
            .collect();
        trainer.run(session.checkpoint_every, &mut observers)
    };
    let endings = match endings {
        Ok(e) => e,
        Err(e) => return fail_all(&members, &e),
    };
    let mut out = Vec::with_capacity(members.len());
    for (i, ((o, rec), ending)) in members.iter().zip(recorders).zip(endings).enumerate() {
        let result = (|| {
            let rec = rec?;
            let ending = ending?;
            let state = trainer.state(i)?;
            conclude(
                o,
                rec,
                ending,
                &state,
                trainer.fingerprints(i).clone(),
                vectorize,
            )
        })();
        out.push(result);
    }
    out
}

/// The observer of a batch member whose recorder could not be opened: records nothing
/// and fails the member at its first record.
struct StopAtOnce;

impl Observer for StopAtOnce {
    fn record(&mut self, _: &StepRecord, _: &[LayerRecord]) -> anyhow::Result<()> {
        anyhow::bail!("the run's metrics files could not be opened")
    }
    fn checkpoint(&mut self, _: &TrainState) -> anyhow::Result<()> {
        Ok(())
    }
    fn should_stop(&mut self) -> bool {
        true
    }
}

/// The end of a run's session: a checkpoint when interrupted, else `result.json`
/// computed from what is on disk, as aggregation will see it.
fn conclude(
    o: &Opened,
    mut rec: Recorder,
    ending: Ending,
    state: &TrainState,
    fingerprints: Fingerprints,
    vectorize: usize,
) -> anyhow::Result<RunOutcome> {
    if let Ending::Interrupted { .. } = ending {
        rec.save(state)?;
        return Ok(RunOutcome::Interrupted);
    }
    rec.steps.sync()?;
    rec.layers.sync()?;
    let wall = rec.elapsed();
    let (steps, layers) = o.dir.read_records()?;
    let diverged_step = match ending {
        Ending::Diverged { step } => Some(step),
        _ => None,
    };
    let metrics = RunMetrics::from_records(o.cfg.depth, &steps, &layers, diverged_step);
    let (init, _) = model::init_params(&o.cfg);
    o.dir.write_probes(&RunProbes::measure(
        &o.cfg,
        &init,
        &state.params,
        state.step,
    ))?;
    o.dir.write_weights(
        &init,
        &state.params,
        &crate::store::weights::WeightsMeta {
            run_id: o.run_id.clone(),
            step: state.step,
            depth: o.cfg.depth,
            width: o.cfg.width,
            residual: o.cfg.residual,
            gates: crate::experiment::model::Arch::of(&o.cfg).block.gate,
        },
    )?;
    let result = RunResult {
        schema_version: SCHEMA_VERSION,
        run_id: o.run_id.clone(),
        status: if diverged_step.is_some() {
            crate::store::Outcome::Diverged
        } else {
            crate::store::Outcome::Completed
        },
        config: o.cfg.clone(),
        metrics,
        fingerprints,
        param_count: o.cfg.param_count(),
        wall_time_s: wall,
        steps_per_s: (steps.len() as f64) / wall.max(1e-9),
        resumed: o.resumed,
        threads: 1,
        vectorize,
        resweep_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: option_env!("RESWEEP_GIT_COMMIT").map(str::to_string),
        finished_at: crate::store::run_dir::now_rfc3339(),
        seal: None,
    };
    o.dir.finish(&result)?;
    Ok(match diverged_step {
        Some(step) => RunOutcome::Diverged { step },
        None => RunOutcome::Completed,
    })
}

/// The same error for every member of a batch that could not train at all.
fn fail_all(members: &[Opened], e: &anyhow::Error) -> Vec<anyhow::Result<RunOutcome>> {
    let msg = format!("{e:#}");
    members
        .iter()
        .map(|_| Err(anyhow::anyhow!("{msg}")))
        .collect()
}
