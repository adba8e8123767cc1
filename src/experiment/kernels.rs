//! Fused element-wise kernels as candle custom ops, and zero-copy access to CPU tensors.
//!
//! At width 64 a training step is dominated by per-operation overhead, not by arithmetic.
//! candle's generic ops would spend three or four passes (and allocations) where one
//! loop suffices, so the hot element-wise work of the forward and backward pass lives
//! here as [`CustomOp1`]/[`CustomOp2`] implementations: each is one pass over contiguous
//! memory that the compiler vectorizes. Matrix products stay candle's (`Tensor::matmul`).
//!
//! Every kernel is deterministic: a fixed loop order, no threads.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor};

/// Calls `f` with the contiguous `f32` data of a CPU tensor, without copying.
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("resweep kernels run on the CPU only");
    };
    let data = contiguous(cpu, layout)?;
    Ok(f(data))
}

/// The contiguous `f32` slice a layout addresses.
fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let all = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => candle_core::bail!("resweep kernel expects a contiguous tensor"),
    }
}

/// Checks that `z` splits into rows of `n` and returns the number of rows.
fn rows_of(what: &str, len: usize, n: usize) -> Result<usize> {
    if n == 0 || !len.is_multiple_of(n) {
        candle_core::bail!("{what}: {len} values do not split into rows of {n}");
    }
    Ok(len / n)
}

/// Writes `relu(z + b)` into `out` (`z: [rows, n]`, bias `b: [n]` broadcast over rows).
fn bias_relu_into(out: &mut [f32], z: &[f32], b: &[f32]) {
    let n = b.len();
    for (orow, zrow) in out.chunks_exact_mut(n).zip(z.chunks_exact(n)) {
        for ((o, &zv), &bv) in orow.iter_mut().zip(zrow).zip(b) {
            *o = (zv + bv).max(0.0);
        }
    }
}

/// Writes `g` masked by `a > 0` into `dz` and its column sums into `db`.
fn mask_and_sum_into(dz: &mut [f32], db: &mut [f32], g: &[f32], a: &[f32]) {
    let n = db.len();
    db.fill(0.0);
    for ((drow, grow), arow) in dz
        .chunks_exact_mut(n)
        .zip(g.chunks_exact(n))
        .zip(a.chunks_exact(n))
    {
        for (((d, &gv), &av), s) in drow.iter_mut().zip(grow).zip(arow).zip(db.iter_mut()) {
            let v = if av > 0.0 { gv } else { 0.0 };
            *d = v;
            *s += v;
        }
    }
}

/// PlainMLP layer: `relu(z + b)` with `z: [rows, n]` and the bias `b: [n]`.
pub struct BiasRelu;

impl CustomOp2 for BiasRelu {
    fn name(&self) -> &'static str {
        "resweep-bias-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, b) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
        rows_of("bias-relu", z.len(), b.len())?;
        let mut out = vec![0f32; z.len()];
        bias_relu_into(&mut out, z, b);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// ResMLP layer: from `z: [rows, n]`, bias `b: [n]` and the layer input `x: [rows, n]`,
/// returns `[2 rows, n]`: the ReLU output `a = relu(z + b)` stacked over `x + a`.
/// One pass and one allocation for both; callers take the halves with `narrow`.
pub struct BiasReluResidual;

impl CustomOp3 for BiasReluResidual {
    fn name(&self) -> &'static str {
        "resweep-bias-relu-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, b, x) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        let rows = rows_of("bias-relu-residual", z.len(), b.len())?;
        if x.len() != z.len() {
            candle_core::bail!(
                "bias-relu-residual: input has {} values, pre-activation {}",
                x.len(),
                z.len()
            );
        }
        let mut out = vec![0f32; 2 * z.len()];
        let (a, next) = out.split_at_mut(z.len());
        bias_relu_into(a, z, b);
        for ((o, &av), &xv) in next.iter_mut().zip(a.iter()).zip(x) {
            *o = xv + av;
        }
        Ok((CpuStorage::F32(out), Shape::from((2 * rows, b.len()))))
    }
}

/// Backward through a ReLU and its bias: from the gradient `g: [rows, n]` of the layer's
/// output and its ReLU output `a`, returns `[rows + 1, n]`: `dz = g * (a > 0)` stacked over
/// the bias gradient `sum_rows(dz)`.
pub struct ReluBackward;

impl CustomOp2 for ReluBackward {
    fn name(&self) -> &'static str {
        "resweep-relu-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, a) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
        let n = *l1.dims().last().unwrap_or(&0);
        let rows = rows_of("relu-backward", g.len(), n)?;
        if g.len() != a.len() {
            candle_core::bail!(
                "relu-backward: {} gradients for {} outputs",
                g.len(),
                a.len()
            );
        }
        let mut out = vec![0f32; g.len() + n];
        let (dz, db) = out.split_at_mut(g.len());
        mask_and_sum_into(dz, db, g, a);
        Ok((CpuStorage::F32(out), Shape::from((rows + 1, n))))
    }
}

