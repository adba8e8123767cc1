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

pub use super::arch::{Arch, Block};
use super::block::Trace;
use super::kernels::{
    bias_relu_residual, dead_fractions, with_f32, BiasRelu, ReluBackward, ResidualBackward,
};
use super::streams;
use crate::config::{BiasInit, RunConfig, WeightInit};
use candle_core::{Device, Result, Tensor};

/// The initial parameters of a run and the hash of its raw draws.
///
/// Weights by `weight_init`, times `init_scale` (fan-in `width`):
/// - `kaiming_normal`: `W = z · init_scale · sqrt(2/fan_in)`, `z` the standard-normal draws
///   of the layer's init stream;
/// - `kaiming_uniform`: `W = u · init_scale · sqrt(6/fan_in)`, `u ~ U(-1, 1)` from the same
///   stream (the same variance);
/// - `orthogonal`: `W = init_scale · sqrt(2) · Q`, `Q` the orthogonal factor of the QR
///   decomposition of the layer's normal draws (as a `width x width` matrix), its columns'
///   signs fixed by `R`'s diagonal (so `Q` is Haar-distributed);
/// - `torch_default`: `W = u · init_scale / sqrt(fan_in)`, PyTorch `nn.Linear`'s default.
///
/// Biases by `bias_init`: zero, or `U(±1/sqrt(fan_in))` from the layer's own bias stream
/// (not scaled). ReZero gates start at `gate_init`.
///
/// The hash covers the raw draws (the weights' normal or uniform draws, then the biases'
/// when drawn): equal across arms and init scales, so the audit can prove that both arms
/// of a seed started from the same randomness.
pub fn init_params(cfg: &RunConfig) -> (Vec<f32>, String) {
    let arch = Arch::of(cfg);
    let n = cfg.width;
    let scale = cfg.init_scale_value();
    let mut params = vec![0f32; arch.param_count()];
    let mut draws = Vec::with_capacity(2 * arch.depth);
    for l in 0..arch.depth {
        let (z, weights): (Vec<f32>, Vec<f32>) = match cfg.weight_init {
            WeightInit::KaimingNormal => {
                let z = streams::init_normals(cfg.seed, l, n * n);
                let std = (scale * (2.0 / n as f64).sqrt()) as f32;
                let w = z.iter().map(|&v| v * std).collect();
                (z, w)
            }
            WeightInit::KaimingUniform | WeightInit::TorchDefault => {
                let u = streams::init_uniforms(cfg.seed, l, n * n);
                let bound = if cfg.weight_init == WeightInit::KaimingUniform {
                    scale * (6.0 / n as f64).sqrt()
                } else {
                    scale / (n as f64).sqrt()
                } as f32;
                let w = u.iter().map(|&v| v * bound).collect();
                (u, w)
            }
            WeightInit::Orthogonal => {
                let z = streams::init_normals(cfg.seed, l, n * n);
                let q = orthogonal(&z, n);
                let gain = scale * std::f64::consts::SQRT_2;
                let w = (0..n * n)
                    .map(|k| (gain * q[(k / n, k % n)]) as f32)
                    .collect();
                (z, w)
            }
        };
        params[arch.weight_range(l)].copy_from_slice(&weights);
        draws.push(z);
        if arch.block.gate {
            params[arch.gate_index(l)] = cfg.gate_init as f32;
        }
    }
    if cfg.bias_init == BiasInit::TorchDefault {
        let bound = (1.0 / (n as f64).sqrt()) as f32;
        for l in 0..arch.depth {
            let u = streams::bias_uniforms(cfg.seed, l, n);
            for (b, &v) in params[arch.bias_range(l)].iter_mut().zip(&u) {
                *b = v * bound;
            }
            draws.push(u);
        }
    }
    let parts: Vec<&[f32]> = draws.iter().map(|d| d.as_slice()).collect();
    (params, streams::hash_f32(&parts))
}

