//! Executes a sweep's pending runs in parallel: a rayon pool of `jobs` workers, each run's
//! math pinned to its worker's thread, every run its own fault domain.
//!
//! With `vectorize = N > 1` the planner ([`plan_batches`]) first groups pending runs that
//! share a network shape ([`BatchKey`]) and a start step into batches of up to `N`; each
//! batch is one task, trained in one batched graph, every member still writing its own
//! directory, checkpoints and result.
//! Workers never print. They send typed [`Event`]s through an [`EventSink`] to the one
//! reporter thread ([`reporter`]) that owns the terminal. Cancellation is an
//! `AtomicBool` passed in explicitly: once set, no new run starts and running ones
//! checkpoint and stop at their next step.

pub mod job;
pub mod reporter;
pub mod shard;

use crate::config::RunConfig;
use crate::experiment::BatchKey;
use crate::store::{RunStatus, SweepDir};
use rayon::prelude::*;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What workers tell the reporter.
#[derive(Clone, Debug)]
pub enum Event {
    /// The plan: how many runs will execute, out of how many.
    Plan {
        /// Runs in the sweep.
        total: usize,
        /// Runs already complete.
        done: usize,
        /// Runs that will execute now.
        pending: usize,
    },
    /// A worker started (or resumed) a run.
    Started {
        /// Worker index.
        worker: usize,
        /// Run id.
        run_id: String,
        /// Steps of the run.
        steps: usize,
        /// Step it starts from (0 unless resumed).
        from_step: usize,
    },
    /// A run's progress.
    Progress {
        /// Worker index.
        worker: usize,
        /// Run id.
        run_id: String,
        /// Current step.
        step: usize,
        /// Steps of the run.
        steps: usize,
        /// Training loss at this step (None when not finite).
        loss: Option<f64>,
    },
    /// A run ended.
    Finished {
        /// Worker index.
        worker: usize,
        /// Run id.
        run_id: String,
        /// How.
        outcome: RunOutcome,
    },
    /// A run failed; the others go on.
    Failed {
        /// Worker index.
        worker: usize,
        /// Run id.
        run_id: String,
        /// The error.
        reason: String,
    },
    /// Something the user should know that is not a failure.
    Warning(String),
}

/// How one run ended in this session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// All steps done.
    Completed,
    /// The loss became non-finite at this step (recorded as a result).
    Diverged {
        /// The step.
        step: usize,
    },
    /// Stopped by cancellation after writing a checkpoint.
    Interrupted,
}

/// The sending side of the event channel (cheap to clone, safe to share).
#[derive(Clone)]
pub struct EventSink(Option<mpsc::Sender<Event>>);

impl EventSink {
    /// A sink and the receiver the reporter reads.
    pub fn channel() -> (EventSink, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        (EventSink(Some(tx)), rx)
    }

    /// A sink that drops every event.
    pub fn discard() -> EventSink {
        EventSink(None)
    }

    /// Sends an event; a closed reporter is not an error for the workers.
    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(e);
        }
    }
}

/// Options of one execution.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Parallel workers (runs at once).
    pub jobs: usize,
    /// Checkpoint every this many steps (0 = never).
    pub checkpoint_every: usize,
    /// Run again the runs whose last attempt failed.
    pub retry_failed: bool,
    /// Train up to this many runs of one shape and start step together in one batched
    /// graph (1 = every run alone; batches also stay within [`BATCH_CACHE_BUDGET`]).
    pub vectorize: usize,
}

/// What an execution did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecSummary {
    /// Runs in the list given.
    pub total: usize,
    /// Runs completed in this session.
    pub completed: usize,
    /// Runs that diverged in this session.
    pub diverged: usize,
    /// Runs that failed in this session.
    pub failed: usize,
    /// Runs checkpointed and stopped by cancellation.
    pub interrupted: usize,
    /// Runs not started because of cancellation.
    pub not_started: usize,
    /// Runs already complete before this session.
    pub already_done: usize,
    /// Runs found damaged and trained again to completion in this session (counted in
    /// `completed` or `diverged` too).
    pub repaired: usize,
    /// Runs skipped because they failed before (no `--retry-failed`).
    pub skipped_failed: usize,
    /// Runs skipped because another process holds their lock.
    pub skipped_locked: usize,
    /// Members of the largest batch planned (1 when every run trains alone).
    pub largest_batch: usize,
    /// Wall-clock time of the execution.
    pub wall: Duration,
}

