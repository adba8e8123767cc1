//! The training loop of one run: fresh or resumed, instrumented, cancellable, and
//! silent — it reports through an [`Observer`] and never prints.
//!
//! Step `t` (0 ≤ t ≤ steps) means "the parameters after `t` updates". At every step the
//! loop records the training loss on batch `t`; at step 0, every `eval_every` steps, at
//! the early steps [`EARLY_EVALS`] below `eval_every` and at the last step the eval loss; at step 0, every `probe_every` steps and at the last
//! step the per-layer probes. Then, unless `t = steps`, it applies update `t + 1`.
//! Every eval also splits the eval loss into its constant offset and its input-dependent
//! part, and an eval at a probe step adds each layer's unit statistics over the eval
//! batch (dead units, activity, underflow; see [`super::units`]).

use super::kernels::FlushDenormals;
use super::model::{self, Arch, LayerStats};
use super::optim::{OptimizerState, UpdateSize};
use super::streams;
use super::units::{self, EvalProbe, ACTIVITY_BINS};
use crate::config::RunConfig;
use serde::{Deserialize, Serialize};

/// One row of a run's step metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Number of updates applied so far.
    pub step: usize,
    /// MSE on this step's training batch (null when not finite).
    pub train_loss: Option<f64>,
    /// MSE on the held-out eval batch, when evaluated at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f64>,
    /// The constant offset of the eval loss: the squared per-unit mean error, averaged
    /// over units (with `eval_loss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_offset: Option<f64>,
    /// The input-dependent part of the eval loss: the per-unit variance of the error over
    /// the eval inputs, averaged over units; `eval_offset + eval_input_dependent` is
    /// `eval_loss` up to rounding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_input_dependent: Option<f64>,
}

/// A statistic JSON wrote as `null` reads back as NaN: serde_json writes NaN and ±inf as
/// `null` (JSON has no such numbers), and a diverging run's last probe can hold them.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One row of a run's per-layer probes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Step of the probe.
    pub step: usize,
    /// Layer number, 1 (next to the input) to depth (next to the loss).
    pub layer: usize,
    /// L2 norm of the weight gradient.
    #[serde(deserialize_with = "nan_if_null")]
    pub grad_norm: f64,
    /// L2 norm of the bias gradient.
    #[serde(deserialize_with = "nan_if_null")]
    pub bias_grad_norm: f64,
    /// Mean of the layer's output over batch and units.
    #[serde(deserialize_with = "nan_if_null")]
    pub act_mean: f64,
    /// Standard deviation of the layer's output over batch and units.
    #[serde(deserialize_with = "nan_if_null")]
    pub act_std: f64,
    /// Fraction of the layer's ReLU outputs that are zero on the probe's training batch:
    /// sparsity, not death (zeros from f32 underflow included; see `underflow`). Read
    /// from older files' `dead_frac`.
    #[serde(alias = "dead_frac", deserialize_with = "nan_if_null")]
    pub sparsity: f64,
    /// L2 norm of the layer's weights.
    #[serde(deserialize_with = "nan_if_null")]
    pub weight_norm: f64,
    /// Fraction of the layer's units off for every eval input (recorded where the probe
    /// step is also an eval step, as are the fields below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_units: Option<f64>,
    /// Fraction of the layer's units on for every eval input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_on_units: Option<f64>,
    /// Fraction of the layer's units per activity bin: bin `k` holds the units on for a
    /// fraction in `[k/10, (k+1)/10)` of the eval inputs (the last bin includes 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<[f64; ACTIVITY_BINS]>,
    /// Fraction of the layer's pre-activations on the eval batch that are exactly 0:
    /// values below f32's normal range flushed to zero (underflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underflow: Option<f64>,
    /// Std over units of each unit's mean output over the eval inputs (per-unit offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_offset: Option<f64>,
    /// Root mean over units of each unit's output variance over the eval inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_std: Option<f64>,
    /// `||relu(W x_l + b)|| / ||x_l||` on the run's first eval inputs (see
    /// [`super::probes`]): the branch against the stream for a ResMLP, the layer's output
    /// against its input for a PlainMLP. `None` where the layer's input is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_ratio: Option<f64>,
    /// `||W_new - W|| / ||W||` of the update applied right after this step (`None` at
    /// the last step, after a divergence, or for zero weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_ratio: Option<f64>,
    /// `||b_new - b||` of that update (absolute: biases start at zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias_update: Option<f64>,
}

