//! Mean-field predictions at initialisation, drawn beside the measured per-layer statistics.
//!
//! Pure arithmetic, no I/O. Everything here is the recursion of DESIGN.md ("Theory to
//! overlay"), per unit of a width-`n` layer:
//!
//! * weights `W ~ N(0, s^2 * 2/n)` (Kaiming-He times the init scale `s`), zero bias;
//! * input `x_0 ~ U(-1, 1)` per unit, so `q_0 = E[x_0^2] = 1/3` and `m_0 = E[x_0] = 0`
//!   ([`INPUT_Q0`], [`INPUT_M0`]);
//! * `q_l = E[x_l^2]` is the per-unit second moment and `m_l = E[x_l]` the per-unit mean of
//!   the layer-`l` output (`x_l` is the input of layer `l + 1`; for the ResMLP it is the
//!   residual stream).
//!
//! **The one fact used everywhere.** Averaged over the weights, the pre-activation
//! `h_i = sum_j W_ij x_j` has mean 0 and variance `n * (2 s^2 / n) * E[x_j^2] = 2 s^2 q` —
//! the *second moment* `q`, not the variance, because `W` is zero-mean. Treating `h` as
//! Gaussian (many inputs), a ReLU of it has
//! `E[relu h] = sqrt(2 s^2 q) / sqrt(2 pi) = s sqrt(q/pi)` and `E[(relu h)^2] = s^2 q`.
//!
//! * **PlainMLP** `x_{l+1} = relu(W_l x_l)`: `q_{l+1} = s^2 q_l`, `m_{l+1} = sqrt(q_{l+1}/pi)`.
//! * **ResMLP** `x_{l+1} = x_l + r_l`, `r_l = relu(W_l x_l)` with branch scale `a` (= the
//!   init scale): `m_{l+1} = m_l + a sqrt(q_l/pi)` and, treating `x_{l,i}` and `r_{l,i}` as
//!   independent (mean-field: `r_i` mixes all `n` inputs, its dependence on `x_i` is O(1/n)),
//!   `q_{l+1} = q_l + 2 E[x] E[r] + E[r^2] = (1 + a^2) q_l + 2 a m_l sqrt(q_l/pi)`.
//!
//! The measured probes (`LayerStats::act_mean`, `act_std`) pool the layer output over batch
//! and units, so the prediction for them is the per-unit mean `m_l` and the population
//! standard deviation `sqrt(q_l - m_l^2)` ([`LayerPrediction`]).
//!
//! These are *expectations over weights*: one seed's realised value scatters around them
//! (DESIGN quotes a spread of about ±4 around 15 for the ResMLP's initial loss at
//! `a = 1/sqrt(20)`, L = 20).

use std::f64::consts::PI;

/// Per-unit second moment of the input `x ~ U(-1, 1)`: `E[x^2] = 1/3`.
pub const INPUT_Q0: f64 = 1.0 / 3.0;
/// Per-unit mean of the input `x ~ U(-1, 1)`: `E[x] = 0`.
pub const INPUT_M0: f64 = 0.0;

/// PlainMLP second moments `q_l` for `l = 0..=depth` (`q_{l+1} = s^2 q_l`, so
/// `q_l = s^(2l) q_0`); index `l` is the output of layer `l`, index 0 the input.
pub fn plain_second_moment(depth: usize, scale: f64, q0: f64) -> Vec<f64> {
    let mut q = Vec::with_capacity(depth + 1);
    q.push(q0);
    for l in 0..depth {
        q.push(scale * scale * q[l]);
    }
    q
}

/// ResMLP per-unit `(m_l, q_l)` for `l = 0..=depth` with branch scale `a = scale`:
/// `m_{l+1} = m_l + a sqrt(q_l/pi)`, `q_{l+1} = (1 + a^2) q_l + 2 a m_l sqrt(q_l/pi)`.
/// The ReLU branch is not zero-mean, so the mean drifts up and `q` grows faster than
/// `(1 + a^2)^l`.
pub fn res_moments(depth: usize, scale: f64, q0: f64, m0: f64) -> Vec<(f64, f64)> {
    let a = scale;
    let mut out = Vec::with_capacity(depth + 1);
    out.push((m0, q0));
    for l in 0..depth {
        let (m, q) = out[l];
        let branch_mean = a * (q.max(0.0) / PI).sqrt();
        out.push((m + branch_mean, (1.0 + a * a) * q + 2.0 * m * branch_mean));
    }
    out
}

/// Predicted statistics of one layer's output pooled over batch and units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerPrediction {
    /// Layer index `l`: 0 is the network input, `l >= 1` the output of layer `l`
    /// (the residual stream for the ResMLP) — the same numbering as the probes.
    pub layer: usize,
    /// Predicted mean `m_l`.
    pub mean: f64,
    /// Predicted population standard deviation `sqrt(q_l - m_l^2)`.
    pub std: f64,
    /// Predicted second moment `q_l`.
    pub second_moment: f64,
}

