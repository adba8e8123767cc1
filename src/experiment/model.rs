//! The PlainMLP and the ResMLP: parameters, Kaiming-He init, and the forward and backward
//! passes in candle with fused element-wise kernels.
//!
//! Parameters live in one flat `f32` buffer, layer by layer: `W_l` (`width x width`,
//! row-major, `W[out][in]`) then `b_l` (`width`). Layer `l` computes
//! `a_l = relu(x_l W_l^T + b_l)` and `x_{l+1} = a_l` (PlainMLP) or `x_l + a_l` (ResMLP).
//! The backward pass is written out by hand (three matrix products per layer, one fused
//! ReLU mask, one column sum) rather than through candle's autograd graph, which spends
//! most of a width-64 step on bookkeeping; `reference` below builds the same network
//! from `candle_nn::Linear` and autograd, and the tests hold the two to each other and to
//! finite differences.

use super::kernels::{
    bias_relu_residual, dead_fractions, with_f32, BiasRelu, ReluBackward, ResidualBackward,
};
use super::streams;
use crate::config::RunConfig;
use candle_core::{Device, Result, Tensor};

/// The shape of a network: what the forward pass needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    /// Number of layers.
    pub depth: usize,
    /// Width of every layer.
    pub width: usize,
    /// Skip connection around every layer.
    pub residual: bool,
}

impl Arch {
    /// The architecture of a run.
    pub fn of(cfg: &RunConfig) -> Arch {
        Arch {
            depth: cfg.depth,
            width: cfg.width,
            residual: cfg.residual,
        }
    }

    /// Parameters per layer (weights and bias).
    pub fn layer_len(&self) -> usize {
        self.width * self.width + self.width
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        self.depth * self.layer_len()
    }

    /// Index range of `W_l` in the flat buffer.
    pub fn weight_range(&self, l: usize) -> std::ops::Range<usize> {
        let start = l * self.layer_len();
        start..start + self.width * self.width
    }

    /// Index range of `b_l` in the flat buffer.
    pub fn bias_range(&self, l: usize) -> std::ops::Range<usize> {
        let start = l * self.layer_len() + self.width * self.width;
        start..start + self.width
    }
}

/// Kaiming-He normal init times `init_scale`, zero bias: `W = z * init_scale * sqrt(2/fan_in)`
/// with `z` the standard-normal draws of the layer's init stream. Returns the flat
/// parameters and the hash of the unscaled draws (equal across arms and init scales).
pub fn init_params(cfg: &RunConfig) -> (Vec<f32>, String) {
    let arch = Arch::of(cfg);
    let std = (cfg.init_scale_value() * (2.0 / cfg.width as f64).sqrt()) as f32;
    let mut params = vec![0f32; arch.param_count()];
    let mut draws = Vec::with_capacity(arch.depth);
    for l in 0..arch.depth {
        let z = streams::init_normals(cfg.seed, l, cfg.width * cfg.width);
        for (w, &zv) in params[arch.weight_range(l)].iter_mut().zip(&z) {
            *w = zv * std;
        }
        draws.push(z);
    }
    let parts: Vec<&[f32]> = draws.iter().map(|d| d.as_slice()).collect();
    (params, streams::hash_f32(&parts))
}

/// Per-layer statistics of one forward/backward pass (layers are numbered from 1).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStats {
    /// L2 norm of the weight gradient.
    pub grad_norm: f64,
    /// L2 norm of the bias gradient.
    pub bias_grad_norm: f64,
    /// Mean of the layer's output `x_{l+1}` over batch and units.
    pub act_mean: f64,
    /// Standard deviation (population) of the layer's output over batch and units.
    pub act_std: f64,
    /// Fraction of the layer's ReLU outputs that are zero on the batch (sparsity; zeros
    /// from f32 underflow included: see [`super::units`] for dead units and underflow).
    pub sparsity: f64,
    /// L2 norm of the layer's weights.
    pub weight_norm: f64,
}

/// Result of one forward and backward pass over a batch.
pub struct Pass {
    /// Mean squared error over batch and units (accumulated in f64).
    pub loss: f64,
    /// Gradient of the loss, laid out like the parameters.
    pub grads: Vec<f32>,
    /// Per-layer statistics, when asked for.
    pub layers: Option<Vec<LayerStats>>,
}

