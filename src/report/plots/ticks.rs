//! Numbers, ticks and axes: how a value is written on a figure (the policies of
//! [`crate::format`]: `axis`, `sci`, `fixed`), round tick positions for linear and log axes, the
//! [`Axis`] every panel draws on, and [`Extent`] (the range of the drawable values).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

use super::notes::MAX_HEADROOM;

/// A compact, readable number for labels and notes: [`crate::format::axis`].
pub(super) fn short_num(v: f64) -> String {
    crate::format::axis(v)
}

/// Tick label format of an axis (applied to the value, i.e. after `10^t` on log axes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Fmt {
    /// Fixed number of decimals.
    Fixed(usize),
    /// `m×10ᵉ` with this many significant digits.
    Sci(usize),
    /// `10ᵏ` for integer decades.
    Pow10,
    /// [`short_num`].
    Short,
}

/// A 1-2-2.5-5 step giving about `target` intervals over `lo..hi` (overflow-safe).
fn nice_step(lo: f64, hi: f64, target: usize) -> f64 {
    let t = target.max(1) as f64;
    let raw = hi / t - lo / t;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f < 1.5 {
        1.0
    } else if f < 2.25 {
        2.0
    } else if f < 3.5 {
        2.5
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Round-number ticks in `[lo, hi]` and the label format that fits them.
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Fmt) {
    let step = nice_step(lo, hi, target);
    if !(step.is_finite() && step > 0.0) {
        return (vec![lo, hi], Fmt::Short);
    }
    let mut ticks = Vec::new();
    let mut k = (lo / step - 1e-9).ceil();
    while ticks.len() < 200 {
        let mut v = k * step;
        if v > hi + step * 1e-9 {
            break;
        }
        if v.abs() < step * 1e-9 {
            v = 0.0;
        }
        ticks.push(v.clamp(lo, hi));
        k += 1.0;
    }
    let e_step = step.log10().floor() as i32;
    let m_step = step / 10f64.powi(e_step);
    let extra = i32::from((m_step - 2.5).abs() < 1e-6);
    let mag = lo.abs().max(hi.abs());
    let fmt = if !(1e-3..1e5).contains(&mag) {
        let e_mag = mag.log10().floor() as i32;
        Fmt::Sci(((e_mag - e_step + 1 + extra).max(1)) as usize)
    } else {
        Fmt::Fixed((extra - e_step).max(0) as usize)
    };
    (ticks, fmt)
}

/// One axis in drawing coordinates `t`: `t = v` on a linear axis, `t = log10 v` on a log
/// axis. `lo..hi` always contains every drawn point (values are clamped before drawing,
/// because plotters does not clip).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) log: bool,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) light: Vec<f64>,
    pub(super) fmt: Fmt,
}

impl Axis {
    /// Linear axis over data `[min, max]`, padded by `pad` of the span; a zero span is
    /// widened. With `floor_zero`, non-negative data never get a negative axis.
    pub(super) fn linear(min: f64, max: f64, pad: f64, floor_zero: bool, target: usize) -> Axis {
        let (mut lo, hi);
        let span = max / 2.0 - min / 2.0;
        if span.is_nan() || span <= 1e-12 * max.abs().max(min.abs()) || !span.is_finite() {
            let half = if max != 0.0 && max.is_finite() {
                max.abs() * 0.1
            } else {
                1.0
            };
            lo = (min - half).max(f64::MIN);
            hi = (max + half).min(f64::MAX);
        } else {
            lo = (min - 2.0 * span * pad).max(f64::MIN);
            hi = (max + 2.0 * span * pad).min(f64::MAX);
        }
        if floor_zero && min >= 0.0 && lo < 0.0 {
            lo = 0.0;
        }
        Axis::linear_span(lo, hi, target)
    }

