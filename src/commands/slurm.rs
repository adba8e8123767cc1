//! `resweep slurm`: a sweep as a Slurm job array plus a dependent aggregation job
//! (`resweep status` shows its progress).
//!
//! resweep does not distribute work itself: each array task runs `resweep run --shard
//! i/N` into the shared runs directory. Shards are disjoint, each run is locked by the
//! process training it and complete runs are skipped, so resubmitting the same scripts
//! after a failure or a preemption resumes the sweep and never redoes finished runs.

use super::run::load;
use super::{bad_input, Exit};
use crate::cli::SlurmArgs;
use crate::runner::shard;
use crate::store::{write_atomic, SweepDir};
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
pub(super) fn shard_sizes(shard_of: &[usize], tasks: usize) -> Vec<usize> {
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
    crate::outln!(
        "sweep `{}`: {} runs in {} shards (at most {biggest} runs per task)",
        l.spec.name,
        l.runs.len(),
        a.tasks
    );
    crate::outln!(
        "wrote {}\n      {}",
        array_path.display(),
        aggregate_path.display()
    );
    if a.submit {
        let array_id = sbatch(&["--parsable", &array_path.display().to_string()])?;
        let dep = format!("--dependency=afterany:{array_id}");
        let agg_id = sbatch(&["--parsable", &dep, &aggregate_path.display().to_string()])?;
        crate::outln!(
            "submitted: array job {array_id}, aggregation job {agg_id} (after the array)"
        );
        crate::outln!("progress: resweep status {}", sweep_dir.root().display());
    } else {
        crate::outln!("submit with:");
        crate::outln!(
            "  array=$(sbatch --parsable {})",
            sh_quote(&array_path.display().to_string())
        );
        crate::outln!(
            "  sbatch --dependency=afterany:$array {}",
            sh_quote(&aggregate_path.display().to_string())
        );
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
                overrides: Vec::new(),
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
