//! Paired differences: one point per seed (arm B − arm A), with the zero line, the mean
//! difference and its interval. The report draws it instead of the paired scatter when
//! one arm is (near) constant across seeds, where a scatter collapses to a line.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::canvas::{text_size, write_png, Rect, Root, Size};
use super::notes::{count, draw_no_data, notes_strip, place_notes};
use super::style::{
    font, AXIS_DESC_PX, GREY, GRID_BOLD, GRID_LIGHT, OI_BLUE, PANEL_TITLE_PX, TICK_PX,
};
use super::ticks::{short_num, Axis, Extent, Ticked};
use super::Diffs;

/// Per-seed paired differences, one panel per group: the seeds on x (in the given order),
/// the difference on a linear y axis, a dashed line at 0, a solid line at the mean
/// difference and a shaded band over its interval. Zero is on the axis when it lies
/// within one data span of the differences (else a note says on which side it lies, so
/// that the seeds' spread stays visible). Counts above and below zero are noted after the
/// caller's notes; non-finite differences are left out and noted. Panels are 680×680 px
/// (+56 px for the title), laid out like [`paired_scatter`](super::paired_scatter).
pub fn paired_differences(path: &Path, title: &str, groups: &[(String, Diffs)]) -> Result<()> {
    let (size, buf) = differences_buffer(title, groups)?;
    write_png(path, size, &buf)
}

/// Whether 0 belongs on an axis over `[min, max]`: within one span of the data.
pub(super) fn zero_on_axis(min: f64, max: f64) -> bool {
    let span = max - min;
    min - span <= 0.0 && 0.0 <= max + span
}

fn draw_diffs(root: &Root<'_>, area: &Root<'_>, title: &str, d: &Diffs) -> Result<()> {
    let mut notes = d.notes.clone();
    let n_caller = notes.len();
    let n = d.points.len();
    let finite: Vec<(usize, f64)> = d
        .points
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| v.is_finite())
        .map(|(i, (_, v))| (i, *v))
        .collect();
    let (below, above) = (
        finite.iter().filter(|(_, v)| *v < 0.0).count(),
        finite.iter().filter(|(_, v)| *v > 0.0).count(),
    );
    let zeros = finite.len() - below - above;
    let mut counts = format!("below 0: {below} · above 0: {above}");
    if zeros > 0 {
        counts.push_str(&format!(" · 0: {zeros}"));
    }
    if !finite.is_empty() {
        notes.push(format!("{counts} (of {})", count(finite.len(), "seed")));
    }
    if finite.len() < n {
        let bad: Vec<String> = d
            .points
            .iter()
            .filter(|(_, v)| !v.is_finite())
            .map(|(s, v)| format!("{s} ({})", short_num(*v)))
            .collect();
        let shown = bad.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
        let more = if bad.len() > 4 { ", …" } else { "" };
        notes.push(format!(
            "{} of {n} seeds not finite — not drawn: {shown}{more}",
            bad.len()
        ));
    }
    if finite.is_empty() {
        return draw_no_data(area, title, &notes, n_caller);
    }
    let mut ext = Extent::new();
    for (_, v) in &finite {
        ext.add(*v);
    }
    let ci = (d.ci.0.is_finite() && d.ci.1.is_finite() && d.ci.0 <= d.ci.1).then_some(d.ci);
    if let Some((lo, hi)) = ci {
        ext.add(lo);
        ext.add(hi);
    }
    if d.mean.is_finite() {
        ext.add(d.mean);
    }
    let zero = zero_on_axis(ext.min, ext.max);
    if zero {
        ext.add(0.0);
    } else {
        let side = if ext.min > 0.0 { "below" } else { "above" };
        notes.push(format!(
            "0 lies {side} this axis, which is kept to the differences so that their spread shows"
        ));
    }

    let (aw, ah) = area.dim_in_pixel();
    let (notes_box, headroom) = notes_strip(
        root,
        &notes,
        n_caller,
        (aw as i32 - 140, ah as i32 - 150),
        0.4,
    )?;
    let target = 6;
    let mut axis = Axis::linear(ext.min, ext.max, 0.06, false, target);
    if let Some(frac) = headroom {
        axis = axis.with_headroom(frac, target);
    }
    let step = n.div_ceil(12).max(1);
    let x = Ticked {
        lo: -0.5,
        hi: n as f64 - 0.5,
        bold: (0..n).step_by(step).map(|i| i as f64).collect(),
        light: vec![],
    };
    let tick_style = font(TICK_PX);
    let mut ylab_w = 0;
    for t in &axis.ticks {
        ylab_w = ylab_w.max(text_size(root, &axis.label(*t), &tick_style)?.0);
    }
    let seed_label = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            d.points
                .get(i as usize)
                .map(|(s, _)| s.clone())
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let y_fmt = |v: &f64| axis.label(*v);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(PANEL_TITLE_PX))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(62)
        .y_label_area_size(ylab_w as u32 + 48)
        .build_cartesian_2d(x.clone(), axis.coord())?;
    chart
        .configure_mesh()
        .x_desc("seed")
        .y_desc(d.y_label.as_str())
        .label_style(font(TICK_PX))
        .axis_desc_style(font(AXIS_DESC_PX))
        .x_label_formatter(&seed_label)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;
    let (x0, x1) = (x.lo, x.hi);
    if let Some((lo, hi)) = ci {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, axis.clamp(lo)), (x1, axis.clamp(hi))],
            OI_BLUE.mix(0.15).filled(),
        )))?;
    }
    if d.mean.is_finite() {
        chart.draw_series(LineSeries::new(
            vec![(x0, d.mean), (x1, d.mean)],
            OI_BLUE.stroke_width(2),
        ))?;
    }
    if zero {
        chart.draw_series(DashedLineSeries::new(
            vec![(x0, 0.0), (x1, 0.0)],
            10,
            6,
            GREY.stroke_width(2),
        ))?;
    }
    let pa = chart.plotting_area();
    for (i, v) in &finite {
        let pt = (*i as f64, axis.clamp(*v));
        pa.draw(&Circle::new(pt, 7, OI_BLUE.mix(0.75).filled()))?;
        pa.draw(&Circle::new(pt, 7, BLACK.stroke_width(1)))?;
    }
    if let Some(nb) = notes_box {
        let plot = Rect::of_pixels(pa.get_pixel_range());
        place_notes(root, plot, &nb, &[], true)?;
    }
    Ok(())
}

/// The figure [`paired_differences`] writes, as its size and an RGB buffer.
pub(super) fn differences_buffer(
    title: &str,
    groups: &[(String, Diffs)],
) -> Result<(Size, Vec<u8>)> {
    super::scatter::square_panels(title, groups, draw_diffs)
}
