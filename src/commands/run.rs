//! `resweep run` and `resweep plan`: load a sweep, reconcile it with what is on disk, and
//! execute (or show) its runs.

use super::{bad_diagnostic, bad_input, Exit};
use crate::cli::{PlanArgs, RunArgs, SweepArgs};
use crate::config::RunConfig;
use crate::runner::{self, reporter, EventSink, ExecOptions};
use crate::store::{write_atomic, RunStatus, SweepDir};
use crate::sweep::{AxisValue, SweepSpec};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A sweep loaded and checked against its directory, ready to run or show.
pub struct Loaded {
    /// The sweep as given.
    pub spec: SweepSpec,
    /// Its expanded runs.
    pub runs: Vec<RunConfig>,
    /// Its output directory.
    pub dir: SweepDir,
    /// Run directories on disk that the sweep no longer contains.
    pub dropped: Vec<String>,
}

impl Loaded {
    /// Creates the sweep's directory (with its `runs/`) and writes the frozen `sweep.toml`,
    /// unless it already holds this sweep's text.
    pub fn prepare_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.dir.runs())?;
        let frozen = self.dir.frozen_sweep();
        if std::fs::read_to_string(&frozen).ok().as_deref() != Some(self.spec.source.as_str()) {
            write_atomic(&frozen, self.spec.source.as_bytes())?;
        }
        Ok(())
    }
}

/// Reads the sweep named on the command line: a file, a sweep directory (its frozen
/// `sweep.toml`), or the built-in default.
pub fn load_spec(arg: Option<&Path>) -> anyhow::Result<SweepSpec> {
    let Some(path) = arg else {
        return Ok(SweepSpec::default_sweep());
    };
    let file = if path.is_dir() {
        let frozen = path.join("sweep.toml");
        if !frozen.is_file() {
            return Err(bad_diagnostic(format!(
                "error: {} is a directory without sweep.toml\n  help: pass a sweep file (e.g. sweeps/depth.toml) or a sweep directory under runs/",
                path.display()
            )));
        }
        frozen
    } else {
        path.to_path_buf()
    };
    SweepSpec::from_file(&file).map_err(|e| bad_diagnostic(e.to_string()))
}

/// Loads, expands and reconciles a sweep with its directory. Writes nothing.
pub fn load(args: &SweepArgs, force: bool) -> anyhow::Result<Loaded> {
    let (sweep, overrides) = args.sweep_and_overrides();
    let spec = load_spec(sweep)?
        .with_overrides(&overrides)
        .map_err(|e| bad_diagnostic(e.to_string()))?;
    let runs = spec.expand().map_err(|e| bad_diagnostic(e.to_string()))?;
    let dir = SweepDir::new(&args.runs_dir, &spec.name);
    let frozen = dir.frozen_sweep();
    if frozen.is_file() {
        let old = SweepSpec::from_file(&frozen).map_err(|e| {
            bad_input(format!(
                "the frozen copy of sweep `{}` is unreadable:\n{e}\n  help: restore it, or move {} away to start the sweep afresh",
                spec.name,
                dir.root().display()
            ))
        })?;
        let changed = old.changed_fixed_settings(&spec);
        if !changed.is_empty() && !force {
            let details: Vec<String> = changed
                .iter()
                .map(|name| {
                    let show = |s: &SweepSpec| match s.axes.iter().find(|a| &a.name == name) {
                        Some(a) => format!(
                            "axis {:?}",
                            a.values.iter().map(|v| v.to_string()).collect::<Vec<_>>()
                        ),
                        None => AxisValue::of(&s.base, name).map_or("?".into(), |v| v.to_string()),
                    };
                    format!(
                        "  {name}: {} (on disk) -> {} (now)",
                        show(&old),
                        show(&spec)
                    )
                })
                .collect();
            return Err(bad_diagnostic(format!(
                "error: sweep `{}` was first run with other fixed settings, so its old runs would not be comparable with new ones:\n{}\n  help: give the sweep a new `name`, or pass --force to run it into the same directory anyway",
                spec.name,
                details.join("\n")
            )));
        }
    }
    let wanted: BTreeSet<String> = runs.iter().map(RunConfig::run_id).collect();
    let dropped = dir
        .run_ids_on_disk()?
        .into_iter()
        .filter(|id| !wanted.contains(id))
        .collect();
    Ok(Loaded {
        spec,
        runs,
        dir,
        dropped,
    })
}

fn describe_point(spec: &SweepSpec, cfg: &RunConfig) -> Vec<String> {
    spec.axis_names()
        .iter()
        .map(|name| AxisValue::of(cfg, name).map_or("?".into(), |v| v.to_string()))
        .collect()
}

