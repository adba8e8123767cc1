//! Vectorized multi-run training: `S` runs that share a network shape trained together as
//! one batched candle graph.
//!
//! A one-run step pays candle's per-operation costs (tensor allocation, dispatch,
//! bookkeeping) for every matrix product and kernel of every layer. A [`BatchedTrainer`]
//! stacks `S` runs' weights as `[S, width, width]` views, their batches as
//! `[S, batch, width]`, and runs every matrix product and fused element-wise kernel once
//! for all of them, so that cost is paid once per step instead of `S` times. What it
//! cannot share is memory traffic: each member keeps its parameters, Adam moments and
//! activations (about 1.4 MB at depth 20, width 64, batch 64), so a batch's working set
//! grows with `S` and, past the last-level cache, the step slows down again (the README's
//! "Vectorized training" section has the measurements).
//!
//! **Semantics are a single run's.** Every member keeps its own configuration, init and
//! data streams ([`model::init_params`], [`streams::train_batch`], [`streams::eval_batch`]),
//! its own optimizer state, step schedule (eval, probes, checkpoints, last step) and its
//! own [`Observer`]. The batched kernels treat each member's slice with exactly the loops
//! and summation orders of a one-run [`super::Trainer`]: candle's batched `matmul` calls the
//! same gemm with the same shapes and strides once per member, the fused kernels loop over
//! members, and the loss, probes and optimizer update are computed per member. A member
//! trained in a batch therefore produces bitwise the same records as trained alone, in
//! any batch and at any position in it (the tests check this at the experiment's real
//! shapes; the issue only asked for 1e-5 relative at step 0 and 1% on eval curves).
//!
//! **Layout.** The active members' flat parameters (see [`model::Arch`]) are stacked into
//! one tensor `[S, depth, width + 1, width]`: member `s`'s slice is exactly its one-run
//! parameter vector, and layer `l` is rows `0..width` (`W_l`) plus row `width` (`b_l`).
//! The per-layer weight `[S, width, width]` and bias `[S, width]` are strided views of it,
//! and the optimizer updates it in place, layer by layer, as soon as a layer's gradient is
//! known (after the layer's last use in the backward pass). Members' optimizer states stay
//! one-run [`OptimizerState`]s, so a member's checkpoint is a one-run checkpoint that can
//! resume alone or in any batch.
//!
//! **Leaving the batch.** A member whose loss becomes non-finite is recorded as diverged at
//! that step (its probes included, as a one-run trainer does), is not updated, and leaves
//! the batch; so does a member that completes, is interrupted, or whose observer fails.
//! The remaining members are compacted into a new stacked tensor and go on unaffected.

use super::kernels::{
    dead_fractions, with_f32, with_f32_mut, with_f32s, FlushDenormals, ReluBackward,
    ResidualBackward,
};
use super::model::{self, Arch, LayerStats};
use super::optim::{OptimizerState, Update};
use super::streams;
use super::train::{
    eval_batch_and_data_hash, evaluate, probe_inputs, records, Ending, Fingerprints, LayerRecord,
    Observer, StepProbe, StepRecord, TrainState,
};
use super::units::EvalProbe;
use crate::config::RunConfig;
use candle_core::{Device, Tensor};

/// What runs must share to be trained in one batch: the shapes of the batched graph.
/// Everything else (seed, init scale, optimizer, learning rate, momentum, steps, eval and
/// probe schedules) may differ between members, because it only enters through each
/// member's own streams, update and schedule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchKey {
    /// Number of layers.
    pub depth: usize,
    /// Width of every layer.
    pub width: usize,
    /// ResMLP or PlainMLP.
    pub residual: bool,
    /// Training batch size.
    pub batch_size: usize,
    /// The run's layers are the original experiment's ReLU block, which the batched
    /// kernels compute ([`model::Block::fused`]). A run of another block (an activation,
    /// a norm, a branch scale or gate, a linear last layer) always trains alone: its
    /// batches have one member ([`BatchKey::batchable`]). The inits do not matter here.
    pub fused: bool,
}

impl BatchKey {
    /// The key of a run.
    pub fn of(cfg: &RunConfig) -> BatchKey {
        BatchKey {
            depth: cfg.depth,
            width: cfg.width,
            residual: cfg.residual,
            batch_size: cfg.batch_size,
            fused: Arch::of(cfg).block.fused(),
        }
    }

    /// Whether runs of this key can share a batched graph.
    pub fn batchable(&self) -> bool {
        self.fused
    }

    /// Bytes one member keeps live across a step: its parameters and two Adam moments,
    /// and what the backward pass reads of the forward pass: the layer inputs and, for a
    /// ResMLP, one ReLU mask byte per unit (a PlainMLP's ReLU outputs are its next layer
    /// inputs): `12 P + 4 depth batch width (+ depth batch width)`; 1.41 MB for a ResMLP
    /// at depth 20, width 64, batch 64.
    pub fn working_set_bytes(&self) -> usize {
        let params = self.depth * (self.width * self.width + self.width);
        let units = self.depth * self.batch_size * self.width;
        let masks = if self.residual { units } else { 0 };
        4 * 3 * params + 4 * units + masks
    }
}