fn prediction(layer: usize, mean: f64, q: f64) -> LayerPrediction {
    LayerPrediction {
        layer,
        mean,
        std: (q - mean * mean).max(0.0).sqrt(),
        second_moment: q,
    }
}

/// PlainMLP per-layer prediction for `l = 0..=depth` from the input `U(-1, 1)`.
///
/// Layer `l >= 1` outputs a ReLU of a pre-activation with variance `2 s^2 q_{l-1}`, so its
/// mean is `s sqrt(q_{l-1}/pi) = sqrt(q_l/pi)`, its second moment `q_l = s^2 q_{l-1}` and
/// its std `sqrt(q_l (1 - 1/pi))`. Entry 0 is the input itself (`m_0`, `sqrt(q_0 - m_0^2)`).
pub fn plain_layer_predictions(depth: usize, scale: f64) -> Vec<LayerPrediction> {
    plain_second_moment(depth, scale, INPUT_Q0)
        .into_iter()
        .enumerate()
        .map(|(l, q)| {
            let m = if l == 0 { INPUT_M0 } else { (q / PI).sqrt() };
            prediction(l, m, q)
        })
        .collect()
}

/// ResMLP per-layer prediction for `l = 0..=depth` from the input `U(-1, 1)`: the residual
/// stream `x_l` has mean `m_l` and std `sqrt(q_l - m_l^2)` from [`res_moments`].
pub fn res_layer_predictions(depth: usize, scale: f64) -> Vec<LayerPrediction> {
    res_moments(depth, scale, INPUT_Q0, INPUT_M0)
        .into_iter()
        .enumerate()
        .map(|(l, (m, q))| prediction(l, m, q))
        .collect()
}

/// Predicted initial loss `E[(x_L - x_0)^2]` per unit (the MSE over batch and units) of the
/// PlainMLP, for a general input with moments `(q0, m0)`.
///
/// `E[(x_L - x_0)^2] = q_L - 2 E[x_L x_0] + q_0`. For a symmetric zero-mean input the cross
/// term is exactly 0 (flipping the sign of `x_{0,i}` together with column `i` of `W_0`
/// leaves the whole forward pass unchanged and the joint law invariant), so the loss is
/// `q_L + q_0`; for `m0 != 0` the mean-field value `E[x_L] E[x_0] = m_L m_0` is used.
/// At `s = 1/sqrt(20)`, `L = 20` this is `q_0 = 1/3`: the net predicts about zero.
pub fn plain_initial_loss(depth: usize, scale: f64, q0: f64, m0: f64) -> f64 {
    if depth == 0 {
        return 0.0;
    }
    let q = plain_second_moment(depth, scale, q0);
    let q_l = q[depth];
    q_l + q0 - 2.0 * (q_l / PI).sqrt() * m0
}

/// Predicted initial loss `E[(x_L - x_0)^2]` per unit of the ResMLP, for an input with
/// moments `(q0, m0)` and branch scale `a = scale`.
///
/// `x_L - x_0 = R_L = sum_{l<L} r_l`, so with `D_l = E[R_l^2]`:
/// `D_{l+1} = D_l + 2 E[R_l] E[r_l] + E[r_l^2] = D_l + 2 (m_l - m_0) a sqrt(q_l/pi) + a^2 q_l`
/// (same independence as [`res_moments`]), `D_0 = 0`. For `m_0 = 0` this equals
/// `q_L - q_0` exactly: about 16 at `a = 1/sqrt(20)` and 3e8 at `a = 1` for `L = 20`.
pub fn res_initial_loss(depth: usize, scale: f64, q0: f64, m0: f64) -> f64 {
    let a = scale;
    let mut d = 0.0;
    for &(m, q) in res_moments(depth, scale, q0, m0).iter().take(depth) {
        d += 2.0 * (m - m0) * a * (q.max(0.0) / PI).sqrt() + a * a * q;
    }
    d
}

