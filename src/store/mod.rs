//! Everything on disk under the runs directory: every path is built here, every write
//! that marks progress is atomic, and every read of a run directory tolerates a crash at
//! any moment.
//!
//! ```text
//! <runs>/<sweep>/sweep.toml                 frozen copy of the sweep as first launched
//! <runs>/<sweep>/runs/<run_id>/config.json  the expanded run configuration
//! <runs>/<sweep>/runs/<run_id>/steps.jsonl  one line per step (append-only)
//! <runs>/<sweep>/runs/<run_id>/layers.jsonl one line per (probe step, layer)
//! <runs>/<sweep>/runs/<run_id>/checkpoint.bin  weights, optimizer state, step, file offsets
//! <runs>/<sweep>/runs/<run_id>/weights_{init,final}.safetensors  the run's weights
//! <runs>/<sweep>/runs/<run_id>/result.json  written last, atomically, with the seal (length
//!                                           and SHA-256) of every file above: the run is
//!                                           complete when its seal verifies
//! <runs>/<sweep>/runs/<run_id>/failed.json  the reason a run failed (removed on retry)
//! <runs>/<sweep>/runs/<run_id>/damaged/<n>/ damaged files moved aside before a repair
//! <runs>/<sweep>/tables/*.parquet, plots/*.png, report.md
//! <runs>/<sweep>/landscape/<run_id>.<init|final>.json  loss-landscape slices (`resweep landscape`)
//! <runs>/<sweep>/slurm/*.sbatch, slurm.json, logs/  written by `resweep slurm`
//! ```

pub mod checkpoint;
pub mod jsonl;
pub mod run_dir;
pub mod seal;
pub mod weights;

pub use run_dir::{Outcome, RunDir, RunResult, RunStatus, SealedRun};
pub use seal::Damage;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory of one sweep's outputs.
#[derive(Clone, Debug)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// `<runs_dir>/<name>`; the name was validated by the sweep parser (no separators).
    pub fn new(runs_dir: &Path, name: &str) -> SweepDir {
        SweepDir {
            root: runs_dir.join(name),
        }
    }

    /// An existing sweep directory given by path (for `aggregate`, `query`, `report`...).
    pub fn open(path: &Path) -> anyhow::Result<SweepDir> {
        let dir = SweepDir {
            root: path.to_path_buf(),
        };
        anyhow::ensure!(
            dir.frozen_sweep().is_file(),
            "{} is not a sweep directory: it has no sweep.toml (run `resweep run` first, or pass the directory under runs/ that `resweep run` printed)",
            path.display()
        );
        Ok(dir)
    }

    /// The sweep directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The frozen copy of the sweep file.
    pub fn frozen_sweep(&self) -> PathBuf {
        self.root.join("sweep.toml")
    }

    /// The directory holding one directory per run.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The directory of one run.
    pub fn run(&self, run_id: &str) -> RunDir {
        RunDir::of_run(self.runs().join(run_id), run_id)
    }

    /// Parquet tables.
    pub fn tables(&self) -> PathBuf {
        self.root.join("tables")
    }

    /// Figures.
    pub fn plots(&self) -> PathBuf {
        self.root.join("plots")
    }

    /// Loss-landscape slices (`resweep landscape`), one file per run and weights.
    pub fn landscape(&self) -> PathBuf {
        self.root.join("landscape")
    }

    /// The markdown report.
    pub fn report(&self) -> PathBuf {
        self.root.join("report.md")
    }

    /// The Slurm scripts (`resweep slurm`).
    pub fn slurm(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// The Slurm jobs' logs.
    pub fn slurm_logs(&self) -> PathBuf {
        self.slurm().join("logs")
    }

    /// `slurm.json`: how the sweep was split into array tasks.
    pub fn slurm_plan(&self) -> PathBuf {
        self.slurm().join("slurm.json")
    }

    /// Locks the sweep's tables: exclusive for a writer (aggregation and report), shared for
    /// readers (query, compare). Blocks until granted; released when the file is dropped.
    /// Without it, a reader could open a parquet file between two renames of a concurrent
    /// aggregation (two `resweep run` finishing together, Slurm shards) and see a mix.
    pub fn lock_tables(&self, exclusive: bool) -> anyhow::Result<fs::File> {
        fs::create_dir_all(&self.root)?;
        let path = self.root.join(".tables.lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        if exclusive {
            f.lock()?;
        } else {
            f.lock_shared()?;
        }
        Ok(f)
    }

    /// Ids of every run directory present on disk, sorted.
    pub fn run_ids_on_disk(&self) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::new();
        match fs::read_dir(self.runs()) {
            Ok(entries) => {
                for e in entries {
                    let e = e?;
                    if e.file_type()?.is_dir() {
                        if let Some(name) = e.file_name().to_str() {
                            ids.push(name.to_string());
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ids.sort();
        Ok(ids)
    }
}

/// A unique temporary name next to `path` (`.<name>.tmp-<pid>-<nanos>-<n>`): unique per
/// process, per call and, in practice, per host, so that processes on several machines
/// writing into one shared runs directory (Slurm shards) never share a temporary file.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{nanos}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. Readers see the old file or the new one, never a
/// torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Nothing half-written is left behind (a full disk, a directory in the way).
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Atomically writes pretty JSON.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    write_atomic(path, &text)?;
    Ok(())
}
