//! The micro-world probes of every complete run (`probes.json`, see
//! [`crate::experiment::probes`]) as parquet tables, written by [`super::tables::collect`]
//! beside the others. `when` is `init` (step 0) or `final` (the last step; absent for a
//! run whose final weights are not finite, or whose probes overflow). Runs finished before the probes existed have
//! no rows.
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `probes` | run and `when` | `run_id`, `when`, `step`; the Jacobian's pooled singular values `jac_min`, `jac_q10`, `jac_q50`, `jac_q90`, `jac_max`, `jac_mean_log` (null when one is exactly 0), `jac_effective_rank`, `jac_numerical_rank` (means over the inputs), `jac_inputs`; `lesion_inputs`, `intact_loss` (the loss on those inputs), `lesion_mean_ratio` (mean over layers of the single-lesion loss / intact loss; null when the intact loss is 0); `shatter_lag1` (autocorrelation of the line gradient at lag 1; null when it is constant) |
//! | `probe_layers` | run, `when`, layer | `partial_gain` (RMS gain of the partial Jacobian from the layer's input to the output), `lesion_loss` (loss with this block removed), `lesion_ratio` (that / intact; null when intact is 0), `branch_ratio` |
//! | `lesions` | run, `when`, `k` | `layers` (the removed blocks, e.g. `3,7`), `loss`, `ratio` |
//! | `spectrum` | run, `when`, input, `index` | `singular_value` (index 1 = largest) |
//! | `shatter` | run, `when`, `point` | `t`, `gradient` (`d sum(y) / dt` along the line) |
//! | `autocorr` | run, `when`, `lag` | `autocorr` (null where the gradient is constant) |

use super::staged::StagedParquet;
use crate::experiment::probes::{RunProbes, Snapshot};
use crate::experiment::shatter;
use polars::prelude::*;
use std::path::Path;

/// The probe tables, in the order they are written.
pub const PROBE_TABLES: &[&str] = &[
    "probes",
    "probe_layers",
    "lesions",
    "spectrum",
    "shatter",
    "autocorr",
];

/// Rows buffered per table before they are written as a row group.
const FLUSH_ROWS: usize = 1 << 20;

/// One column being filled.
enum Buf {
    Int(Vec<i64>),
    Float(Vec<Option<f64>>),
    Text(Vec<String>),
}

impl Buf {
    fn dtype(&self) -> DataType {
        match self {
            Buf::Int(_) => DataType::Int64,
            Buf::Float(_) => DataType::Float64,
            Buf::Text(_) => DataType::String,
        }
    }
    fn take(&mut self, name: &str) -> Column {
        match self {
            Buf::Int(v) => Column::new(name.into(), std::mem::take(v)),
            Buf::Float(v) => Column::new(name.into(), std::mem::take(v)),
            Buf::Text(v) => Column::new(name.into(), std::mem::take(v)),
        }
    }
}

/// A value of one row.
enum Val<'a> {
    I(i64),
    F(Option<f64>),
    S(&'a str),
}

/// One table: column names and buffers, and its staged file.
struct Table {
    names: Vec<&'static str>,
    bufs: Vec<Buf>,
    rows: usize,
    out: StagedParquet,
}

impl Table {
    fn new(path: &Path, columns: &[(&'static str, Buf)]) -> anyhow::Result<Table> {
        let names: Vec<&'static str> = columns.iter().map(|(n, _)| *n).collect();
        let schema = Schema::from_iter(
            columns
                .iter()
                .map(|(n, b)| Field::new((*n).into(), b.dtype())),
        );
        let bufs = columns
            .iter()
            .map(|(_, b)| match b {
                Buf::Int(_) => Buf::Int(Vec::new()),
                Buf::Float(_) => Buf::Float(Vec::new()),
                Buf::Text(_) => Buf::Text(Vec::new()),
            })
            .collect();
        Ok(Table {
            names,
            bufs,
            rows: 0,
            out: StagedParquet::create(path, &schema)?,
        })
    }

    fn push(&mut self, row: &[Val]) {
        debug_assert_eq!(row.len(), self.bufs.len());
        for (b, v) in self.bufs.iter_mut().zip(row) {
            match (b, v) {
                (Buf::Int(c), Val::I(x)) => c.push(*x),
                (Buf::Float(c), Val::F(x)) => c.push(*x),
                (Buf::Text(c), Val::S(x)) => c.push((*x).to_string()),
                _ => unreachable!("a row's values follow its table's columns"),
            }
        }
        self.rows += 1;
    }

    fn flush(&mut self, at_least: usize) -> anyhow::Result<()> {
        if self.rows == 0 || self.rows < at_least {
            return Ok(());
        }
        let cols: Vec<Column> = self
            .bufs
            .iter_mut()
            .zip(&self.names)
            .map(|(b, n)| b.take(n))
            .collect();
        let mut df = DataFrame::new(self.rows, cols)?;
        self.rows = 0;
        self.out.write(&mut df)
    }
}

/// The probe tables being written during a collection.
pub(crate) struct ProbeTables {
    tables: Vec<Table>,
}

fn f(v: f64) -> Val<'static> {
    Val::F(Some(v).filter(|x| x.is_finite()))
}

fn ratio(a: f64, b: f64) -> Val<'static> {
    Val::F((b > 0.0).then(|| a / b).filter(|x| x.is_finite()))
}

