//! Every way resweep writes a number as text, as named policies. Each output that shows a
//! number picks one policy here, so the same number reads the same everywhere it should,
//! and changing how a kind of output looks is one edit:
//!
//! | policy        | for                                        | examples                         |
//! |---------------|--------------------------------------------|----------------------------------|
//! | [`exact`]     | values that must read back to the same bits | `0.001`, `0.9`, `5e-324`        |
//! | [`compact`]   | setting labels and run-id parts, short       | `1`, `0.5`, `1e-5`, `3.3333e-1` |
//! | [`sig`]       | `n` significant digits, no trailing zeros    | `0.224`, `123`                  |
//! | [`value`]     | summary statistics (4 significant digits)    | `0.3333`, `3.012e8`             |
//! | [`cell`]      | query result cells (6 significant digits)    | `0.333333`, `1.5e-5`            |
//! | [`stat`]      | statistics in test descriptions              | `0.3333`, `1.200e-14`           |
//! | [`metric`]    | a run's metrics in `resweep train`'s summary | `0.3333`, `1.200e-14`, `n/a`    |
//! | [`percent`]   | a level as a percentage                      | `95`, `97.5`                    |
//! | [`axis`]      | figure labels and notes (typographic minus)  | `0.224`, `−1.5`, `3×10⁻⁵`       |
//! | [`sci`]       | figure ticks in powers of ten                | `3×10⁸`, `10⁻¹⁴`                |
//! | [`fixed`]     | linear-axis ticks, `d` decimals              | `0.25`, `−1250`, `0.00`         |
//!
//! Every policy is pinned by unit tests: outputs (run ids, tables, reports, figures)
//! depend on these exact strings.

/// The shortest text that reads back as the same `f64` (Rust's `Display`): `0.001`,
/// `1`, `1e-5` reads `0.00001`. For values written back into sweep files and settings.
pub fn exact(v: f64) -> String {
    format!("{v}")
}

/// Compact and exact enough for labels: integers without a decimal point (`1`, `20`),
/// otherwise the shortest round-trip text when it has at most 10 characters (`0.5`,
/// `0.001`, `1e-5`), else 5 significant digits in scientific notation (`3.3333e-1`).
pub fn compact(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v}");
        if s.len() <= 10 {
            s
        } else {
            format!("{v:.4e}")
        }
    }
}

/// `v` with `sig` significant digits, without trailing zeros (`0.224`, `1`, `0.05`,
/// `123`); zero and non-finite values as `Display` writes them.
pub fn sig(v: f64, sig: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (sig - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `NaN`, `inf` or `-inf` for a non-finite value.
fn non_finite(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Scientific notation with `decimals` mantissa digits, trailing mantissa zeros removed:
/// `1.200e-14` becomes `1.2e-14`.
fn sci_trimmed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$e}");
    match s.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => s,
    }
}

/// Summary statistics: 4 significant digits, scientific outside [1e-3, 1e5): `0.3333`,
/// `15.02`, `3.012e8`, `1.2e-14`; `0`, `NaN`, `inf`, `-inf` as such.
pub fn value(v: f64) -> String {
    sig_or_sci(v, 4, 1e-3..1e5)
}

/// Readings in report prose: 3 significant digits, scientific outside [1e-3, 1e5):
/// `0.224`, `49.8`, `5.09e-21`, `1.26e4`; `0`, `NaN`, `inf`, `-inf` as such.
pub fn reading(v: f64) -> String {
    sig_or_sci(v, 3, 1e-3..1e5)
}

/// Query result cells: up to 6 significant digits, scientific below 1e-4 and from 1e6
/// on; integers without a decimal point; `0`, `NaN`, `inf`, `-inf` as such.
pub fn cell(v: f64) -> String {
    sig_or_sci(v, 6, 1e-4..1e6)
}

