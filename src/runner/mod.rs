//! Executes a sweep's pending runs in parallel: a rayon pool of `jobs` workers, each run's
//! math pinned to its worker's thread, every run its own fault domain.
//!
//! Workers never print. They send typed [`Event`]s through an [`EventSink`] to the one
//! reporter thread ([`reporter`]) that owns the terminal. Cancellation is an
//! `AtomicBool` passed in explicitly: once set, no new run starts and running ones
//! checkpoint and stop at their next step.

pub mod job;
pub mod reporter;
pub mod shard;

use crate::config::RunConfig;
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
    /// Runs skipped because they failed before (no `--retry-failed`).
    pub skipped_failed: usize,
    /// Runs skipped because another process holds their lock.
    pub skipped_locked: usize,
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
    Outcome(RunOutcome),
    Failed,
    NotStarted,
    Locked,
    AlreadyDone,
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
            _ => pending.push(cfg),
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
    let tallies: Vec<Tally> = pool.install(|| {
        pending
            .par_iter()
            .with_max_len(1)
            .map(|cfg| run_locked(sweep, cfg, opts, events, cancel))
            .collect()
    });
    for t in tallies {
        match t {
            Tally::Outcome(RunOutcome::Completed) => summary.completed += 1,
            Tally::Outcome(RunOutcome::Diverged { .. }) => summary.diverged += 1,
            Tally::Outcome(RunOutcome::Interrupted) => summary.interrupted += 1,
            Tally::Failed => summary.failed += 1,
            Tally::NotStarted => summary.not_started += 1,
            Tally::Locked => summary.skipped_locked += 1,
            Tally::AlreadyDone => summary.already_done += 1,
        }
    }
    summary.wall = start.elapsed();
    Ok(summary)
}

fn run_locked(
    sweep: &SweepDir,
    cfg: &RunConfig,
    opts: &ExecOptions,
    events: &EventSink,
    cancel: &AtomicBool,
) -> Tally {
    if cancel.load(Ordering::Relaxed) {
        return Tally::NotStarted;
    }
    let worker = rayon::current_thread_index().unwrap_or(0);
    let run_id = cfg.run_id();
    let dir = sweep.run(&run_id);
    let fail = |reason: String| {
        let _ = dir.write_failure(&run_id, &reason);
        events.send(Event::Failed {
            worker,
            run_id: run_id.clone(),
            reason,
        });
        Tally::Failed
    };
    let _lock = match dir.try_lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            events.send(Event::Warning(format!(
                "{run_id}: skipped, another resweep process is running it"
            )));
            return Tally::Locked;
        }
        Err(e) => return fail(format!("cannot lock the run directory: {e}")),
    };
    // Another process may have finished it between planning and locking.
    match dir.status() {
        RunStatus::Done { .. } => return Tally::AlreadyDone,
        RunStatus::Failed { .. } if !opts.retry_failed => return Tally::Failed,
        _ => {}
    }
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        job::run_one(&dir, cfg, opts.checkpoint_every, worker, events, cancel)
    }));
    match result {
        Ok(Ok(outcome)) => {
            events.send(Event::Finished {
                worker,
                run_id: run_id.clone(),
                outcome: outcome.clone(),
            });
            Tally::Outcome(outcome)
        }
        Ok(Err(e)) => fail(format!("{e:#}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            fail(format!("internal error (panic): {msg}"))
        }
    }
}
