//! The runs-table column(s) of each run setting, used by `runs.parquet` and
//! `summary.parquet` alike (so [`super::tables`] and [`super::summary`] both import it,
//! and not each other).

use polars::prelude::*;

use crate::config::RunConfig;

/// Typed column(s) of one setting for these configs, named as in `runs.parquet`
/// (`init_scale` gives `init_scale` f64 and `init_scale_expr` str).
pub(crate) fn setting_columns(name: &str, cfgs: &[&RunConfig]) -> anyhow::Result<Vec<Column>> {
    let int = |get: fn(&RunConfig) -> usize| -> Vec<Column> {
        vec![Column::new(
            name.into(),
            cfgs.iter().map(|c| get(c) as i64).collect::<Vec<i64>>(),
        )]
    };
    let float = |get: fn(&RunConfig) -> f64| -> Vec<Column> {
        vec![Column::new(
            name.into(),
            cfgs.iter().map(|c| get(c)).collect::<Vec<f64>>(),
        )]
    };
    Ok(match name {
        "depth" => int(|c| c.depth),
        "width" => int(|c| c.width),
        "batch_size" => int(|c| c.batch_size),
        "steps" => int(|c| c.steps),
        "eval_size" => int(|c| c.eval_size),
        "eval_every" => int(|c| c.eval_every),
        "probe_every" => int(|c| c.probe_every),
        "residual" => vec![Column::new(
            name.into(),
            cfgs.iter().map(|c| c.residual).collect::<Vec<bool>>(),
        )],
        "init_scale" => vec![
            Column::new(
                "init_scale".into(),
                cfgs.iter()
                    .map(|c| c.init_scale_value())
                    .collect::<Vec<f64>>(),
            ),
            Column::new(
                "init_scale_expr".into(),
                cfgs.iter()
                    .map(|c| c.init_scale.label())
                    .collect::<Vec<String>>(),
            ),
        ],
        "seed" => {
            let seeds = cfgs
                .iter()
                .map(|c| {
                    i64::try_from(c.seed).map_err(|_| {
                        anyhow::anyhow!("seed {} does not fit the tables' i64", c.seed)
                    })
                })
                .collect::<anyhow::Result<Vec<i64>>>()?;
            vec![Column::new(name.into(), seeds)]
        }
        "optimizer" => vec![Column::new(
            name.into(),
            cfgs.iter()
                .map(|c| c.optimizer.as_str())
                .collect::<Vec<&str>>(),
        )],
        "lr" => float(|c| c.lr),
        "momentum" => float(|c| c.momentum),
        other => anyhow::bail!("internal error: no column for setting `{other}`"),
    })
}