/// Runs `resweep plan`.
pub fn plan(args: &PlanArgs) -> anyhow::Result<Exit> {
    let l = load(&args.sweep, true)?;
    let axes = l.spec.axis_names();
    let mut header = vec!["run_id".to_string()];
    header.extend(axes.iter().cloned());
    header.push("status".into());
    let mut rows = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut steps_left = 0usize;
    let mut work_flops = 0f64;
    for cfg in &l.runs {
        let status = l.dir.run(&cfg.run_id()).status();
        *counts.entry(status.word()).or_default() += 1;
        let left = cfg.steps - status.steps_done(cfg.steps).min(cfg.steps);
        steps_left += left;
        work_flops += cfg.estimated_flops() * left as f64 / cfg.steps as f64;
        let mut row = vec![cfg.run_id()];
        row.extend(describe_point(&l.spec, cfg));
        row.push(match &status {
            RunStatus::Partial { step } => format!("partial ({step}/{})", cfg.steps),
            RunStatus::Failed { reason } => format!("failed: {reason}"),
            RunStatus::Damaged { damage } => format!("damaged: {damage}"),
            s => s.word().to_string(),
        });
        rows.push(row);
    }
    if args.json {
        let runs: Vec<serde_json::Value> = l
            .runs
            .iter()
            .zip(&rows)
            .map(|(cfg, row)| {
                let settings: serde_json::Map<String, serde_json::Value> = axes
                    .iter()
                    .map(|a| {
                        let v = AxisValue::of(cfg, a).map_or(serde_json::Value::Null, |v| {
                            serde_json::to_value(v.to_toml()).unwrap_or_default()
                        });
                        (a.clone(), v)
                    })
                    .collect();
                serde_json::json!({
                    "run_id": row[0],
                    "settings": settings,
                    "status": row[row.len() - 1],
                })
            })
            .collect();
        let v = serde_json::json!({
            "sweep": l.spec.name,
            "origin": l.spec.origin,
            "dir": l.dir.root().display().to_string(),
            "axes": axes,
            "runs": runs,
            "counts": counts,
            "steps_left": steps_left,
            "gflop_left": work_flops / 1e9,
            "dropped": l.dropped,
        });
        crate::dataln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Exit::Ok);
    }
    crate::out!("{}", crate::table::aligned(&header, &rows));
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    crate::outln!(
        "\nsweep `{}` ({}): {} runs: {}",
        l.spec.name,
        l.spec.origin,
        l.runs.len(),
        summary.join(", ")
    );
    crate::outln!(
        "work left: {steps_left} training steps, about {:.1} GFLOP of matrix products (roughly {:.0} s on one core)",
        work_flops / 1e9,
        work_flops / ASSUMED_FLOPS_PER_S
    );
    if let Some(note) = collapse_note(&l.spec, &l.runs) {
        crate::outln!("{note}");
    }
    if !l.dropped.is_empty() {
        crate::outln!(
            "{} run directories on disk are not in this sweep any more (left untouched): {}",
            l.dropped.len(),
            l.dropped.join(", ")
        );
    }
    crate::outln!("outputs: {}", l.dir.root().display());
    Ok(Exit::Ok)
}

/// The plan's note when an axis varies a setting that means nothing for some runs
/// (`branch_scale` for a PlainMLP): those points are one run, listed once.
fn collapse_note(spec: &SweepSpec, runs: &[RunConfig]) -> Option<String> {
    let axes = spec.axis_names();
    let named: Vec<&str> = RunConfig::BRANCH_SETTINGS
        .iter()
        .copied()
        .filter(|n| axes.iter().any(|a| a == n))
        .collect();
    let plain = runs.iter().filter(|c| !c.residual).count();
    (!named.is_empty() && plain > 0).then(|| {
        format!(
            "note: {} {} no meaning for a PlainMLP (no residual branch): its points of {} are one run at the default, listed once ({plain} PlainMLP runs)",
            named.join(", "),
            if named.len() == 1 { "has" } else { "have" },
            if named.len() == 1 { "that axis" } else { "those axes" },
        )
    })
}

/// Effective single-core throughput assumed by the plan's time estimate (measured by
/// `resweep bench` at batch 64, including per-op overhead).
const ASSUMED_FLOPS_PER_S: f64 = 30e9;

