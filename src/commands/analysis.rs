//! `resweep aggregate`, `resweep query` and `resweep compare`: everything that reads a
//! sweep directory's stored runs.

use super::{bad_diagnostic, bad_input, Exit};
use crate::analysis::{self, compare, tables, Format};
use crate::cli::{CompareArgs, DirArgs, QueryArgs};
use crate::store::SweepDir;
use crate::sweep::SweepSpec;
use polars::prelude::*;
use std::path::Path;

/// The sweep directory a command reads: a directory with `sweep.toml`, a sweep file's
/// directory under `runs_dir`, or the default sweep's.
pub fn resolve(dir: Option<&Path>, runs_dir: &Path) -> anyhow::Result<SweepDir> {
    let sweep_dir = match dir {
        Some(p) if p.is_dir() => p.to_path_buf(),
        Some(p) if p.is_file() => {
            let spec = SweepSpec::from_file(p).map_err(|e| bad_diagnostic(e.to_string()))?;
            runs_dir.join(spec.name)
        }
        Some(p) => {
            return Err(bad_input(format!(
                "{} does not exist: pass a sweep directory (runs/<name>) or a sweep file",
                p.display()
            )))
        }
        None => runs_dir.join(SweepSpec::default_sweep().name),
    };
    SweepDir::open(&sweep_dir).map_err(|e| bad_input(format!("{e:#}")))
}

/// Collects the tables and prints what was found and the summary over seeds.
pub fn aggregate_and_print(dir: &SweepDir) -> anyhow::Result<tables::Collected> {
    aggregate_and_show(dir, true)
}

/// [`aggregate_and_print`], with the summary over seeds only when `summary` is set (the
/// short ending of `resweep run`).
pub fn aggregate_and_show(dir: &SweepDir, summary: bool) -> anyhow::Result<tables::Collected> {
    let (c, built) = collect_and_report(dir, |c| {
        if summary {
            crate::outln!("\n{}", analysis::summary_table(c));
        }
        crate::outln!("{}", c.status_line());
        let missing = c.missing();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).copied().collect();
            crate::outln!(
                "not in the tables yet: {}{}",
                shown.join(", "),
                if missing.len() > 10 {
                    format!(" and {} more", missing.len() - 10)
                } else {
                    String::new()
                }
            );
        }
        crate::outln!("tables: {}", dir.tables().display());
        report_damaged(c);
    })?;
    crate::outln!(
        "report: {} ({} figures)",
        built.report.display(),
        built.figures.len()
    );
    Ok(c)
}

/// Lists the damaged runs left out of the tables (on standard error, so that scripts
/// reading the summary see it too), with the command that repairs them.
fn report_damaged(c: &tables::Collected) {
    if c.damaged.is_empty() {
        return;
    }
    crate::errln!(
        "error: {} damaged run{} left out of the tables:",
        c.damaged.len(),
        if c.damaged.len() == 1 { "" } else { "s" }
    );
    for (id, damage) in &c.damaged {
        crate::errln!("  {id}: {damage}");
    }
    crate::errln!(
        "  help: `resweep run` on this sweep moves the damaged files aside (inside each run directory) and trains those runs again; `resweep verify` checks everything"
    );
}

/// Exit code 1 when damaged runs were left out of the tables, so that scripts notice.
fn exit_for(c: &tables::Collected) -> Exit {
    if c.damaged.is_empty() {
        Exit::Ok
    } else {
        Exit::SomeFailed
    }
}

/// Collects the tables, runs `show` on them, then draws the figures and writes report.md,
/// all under the exclusive tables lock.
fn collect_and_report(
    dir: &SweepDir,
    show: impl FnOnce(&tables::Collected),
) -> anyhow::Result<(tables::Collected, crate::report::build::Built)> {
    let _tables = dir.lock_tables(true)?;
    let c = analysis::collect(dir)?;
    show(&c);
    let built = write_report(dir, &c)?;
    Ok((c, built))
}

