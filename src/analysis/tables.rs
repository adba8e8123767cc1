//! Collection: every complete run of a sweep directory, read from disk, turned into polars
//! tables under `<sweep>/tables/`, plus the summary over seeds.
//!
//! [`collect`] reads the run directories (never the memory of a run that just finished),
//! so it gives the same tables for a finished, a resumed or a half-done sweep. A run is
//! in the tables exactly when its `result.json` exists and its seal verifies, and then
//! whole (its rows are parsed from the bytes that verified); the runs the frozen sweep
//! expects but that are not complete are reported as partial, pending, failed or
//! damaged, and run directories that the sweep does not expect are ignored (and
//! counted).
//!
//! Every file is written under a temporary name and renamed into place once all of them
//! are written, so a reader sees the old tables or the new ones, never a torn file.
//!
//! # Tables (`tables/*.parquet`, zstd)
//!
//! Integers are `i64`, floats `f64`; "nullable" columns hold `null` where the value does
//! not exist. The statistics columns of `summary` keep `NaN` where a statistic is
//! undefined (see [`super::stats`]).
//!
//! **`runs.parquet`** — one row per complete run, by `run_id` in natural order (digits
//! compare as numbers: `d4-…` before `d12-…`):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `run_id` | str | the run's id (its directory name) |
//! | `sweep` | str | the sweep's `name` (tables of several sweeps can be stacked) |
//! | `depth`, `width` | i64 | layers, width |
//! | `residual` | bool | ResMLP (true) or PlainMLP (false) |
//! | `init_scale` | f64 | the init scale's value at this depth |
//! | `init_scale_expr` | str | the init scale as written (`1/sqrt(depth)`, `1`) |
//! | `seed` | i64 | seed of the init and data streams |
//! | `optimizer` | str | `adam` or `sgd` |
//! | `lr`, `momentum` | f64 | learning rate, SGD momentum (null under Adam, where it does not apply) |
//! | `batch_size`, `steps`, `eval_size`, `eval_every`, `probe_every` | i64 | the other settings |
//! | `status` | str | `completed` or `diverged` |
//! | `initial_train_loss`, `initial_eval_loss`, `final_eval_loss`, `final_train_loss`, `best_eval_loss`, `loss_reduction` | f64, nullable | headline losses (`final_train_loss`: mean of the last 10 training losses; `loss_reduction` = final / initial eval loss) |
//! | `diverged_step` | i64, nullable | step whose loss was not finite |
//! | `last_step` | i64 | last step recorded |
//! | `grad_norm_first_init`, `grad_norm_last_init`, `grad_norm_first_final`, `grad_norm_last_final` | f64, nullable | weight-gradient norm of layer 1 / layer L at step 0 / at the last probe |
//! | `act_std_last_init`, `act_std_last_final` | f64, nullable | activation std of layer L at step 0 / at the last probe |
//! | `wall_time_s`, `steps_per_s` | f64 | training time (all sessions), speed |
//! | `param_count` | i64 | trainable parameters |
//! | `init_hash`, `data_hash` | str | fingerprints of the init draws and the data |
//! | `resweep_version` | str | version that finished the run |
//! | `git_commit` | str, nullable | commit it was built from |
//! | `threads`, `vectorize` | i64 | threads of the run's math, runs trained together |
//! | `resumed` | bool | the last session continued from a checkpoint |
//! | `finished_at` | timestamp (µs, UTC) | when the run finished |
//!
//! **`steps.parquet`** — one row per recorded step of every complete run, by `run_id`
//! then `step`: `run_id` str, `step` i64, `train_loss` f64 nullable (null where not
//! finite), `eval_loss` f64 nullable (null where not evaluated), `eval_offset`,
//! `eval_input_dependent` f64 nullable (the eval loss's constant offset, the squared
//! per-unit mean error, and its input-dependent part; with `eval_loss`).
//!
//! **`layers.parquet`** — one row per probe step and layer, by `run_id`, `step`, `layer`:
//! `run_id` str, `step` i64, `layer` i64 (1 = next to the input), `grad_norm`,
//! `bias_grad_norm`, `act_mean`, `act_std`, `sparsity` (fraction of ReLU outputs that
//! are 0 on the probe's batch, underflow included), `weight_norm` f64; then, measured on
//! the eval batch where the probe step is also an eval step (null elsewhere):
//! `dead_units`, `always_on_units` (fractions of units off / on for every eval input),
//! `underflow` (fraction of pre-activations exactly 0: flushed f32 underflow),
//! `unit_offset` (std over units of each unit's mean output), `input_std` (root mean
//! over units of each unit's output variance over inputs), `activity_0` … `activity_9`
//! (fraction of units on for `[k/10, (k+1)/10)` of the eval inputs) f64; and at every
//! probe step `branch_ratio` (`||relu(W x + b)|| / ||x||` on the first 64 eval inputs),
//! `update_ratio` (`||dW|| / ||W||` of the update that follows the step) and `bias_update`
//! (`||db||`) f64, nullable (the last two null at the last step, which takes no update).
//!
//! The micro-world probes have tables of their own: see [`super::probe_tables`].
//!
//! **`summary.parquet`** (and `summary.csv`) — long format, one row per group and metric
//! (see [`super::summary::summary_frame`]): the grouping settings (every axis of the
//! sweep but `seed`, as typed columns named as in `runs`; `init_scale` gives both
//! `init_scale` and `init_scale_expr`), `metric` str, `n` i64 (runs in the group),
//! `n_missing` i64 (runs without this metric; they count as `NaN`), `diverged` i64
//! (diverged runs in the group), `mean`, `std` (sample, n-1), `stderr`, `min`, `max`,
//! `ci_low`, `ci_high` (95% CI of the mean: Student t below 20 seeds, percentile
//! bootstrap with 10,000 resamples from 20 on) f64, `ci_method` str (`t`, `bootstrap`).
//! `summary.md` holds the same summary as a markdown table.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::*;
use rayon::prelude::*;

use super::columns::setting_columns;
use super::probe_tables::ProbeTables;
use super::staged::{pl, Staged, StagedParquet};
use super::summary::{self, Group, SummaryRow};
use crate::config::{RunConfig, SETTING_NAMES};
use crate::experiment::{LayerRecord, StepRecord};
use crate::store::{RunResult, RunStatus, SealedRun, SweepDir};