/// The probe-step measurements that are not part of one pass's statistics: branch
/// ratios (from the weights before the update) and the update's size, per layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepProbe {
    /// Per layer, [`LayerRecord::branch_ratio`].
    pub branch_ratio: Vec<Option<f64>>,
    /// Per layer, the weight and bias update sizes, when an update followed.
    pub updates: Vec<(UpdateSize, UpdateSize)>,
}

impl StepProbe {
    /// Branch ratios of `params` on the probe inputs.
    pub(crate) fn branch(
        arch: Arch,
        params: &[f32],
        probe_x: &nalgebra::DMatrix<f64>,
    ) -> StepProbe {
        StepProbe {
            branch_ratio: super::lesion::branch_ratios(arch, params, probe_x),
            updates: Vec::new(),
        }
    }

    /// Fills the probe fields of a step's layer records.
    pub(crate) fn fill(&self, layers: &mut [LayerRecord]) {
        for (i, rec) in layers.iter_mut().enumerate() {
            rec.branch_ratio = self
                .branch_ratio
                .get(i)
                .copied()
                .flatten()
                .filter(|v| v.is_finite());
            if let Some((w, b)) = self.updates.get(i) {
                rec.update_ratio = (w.old > 0.0)
                    .then(|| w.delta / w.old)
                    .filter(|v| v.is_finite());
                rec.bias_update = Some(b.delta).filter(|v| v.is_finite());
            }
        }
    }
}

/// The inputs of the per-step probes: the first [`super::probes::LESION_INPUTS`] rows of
/// the eval batch.
pub(crate) fn probe_inputs(eval_x: &[f32], width: usize) -> nalgebra::DMatrix<f64> {
    let rows = super::probes::LESION_INPUTS.min(eval_x.len() / width);
    super::lesion::inputs(&eval_x[..rows * width], width)
}

impl LayerRecord {
    /// A row from one layer's statistics at `step` (layer numbered from 1), with its
    /// units over the eval batch when they were measured.
    pub(crate) fn new(
        step: usize,
        layer: usize,
        s: &LayerStats,
        u: Option<&units::UnitStats>,
    ) -> LayerRecord {
        LayerRecord {
            step,
            layer,
            grad_norm: s.grad_norm,
            bias_grad_norm: s.bias_grad_norm,
            act_mean: s.act_mean,
            act_std: s.act_std,
            sparsity: s.sparsity,
            weight_norm: s.weight_norm,
            dead_units: u.map(|u| u.dead_units),
            always_on_units: u.map(|u| u.always_on_units),
            activity: u.map(|u| u.activity),
            underflow: u.map(|u| u.underflow),
            unit_offset: u.map(|u| u.unit_offset),
            input_std: u.map(|u| u.input_std),
            branch_ratio: None,
            update_ratio: None,
            bias_update: None,
        }
    }
}

/// Step `t`'s records from its training loss, its eval (if any) and its layer probes (if
/// any): the one assembly shared by the one-run and the vectorized trainer.
pub(crate) fn records(
    t: usize,
    train_loss: f64,
    eval: Option<&EvalProbe>,
    stats: &[LayerStats],
) -> (StepRecord, Vec<LayerRecord>) {
    let finite = |v: f64| v.is_finite().then_some(v);
    let eval_loss = eval.and_then(|e| finite(e.loss));
    let record = StepRecord {
        step: t,
        train_loss: finite(train_loss),
        eval_loss,
        eval_offset: eval_loss.and(eval.and_then(|e| finite(e.offset))),
        eval_input_dependent: eval_loss.and(eval.and_then(|e| finite(e.input_dependent))),
    };
    let units = eval.and_then(|e| e.units.as_deref());
    let layers = stats
        .iter()
        .enumerate()
        .map(|(i, s)| LayerRecord::new(t, i + 1, s, units.and_then(|u| u.get(i))))
        .collect();
    (record, layers)
}

/// Steps evaluated besides step 0, every `eval_every` steps and the last, where they fall
/// below `eval_every`: the first steps change the loss the most (a ResMLP at
/// `1/sqrt(depth)` loses most of its initial loss within 25 steps), and an eval every 50
/// steps would not show it.
pub const EARLY_EVALS: [usize; 5] = [1, 2, 5, 10, 25];

