//! The eval probe: what the eval batch says about the loss and about each layer's units.
//!
//! At every eval the loss on the fixed eval batch is split into two parts that add up to
//! it: the **constant offset** `(1/D) Σ_d μ_d²`, where `μ_d` is unit `d`'s error
//! `y_d − x_d` averaged over the eval inputs (what a net that outputs the right thing plus
//! a per-unit constant would still pay), and the **input-dependent part**
//! `(1/D) Σ_d Var_n(e_nd)` (population variance over inputs). A ReLU output cannot go
//! negative, so on `x ~ U(-1, 1)` the best it can do is `relu(x)`, whose error
//! `relu(-x)` has offset `(1/4)² = 1/16` and input-dependent part `1/6 − 1/16 = 5/48`,
//! together `1/6`.
//!
//! At evals that are also probe steps, each layer's units are described over the eval
//! inputs (the same forward pass): which units are **dead** (ReLU off for every eval
//! input, so no gradient ever reaches them through this batch), how the units spread over
//! activity (the fraction of inputs on which each is on), how much of the layer's output
//! spread is a per-unit offset rather than variation across inputs, and how many
//! pre-activations are **exactly 0**. A pre-activation `z = W x + b` of real inputs is
//! never exactly 0 by chance; it is 0 when its products fell below f32's smallest normal
//! number (about 1.2e-38) and were flushed to zero (every run sets flush-to-zero), or when
//! its whole input was already flushed and the bias is 0. Those zeros are **underflow**,
//! not ReLU sparsity.
//!
//! Everything here is a function of the parameters and the eval batch, computed in a
//! fixed order, so one-run, vectorized and resumed runs record the same bits.

use super::block::Trace;
use super::kernels::{bias_relu_residual, with_f32, BiasRelu};
use super::model::{mse_and_grad, Arch};
use candle_core::{Device, Result, Tensor};

/// Number of activity bins: bin `k` holds the units on for a fraction in
/// `[k/10, (k+1)/10)` of the eval inputs (the last bin includes 1; dead units are in bin 0).
pub const ACTIVITY_BINS: usize = 10;

/// One layer's units over the eval batch.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitStats {
    /// Fraction of the layer's units whose ReLU is off for every eval input.
    pub dead_units: f64,
    /// Fraction of the layer's units whose ReLU is on for every eval input.
    pub always_on_units: f64,
    /// Fraction of the layer's units per activity bin (see [`ACTIVITY_BINS`]); sums to 1.
    pub activity: [f64; ACTIVITY_BINS],
    /// Fraction of the layer's pre-activations (inputs × units) that are exactly 0:
    /// underflow (see the module documentation).
    pub underflow: f64,
    /// Fraction of the layer's ReLU outputs that are 0 over the eval batch (sparsity,
    /// underflow included).
    pub sparsity: f64,
    /// Standard deviation over units of each unit's mean output (over the eval inputs):
    /// the per-unit offset of the layer's output `x_{l+1}`.
    pub unit_offset: f64,
    /// Root mean over units of each unit's standard deviation over the eval inputs: the
    /// part of the layer's output spread that depends on the input.
    /// `unit_offset² + input_std²` is the output's variance over inputs and units.
    pub input_std: f64,
}

/// The eval loss and its two parts.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalProbe {
    /// MSE on the eval batch (the same bits as [`super::model::loss`]).
    pub loss: f64,
    /// `(1/D) Σ_d μ_d²`: the squared per-unit mean error.
    pub offset: f64,
    /// `(1/D) Σ_d Var_n(e_nd)`: the input-dependent error. `offset + input_dependent`
    /// equals `loss` up to rounding.
    pub input_dependent: f64,
    /// Per-layer unit statistics (layer 1 first), when asked for.
    pub units: Option<Vec<UnitStats>>,
}