/// The tables `collect` writes and `query` registers, by name (`<name>.parquet`).
pub const TABLE_NAMES: &[&str] = &["runs", "steps", "layers", "summary"];
// The probe tables are listed in [`super::probe_tables::PROBE_TABLES`].

/// Runs read in parallel at a time.
const READ_BATCH: usize = 64;
/// Step or layer rows buffered before they are written as one parquet row group.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The path of table `name` (one of [`TABLE_NAMES`]) of a sweep directory.
pub fn table_path(dir: &SweepDir, name: &str) -> PathBuf {
    dir.tables().join(format!("{name}.parquet"))
}

/// What [`collect`] found and wrote.
#[derive(Clone, Debug)]
pub struct Collected {
    /// The sweep's name.
    pub sweep_name: String,
    /// Runs the frozen sweep expands to.
    pub expected: usize,
    /// Complete runs that finished normally (ids, sorted).
    pub completed: Vec<String>,
    /// Complete runs that diverged (ids, sorted); they are in the tables too.
    pub diverged: Vec<String>,
    /// Started, not complete (ids, sorted).
    pub partial: Vec<String>,
    /// Not started (ids, sorted).
    pub pending: Vec<String>,
    /// Last attempt failed: (id, reason), sorted.
    pub failed: Vec<(String, String)>,
    /// Runs whose seal or checkpoint does not verify: (id, which file and what is
    /// wrong), sorted. Left out of every table; `resweep run` repairs them.
    pub damaged: Vec<(String, String)>,
    /// Run directories on disk that the sweep does not expect (ids, sorted); ignored.
    pub ignored: Vec<String>,
    /// The settings the summary groups by (the sweep's axes without `seed`).
    pub group_by: Vec<String>,
    /// `runs.parquet`.
    pub runs: DataFrame,
    /// Rows of `steps.parquet`.
    pub steps_rows: usize,
    /// Rows of `layers.parquet`.
    pub layers_rows: usize,
    /// `summary.parquet`.
    pub summary: DataFrame,
    /// The summary, one row per group and metric (group-major).
    pub summary_rows: Vec<SummaryRow>,
    /// The files written, in `tables/`.
    pub files: Vec<PathBuf>,
}

impl Collected {
    /// Runs in the tables (completed + diverged).
    pub fn complete(&self) -> usize {
        self.completed.len() + self.diverged.len()
    }

