//! Error-bar figures: mean ± error against x, one line per series (final loss against
//! depth).

use std::path::Path;

use anyhow::Result;

use super::canvas::{render, titled, write_png, Size};
use super::line_panel::{draw_line_panel, Kind, LinePanel, Series};
use super::style::assign_colors;
use super::ticks::Extent;
use super::ErrorSeries;

/// Mean ± error bar against x (e.g. final loss against depth), one line per series, with
/// optional log y. Series sharing x positions are dodged slightly. 1000×650 px.
pub fn error_bars(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    series: &[ErrorSeries],
) -> Result<()> {
    super::capture::offer(|| super::Figure::ErrorBars {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        log_y,
        series: series.to_vec(),
    });
    let (size, buf) = error_bars_buffer(title, x_label, y_label, log_y, series)?;
    write_png(path, size, &buf)
}

/// The figure [`error_bars`] writes, as its size and an RGB buffer.
pub(super) fn error_bars_buffer(
    title: &str,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    series: &[ErrorSeries],
) -> Result<(Size, Vec<u8>)> {
    let size = (1000, 650);
    let buf = render(size, |root| {
        let body = titled(root, title)?;
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        let colors = assign_colors(&labels);
        let span = {
            let mut e = Extent::new();
            series
                .iter()
                .flat_map(|s| s.xs.iter())
                .for_each(|x| e.add(*x));
            if e.is_empty() || e.max == e.min {
                1.0
            } else {
                e.max - e.min
            }
        };
        let k = series.len();
        let lp = LinePanel {
            title: "",
            x_label,
            y_label,
            log_y,
            series: series
                .iter()
                .zip(colors)
                .enumerate()
                .map(|(i, (s, color))| Series {
                    label: s.label.clone(),
                    kind: Kind::Errors,
                    color,
                    xs: &s.xs,
                    ys: &s.mean,
                    spread: Some(&s.err),
                    range: None,
                    dx: if k > 1 {
                        (i as f64 - (k - 1) as f64 / 2.0) * 0.012 * span
                    } else {
                        0.0
                    },
                })
                .collect(),
            notes: Vec::new(),
            x_ticks_at_data: true,
            x_pad: 0.06,
            legend_min_h: 0,
            own_legend: true,
        };
        draw_line_panel(root, &body, &lp)
    })?;
    Ok((size, buf))
}