    /// Linear axis over exactly `lo..hi` (falls back to -1..1 when that is not a range).
    pub(super) fn linear_span(mut lo: f64, mut hi: f64, target: usize) -> Axis {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            lo = -1.0;
            hi = 1.0;
        }
        let (ticks, fmt) = nice_ticks(lo, hi, target);
        Axis {
            log: false,
            lo,
            hi,
            ticks,
            light: Vec::new(),
            fmt,
        }
    }

    /// Log axis over positive data `[min, max]`, padded by 5% of its decades (at least 0.05
    /// of a decade); a zero span is widened to one decade.
    pub(super) fn log(min: f64, max: f64, target: usize) -> Axis {
        let (lmin, lmax) = (min.log10(), max.log10());
        let span = lmax - lmin;
        let (lo, hi) = if span < 1e-9 {
            (lmin - 0.5, lmax + 0.5)
        } else {
            let pad = (0.05 * span).max(0.05);
            (lmin - pad, lmax + pad)
        };
        Axis::log_span(lo, hi, target)
    }

    /// Log axis over exactly `lo..hi` in decades (`t = log10 v`).
    pub(super) fn log_span(lo: f64, hi: f64, target: usize) -> Axis {
        let (ticks, light, fmt) = log_ticks(lo, hi, target);
        Axis {
            log: true,
            lo,
            hi,
            ticks,
            light,
            fmt,
        }
    }

    /// The same axis extended upwards so that the top `frac` of it holds no data (room for
    /// notes inside the plot area); ticks are recomputed.
    pub(super) fn with_headroom(&self, frac: f64, target: usize) -> Axis {
        if frac.is_nan() || frac <= 0.0 {
            return self.clone();
        }
        let frac = frac.min(MAX_HEADROOM);
        let hi =
            (self.hi + (self.hi / 2.0 - self.lo / 2.0) * (2.0 * frac / (1.0 - frac))).min(f64::MAX);
        let mut a = if self.log {
            Axis::log_span(self.lo, hi, target)
        } else {
            Axis::linear_span(self.lo, hi, target)
        };
        // Keep custom (data) ticks of the original.
        if self.fmt == Fmt::Short && !self.log {
            a.ticks = self.ticks.clone();
            a.fmt = Fmt::Short;
        }
        a
    }

    /// Drawing coordinate of a value, `None` when it cannot be drawn on this axis.
    pub(super) fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    pub(super) fn clamp(&self, t: f64) -> f64 {
        t.clamp(self.lo, self.hi)
    }

    pub(super) fn label(&self, t: f64) -> String {
        let v = if self.log { 10f64.powf(t) } else { t };
        match self.fmt {
            Fmt::Fixed(d) => crate::format::fixed(v, d),
            Fmt::Sci(sig) => crate::format::sci(v, sig),
            Fmt::Pow10 => format!("10{}", crate::format::superscript(t.round() as i32)),
            Fmt::Short => short_num(v),
        }
    }

    pub(super) fn coord(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            bold: self.ticks.clone(),
            light: self.light.clone(),
        }
    }
}

