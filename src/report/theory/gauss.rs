//! Gaussian integrals of the activations: `E[φ(h)]` and `E[φ(h)²]` for `h ~ N(0, σ²)`, the
//! two numbers the mean-field q-map of every variant needs ([`super::variant`]).
//!
//! Closed forms where they exist:
//!
//! * ReLU: `E[relu h] = σ/sqrt(2π)`, `E[relu² h] = σ²/2`;
//! * identity: `0` and `σ²`;
//! * GELU `h Φ(h)` (exact erf): by Stein's lemma `E[h Φ(h)] = σ² E[φ_N(h)]` with `φ_N`
//!   the standard normal density, so `E[gelu h] = σ² / sqrt(2π (1 + σ²))`; and
//!   `E[h² Φ(h)²] = σ² E[Φ(h)² + 2 h Φ(h) φ_N(h)]` with `E[Φ(h)²] = 1/4 +
//!   asin(σ²/(1+σ²))/(2π)` (an orthant probability of two correlated normals) and
//!   `E[h Φ(h) φ_N(h)] = σ² E[φ_N(h)²]/(1 + σ²) = σ² / (2π (1 + σ²) sqrt(1 + 2σ²))`.
//!
//! tanh has none: `E[tanh h] = 0` (odd), and `E[tanh² h]` is the trapezoid rule on the
//! standard normal, `∫ f(σ z) φ_N(z) dz`, which converges exponentially fast for analytic
//! integrands that decay within the grid (the error is about `exp(-2π d / step)`, `d` the
//! distance of the nearest pole from the real axis: `π/(2σ)` for tanh). For `σ >= 1` it
//! integrates `1 - tanh² = sech²` instead, on a grid narrowed to where `sech²(σ z)` lives,
//! so a large `σ` (where tanh is almost a sign function) keeps its `O(1/σ)` correction.

use crate::config::Activation;
use std::f64::consts::PI;

/// `(E[φ(h)], E[φ(h)²])` for `h ~ N(0, var)`.
pub fn moments(activation: Activation, var: f64) -> (f64, f64) {
    let var = var.max(0.0);
    match activation {
        Activation::Relu => ((var / (2.0 * PI)).sqrt(), var / 2.0),
        Activation::Linear => (0.0, var),
        Activation::Gelu => gelu_moments(var),
        Activation::Tanh => (0.0, tanh_second_moment(var.sqrt())),
    }
}

/// GELU's closed forms (module docs).
fn gelu_moments(v: f64) -> (f64, f64) {
    let mean = v / (2.0 * PI * (1.0 + v)).sqrt();
    let phi2 = 0.25 + (v / (1.0 + v)).asin() / (2.0 * PI);
    let cross = v / (2.0 * PI * (1.0 + v) * (1.0 + 2.0 * v).sqrt());
    (mean, v * (phi2 + 2.0 * cross))
}

/// `E[tanh²(σ Z)]`, `Z ~ N(0, 1)`.
fn tanh_second_moment(sigma: f64) -> f64 {
    if sigma == 0.0 {
        return 0.0;
    }
    if sigma < 1.0 {
        trapezoid(|z| (sigma * z).tanh().powi(2), 10.0)
    } else {
        // sech²(σ z) < 1e-34 beyond |σ z| = 40.
        let reach = (40.0 / sigma).min(10.0);
        1.0 - trapezoid(|z| 1.0 / (sigma * z).cosh().powi(2), reach)
    }
}

/// Points of the trapezoid rule of [`trapezoid`].
const TRAPEZOID_POINTS: usize = 1601;

