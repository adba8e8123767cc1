//! One run's directory: its files, its status, its lock, and the observer that records a
//! training run into it.

use super::checkpoint::Checkpoint;
use super::jsonl;
use super::{write_atomic, write_json_atomic};
use crate::config::{RunConfig, SCHEMA_VERSION};
use crate::experiment::{Fingerprints, LayerRecord, RunMetrics, StepRecord};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// `config.json`: the run's configuration as expanded from the sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfigFile {
    /// Layout version of the run directory.
    pub schema_version: u32,
    /// The run's id (directory name).
    pub run_id: String,
    /// The configuration.
    pub config: RunConfig,
}

/// `result.json`: written last and atomically; its presence means "complete".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Layout version of the run directory.
    pub schema_version: u32,
    /// The run's id.
    pub run_id: String,
    /// `completed`, or `diverged` when the loss became non-finite.
    pub status: String,
    /// The configuration.
    pub config: RunConfig,
    /// Headline metrics, computed from the metrics files.
    pub metrics: RunMetrics,
    /// Init and data hashes for the fairness audit.
    pub fingerprints: Fingerprints,
    /// Number of trainable parameters.
    pub param_count: usize,
    /// Seconds spent training, summed over every session of the run.
    pub wall_time_s: f64,
    /// Steps recorded per second of training.
    pub steps_per_s: f64,
    /// The run's last session continued from a checkpoint (it had been interrupted).
    pub resumed: bool,
    /// Threads the run's math used.
    pub threads: usize,
    /// Runs trained together in one batched graph (1 = alone).
    pub vectorize: usize,
    /// resweep version that finished the run.
    pub resweep_version: String,
    /// Git commit resweep was built from, when known.
    pub git_commit: Option<String>,
    /// When the run finished (RFC 3339, UTC).
    pub finished_at: String,
}

/// `failed.json`: why a run failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The run's id.
    pub run_id: String,
    /// The error, as a sentence.
    pub reason: String,
    /// When it failed (RFC 3339, UTC).
    pub at: String,
}

/// What a run directory says about its run.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// No directory, or nothing recorded yet.
    Pending,
    /// Started; resumable from the checkpoint at this step (0 = restarts from scratch).
    Partial {
        /// Step of the last checkpoint.
        step: usize,
    },
    /// Complete: `result.json` exists.
    Done {
        /// The loss became non-finite (a finding, not an error).
        diverged: bool,
    },
    /// The last attempt failed; `--retry-failed` runs it again.
    Failed {
        /// Why.
        reason: String,
    },
}

impl RunStatus {
    /// One word for tables.
    pub fn word(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Partial { .. } => "partial",
            RunStatus::Done { diverged: false } => "done",
            RunStatus::Done { diverged: true } => "diverged",
            RunStatus::Failed { .. } => "failed",
        }
    }

    /// Training steps done of a run of `total` steps: all of them once it is done
    /// (diverged too), its checkpoint's step while partial, else none.
    pub fn steps_done(&self, total: usize) -> usize {
        match self {
            RunStatus::Done { .. } => total,
            RunStatus::Partial { step } => *step,
            RunStatus::Pending | RunStatus::Failed { .. } => 0,
        }
    }
}

/// The directory of one run.
#[derive(Clone, Debug)]
pub struct RunDir {
    dir: PathBuf,
}

