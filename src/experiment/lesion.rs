//! Lesions and branch ratios: how much each block matters, measured on a run's own eval
//! inputs.
//!
//! - **Lesion** (Veit, Wilber & Belongie 2016, residual nets as ensembles of shallow
//!   paths): block `l` removed at test time means `x_{l+1} = x_l` (for a PlainMLP, the
//!   layer replaced by the identity). [`single_lesions`] gives the eval loss with each
//!   block removed in turn, [`random_lesions`] the loss with `k` blocks removed together
//!   for `k = 1..=min(depth, 10)`, the blocks drawn from the seed's own lesion stream
//!   ([`super::streams::lesion_blocks`], the same for both arms). Losses are recorded,
//!   not ratios: the intact loss can be 0 (a ResMLP whose branches are off is the
//!   identity), where a ratio is undefined.
//! - **Branch ratio**: `||relu(W_l x_l + b_l)|| / ||x_l||` (for any block, the branch as
//!   added to the stream, `α g_l φ(z)`, see [`super::block`]) over the inputs (Frobenius
//!   norms over examples and units): the branch against the stream for a ResMLP, the
//!   layer's output against its input for a PlainMLP. At init it is about the branch
//!   scale for a ResMLP, as mean-field theory says.
//!
//! Computed in f64 (nalgebra) from the f32 weights. A lesion of block `l` reuses the
//! intact forward pass below `l`, so all single lesions cost about `depth / 2` forward
//! passes.

use super::block;
use super::model::Arch;
use super::streams;
use nalgebra::DMatrix;

/// The most blocks a random lesion removes.
pub const MAX_LESIONED_BLOCKS: usize = 10;

/// Inputs as a matrix, one example per row (`rows x width`, from row-major `x`).
pub fn inputs(x: &[f32], width: usize) -> DMatrix<f64> {
    let rows = x.len() / width;
    DMatrix::from_fn(rows, width, |i, j| f64::from(x[i * width + j]))
}

/// Block `l` applied to its input: the residual stream plus the branch, or the branch.
fn block(arch: Arch, params: &[f32], l: usize, x: &DMatrix<f64>) -> DMatrix<f64> {
    block::layer_f64(arch, params, l, x).1
}

/// Mean squared error of outputs `y` against the target (the inputs `x`).
fn mse(y: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (y - x).norm_squared() / (x.nrows() * x.ncols()) as f64
}

/// Every layer's input, `x_0` (the network's input) to `x_depth` (its output).
fn forward_all(arch: Arch, params: &[f32], x: &DMatrix<f64>) -> Vec<DMatrix<f64>> {
    let mut xs = Vec::with_capacity(arch.depth + 1);
    xs.push(x.clone());
    for l in 0..arch.depth {
        let next = block(arch, params, l, &xs[l]);
        xs.push(next);
    }
    xs
}

/// The network's output with the blocks in `removed` (sorted, 0-based) skipped.
fn forward_without(
    arch: Arch,
    params: &[f32],
    x: &DMatrix<f64>,
    removed: &[usize],
) -> DMatrix<f64> {
    let mut h = x.clone();
    for l in 0..arch.depth {
        if removed.binary_search(&l).is_err() {
            h = block(arch, params, l, &h);
        }
    }
    h
}

/// The eval loss intact, and with each block removed in turn (index 0 = layer 1).
pub fn single_lesions(arch: Arch, params: &[f32], x: &DMatrix<f64>) -> (f64, Vec<f64>) {
    let xs = forward_all(arch, params, x);
    let intact = mse(&xs[arch.depth], x);
    let lesioned = (0..arch.depth)
        .map(|l| {
            // Skip block l: the stream x_l goes straight on to block l + 1.
            let mut h = xs[l].clone();
            for k in l + 1..arch.depth {
                h = block(arch, params, k, &h);
            }
            mse(&h, x)
        })
        .collect();
    (intact, lesioned)
}

/// One random lesion: how many blocks, which (0-based), and the eval loss without them.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomLesion {
    /// Blocks removed.
    pub k: usize,
    /// Which blocks (0-based, sorted).
    pub blocks: Vec<usize>,
    /// The eval loss without them.
    pub loss: f64,
}