/// `∫ f(z) φ_N(z) dz` over `[-reach, reach]` by the trapezoid rule.
pub fn trapezoid(f: impl Fn(f64) -> f64, reach: f64) -> f64 {
    let step = 2.0 * reach / (TRAPEZOID_POINTS - 1) as f64;
    let norm = 1.0 / (2.0 * PI).sqrt();
    let mut sum = 0.0;
    for i in 0..TRAPEZOID_POINTS {
        let z = -reach + i as f64 * step;
        let w = if i == 0 || i + 1 == TRAPEZOID_POINTS {
            0.5
        } else {
            1.0
        };
        sum += w * f(z) * (-0.5 * z * z).exp();
    }
    sum * step * norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn the_trapezoid_rule_matches_closed_forms() {
        for sigma in [1e-3, 0.1, 0.7, 1.0, 3.0] {
            let v = sigma * sigma;
            // Even moments E[h^2k] = σ^2k (2k - 1)!!, and E[cos h] = exp(-σ²/2).
            let m2 = trapezoid(|z| (sigma * z).powi(2), 10.0);
            let m4 = trapezoid(|z| (sigma * z).powi(4), 10.0);
            assert!(
                close(m2, v, 1e-12) && close(m4, 3.0 * v * v, 1e-12),
                "{sigma}"
            );
            let c = trapezoid(|z| (sigma * z).cos(), 10.0);
            assert!(close(c, (-v / 2.0).exp(), 1e-12), "{sigma}");
            // GELU through the rule against its closed forms.
            let gelu = |z: f64| crate::experiment::block::act(Activation::Gelu, sigma * z);
            let (m, q) = gelu_moments(v);
            assert!(close(trapezoid(gelu, 10.0), m, 1e-10), "{sigma}");
            assert!(
                close(trapezoid(|z| gelu(z).powi(2), 10.0), q, 1e-10),
                "{sigma}"
            );
        }
        // The ReLU's kink costs the rule its exponential convergence (the error is
        // O(step²), step = 1/80), which is why the ReLU uses its closed form.
        let relu = trapezoid(|z| z.max(0.0), 10.0);
        assert!(close(relu, 1.0 / (2.0 * PI).sqrt(), 1e-4));
    }

    #[test]
    fn closed_forms_match_reference_values() {
        // GELU at σ = 1 and 3 (adaptive quadrature to 1e-14).
        let (m1, q1) = moments(Activation::Gelu, 1.0);
        assert!(close(m1, 0.282_094_791_773_878_1, 1e-12), "{m1}");
        assert!(close(q1, 0.425_221_482_570_298_7, 1e-12), "{q1}");
        let (m3, q3) = moments(Activation::Gelu, 9.0);
        assert!(close(m3, 1.135_409_634_909_072, 1e-12), "{m3}");
        assert!(close(q3, 4.445_456_579_631_408, 1e-12), "{q3}");
        // GELU tends to the ReLU for large σ.
        let (mg, qg) = moments(Activation::Gelu, 1e8);
        let (mr, qr) = moments(Activation::Relu, 1e8);
        assert!(close(mg, mr, 1e-4) && close(qg, qr, 1e-4));
        assert_eq!(moments(Activation::Relu, 2.0), ((1.0 / PI).sqrt(), 1.0));
        assert_eq!(moments(Activation::Linear, 2.0), (0.0, 2.0));
    }

    #[test]
    fn tanh_matches_known_values_and_limits() {
        // E[tanh²(Z)] = 0.3942944903978... (adaptive quadrature).
        let (m, q) = moments(Activation::Tanh, 1.0);
        assert_eq!(m, 0.0);
        assert!(close(q, 0.394_294_490_397_841_2, 1e-12), "{q}");
        assert!(close(
            moments(Activation::Tanh, 9.0).1,
            0.745_166_707_993_423,
            1e-12
        ));
        assert!(close(
            moments(Activation::Tanh, 0.49).1,
            0.270_406_156_222_485_1,
            1e-12
        ));
        // Small σ: tanh² z = z² - 2z⁴/3 + ..., so E = σ² - 2σ⁴.
        let s2 = 1e-6;
        assert!(close(
            moments(Activation::Tanh, s2).1,
            s2 - 2.0 * s2 * s2,
            1e-9
        ));
        // Large σ: 1 - E[tanh²] = E[sech²] -> ∫ sech² φ_N(0)/σ = 2/(σ sqrt(2π)).
        let sigma = 1e4;
        let gap = 1.0 - moments(Activation::Tanh, sigma * sigma).1;
        assert!(close(gap, 2.0 / (sigma * (2.0 * PI).sqrt()), 1e-6), "{gap}");
        // Continuous across the switch of method at σ = 1.
        let (below, above) = (
            moments(Activation::Tanh, (1.0 - 1e-12f64).powi(2)).1,
            moments(Activation::Tanh, 1.0).1,
        );
        assert!(close(below, above, 1e-10));
    }
}