fn weight_tensors(arch: Arch, params: &[f32], dev: &Device) -> Result<Vec<(Tensor, Tensor)>> {
    (0..arch.depth)
        .map(|l| {
            let w =
                Tensor::from_slice(&params[arch.weight_range(l)], (arch.width, arch.width), dev)?;
            let b = Tensor::from_slice(&params[arch.bias_range(l)], arch.width, dev)?;
            Ok((w, b))
        })
        .collect()
}

/// Forward pass; returns every layer input `x_0..x_L` and where every layer's ReLU was
/// active: its output `a_l` (PlainMLP, where it is also `x_{l+1}`) or its byte mask
/// (ResMLP; see [`super::kernels::Active`]).
pub(crate) fn forward(
    arch: Arch,
    layers: &[(Tensor, Tensor)],
    x: Tensor,
) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let mut xs = Vec::with_capacity(arch.depth + 1);
    let mut acts = Vec::with_capacity(arch.depth);
    xs.push(x);
    for (w, b) in layers {
        let h = &xs[xs.len() - 1];
        let z = h.matmul(&w.t()?)?;
        if arch.residual {
            let (next, mask) = bias_relu_residual(&z, b, h)?;
            acts.push(mask);
            xs.push(next);
        } else {
            let a = z.apply_op2_no_bwd(b, &BiasRelu)?;
            acts.push(a.clone());
            xs.push(a);
        }
    }
    Ok((xs, acts))
}

/// Mean squared error between `y` and `x`, and its gradient with respect to `y`.
pub(crate) fn mse_and_grad(y: &[f32], x: &[f32]) -> (f64, Vec<f32>) {
    let n = y.len() as f64;
    let scale = (2.0 / n) as f32;
    let mut sum = 0f64;
    let grad = y
        .iter()
        .zip(x)
        .map(|(&yv, &xv)| {
            let d = yv - xv;
            sum += (d as f64) * (d as f64);
            scale * d
        })
        .collect();
    (sum / n, grad)
}

