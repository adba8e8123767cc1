//! Paired scatter: arm A against arm B, one point per seed, with the diagonal (paired
//! seeds).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{grid, render, text_size, titled, write_png, Rect, Root, Size};
use super::notes::{
    count, draw_no_data, draw_notes_box, layout_notes, note_lines_for, notes_corner,
    sample_polyline, NOTE_MARGIN,
};
use super::style::{
    font, font_at, AXIS_DESC_PX, FIG_TITLE_H, GREY, GRID_BOLD, GRID_LIGHT, OI_BLUE, PANEL_TITLE_PX,
    TICK_PX,
};
use super::ticks::{short_num, Axis, Extent};
use super::Pairs;

/// Scatter of arm A (x) against arm B (y), one point per seed, with the y = x line; one
/// panel per group. Both axes share one range; they are log-log when every finite value of
/// the panel is positive, else linear (noted). Counts above/below the diagonal are noted;
/// seed labels are placed next to their points where they fit (at most 20 seeds). Panels
/// are 680×680 px (+56 px for the title), laid out like [`bands_figure`](super::bands_figure).
pub fn paired_scatter(path: &Path, title: &str, groups: &[(String, Pairs)]) -> Result<()> {
    super::capture::offer(|| super::Figure::Pairs {
        title: title.into(),
        panels: groups.to_vec(),
    });
    let (size, buf) = scatter_buffer(title, groups)?;
    write_png(path, size, &buf)
}

