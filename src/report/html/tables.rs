//! The page's own tables: every run, and the fairness audit's pairs. Cells show values as
//! report.md writes them ([`crate::format::value`]) and carry the exact value in `data-v`,
//! which the page sorts by.

use super::data::{f64s, strs};
use super::escape::escape;
use super::Input;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A numeric cell: the formatted value, the exact one as its sort key.
fn num_cell(v: f64) -> String {
    if v.is_finite() {
        format!(
            "<td data-v=\"{v:e}\">{}</td>",
            escape(&crate::format::value(v))
        )
    } else {
        "<td data-v=\"\">–</td>".to_string()
    }
}

/// The runs table's numeric columns: (column of the runs table, header).
const RUN_COLUMNS: [(&str, &str); 11] = [
    ("initial_eval_loss", "initial eval loss"),
    ("final_eval_loss", "final eval loss"),
    ("best_eval_loss", "best eval loss"),
    ("loss_reduction", "final / initial"),
    ("diverged_step", "diverged at step"),
    ("grad_norm_first_init", "grad norm, layer 1, init"),
    ("grad_norm_last_init", "grad norm, layer L, init"),
    ("act_std_last_init", "act std, layer L, init"),
    ("act_std_last_final", "act std, layer L, end"),
    ("wall_time_s", "wall time (s)"),
    ("steps_per_s", "steps/s"),
];

/// One row per complete run: its id (a link to the drill-down), group, seed, status and
/// metrics.
pub(super) fn runs(input: &Input<'_>) -> String {
    let runs = input.runs;
    let group: BTreeMap<&str, &str> = input
        .groups
        .iter()
        .flat_map(|g| g.runs.iter().map(move |r| (r.as_str(), g.label.as_str())))
        .collect();
    let ids = strs(runs, "run_id");
    let seeds = strs(runs, "seed");
    let status = strs(runs, "status");
    let cols: Vec<Vec<f64>> = RUN_COLUMNS.iter().map(|(c, _)| f64s(runs, c)).collect();
    let mut h = String::from(
        "<div class=\"scroll\"><table class=\"runs\">\n<thead><tr><th>run</th><th>group</th><th>seed</th><th>status</th>",
    );
    for (_, head) in RUN_COLUMNS {
        let _ = write!(h, "<th>{}</th>", escape(head));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (i, id) in ids.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td><a href=\"#drill\" data-run=\"{0}\">{0}</a></td><td>{1}</td><td data-v=\"{2}\">{2}</td><td>{3}</td>",
            escape(id),
            escape(group.get(id.as_str()).copied().unwrap_or("")),
            escape(seeds.get(i).map_or("", String::as_str)),
            escape(status.get(i).map_or("", String::as_str)),
        );
        for c in &cols {
            h.push_str(&num_cell(c.get(i).copied().unwrap_or(f64::NAN)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    h
}

/// The fairness audit's pairs: per stratum, each seed's two runs, their metric and the
/// facts the audit compares (initial-weight hash, data hash, parameter count).
pub(super) fn pairs(input: &Input<'_>) -> String {
    let Some(c) = input.comparison else {
        return String::new();
    };
    let runs = input.runs;
    let ids = strs(runs, "run_id");
    let row: BTreeMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let facts = [
        ("init_hash", "initial-weight hash"),
        ("data_hash", "data hash"),
        ("param_count", "parameters"),
    ];
    let fact_cols: Vec<Vec<String>> = facts.iter().map(|(c, _)| strs(runs, c)).collect();
    let fact = |k: usize, id: &str| {
        row.get(id)
            .and_then(|&i| fact_cols[k].get(i))
            .cloned()
            .unwrap_or_default()
    };
    let mut h = format!(
        "<h3>Pairs</h3>\n<p>Every pair the audit compared: {} pairs of runs that differ only in \
         <code>{}</code>, paired by seed within each stratum. The audit's checks are shown per \
         pair: a value is written once when both runs have it, and as both values when they differ.</p>\n",
        c.pairs,
        escape(&c.axis)
    );
    h.push_str(&format!(
        "<div class=\"scroll\"><table class=\"pairs\">\n<thead><tr><th>stratum (arm)</th><th>seed</th><th>baseline run ({0}={1})</th><th>arm run</th><th>{2}, baseline</th><th>{2}, arm</th><th>arm − baseline</th>",
        escape(&c.axis),
        escape(&c.baseline),
        escape(&c.metric)
    ));
    for (_, head) in facts {
        let _ = write!(h, "<th>{head}</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for st in &c.strata {
        for p in &st.pairs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td data-v=\"{}\">{1}</td><td><a href=\"#drill\" data-run=\"{2}\">{2}</a></td><td><a href=\"#drill\" data-run=\"{3}\">{3}</a></td>{4}{5}{6}",
                escape(&format!("{} ({}={})", st.label(), c.axis, st.arm)),
                escape(&p.seed),
                escape(&p.run_a),
                escape(&p.run_b),
                num_cell(p.a),
                num_cell(p.b),
                num_cell(p.b - p.a),
            );
            for k in 0..facts.len() {
                let (a, b) = (fact(k, &p.run_a), fact(k, &p.run_b));
                if a == b {
                    let _ = write!(h, "<td class=\"same\">{}</td>", escape(&a));
                } else {
                    let _ = write!(
                        h,
                        "<td class=\"differs\">{} ≠ {}</td>",
                        escape(&a),
                        escape(&b)
                    );
                }
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody></table></div>\n");
    h
}
