//! The training-step benchmark behind `resweep bench`: microseconds per step on the
//! calling thread, next to the floor set by the step's matrix products alone and to a
//! straightforward candle-nn + autograd + `AdamW` loop of the same training.
//!
//! With `vectorize = S > 1` it also times the vectorized step of
//! [`super::batched::BatchedTrainer`] (`S` runs in one batched graph); its figures are
//! per run-step (the batched time divided by `S`).
//!
//! Two floors are measured for every row, both on the step's own shapes and (batched,
//! strided) weight views:
//! - the **floor**: the step's matrix products with the step's data flow
//!   ([`super::batched::StepProducts`]): forward products chained up and kept, weight
//!   gradients on the kept layer inputs, input gradients chained down. This is what the
//!   step's arithmetic costs, including reading each layer's own input back in the
//!   backward pass; the step is judged against it.
//! - the **hot floor**: each layer's products on one shared input, which stays in cache.
//!   It is the products' cost when nothing competes for the cache; at 16 runs per batch
//!   the layer inputs no longer fit in L2 and the floor is ~10% above it.
//!
//! Timing is reported, never asserted: this machine is shared and noisy, so each figure
//! is the median of several repetitions.

use super::batched::BatchedTrainer;
use super::kernels::FlushDenormals;
use super::model::{self, Arch};
use super::optim::OptimizerState;
use super::streams;
use crate::config::{InitScale, RunConfig};
use candle_core::{Device, Tensor, Var};
use candle_nn::{Linear, Module, Optimizer};
use serde::Serialize;
use std::time::Instant;

/// Figures for one batch size and one way of training.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    /// Batch size.
    pub batch: usize,
    /// Runs per batched graph: 1 for the one-run path, `S` for the vectorized step.
    pub vectorize: usize,
    /// Median microseconds per training step of one run (batch, forward, backward,
    /// update); for a vectorized row, the batched step's time divided by `S`.
    pub us_per_step: f64,
    /// Achieved GFLOP/s counting the step's matrix products (`6 B w^2 L - 2 B w^2`).
    pub gflops: f64,
    /// Median microseconds of the step's matrix products alone, with the step's data
    /// flow: the arithmetic floor (per run: batched products divided by `S` for a
    /// vectorized row).
    pub matmul_floor_us: f64,
    /// `us_per_step / matmul_floor_us`, as the median of the ratios of interleaved
    /// rounds (each round times the step, the floor and the hot floor in turn).
    pub x_floor: f64,
    /// Median microseconds of each layer's products on one shared, cache-resident
    /// input: the floor's cost when nothing competes for the cache (per run likewise).
    pub hot_floor_us: f64,
    /// `us_per_step / hot_floor_us`, paired by round likewise.
    pub x_hot_floor: f64,
    /// Median microseconds per step of the candle-nn autograd + AdamW loop.
    pub autograd_us_per_step: Option<f64>,
}

/// Benchmark settings.
#[derive(Clone, Debug)]
pub struct BenchSpec {
    /// Network depth.
    pub depth: usize,
    /// Network width.
    pub width: usize,
    /// Batch sizes to measure.
    pub batches: Vec<usize>,
    /// Timed steps per repetition.
    pub steps: usize,
    /// Repetitions (the median is reported).
    pub reps: usize,
    /// Also time the candle-nn autograd reference loop.
    pub with_autograd: bool,
    /// Also time the vectorized step of this many runs (1: only the one-run path). Its
    /// repetitions take `max(steps / vectorize, 5)` batched steps each.
    pub vectorize: usize,
}

