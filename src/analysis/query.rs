//! SQL over a sweep's tables, and the writers of query results.
//!
//! [`query`] registers `runs`, `steps`, `layers` and `summary` (lazy scans of
//! `tables/*.parquet`, see [`super::tables`]) in a polars SQL context and runs one
//! statement. [`write_output`] prints or saves the result as an aligned table, CSV, JSON
//! (an array of objects; non-finite floats become `null`) or parquet.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use polars::prelude::*;
use polars::sql::SQLContext;

use super::staged::Staged;
use super::tables::{table_path, TABLE_NAMES};
use crate::format;
use crate::store::SweepDir;

/// Output format of query results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text, every row (numbers right-aligned, floats to 6 significant digits).
    Table,
    /// CSV with a header, full precision, empty cells for null.
    Csv,
    /// A JSON array of row objects, full precision, `null` for null and non-finite.
    Json,
    /// Parquet (zstd); needs an output file.
    Parquet,
}

impl Format {
    /// Every format's name, as accepted by [`Format::from_str`].
    pub const NAMES: &'static [&'static str] = &["table", "csv", "json", "parquet"];

    /// The name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }

    /// The format a file name's extension implies (`.csv`, `.json`, `.parquet`/`.pq`,
    /// `.txt`), if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "parquet" | "pq" => Some(Format::Parquet),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            _ => Err(format!(
                "unknown format \"{s}\": expected one of {}",
                Format::NAMES.join(", ")
            )),
        }
    }
}

/// The sweep's parquet tables besides [`TABLE_NAMES`], by name, sorted.
fn extra_tables(dir: &SweepDir) -> Vec<(String, std::path::PathBuf)> {
    let mut out: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir.tables())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".parquet")?
                .to_string();
            let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (plain && !TABLE_NAMES.contains(&name.as_str())).then_some((name, path))
        })
        .collect();
    out.sort();
    out
}

/// Runs one SQL statement over the tables of `dir` (`runs`, `steps`, `layers`,
/// `summary`) and returns the result.
///
/// Errors (never panics): tables missing ("run `resweep aggregate DIR` first"), or the
/// query failing, reported as `query failed: ` and the first line of polars' message.
pub fn query(dir: &SweepDir, sql: &str) -> anyhow::Result<DataFrame> {
    let missing: Vec<&str> = TABLE_NAMES
        .iter()
        .copied()
        .filter(|t| !table_path(dir, t).is_file())
        .collect();
    if missing.len() == TABLE_NAMES.len() {
        anyhow::bail!(
            "{} has no tables: run `resweep aggregate {}` first",
            dir.root().display(),
            dir.root().display()
        );
    }
    if !missing.is_empty() {
        let files: Vec<String> = missing.iter().map(|t| format!("{t}.parquet")).collect();
        anyhow::bail!(
            "{} lacks {}: run `resweep aggregate {}` first",
            dir.tables().display(),
            files.join(", "),
            dir.root().display()
        );
    }
    anyhow::ensure!(
        !sql.trim().is_empty(),
        "empty query: write a SQL statement such as \"SELECT * FROM summary\" (tables: {})",
        TABLE_NAMES.join(", ")
    );
    let sql = super::sql::prepare(sql).map_err(|e| anyhow::anyhow!("query failed: {e}"))?;
    let sql = sql.as_str();
    let natural = super::sql::natural_order(sql);
    let run = || -> PolarsResult<DataFrame> {
        let mut ctx = SQLContext::new();
        for t in TABLE_NAMES {
            let path = PlRefPath::try_from_path(&table_path(dir, t))?;
            ctx.register(
                t,
                LazyFrame::scan_parquet(path, ScanArgsParquet::default())?,
            );
        }
        // Every other table of the sweep, by file name: the probe tables, `landscape`,
        // `compare`, `compare_pairs`.
        for (name, path) in extra_tables(dir) {
            let path = PlRefPath::try_from_path(&path)?;
            ctx.register(
                &name,
                LazyFrame::scan_parquet(path, ScanArgsParquet::default())?,
            );
        }
        let df = ctx.execute(sql)?.collect()?;
        if natural {
            natural_sort(df)
        } else {
            Ok(df)
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(df)) => Ok(df),
        Ok(Err(e)) => {
            let mut msg = super::sql::polars_message(&e.to_string());
            if msg.starts_with("relation ") && msg.contains("not found") {
                msg.push_str(&format!(" (tables: {})", TABLE_NAMES.join(", ")));
            }
            Err(anyhow::anyhow!("query failed: {msg}"))
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("polars panicked");
            Err(anyhow::anyhow!("query failed: {}", first_line(msg)))
        }
    }
}