/// A linear f64 coordinate with explicit tick positions (plotters' `WithKeyPoints` over
/// `RangedCoordf64` has no default value formatter, so `configure_mesh` rejects it).
#[derive(Clone, Debug)]
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // Halves keep the arithmetic finite for ranges near ±f64::MAX.
        let half_span = self.hi / 2.0 - self.lo / 2.0;
        if half_span.is_nan() || half_span <= 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let f = ((v / 2.0 - self.lo / 2.0) / half_span).clamp(-1.0, 2.0);
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Ticks of a log axis in `t = log10 v`: whole decades when at least three fit (thinned to
/// about `target`), else 1-2-5 values, else two decades, else round values of a linear
/// scale.
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<f64>, Fmt) {
    let inside = |t: &f64| *t >= lo - 1e-9 && *t <= hi + 1e-9;
    let first = lo.ceil() as i64;
    let last = hi.floor() as i64;
    let decades: Vec<i64> = (first..=last).collect();
    if decades.len() >= 3 {
        let step = [1i64, 2, 3, 4, 5, 10, 20, 25, 50, 100, 200]
            .into_iter()
            .find(|s| decades.len() as i64 / s <= target.max(2) as i64)
            .unwrap_or(500);
        let ticks: Vec<f64> = decades
            .iter()
            .filter(|k| k.rem_euclid(step) == 0)
            .map(|&k| k as f64)
            .collect();
        let light: Vec<f64> = if step == 1 && hi - lo <= 8.0 {
            (first - 1..=last)
                .flat_map(|k| (2..10).map(move |m| k as f64 + (m as f64).log10()))
                .filter(inside)
                .collect()
        } else if decades.len() <= 60 {
            decades
                .iter()
                .filter(|k| k.rem_euclid(step) != 0)
                .map(|&k| k as f64)
                .collect()
        } else {
            Vec::new()
        };
        if ticks.len() >= 2 {
            return (ticks, light, Fmt::Pow10);
        }
        let all: Vec<f64> = decades.iter().map(|&k| k as f64).collect();
        return (all, Vec::new(), Fmt::Pow10);
    }
    let one_two_five: Vec<f64> = (first - 2..=last + 1)
        .flat_map(|k| [1.0f64, 2.0, 5.0].map(|m| k as f64 + m.log10()))
        .filter(inside)
        .collect();
    let light: Vec<f64> = (first - 2..=last + 1)
        .flat_map(|k| (1..10).map(move |m| k as f64 + (m as f64).log10()))
        .filter(inside)
        .collect();
    if one_two_five.len() >= 3 {
        return (one_two_five, light, Fmt::Short);
    }
    if decades.len() == 2 {
        let ticks = decades.iter().map(|&k| k as f64).collect();
        return (ticks, light, Fmt::Pow10);
    }
    let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
    let (values, fmt) = nice_ticks(vlo, vhi, target.min(6));
    let ticks: Vec<f64> = values
        .into_iter()
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .filter(inside)
        .collect();
    (ticks, Vec::new(), fmt)
}

/// Running min/max over the values that can be drawn.
#[derive(Clone, Copy, Debug)]
pub(super) struct Extent {
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Extent {
    pub(super) fn new() -> Self {
        Extent {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
    pub(super) fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }
    pub(super) fn is_empty(&self) -> bool {
        self.min > self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_formats() {
        assert_eq!(crate::format::superscript(-27), "⁻²⁷");
        assert_eq!(crate::format::sci(3e8, 2), "3×10⁸");
        assert_eq!(crate::format::sci(1e-14, 2), "10⁻¹⁴");
        assert_eq!(short_num(0.0333), "0.0333");
        assert_eq!(short_num(-2.5), "−2.5");
        assert_eq!(short_num(120.0), "120");
        let (t, f) = nice_ticks(0.0, 1000.0, 5);
        assert_eq!(t, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert_eq!(f, Fmt::Fixed(0));
        let a = Axis::log(1e-27, 1.0, 7);
        assert!(a.ticks.len() >= 2 && a.ticks.len() <= 9, "{:?}", a.ticks);
        assert!(a.ticks.iter().all(|t| *t >= a.lo && *t <= a.hi));
        let narrow = Axis::log(0.33, 0.336, 6);
        assert!(narrow.ticks.len() >= 2, "{:?}", narrow.ticks);
        assert!(narrow.lo < 0.33f64.log10() && narrow.hi > 0.336f64.log10());
        let flat = Axis::log(0.5, 0.5, 6);
        assert!(flat.hi - flat.lo >= 0.99);
        let flat_lin = Axis::linear(2.0, 2.0, 0.05, false, 6);
        assert!(flat_lin.lo < 2.0 && flat_lin.hi > 2.0);
        assert_eq!(crate::format::fixed(-0.0001, 2), "0.00");
    }
}
