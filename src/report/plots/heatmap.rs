//! Heat-map pairs: two maps (layer on y, step on x) side by side with one shared colour
//! scale and a colour bar (gradient flow).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{caption_height, render, text_size, titled, write_png, Rect, Root, Size};
use super::notes::{draw_no_data, notes_strip, place_notes};
use super::style::{font, font_at, viridis, AXIS_DESC_PX, MISSING, PANEL_TITLE_PX, TICK_PX};
use super::ticks::{nice_ticks, short_num, Axis, Extent, Ticked};
use super::Heat;

/// Two heat maps (layer on y, step on x) side by side with one shared colour scale and a
/// labelled colour bar (range = finite values of both maps; a constant map is widened).
/// Values are coloured as given (see [`Heat::values`]). 1700×720 px.
pub fn heatmap_pair(
    path: &Path,
    title: &str,
    left: &Heat,
    right: &Heat,
    colorbar_label: &str,
) -> Result<()> {
    super::capture::offer(|| super::Figure::Heatmaps {
        title: title.into(),
        left: left.clone(),
        right: right.clone(),
        colorbar_label: colorbar_label.into(),
    });
    let (size, buf) = heatmap_buffer(title, left, right, colorbar_label)?;
    write_png(path, size, &buf)
}

/// Layer ticks: multiples of a 1-2-5 step giving at most about ten labels.
fn layer_ticks(layers: usize) -> Vec<f64> {
    let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .find(|s| layers / s <= 10)
        .unwrap_or(layers.max(1));
    let mut t: Vec<f64> = (1..=layers)
        .filter(|l| l % step == 0)
        .map(|l| l as f64)
        .collect();
    if step >= 5 || t.is_empty() {
        t.insert(0, 1.0);
    }
    t
}

/// x ticks of a heat map whose column `i` spans `[i, i + 1]`: `(position, label)`. Up to
/// eight columns, every column is labelled with its step. For more columns with strictly
/// increasing finite steps, round step values placed by linear interpolation
/// between the columns they fall between; otherwise evenly spaced columns labelled with
/// their step (or `#index` when the step is missing).
fn step_ticks(steps: &[f64], n: usize, target: usize) -> Vec<(f64, String)> {
    let increasing = n > 8
        && steps.len() == n
        && steps.iter().all(|s| s.is_finite())
        && steps.windows(2).all(|w| w[1] > w[0]);
    if increasing {
        let (values, _) = nice_ticks(steps[0], steps[n - 1], target);
        let ticks: Vec<(f64, String)> = values
            .into_iter()
            .map(|v| {
                let i = steps.partition_point(|s| *s <= v).clamp(1, n - 1) - 1;
                let f = (v - steps[i]) / (steps[i + 1] - steps[i]);
                let pos = (i as f64 + 0.5 + f).clamp(0.5, n as f64 - 0.5);
                (pos, short_num(v))
            })
            .collect();
        if ticks.len() >= 2 {
            return ticks;
        }
    }
    let idx: Vec<usize> = if n <= 8 {
        (0..n).collect()
    } else {
        let k = target.max(2);
        let mut idx: Vec<usize> = (0..k)
            .map(|j| ((j * (n - 1)) as f64 / (k - 1) as f64).round() as usize)
            .collect();
        idx.dedup();
        idx
    };
    idx.into_iter()
        .map(|i| {
            let label = match steps.get(i) {
                Some(s) => short_num(*s),
                None => format!("#{i}"),
            };
            (i as f64 + 0.5, label)
        })
        .collect()
}

