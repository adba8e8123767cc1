//! The micro-world probes of one set of weights, measured on the run's own fixed eval
//! inputs (the first rows of its eval batch): the input-output Jacobian's spectrum
//! ([`super::jacobian`]), lesions and branch ratios ([`super::lesion`]) and the
//! gradient along a line ([`super::shatter`]).
//!
//! A run measures them at step 0 and at its last step ([`RunProbes`], written to
//! `probes.json` when the run ends). Both snapshots are functions of the weights and the
//! seed alone, so they are bitwise the same whatever `--jobs`, `--vectorize` or
//! interruptions, and a resumed run recomputes the step-0 snapshot from its seed.
//!
//! Inputs per probe (a cost/precision choice, measured in the README):
//! - Jacobian: [`JACOBIAN_INPUTS`] inputs, one exact `width x width` Jacobian and SVD each;
//! - lesions and branch ratios: [`LESION_INPUTS`] inputs;
//! - shattering: the line through eval inputs 0 and 1, [`super::shatter::POINTS`] points.

use super::jacobian::{input_jacobian, singular_values, summarize};
use super::lesion::{self, branch_ratios, random_lesions, single_lesions};
use super::model::Arch;
use super::shatter;
use super::streams;
use crate::config::RunConfig;
use serde::{Deserialize, Serialize};

/// Inputs whose Jacobians are taken.
pub const JACOBIAN_INPUTS: usize = 16;
/// Inputs of the lesion and branch-ratio probes.
pub const LESION_INPUTS: usize = 64;
/// The version of `probes.json`'s layout.
pub const PROBES_VERSION: u32 = 1;

/// The probes of a run: at its initial weights and at its last step's weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunProbes {
    /// Layout version ([`PROBES_VERSION`]).
    pub version: u32,
    /// At step 0; `None` when a probe overflows (weights finite but so large that a
    /// number of the snapshot is not: JSON cannot hold it).
    pub init: Option<Snapshot>,
    /// At the last step; `None` when the final weights are not all finite (a diverged
    /// run), or a probe overflows.
    #[serde(rename = "final")]
    pub last: Option<Snapshot>,
}

/// Every probe of one set of weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Updates applied to these weights.
    pub step: usize,
    /// The input-output Jacobian.
    pub jacobian: JacobianProbe,
    /// Lesions.
    pub lesions: LesionProbe,
    /// `||relu(W_l x_l + b_l)|| / ||x_l||` per layer (index 0 = layer 1) on the lesion
    /// inputs; `None` where the layer's input is exactly zero.
    pub branch_ratio: Vec<Option<f64>>,
    /// The gradient along a line.
    pub shatter: ShatterProbe,
}

/// The Jacobian `dy/dx` at [`JACOBIAN_INPUTS`] inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JacobianProbe {
    /// Inputs.
    pub inputs: usize,
    /// Every input's singular values, largest first, input after input
    /// (`inputs x width` values).
    pub singular_values: Vec<f64>,
    /// The smallest singular value over all inputs.
    pub min: f64,
    /// 10% quantile of all singular values pooled.
    pub q10: f64,
    /// Median of all singular values pooled.
    pub q50: f64,
    /// 90% quantile of all singular values pooled.
    pub q90: f64,
    /// The largest singular value over all inputs.
    pub max: f64,
    /// Mean of `ln s` over all singular values; `None` when one is exactly zero.
    pub mean_log: Option<f64>,
    /// Participation ratio `(sum s^2)^2 / sum s^4`, averaged over the inputs.
    pub effective_rank: f64,
    /// Singular values above numpy's `matrix_rank` tolerance, averaged over the inputs.
    pub numerical_rank: f64,
    /// `||J_l||_F / sqrt(width)` of the partial Jacobian from layer `l`'s input to the
    /// output, averaged over the inputs (index 0 = layer 1, the whole map).
    pub partial_gain: Vec<f64>,
}

/// Blocks removed at test time ([`super::lesion`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LesionProbe {
    /// Inputs.
    pub inputs: usize,
    /// The loss of the intact network on these inputs.
    pub intact: f64,
    /// The loss with block `l` removed (index 0 = layer 1).
    pub single: Vec<f64>,
    /// The loss with `k` random blocks removed, `k = 1..=min(depth, 10)`.
    pub random: Vec<RandomLesion>,
}

/// `k` blocks removed together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomLesion {
    /// Blocks removed.
    pub k: usize,
    /// Which (layer numbers, from 1).
    pub layers: Vec<usize>,
    /// The loss without them.
    pub loss: f64,
}

/// `g(t) = ds/dt` along `x(t) = x0 + t d` ([`super::shatter`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShatterProbe {
    /// `g` at [`super::shatter::POINTS`] evenly spaced `t` in `[-1, 1]`.
    pub gradient: Vec<f64>,
    /// Autocorrelation of `g` at lags `1..=`[`super::shatter::LAGS`]; `None` where `g`
    /// is constant.
    pub autocorr: Vec<Option<f64>>,
}

impl RunProbes {
    /// The probes of a run from its initial and last weights (`last` after `step`
    /// updates).
    pub fn measure(cfg: &RunConfig, init: &[f32], last: &[f32], step: usize) -> RunProbes {
        let x = streams::eval_batch(cfg.seed, JACOBIAN_INPUTS.max(LESION_INPUTS), cfg.width);
        let arch = Arch::of(cfg);
        RunProbes {
            version: PROBES_VERSION,
            init: Some(Snapshot::measure(arch, init, &x, cfg.seed, 0)).filter(Snapshot::is_finite),
            last: last
                .iter()
                .all(|v| v.is_finite())
                .then(|| Snapshot::measure(arch, last, &x, cfg.seed, step))
                .filter(Snapshot::is_finite),
        }
    }
}