/// Predicted Frobenius norm of the weight gradient of every layer of the PlainMLP at init,
/// `l = 1..=depth` (index `l - 1`), for the MSE averaged over a batch of `batch` examples
/// and all units, input `U(-1, 1)`.
///
/// Assumptions (mean-field plus the usual gradient-independence assumption):
/// * the output error `delta_L = 2 (x_L - x_0) / (B n)` has per-element second moment
///   `4 (q_L + q_0) / (B n)^2` (see [`plain_initial_loss`]) and mean ≈ 0, so per-example
///   gradients are uncorrelated across the batch;
/// * the ReLU derivative is 1 with probability 1/2, independent of the backward signal;
///   each layer backwards multiplies `E[delta^2]` by `n * (2 s^2/n) / 2 = s^2`.
///
/// Then `E[G_ij^2] = B * E[delta_{l}^2]/2 * q_{l-1}` and
/// `||G_l||_F = sqrt(2 q_0 (q_L + q_0) / B) * s^(L-1)` — the width cancels, and the norm is
/// the same for every layer (forward `s^(l-1)` times backward `s^(L-l)`). At `s = 1/sqrt(20)`,
/// `L = 20`, `B = 64` this is ~3e-14, matching the ~1e-14 measured independently.
/// No ResMLP counterpart is given: its error has a large common mean across the batch, and
/// the cross-example correlations that follow need a two-input kernel recursion.
pub fn plain_weight_grad_norm(depth: usize, scale: f64, batch: usize) -> Vec<f64> {
    if depth == 0 || batch == 0 {
        return Vec::new();
    }
    let q0 = INPUT_Q0;
    let q_l = plain_second_moment(depth, scale, q0)[depth];
    let per_layer =
        (2.0 * q0 * (q_l + q0) / batch as f64).sqrt() * scale.abs().powi(depth as i32 - 1);
    vec![per_layer; depth]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within_factor(x: f64, target: f64, factor: f64) -> bool {
        x > target / factor && x < target * factor
    }

    #[test]
    fn plain_second_moment_is_geometric() {
        let s = 1.0 / 20f64.sqrt();
        let q = plain_second_moment(20, s, INPUT_Q0);
        assert_eq!(q.len(), 21);
        assert_eq!(q[0], INPUT_Q0);
        let expected = INPUT_Q0 * s.powi(40);
        assert!((q[20] / expected - 1.0).abs() < 1e-12);
        // "~1e-27 of the input's" signal at layer 20.
        assert!(q[20] / q[0] > 1e-27 && q[20] / q[0] < 1e-25, "{}", q[20]);
    }

    #[test]
    fn res_second_moment_matches_design_numbers() {
        let small = res_moments(20, 1.0 / 20f64.sqrt(), INPUT_Q0, INPUT_M0);
        let big = res_moments(20, 1.0, INPUT_Q0, INPUT_M0);
        assert_eq!(small.len(), 21);
        let (q_small, q_big) = (small[20].1, big[20].1);
        assert!(
            within_factor(q_small, 16.0, 1.5),
            "q_L(a=1/sqrt20) = {q_small}"
        );
        assert!(within_factor(q_big, 3e8, 1.5), "q_L(a=1) = {q_big}");
        // Faster than the zero-mean-branch growth (1 + a^2)^L because the mean drifts up.
        assert!(q_big > INPUT_Q0 * 2f64.powi(20));
        assert!(small.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1));
    }

    #[test]
    fn initial_losses_match_reference_runs() {
        let s = 1.0 / 20f64.sqrt();
        let plain = plain_initial_loss(20, s, INPUT_Q0, INPUT_M0);
        assert!((plain - 1.0 / 3.0).abs() < 1e-6, "{plain}");
        let res = res_initial_loss(20, s, INPUT_Q0, INPUT_M0);
        let q = res_moments(20, s, INPUT_Q0, INPUT_M0)[20].1;
        assert!(
            (res - (q - INPUT_Q0)).abs() < 1e-9 * q,
            "D_L = q_L - q_0 when m_0 = 0"
        );
        assert!(within_factor(res, 15.0, 1.5), "{res}");
        assert!(within_factor(
            res_initial_loss(20, 1.0, INPUT_Q0, INPUT_M0),
            3e8,
            1.5
        ));
        assert_eq!(plain_initial_loss(0, s, INPUT_Q0, INPUT_M0), 0.0);
        assert_eq!(res_initial_loss(0, s, INPUT_Q0, INPUT_M0), 0.0);
    }

    #[test]
    fn layer_predictions_are_consistent() {
        let s = 1.0 / 20f64.sqrt();
        let plain = plain_layer_predictions(20, s);
        assert_eq!(plain.len(), 21);
        assert_eq!(plain[0].mean, 0.0);
        assert!((plain[0].std - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        for p in &plain[1..] {
            // ReLU of a centred Gaussian: std/mean = sqrt(pi - 1).
            assert!((p.std / p.mean - (PI - 1.0).sqrt()).abs() < 1e-9);
        }
        let res = res_layer_predictions(20, s);
        assert_eq!(res.len(), 21);
        assert!(res.iter().all(|p| p.std.is_finite() && p.std >= 0.0));
        assert!(res[20].mean > res[1].mean);
        assert_eq!(res[3].layer, 3);
    }

    #[test]
    fn plain_gradient_norm_is_flat_and_tiny() {
        let g = plain_weight_grad_norm(20, 1.0 / 20f64.sqrt(), 64);
        assert_eq!(g.len(), 20);
        assert!(g.windows(2).all(|w| w[0] == w[1]));
        assert!(g[0] > 1e-15 && g[0] < 1e-13, "{}", g[0]);
        assert!(plain_weight_grad_norm(0, 1.0, 64).is_empty());
    }
}