/// `digits` significant digits inside `plain` (by magnitude), trimmed scientific with as
/// many digits outside it; `0`, `NaN`, `inf`, `-inf` as such.
fn sig_or_sci(v: f64, digits: i32, plain: std::ops::Range<f64>) -> String {
    if !v.is_finite() {
        return non_finite(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    if plain.contains(&v.abs()) {
        sig(v, digits)
    } else {
        sci_trimmed(v, digits as usize - 1)
    }
}

/// Statistics in test descriptions: about four significant digits with fixed decimals
/// (`0.3333`, `15.02`, `1234`), `{:.3e}` for magnitudes below 1e-3 or from 1e6 on
/// (`1.200e-14`); zero and non-finite values as `Display` writes them.
pub fn stat(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if (-3..6).contains(&mag) {
        format!("{:.*}", (3 - mag).max(0) as usize, x)
    } else {
        format!("{x:.3e}")
    }
}

/// A run's metric in `resweep train`'s summary: 4 decimals (`0.3333`, `12.5000`), `{:.3e}`
/// below 1e-3 or from 1e4 on (`1.200e-14`), `n/a` when there is none.
pub fn metric(v: Option<f64>) -> String {
    match v {
        Some(x) if x != 0.0 && (x.abs() >= 1e4 || x.abs() < 1e-3) => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
        None => "n/a".into(),
    }
}

/// A level (a fraction) as a percentage without trailing zeros: 0.95 → `95`, 0.975 →
/// `97.5` (two decimals at most).
pub fn percent(level: f64) -> String {
    let s = format!("{:.2}", level * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Figure labels and notes: at most 4 significant digits, a typographic minus (`−`),
/// `m×10ᵉ` outside [1e-3, 1e5) (`10ᵉ` when m = 1); `NaN`, `+inf`, `−inf`.
pub fn axis(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+inf".into()
        } else {
            "−inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let d = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        tidy(format!("{v:.d$}"))
    } else {
        sci(v, 3)
    }
}

/// `v` with `sig` significant digits as `m×10ᵉ` (or `10ᵉ` when m = 1), for figures.
/// Zero and non-finite values as [`axis`] writes them.
pub fn sci(v: f64, sig: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return axis(v);
    }
    let mut e = v.abs().log10().floor() as i32;
    let mut m = v / 10f64.powi(e);
    let d = sig.saturating_sub(1).min(6);
    if (m.abs() * 10f64.powi(d as i32)).round() >= 10f64.powi(d as i32 + 1) {
        e += 1;
        m = v / 10f64.powi(e);
    }
    let ms = tidy(format!("{m:.d$}"));
    match ms.as_str() {
        "1" => format!("10{}", superscript(e)),
        "−1" => format!("−10{}", superscript(e)),
        _ => format!("{ms}×10{}", superscript(e)),
    }
}

/// Removes trailing zeros of a decimal, turns `-0` into `0` and `-` into a typographic
/// minus sign (`−`).
pub fn tidy(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s.replace('-', "−")
}

/// `v` with `d` decimals for a linear axis's ticks: a typographic minus, and no sign on
/// a value that rounds to zero (`-0.00` is written `0.00`).
pub fn fixed(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    let s = if s
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    };
    s.replace('-', "−")
}

/// An integer in superscript digits (`-5` → `⁻⁵`), for exponents.
pub fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_for_ticks() {
        assert_eq!(fixed(0.25, 2), "0.25");
        assert_eq!(fixed(-0.25, 2), "−0.25");
        assert_eq!(fixed(-0.001, 2), "0.00");
        assert_eq!(fixed(3.0, 0), "3");
        assert_eq!(fixed(-1250.0, 0), "−1250");
    }

    /// Values that cover each policy's branches: zero, signs, the range limits, tiny and
    /// huge magnitudes, rounding up to the next decade, non-finite values.
    const VALUES: &[f64] = &[
        0.0,
        1.0,
        -1.0,
        20.0,
        0.5,
        1e-3,
        1e-5,
        0.224,
        1.0 / 3.0,
        -2.0 / 3.0,
        15.0178,
        99_999.5,
        1e5,
        123_456.789,
        3.012e8,
        1.2e-14,
        9.9996e-4,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];

    fn outputs(f: impl Fn(f64) -> String) -> Vec<String> {
        VALUES.iter().map(|&v| f(v)).collect()
    }

    #[test]
    fn exact_round_trips() {
        assert_eq!(
            outputs(exact),
            [
                "0",
                "1",
                "-1",
                "20",
                "0.5",
                "0.001",
                "0.00001",
                "0.224",
                "0.3333333333333333",
                "-0.6666666666666666",
                "15.0178",
                "99999.5",
                "100000",
                "123456.789",
                "301200000",
                "0.000000000000012",
                "0.00099996",
                "NaN",
                "inf",
                "-inf"
            ]
        );
        for &v in VALUES.iter().filter(|v| v.is_finite()) {
            assert_eq!(exact(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn compact_labels() {
        assert_eq!(
            outputs(compact),
            [
                "0",
                "1",
                "-1",
                "20",
                "0.5",
                "0.001",
                "0.00001",
                "0.224",
                "3.3333e-1",
                "-6.6667e-1",
                "15.0178",
                "99999.5",
                "100000",
                "123456.789",
                "301200000",
                "1.2000e-14",
                "0.00099996",
                "NaN",
                "inf",
                "-inf"
            ]
        );
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(1.0 / 20f64.sqrt(), 3), "0.224");
        assert_eq!(sig(1.0, 3), "1");
        assert_eq!(sig(0.05, 3), "0.05");
        assert_eq!(sig(123.456, 3), "123");
        assert_eq!(
            outputs(|v| sig(v, 4)),
            [
                "0",
                "1",
                "-1",
                "20",
                "0.5",
                "0.001",
                "0.00001",
                "0.224",
                "0.3333",
                "-0.6667",
                "15.02",
                "100000",
                "100000",
                "123457",
                "301200000",
                "0.000000000000012",
                "0.001",
                "NaN",
                "inf",
                "-inf"
            ]
        );
    }

    #[test]
    fn summary_values() {
        assert_eq!(
            outputs(value),
            [
                "0", "1", "-1", "20", "0.5", "0.001", "1e-5", "0.224", "0.3333", "-0.6667",
                "15.02", "100000", "1e5", "1.235e5", "3.012e8", "1.2e-14", "1e-3", "NaN", "inf",
                "-inf"
            ]
        );
    }

    #[test]
    fn query_cells() {
        assert_eq!(
            outputs(cell),
            [
                "0",
                "1",
                "-1",
                "20",
                "0.5",
                "0.001",
                "1e-5",
                "0.224",
                "0.333333",
                "-0.666667",
                "15.0178",
                "99999.5",
                "100000",
                "123457",
                "3.012e8",
                "1.2e-14",
                "0.00099996",
                "NaN",
                "inf",
                "-inf"
            ]
        );
    }

    #[test]
    fn statistics_in_text() {
        assert_eq!(
            outputs(stat),
            [
                "0",
                "1.000",
                "-1.000",
                "20.00",
                "0.5000",
                "0.001000",
                "1.000e-5",
                "0.2240",
                "0.3333",
                "-0.6667",
                "15.02",
                "100000",
                "100000",
                "123457",
                "3.012e8",
                "1.200e-14",
                "1.000e-3",
                "NaN",
                "inf",
                "-inf"
            ]
        );
    }

    #[test]
    fn train_metrics() {
        assert_eq!(
            VALUES.iter().map(|&v| metric(Some(v))).collect::<Vec<_>>(),
            [
                "0.0000",
                "1.0000",
                "-1.0000",
                "20.0000",
                "0.5000",
                "0.0010",
                "1.000e-5",
                "0.2240",
                "0.3333",
                "-0.6667",
                "15.0178",
                "1.000e5",
                "1.000e5",
                "1.235e5",
                "3.012e8",
                "1.200e-14",
                "1.000e-3",
                "NaN",
                "inf",
                "-inf"
            ]
        );
        assert_eq!(metric(None), "n/a");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0.95), "95");
        assert_eq!(percent(0.975), "97.5");
        assert_eq!(percent(0.5), "50");
        assert_eq!(percent(0.999), "99.9");
    }

    #[test]
    fn axis_labels() {
        assert_eq!(
            outputs(axis),
            [
                "0",
                "1",
                "−1",
                "20",
                "0.5",
                "0.001",
                "10⁻⁵",
                "0.224",
                "0.3333",
                "−0.6667",
                "15.02",
                "100000",
                "10⁵",
                "1.23×10⁵",
                "3.01×10⁸",
                "1.2×10⁻¹⁴",
                "10⁻³",
                "NaN",
                "+inf",
                "−inf"
            ]
        );
        assert_eq!(sci(-1e-7, 3), "−10⁻⁷");
        assert_eq!(sci(9.996e3, 3), "10⁴");
        assert_eq!(superscript(-12), "⁻¹²");
        assert_eq!(tidy("-0.000".into()), "0");
    }
}

/// Orders text naturally: runs of digits compare as numbers (`depth=4` before
/// `depth=12`, `d4-…` before `d12-…`), whole numbers numerically (`0.5` before `1`),
/// everything else as text.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
        return x.total_cmp(&y).then_with(|| a.cmp(b));
    }
    let (mut i, mut j) = (a.as_bytes(), b.as_bytes());
    while !i.is_empty() && !j.is_empty() {
        let (x, y) = (i[0], j[0]);
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let nx = i.iter().take_while(|c| c.is_ascii_digit()).count();
            let ny = j.iter().take_while(|c| c.is_ascii_digit()).count();
            let (dx, dy) = (&i[..nx], &j[..ny]);
            let strip = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
            let (tx, ty) = (&dx[strip(dx)..], &dy[strip(dy)..]);
            let o = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
            if o != Ordering::Equal {
                return o;
            }
            i = &i[nx..];
            j = &j[ny..];
        } else {
            if x != y {
                return x.cmp(&y);
            }
            i = &i[1..];
            j = &j[1..];
        }
    }
    i.len().cmp(&j.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod natural_tests {
    use super::natural_cmp;

    #[test]
    fn numbers_sort_as_numbers() {
        let mut v = vec![
            "depth=24",
            "depth=4",
            "depth=12",
            "1/sqrt(depth)",
            "1",
            "0.5",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "0.5",
                "1",
                "1/sqrt(depth)",
                "depth=4",
                "depth=12",
                "depth=24"
            ]
        );
        let mut ids = vec!["d12-res-seed0-aa", "d4-res-seed10-bb", "d4-res-seed2-cc"];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            ids,
            ["d4-res-seed2-cc", "d4-res-seed10-bb", "d12-res-seed0-aa"]
        );
    }
}
