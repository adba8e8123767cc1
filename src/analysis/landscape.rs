//! `resweep landscape`'s library side: which runs get loss-landscape slices, the slice
//! files (one per run and weights, resumable), and `tables/landscape.parquet`.
//!
//! A slice is computed by [`crate::experiment::landscape`] around a run's initial or
//! final weights, read from its sealed `weights_{init,final}.safetensors`. Each slice is
//! one JSON file, `<sweep>/landscape/<run_id>.<init|final>.json`, written atomically and
//! holding what it was computed from (grid, span, eval inputs, the direction method and
//! the SHA-256 of the weights file): a file that does not parse or whose inputs differ is
//! recomputed, any other is up to date and kept. `landscape/last.json` names the runs and
//! settings of the last call, whose slices the table and the figure hold
//! ([`last_slices`] reads them back for a report). Slices are computed in parallel across
//! runs, on a pool of their own (the binary pins the global rayon pool to one thread so
//! that candle's math stays on its caller's thread).
//!
//! **`landscape.parquet`** — one row per grid point of every slice of the selection, by
//! `run_id`, `when`, `j`, `i`: `run_id` str, `when` str (`init` or `final`), `i`, `j` i64
//! (grid indices of `a` and `b`), `a`, `b` f64 (the step along `d1` and `d2`), `loss` f64
//! nullable (null where the forward pass overflowed). Join `runs` on `run_id` for the
//! settings.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::staged::StagedParquet;
use super::summary::setting_display;
use crate::config::RunConfig;
use crate::error::bad_input;
use crate::experiment::landscape::{self as math, LANDSCAPE_ROWS};
use crate::experiment::model::Arch;
use crate::store::seal::FileSeal;
use crate::store::{weights, RunStatus, SweepDir};

/// How the directions are made, recorded in every slice file (a change of method makes
/// old slices stale).
pub const DIRECTIONS: &str =
    "gaussian (landscape stream of the seed), filter-normalised per neuron, bias direction 0";

/// Layout version of a slice file.
const SLICE_FORMAT: u32 = 1;

/// Around which weights a slice is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum When {
    /// The initial weights (`weights_init.safetensors`).
    Init,
    /// The final weights (`weights_final.safetensors`).
    Final,
}

impl When {
    /// `init` or `final`, as in file names and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            When::Init => "init",
            When::Final => "final",
        }
    }
}

/// A run chosen for slices.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// Its id.
    pub run_id: String,
    /// Its configuration.
    pub config: RunConfig,
    /// Its group (the sweep's axes but the seed), e.g. `ResMLP, init_scale 1`.
    pub group: String,
    /// SHA-256 of its initial and final weights files, from its seal.
    pub digests: [String; 2],
}

impl Chosen {
    /// `ResMLP, init_scale 1, seed 0`.
    pub fn label(&self) -> String {
        format!("{}, seed {}", self.group, self.config.seed)
    }
}

/// What a slice is computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceSpec {
    /// Points per axis.
    pub grid: usize,
    /// Half the side of the square, in units of the filter-normalised directions.
    pub span: f64,
}

impl SliceSpec {
    /// Checks the grid and the span (bad input, exit 2).
    pub fn checked(grid: usize, span: f64) -> anyhow::Result<SliceSpec> {
        if !math::GRID_RANGE.contains(&grid) {
            return Err(bad_input(format!(
                "--grid {grid} is out of range: give {} to {} points per axis (31 is the default)",
                math::GRID_RANGE.start(),
                math::GRID_RANGE.end()
            )));
        }
        if !(span.is_finite() && span > 0.0) {
            return Err(bad_input(format!(
                "--span {span} is impossible: give a positive finite half-width such as 1.0"
            )));
        }
        Ok(SliceSpec { grid, span })
    }
}

/// One slice file: `landscape/<run_id>.<when>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// Layout version.
    pub format: u32,
    /// The run.
    pub run_id: String,
    /// `init` or `final`.
    pub when: String,
    /// Points per axis.
    pub grid: usize,
    /// The axes span `[-span, span]`.
    pub span: f64,
    /// Eval inputs each point's loss is the mean over.
    pub rows: usize,
    /// How the directions are made ([`DIRECTIONS`]).
    pub directions: String,
    /// SHA-256 of the weights file the slice is taken around.
    pub weights_sha256: String,
    /// The loss at the weights themselves (null when not finite).
    pub centre_loss: Option<f64>,
    /// `grid × grid` losses, `loss[j * grid + i]` at `a = axis[i]`, `b = axis[j]` (null
    /// where not finite).
    pub loss: Vec<Option<f64>>,
}