/// One member of a batch.
struct Member {
    cfg: RunConfig,
    eval_x: Vec<f32>,
    /// The per-step probes' inputs (see [`super::train::probe_inputs`]).
    probe_x: nalgebra::DMatrix<f64>,
    opt: OptimizerState,
    fingerprints: Fingerprints,
    /// The member's final state once it has left the batch.
    parked: Option<TrainState>,
}

/// What one step means for one active member.
struct Plan {
    /// This is the member's last step.
    last: bool,
    /// Per-layer probes are recorded at this step.
    probe: bool,
    /// Training loss on this step's batch.
    loss: f64,
    /// The eval, when evaluated at this step.
    eval: Option<EvalProbe>,
    /// Both losses are finite (else the member diverges at this step).
    finite: bool,
    /// The member takes update `t + 1` at this step.
    update: bool,
}

/// Trains `S` runs of one [`BatchKey`] together, from the same step.
pub struct BatchedTrainer {
    arch: Arch,
    batch: usize,
    step: usize,
    members: Vec<Member>,
    /// Indices of the members still training, in the order of their slices in `params`.
    active: Vec<usize>,
    /// The active members' flat parameters, `[active, depth, width + 1, width]`.
    params: Tensor,
    /// Per layer, the weights `[active, width, width]` and biases `[active, width]`:
    /// views of `params`, rebuilt whenever `params` is replaced.
    layers: Vec<(Tensor, Tensor)>,
}

/// The matrix products of a training step with the step's data flow (see
/// [`BatchedTrainer::step_products`]): the forward products `x_{l+1} = x_l W_l^T` chained
/// up through the layers and kept, as the step keeps its layer inputs; then down from the
/// top, the weight gradient `dz_l^T x_l` on the kept `x_l` and, at every layer but the
/// first, the input gradient `dz_{l-1} = dz_l W_l` chained down. Same shapes, strides and
/// weight views as the step (contiguous activations, strided weights); only the
/// element-wise work, the loss and the update are missing. Without ReLU and residual
/// the chained values shrink layer by layer; run it under [`FlushDenormals`] (as the
/// benchmark does) so that none becomes a slow subnormal.
pub struct StepProducts {
    x: Tensor,
    dz: Tensor,
    weights: Vec<Tensor>,
}

impl StepProducts {
    /// Runs the products once, discarding their results: the arithmetic floor of a step.
    pub fn run(&self) -> candle_core::Result<()> {
        let mut xs = Vec::with_capacity(self.weights.len());
        xs.push(self.x.clone());
        for (l, w) in self.weights.iter().enumerate() {
            let next = xs[l].matmul(&w.t()?)?;
            xs.push(next);
        }
        let mut dz = self.dz.clone();
        for l in (0..self.weights.len()).rev() {
            let _dw = dz.t()?.matmul(&xs[l])?;
            if l > 0 {
                dz = dz.matmul(&self.weights[l])?;
            }
        }
        Ok(())
    }
}

impl BatchedTrainer {
    /// Fresh runs: each member's Kaiming-He init from its own seed's init streams, zero
    /// optimizer state.
    pub fn new(cfgs: &[RunConfig]) -> anyhow::Result<BatchedTrainer> {
        let mut members = Vec::with_capacity(cfgs.len());
        for cfg in cfgs {
            cfg.validate().map_err(anyhow::Error::msg)?;
            let (params, init_hash) = model::init_params(cfg);
            let opt = OptimizerState::new(cfg.optimizer, params.len());
            members.push((
                cfg.clone(),
                TrainState {
                    step: 0,
                    params,
                    opt,
                },
                init_hash,
            ));
        }
        Self::build(members)
    }

    /// Members continuing from states (checkpoints, or fresh states) that are all at the
    /// same step.
    pub fn from_states(members: Vec<(RunConfig, TrainState)>) -> anyhow::Result<BatchedTrainer> {
        let mut with_hash = Vec::with_capacity(members.len());
        for (cfg, state) in members {
            cfg.validate().map_err(anyhow::Error::msg)?;
            let (_, init_hash) = model::init_params(&cfg);
            with_hash.push((cfg, state, init_hash));
        }
        Self::build(with_hash)
    }

    fn build(members: Vec<(RunConfig, TrainState, String)>) -> anyhow::Result<BatchedTrainer> {
        let Some((first, first_state, _)) = members.first() else {
            anyhow::bail!("a batch needs at least one member");
        };
        let key = BatchKey::of(first);
        anyhow::ensure!(
            key.batchable(),
            "run {} trains through the one-run trainer: only the original ReLU block has batched kernels",
            first.run_id()
        );
        let step = first_state.step;
        let arch = Arch::of(first);
        let n = arch.param_count();
        let mut flat = Vec::with_capacity(members.len() * n);
        let mut out = Vec::with_capacity(members.len());
        for (cfg, state, init_hash) in members {
            anyhow::ensure!(
                BatchKey::of(&cfg) == key,
                "run {} cannot join this batch: its shape {:?} differs from {:?}",
                cfg.run_id(),
                BatchKey::of(&cfg),
                key
            );
            anyhow::ensure!(
                state.step == step,
                "run {} is at step {}, the batch at step {step}: members must start together",
                cfg.run_id(),
                state.step
            );
            anyhow::ensure!(
                state.fits(&cfg),
                "checkpoint does not fit run {}: {} parameters at step {}, expected {n} parameters and at most {} steps",
                cfg.run_id(),
                state.params.len(),
                state.step,
                cfg.steps
            );
            anyhow::ensure!(
                std::mem::discriminant(&state.opt)
                    == std::mem::discriminant(&OptimizerState::new(cfg.optimizer, 0)),
                "checkpoint of run {} holds another optimizer's state",
                cfg.run_id()
            );
            flat.extend_from_slice(&state.params);
            let (eval_x, data_hash) = eval_batch_and_data_hash(&cfg);
            out.push(Member {
                probe_x: probe_inputs(&eval_x, cfg.width),
                cfg,
                eval_x,
                opt: state.opt,
                fingerprints: Fingerprints {
                    init_hash,
                    data_hash,
                },
                parked: None,
            });
        }
        let s = out.len();
        let params = Tensor::from_vec(
            flat,
            (s, arch.depth, arch.width + 1, arch.width),
            &Device::Cpu,
        )?;
        Ok(BatchedTrainer {
            arch,
            batch: key.batch_size,
            step,
            members: out,
            active: (0..s).collect(),
            layers: layer_views(arch, &params)?,
            params,
        })
    }

