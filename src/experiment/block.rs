//! What one layer computes, for every model variant ([`super::arch::Block`]), in the two forms the
//! rest of the experiment uses:
//!
//! - f32 with candle matrix products and a hand-written backward pass ([`Trace`]): the
//!   training and eval path of every variant that the fused ReLU kernels of
//!   [`super::model`] do not cover;
//! - f64 on nalgebra matrices, with forward-mode derivatives ([`layer_f64`],
//!   [`tangent_f64`]): the probes (Jacobian, lesions, branch ratios, shattered gradients).
//!
//! Layer `l` of input `x` (one example per row) computes
//!
//! ```text
//! u = LN(x) (norm = "layernorm", no affine parameters, eps 1e-5) or x
//! z = u W_l^T + b_l
//! a = φ(z), or z in the last layer when output_relu = false
//! x_{l+1} = x + c_l a (ResMLP, c_l = branch_scale · g_l, g_l the learned ReZero gate or 1)
//!         = a         (PlainMLP)
//! ```
//!
//! with `φ` the activation (ReLU, tanh, exact-erf GELU or the identity). The default block
//! (ReLU, no norm, scale 1, no gate, an activated last layer) is the original
//! experiment's, which the fused kernels compute; [`super::arch::Block::fused`] says when they apply.

use super::arch::{Arch, LN_EPS};
use crate::config::{Activation, Norm};
use candle_core::{Device, Result, Tensor};
use nalgebra::DMatrix;

/// `φ(z)` for layer `l` (the identity when the layer is not activated).
pub fn act(activation: Activation, z: f64) -> f64 {
    match activation {
        Activation::Relu => z.max(0.0),
        Activation::Tanh => z.tanh(),
        Activation::Gelu => 0.5 * z * (1.0 + erf(z * std::f64::consts::FRAC_1_SQRT_2)),
        Activation::Linear => z,
    }
}

/// `φ'(z)`: the ReLU's is 1 for `z > 0`, else 0; the GELU's is `Φ(z) + z φ(z)`.
pub fn act_grad(activation: Activation, z: f64) -> f64 {
    match activation {
        Activation::Relu => f64::from(u8::from(z > 0.0)),
        Activation::Tanh => 1.0 - z.tanh().powi(2),
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + erf(z * std::f64::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + z * pdf
        }
        Activation::Linear => 1.0,
    }
}

fn erf(x: f64) -> f64 {
    candle_core::cpu::erf::erf_f64(x)
}

/// The activation layer `l` applies: `φ`, or the identity for a linear last layer.
fn layer_activation(arch: Arch, l: usize) -> Activation {
    if arch.block.activates(l, arch.depth) {
        arch.block.activation
    } else {
        Activation::Linear
    }
}

/// The branch coefficient `c_l = α · g_l` of layer `l` (1 for a PlainMLP).
pub fn coefficient(arch: Arch, params: &[f32], l: usize) -> f64 {
    let gate = if arch.block.gate {
        f64::from(params[arch.gate_index(l)])
    } else {
        1.0
    };
    arch.block.branch_scale * gate
}

// ---------------------------------------------------------------------------------------
// f32: training and eval.

/// Row-wise LayerNorm of `x` (`rows x width`): `u` in f32 and each row's `1/σ`, computed
/// in f64.
fn layer_norm(x: &[f32], width: usize) -> (Vec<f32>, Vec<f64>) {
    let mut u = Vec::with_capacity(x.len());
    let mut inv = Vec::with_capacity(x.len() / width);
    for row in x.chunks_exact(width) {
        let n = width as f64;
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let s = 1.0 / (var + LN_EPS).sqrt();
        u.extend(row.iter().map(|&v| ((f64::from(v) - mean) * s) as f32));
        inv.push(s);
    }
    (u, inv)
}

/// The gradient with respect to a LayerNorm's input from the gradient `gu` with respect
/// to its output `u`: `(1/σ)(gu − mean(gu) − u·mean(gu ⊙ u))` per row.
fn layer_norm_backward(gu: &[f32], u: &[f32], inv: &[f64], width: usize) -> Vec<f32> {
    let n = width as f64;
    let mut gx = Vec::with_capacity(gu.len());
    for ((g, uu), &s) in gu.chunks_exact(width).zip(u.chunks_exact(width)).zip(inv) {
        let mean_g = g.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let mean_gu = g
            .iter()
            .zip(uu)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum::<f64>()
            / n;
        gx.extend(
            g.iter()
                .zip(uu)
                .map(|(&a, &b)| (s * (f64::from(a) - mean_g - f64::from(b) * mean_gu)) as f32),
        );
    }
    gx
}