/// The eval pass of `params` on `x` (`rows x width`): the loss, its decomposition and,
/// when `units`, every layer's [`UnitStats`].
pub fn eval_probe(arch: Arch, params: &[f32], x: &[f32], units: bool) -> Result<EvalProbe> {
    if !arch.block.fused() {
        return eval_probe_any(arch, params, x, units);
    }
    let dev = Device::Cpu;
    let rows = x.len() / arch.width;
    let mut h = Tensor::from_slice(x, (rows, arch.width), &dev)?;
    let mut stats = Vec::with_capacity(if units { arch.depth } else { 0 });
    // Per eval input: whether an earlier layer's values underflowed (so an all-zero input
    // row further up is underflow too, not ReLU sparsity).
    let mut row_underflow = vec![false; rows];
    for l in 0..arch.depth {
        let w = Tensor::from_slice(
            &params[arch.weight_range(l)],
            (arch.width, arch.width),
            &dev,
        )?;
        let b = Tensor::from_slice(&params[arch.bias_range(l)], arch.width, &dev)?;
        // The same products and fused kernels as `model::forward`, so the same bits.
        let z = h.matmul(&w.t()?)?;
        let next = if arch.residual {
            bias_relu_residual(&z, &b, &h)?.0
        } else {
            z.apply_op2_no_bwd(&b, &BiasRelu)?
        };
        if units {
            let bias = &params[arch.bias_range(l)];
            stats.push(with_f32(&z, |z| {
                with_f32(&h, |input| {
                    with_f32(&next, |out| {
                        unit_stats(z, bias, input, out, arch.width, &mut row_underflow)
                    })
                })
            })???);
        }
        h = next;
    }
    with_f32(&h, |y| probe_of(y, x, arch.width, units.then_some(stats)))
}

/// The [`EvalProbe`] of outputs `y` on inputs (and targets) `x`.
fn probe_of(y: &[f32], x: &[f32], width: usize, units: Option<Vec<UnitStats>>) -> EvalProbe {
    let (offset, input_dependent) = loss_parts(y, x, width);
    EvalProbe {
        loss: mse_and_grad(y, x).0,
        offset,
        input_dependent,
        units,
    }
}

/// [`eval_probe`] for any block (see [`super::block`]); a unit is "on" where its
/// pre-activation is positive, which for a ReLU is where it passes its input.
fn eval_probe_any(arch: Arch, params: &[f32], x: &[f32], units: bool) -> Result<EvalProbe> {
    let trace = Trace::forward(arch, params, x)?;
    let mut row_underflow = vec![false; x.len() / arch.width];
    let stats = units.then(|| {
        (0..arch.depth)
            .map(|l| {
                let t = &trace.layers[l];
                let u = t.normed.as_ref().map_or(t.input.as_slice(), |(u, _)| u);
                unit_stats(
                    &t.products,
                    &params[arch.bias_range(l)],
                    u,
                    trace.output_of(l),
                    arch.width,
                    &mut row_underflow,
                )
            })
            .collect()
    });
    Ok(probe_of(&trace.output, x, arch.width, stats))
}

/// `(offset, input-dependent)` of the error `y − x` over rows of `width` units (the
/// difference rounded in f32, as the loss rounds it, so the parts add up to the loss).
pub fn loss_parts(y: &[f32], x: &[f32], width: usize) -> (f64, f64) {
    let (mean, var) = column_moments(y.iter().zip(x).map(|(&a, &b)| (a - b) as f64), width);
    let d = width as f64;
    (
        mean.iter().map(|m| m * m).sum::<f64>() / d,
        var.iter().sum::<f64>() / d,
    )
}

/// Per-column mean and population variance (two passes, f64) of a row-major matrix.
fn column_moments(v: impl Iterator<Item = f64> + Clone, width: usize) -> (Vec<f64>, Vec<f64>) {
    let mut sum = vec![0f64; width];
    let mut rows = 0usize;
    for (i, e) in v.clone().enumerate() {
        sum[i % width] += e;
        rows += usize::from(i % width == 0);
    }
    let n = rows.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let mut var = vec![0f64; width];
    for (i, e) in v.enumerate() {
        let d = e - mean[i % width];
        var[i % width] += d * d;
    }
    var.iter_mut().for_each(|s| *s /= n);
    (mean, var)
}