impl Snapshot {
    /// Every probe of `params` on the eval inputs `x` (at least [`JACOBIAN_INPUTS`] and
    /// [`LESION_INPUTS`] rows).
    pub fn measure(arch: Arch, params: &[f32], x: &[f32], seed: u64, step: usize) -> Snapshot {
        let w = arch.width;
        let mut singular = Vec::with_capacity(JACOBIAN_INPUTS * w);
        let mut partial = vec![0.0; arch.depth];
        let (mut eff, mut rank) = (0.0, 0.0);
        for row in x.chunks(w).take(JACOBIAN_INPUTS) {
            let jac = input_jacobian(arch, params, row);
            let s = singular_values(&jac.jacobian);
            let one = summarize(&s);
            eff += one.effective_rank;
            rank += one.numerical_rank as f64;
            for (p, g) in partial.iter_mut().zip(&jac.partial_rms_gain) {
                *p += g;
            }
            singular.extend(s);
        }
        let n = JACOBIAN_INPUTS as f64;
        let pooled = summarize(&singular);
        let jacobian = JacobianProbe {
            inputs: JACOBIAN_INPUTS,
            min: pooled.min,
            q10: pooled.q10,
            q50: pooled.q50,
            q90: pooled.q90,
            max: pooled.max,
            mean_log: pooled.mean_log,
            effective_rank: eff / n,
            numerical_rank: rank / n,
            partial_gain: partial.iter().map(|p| p / n).collect(),
            singular_values: singular,
        };
        let xm = lesion::inputs(&x[..LESION_INPUTS * w], w);
        let (intact, single) = single_lesions(arch, params, &xm);
        let random = random_lesions(arch, params, &xm, seed)
            .into_iter()
            .map(|r| RandomLesion {
                k: r.k,
                layers: r.blocks.iter().map(|b| b + 1).collect(),
                loss: r.loss,
            })
            .collect();
        let gradient = shatter::line_gradient(arch, params, &x[..w], &x[w..2 * w], shatter::POINTS);
        let autocorr = shatter::autocorrelation(&gradient, shatter::LAGS);
        Snapshot {
            step,
            jacobian,
            lesions: LesionProbe {
                inputs: LESION_INPUTS,
                intact,
                single,
                random,
            },
            branch_ratio: branch_ratios(arch, params, &xm),
            shatter: ShatterProbe { gradient, autocorr },
        }
    }

    /// Whether every number is finite (JSON has no infinities; weights that are finite but
    /// huge can still overflow a probe).
    pub fn is_finite(&self) -> bool {
        let j = &self.jacobian;
        let finite = |v: &f64| v.is_finite();
        j.singular_values.iter().all(finite)
            && j.partial_gain.iter().all(finite)
            && [j.min, j.q10, j.q50, j.q90, j.max, j.effective_rank]
                .iter()
                .all(finite)
            && j.mean_log.is_none_or(|v| v.is_finite())
            && finite(&self.lesions.intact)
            && self.lesions.single.iter().all(finite)
            && self.lesions.random.iter().all(|r| r.loss.is_finite())
            && self.branch_ratio.iter().flatten().all(finite)
            && self.shatter.gradient.iter().all(finite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitScale;
    use crate::experiment::model::init_params;

    fn cfg(residual: bool) -> RunConfig {
        RunConfig {
            residual,
            depth: 5,
            width: 8,
            seed: 4,
            init_scale: InitScale::Value(1.0),
            ..RunConfig::default()
        }
    }

    #[test]
    fn a_snapshot_holds_every_probe_with_its_shapes() {
        let c = cfg(true);
        let (init, _) = init_params(&c);
        let p = RunProbes::measure(&c, &init, &init, 0);
        assert_eq!(p.init, p.last, "same weights, same probes");
        let s = p.init.as_ref().unwrap();
        assert_eq!(s.jacobian.singular_values.len(), JACOBIAN_INPUTS * 8);
        assert_eq!(s.jacobian.partial_gain.len(), 5);
        assert_eq!(s.lesions.single.len(), 5);
        assert_eq!(
            s.lesions.random.iter().map(|r| r.k).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert!(s
            .lesions
            .random
            .iter()
            .all(|r| r.layers.iter().all(|&l| (1..=5).contains(&l))));
        assert_eq!(s.branch_ratio.len(), 5);
        assert_eq!(s.shatter.gradient.len(), shatter::POINTS);
        assert_eq!(s.shatter.autocorr.len(), shatter::LAGS);
        // The pooled summary is the summary of the kept spectrum.
        let again = summarize(&s.jacobian.singular_values);
        assert_eq!(
            (again.min, again.q50, again.max),
            (s.jacobian.min, s.jacobian.q50, s.jacobian.max)
        );
        // JSON round trip is exact (the file aggregation reads).
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<RunProbes>(&text).unwrap(), p);
    }

    #[test]
    fn diverged_weights_have_no_final_snapshot() {
        let c = cfg(false);
        let (init, _) = init_params(&c);
        let mut bad = init.clone();
        bad[3] = f32::NAN;
        let p = RunProbes::measure(&c, &init, &bad, 7);
        assert!(p.last.is_none());
        assert_eq!(p.init.as_ref().unwrap().step, 0);
        // Finite weights whose probes overflow f64 (s^4 of singular values ~1e180 in the
        // effective rank) have no snapshot either.
        let c = RunConfig { depth: 6, ..c };
        let (init6, _) = init_params(&c);
        let huge6: Vec<f32> = init6.iter().map(|v| v * 1e30).collect();
        let p = RunProbes::measure(&c, &huge6, &huge6, 1);
        assert_eq!((p.init, p.last), (None, None));
    }
}