/// Draws the figures and writes report.md from collected tables.
fn write_report(
    dir: &SweepDir,
    c: &tables::Collected,
) -> anyhow::Result<crate::report::build::Built> {
    let command: Vec<String> = std::env::args().collect();
    let command = format!(
        "resweep {}",
        command
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    crate::report::build::build(dir, c, command.trim())
}

/// Runs `resweep report`.
pub fn report(a: &DirArgs) -> anyhow::Result<Exit> {
    let dir = resolve(a.dir.as_deref(), &a.runs_dir)?;
    let (c, built) = collect_and_report(&dir, report_damaged)?;
    crate::outln!("{}", c.status_line());
    for f in &built.figures {
        crate::outln!("figure: {}", f.display());
    }
    crate::outln!("report: {}", built.report.display());
    Ok(exit_for(&c))
}

/// Runs `resweep aggregate`.
pub fn aggregate(a: &DirArgs) -> anyhow::Result<Exit> {
    let dir = resolve(a.dir.as_deref(), &a.runs_dir)?;
    let c = aggregate_and_print(&dir)?;
    Ok(exit_for(&c))
}

/// Runs `resweep query`.
pub fn query(a: &QueryArgs) -> anyhow::Result<Exit> {
    let missing = |dir: Option<&str>| {
        let (after, arg) = dir.map_or((String::new(), String::new()), |d| {
            (format!(" after `{d}`"), format!("{d} "))
        });
        bad_input(format!(
            "missing SQL{after}: e.g. resweep query {arg}\"SELECT * FROM runs LIMIT 5\" (tables: {})",
            analysis::tables::TABLE_NAMES.join(", ")
        ))
    };
    let (dir, sql) = match a.args.as_slice() {
        [] => return Err(missing(None)),
        // One word that names a directory or a sweep file is not a query.
        [one] if Path::new(one).exists() || one.ends_with(".toml") => {
            return Err(missing(Some(one)));
        }
        [sql] => (None, sql),
        [dir, sql] => (Some(Path::new(dir)), sql),
        _ => return Err(bad_input("usage: resweep query [SWEEP_DIR] \"SQL\"")),
    };
    let dir = resolve(dir, &a.runs_dir)?;
    let format = match (&a.format, &a.out) {
        (Some(f), _) => f
            .parse::<Format>()
            .map_err(|e| bad_input(format!("--format: {e}")))?,
        (None, Some(out)) => Format::from_extension(out).unwrap_or(Format::Table),
        (None, None) => Format::Table,
    };
    if format == Format::Parquet && a.out.is_none() {
        return Err(bad_input("--format parquet needs --out FILE"));
    }
    let tables = dir.lock_tables(false)?;
    let mut df = analysis::query(&dir, sql).map_err(|e| bad_input(format!("{e:#}")))?;
    drop(tables);
    analysis::write_output(&mut df, format, a.out.as_deref())?;
    Ok(Exit::Ok)
}

/// The comparison of a sweep directory (tables collected first when missing).
fn comparison(dir: &SweepDir, spec: &compare::CompareSpec) -> anyhow::Result<compare::Comparison> {
    let runs_path = tables::table_path(dir, "runs");
    let df = if runs_path.is_file() {
        let _tables = dir.lock_tables(false)?;
        let file = std::fs::File::open(&runs_path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", runs_path.display()))?;
        ParquetReader::new(file)
            .finish()
            .map_err(|e| anyhow::anyhow!("{}: {e}", runs_path.display()))?
    } else {
        // Collected just now: the frame written to runs.parquet, not read back.
        let _tables = dir.lock_tables(true)?;
        analysis::collect(dir)?.runs
    };
    let frozen =
        SweepSpec::from_file(&dir.frozen_sweep()).map_err(|e| bad_diagnostic(e.to_string()))?;
    compare::compare(&df, &frozen.axis_names(), spec)
}

/// Writes `tables/compare.parquet` (statistics and verdict per stratum) and
/// `tables/compare_pairs.parquet` (one row per pair).
fn write_comparison(dir: &SweepDir, c: &compare::Comparison) -> anyhow::Result<()> {
    let (mut summary, mut pairs) = compare::render::frames(c)?;
    for (name, df) in [("compare", &mut summary), ("compare_pairs", &mut pairs)] {
        analysis::write_output(df, Format::Parquet, Some(&tables::table_path(dir, name)))?;
    }
    Ok(())
}

/// Runs `resweep compare`.
pub fn compare(a: &CompareArgs) -> anyhow::Result<Exit> {
    let dir = resolve(a.dir.dir.as_deref(), &a.dir.runs_dir)?;
    let spec = compare::CompareSpec {
        axis: a.axis.clone(),
        metric: a.metric.clone(),
        baseline: a.baseline.clone(),
        lower_is_better: !a.higher_is_better,
    };
    let c = comparison(&dir, &spec)?;
    write_comparison(&dir, &c)?;
    if a.json {
        crate::dataln!("{}", serde_json::to_string_pretty(&comparison_json(&c))?);
        if a.strict && !c.fair() {
            return Ok(Exit::SomeFailed);
        }
        return Ok(Exit::Ok);
    }
    crate::out!("{}", compare::render::render_text(&c));
    crate::outln!(
        "\nwritten: {}",
        dir.tables().join("compare.parquet").display()
    );
    if a.strict && !c.fair() {
        return Ok(Exit::SomeFailed);
    }
    Ok(Exit::Ok)
}

/// `resweep compare --json`: the verdict, every flag, and per stratum its pairs and
/// statistics (non-finite numbers as null).
fn comparison_json(c: &compare::Comparison) -> serde_json::Value {
    let strata: Vec<serde_json::Value> = c
        .strata
        .iter()
        .map(|s| {
            let settings: serde_json::Map<String, serde_json::Value> = s
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
                .collect();
            let pairs: Vec<serde_json::Value> = s
                .pairs
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "seed": p.seed, "run_a": p.run_a, "run_b": p.run_b,
                        "a": p.a, "b": p.b,
                    })
                })
                .collect();
            serde_json::json!({
                "settings": settings,
                "arm": s.arm,
                "pairs": pairs,
                "stats": s.stats,
            })
        })
        .collect();
    let flags: Vec<serde_json::Value> = c
        .flags
        .iter()
        .map(|f| serde_json::json!({"kind": f.kind, "message": f.message, "runs": f.runs}))
        .collect();
    serde_json::json!({
        "axis": c.axis,
        "metric": c.metric,
        "lower_is_better": c.lower_is_better,
        "arms": c.arms,
        "baseline": c.baseline,
        "runs": c.runs,
        "pairs": c.pairs,
        "fair": c.fair(),
        "verdict": c.verdict(),
        "flags": flags,
        "skipped_checks": c.skipped_checks,
        "strata": strata,
    })
}

/// The one-line warning `resweep run` ends with when the fairness audit (the report's:
/// along `residual`, else the first axis but `seed`) finds the sweep unfair.
pub fn unfair_warning(dir: &SweepDir) -> anyhow::Result<Option<String>> {
    let frozen =
        SweepSpec::from_file(&dir.frozen_sweep()).map_err(|e| bad_diagnostic(e.to_string()))?;
    let axes = frozen.axis_names();
    let Some(axis) = axes
        .iter()
        .find(|a| a.as_str() == "residual")
        .or_else(|| axes.iter().find(|a| a.as_str() != "seed"))
    else {
        return Ok(None);
    };
    if !tables::table_path(dir, "runs").is_file() {
        return Ok(None);
    }
    let spec = compare::CompareSpec {
        axis: axis.clone(),
        metric: "final_eval_loss".into(),
        baseline: None,
        lower_is_better: true,
    };
    // Too few runs to compare is no unfairness.
    let Ok(c) = comparison(dir, &spec) else {
        return Ok(None);
    };
    Ok((!c.fair()).then(|| {
        format!(
            "warning: {} — details: `resweep compare {} --axis {axis}` or {}",
            c.verdict(),
            dir.root().display(),
            dir.root().join("report.md").display()
        )
    }))
}
