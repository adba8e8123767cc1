//! `resweep slurm` (a sweep as a Slurm job array plus a dependent aggregation job) and
//! `resweep status` (progress across every shard and process).
//!
//! resweep does not distribute work itself: each array task runs `resweep run --shard
//! i/N` into the shared runs directory. Shards are disjoint, each run is locked by the
//! process training it and complete runs are skipped, so resubmitting the same scripts
//! after a failure or a preemption resumes the sweep and never redoes finished runs.

use super::run::{load, load_spec};
use super::{bad_diagnostic, bad_input, Exit};
use crate::cli::{DirArgs, SlurmArgs};
use crate::runner::shard;
use crate::store::{write_atomic, RunStatus, SweepDir};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// `slurm/slurm.json`: how the sweep was split, for `resweep status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlurmPlan {
    /// Number of array tasks (shards).
    pub tasks: usize,
    /// Runs in the sweep when the scripts were written.
    pub runs: usize,
}

/// Runs per shard, given every run's shard (as [`shard::assign`] gives them).
fn shard_sizes(shard_of: &[usize], tasks: usize) -> Vec<usize> {
    let mut sizes = vec![0; tasks];
    for &k in shard_of {
        sizes[k] += 1;
    }
    sizes
}

/// Quotes a string for a POSIX shell.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The two sbatch scripts (array, aggregation) for a sweep directory.
pub fn scripts(
    a: &SlurmArgs,
    sweep_name: &str,
    runs: usize,
    resweep: &Path,
    runs_dir: &Path,
    sweep_dir: &SweepDir,
) -> (String, String) {
    let logs = sweep_dir.slurm_logs();
    let q = |p: &Path| sh_quote(&p.display().to_string());
    let mut head = String::new();
    for (flag, value) in [
        ("partition", &a.partition),
        ("time", &a.time),
        ("mem", &a.mem),
    ] {
        if let Some(v) = value {
            head.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    }
    let array = format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=resweep-{sweep_name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --output={logs}/%A_%a.out\n\
         {head}\
         # Written by resweep {version} for sweep `{sweep_name}`: {runs} runs in {tasks} shards.\n\
         # Task i trains shard i/{tasks}. Resubmitting this script resumes: complete runs are\n\
         # skipped and partial ones continue from their checkpoints.\n\
         set -euo pipefail\n\
         exec {bin} run {frozen} --runs-dir {runs_dir} --shard \"${{SLURM_ARRAY_TASK_ID}}/{tasks}\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
        last = a.tasks - 1,
        cpus = a.cpus_per_task,
        logs = logs.display(),
        version = env!("CARGO_PKG_VERSION"),
        tasks = a.tasks,
        bin = q(resweep),
        frozen = q(&sweep_dir.frozen_sweep()),
        runs_dir = q(runs_dir),
    );
    let aggregate = format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=resweep-{sweep_name}-aggregate\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --output={logs}/aggregate_%j.out\n\
         {head}\
         # Runs after every task of the array has ended (afterany): tables, summary and report\n\
         # from whatever is complete.\n\
         set -euo pipefail\n\
         exec {bin} aggregate {dir}\n",
        logs = logs.display(),
        bin = q(resweep),
        dir = q(sweep_dir.root()),
    );
    (array, aggregate)
}

