//! The line panel shared by the band figures and the error-bar figure: series of points
//! (bands, dashed theory curves, error bars) are classified (drawable, gap, at the log
//! floor), the axes chosen, notes collected, and everything drawn with its legend.

use anyhow::Result;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::canvas::{caption_height, text_size, Rect, Root};
use super::legend::{layout_legend, Legend, Swatch};
use super::notes::{count, draw_no_data, notes_strip, place_notes, sample_polyline};
use super::style::{font, AXIS_DESC_PX, GRID_BOLD, GRID_LIGHT, PANEL_TITLE_PX, TICK_PX};
use super::ticks::{short_num, Axis, Extent, Fmt};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    /// Mean line with a mean ± spread band.
    Band,
    /// Dashed line, no spread.
    Dashed((i32, i32)),
    /// Markers joined by a thin line, with error bars of ± spread.
    Errors,
}

pub(super) struct Series<'a> {
    pub(super) label: String,
    pub(super) kind: Kind,
    pub(super) color: RGBColor,
    pub(super) xs: &'a [f64],
    pub(super) ys: &'a [f64],
    pub(super) spread: Option<&'a [f64]>,
    /// Explicit `(low, high)` edges of the band at each point (e.g. quantiles over seeds);
    /// when set it is used instead of `y ± spread`.
    pub(super) range: Option<(&'a [f64], &'a [f64])>,
    /// Horizontal shift in data units (dodging of error bars).
    pub(super) dx: f64,
}

pub(super) struct LinePanel<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) log_y: bool,
    pub(super) series: Vec<Series<'a>>,
    pub(super) notes: Vec<String>,
    /// Use the distinct x values as ticks when there are few (depth axes).
    pub(super) x_ticks_at_data: bool,
    /// Fraction of the x span padded on each side.
    pub(super) x_pad: f64,
    /// Height reserved for the legend at least (aligns the panels of a row).
    pub(super) legend_min_h: u32,
    /// The panel draws its own legend (false when the figure draws one shared legend).
    pub(super) own_legend: bool,
}

/// One classified point of a series, in data values.
#[derive(Clone, Copy, Debug)]
enum Pt {
    /// Not drawable: breaks the line.
    Gap,
    /// A finite value ≤ 0 on a log axis: drawn at the floor.
    Floor { x: f64 },
    /// Drawable; `spread` is `(low, high)` when the spread is usable.
    Ok {
        x: f64,
        y: f64,
        spread: Option<(f64, f64)>,
    },
}

struct Classified {
    pts: Vec<Pt>,
    notes: Vec<String>,
    clipped_low: usize,
}

