//! `resweep landscape`: loss-landscape slices around the initial and the final weights of
//! a sweep's runs, `tables/landscape.parquet`, `plots/landscape.png` and a reading of
//! each slice on standard output.

use super::{bad_input, Exit};
use crate::analysis::landscape::{self as land, Chosen, Slice, SliceSpec};
use crate::cli::LandscapeArgs;
use crate::format;

/// Runs `resweep landscape`.
pub fn run(a: &LandscapeArgs) -> anyhow::Result<Exit> {
    // Everything the user asked for is checked before anything is written.
    let spec = SliceSpec::checked(a.grid, a.span)?;
    if a.jobs == Some(0) {
        return Err(bad_input("--jobs must be at least 1"));
    }
    let threads = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let dir = super::analysis::resolve(a.dir.dir.as_deref(), &a.dir.runs_dir)?;
    let chosen = land::choose(&dir, &a.runs)?;
    let jobs = land::jobs(&dir, &chosen);
    // The eval inputs of each run's slices (fewer than 256 only for small eval batches).
    let rows: Vec<usize> = chosen.iter().map(|c| land::rows_of(&c.config)).collect();
    let most = rows.iter().copied().max().unwrap_or(0);
    let rows_text = if rows.iter().all(|&r| r == most) {
        most.to_string()
    } else {
        format!("up to {most}")
    };
    crate::outln!(
        "landscape of {} run{} (init and final weights): grid {g} × {g} over [−{s}, {s}]², {rows_text} eval inputs, {threads} thread{}",
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" },
        if threads == 1 { "" } else { "s" },
        g = spec.grid,
        s = format::compact(spec.span),
    );

    let done = land::compute(&dir, &jobs, spec, threads)?;
    let table = land::write_table(&dir, &done.slices)?;
    land::write_last(&dir, &chosen, spec)?;
    let figure = dir.plots().join(crate::report::landscape::FIGURE);
    crate::report::landscape::draw(&figure, &chosen, &done.slices)?;

    crate::out!("{}", reading_table(&chosen, &done.slices));
    let kept = done.slices.len() - done.computed;
    if done.computed > 0 {
        let total: f64 = done.seconds.iter().sum();
        crate::outln!(
            "{} slice{} computed ({} s per slice, one thread each), {kept} up to date",
            done.computed,
            if done.computed == 1 { "" } else { "s" },
            format::sig(total / done.computed as f64, 3),
        );
    } else {
        crate::outln!("{kept} slices up to date: nothing computed");
    }
    crate::outln!("slices: {}", dir.landscape().display());
    crate::outln!("table: {}", table.display());
    crate::outln!("figure: {}", figure.display());
    Ok(Exit::Ok)
}

/// One line per slice: its centre, the ring at radius span, their ratio and the minimum.
fn reading_table(chosen: &[Chosen], slices: &[Slice]) -> String {
    let header: Vec<String> = [
        "run",
        "weights",
        "centre loss",
        "ring mean (r = span)",
        "ring / centre",
        "min (at a, b)",
        "not finite",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = slices
        .iter()
        .map(|s| {
            let r = s.reading();
            let label = chosen
                .iter()
                .find(|c| c.run_id == s.run_id)
                .map_or_else(|| s.run_id.clone(), Chosen::label);
            vec![
                label,
                s.when.clone(),
                format::value(r.centre),
                format!("{} ({} points)", format::value(r.ring_mean), r.ring_points),
                format::value(r.sharpness),
                format!(
                    "{} ({}, {})",
                    format::value(r.min.0),
                    format::sig(r.min.1, 3),
                    format::sig(r.min.2, 3)
                ),
                r.non_finite.to_string(),
            ]
        })
        .collect();
    crate::table::aligned(&header, &rows)
}