fn draw_pairs(root: &Root<'_>, area: &Root<'_>, title: &str, pairs: &Pairs) -> Result<()> {
    let mut notes = Vec::new();
    let n = pairs.points.len();
    let finite: Vec<&(f64, f64, String)> = pairs
        .points
        .iter()
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    if finite.len() < n {
        let bad: Vec<String> = pairs
            .points
            .iter()
            .filter(|(x, y, _)| !(x.is_finite() && y.is_finite()))
            .map(|(x, y, s)| format!("{s} ({}, {})", short_num(*x), short_num(*y)))
            .collect();
        let shown = bad.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
        let more = if bad.len() > 4 { ", …" } else { "" };
        notes.push(format!(
            "{} of {n} seeds not finite — not drawn: {shown}{more}",
            bad.len()
        ));
    }
    if finite.is_empty() {
        return draw_no_data(area, title, &notes, 0);
    }
    let log = finite.iter().all(|(x, y, _)| *x > 0.0 && *y > 0.0);
    if !log {
        notes.push("linear axes: some values ≤ 0".into());
    }
    let mut ext = Extent::new();
    for (x, y, _) in &finite {
        ext.add(*x);
        ext.add(*y);
    }
    let (aw, _) = area.dim_in_pixel();
    let target = ((aw as usize).saturating_sub(160) / 110).clamp(3, 7);
    let axis = if log {
        Axis::log(ext.min, ext.max, target)
    } else {
        Axis::linear(ext.min, ext.max, 0.06, false, target)
    };
    let (above, below) = (
        finite.iter().filter(|(x, y, _)| y > x).count(),
        finite.iter().filter(|(x, y, _)| y < x).count(),
    );
    let equal = finite.len() - above - below;
    let mut counts = format!(
        "y > x: {above} · y < x: {below} (of {} seeds)",
        finite.len()
    );
    if equal > 0 {
        counts = format!(
            "y > x: {above} · y < x: {below} · y = x: {equal} (of {} seeds)",
            finite.len()
        );
    }
    notes.insert(0, counts);

    let tick_style = font(TICK_PX);
    let mut ylab_w = 0;
    for t in &axis.ticks {
        ylab_w = ylab_w.max(text_size(root, &axis.label(*t), &tick_style)?.0);
    }
    let f = |v: &f64| axis.label(*v);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(PANEL_TITLE_PX))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(62)
        .y_label_area_size(ylab_w as u32 + 48)
        .build_cartesian_2d(axis.coord(), axis.coord())?;
    chart
        .configure_mesh()
        .x_desc(pairs.x_label.as_str())
        .y_desc(pairs.y_label.as_str())
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&f)
        .y_label_formatter(&f)
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        vec![(axis.lo, axis.lo), (axis.hi, axis.hi)],
        10,
        6,
        GREY.stroke_width(2),
    ))?;
    let pa = chart.plotting_area();
    let mut occupied = Vec::new();
    sample_polyline(
        &[
            chart.backend_coord(&(axis.lo, axis.lo)),
            chart.backend_coord(&(axis.hi, axis.hi)),
        ],
        &mut occupied,
    );
    let pts: Vec<((f64, f64), &str)> = finite
        .iter()
        .map(|(x, y, seed)| {
            let pt = (
                axis.clamp(axis.t(*x).unwrap_or(axis.lo)),
                axis.clamp(axis.t(*y).unwrap_or(axis.lo)),
            );
            (pt, seed.as_str())
        })
        .collect();
    let mut dots: Vec<Rect> = Vec::with_capacity(pts.len());
    for (pt, _) in &pts {
        pa.draw(&Circle::new(*pt, 7, OI_BLUE.mix(0.75).filled()))?;
        pa.draw(&Circle::new(*pt, 7, BLACK.stroke_width(1)))?;
        let (bx, by) = chart.backend_coord(pt);
        dots.push(Rect {
            x0: bx - 8,
            y0: by - 8,
            x1: bx + 8,
            y1: by + 8,
        });
        for dx in (-8..=8).step_by(2) {
            for dy in (-8..=8).step_by(2) {
                occupied.push((bx + dx, by + dy));
            }
        }
    }
    let plot = Rect::of_pixels(pa.get_pixel_range());

    // Notes first (least crowded corner), then seed labels around the points, avoiding
    // the plot edge, the notes, the points and each other; a label that fits nowhere is
    // left out and counted.
    let max_w = ((plot.x1 - plot.x0) as f64 * 0.92) as i32;
    let max_lines = note_lines_for(plot.y1 - plot.y0, 0.4);
    let mut taken: Vec<Rect> = dots.clone();
    let mut unlabelled = 0;
    let label_seeds = finite.len() <= 20;
    let mut labels: Vec<(String, (i32, i32))> = Vec::new();
    let left_out = |k: usize| {
        format!(
            "{} left out (no room next to the point)",
            count(k, "seed label")
        )
    };
    if !label_seeds {
        notes.push(format!("{} seeds — labels omitted", finite.len()));
    }
    // Reserve the box with room for a possible "labels left out" line.
    let notes_rect = {
        let mut provisional = notes.clone();
        if label_seeds {
            provisional.push(left_out(finite.len()));
        }
        layout_notes(root, &provisional, 0, max_w, max_lines)?
            .map(|nb| notes_corner(plot, &nb, &occupied, false))
    };
    if let Some(r) = notes_rect {
        taken.push(r);
    }
    if label_seeds {
        let style = font(16.0);
        for ((_, seed), dot) in pts.iter().zip(&dots) {
            if seed.is_empty() {
                continue;
            }
            let (w, h) = text_size(root, seed, &style)?;
            let (cx, cy) = ((dot.x0 + dot.x1) / 2, (dot.y0 + dot.y1) / 2);
            let spots = [
                (cx + 10, cy - 4 - h),
                (cx + 10, cy + 4),
                (cx - 10 - w, cy - 4 - h),
                (cx - 10 - w, cy + 4),
                (cx - w / 2, cy - 10 - h),
                (cx - w / 2, cy + 10),
            ];
            let free = spots.iter().map(|&(x, y)| Rect {
                x0: x,
                y0: y,
                x1: x + w,
                y1: y + h,
            });
            let mut placed = false;
            for r in free {
                let inside =
                    r.x0 >= plot.x0 && r.x1 <= plot.x1 && r.y0 >= plot.y0 && r.y1 <= plot.y1;
                if inside && !taken.iter().any(|t| t.overlaps(&r)) {
                    taken.push(r);
                    labels.push((seed.to_string(), (r.x0, r.y0)));
                    placed = true;
                    break;
                }
            }
            if !placed {
                unlabelled += 1;
            }
        }
    }
    if unlabelled > 0 {
        notes.push(left_out(unlabelled));
    }
    let label_style = font_at(16.0, HPos::Left, VPos::Top).color(&GREY);
    for (text, pos) in &labels {
        root.draw_text(text, &label_style, *pos)?;
    }
    if let Some(nb) = layout_notes(root, &notes, 0, max_w, max_lines)? {
        // Same corner as reserved, anchored on the plot edges it touches.
        let r = match notes_rect {
            Some(n) => {
                let right = n.x1 >= plot.x1 - NOTE_MARGIN - 1;
                let bottom = n.y1 >= plot.y1 - NOTE_MARGIN - 1;
                let x0 = if right { n.x1 - nb.w } else { n.x0 };
                let y0 = if bottom { n.y1 - nb.h } else { n.y0 };
                Rect {
                    x0,
                    y0,
                    x1: x0 + nb.w,
                    y1: y0 + nb.h,
                }
            }
            None => notes_corner(plot, &nb, &occupied, false),
        };
        draw_notes_box(root, &nb, r)?;
    }
    Ok(())
}

/// The figure [`paired_scatter`] writes, as its size and an RGB buffer.
pub(super) fn scatter_buffer(title: &str, groups: &[(String, Pairs)]) -> Result<(Size, Vec<u8>)> {
    square_panels(title, groups, draw_pairs)
}

/// A figure of square 680-px panels, one per group in a near-square grid, each drawn by
/// `draw(root, area, name, group)`; one "no data" panel when there are no groups.
pub(super) fn square_panels<T>(
    title: &str,
    groups: &[(String, T)],
    draw: fn(&Root<'_>, &Root<'_>, &str, &T) -> Result<()>,
) -> Result<(Size, Vec<u8>)> {
    let (rows, cols) = grid(groups.len());
    let (pw, ph) = (680, 680);
    let size = (pw * cols as u32, FIG_TITLE_H + ph * rows as u32);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let areas = body.split_evenly((rows, cols));
        if groups.is_empty() {
            return draw_no_data(&areas[0], "", &["no groups were given".to_string()], 0);
        }
        for ((name, group), area) in groups.iter().zip(&areas) {
            draw(root, area, name, group)?;
        }
        Ok(())
    })?;
    Ok((size, buf))
}
