//! Loss landscapes (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss
//! landscape of neural nets"): the eval loss on a 2-D slice `θ + a·d1 + b·d2` through a
//! run's weights `θ`, with filter-normalised random directions.
//!
//! - **Directions.** `d1`, `d2` have the shape of the parameters. Their raw entries are
//!   standard-normal draws of the seed's landscape stream
//!   ([`super::streams::landscape_normals`]): the same draws for both arms of a seed and
//!   for its initial and final weights, so the slices of a seed differ only by the
//!   weights they are taken around. **Filter normalisation, per neuron** (a dense layer's
//!   "filter" is one unit): each row `d[l][i, :]` (the weights into unit `i` of layer `l`)
//!   is rescaled to the norm of the same row of `W_l`, so a step of 1 moves every unit by
//!   as much as its own weights are large. **Biases get a zero direction**, as in the
//!   paper's released code (its default ignores biases and other 1-D parameters): at
//!   initialisation every bias is 0, so a bias direction rescaled to the bias' norm would
//!   be zero anyway, and a slice moves the same kind of parameters at init and at the end.
//!   ReZero gates (one scalar per block) get a zero direction too.
//! - **Grid.** `a` and `b` take `grid` equally spaced values over `[-span, span]`
//!   (`span · (2i − (grid − 1)) / (grid − 1)`, so an odd grid has `0` exactly at its
//!   centre, where the parameters are `θ` bit for bit).
//! - **Loss.** The Distant Identity MSE with the model's own f32 forward pass
//!   ([`super::model::loss`], subnormals flushed as in training), on the first
//!   [`LANDSCAPE_ROWS`] inputs of the run's eval batch (fewer when the run's eval batch is
//!   smaller): the same inputs and arithmetic as the run's recorded eval loss, so the
//!   centre of a slice around the final weights is the run's final eval loss whenever
//!   the eval batch has at most [`LANDSCAPE_ROWS`] inputs.
//!
//! Everything is deterministic: a slice is the same bits on any machine and thread count.

use super::kernels::FlushDenormals;
use super::model::{self, Arch};
use super::streams;

/// Eval inputs a landscape point is evaluated on (the first rows of the run's eval
/// batch): 256 keeps a 31 × 31 slice pair of a depth-20, width-64 net near a second of
/// CPU, and on the default sweep (seed 0, both arms, both init scales, initial and
/// final weights) the loss on these 256 inputs is within 2% of the loss on the whole
/// 4,096-input eval batch (0.25–1.9%).
pub const LANDSCAPE_ROWS: usize = 256;

/// The smallest and the largest grid a slice may have (points per axis).
pub const GRID_RANGE: std::ops::RangeInclusive<usize> = 3..=201;

/// Scales each weight row of the raw direction `d` to the norm of the same row of the
/// weights `params` (norms in f64) and sets the bias entries to 0. A row whose draws are
/// all 0, or whose weights are 0, becomes 0.
pub fn filter_normalize(arch: Arch, params: &[f32], d: &mut [f32]) {
    let n = arch.width;
    for l in 0..arch.depth {
        let w = &params[arch.weight_range(l)];
        let dw = &mut d[arch.weight_range(l)];
        for (wrow, drow) in w.chunks_exact(n).zip(dw.chunks_exact_mut(n)) {
            let wn = model::l2(wrow);
            let dn = model::l2(drow);
            let scale = if dn > 0.0 { wn / dn } else { 0.0 };
            drow.iter_mut()
                .for_each(|v| *v = (f64::from(*v) * scale) as f32);
        }
        d[arch.bias_range(l)].iter_mut().for_each(|v| *v = 0.0);
    }
}

/// The two filter-normalised directions of a slice around `params` for a run of `seed`.
pub fn directions(arch: Arch, seed: u64, params: &[f32]) -> [Vec<f32>; 2] {
    [0, 1].map(|k| {
        let mut d = vec![0f32; arch.param_count()];
        for l in 0..arch.depth {
            let z = streams::landscape_normals(seed, l, k, arch.width * arch.width);
            d[arch.weight_range(l)].copy_from_slice(&z);
        }
        filter_normalize(arch, params, &mut d);
        d
    })
}

/// The `grid` coordinates of one axis over `[-span, span]`.
pub fn axis(grid: usize, span: f64) -> Vec<f64> {
    let last = (grid.max(2) - 1) as f64;
    (0..grid)
        .map(|i| span * (2.0 * i as f64 - last) / last)
        .collect()
}