/// The eval of a run at step `t` when `t` is an eval step (with unit statistics when it
/// is also a probe step).
pub(crate) fn evaluate(
    cfg: &RunConfig,
    params: &[f32],
    eval_x: &[f32],
    t: usize,
) -> candle_core::Result<Option<EvalProbe>> {
    let last = t == cfg.steps;
    let early = t < cfg.eval_every && EARLY_EVALS.contains(&t);
    if !(t.is_multiple_of(cfg.eval_every) || last || early) {
        return Ok(None);
    }
    let probe = t.is_multiple_of(cfg.probe_every) || last;
    units::eval_probe(Arch::of(cfg), params, eval_x, probe).map(Some)
}

/// Everything needed to continue a run exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Updates applied so far.
    pub step: usize,
    /// Flat parameters (see [`model::Arch`]).
    pub params: Vec<f32>,
    /// Optimizer moments.
    pub opt: OptimizerState,
}

impl TrainState {
    /// Whether this state can continue run `cfg`: parameters and optimizer buffers of the
    /// network's size, and a step within the run.
    pub(crate) fn fits(&self, cfg: &RunConfig) -> bool {
        let n = Arch::of(cfg).param_count();
        self.params.len() == n
            && self.opt.buffers().iter().all(|b| b.len() == n)
            && self.step <= cfg.steps
    }
}

/// A run's fixed eval batch and its data fingerprint (of its first training batch and the
/// eval batch).
pub(crate) fn eval_batch_and_data_hash(cfg: &RunConfig) -> (Vec<f32>, String) {
    let eval_x = streams::eval_batch(cfg.seed, cfg.eval_size, cfg.width);
    let first = streams::train_batch(cfg.seed, 0, cfg.batch_size, cfg.width);
    let data_hash = streams::hash_f32(&[&first, &eval_x]);
    (eval_x, data_hash)
}

/// How a call to [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// All steps done.
    Completed,
    /// The loss became non-finite at this step; the run stopped cleanly.
    Diverged {
        /// The step whose loss was not finite.
        step: usize,
    },
    /// The observer asked to stop; the state is at this step.
    Interrupted {
        /// Updates applied when the loop stopped.
        step: usize,
    },
}

/// Receives what a run produces. The runner's observer writes files and sends events.
pub trait Observer {
    /// A step's metrics, with the layer probes when this step was probed (else empty).
    fn record(&mut self, step: &StepRecord, layers: &[LayerRecord]) -> anyhow::Result<()>;
    /// Called after update `state.step` when `state.step` is a multiple of the checkpoint
    /// interval.
    fn checkpoint(&mut self, state: &TrainState) -> anyhow::Result<()>;
    /// Polled after every update: true stops the loop with [`Ending::Interrupted`].
    fn should_stop(&mut self) -> bool;
}

/// An observer that keeps everything in memory (for `resweep train` and tests).
#[derive(Default)]
pub struct Collect {
    /// All step rows.
    pub steps: Vec<StepRecord>,
    /// All layer rows.
    pub layers: Vec<LayerRecord>,
}

impl Observer for Collect {
    fn record(&mut self, step: &StepRecord, layers: &[LayerRecord]) -> anyhow::Result<()> {
        self.steps.push(step.clone());
        self.layers.extend_from_slice(layers);
        Ok(())
    }
    fn checkpoint(&mut self, _state: &TrainState) -> anyhow::Result<()> {
        Ok(())
    }
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// Hashes that prove two runs shared their random inputs: the unscaled initial draws and
/// the data (first training batch and eval batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// Hash of the standard-normal init draws of every layer (before scaling).
    pub init_hash: String,
    /// Hash of the step-0 training batch and the eval batch.
    pub data_hash: String,
}

/// One run's trainer.
pub struct Trainer {
    cfg: RunConfig,
    arch: Arch,
    eval_x: Vec<f32>,
    probe_x: nalgebra::DMatrix<f64>,
    state: TrainState,
    fingerprints: Fingerprints,
}