    /// Runs the sweep expects that are not in the tables (partial, pending, failed,
    /// damaged), sorted.
    pub fn missing(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .partial
            .iter()
            .chain(&self.pending)
            .map(String::as_str)
            .chain(self.failed.iter().map(|(id, _)| id.as_str()))
            .chain(self.damaged.iter().map(|(id, _)| id.as_str()))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// One line: `38 of 40 runs complete (1 diverged); missing: 1 partial, 1 pending`.
    pub fn status_line(&self) -> String {
        let mut s = format!("{} of {} runs complete", self.complete(), self.expected);
        if !self.diverged.is_empty() {
            s.push_str(&format!(" ({} diverged)", self.diverged.len()));
        }
        let parts: Vec<String> = [
            (self.partial.len(), "partial"),
            (self.pending.len(), "pending"),
            (self.failed.len(), "failed"),
            (self.damaged.len(), "damaged"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        if !parts.is_empty() {
            s.push_str(&format!("; missing: {}", parts.join(", ")));
        }
        if !self.ignored.is_empty() {
            s.push_str(&format!(
                "; {} run director{} not in the sweep ignored",
                self.ignored.len(),
                if self.ignored.len() == 1 { "y" } else { "ies" }
            ));
        }
        s
    }
}

/// The summary as aligned text for the terminal (metric, group values, n, mean ± std,
/// 95% CI, and the diverged count when a run diverged).
pub fn summary_table(c: &Collected) -> String {
    summary::render_text(&c.group_by, &c.summary_rows)
}

/// The summary as markdown: a title, the status line, the table (as `summary.md`).
pub fn summary_markdown(c: &Collected) -> String {
    format!(
        "# Summary of sweep `{}`\n\n{}.\n\nMean ± sample standard deviation over seeds; \
         {}% CI of the mean: Student t (`t`) below {} seeds, percentile bootstrap \
         (`bootstrap`, {} resamples) from there on; each interval names its method.\n\n{}",
        c.sweep_name,
        c.status_line(),
        crate::format::compact(super::stats::CI_LEVEL * 100.0),
        super::stats::SMALL_SAMPLE,
        super::stats::BOOTSTRAP_RESAMPLES,
        summary::render_markdown(&c.group_by, &c.summary_rows)
    )
}

/// Reads every complete run of `dir`, writes `tables/{runs,steps,layers,summary}.parquet`,
/// `tables/summary.csv` and `tables/summary.md`, and reports what it found.
///
/// Expected runs come from expanding the frozen `sweep.toml`. Runs are read in parallel;
/// tables are sorted by `run_id` (then step, layer), so the output does not depend on
/// the thread count. Step and layer rows are streamed to parquet in row groups of about
/// a million rows, so memory stays bounded by a row group plus the runs table.
pub fn collect(dir: &SweepDir) -> anyhow::Result<Collected> {
    collect_into(dir, &dir.tables())
}

/// [`collect`], writing the tables into `tables` instead of the sweep's own `tables/`
/// (`resweep verify` rebuilds them aside to compare).
pub fn collect_into(dir: &SweepDir, tables: &Path) -> anyhow::Result<Collected> {
    let super::frozen::Frozen {
        spec,
        configs,
        group_by,
    } = super::frozen::Frozen::read(dir)?;

    // Sweep order with numeric axes in numeric order (for the summary's group order:
    // depth 4, 12, 24 however the file lists them) and id order (for the tables).
    let mut numeric = spec.clone();
    for axis in &mut numeric.axes {
        let value = |v: &crate::config::AxisValue| match v {
            crate::config::AxisValue::Int(i) => Some(*i as f64),
            crate::config::AxisValue::Float(f) => Some(*f),
            _ => None,
        };
        if axis.values.iter().all(|v| value(v).is_some()) {
            axis.values
                .sort_by(|a, b| value(a).unwrap_or(0.0).total_cmp(&value(b).unwrap_or(0.0)));
        }
    }
    let ranked = numeric.expand().unwrap_or_else(|_| configs.clone());
    let rank: HashMap<String, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, c)| (c.run_id(), i))
        .collect();
    let mut ids: Vec<String> = rank.keys().cloned().collect();
    // Natural order: d4-… before d12-…, seed2 before seed10.
    ids.sort_unstable_by(|a, b| crate::format::natural_cmp(a, b));
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let ignored: Vec<String> = dir
        .run_ids_on_disk()?
        .into_iter()
        .filter(|id| !expected.contains(id.as_str()))
        .collect();

    std::fs::create_dir_all(tables)
        .with_context(|| format!("cannot create {}", tables.display()))?;
    let path = |name: &str| tables.join(format!("{name}.parquet"));
    let mut steps_out = StagedParquet::create(&path("steps"), &steps_schema())?;
    let mut layers_out = StagedParquet::create(&path("layers"), &layers_schema())?;
    let mut probes_out = ProbeTables::create(tables)?;

    let mut results: Vec<RunResult> = Vec::new();
    let (mut partial, mut pending, mut failed, mut damaged) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut steps_buf = StepColumns::default();
    let mut layers_buf = LayerColumns::default();
    let (mut steps_rows, mut layers_rows) = (0usize, 0usize);

    // Our own pool: the binary pins the global rayon pool to one thread for candle.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("resweep-collect-{i}"))
        .build()
        .context("cannot start the threads that read runs")?;
    for batch in ids.chunks(READ_BATCH) {
        let loaded: Vec<Loaded> =
            pool.install(|| batch.par_iter().map(|id| load_run(dir, id)).collect());
        for (id, l) in batch.iter().zip(loaded) {
            match l {
                Loaded::Complete(run) => {
                    let SealedRun {
                        result,
                        steps,
                        layers,
                        probes,
                    } = *run;
                    if let Some(p) = &probes {
                        probes_out.push(id, p)?;
                    }
                    steps_rows += steps.len();
                    layers_rows += layers.len();
                    steps_buf.push(id, &steps);
                    layers_buf.push(id, &layers);
                    results.push(result);
                }
                Loaded::Incomplete(RunStatus::Partial { .. }) => partial.push(id.clone()),
                Loaded::Incomplete(RunStatus::Failed { reason }) => {
                    failed.push((id.clone(), reason))
                }
                Loaded::Incomplete(RunStatus::Damaged { damage }) => {
                    damaged.push((id.clone(), damage.to_string()))
                }
                Loaded::Incomplete(_) => pending.push(id.clone()),
            }
        }
        if steps_buf.len() >= ROW_GROUP_ROWS {
            steps_out.write(&mut steps_buf.take_frame()?)?;
        }
        if layers_buf.len() >= ROW_GROUP_ROWS {
            layers_out.write(&mut layers_buf.take_frame()?)?;
        }
    }
    if steps_buf.len() > 0 {
        steps_out.write(&mut steps_buf.take_frame()?)?;
    }
    if layers_buf.len() > 0 {
        layers_out.write(&mut layers_buf.take_frame()?)?;
    }

    let mut runs = runs_frame(&spec.name, &results)?;
    let refs: Vec<&RunResult> = results.iter().collect();
    let groups: Vec<Group<'_>> = summary::group_runs(&refs, &group_by, |r| {
        rank.get(&r.run_id).copied().unwrap_or(usize::MAX)
    });
    let summary_rows = pool.install(|| summary::summarize_groups(&groups, &group_by));
    let mut summary_df = summary::summary_frame(&groups, &group_by, &summary_rows)?;

    let (completed, diverged): (Vec<&RunResult>, Vec<&RunResult>) = results
        .iter()
        .partition(|r| r.status != crate::store::Outcome::Diverged);
    let mut collected = Collected {
        sweep_name: spec.name.clone(),
        expected: ids.len(),
        completed: completed.iter().map(|r| r.run_id.clone()).collect(),
        diverged: diverged.iter().map(|r| r.run_id.clone()).collect(),
        partial,
        pending,
        failed,
        damaged,
        ignored,
        group_by,
        runs: DataFrame::empty(),
        steps_rows,
        layers_rows,
        summary: DataFrame::empty(),
        summary_rows,
        files: Vec::new(),
    };

    // Stage every file, then rename them all into place.
    let runs_out = StagedParquet::write_frame(&path("runs"), &mut runs)?;
    let summary_out = StagedParquet::write_frame(&path("summary"), &mut summary_df)?;
    let csv_out = Staged::create(&tables.join("summary.csv"))?;
    {
        let mut w = csv_out.writer()?;
        pl(CsvWriter::new(&mut w).finish(&mut summary_df), || {
            "cannot write summary.csv".into()
        })?;
        Staged::sync(w)?;
    }
    let md_out = Staged::create(&tables.join("summary.md"))?;
    {
        let mut w = md_out.writer()?;
        w.write_all(summary_markdown(&collected).as_bytes())?;
        Staged::sync(w)?;
    }
    let mut staged = vec![
        runs_out,
        steps_out.finish()?,
        layers_out.finish()?,
        summary_out,
        csv_out,
        md_out,
    ];
    staged.extend(probes_out.finish()?);
    for s in staged {
        collected.files.push(s.commit()?);
    }
    collected.runs = runs;
    collected.summary = summary_df;
    Ok(collected)
}

/// A run as aggregation sees it: complete (its seal verified, rows parsed from the very
/// bytes that verified), or not in the tables for the reason its status gives.
enum Loaded {
    Complete(Box<SealedRun>),
    Incomplete(RunStatus),
}

fn load_run(dir: &SweepDir, id: &str) -> Loaded {
    let rd = dir.run(id);
    if !rd.result_file().is_file() {
        return Loaded::Incomplete(rd.status());
    }
    match rd.read_sealed() {
        Ok(run) => Loaded::Complete(Box::new(run)),
        Err(damage) => Loaded::Incomplete(RunStatus::Damaged { damage }),
    }
}