/// The product of `a` (`ra x ca`, transposed first when `ta`) and `b` (`rb x cb`,
/// transposed first when `tb`), row-major, through candle's matrix product.
fn matmul(
    a: &[f32],
    (ra, ca): (usize, usize),
    ta: bool,
    b: &[f32],
    (rb, cb): (usize, usize),
    tb: bool,
) -> Result<Vec<f32>> {
    let dev = Device::Cpu;
    let mut at = Tensor::from_slice(a, (ra, ca), &dev)?;
    let mut bt = Tensor::from_slice(b, (rb, cb), &dev)?;
    if ta {
        at = at.t()?;
    }
    if tb {
        bt = bt.t()?;
    }
    at.matmul(&bt)?.flatten_all()?.to_vec1()
}

/// One layer of a forward pass, as the backward pass and the probes need it.
pub struct LayerTrace {
    /// The layer's input `x_l`.
    pub input: Vec<f32>,
    /// The normalised input and each row's `1/σ` (LayerNorm only).
    pub normed: Option<(Vec<f32>, Vec<f64>)>,
    /// The products `u W_l^T`, before the bias.
    pub products: Vec<f32>,
    /// The branch `a = φ(z)` (the layer's output for a PlainMLP).
    pub branch: Vec<f32>,
    /// `c_l` (1 for a PlainMLP).
    pub coefficient: f32,
}

/// A forward pass of any block: every layer's [`LayerTrace`] and the output.
pub struct Trace {
    /// Layer 1 first.
    pub layers: Vec<LayerTrace>,
    /// The network's output `x_L`.
    pub output: Vec<f32>,
}

impl Trace {
    /// The forward pass of `x` (`rows x width`).
    pub fn forward(arch: Arch, params: &[f32], x: &[f32]) -> Result<Trace> {
        let n = arch.width;
        let rows = x.len() / n;
        let mut layers = Vec::with_capacity(arch.depth);
        let mut h = x.to_vec();
        for l in 0..arch.depth {
            let normed = (arch.block.norm == Norm::LayerNorm).then(|| layer_norm(&h, n));
            let u = normed.as_ref().map_or(h.as_slice(), |(u, _)| u.as_slice());
            // u W^T
            let products = matmul(
                u,
                (rows, n),
                false,
                &params[arch.weight_range(l)],
                (n, n),
                true,
            )?;
            let b = &params[arch.bias_range(l)];
            let activation = layer_activation(arch, l);
            let branch: Vec<f32> = products
                .iter()
                .enumerate()
                .map(|(i, &p)| activate(activation, p + b[i % n]))
                .collect();
            let c = coefficient(arch, params, l) as f32;
            let next = if arch.residual {
                h.iter().zip(&branch).map(|(&x, &a)| x + c * a).collect()
            } else {
                branch.clone()
            };
            layers.push(LayerTrace {
                input: std::mem::replace(&mut h, next),
                normed,
                products,
                branch,
                coefficient: c,
            });
        }
        Ok(Trace { layers, output: h })
    }

    /// The input of layer `l + 1` (the output of layer `l`).
    pub fn output_of(&self, l: usize) -> &[f32] {
        self.layers
            .get(l + 1)
            .map_or(self.output.as_slice(), |t| t.input.as_slice())
    }

    /// The gradient of the parameters from `gy`, the gradient of the loss with respect
    /// to the output. Weight gradient `gz^T u`, bias gradient the column sums of `gz`,
    /// gate gradient `α Σ gy ⊙ a`; `gz = c gy ⊙ φ'(z)` (PlainMLP: `c = 1`), and the input
    /// gradient `gy + LN'(gz W)` (PlainMLP: without `gy`).
    pub fn backward(&self, arch: Arch, params: &[f32], gy: Vec<f32>) -> Result<Vec<f32>> {
        let n = arch.width;
        let rows = gy.len() / n;
        let mut grads = vec![0f32; params.len()];
        let mut g = gy;
        for l in (0..arch.depth).rev() {
            let t = &self.layers[l];
            let b = &params[arch.bias_range(l)];
            let activation = layer_activation(arch, l);
            if arch.block.gate {
                let s: f64 = g
                    .iter()
                    .zip(&t.branch)
                    .map(|(&gv, &a)| f64::from(gv) * f64::from(a))
                    .sum();
                grads[arch.gate_index(l)] = (arch.block.branch_scale * s) as f32;
            }
            let gz: Vec<f32> = g
                .iter()
                .enumerate()
                .map(|(i, &gv)| {
                    let z = t.products[i] + b[i % n];
                    let ga = if arch.residual {
                        t.coefficient * gv
                    } else {
                        gv
                    };
                    ga * activate_grad(activation, z, t.branch[i])
                })
                .collect();
            let u = t.normed.as_ref().map_or(t.input.as_slice(), |(u, _)| u);
            // gz^T u
            let dw = matmul(&gz, (rows, n), true, u, (rows, n), false)?;
            grads[arch.weight_range(l)].copy_from_slice(&dw);
            let mut db = vec![0f32; n];
            for row in gz.chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(d, &v)| *d += v);
            }
            grads[arch.bias_range(l)].copy_from_slice(&db);
            if l > 0 {
                // gz W
                let gu = matmul(
                    &gz,
                    (rows, n),
                    false,
                    &params[arch.weight_range(l)],
                    (n, n),
                    false,
                )?;
                let gx = match &t.normed {
                    Some((u, inv)) => layer_norm_backward(&gu, u, inv, n),
                    None => gu,
                };
                g = if arch.residual {
                    g.iter().zip(&gx).map(|(&a, &b)| a + b).collect()
                } else {
                    gx
                };
            }
        }
        Ok(grads)
    }
}

