//! Derived random streams: the heart of determinism and common random numbers.
//!
//! No random state is shared or carried across steps or runs. Each stream is a fresh
//! ChaCha8 generator keyed by SHA-256 of `(purpose, seed, index)`:
//!
//! | stream            | key                      | depends on            |
//! |-------------------|--------------------------|-----------------------|
//! | init of layer `l` | `("init", seed, l)`      | seed, layer, width    |
//! | biases of layer `l` (`bias_init = "torch_default"`) | `("bias", seed, l)` | seed, layer, width |
//! | batch of step `t` | `("data", seed, t)`      | seed, step, batch, width |
//! | eval batch        | `("eval", seed, 0)`      | seed, eval size, width |
//! | blocks lesioned together, `k` of them | `("lesion", seed, k)` | seed, k, depth |
//! | landscape direction `d` (0 or 1) of layer `l` | `("landscape", seed, 2l + d)` | seed, layer, width |
//!
//! So a PlainMLP and a ResMLP of one seed start from the same standard-normal draws and
//! see the same batches; a depth-10 net shares its first 10 layers with the depth-20 net
//! of that seed; and a resumed run needs no RNG state to continue bit for bit.

use rand::distr::{Distribution, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sha2::{Digest, Sha256};

/// What a stream is for; part of its key.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// Initial weights of one layer.
    Init,
    /// Initial biases of one layer (`bias_init = "torch_default"`).
    Bias,
    /// The training batch of one step.
    Data,
    /// The held-out eval batch.
    Eval,
    /// Which blocks a `k`-block lesion removes.
    Lesion,
    /// The random directions of a loss-landscape slice.
    Landscape,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Init => b"init",
            Purpose::Bias => b"bias",
            Purpose::Data => b"data",
            Purpose::Eval => b"eval",
            Purpose::Lesion => b"lesion",
            Purpose::Landscape => b"landscape",
        }
    }
}

/// A fresh generator for `(purpose, seed, index)`.
pub fn stream(purpose: Purpose, seed: u64, index: u64) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"resweep/stream/v1/");
    h.update(purpose.tag());
    h.update(seed.to_le_bytes());
    h.update(index.to_le_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// `n` standard-normal draws of the init stream of `layer` (before any scaling).
pub fn init_normals(seed: u64, layer: usize, n: usize) -> Vec<f32> {
    let mut rng = stream(Purpose::Init, seed, layer as u64);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// `n` draws of `U(-1, 1)` from the init stream of `layer` (the uniform weight inits).
pub fn init_uniforms(seed: u64, layer: usize, n: usize) -> Vec<f32> {
    uniform_batch(stream(Purpose::Init, seed, layer as u64), 1, n)
}

/// `n` draws of `U(-1, 1)` from the bias stream of `layer`.
pub fn bias_uniforms(seed: u64, layer: usize, n: usize) -> Vec<f32> {
    uniform_batch(stream(Purpose::Bias, seed, layer as u64), 1, n)
}

/// `n` standard-normal draws of landscape direction `direction` (0 or 1) for `layer`:
/// the raw direction before filter normalisation (the same for both arms of a seed, and
/// for its initial and final weights).
pub fn landscape_normals(seed: u64, layer: usize, direction: usize, n: usize) -> Vec<f32> {
    let mut rng = stream(Purpose::Landscape, seed, (2 * layer + direction) as u64);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// `k` distinct blocks out of `0..depth`, in increasing order: the blocks that the
/// `k`-block lesion of a run of this seed removes (a partial Fisher-Yates shuffle of the
/// `("lesion", seed, k)` stream; the same for both arms of a seed).
pub fn lesion_blocks(seed: u64, k: usize, depth: usize) -> Vec<usize> {
    use rand::Rng;
    assert!(k <= depth, "cannot remove {k} of {depth} blocks");
    let mut rng = stream(Purpose::Lesion, seed, k as u64);
    let mut blocks: Vec<usize> = (0..depth).collect();
    for i in 0..k {
        let j = rng.random_range(i..depth);
        blocks.swap(i, j);
    }
    let mut chosen = blocks[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

/// `rows x width` samples of `U(-1, 1)` from the given stream, row-major.
fn uniform_batch(mut rng: ChaCha8Rng, rows: usize, width: usize) -> Vec<f32> {
    let u = Uniform::new(-1.0f32, 1.0).expect("valid uniform range");
    (0..rows * width).map(|_| u.sample(&mut rng)).collect()
}

/// The training batch of `step`: `batch x width` samples of `U(-1,1)`.
pub fn train_batch(seed: u64, step: usize, batch: usize, width: usize) -> Vec<f32> {
    uniform_batch(stream(Purpose::Data, seed, step as u64), batch, width)
}

/// The fixed held-out eval batch of a seed.
pub fn eval_batch(seed: u64, size: usize, width: usize) -> Vec<f32> {
    uniform_batch(stream(Purpose::Eval, seed, 0), size, width)
}

/// SHA-256 (hex, first 16 digits) of `f32` values' little-endian bytes.
pub fn hash_f32(parts: &[&[f32]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        for v in *part {
            h.update(v.to_le_bytes());
        }
    }
    crate::config::hex(&h.finalize())[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        assert_eq!(train_batch(3, 7, 4, 8), train_batch(3, 7, 4, 8));
        assert_ne!(train_batch(3, 7, 4, 8), train_batch(3, 8, 4, 8));
        assert_ne!(train_batch(3, 7, 4, 8), train_batch(4, 7, 4, 8));
        assert_ne!(init_normals(0, 0, 16), init_normals(0, 1, 16));
        // A longer draw of one stream extends the shorter one (prefix property).
        assert_eq!(init_normals(5, 2, 8)[..], init_normals(5, 2, 16)[..8]);
        let b = train_batch(1, 0, 64, 64);
        assert!(b.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = b.iter().map(|&v| v as f64).sum::<f64>() / b.len() as f64;
        assert!(mean.abs() < 0.05, "mean of U(-1,1) samples: {mean}");
    }
}