/// The `runs.parquet` frame (see the module documentation), in the order given.
fn runs_frame(sweep: &str, results: &[RunResult]) -> anyhow::Result<DataFrame> {
    let cfgs: Vec<&RunConfig> = results.iter().map(|r| &r.config).collect();
    let mut cols = vec![
        Column::new(
            "run_id".into(),
            results
                .iter()
                .map(|r| r.run_id.as_str())
                .collect::<Vec<&str>>(),
        ),
        Column::new("sweep".into(), vec![sweep; results.len()]),
    ];
    for name in SETTING_NAMES {
        cols.extend(setting_columns(name, &cfgs)?);
    }
    let opt = |name: &str, get: fn(&RunResult) -> Option<f64>| -> Column {
        Column::new(
            name.into(),
            results.iter().map(get).collect::<Vec<Option<f64>>>(),
        )
    };
    let float = |name: &str, get: fn(&RunResult) -> f64| -> Column {
        Column::new(name.into(), results.iter().map(get).collect::<Vec<f64>>())
    };
    let int = |name: &str, get: fn(&RunResult) -> usize| -> Column {
        Column::new(
            name.into(),
            results.iter().map(|r| get(r) as i64).collect::<Vec<i64>>(),
        )
    };
    let text = |name: &str, get: fn(&RunResult) -> &str| -> Column {
        Column::new(name.into(), results.iter().map(get).collect::<Vec<&str>>())
    };
    cols.push(text("status", |r| r.status.as_str()));
    cols.push(opt("initial_train_loss", |r| r.metrics.initial_train_loss));
    cols.push(opt("initial_eval_loss", |r| r.metrics.initial_eval_loss));
    cols.push(opt("final_eval_loss", |r| r.metrics.final_eval_loss));
    cols.push(opt("final_train_loss", |r| r.metrics.final_train_loss));
    cols.push(opt("best_eval_loss", |r| r.metrics.best_eval_loss));
    cols.push(opt("loss_reduction", |r| r.metrics.loss_reduction));
    cols.push(Column::new(
        "diverged_step".into(),
        results
            .iter()
            .map(|r| r.metrics.diverged_step.map(|s| s as i64))
            .collect::<Vec<Option<i64>>>(),
    ));
    cols.push(int("last_step", |r| r.metrics.last_step));
    cols.push(opt("grad_norm_first_init", |r| {
        r.metrics.grad_norm_first_init
    }));
    cols.push(opt("grad_norm_last_init", |r| {
        r.metrics.grad_norm_last_init
    }));
    cols.push(opt("grad_norm_first_final", |r| {
        r.metrics.grad_norm_first_final
    }));
    cols.push(opt("grad_norm_last_final", |r| {
        r.metrics.grad_norm_last_final
    }));
    cols.push(opt("act_std_last_init", |r| r.metrics.act_std_last_init));
    cols.push(opt("act_std_last_final", |r| r.metrics.act_std_last_final));
    cols.push(float("wall_time_s", |r| r.wall_time_s));
    cols.push(float("steps_per_s", |r| r.steps_per_s));
    cols.push(int("param_count", |r| r.param_count));
    cols.push(text("init_hash", |r| &r.fingerprints.init_hash));
    cols.push(text("data_hash", |r| &r.fingerprints.data_hash));
    cols.push(text("resweep_version", |r| &r.resweep_version));
    cols.push(Column::new(
        "git_commit".into(),
        results
            .iter()
            .map(|r| r.git_commit.as_deref())
            .collect::<Vec<Option<&str>>>(),
    ));
    cols.push(int("threads", |r| r.threads));
    cols.push(int("vectorize", |r| r.vectorize));
    cols.push(Column::new(
        "resumed".into(),
        results.iter().map(|r| r.resumed).collect::<Vec<bool>>(),
    ));
    cols.push(finished_at_column(results)?);
    Ok(DataFrame::new(results.len(), cols)?)
}

/// `finished_at` as a timestamp (microseconds, UTC) from each result's RFC 3339 text.
fn finished_at_column(results: &[RunResult]) -> anyhow::Result<Column> {
    let micros = results
        .iter()
        .map(|r| {
            let t = humantime::parse_rfc3339_weak(&r.finished_at).with_context(|| {
                format!(
                    "{}: finished_at {:?} is not an RFC 3339 time",
                    r.run_id, r.finished_at
                )
            })?;
            let since = t
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| anyhow::anyhow!("{}: finished_at before 1970", r.run_id))?;
            Ok(i64::try_from(since.as_micros())?)
        })
        .collect::<anyhow::Result<Vec<i64>>>()?;
    let col = Column::new("finished_at".into(), micros);
    pl(
        col.cast(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC),
        )),
        || "cannot make finished_at a timestamp".into(),
    )
}

/// Step rows being gathered for one row group: per-column vectors, the run as an index
/// into `ids` (turned into a shared-buffer string column at the end).
#[derive(Default)]
struct StepColumns {
    ids: Vec<String>,
    run: Vec<IdxSize>,
    step: Vec<i64>,
    train_loss: Vec<Option<f64>>,
    eval_loss: Vec<Option<f64>>,
    eval_offset: Vec<Option<f64>>,
    eval_input_dependent: Vec<Option<f64>>,
}

impl StepColumns {
    fn len(&self) -> usize {
        self.step.len()
    }

    fn push(&mut self, id: &str, rows: &[StepRecord]) {
        if rows.is_empty() {
            return;
        }
        let r = self.ids.len() as IdxSize;
        self.ids.push(id.to_string());
        self.run.extend(std::iter::repeat_n(r, rows.len()));
        self.step.extend(rows.iter().map(|s| s.step as i64));
        self.train_loss.extend(rows.iter().map(|s| s.train_loss));
        self.eval_loss.extend(rows.iter().map(|s| s.eval_loss));
        self.eval_offset.extend(rows.iter().map(|s| s.eval_offset));
        self.eval_input_dependent
            .extend(rows.iter().map(|s| s.eval_input_dependent));
    }

    /// The gathered rows as a frame; the buffer is left empty.
    fn take_frame(&mut self) -> anyhow::Result<DataFrame> {
        let b = std::mem::take(self);
        let n = b.step.len();
        let cols = vec![
            run_id_column(&b.ids, b.run)?,
            Column::new("step".into(), b.step),
            Column::new("train_loss".into(), b.train_loss),
            Column::new("eval_loss".into(), b.eval_loss),
            Column::new("eval_offset".into(), b.eval_offset),
            Column::new("eval_input_dependent".into(), b.eval_input_dependent),
        ];
        Ok(DataFrame::new(n, cols)?)
    }
}

