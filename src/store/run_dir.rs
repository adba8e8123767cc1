//! One run's directory: its files, its status, its lock, its seal, and the moving aside
//! of damaged files before a repair.
//!
//! A run is complete only when `result.json` exists and its [`Seal`] verifies: the
//! byte length and SHA-256 of every file in [`SEALED_FILES`] it wrote and of `result.json`
//! itself. A partial run is resumable only when its checkpoint's checksum and the
//! digests it recorded of the metrics it continues verify. Anything else is
//! [`RunStatus::Damaged`], naming the file and what is wrong.

use super::checkpoint::Checkpoint;
use super::jsonl;
use super::seal::{sha256_hex, Damage, FileSeal, Seal};
use super::{write_atomic, write_json_atomic};
use crate::config::{RunConfig, SCHEMA_VERSION};
use crate::experiment::probes::RunProbes;
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
    pub status: Outcome,
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
    /// Lengths and SHA-256 of the files the run's results are read from, and of this
    /// file; set by [`RunDir::finish`]. `None` only in results written by a resweep
    /// before seals, which count as damaged (a rerun repairs them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

/// How a finished run ended (`result.json`'s `status`, the runs table's `status` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every step done.
    Completed,
    /// The loss became non-finite (a finding, not an error).
    Diverged,
}

impl Outcome {
    /// The word as stored (`completed`, `diverged`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Diverged => "diverged",
        }
    }
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
    /// A file the run's results or its resume depend on does not verify; `resweep run`
    /// moves the damaged files aside and trains the run again.
    Damaged {
        /// Which file, and what is wrong with it.
        damage: Damage,
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
            RunStatus::Damaged { .. } => "damaged",
        }
    }

    /// Training steps done of a run of `total` steps: all of them once it is done
    /// (diverged too), its checkpoint's step while partial, else none.
    pub fn steps_done(&self, total: usize) -> usize {
        match self {
            RunStatus::Done { .. } => total,
            RunStatus::Partial { step } => *step,
            RunStatus::Pending | RunStatus::Failed { .. } | RunStatus::Damaged { .. } => 0,
        }
    }
}

/// The files every finished run has, sealed in `result.json`.
pub const REQUIRED_SEALED: [&str; 3] = [CONFIG_FILE, STEPS_FILE, LAYERS_FILE];

/// Every file a finished run may have, sealed in `result.json` when the run wrote it: a
/// probe that writes a file of its own adds its name here. A seal covers the files that
/// existed when the run finished, so a run finished before a file was added stays
/// complete (it just lacks that file).
pub const SEALED_FILES: [&str; 6] = [
    CONFIG_FILE,
    STEPS_FILE,
    LAYERS_FILE,
    WEIGHTS_INIT_FILE,
    WEIGHTS_FINAL_FILE,
    PROBES_FILE,
];

const CONFIG_FILE: &str = "config.json";
const STEPS_FILE: &str = "steps.jsonl";
const LAYERS_FILE: &str = "layers.jsonl";
const WEIGHTS_INIT_FILE: &str = "weights_init.safetensors";
const WEIGHTS_FINAL_FILE: &str = "weights_final.safetensors";
const PROBES_FILE: &str = "probes.json";
const CHECKPOINT_FILE: &str = "checkpoint.bin";
const RESULT_FILE: &str = "result.json";

/// Where damaged files are moved, inside the run directory.
const DAMAGED_DIR: &str = "damaged";

/// A complete run, read from files whose seal verified.
#[derive(Debug)]
pub struct SealedRun {
    /// `result.json`.
    pub result: RunResult,
    /// The step records.
    pub steps: Vec<StepRecord>,
    /// The layer records.
    pub layers: Vec<LayerRecord>,
    /// The micro-world probes (`probes.json`), for runs that recorded them.
    pub probes: Option<RunProbes>,
}

/// The directory of one run.
#[derive(Clone, Debug)]
pub struct RunDir {
    dir: PathBuf,
    /// The run id this directory must hold (a sweep's run directories are named by it);
    /// `None` for a directory given by path (`resweep train --out DIR`).
    expected_id: Option<String>,
}