fn sbatch(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("sbatch").args(args).output().map_err(|e| {
        anyhow::anyhow!("cannot run sbatch ({e}): is Slurm installed on this machine?")
    })?;
    anyhow::ensure!(
        out.status.success(),
        "sbatch {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // --parsable prints "jobid" or "jobid;cluster".
    Ok(text.trim().split(';').next().unwrap_or("").to_string())
}

/// Runs `resweep slurm`.
pub fn slurm(a: &SlurmArgs) -> anyhow::Result<Exit> {
    if a.tasks == 0 || a.cpus_per_task == 0 {
        return Err(bad_input("--tasks and --cpus-per-task must be at least 1"));
    }
    let l = load(&a.sweep, a.force)?;
    // `l.dir` as an absolute path: the scripts run from wherever Slurm starts them.
    let runs_dir = std::path::absolute(&a.sweep.runs_dir)?;
    let sweep_dir = SweepDir::new(&runs_dir, &l.spec.name);
    let resweep = match &a.resweep {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let (array, aggregate) = scripts(
        a,
        &l.spec.name,
        l.runs.len(),
        &resweep,
        &runs_dir,
        &sweep_dir,
    );

    let slurm_dir = sweep_dir.slurm();
    std::fs::create_dir_all(sweep_dir.slurm_logs())?;
    l.prepare_dir()?;
    let (array_path, aggregate_path) = (
        slurm_dir.join("array.sbatch"),
        slurm_dir.join("aggregate.sbatch"),
    );
    write_atomic(&array_path, array.as_bytes())?;
    write_atomic(&aggregate_path, aggregate.as_bytes())?;
    crate::store::write_json_atomic(
        &sweep_dir.slurm_plan(),
        &SlurmPlan {
            tasks: a.tasks,
            runs: l.runs.len(),
        },
    )?;
    let shards = shard::assign(&l.runs, a.tasks);
    let biggest = shard_sizes(&shards, a.tasks).into_iter().max().unwrap_or(0);
    println!(
        "sweep `{}`: {} runs in {} shards (at most {biggest} runs per task)",
        l.spec.name,
        l.runs.len(),
        a.tasks
    );
    println!(
        "wrote {}\n      {}",
        array_path.display(),
        aggregate_path.display()
    );
    if a.submit {
        let array_id = sbatch(&["--parsable", &array_path.display().to_string()])?;
        let dep = format!("--dependency=afterany:{array_id}");
        let agg_id = sbatch(&["--parsable", &dep, &aggregate_path.display().to_string()])?;
        println!("submitted: array job {array_id}, aggregation job {agg_id} (after the array)");
        println!("progress: resweep status {}", sweep_dir.root().display());
    } else {
        println!("submit with:");
        println!(
            "  array=$(sbatch --parsable {})",
            sh_quote(&array_path.display().to_string())
        );
        println!(
            "  sbatch --dependency=afterany:$array {}",
            sh_quote(&aggregate_path.display().to_string())
        );
    }
    Ok(Exit::Ok)
}

/// Runs `resweep status`.
pub fn status(a: &DirArgs) -> anyhow::Result<Exit> {
    let dir = super::analysis::resolve(a.dir.as_deref(), &a.runs_dir)?;
    let spec = load_spec(Some(dir.root()))?;
    let runs = spec.expand().map_err(|e| bad_diagnostic(e.to_string()))?;
    let plan: Option<SlurmPlan> = std::fs::read_to_string(dir.slurm_plan())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let tasks = plan.as_ref().map_or(1, |p| p.tasks);
    let shard_of = shard::assign(&runs, tasks);
    // runs, done, diverged, partial, pending, failed
    let mut rows: Vec<[usize; 6]> = shard_sizes(&shard_of, tasks)
        .into_iter()
        .map(|runs| [runs, 0, 0, 0, 0, 0])
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
                failures.push(format!("{}: {reason}", cfg.run_id()));
            }
        }
    }
    let header: Vec<String> = [
        "shard", "runs", "done", "diverged", "partial", "pending", "failed",
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
        total.extend((0..6).map(|c| rows.iter().map(|r| r[c]).sum::<usize>().to_string()));
        table.push(total);
    }
    print!("{}", crate::table::aligned(&header, &table));
    let complete: usize = rows.iter().map(|r| r[1] + r[2]).sum();
    println!(
        "\nsweep `{}`: {complete} of {} runs complete, {:.1}% of training steps done",
        spec.name,
        runs.len(),
        100.0 * steps_done as f64 / steps_total.max(1) as f64
    );
    for f in failures.iter().take(10) {
        println!("failed: {f}");
    }
    if let Some(logs) = plan.map(|_| dir.slurm_logs()) {
        println!("task logs: {}", logs.display());
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::SweepArgs;

    #[test]
    fn sbatch_scripts_snapshot() {
        let a = SlurmArgs {
            sweep: SweepArgs {
                sweep: None,
                runs_dir: "runs".into(),
            },
            tasks: 4,
            partition: Some("debug".into()),
            time: Some("01:00:00".into()),
            cpus_per_task: 2,
            mem: None,
            submit: false,
            resweep: Some("/opt/resweep/bin/resweep".into()),
            force: false,
        };
        let (array, aggregate) = scripts(
            &a,
            "distant_identity",
            40,
            Path::new("/opt/resweep/bin/resweep"),
            Path::new("/data/runs"),
            &SweepDir::new(Path::new("/data/runs"), "distant_identity"),
        );
        assert_eq!(
            array,
            "#!/bin/bash
#SBATCH --job-name=resweep-distant_identity
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --output=/data/runs/distant_identity/slurm/logs/%A_%a.out
#SBATCH --partition=debug
#SBATCH --time=01:00:00
# Written by resweep {VERSION} for sweep `distant_identity`: 40 runs in 4 shards.
# Task i trains shard i/4. Resubmitting this script resumes: complete runs are
# skipped and partial ones continue from their checkpoints.
set -euo pipefail
exec /opt/resweep/bin/resweep run /data/runs/distant_identity/sweep.toml --runs-dir /data/runs --shard \"${SLURM_ARRAY_TASK_ID}/4\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\"
"
            .replace("{VERSION}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            aggregate,
            "#!/bin/bash
#SBATCH --job-name=resweep-distant_identity-aggregate
#SBATCH --cpus-per-task=1
#SBATCH --output=/data/runs/distant_identity/slurm/logs/aggregate_%j.out
#SBATCH --partition=debug
#SBATCH --time=01:00:00
# Runs after every task of the array has ended (afterany): tables, summary and report
# from whatever is complete.
set -euo pipefail
exec /opt/resweep/bin/resweep aggregate /data/runs/distant_identity
"
        );
        assert_eq!(sh_quote("a b'c"), "'a b'\\''c'");
    }
}