impl Slice {
    /// The losses with non-finite points as NaN.
    pub fn losses(&self) -> Vec<f64> {
        self.loss.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
    }

    /// Its reading: centre, ring at radius span, sharpness, minimum.
    pub fn reading(&self) -> math::SliceReading {
        math::read_slice(
            &self.losses(),
            self.grid,
            self.span,
            self.centre_loss.unwrap_or(f64::NAN),
        )
    }
}

/// The eval inputs a slice of `config` uses.
pub fn rows_of(config: &RunConfig) -> usize {
    LANDSCAPE_ROWS.min(config.eval_size)
}

/// The path of a slice file.
pub fn slice_path(dir: &SweepDir, run_id: &str, when: When) -> PathBuf {
    dir.landscape()
        .join(format!("{run_id}.{}.json", when.as_str()))
}

/// The runs whose slices to compute: `ids` (each must be a finished run of the sweep
/// with its weights), or, when `ids` is empty, the lowest finished seed of each group
/// (each combination of the sweep's axes other than `seed`), in sweep order. Errors are
/// bad input and nothing is written.
pub fn choose(dir: &SweepDir, ids: &[String]) -> anyhow::Result<Vec<Chosen>> {
    let super::frozen::Frozen {
        configs, group_by, ..
    } = super::frozen::Frozen::read(dir)?;
    let by_id: BTreeMap<String, &RunConfig> = configs.iter().map(|c| (c.run_id(), c)).collect();
    let group_of = |c: &RunConfig| -> String {
        let mut parts = vec![c.arm_label().to_string()];
        for g in group_by.iter().filter(|g| *g != "residual") {
            parts.push(format!("{g} {}", setting_display(c, g)));
        }
        parts.join(", ")
    };

    if !ids.is_empty() {
        let mut seen = HashSet::new();
        let mut chosen = Vec::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let Some(config) = by_id.get(id) else {
                return Err(bad_input(unknown_run(id, dir, by_id.keys())));
            };
            let digests = finished_weights(dir, id).map_err(|why| {
                bad_input(format!(
                    "run {id} has no landscape: it {why} (`resweep status {}` lists the finished runs)",
                    dir.root().display()
                ))
            })?;
            chosen.push(Chosen {
                run_id: id.clone(),
                config: (*config).clone(),
                group: group_of(config),
                digests,
            });
        }
        return Ok(chosen);
    }

    // Sweep order: the first run of a group places the group; within a group the lowest
    // seed whose run finished with its weights.
    let mut groups: Vec<(String, Vec<&RunConfig>)> = Vec::new();
    for c in &configs {
        let key = RunConfig {
            seed: 0,
            ..c.clone()
        }
        .config_hash();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(c),
            None => groups.push((key, vec![c])),
        }
    }
    let mut chosen = Vec::new();
    for (_, mut members) in groups {
        members.sort_by_key(|c| c.seed);
        if let Some((c, digests)) = members
            .into_iter()
            .find_map(|c| finished_weights(dir, &c.run_id()).ok().map(|d| (c, d)))
        {
            chosen.push(Chosen {
                run_id: c.run_id(),
                config: c.clone(),
                group: group_of(c),
                digests,
            });
        }
    }
    if chosen.is_empty() {
        return Err(bad_input(format!(
            "{} has no finished runs with weights: run `resweep run {}` first",
            dir.root().display(),
            dir.root().display()
        )));
    }
    Ok(chosen)
}

/// The message for a run id the sweep does not have, with the closest id when one is
/// close.
fn unknown_run<'a>(id: &str, dir: &SweepDir, known: impl Iterator<Item = &'a String>) -> String {
    let best = known
        .map(|k| (strsim::normalized_levenshtein(id, k), k))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = match best {
        Some((score, k)) if score >= 0.6 => format!("; did you mean {k}?"),
        _ => format!("; `resweep plan {}` lists its runs", dir.root().display()),
    };
    format!(
        "unknown run {id}: sweep {} has no such run{hint}",
        dir.root().display()
    )
}