/// One layer's [`UnitStats`] from its products `z = x W^T` (before the bias), its bias, its
/// input and its output `x_{l+1}`, in one pass over the rows. A pre-activation exactly 0
/// counts as underflow when its input row is not all zero (its products were flushed) or
/// when that row is all zero because an earlier layer underflowed (`row_underflow`, updated
/// here); an all-zero input row of ReLUs that were all off, with a zero bias, is not.
fn unit_stats(
    z: &[f32],
    bias: &[f32],
    input: &[f32],
    out: &[f32],
    width: usize,
    row_underflow: &mut [bool],
) -> UnitStats {
    let rows = z.len() / width;
    let mut on = vec![0u32; width];
    let mut zeros = 0usize;
    // Output moments per unit, shifted by the first row for accuracy.
    let shift: Vec<f64> = out.iter().take(width).map(|&v| v as f64).collect();
    let (mut s1, mut s2) = (vec![0f64; width], vec![0f64; width]);
    let rows_iter = z
        .chunks_exact(width)
        .zip(out.chunks_exact(width))
        .zip(input.chunks_exact(width))
        .zip(row_underflow.iter_mut());
    for (((zr, or), xr), uf) in rows_iter {
        let flushed = *uf || xr.iter().any(|&v| v != 0.0);
        let mut row_zeros = 0usize;
        for d in 0..width {
            // The kernel's pre-activation, rounded once in f32 as it is there.
            let pre = zr[d] + bias[d];
            on[d] += u32::from(pre > 0.0);
            row_zeros += usize::from(pre == 0.0);
            let o = or[d] as f64 - shift[d];
            s1[d] += o;
            s2[d] += o * o;
        }
        if flushed && row_zeros > 0 {
            zeros += row_zeros;
            *uf = true;
        }
    }
    let n = rows.max(1) as f64;
    let units = width as f64;
    let mut activity = [0f64; ACTIVITY_BINS];
    for &c in &on {
        let bin = (c as usize * ACTIVITY_BINS / rows.max(1)).min(ACTIVITY_BINS - 1);
        activity[bin] += 1.0 / units;
    }
    let mean: Vec<f64> = s1.iter().zip(&shift).map(|(s, c)| c + s / n).collect();
    let var = s1
        .iter()
        .zip(&s2)
        .map(|(a, b)| (b / n - (a / n) * (a / n)).max(0.0));
    let grand = mean.iter().sum::<f64>() / units;
    let active: u64 = on.iter().map(|&c| c as u64).sum();
    UnitStats {
        dead_units: on.iter().filter(|&&c| c == 0).count() as f64 / units,
        always_on_units: on.iter().filter(|&&c| c as usize == rows).count() as f64 / units,
        activity,
        underflow: zeros as f64 / z.len().max(1) as f64,
        sparsity: 1.0 - active as f64 / z.len().max(1) as f64,
        unit_offset: (mean.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / units).sqrt(),
        input_std: (var.sum::<f64>() / units).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{InitScale, RunConfig};
    use crate::experiment::{model, streams};

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn loss_parts_by_hand() {
        // Two rows, two units: errors [[1, -1], [3, -1]] -> means (2, -1), variances (1, 0).
        let x = [0.0f32, 1.0, 0.0, 1.0];
        let y = [1.0f32, 0.0, 3.0, 0.0];
        let (offset, input) = loss_parts(&y, &x, 2);
        assert_eq!(offset, (4.0 + 1.0) / 2.0);
        assert_eq!(input, (1.0 + 0.0) / 2.0);
        // MSE = (1 + 1 + 9 + 1) / 4 = 3 = 2.5 + 0.5
        assert_eq!(mse_and_grad(&y, &x).0, offset + input);
    }

    #[test]
    fn a_relu_output_cannot_beat_one_sixth() {
        // relu(x) on x ~ U(-1, 1): error relu(-x), offset 1/16, input-dependent 5/48
        // (sum 1/6); zero output: offset ~0, input-dependent 1/3.
        let x = streams::eval_batch(3, 20_000, 8);
        let relu: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
        let (o, i) = loss_parts(&relu, &x, 8);
        assert!((o - 1.0 / 16.0).abs() < 2e-3, "{o}");
        assert!((i - 5.0 / 48.0).abs() < 3e-3, "{i}");
        let zero = vec![0f32; x.len()];
        let (o, i) = loss_parts(&zero, &x, 8);
        assert!(o < 1e-3 && (i - 1.0 / 3.0).abs() < 5e-3, "{o} {i}");
    }

    fn cfg(residual: bool, depth: usize, scale: f64) -> RunConfig {
        RunConfig {
            depth,
            width: 16,
            residual,
            init_scale: InitScale::Value(scale),
            seed: 5,
            ..RunConfig::default()
        }
    }

    #[test]
    fn the_probe_loss_is_the_eval_loss_and_its_parts_add_up() {
        for residual in [false, true] {
            let c = cfg(residual, 6, 1.0);
            let arch = Arch::of(&c);
            let (params, _) = model::init_params(&c);
            let x = streams::eval_batch(5, 256, 16);
            let p = eval_probe(arch, &params, &x, true).unwrap();
            assert_eq!(p.loss, model::loss(arch, &params, &x).unwrap());
            assert!(close(p.offset + p.input_dependent, p.loss, 1e-12), "{p:?}");
            let units = p.units.unwrap();
            assert_eq!(units.len(), 6);
            // The probe's units agree with a plain recomputation of the forward pass.
            let pass = model::forward_backward(arch, &params, &x, true).unwrap();
            for (u, s) in units.iter().zip(pass.layers.unwrap()) {
                assert!(
                    close(u.sparsity, s.sparsity, 1e-12),
                    "{} {}",
                    u.sparsity,
                    s.sparsity
                );
                assert!((u.activity.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!(u.dead_units <= u.activity[0] + 1e-12);
                assert!(u.dead_units <= u.sparsity && u.sparsity <= 1.0 - u.always_on_units);
                // offset² + input² is the output's population variance over everything.
                let total = u.unit_offset.powi(2) + u.input_std.powi(2);
                assert!(
                    close(total, s.act_std.powi(2), 1e-9),
                    "{total} {}",
                    s.act_std
                );
                assert_eq!(u.underflow, 0.0);
            }
            assert!(eval_probe(arch, &params, &x, false)
                .unwrap()
                .units
                .is_none());
        }
    }

    #[test]
    fn dead_units_and_underflow_are_told_apart() {
        // A PlainMLP at init scale 0.05 over 40 layers: the signal falls by 0.05 per
        // layer and passes 1.2e-38 near layer 28; from there every pre-activation is
        // exactly 0 (underflow), and every unit counts as dead because nothing reaches it.
        let _ftz = crate::experiment::kernels::FlushDenormals::enable();
        let c = cfg(false, 40, 0.05);
        let arch = Arch::of(&c);
        let (params, _) = model::init_params(&c);
        let x = streams::eval_batch(5, 128, 16);
        let units = eval_probe(arch, &params, &x, true).unwrap().units.unwrap();
        assert_eq!(units[0].underflow, 0.0);
        assert!(units[0].dead_units < 0.5);
        let last = &units[39];
        assert_eq!(
            (last.underflow, last.sparsity, last.dead_units),
            (1.0, 1.0, 1.0)
        );
        // An input that is exactly 0 meets a zero bias: pre-activations exactly 0 that did
        // not underflow.
        let mut x0 = x.clone();
        x0[..16].iter_mut().for_each(|v| *v = 0.0);
        let u = eval_probe(arch, &params, &x0, true).unwrap().units.unwrap();
        assert_eq!(u[0].underflow, 0.0);
        // A unit with a large negative bias is dead without any underflow.
        let mut p2 = params.clone();
        p2[arch.bias_range(0)][3] = -100.0;
        let u = eval_probe(arch, &p2, &x, true).unwrap().units.unwrap();
        assert_eq!(u[0].underflow, 0.0);
        assert!(u[0].dead_units >= 1.0 / 16.0);
    }
}
