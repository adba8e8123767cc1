//! Fused element-wise kernels as candle custom ops, and zero-copy access to CPU tensors.
//!
//! At width 64 a training step is dominated by per-operation overhead, not by arithmetic.
//! candle's generic ops would spend three or four passes (and allocations) where one
//! loop suffices, so the hot element-wise work of the forward and backward pass lives
//! here as [`CustomOp1`]/[`CustomOp2`] implementations: each is one pass over contiguous
//! memory that the compiler vectorizes. Matrix products stay candle's (`Tensor::matmul`).
//!
//! Every kernel is deterministic: a fixed loop order, no threads.
//!
//! **Members.** The same kernels serve one run and a vectorized batch of `S` runs
//! ([`super::batched`]). A 3-D operand `[S, B, n]` is `S` independent members of `B` rows
//! each; a bias may then be `[S, n]` (one row per member, any row stride, so it can be a
//! view into the members' stacked flat parameters) and the backward kernels return one
//! bias-gradient row per member. Each member's slice goes through exactly the loops a
//! single run's tensor does, in the same order, so its values are bitwise the same.

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, Device, InplaceOp1, Layout, Result, Shape, Storage, Tensor,
    WithDType,
};
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Calls `f` with the contiguous `f32` data of a CPU tensor, without copying.
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("resweep kernels run on the CPU only");
    };
    let data = contiguous(cpu, layout)?;
    Ok(f(data))
}

/// Calls `f` with the contiguous `f32` data of several CPU tensors at once, without
/// copying (one closure instead of nested [`with_f32`] calls).
pub fn with_f32s<const N: usize, R>(
    ts: [&Tensor; N],
    f: impl FnOnce([&[f32]; N]) -> R,
) -> Result<R> {
    let guards: Vec<_> = ts.iter().map(|t| t.storage_and_layout()).collect();
    let mut data = Vec::with_capacity(N);
    for (storage, layout) in &guards {
        let Storage::Cpu(cpu) = &**storage else {
            candle_core::bail!("resweep kernels run on the CPU only");
        };
        data.push(contiguous(cpu, layout)?);
    }
    let Ok(data) = <[&[f32]; N]>::try_from(data) else {
        unreachable!("one slice per tensor")
    };
    Ok(f(data))
}

/// The contiguous slice a layout addresses.
fn contiguous<'a, T: WithDType>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [T]> {
    let all = s.as_slice::<T>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => candle_core::bail!("resweep kernel expects a contiguous tensor"),
    }
}

/// Calls `f` with the contiguous `f32` data of a CPU tensor, mutably and in place.
///
/// This is how the vectorized trainer updates its stacked parameters without copying
/// them out of (and back into) the tensor whose views the matrix products read. The
/// tensor's storage is write-locked for the duration of `f`.
pub fn with_f32_mut<R>(t: &Tensor, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
    let mut result = None;
    {
        let op = MutAccess(RefCell::new(Some(|data: &mut [f32]| {
            result = Some(f(data));
        })));
        t.inplace_op1(&op)?;
    }
    result.ok_or_else(|| candle_core::Error::Msg("in-place access did not run".into()))
}

/// The in-place op behind [`with_f32_mut`]: runs its closure once on the storage.
struct MutAccess<F>(RefCell<Option<F>>);

impl<F: FnOnce(&mut [f32])> InplaceOp1 for MutAccess<F> {
    fn name(&self) -> &'static str {
        "resweep-mut-access"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("in-place access expects a contiguous tensor");
        };
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("in-place access expects f32 data");
        };
        let f = self.0.borrow_mut().take();
        match f {
            Some(f) => {
                f(&mut data[start..end]);
                Ok(())
            }
            None => candle_core::bail!("in-place access ran twice"),
        }
    }
}

/// Checks that `z` splits into rows of `n` and returns the number of rows.
fn rows_of(what: &str, len: usize, n: usize) -> Result<usize> {
    if n == 0 || !len.is_multiple_of(n) {
        candle_core::bail!("{what}: {len} values do not split into rows of {n}");
    }
    Ok(len / n)
}

/// Checks that `rows` split evenly into `groups` members and returns the rows per member.
fn rows_per_group(what: &str, rows: usize, groups: usize) -> Result<usize> {
    if rows == 0 || groups == 0 || !rows.is_multiple_of(groups) {
        candle_core::bail!("{what}: {rows} rows do not split into {groups} members");
    }
    Ok(rows / groups)
}