/// `φ(z)` in f32: the ReLU exactly, tanh by the platform's `tanhf`, the GELU computed in
/// f64 and rounded once.
fn activate(activation: Activation, z: f32) -> f32 {
    match activation {
        Activation::Relu => z.max(0.0),
        Activation::Linear => z,
        Activation::Tanh => z.tanh(),
        Activation::Gelu => act(Activation::Gelu, f64::from(z)) as f32,
    }
}

/// `φ'(z)` in f32, from the pre-activation `z` and the output `a = φ(z)` (tanh's
/// derivative is `1 − a²`).
fn activate_grad(activation: Activation, z: f32, a: f32) -> f32 {
    match activation {
        Activation::Relu => f32::from(u8::from(z > 0.0)),
        Activation::Linear => 1.0,
        Activation::Tanh => 1.0 - a * a,
        Activation::Gelu => act_grad(Activation::Gelu, f64::from(z)) as f32,
    }
}

// ---------------------------------------------------------------------------------------
// f64: the probes.

/// Row-wise LayerNorm in f64, with each row's `1/σ`.
fn layer_norm_f64(x: &DMatrix<f64>) -> (DMatrix<f64>, Vec<f64>) {
    let n = x.ncols() as f64;
    let mut u = x.clone();
    let mut inv = Vec::with_capacity(x.nrows());
    for mut row in u.row_iter_mut() {
        let mean = row.iter().sum::<f64>() / n;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let s = 1.0 / (var + LN_EPS).sqrt();
        row.iter_mut().for_each(|v| *v = (*v - mean) * s);
        inv.push(s);
    }
    (u, inv)
}

/// `W_l^T` as an f64 matrix (entry `(j, i)` = `W[i][j]`).
fn weight_t(arch: Arch, params: &[f32], l: usize) -> DMatrix<f64> {
    let n = arch.width;
    let w = &params[arch.weight_range(l)];
    DMatrix::from_fn(n, n, |j, i| f64::from(w[i * n + j]))
}

/// Layer `l` on inputs `x` (one example per row), in f64: `(branch, output)`, where the
/// branch is what the layer adds to the stream, `c_l φ(z)` (a ResMLP), or its output
/// `φ(z)` (a PlainMLP).
pub fn layer_f64(
    arch: Arch,
    params: &[f32],
    l: usize,
    x: &DMatrix<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let u = match arch.block.norm {
        Norm::LayerNorm => layer_norm_f64(x).0,
        Norm::None => x.clone(),
    };
    let mut z = &u * weight_t(arch, params, l);
    let b = &params[arch.bias_range(l)];
    let activation = layer_activation(arch, l);
    for (i, mut col) in z.column_iter_mut().enumerate() {
        let bi = f64::from(b[i]);
        col.iter_mut().for_each(|v| *v = act(activation, *v + bi));
    }
    if arch.residual {
        let branch = z * coefficient(arch, params, l);
        let out = x + &branch;
        (branch, out)
    } else {
        (z.clone(), z)
    }
}

