//! The mean-field theory curves drawn over the measured per-layer statistics, and what the
//! readings say about the groups that have none.
//!
//! Each theory exists where [`crate::report::theory`] derives it and the crate's own
//! forward (and backward) pass confirms it: the activation statistics for every model
//! variant but the PlainMLP with GELU ([`Variant::no_theory`]), the PlainMLP weight
//! gradient for the default block only ([`Variant::is_default_block`]).

use super::super::data::Line;
use crate::report::plots::Curve;
use crate::report::theory::{LayerPrediction, Variant};

/// Mean-field theory curves over layers, one per distinct variant (arm, depth, init scale
/// and model settings) of `lines` that `f` predicts for.
pub(super) fn theory_curves(lines: &[Line], f: impl Fn(&Line) -> Option<Vec<f64>>) -> Vec<Curve> {
    let mut seen: Vec<Variant> = Vec::new();
    let mut curves = Vec::new();
    for g in lines {
        let Some(variant) = g.variant else { continue };
        if seen.contains(&variant) {
            continue;
        }
        if let Some(ys) = f(g) {
            seen.push(variant);
            let mut label = format!(
                "theory: {}, depth {}, scale {}",
                g.arm(),
                g.depth,
                crate::format::sig(g.init_scale, 3)
            );
            for d in variant.differences() {
                label.push_str(", ");
                label.push_str(&d);
            }
            curves.push(Curve {
                label,
                xs: (1..=ys.len()).map(|l| l as f64).collect(),
                ys,
            });
        }
    }
    // Many lines: one legend entry for all theory curves instead of one each.
    if curves.len() > 4 {
        for (i, c) in curves.iter_mut().enumerate() {
            c.label = if i == 0 {
                "mean-field theory, one dashed curve per group".into()
            } else {
                String::new()
            };
        }
    }
    curves
}

/// The activation prediction of a line, `l = 0..=depth`, when its variant has one.
pub(super) fn activation_predictions(g: &Line) -> Option<Vec<LayerPrediction>> {
    g.variant.and_then(|v| v.layer_predictions())
}

/// Why a line has no activation theory, when it has none.
fn no_activation_theory(g: &Line) -> Option<&'static str> {
    match g.variant {
        None => Some("their model settings could not be read from the runs table"),
        Some(v) => v.no_theory(),
    }
}

/// One sentence per reason naming the lines without an activation theory curve, or
/// nothing when every line has one.
pub(super) fn activation_gaps(lines: &[Line]) -> Vec<String> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for g in lines {
        let Some(reason) = no_activation_theory(g) else {
            continue;
        };
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, labels)) => labels.push(&g.label),
            None => by_reason.push((reason, vec![&g.label])),
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, labels)| {
            format!(
                "No mean-field curve is drawn for {}: {reason}.",
                bold_list(&labels)
            )
        })
        .collect()
}

/// The PlainMLP lines the gradient theory leaves out because their block is not the
/// default one, as one sentence.
pub(super) fn gradient_gaps(lines: &[Line]) -> Option<String> {
    let labels: Vec<&str> = lines
        .iter()
        .filter(|g| !g.residual && !g.variant.is_some_and(|v| v.is_default_block()))
        .map(|g| g.label.as_str())
        .collect();
    (!labels.is_empty()).then(|| {
        format!(
            "No gradient theory is drawn for {}: it is derived for the default ReLU block (Kaiming-He normal \
             weights, zero bias, ReLU, no norm, an activated last layer) only.",
            bold_list(&labels)
        )
    })
}

/// "**a**", "**a** and **b**", "**a**, **b** and **c**".
fn bold_list(items: &[&str]) -> String {
    let bold: Vec<String> = items.iter().map(|s| format!("**{s}**")).collect();
    match bold.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        assert_eq!(bold_list(&["a"]), "**a**");
        assert_eq!(bold_list(&["a", "b", "c"]), "**a**, **b** and **c**");
    }
}
