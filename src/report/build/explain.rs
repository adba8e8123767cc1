//! The report's answer and explanations, computed from the tables: the opening paragraph
//! (which arm wins, where, how sure) and, at the end of the micro-world section, the
//! mechanisms behind the two results the symptom figures leave unexplained (a PlainMLP
//! that keeps its signal yet barely learns; gradients that become exactly zero).

use super::data::{f64s, pl, u32s, LayerFrames, Line};
use super::probe_data::{at, mean, median, per_line, ProbeFrames};
use super::Report;
use crate::analysis::compare::Comparison;
use crate::format;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The opening paragraph: the answer to the report's question, before any detail.
pub(super) fn answer(md: &mut String, comparison: Option<&Comparison>) {
    let _ = write!(md, "**The answer, from this sweep's data.** ");
    let Some(c) = comparison else {
        let _ = writeln!(
            md,
            "This sweep does not compare the two arms (it has no `residual` axis with paired \
             seeds), so it cannot say whether the residual connection helped.\n"
        );
        return;
    };
    if !c.fair() {
        let _ = writeln!(
            md,
            "The fairness audit found the comparison unfair ({}), so this report does not \
             say which arm is better; see the audit below.\n",
            c.verdict()
        );
        return;
    }
    let name = |arm: &str| -> String {
        match (c.axis.as_str(), arm) {
            ("residual", "true") => "ResMLP".into(),
            ("residual", "false") => "PlainMLP".into(),
            _ => format!("{}={arm}", c.axis),
        }
    };
    let base = name(&c.baseline);
    let better = if c.lower_is_better { "lower" } else { "higher" };
    let mut parts = Vec::new();
    let (mut b_wins, mut judged) = (0, 0);
    for st in &c.strata {
        let Some(s) = &st.stats else { continue };
        judged += 1;
        let arm = name(&st.arm);
        let b_better = if c.lower_is_better {
            s.mean_b < s.mean_a
        } else {
            s.mean_b > s.mean_a
        };
        if b_better && s.wins_b > s.losses_b() {
            b_wins += 1;
        }
        parts.push(format!(
            "at {}: {arm} {} vs {base} {} (mean over {} seeds), {better} on {} of {} seeds \
             (exact sign test p = {})",
            st.label(),
            format::reading(s.mean_b),
            format::reading(s.mean_a),
            s.n,
            s.wins_b,
            s.n,
            format::reading(s.sign_test_p)
        ));
    }
    // One compared arm ("The ResMLP ends with ... in 2 of 2 settings"), or several, each
    // against the baseline ("branch_scale=1/depth or branch_scale=1/sqrt(depth), each
    // against branch_scale=1, ends ... in 8 of 8 comparisons").
    let mut arms: Vec<String> = Vec::new();
    for st in c.strata.iter().filter(|st| st.stats.is_some()) {
        let a = name(&st.arm);
        if !arms.contains(&a) {
            arms.push(a);
        }
    }
    let (compared, unit) = match arms.len() {
        0 => ("the compared arm".to_string(), "settings"),
        1 => (arms.remove(0), "settings"),
        _ => (
            format!("{}, each against {base},", arms.join(" or ")),
            "comparisons",
        ),
    };
    // Each arm at its own best-known init: the pairing the strata above do not make.
    let strongest: Vec<String> = c
        .baselines
        .iter()
        .filter_map(|b| {
            let s = b.stats.as_ref()?;
            Some(format!(
                "{}: ResMLP {} vs PlainMLP {}, {better} on {} of {} seeds (exact sign test p = {})",
                b.label,
                format::reading(s.mean_b),
                format::reading(s.mean_a),
                s.wins_b,
                s.n,
                format::reading(s.sign_test_p)
            ))
        })
        .collect();
    let strongest = if strongest.is_empty() {
        String::new()
    } else {
        format!(
            " Against the strongest baseline (each arm at its own init scale, paired by \
             seed): {}.",
            strongest.join("; ")
        )
    };
    let _ = writeln!(
        md,
        "The audit finds the comparison fair ({} runs in {} seed pairs). The {compared} ends \
         with the {better} {} in {b_wins} of {judged} {unit}: {}.{strongest} The micro-world \
         section measures why.\n",
        c.runs,
        c.pairs,
        c.metric,
        parts.join("; ")
    );
}