impl ProbeTables {
    /// Starts the tables in `dir` (staged: nothing is in place until committed).
    pub(crate) fn create(dir: &Path) -> anyhow::Result<ProbeTables> {
        use Buf::{Float as F, Int as I, Text as S};
        let key = || vec![("run_id", S(vec![])), ("when", S(vec![]))];
        let with = |extra: Vec<(&'static str, Buf)>| {
            let mut k = key();
            k.extend(extra);
            k
        };
        let specs: Vec<Vec<(&'static str, Buf)>> = vec![
            with(vec![
                ("step", I(vec![])),
                ("jac_min", F(vec![])),
                ("jac_q10", F(vec![])),
                ("jac_q50", F(vec![])),
                ("jac_q90", F(vec![])),
                ("jac_max", F(vec![])),
                ("jac_mean_log", F(vec![])),
                ("jac_effective_rank", F(vec![])),
                ("jac_numerical_rank", F(vec![])),
                ("jac_inputs", I(vec![])),
                ("lesion_inputs", I(vec![])),
                ("intact_loss", F(vec![])),
                ("lesion_mean_ratio", F(vec![])),
                ("shatter_lag1", F(vec![])),
            ]),
            with(vec![
                ("layer", I(vec![])),
                ("partial_gain", F(vec![])),
                ("lesion_loss", F(vec![])),
                ("lesion_ratio", F(vec![])),
                ("branch_ratio", F(vec![])),
            ]),
            with(vec![
                ("k", I(vec![])),
                ("layers", S(vec![])),
                ("loss", F(vec![])),
                ("ratio", F(vec![])),
            ]),
            with(vec![
                ("input", I(vec![])),
                ("index", I(vec![])),
                ("singular_value", F(vec![])),
            ]),
            with(vec![
                ("point", I(vec![])),
                ("t", F(vec![])),
                ("gradient", F(vec![])),
            ]),
            with(vec![("lag", I(vec![])), ("autocorr", F(vec![]))]),
        ];
        let tables = PROBE_TABLES
            .iter()
            .zip(specs)
            .map(|(name, cols)| Table::new(&dir.join(format!("{name}.parquet")), &cols))
            .collect::<anyhow::Result<Vec<Table>>>()?;
        Ok(ProbeTables { tables })
    }

    /// Adds one run's probes.
    pub(crate) fn push(&mut self, id: &str, probes: &RunProbes) -> anyhow::Result<()> {
        if let Some(init) = &probes.init {
            self.snapshot(id, "init", init);
        }
        if let Some(last) = &probes.last {
            self.snapshot(id, "final", last);
        }
        for t in &mut self.tables {
            t.flush(FLUSH_ROWS)?;
        }
        Ok(())
    }

    fn snapshot(&mut self, id: &str, when: &str, s: &Snapshot) {
        let (j, les) = (&s.jacobian, &s.lesions);
        let depth = les.single.len();
        let mean_ratio = if les.intact > 0.0 && depth > 0 {
            les.single.iter().sum::<f64>() / depth as f64 / les.intact
        } else {
            f64::NAN
        };
        let [probes, layers, lesions, spectrum, shatter_t, autocorr] = &mut self.tables[..] else {
            unreachable!("six probe tables")
        };
        let row = |t: &mut Table, rest: Vec<Val>| {
            let mut r = vec![Val::S(id), Val::S(when)];
            r.extend(rest);
            t.push(&r);
        };
        row(
            probes,
            vec![
                Val::I(s.step as i64),
                f(j.min),
                f(j.q10),
                f(j.q50),
                f(j.q90),
                f(j.max),
                Val::F(j.mean_log),
                f(j.effective_rank),
                f(j.numerical_rank),
                Val::I(j.inputs as i64),
                Val::I(les.inputs as i64),
                f(les.intact),
                f(mean_ratio),
                Val::F(s.shatter.autocorr.first().copied().flatten()),
            ],
        );
        for l in 0..depth {
            row(
                layers,
                vec![
                    Val::I(l as i64 + 1),
                    f(j.partial_gain.get(l).copied().unwrap_or(f64::NAN)),
                    f(les.single[l]),
                    ratio(les.single[l], les.intact),
                    Val::F(s.branch_ratio.get(l).copied().flatten()),
                ],
            );
        }
        for r in &les.random {
            let names: Vec<String> = r.layers.iter().map(usize::to_string).collect();
            row(
                lesions,
                vec![
                    Val::I(r.k as i64),
                    Val::S(&names.join(",")),
                    f(r.loss),
                    ratio(r.loss, les.intact),
                ],
            );
        }
        let width = j.singular_values.len() / j.inputs.max(1);
        for (k, &v) in j.singular_values.iter().enumerate() {
            row(
                spectrum,
                vec![
                    Val::I((k / width.max(1)) as i64),
                    Val::I((k % width.max(1)) as i64 + 1),
                    f(v),
                ],
            );
        }
        let n = s.shatter.gradient.len();
        for (i, &g) in s.shatter.gradient.iter().enumerate() {
            row(
                shatter_t,
                vec![Val::I(i as i64), f(shatter::t_at(i, n)), f(g)],
            );
        }
        for (k, &a) in s.shatter.autocorr.iter().enumerate() {
            row(autocorr, vec![Val::I(k as i64 + 1), Val::F(a)]);
        }
    }

    /// Writes what is buffered and the footers; the files still have to be committed.
    pub(crate) fn finish(self) -> anyhow::Result<Vec<super::staged::Staged>> {
        self.tables
            .into_iter()
            .map(|mut t| {
                t.flush(0)?;
                t.out.finish()
            })
            .collect()
    }
}
