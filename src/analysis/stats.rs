//! Pure statistics over seeds.
//!
//! Seeds are the unit of replication: every slice handed to this module holds one value per
//! seed (for example the final test loss of each seed of one configuration). Nothing here
//! touches the disk, the clock or global state, so every result is a function of its
//! arguments alone.
//!
//! # Conventions shared by every function
//!
//! * **Sample statistics.** The standard deviation uses the sample (`n - 1`, "ddof = 1")
//!   denominator. With fewer than two values there is no estimate of spread, so the
//!   standard deviation, the standard error and every bootstrap interval are `NaN` rather
//!   than a misleading `0`.
//! * **Non-finite values are never dropped.** A diverged run yields an `inf` or `NaN` loss,
//!   and silently summarising only the finite seeds would hide exactly the runs a reader
//!   most needs to see. Instead:
//!   - means (and everything built on them: differences, ratios) are computed over the
//!     values as they are, so `inf` and `NaN` propagate (`[1, inf]` has mean `inf`,
//!     `[inf, -inf]` and `[1, NaN]` have mean `NaN`);
//!   - the standard deviation, the standard error and the bootstrap intervals of a mean are
//!     `NaN` as soon as one value is non-finite (the spread of such a sample is undefined);
//!   - `min` and `max` are `NaN` if any value is `NaN`, and otherwise take infinities at
//!     face value;
//!   - comparisons between arms (wins, ties, the probability of improvement and its
//!     interval) use a total order in which `NaN` is the **worst** possible value, worse
//!     than any infinity, and two `NaN`s tie. `-0.0` and `+0.0` tie. Infinities compare as
//!     usual, so two runs that both diverged to `+inf` tie. A diverged seed therefore
//!     counts as a loss for its arm instead of disappearing.
//! * **Determinism.** Bootstrap resampling draws indices with [`ChaCha8Rng`] seeded by
//!   [`SeedableRng::seed_from_u64`]; the same inputs and the same seed give bit-identical
//!   intervals on every platform (`rand` 0.9 samples `usize` ranges portably).
//! * **Intervals of a mean** ([`mean_ci`]) depend on the number of seeds. Below
//!   [`SMALL_SAMPLE`] values they are Student-t intervals, `mean ± t(n−1) · s / sqrt(n)`:
//!   a percentile bootstrap over 5 seeds is 35–40% narrower than that and undercovers,
//!   because resampling 5 values cannot produce a mean outside them. From [`SMALL_SAMPLE`]
//!   values on they are percentile-bootstrap intervals (draw `resamples` resamples of the
//!   seeds with replacement, compute the statistic on each, and report the
//!   `(1 - level) / 2` and `(1 + level) / 2` quantiles, see [`quantile_sorted`]), which do
//!   not assume normality. Every interval carries its [`CiMethod`], and every output
//!   names it.
//! * **The probability of improvement** gets a bootstrap interval only from
//!   [`SMALL_SAMPLE`] pairs on, and only when that interval is not a single point: over
//!   fewer pairs, or when every resample agrees (all wins: `[1, 1]`), a percentile
//!   interval claims a certainty the data cannot give, so it is left out (`NaN`).

pub use super::student_t::{student_t_cdf, student_t_quantile};
use std::cmp::Ordering;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::format;

/// Number of bootstrap resamples used by [`summarize`] (and recommended for [`paired`]).
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Seed of the bootstrap used by [`summarize`] (and recommended for [`paired`]): the
/// ASCII bytes of `"resweep"`.
pub const BOOTSTRAP_SEED: u64 = 0x0072_6573_7765_6570;

/// Coverage of every confidence interval in the reports.
pub const CI_LEVEL: f64 = 0.95;

/// Below this many values (seeds or pairs), intervals of a mean are Student-t intervals
/// and the probability of improvement gets no interval; from this many on, percentile
/// bootstrap (see the module documentation).
pub const SMALL_SAMPLE: usize = 20;

/// How a confidence interval was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CiMethod {
    /// `mean ± t_{(1+level)/2}(n − 1) · s / sqrt(n)` ([`t_mean_ci`]).
    StudentT,
    /// Percentile bootstrap ([`bootstrap_mean_ci`]).
    Bootstrap,
}

impl CiMethod {
    /// The method for `n` values: [`CiMethod::StudentT`] below [`SMALL_SAMPLE`].
    pub fn for_n(n: usize) -> CiMethod {
        if n < SMALL_SAMPLE {
            CiMethod::StudentT
        } else {
            CiMethod::Bootstrap
        }
    }

    /// `t` or `bootstrap`: the word every output uses.
    pub fn name(self) -> &'static str {
        match self {
            CiMethod::StudentT => "t",
            CiMethod::Bootstrap => "bootstrap",
        }
    }
}

impl std::fmt::Display for CiMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Descriptive statistics of one configuration over its seeds.
///
/// Built by [`summarize`]; see the module documentation for how `n < 2` and non-finite
/// values are handled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values (seeds), always at least 1.
    pub n: usize,
    /// Arithmetic mean of the values as they are (non-finite values propagate).
    pub mean: f64,
    /// Sample standard deviation (denominator `n - 1`); `NaN` when `n < 2` or when any
    /// value is non-finite.
    pub std: f64,
    /// Standard error of the mean, `std / sqrt(n)`; `NaN` exactly when `std` is.
    pub stderr: f64,
    /// Smallest value; `NaN` if any value is `NaN`.
    pub min: f64,
    /// Largest value; `NaN` if any value is `NaN`.
    pub max: f64,
    /// Lower end of the [`CI_LEVEL`] interval of the mean ([`mean_ci`]: Student t below
    /// [`SMALL_SAMPLE`] values, percentile bootstrap with [`BOOTSTRAP_RESAMPLES`]
    /// resamples and seed [`BOOTSTRAP_SEED`] from there on); `NaN` when `n < 2` or when
    /// any value is non-finite.
    pub ci_low: f64,
    /// Upper end of the same interval; `NaN` exactly when `ci_low` is.
    pub ci_high: f64,
    /// How the interval was computed.
    pub ci_method: CiMethod,
}

