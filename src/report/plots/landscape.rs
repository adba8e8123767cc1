//! Loss-landscape grids: square heat maps of a value over a 2-D slice `(a, b)`, one
//! panel per slice in rows (e.g. initial weights above, final below) and columns (the
//! runs), on one shared colour scale with a colour bar, iso-lines at round values (about
//! twice as dense as the colour bar's ticks) and a cross at the centre of each slice.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{render, text_size, titled, write_png, Root, Size};
use super::heatmap::draw_colorbar;
use super::style::{
    font, font_at, viridis, AXIS_DESC_PX, MISSING, NOTE_PX, PANEL_TITLE_PX, TICK_PX,
};
use super::ticks::{nice_ticks, Extent};
use super::Field;

/// Pixels per panel (square, with its axes and title).
const PANEL: u32 = 460;
/// Width of the colour-bar strip.
const BAR_W: u32 = 200;

/// Draws `rows` of [`Field`] panels on one shared colour scale (the finite values of every
/// panel; a constant field is widened), with a labelled colour bar. Non-finite cells are
/// grey and counted in a note. Writes a PNG of `(columns × 460 + 200) × (rows × 460 + 56)`.
pub fn landscape_grid(
    path: &Path,
    title: &str,
    rows: &[Vec<Field>],
    colorbar_label: &str,
) -> Result<()> {
    let (size, buf) = landscape_buffer(title, rows, colorbar_label)?;
    write_png(path, size, &buf)
}

/// The figure [`landscape_grid`] writes, as its size and an RGB buffer.
pub(super) fn landscape_buffer(
    title: &str,
    rows: &[Vec<Field>],
    colorbar_label: &str,
) -> Result<(Size, Vec<u8>)> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let nrows = rows.len().max(1);
    let size = (cols as u32 * PANEL + BAR_W, nrows as u32 * PANEL + 56);
    let mut ext = Extent::new();
    rows.iter()
        .flatten()
        .flat_map(|f| &f.values)
        .for_each(|v| ext.add(*v));
    let (vmin, vmax) = if ext.is_empty() {
        (0.0, 1.0)
    } else if ext.max - ext.min <= 1e-12 * ext.max.abs().max(ext.min.abs()).max(1e-300) {
        let half = if ext.max != 0.0 {
            ext.max.abs() * 0.05
        } else {
            0.5
        };
        (ext.min - half, ext.max + half)
    } else {
        (ext.min, ext.max)
    };
    let any_missing = rows
        .iter()
        .flatten()
        .any(|f| f.values.iter().any(|v| !v.is_finite()) || f.values.len() < f.axis.len().pow(2));
    // Iso-lines about twice as dense as the colour bar's ticks.
    let levels = nice_ticks(vmin, vmax, 16).0;
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let (bw, bh) = body.dim_in_pixel();
        let (maps, bar) = body.split_horizontally(bw - BAR_W);
        let cells = maps.split_evenly((nrows, cols));
        let mut plot_y = None;
        for (r, row) in rows.iter().enumerate() {
            for (c, field) in row.iter().enumerate() {
                let y = draw_field(&cells[r * cols + c], field, (vmin, vmax), &levels)?;
                plot_y = plot_y.or(Some(y));
            }
        }
        let (bx, by) = bar.get_base_pixel();
        let (y0, y1) = plot_y.unwrap_or((by + 60, by + bh as i32 - 70));
        draw_colorbar(
            root,
            bx + 16,
            y0,
            y1.max(y0 + 200).min(by + bh as i32 - 40),
            (vmin, vmax),
            colorbar_label,
            any_missing.then(|| "not finite".to_string()),
            ext.is_empty(),
        )
    })?;
    Ok((size, buf))
}