/// Members of an operand: the leading dimension of a 3-D `[S, B, n]` tensor, else 1.
fn groups_of(l: &Layout) -> usize {
    match l.dims() {
        [s, _, _] => *s,
        _ => 1,
    }
}

/// Rows of `n` contiguous values, `stride` apart: a bias `[n]` (one row) or `[S, n]`.
struct Rows<'a> {
    data: &'a [f32],
    rows: usize,
    n: usize,
    stride: usize,
}

impl Rows<'_> {
    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.stride..i * self.stride + self.n]
    }
}

/// A 1-D or 2-D operand whose last dimension is contiguous (any row stride).
fn rows_view<'a>(s: &'a CpuStorage, l: &Layout) -> Result<Rows<'a>> {
    let all = s.as_slice::<f32>()?;
    let (rows, n, stride) = match (l.dims(), l.stride()) {
        ([n], [st]) if *st == 1 || *n <= 1 => (1, *n, *n),
        ([r, n], [rs, st]) if *st == 1 || *n <= 1 => (*r, *n, *rs),
        _ => candle_core::bail!(
            "resweep kernel expects a bias [n] or [members, n] with contiguous rows, got {:?} strides {:?}",
            l.dims(),
            l.stride()
        ),
    };
    if rows == 0 || n == 0 {
        candle_core::bail!("resweep kernel got an empty bias");
    }
    let start = l.start_offset();
    let end = start + (rows - 1) * stride + n;
    if end > all.len() {
        candle_core::bail!("resweep kernel: bias view runs past its storage");
    }
    Ok(Rows {
        data: &all[start..end],
        rows,
        n,
        stride,
    })
}

/// A vector of `len` values written by `fill`, without zero-filling it first (at a
/// vectorized batch's sizes the zero fill cost as much as the kernel itself).
fn filled<T: Copy>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    fill(spare);
    // SAFETY: every kernel below writes each element of its output exactly once: its
    // loops run `chunks_exact` over the whole output, whose length its caller checked
    // to be a whole number of rows (and of members).
    unsafe { v.set_len(len) };
    v
}

/// True when the CPU runs AVX2: the element-wise kernels and the Adam update then run a
/// build of the same loops for 8-lane vectors instead of baseline x86-64's 4. Only
/// additions, multiplications, comparisons, divisions and square roots are involved,
/// never contracted into fused multiply-adds, and every reduction keeps its order, so
/// both builds give bitwise the same values (tested).
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes `relu(z + b_g)` for each member `g` of `z` (contiguous, `b.rows` members of
/// `per` values each; the caller checked the split) into `out`; with
/// `residual = Some((mask, x))`, writes instead the ReLU's activity mask (`1` where
/// `z + b_g > 0`) into `mask` and `x + relu(z + b_g)` into `out`.
fn bias_relu_members(
    out: &mut [MaybeUninit<f32>],
    residual: Option<(&mut [MaybeUninit<u8>], &[f32])>,
    z: &[f32],
    b: &Rows,
    per: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { bias_relu_members_avx2(out, residual, z, b, per) };
        return;
    }
    bias_relu_members_impl(out, residual, z, b, per);
}

/// [`bias_relu_members_impl`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bias_relu_members_avx2(
    out: &mut [MaybeUninit<f32>],
    residual: Option<(&mut [MaybeUninit<u8>], &[f32])>,
    z: &[f32],
    b: &Rows,
    per: usize,
) {
    bias_relu_members_impl(out, residual, z, b, per)
}

#[inline(always)]
fn bias_relu_members_impl(
    out: &mut [MaybeUninit<f32>],
    residual: Option<(&mut [MaybeUninit<u8>], &[f32])>,
    z: &[f32],
    b: &Rows,
    per: usize,
) {
    match residual {
        None => {
            for (g, (o, zc)) in out
                .chunks_exact_mut(per)
                .zip(z.chunks_exact(per))
                .enumerate()
            {
                bias_relu_into(o, zc, b.row(g));
            }
        }
        Some((mask, x)) => {
            for (g, (((o, mc), zc), xc)) in out
                .chunks_exact_mut(per)
                .zip(mask.chunks_exact_mut(per))
                .zip(z.chunks_exact(per))
                .zip(x.chunks_exact(per))
                .enumerate()
            {
                bias_relu_residual_into(o, mc, zc, xc, b.row(g));
            }
        }
    }
}