/// Draws one heat map; returns the pixel rectangle of its cells, or `None` for a "no data"
/// panel.
fn draw_heat(
    root: &Root<'_>,
    area: &Root<'_>,
    heat: &Heat,
    (vmin, vmax): (f64, f64),
) -> Result<Option<Rect>> {
    let mut notes = heat.notes.clone();
    let n = heat.values.len();
    let layers = heat.layers;
    if n == 0 || layers == 0 {
        notes.push(format!("{} steps × {} layers — nothing to draw", n, layers));
        draw_no_data(area, &heat.title, &notes, heat.notes.len())?;
        return Ok(None);
    }
    if heat.steps.len() != n {
        notes.push(format!(
            "{} step labels for {} columns — columns without a step are labelled by index",
            heat.steps.len(),
            n
        ));
    }
    let (mut nan, mut neg_inf, mut pos_inf, mut missing, mut extra) = (0, 0, 0, 0, 0);
    for row in &heat.values {
        missing += layers.saturating_sub(row.len());
        extra += row.len().saturating_sub(layers);
        for v in row.iter().take(layers) {
            if v.is_nan() {
                nan += 1;
            } else if *v == f64::NEG_INFINITY {
                neg_inf += 1;
            } else if *v == f64::INFINITY {
                pos_inf += 1;
            }
        }
    }
    if heat.grey.is_some() {
        // The caller's notes say what its NaN cells are.
        nan = 0;
    }
    if nan + neg_inf + pos_inf > 0 {
        let mut parts = Vec::new();
        if nan > 0 {
            parts.push(format!("{nan} NaN"));
        }
        if neg_inf > 0 {
            parts.push(format!("{neg_inf} −inf"));
        }
        if pos_inf > 0 {
            parts.push(format!("{pos_inf} +inf"));
        }
        let hint = if neg_inf > 0 {
            "; −inf is what log10 of 0 gives"
        } else {
            ""
        };
        notes.push(format!(
            "{} of {} cells not finite ({}) — grey{hint}",
            nan + neg_inf + pos_inf,
            n * layers,
            parts.join(", ")
        ));
    }
    if missing > 0 {
        notes.push(format!("{missing} cells missing (short rows) — grey"));
    }
    if extra > 0 {
        notes.push(format!(
            "{extra} values beyond layer {layers} ignored (long rows)"
        ));
    }

    let x_ticks = step_ticks(&heat.steps, n, 6);
    let xf = |t: &f64| {
        x_ticks
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    let yf = |t: &f64| format!("{}", t.round() as i64);
    // Notes sit in a white strip above the top layer, inside the plot area.
    let (aw, ah) = area.dim_in_pixel();
    let caption_h = caption_height(root, &heat.title)?;
    let plot_w_est = aw as i32 - 34 - 80;
    let plot_h_est = ah as i32 - 20 - caption_h - 62;
    let (notes_box, headroom) = notes_strip(
        root,
        &notes,
        heat.notes.len(),
        (plot_w_est, plot_h_est),
        0.4,
    )?;
    let top = layers as f64 + 0.5;
    let hi = headroom.map_or(top, |frac| top + layers as f64 * frac / (1.0 - frac));
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .margin_right(24)
        .x_label_area_size(62)
        .y_label_area_size(80);
    if !heat.title.trim().is_empty() {
        builder.caption(&heat.title, font(PANEL_TITLE_PX));
    }
    let mut chart = builder.build_cartesian_2d(
        Ticked {
            lo: 0.0,
            hi: n as f64,
            bold: x_ticks.iter().map(|(t, _)| *t).collect(),
            light: Vec::new(),
        },
        Ticked {
            lo: 0.5,
            hi,
            bold: layer_ticks(layers),
            light: Vec::new(),
        },
    )?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("step")
        .y_desc("layer")
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let pa = chart.plotting_area();
    let span = vmax - vmin;
    for (i, row) in heat.values.iter().enumerate() {
        for l in 0..layers {
            let color = match row.get(l) {
                Some(v) if v.is_finite() => viridis((v - vmin) / span),
                _ => MISSING,
            };
            let (x0, x1) = (i as f64, (i + 1) as f64);
            let (y0, y1) = (l as f64 + 0.5, l as f64 + 1.5);
            pa.draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))?;
        }
    }
    let plot = Rect::of_pixels(pa.get_pixel_range());
    if let Some(nb) = &notes_box {
        place_notes(root, plot, nb, &[], true)?;
    }
    let cells_top = chart.backend_coord(&(0.0, top)).1;
    Ok(Some(Rect {
        y0: cells_top,
        ..plot
    }))
}