/// L2 norm, accumulated in f64.
pub(crate) fn l2(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

/// Mean and population standard deviation, accumulated in f64.
pub(crate) fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// A layer's probe from its weight and bias gradients, weights, output and sparsity.
pub(crate) fn layer_stats(
    dw: &[f32],
    db: &[f32],
    w: &[f32],
    out: &[f32],
    sparsity: f64,
) -> LayerStats {
    let (act_mean, act_std) = mean_std(out);
    LayerStats {
        grad_norm: l2(dw),
        bias_grad_norm: l2(db),
        act_mean,
        act_std,
        sparsity,
        weight_norm: l2(w),
    }
}

/// One forward and backward pass of the Distant Identity loss on `x` (`rows x width`).
pub fn forward_backward(arch: Arch, params: &[f32], x: &[f32], probe: bool) -> Result<Pass> {
    let dev = Device::Cpu;
    let rows = x.len() / arch.width;
    let layers = weight_tensors(arch, params, &dev)?;
    let (xs, acts) = forward(
        arch,
        &layers,
        Tensor::from_slice(x, (rows, arch.width), &dev)?,
    )?;
    let (loss, g) = with_f32(&xs[arch.depth], |y| mse_and_grad(y, x))?;
    // `g` is the gradient of the loss with respect to the current layer's output; the
    // fused ops return it (ResMLP), the pre-activation gradient `dz` and the bias gradient
    // stacked in one tensor.
    let mut g = Tensor::from_vec(g, (rows, arch.width), &dev)?;
    let top = g.apply_op2_no_bwd(&acts[arch.depth - 1], &ReluBackward)?;
    let (mut dz, mut db) = (top.narrow(0, 0, rows)?, top.narrow(0, rows, 1)?);

    let mut grads = vec![0f32; params.len()];
    let mut stats = Vec::with_capacity(if probe { arch.depth } else { 0 });
    for l in (0..arch.depth).rev() {
        let dw = dz.t()?.matmul(&xs[l])?;
        with_f32(&dw, |s| grads[arch.weight_range(l)].copy_from_slice(s))?;
        with_f32(&db, |s| grads[arch.bias_range(l)].copy_from_slice(s))?;
        if probe {
            let sparsity = dead_fractions(&acts[l], 1)?[0];
            stats.push(with_f32(&xs[l + 1], |out| {
                layer_stats(
                    &grads[arch.weight_range(l)],
                    &grads[arch.bias_range(l)],
                    &params[arch.weight_range(l)],
                    out,
                    sparsity,
                )
            })?);
        }
        if l > 0 {
            let gx = dz.matmul(&layers[l].0)?;
            if arch.residual {
                let back = g.apply_op3_no_bwd(&gx, &acts[l - 1], &ResidualBackward)?;
                g = back.narrow(0, 0, rows)?;
                dz = back.narrow(0, rows, rows)?;
                db = back.narrow(0, 2 * rows, 1)?;
            } else {
                let back = gx.apply_op2_no_bwd(&acts[l - 1], &ReluBackward)?;
                dz = back.narrow(0, 0, rows)?;
                db = back.narrow(0, rows, 1)?;
            }
        }
    }
    stats.reverse();
    Ok(Pass {
        loss,
        grads,
        layers: probe.then_some(stats),
    })
}

/// The loss on `x` without gradients (the eval pass).
pub fn loss(arch: Arch, params: &[f32], x: &[f32]) -> Result<f64> {
    let dev = Device::Cpu;
    let rows = x.len() / arch.width;
    let layers = weight_tensors(arch, params, &dev)?;
    let (xs, _) = forward(
        arch,
        &layers,
        Tensor::from_slice(x, (rows, arch.width), &dev)?,
    )?;
    with_f32(&xs[arch.depth], |y| mse_and_grad(y, x).0)
}

/// The same network built from `candle_nn::Linear` layers and trained through candle's
/// autograd: the reference the fused pass is tested against (and benchmarked against).
pub mod reference {
    use super::Arch;
    use candle_core::{DType, Device, Result, Tensor, Var};
    use candle_nn::{Linear, Module};

    /// Loss and flat gradient via autograd, computed in `dtype` (F32 or F64).
    pub fn loss_and_grads(
        arch: Arch,
        params: &[f32],
        x: &[f32],
        dtype: DType,
    ) -> Result<(f64, Vec<f32>)> {
        let dev = Device::Cpu;
        let rows = x.len() / arch.width;
        let mut vars = Vec::with_capacity(arch.depth);
        for l in 0..arch.depth {
            let w = Tensor::from_slice(
                &params[arch.weight_range(l)],
                (arch.width, arch.width),
                &dev,
            )?
            .to_dtype(dtype)?;
            let b = Tensor::from_slice(&params[arch.bias_range(l)], arch.width, &dev)?
                .to_dtype(dtype)?;
            vars.push((Var::from_tensor(&w)?, Var::from_tensor(&b)?));
        }
        let input = Tensor::from_slice(x, (rows, arch.width), &dev)?.to_dtype(dtype)?;
        let mut h = input.clone();
        for (w, b) in &vars {
            let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
            let a = layer.forward(&h)?.relu()?;
            h = if arch.residual { (h + a)? } else { a };
        }
        let loss = (h - &input)?.sqr()?.mean_all()?;
        let store = loss.backward()?;
        let mut grads = vec![0f32; arch.param_count()];
        for (l, (w, b)) in vars.iter().enumerate() {
            for (var, range) in [(w, arch.weight_range(l)), (b, arch.bias_range(l))] {
                let g = store
                    .get(var.as_tensor())
                    .ok_or_else(|| candle_core::Error::Msg("missing gradient".into()))?;
                let g = g.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                grads[range].copy_from_slice(&g);
            }
        }
        Ok((loss.to_dtype(DType::F64)?.to_scalar::<f64>()?, grads))
    }

    /// The loss alone in f64 (for finite differences).
    pub fn loss_f64(arch: Arch, params: &[f64], x: &[f32]) -> Result<f64> {
        let dev = Device::Cpu;
        let rows = x.len() / arch.width;
        let input = Tensor::from_slice(x, (rows, arch.width), &dev)?.to_dtype(DType::F64)?;
        let mut h = input.clone();
        for l in 0..arch.depth {
            let w = Tensor::from_slice(
                &params[arch.weight_range(l)],
                (arch.width, arch.width),
                &dev,
            )?;
            let b = Tensor::from_slice(&params[arch.bias_range(l)], arch.width, &dev)?;
            let a = Linear::new(w, Some(b)).forward(&h)?.relu()?;
            h = if arch.residual { (h + a)? } else { a };
        }
        (h - &input)?.sqr()?.mean_all()?.to_scalar::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitScale;
    use candle_core::DType;

    fn tiny(residual: bool) -> (Arch, Vec<f32>, Vec<f32>) {
        let cfg = RunConfig {
            depth: 3,
            width: 5,
            residual,
            init_scale: InitScale::Value(1.0),
            seed: 11,
            ..RunConfig::default()
        };
        let (mut params, _) = init_params(&cfg);
        // Non-zero biases so that their gradients are exercised too.
        for (i, p) in params.iter_mut().enumerate() {
            if Arch::of(&cfg)
                .bias_range(i / Arch::of(&cfg).layer_len())
                .contains(&i)
            {
                *p = 0.05 * ((i % 7) as f32 - 3.0);
            }
        }
        (Arch::of(&cfg), params, streams::train_batch(1, 0, 4, 5))
    }

    #[test]
    fn gradients_match_autograd_and_finite_differences() {
        for residual in [false, true] {
            let (arch, params, x) = tiny(residual);
            let fused = forward_backward(arch, &params, &x, true).unwrap();
            let (auto_loss, auto) =
                reference::loss_and_grads(arch, &params, &x, DType::F32).unwrap();
            assert!((fused.loss - auto_loss).abs() <= 1e-6 * auto_loss.abs().max(1e-12));
            for (i, (a, b)) in fused.grads.iter().zip(&auto).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1e-3),
                    "residual={residual} param {i}: fused {a} autograd {b}"
                );
            }
            // Central differences in f64 on the reference network.
            let p64: Vec<f64> = params.iter().map(|&v| v as f64).collect();
            let h = 1e-6;
            for i in 0..params.len() {
                let (mut up, mut down) = (p64.clone(), p64.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (reference::loss_f64(arch, &up, &x).unwrap()
                    - reference::loss_f64(arch, &down, &x).unwrap())
                    / (2.0 * h);
                let g = fused.grads[i] as f64;
                assert!(
                    (g - fd).abs() <= 1e-4 * fd.abs().max(1e-2),
                    "residual={residual} param {i}: fused {g} finite-difference {fd}"
                );
            }
        }
    }

    #[test]
    fn init_statistics_follow_kaiming_he() {
        for scale in [1.0, 0.5] {
            let cfg = RunConfig {
                init_scale: InitScale::Value(scale),
                ..RunConfig::default()
            };
            let (params, _) = init_params(&cfg);
            let arch = Arch::of(&cfg);
            let target = scale * (2.0f64 / 64.0).sqrt();
            let w: Vec<f32> = (0..arch.depth)
                .flat_map(|l| params[arch.weight_range(l)].to_vec())
                .collect();
            let (mean, std) = mean_std(&w);
            assert!(mean.abs() < 0.01 * target * 10.0, "mean {mean}");
            assert!((std / target - 1.0).abs() < 0.02, "std {std} vs {target}");
            assert!((0..arch.depth).all(|l| params[arch.bias_range(l)].iter().all(|&b| b == 0.0)));
        }
    }

    #[test]
    fn init_hash_ignores_arm_and_scale_but_not_seed() {
        let a = RunConfig::default();
        let b = RunConfig {
            residual: true,
            init_scale: InitScale::Value(1.0),
            ..a.clone()
        };
        let (pa, ha) = init_params(&a);
        let (pb, hb) = init_params(&b);
        assert_eq!(ha, hb);
        assert_ne!(pa, pb, "different scales give different weights");
        let c = RunConfig { seed: 1, ..a };
        assert_ne!(init_params(&c).1, ha);
    }
}