/// Writes `relu(z + b)` into `out` (`z: [rows, n]`, bias `b: [n]` broadcast over rows).
#[inline(always)]
fn bias_relu_into(out: &mut [MaybeUninit<f32>], z: &[f32], b: &[f32]) {
    let n = b.len();
    for (orow, zrow) in out.chunks_exact_mut(n).zip(z.chunks_exact(n)) {
        for ((o, &zv), &bv) in orow.iter_mut().zip(zrow).zip(b) {
            o.write((zv + bv).max(0.0));
        }
    }
}

/// Writes `x + a` with `a = relu(z + b)` into `next` and `a > 0` as a byte into `mask`,
/// in one pass.
#[inline(always)]
fn bias_relu_residual_into(
    next: &mut [MaybeUninit<f32>],
    mask: &mut [MaybeUninit<u8>],
    z: &[f32],
    x: &[f32],
    b: &[f32],
) {
    let n = b.len();
    for (((nrow, mrow), zrow), xrow) in next
        .chunks_exact_mut(n)
        .zip(mask.chunks_exact_mut(n))
        .zip(z.chunks_exact(n))
        .zip(x.chunks_exact(n))
    {
        for ((((nx, m), &zv), &xv), &bv) in nrow.iter_mut().zip(mrow).zip(zrow).zip(xrow).zip(b) {
            let av = (zv + bv).max(0.0);
            m.write(u8::from(av > 0.0));
            nx.write(xv + av);
        }
    }
}

/// Where a layer's ReLU was active, as the backward kernels read it: the ReLU output
/// itself (`a > 0`; PlainMLP, whose next layer input it is anyway) or the byte mask the
/// ResMLP forward pass writes instead of its ReLU outputs (`m != 0`: a quarter of the
/// memory, and the same answer, since `a = max(z + b, 0)` is never NaN).
pub trait Active: Copy {
    /// True where the ReLU passed its input.
    fn on(self) -> bool;
}

impl Active for f32 {
    #[inline(always)]
    fn on(self) -> bool {
        self > 0.0
    }
}

impl Active for u8 {
    #[inline(always)]
    fn on(self) -> bool {
        self != 0
    }
}

/// The fraction of inactive ("dead") units of each of `groups` equal members of a ReLU
/// output or mask tensor (see [`Active`]).
pub fn dead_fractions(t: &Tensor, groups: usize) -> Result<Vec<f64>> {
    fn per<T: Active>(v: &[T], groups: usize) -> Result<Vec<f64>> {
        let per = rows_per_group("dead-fractions", v.len(), groups)?;
        Ok(v.chunks_exact(per)
            .map(|c| c.iter().filter(|a| !a.on()).count() as f64 / c.len() as f64)
            .collect())
    }
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("resweep kernels run on the CPU only");
    };
    match cpu {
        CpuStorage::U8(_) => per(contiguous::<u8>(cpu, layout)?, groups),
        _ => per(contiguous::<f32>(cpu, layout)?, groups),
    }
}

/// A backward kernel's view of where the ReLU was active.
enum ActiveView<'a> {
    Output(&'a [f32]),
    Mask(&'a [u8]),
}

impl ActiveView<'_> {
    fn of<'a>(s: &'a CpuStorage, l: &Layout) -> Result<ActiveView<'a>> {
        Ok(match s {
            CpuStorage::U8(_) => ActiveView::Mask(contiguous(s, l)?),
            _ => ActiveView::Output(contiguous(s, l)?),
        })
    }

    fn len(&self) -> usize {
        match self {
            ActiveView::Output(a) => a.len(),
            ActiveView::Mask(m) => m.len(),
        }
    }
}

/// The backward kernels' output for `groups` members of `[per / n, n]` rows each: the
/// layer-input gradient `g = g_up + gx` (ResMLP only), then `dz = g * (a > 0)`, then one
/// row of column sums of `dz` per member. `g_up = None` means `g = gx` (PlainMLP's top
/// layer and every PlainMLP layer) and no `g` block is written.
fn relu_backward_members(
    out: &mut [MaybeUninit<f32>],
    g_up: Option<&[f32]>,
    gx: &[f32],
    a: &ActiveView,
    n: usize,
    groups: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { relu_backward_members_avx2(out, g_up, gx, a, n, groups) };
        return;
    }
    relu_backward_members_impl(out, g_up, gx, a, n, groups)
}