/// Eval inputs of a slice: the first `min(LANDSCAPE_ROWS, eval_size)` rows of the run's
/// eval batch (the eval stream extends, so they are the run's own first eval inputs).
pub fn inputs(seed: u64, eval_size: usize, width: usize) -> Vec<f32> {
    streams::eval_batch(seed, LANDSCAPE_ROWS.min(eval_size), width)
}

/// The eval loss over the slice: `losses[j * grid + i]` at `a = axis[i]`, `b = axis[j]`
/// (non-finite where the forward pass overflows).
pub fn slice(
    arch: Arch,
    params: &[f32],
    dirs: &[Vec<f32>; 2],
    x: &[f32],
    grid: usize,
    span: f64,
) -> candle_core::Result<Vec<f64>> {
    let _ftz = FlushDenormals::enable();
    let coords = axis(grid, span);
    let mut p = vec![0f32; params.len()];
    let mut losses = Vec::with_capacity(grid * grid);
    for &b in &coords {
        for &a in &coords {
            let (a, b) = (a as f32, b as f32);
            for (((pv, &t), &u), &v) in p.iter_mut().zip(params).zip(&dirs[0]).zip(&dirs[1]) {
                *pv = t + a * u + b * v;
            }
            losses.push(model::loss(arch, &p, x)?);
        }
    }
    Ok(losses)
}

/// The loss at the weights themselves, with the slice's arithmetic.
pub fn centre_loss(arch: Arch, params: &[f32], x: &[f32]) -> candle_core::Result<f64> {
    let _ftz = FlushDenormals::enable();
    model::loss(arch, params, x)
}

/// Numbers that read a slice: how the loss grows away from the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceReading {
    /// The loss at the weights (the centre).
    pub centre: f64,
    /// Mean loss over the grid points at distance `span` from the centre (within half a
    /// grid step): the ring at radius `span`; non-finite points count as `inf`.
    pub ring_mean: f64,
    /// Grid points on that ring.
    pub ring_points: usize,
    /// `ring_mean / centre`: how much the loss rises one span away (sharpness; 1 = flat).
    pub sharpness: f64,
    /// The smallest loss on the grid and its `(a, b)`.
    pub min: (f64, f64, f64),
    /// Grid points whose loss is not finite.
    pub non_finite: usize,
}