/// Paired comparison of arm A and arm B over the same seeds: `a[i]` and `b[i]` come from
/// one seed.
///
/// Built by [`paired`]. "Better" is decided by the `lower_is_better` argument of
/// [`paired`] (losses: lower is better), with `NaN` ranked worst (see the module
/// documentation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Paired {
    /// Number of pairs (seeds), always at least 1.
    pub n: usize,
    /// Mean of arm A.
    pub mean_a: f64,
    /// Mean of arm B.
    pub mean_b: f64,
    /// Mean of the paired differences `b[i] - a[i]` (negative means B has the lower value).
    pub mean_diff: f64,
    /// Lower end of the [`CI_LEVEL`] interval of `mean_diff` ([`mean_ci`] of the paired
    /// differences: Student t below [`SMALL_SAMPLE`] pairs, percentile bootstrap with
    /// pairs resampled together from there on); `NaN` when `n < 2` or when any difference
    /// is non-finite.
    pub diff_ci_low: f64,
    /// Upper end of the same interval; `NaN` exactly when `diff_ci_low` is.
    pub diff_ci_high: f64,
    /// How the interval of the difference was computed.
    pub diff_ci_method: CiMethod,
    /// `mean_b / mean_a` (`inf` or `NaN` when `mean_a` is zero).
    pub ratio_of_means: f64,
    /// Seeds on which B is strictly better than A.
    pub wins_b: usize,
    /// Seeds on which A and B are equally good (equal values, both `NaN`, or `-0.0`
    /// against `+0.0`). Seeds on which A is better number `n - wins_b - ties`
    /// (see [`Paired::losses_b`]).
    pub ties: usize,
    /// Probability of improvement of B over A as defined by rliable (Agarwal et al. 2021,
    /// "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS):
    /// the Mann–Whitney-style probability that a run of B picked at random is better than
    /// a run of A picked independently at random, ties counting one half:
    ///
    /// `P(B > A) = (1 / n²) · Σᵢ Σⱼ S(b[j], a[i])`, with `S = 1` if `b[j]` is better,
    /// `1/2` if they tie, `0` otherwise.
    ///
    /// It ranges over all `n²` (i, j) combinations and so ignores the pairing (0.5 means
    /// neither arm tends to be better); see [`probability_of_improvement`].
    pub prob_improvement: f64,
    /// Lower end of the percentile-bootstrap interval of `prob_improvement`, resampling
    /// seeds (pairs kept together) with the same index draws as a bootstrap of the
    /// difference; `NaN` (no interval) below [`SMALL_SAMPLE`] pairs and when the interval
    /// is a single point (every resample agrees, e.g. all wins). Defined even with
    /// non-finite values.
    pub prob_improvement_ci_low: f64,
    /// Upper end of the same interval.
    pub prob_improvement_ci_high: f64,
    /// Plain-language caveats, joined by `"; "`, or `None` when there is nothing to say.
    /// Raised when the untied pairs are too few for a sign test to ever reach p < 0.05
    /// (the smallest two-sided p with `m` untied pairs is `2 · 0.5^m`, which is ≥ 0.05 for
    /// `m ≤ 5`), when the interval of the difference contains 0, and when an arm holds
    /// non-finite values.
    pub warning: Option<String>,
    /// Exact two-sided sign-test p-value over the untied pairs: [`sign_test_p`]`(wins_b,
    /// losses_b)`.
    pub sign_test_p: f64,
}

impl Paired {
    /// Seeds on which A is strictly better than B: `n - wins_b - ties`.
    pub fn losses_b(&self) -> usize {
        self.n - self.wins_b - self.ties
    }
}

/// Arithmetic mean of `xs`; `NaN` for an empty slice.
///
/// When every value is finite the mean is computed around the first value
/// (`x₀ + Σ(xᵢ - x₀) / n`), which is more accurate than a plain sum and returns a constant
/// vector's value exactly. If any value is non-finite the plain `Σxᵢ / n` is returned, so
/// `inf` and `NaN` propagate.
pub fn mean(xs: &[f64]) -> f64 {
    let Some(&x0) = xs.first() else {
        return f64::NAN;
    };
    let n = xs.len() as f64;
    if all_finite(xs) {
        x0 + xs.iter().map(|&x| x - x0).sum::<f64>() / n
    } else {
        xs.iter().sum::<f64>() / n
    }
}

/// Sample standard deviation of `xs` (denominator `n - 1`).
///
/// `NaN` when `xs.len() < 2` or when any value is non-finite. Uses the corrected two-pass
/// algorithm, `sqrt((Σdᵢ² - (Σdᵢ)² / n) / (n - 1))` with `dᵢ = xᵢ - mean`.
pub fn sample_std(xs: &[f64]) -> f64 {
    if xs.len() < 2 || !all_finite(xs) {
        return f64::NAN;
    }
    let n = xs.len() as f64;
    let m = mean(xs);
    let (sum_d, sum_d2) = xs.iter().fold((0.0, 0.0), |(s, s2), &x| {
        let d = x - m;
        (s + d, s2 + d * d)
    });
    ((sum_d2 - sum_d * sum_d / n) / (n - 1.0)).max(0.0).sqrt()
}

/// Summarises one configuration's values over seeds.
///
/// Returns `None` for an empty slice. Otherwise `n`, mean, sample standard deviation,
/// standard error, min, max and the [`CI_LEVEL`] interval of the mean ([`mean_ci`] with
/// [`BOOTSTRAP_SEED`]: Student t below [`SMALL_SAMPLE`] values, percentile bootstrap
/// from there on).
///
/// Non-finite values are kept, not filtered (see the module documentation): the mean
/// propagates them, and `std`, `stderr` and the interval become `NaN`. With a single value
/// `std`, `stderr` and the interval are `NaN`.
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len();
    let std = sample_std(xs);
    let (ci_low, ci_high, ci_method) = mean_ci(xs, CI_LEVEL, BOOTSTRAP_SEED);
    Some(Summary {
        n,
        mean: mean(xs),
        std,
        stderr: std / (n as f64).sqrt(),
        min: xs.iter().copied().fold(f64::INFINITY, nan_min),
        max: xs.iter().copied().fold(f64::NEG_INFINITY, nan_max),
        ci_low,
        ci_high,
        ci_method,
    })
}

