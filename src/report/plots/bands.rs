//! Band figures: mean ± std (or given low–high edges) over seeds against steps or layers, with dashed theory curves,
//! one or more panels (loss curves, gradient norms, activations, dead units).

use std::path::Path;

use anyhow::Result;

use super::canvas::{grid, render, titled, write_png, Size};
use super::line_panel::{draw_line_panel, panel_legend, Kind, LinePanel, Series};
use super::notes::draw_no_data;
use super::style::{assign_colors, curve_style, FIG_TITLE_H, LEGEND_ROW_H};
use super::Panel;

/// One figure with one panel per entry of `panels`, laid out 1×1, 1×2, 1×3, 2×2 (and a
/// near-square grid beyond four). Each panel has its own axes and its own legend below the
/// plot (panels of a row reserve the same legend height, so their axes line up); notes go
/// in a strip at the top of the plot area. No panels draws one "no data" panel. Sizes: one
/// panel 1000×650 px, two 1640×676, three 2100×676, four 1600×1256.
pub fn bands_figure(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    super::capture::offer(|| super::Figure::Bands {
        title: title.into(),
        panels: panels.to_vec(),
    });
    let (size, buf) = bands_buffer(title, panels)?;
    write_png(path, size, &buf)
}

/// The line panels of `panels`: bands (with their seed counts) and dashed curves.
fn line_panels(panels: &[Panel]) -> Vec<LinePanel<'_>> {
    let mut line_panels = Vec::with_capacity(panels.len());
    for panel in panels {
        let labels: Vec<&str> = panel.bands.iter().map(|b| b.label.as_str()).collect();
        let colors = assign_colors(&labels);
        let mut series: Vec<Series<'_>> = panel
            .bands
            .iter()
            .zip(colors)
            .map(|(b, color)| Series {
                label: if b.label.is_empty() {
                    String::new()
                } else {
                    format!("{} (n = {})", b.label, b.n)
                },
                kind: Kind::Band,
                color,
                xs: &b.xs,
                ys: &b.mean,
                spread: Some(&b.std),
                range: b
                    .range
                    .as_ref()
                    .map(|(lo, hi)| (lo.as_slice(), hi.as_slice())),
                dx: 0.0,
            })
            .collect();
        series.extend(panel.curves.iter().enumerate().map(|(i, c)| {
            let (color, dash) = curve_style(i);
            Series {
                label: c.label.clone(),
                kind: Kind::Dashed(dash),
                color,
                xs: &c.xs,
                ys: &c.ys,
                spread: None,
                range: None,
                dx: 0.0,
            }
        }));
        let lp = LinePanel {
            title: &panel.title,
            x_label: &panel.x_label,
            y_label: &panel.y_label,
            log_y: panel.log_y,
            series,
            notes: panel.notes.clone(),
            x_ticks_at_data: false,
            x_pad: 0.0,
            legend_min_h: 0,
            own_legend: true,
        };
        line_panels.push(lp);
    }
    line_panels
}

/// One legend for every panel, when the panels show the same bands (their dashed curves
/// may differ: the legend lists each distinct one once): the bands, then the curves in
/// order of first appearance. `None` for a single panel or panels with other bands.
fn shared_legend<'a>(lps: &[LinePanel<'a>]) -> Option<LinePanel<'a>> {
    let bands = |lp: &LinePanel<'_>| {
        lp.series
            .iter()
            .filter(|s| s.kind == Kind::Band)
            .map(|s| s.label.clone())
            .collect::<Vec<_>>()
    };
    let first = lps.first()?;
    if lps.len() < 2 || lps.iter().any(|lp| bands(lp) != bands(first)) {
        return None;
    }
    let mut series: Vec<Series<'a>> = Vec::new();
    for s in lps.iter().flat_map(|lp| lp.series.iter()) {
        if !series.iter().any(|t| t.label == s.label) {
            series.push(Series {
                label: s.label.clone(),
                kind: s.kind,
                color: s.color,
                xs: s.xs,
                ys: s.ys,
                spread: s.spread,
                range: s.range,
                dx: s.dx,
            });
        }
    }
    Some(LinePanel {
        title: first.title,
        x_label: first.x_label,
        y_label: first.y_label,
        log_y: first.log_y,
        series,
        notes: Vec::new(),
        x_ticks_at_data: false,
        x_pad: 0.0,
        legend_min_h: 0,
        own_legend: true,
    })
}

/// The figure [`bands_figure`] writes, as its size and an RGB buffer.
pub(super) fn bands_buffer(title: &str, panels: &[Panel]) -> Result<(Size, Vec<u8>)> {
    let (rows, cols) = grid(panels.len());
    let (pw, ph) = match (rows, cols) {
        (1, 1) => (1000, 650 - FIG_TITLE_H),
        (1, 2) => (820, 620),
        (1, _) => (700, 620),
        _ => (800, 600),
    };
    // Legends sit below the plots: a panel whose legend needs more than the three rows
    // its height allows grows taller by the rows it needs (measured with the figure's
    // font) instead of squeezing its plot area. When every panel would show the same
    // long legend (many groups), the figure draws it once, across its whole width, below
    // all panels.
    const ROOM: u32 = 3 * LEGEND_ROW_H as u32 + 12;
    let full_w = pw * cols as u32;
    let (mut legend_h, mut shared_h) = (0, 0);
    render((8, 8), |root| {
        let lps = line_panels(panels);
        for lp in &lps {
            legend_h = legend_h.max(panel_legend(root, lp, pw)?.height());
        }
        if let Some(one) = shared_legend(&lps).filter(|_| legend_h > ROOM) {
            shared_h = panel_legend(root, &one, full_w)?.height();
        }
        Ok(())
    })?;
    let shared = shared_h > 0;
    let ph = if shared {
        ph
    } else {
        ph + legend_h.saturating_sub(ROOM)
    };
    let size = (full_w, FIG_TITLE_H + ph * rows as u32 + shared_h);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let (panels_area, _) = body.split_vertically(ph * rows as u32);
        let areas = panels_area.split_evenly((rows, cols));
        if panels.is_empty() {
            return draw_no_data(&areas[0], "", &["no panels were given".to_string()], 0);
        }
        let mut line_panels = line_panels(panels);
        if let Some(one) = shared_legend(&line_panels).filter(|_| shared) {
            let legend = panel_legend(root, &one, full_w)?;
            legend.draw(root, 30, (FIG_TITLE_H + ph * rows as u32) as i32)?;
            line_panels.iter_mut().for_each(|lp| lp.own_legend = false);
        }
        // Panels of one row reserve the same legend height, so their axes line up.
        for row in line_panels.chunks_mut(cols).filter(|_| !shared) {
            let mut h = 0;
            for lp in row.iter() {
                h = h.max(panel_legend(root, lp, pw)?.height());
            }
            row.iter_mut().for_each(|lp| lp.legend_min_h = h);
        }
        for (lp, area) in line_panels.iter().zip(&areas) {
            draw_line_panel(root, area, lp)?;
        }
        Ok(())
    })?;
    Ok((size, buf))
}