impl Trainer {
    /// A fresh run: Kaiming-He init from the seed's init streams, zero optimizer state.
    pub fn new(cfg: &RunConfig) -> anyhow::Result<Trainer> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let (params, init_hash) = model::init_params(cfg);
        let opt = OptimizerState::new(cfg.optimizer, params.len());
        Ok(Self::build(
            cfg,
            TrainState {
                step: 0,
                params,
                opt,
            },
            init_hash,
        ))
    }

    /// Continues a run from a checkpointed state.
    pub fn resume(cfg: &RunConfig, state: TrainState) -> anyhow::Result<Trainer> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let arch = Arch::of(cfg);
        anyhow::ensure!(
            state.fits(cfg),
            "checkpoint does not fit this run: {} parameters at step {}, expected {} parameters and at most {} steps",
            state.params.len(),
            state.step,
            arch.param_count(),
            cfg.steps
        );
        let (_, init_hash) = model::init_params(cfg);
        Ok(Self::build(cfg, state, init_hash))
    }

    fn build(cfg: &RunConfig, state: TrainState, init_hash: String) -> Trainer {
        let (eval_x, data_hash) = eval_batch_and_data_hash(cfg);
        Trainer {
            arch: Arch::of(cfg),
            cfg: cfg.clone(),
            probe_x: probe_inputs(&eval_x, cfg.width),
            eval_x,
            state,
            fingerprints: Fingerprints {
                init_hash,
                data_hash,
            },
        }
    }

    /// The run's fingerprints for the fairness audit.
    pub fn fingerprints(&self) -> &Fingerprints {
        &self.fingerprints
    }

    /// The current state (after `run` returns: where it stopped).
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// Trains until the last step, a divergence, or the observer asks to stop.
    /// `checkpoint_every` = 0 disables checkpoints.
    pub fn run(
        &mut self,
        checkpoint_every: usize,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Ending> {
        let _ftz = FlushDenormals::enable();
        let cfg = &self.cfg;
        loop {
            let t = self.state.step;
            let last = t == cfg.steps;
            let x = streams::train_batch(cfg.seed, t, cfg.batch_size, cfg.width);
            let probe = t.is_multiple_of(cfg.probe_every) || last;
            let pass = model::forward_backward(self.arch, &self.state.params, &x, probe)?;
            let eval = evaluate(cfg, &self.state.params, &self.eval_x, t)?;
            let finite = pass.loss.is_finite() && eval.as_ref().is_none_or(|e| e.loss.is_finite());
            let (record, mut layers) = records(
                t,
                pass.loss,
                eval.as_ref(),
                pass.layers.as_deref().unwrap_or(&[]),
            );
            let mut step_probe =
                probe.then(|| StepProbe::branch(self.arch, &self.state.params, &self.probe_x));
            if finite && !last {
                // Update t + 1, measured layer by layer at probe steps (the same bits as
                // one whole-vector step: the update is element-wise).
                let k = self.state.opt.prepare(cfg, t + 1);
                match step_probe.as_mut() {
                    Some(sp) => {
                        for l in 0..self.arch.depth {
                            let mut measure = |r: std::ops::Range<usize>| {
                                self.state.opt.apply_measured(
                                    &k,
                                    r.start,
                                    &mut self.state.params[r.clone()],
                                    &pass.grads[r],
                                )
                            };
                            let w = measure(self.arch.weight_range(l));
                            let b = measure(self.arch.bias_range(l));
                            sp.updates.push((w, b));
                        }
                    }
                    None => self
                        .state
                        .opt
                        .apply_range(&k, 0, &mut self.state.params, &pass.grads),
                }
            }
            if let Some(sp) = &step_probe {
                sp.fill(&mut layers);
            }
            obs.record(&record, &layers)?;
            if !finite {
                return Ok(Ending::Diverged { step: t });
            }
            if last {
                return Ok(Ending::Completed);
            }
            self.state.step = t + 1;
            if checkpoint_every > 0
                && self.state.step.is_multiple_of(checkpoint_every)
                && self.state.step < cfg.steps
            {
                obs.checkpoint(&self.state)?;
            }
            if obs.should_stop() {
                return Ok(Ending::Interrupted {
                    step: self.state.step,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitScale;

    fn small(residual: bool, seed: u64) -> RunConfig {
        RunConfig {
            depth: 4,
            width: 8,
            residual,
            init_scale: InitScale::Value(1.0),
            seed,
            steps: 20,
            batch_size: 16,
            eval_size: 64,
            eval_every: 5,
            probe_every: 10,
            ..RunConfig::default()
        }
    }

    fn train(cfg: &RunConfig) -> Collect {
        let mut c = Collect::default();
        assert_eq!(
            Trainer::new(cfg).unwrap().run(0, &mut c).unwrap(),
            Ending::Completed
        );
        c
    }

    #[test]
    fn records_follow_the_schedule() {
        let c = train(&small(true, 0));
        assert_eq!(c.steps.len(), 21);
        let evals: Vec<usize> = c
            .steps
            .iter()
            .filter(|s| s.eval_loss.is_some())
            .map(|s| s.step)
            .collect();
        // Every 5 steps, and the early steps below 5.
        assert_eq!(evals, vec![0, 1, 2, 5, 10, 15, 20]);
        let probes: Vec<usize> = c
            .layers
            .iter()
            .filter(|l| l.layer == 1)
            .map(|l| l.step)
            .collect();
        assert_eq!(probes, vec![0, 10, 20]);
        assert_eq!(c.layers.len(), 3 * 4);
    }

    #[test]
    fn identical_runs_are_bitwise_identical_even_concurrently() {
        let cfg = small(true, 7);
        let alone = train(&cfg);
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let cfg = if i == 1 { small(false, 3) } else { cfg.clone() };
                std::thread::spawn(move || train(&cfg))
            })
            .collect();
        let results: Vec<Collect> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for r in [&results[0], &results[2]] {
            assert_eq!(r.steps, alone.steps);
            assert_eq!(r.layers, alone.layers);
        }
    }

    #[test]
    fn resume_from_a_checkpoint_is_exact() {
        struct StopAt(usize, Collect, Option<TrainState>);
        impl Observer for StopAt {
            fn record(&mut self, s: &StepRecord, l: &[LayerRecord]) -> anyhow::Result<()> {
                self.1.record(s, l)
            }
            fn checkpoint(&mut self, state: &TrainState) -> anyhow::Result<()> {
                if state.step == self.0 {
                    self.2 = Some(state.clone());
                }
                Ok(())
            }
            fn should_stop(&mut self) -> bool {
                self.2.is_some()
            }
        }
        for cfg in [
            small(true, 1),
            RunConfig {
                optimizer: crate::config::OptimizerKind::Sgd,
                lr: 0.01,
                ..small(false, 2)
            },
        ] {
            let full = train(&cfg);
            let mut first = StopAt(10, Collect::default(), None);
            let ending = Trainer::new(&cfg).unwrap().run(5, &mut first).unwrap();
            assert_eq!(ending, Ending::Interrupted { step: 10 });
            let mut rest = Collect::default();
            let mut t = Trainer::resume(&cfg, first.2.unwrap()).unwrap();
            assert_eq!(t.run(5, &mut rest).unwrap(), Ending::Completed);
            let mut steps = first.1.steps;
            steps.extend(rest.steps);
            assert_eq!(steps, full.steps);
        }
    }

    #[test]
    fn explosion_is_a_clean_divergence() {
        let cfg = RunConfig {
            residual: true,
            init_scale: InitScale::Value(1e30),
            ..small(true, 0)
        };
        let mut c = Collect::default();
        let ending = Trainer::new(&cfg).unwrap().run(0, &mut c).unwrap();
        assert_eq!(ending, Ending::Diverged { step: 0 });
        assert_eq!(c.steps[0].train_loss, None);
        // Its last probe holds non-finite statistics; JSON writes them as null, and they
        // read back as NaN (a run's files must always read back).
        assert!(
            c.layers.iter().any(|l| !l.act_std.is_finite()),
            "{:?}",
            c.layers
        );
        for l in &c.layers {
            let text = serde_json::to_string(l).unwrap();
            let back: LayerRecord = serde_json::from_str(&text).unwrap();
            for (a, b) in [
                (l.grad_norm, back.grad_norm),
                (l.act_mean, back.act_mean),
                (l.act_std, back.act_std),
                (l.sparsity, back.sparsity),
                (l.weight_norm, back.weight_norm),
            ] {
                assert!(
                    a == b || (!a.is_finite() && b.is_nan()),
                    "{a} read back as {b}"
                );
            }
        }
    }
}