/// Per run, the first probe step at which every weight and bias gradient is exactly zero.
fn first_all_zero_step(layers: &DataFrame) -> anyhow::Result<BTreeMap<(u32, String), i64>> {
    let df = pl(
        layers
            .clone()
            .lazy()
            .group_by([col("group"), col("run_id"), col("step")])
            .agg([(col("grad_norm").max() + col("bias_grad_norm").max()).alias("g")])
            .filter(col("g").eq(lit(0.0)))
            .group_by([col("group"), col("run_id")])
            .agg([col("step").min().alias("first")])
            .collect(),
        "steps with zero gradients",
    )?;
    let (g, first) = (u32s(&df, "group")?, f64s(&df, "first")?);
    let ids = df.column("run_id")?.str()?.clone();
    Ok((0..df.height())
        .map(|i| {
            (
                (g[i], ids.get(i).unwrap_or_default().to_string()),
                first[i] as i64,
            )
        })
        .collect())
}

/// The median over `firsts` (run id, step) of the last layer's `act_std` at that step, from
/// the f32 training pass (line `group`).
fn top_act_std(
    all: &DataFrame,
    group: usize,
    firsts: &[(String, i64)],
    depth: usize,
) -> anyhow::Result<f64> {
    let (g, step, layer, sd) = (
        u32s(all, "group")?,
        f64s(all, "step")?,
        f64s(all, "layer")?,
        f64s(all, "act_std")?,
    );
    let ids = all.column("run_id")?.str()?.clone();
    let mut v = Vec::new();
    for k in 0..all.height() {
        if g[k] as usize == group && layer[k] as usize == depth {
            let id = ids.get(k).unwrap_or_default();
            if firsts.iter().any(|(r, s)| r == id && *s as f64 == step[k]) {
                v.push(sd[k]);
            }
        }
    }
    Ok(median(&v))
}