/// The figure [`heatmap_pair`] writes, as its size and an RGB buffer.
pub(super) fn heatmap_buffer(
    title: &str,
    left: &Heat,
    right: &Heat,
    colorbar_label: &str,
) -> Result<(Size, Vec<u8>)> {
    let size = (1700, 720);
    let mut ext = Extent::new();
    for heat in [left, right] {
        for row in &heat.values {
            row.iter().take(heat.layers).for_each(|v| ext.add(*v));
        }
    }
    let (vmin, vmax) = if ext.is_empty() {
        (0.0, 1.0)
    } else if ext.max - ext.min <= 1e-12 * ext.max.abs().max(ext.min.abs()) {
        let half = if ext.max != 0.0 {
            ext.max.abs() * 0.05
        } else {
            0.5
        };
        (ext.min - half, ext.max + half)
    } else {
        (ext.min, ext.max)
    };
    let any_missing = [left, right].iter().any(|h| {
        h.values
            .iter()
            .any(|r| r.len() < h.layers || r.iter().take(h.layers).any(|v| !v.is_finite()))
    });
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let (bw, _) = body.dim_in_pixel();
        let (maps, bar) = body.split_horizontally(bw - 190);
        let halves = maps.split_evenly((1, 2));
        let l = draw_heat(root, &halves[0], left, (vmin, vmax))?;
        let r = draw_heat(root, &halves[1], right, (vmin, vmax))?;
        let (bx, by) = bar.get_base_pixel();
        let (_, bh) = bar.dim_in_pixel();
        let plot = l.or(r).unwrap_or(Rect {
            x0: bx,
            y0: by + 60,
            x1: bx + 10,
            y1: by + bh as i32 - 70,
        });
        draw_colorbar(
            root,
            bx + 16,
            plot.y0,
            plot.y1,
            (vmin, vmax),
            colorbar_label,
            any_missing.then(|| {
                left.grey
                    .clone()
                    .or_else(|| right.grey.clone())
                    .unwrap_or_else(|| "not finite".to_string())
            }),
            ext.is_empty(),
        )
    })?;
    Ok((size, buf))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn draw_colorbar(
    root: &Root<'_>,
    x0: i32,
    y0: i32,
    y1: i32,
    (vmin, vmax): (f64, f64),
    label: &str,
    missing_label: Option<String>,
    no_values: bool,
) -> Result<()> {
    let w = 28;
    let h = (y1 - y0).max(1);
    for py in y0..y1 {
        let f = (y1 - py) as f64 / h as f64;
        root.draw(&Rectangle::new(
            [(x0, py), (x0 + w, py + 1)],
            viridis(f).filled(),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y1)],
        BLACK.stroke_width(1),
    ))?;
    let (ticks, fmt) = nice_ticks(vmin, vmax, 7);
    let fmt_axis = Axis {
        log: false,
        lo: vmin,
        hi: vmax,
        ticks: Vec::new(),
        light: Vec::new(),
        fmt,
    };
    let style = font_at(TICK_PX, HPos::Left, VPos::Center);
    let mut max_w = 0;
    for t in ticks {
        let py = y1 - ((t - vmin) / (vmax - vmin) * h as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(x0 + w, py), (x0 + w + 6, py)],
            BLACK.stroke_width(1),
        ))?;
        let text = fmt_axis.label(t);
        max_w = max_w.max(text_size(root, &text, &style)?.0);
        root.draw_text(&text, &style, (x0 + w + 10, py))?;
    }
    let label = if no_values {
        format!("{label} (no finite values)")
    } else {
        label.to_string()
    };
    let label_style = font(AXIS_DESC_PX)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(
        &label,
        &label_style,
        (x0 + w + 10 + max_w + 24, (y0 + y1) / 2),
    )?;
    if let Some(missing_label) = missing_label {
        let y = y1 + 22;
        root.draw(&Rectangle::new(
            [(x0, y - 9), (x0 + w, y + 9)],
            MISSING.filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(x0, y - 9), (x0 + w, y + 9)],
            BLACK.stroke_width(1),
        ))?;
        root.draw_text(&missing_label, &style, (x0 + w + 10, y))?;
    }
    Ok(())
}
