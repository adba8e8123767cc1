//! The gradient-flow heat maps: log10 of each layer's weight-gradient norm over the probe
//! steps, a PlainMLP line beside a ResMLP line on one colour scale.

use super::super::data::{f64s, pl, u32s, LayerFrames, Line};
use super::super::Report;
use super::underflowed;
use crate::report::plots::{self, Heat};
use polars::prelude::*;
use std::fmt::Write as _;

/// Heat maps of log10 of the weight-gradient norm (layer × step), one figure per
/// PlainMLP line beside the ResMLP line with the same other settings.
pub(super) fn gradient_flow(
    report: &mut Report,
    lines: &[Line],
    layers: &LayerFrames,
) -> anyhow::Result<()> {
    let heat = pl(
        layers
            .all
            .clone()
            .lazy()
            .with_columns([
                when(col("grad_norm").gt(lit(0.0)))
                    .then(col("grad_norm").log(lit(10.0)))
                    .otherwise(lit(NULL))
                    .alias("lg"),
                col("grad_norm")
                    .eq(lit(0.0))
                    .cast(DataType::UInt32)
                    .alias("zero"),
            ])
            .group_by([col("group"), col("step"), col("layer")])
            .agg([
                col("lg").mean().alias("lg"),
                col("zero").sum().alias("zeros"),
                col("grad_norm").count().alias("n"),
            ])
            .sort(["group", "step", "layer"], SortMultipleOptions::default())
            .collect(),
        "gradient flow",
    )?;
    let (hg, hs, hl, hv) = (
        u32s(&heat, "group")?,
        f64s(&heat, "step")?,
        u32s(&heat, "layer")?,
        f64s(&heat, "lg")?,
    );
    let (hz, hn) = (u32s(&heat, "zeros")?, u32s(&heat, "n")?);
    let underflow = underflowed(lines, &layers.all)?;
    let heat_of = |gi: usize| -> Heat {
        let g = &lines[gi];
        let mut steps: Vec<f64> = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        let (mut all_zero, mut some_zero) = (0, 0);
        for i in 0..heat.height() {
            if hg[i] as usize != gi {
                continue;
            }
            if hz[i] > 0 && hz[i] == hn[i] {
                all_zero += 1;
            } else if hz[i] > 0 {
                some_zero += 1;
            }
            if steps.last() != Some(&hs[i]) {
                steps.push(hs[i]);
                values.push(vec![f64::NAN; g.depth]);
            }
            if let Some(slot) = values
                .last_mut()
                .and_then(|row| row.get_mut(hl[i] as usize - 1))
            {
                *slot = hv[i];
            }
        }
        let mut notes = Vec::new();
        if all_zero > 0 {
            notes.push(format!(
                "{all_zero} cells grey: gradient exactly 0 in every seed{}",
                if underflow[gi] {
                    " (these runs' pre-activations underflowed f32: underflow, not a measured 0)"
                } else {
                    ""
                }
            ));
        }
        if some_zero > 0 {
            notes.push(format!(
                "{some_zero} cells: exactly 0 in some seeds, coloured by the others"
            ));
        }
        Heat {
            title: format!("{} (n = {})", g.label, g.runs.len()),
            layers: g.depth,
            steps,
            values,
            notes,
            grey: Some("0 in every seed".into()),
        }
    };
    // Pair each PlainMLP line with the ResMLP line of the same other axes.
    let mut pairs_done = Vec::new();
    for (i, g) in lines.iter().enumerate() {
        if g.residual {
            continue;
        }
        // Else the ResMLP of the same depth whose other settings differ (e.g. the
        // strongest baseline: PlainMLP at init scale 1 beside ResMLP at 1/sqrt(depth)).
        if let Some(j) = lines
            .iter()
            .position(|h| h.residual && h.others == g.others && h.depth == g.depth)
            .or_else(|| lines.iter().position(|h| h.residual && h.depth == g.depth))
        {
            pairs_done.push((i, Some(j)));
        } else {
            pairs_done.push((i, None));
        }
    }
    for (j, g) in lines.iter().enumerate() {
        if g.residual && !pairs_done.iter().any(|(_, r)| *r == Some(j)) {
            pairs_done.push((j, None));
        }
    }
    let _ = writeln!(report.md, "### Gradient flow\n");
    for (k, (i, j)) in pairs_done.iter().enumerate() {
        let name = if pairs_done.len() == 1 {
            "gradient_flow.png".to_string()
        } else {
            format!("gradient_flow_{}.png", k + 1)
        };
        let left = heat_of(*i);
        let right = match j {
            Some(j) => heat_of(*j),
            None => Heat {
                title: "no matching arm in this sweep".into(),
                layers: lines[*i].depth,
                notes: vec!["this sweep has no run of the other arm with these settings".into()],
                ..Heat::default()
            },
        };
        report.figure(&name, &format!("Gradient flow {}", k + 1), |path| {
            plots::heatmap_pair(
                path,
                "Gradient flow: log10 of the weight-gradient norm (mean over seeds with a non-zero gradient)",
                &left,
                &right,
                "log10 ||dL/dW||",
            )
        })?;
    }
    let _ = writeln!(
        report.md,
        "Each cell is one layer (rows, layer 1 at the bottom) at one probe step (columns), coloured by the mean of log10 of the gradient \
         over the seeds whose gradient is not exactly 0; both maps of a figure share one colour scale. Grey cells are exactly 0 in every seed, and \
         the notes count them and say when those zeros come from f32 underflow rather than from the network.\n"
    );
    Ok(())
}