fn classify(s: &Series<'_>, log: bool, x_ext: &mut Extent, y_ext: &mut Extent) -> Classified {
    let mut notes = Vec::new();
    let label = if s.label.is_empty() {
        "series".to_string()
    } else {
        s.label.clone()
    };
    let mut n = s.xs.len().min(s.ys.len());
    if let Some(sp) = s.spread {
        n = n.min(sp.len());
    }
    if let Some((lo, hi)) = s.range {
        n = n.min(lo.len()).min(hi.len());
    }
    let lens: Vec<usize> = [
        Some(s.xs.len()),
        Some(s.ys.len()),
        s.spread.map(<[f64]>::len),
        s.range.map(|r| r.0.len()),
        s.range.map(|r| r.1.len()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if lens.iter().any(|&l| l != n) {
        let lens: Vec<String> = lens.iter().map(usize::to_string).collect();
        notes.push(format!(
            "{label}: vector lengths {} differ — using the first {n}",
            lens.join("/")
        ));
    }
    let mut pts = Vec::with_capacity(n);
    let (mut bad, mut nonpos, mut bad_spread, mut clipped_low) = (0, 0, 0, 0);
    let mut first_bad: Option<usize> = None;
    for i in 0..n {
        let shifted = s.xs[i] + s.dx;
        let x = if shifted.is_finite() {
            shifted
        } else {
            s.xs[i]
        };
        let y = s.ys[i];
        if !x.is_finite() || !y.is_finite() {
            bad += 1;
            first_bad.get_or_insert(i);
            pts.push(Pt::Gap);
            continue;
        }
        x_ext.add(x);
        if log && y <= 0.0 {
            nonpos += 1;
            pts.push(Pt::Floor { x });
            continue;
        }
        y_ext.add(y);
        let edges = match (s.range, s.spread) {
            (Some((lo, hi)), _) => Some((lo[i], hi[i])),
            (None, Some(sp)) if sp[i].is_finite() && sp[i] >= 0.0 => Some((y - sp[i], y + sp[i])),
            (None, Some(_)) => Some((f64::NAN, f64::NAN)),
            (None, None) => None,
        };
        let spread = match edges {
            None => None,
            Some((lo, hi)) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
                bad_spread += 1;
                None
            }
            Some((lo, hi)) => {
                y_ext.add(hi);
                if !log {
                    y_ext.add(lo);
                } else if lo > 0.0 {
                    // A lower edge far below the mean would squash the plot: it is allowed
                    // two decades below the mean and clamped beyond.
                    y_ext.add(lo.max(y / 100.0));
                } else {
                    clipped_low += 1;
                }
                Some((lo, hi))
            }
        };
        pts.push(Pt::Ok { x, y, spread });
    }
    if bad > 0 {
        let i0 = first_bad.unwrap_or(0);
        let suffix = pts[i0..].iter().all(|p| matches!(p, Pt::Gap));
        let at =
            s.xs.get(i0)
                .copied()
                .filter(|x| x.is_finite())
                .map(|x| format!("x = {}", short_num(x)))
                .unwrap_or_else(|| format!("point #{i0}"));
        if bad == n {
            notes.push(format!(
                "{label}: all {n} values not finite (NaN/inf) — nothing to draw"
            ));
        } else if suffix {
            notes.push(format!(
                "{label}: not finite from {at} on ({bad} of {n} points) — diverged?"
            ));
        } else {
            notes.push(format!(
                "{label}: {bad} of {n} points not finite (first at {at}) — gaps in the line"
            ));
        }
    }
    if nonpos > 0 && nonpos < n - bad {
        notes.push(format!(
            "{label}: {nonpos} of {n} values ≤ 0 — drawn at the axis bottom (hollow markers)"
        ));
    }
    if bad_spread > 0 {
        notes.push(format!(
            "{label}: spread not finite or negative at {} — no band/bar there",
            count(bad_spread, "point")
        ));
    }
    Classified {
        pts,
        notes,
        clipped_low,
    }
}

/// The legend of a line panel `width` pixels wide.
pub(super) fn panel_legend(root: &Root<'_>, p: &LinePanel<'_>, width: u32) -> Result<Legend> {
    let items: Vec<(String, Swatch)> = p
        .series
        .iter()
        .map(|s| {
            let sw = match s.kind {
                Kind::Band => Swatch::Band(s.color),
                Kind::Dashed(d) => Swatch::Dashed(s.color, d),
                Kind::Errors => Swatch::Errors(s.color),
            };
            (s.label.clone(), sw)
        })
        .filter(|(l, _)| !l.is_empty())
        .collect();
    layout_legend(root, items, width as i32 - 60)
}

/// Draws one line panel into `area` (which gets a legend strip at its bottom).
pub(super) fn draw_line_panel(root: &Root<'_>, area: &Root<'_>, p: &LinePanel<'_>) -> Result<()> {
    let mut notes = p.notes.clone();
    let (mut x_ext, mut y_ext) = (Extent::new(), Extent::new());
    let mut classified = Vec::with_capacity(p.series.len());
    for s in &p.series {
        let c = classify(s, p.log_y, &mut x_ext, &mut y_ext);
        notes.extend(c.notes.iter().cloned());
        classified.push(c);
    }
    let any_point = classified
        .iter()
        .any(|c| c.pts.iter().any(|q| !matches!(q, Pt::Gap)));
    if p.series.is_empty() || !any_point || x_ext.is_empty() {
        return draw_no_data(area, p.title, &notes, p.notes.len());
    }

    let (aw, ah) = area.dim_in_pixel();
    let legend = if p.own_legend {
        panel_legend(root, p, aw)?
    } else {
        layout_legend(root, Vec::new(), 0)?
    };
    let legend_h = legend.height().max(p.legend_min_h);
    let (chart_area, _) = area.split_vertically(ah.saturating_sub(legend_h));
    let (_, ch) = chart_area.dim_in_pixel();

    // Axes.
    let y_target = ((ch as usize).saturating_sub(120) / 70).clamp(3, 8);
    let x_target = ((aw as usize).saturating_sub(160) / 120).clamp(3, 8);
    let (y_axis, floor_t) = if p.log_y {
        if y_ext.is_empty() {
            notes.push(if all_zero(p) {
                "all values are 0 (e.g. no gradient signal) — shown at the floor 1e−30".into()
            } else {
                "all values are ≤ 0 — shown at the floor 1e−30".into()
            });
            let a = Axis::log(1e-31, 1e-29, y_target);
            (a, -30.0)
        } else {
            let a = Axis::log(y_ext.min, y_ext.max, y_target);
            let lo = a.lo;
            (a, lo)
        }
    } else {
        let a = Axis::linear(y_ext.min, y_ext.max, 0.05, true, y_target);
        let lo = a.lo;
        (a, lo)
    };
    let mut x_axis = Axis::linear(x_ext.min, x_ext.max, p.x_pad, false, x_target);
    if p.x_ticks_at_data {
        let mut xs: Vec<f64> = p
            .series
            .iter()
            .flat_map(|s| s.xs.iter().copied())
            .filter(|x| x.is_finite())
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        if (2..=12).contains(&xs.len()) {
            x_axis.ticks = xs;
            x_axis.fmt = Fmt::Short;
        }
    }
    for (s, c) in p.series.iter().zip(&classified) {
        if c.clipped_low > 0 && p.log_y {
            let what = match s.kind {
                Kind::Errors => "mean − err ≤ 0 at {} — bar cut at the axis bottom",
                _ => "mean − std ≤ 0 at {} — band cut at the axis bottom",
            };
            notes.push(format!(
                "{}: {}",
                s.label,
                what.replace("{}", &count(c.clipped_low, "point"))
            ));
        }
    }

    // Notes go in a strip at the top of the plot area that the y axis keeps free of data.
    let ylab_w = tick_label_width(root, &y_axis)?;
    let caption_h = caption_height(root, p.title)?;
    let plot_w_est = aw as i32 - 40 - (ylab_w + 48);
    let plot_h_est = ch as i32 - 20 - caption_h - 62;
    let (notes_box, headroom) =
        notes_strip(root, &notes, p.notes.len(), (plot_w_est, plot_h_est), 0.45)?;
    let y_axis = match headroom {
        Some(frac) => y_axis.with_headroom(frac, y_target),
        None => y_axis,
    };

    // Chart frame.
    let ylab_w = tick_label_width(root, &y_axis)?;
    let xf = |v: &f64| x_axis.label(*v);
    let yf = |v: &f64| y_axis.label(*v);
    let mut builder = ChartBuilder::on(&chart_area);
    builder
        .margin(10)
        .margin_right(30)
        .x_label_area_size(62)
        .y_label_area_size(ylab_w as u32 + 48);
    if !p.title.trim().is_empty() {
        builder.caption(p.title, font(PANEL_TITLE_PX));
    }
    let mut chart = builder.build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
    chart
        .configure_mesh()
        .x_desc(p.x_label)
        .y_desc(p.y_label)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let plot = Rect::of_pixels(chart.plotting_area().get_pixel_range());

    // Data: bands first (under every line), then lines, then dashed theory on top.
    let tx = |x: f64| x_axis.clamp(x);
    let ty = |y: f64| y_axis.t(y).map(|t| y_axis.clamp(t));
    let mut occupied: Vec<(i32, i32)> = Vec::new();
    let pa = chart.plotting_area();
    let order = |k: Kind| match k {
        Kind::Band => 0,
        Kind::Errors => 1,
        Kind::Dashed(_) => 2,
    };
    for pass in 0..3 {
        for (s, c) in p.series.iter().zip(&classified) {
            if order(s.kind) != pass {
                continue;
            }
            let segments = c
                .pts
                .split(|q| matches!(q, Pt::Gap))
                .filter(|g| !g.is_empty());
            for seg in segments {
                let line: Vec<(f64, f64)> = seg
                    .iter()
                    .filter_map(|q| match *q {
                        Pt::Floor { x } => Some((tx(x), floor_t)),
                        Pt::Ok { x, y, .. } => Some((tx(x), ty(y).unwrap_or(floor_t))),
                        Pt::Gap => None,
                    })
                    .collect();
                let floors: Vec<bool> = seg
                    .iter()
                    .filter(|q| !matches!(q, Pt::Gap))
                    .map(|q| matches!(q, Pt::Floor { .. }))
                    .collect();
                // Values drawn at the floor get hollow markers.
                let marker = |pt: (f64, f64), r: u32, floor: bool| -> Result<()> {
                    if floor {
                        pa.draw(&Circle::new(pt, r + 1, WHITE.filled()))?;
                        pa.draw(&Circle::new(pt, r + 1, s.color.stroke_width(2)))?;
                    } else {
                        pa.draw(&Circle::new(pt, r, s.color.filled()))?;
                    }
                    Ok(())
                };
                let edges: Vec<Option<(f64, f64, f64)>> = seg
                    .iter()
                    .map(|q| match *q {
                        Pt::Ok {
                            x,
                            spread: Some((lo, hi)),
                            ..
                        } => Some((
                            tx(x),
                            ty(lo).unwrap_or(y_axis.lo),
                            ty(hi).unwrap_or(y_axis.lo),
                        )),
                        _ => None,
                    })
                    .collect();
                match s.kind {
                    Kind::Band => {
                        for run in edges.split(Option::is_none).filter(|r| !r.is_empty()) {
                            let run: Vec<(f64, f64, f64)> = run.iter().flatten().copied().collect();
                            if run.len() == 1 {
                                let (x, lo, hi) = run[0];
                                pa.draw(&PathElement::new(
                                    vec![(x, lo), (x, hi)],
                                    s.color.mix(0.5).stroke_width(6),
                                ))?;
                                continue;
                            }
                            let mut poly: Vec<(f64, f64)> =
                                run.iter().map(|e| (e.0, e.2)).collect();
                            poly.extend(run.iter().rev().map(|e| (e.0, e.1)));
                            pa.draw(&Polygon::new(poly.clone(), s.color.mix(0.22).filled()))?;
                            let upper: Vec<(i32, i32)> = run
                                .iter()
                                .map(|e| chart.backend_coord(&(e.0, e.2)))
                                .collect();
                            let lower: Vec<(i32, i32)> = run
                                .iter()
                                .map(|e| chart.backend_coord(&(e.0, e.1)))
                                .collect();
                            sample_polyline(&upper, &mut occupied);
                            sample_polyline(&lower, &mut occupied);
                        }
                        if line.len() == 1 {
                            marker(line[0], 5, floors[0])?;
                        } else {
                            pa.draw(&PathElement::new(line.clone(), s.color.stroke_width(3)))?;
                            for (&pt, &floor) in line.iter().zip(&floors) {
                                if floor || line.len() <= 40 {
                                    marker(pt, 3, floor)?;
                                }
                            }
                        }
                    }
                    Kind::Errors => {
                        let cap = (x_axis.hi / 2.0 - x_axis.lo / 2.0) * 0.014;
                        for &(x, lo, hi) in edges.iter().flatten() {
                            pa.draw(&PathElement::new(
                                vec![(x, lo), (x, hi)],
                                s.color.stroke_width(2),
                            ))?;
                            // No cap where the bar was cut at the axis bottom.
                            let cut = lo <= y_axis.lo + 1e-9 * (y_axis.hi - y_axis.lo);
                            let caps: &[f64] = if cut { &[hi] } else { &[lo, hi] };
                            for &yy in caps {
                                pa.draw(&PathElement::new(
                                    vec![(tx(x - cap), yy), (tx(x + cap), yy)],
                                    s.color.stroke_width(2),
                                ))?;
                            }
                            sample_polyline(
                                &[chart.backend_coord(&(x, lo)), chart.backend_coord(&(x, hi))],
                                &mut occupied,
                            );
                        }
                        if line.len() > 1 {
                            pa.draw(&PathElement::new(line.clone(), s.color.stroke_width(2)))?;
                        }
                        for (&pt, &floor) in line.iter().zip(&floors) {
                            marker(pt, 5, floor)?;
                        }
                    }
                    Kind::Dashed((dash, gap)) => {
                        if line.len() == 1 {
                            pa.draw(&Cross::new(line[0], 6, s.color.stroke_width(2)))?;
                        } else {
                            pa.draw(&DashedPathElement::new(
                                line.clone(),
                                dash,
                                gap,
                                s.color.stroke_width(2),
                            ))?;
                        }
                    }
                }
                let pix: Vec<(i32, i32)> = line.iter().map(|q| chart.backend_coord(q)).collect();
                sample_polyline(&pix, &mut occupied);
            }
        }
    }

    legend.draw(root, plot.x0, chart_area.get_base_pixel().1 + ch as i32)?;
    match &notes_box {
        Some(nb) => place_notes(root, plot, nb, &occupied, true),
        None => Ok(()),
    }
}

/// Width in pixels of the widest tick label of `axis`.
fn tick_label_width(root: &Root<'_>, axis: &Axis) -> Result<i32> {
    let style = font(TICK_PX);
    let mut w = 0;
    for t in &axis.ticks {
        w = w.max(text_size(root, &axis.label(*t), &style)?.0);
    }
    Ok(w)
}

/// Whether every finite value of a panel's series is exactly zero.
fn all_zero(p: &LinePanel<'_>) -> bool {
    p.series
        .iter()
        .flat_map(|s| s.ys.iter())
        .filter(|v| v.is_finite())
        .all(|v| *v == 0.0)
}