/// [`relu_backward_members_impl`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn relu_backward_members_avx2(
    out: &mut [MaybeUninit<f32>],
    g_up: Option<&[f32]>,
    gx: &[f32],
    a: &ActiveView,
    n: usize,
    groups: usize,
) {
    relu_backward_members_impl(out, g_up, gx, a, n, groups)
}

#[inline(always)]
fn relu_backward_members_impl(
    out: &mut [MaybeUninit<f32>],
    g_up: Option<&[f32]>,
    gx: &[f32],
    a: &ActiveView,
    n: usize,
    groups: usize,
) {
    match *a {
        ActiveView::Output(a) => relu_backward_generic(out, g_up, gx, a, n, groups),
        ActiveView::Mask(m) => relu_backward_generic(out, g_up, gx, m, n, groups),
    }
}

#[inline(always)]
fn relu_backward_generic<M: Active>(
    out: &mut [MaybeUninit<f32>],
    g_up: Option<&[f32]>,
    gx: &[f32],
    a: &[M],
    n: usize,
    groups: usize,
) {
    let len = gx.len();
    let per = len / groups;
    let (g_out, rest) = out.split_at_mut(if g_up.is_some() { len } else { 0 });
    let (dz, db_out) = rest.split_at_mut(len);
    let mut db = vec![0f32; n];
    for (s, (dzc, db_row)) in dz
        .chunks_exact_mut(per)
        .zip(db_out.chunks_exact_mut(n))
        .enumerate()
    {
        db.fill(0.0);
        let range = s * per..(s + 1) * per;
        match g_up {
            None => mask_and_sum_into(dzc, &mut db, &gx[range.clone()], &a[range]),
            Some(up) => residual_mask_and_sum_into(
                &mut g_out[range.clone()],
                dzc,
                &mut db,
                &up[range.clone()],
                &gx[range.clone()],
                &a[range],
            ),
        }
        for (o, &v) in db_row.iter_mut().zip(&db) {
            o.write(v);
        }
    }
}

/// Writes `g` masked by where the ReLU was active into `dz` and adds its column sums to
/// `db`.
#[inline(always)]
fn mask_and_sum_into<M: Active>(dz: &mut [MaybeUninit<f32>], db: &mut [f32], g: &[f32], a: &[M]) {
    let n = db.len();
    for ((drow, grow), arow) in dz
        .chunks_exact_mut(n)
        .zip(g.chunks_exact(n))
        .zip(a.chunks_exact(n))
    {
        for (((d, &gv), &av), s) in drow.iter_mut().zip(grow).zip(arow).zip(db.iter_mut()) {
            let v = if av.on() { gv } else { 0.0 };
            d.write(v);
            *s += v;
        }
    }
}

/// Writes `g = g_up + gx` into `g`, `g` masked by where the ReLU was active into `dz`,
/// and adds the column sums of `dz` to `db`, in one pass (the same values, in the same
/// order, as `mask_and_sum_into` over a stored `g`).
#[inline(always)]
fn residual_mask_and_sum_into<M: Active>(
    g: &mut [MaybeUninit<f32>],
    dz: &mut [MaybeUninit<f32>],
    db: &mut [f32],
    g_up: &[f32],
    gx: &[f32],
    a: &[M],
) {
    let n = db.len();
    for ((((grow, drow), uprow), gxrow), arow) in g
        .chunks_exact_mut(n)
        .zip(dz.chunks_exact_mut(n))
        .zip(g_up.chunks_exact(n))
        .zip(gx.chunks_exact(n))
        .zip(a.chunks_exact(n))
    {
        for (((((go, d), &u), &x), &av), s) in grow
            .iter_mut()
            .zip(drow)
            .zip(uprow)
            .zip(gxrow)
            .zip(arow)
            .zip(db.iter_mut())
        {
            let gv = u + x;
            go.write(gv);
            let v = if av.on() { gv } else { 0.0 };
            d.write(v);
            *s += v;
        }
    }
}