/// Layer rows being gathered for one row group (see [`StepColumns`]).
#[derive(Default)]
struct LayerColumns {
    ids: Vec<String>,
    run: Vec<IdxSize>,
    step: Vec<i64>,
    layer: Vec<i64>,
    grad_norm: Vec<f64>,
    bias_grad_norm: Vec<f64>,
    act_mean: Vec<f64>,
    act_std: Vec<f64>,
    sparsity: Vec<f64>,
    weight_norm: Vec<f64>,
    /// The unit statistics (`None` where the probe was not an eval), in
    /// [`UNIT_COLUMNS`] order.
    units: [Vec<Option<f64>>; UNIT_COLUMNS.len()],
}

/// The layers table's nullable columns after `weight_norm`: the unit statistics, then
/// the per-step probes.
const UNIT_COLUMNS: [&str; 18] = [
    "dead_units",
    "always_on_units",
    "underflow",
    "unit_offset",
    "input_std",
    "activity_0",
    "activity_1",
    "activity_2",
    "activity_3",
    "activity_4",
    "activity_5",
    "activity_6",
    "activity_7",
    "activity_8",
    "activity_9",
    "branch_ratio",
    "update_ratio",
    "bias_update",
];

/// A layer row's values of [`UNIT_COLUMNS`].
fn unit_values(l: &LayerRecord) -> [Option<f64>; UNIT_COLUMNS.len()] {
    let mut v = [None; UNIT_COLUMNS.len()];
    v[0] = l.dead_units;
    v[1] = l.always_on_units;
    v[2] = l.underflow;
    v[3] = l.unit_offset;
    v[4] = l.input_std;
    if let Some(a) = l.activity {
        for (slot, x) in v[5..15].iter_mut().zip(a) {
            *slot = Some(x);
        }
    }
    v[15] = l.branch_ratio;
    v[16] = l.update_ratio;
    v[17] = l.bias_update;
    v
}

impl LayerColumns {
    fn len(&self) -> usize {
        self.step.len()
    }

    fn push(&mut self, id: &str, rows: &[LayerRecord]) {
        if rows.is_empty() {
            return;
        }
        let r = self.ids.len() as IdxSize;
        self.ids.push(id.to_string());
        self.run.extend(std::iter::repeat_n(r, rows.len()));
        for l in rows {
            self.step.push(l.step as i64);
            self.layer.push(l.layer as i64);
            self.grad_norm.push(l.grad_norm);
            self.bias_grad_norm.push(l.bias_grad_norm);
            self.act_mean.push(l.act_mean);
            self.act_std.push(l.act_std);
            self.sparsity.push(l.sparsity);
            self.weight_norm.push(l.weight_norm);
            for (col, v) in self.units.iter_mut().zip(unit_values(l)) {
                col.push(v);
            }
        }
    }

    fn take_frame(&mut self) -> anyhow::Result<DataFrame> {
        let b = std::mem::take(self);
        let n = b.step.len();
        let mut cols = vec![
            run_id_column(&b.ids, b.run)?,
            Column::new("step".into(), b.step),
            Column::new("layer".into(), b.layer),
            Column::new("grad_norm".into(), b.grad_norm),
            Column::new("bias_grad_norm".into(), b.bias_grad_norm),
            Column::new("act_mean".into(), b.act_mean),
            Column::new("act_std".into(), b.act_std),
            Column::new("sparsity".into(), b.sparsity),
            Column::new("weight_norm".into(), b.weight_norm),
        ];
        for (name, v) in UNIT_COLUMNS.iter().zip(b.units) {
            cols.push(Column::new((*name).into(), v));
        }
        Ok(DataFrame::new(n, cols)?)
    }
}

/// `run_id` repeated per row without copying the strings: a gather of the distinct ids
/// (string views share the ids' buffer).
fn run_id_column(ids: &[String], run: Vec<IdxSize>) -> anyhow::Result<Column> {
    let distinct = StringChunked::from_slice("run_id".into(), ids);
    let idx = IdxCa::from_vec("idx".into(), run);
    Ok(distinct.take(&idx)?.into_series().into_column())
}

fn steps_schema() -> Schema {
    Schema::from_iter([
        Field::new("run_id".into(), DataType::String),
        Field::new("step".into(), DataType::Int64),
        Field::new("train_loss".into(), DataType::Float64),
        Field::new("eval_loss".into(), DataType::Float64),
        Field::new("eval_offset".into(), DataType::Float64),
        Field::new("eval_input_dependent".into(), DataType::Float64),
    ])
}

