//! The runs-table column(s) of a run setting, by its [`Kind`]: a count or a seed is one
//! i64 column, a bool one bool column, a number one f64 column, a choice (an optimizer, an
//! activation) one string column, and an init scale two (`<name>` f64, its value at the run's depth, and
//! `<name>_expr` str, as written). Used by `runs.parquet` and `summary.parquet` alike.
//! A setting that does not apply to a run (`momentum` under Adam, see
//! [`crate::config::Setting::applies`]) is null in that run's row.

use polars::prelude::*;

use crate::config::{setting, AxisValue, InitScale, Kind, RunConfig};

/// Typed column(s) of setting `name` for these configs, named as in `runs.parquet`
/// (`init_scale` gives `init_scale` f64 and `init_scale_expr` str).
pub(crate) fn setting_columns(name: &str, cfgs: &[&RunConfig]) -> anyhow::Result<Vec<Column>> {
    let Some(s) = setting(name) else {
        anyhow::bail!("internal error: no column for setting `{name}`");
    };
    let values: Vec<AxisValue> = cfgs.iter().map(|c| (s.get)(c)).collect();
    let applies: Vec<bool> = cfgs.iter().map(|c| (s.applies)(c)).collect();
    // The value where the setting applies, null elsewhere.
    fn keep<T>(v: Vec<T>, applies: &[bool]) -> Vec<Option<T>> {
        v.into_iter()
            .zip(applies)
            .map(|(v, &a)| a.then_some(v))
            .collect()
    }
    let mismatch = || anyhow::anyhow!("internal error: a value of `{name}` has another type");
    Ok(match s.kind {
        Kind::Count | Kind::Seed => {
            let ints = values
                .iter()
                .map(|v| match v {
                    AxisValue::Int(i) => i64::try_from(*i)
                        .map_err(|_| anyhow::anyhow!("{name} {i} does not fit the tables' i64")),
                    _ => Err(mismatch()),
                })
                .collect::<anyhow::Result<Vec<i64>>>()?;
            vec![Column::new(name.into(), keep(ints, &applies))]
        }
        Kind::Bool => {
            let bools = values
                .iter()
                .map(|v| match v {
                    AxisValue::Bool(b) => Ok(*b),
                    _ => Err(mismatch()),
                })
                .collect::<anyhow::Result<Vec<bool>>>()?;
            vec![Column::new(name.into(), keep(bools, &applies))]
        }
        Kind::Float => {
            let floats = values
                .iter()
                .map(|v| match v {
                    AxisValue::Float(f) => Ok(*f),
                    _ => Err(mismatch()),
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
            vec![Column::new(name.into(), keep(floats, &applies))]
        }
        Kind::Choice(_) => {
            let names = values
                .iter()
                .map(|v| match v {
                    AxisValue::Choice(name) => Ok(*name),
                    _ => Err(mismatch()),
                })
                .collect::<anyhow::Result<Vec<&str>>>()?;
            vec![Column::new(name.into(), keep(names, &applies))]
        }
        Kind::InitScale => {
            let scales = values
                .iter()
                .map(|v| match v {
                    AxisValue::InitScale(s) => Ok(s),
                    _ => Err(mismatch()),
                })
                .collect::<anyhow::Result<Vec<&InitScale>>>()?;
            vec![
                Column::new(
                    name.into(),
                    keep(
                        scales
                            .iter()
                            .zip(cfgs)
                            .map(|(s, c)| s.value(c.depth))
                            .collect::<Vec<f64>>(),
                        &applies,
                    ),
                ),
                Column::new(
                    format!("{name}_expr").into(),
                    keep(
                        scales.iter().map(|s| s.label()).collect::<Vec<String>>(),
                        &applies,
                    ),
                ),
            ]
        }
    })
}