impl BenchSpec {
    /// Batched steps per repetition of the vectorized step: as many run-steps as a
    /// one-run repetition, and at least 5.
    pub fn batched_steps(&self) -> usize {
        (self.steps / self.vectorize.max(1)).max(5)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Microseconds per call of one workload in each round of [`time_interleaved`].
type Rounds = Vec<f64>;

/// Times workloads in interleaved rounds: after one warm-up call each, every round runs
/// `calls` calls of each workload in turn and records its microseconds per call. A slow
/// spell of this shared machine then hits every workload of a round alike, so ratios
/// taken round by round ([`paired_ratio`]) are steadier than ratios of separate medians.
fn time_interleaved(
    reps: usize,
    calls: usize,
    work: &mut [&mut dyn FnMut() -> anyhow::Result<()>],
) -> anyhow::Result<Vec<Rounds>> {
    for f in work.iter_mut() {
        f()?;
    }
    let mut rounds: Vec<Rounds> = (0..work.len()).map(|_| Vec::with_capacity(reps)).collect();
    for _ in 0..reps {
        for (f, samples) in work.iter_mut().zip(&mut rounds) {
            let start = Instant::now();
            for _ in 0..calls {
                f()?;
            }
            samples.push(start.elapsed().as_secs_f64() * 1e6 / calls as f64);
        }
    }
    Ok(rounds)
}

/// The median microseconds per call of one workload (see [`time_interleaved`]).
fn time_reps(
    reps: usize,
    calls: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let rounds = time_interleaved(reps, calls, &mut [&mut f])?;
    Ok(median(rounds.into_iter().next().unwrap_or_default()))
}

/// The median over rounds of `a / b`, each round's figures paired.
fn paired_ratio(a: &Rounds, b: &Rounds) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| x / y).collect())
}

/// One row from interleaved rounds of a step, its floor and its hot floor (all already
/// per run-step).
fn row(
    batch: usize,
    vectorize: usize,
    flops: f64,
    rounds: &[Rounds],
    autograd_us_per_step: Option<f64>,
) -> BenchRow {
    let [step, floor, hot] = rounds else {
        unreachable!("three workloads are timed")
    };
    let us_per_step = median(step.clone());
    BenchRow {
        batch,
        vectorize,
        us_per_step,
        gflops: flops / us_per_step / 1e3,
        matmul_floor_us: median(floor.clone()),
        x_floor: paired_ratio(step, floor),
        hot_floor_us: median(hot.clone()),
        x_hot_floor: paired_ratio(step, hot),
        autograd_us_per_step,
    }
}

/// Runs the benchmark on the calling thread.
pub fn run(spec: &BenchSpec) -> anyhow::Result<Vec<BenchRow>> {
    let _ftz = FlushDenormals::enable();
    let mut rows = Vec::new();
    for &batch in &spec.batches {
        let cfg = RunConfig {
            depth: spec.depth,
            width: spec.width,
            residual: true,
            init_scale: InitScale::Expr("1/sqrt(depth)".into()),
            batch_size: batch,
            ..RunConfig::default()
        };
        let arch = Arch::of(&cfg);
        let (mut params, _) = model::init_params(&cfg);
        let w = spec.width;
        let (x, weights) = plain_operands(&params, arch, batch)?;
        // The one-run step's products, replayed through a batch of one: the same sizes per
        // product, with a leading batch dimension of 1 (both paths agree bit for bit, as
        // the batched trainer's tests check).
        let products = BatchedTrainer::new(std::slice::from_ref(&cfg))?.step_products()?;
        let mut opt = OptimizerState::new(cfg.optimizer, params.len());
        let mut t = 0usize;
        let rounds = time_interleaved(
            spec.reps,
            spec.steps,
            &mut [
                &mut || {
                    let x = streams::train_batch(cfg.seed, t, batch, cfg.width);
                    let pass = model::forward_backward(arch, &params, &x, false)?;
                    t += 1;
                    opt.step(&cfg, t, &mut params, &pass.grads);
                    Ok(())
                },
                &mut || Ok(products.run()?),
                &mut || Ok(hot_floor(&x, &weights)?),
            ],
        )?;
        drop(products);

        let autograd_us_per_step = if spec.with_autograd {
            Some(autograd_loop(&cfg, &params, spec)?)
        } else {
            None
        };
        let flops = (6 * spec.depth - 2) as f64 * (batch * w * w) as f64;
        rows.push(row(batch, 1, flops, &rounds, autograd_us_per_step));
        if spec.vectorize > 1 {
            let rounds = vectorized(&cfg, spec)?;
            rows.push(row(batch, spec.vectorize, flops, &rounds, None));
        }
    }
    Ok(rows)
}

/// A one-run step's input batch `[batch, width]` and weights `[width, width]`.
fn plain_operands(
    params: &[f32],
    arch: Arch,
    batch: usize,
) -> anyhow::Result<(Tensor, Vec<Tensor>)> {
    let (w, dev) = (arch.width, Device::Cpu);
    let x = Tensor::from_vec(streams::train_batch(0, 0, batch, w), (batch, w), &dev)?;
    let weights = (0..arch.depth)
        .map(|l| Tensor::from_slice(&params[arch.weight_range(l)], (w, w), &dev))
        .collect::<Result<_, _>>()?;
    Ok((x, weights))
}