    /// Member `i`'s fingerprints for the fairness audit (equal to its one-run trainer's).
    pub fn fingerprints(&self, i: usize) -> &Fingerprints {
        &self.members[i].fingerprints
    }

    /// Member `i`'s current state: where it stopped once it left the batch, else the
    /// batch's current step.
    pub fn state(&self, i: usize) -> anyhow::Result<TrainState> {
        let m = &self.members[i];
        if let Some(state) = &m.parked {
            return Ok(state.clone());
        }
        let pos = self
            .active
            .iter()
            .position(|&a| a == i)
            .ok_or_else(|| anyhow::anyhow!("member {i} has no state"))?;
        self.live_state(pos, self.step)
    }

    /// The state of the member at slice `pos` of `params`, labelled with `step`.
    fn live_state(&self, pos: usize, step: usize) -> anyhow::Result<TrainState> {
        let n = self.arch.param_count();
        let params = with_f32(&self.params, |p| p[pos * n..(pos + 1) * n].to_vec())?;
        Ok(TrainState {
            step,
            params,
            opt: self.members[self.active[pos]].opt.clone(),
        })
    }

    /// Trains every member until its last step, its divergence, or its observer asks it
    /// to stop (`observers[i]` belongs to member `i`). Returns each member's ending; an
    /// observer's error ends only that member. `checkpoint_every` = 0 disables
    /// checkpoints. The outer error is a failure of the batched math itself.
    pub fn run(
        &mut self,
        checkpoint_every: usize,
        observers: &mut [&mut dyn Observer],
    ) -> anyhow::Result<Vec<anyhow::Result<Ending>>> {
        anyhow::ensure!(
            observers.len() == self.members.len(),
            "{} observers for {} members",
            observers.len(),
            self.members.len()
        );
        anyhow::ensure!(
            self.active.len() == self.members.len(),
            "this batch has already run"
        );
        let _ftz = FlushDenormals::enable();
        let mut results: Vec<Option<anyhow::Result<Ending>>> =
            (0..self.members.len()).map(|_| None).collect();
        while !self.active.is_empty() {
            let t = self.step;
            let (xs, acts, losses, grad) = self.forward_and_loss(t)?;
            let plans = self.plans(t, &losses)?;
            let mut probes = self.step_probes(&plans)?;
            let (stats, _) = self.backward_and_update(&xs, &acts, grad, &plans, &mut probes, t)?;
            drop((xs, acts));

            let mut leaving = Vec::new();
            for (pos, plan) in plans.iter().enumerate() {
                let i = self.active[pos];
                let (record, mut layers) = records(t, plan.loss, plan.eval.as_ref(), &stats[pos]);
                if let Some(sp) = &probes[pos] {
                    sp.fill(&mut layers);
                }
                let outcome = self.after_step(
                    pos,
                    plan,
                    &record,
                    &layers,
                    checkpoint_every,
                    &mut *observers[i],
                );
                match outcome {
                    Ok(None) => {}
                    Ok(Some(ending)) => {
                        results[i] = Some(Ok(ending));
                        leaving.push(pos);
                    }
                    Err(e) => {
                        results[i] = Some(Err(e));
                        leaving.push(pos);
                    }
                }
            }
            self.step = t + 1;
            self.leave(&leaving, &plans, t)?;
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("member never ended"))))
            .collect())
    }

    /// The observer calls of one member after step `t`, in a one-run trainer's order:
    /// record, then divergence or completion, else checkpoint and the stop poll.
    fn after_step(
        &self,
        pos: usize,
        plan: &Plan,
        record: &StepRecord,
        layers: &[LayerRecord],
        checkpoint_every: usize,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Option<Ending>> {
        let t = record.step;
        obs.record(record, layers)?;
        if !plan.finite {
            return Ok(Some(Ending::Diverged { step: t }));
        }
        if plan.last {
            return Ok(Some(Ending::Completed));
        }
        let step = t + 1;
        let cfg = &self.members[self.active[pos]].cfg;
        if checkpoint_every > 0 && step.is_multiple_of(checkpoint_every) && step < cfg.steps {
            obs.checkpoint(&self.live_state(pos, step)?)?;
        }
        if obs.should_stop() {
            return Ok(Some(Ending::Interrupted { step }));
        }
        Ok(None)
    }

    /// Parks the members at `leaving` (positions) and compacts the others.
    fn leave(&mut self, leaving: &[usize], plans: &[Plan], t: usize) -> anyhow::Result<()> {
        if leaving.is_empty() {
            return Ok(());
        }
        for &pos in leaving {
            let step = if plans[pos].update { t + 1 } else { t };
            let state = self.live_state(pos, step)?;
            self.members[self.active[pos]].parked = Some(state);
        }
        let keep: Vec<usize> = (0..self.active.len())
            .filter(|p| !leaving.contains(p))
            .collect();
        let n = self.arch.param_count();
        let flat = with_f32(&self.params, |p| {
            let mut v = Vec::with_capacity(keep.len() * n);
            for &pos in &keep {
                v.extend_from_slice(&p[pos * n..(pos + 1) * n]);
            }
            v
        })?;
        let a = self.arch;
        self.params = Tensor::from_vec(
            flat,
            (keep.len(), a.depth, a.width + 1, a.width),
            &Device::Cpu,
        )?;
        self.layers = layer_views(a, &self.params)?;
        self.active = keep.iter().map(|&pos| self.active[pos]).collect();
        Ok(())
    }

    /// Step `t`'s batches, the forward pass, every member's loss, and the gradient of each
    /// member's loss with respect to its output. Returns the layer inputs `x_0..x_L`,
    /// where each layer's ReLU was active (masks for a ResMLP, ReLU outputs for a
    /// PlainMLP), the losses and the gradient.
    #[allow(clippy::type_complexity)]
    fn forward_and_loss(
        &self,
        t: usize,
    ) -> anyhow::Result<(Vec<Tensor>, Vec<Tensor>, Vec<f64>, Tensor)> {
        let (s, b, w) = (self.active.len(), self.batch, self.arch.width);
        let dev = Device::Cpu;
        let mut x = Vec::with_capacity(s * b * w);
        for &i in &self.active {
            x.extend(streams::train_batch(self.members[i].cfg.seed, t, b, w));
        }
        let x = Tensor::from_vec(x, (s, b, w), &dev)?;
        let (xs, acts) = model::forward(self.arch, &self.layers, x)?;

        let per = b * w;
        let (losses, grad) = with_f32s([&xs[self.arch.depth], &xs[0]], |[y, x]| {
            let mut losses = Vec::with_capacity(s);
            let mut grad = Vec::with_capacity(s * per);
            for (yc, xc) in y.chunks_exact(per).zip(x.chunks_exact(per)) {
                let (loss, g) = model::mse_and_grad(yc, xc);
                losses.push(loss);
                grad.extend_from_slice(&g);
            }
            (losses, grad)
        })?;
        let grad = Tensor::from_vec(grad, (s, b, w), &dev)?;
        Ok((xs, acts, losses, grad))
    }

    /// What step `t` means for each active member, given its training loss: last step,
    /// probe, eval loss (evaluated here, on the parameters before the update), divergence.
    fn plans(&self, t: usize, losses: &[f64]) -> anyhow::Result<Vec<Plan>> {
        let mut plans = Vec::with_capacity(losses.len());
        for (pos, &i) in self.active.iter().enumerate() {
            let cfg = &self.members[i].cfg;
            let last = t == cfg.steps;
            let n = self.arch.param_count();
            let eval_x = &self.members[i].eval_x;
            let eval = with_f32(&self.params, |p| {
                evaluate(cfg, &p[pos * n..(pos + 1) * n], eval_x, t)
            })??;
            let loss = losses[pos];
            let finite = loss.is_finite() && eval.as_ref().is_none_or(|e| e.loss.is_finite());
            plans.push(Plan {
                last,
                probe: t.is_multiple_of(cfg.probe_every) || last,
                loss,
                eval,
                finite,
                update: finite && !last,
            });
        }
        Ok(plans)
    }

    /// One bare training step of every active member, for the benchmark: batches,
    /// forward, loss, backward and update, without evals, probes, observers or the
    /// schedule (the step counter still advances, so batches and Adam's bias correction
    /// follow it).
    pub fn bench_step(&mut self) -> anyhow::Result<()> {
        self.bare_step().map(drop)
    }

    /// The matrix products of one real training step, captured for the benchmark's floor:
    /// takes a bare step (as [`BatchedTrainer::bench_step`]) and keeps what its products
    /// start from (the input batch and the top layer's pre-activation gradient), so that
    /// [`StepProducts::run`] replays the step's products with its shapes, strides and
    /// weight views and nothing else of the step.
    pub fn step_products(&mut self) -> anyhow::Result<StepProducts> {
        let (x, dz) = self.bare_step()?;
        let weights = self.layers.iter().map(|(w, _)| w.clone()).collect();
        Ok(StepProducts { x, dz, weights })
    }

    /// A bare step (see [`BatchedTrainer::bench_step`]); returns its input batch and the
    /// top layer's pre-activation gradient.
    fn bare_step(&mut self) -> anyhow::Result<(Tensor, Tensor)> {
        let t = self.step;
        let (xs, acts, losses, grad) = self.forward_and_loss(t)?;
        let plans: Vec<Plan> = losses
            .iter()
            .map(|&loss| Plan {
                last: false,
                probe: false,
                loss,
                eval: None,
                finite: true,
                update: true,
            })
            .collect();
        let mut probes = vec![None; plans.len()];
        let (_, top_dz) = self.backward_and_update(&xs, &acts, grad, &plans, &mut probes, t)?;
        self.step = t + 1;
        Ok((xs[0].clone(), top_dz))
    }

    /// The branch ratios of the members probed at this step, from their parameters before
    /// the update (the update sizes are added by [`Self::backward_and_update`]).
    fn step_probes(&self, plans: &[Plan]) -> anyhow::Result<Vec<Option<StepProbe>>> {
        let n = self.arch.param_count();
        Ok(with_f32(&self.params, |p| {
            plans
                .iter()
                .enumerate()
                .map(|(pos, plan)| {
                    let m = &self.members[self.active[pos]];
                    plan.probe.then(|| {
                        StepProbe::branch(self.arch, &p[pos * n..(pos + 1) * n], &m.probe_x)
                    })
                })
                .collect()
        })?)
    }

    /// The backward pass, layer by layer from the top; each layer's probes (for members
    /// probed at this step) are taken before its update, and its update (for members that
    /// take one) right after its last use. Returns each member's layer statistics, from
    /// layer 1 up (empty when not probed), and the top layer's pre-activation gradient.
    fn backward_and_update(
        &mut self,
        xs: &[Tensor],
        acts: &[Tensor],
        grad: Tensor,
        plans: &[Plan],
        probes: &mut [Option<StepProbe>],
        t: usize,
    ) -> anyhow::Result<(Vec<Vec<LayerStats>>, Tensor)> {
        let arch = self.arch;
        let (s, b, w) = (self.active.len(), self.batch, arch.width);
        let (sb, n) = (s * b, arch.param_count());
        let any_probe = plans.iter().any(|p| p.probe);
        let mut stats: Vec<Vec<LayerStats>> = plans
            .iter()
            .map(|p| Vec::with_capacity(if p.probe { arch.depth } else { 0 }))
            .collect();
        // Each updating member's update constants, once for the whole step.
        let updates: Vec<Option<Update>> = plans
            .iter()
            .zip(&self.active)
            .map(|(plan, &i)| {
                let m = &self.members[i];
                plan.update.then(|| m.opt.prepare(&m.cfg, t + 1))
            })
            .collect();
        let any_update = updates.iter().any(Option::is_some);

        let mut g = grad;
        let top = g.apply_op2_no_bwd(&acts[arch.depth - 1], &ReluBackward)?;
        let (mut dz, mut db) = (
            top.narrow(0, 0, sb)?.reshape((s, b, w))?,
            top.narrow(0, sb, s)?,
        );
        let top_dz = dz.clone();
        for l in (0..arch.depth).rev() {
            let wl = &self.layers[l].0;
            let dw = dz.t()?.matmul(&xs[l])?;
            if any_probe {
                let dead = dead_fractions(&acts[l], s)?;
                let wr = arch.weight_range(l);
                with_f32s([&dw, &db, &self.params, &xs[l + 1]], |[dwv, dbv, p, out]| {
                    for (pos, plan) in plans.iter().enumerate() {
                        if plan.probe {
                            stats[pos].push(model::layer_stats(
                                &dwv[pos * w * w..(pos + 1) * w * w],
                                &dbv[pos * w..(pos + 1) * w],
                                &p[pos * n + wr.start..pos * n + wr.end],
                                &out[pos * b * w..(pos + 1) * b * w],
                                dead[pos],
                            ));
                        }
                    }
                })?;
            }
            // The input gradient is the layer's weights' last use: the update follows.
            let gx = if l > 0 { Some(dz.matmul(wl)?) } else { None };
            if any_update {
                let (wr, br) = (arch.weight_range(l), arch.bias_range(l));
                let members = &mut self.members;
                let active = &self.active;
                with_f32s([&dw, &db], |[dwv, dbv]| {
                    with_f32_mut(&self.params, |p| {
                        for (pos, k) in updates.iter().enumerate() {
                            let Some(k) = k else { continue };
                            let opt = &mut members[active[pos]].opt;
                            let member = &mut p[pos * n..(pos + 1) * n];
                            let dw = &dwv[pos * w * w..(pos + 1) * w * w];
                            let db = &dbv[pos * w..(pos + 1) * w];
                            match probes[pos].as_mut() {
                                Some(sp) => {
                                    let ws = opt.apply_measured(
                                        k,
                                        wr.start,
                                        &mut member[wr.clone()],
                                        dw,
                                    );
                                    let bs = opt.apply_measured(
                                        k,
                                        br.start,
                                        &mut member[br.clone()],
                                        db,
                                    );
                                    sp.updates.push((ws, bs));
                                }
                                None => {
                                    opt.apply_range(k, wr.start, &mut member[wr.clone()], dw);
                                    opt.apply_range(k, br.start, &mut member[br.clone()], db);
                                }
                            }
                        }
                    })
                })??;
            }
            if let Some(gx) = gx {
                if arch.residual {
                    let back = g.apply_op3_no_bwd(&gx, &acts[l - 1], &ResidualBackward)?;
                    g = back.narrow(0, 0, sb)?.reshape((s, b, w))?;
                    dz = back.narrow(0, sb, sb)?.reshape((s, b, w))?;
                    db = back.narrow(0, 2 * sb, s)?;
                } else {
                    let back = gx.apply_op2_no_bwd(&acts[l - 1], &ReluBackward)?;
                    dz = back.narrow(0, 0, sb)?.reshape((s, b, w))?;
                    db = back.narrow(0, sb, s)?;
                }
            }
        }
        for s in &mut stats {
            s.reverse();
        }
        for sp in probes.iter_mut().flatten() {
            sp.updates.reverse();
        }
        Ok((stats, top_dz))
    }
}

