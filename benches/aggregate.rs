//! `cargo bench --bench aggregate`: how long `resweep aggregate` takes, and how much memory
//! it needs, on a sweep of the size the issue asks for — 10,000 runs x 1,000 steps x 20
//! layers, probed every 50 steps — and how fast a grouped query over its tables is.
//!
//! 1. Generates (once) the synthetic sweep `synthetic`: a sweep file whose grid expands to
//!    `residual` [false, true] x 5 `init_scale` values x N/10 seeds at depth 20, 1,000
//!    steps, eval and probes every 50 steps; every run directory is written with the
//!    store's own API (`prepare`, `steps.jsonl` of 1,001 rows, `layers.jsonl` of 21 probes x
//!    20 layers, `finish` with `RunMetrics::from_records`). The records are deterministic
//!    pseudo-random values of realistic magnitudes (ChaCha8 seeded by the run's index); no
//!    training runs. With `RESWEEP_BENCH_DIR` set, the data is cached in
//!    `$RESWEEP_BENCH_DIR/runs-<N>/synthetic` and reused while its `COMPLETE` marker
//!    matches (an interrupted generation resumes); without it, the data goes to a
//!    directory of its own under the system's temporary directory, removed at the end.
//! 2. Times `resweep::analysis::collect` (wall time) and measures its peak RSS: `VmHWM`,
//!    reset just before collecting by writing `5` to `/proc/self/clear_refs`; where that
//!    reset does not work, collect runs in a child process (this binary again, with
//!    `--collect-child DIR`) so that generation does not count.
//! 3. Times two queries through `resweep::analysis::query`, median of 5: a grouped query
//!    over `runs`, and a join of `steps` with `runs` grouped by arm and step.
//! 4. Prints the figures next to the targets. It never asserts on time.
//!
//! Environment: `RESWEEP_BENCH_RUNS` (default 10000, rounded up to a multiple of 10) for
//! a quicker smoke run; `RESWEEP_BENCH_DIR` to keep the data as a cache; `RESWEEP_BENCH_ISOLATE=1` to
//! collect in a child process even where the in-process reset works.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use resweep::analysis::{self, table_path, Format, TABLE_NAMES};
use resweep::config::{RunConfig, SCHEMA_VERSION};
use resweep::experiment::{Fingerprints, LayerRecord, RunMetrics, StepRecord};
use resweep::store::{jsonl, write_atomic, RunResult, SweepDir};
use resweep::sweep::SweepSpec;

/// Bumped whenever the generated data changes, so that a stale cache is regenerated.
const GENERATOR: &str = "resweep benches/aggregate.rs synthetic sweep v1";
const SWEEP_NAME: &str = "synthetic";
const DEPTH: usize = 20;
const STEPS: usize = 1000;
const EVERY: usize = 50;
/// Arms x init scales: runs per seed.
const POINTS_PER_SEED: usize = 10;

const TARGET_COLLECT: Duration = Duration::from_secs(60);
const TARGET_RSS: u64 = 4 << 30;
const TARGET_QUERY: Duration = Duration::from_secs(2);
const QUERY_REPEATS: usize = 5;

