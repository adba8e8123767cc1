//! The loss-landscape figure (`plots/landscape.png`): what `resweep landscape` draws, and
//! what the report can draw again from the slices of its last call
//! ([`crate::analysis::landscape::last_slices`]).

use std::path::Path;

use crate::analysis::landscape::{Chosen, Slice};
use crate::experiment::landscape::axis;
use crate::format;
use crate::report::plots::{self, Field};

/// The figure's file name under `plots/`.
pub const FIGURE: &str = "landscape.png";

/// One panel per slice: log10 of the loss, initial weights in the first row, final in the
/// second, one column per run (in the order given), each with its seed, centre and ring.
pub fn panels(chosen: &[Chosen], slices: &[Slice]) -> Vec<Vec<Field>> {
    ["init", "final"]
        .iter()
        .map(|when| {
            chosen
                .iter()
                .filter_map(|c| {
                    let s = slices
                        .iter()
                        .find(|s| s.run_id == c.run_id && s.when == *when)?;
                    let r = s.reading();
                    Some(Field {
                        title: format!("{when} · {}", c.group),
                        axis: axis(s.grid, s.span),
                        values: s.losses().iter().map(|v| v.log10()).collect(),
                        notes: vec![
                            format!("seed {}", c.config.seed),
                            format!("centre: {}", format::value(r.centre)),
                            format!(
                                "ring r={}: {} (×{})",
                                format::compact(s.span),
                                format::value(r.ring_mean),
                                format::value(r.sharpness)
                            ),
                        ],
                    })
                })
                .collect()
        })
        .collect()
}

/// Draws the figure of `slices` (their runs in `chosen`) at `path`.
pub fn draw(path: &Path, chosen: &[Chosen], slices: &[Slice]) -> anyhow::Result<()> {
    let rows: Vec<usize> = slices.iter().map(|s| s.rows).collect();
    let most = rows.iter().copied().max().unwrap_or(0);
    let inputs = if rows.iter().all(|&r| r == most) {
        most.to_string()
    } else {
        format!("up to {most}")
    };
    let grid = slices.first().map_or(0, |s| s.grid);
    // The title spans the panels: the long one needs three of them.
    let title = if chosen.len() >= 3 {
        format!(
            "Eval loss around the initial (top) and final (bottom) weights: θ + a·d1 + b·d2, filter-normalised directions, {inputs} eval inputs, grid {grid}"
        )
    } else {
        "Eval loss around θ: initial (top), final (bottom)".to_string()
    };
    plots::landscape_grid(path, &title, &panels(chosen, slices), "log10 eval loss")
}