/// Interleaved rounds of the vectorized step of `spec.vectorize` runs (seeds 0..S of
/// `cfg`), its floor and its hot floor, in microseconds per run-step.
fn vectorized(cfg: &RunConfig, spec: &BenchSpec) -> anyhow::Result<Vec<Rounds>> {
    let s = spec.vectorize;
    let steps = spec.batched_steps();
    let cfgs: Vec<RunConfig> = (0..s as u64)
        .map(|seed| RunConfig {
            seed,
            steps: usize::MAX / 2,
            ..cfg.clone()
        })
        .collect();
    let mut trainer = BatchedTrainer::new(&cfgs)?;
    let products = trainer.step_products()?;

    // The hot floor: each layer's products on one input, same shapes and strided views.
    let arch = Arch::of(cfg);
    let (w, b, dev) = (arch.width, cfg.batch_size, Device::Cpu);
    let mut flat = Vec::with_capacity(s * arch.param_count());
    for c in &cfgs {
        flat.extend(model::init_params(c).0);
    }
    let params = Tensor::from_vec(flat, (s, arch.depth, w + 1, w), &dev)?;
    let x = Tensor::from_vec(streams::train_batch(0, 0, s * b, w), (s, b, w), &dev)?;
    let weights: Vec<Tensor> = (0..arch.depth)
        .map(|l| params.narrow(1, l, 1)?.squeeze(1)?.narrow(1, 0, w))
        .collect::<Result<_, _>>()?;
    let mut rounds = time_interleaved(
        spec.reps,
        steps,
        &mut [
            &mut || trainer.bench_step(),
            &mut || Ok(products.run()?),
            &mut || Ok(hot_floor(&x, &weights)?),
        ],
    )?;
    for r in &mut rounds {
        for v in r.iter_mut() {
            *v /= s as f64;
        }
    }
    Ok(rounds)
}

/// Each layer's matrix products (forward, weight gradient, input gradient except at
/// layer 1) on the one input `x` and `weights`, plain or batched: the hot floor.
fn hot_floor(x: &Tensor, weights: &[Tensor]) -> candle_core::Result<()> {
    for (l, wl) in weights.iter().enumerate() {
        let h = x.matmul(&wl.t()?)?;
        let _dw = h.t()?.matmul(x)?;
        if l > 0 {
            let _dx = h.matmul(wl)?;
        }
    }
    Ok(())
}

/// The straightforward candle loop: `candle_nn::Linear` layers, autograd, `AdamW` with no
/// weight decay.
fn autograd_loop(cfg: &RunConfig, params: &[f32], spec: &BenchSpec) -> anyhow::Result<f64> {
    let arch = Arch::of(cfg);
    let dev = Device::Cpu;
    let mut vars = Vec::new();
    let mut layers = Vec::new();
    for l in 0..arch.depth {
        let w = Var::from_tensor(&Tensor::from_slice(
            &params[arch.weight_range(l)],
            (arch.width, arch.width),
            &dev,
        )?)?;
        let b = Var::from_tensor(&Tensor::from_slice(
            &params[arch.bias_range(l)],
            arch.width,
            &dev,
        )?)?;
        layers.push(Linear::new(
            w.as_tensor().clone(),
            Some(b.as_tensor().clone()),
        ));
        vars.push(w);
        vars.push(b);
    }
    let mut opt = candle_nn::AdamW::new(
        vars,
        candle_nn::ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut t = 0usize;
    time_reps(spec.reps, spec.steps, || {
        let x = Tensor::from_vec(
            streams::train_batch(cfg.seed, t, cfg.batch_size, cfg.width),
            (cfg.batch_size, cfg.width),
            &dev,
        )?;
        t += 1;
        let mut h = x.clone();
        for layer in &layers {
            let a = layer.forward(&h)?.relu()?;
            h = if arch.residual { (h + a)? } else { a };
        }
        let loss = (h - &x)?.sqr()?.mean_all()?;
        opt.backward_step(&loss)?;
        Ok(())
    })
}
