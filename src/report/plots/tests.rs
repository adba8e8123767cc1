//! Tests of the figure kinds: every entry point writes a PNG of the documented size,
//! with real content, and survives NaN, infinities, zeros on log axes and empty input.
//! Set `RESWEEP_PLOT_SAMPLES` to a directory to keep the sample figures and look at them.

use super::bands::bands_buffer;
use super::canvas::{render, Size};
use super::difference::{differences_buffer, zero_on_axis};
use super::error_bars::error_bars_buffer;
use super::heatmap::heatmap_buffer;
use super::landscape::landscape_buffer;
use super::scatter::scatter_buffer;
use super::style::{font, FIG_TITLE_H};
use super::*;
use crate::report::theory;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).expect("figure written");
    assert!(bytes.len() >= 24, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR chunk first");
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (w, h)
}

fn distinct_colors(buf: &[u8]) -> usize {
    buf.chunks_exact(3)
        .map(|p| (p[0], p[1], p[2]))
        .collect::<HashSet<_>>()
        .len()
}

fn non_white_fraction(buf: &[u8]) -> f64 {
    let px = buf.chunks_exact(3);
    let n = px.len() as f64;
    px.filter(|p| p != &[255, 255, 255]).count() as f64 / n
}

fn assert_rich(size: Size, buf: &[u8], min_colors: usize) {
    assert_eq!(buf.len(), size.0 as usize * size.1 as usize * 3);
    let colors = distinct_colors(buf);
    assert!(colors >= min_colors, "only {colors} distinct colours");
    let ink = non_white_fraction(buf);
    assert!(ink > 0.01, "almost blank: {ink}");
}

fn assert_png(path: &Path, size: Size) {
    assert_eq!(png_size(path), size);
    let len = fs::metadata(path).unwrap().len();
    assert!(len > 8_000, "suspiciously small PNG: {len} bytes");
}