/// The eval loss with `k` blocks removed together, `k = 1..=min(depth, 10)`, the blocks
/// drawn from the `(lesion, seed, k)` stream.
pub fn random_lesions(
    arch: Arch,
    params: &[f32],
    x: &DMatrix<f64>,
    seed: u64,
) -> Vec<RandomLesion> {
    (1..=arch.depth.min(MAX_LESIONED_BLOCKS))
        .map(|k| {
            let blocks = streams::lesion_blocks(seed, k, arch.depth);
            let loss = mse(&forward_without(arch, params, x, &blocks), x);
            RandomLesion { k, blocks, loss }
        })
        .collect()
}

/// `||c_l φ(z_l)|| / ||x_l||` (the branch as added to the stream; the layer's output for a
/// PlainMLP; `relu(W_l x_l + b_l)` for the original block) for every layer (index 0 = layer 1); `None` where
/// the layer's input is exactly zero.
pub fn branch_ratios(arch: Arch, params: &[f32], x: &DMatrix<f64>) -> Vec<Option<f64>> {
    let mut h = x.clone();
    let mut out = Vec::with_capacity(arch.depth);
    for l in 0..arch.depth {
        let (a, next) = block::layer_f64(arch, params, l, &h);
        let input = h.norm();
        out.push((input > 0.0).then(|| a.norm() / input));
        h = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{InitScale, RunConfig};
    use crate::experiment::model::init_params;

    fn arch_params(residual: bool, depth: usize, width: usize, scale: f64) -> (Arch, Vec<f32>) {
        let c = RunConfig {
            residual,
            depth,
            width,
            seed: 5,
            init_scale: InitScale::Value(scale),
            ..RunConfig::default()
        };
        let (mut params, _) = init_params(&c);
        let arch = Arch::of(&c);
        for l in 0..depth {
            for (k, b) in params[arch.bias_range(l)].iter_mut().enumerate() {
                *b = 0.02 * ((k * 3 + l) % 7) as f32 - 0.06;
            }
        }
        (arch, params)
    }

    /// The reference: the network rebuilt without the removed layers, evaluated with
    /// plain loops.
    fn deleted_net_loss(arch: Arch, params: &[f32], x: &[f32], removed: &[usize]) -> f64 {
        let n = arch.width;
        let kept: Vec<usize> = (0..arch.depth).filter(|l| !removed.contains(l)).collect();
        let mut sub = Vec::new();
        for &l in &kept {
            sub.extend_from_slice(&params[arch.weight_range(l)]);
            sub.extend_from_slice(&params[arch.bias_range(l)]);
        }
        let small = Arch {
            depth: kept.len(),
            ..arch
        };
        let mut total = 0.0;
        for row in x.chunks(n) {
            let mut h: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            for l in 0..small.depth {
                let w = &sub[small.weight_range(l)];
                let b = &sub[small.bias_range(l)];
                let a: Vec<f64> = (0..n)
                    .map(|i| {
                        (f64::from(b[i])
                            + (0..n).map(|j| f64::from(w[i * n + j]) * h[j]).sum::<f64>())
                        .max(0.0)
                    })
                    .collect();
                for i in 0..n {
                    h[i] = if small.residual { h[i] + a[i] } else { a[i] };
                }
            }
            total += h
                .iter()
                .zip(row)
                .map(|(y, &t)| (y - f64::from(t)).powi(2))
                .sum::<f64>();
        }
        total / x.len() as f64
    }

    #[test]
    fn lesions_equal_explicit_deletion_in_the_reference_network() {
        for residual in [false, true] {
            let (arch, params) = arch_params(residual, 7, 10, 1.0);
            let x = streams::eval_batch(2, 16, arch.width);
            let xm = inputs(&x, arch.width);
            let (intact, single) = single_lesions(arch, &params, &xm);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * (1.0 + b.abs());
            assert!(close(intact, deleted_net_loss(arch, &params, &x, &[])));
            for (l, &loss) in single.iter().enumerate() {
                let want = deleted_net_loss(arch, &params, &x, &[l]);
                assert!(
                    close(loss, want),
                    "residual {residual}, block {l}: {loss} vs {want}"
                );
            }
            let random = random_lesions(arch, &params, &xm, 2);
            assert_eq!(random.len(), 7);
            for r in &random {
                assert_eq!(r.blocks.len(), r.k);
                let want = deleted_net_loss(arch, &params, &x, &r.blocks);
                assert!(close(r.loss, want), "{r:?} vs {want}");
            }
        }
    }

    #[test]
    fn closed_forms_identity_and_scaled_identity_networks() {
        // A ResMLP with every block removed is the identity: loss 0.
        let (arch, params) = arch_params(true, 6, 8, 1.0);
        let x = inputs(&streams::eval_batch(1, 8, 8), 8);
        assert_eq!(
            mse(&forward_without(arch, &params, &x, &[0, 1, 2, 3, 4, 5]), &x),
            0.0
        );
        // A PlainMLP with W = a I, zero bias, on positive inputs computes a^L x: its loss
        // is (a^L - 1)^2 E[x^2], and (a^(L-1) - 1)^2 E[x^2] with any one block removed.
        let (depth, n, a) = (4usize, 6usize, 0.5f64);
        let arch = Arch::new(depth, n, false);
        let mut params = vec![0f32; arch.param_count()];
        for l in 0..depth {
            for i in 0..n {
                params[arch.weight_range(l).start + i * n + i] = a as f32;
            }
        }
        let raw: Vec<f32> = (0..3 * n).map(|i| 0.05 + 0.05 * i as f32).collect();
        let ex2 = raw.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / raw.len() as f64;
        let (intact, single) = single_lesions(arch, &params, &inputs(&raw, n));
        assert!((intact - (a.powi(4) - 1.0).powi(2) * ex2).abs() < 1e-12);
        for loss in single {
            assert!((loss - (a.powi(3) - 1.0).powi(2) * ex2).abs() < 1e-12);
        }
        // Its branch ratio is a at every layer (the output is a times the input).
        let ratios = branch_ratios(arch, &params, &inputs(&raw, n));
        assert!(
            ratios.iter().all(|r| (r.unwrap() - a).abs() < 1e-12),
            "{ratios:?}"
        );
    }

    #[test]
    fn lesion_blocks_are_distinct_sorted_and_stable() {
        for k in 0..=10 {
            let b = streams::lesion_blocks(3, k, 20);
            assert_eq!(b.len(), k);
            assert!(b.windows(2).all(|w| w[0] < w[1]) && b.iter().all(|&l| l < 20));
            assert_eq!(
                b,
                streams::lesion_blocks(3, k, 20),
                "same stream, same blocks"
            );
        }
        assert_ne!(
            streams::lesion_blocks(3, 5, 20),
            streams::lesion_blocks(4, 5, 20)
        );
    }

    /// At init, a ResMLP's branch ratio is about its branch scale (here the init scale
    /// 1/sqrt(20) ~ 0.22, as mean-field theory says), and removing one block changes its
    /// loss by a fraction only.
    #[test]
    fn at_init_branches_are_small_and_single_resmlp_lesions_are_mild() {
        let (arch, params) = arch_params(true, 20, 64, 1.0 / 20f64.sqrt());
        let x = inputs(&streams::eval_batch(0, 256, 64), 64);
        let ratios: Vec<f64> = branch_ratios(arch, &params, &x)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        // Measured (seed 5): 0.221 at layer 1, 0.17-0.26 over the 20 layers.
        assert!((ratios[0] - 0.2236).abs() < 0.01, "{ratios:?}");
        assert!(ratios.iter().all(|&r| r > 0.15 && r < 0.3), "{ratios:?}");
        // The init loss (~16, the mean-field value) is mostly the constant offset that
        // every branch adds to: removing any one block lowers it, by 24-25% here.
        let (intact, single) = single_lesions(arch, &params, &x);
        assert!(intact > 10.0 && intact < 25.0, "{intact}");
        for loss in single {
            let drop = 1.0 - loss / intact;
            assert!(
                drop > 0.1 && drop < 0.4,
                "one block changed the loss by {drop}"
            );
        }
    }
}