/// The Haar-orthogonal factor of a `n x n` matrix of normal draws (row-major): `Q` of its
/// QR decomposition with every column multiplied by the sign of `R`'s diagonal entry.
fn orthogonal(z: &[f32], n: usize) -> nalgebra::DMatrix<f64> {
    let a = nalgebra::DMatrix::from_fn(n, n, |i, j| f64::from(z[i * n + j]));
    let qr = a.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
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
///
/// The default block runs through the fused ReLU kernels; every other block through
/// [`Trace`] (see [`super::block`]).
pub fn forward_backward(arch: Arch, params: &[f32], x: &[f32], probe: bool) -> Result<Pass> {
    if !arch.block.fused() {
        return forward_backward_any(arch, params, x, probe);
    }
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

/// [`forward_backward`] for any block.
fn forward_backward_any(arch: Arch, params: &[f32], x: &[f32], probe: bool) -> Result<Pass> {
    let trace = Trace::forward(arch, params, x)?;
    let (loss, g) = mse_and_grad(&trace.output, x);
    let grads = trace.backward(arch, params, g)?;
    let layers = probe.then(|| {
        (0..arch.depth)
            .map(|l| {
                let a = &trace.layers[l].branch;
                let sparsity = a.iter().filter(|&&v| v == 0.0).count() as f64 / a.len() as f64;
                layer_stats(
                    &grads[arch.weight_range(l)],
                    &grads[arch.bias_range(l)],
                    &params[arch.weight_range(l)],
                    trace.output_of(l),
                    sparsity,
                )
            })
            .collect()
    });
    Ok(Pass {
        loss,
        grads,
        layers,
    })
}

/// The loss on `x` without gradients (the eval pass).
pub fn loss(arch: Arch, params: &[f32], x: &[f32]) -> Result<f64> {
    if !arch.block.fused() {
        return Ok(mse_and_grad(&Trace::forward(arch, params, x)?.output, x).0);
    }
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

/// The same network built from `candle_nn::Linear` layers and candle's own operations
/// (`relu`, `tanh`, `gelu_erf`, a LayerNorm from means and square roots) and trained through
/// candle's autograd: the reference the fused pass and the hand-written backward pass of
/// every block are tested against (and benchmarked against).
pub mod reference {
    use super::Arch;
    use crate::config::{Activation, Norm};
    use candle_core::{DType, Device, Result, Tensor, Var};
    use candle_nn::{Linear, Module};

    /// The network's output for `input`, from per-layer weights, biases and gates.
    fn forward(
        arch: Arch,
        layers: &[(Tensor, Tensor, Option<Tensor>)],
        input: &Tensor,
    ) -> Result<Tensor> {
        let mut h = input.clone();
        for (l, (w, b, gate)) in layers.iter().enumerate() {
            let u = match arch.block.norm {
                Norm::None => h.clone(),
                Norm::LayerNorm => {
                    let c = h.broadcast_sub(&h.mean_keepdim(1)?)?;
                    let var = c.sqr()?.mean_keepdim(1)?;
                    c.broadcast_div(&(var + super::super::arch::LN_EPS)?.sqrt()?)?
                }
            };
            let z = Linear::new(w.clone(), Some(b.clone())).forward(&u)?;
            let a = if arch.block.activates(l, arch.depth) {
                match arch.block.activation {
                    Activation::Relu => z.relu()?,
                    Activation::Tanh => z.tanh()?,
                    Activation::Gelu => z.gelu_erf()?,
                    Activation::Linear => z,
                }
            } else {
                z
            };
            h = if arch.residual {
                let mut branch = (a * arch.block.branch_scale)?;
                if let Some(g) = gate {
                    branch = branch.broadcast_mul(g)?;
                }
                (h + branch)?
            } else {
                a
            };
        }
        Ok(h)
    }

    /// Layer `l`'s weight, bias and gate as tensors of `dtype`.
    fn tensors<T: candle_core::WithDType>(
        arch: Arch,
        params: &[T],
        l: usize,
        dtype: DType,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let dev = Device::Cpu;
        let w = Tensor::from_slice(
            &params[arch.weight_range(l)],
            (arch.width, arch.width),
            &dev,
        )?
        .to_dtype(dtype)?;
        let b =
            Tensor::from_slice(&params[arch.bias_range(l)], arch.width, &dev)?.to_dtype(dtype)?;
        let g = if arch.block.gate {
            let i = arch.gate_index(l);
            Some(Tensor::from_slice(&params[i..i + 1], 1, &dev)?.to_dtype(dtype)?)
        } else {
            None
        };
        Ok((w, b, g))
    }

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
            let (w, b, g) = tensors(arch, params, l, dtype)?;
            let g = g.map(|g| Var::from_tensor(&g)).transpose()?;
            vars.push((Var::from_tensor(&w)?, Var::from_tensor(&b)?, g));
        }
        let layers: Vec<(Tensor, Tensor, Option<Tensor>)> = vars
            .iter()
            .map(|(w, b, g)| {
                (
                    w.as_tensor().clone(),
                    b.as_tensor().clone(),
                    g.as_ref().map(|g| g.as_tensor().clone()),
                )
            })
            .collect();
        let input = Tensor::from_slice(x, (rows, arch.width), &dev)?.to_dtype(dtype)?;
        let loss = (forward(arch, &layers, &input)? - &input)?
            .sqr()?
            .mean_all()?;
        let store = loss.backward()?;
        let mut grads = vec![0f32; arch.param_count()];
        for (l, (w, b, g)) in vars.iter().enumerate() {
            let mut parts = vec![(w, arch.weight_range(l)), (b, arch.bias_range(l))];
            if let Some(g) = g {
                let i = arch.gate_index(l);
                parts.push((g, i..i + 1));
            }
            for (var, range) in parts {
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
        let layers = (0..arch.depth)
            .map(|l| tensors(arch, params, l, DType::F64))
            .collect::<Result<Vec<_>>>()?;
        (forward(arch, &layers, &input)? - &input)?
            .sqr()?
            .mean_all()?
            .to_scalar::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitScale;
    use candle_core::DType;

    fn tiny(residual: bool) -> (Arch, Vec<f32>, Vec<f32>) {
        tiny_variant(RunConfig {
            residual,
            ..RunConfig::default()
        })
    }

    /// A depth-3, width-5 network of `cfg`'s variant, with non-zero biases.
    fn tiny_variant(cfg: RunConfig) -> (Arch, Vec<f32>, Vec<f32>) {
        let cfg = RunConfig {
            depth: 3,
            width: 5,
            init_scale: InitScale::Value(1.0),
            seed: 11,
            ..cfg
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

    /// The loss's derivative by every parameter, by central differences (step 1e-6) of the
    /// f64 reference network.
    fn central_differences(arch: Arch, params: &[f32], x: &[f32]) -> Vec<f64> {
        let p64: Vec<f64> = params.iter().map(|&v| v as f64).collect();
        let h = 1e-6;
        (0..params.len())
            .map(|i| {
                let (mut up, mut down) = (p64.clone(), p64.clone());
                up[i] += h;
                down[i] -= h;
                (reference::loss_f64(arch, &up, x).unwrap()
                    - reference::loss_f64(arch, &down, x).unwrap())
                    / (2.0 * h)
            })
            .collect()
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
            for (i, fd) in central_differences(arch, &params, &x)
                .into_iter()
                .enumerate()
            {
                let g = fused.grads[i] as f64;
                assert!(
                    (g - fd).abs() <= 1e-4 * fd.abs().max(1e-2),
                    "residual={residual} param {i}: fused {g} finite-difference {fd}"
                );
            }
        }
    }

    /// Every block other than the original: its hand-written backward pass against
    /// candle's autograd (f64) and central differences.
    #[test]
    fn every_variant_matches_autograd_and_finite_differences() {
        use crate::config::{Activation, Gate, Norm};
        let res = |c: RunConfig| RunConfig {
            residual: true,
            ..c
        };
        let d = RunConfig::default;
        let variants = [
            RunConfig {
                activation: Activation::Tanh,
                ..d()
            },
            res(RunConfig {
                activation: Activation::Tanh,
                ..d()
            }),
            RunConfig {
                activation: Activation::Gelu,
                ..d()
            },
            res(RunConfig {
                activation: Activation::Gelu,
                ..d()
            }),
            RunConfig {
                activation: Activation::Linear,
                ..d()
            },
            RunConfig {
                output_relu: false,
                ..d()
            },
            res(RunConfig {
                output_relu: false,
                ..d()
            }),
            RunConfig {
                norm: Norm::LayerNorm,
                ..d()
            },
            res(RunConfig {
                norm: Norm::LayerNorm,
                ..d()
            }),
            res(RunConfig {
                branch_scale: InitScale::Value(0.3),
                ..d()
            }),
            res(RunConfig {
                gate: Gate::Rezero,
                gate_init: 0.4,
                ..d()
            }),
            res(RunConfig {
                gate: Gate::Rezero,
                gate_init: -0.2,
                branch_scale: InitScale::Value(0.5),
                norm: Norm::LayerNorm,
                activation: Activation::Gelu,
                output_relu: false,
                ..d()
            }),
        ];
        for cfg in variants {
            let what = format!("{:?}", Arch::of(&cfg));
            let (arch, params, x) = tiny_variant(cfg);
            assert!(!arch.block.fused(), "{what}");
            let pass = forward_backward(arch, &params, &x, true).unwrap();
            assert_eq!(pass.loss, loss(arch, &params, &x).unwrap(), "{what}");
            let (auto_loss, auto) =
                reference::loss_and_grads(arch, &params, &x, DType::F64).unwrap();
            assert!(
                (pass.loss - auto_loss).abs() <= 1e-5 * auto_loss.abs().max(1e-6),
                "{what}: loss {} vs {auto_loss}",
                pass.loss
            );
            for (i, fd) in central_differences(arch, &params, &x)
                .into_iter()
                .enumerate()
            {
                let (g, a) = (pass.grads[i] as f64, auto[i] as f64);
                assert!(
                    (g - a).abs() <= 1e-4 * a.abs().max(1e-2),
                    "{what} param {i}: hand {g} autograd {a}"
                );
                assert!(
                    (g - fd).abs() <= 1e-4 * fd.abs().max(1e-2),
                    "{what} param {i}: hand {g} finite-difference {fd}"
                );
            }
            if arch.block.gate {
                assert!(
                    (0..arch.depth).any(|l| pass.grads[arch.gate_index(l)] != 0.0),
                    "{what}: gates learn"
                );
            }
        }
    }

    /// A linear last layer or a skip reaches negative outputs; an output ReLU cannot, so a
    /// PlainMLP with one has `max(y, 0)` and can do no better than `relu(x)`: loss 1/6.
    #[test]
    fn an_output_relu_bounds_a_plain_net_at_one_sixth() {
        let x = streams::eval_batch(2, 4096, 64);
        let relu: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
        let best = mse_and_grad(&relu, &x).0;
        assert!((best - 1.0 / 6.0).abs() < 5e-3, "{best}");
        for output_relu in [true, false] {
            let cfg = RunConfig {
                output_relu,
                depth: 4,
                init_scale: InitScale::Value(1.0),
                ..RunConfig::default()
            };
            let (arch, params, _) = (Arch::of(&cfg), init_params(&cfg).0, ());
            let trace = super::super::block::Trace::forward(arch, &params, &x).unwrap();
            let negative = trace.output.iter().any(|&v| v < 0.0);
            assert_eq!(negative, !output_relu, "output_relu = {output_relu}");
            if output_relu {
                // No parameters do better than relu(x) elementwise.
                assert!(loss(arch, &params, &x).unwrap() >= best - 1e-9);
            }
        }
    }

    #[test]
    fn init_variants_have_their_statistics() {
        use crate::config::{Activation, WeightInit};
        let n = 64usize;
        for (init, var) in [
            (WeightInit::KaimingUniform, 2.0 / n as f64),
            (WeightInit::Orthogonal, 2.0 / n as f64),
            (WeightInit::TorchDefault, 1.0 / (3.0 * n as f64)),
        ] {
            for scale in [1.0, 0.5] {
                let cfg = RunConfig {
                    weight_init: init,
                    init_scale: InitScale::Value(scale),
                    activation: Activation::Relu,
                    ..RunConfig::default()
                };
                let (params, hash) = init_params(&cfg);
                let arch = Arch::of(&cfg);
                let w: Vec<f32> = (0..arch.depth)
                    .flat_map(|l| params[arch.weight_range(l)].to_vec())
                    .collect();
                let (mean, std) = mean_std(&w);
                let target = scale * var.sqrt();
                assert!(mean.abs() < 0.02 * target, "{init:?}: mean {mean}");
                assert!(
                    (std / target - 1.0).abs() < 0.02,
                    "{init:?}: std {std} vs {target}"
                );
                if init != WeightInit::Orthogonal {
                    let bound = if init == WeightInit::TorchDefault {
                        1.0 / (n as f64).sqrt()
                    } else {
                        (6.0 / n as f64).sqrt()
                    };
                    assert!(
                        w.iter()
                            .all(|&v| (v as f64).abs() <= scale * bound * (1.0 + 1e-6)),
                        "{init:?}: bounded"
                    );
                } else {
                    // W W^T = 2 s^2 I.
                    for l in 0..arch.depth {
                        let m = &params[arch.weight_range(l)];
                        for i in 0..n {
                            for j in 0..n {
                                let dot: f64 = (0..n)
                                    .map(|k| m[i * n + k] as f64 * m[j * n + k] as f64)
                                    .sum();
                                let want = if i == j { 2.0 * scale * scale } else { 0.0 };
                                assert!((dot - want).abs() < 1e-5, "layer {l} ({i}, {j}): {dot}");
                            }
                        }
                    }
                }
                // Both arms of a seed draw the same: one hash for both arms and scales.
                let other = RunConfig {
                    residual: true,
                    init_scale: InitScale::Value(1.0),
                    ..cfg.clone()
                };
                assert_eq!(init_params(&other).1, hash, "{init:?}");
                assert_ne!(init_params(&RunConfig { seed: 1, ..cfg }).1, hash);
            }
        }
    }

    #[test]
    fn torch_default_biases_come_from_their_own_stream() {
        use crate::config::BiasInit;
        let cfg = RunConfig {
            bias_init: BiasInit::TorchDefault,
            ..RunConfig::default()
        };
        let (params, hash) = init_params(&cfg);
        let arch = Arch::of(&cfg);
        let b: Vec<f32> = (0..arch.depth)
            .flat_map(|l| params[arch.bias_range(l)].to_vec())
            .collect();
        let bound = 1.0f64 / 8.0;
        assert!(b.iter().all(|&v| f64::from(v.abs()) <= bound));
        let (_, std) = mean_std(&b);
        assert!(
            (std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.1,
            "bias std {std}"
        );
        assert_ne!(params[arch.bias_range(0)], params[arch.bias_range(1)]);
        // The weights are the default's, bit for bit; the hash covers the bias draws too.
        let (zero, zero_hash) = init_params(&RunConfig::default());
        assert_eq!(params[arch.weight_range(3)], zero[arch.weight_range(3)]);
        assert_ne!(hash, zero_hash);
        let res = RunConfig {
            residual: true,
            ..cfg
        };
        assert_eq!(init_params(&res).1, hash);
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