/// `df`'s rows sorted by its columns, left to right, in natural order: numbers as
/// numbers (depth 4, 12, 24; NaN after every number), text by
/// [`format::natural_cmp`](crate::format::natural_cmp) (`d4-…` before `d12-…`), `false`
/// before `true`, null last; other values by their text. Equal rows keep their order.
fn natural_sort(df: DataFrame) -> PolarsResult<DataFrame> {
    use std::cmp::Ordering;
    fn cmp(a: &AnyValue<'_>, b: &AnyValue<'_>) -> Ordering {
        match (a.is_null(), b.is_null()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        if a.is_integer() && b.is_integer() {
            if let (Some(x), Some(y)) = (a.extract::<i128>(), b.extract::<i128>()) {
                return x.cmp(&y);
            }
        }
        if a.is_primitive_numeric() && b.is_primitive_numeric() {
            if let (Some(x), Some(y)) = (a.extract::<f64>(), b.extract::<f64>()) {
                return x.total_cmp(&y);
            }
        }
        if let (AnyValue::Boolean(x), AnyValue::Boolean(y)) = (a, b) {
            return x.cmp(y);
        }
        match (a.get_str(), b.get_str()) {
            (Some(x), Some(y)) => format::natural_cmp(x, y),
            _ => format::natural_cmp(&a.to_string(), &b.to_string()),
        }
    }
    if df.height() < 2 || df.width() == 0 {
        return Ok(df);
    }
    let columns = df.columns();
    let mut rows: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
    let mut failed = None;
    rows.sort_by(|&i, &j| {
        for c in columns {
            match (c.get(i as usize), c.get(j as usize)) {
                (Ok(a), Ok(b)) => match cmp(&a, &b) {
                    Ordering::Equal => continue,
                    o => return o,
                },
                (Err(e), _) | (_, Err(e)) => {
                    failed.get_or_insert(e);
                    return Ordering::Equal;
                }
            }
        }
        Ordering::Equal
    });
    if let Some(e) = failed {
        return Err(e);
    }
    df.take(&IdxCa::from_vec("rows".into(), rows))
}

/// The first non-empty line of a (polars) message, trimmed.
fn first_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .to_string()
}

/// Writes `df` in `format` to `out` (atomically: a temporary file renamed into place),
/// or to standard output when `out` is `None`. Parquet needs `out`. A closed standard
/// output (`| head`) is not an error.
pub fn write_output(df: &mut DataFrame, format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let staged = Staged::create(path)?;
            let mut w = staged.writer()?;
            write_to(df, format, &mut w)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Staged::sync(w)?;
            staged.commit()?;
            Ok(())
        }
        None => {
            anyhow::ensure!(
                format != Format::Parquet,
                "parquet is a binary format: give an output file (--out FILE.parquet)"
            );
            let mut w = BufWriter::new(crate::output::Stdout);
            let res = write_to(df, format, &mut w).and_then(|()| Ok(w.flush()?));
            match res {
                Err(e) if is_broken_pipe(&e) => Ok(()),
                other => other,
            }
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<PolarsError>().is_some_and(|p| {
                matches!(p, PolarsError::IO { error, .. } if error.kind() == io::ErrorKind::BrokenPipe)
            })
    })
}

fn write_to<W: Write>(df: &mut DataFrame, format: Format, w: &mut W) -> anyhow::Result<()> {
    match format {
        Format::Table => write_table(df, w)?,
        Format::Csv => CsvWriter::new(w).finish(&mut temporal_as_text(df)?)?,
        Format::Json => {
            JsonWriter::new(&mut *w)
                .with_json_format(JsonFormat::Json)
                .finish(df)?;
            w.write_all(b"\n")?;
        }
        Format::Parquet => {
            let schema = df.schema().clone();
            super::staged::parquet_writer(w, &schema).finish(df)?;
        }
    }
    Ok(())
}

/// `df` with its time columns (`finished_at`, differences of times) as text, which the
/// CSV writer needs, as the table shows them: times (`2025-01-01 12:00:00 UTC`) and
/// durations (`22s`).
fn temporal_as_text(df: &DataFrame) -> anyhow::Result<DataFrame> {
    let mut out = df.clone();
    for name in df.get_column_names_owned() {
        let col = df.column(&name)?;
        if col.dtype().is_temporal() {
            let text: Vec<Option<String>> = (0..col.len())
                .map(|i| {
                    col.get(i).map(|v| match v {
                        AnyValue::Null => None,
                        v => Some(v.to_string()),
                    })
                })
                .collect::<PolarsResult<_>>()?;
            out.replace(&name, Column::new(name.clone(), text))?;
        }
    }
    Ok(out)
}

