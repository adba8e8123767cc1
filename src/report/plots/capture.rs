//! The data of the figures drawn inside [`capture`], so that another form of the same
//! figure (report.html's interactive charts) is drawn from the very numbers of the PNG.
//!
//! Each figure entry point offers its inputs with [`offer`] before drawing; outside a
//! [`capture`] that costs nothing (the inputs are not even cloned). Capture is per thread
//! and nests: an inner capture keeps its figures to itself.

use std::cell::RefCell;

use super::style::{assign_colors, viridis};
use super::{ErrorSeries, Heat, Pairs, Panel};

/// The inputs of one figure, as its entry function received them. One is built per
/// figure drawn, so the variants' sizes do not matter.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Figure {
    /// [`super::bands_figure`].
    Bands {
        /// Figure title.
        title: String,
        /// Its panels.
        panels: Vec<Panel>,
    },
    /// [`super::error_bars`].
    ErrorBars {
        /// Figure title.
        title: String,
        /// x-axis label.
        x_label: String,
        /// y-axis label.
        y_label: String,
        /// Logarithmic y axis.
        log_y: bool,
        /// The series.
        series: Vec<ErrorSeries>,
    },
    /// [`super::heatmap_pair`].
    Heatmaps {
        /// Figure title.
        title: String,
        /// Left map.
        left: Heat,
        /// Right map.
        right: Heat,
        /// Colour-bar label.
        colorbar_label: String,
    },
    /// [`super::paired_scatter`].
    Pairs {
        /// Figure title.
        title: String,
        /// One panel per `(title, pairs)`.
        panels: Vec<(String, Pairs)>,
    },
}

thread_local! {
    static CAPTURED: RefCell<Option<Vec<Figure>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns its result with every figure offered while it ran, in order.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Figure>) {
    let outer = CAPTURED.with(|c| c.replace(Some(Vec::new())));
    let out = f();
    let figures = CAPTURED.with(|c| c.replace(outer)).unwrap_or_default();
    (out, figures)
}

/// Records a figure's inputs when a [`capture`] is running on this thread.
pub(super) fn offer(figure: impl FnOnce() -> Figure) {
    CAPTURED.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.push(figure());
        }
    });
}

/// The colours the PNG figures give `labels` (arm colours kept), as RGB.
pub fn colors(labels: &[&str]) -> Vec<[u8; 3]> {
    assign_colors(labels)
        .into_iter()
        .map(|c| [c.0, c.1, c.2])
        .collect()
}

/// The heat maps' colour scale sampled at `n` evenly spaced points of `[0, 1]` (n ≥ 2).
pub fn color_scale(n: usize) -> Vec<[u8; 3]> {
    let n = n.max(2);
    (0..n)
        .map(|i| {
            let c = viridis(i as f64 / (n - 1) as f64);
            [c.0, c.1, c.2]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_records_offered_figures_and_nests() {
        offer(|| panic!("not evaluated outside a capture"));
        let bands = || Figure::Bands {
            title: "t".into(),
            panels: vec![],
        };
        let ((), outer) = capture(|| {
            offer(bands);
            let ((), inner) = capture(|| offer(bands));
            assert_eq!(inner.len(), 1);
            offer(bands);
        });
        assert_eq!(outer, vec![bands(), bands()]);
        assert_eq!(
            colors(&["PlainMLP", "ResMLP"]),
            [[213, 94, 0], [0, 114, 178]]
        );
        assert_eq!(color_scale(11)[0], [0x44, 0x01, 0x54]);
    }
}