/// Where sample figures go: `$RESWEEP_PLOT_SAMPLES` when set (to look at them),
/// else a temporary directory.
fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("RESWEEP_PLOT_SAMPLES") {
        Some(d) => {
            let d = PathBuf::from(d);
            fs::create_dir_all(&d).unwrap();
            (None, d)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Small deterministic noise in [-1, 1].
fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn loss_bands() -> Vec<Band> {
    let xs: Vec<f64> = (0..=100).map(|i| i as f64 * 10.0).collect();
    let mut r = noise(1);
    let res_mean: Vec<f64> = xs
        .iter()
        .map(|s| 15.0 * (-s / 60.0).exp() + 0.03 + 0.01 * r().abs())
        .collect();
    let res_std: Vec<f64> = res_mean.iter().map(|m| 0.3 * m).collect();
    let plain_mean: Vec<f64> = xs.iter().map(|_| 0.333 + 0.002 * r()).collect();
    let plain_std = vec![0.004; xs.len()];
    vec![
        Band {
            label: "PlainMLP".into(),
            xs: xs.clone(),
            mean: plain_mean,
            std: plain_std,
            n: 10,
            range: None,
        },
        Band {
            label: "ResMLP".into(),
            xs,
            mean: res_mean,
            std: res_std,
            n: 10,
            range: None,
        },
    ]
}

fn layer_panel(log_y: bool) -> Panel {
    let s = 1.0 / 20f64.sqrt();
    let layers: Vec<f64> = (1..=20).map(|l| l as f64).collect();
    let plain = theory::plain_layer_predictions(20, s);
    let res = theory::res_layer_predictions(20, s);
    let mut r = noise(7);
    let band = |label: &str, preds: &[theory::LayerPrediction], r: &mut dyn FnMut() -> f64| Band {
        label: label.into(),
        xs: layers.clone(),
        mean: preds[1..]
            .iter()
            .map(|p| p.std * (1.0 + 0.1 * r()))
            .collect(),
        std: preds[1..].iter().map(|p| p.std * 0.15).collect(),
        n: 10,
        range: None,
    };
    Panel {
        title: "Activation std at init".into(),
        x_label: "layer".into(),
        y_label: "std of layer output".into(),
        log_y,
        bands: vec![
            band("PlainMLP", &plain, &mut r),
            band("ResMLP", &res, &mut r),
        ],
        curves: vec![
            Curve {
                label: "mean-field theory (plain)".into(),
                xs: layers.clone(),
                ys: plain[1..].iter().map(|p| p.std).collect(),
            },
            Curve {
                label: "mean-field theory (res)".into(),
                xs: layers.clone(),
                ys: res[1..].iter().map(|p| p.std).collect(),
            },
        ],
        notes: vec!["init scale 1/√20, width 64, batch 64".into()],
    }
}

/// The figure the report draws at init: measured mean ± std over seeds beside the
/// mean-field predictions (1×3 layout).
#[test]
fn init_figure_with_theory_overlay() {
    let (_keep, dir) = out_dir();
    let s = 1.0 / 20f64.sqrt();
    let layers: Vec<f64> = (1..=20).map(|l| l as f64).collect();
    let plain = theory::plain_layer_predictions(20, s);
    let res = theory::res_layer_predictions(20, s);
    let mut r = noise(11);
    let mut measured = |label: &str, ys: Vec<f64>| Band {
        label: label.into(),
        xs: layers.clone(),
        mean: ys.iter().map(|y| y * (1.0 + 0.08 * r())).collect(),
        std: ys.iter().map(|y| y * 0.2).collect(),
        n: 10,
        range: None,
    };
    let theory_curve = |label: &str, ys: Vec<f64>| Curve {
        label: label.into(),
        xs: layers.clone(),
        ys,
    };
    let pick = |p: &[theory::LayerPrediction], f: fn(&theory::LayerPrediction) -> f64| {
        p[1..].iter().map(f).collect::<Vec<f64>>()
    };
    let grad_plain = theory::plain_weight_grad_norm(20, s, 64, 64);
    let grad_res: Vec<f64> = (1..=20).map(|l| 0.5 + 0.02 * l as f64).collect();
    // One activation panel: "mean" or "std" of the layer output, measured and predicted.
    let mut activation = |stat: &str, f: fn(&theory::LayerPrediction) -> f64| Panel {
        title: format!("Activation {stat}"),
        x_label: "layer".into(),
        y_label: format!("{stat} of layer output"),
        log_y: true,
        bands: vec![
            measured("PlainMLP", pick(&plain, f)),
            measured("ResMLP", pick(&res, f)),
        ],
        curves: vec![
            theory_curve("theory, plain", pick(&plain, f)),
            theory_curve("theory, res", pick(&res, f)),
        ],
        notes: vec![],
    };
    let panels = vec![
        activation("mean", |p| p.mean),
        activation("std", |p| p.std),
        Panel {
            title: "Weight-gradient norm".into(),
            x_label: "layer".into(),
            y_label: "‖∇W‖ (Frobenius)".into(),
            log_y: true,
            bands: vec![
                measured("PlainMLP", grad_plain.clone()),
                measured("ResMLP", grad_res),
            ],
            curves: vec![theory_curve("theory, plain", grad_plain)],
            notes: vec!["no ResMLP gradient theory (see theory.rs)".into()],
        },
    ];
    let p = dir.join("init_theory.png");
    bands_figure(
        &p,
        "At init: measured (10 seeds) vs mean-field theory",
        &panels,
    )
    .unwrap();
    assert_png(&p, (2100, FIG_TITLE_H + 620));
}

#[test]
fn font_registers_once_and_text_renders() {
    ensure_font().unwrap();
    ensure_font().unwrap();
    let buf = render((300, 80), |root| {
        root.draw_text("±10⁻²⁷ ≤ − ×", &font(24.0), (10, 20))?;
        Ok(())
    })
    .unwrap();
    assert!(non_white_fraction(&buf) > 0.01, "no text pixels");
}

#[test]
fn bands_figure_writes_png_of_expected_size() {
    let (_keep, dir) = out_dir();
    let loss = Panel {
        title: "Training loss".into(),
        x_label: "step".into(),
        y_label: "MSE".into(),
        log_y: true,
        bands: loss_bands(),
        curves: vec![],
        notes: vec![],
    };
    let one = dir.join("bands_one.png");
    bands_figure(
        &one,
        "Distant Identity, depth 20",
        std::slice::from_ref(&loss),
    )
    .unwrap();
    assert_png(&one, (1000, 650));
    let (size, buf) = bands_buffer("t", std::slice::from_ref(&loss)).unwrap();
    assert_rich(size, &buf, 200);

    let four = dir.join("bands_four.png");
    let mut lin = layer_panel(false);
    lin.title = "Activation std (linear y)".into();
    let panels = [loss.clone(), layer_panel(true), lin, loss];
    bands_figure(&four, "Four panels", &panels).unwrap();
    assert_png(&four, (1600, FIG_TITLE_H + 1200));
    let two = dir.join("bands_two.png");
    bands_figure(&two, "Two panels", &panels[..2]).unwrap();
    assert_png(&two, (1640, FIG_TITLE_H + 620));
}

#[test]
fn bands_survive_nan_inf_zero_and_empty() {
    let (_keep, dir) = out_dir();
    let xs: Vec<f64> = (0..50).map(|i| i as f64 * 10.0).collect();
    let diverged: Vec<f64> = xs
        .iter()
        .map(|&x| if x >= 120.0 { f64::NAN } else { 10.0 + x })
        .collect();
    let holes: Vec<f64> = xs
        .iter()
        .enumerate()
        .map(|(i, _)| match i % 7 {
            0 => f64::INFINITY,
            3 => 0.0,
            _ => 1.0 + i as f64,
        })
        .collect();
    let panels = vec![
        Panel {
            title: "diverged + holes (log)".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            log_y: true,
            bands: vec![
                Band {
                    label: "ResMLP".into(),
                    xs: xs.clone(),
                    mean: diverged,
                    std: vec![f64::NAN; 50],
                    n: 10,
                    range: None,
                },
                Band {
                    label: "PlainMLP".into(),
                    xs: xs.clone(),
                    mean: holes,
                    std: vec![5.0; 49],
                    n: 10,
                    range: None,
                },
            ],
            curves: vec![],
            notes: vec!["diverged: 3 of 10 seeds not finite after step 120".into()],
        },
        Panel {
            title: "all zero (log)".into(),
            x_label: "layer".into(),
            y_label: "grad norm".into(),
            log_y: true,
            bands: vec![Band {
                label: "PlainMLP".into(),
                xs: xs.clone(),
                mean: vec![0.0; 50],
                std: vec![0.0; 50],
                n: 5,
                range: None,
            }],
            ..Default::default()
        },
        Panel {
            title: "all NaN".into(),
            log_y: false,
            bands: vec![Band {
                label: "ResMLP".into(),
                xs: xs.clone(),
                mean: vec![f64::NAN; 50],
                std: vec![f64::NAN; 50],
                n: 5,
                range: None,
            }],
            ..Default::default()
        },
        Panel {
            title: "empty".into(),
            ..Default::default()
        },
    ];
    let p = dir.join("bands_robust.png");
    bands_figure(&p, "Robustness", &panels).unwrap();
    assert_png(&p, (1600, FIG_TITLE_H + 1200));
    let p = dir.join("bands_empty.png");
    bands_figure(&p, "No panels", &[]).unwrap();
    assert_eq!(png_size(&p), (1000, 650));
    // One constant point, one single-point band.
    let single = Panel {
        title: "single point".into(),
        log_y: true,
        bands: vec![Band {
            label: "ResMLP".into(),
            xs: vec![3.0],
            mean: vec![2.0],
            std: vec![1.0],
            n: 1,
            range: None,
        }],
        curves: vec![Curve {
            label: "theory".into(),
            xs: vec![3.0],
            ys: vec![2.0],
        }],
        ..Default::default()
    };
    let (size, buf) = bands_buffer("single", &[single]).unwrap();
    assert_rich(size, &buf, 50);
}

fn heat(title: &str, layers: usize, steps: usize, f: impl Fn(usize, usize) -> f64) -> Heat {
    Heat {
        title: title.into(),
        layers,
        steps: (0..steps).map(|s| (s * 50) as f64).collect(),
        values: (0..steps)
            .map(|s| (1..=layers).map(|l| f(s, l)).collect())
            .collect(),
        notes: vec![],
        grey: None,
    }
}

#[test]
fn heatmap_pair_shares_scale_and_survives_bad_cells() {
    let (_keep, dir) = out_dir();
    let plain = heat("PlainMLP", 20, 21, |_, _| -13.5);
    let res = heat("ResMLP", 20, 21, |s, l| {
        -1.0 + 0.05 * l as f64 - 0.1 * s as f64
    });
    let p = dir.join("heat.png");
    heatmap_pair(&p, "log10 weight-gradient norm", &plain, &res, "log10 ‖∇W‖").unwrap();
    assert_png(&p, (1700, 720));
    let (size, buf) = heatmap_buffer("t", &plain, &res, "log10 ‖∇W‖").unwrap();
    assert_rich(size, &buf, 200);

    let mut bad = heat("with −inf and NaN", 12, 300, |s, l| (s * l) as f64);
    bad.values[3][2] = f64::NEG_INFINITY;
    bad.values[10][5] = f64::NAN;
    bad.values[20].truncate(4);
    bad.notes.push("caller note".into());
    let p = dir.join("heat_bad.png");
    heatmap_pair(&p, "Robustness", &bad, &Heat::default(), "value").unwrap();
    assert_png(&p, (1700, 720));
    let p = dir.join("heat_empty.png");
    heatmap_pair(&p, "", &Heat::default(), &Heat::default(), "value").unwrap();
    assert_eq!(png_size(&p), (1700, 720));
    let constant = heat("constant", 3, 2, |_, _| 0.0);
    let p = dir.join("heat_constant.png");
    heatmap_pair(&p, "", &constant, &constant, "value").unwrap();
    assert_eq!(png_size(&p), (1700, 720));
}

#[test]
fn landscape_grid_shares_one_scale_and_survives_bad_cells() {
    let (_keep, dir) = out_dir();
    let axis: Vec<f64> = (0..21).map(|i| (i as f64 - 10.0) / 10.0).collect();
    let bowl = |depth: f64| Field {
        title: format!("bowl {depth}"),
        axis: axis.clone(),
        values: (0..21 * 21)
            .map(|k| depth * (axis[k % 21].powi(2) + axis[k / 21].powi(2)))
            .collect(),
        notes: vec!["a note".into()],
    };
    let mut holed = bowl(8.0);
    holed.values[5] = f64::NAN;
    holed.values[7] = f64::NEG_INFINITY;
    let rows = vec![vec![bowl(1.0), bowl(4.0)], vec![holed, Field::default()]];
    let p = dir.join("landscape.png");
    landscape_grid(&p, "Loss landscapes", &rows, "log10 loss").unwrap();
    assert_png(&p, (2 * 460 + 200, 2 * 460 + 56));
    let (size, buf) = landscape_buffer("t", &rows, "log10 loss").unwrap();
    assert_rich(size, &buf, 200);
    // A constant field, and no panels at all, still draw.
    let flat = Field {
        values: vec![0.5; 9],
        axis: vec![-1.0, 0.0, 1.0],
        ..Field::default()
    };
    landscape_grid(&dir.join("flat.png"), "", &[vec![flat]], "v").unwrap();
    landscape_grid(&dir.join("none.png"), "", &[], "v").unwrap();
    assert_eq!(png_size(&dir.join("none.png")), (460 + 200, 460 + 56));
}

#[test]
fn paired_scatter_log_linear_and_empty() {
    let (_keep, dir) = out_dir();
    let mut r = noise(3);
    let pairs = |x_label: &str, f: &mut dyn FnMut(usize) -> (f64, f64)| Pairs {
        x_label: x_label.into(),
        y_label: "ResMLP".into(),
        points: (0..10)
            .map(|s| {
                let (x, y) = f(s);
                (x, y, format!("seed {s}"))
            })
            .collect(),
    };
    let groups = vec![
        (
            "final loss, depth 20".to_string(),
            pairs("PlainMLP", &mut |_| {
                (0.333 + 0.003 * r(), 0.03 * (1.0 + 0.5 * r()))
            }),
        ),
        (
            "difference (can be < 0)".to_string(),
            pairs("PlainMLP", &mut |s| (s as f64 - 4.0, 2.0 * s as f64 - 9.0)),
        ),
        (
            "with NaN".to_string(),
            pairs("PlainMLP", &mut |s| {
                if s == 2 {
                    (f64::NAN, 1.0)
                } else {
                    (1.0 + s as f64, f64::INFINITY.min(2.0 + s as f64))
                }
            }),
        ),
        ("empty".to_string(), Pairs::default()),
    ];
    let p = dir.join("scatter.png");
    paired_scatter(&p, "PlainMLP vs ResMLP per seed", &groups).unwrap();
    assert_png(&p, (1360, FIG_TITLE_H + 1360));
    let (size, buf) = scatter_buffer("t", &groups[..1]).unwrap();
    assert_eq!(size, (680, FIG_TITLE_H + 680));
    assert_rich(size, &buf, 100);
    let p = dir.join("scatter_empty.png");
    paired_scatter(&p, "nothing", &[]).unwrap();
    assert_eq!(png_size(&p), (680, FIG_TITLE_H + 680));
}

#[test]
fn paired_differences_zero_mean_interval_and_bad_values() {
    let (_keep, dir) = out_dir();
    let diffs = |f: &dyn Fn(usize) -> f64, mean: f64, ci: (f64, f64)| Diffs {
        y_label: "ResMLP − PlainMLP".into(),
        points: (0..10).map(|s| (s.to_string(), f(s))).collect(),
        mean,
        ci,
        notes: vec!["PlainMLP constant: 0.3329–0.3344 across seeds".into()],
    };
    let groups = vec![
        // Far from 0: the axis keeps to the differences.
        (
            "all below 0".to_string(),
            diffs(&|s| -0.27 + 0.001 * s as f64, -0.2655, (-0.268, -0.263)),
        ),
        // Around 0: 0 is drawn.
        (
            "both signs".to_string(),
            diffs(&|s| s as f64 - 4.0, 0.5, (-1.5, 2.5)),
        ),
        (
            "with NaN, no interval".to_string(),
            diffs(
                &|s| if s == 3 { f64::NAN } else { 1e4 * s as f64 },
                f64::NAN,
                (f64::NAN, f64::NAN),
            ),
        ),
        ("empty".to_string(), Diffs::default()),
    ];
    let p = dir.join("differences.png");
    paired_differences(&p, "ResMLP − PlainMLP per seed", &groups).unwrap();
    assert_png(&p, (1360, FIG_TITLE_H + 1360));
    let (size, buf) = differences_buffer("t", &groups[..1]).unwrap();
    assert_eq!(size, (680, FIG_TITLE_H + 680));
    assert_rich(size, &buf, 50);
    assert!(!zero_on_axis(-0.27, -0.261));
    assert!(zero_on_axis(-0.27, -0.13));
    assert!(zero_on_axis(5542.0, 18298.0));
    assert!(zero_on_axis(-1.0, 2.0));
}

#[test]
fn error_bars_log_and_robust() {
    let (_keep, dir) = out_dir();
    let depths = vec![5.0, 10.0, 20.0, 50.0];
    let series = vec![
        ErrorSeries {
            label: "PlainMLP".into(),
            xs: depths.clone(),
            mean: vec![0.05, 0.2, 0.333, 0.333],
            err: vec![0.01, 0.05, 0.002, 0.001],
        },
        ErrorSeries {
            label: "ResMLP".into(),
            xs: depths.clone(),
            mean: vec![0.01, 0.02, 0.03, 0.08],
            err: vec![0.004, 0.03, 0.01, 0.02],
        },
    ];
    let p = dir.join("error_bars.png");
    error_bars(
        &p,
        "Final loss vs depth",
        "depth",
        "final loss (mean ± std)",
        true,
        &series,
    )
    .unwrap();
    assert_png(&p, (1000, 650));
    let (size, buf) = error_bars_buffer("t", "depth", "loss", true, &series).unwrap();
    assert_rich(size, &buf, 100);

    let bad = vec![ErrorSeries {
        label: "ResMLP".into(),
        xs: depths.clone(),
        mean: vec![0.0, f64::NAN, 3e8, -1.0],
        err: vec![f64::INFINITY, 1.0, 1e8, 0.5],
    }];
    let p = dir.join("error_bars_bad.png");
    error_bars(&p, "Robustness", "depth", "loss", true, &bad).unwrap();
    assert_png(&p, (1000, 650));
    let p = dir.join("error_bars_empty.png");
    error_bars(&p, "Empty", "depth", "loss", false, &[]).unwrap();
    assert_eq!(png_size(&p), (1000, 650));
}

#[test]
fn extreme_values_do_not_panic() {
    let cases: Vec<(bool, Vec<f64>, Vec<f64>)> = vec![
        (false, vec![0.0, 1.0], vec![1e300, -1e300]),
        (false, vec![0.0, 1.0], vec![f64::MAX, f64::MIN]),
        (true, vec![0.0, 1.0], vec![1e-300, 1e300]),
        (true, vec![0.0, 1.0], vec![5e-324, 1.0]),
        (true, vec![3.0, 3.0, 3.0], vec![2.0, 2.0, 2.0]),
        (
            false,
            vec![f64::NAN, 1.0, f64::INFINITY],
            vec![1.0, f64::NAN, 2.0],
        ),
        (true, vec![0.0, 1.0, 2.0], vec![-1.0, -2.0, -3.0]),
        (false, vec![], vec![]),
    ];
    let (_keep, dir) = out_dir();
    for (i, (log_y, xs, ys)) in cases.into_iter().enumerate() {
        let n = ys.len();
        let panel = Panel {
            title: "extreme".into(),
            log_y,
            bands: vec![Band {
                label: "ResMLP".into(),
                xs: xs.clone(),
                mean: ys.clone(),
                std: vec![-1.0; n],
                n: 3,
                range: None,
            }],
            curves: vec![Curve {
                label: "theory".into(),
                xs: xs.clone(),
                ys: ys.clone(),
            }],
            notes: vec!["a very long caller note that has to be wrapped over several lines because it is far wider than the plot area of a single panel".into(); 12],
            ..Default::default()
        };
        let p = dir.join(format!("extreme_{i}.png"));
        bands_figure(&p, "extreme", &[panel]).unwrap();
        assert_eq!(png_size(&p), (1000, 650));
        let series = [ErrorSeries {
            label: "x".into(),
            xs: xs.clone(),
            mean: ys.clone(),
            err: vec![f64::NAN; n],
        }];
        error_bars_buffer("extreme", "x", "y", log_y, &series).unwrap();
        let pairs = Pairs {
            points: xs
                .iter()
                .zip(&ys)
                .map(|(x, y)| (*x, *y, String::new()))
                .collect(),
            ..Default::default()
        };
        scatter_buffer("extreme", &[("g".into(), pairs)]).unwrap();
        let heat = Heat {
            title: "extreme".into(),
            layers: 2,
            steps: xs.clone(),
            values: ys.iter().map(|y| vec![*y; 2]).collect(),
            notes: vec![],
            grey: None,
        };
        heatmap_buffer("extreme", &heat, &heat, "v").unwrap();
    }
}

#[test]
fn write_png_is_atomic_and_creates_dirs() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("nested/dir/fig.png");
    error_bars(&p, "x", "x", "y", false, &[]).unwrap();
    assert!(p.exists());
    let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

/// A band with explicit edges (the seeds' quantile range) draws its own edges, not
/// mean ± std, and an edge pair that is not finite or not ordered is a note, not a panic.
#[test]
fn range_band_draws_its_edges() {
    let xs: Vec<f64> = (1..=5).map(f64::from).collect();
    let panel = |range: (Vec<f64>, Vec<f64>)| Panel {
        title: "range".into(),
        log_y: true,
        bands: vec![Band {
            label: "PlainMLP: median, 10–90%".into(),
            xs: xs.clone(),
            mean: vec![1.0; 5],
            std: vec![0.0; 5],
            n: 10,
            range: Some(range),
        }],
        curves: vec![Curve {
            label: "theory".into(),
            xs: xs.clone(),
            ys: vec![2.0; 5],
        }],
        ..Default::default()
    };
    let narrow = bands_buffer("r", &[panel((vec![0.9; 5], vec![1.1; 5]))]).unwrap();
    let wide = bands_buffer("r", &[panel((vec![0.1; 5], vec![10.0; 5]))]).unwrap();
    assert_eq!(narrow.0, wide.0);
    assert_ne!(narrow.1, wide.1, "the edges change the drawing");
    let bad = (vec![0.5, f64::NAN, 2.0, 0.5, 0.5], vec![2.0, 2.0, 1.0, 2.0]);
    bands_buffer("r", &[panel(bad)]).unwrap();
}