impl ExecSummary {
    /// Runs that still need work after this session.
    pub fn remaining(&self) -> usize {
        self.interrupted
            + self.not_started
            + self.skipped_failed
            + self.skipped_locked
            + self.failed
    }
}

enum Tally {
    /// Trained in this session; `true` when it was a repair of a damaged run.
    Outcome(RunOutcome, bool),
    Failed,
    NotStarted,
    Locked,
    AlreadyDone,
}

/// The most memory a batch may keep live across a step ([`BatchKey::working_set_bytes`]
/// times its members). Measured on this project's machine (32 MiB of last-level cache
/// shared by two cores): batches up to about this size made a step slightly faster than
/// training the runs one at a time, and bigger ones slower — 16 default runs (~22 MB)
/// took 1.1-1.3x as long per run-step, because every step then streams parameters, Adam
/// moments and activations from main memory. The README's "Vectorized training" section
/// has the figures.
pub const BATCH_CACHE_BUDGET: usize = 6 << 20;

/// The largest batch of runs of this shape that fits [`BATCH_CACHE_BUDGET`] (at least 1);
/// 1 for runs that cannot share a batched graph ([`BatchKey::batchable`]), which then
/// train alone, through the one-run trainer.
pub fn cache_cap(key: &BatchKey) -> usize {
    if !key.batchable() {
        return 1;
    }
    (BATCH_CACHE_BUDGET / key.working_set_bytes().max(1)).max(1)
}

/// Splits pending runs (with the step each starts from) into the tasks the workers take.
///
/// With `vectorize <= 1` every run is its own task, in the given order. Otherwise runs
/// that share a [`BatchKey`] and a start step form a group (in order of first
/// appearance); a group of `n` runs is split into `ceil(n / limit)` batches of
/// near-equal size, where `limit` is `vectorize` or, when smaller, the group's
/// [`cache_cap`] (20 runs at a limit of 16 make two batches of 10, not 16 + 4). While
/// there are fewer batches than `jobs` the groups with the largest batches are split
/// further, so that no worker idles for want of a task. Batches are returned largest
/// first (more work first balances the workers); the result depends only on the
/// arguments. Batching never changes what a run computes (members are bitwise equal to
/// one-run training), only how fast.
pub fn plan_batches<'a>(
    pending: &[(&'a RunConfig, usize)],
    vectorize: usize,
    jobs: usize,
) -> Vec<Vec<&'a RunConfig>> {
    if vectorize <= 1 {
        return pending.iter().map(|(cfg, _)| vec![*cfg]).collect();
    }
    let mut keys: Vec<(BatchKey, usize)> = Vec::new();
    let mut groups: Vec<Vec<&RunConfig>> = Vec::new();
    for &(cfg, start) in pending {
        let key = (BatchKey::of(cfg), start);
        match keys.iter().position(|k| *k == key) {
            Some(g) => groups[g].push(cfg),
            None => {
                keys.push(key);
                groups.push(vec![cfg]);
            }
        }
    }
    let mut counts: Vec<usize> = groups
        .iter()
        .zip(&keys)
        .map(|(g, (key, _))| g.len().div_ceil(vectorize.min(cache_cap(key))))
        .collect();
    while counts.iter().sum::<usize>() < jobs {
        let widest = (0..groups.len())
            .filter(|&g| counts[g] < groups[g].len())
            .max_by_key(|&g| (groups[g].len().div_ceil(counts[g]), std::cmp::Reverse(g)));
        match widest {
            Some(g) => counts[g] += 1,
            None => break,
        }
    }
    let mut batches: Vec<Vec<&RunConfig>> = Vec::new();
    for (group, k) in groups.into_iter().zip(counts) {
        let (base, extra) = (group.len() / k, group.len() % k);
        let mut rest = group.as_slice();
        for i in 0..k {
            let (batch, tail) = rest.split_at(base + usize::from(i < extra));
            batches.push(batch.to_vec());
            rest = tail;
        }
    }
    let work = |b: &Vec<&RunConfig>| b.iter().map(|c| c.estimated_flops()).sum::<f64>();
    batches.sort_by(|a, b| work(b).total_cmp(&work(a)));
    batches
}

