//! Command-line definitions (clap derive) and nothing else.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exact, fair, resumable sweeps of the Distant Identity experiment (PlainMLP vs ResMLP).
///
/// With no command, runs the default sweep (`sweeps/distant_identity.toml`, built in).
#[derive(Parser, Debug)]
#[command(name = "resweep", version, about, long_about)]
pub struct Cli {
    /// The command; `run` with the default sweep when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a sweep: plan it, train pending runs in parallel, resume interrupted ones.
    Run(RunArgs),
    /// Show a sweep's expanded runs and their status without training anything.
    Plan(PlanArgs),
    /// Train one configuration from flags and print a summary.
    Train(TrainArgs),
    /// Measure microseconds per training step on one thread.
    Bench(BenchArgs),
    /// Collect every complete run into parquet tables and print the summary over seeds.
    Aggregate(DirArgs),
    /// Run SQL over a sweep's tables (runs, steps, layers, summary).
    Query(QueryArgs),
    /// Audit the fairness of a comparison and give paired statistics across seeds.
    Compare(CompareArgs),
    /// Draw the figures and write report.md from the stored runs.
    Report(DirArgs),
    /// Write (and optionally submit) a Slurm job array that runs the sweep in shards.
    Slurm(SlurmArgs),
    /// Progress of a sweep across all its shards and processes.
    Status(DirArgs),
    /// Check a sweep directory like fsck: every run's seal, every checkpoint, and the
    /// tables against the run directories; exit 0 only when everything verifies.
    Verify(DirArgs),
}

/// `resweep slurm`.
#[derive(Args, Debug, Clone)]
pub struct SlurmArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Array tasks (shards).
    #[arg(long)]
    pub tasks: usize,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each task (Slurm syntax, e.g. 01:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per task; each task runs that many runs at once.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// Memory per task (Slurm syntax, e.g. 4G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Submit the array and the dependent aggregation job with sbatch.
    #[arg(long)]
    pub submit: bool,
    /// The resweep binary the jobs call (default: this executable).
    #[arg(long)]
    pub resweep: Option<PathBuf>,
    /// Accept a sweep file whose fixed settings changed since the sweep was first run.
    #[arg(long)]
    pub force: bool,
}

/// Which sweep directory a command reads.
#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// A sweep directory (`runs/<name>`), or a sweep file (its directory under
    /// --runs-dir); the default sweep's directory when omitted.
    pub dir: Option<PathBuf>,
    /// Directory holding one directory per sweep (used with a sweep file or no argument).
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

/// `resweep query`.
#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// `[SWEEP_DIR] SQL`: the sweep directory (optional) and the query, e.g.
    /// "SELECT depth, residual, avg(final_eval_loss) FROM runs GROUP BY depth, residual".
    #[arg(num_args = 1..=2, required = true, value_names = ["SWEEP_DIR", "SQL"])]
    pub args: Vec<String>,
    /// Directory holding one directory per sweep.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// table, csv, json or parquet (default: from --out's extension, else table).
    #[arg(long)]
    pub format: Option<String>,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `resweep compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// The setting whose values are the arms.
    #[arg(long, default_value = "residual")]
    pub axis: String,
    /// A numeric column of runs.parquet.
    #[arg(long, default_value = "final_eval_loss")]
    pub metric: String,
    /// The arm the others are compared with (default: the smallest value).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Higher metric values are better (default: lower is better, as for losses).
    #[arg(long)]
    pub higher_is_better: bool,
    /// Exit with code 1 when the audit finds anything unfair.
    #[arg(long)]
    pub strict: bool,
}

/// Where a sweep comes from and where its outputs go.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// A sweep file (TOML), or a sweep directory under the runs directory; the built-in
    /// default sweep when omitted.
    pub sweep: Option<PathBuf>,
    /// Directory holding one directory per sweep.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

/// `resweep run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Runs trained at once (default: every core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Run again the runs whose last attempt failed.
    #[arg(long)]
    pub retry_failed: bool,
    /// Accept a sweep file whose fixed settings changed since the sweep was first run.
    #[arg(long)]
    pub force: bool,
    /// No progress output (failures and warnings still print).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run only shard K of N (0-based, e.g. 0/4): a deterministic, work-balanced part of
    /// the grid. Shards may run at once into one runs directory.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::runner::shard::Shard>,
    /// Train up to N runs that share a network shape together in one batched graph
    /// (overrides `[execution] vectorize`; 1 = every run alone). Batches stay within a
    /// cache budget (at most 4 runs at depth 20, width 64, batch 64); results are the same
    /// bits either way.
    #[arg(long, value_name = "N")]
    pub vectorize: Option<usize>,
}

/// `resweep plan`.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
}

/// `resweep train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Number of layers.
    #[arg(long, default_value_t = 20)]
    pub depth: usize,
    /// Width of every layer.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// ResMLP (`x = x + relu(Wx+b)`) instead of PlainMLP.
    #[arg(long)]
    pub residual: bool,
    /// Init scale: a number or an expression of depth (`1/sqrt(depth)`, `1/depth`).
    #[arg(long, default_value = "1/sqrt(depth)")]
    pub init_scale: String,
    /// Seed of the init and data streams.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `adam` or `sgd` (with momentum).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9, allow_hyphen_values = true)]
    pub momentum: f64,
    /// Training batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Optimizer steps.
    #[arg(long, default_value_t = 500)]
    pub steps: usize,
    /// Held-out eval batch size.
    #[arg(long, default_value_t = 4096)]
    pub eval_size: usize,
    /// Eval loss every this many steps.
    #[arg(long, default_value_t = 50)]
    pub eval_every: usize,
    /// Per-layer probes every this many steps.
    #[arg(long, default_value_t = 50)]
    pub probe_every: usize,
    /// Print the full record (config, metrics, steps, layers) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the run directory (config.json, metrics, result.json) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `resweep bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Batch sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    pub batch: Vec<usize>,
    /// Network depth.
    #[arg(long, default_value_t = 20)]
    pub depth: usize,
    /// Network width.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Timed steps per repetition.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Also time a straightforward candle-nn autograd + AdamW loop.
    #[arg(long)]
    pub autograd: bool,
    /// Also time the vectorized step of this many runs in one batched graph (per
    /// run-step, next to the floors set by its batched matrix products).
    #[arg(long, default_value_t = 1)]
    pub vectorize: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