/// Now, as RFC 3339 UTC seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl RunDir {
    /// The run directory at `dir` (not created).
    pub fn new(dir: PathBuf) -> RunDir {
        RunDir { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `config.json`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// `steps.jsonl`.
    pub fn steps_file(&self) -> PathBuf {
        self.dir.join("steps.jsonl")
    }
    /// `layers.jsonl`.
    pub fn layers_file(&self) -> PathBuf {
        self.dir.join("layers.jsonl")
    }
    /// `checkpoint.bin`.
    pub fn checkpoint_file(&self) -> PathBuf {
        self.dir.join("checkpoint.bin")
    }
    /// `result.json`.
    pub fn result_file(&self) -> PathBuf {
        self.dir.join("result.json")
    }
    /// `failed.json`.
    pub fn failed_file(&self) -> PathBuf {
        self.dir.join("failed.json")
    }

    /// The run's status as its files tell it.
    pub fn status(&self) -> RunStatus {
        if let Some(settled) = self.settled() {
            return settled;
        }
        if self.checkpoint_file().is_file() {
            let step = self.read_checkpoint().map(|c| c.state.step).unwrap_or(0);
            return RunStatus::Partial { step };
        }
        if self.steps_file().is_file() {
            return RunStatus::Partial { step: 0 };
        }
        RunStatus::Pending
    }

    /// The run's status when it is settled ([`RunStatus::Done`] or [`RunStatus::Failed`],
    /// exactly as [`RunDir::status`] reports them), else `None`. Unlike `status`, it never
    /// reads the checkpoint.
    pub fn settled(&self) -> Option<RunStatus> {
        if let Ok(r) = self.read_result() {
            return Some(RunStatus::Done {
                diverged: r.status == "diverged",
            });
        }
        if let Ok(text) = fs::read_to_string(self.failed_file()) {
            let reason = serde_json::from_str::<RunFailure>(&text)
                .map(|f| f.reason)
                .unwrap_or_else(|_| "unreadable failed.json".into());
            return Some(RunStatus::Failed { reason });
        }
        None
    }

    /// Reads `result.json`.
    pub fn read_result(&self) -> anyhow::Result<RunResult> {
        let path = self.result_file();
        let text = fs::read_to_string(&path)?;
        let r: RunResult = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: unreadable run result ({e})", path.display()))?;
        anyhow::ensure!(
            r.schema_version == SCHEMA_VERSION,
            "{}: schema version {} (this resweep reads {})",
            path.display(),
            r.schema_version,
            SCHEMA_VERSION
        );
        Ok(r)
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> anyhow::Result<RunConfigFile> {
        let path = self.config_file();
        let text =
            fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: unreadable run config ({e})", path.display()))
    }

    /// Reads and verifies `checkpoint.bin`.
    pub fn read_checkpoint(&self) -> anyhow::Result<Checkpoint> {
        let path = self.checkpoint_file();
        let bytes = fs::read(&path)?;
        Checkpoint::decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Atomically writes `checkpoint.bin`.
    pub fn write_checkpoint(&self, c: &Checkpoint) -> anyhow::Result<()> {
        write_atomic(&self.checkpoint_file(), &c.encode())?;
        Ok(())
    }

    /// Creates the directory and writes `config.json`, or checks that an existing one
    /// holds the same configuration.
    pub fn prepare(&self, run_id: &str, config: &RunConfig) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let want = RunConfigFile {
            schema_version: SCHEMA_VERSION,
            run_id: run_id.to_string(),
            config: config.clone(),
        };
        if self.config_file().is_file() {
            let have = self.read_config()?;
            anyhow::ensure!(
                have == want,
                "{} holds a different configuration than run {run_id}; move the directory away to rerun it",
                self.config_file().display()
            );
            return Ok(());
        }
        write_json_atomic(&self.config_file(), &want)
    }

    /// Reads the step and layer records.
    pub fn read_records(&self) -> anyhow::Result<(Vec<StepRecord>, Vec<LayerRecord>)> {
        Ok((
            jsonl::read(&self.steps_file())?.rows,
            jsonl::read(&self.layers_file())?.rows,
        ))
    }

    /// Records a failure (atomically).
    pub fn write_failure(&self, run_id: &str, reason: &str) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        write_json_atomic(
            &self.failed_file(),
            &RunFailure {
                run_id: run_id.to_string(),
                reason: reason.to_string(),
                at: now_rfc3339(),
            },
        )
    }

    /// Forgets a failure before a retry.
    pub fn clear_failure(&self) -> anyhow::Result<()> {
        match fs::remove_file(self.failed_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Takes the run's exclusive lock without waiting; `None` when another process (or
    /// worker) holds it. The lock is released when the file is dropped.
    pub fn try_lock(&self) -> anyhow::Result<Option<fs::File>> {
        fs::create_dir_all(&self.dir)?;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }

    /// Writes `result.json` (last, atomically) and removes the checkpoint, which a
    /// complete run no longer needs.
    pub fn finish(&self, result: &RunResult) -> anyhow::Result<()> {
        write_json_atomic(&self.result_file(), result)?;
        let _ = fs::remove_file(self.checkpoint_file());
        Ok(())
    }
}
