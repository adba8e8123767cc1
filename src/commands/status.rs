//! `resweep status`: the progress of a sweep across every shard and process, from its
//! run directories (and, for a Slurm sweep, the split `resweep slurm` recorded).

use super::run::load_spec;
use super::slurm::{shard_sizes, SlurmPlan};
use super::{bad_diagnostic, Exit};
use crate::cli::StatusArgs;
use crate::runner::shard;
use crate::store::RunStatus;

/// Runs `resweep status`.
pub fn status(args: &StatusArgs) -> anyhow::Result<Exit> {
    let a = &args.dir;
    let dir = super::analysis::resolve(a.dir.as_deref(), &a.runs_dir)?;
    let spec = load_spec(Some(dir.root()))?;
    let runs = spec.expand().map_err(|e| bad_diagnostic(e.to_string()))?;
    let plan: Option<SlurmPlan> = std::fs::read_to_string(dir.slurm_plan())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let tasks = plan.as_ref().map_or(1, |p| p.tasks);
    let shard_of = shard::assign(&runs, tasks);
    // runs, done, diverged, partial, pending, failed, damaged
    let mut rows: Vec<[usize; 7]> = shard_sizes(&shard_of, tasks)
        .into_iter()
        .map(|runs| [runs, 0, 0, 0, 0, 0, 0])
        .collect();
    let (mut steps_done, mut steps_total) = (0usize, 0usize);
    let mut failures = Vec::new();
    for (cfg, &k) in runs.iter().zip(&shard_of) {
        let status = dir.run(&cfg.run_id()).status();
        let row = &mut rows[k];
        steps_total += cfg.steps;
        steps_done += status.steps_done(cfg.steps);
        match status {
            RunStatus::Done { diverged } => row[if diverged { 2 } else { 1 }] += 1,
            RunStatus::Partial { .. } => row[3] += 1,
            RunStatus::Pending => row[4] += 1,
            RunStatus::Failed { reason } => {
                row[5] += 1;
                failures.push(format!("failed: {}: {reason}", cfg.run_id()));
            }
            RunStatus::Damaged { damage } => {
                row[6] += 1;
                failures.push(format!("damaged: {}: {damage}", cfg.run_id()));
            }
        }
    }
    let complete: usize = rows.iter().map(|r| r[1] + r[2]).sum();
    if args.json {
        let shards: Vec<serde_json::Value> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                serde_json::json!({
                    "shard": plan.as_ref().map(|_| format!("{k}/{tasks}")),
                    "runs": r[0], "done": r[1], "diverged": r[2], "partial": r[3],
                    "pending": r[4], "failed": r[5], "damaged": r[6],
                })
            })
            .collect();
        let v = serde_json::json!({
            "sweep": spec.name,
            "dir": dir.root().display().to_string(),
            "runs": runs.len(),
            "complete": complete,
            "steps_done": steps_done,
            "steps_total": steps_total,
            "shards": shards,
            "problems": failures,
        });
        crate::dataln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Exit::Ok);
    }
    let header: Vec<String> = [
        "shard", "runs", "done", "diverged", "partial", "pending", "failed", "damaged",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut table: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut v = vec![if plan.is_some() {
                format!("{k}/{tasks}")
            } else {
                "all".into()
            }];
            v.extend(r.iter().map(|x| x.to_string()));
            v
        })
        .collect();
    if tasks > 1 {
        let mut total = vec!["total".to_string()];
        total.extend((0..7).map(|c| rows.iter().map(|r| r[c]).sum::<usize>().to_string()));
        table.push(total);
    }
    crate::out!("{}", crate::table::aligned(&header, &table));
    crate::outln!(
        "\nsweep `{}`: {complete} of {} runs complete, {:.1}% of training steps done",
        spec.name,
        runs.len(),
        100.0 * steps_done as f64 / steps_total.max(1) as f64
    );
    for f in failures.iter().take(10) {
        crate::outln!("{f}");
    }
    if failures.len() > 10 {
        crate::outln!("... and {} more", failures.len() - 10);
    }
    if let Some(logs) = plan.map(|_| dir.slurm_logs()) {
        crate::outln!("task logs: {}", logs.display());
    }
    Ok(Exit::Ok)
}