fn layers_schema() -> Schema {
    let mut fields = vec![
        Field::new("run_id".into(), DataType::String),
        Field::new("step".into(), DataType::Int64),
        Field::new("layer".into(), DataType::Int64),
    ];
    for name in [
        "grad_norm",
        "bias_grad_norm",
        "act_mean",
        "act_std",
        "sparsity",
        "weight_norm",
    ]
    .into_iter()
    .chain(UNIT_COLUMNS)
    {
        fields.push(Field::new(name.into(), DataType::Float64));
    }
    Schema::from_iter(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats;
    use crate::analysis::testutil::{self, sweep_dir, write_complete, SWEEP_TOML};
    use std::fs::File;

    pub(crate) fn read_parquet(path: &Path) -> DataFrame {
        ParquetReader::new(File::open(path).unwrap())
            .finish()
            .unwrap()
    }

    fn f64s(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
        df.column(name).unwrap().f64().unwrap().iter().collect()
    }
    fn i64s(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
        df.column(name).unwrap().i64().unwrap().iter().collect()
    }
    fn strs(df: &DataFrame, name: &str) -> Vec<Option<String>> {
        df.column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }
    fn bools(df: &DataFrame, name: &str) -> Vec<Option<bool>> {
        df.column(name).unwrap().bool().unwrap().iter().collect()
    }

    fn hand_mean_std(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, var.sqrt())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn tables_hold_exactly_what_the_run_directories_hold() {
        let fx = sweep_dir(SWEEP_TOML);
        for cfg in &fx.configs {
            let diverge = (!cfg.residual && cfg.seed == 2).then_some(7);
            write_complete(&fx.dir, cfg, diverge);
        }
        // The reference is what the run directories hold, as read back from disk.
        let mut results: Vec<RunResult> = fx
            .configs
            .iter()
            .map(|c| fx.dir.run(&c.run_id()).read_result().unwrap())
            .collect();
        results.sort_by(|a, b| crate::format::natural_cmp(&a.run_id, &b.run_id));
        let c = collect(&fx.dir).unwrap();
        assert_eq!(c.expected, 6);
        assert_eq!(
            (c.completed.len(), c.diverged.len(), c.complete()),
            (5, 1, 6)
        );
        assert!(c.missing().is_empty() && c.ignored.is_empty());
        assert_eq!(c.group_by, vec!["residual".to_string()]);
        assert_eq!(c.status_line(), "6 of 6 runs complete (1 diverged)");

        // runs.parquet: one row per run, sorted by id, every value as in result.json.
        let runs = read_parquet(&table_path(&fx.dir, "runs"));
        assert_eq!(runs.height(), 6);
        assert!(runs.equals_missing(&c.runs));
        let ids: Vec<String> = strs(&runs, "run_id")
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(
            ids,
            results.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>()
        );
        for (i, r) in results.iter().enumerate() {
            assert_eq!(bools(&runs, "residual")[i], Some(r.config.residual));
            assert_eq!(i64s(&runs, "seed")[i], Some(r.config.seed as i64));
            assert_eq!(i64s(&runs, "depth")[i], Some(2));
            assert_eq!(i64s(&runs, "eval_every")[i], Some(5));
            assert_eq!(f64s(&runs, "init_scale")[i], Some(1.0 / 2f64.sqrt()));
            assert_eq!(
                strs(&runs, "init_scale_expr")[i].as_deref(),
                Some("1/sqrt(depth)")
            );
            assert_eq!(strs(&runs, "optimizer")[i].as_deref(), Some("adam"));
            assert_eq!(f64s(&runs, "lr")[i], Some(1e-3));
            // Momentum means nothing to Adam: null, not its default 0.9.
            assert_eq!(f64s(&runs, "momentum")[i], None);
            assert_eq!(
                strs(&runs, "sweep")[i].as_deref(),
                Some(c.sweep_name.as_str())
            );
            assert_eq!(strs(&runs, "status")[i].as_deref(), Some(r.status.as_str()));
            let m = &r.metrics;
            assert_eq!(f64s(&runs, "initial_train_loss")[i], m.initial_train_loss);
            assert_eq!(f64s(&runs, "final_eval_loss")[i], m.final_eval_loss);
            assert_eq!(f64s(&runs, "final_train_loss")[i], m.final_train_loss);
            assert_eq!(f64s(&runs, "loss_reduction")[i], m.loss_reduction);
            assert_eq!(
                f64s(&runs, "grad_norm_last_final")[i],
                m.grad_norm_last_final
            );
            assert_eq!(f64s(&runs, "act_std_last_init")[i], m.act_std_last_init);
            assert_eq!(
                i64s(&runs, "diverged_step")[i],
                m.diverged_step.map(|s| s as i64)
            );
            assert_eq!(i64s(&runs, "last_step")[i], Some(m.last_step as i64));
            assert_eq!(f64s(&runs, "wall_time_s")[i], Some(r.wall_time_s));
            assert_eq!(i64s(&runs, "param_count")[i], Some(r.param_count as i64));
            assert_eq!(
                strs(&runs, "init_hash")[i].as_deref(),
                Some(r.fingerprints.init_hash.as_str())
            );
            assert_eq!(strs(&runs, "git_commit")[i], r.git_commit);
            assert_eq!(bools(&runs, "resumed")[i], Some(r.resumed));
            // 2025-01-01T00:00:00Z, in microseconds since 1970.
            assert_eq!(r.finished_at, "2025-01-01T00:00:00Z");
            let finished = runs.column("finished_at").unwrap();
            assert_eq!(
                finished.dtype(),
                &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            );
            assert_eq!(
                finished
                    .cast(&DataType::Int64)
                    .unwrap()
                    .i64()
                    .unwrap()
                    .get(i),
                Some(1_735_689_600_000_000)
            );
        }
        let diverged_row = results
            .iter()
            .position(|r| r.status == crate::store::Outcome::Diverged)
            .unwrap();
        assert_eq!(i64s(&runs, "diverged_step")[diverged_row], Some(7));

        // steps.parquet and layers.parquet: every record, in run-id then file order.
        let steps = read_parquet(&table_path(&fx.dir, "steps"));
        let layers = read_parquet(&table_path(&fx.dir, "layers"));
        let (mut want_steps, mut want_layers) = (Vec::new(), Vec::new());
        for r in &results {
            let (s, l) = fx.dir.run(&r.run_id).read_records().unwrap();
            want_steps.extend(s.into_iter().map(|s| (r.run_id.clone(), s)));
            want_layers.extend(l.into_iter().map(|l| (r.run_id.clone(), l)));
        }
        assert_eq!(steps.height(), want_steps.len());
        assert_eq!(
            (c.steps_rows, c.layers_rows),
            (want_steps.len(), want_layers.len())
        );
        assert_eq!(steps.height(), 5 * 11 + 8);
        let (sid, sstep, strain, seval) = (
            strs(&steps, "run_id"),
            i64s(&steps, "step"),
            f64s(&steps, "train_loss"),
            f64s(&steps, "eval_loss"),
        );
        for (i, (id, s)) in want_steps.iter().enumerate() {
            assert_eq!(sid[i].as_deref(), Some(id.as_str()));
            assert_eq!(sstep[i], Some(s.step as i64));
            assert_eq!(strain[i], s.train_loss);
            assert_eq!(seval[i], s.eval_loss);
        }
        assert_eq!(layers.height(), want_layers.len());
        let (lid, lstep, llayer, lgrad, lstd, lweight) = (
            strs(&layers, "run_id"),
            i64s(&layers, "step"),
            i64s(&layers, "layer"),
            f64s(&layers, "grad_norm"),
            f64s(&layers, "act_std"),
            f64s(&layers, "weight_norm"),
        );
        for (i, (id, l)) in want_layers.iter().enumerate() {
            assert_eq!(lid[i].as_deref(), Some(id.as_str()));
            assert_eq!(
                (lstep[i], llayer[i]),
                (Some(l.step as i64), Some(l.layer as i64))
            );
            assert_eq!(
                (lgrad[i], lstd[i], lweight[i]),
                (Some(l.grad_norm), Some(l.act_std), Some(l.weight_norm))
            );
        }

        // The summary: 2 groups x 9 metrics, against hand-computed statistics.
        assert_eq!(c.summary_rows.len(), 2 * summary::SUMMARY_METRICS.len());
        for residual in [false, true] {
            let members: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.config.residual == residual)
                .collect();
            for metric in summary::SUMMARY_METRICS {
                let row = c
                    .summary_rows
                    .iter()
                    .find(|r| {
                        r.metric == *metric
                            && r.group == vec![("residual".to_string(), residual.to_string())]
                    })
                    .unwrap();
                let xs: Vec<f64> = members
                    .iter()
                    .map(|r| summary::metric_value(&r.metrics, metric).unwrap_or(f64::NAN))
                    .collect();
                assert_eq!(row.stats.n, 3);
                assert_eq!(row.diverged, usize::from(!residual));
                if xs.iter().all(|x| x.is_finite()) {
                    let (m, s) = hand_mean_std(&xs);
                    assert!(
                        close(row.stats.mean, m),
                        "{metric}: {} vs {m}",
                        row.stats.mean
                    );
                    assert!(
                        close(row.stats.std, s),
                        "{metric}: {} vs {s}",
                        row.stats.std
                    );
                    assert!(close(row.stats.stderr, s / 3f64.sqrt()));
                    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    assert_eq!((row.stats.min, row.stats.max), (lo, hi));
                    let ci = stats::t_mean_ci(&xs, stats::CI_LEVEL);
                    assert_eq!((row.stats.ci_low, row.stats.ci_high), ci);
                    assert!(row.stats.ci_low <= m && m <= row.stats.ci_high);
                    assert_eq!(row.n_missing, 0);
                } else {
                    assert!(
                        row.stats.mean.is_nan() && row.stats.std.is_nan(),
                        "{metric}"
                    );
                    assert!(row.n_missing > 0);
                }
            }
        }
        // Spelled out once: final eval loss of the ResMLP arm.
        let res: Vec<f64> = results
            .iter()
            .filter(|r| r.config.residual)
            .map(|r| r.metrics.final_eval_loss.unwrap())
            .collect();
        let (m, s) = hand_mean_std(&res);
        let sdf = read_parquet(&table_path(&fx.dir, "summary"));
        assert!(sdf.equals_missing(&c.summary));
        assert_eq!(sdf.height(), 18);
        let names: Vec<String> = sdf
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "residual",
                "metric",
                "n",
                "n_missing",
                "diverged",
                "mean",
                "std",
                "stderr",
                "min",
                "max",
                "ci_low",
                "ci_high",
                "ci_method"
            ]
        );
        let row = (0..sdf.height())
            .find(|&i| {
                bools(&sdf, "residual")[i] == Some(true)
                    && strs(&sdf, "metric")[i].as_deref() == Some("final_eval_loss")
            })
            .unwrap();
        assert!(close(f64s(&sdf, "mean")[row].unwrap(), m));
        assert!(close(f64s(&sdf, "std")[row].unwrap(), s));
        assert_eq!(i64s(&sdf, "n")[row], Some(3));
        let plain_div = (0..sdf.height())
            .find(|&i| bools(&sdf, "residual")[i] == Some(false))
            .unwrap();
        assert_eq!(i64s(&sdf, "diverged")[plain_div], Some(1));

        // Human forms and the csv/md files.
        let text = summary_table(&c);
        assert!(text.starts_with("metric"), "{text}");
        assert!(
            text.contains("mean ± std") && text.contains("95% CI") && text.contains("diverged"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{} ± {}",
                crate::format::value(m),
                crate::format::value(s)
            )),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2 + 18);
        let md = std::fs::read_to_string(fx.dir.tables().join("summary.md")).unwrap();
        assert!(
            md.contains("| metric | residual | n | mean ± std | 95% CI | diverged |"),
            "{md}"
        );
        assert!(md.contains("6 of 6 runs complete (1 diverged)"), "{md}");
        let csv = std::fs::read_to_string(fx.dir.tables().join("summary.csv")).unwrap();
        assert_eq!(csv.lines().count(), 19);
        assert!(
            csv.starts_with("residual,metric,n,n_missing,diverged,mean,std"),
            "{csv}"
        );
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(fx.dir.tables())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(
            c.files.len(),
            6 + crate::analysis::probe_tables::PROBE_TABLES.len()
        );

        // Collecting again gives identical tables.
        let again = collect(&fx.dir).unwrap();
        assert!(again.runs.equals_missing(&c.runs));
        assert!(read_parquet(&table_path(&fx.dir, "steps")).equals_missing(&steps));
    }

    #[test]
    fn a_partial_sweep_reports_what_is_missing_and_tables_only_complete_runs() {
        let fx = sweep_dir(SWEEP_TOML);
        let c = &fx.configs;
        // Expansion order: seed outermost, so c[0..2] are seed 0, c[2..4] seed 1, c[4..6] seed 2.
        for cfg in &c[..3] {
            write_complete(&fx.dir, cfg, None);
        }
        // Partial: records but no result.json.
        let (s, l) = testutil::records(&c[3], None);
        testutil::write_records(&fx.dir, &c[3], &s[..4], &l[..2]);
        // Failed.
        fx.dir
            .run(&c[4].run_id())
            .write_failure(&c[4].run_id(), "boom")
            .unwrap();
        // c[5] pending (nothing on disk). A complete run the sweep does not expect.
        let stranger = RunConfig {
            seed: 9,
            ..c[0].clone()
        };
        write_complete(&fx.dir, &stranger, None);

        let col = collect(&fx.dir).unwrap();
        assert_eq!(col.complete(), 3);
        assert_eq!(col.partial, vec![c[3].run_id()]);
        assert_eq!(col.failed, vec![(c[4].run_id(), "boom".to_string())]);
        assert_eq!(col.pending, vec![c[5].run_id()]);
        assert_eq!(col.ignored, vec![stranger.run_id()]);
        let mut missing = [c[3].run_id(), c[4].run_id(), c[5].run_id()];
        missing.sort();
        assert_eq!(
            col.missing(),
            missing.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(
            col.status_line(),
            "3 of 6 runs complete; missing: 1 partial, 1 pending, 1 failed; 1 run directory not in the sweep ignored"
        );

        let runs = read_parquet(&table_path(&fx.dir, "runs"));
        let mut want: Vec<String> = c[..3].iter().map(RunConfig::run_id).collect();
        want.sort_by(|a, b| crate::format::natural_cmp(a, b));
        assert_eq!(
            strs(&runs, "run_id")
                .into_iter()
                .map(Option::unwrap)
                .collect::<Vec<_>>(),
            want
        );
        let steps = read_parquet(&table_path(&fx.dir, "steps"));
        assert_eq!(steps.height(), 3 * 11);
        assert!(strs(&steps, "run_id")
            .iter()
            .all(|id| want.contains(id.as_ref().unwrap())));
        let layers = read_parquet(&table_path(&fx.dir, "layers"));
        assert_eq!(layers.height(), 3 * 3 * 2);
        // Groups: residual false has seeds 0 and 1, residual true seed 0.
        let n: Vec<(String, usize)> = col
            .summary_rows
            .iter()
            .filter(|r| r.metric == "final_eval_loss")
            .map(|r| (r.group[0].1.clone(), r.stats.n))
            .collect();
        assert_eq!(n, vec![("false".to_string(), 2), ("true".to_string(), 1)]);
        let text = summary_table(&col);
        assert!(text.contains("n/a"), "one seed has no CI: {text}");
    }

    #[test]
    fn an_empty_sweep_writes_empty_tables_with_their_schema() {
        let fx = sweep_dir(SWEEP_TOML);
        let c = collect(&fx.dir).unwrap();
        assert_eq!((c.complete(), c.pending.len()), (0, 6));
        for t in TABLE_NAMES {
            let df = read_parquet(&table_path(&fx.dir, t));
            assert_eq!(df.height(), 0, "{t}");
            assert!(df.width() > 3, "{t}");
        }
        let steps = read_parquet(&table_path(&fx.dir, "steps"));
        assert_eq!(steps.schema().as_ref(), &steps_schema());
        assert_eq!(summary_table(&c), "no complete runs to summarize yet\n");
        let sdf = read_parquet(&table_path(&fx.dir, "summary"));
        assert_eq!(sdf.column("residual").unwrap().dtype(), &DataType::Boolean);
    }

    #[test]
    fn groups_follow_the_sweep_axes_numbers_in_numeric_order() {
        let toml = r#"
name = "grid"
[model]
width = 4
[train]
steps = 4
batch_size = 4
[task]
eval_size = 8
[probe]
eval_every = 2
probe_every = 2
[grid]
init_scale = ["1/sqrt(depth)", 1.0]
depth = [3, 2]
seed = [0, 1]
"#;
        let fx = sweep_dir(toml);
        for cfg in &fx.configs {
            write_complete(&fx.dir, cfg, None);
        }
        let c = collect(&fx.dir).unwrap();
        assert_eq!(
            c.group_by,
            vec!["init_scale".to_string(), "depth".to_string()]
        );
        let groups: Vec<Vec<String>> = c
            .summary_rows
            .iter()
            .filter(|r| r.metric == "loss_reduction")
            .map(|r| r.group.iter().map(|(_, v)| v.clone()).collect())
            .collect();
        let g = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(
            groups,
            vec![
                // Axes in sweep order; an all-number axis in numeric order (depth
                // 2 before 3 although the file lists 3 first), the others as written.
                g("1/sqrt(depth)", "2"),
                g("1/sqrt(depth)", "3"),
                g("1", "2"),
                g("1", "3")
            ]
        );
        let names: Vec<String> = c
            .summary
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            &names[..4],
            ["init_scale", "init_scale_expr", "depth", "metric"]
        );
        let scale = f64s(&c.summary, "init_scale");
        // Depth 2 first, then 3: the init scale's value at each.
        assert_eq!(scale[0], Some(1.0 / 2f64.sqrt()));
        assert_eq!(
            scale[summary::SUMMARY_METRICS.len()],
            Some(1.0 / 3f64.sqrt())
        );
        assert!(c.summary_rows.iter().all(|r| r.stats.n == 2));

        // No axes at all: one group, no group columns.
        let fx = sweep_dir("name = \"one\"\n[model]\ndepth = 2\nwidth = 4\n[train]\nsteps = 3\n[task]\neval_size = 8\n");
        write_complete(&fx.dir, &fx.configs[0], None);
        let c = collect(&fx.dir).unwrap();
        assert!(c.group_by.is_empty());
        assert_eq!(c.summary_rows.len(), summary::SUMMARY_METRICS.len());
        assert_eq!(c.summary.get_column_names()[0].as_str(), "metric");
        let text = summary_table(&c);
        let header: Vec<&str> = text
            .lines()
            .next()
            .unwrap()
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(header, ["metric", "n", "mean ± std", "95% CI"], "{text}");
    }

    #[test]
    fn tables_of_real_training_runs_match_their_files() {
        use crate::runner::{job::run_one, EventSink};
        use std::sync::atomic::AtomicBool;
        let fx = sweep_dir(SWEEP_TOML);
        for cfg in &fx.configs {
            let rd = fx.dir.run(&cfg.run_id());
            run_one(
                &rd,
                cfg,
                0,
                0,
                &EventSink::discard(),
                &AtomicBool::new(false),
            )
            .unwrap();
        }
        let c = collect(&fx.dir).unwrap();
        assert_eq!(c.complete(), 6);
        let runs = read_parquet(&table_path(&fx.dir, "runs"));
        let steps = read_parquet(&table_path(&fx.dir, "steps"));
        let layers = read_parquet(&table_path(&fx.dir, "layers"));
        let ids = strs(&runs, "run_id");
        let (mut si, mut li) = (0, 0);
        let (strain, seval, lgrad) = (
            f64s(&steps, "train_loss"),
            f64s(&steps, "eval_loss"),
            f64s(&layers, "grad_norm"),
        );
        for (i, id) in ids.iter().enumerate() {
            let rd = fx.dir.run(id.as_ref().unwrap());
            let r = rd.read_result().unwrap();
            assert_eq!(f64s(&runs, "final_eval_loss")[i], r.metrics.final_eval_loss);
            assert_eq!(
                f64s(&runs, "grad_norm_first_init")[i],
                r.metrics.grad_norm_first_init
            );
            assert_eq!(
                strs(&runs, "data_hash")[i].as_deref(),
                Some(r.fingerprints.data_hash.as_str())
            );
            let (s, l) = rd.read_records().unwrap();
            assert_eq!(s.len(), 11);
            for rec in &s {
                assert_eq!((strain[si], seval[si]), (rec.train_loss, rec.eval_loss));
                si += 1;
            }
            for rec in &l {
                assert_eq!(lgrad[li], Some(rec.grad_norm));
                li += 1;
            }
        }
        assert_eq!((si, li), (steps.height(), layers.height()));
    }
}