/// PlainMLP layer: `relu(z + b)` with `z: [rows, n]` and the bias `b: [n]`; or, for
/// `S` members, `z: [S, B, n]` and `b: [S, n]` (member `s`'s rows get bias row `s`).
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
        let (z, b) = (contiguous(s1, l1)?, rows_view(s2, l2)?);
        let rows = rows_of("bias-relu", z.len(), b.n)?;
        let per = rows_per_group("bias-relu", rows, b.rows)? * b.n;
        let out = filled(z.len(), |out| bias_relu_members(out, None, z, &b, per));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// ResMLP layer: from `z: [rows, n]`, bias `b: [n]` and the layer input `x: [rows, n]`,
/// the next layer input `x + relu(z + b)` and the ReLU's activity mask (one byte per
/// unit), in one pass. Use it through [`bias_relu_residual`], which returns both. For `S`
/// members, `z, x: [S, B, n]` and `b: [S, n]`.
///
/// The backward pass needs only where the ReLU was active, never the ReLU's values, so
/// the byte mask takes their place: a quarter of the memory a step keeps per layer, and
/// less memory traffic for both the forward and the backward kernels.
struct BiasReluResidual {
    /// The mask written by the last `cpu_fwd` (a custom op has one output tensor).
    mask: RefCell<Option<Vec<u8>>>,
}

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
        let (z, b, x) = (contiguous(s1, l1)?, rows_view(s2, l2)?, contiguous(s3, l3)?);
        if x.len() != z.len() {
            candle_core::bail!(
                "bias-relu-residual: input has {} values, pre-activation {}",
                x.len(),
                z.len()
            );
        }
        let rows = rows_of("bias-relu-residual", z.len(), b.n)?;
        let per = rows_per_group("bias-relu-residual", rows, b.rows)? * b.n;
        let mut next = None;
        let mask = filled(z.len(), |mask| {
            next = Some(filled(z.len(), |out| {
                bias_relu_members(out, Some((mask, x)), z, &b, per)
            }));
        });
        *self.mask.borrow_mut() = Some(mask);
        let Some(next) = next else {
            candle_core::bail!("bias-relu-residual: the kernel wrote no output");
        };
        Ok((CpuStorage::F32(next), l1.shape().clone()))
    }
}

/// A ResMLP layer's forward element-wise work (see [`BiasReluResidual`]): returns the next
/// layer input `x + relu(z + b)` and the `u8` activity mask, both shaped like `z`.
pub fn bias_relu_residual(z: &Tensor, b: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = BiasReluResidual {
        mask: RefCell::new(None),
    };
    let next = z.apply_op3_no_bwd(b, x, &op)?;
    let Some(mask) = op.mask.into_inner() else {
        candle_core::bail!("bias-relu-residual: the kernel wrote no mask");
    };
    let mask = Tensor::from_vec(mask, z.shape(), &Device::Cpu)?;
    Ok((next, mask))
}

/// Backward through a ReLU and its bias: from the gradient `g: [rows, n]` of the layer's
/// output and where its ReLU was active (`a`: its output or mask, see [`Active`]),
/// returns `[rows + 1, n]`: `dz = g` where active, else 0, stacked over the bias
/// gradient `sum_rows(dz)`. For `S` members (`g, a: [S, B, n]`) it returns
/// `[S B + S, n]`: every member's `dz`, then one bias-gradient row per member.
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
        let (g, a) = (contiguous(s1, l1)?, ActiveView::of(s2, l2)?);
        let n = *l1.dims().last().unwrap_or(&0);
        let rows = rows_of("relu-backward", g.len(), n)?;
        let groups = groups_of(l1);
        rows_per_group("relu-backward", rows, groups)?;
        if g.len() != a.len() {
            candle_core::bail!(
                "relu-backward: {} gradients for {} outputs",
                g.len(),
                a.len()
            );
        }
        let out = filled(g.len() + groups * n, |out| {
            relu_backward_members(out, None, g, &a, n, groups);
        });
        Ok((CpuStorage::F32(out), Shape::from((rows + groups, n))))
    }
}

