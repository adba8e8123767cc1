//! `resweep verify [DIR]`: an fsck for a sweep directory (see [`crate::analysis::verify`]).
//! Prints a verdict per run, one per table, and a summary; exit 0 only when everything
//! verifies, 1 otherwise.

use super::Exit;
use crate::analysis::verify::{verify, Verification};
use crate::cli::DirArgs;
use crate::store::RunStatus;

/// Runs `resweep verify`.
pub fn run(a: &DirArgs) -> anyhow::Result<Exit> {
    let dir = super::analysis::resolve(a.dir.as_deref(), &a.runs_dir)?;
    let v = {
        let _tables = dir.lock_tables(false)?;
        verify(&dir)?
    };
    print_verification(&v);
    crate::outln!("sweep directory: {}", dir.root().display());
    Ok(if v.ok() { Exit::Ok } else { Exit::SomeFailed })
}

fn verdict(status: &RunStatus) -> String {
    match status {
        RunStatus::Done { diverged: false } => "ok".into(),
        RunStatus::Done { diverged: true } => "ok (diverged)".into(),
        RunStatus::Partial { step } => format!("partial: resumes at step {step}"),
        RunStatus::Pending => "pending".into(),
        RunStatus::Failed { reason } => format!("failed: {reason}"),
        RunStatus::Damaged { damage } => format!("DAMAGED: {damage}"),
    }
}

fn print_verification(v: &Verification) {
    let header = vec!["run_id".to_string(), "verdict".to_string()];
    let rows: Vec<Vec<String>> = v
        .runs
        .iter()
        .map(|r| vec![r.run_id.clone(), verdict(&r.status)])
        .collect();
    crate::out!("{}", crate::table::aligned(&header, &rows));
    if !v.tables.is_empty() {
        let header = vec![
            "table".to_string(),
            "rows".to_string(),
            "verdict".to_string(),
        ];
        let rows: Vec<Vec<String>> = v
            .tables
            .iter()
            .map(|t| {
                vec![
                    format!("{}.parquet", t.table),
                    t.rows.map_or("-".into(), |n| n.to_string()),
                    t.problem
                        .as_ref()
                        .map_or("ok".into(), |p| format!("DIFFERS: {p}")),
                ]
            })
            .collect();
        crate::outln!();
        crate::out!("{}", crate::table::aligned(&header, &rows));
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for r in &v.runs {
        *counts.entry(r.status.word()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let tables = if v.tables.is_empty() {
        "no tables yet".to_string()
    } else {
        format!(
            "{} of {} tables match the run directories",
            v.tables.len() - v.bad_tables(),
            v.tables.len()
        )
    };
    crate::outln!(
        "\nverify: {} runs ({}); {tables}{}: {}",
        v.runs.len(),
        counts.join(", "),
        if v.ignored.is_empty() {
            String::new()
        } else {
            format!(
                "; {} run directories not in the sweep were not checked",
                v.ignored.len()
            )
        },
        if v.ok() {
            "everything verifies"
        } else {
            "NOT OK"
        }
    );
    if v.damaged() > 0 {
        crate::outln!(
            "help: `resweep run` on this sweep moves damaged files aside (inside each run directory) and trains those runs again"
        );
    } else if v.bad_tables() > 0 {
        crate::outln!("help: `resweep aggregate` rebuilds the tables from the run directories");
    }
}