/// The explanations, from measurements.
pub(super) fn explain(
    report: &mut Report,
    lines: &[Line],
    p: &ProbeFrames,
    layers: &LayerFrames,
    runs: &DataFrame,
) -> anyhow::Result<()> {
    let md = &mut report.md;
    let _ = writeln!(md, "### What the measurements explain\n");
    let mut said = false;
    let init_loss = f64s(runs, "initial_eval_loss")?;
    let final_loss = f64s(runs, "final_eval_loss")?;
    let probe_every = f64s(runs, "probe_every")?;
    let branch0 = per_line(&layers.init, "branch_ratio", lines)?;
    let (pi, pf) = (at(&p.probes, "init")?, at(&p.probes, "final")?);
    let (er0, er1) = (
        per_line(&pi, "jac_effective_rank", lines)?,
        per_line(&pf, "jac_effective_rank", lines)?,
    );
    let (nr0, nr1) = (
        per_line(&pi, "jac_numerical_rank", lines)?,
        per_line(&pf, "jac_numerical_rank", lines)?,
    );
    // 1. A PlainMLP whose signal keeps its size but which barely learns.
    for (i, line) in lines.iter().enumerate() {
        let (l0, l1) = (
            median(&line.values(&init_loss)),
            median(&line.values(&final_loss)),
        );
        let br = mean(&branch0[i]);
        // "Learns little": keeps at least 60% of its initial eval loss.
        let alive_but_stuck = br >= 0.5 && l1 / l0 >= 0.6;
        if line.residual || !alive_but_stuck || er0[i].is_empty() {
            continue;
        }
        said = true;
        let (e0, e1) = (median(&er0[i]), median(&er1[i]));
        let w = line.width as f64;
        let verdict = if e0.max(e1) < 0.1 * w {
            " Kaiming-He init keeps the signal's size, not its information."
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "- **{} keeps its signal's size yet learns little** (median eval loss {} → {}). \
             Its layers pass on {} of their input's norm on average at initialisation, so the \
             signal is alive in size. But its input-output Jacobian has an effective rank of \
             {} (numerical rank {} of {}) at initialisation and {} ({}) at the end, where the \
             identity it must learn has all {} singular values equal to 1.{verdict}",
            line.label,
            format::reading(l0),
            format::reading(l1),
            format::reading(br),
            format::reading(e0),
            format::reading(median(&nr0[i])),
            line.width,
            format::reading(e1),
            format::reading(median(&nr1[i])),
            line.width,
        );
    }
    // 2. Gradients that become exactly zero.
    let zero = first_all_zero_step(&layers.all)?;
    let dead_rows = pl(
        layers
            .all
            .clone()
            .lazy()
            .filter(col("branch_ratio").eq(lit(0.0)))
            .select([col("group"), col("run_id"), col("step"), col("layer")])
            .collect(),
        "layers with zero output",
    )?;
    let (dg, ds, dl) = (
        u32s(&dead_rows, "group")?,
        f64s(&dead_rows, "step")?,
        f64s(&dead_rows, "layer")?,
    );
    let dids = dead_rows.column("run_id")?.str()?.clone();
    for (i, line) in lines.iter().enumerate() {
        let firsts: Vec<(String, i64)> = zero
            .iter()
            .filter(|((g, _), _)| *g as usize == i)
            .map(|((_, id), s)| (id.clone(), *s))
            .collect();
        if firsts.is_empty() {
            continue;
        }
        said = true;
        // Which layers output zero for every probe input at that step.
        let mut dead_layers: BTreeMap<i64, usize> = BTreeMap::new();
        for (id, step) in &firsts {
            for k in 0..dead_rows.height() {
                if dg[k] as usize == i && ds[k] as i64 == *step && dids.get(k) == Some(id.as_str())
                {
                    *dead_layers.entry(dl[k] as i64).or_default() += 1;
                }
            }
        }
        let steps: Vec<f64> = firsts.iter().map(|(_, s)| *s as f64).collect();
        let every = median(&line.values(&probe_every));
        let layers_text = if dead_layers.is_empty() {
            // The f64 probes still see every layer's output: the zeros are f32's.
            let top = top_act_std(&layers.all, i, &firsts, line.depth)?;
            format!(
                "yet the f64 probes see a non-zero output at every layer at that step, while \
                 the f32 training pass's last-layer output has std {} there: these are zeros \
                 of f32 arithmetic (values below about 1.2e-38 are flushed to zero), \
                 underflow rather than switched-off units",
                format::reading(top)
            )
        } else {
            let list: Vec<String> = dead_layers
                .iter()
                .map(|(l, n)| format!("layer {l} in {n} run{}", if *n == 1 { "" } else { "s" }))
                .collect();
            format!(
                "at that step the output of {} is zero for every probe input (branch ratio \
                 exactly 0): every ReLU there is off, so no gradient passes below it and its \
                 own weights and biases get none. The net then outputs a constant, and no \
                 update can change it",
                list.join(", ")
            )
        };
        let _ = writeln!(
            md,
            "- **{}'s gradients become exactly zero** in {} of {} runs, first seen at probe \
             step {} (median; range {}–{}, probes every {} steps): {}.",
            line.label,
            firsts.len(),
            line.runs.len(),
            median(&steps),
            steps.iter().copied().fold(f64::INFINITY, f64::min),
            steps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            every,
            layers_text
        );
    }
    if !said {
        let _ = writeln!(
            md,
            "- No PlainMLP line both keeps its signal's size and learns little, and no run's \
             gradients become exactly zero: neither puzzle arises in this sweep."
        );
    }
    let _ = writeln!(md);
    Ok(())
}
