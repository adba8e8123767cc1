//! The training-step benchmark behind `resweep bench`: microseconds per step on the
//! calling thread, next to the floor set by the step's matrix products alone and to a
//! straightforward candle-nn + autograd + `AdamW` loop of the same training.
//!
//! With `vectorize = S > 1` it also times the vectorized step of
//! [`super::batched::BatchedTrainer`] (`S` runs in one batched graph) and, as its floor,
//! the same step's batched matrix products on the same strided views of stacked weights;
//! both are reported per run-step (the batched time divided by `S`).
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
    /// Median microseconds of the step's matrix products alone: the arithmetic floor
    /// (per run: batched products divided by `S` for a vectorized row).
    pub matmul_floor_us: f64,
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_reps(
    reps: usize,
    steps: usize,
    mut f: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    f(0)?; // warm-up
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        for i in 0..steps {
            f(i + 1)?;
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / steps as f64);
    }
    Ok(median(samples))
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
        let mut opt = OptimizerState::new(cfg.optimizer, params.len());
        let mut t = 0usize;
        let us_per_step = time_reps(spec.reps, spec.steps, |_| {
            let x = streams::train_batch(cfg.seed, t, batch, cfg.width);
            let pass = model::forward_backward(arch, &params, &x, false)?;
            t += 1;
            opt.step(&cfg, t, &mut params, &pass.grads);
            Ok(())
        })?;

        let dev = Device::Cpu;
        let w = spec.width;
        let x = Tensor::from_vec(streams::train_batch(0, 0, batch, w), (batch, w), &dev)?;
        let weights: Vec<Tensor> = (0..spec.depth)
            .map(|l| Tensor::from_slice(&params[arch.weight_range(l)], (w, w), &dev))
            .collect::<Result<_, _>>()?;
        let matmul_floor_us = matmul_floor(&x, &weights, spec.reps, spec.steps)?;

        let autograd_us_per_step = if spec.with_autograd {
            Some(autograd_loop(&cfg, &params, spec)?)
        } else {
            None
        };
        let flops = (6 * spec.depth - 2) as f64 * (batch * w * w) as f64;
        rows.push(BenchRow {
            batch,
            vectorize: 1,
            us_per_step,
            gflops: flops / us_per_step / 1e3,
            matmul_floor_us,
            autograd_us_per_step,
        });
        if spec.vectorize > 1 {
            let (us_per_step, matmul_floor_us) = vectorized(&cfg, spec)?;
            rows.push(BenchRow {
                batch,
                vectorize: spec.vectorize,
                us_per_step,
                gflops: flops / us_per_step / 1e3,
                matmul_floor_us,
                autograd_us_per_step: None,
            });
        }
    }
    Ok(rows)
}

/// The vectorized step of `spec.vectorize` runs (seeds 0..S of `cfg`) and its batched
/// matrix products, both in microseconds per run-step.
fn vectorized(cfg: &RunConfig, spec: &BenchSpec) -> anyhow::Result<(f64, f64)> {
    let s = spec.vectorize;
    let steps = (spec.steps / s).max(5);
    let cfgs: Vec<RunConfig> = (0..s as u64)
        .map(|seed| RunConfig {
            seed,
            steps: usize::MAX / 2,
            ..cfg.clone()
        })
        .collect();
    let mut trainer = BatchedTrainer::new(&cfgs)?;
    let us = time_reps(spec.reps, steps, |_| trainer.bench_step())?;

    // The floor: the step's products on the same shapes and strided views.
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
    let floor = matmul_floor(&x, &weights, spec.reps, steps)?;
    Ok((us / s as f64, floor / s as f64))
}

/// The step's matrix products alone (forward, weight gradient, input gradient except at
/// layer 1) on `x` and `weights`, plain or batched: the arithmetic floor of a step.
fn matmul_floor(x: &Tensor, weights: &[Tensor], reps: usize, steps: usize) -> anyhow::Result<f64> {
    time_reps(reps, steps, |_| {
        for (l, wl) in weights.iter().enumerate() {
            let h = x.matmul(&wl.t()?)?;
            let _dw = h.t()?.matmul(x)?;
            if l > 0 {
                let _dx = h.matmul(wl)?;
            }
        }
        Ok(())
    })
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
    time_reps(spec.reps, spec.steps, |_| {
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