const QUERIES: [(&str, &str); 2] = [
    (
        "grouped runs",
        "SELECT residual, init_scale_expr, avg(final_eval_loss) AS mean_final_eval_loss, \
         count(*) AS n FROM runs GROUP BY residual, init_scale_expr \
         ORDER BY residual, init_scale_expr",
    ),
    (
        "steps x runs",
        "SELECT r.residual, s.step, avg(s.train_loss) AS mean_train_loss \
         FROM steps s JOIN runs r USING (run_id) GROUP BY r.residual, s.step \
         ORDER BY r.residual, s.step",
    ),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--collect-child") {
        let root = args
            .get(i + 1)
            .context("--collect-child needs the sweep directory")?;
        return collect_child(Path::new(root));
    }

    let runs = requested_runs()?;
    let seeds = runs.div_ceil(POINTS_PER_SEED);
    let runs = seeds * POINTS_PER_SEED;
    // A cache only when asked for: otherwise the data (1.7 GB at 10,000 runs) is removed
    // when the benchmark ends, however it ends (but a kill).
    let (bench_root, _cleanup) = match std::env::var_os("RESWEEP_BENCH_DIR") {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let root = std::env::temp_dir()
                .join(format!("resweep-bench-aggregate-{}", std::process::id()));
            (root.clone(), Some(RemoveOnDrop(root)))
        }
    };
    let data_dir = bench_root.join(format!("runs-{runs}"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "resweep aggregate benchmark: {runs} runs x {STEPS} steps x {DEPTH} layers, \
         eval and probes every {EVERY} steps ({cores} cores)"
    );
    let (dir, generated) = ensure_sweep(&data_dir, seeds)?;
    let (raw_files, raw_bytes) = dir_size(&dir.runs())?;
    match generated {
        Some(g) => println!(
            "data: {} (generated in {:.1} s with {} threads)",
            dir.root().display(),
            g.time.as_secs_f64(),
            g.threads
        ),
        None => println!("data: {} (reused)", dir.root().display()),
    }
    println!(
        "raw run files: {} files, {}",
        group_digits(raw_files),
        fmt_bytes(raw_bytes)
    );

    println!("\ncollecting ...");
    let c = measure_collect(&dir)?;
    ensure!(
        c.complete == runs && c.expected == runs,
        "collect found {} complete runs of {} expected, not {runs}",
        c.complete,
        c.expected
    );
    let sizes: Vec<(String, u64)> = TABLE_NAMES
        .iter()
        .map(|t| {
            let p = table_path(&dir, t);
            let len = fs::metadata(&p)
                .with_context(|| format!("collect did not write {}", p.display()))?
                .len();
            Ok((format!("{t}.parquet"), len))
        })
        .collect::<Result<_>>()?;

    println!("querying ({QUERY_REPEATS} times each) ...");
    let mut timings = Vec::new();
    for (label, sql) in QUERIES {
        let mut times = Vec::with_capacity(QUERY_REPEATS);
        let mut rows = 0;
        let mut first = None;
        for _ in 0..QUERY_REPEATS {
            let t = Instant::now();
            let df = analysis::query(&dir, sql).with_context(|| format!("query {label}"))?;
            times.push(t.elapsed());
            rows = df.height();
            first.get_or_insert(df);
        }
        times.sort();
        timings.push((label, sql, times, rows, first));
    }

    // The report.
    println!("\n== collect (resweep::analysis::collect) ==");
    println!(
        "  wall time    {:>10}   target < {:>6}   {}",
        fmt_secs(c.wall),
        fmt_secs(TARGET_COLLECT),
        verdict(c.wall <= TARGET_COLLECT)
    );
    println!(
        "  peak RSS     {:>10}   target < {:>6}   {}",
        fmt_bytes(c.peak_rss),
        fmt_bytes(TARGET_RSS),
        verdict(c.peak_rss <= TARGET_RSS)
    );
    println!(
        "               ({}; RSS just before collect {})",
        c.method,
        fmt_bytes(c.rss_before)
    );
    println!(
        "  runs         {} complete of {}",
        group_digits(c.complete as u64),
        group_digits(c.expected as u64)
    );
    println!("  steps rows   {}", group_digits(c.steps_rows as u64));
    println!("  layers rows  {}", group_digits(c.layers_rows as u64));
    for (name, len) in &sizes {
        println!("  {name:<16} {:>10}", fmt_bytes(*len));
    }
    println!(
        "  (raw run files {}; the page cache is warm: they were just written or read)",
        fmt_bytes(raw_bytes)
    );
    println!("\n== query (resweep::analysis::query, median of {QUERY_REPEATS}) ==");
    for (label, sql, times, rows, _) in &timings {
        let median = times[times.len() / 2];
        println!(
            "  {label:<13}{:>10}   target < {:>6}   {}   ({} rows; min {}, max {})",
            fmt_secs(median),
            fmt_secs(TARGET_QUERY),
            verdict(median <= TARGET_QUERY),
            group_digits(*rows as u64),
            fmt_secs(times[0]),
            fmt_secs(times[times.len() - 1])
        );
        println!("      {sql}");
    }
    if let Some((label, _, _, _, Some(df))) = timings.first_mut() {
        println!("\n{label}:");
        analysis::write_output(df, Format::Table, None)?;
    }
    Ok(())
}

/// Removes a directory tree when dropped (the benchmark's own data).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.0.exists() {
            match fs::remove_dir_all(&self.0) {
                Ok(()) => println!("removed {}", self.0.display()),
                Err(e) => eprintln!("cannot remove {}: {e}", self.0.display()),
            }
        }
    }
}