/// Percentile-bootstrap confidence interval of the mean of `xs`, as `(low, high)`.
///
/// Draws `resamples` resamples of `xs` with replacement (indices from [`ChaCha8Rng`]
/// seeded with `seed`), takes the mean of each and returns the `(1 - level) / 2` and
/// `(1 + level) / 2` quantiles ([`quantile_sorted`], type 7) of those means.
///
/// Invariants:
/// * deterministic: equal arguments give bit-identical results;
/// * `low <= high`, and both lie within `[min(xs), max(xs)]`;
/// * a constant vector `[c, c, …]` gives exactly `(c, c)`.
///
/// Returns `(NaN, NaN)` when `xs.len() < 2` (one seed says nothing about variability) or
/// when any value is non-finite (the resampled means would be `inf`/`NaN`).
///
/// # Panics
///
/// If `resamples == 0` or `level` is not strictly between 0 and 1.
pub fn bootstrap_mean_ci(xs: &[f64], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    check_bootstrap_args(resamples, level);
    if xs.len() < 2 || !all_finite(xs) {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let m = mean(xs);
    // Resampled means as `m + mean(deviations)`: exact for constant input, and accurate.
    let dev: Vec<f64> = xs.iter().map(|&x| x - m).collect();
    bootstrap_percentile(xs.len(), resamples, level, seed, |idx| {
        m + idx.iter().map(|&i| dev[i]).sum::<f64>() / n
    })
}

/// The [`CI_LEVEL`]-style interval of the mean of `xs` that this crate reports:
/// [`t_mean_ci`] below [`SMALL_SAMPLE`] values, [`bootstrap_mean_ci`] with
/// [`BOOTSTRAP_RESAMPLES`] resamples drawn from `seed` from there on, with the method
/// used. `(NaN, NaN, method)` when `xs.len() < 2` or any value is non-finite.
pub fn mean_ci(xs: &[f64], level: f64, seed: u64) -> (f64, f64, CiMethod) {
    let method = CiMethod::for_n(xs.len());
    let (lo, hi) = match method {
        CiMethod::StudentT => t_mean_ci(xs, level),
        CiMethod::Bootstrap => bootstrap_mean_ci(xs, BOOTSTRAP_RESAMPLES, level, seed),
    };
    (lo, hi, method)
}

/// Student-t confidence interval of the mean of `xs`, as `(low, high)`:
/// `mean ± t_{(1+level)/2}(n − 1) · s / sqrt(n)` with `s` the sample standard deviation.
///
/// Exact for normal data at any `n ≥ 2`, and close for means of a few skewed values
/// where a percentile bootstrap is far too narrow. A constant vector gives exactly
/// `(c, c)`. `(NaN, NaN)` when `xs.len() < 2` or any value is non-finite.
///
/// # Panics
///
/// If `level` is not strictly between 0 and 1.
pub fn t_mean_ci(xs: &[f64], level: f64) -> (f64, f64) {
    check_bootstrap_args(1, level);
    if xs.len() < 2 || !all_finite(xs) {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let m = mean(xs);
    let half = student_t_quantile((1.0 + level) / 2.0, n - 1.0) * sample_std(xs) / n.sqrt();
    (m - half, m + half)
}

/// Paired comparison of arm A (`a`) and arm B (`b`) over the same seeds (`a[i]` and `b[i]`
/// come from seed `i`).
///
/// `lower_is_better` says which direction is an improvement (`true` for losses). The
/// interval of the mean difference is `mean_ci(&diffs, CI_LEVEL, seed)` (Student t below
/// [`SMALL_SAMPLE`] pairs, percentile bootstrap from there on). The interval of the
/// probability of improvement is a percentile bootstrap that resamples seeds, keeping
/// each pair together ([`BOOTSTRAP_RESAMPLES`] resamples, indices drawn from `seed`; pass
/// [`BOOTSTRAP_SEED`] unless there is a reason not to), given only from [`SMALL_SAMPLE`]
/// pairs on and only when it is not a single point.
///
/// See [`Paired`] for the meaning of each field and the module documentation for
/// non-finite values (means propagate them; comparisons rank `NaN` worst).
///
/// # Errors
///
/// If the slices are empty or have different lengths.
pub fn paired(a: &[f64], b: &[f64], lower_is_better: bool, seed: u64) -> Result<Paired, String> {
    if a.len() != b.len() {
        return Err(format!(
            "paired comparison needs one value per seed in each arm, got {} values for A and {} for B",
            a.len(),
            b.len()
        ));
    }
    if a.is_empty() {
        return Err("paired comparison of empty arms".to_string());
    }
    let n = a.len();
    let diffs: Vec<f64> = a.iter().zip(b).map(|(&x, &y)| y - x).collect();
    let (diff_ci_low, diff_ci_high, diff_ci_method) = mean_ci(&diffs, CI_LEVEL, seed);

    let mut wins_b = 0;
    let mut ties = 0;
    for (&x, &y) in a.iter().zip(b) {
        match cmp_badness(y, x, lower_is_better) {
            Ordering::Less => wins_b += 1,
            Ordering::Equal => ties += 1,
            Ordering::Greater => {}
        }
    }
    let losses_b = n - wins_b - ties;

    let prob_improvement = probability_of_improvement(a, b, lower_is_better);
    let (prob_improvement_ci_low, prob_improvement_ci_high) = if n < SMALL_SAMPLE {
        (f64::NAN, f64::NAN)
    } else {
        let mut ra = vec![0.0; n];
        let mut rb = vec![0.0; n];
        bootstrap_percentile(n, BOOTSTRAP_RESAMPLES, CI_LEVEL, seed, |idx| {
            for (k, &i) in idx.iter().enumerate() {
                ra[k] = a[i];
                rb[k] = b[i];
            }
            probability_of_improvement(&ra, &rb, lower_is_better)
        })
    };
    // A single point is no interval: every resample agreed, which the data cannot prove.
    let (prob_improvement_ci_low, prob_improvement_ci_high) =
        if prob_improvement_ci_low == prob_improvement_ci_high {
            (f64::NAN, f64::NAN)
        } else {
            (prob_improvement_ci_low, prob_improvement_ci_high)
        };

    let mean_a = mean(a);
    let mean_b = mean(b);
    let mut warnings = Vec::new();
    let untied = wins_b + losses_b;
    let smallest_p = smallest_sign_test_p(untied);
    if smallest_p >= 0.05 {
        let pairs = if ties == 0 {
            format!("n = {n} pairs")
        } else {
            format!("n = {n} pairs ({ties} tied, leaving {untied} for the sign test)")
        };
        warnings.push(format!(
            "{pairs}: too few for a sign test at p < 0.05 (the smallest possible two-sided p \
             with {untied} untied pairs is {smallest_p}); treat this as descriptive"
        ));
    }
    if diff_ci_low <= 0.0 && 0.0 <= diff_ci_high {
        warnings.push(format!(
            "the {}% {} CI of the mean difference (B - A), [{}, {}], contains 0: \
             the data are consistent with no difference between the arms",
            format::percent(CI_LEVEL),
            diff_ci_method,
            format::stat(diff_ci_low),
            format::stat(diff_ci_high)
        ));
    }
    for (name, xs) in [("A", a), ("B", b)] {
        let bad = xs.iter().filter(|x| !x.is_finite()).count();
        if bad > 0 {
            warnings.push(format!(
                "arm {name} has {bad} non-finite value(s) (diverged runs?): its mean, the \
                 mean difference and its CI are not meaningful; wins, ties and the \
                 probability of improvement rank NaN as the worst value"
            ));
        }
    }

    Ok(Paired {
        n,
        mean_a,
        mean_b,
        mean_diff: mean(&diffs),
        diff_ci_low,
        diff_ci_high,
        diff_ci_method,
        ratio_of_means: mean_b / mean_a,
        wins_b,
        ties,
        prob_improvement,
        prob_improvement_ci_low,
        prob_improvement_ci_high,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
        sign_test_p: sign_test_p(wins_b, losses_b),
    })
}

/// Probability of improvement of arm B over arm A (rliable; Agarwal et al. 2021, "Deep
/// Reinforcement Learning at the Edge of the Statistical Precipice").
///
/// `P(B > A) = (1 / (|a|·|b|)) · Σᵢ Σⱼ S(b[j], a[i])` where `S` is 1 when `b[j]` is better
/// than `a[i]`, 1/2 when they tie and 0 otherwise — the Mann–Whitney U statistic of B
/// against A, normalised to `[0, 1]`. It is an unpaired statistic (the arms may differ in
/// length); rliable averages it over tasks, here there is a single task.
///
/// "Better" means lower when `lower_is_better`, higher otherwise; `NaN` is the worst value
/// and ties with `NaN`, so the result is always defined for non-empty input. The count is
/// exact in integers and rounded once. `O((|a| + |b|) log |a|)`.
///
/// Returns `NaN` if either slice is empty.
pub fn probability_of_improvement(a: &[f64], b: &[f64], lower_is_better: bool) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut sorted_a = a.to_vec();
    sorted_a.sort_by(|x, y| cmp_badness(*x, *y, lower_is_better));
    // Twice the score, so that a tie (1/2) is an integer.
    let mut twice: u64 = 0;
    for &y in b {
        let better_a =
            sorted_a.partition_point(|&x| cmp_badness(x, y, lower_is_better) == Ordering::Less);
        let not_worse_a =
            sorted_a.partition_point(|&x| cmp_badness(x, y, lower_is_better) != Ordering::Greater);
        let worse_a = sorted_a.len() - not_worse_a;
        let tied_a = not_worse_a - better_a;
        twice += 2 * worse_a as u64 + tied_a as u64;
    }
    twice as f64 / (2.0 * a.len() as f64 * b.len() as f64)
}

/// Exact two-sided sign test: the p-value of `wins` successes against `losses` failures
/// under `Binomial(wins + losses, 1/2)`, ties having been dropped beforehand.
///
/// `p = min(1, 2 · P(X ≤ min(wins, losses)))`, `X ~ Binomial(m, 1/2)`, `m = wins + losses`.
/// Symmetric in its arguments; `1.0` when `m == 0`. For `m ≤ 120` the tail is summed exactly
/// in integers and rounded once (so `(5, 0)` gives exactly `0.0625`); larger `m` works in
/// log space relative to the largest tail term, accurate to about `1e-13` relative for
/// thousands of pairs. Takes `O(min(wins, losses))` time.
///
/// The smallest p attainable with `m` untied pairs is `2 · 0.5^m`: no sign test on five
/// or fewer pairs can reach p < 0.05.
pub fn sign_test_p(wins: usize, losses: usize) -> f64 {
    let m = wins + losses;
    let k = wins.min(losses);
    if m == 0 || 2 * k + 1 >= m {
        // The tail reaches the median, so it holds at least half of the mass.
        return 1.0;
    }
    if m <= 120 {
        // Σ_{j ≤ k} C(m, j), exact; C(m, j)·(m - j) < 2^120 · 120 < 2^127.
        let mut c: u128 = 1;
        let mut sum: u128 = 1;
        for j in 0..k {
            c = c * (m - j) as u128 / (j + 1) as u128;
            sum += c;
        }
        // 2 · sum / 2^m, the power of two being exact.
        return (sum as f64 * 2f64.powi(1 - m as i32)).min(1.0);
    }
    // Large m: ln P(X = k), then the tail relative to it (terms shrink going down).
    let mf = m as f64;
    // Neumaier-compensated sum of -m·ln 2 + Σ_{j<k} ln((m - j) / (j + 1)).
    let (mut ln_top, mut comp) = (-mf * std::f64::consts::LN_2, 0.0);
    for j in 0..k {
        let term = ((mf - j as f64) / (j as f64 + 1.0)).ln();
        let t = ln_top + term;
        comp += if ln_top.abs() >= term.abs() {
            (ln_top - t) + term
        } else {
            (term - t) + ln_top
        };
        ln_top = t;
    }
    let ln_top = ln_top + comp;
    let mut rel = 1.0;
    let mut total = 1.0;
    for j in (1..=k).rev() {
        // P(X = j - 1) / P(X = j) = j / (m - j + 1)
        rel *= j as f64 / (mf - j as f64 + 1.0);
        total += rel;
        if rel < total * 1e-17 {
            break;
        }
    }
    (2.0 * (ln_top + total.ln()).exp()).min(1.0)
}

/// Quantile `q` of an ascending slice by linear interpolation (Hyndman & Fan type 7, the
/// default of R, NumPy and criterion.rs): with `h = (n - 1)·q`, the result is
/// `x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋ + 1] - x[⌊h⌋])`.
///
/// So `q = 0` is the minimum, `q = 1` the maximum, `q = 0.5` the usual median, and the
/// result lies between the two neighbouring values (it returns a value exactly when `h` is
/// an integer or the neighbours are equal, including equal infinities).
///
/// `sorted` must be in ascending order and free of `NaN` (checked in debug builds only);
/// returns `NaN` for an empty slice.
///
/// # Panics
///
/// If `q` is not within `[0, 1]` (including `NaN`).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&q),
        "quantile must lie in [0, 1], got {q}"
    );
    debug_assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "quantile_sorted needs ascending input without NaN"
    );
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let x_lo = sorted[lo];
    if frac == 0.0 || lo + 1 >= sorted.len() {
        return x_lo;
    }
    let x_hi = sorted[lo + 1];
    if x_lo == x_hi {
        return x_lo;
    }
    x_lo + frac * (x_hi - x_lo)
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