/// ResMLP backward step: the gradient of a layer's input is the skip path plus the branch,
/// `g = g_up + gx`; this computes it and, for the layer below, its ReLU backward. From
/// `g_up`, `gx` (`[rows, n]`) and the lower layer's ReLU output `a`, returns
/// `[2 rows + 1, n]`: `g`, then `dz = g * (a > 0)`, then `sum_rows(dz)`.
pub struct ResidualBackward;

impl CustomOp3 for ResidualBackward {
    fn name(&self) -> &'static str {
        "resweep-residual-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g_up, gx, a) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        let n = *l1.dims().last().unwrap_or(&0);
        let rows = rows_of("residual-backward", g_up.len(), n)?;
        if gx.len() != g_up.len() || a.len() != g_up.len() {
            candle_core::bail!(
                "residual-backward: mismatched sizes {} {} {}",
                g_up.len(),
                gx.len(),
                a.len()
            );
        }
        let len = g_up.len();
        let mut out = vec![0f32; 2 * len + n];
        let (g, rest) = out.split_at_mut(len);
        let (dz, db) = rest.split_at_mut(len);
        for ((o, &u), &x) in g.iter_mut().zip(g_up).zip(gx) {
            *o = u + x;
        }
        mask_and_sum_into(dz, db, g, a);
        Ok((CpuStorage::F32(out), Shape::from((2 * rows + 1, n))))
    }
}

/// Flush-to-zero and denormals-are-zero for the current thread while the guard lives.
///
/// The PlainMLP's vanishing gradients square to subnormal numbers in Adam's second
/// moment; subnormal arithmetic is ~100x slower on x86 and made its steps ~2x slower.
/// Flushing them to zero changes no printed loss (they are below 1.2e-38) and keeps runs
/// deterministic: every run sets the same mode on its own thread. On other architectures
/// this is a no-op.
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    previous: u32,
}

impl FlushDenormals {
    /// Sets FTZ and DAZ (MXCSR bits 0x8040) on this thread.
    #[allow(deprecated)]
    pub fn enable() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            // SAFETY: reading and writing MXCSR only changes how this thread rounds
            // subnormal floats; SSE is always present on x86_64.
            let previous = unsafe { _mm_getcsr() };
            unsafe { _mm_setcsr(previous | 0x8040) };
            FlushDenormals { previous }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            FlushDenormals {}
        }
    }
}

impl Drop for FlushDenormals {
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::_mm_setcsr;
            // SAFETY: restores the mode this thread had before `enable`.
            unsafe { _mm_setcsr(self.previous) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fused_kernels_match_candle_ops() -> Result<()> {
        let dev = Device::Cpu;
        let z = Tensor::new(&[[-1.0f32, 0.5, 2.0], [0.25, -0.75, 0.0]], &dev)?;
        let b = Tensor::new(&[0.5f32, -1.0, 0.0], &dev)?;
        let x = Tensor::new(&[[1.0f32, 1.0, 1.0], [2.0, 2.0, 2.0]], &dev)?;
        let a = z.apply_op2_no_bwd(&b, &BiasRelu)?;
        let reference = z.broadcast_add(&b)?.relu()?;
        assert_eq!(a.to_vec2::<f32>()?, reference.to_vec2::<f32>()?);

        let both = z.apply_op3_no_bwd(&b, &x, &BiasReluResidual)?;
        assert_eq!(
            both.narrow(0, 0, 2)?.to_vec2::<f32>()?,
            reference.to_vec2::<f32>()?
        );
        assert_eq!(
            both.narrow(0, 2, 2)?.to_vec2::<f32>()?,
            (&x + &reference)?.to_vec2::<f32>()?
        );

        let g = Tensor::new(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &dev)?;
        let back = g.apply_op2_no_bwd(&a, &ReluBackward)?;
        assert_eq!(
            back.to_vec2::<f32>()?,
            vec![
                vec![0.0, 0.0, 3.0],
                vec![4.0, 0.0, 0.0],
                vec![4.0, 0.0, 3.0]
            ]
        );

        let gx = Tensor::new(&[[1.0f32, 1.0, 1.0], [1.0, 1.0, 1.0]], &dev)?;
        let res = g.apply_op3_no_bwd(&gx, &a, &ResidualBackward)?;
        assert_eq!(
            res.to_vec2::<f32>()?,
            vec![
                vec![2.0, 3.0, 4.0],
                vec![5.0, 6.0, 7.0],
                vec![0.0, 0.0, 4.0],
                vec![5.0, 0.0, 0.0],
                vec![5.0, 0.0, 4.0]
            ]
        );
        Ok(())
    }
}