fn requested_runs() -> Result<usize> {
    match std::env::var("RESWEEP_BENCH_RUNS") {
        Err(_) => Ok(10_000),
        Ok(text) => {
            let n: usize = text
                .trim()
                .parse()
                .with_context(|| format!("RESWEEP_BENCH_RUNS={text:?} is not a count of runs"))?;
            ensure!(
                (1..=100_000).contains(&n),
                "RESWEEP_BENCH_RUNS={n}: give 1 to 100000 runs"
            );
            if !n.is_multiple_of(POINTS_PER_SEED) {
                eprintln!(
                    "note: RESWEEP_BENCH_RUNS={n} rounded up to {} (the grid has {POINTS_PER_SEED} runs per seed)",
                    n.div_ceil(POINTS_PER_SEED) * POINTS_PER_SEED
                );
            }
            Ok(n)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

struct Generated {
    time: Duration,
    threads: usize,
}

fn sweep_toml(seeds: usize) -> String {
    format!(
        r#"name = "{SWEEP_NAME}"
description = "Synthetic sweep of benches/aggregate.rs: pseudo-random records, nothing was trained"

[model]
depth = {DEPTH}
width = 64

[train]
steps = {STEPS}

[probe]
eval_every = {EVERY}
probe_every = {EVERY}

[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", "1/depth", 0.5, 1, 2]
seed = {{ start = 0, count = {seeds} }}
"#
    )
}

/// The synthetic sweep under `data_dir` (the runs directory), generated unless the
/// `COMPLETE` marker says it is already there.
fn ensure_sweep(data_dir: &Path, seeds: usize) -> Result<(SweepDir, Option<Generated>)> {
    let toml = sweep_toml(seeds);
    let spec = SweepSpec::parse(&toml, "synthetic.toml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let configs = spec.expand().map_err(|e| anyhow::anyhow!("{e}"))?;
    let runs = seeds * POINTS_PER_SEED;
    ensure!(
        configs.len() == runs,
        "the synthetic sweep expands to {} runs, not {runs}",
        configs.len()
    );
    let dir = SweepDir::new(data_dir, &spec.name);
    let stamp = format!("{GENERATOR}\nruns = {runs}\n");
    let marker = data_dir.join("COMPLETE");
    let started = data_dir.join("GENERATING");
    if fs::read_to_string(&marker).ok().as_deref() == Some(stamp.as_str())
        && dir.frozen_sweep().is_file()
    {
        return Ok((dir, None));
    }
    if fs::read_to_string(&started).ok().as_deref() == Some(stamp.as_str()) {
        println!(
            "resuming an interrupted generation in {}",
            data_dir.display()
        );
    } else if data_dir.exists() {
        println!("removing stale data in {}", data_dir.display());
        fs::remove_dir_all(data_dir)
            .with_context(|| format!("cannot remove {}", data_dir.display()))?;
    }
    fs::create_dir_all(dir.root())
        .with_context(|| format!("cannot create {}", dir.root().display()))?;
    write_atomic(&started, stamp.as_bytes())?;
    write_atomic(&dir.frozen_sweep(), toml.as_bytes())?;

    // Every run fsyncs four files: the work waits on the disk more than on the CPU, so
    // the pool is wider than the machine.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores * 4).max(8);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the generation threads")?;
    println!("generating {runs} runs in {} ...", dir.root().display());
    let done = AtomicUsize::new(0);
    let t = Instant::now();
    pool.install(|| {
        configs
            .par_iter()
            .enumerate()
            .try_for_each(|(i, cfg)| -> Result<()> {
                write_run(&dir, i, cfg)?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of((runs / 10).max(1)) || n == runs {
                    eprintln!(
                        "  {n}/{runs} runs written ({:.1} s)",
                        t.elapsed().as_secs_f64()
                    );
                }
                Ok(())
            })
    })?;
    let time = t.elapsed();
    write_atomic(&marker, stamp.as_bytes())?;
    fs::remove_file(&started).ok();
    Ok((dir, Some(Generated { time, threads })))
}

/// Writes one complete run the way the runner does (config, records, then the result);
/// a run whose result is already there is left alone (a resumed generation).
fn write_run(dir: &SweepDir, index: usize, cfg: &RunConfig) -> Result<()> {
    let id = cfg.run_id();
    let rd = dir.run(&id);
    if rd.result_file().is_file() {
        return Ok(());
    }
    rd.prepare(&id, cfg)?;
    let run = synthetic_run(index, cfg);
    let mut w = jsonl::Writer::open_at(&rd.steps_file(), 0, None)?;
    for s in &run.steps {
        w.append(s)?;
    }
    w.sync()?;
    let mut w = jsonl::Writer::open_at(&rd.layers_file(), 0, None)?;
    for l in &run.layers {
        w.append(l)?;
    }
    w.sync()?;
    let metrics = RunMetrics::from_records(cfg.depth, &run.steps, &run.layers, None);
    let secs = index % 86_400;
    rd.finish(&RunResult {
        schema_version: SCHEMA_VERSION,
        run_id: id,
        status: resweep::store::Outcome::Completed,
        config: cfg.clone(),
        metrics,
        fingerprints: fingerprints(cfg),
        param_count: cfg.param_count(),
        wall_time_s: run.wall_time_s,
        steps_per_s: run.steps.len() as f64 / run.wall_time_s,
        resumed: index.is_multiple_of(97),
        threads: 1,
        vectorize: 1,
        resweep_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: Some("ef909f5d0c3b8a7e61f2a9c4b5d6e7f8091a2b3c".into()),
        finished_at: format!(
            "2025-06-01T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ),
        seal: None,
    })?;
    Ok(())
}

struct SyntheticRun {
    steps: Vec<StepRecord>,
    layers: Vec<LayerRecord>,
    wall_time_s: f64,
}

/// Deterministic pseudo-random records shaped like the Distant Identity experiment (MSE
/// of the identity on `U(-1,1)` inputs, variance 1/3): a PlainMLP that barely learns
/// and whose gradients vanish (or explode, for large init scales) towards the input; a
/// ResMLP whose initial loss grows with the init scale and that learns the identity.
fn synthetic_run(index: usize, cfg: &RunConfig) -> SyntheticRun {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0000_0000 ^ index as u64);
    let depth = cfg.depth as f64;
    let scale = cfg.init_scale_value();
    let var = 1.0 / 3.0;
    let (initial, last, per_layer) = if cfg.residual {
        let initial = var * ((1.0 + 0.5 * scale * scale).powf(depth) - 1.0).clamp(0.02, 1e4);
        let last = 1e-2 * initial.min(1.0) * lognormal(&mut rng, 0.3);
        (initial, last, 1.0 + 0.05 * scale)
    } else {
        let initial = var * lognormal(&mut rng, 0.05);
        let last = initial * (0.55 + 0.35 * rng.random::<f64>());
        (initial, last, 0.5 + 0.5 * scale.min(3.0))
    };
    let tau = 60.0 + 120.0 * rng.random::<f64>();
    let curve = |t: usize| last + (initial - last) * (-(t as f64) / tau).exp();

    let mut steps = Vec::with_capacity(cfg.steps + 1);
    let mut layers = Vec::with_capacity((cfg.steps / cfg.probe_every + 2) * cfg.depth);
    let units = (cfg.batch_size * cfg.width) as f64;
    let weight_norm0 = scale * (2.0 * cfg.width as f64).sqrt();
    for t in 0..=cfg.steps {
        let end = t == cfg.steps;
        let loss = curve(t);
        steps.push(StepRecord {
            step: t,
            train_loss: Some(loss * lognormal(&mut rng, 0.15)),
            eval_loss: (t % cfg.eval_every == 0 || end).then(|| loss * lognormal(&mut rng, 0.02)),
            ..StepRecord::default()
        });
        if t % cfg.probe_every == 0 || end {
            let progress = 1.0 - (-(t as f64) / tau).exp();
            let top_grad = 0.1 * loss.sqrt() * lognormal(&mut rng, 0.2);
            for l in 1..=cfg.depth {
                let grad_norm =
                    top_grad * per_layer.powi((cfg.depth - l) as i32) * lognormal(&mut rng, 0.1);
                let act_std = if cfg.residual {
                    var.sqrt() * (1.0 + 0.5 * scale * scale).powf(l as f64 / 2.0)
                } else {
                    var.sqrt() * scale.powi(l as i32) * (1.0 + 0.5 * progress)
                } * lognormal(&mut rng, 0.05);
                let dead = (0.5 + 0.05 * normal(&mut rng)).clamp(0.0, 1.0);
                layers.push(LayerRecord {
                    step: t,
                    layer: l,
                    grad_norm,
                    bias_grad_norm: grad_norm * (0.05 + 0.05 * rng.random::<f64>()),
                    act_mean: act_std * (0.3 + 0.1 * normal(&mut rng)),
                    act_std,
                    sparsity: (dead * units).round() / units,
                    weight_norm: weight_norm0 * (1.0 + 0.1 * progress + 0.01 * normal(&mut rng)),
                    branch_ratio: Some(scale * lognormal(&mut rng, 0.1)),
                    update_ratio: (t < cfg.steps).then(|| 1e-3 * lognormal(&mut rng, 0.3)),
                    bias_update: (t < cfg.steps).then(|| 1e-3 * lognormal(&mut rng, 0.3)),
                    ..LayerRecord::default()
                });
            }
        }
    }
    SyntheticRun {
        steps,
        layers,
        wall_time_s: 6.0 + 4.0 * rng.random::<f64>(),
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

fn lognormal(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    (sigma * normal(rng)).exp()
}

/// SHA-256-like hex strings that depend on the seed only, as the real fingerprints do
/// (both arms of a seed share their init draws and data).
fn fingerprints(cfg: &RunConfig) -> Fingerprints {
    let hex = |salt: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ salt);
        (0..4)
            .map(|_| format!("{:016x}", rng.random::<u64>()))
            .collect::<String>()
    };
    Fingerprints {
        init_hash: hex(0x1417_0000_0000_0000),
        data_hash: hex(0xda7a_0000_0000_0000),
    }
}

// ---------------------------------------------------------------------------------------
// Collect and its peak memory
// ---------------------------------------------------------------------------------------

struct CollectFigures {
    wall: Duration,
    peak_rss: u64,
    rss_before: u64,
    method: &'static str,
    complete: usize,
    expected: usize,
    steps_rows: usize,
    layers_rows: usize,
}

/// Collects `dir` in this process when the peak RSS can be reset, else in a child.
fn measure_collect(dir: &SweepDir) -> Result<CollectFigures> {
    let isolate = std::env::var("RESWEEP_BENCH_ISOLATE").is_ok_and(|v| v == "1");
    if !isolate && reset_peak_rss() {
        let mut c = collect_here(dir)?;
        c.method = "VmHWM, reset via /proc/self/clear_refs before collect";
        return Ok(c);
    }
    let exe = std::env::current_exe().context("cannot find this benchmark's executable")?;
    let out = Command::new(exe)
        .arg("--collect-child")
        .arg(dir.root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start the child process that collects")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "the child process that collects failed ({}): {text}",
        out.status
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .with_context(|| format!("the collecting child printed no figures: {text}"))?;
    let f: Vec<u128> = line
        .split_whitespace()
        .map(|w| w.parse::<u128>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad figures from the collecting child: {line}"))?;
    ensure!(
        f.len() == 7,
        "bad figures from the collecting child: {line}"
    );
    Ok(CollectFigures {
        wall: Duration::from_nanos(f[0] as u64),
        peak_rss: f[1] as u64,
        rss_before: f[2] as u64,
        method: if isolate {
            "VmHWM of a child process that only collects (RESWEEP_BENCH_ISOLATE=1)"
        } else {
            "VmHWM of a child process that only collects (clear_refs reset unavailable)"
        },
        complete: f[3] as usize,
        expected: f[4] as usize,
        steps_rows: f[5] as usize,
        layers_rows: f[6] as usize,
    })
}

/// `--collect-child DIR`: collect, then print the figures on one line.
fn collect_child(root: &Path) -> Result<()> {
    let dir = SweepDir::open(root)?;
    let c = collect_here(&dir)?;
    println!(
        "CHILD {} {} {} {} {} {} {}",
        c.wall.as_nanos(),
        c.peak_rss,
        c.rss_before,
        c.complete,
        c.expected,
        c.steps_rows,
        c.layers_rows
    );
    Ok(())
}

fn collect_here(dir: &SweepDir) -> Result<CollectFigures> {
    let rss_before = proc_status_bytes("VmRSS")?;
    let t = Instant::now();
    let c = analysis::collect(dir).context("collect failed")?;
    let wall = t.elapsed();
    let peak_rss = proc_status_bytes("VmHWM")?;
    Ok(CollectFigures {
        wall,
        peak_rss,
        rss_before,
        method: "VmHWM",
        complete: c.complete(),
        expected: c.expected,
        steps_rows: c.steps_rows,
        layers_rows: c.layers_rows,
    })
}

/// Resets this process's peak RSS to its current RSS (Linux: `5` to `clear_refs`) and
/// checks that the reset took effect.
fn reset_peak_rss() -> bool {
    if fs::write("/proc/self/clear_refs", "5").is_err() {
        return false;
    }
    match (proc_status_bytes("VmHWM"), proc_status_bytes("VmRSS")) {
        // The RSS may grow a little between the two reads.
        (Ok(hwm), Ok(rss)) => hwm <= rss + (4 << 20),
        _ => false,
    }
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status")
        .context("cannot read /proc/self/status (the benchmark measures memory on Linux)")?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("bad {field} line in /proc/self/status: {line}"))?;
            return Ok(kb * 1024);
        }
    }
    bail!("/proc/self/status has no {field}")
}

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

/// Files and bytes under `path`.
fn dir_size(path: &Path) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in fs::read_dir(&p).with_context(|| format!("cannot list {}", p.display()))? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "OVER TARGET"
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.2} {unit}")
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