/// ResMLP backward step: the gradient of a layer's input is the skip path plus the branch,
/// `g = g_up + gx`; this computes it and, for the layer below, its ReLU backward. From
/// `g_up`, `gx` (`[rows, n]`) and the lower layer's ReLU mask or output `a`, returns
/// `[2 rows + 1, n]`: `g`, then `dz = g` where active, else 0, then `sum_rows(dz)`. For `S` members
/// (`[S, B, n]` operands) it returns `[2 S B + S, n]`: every member's `g`, every member's
/// `dz`, then one bias-gradient row per member.
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
            ActiveView::of(s3, l3)?,
        );
        let n = *l1.dims().last().unwrap_or(&0);
        let rows = rows_of("residual-backward", g_up.len(), n)?;
        let groups = groups_of(l1);
        rows_per_group("residual-backward", rows, groups)?;
        if gx.len() != g_up.len() || a.len() != g_up.len() {
            candle_core::bail!(
                "residual-backward: mismatched sizes {} {} {}",
                g_up.len(),
                gx.len(),
                a.len()
            );
        }
        let out = filled(2 * g_up.len() + groups * n, |out| {
            relu_backward_members(out, Some(g_up), gx, &a, n, groups);
        });
        Ok((CpuStorage::F32(out), Shape::from((2 * rows + groups, n))))
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

        let (next, mask) = bias_relu_residual(&z, &b, &x)?;
        assert_eq!(next.to_vec2::<f32>()?, (&x + &reference)?.to_vec2::<f32>()?);
        assert_eq!(mask.to_vec2::<u8>()?, vec![vec![0, 0, 1], vec![1, 0, 0]]);
        assert_eq!(dead_fractions(&mask, 1)?, [4.0 / 6.0]);
        assert_eq!(dead_fractions(&a, 1)?, [4.0 / 6.0]);
        assert_eq!(dead_fractions(&mask, 2)?, [2.0 / 3.0, 2.0 / 3.0]);

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
        let masked = g.apply_op2_no_bwd(&mask, &ReluBackward)?;
        assert_eq!(masked.to_vec2::<f32>()?, back.to_vec2::<f32>()?);

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
        let masked = g.apply_op3_no_bwd(&gx, &mask, &ResidualBackward)?;
        assert_eq!(masked.to_vec2::<f32>()?, res.to_vec2::<f32>()?);
        Ok(())
    }

    /// Values that exercise signs, zeros, ties at the ReLU and a wide range of magnitudes.
    fn values(n: usize, salt: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let h = (i ^ salt).wrapping_mul(2_654_435_761).rotate_left(7);
                match h % 11 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => ((h % 2001) as f32 - 1000.0) * 10f32.powi((h % 13) as i32 - 9),
                }
            })
            .collect()
    }

    #[test]
    fn member_kernels_equal_one_member_at_a_time() -> Result<()> {
        // 3 members of 5 rows of 4 units; the bias is a strided view, as in a batch.
        let dev = Device::Cpu;
        let (s, b, n) = (3usize, 5usize, 4usize);
        let stride = 7;
        let z = values(s * b * n, 1);
        let x = values(s * b * n, 2);
        let g = values(s * b * n, 3);
        let bias_store = values(s * stride, 4);
        let bias = Tensor::from_slice(&bias_store, (s, stride), &dev)?.narrow(1, 2, n)?;
        let zt = Tensor::from_slice(&z, (s, b, n), &dev)?;
        let xt = Tensor::from_slice(&x, (s, b, n), &dev)?;
        let gt = Tensor::from_slice(&g, (s, b, n), &dev)?;
        let plain = zt.apply_op2_no_bwd(&bias, &BiasRelu)?;
        let (next, mask) = bias_relu_residual(&zt, &bias, &xt)?;
        let back = gt.apply_op2_no_bwd(&plain, &ReluBackward)?;
        let res = gt.apply_op3_no_bwd(&xt, &plain, &ResidualBackward)?;
        // The forward pass's mask says exactly where the ReLU output is positive, so the
        // backward kernels give the same bits from either.
        let bits_of = |t: &Tensor| -> Result<Vec<u32>> {
            Ok(t.flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .map(|v| v.to_bits())
                .collect())
        };
        assert_eq!(
            bits_of(&gt.apply_op2_no_bwd(&mask, &ReluBackward)?)?,
            bits_of(&back)?
        );
        assert_eq!(
            bits_of(&gt.apply_op3_no_bwd(&xt, &mask, &ResidualBackward)?)?,
            bits_of(&res)?
        );
        assert_eq!(next.dims(), &[s, b, n]);
        assert_eq!(mask.dims(), &[s, b, n]);
        assert_eq!(back.dims(), &[s * b + s, n]);
        assert_eq!(res.dims(), &[2 * s * b + s, n]);
        for m in 0..s {
            let one = |v: &[f32]| Tensor::from_slice(&v[m * b * n..(m + 1) * b * n], (b, n), &dev);
            let bm = Tensor::from_slice(&bias_store[m * stride + 2..m * stride + 2 + n], n, &dev)?;
            let (zm, xm, gm) = (one(&z)?, one(&x)?, one(&g)?);
            let a = zm.apply_op2_no_bwd(&bm, &BiasRelu)?;
            let bits = |t: &Tensor| -> Result<Vec<u32>> {
                Ok(t.flatten_all()?
                    .to_vec1::<f32>()?
                    .iter()
                    .map(|v| v.to_bits())
                    .collect())
            };
            assert_eq!(bits(&plain.get(m)?)?, bits(&a)?);
            let (nm, mm) = bias_relu_residual(&zm, &bm, &xm)?;
            assert_eq!(bits(&next.get(m)?)?, bits(&nm)?);
            assert_eq!(mask.get(m)?.to_vec2::<u8>()?, mm.to_vec2::<u8>()?);
            let positive: Vec<Vec<u8>> = a
                .to_vec2::<f32>()?
                .iter()
                .map(|r| r.iter().map(|&v| u8::from(v > 0.0)).collect())
                .collect();
            assert_eq!(mm.to_vec2::<u8>()?, positive);
            let ba = gm.apply_op2_no_bwd(&a, &ReluBackward)?;
            assert_eq!(
                bits(&back.narrow(0, m * b, b)?)?,
                bits(&ba.narrow(0, 0, b)?)?
            );
            assert_eq!(
                bits(&back.narrow(0, s * b + m, 1)?)?,
                bits(&ba.narrow(0, b, 1)?)?
            );
            let ra = gm.apply_op3_no_bwd(&xm, &a, &ResidualBackward)?;
            for (part, rows, at) in [(0, b, m * b), (1, b, s * b + m * b)] {
                assert_eq!(
                    bits(&res.narrow(0, at, rows)?)?,
                    bits(&ra.narrow(0, part * b, rows)?)?
                );
            }
            assert_eq!(
                bits(&res.narrow(0, 2 * s * b + m, 1)?)?,
                bits(&ra.narrow(0, 2 * b, 1)?)?
            );
        }
        Ok(())
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_builds_are_bitwise_equal_to_baseline_builds() {
        if !has_avx2() {
            return;
        }
        let (s, b, n) = (3usize, 9usize, 13usize);
        let len = s * b * n;
        let (z, x, g, a) = (
            values(len, 5),
            values(len, 6),
            values(len, 7),
            values(len, 8),
        );
        let bias_store = values(s * n, 9);
        let bias = Rows {
            data: &bias_store,
            rows: s,
            n,
            stride: n,
        };
        let masks: Vec<u8> = a.iter().map(|&v| u8::from(v > 0.0)).collect();
        let run = |avx2: bool, residual: bool| -> (Vec<u32>, Vec<u8>, Vec<u32>, Vec<u32>) {
            let mut mask = Vec::new();
            let fwd = filled(len, |out| {
                mask = filled(len, |m| {
                    if !residual {
                        for v in m.iter_mut() {
                            v.write(0);
                        }
                    }
                    let res = residual.then_some((m, x.as_slice()));
                    if avx2 {
                        unsafe { bias_relu_members_avx2(out, res, &z, &bias, b * n) }
                    } else {
                        bias_relu_members_impl(out, res, &z, &bias, b * n)
                    }
                });
            });
            let up = residual.then_some(g.as_slice());
            let bwd_len = if residual { 2 * len } else { len } + s * n;
            let backward = |active: ActiveView| {
                filled(bwd_len, |out| {
                    if avx2 {
                        unsafe { relu_backward_members_avx2(out, up, &x, &active, n, s) }
                    } else {
                        relu_backward_members_impl(out, up, &x, &active, n, s)
                    }
                })
            };
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
            let from_output = bits(&backward(ActiveView::Output(&a)));
            let from_mask = bits(&backward(ActiveView::Mask(&masks)));
            (bits(&fwd), mask, from_output, from_mask)
        };
        for residual in [false, true] {
            let (fwd, mask, from_output, from_mask) = run(true, residual);
            assert_eq!(from_output, from_mask);
            assert_eq!((fwd, mask, from_output, from_mask), run(false, residual));
        }
    }
}