/// The SHA-256 of a finished run's initial and final weights files, from its verified
/// seal; otherwise why the run has none.
fn finished_weights(dir: &SweepDir, id: &str) -> Result<[String; 2], String> {
    let rd = dir.run(id);
    match rd.settled() {
        Some(RunStatus::Done { .. }) => {}
        Some(status) => return Err(format!("is {}", status.word())),
        None => return Err(format!("is {}", rd.status().word())),
    }
    let result = rd.check_seal().map_err(|d| format!("is damaged ({d})"))?;
    let seal = result.seal.unwrap_or_default();
    let digest = |path: PathBuf| -> Result<String, String> {
        let name = file_name(&path);
        seal.files
            .get(&name)
            .map(|s| s.sha256.clone())
            .ok_or_else(|| format!("finished before resweep kept weights (no {name})"))
    };
    Ok([
        digest(rd.weights_init_file())?,
        digest(rd.weights_final_file())?,
    ])
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One slice to compute or keep.
#[derive(Clone, Debug)]
pub struct Job {
    /// The run.
    pub run: Chosen,
    /// Around which weights.
    pub when: When,
    /// Its file.
    pub path: PathBuf,
}

impl Job {
    fn digest(&self) -> &str {
        &self.run.digests[match self.when {
            When::Init => 0,
            When::Final => 1,
        }]
    }

    /// The slice file on disk, when it was computed from exactly these inputs.
    pub fn up_to_date(&self, spec: SliceSpec) -> Option<Slice> {
        let bytes = std::fs::read(&self.path).ok()?;
        let s: Slice = serde_json::from_slice(&bytes).ok()?;
        let fits = s.format == SLICE_FORMAT
            && s.run_id == self.run.run_id
            && s.when == self.when.as_str()
            && s.grid == spec.grid
            && s.span.to_bits() == spec.span.to_bits()
            && s.rows == rows_of(&self.run.config)
            && s.directions == DIRECTIONS
            && s.weights_sha256 == self.digest()
            && s.loss.len() == spec.grid * spec.grid;
        fits.then_some(s)
    }

    /// Computes the slice from the sealed weights file and writes it atomically.
    pub fn compute(&self, dir: &SweepDir, spec: SliceSpec) -> anyhow::Result<Slice> {
        let rd = dir.run(&self.run.run_id);
        let file = match self.when {
            When::Init => rd.weights_init_file(),
            When::Final => rd.weights_final_file(),
        };
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let digest = FileSeal::of(&bytes).sha256;
        anyhow::ensure!(
            digest == self.digest(),
            "{} changed since its run was sealed (`resweep verify` checks the sweep)",
            file.display()
        );
        let (params, meta) =
            weights::decode(&bytes).with_context(|| format!("cannot read {}", file.display()))?;
        let cfg = &self.run.config;
        let arch = Arch::of(cfg);
        anyhow::ensure!(
            meta.depth == arch.depth
                && meta.width == arch.width
                && meta.residual == arch.residual
                && meta.gates == arch.block.gate,
            "{} holds a depth-{} width-{} network, not the run's",
            file.display(),
            meta.depth,
            meta.width
        );
        let dirs = math::directions(arch, cfg.seed, &params);
        let x = math::inputs(cfg.seed, cfg.eval_size, cfg.width);
        let losses = math::slice(arch, &params, &dirs, &x, spec.grid, spec.span)?;
        let centre = math::centre_loss(arch, &params, &x)?;
        let finite = |v: f64| v.is_finite().then_some(v);
        let slice = Slice {
            format: SLICE_FORMAT,
            run_id: self.run.run_id.clone(),
            when: self.when.as_str().to_string(),
            grid: spec.grid,
            span: spec.span,
            rows: x.len() / cfg.width,
            directions: DIRECTIONS.to_string(),
            weights_sha256: digest,
            centre_loss: finite(centre),
            loss: losses.into_iter().map(finite).collect(),
        };
        crate::store::write_json_atomic(&self.path, &slice)?;
        Ok(slice)
    }
}

/// Every slice of the chosen runs: initial then final weights, run by run.
pub fn jobs(dir: &SweepDir, chosen: &[Chosen]) -> Vec<Job> {
    chosen
        .iter()
        .flat_map(|run| {
            [When::Init, When::Final].map(|when| Job {
                run: run.clone(),
                when,
                path: slice_path(dir, &run.run_id, when),
            })
        })
        .collect()
}

/// What [`compute`] did.
#[derive(Debug)]
pub struct Computed {
    /// Every slice, in job order.
    pub slices: Vec<Slice>,
    /// How many were computed now (the rest were up to date).
    pub computed: usize,
    /// Seconds per computed slice (wall time of each, on its own thread).
    pub seconds: Vec<f64>,
}

/// Computes the slices that are not up to date on `threads` threads (each slice on one),
/// writing each file as soon as it is done; an interrupted call leaves whole files only.
pub fn compute(
    dir: &SweepDir,
    jobs: &[Job],
    spec: SliceSpec,
    threads: usize,
) -> anyhow::Result<Computed> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("resweep-landscape-{i}"))
        .build()
        .context("cannot start the landscape threads")?;
    let done: Vec<anyhow::Result<(Slice, Option<f64>)>> = pool.install(|| {
        jobs.par_iter()
            .map(|job| match job.up_to_date(spec) {
                Some(s) => Ok((s, None)),
                None => {
                    let start = std::time::Instant::now();
                    let s = job.compute(dir, spec)?;
                    Ok((s, Some(start.elapsed().as_secs_f64())))
                }
            })
            .collect()
    });
    let mut out = Computed {
        slices: Vec::with_capacity(jobs.len()),
        computed: 0,
        seconds: Vec::new(),
    };
    for r in done {
        let (s, secs) = r?;
        if let Some(t) = secs {
            out.computed += 1;
            out.seconds.push(t);
        }
        out.slices.push(s);
    }
    Ok(out)
}