/// Reads a slice of `grid × grid` losses over `[-span, span]²` around a point of loss
/// `centre`.
pub fn read_slice(losses: &[f64], grid: usize, span: f64, centre: f64) -> SliceReading {
    let coords = axis(grid, span);
    let half_step = span / (grid.max(2) - 1) as f64;
    let (mut ring_sum, mut ring_points, mut non_finite) = (0.0, 0usize, 0usize);
    let mut min = (f64::INFINITY, f64::NAN, f64::NAN);
    for (k, &loss) in losses.iter().enumerate() {
        let (a, b) = (coords[k % grid], coords[k / grid]);
        let loss = if loss.is_finite() {
            loss
        } else {
            non_finite += 1;
            f64::INFINITY
        };
        if (a.hypot(b) - span).abs() <= half_step {
            ring_sum += loss;
            ring_points += 1;
        }
        if loss < min.0 {
            min = (loss, a, b);
        }
    }
    let ring_mean = ring_sum / ring_points.max(1) as f64;
    SliceReading {
        centre,
        ring_mean,
        ring_points,
        sharpness: ring_mean / centre,
        min,
        non_finite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{InitScale, RunConfig};

    fn run(residual: bool, depth: usize, width: usize) -> (Arch, RunConfig, Vec<f32>) {
        let cfg = RunConfig {
            depth,
            width,
            residual,
            init_scale: InitScale::Value(1.0),
            seed: 7,
            ..RunConfig::default()
        };
        let (mut params, _) = model::init_params(&cfg);
        let arch = Arch::of(&cfg);
        // Non-zero biases, as trained weights have.
        for l in 0..depth {
            for (i, b) in params[arch.bias_range(l)].iter_mut().enumerate() {
                *b = 0.01 * (i as f32 - 2.0);
            }
        }
        (arch, cfg, params)
    }

    #[test]
    fn every_direction_row_has_the_norm_of_its_weight_row_and_biases_stay() {
        let (arch, cfg, mut params) = run(true, 4, 6);
        // A dead row: all-zero weights into one unit.
        params[arch.weight_range(2)][6..12].fill(0.0);
        let dirs = directions(arch, cfg.seed, &params);
        assert_ne!(dirs[0], dirs[1], "two independent directions");
        for d in &dirs {
            for l in 0..arch.depth {
                let w = &params[arch.weight_range(l)];
                for (i, (wrow, drow)) in w
                    .chunks(6)
                    .zip(d[arch.weight_range(l)].chunks(6))
                    .enumerate()
                {
                    let (wn, dn) = (model::l2(wrow), model::l2(drow));
                    assert!(
                        (wn - dn).abs() <= 1e-6 * wn.max(1e-30),
                        "layer {l} row {i}: direction norm {dn}, weight norm {wn}"
                    );
                    if l == 2 && i == 1 {
                        assert_eq!(dn, 0.0);
                    } else {
                        assert!(dn > 0.0);
                    }
                }
                assert!(d[arch.bias_range(l)].iter().all(|&v| v == 0.0));
            }
        }
        // Filter normalisation rescales rows only: the raw draws' directions are kept.
        let raw = streams::landscape_normals(cfg.seed, 0, 0, 36);
        let (r, d) = (&raw[..6], &dirs[0][..6]);
        let ratio = d[0] as f64 / r[0] as f64;
        assert!(r
            .iter()
            .zip(d)
            .all(|(&r, &d)| ((d as f64) - ratio * r as f64).abs() < 1e-5));
    }

    #[test]
    fn the_centre_is_the_loss_at_the_weights_and_slices_are_reproducible() {
        for residual in [false, true] {
            let (arch, cfg, params) = run(residual, 5, 8);
            let x = inputs(cfg.seed, 40, arch.width);
            assert_eq!(
                x.len(),
                40 * 8,
                "fewer eval inputs than LANDSCAPE_ROWS: all of them"
            );
            assert_eq!(x, streams::eval_batch(cfg.seed, 40, 8));
            let dirs = directions(arch, cfg.seed, &params);
            let grid = 7;
            let losses = slice(arch, &params, &dirs, &x, grid, 0.5).unwrap();
            assert_eq!(losses.len(), grid * grid);
            let centre = centre_loss(arch, &params, &x).unwrap();
            assert_eq!(losses[3 * grid + 3].to_bits(), centre.to_bits());
            assert_eq!(
                centre.to_bits(),
                model::loss(arch, &params, &x).unwrap().to_bits(),
                "the run's own eval arithmetic"
            );
            let again = slice(
                arch,
                &params,
                &directions(arch, cfg.seed, &params),
                &x,
                grid,
                0.5,
            )
            .unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&losses), bits(&again), "bitwise reproducible");
            // The point (a, b) is θ + a·d1 + b·d2: check one corner by hand.
            let (a, b) = (-0.5f32, 0.5f32);
            let p: Vec<f32> = params
                .iter()
                .zip(&dirs[0])
                .zip(&dirs[1])
                .map(|((&t, &u), &v)| t + a * u + b * v)
                .collect();
            let corner = losses[(grid - 1) * grid];
            assert_eq!(
                corner.to_bits(),
                centre_loss(arch, &p, &x).unwrap().to_bits()
            );
            assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
            // Another seed draws other directions.
            assert_ne!(directions(arch, cfg.seed + 1, &params)[0], dirs[0]);
        }
    }

    #[test]
    fn axes_and_readings() {
        assert_eq!(axis(3, 1.0), vec![-1.0, 0.0, 1.0]);
        let a = axis(31, 1.0);
        assert_eq!(a[15], 0.0);
        assert_eq!((a[0], a[30]), (-1.0, 1.0));
        // A bowl: loss = 1 + a² + b², centre 1, ring at radius 1 about 2.
        let grid = 41;
        let c = axis(grid, 1.0);
        let mut losses: Vec<f64> = (0..grid * grid)
            .map(|k| 1.0 + c[k % grid].powi(2) + c[k / grid].powi(2))
            .collect();
        let r = read_slice(&losses, grid, 1.0, 1.0);
        assert!(r.ring_points >= 100, "{}", r.ring_points);
        assert!((r.ring_mean - 2.0).abs() < 0.05, "{}", r.ring_mean);
        assert!((r.sharpness - 2.0).abs() < 0.05);
        assert_eq!(r.min, (1.0, 0.0, 0.0));
        assert_eq!(r.non_finite, 0);
        losses[0] = f64::NAN;
        let r = read_slice(&losses, grid, 1.0, 1.0);
        assert_eq!(r.non_finite, 1);
    }
}