fn nan_min(acc: f64, x: f64) -> f64 {
    if acc.is_nan() || x.is_nan() {
        f64::NAN
    } else {
        acc.min(x)
    }
}

fn nan_max(acc: f64, x: f64) -> f64 {
    if acc.is_nan() || x.is_nan() {
        f64::NAN
    } else {
        acc.max(x)
    }
}

/// Orders `x` against `y` by badness: `Less` when `x` is better. `NaN` is worse than
/// everything else and ties with `NaN`; `-0.0` ties with `+0.0`.
fn cmp_badness(x: f64, y: f64, lower_is_better: bool) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let ord = x.partial_cmp(&y).expect("neither value is NaN");
            if lower_is_better {
                ord
            } else {
                ord.reverse()
            }
        }
    }
}

/// Smallest two-sided sign-test p attainable with `m` untied pairs: `min(1, 2 · 0.5^m)`.
fn smallest_sign_test_p(m: usize) -> f64 {
    sign_test_p(m, 0)
}

fn check_bootstrap_args(resamples: usize, level: f64) {
    assert!(resamples > 0, "bootstrap needs at least one resample");
    assert!(
        level > 0.0 && level < 1.0,
        "confidence level must lie strictly between 0 and 1, got {level}"
    );
}

/// Percentile bootstrap over index resamples: `stat` sees `n` indices drawn uniformly with
/// replacement from `0..n`, `resamples` times, from a [`ChaCha8Rng`] seeded with `seed`.
/// Two calls with equal `n`, `resamples` and `seed` see identical index draws.
fn bootstrap_percentile(
    n: usize,
    resamples: usize,
    level: f64,
    seed: u64,
    mut stat: impl FnMut(&[usize]) -> f64,
) -> (f64, f64) {
    check_bootstrap_args(resamples, level);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for i in idx.iter_mut() {
            *i = rng.random_range(0..n);
        }
        stats.push(stat(&idx));
    }
    if stats.iter().any(|s| s.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    stats.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    (
        quantile_sorted(&stats, alpha / 2.0),
        quantile_sorted(&stats, 1.0 - alpha / 2.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, rel: f64) -> bool {
        x == y || (x - y).abs() <= rel * x.abs().max(y.abs())
    }

    // ------------------------------------------------------------------ summaries

    #[test]
    fn summary_of_small_vector_matches_hand_values() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.mean, 2.5);
        // sqrt(((1.5² + 0.5²) · 2) / 3) = sqrt(5 / 3)
        assert!(close(s.std, 1.2909944487358056, 1e-15), "{}", s.std);
        assert!(close(s.stderr, 1.2909944487358056 / 2.0, 1e-15));
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        // Four values: a Student-t interval; scipy.stats.t.interval(0.95, 3, loc=2.5,
        // scale=sem([1, 2, 3, 4])) = (0.4457397432394794, 4.554260256760521).
        assert_eq!(s.ci_method, CiMethod::StudentT);
        assert!(close(s.ci_low, 0.4457397432394794, 1e-12), "{s:?}");
        assert!(close(s.ci_high, 4.554260256760521, 1e-12), "{s:?}");
        // Order does not matter except through the bootstrap draws; the moments agree.
        let t = summarize(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((t.mean, t.min, t.max), (s.mean, s.min, s.max));
        assert!(close(t.std, s.std, 1e-15));
    }

    #[test]
    fn summary_of_empty_and_single() {
        assert_eq!(summarize(&[]), None);
        let s = summarize(&[0.25]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.max), (1, 0.25, 0.25, 0.25));
        assert!(s.std.is_nan() && s.stderr.is_nan());
        assert!(s.ci_low.is_nan() && s.ci_high.is_nan());
    }

    #[test]
    fn summary_of_constant_vector_is_exact() {
        let s = summarize(&[0.1; 7]).unwrap();
        assert_eq!(s.mean, 0.1);
        assert_eq!(s.std, 0.0);
        assert_eq!(s.stderr, 0.0);
        assert_eq!((s.ci_low, s.ci_high), (0.1, 0.1));
    }

    #[test]
    fn summary_propagates_non_finite_values() {
        let s = summarize(&[1.0, f64::INFINITY, 2.0]).unwrap();
        assert_eq!(s.n, 3);
        assert_eq!(s.mean, f64::INFINITY);
        assert!(s.std.is_nan() && s.stderr.is_nan());
        assert!(s.ci_low.is_nan() && s.ci_high.is_nan());
        assert_eq!((s.min, s.max), (1.0, f64::INFINITY));
        // An infinity in first place must not turn the mean into NaN.
        assert_eq!(mean(&[f64::INFINITY, 1.0]), f64::INFINITY);
        assert!(mean(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());

        let s = summarize(&[1.0, f64::NAN, 2.0]).unwrap();
        assert!(s.mean.is_nan() && s.std.is_nan() && s.min.is_nan() && s.max.is_nan());
        assert!(s.ci_low.is_nan() && s.ci_high.is_nan());
        // NaN in first place too.
        let s = summarize(&[f64::NAN, 1.0]).unwrap();
        assert!(s.min.is_nan() && s.max.is_nan());
    }

    // ------------------------------------------------------------------ quantiles

    #[test]
    fn quantile_interpolates_linearly() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
        assert_eq!(quantile_sorted(&xs, 1.0), 4.0);
        assert_eq!(quantile_sorted(&xs, 0.5), 2.5); // h = 1.5
        assert_eq!(quantile_sorted(&xs, 0.25), 1.75); // h = 0.75
        let ys = [0.0, 10.0, 20.0, 30.0, 40.0];
        assert!(close(quantile_sorted(&ys, 0.9), 36.0, 1e-15)); // h = 3.6
        assert_eq!(quantile_sorted(&ys, 0.5), 20.0); // h = 2, exact
        assert_eq!(quantile_sorted(&[7.0], 0.3), 7.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
        let inf = f64::INFINITY;
        assert_eq!(quantile_sorted(&[1.0, inf], 0.5), inf);
        assert_eq!(quantile_sorted(&[inf, inf], 0.5), inf);
    }

    #[test]
    #[should_panic(expected = "quantile must lie in [0, 1]")]
    fn quantile_rejects_out_of_range_q() {
        quantile_sorted(&[1.0, 2.0], 1.5);
    }

    // ------------------------------------------------------------------ bootstrap

    #[test]
    fn bootstrap_is_deterministic_and_contains_the_mean() {
        let xs = [0.31, 0.27, 0.35, 0.30, 0.29];
        let ci = bootstrap_mean_ci(&xs, BOOTSTRAP_RESAMPLES, CI_LEVEL, 42);
        assert_eq!(
            ci,
            bootstrap_mean_ci(&xs, BOOTSTRAP_RESAMPLES, CI_LEVEL, 42)
        );
        // Another seed gives nearly the same interval: 10 000 resamples are plenty.
        let other = bootstrap_mean_ci(&xs, BOOTSTRAP_RESAMPLES, CI_LEVEL, 43);
        assert!((other.0 - ci.0).abs() < 0.003 && (other.1 - ci.1).abs() < 0.003);
        let m = mean(&xs);
        assert!(ci.0 < m && m < ci.1, "{ci:?} vs {m}");
        assert!(0.27 <= ci.0 && ci.1 <= 0.35, "{ci:?}");
        // A wider level gives a wider interval from the same draws.
        let wide = bootstrap_mean_ci(&xs, BOOTSTRAP_RESAMPLES, 0.99, 42);
        assert!(wide.0 <= ci.0 && ci.1 <= wide.1);
        // summarize uses the documented method: five values, a t interval.
        let s = summarize(&xs).unwrap();
        assert_eq!((s.ci_low, s.ci_high), t_mean_ci(&xs, CI_LEVEL));
        assert_eq!(s.ci_method, CiMethod::StudentT);
        // From SMALL_SAMPLE values on, the bootstrap with the documented constants.
        let many: Vec<f64> = xs.iter().copied().cycle().take(SMALL_SAMPLE).collect();
        let s = summarize(&many).unwrap();
        assert_eq!(s.ci_method, CiMethod::Bootstrap);
        assert_eq!(
            (s.ci_low, s.ci_high),
            bootstrap_mean_ci(&many, BOOTSTRAP_RESAMPLES, CI_LEVEL, BOOTSTRAP_SEED)
        );
    }

    #[test]
    fn bootstrap_of_constant_vector_is_that_constant() {
        for c in [0.1, -3.7, 1e-9, 12345.678] {
            let xs = [c; 5];
            assert_eq!(bootstrap_mean_ci(&xs, 1000, CI_LEVEL, 7), (c, c));
        }
    }

    #[test]
    fn bootstrap_of_two_points_spans_them() {
        // Resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
        assert_eq!(
            bootstrap_mean_ci(&[0.0, 1.0], BOOTSTRAP_RESAMPLES, CI_LEVEL, 1),
            (0.0, 1.0)
        );
    }

    #[test]
    fn bootstrap_narrows_as_n_grows() {
        let pattern = [0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2, 0.6, 0.5, 0.3];
        let width = |n: usize| {
            let xs: Vec<f64> = pattern.iter().copied().cycle().take(n).collect();
            let (lo, hi) = bootstrap_mean_ci(&xs, 2000, CI_LEVEL, BOOTSTRAP_SEED);
            hi - lo
        };
        let (w10, w100, w1000) = (width(10), width(100), width(1000));
        assert!(w10 > w100 && w100 > w1000, "{w10} {w100} {w1000}");
        // Roughly 1/sqrt(n): a factor of about 10 from n = 10 to n = 1000.
        assert!(w10 / w1000 > 5.0 && w10 / w1000 < 20.0, "{w10} {w1000}");
    }

    #[test]
    fn bootstrap_undefined_for_single_or_non_finite() {
        let (lo, hi) = bootstrap_mean_ci(&[1.0], 100, CI_LEVEL, 0);
        assert!(lo.is_nan() && hi.is_nan());
        let (lo, hi) = bootstrap_mean_ci(&[1.0, f64::NEG_INFINITY], 100, CI_LEVEL, 0);
        assert!(lo.is_nan() && hi.is_nan());
    }

    #[test]
    #[should_panic(expected = "confidence level")]
    fn bootstrap_rejects_bad_level() {
        bootstrap_mean_ci(&[1.0, 2.0], 100, 1.0, 0);
    }

    // ------------------------------------------------------------------ Student t

    #[test]
    fn student_t_matches_scipy() {
        // scipy.stats.t.ppf(0.975, df) for df = 1, 2, 4, 9, 19 (scipy 1.17).
        for (df, q) in [
            (1.0, 12.706204736174694),
            (2.0, 4.302652729749462),
            (4.0, 2.7764451051977934),
            (9.0, 2.262157162798205),
            (19.0, 2.0930240544083087),
        ] {
            let t = student_t_quantile(0.975, df);
            assert!(close(t, q, 1e-12), "df {df}: {t} vs {q}");
            assert!(close(student_t_quantile(0.025, df), -q, 1e-12));
        }
        // scipy.stats.t.ppf(0.995, 4), t.ppf(0.9, 3), t.cdf(1.5, 7), t.cdf(-2.2, 3).
        assert!(close(
            student_t_quantile(0.995, 4.0),
            4.604094871349992,
            1e-12
        ));
        assert!(close(
            student_t_quantile(0.9, 3.0),
            1.637744353696209,
            1e-12
        ));
        assert!(close(student_t_cdf(1.5, 7.0), 0.911350756505015, 1e-12));
        assert!(close(student_t_cdf(-2.2, 3.0), 0.05758597598823534, 1e-12));
        assert_eq!(student_t_quantile(0.5, 3.0), 0.0);
        assert_eq!(student_t_cdf(0.0, 5.0), 0.5);
    }

    #[test]
    fn t_interval_matches_scipy_and_is_wider_than_the_percentile_bootstrap() {
        // scipy.stats.t.interval(0.95, 4, loc=mean(x), scale=sem(x)).
        let xs = [0.31, 0.27, 0.35, 0.30, 0.29];
        let (lo, hi) = t_mean_ci(&xs, CI_LEVEL);
        assert!(close(lo, 0.2671662933401604, 1e-12), "{lo}");
        assert!(close(hi, 0.3408337066598396, 1e-12), "{hi}");
        // The percentile bootstrap over five values is much narrower (the issue measured
        // 35–40% on the sweeps' differences); here 38%.
        let (blo, bhi) = bootstrap_mean_ci(&xs, BOOTSTRAP_RESAMPLES, CI_LEVEL, BOOTSTRAP_SEED);
        let narrower = 1.0 - (bhi - blo) / (hi - lo);
        assert!((0.3..0.45).contains(&narrower), "{narrower}");
        // Ten paired differences: scipy.stats.t.interval(0.95, 9, loc=mean(d), scale=sem(d)).
        let d = [
            -0.2765, -0.2712, -0.2688, -0.2701, -0.2730, -0.2699, -0.2690, -0.2702, -0.2711,
            -0.2702,
        ];
        let (lo, hi) = t_mean_ci(&d, CI_LEVEL);
        assert!(close(lo, -0.2726249785214171, 1e-12), "{lo}");
        assert!(close(hi, -0.26937502147858294, 1e-12), "{hi}");
        // Undefined cases and exactness for a constant.
        assert!(t_mean_ci(&[1.0], CI_LEVEL).0.is_nan());
        assert!(t_mean_ci(&[1.0, f64::INFINITY], CI_LEVEL).1.is_nan());
        assert_eq!(t_mean_ci(&[0.1; 4], CI_LEVEL), (0.1, 0.1));
        assert_eq!(mean_ci(&d, CI_LEVEL, 0).2, CiMethod::StudentT);
    }

    #[test]
    fn probability_of_improvement_interval_only_when_it_says_something() {
        // 25 pairs, every one a win for B: the bootstrap would give [1, 1]; left out.
        let a: Vec<f64> = (0..25).map(|i| 1.0 + 0.01 * i as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x - 0.5).collect();
        let p = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!(p.prob_improvement, 1.0);
        assert_eq!(p.diff_ci_method, CiMethod::Bootstrap);
        assert!(p.prob_improvement_ci_low.is_nan() && p.prob_improvement_ci_high.is_nan());
        // 25 pairs with overlapping arms: a real interval around the estimate.
        let b: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 3 == 0 { 0.1 } else { -0.1 })
            .collect();
        let p = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        assert!(p.prob_improvement_ci_low < p.prob_improvement);
        assert!(p.prob_improvement < p.prob_improvement_ci_high);
        assert!(p.prob_improvement_ci_high <= 1.0 && p.prob_improvement_ci_low >= 0.0);
    }

    // ------------------------------------------------------------------ sign test

    #[test]
    fn sign_test_exact_values() {
        assert_eq!(sign_test_p(5, 0), 0.0625);
        assert_eq!(sign_test_p(0, 5), 0.0625);
        assert_eq!(sign_test_p(10, 0), 0.001953125);
        assert_eq!(sign_test_p(3, 2), 1.0);
        assert_eq!(sign_test_p(0, 0), 1.0);
        assert_eq!(sign_test_p(1, 0), 1.0);
        assert_eq!(sign_test_p(6, 0), 0.03125);
        // 2 · (1 + 10 + 45) / 1024
        assert_eq!(sign_test_p(8, 2), 0.109375);
        assert_eq!(sign_test_p(60, 60), 1.0);
        assert_eq!(sign_test_p(61, 60), 1.0);
        // Reference values from exact rational arithmetic (Python fractions).
        assert!(close(sign_test_p(120, 0), 1.504632769052528e-36, 1e-15));
        assert!(close(sign_test_p(80, 41), 0.0004985619576974204, 1e-12));
        assert!(close(sign_test_p(700, 300), 1.7665678007950136e-37, 1e-11));
        assert!(close(sign_test_p(1000, 1100), 0.030720707864242296, 1e-11));
        assert!(sign_test_p(5000, 0) >= 0.0);
    }

    // ------------------------------------------------------------------ paired

    #[test]
    fn paired_hand_example() {
        let a = [1.0, 2.0, 3.0];
        let b = [0.5, 2.0, 4.0];
        let p = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!(p.n, 3);
        assert_eq!(p.mean_a, 2.0);
        assert!(close(p.mean_b, 6.5 / 3.0, 1e-15));
        // differences b - a = [-0.5, 0, 1]
        assert!(close(p.mean_diff, 0.5 / 3.0, 1e-15), "{}", p.mean_diff);
        assert!(close(p.ratio_of_means, 6.5 / 6.0, 1e-15));
        assert_eq!((p.wins_b, p.ties, p.losses_b()), (1, 1, 1));
        assert_eq!(p.sign_test_p, 1.0);
        // Nine (i, j) pairs, B lower is better:
        //   b = 0.5 beats 1, 2, 3           -> 3
        //   b = 2   loses to 1, ties 2, beats 3 -> 1.5
        //   b = 4   loses to all            -> 0
        // (3 + 1.5 + 0) / 9 = 0.5
        assert_eq!(p.prob_improvement, 0.5);
        // Three pairs: a t interval of the differences [-0.5, 0, 1]; scipy.stats.t.interval(
        // 0.95, 2, loc=1/6, scale=sem(d)) = (-1.7306248501317132, 2.0639581834650467).
        assert_eq!(p.diff_ci_method, CiMethod::StudentT);
        assert!(close(p.diff_ci_low, -1.7306248501317132, 1e-12), "{p:?}");
        assert!(close(p.diff_ci_high, 2.0639581834650467, 1e-12), "{p:?}");
        // Too few pairs for an interval of the probability of improvement.
        assert!(p.prob_improvement_ci_low.is_nan() && p.prob_improvement_ci_high.is_nan());
        let w = p.warning.as_deref().unwrap();
        assert!(
            w.contains("n = 3 pairs (1 tied, leaving 2 for the sign test)"),
            "{w}"
        );
        assert!(w.contains("the 95% t CI of the mean difference"), "{w}");
        // Deterministic (compared as text: the left-out interval is NaN).
        let again = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!(format!("{p:?}"), format!("{again:?}"));
    }

    #[test]
    fn probability_of_improvement_hand_examples() {
        // b = 1 and b = 2 beat all three a's (3 + 3); b = 4 loses to 3, ties 4, beats 5 (1.5).
        let (a, b) = ([3.0, 4.0, 5.0], [1.0, 2.0, 4.0]);
        assert_eq!(probability_of_improvement(&a, &b, true), 7.5 / 9.0);
        assert_eq!(probability_of_improvement(&a, &b, false), 1.5 / 9.0);
        assert_eq!(probability_of_improvement(&b, &a, true), 1.5 / 9.0);
        // Unpaired: lengths may differ. b = 2 ties one of two, beats the other.
        assert_eq!(probability_of_improvement(&[2.0, 3.0], &[2.0], true), 0.75);
        assert!(probability_of_improvement(&[], &[1.0], true).is_nan());
        // Identical arms: one half.
        assert_eq!(probability_of_improvement(&a, &a, true), 0.5);
    }

    #[test]
    fn paired_respects_direction() {
        let a = [1.0, 2.0, 3.0];
        let b = [2.0, 3.0, 4.0];
        let lower = paired(&a, &b, true, 0).unwrap();
        let higher = paired(&a, &b, false, 0).unwrap();
        assert_eq!((lower.wins_b, lower.ties), (0, 0));
        assert_eq!((higher.wins_b, higher.ties), (3, 0));
        assert_eq!(lower.mean_diff, higher.mean_diff);
        assert!(close(
            lower.prob_improvement + higher.prob_improvement,
            1.0,
            1e-15
        ));
        // b = 2: ties a = 2, beats a = 1 -> 1.5; b = 3: 2.5; b = 4: 3 -> 7 / 9
        assert!(close(higher.prob_improvement, 7.0 / 9.0, 1e-15));
    }

    #[test]
    fn paired_warns_for_five_pairs_but_not_ten_clear_wins() {
        let a5 = [1.0, 1.1, 0.9, 1.2, 1.0];
        let b5 = [0.5, 0.6, 0.4, 0.7, 0.55];
        let p5 = paired(&a5, &b5, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!((p5.wins_b, p5.ties), (5, 0));
        assert_eq!(p5.sign_test_p, 0.0625);
        assert_eq!(p5.prob_improvement, 1.0);
        assert!(p5.diff_ci_high < 0.0);
        let w = p5.warning.as_deref().expect("five pairs must warn");
        assert!(
            w.contains(
                "n = 5 pairs: too few for a sign test at p < 0.05 (the smallest possible \
                 two-sided p with 5 untied pairs is 0.0625); treat this as descriptive"
            ),
            "{w}"
        );
        assert!(!w.contains("contains 0"), "{w}");

        let a10 = [1.0, 1.1, 0.9, 1.2, 1.0, 1.05, 0.95, 1.15, 1.0, 1.1];
        let b10: Vec<f64> = a10
            .iter()
            .enumerate()
            .map(|(i, x)| x - 0.3 - 0.01 * i as f64)
            .collect();
        let p10 = paired(&a10, &b10, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!((p10.wins_b, p10.ties), (10, 0));
        assert_eq!(p10.sign_test_p, 0.001953125);
        assert_eq!(p10.warning, None);
        assert!(p10.diff_ci_high < 0.0);
        // Ten pairs: no interval for the probability of improvement (a percentile
        // bootstrap would say [1.00, 1.00]).
        assert!(p10.prob_improvement_ci_low.is_nan() && p10.prob_improvement_ci_high.is_nan());

        // Six clear wins are already enough for the sign test (smallest p = 1/32).
        let p6 = paired(&a10[..6], &b10[..6], true, BOOTSTRAP_SEED).unwrap();
        assert_eq!(p6.warning, None);
    }

    #[test]
    fn paired_warns_when_difference_ci_contains_zero() {
        let a: Vec<f64> = (0..12).map(|i| 1.0 + 0.1 * i as f64).collect();
        let b: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { x + 0.05 } else { x - 0.05 })
            .collect();
        let p = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        assert_eq!((p.wins_b, p.ties), (6, 0));
        assert!(p.diff_ci_low < 0.0 && p.diff_ci_high > 0.0);
        let w = p.warning.as_deref().unwrap();
        assert!(
            w.starts_with("the 95% t CI of the mean difference (B - A)"),
            "{w}"
        );
        assert!(!w.contains("sign test"), "{w}");
    }

    #[test]
    fn paired_handles_diverged_runs() {
        let a = [1.0; 6];
        let b = [0.5, 0.5, 0.5, 0.5, 0.5, f64::NAN];
        let p = paired(&a, &b, true, BOOTSTRAP_SEED).unwrap();
        // NaN is the worst value: the diverged seed is a loss for B.
        assert_eq!((p.wins_b, p.ties, p.losses_b()), (5, 0, 1));
        assert!(p.mean_b.is_nan() && p.mean_diff.is_nan() && p.ratio_of_means.is_nan());
        assert!(p.diff_ci_low.is_nan() && p.diff_ci_high.is_nan());
        // Five b's beat all six a's; the NaN beats none: 30 / 36.
        assert_eq!(p.prob_improvement, 30.0 / 36.0);
        assert!(p.prob_improvement_ci_low.is_nan(), "six pairs: no interval");
        let w = p.warning.as_deref().unwrap();
        assert!(w.contains("arm B has 1 non-finite value(s)"), "{w}");
        assert!(!w.contains("arm A"), "{w}");

        // NaN is also worst when higher is better; NaN ties NaN; inf ties inf.
        let inf = f64::INFINITY;
        let a = [f64::NAN, inf, 1.0, 2.0];
        let b = [f64::NAN, inf, f64::NAN, -inf];
        let lower = paired(&a, &b, true, 0).unwrap();
        assert_eq!((lower.wins_b, lower.ties, lower.losses_b()), (1, 2, 1));
        let higher = paired(&a, &b, false, 0).unwrap();
        assert_eq!((higher.wins_b, higher.ties, higher.losses_b()), (0, 2, 2));
        // -0.0 and +0.0 tie.
        assert_eq!(paired(&[0.0], &[-0.0], true, 0).unwrap().ties, 1);
    }

    #[test]
    fn paired_single_pair() {
        let p = paired(&[2.0], &[1.0], true, 0).unwrap();
        assert_eq!((p.n, p.wins_b, p.mean_diff), (1, 1, -1.0));
        assert!(p.diff_ci_low.is_nan() && p.prob_improvement_ci_low.is_nan());
        assert_eq!(p.prob_improvement, 1.0);
        assert_eq!(p.sign_test_p, 1.0);
        let w = p.warning.unwrap();
        assert!(
            w.contains("smallest possible two-sided p with 1 untied pairs is 1"),
            "{w}"
        );
    }

    #[test]
    fn paired_rejects_bad_input() {
        assert!(paired(&[], &[], true, 0).is_err());
        let e = paired(&[1.0, 2.0], &[1.0], true, 0).unwrap_err();
        assert!(e.contains("2 values for A and 1 for B"), "{e}");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format::percent(0.95), "95");
        assert_eq!(format::percent(0.975), "97.5");
        assert_eq!(format::stat(0.123456), "0.1235");
        assert_eq!(format::stat(-12.5), "-12.50");
        assert_eq!(format::stat(0.0), "0");
        assert_eq!(format::stat(1.5e-5), "1.500e-5");
    }
}