/// Per layer, the weight `[S, width, width]` and bias `[S, width]` views of stacked
/// parameters `[S, depth, width + 1, width]`.
fn layer_views(arch: Arch, params: &Tensor) -> candle_core::Result<Vec<(Tensor, Tensor)>> {
    let w = arch.width;
    (0..arch.depth)
        .map(|l| {
            let layer = params.narrow(1, l, 1)?.squeeze(1)?;
            Ok((layer.narrow(1, 0, w)?, layer.narrow(1, w, 1)?.squeeze(1)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{InitScale, OptimizerKind};
    use crate::experiment::train::{Collect, Trainer};

    fn small(residual: bool, seed: u64, scale: f64) -> RunConfig {
        RunConfig {
            depth: 4,
            width: 8,
            residual,
            init_scale: InitScale::Value(scale),
            seed,
            steps: 30,
            batch_size: 16,
            eval_size: 64,
            eval_every: 5,
            probe_every: 10,
            ..RunConfig::default()
        }
    }

    fn alone(cfg: &RunConfig) -> (Collect, Ending) {
        let mut c = Collect::default();
        let ending = Trainer::new(cfg).unwrap().run(0, &mut c).unwrap();
        (c, ending)
    }

    fn batched(cfgs: &[RunConfig]) -> Vec<(Collect, Ending)> {
        let mut obs: Vec<Collect> = cfgs.iter().map(|_| Collect::default()).collect();
        let mut refs: Vec<&mut dyn Observer> =
            obs.iter_mut().map(|o| o as &mut dyn Observer).collect();
        let mut b = BatchedTrainer::new(cfgs).unwrap();
        let endings = b.run(0, &mut refs).unwrap();
        obs.into_iter()
            .zip(endings)
            .map(|(o, e)| (o, e.unwrap()))
            .collect()
    }

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / a.abs().max(b.abs())
        }
    }

    /// Largest relative difference over every number of two records.
    fn max_rel(a: &Collect, b: &Collect) -> f64 {
        assert_eq!(a.steps.len(), b.steps.len());
        assert_eq!(a.layers.len(), b.layers.len());
        let mut worst = 0f64;
        for (x, y) in a.steps.iter().zip(&b.steps) {
            assert_eq!(x.step, y.step);
            for (u, v) in [(x.train_loss, y.train_loss), (x.eval_loss, y.eval_loss)] {
                assert_eq!(u.is_some(), v.is_some());
                if let (Some(u), Some(v)) = (u, v) {
                    worst = worst.max(rel(u, v));
                }
            }
        }
        for (x, y) in a.layers.iter().zip(&b.layers) {
            assert_eq!((x.step, x.layer), (y.step, y.layer));
            for (u, v) in [
                (x.grad_norm, y.grad_norm),
                (x.bias_grad_norm, y.bias_grad_norm),
                (x.act_mean, y.act_mean),
                (x.act_std, y.act_std),
                (x.sparsity, y.sparsity),
                (x.weight_norm, y.weight_norm),
            ] {
                worst = worst.max(rel(u, v));
            }
        }
        worst
    }

    fn mixed(residual: bool) -> Vec<RunConfig> {
        vec![
            small(residual, 0, 1.0 / 2.0),
            small(residual, 1, 1.0),
            small(residual, 5, 0.3),
            small(residual, 9, 1.5),
        ]
    }

    #[test]
    fn step_products_are_the_steps_shapes_and_leave_training_exact() {
        let cfgs = mixed(true);
        let mut b = BatchedTrainer::new(&cfgs).unwrap();
        let products = b.step_products().unwrap();
        let (s, bs, w) = (cfgs.len(), cfgs[0].batch_size, cfgs[0].width);
        assert_eq!(products.x.dims(), [s, bs, w]);
        assert_eq!(products.dz.dims(), [s, bs, w]);
        // Contiguous like the step's activations and gradients (the weights are strided
        // views of the stacked parameters, as in the step).
        assert!(products.x.is_contiguous() && products.dz.is_contiguous());
        assert_eq!(products.weights.len(), cfgs[0].depth);
        for wl in &products.weights {
            assert_eq!(wl.dims(), [s, w, w]);
        }
        // The captured input is every member's step-0 batch, in member order.
        let x0: Vec<f32> = cfgs
            .iter()
            .flat_map(|c| streams::train_batch(c.seed, 0, bs, w))
            .collect();
        assert_eq!(
            products.x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            x0
        );
        products.run().unwrap();
        // Capturing was a real step: the members' states equal a one-run step's.
        for (i, cfg) in cfgs.iter().enumerate() {
            let arch = Arch::of(cfg);
            let (mut params, _) = model::init_params(cfg);
            let mut opt = OptimizerState::new(cfg.optimizer, params.len());
            let x = streams::train_batch(cfg.seed, 0, bs, w);
            let pass = model::forward_backward(arch, &params, &x, false).unwrap();
            opt.step(cfg, 1, &mut params, &pass.grads);
            let got = b.state(i).unwrap();
            assert_eq!((got.step, &got.params, &got.opt), (1, &params, &opt));
        }
    }

    #[test]
    fn members_equal_their_one_run_trainers() {
        for residual in [false, true] {
            let cfgs = mixed(residual);
            let together = batched(&cfgs);
            for (cfg, (got, ending)) in cfgs.iter().zip(&together) {
                let (want, want_ending) = alone(cfg);
                assert_eq!(*ending, want_ending);
                // Step 0 (initial loss, per-layer gradient norms, activation statistics)
                // within the documented 1e-5 relative...
                let at0 = |c: &Collect| Collect {
                    steps: c.steps.iter().filter(|s| s.step == 0).cloned().collect(),
                    layers: c.layers.iter().filter(|l| l.step == 0).cloned().collect(),
                };
                assert!(max_rel(&at0(got), &at0(&want)) <= 1e-5);
                // ...and in fact every record bitwise: the batched kernels run each
                // member's slice through a one-run trainer's loops and gemm calls.
                assert_eq!(
                    got.steps, want.steps,
                    "residual={residual} seed {}",
                    cfg.seed
                );
                assert_eq!(got.layers, want.layers);
            }
            // Fingerprints are the one-run trainer's.
            let b = BatchedTrainer::new(&cfgs).unwrap();
            for (i, cfg) in cfgs.iter().enumerate() {
                assert_eq!(b.fingerprints(i), Trainer::new(cfg).unwrap().fingerprints());
            }
        }
    }

    #[test]
    fn members_equal_one_run_trainers_at_full_scale() {
        // Depth 20, width 64: the gemm kernels of the real experiment, both arms, at
        // batch 64 and 256.
        for (residual, batch_size) in [(false, 64), (true, 64), (true, 256)] {
            let cfgs: Vec<RunConfig> = [(0, "1/sqrt(depth)"), (7, "1"), (3, "0.5")]
                .iter()
                .map(|&(seed, scale)| RunConfig {
                    residual,
                    seed,
                    init_scale: InitScale::parse(scale).unwrap(),
                    batch_size,
                    steps: 6,
                    eval_size: 128,
                    eval_every: 3,
                    probe_every: 2,
                    ..RunConfig::default()
                })
                .collect();
            let together = batched(&cfgs);
            for (cfg, (got, _)) in cfgs.iter().zip(&together) {
                let (want, _) = alone(cfg);
                assert_eq!(got.steps, want.steps, "{}", cfg.run_id());
                assert_eq!(got.layers, want.layers, "{}", cfg.run_id());
            }
        }
    }

    #[test]
    fn batched_training_is_deterministic() {
        let cfgs = mixed(true);
        let first = batched(&cfgs);
        let second = batched(&cfgs);
        for ((a, ea), (b, eb)) in first.iter().zip(&second) {
            assert_eq!(ea, eb);
            assert_eq!(a.steps, b.steps);
            assert_eq!(a.layers, b.layers);
        }
        // A member's records do not depend on its batch-mates or its place in the batch.
        let reordered = batched(&[cfgs[3].clone(), cfgs[1].clone()]);
        assert_eq!(reordered[0].0.steps, first[3].0.steps);
        assert_eq!(reordered[1].0.layers, first[1].0.layers);
    }

    #[test]
    fn a_diverging_member_does_not_poison_the_others() {
        let normal = mixed(true);
        let mut with_bad = normal.clone();
        with_bad.insert(2, small(true, 3, 1e30));
        let clean = batched(&normal);
        let dirty = batched(&with_bad);
        let (bad, bad_ending) = &dirty[2];
        assert_eq!(*bad_ending, Ending::Diverged { step: 0 });
        assert_eq!(bad.steps.len(), 1);
        assert_eq!(bad.steps[0].train_loss, None);
        // A one-run trainer records the same for it.
        let (want_bad, _) = alone(&with_bad[2]);
        assert_eq!(bad.steps, want_bad.steps);
        assert_eq!(bad.layers.len(), want_bad.layers.len());
        let others: Vec<&(Collect, Ending)> = dirty
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, r)| r)
            .collect();
        for ((got, e), (want, we)) in others.into_iter().zip(&clean) {
            assert_eq!(e, we);
            assert_eq!(got.steps, want.steps);
            assert_eq!(got.layers, want.layers);
        }
    }

    #[test]
    fn members_may_differ_in_optimizer_and_schedule() {
        let cfgs = vec![
            small(false, 2, 1.0),
            RunConfig {
                optimizer: OptimizerKind::Sgd,
                lr: 0.01,
                momentum: 0.5,
                steps: 17,
                eval_every: 3,
                probe_every: 7,
                ..small(false, 4, 1.0)
            },
            RunConfig {
                lr: 3e-3,
                steps: 12,
                eval_size: 32,
                ..small(false, 6, 0.7)
            },
        ];
        let together = batched(&cfgs);
        for (cfg, (got, ending)) in cfgs.iter().zip(&together) {
            let (want, want_ending) = alone(cfg);
            assert_eq!(*ending, want_ending);
            assert_eq!(got.steps, want.steps);
            assert_eq!(got.layers, want.layers);
        }
    }

    /// Stops at `stop_at` and keeps the checkpoints it is given.
    #[derive(Default)]
    struct StopAt {
        stop_at: usize,
        seen: Collect,
        saved: Option<TrainState>,
    }

    impl Observer for StopAt {
        fn record(&mut self, s: &StepRecord, l: &[LayerRecord]) -> anyhow::Result<()> {
            self.seen.record(s, l)
        }
        fn checkpoint(&mut self, state: &TrainState) -> anyhow::Result<()> {
            if state.step == self.stop_at {
                self.saved = Some(state.clone());
            }
            Ok(())
        }
        fn should_stop(&mut self) -> bool {
            self.saved.is_some()
        }
    }

    #[test]
    fn a_member_checkpoint_resumes_alone_or_batched_exactly() {
        for residual in [false, true] {
            let cfgs = mixed(residual);
            let full = batched(&cfgs);
            let mut obs: Vec<StopAt> = cfgs
                .iter()
                .map(|_| StopAt {
                    stop_at: 10,
                    ..StopAt::default()
                })
                .collect();
            let mut b = BatchedTrainer::new(&cfgs).unwrap();
            let endings = {
                let mut refs: Vec<&mut dyn Observer> =
                    obs.iter_mut().map(|o| o as &mut dyn Observer).collect();
                b.run(5, &mut refs).unwrap()
            };
            for (i, e) in endings.into_iter().enumerate() {
                assert_eq!(e.unwrap(), Ending::Interrupted { step: 10 });
                assert_eq!(b.state(i).unwrap(), *obs[i].saved.as_ref().unwrap());
            }
            // Member 1 alone, with the one-run trainer.
            let mut rest = Collect::default();
            let mut t = Trainer::resume(&cfgs[1], obs[1].saved.clone().unwrap()).unwrap();
            assert_eq!(t.run(5, &mut rest).unwrap(), Ending::Completed);
            let mut steps = obs[1].seen.steps.clone();
            steps.extend(rest.steps);
            assert_eq!(steps, full[1].0.steps);
            // The others as a new batch.
            let states: Vec<(RunConfig, TrainState)> = [0, 2, 3]
                .iter()
                .map(|&i| (cfgs[i].clone(), obs[i].saved.clone().unwrap()))
                .collect();
            let mut resumed = BatchedTrainer::from_states(states).unwrap();
            let mut rest: Vec<Collect> = (0..3).map(|_| Collect::default()).collect();
            let mut refs: Vec<&mut dyn Observer> =
                rest.iter_mut().map(|o| o as &mut dyn Observer).collect();
            for e in resumed.run(5, &mut refs).unwrap() {
                assert_eq!(e.unwrap(), Ending::Completed);
            }
            for (k, &i) in [0usize, 2, 3].iter().enumerate() {
                let mut steps = obs[i].seen.steps.clone();
                steps.extend(rest[k].steps.clone());
                assert_eq!(steps, full[i].0.steps);
                let mut layers = obs[i].seen.layers.clone();
                layers.extend(rest[k].layers.clone());
                assert_eq!(layers, full[i].0.layers);
            }
        }
    }

    #[test]
    fn members_must_share_shape_and_step() {
        let a = small(true, 0, 1.0);
        assert!(BatchedTrainer::new(&[a.clone(), small(false, 1, 1.0)]).is_err());
        assert!(BatchedTrainer::new(&[
            a.clone(),
            RunConfig {
                batch_size: 8,
                ..a.clone()
            }
        ])
        .is_err());
        assert!(BatchedTrainer::new(&[]).is_err());
        let (params, _) = model::init_params(&a);
        let state = |step| TrainState {
            step,
            params: params.clone(),
            opt: OptimizerState::new(a.optimizer, params.len()),
        };
        assert!(
            BatchedTrainer::from_states(vec![(a.clone(), state(0)), (a.clone(), state(5))])
                .is_err()
        );
    }

    /// An observer that fails to record at step 3.
    struct Broken(Collect);
    impl Observer for Broken {
        fn record(&mut self, s: &StepRecord, l: &[LayerRecord]) -> anyhow::Result<()> {
            anyhow::ensure!(s.step < 3, "disk full");
            self.0.record(s, l)
        }
        fn checkpoint(&mut self, _: &TrainState) -> anyhow::Result<()> {
            Ok(())
        }
        fn should_stop(&mut self) -> bool {
            false
        }
    }

    #[test]
    fn an_observer_error_ends_only_its_member() {
        let cfgs = mixed(false);
        let clean = batched(&cfgs);
        let (mut a, mut c, mut d) = (Collect::default(), Collect::default(), Collect::default());
        let mut broken = Broken(Collect::default());
        let mut b = BatchedTrainer::new(&cfgs).unwrap();
        let results = {
            let mut refs: Vec<&mut dyn Observer> = vec![&mut a, &mut broken, &mut c, &mut d];
            b.run(0, &mut refs).unwrap()
        };
        assert!(results[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("disk full"));
        assert_eq!(broken.0.steps.len(), 3);
        for (got, i) in [(a, 0), (c, 2), (d, 3)] {
            assert_eq!(*results[i].as_ref().unwrap(), Ending::Completed);
            assert_eq!(got.steps, clean[i].0.steps);
            assert_eq!(got.layers, clean[i].0.layers);
        }
    }
}