/// The step a pending run will start from: its checkpoint's, else 0.
fn start_step(status: &RunStatus, sweep: &SweepDir, cfg: &RunConfig) -> usize {
    match status {
        RunStatus::Partial { step } => *step,
        RunStatus::Failed { .. } => sweep
            .run(&cfg.run_id())
            .read_checkpoint()
            .map_or(0, |c| c.state.step),
        _ => 0,
    }
}

/// Runs every run of `runs` that is not complete, `opts.jobs` at a time.
pub fn execute(
    sweep: &SweepDir,
    runs: &[RunConfig],
    opts: &ExecOptions,
    events: &EventSink,
    cancel: &AtomicBool,
) -> anyhow::Result<ExecSummary> {
    let start = Instant::now();
    let mut summary = ExecSummary {
        total: runs.len(),
        ..ExecSummary::default()
    };
    let mut pending = Vec::new();
    for cfg in runs {
        match sweep.run(&cfg.run_id()).status() {
            RunStatus::Done { .. } => summary.already_done += 1,
            RunStatus::Failed { .. } if !opts.retry_failed => summary.skipped_failed += 1,
            status => pending.push((cfg, start_step(&status, sweep, cfg))),
        }
    }
    events.send(Event::Plan {
        total: runs.len(),
        done: summary.already_done,
        pending: pending.len(),
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("resweep-worker-{i}"))
        .build()?;
    let batches = plan_batches(&pending, opts.vectorize, opts.jobs);
    summary.largest_batch = batches.iter().map(Vec::len).max().unwrap_or(1);
    let tallies: Vec<Vec<Tally>> = pool.install(|| {
        batches
            .par_iter()
            .with_max_len(1)
            .map(|batch| run_locked(sweep, batch, opts, events, cancel))
            .collect()
    });
    for t in tallies.into_iter().flatten() {
        match t {
            Tally::Outcome(outcome, repaired) => {
                match &outcome {
                    RunOutcome::Completed => summary.completed += 1,
                    RunOutcome::Diverged { .. } => summary.diverged += 1,
                    RunOutcome::Interrupted => summary.interrupted += 1,
                }
                if repaired && outcome != RunOutcome::Interrupted {
                    summary.repaired += 1;
                }
            }
            Tally::Failed => summary.failed += 1,
            Tally::NotStarted => summary.not_started += 1,
            Tally::Locked => summary.skipped_locked += 1,
            Tally::AlreadyDone => summary.already_done += 1,
        }
    }
    summary.wall = start.elapsed();
    Ok(summary)
}

/// Locks and trains one task's runs (one run, or a batch sharing a shape); one tally per
/// run, in order. A run locked by another process is skipped, one found complete (or
/// failed, without `--retry-failed`) since planning is left alone, and the others train
/// together.
fn run_locked(
    sweep: &SweepDir,
    batch: &[&RunConfig],
    opts: &ExecOptions,
    events: &EventSink,
    cancel: &AtomicBool,
) -> Vec<Tally> {
    if cancel.load(Ordering::Relaxed) {
        return batch.iter().map(|_| Tally::NotStarted).collect();
    }
    let worker = rayon::current_thread_index().unwrap_or(0);
    let fail = |run_id: &str, reason: String| {
        let _ = sweep.run(run_id).write_failure(run_id, &reason);
        events.send(Event::Failed {
            worker,
            run_id: run_id.to_string(),
            reason,
        });
        Tally::Failed
    };
    let mut tallies: Vec<Option<Tally>> = batch.iter().map(|_| None).collect();
    let mut locks = Vec::with_capacity(batch.len());
    let mut opened = Vec::with_capacity(batch.len());
    let mut slots = Vec::with_capacity(batch.len());
    for (k, cfg) in batch.iter().enumerate() {
        let run_id = cfg.run_id();
        let dir = sweep.run(&run_id);
        match dir.try_lock() {
            Ok(Some(lock)) => locks.push(lock),
            Ok(None) => {
                events.send(Event::Warning(format!(
                    "{run_id}: skipped, another resweep process is running it"
                )));
                tallies[k] = Some(Tally::Locked);
                continue;
            }
            Err(e) => {
                tallies[k] = Some(fail(&run_id, format!("cannot lock the run directory: {e}")));
                continue;
            }
        }
        // Another process may have finished it between planning and locking (only a
        // settled run matters here: `job::open` reads the checkpoint anyway).
        match dir.settled() {
            Some(RunStatus::Done { .. }) => {
                tallies[k] = Some(Tally::AlreadyDone);
                continue;
            }
            Some(RunStatus::Failed { .. }) if !opts.retry_failed => {
                tallies[k] = Some(Tally::Failed);
                continue;
            }
            _ => {}
        }
        match job::open(&dir, cfg, events) {
            Ok(o) => {
                opened.push(o);
                slots.push(k);
            }
            Err(e) => tallies[k] = Some(fail(&run_id, format!("{e:#}"))),
        }
    }
    let ids: Vec<String> = opened.iter().map(|o| o.run_id().to_string()).collect();
    let repaired: Vec<bool> = opened.iter().map(job::Opened::repaired).collect();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let session = job::Session {
            checkpoint_every: opts.checkpoint_every,
            worker,
            events,
            cancel,
        };
        job::run_opened(opened, session)
    }));
    let outcomes: Vec<anyhow::Result<RunOutcome>> = match result {
        Ok(outcomes) => outcomes,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            ids.iter()
                .map(|_| Err(anyhow::anyhow!("internal error (panic): {msg}")))
                .collect()
        }
    };
    for (((k, run_id), outcome), repaired) in
        slots.into_iter().zip(&ids).zip(outcomes).zip(repaired)
    {
        tallies[k] = Some(match outcome {
            Ok(outcome) => {
                events.send(Event::Finished {
                    worker,
                    run_id: run_id.clone(),
                    outcome: outcome.clone(),
                });
                Tally::Outcome(outcome, repaired)
            }
            Err(e) => fail(run_id, format!("{e:#}")),
        });
    }
    drop(locks);
    tallies
        .into_iter()
        .map(|t| t.unwrap_or(Tally::NotStarted))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run (its batches are never capped by the cache budget).
    fn run(residual: bool, seed: u64, depth: usize) -> RunConfig {
        RunConfig {
            residual,
            seed,
            depth,
            width: 8,
            ..RunConfig::default()
        }
    }

    fn sizes(batches: &[Vec<&RunConfig>]) -> Vec<usize> {
        batches.iter().map(Vec::len).collect()
    }

    #[test]
    fn without_vectorize_every_run_is_its_own_task_in_order() {
        let runs: Vec<RunConfig> = (0..5).map(|s| run(s % 2 == 0, s, 20)).collect();
        let pending: Vec<(&RunConfig, usize)> = runs.iter().map(|c| (c, 0)).collect();
        let batches = plan_batches(&pending, 1, 2);
        assert_eq!(sizes(&batches), vec![1; 5]);
        for (b, c) in batches.iter().zip(&runs) {
            assert_eq!(b[0], c);
        }
    }

    #[test]
    fn batches_share_shape_and_start_and_split_evenly() {
        // The default sweep's grid: 20 PlainMLP and 20 ResMLP runs (two init scales each).
        let mut runs = Vec::new();
        for residual in [false, true] {
            for scale in [
                crate::config::InitScale::Value(1.0),
                crate::config::InitScale::Value(0.2),
            ] {
                for seed in 0..10 {
                    runs.push(RunConfig {
                        init_scale: scale.clone(),
                        ..run(residual, seed, 20)
                    });
                }
            }
        }
        let pending: Vec<(&RunConfig, usize)> = runs.iter().map(|c| (c, 0)).collect();
        let batches = plan_batches(&pending, 16, 1);
        assert_eq!(sizes(&batches), vec![10, 10, 10, 10]);
        for b in &batches {
            assert!(b.iter().all(|c| BatchKey::of(c) == BatchKey::of(b[0])));
        }
        let mut all: Vec<String> = batches.iter().flatten().map(|c| c.run_id()).collect();
        all.sort();
        let mut want: Vec<String> = runs.iter().map(RunConfig::run_id).collect();
        want.sort();
        assert_eq!(all, want, "every run exactly once");

        // A different start step or shape never shares a batch.
        let mixed: Vec<(&RunConfig, usize)> = runs
            .iter()
            .enumerate()
            .map(|(i, c)| (c, if i % 4 == 0 { 100 } else { 0 }))
            .collect();
        for b in plan_batches(&mixed, 16, 1) {
            let start = |c: &RunConfig| mixed.iter().find(|(m, _)| *m == c).unwrap().1;
            assert!(b.iter().all(|c| start(c) == start(b[0])));
            assert!(b.iter().all(|c| BatchKey::of(c) == BatchKey::of(b[0])));
        }
        let other = run(true, 0, 10);
        let with_other: Vec<(&RunConfig, usize)> =
            pending.iter().copied().chain([(&other, 0)]).collect();
        let batches = plan_batches(&with_other, 16, 1);
        assert!(batches.iter().any(|b| b.len() == 1 && b[0] == &other));
    }

    #[test]
    fn batches_are_split_until_every_worker_has_one() {
        let runs: Vec<RunConfig> = (0..16).map(|s| run(true, s, 20)).collect();
        let pending: Vec<(&RunConfig, usize)> = runs.iter().map(|c| (c, 0)).collect();
        assert_eq!(sizes(&plan_batches(&pending, 16, 1)), vec![16]);
        assert_eq!(sizes(&plan_batches(&pending, 16, 2)), vec![8, 8]);
        assert_eq!(sizes(&plan_batches(&pending, 4, 2)), vec![4, 4, 4, 4]);
        assert_eq!(sizes(&plan_batches(&pending[..3], 16, 8)), vec![1, 1, 1]);
        let many: Vec<RunConfig> = (0..128).map(|s| run(s % 2 == 0, s, 20)).collect();
        let pending: Vec<(&RunConfig, usize)> = many.iter().map(|c| (c, 0)).collect();
        assert_eq!(sizes(&plan_batches(&pending, 16, 2)), vec![16; 8]);
    }

    #[test]
    fn batches_fit_the_cache_budget() {
        // Depth 20, width 64, batch 64: 1.33 MB per PlainMLP run (parameters, Adam moments,
        // layer inputs) and 1.41 MB per ResMLP run (also one ReLU mask byte per unit), so
        // 4 runs of either fit in 6 MiB.
        let default = BatchKey::of(&RunConfig::default());
        assert_eq!(default.working_set_bytes(), 4 * (3 * 83_200 + 20 * 64 * 64));
        assert_eq!(cache_cap(&default), 4);
        let res = BatchKey::of(&RunConfig {
            residual: true,
            ..RunConfig::default()
        });
        assert_eq!(
            res.working_set_bytes(),
            4 * (3 * 83_200 + 20 * 64 * 64) + 20 * 64 * 64
        );
        assert_eq!(cache_cap(&res), 4);
        let runs: Vec<RunConfig> = (0..20)
            .map(|seed| RunConfig {
                seed,
                ..RunConfig::default()
            })
            .collect();
        let pending: Vec<(&RunConfig, usize)> = runs.iter().map(|c| (c, 0)).collect();
        assert_eq!(sizes(&plan_batches(&pending, 16, 1)), vec![4, 4, 4, 4, 4]);
        assert_eq!(sizes(&plan_batches(&pending, 2, 1)), vec![2; 10]);
        // At batch 1024 one run alone exceeds the budget: no batching at all.
        let big = RunConfig {
            batch_size: 1024,
            ..RunConfig::default()
        };
        assert_eq!(cache_cap(&BatchKey::of(&big)), 1);
    }
}