/// Runs `resweep run`.
pub fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let l = load(&args.sweep, args.force)?;
    let shard_runs;
    let runs: &[RunConfig] = match args.shard {
        Some(shard) => {
            shard_runs = crate::runner::shard::select(&l.runs, shard);
            &shard_runs
        }
        None => &l.runs,
    };
    if let Some(0) = args.jobs {
        return Err(bad_input("--jobs must be at least 1"));
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if let Some(0) = args.vectorize {
        return Err(bad_input("--vectorize must be at least 1"));
    }
    let vectorize = args.vectorize.unwrap_or(l.spec.execution.vectorize);

    // Everything checked: from here on the sweep directory is written.
    l.prepare_dir()?;
    if !l.dropped.is_empty() {
        crate::errln!(
            "note: {} run directories on disk are no longer in the sweep; they are left untouched",
            l.dropped.len()
        );
    }

    let cancel = Arc::new(AtomicBool::new(false));
    install_interrupt_handler(cancel.clone())?;
    let (sink, rx) = EventSink::channel();
    let mode = if crate::output::quiet() {
        reporter::Mode::Quiet
    } else {
        reporter::Mode::detect()
    };
    // The report is rewritten as runs finish (not by a shard: the job after all shards
    // writes it); the events pass through on their way to the reporter.
    let live = args.shard.is_none().then(|| {
        let command: Vec<String> = std::env::args().skip(1).collect();
        super::live::LiveReport::start(
            l.dir.clone(),
            l.runs.len(),
            format!("resweep {}", command.join(" ")).trim().to_string(),
        )
    });
    let (tee_tx, tee_rx) = std::sync::mpsc::channel();
    let reporter = reporter::spawn(tee_rx, mode, jobs);
    let tee = {
        let live_tx = live.as_ref().map(super::live::LiveReport::notifier);
        std::thread::spawn(move || {
            for e in rx {
                if let (Some(n), runner::Event::Finished { outcome, .. }) = (&live_tx, &e) {
                    if *outcome != runner::RunOutcome::Interrupted {
                        n.finished_run();
                    }
                }
                if tee_tx.send(e).is_err() {
                    break;
                }
            }
        })
    };
    let opts = ExecOptions {
        jobs,
        checkpoint_every: l.spec.execution.checkpoint_every,
        retry_failed: args.retry_failed,
        vectorize,
    };
    let result = runner::execute(&l.dir, runs, &opts, &sink, &cancel);
    drop(sink);
    let _ = tee.join();
    let _ = reporter.join();
    if let Some(live) = live {
        live.stop();
    }
    let s = result?;

    let done_now = s.completed + s.diverged;
    let shard_text = args
        .shard
        .map_or(String::new(), |s| format!(" (shard {s})"));
    crate::outln!(
        "sweep `{}`{shard_text}: {} runs: {} completed, {} diverged, {} failed, {} already done{}{}{} in {:.1} s with {} jobs{}",
        l.spec.name,
        s.total,
        s.completed,
        s.diverged,
        s.failed,
        s.already_done,
        if s.repaired > 0 { format!(", {} repaired (damaged, trained again)", s.repaired) } else { String::new() },
        if s.skipped_failed > 0 { format!(", {} failed before (skipped; --retry-failed reruns them)", s.skipped_failed) } else { String::new() },
        if s.skipped_locked > 0 { format!(", {} busy in another process", s.skipped_locked) } else { String::new() },
        s.wall.as_secs_f64(),
        jobs,
        if vectorize > 1 {
            format!(
                ", vectorize {vectorize}: batches of up to {} runs",
                s.largest_batch
            )
        } else {
            String::new()
        }
    );
    // Tables are rebuilt from disk after every run, finished or not; a shard leaves that
    // to the job that runs after all shards.
    let mut damaged_left = false;
    if args.shard.is_none() {
        damaged_left = !super::analysis::aggregate_and_show(&l.dir, args.summary)?
            .damaged
            .is_empty();
    } else {
        crate::outln!(
            "tables: run `resweep aggregate {}` once every shard is done",
            l.dir.root().display()
        );
    }
    crate::outln!("outputs: {}", l.dir.root().display());
    if args.shard.is_none() {
        if let Some(warning) = super::analysis::unfair_warning(&l.dir)? {
            crate::errln!("{warning}");
        }
    }
    if cancel.load(Ordering::Relaxed) {
        let done = s.already_done + done_now;
        crate::errln!(
            "interrupted: {done} done, {} pending — rerun the same command to resume",
            s.total - done
        );
        return Ok(Exit::Interrupted);
    }
    if s.failed > 0 || s.skipped_failed > 0 || damaged_left {
        return Ok(Exit::SomeFailed);
    }
    Ok(Exit::Ok)
}

/// First Ctrl-C (or SIGTERM): stop launching runs, checkpoint running ones, exit 130.
/// Second: exit at once.
fn install_interrupt_handler(cancel: Arc<AtomicBool>) -> anyhow::Result<()> {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
            cancel.store(true, Ordering::SeqCst);
            crate::runner::reporter::request_interrupt_notice();
        } else {
            std::process::exit(130);
        }
    })
    .or_else(|e| match e {
        // A second `run` in the same process (tests) keeps the first handler.
        ctrlc::Error::MultipleHandlers => Ok(()),
        e => Err(e),
    })?;
    Ok(())
}