/// Draws one panel; returns the top and bottom pixel rows of its plot area.
fn draw_field(
    area: &Root<'_>,
    field: &Field,
    (vmin, vmax): (f64, f64),
    levels: &[f64],
) -> Result<(i32, i32)> {
    let n = field.axis.len();
    let (lo, hi) = match (field.axis.first(), field.axis.last()) {
        (Some(&lo), Some(&hi)) if n >= 2 && hi > lo => {
            let half = (hi - lo) / (n - 1) as f64 / 2.0;
            (lo - half, hi + half)
        }
        _ => (-1.0, 1.0),
    };
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(16)
        .caption(&field.title, font(PANEL_TITLE_PX - 4.0))
        .x_label_area_size(46)
        .y_label_area_size(54)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    // Ticks a shade off zero (rounding of the range) read as 0, not −0.0.
    let tick = |v: &f64| {
        let v = if v.abs() < 1e-9 * (hi - lo) { 0.0 } else { *v };
        crate::format::axis(v)
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_desc("a (along d1)")
        .y_desc("b (along d2)")
        .x_labels(5)
        .y_labels(5)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX - 3.0))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let value = |i: usize, j: usize| field.values.get(j * n + i).copied().unwrap_or(f64::NAN);
    let half = (hi - lo) / n.max(1) as f64 / 2.0;
    let pa = chart.plotting_area();
    for j in 0..n {
        for i in 0..n {
            let v = value(i, j);
            let color = if v.is_finite() {
                viridis((v - vmin) / (vmax - vmin))
            } else {
                MISSING
            };
            let (x, y) = (field.axis[i], field.axis[j]);
            pa.draw(&Rectangle::new(
                [(x - half, y - half), (x + half, y + half)],
                color.filled(),
            ))?;
        }
    }
    // Iso-lines (marching squares over the cell centres).
    for &level in levels {
        for j in 0..n.saturating_sub(1) {
            for i in 0..n - 1 {
                let corners = [
                    (field.axis[i], field.axis[j], value(i, j)),
                    (field.axis[i + 1], field.axis[j], value(i + 1, j)),
                    (field.axis[i + 1], field.axis[j + 1], value(i + 1, j + 1)),
                    (field.axis[i], field.axis[j + 1], value(i, j + 1)),
                ];
                if corners.iter().any(|c| !c.2.is_finite()) {
                    continue;
                }
                let mut cuts = Vec::with_capacity(4);
                for k in 0..4 {
                    let (p, q) = (corners[k], corners[(k + 1) % 4]);
                    if (p.2 < level) != (q.2 < level) {
                        let t = (level - p.2) / (q.2 - p.2);
                        cuts.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
                    }
                }
                for pair in cuts.chunks_exact(2) {
                    pa.draw(&PathElement::new(
                        vec![pair[0], pair[1]],
                        WHITE.mix(0.7).stroke_width(1),
                    ))?;
                }
            }
        }
    }
    // The weights themselves.
    let arm = (hi - lo) * 0.04;
    for seg in [[(-arm, 0.0), (arm, 0.0)], [(0.0, -arm), (0.0, arm)]]
        .iter()
        .take(if n > 0 { 2 } else { 0 })
    {
        pa.draw(&PathElement::new(seg.to_vec(), RED.stroke_width(2)))?;
    }
    // Notes in the top-left corner of the plot (area-relative pixels).
    let (xr, yr) = pa.get_pixel_range();
    let (bx, by) = area.get_base_pixel();
    let x0 = xr.start - bx;
    let mut y = yr.start - by + 6;
    let style = font_at(NOTE_PX, HPos::Left, VPos::Top);
    let mut notes = field.notes.clone();
    let bad = (0..n * n)
        .filter(|&k| !field.values.get(k).is_some_and(|v| v.is_finite()))
        .count();
    if n == 0 {
        notes.push("no data".into());
    } else if bad > 0 {
        notes.push(format!("{bad} of {} cells not finite: grey", n * n));
    }
    for note in &notes {
        let (w, h) = text_size(area, note, &style)?;
        area.draw(&Rectangle::new(
            [(x0 + 4, y - 2), (x0 + 10 + w, y + h + 2)],
            WHITE.mix(0.85).filled(),
        ))?;
        area.draw_text(note, &style, (x0 + 7, y))?;
        y += h + 6;
    }
    Ok((yr.start, yr.end))
}