/// `landscape/last.json`: the runs and slice settings of the last `resweep landscape`,
/// whose slices the table and the figure hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Last {
    run_ids: Vec<String>,
    grid: usize,
    span: f64,
}

fn last_path(dir: &SweepDir) -> PathBuf {
    dir.landscape().join("last.json")
}

/// Records which runs and settings the last call used (for [`last_slices`]); an
/// unchanged record is not rewritten.
pub fn write_last(dir: &SweepDir, chosen: &[Chosen], spec: SliceSpec) -> anyhow::Result<()> {
    let last = Last {
        run_ids: chosen.iter().map(|c| c.run_id.clone()).collect(),
        grid: spec.grid,
        span: spec.span,
    };
    let path = last_path(dir);
    let same = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Last>(&b).ok())
        .is_some_and(|old| old == last);
    if same {
        return Ok(());
    }
    crate::store::write_json_atomic(&path, &last)
}

/// The runs and slices of the last `resweep landscape` on this sweep, when every one of
/// its slices is still on disk and up to date (for a report that shows them); `None`
/// when the command was never run or its slices are gone or stale.
pub fn last_slices(dir: &SweepDir) -> Option<(Vec<Chosen>, Vec<Slice>)> {
    let last: Last = serde_json::from_slice(&std::fs::read(last_path(dir)).ok()?).ok()?;
    let spec = SliceSpec::checked(last.grid, last.span).ok()?;
    let chosen = choose(dir, &last.run_ids).ok()?;
    let slices = jobs(dir, &chosen)
        .iter()
        .map(|j| j.up_to_date(spec))
        .collect::<Option<Vec<Slice>>>()?;
    Some((chosen, slices))
}

/// The path of `tables/landscape.parquet`.
pub fn table_path(dir: &SweepDir) -> PathBuf {
    dir.tables().join("landscape.parquet")
}

/// Writes `tables/landscape.parquet` (atomically, under the tables' lock) from `slices`.
pub fn write_table(dir: &SweepDir, slices: &[Slice]) -> anyhow::Result<PathBuf> {
    let n: usize = slices.iter().map(|s| s.loss.len()).sum();
    let (mut run_id, mut when) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut ii, mut jj) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut aa, mut bb, mut loss) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in slices {
        let coords = math::axis(s.grid, s.span);
        for (k, l) in s.loss.iter().enumerate() {
            let (i, j) = (k % s.grid, k / s.grid);
            run_id.push(s.run_id.as_str());
            when.push(s.when.as_str());
            ii.push(i as i64);
            jj.push(j as i64);
            aa.push(coords[i]);
            bb.push(coords[j]);
            loss.push(*l);
        }
    }
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("run_id".into(), run_id),
            Column::new("when".into(), when),
            Column::new("i".into(), ii),
            Column::new("j".into(), jj),
            Column::new("a".into(), aa),
            Column::new("b".into(), bb),
            Column::new("loss".into(), loss),
        ],
    )
    .map_err(|e| anyhow::anyhow!("cannot build the landscape table: {e}"))?;
    let path = table_path(dir);
    let _lock = dir.lock_tables(true)?;
    let mut out = StagedParquet::create(&path, &df.schema().as_ref().clone())?;
    out.write(&mut df)?;
    out.finish()?.commit()
}
