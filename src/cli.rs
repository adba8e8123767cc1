//! Command-line definitions (clap derive) and nothing else. The `resweep train` flags
//! are built from the run settings' declarations ([`SETTINGS`]), so a new setting gets
//! its flag without an edit here.

use crate::config::{AxisValue, Kind, Setting, SETTINGS};
use clap::{value_parser, Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
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
    /// No output but errors, warnings and what was asked for (`--json`, query results);
    /// no progress display.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl Cli {
    /// The command to run: the one given, else `run` with its defaults (the default
    /// sweep), as `resweep run` would parse them.
    pub fn command_or_default(self) -> Command {
        match self.command {
            Some(command) => command,
            None => match Cli::parse_from(["resweep", "run"]).command {
                Some(command) => command,
                None => unreachable!("`resweep run` parses as the run command"),
            },
        }
    }
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
    Status(StatusArgs),
    /// The sweeps under the runs directory: run counts, status, size, last change.
    List(ListArgs),
    /// Check a sweep directory like fsck: every run's seal, every checkpoint, and the
    /// tables against the run directories; exit 0 only when everything verifies.
    Verify(DirArgs),
    /// Loss landscapes: 2-D slices of the eval loss around the initial and the final
    /// weights of runs (filter-normalised random directions, Li et al. 2018), a table and
    /// a figure.
    Landscape(LandscapeArgs),
}

/// `resweep landscape`.
#[derive(Args, Debug, Clone)]
pub struct LandscapeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Runs to slice, by id (default: the lowest finished seed of each group, a group
    /// being each combination of the sweep's axes other than seed).
    #[arg(long, num_args = 1.., value_name = "ID")]
    pub runs: Vec<String>,
    /// Points per axis of each slice (3 to 201).
    #[arg(long, default_value_t = 31)]
    pub grid: usize,
    /// Each slice covers [-span, span]² in units of the filter-normalised directions.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub span: f64,
    /// Slices computed at once (default: every core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
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
    #[arg(num_args = 0..=2, value_names = ["SWEEP_DIR", "SQL"])]
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
    /// Print the audit and the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where a sweep comes from and where its outputs go.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// A sweep file (TOML), or a sweep directory under the runs directory; the built-in
    /// default sweep when omitted.
    pub sweep: Option<PathBuf>,
    /// Overrides of the sweep, checked like the file: `train.steps=2000`,
    /// `grid.seed=0..9`, `model.width=128`, `grid.residual=false,true`, `name=short`. The
    /// sweep with them is what is frozen into `runs/<name>/sweep.toml`.
    #[arg(value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Directory holding one directory per sweep.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

impl SweepArgs {
    /// The sweep file or directory, and the overrides: a first word that reads as
    /// `key=value` and names no file is an override of the default sweep.
    pub fn sweep_and_overrides(&self) -> (Option<&std::path::Path>, Vec<String>) {
        match &self.sweep {
            Some(p) if !p.exists() && crate::sweep::is_override(&p.to_string_lossy()) => {
                let mut all = vec![p.to_string_lossy().into_owned()];
                all.extend(self.overrides.iter().cloned());
                (None, all)
            }
            p => (p.as_deref(), self.overrides.clone()),
        }
    }
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
    /// Also print the summary over seeds (every group, every metric) at the end.
    #[arg(long)]
    pub summary: bool,
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
    /// Print the plan as JSON (every run with its settings and status, the counts).
    #[arg(long)]
    pub json: bool,
}

/// `resweep list`.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Directory holding one directory per sweep.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `resweep status`.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print the progress as JSON (per shard, the totals, failed and damaged runs).
    #[arg(long)]
    pub json: bool,
}

/// `resweep train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// One flag per run setting (`--depth`, `--init-scale`, ...), with its default.
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Settings as in a sweep file, beside the flags: `model.depth=30`, `steps=200`,
    /// `train.optimizer=sgd`; they win over the flags.
    #[arg(value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print the full record (config, metrics, steps, layers) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the run directory (config.json, metrics, result.json) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The value of one setting's `resweep train` flag.
#[derive(Clone, Debug, PartialEq)]
pub enum FlagValue {
    /// Read and typed by clap (counts, seeds, numbers, bools).
    Typed(AxisValue),
    /// Text that the setting's kind reads ([`Kind::parse_text`]): an init scale or an
    /// optimizer, whose errors name the flag.
    Text(String),
}

/// One `resweep train` flag per run setting, built from [`SETTINGS`]: `--<name in kebab
/// case>`, the setting's default, a value parser by its [`Kind`] (a bool setting with
/// default `false` is a switch).
#[derive(Clone, Debug, Default)]
pub struct SettingFlags {
    /// Every setting's value (its default when the flag is absent), in [`SETTINGS`] order.
    pub values: Vec<(&'static Setting, FlagValue)>,
}

/// Whether a bool setting is a switch (`--residual`) rather than `--name <true|false>`.
fn is_switch(s: &Setting) -> bool {
    s.kind == Kind::Bool && (s.default_flag)() == "false"
}

impl Args for SettingFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for s in SETTINGS {
            let mut arg = Arg::new(s.name).long(s.flag()).help(s.flag_help);
            arg = if is_switch(s) {
                arg.action(ArgAction::SetTrue)
            } else {
                let arg = arg
                    .action(ArgAction::Set)
                    .value_name(s.name.to_uppercase())
                    .default_value((s.default_flag)());
                match s.kind {
                    Kind::Count => arg.value_parser(value_parser!(usize)),
                    Kind::Seed => arg.value_parser(value_parser!(u64)),
                    Kind::Float => arg
                        .value_parser(value_parser!(f64))
                        .allow_hyphen_values(true),
                    Kind::Bool => arg.value_parser(value_parser!(bool)),
                    Kind::InitScale | Kind::Choice(_) => arg.value_parser(value_parser!(String)),
                }
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = SettingFlags::default();
        flags.update_from_arg_matches(m)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        let missing = |s: &Setting| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("--{} has no value", s.flag()),
            )
        };
        self.values = SETTINGS
            .iter()
            .map(|s| {
                let value = match s.kind {
                    Kind::Count => m
                        .get_one::<usize>(s.name)
                        .map(|v| FlagValue::Typed(AxisValue::Int(*v as u64))),
                    Kind::Seed => m
                        .get_one::<u64>(s.name)
                        .map(|v| FlagValue::Typed(AxisValue::Int(*v))),
                    Kind::Float => m
                        .get_one::<f64>(s.name)
                        .map(|v| FlagValue::Typed(AxisValue::Float(*v))),
                    Kind::Bool if is_switch(s) => {
                        Some(FlagValue::Typed(AxisValue::Bool(m.get_flag(s.name))))
                    }
                    Kind::Bool => m
                        .get_one::<bool>(s.name)
                        .map(|v| FlagValue::Typed(AxisValue::Bool(*v))),
                    Kind::InitScale | Kind::Choice(_) => m
                        .get_one::<String>(s.name)
                        .map(|v| FlagValue::Text(v.clone())),
                };
                value.map(|v| (s, v)).ok_or_else(|| missing(s))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }
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