/// Now, as RFC 3339 UTC seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl RunDir {
    /// The run directory at `dir` (not created).
    pub fn new(dir: PathBuf) -> RunDir {
        RunDir {
            dir,
            expected_id: None,
        }
    }

    /// The directory of run `run_id` at `dir`: its result must be that run's.
    pub fn of_run(dir: PathBuf, run_id: &str) -> RunDir {
        RunDir {
            dir,
            expected_id: Some(run_id.to_string()),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `config.json`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }
    /// `steps.jsonl`.
    pub fn steps_file(&self) -> PathBuf {
        self.dir.join(STEPS_FILE)
    }
    /// `layers.jsonl`.
    pub fn layers_file(&self) -> PathBuf {
        self.dir.join(LAYERS_FILE)
    }
    /// `checkpoint.bin`.
    pub fn checkpoint_file(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }
    /// `result.json`.
    pub fn result_file(&self) -> PathBuf {
        self.dir.join(RESULT_FILE)
    }
    /// `weights_init.safetensors`: the initial weights.
    pub fn weights_init_file(&self) -> PathBuf {
        self.dir.join(WEIGHTS_INIT_FILE)
    }
    /// `weights_final.safetensors`: the weights after the last step.
    pub fn weights_final_file(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FINAL_FILE)
    }
    /// `probes.json`: the micro-world probes at step 0 and the last step.
    pub fn probes_file(&self) -> PathBuf {
        self.dir.join(PROBES_FILE)
    }
    /// `damaged/`: damaged files moved aside, one subdirectory per repair.
    pub fn damaged_dir(&self) -> PathBuf {
        self.dir.join(DAMAGED_DIR)
    }
    /// `failed.json`.
    pub fn failed_file(&self) -> PathBuf {
        self.dir.join("failed.json")
    }

    /// The run's status as its files tell it: every seal and checksum is verified.
    pub fn status(&self) -> RunStatus {
        if let Some(settled) = self.settled() {
            // A failed run keeps its checkpoint for `--retry-failed`: it must verify too.
            if matches!(settled, RunStatus::Failed { .. }) && self.checkpoint_file().exists() {
                if let Err(damage) = self.verified_checkpoint() {
                    return RunStatus::Damaged { damage };
                }
            }
            return settled;
        }
        // The run had finished (its final weights are written just before the seal) but
        // its result is gone: its records are complete, so they are set aside, not
        // truncated, before it trains again.
        if self.weights_final_file().exists() {
            return RunStatus::Damaged {
                damage: Damage::new(
                    RESULT_FILE,
                    "missing, though the run had finished (its final weights exist)",
                ),
            };
        }
        if self.checkpoint_file().is_file() {
            return match self.verified_checkpoint() {
                Ok(c) => RunStatus::Partial { step: c.state.step },
                Err(damage) => RunStatus::Damaged { damage },
            };
        }
        if self.steps_file().is_file() {
            return RunStatus::Partial { step: 0 };
        }
        RunStatus::Pending
    }

    /// The run's status when it is settled ([`RunStatus::Done`] or
    /// [`RunStatus::Failed`], or [`RunStatus::Damaged`] when `result.json` exists but its
    /// seal does not verify, exactly as [`RunDir::status`] reports them), else `None`.
    /// Unlike `status`, it never reads the checkpoint.
    pub fn settled(&self) -> Option<RunStatus> {
        if self.result_file().exists() {
            return Some(match self.check_seal() {
                Ok(r) => RunStatus::Done {
                    diverged: r.status == Outcome::Diverged,
                },
                Err(damage) => RunStatus::Damaged { damage },
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

    /// Writes the run's initial and final weights (`weights_init.safetensors`,
    /// `weights_final.safetensors`), atomically, before the run is sealed.
    pub fn write_weights(
        &self,
        init: &[f32],
        last: &[f32],
        meta: &super::weights::WeightsMeta,
    ) -> anyhow::Result<()> {
        let at_init = super::weights::WeightsMeta {
            step: 0,
            ..meta.clone()
        };
        write_atomic(
            &self.weights_init_file(),
            &super::weights::encode(init, &at_init)?,
        )?;
        write_atomic(
            &self.weights_final_file(),
            &super::weights::encode(last, meta)?,
        )?;
        Ok(())
    }

    /// Writes the run's micro-world probes (`probes.json`), atomically, before the run is
    /// sealed.
    pub fn write_probes(&self, probes: &RunProbes) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec(probes)?;
        bytes.push(b'\n');
        Ok(write_atomic(&self.probes_file(), &bytes)?)
    }

    /// Seals `result` with the files on disk, writes it as `result.json` (last,
    /// atomically) and removes the checkpoint, which a complete run no longer needs.
    /// Returns the sealed result as written.
    pub fn finish(&self, result: &RunResult) -> anyhow::Result<RunResult> {
        let mut files = std::collections::BTreeMap::new();
        for name in SEALED_FILES {
            let path = self.dir.join(name);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && !REQUIRED_SEALED.contains(&name) =>
                {
                    continue
                }
                Err(e) => anyhow::bail!("cannot seal {}: {e}", path.display()),
            };
            files.insert(name.to_string(), FileSeal::of(&bytes));
        }
        let mut sealed = result.clone();
        sealed.seal = Some(Seal {
            files,
            result_sha256: String::new(),
        });
        let digest = sha256_hex(&result_bytes(&sealed)?);
        if let Some(seal) = sealed.seal.as_mut() {
            seal.result_sha256 = digest;
        }
        write_atomic(&self.result_file(), &result_bytes(&sealed)?)?;
        let _ = fs::remove_file(self.checkpoint_file());
        Ok(sealed)
    }

    /// Reads `result.json` and verifies the whole seal (every sealed file's length and
    /// SHA-256, and the result's own digest) without parsing the metrics.
    pub fn check_seal(&self) -> Result<RunResult, Damage> {
        self.walk_seal(|_, _| {})
    }

    /// Reads a complete run for aggregation: the result and its records, parsed from the
    /// very bytes whose seal verified (a run's rows are used whole or not at all).
    pub fn read_sealed(&self) -> Result<SealedRun, Damage> {
        let (mut steps, mut layers, mut probes) = (Vec::new(), Vec::new(), None);
        let result = self.walk_seal(|name, bytes| match name {
            STEPS_FILE => steps = bytes,
            LAYERS_FILE => layers = bytes,
            PROBES_FILE => probes = Some(bytes),
            _ => {}
        })?;
        let probes = probes
            .map(|b| serde_json::from_slice::<RunProbes>(&b))
            .transpose()
            .map_err(|e| {
                Damage::new(
                    PROBES_FILE,
                    format!("not the probes this version reads: {e}"),
                )
            })?;
        let steps = jsonl::parse(&steps, &self.steps_file())
            .map_err(|e| Damage::new(STEPS_FILE, format!("{e:#}")))?
            .rows;
        let layers = jsonl::parse(&layers, &self.layers_file())
            .map_err(|e| Damage::new(LAYERS_FILE, format!("{e:#}")))?
            .rows;
        Ok(SealedRun {
            result,
            steps,
            layers,
            probes,
        })
    }

    /// Reads `result.json`, verifies every file its seal covers (and that config.json
    /// holds the result's run), handing each file's verified bytes to `visit`.
    fn walk_seal(&self, mut visit: impl FnMut(&str, Vec<u8>)) -> Result<RunResult, Damage> {
        let result = self.sealed_result()?;
        let seal = result.seal.as_ref().expect("sealed_result checks the seal");
        for name in seal.files.keys() {
            let bytes = self.read_sealed_file(seal, name)?;
            if name == CONFIG_FILE {
                check_config(&bytes, &result)?;
            }
            visit(name, bytes);
        }
        Ok(result)
    }

    /// `result.json`, parsed, with a seal whose own digest verifies.
    fn sealed_result(&self) -> Result<RunResult, Damage> {
        let bytes = fs::read(self.result_file())
            .map_err(|e| Damage::new(RESULT_FILE, format!("cannot be read ({e})")))?;
        let result: RunResult = serde_json::from_slice(&bytes)
            .map_err(|e| Damage::new(RESULT_FILE, format!("not a run result ({e})")))?;
        if result.schema_version != SCHEMA_VERSION {
            return Err(Damage::new(
                RESULT_FILE,
                format!(
                    "schema version {} (this resweep reads {SCHEMA_VERSION})",
                    result.schema_version
                ),
            ));
        }
        let Some(seal) = &result.seal else {
            return Err(Damage::new(
                RESULT_FILE,
                "has no seal (written by a resweep before run seals); a rerun repairs it",
            ));
        };
        if let Some(missing) = REQUIRED_SEALED
            .iter()
            .find(|f| !seal.files.contains_key(**f))
        {
            return Err(Damage::new(
                RESULT_FILE,
                format!("its seal does not cover {missing}"),
            ));
        }
        let mut blank = result.clone();
        if let Some(s) = blank.seal.as_mut() {
            s.result_sha256 = String::new();
        }
        let rewritten =
            |r: &RunResult| result_bytes(r).map_err(|e| Damage::new(RESULT_FILE, e.to_string()));
        if sha256_hex(&rewritten(&blank)?) != seal.result_sha256 || rewritten(&result)? != bytes {
            return Err(Damage::new(
                RESULT_FILE,
                "content changed: it does not match its own seal",
            ));
        }
        if self
            .expected_id
            .as_ref()
            .is_some_and(|id| *id != result.run_id)
        {
            return Err(Damage::new(
                RESULT_FILE,
                format!("holds the result of run {}", result.run_id),
            ));
        }
        Ok(result)
    }

    /// The bytes of one sealed file, checked against the seal.
    fn read_sealed_file(&self, seal: &Seal, name: &str) -> Result<Vec<u8>, Damage> {
        let want = seal
            .files
            .get(name)
            .ok_or_else(|| Damage::new(RESULT_FILE, format!("its seal does not cover {name}")))?;
        let bytes = fs::read(self.dir.join(name)).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "missing".to_string()
            } else {
                format!("cannot be read ({e})")
            };
            Damage::new(name, what)
        })?;
        want.check(&bytes).map_err(|what| Damage::new(name, what))?;
        Ok(bytes)
    }

    /// The checkpoint, verified: its own checksum, its run configuration, and the digests
    /// it recorded of the metrics it continues.
    pub fn verified_checkpoint(&self) -> Result<Checkpoint, Damage> {
        let bytes = fs::read(self.checkpoint_file())
            .map_err(|e| Damage::new(CHECKPOINT_FILE, format!("cannot be read ({e})")))?;
        let c = Checkpoint::decode(&bytes).map_err(|e| Damage::new(CHECKPOINT_FILE, e))?;
        let config = fs::read(self.config_file())
            .map_err(|e| Damage::new(CONFIG_FILE, format!("cannot be read ({e})")))?;
        if let Err(e) = serde_json::from_slice::<RunConfigFile>(&config) {
            return Err(Damage::new(
                CONFIG_FILE,
                format!("unreadable run config ({e})"),
            ));
        }
        for (name, len, digest) in [
            (STEPS_FILE, c.steps_len, &c.steps_sha256),
            (LAYERS_FILE, c.layers_len, &c.layers_sha256),
        ] {
            match jsonl::prefix_digest(&self.dir.join(name), len) {
                Ok(d) if &d == digest => {}
                Ok(_) => {
                    return Err(Damage::new(
                        name,
                        format!("content changed: its first {len} bytes differ from what the checkpoint recorded"),
                    ))
                }
                Err(e) => return Err(Damage::new(name, format!("{e:#}"))),
            }
        }
        Ok(c)
    }

    /// Moves the files of a damaged run aside, into `damaged/<n>/` inside the run
    /// directory (never deleting anything), with `damage.txt` saying why; the run then
    /// starts afresh. `config.json` moves only when it is the damaged file (it is
    /// rewritten from the sweep). Returns the directory the files went to.
    pub fn set_aside(&self, damage: &Damage) -> anyhow::Result<PathBuf> {
        let root = self.damaged_dir();
        fs::create_dir_all(&root)?;
        let mut n = 1usize;
        let aside = loop {
            let candidate = root.join(n.to_string());
            match fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "cannot create {}: {e}",
                        candidate.display()
                    ))
                }
            }
        };
        let mut moving: Vec<&str> = SEALED_FILES
            .iter()
            .copied()
            .filter(|&f| f != CONFIG_FILE || damage.file == CONFIG_FILE)
            .collect();
        moving.extend([RESULT_FILE, CHECKPOINT_FILE]);
        for name in moving {
            let from = self.dir.join(name);
            if from.exists() {
                fs::rename(&from, aside.join(name))
                    .map_err(|e| anyhow::anyhow!("cannot move {} aside: {e}", from.display()))?;
            }
        }
        write_atomic(
            &aside.join("damage.txt"),
            format!(
                "{damage}\nmoved aside at {} before the run was trained again\n",
                now_rfc3339()
            )
            .as_bytes(),
        )?;
        Ok(aside)
    }
}

/// `config.json`'s bytes hold the configuration and id of `result`'s run.
fn check_config(bytes: &[u8], result: &RunResult) -> Result<(), Damage> {
    let config: RunConfigFile = serde_json::from_slice(bytes)
        .map_err(|e| Damage::new(CONFIG_FILE, format!("unreadable run config ({e})")))?;
    if config.run_id != result.run_id || config.config != result.config {
        return Err(Damage::new(
            CONFIG_FILE,
            format!("holds another run's configuration ({})", config.run_id),
        ));
    }
    Ok(())
}

/// `result.json` as written: pretty JSON and a newline.
fn result_bytes(r: &RunResult) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(r)?;
    text.push(b'\n');
    Ok(text)
}