fn fmt_cell(out: &mut String, v: AnyValue<'_>) {
    use std::fmt::Write as _;
    match v {
        AnyValue::Null => out.push_str("null"),
        AnyValue::Boolean(b) => out.push_str(if b { "true" } else { "false" }),
        AnyValue::String(s) => out.push_str(s),
        AnyValue::StringOwned(s) => out.push_str(s.as_str()),
        AnyValue::Float64(f) => out.push_str(&format::cell(f)),
        AnyValue::Float32(f) => out.push_str(&format::cell(f as f64)),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Aligned text like [`crate::table::aligned`], streamed: one pass for the widths, one
/// to write, so a large result never sits in memory as strings. Numeric columns are
/// right-aligned. Cells are sanitised to one line.
fn write_table<W: Write>(df: &DataFrame, w: &mut W) -> anyhow::Result<()> {
    let cols: Vec<Series> = df
        .columns()
        .iter()
        .map(|c| c.as_materialized_series().rechunk())
        .collect();
    let header: Vec<String> = cols.iter().map(|s| s.name().to_string()).collect();
    let right: Vec<bool> = cols
        .iter()
        .map(|s| s.dtype().is_primitive_numeric())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let mut cell = String::new();
    let fill = |cell: &mut String, s: &Series, i: usize| -> anyhow::Result<()> {
        cell.clear();
        fmt_cell(cell, s.get(i)?);
        if cell.contains(['\n', '\r', '\t']) {
            *cell = cell.replace(['\n', '\r', '\t'], " ");
        }
        Ok(())
    };
    for (j, s) in cols.iter().enumerate() {
        for i in 0..s.len() {
            fill(&mut cell, s, i)?;
            widths[j] = widths[j].max(cell.chars().count());
        }
    }
    let mut line = String::new();
    let emit = |line: &mut String, w: &mut W| -> io::Result<()> {
        let trimmed = line.trim_end();
        w.write_all(trimmed.as_bytes())?;
        w.write_all(b"\n")?;
        line.clear();
        Ok(())
    };
    let pad = |line: &mut String, text: &str, j: usize, right: bool| {
        if j > 0 {
            line.push_str("  ");
        }
        let n = widths[j].saturating_sub(text.chars().count());
        if right {
            line.extend(std::iter::repeat_n(' ', n));
            line.push_str(text);
        } else {
            line.push_str(text);
            line.extend(std::iter::repeat_n(' ', n));
        }
    };
    for (j, h) in header.iter().enumerate() {
        pad(&mut line, h, j, right[j]);
    }
    emit(&mut line, w)?;
    for (j, &width) in widths.iter().enumerate() {
        pad(&mut line, &"-".repeat(width), j, false);
    }
    emit(&mut line, w)?;
    for i in 0..df.height() {
        for (j, s) in cols.iter().enumerate() {
            fill(&mut cell, s, i)?;
            pad(&mut line, &cell, j, right[j]);
        }
        emit(&mut line, w)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tables::collect;
    use crate::analysis::testutil::{sweep_dir, write_complete, Fixture, SWEEP_TOML};

    fn collected() -> Fixture {
        let fx = sweep_dir(SWEEP_TOML);
        for cfg in &fx.configs {
            write_complete(&fx.dir, cfg, None);
        }
        collect(&fx.dir).unwrap();
        fx
    }

    #[test]
    fn sql_over_every_table() {
        let fx = collected();
        let df = query(
            &fx.dir,
            "SELECT residual, count(*) AS n, avg(final_eval_loss) AS m FROM runs GROUP BY residual ORDER BY residual",
        )
        .unwrap();
        assert_eq!(df.height(), 2);
        let res: Vec<Option<bool>> = df
            .column("residual")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(res, vec![Some(false), Some(true)]);
        let want: Vec<f64> = [false, true]
            .iter()
            .map(|&arm| {
                let xs: Vec<f64> = fx
                    .configs
                    .iter()
                    .filter(|c| c.residual == arm)
                    .map(|c| {
                        fx.dir
                            .run(&c.run_id())
                            .read_result()
                            .unwrap()
                            .metrics
                            .final_eval_loss
                            .unwrap()
                    })
                    .collect();
                xs.iter().sum::<f64>() / xs.len() as f64
            })
            .collect();
        let got: Vec<f64> = df
            .column("m")
            .unwrap()
            .f64()
            .unwrap()
            .no_null_iter()
            .collect();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }

        let joined = query(
            &fx.dir,
            "SELECT r.seed, s.step, s.eval_loss FROM steps s JOIN runs r ON s.run_id = r.run_id \
             WHERE r.residual AND s.eval_loss IS NOT NULL ORDER BY r.seed, s.step",
        )
        .unwrap();
        assert_eq!(joined.height(), 3 * 3); // steps 0, 5, 10 for each of 3 seeds
        let layers = query(&fx.dir, "SELECT max(layer) AS l FROM layers").unwrap();
        assert_eq!(layers.column("l").unwrap().i64().unwrap().get(0), Some(2));
        let summary = query(
            &fx.dir,
            "SELECT * FROM summary WHERE metric = 'final_eval_loss'",
        )
        .unwrap();
        assert_eq!(summary.height(), 2);
    }

    #[test]
    fn errors_are_one_line_and_never_panics() {
        let fx = collected();
        for bad in [
            "SELEC * FROM runs",
            "SELECT nope FROM runs",
            "SELECT * FROM nothing",
            "SELECT * FROM runs WHERE",
            "SELECT avg(run_id) FROM runs",
        ] {
            let err = query(&fx.dir, bad).unwrap_err().to_string();
            assert!(err.starts_with("query failed: "), "{bad}: {err}");
            assert!(!err.contains('\n'), "{bad}: {err}");
            assert!(err.len() > "query failed: ".len() + 3, "{bad}: {err}");
        }
        let err = query(&fx.dir, "SELECT nope FROM runs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(query(&fx.dir, "  ")
            .unwrap_err()
            .to_string()
            .contains("empty query"));

        let err = query(&fx.dir, "SELECT * FROM nothing")
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("(tables: runs, steps, layers, summary)"),
            "{err}"
        );
        std::fs::remove_file(table_path(&fx.dir, "layers")).unwrap();
        let err = query(&fx.dir, "SELECT * FROM runs")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lacks layers.parquet: run `resweep aggregate"),
            "{err}"
        );

        let empty = sweep_dir(SWEEP_TOML);
        let err = query(&empty.dir, "SELECT * FROM runs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("run `resweep aggregate"), "{err}");
        assert!(
            err.contains(&empty.dir.root().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn every_output_format() {
        let fx = collected();
        let mut df = query(
            &fx.dir,
            "SELECT run_id, seed, residual, final_eval_loss, git_commit FROM runs ORDER BY run_id",
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();

        let p = out.path().join("r.csv");
        write_output(&mut df, Format::Csv, Some(&p)).unwrap();
        let csv = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "run_id,seed,residual,final_eval_loss,git_commit");
        assert_eq!(lines.len(), 7);
        let first_loss = df
            .column("final_eval_loss")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        let cells: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(
            cells[3].parse::<f64>().unwrap(),
            first_loss,
            "full precision"
        );

        let p = out.path().join("r.json");
        write_output(&mut df, Format::Json, Some(&p)).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let rows = json.as_array().unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0]["final_eval_loss"].as_f64(), Some(first_loss));
        assert!(rows.iter().any(|r| r["git_commit"].is_null()));

        let p = out.path().join("r.parquet");
        write_output(&mut df, Format::Parquet, Some(&p)).unwrap();
        let back = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        assert!(back.equals_missing(&df));

        let p = out.path().join("sub/r.txt");
        write_output(&mut df, Format::Table, Some(&p)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8);
        assert!(lines[0].starts_with("run_id"), "{text}");
        assert!(lines[1].starts_with("---"), "{text}");
        assert!(text.contains("null"), "{text}");
        assert!(text.contains(&format::cell(first_loss)), "{text}");
        // Same layout as crate::table::aligned on the same cells.
        let header: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut cells = Vec::new();
        for i in 0..df.height() {
            let mut row = Vec::new();
            for c in df.columns() {
                let mut s = String::new();
                fmt_cell(&mut s, c.get(i).unwrap());
                row.push(s);
            }
            cells.push(row);
        }
        assert_eq!(text, crate::table::aligned(&header, &cells));

        let err = write_output(&mut df, Format::Parquet, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--out"), "{err}");
        assert!(std::fs::read_dir(out.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp")));
    }

    #[test]
    fn formats_parse_and_print() {
        for name in Format::NAMES {
            let f: Format = name.parse().unwrap();
            assert_eq!(f.to_string(), *name);
        }
        assert_eq!("CSV".parse::<Format>(), Ok(Format::Csv));
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.contains("table, csv, json, parquet"), "{err}");
        assert_eq!(
            Format::from_extension(Path::new("a/b.PARQUET")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_extension(Path::new("a/b")), None);
        assert_eq!(format::cell(1.0 / 3.0), "0.333333");
        assert_eq!(format::cell(500.0), "500");
        assert_eq!(format::cell(3.0e8), "3e8");
        assert_eq!(format::cell(1.234567e-14), "1.23457e-14");
    }
}