/// Layer `l` at inputs `x` with tangents `v` (row `i` of `v` is a direction at row `i` of
/// `x`): the output and its directional derivative `J_l(x_i) v_i` per row, exactly.
pub fn tangent_f64(
    arch: Arch,
    params: &[f32],
    l: usize,
    x: &DMatrix<f64>,
    v: &DMatrix<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (u, du) = match arch.block.norm {
        Norm::LayerNorm => {
            // du = (dc − u·mean(u ⊙ dc)) / σ, dc = v − mean(v), per row.
            let (u, inv) = layer_norm_f64(x);
            let n = x.ncols() as f64;
            let mut du = v.clone();
            for (i, mut row) in du.row_iter_mut().enumerate() {
                let mean_v = row.iter().sum::<f64>() / n;
                row.iter_mut().for_each(|d| *d -= mean_v);
                let mean_ud = row
                    .iter()
                    .zip(u.row(i).iter())
                    .map(|(d, uu)| d * uu)
                    .sum::<f64>()
                    / n;
                for (d, uu) in row.iter_mut().zip(u.row(i).iter()) {
                    *d = (*d - uu * mean_ud) * inv[i];
                }
            }
            (u, du)
        }
        Norm::None => (x.clone(), v.clone()),
    };
    let wt = weight_t(arch, params, l);
    let mut z = &u * &wt;
    let mut dz = &du * &wt;
    let b = &params[arch.bias_range(l)];
    let activation = layer_activation(arch, l);
    for (i, (mut zc, mut dc)) in z.column_iter_mut().zip(dz.column_iter_mut()).enumerate() {
        let bi = f64::from(b[i]);
        for (zv, dv) in zc.iter_mut().zip(dc.iter_mut()) {
            let pre = *zv + bi;
            *zv = act(activation, pre);
            *dv = match activation {
                // Exactly the ReLU's mask: the derivative is the tangent or 0.
                Activation::Relu if pre > 0.0 => *dv,
                Activation::Relu => 0.0,
                Activation::Linear => *dv,
                a => act_grad(a, pre) * *dv,
            };
        }
    }
    if arch.residual {
        let c = coefficient(arch, params, l);
        if c == 1.0 {
            (x + z, v + dz)
        } else {
            (x + z * c, v + dz * c)
        }
    } else {
        (z, dz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Gate, InitScale, Norm, RunConfig};
    use crate::experiment::{model, streams};

    fn variants() -> Vec<RunConfig> {
        let d = || RunConfig {
            depth: 4,
            width: 6,
            seed: 5,
            init_scale: InitScale::Value(1.0),
            ..RunConfig::default()
        };
        vec![
            d(),
            RunConfig {
                residual: true,
                ..d()
            },
            RunConfig {
                activation: Activation::Tanh,
                norm: Norm::LayerNorm,
                ..d()
            },
            RunConfig {
                residual: true,
                activation: Activation::Gelu,
                gate: Gate::Rezero,
                gate_init: 0.7,
                branch_scale: InitScale::Value(0.5),
                output_relu: false,
                ..d()
            },
            RunConfig {
                residual: true,
                norm: Norm::LayerNorm,
                ..d()
            },
        ]
    }

    /// The f64 forward of every layer, chained.
    fn forward_f64(arch: Arch, params: &[f32], x: &DMatrix<f64>) -> DMatrix<f64> {
        (0..arch.depth).fold(x.clone(), |h, l| layer_f64(arch, params, l, &h).1)
    }

    #[test]
    fn f64_layers_agree_with_the_f32_training_pass() {
        for cfg in variants() {
            let arch = Arch::of(&cfg);
            let (mut params, _) = model::init_params(&cfg);
            for l in 0..arch.depth {
                for (i, b) in params[arch.bias_range(l)].iter_mut().enumerate() {
                    *b = 0.05 * (i as f32 - 2.5);
                }
            }
            let x = streams::eval_batch(1, 8, arch.width);
            let y32 = Trace::forward(arch, &params, &x).unwrap().output;
            let xm = DMatrix::from_row_slice(
                8,
                arch.width,
                &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            );
            let y64 = forward_f64(arch, &params, &xm);
            for (i, &v) in y32.iter().enumerate() {
                let w = y64[(i / arch.width, i % arch.width)];
                assert!(
                    (f64::from(v) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{:?}: {v} vs {w}",
                    arch.block
                );
            }
        }
    }

    #[test]
    fn tangents_are_directional_derivatives() {
        for cfg in variants() {
            let arch = Arch::of(&cfg);
            let (params, _) = model::init_params(&cfg);
            let n = arch.width;
            let x0 = streams::eval_batch(3, 1, n);
            let d = streams::eval_batch(4, 1, n);
            let at = |t: f64| DMatrix::from_fn(1, n, |_, j| f64::from(x0[j]) + t * f64::from(d[j]));
            let (mut x, mut v) = (at(0.0), DMatrix::from_fn(1, n, |_, j| f64::from(d[j])));
            for l in 0..arch.depth {
                let (nx, nv) = tangent_f64(arch, &params, l, &x, &v);
                x = nx;
                v = nv;
            }
            let h = 1e-6;
            let fd = (forward_f64(arch, &params, &at(h)) - forward_f64(arch, &params, &at(-h)))
                / (2.0 * h);
            assert!(
                (&fd - &v).norm() <= 1e-6 * (1.0 + v.norm()),
                "{:?}: {fd} vs {v}",
                arch.block
            );
            assert!((&x - forward_f64(arch, &params, &at(0.0))).norm() == 0.0);
        }
    }
}
