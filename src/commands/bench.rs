//! `resweep bench`: microseconds per training step on one thread.

use super::{bad_input, Exit};
use crate::cli::BenchArgs;
use crate::experiment::bench::{self, BenchSpec};

/// Runs `resweep bench`.
pub fn run(a: &BenchArgs) -> anyhow::Result<Exit> {
    if a.batch.is_empty()
        || a.batch.contains(&0)
        || a.steps == 0
        || a.reps == 0
        || a.depth == 0
        || a.width == 0
        || a.vectorize == 0
    {
        return Err(bad_input(
            "--batch, --steps, --reps, --depth, --width and --vectorize must all be at least 1",
        ));
    }
    let spec = BenchSpec {
        depth: a.depth,
        width: a.width,
        batches: a.batch.clone(),
        steps: a.steps,
        reps: a.reps,
        with_autograd: a.autograd,
        vectorize: a.vectorize,
    };
    let rows = bench::run(&spec)?;
    if a.json {
        crate::dataln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Exit::Ok);
    }
    crate::outln!(
        "training step, depth {} width {}, one thread, median of {} x {} steps{}",
        a.depth,
        a.width,
        a.reps,
        a.steps,
        if a.vectorize > 1 {
            format!(
                " (vectorized: {} runs per graph, {} batched steps per repetition; figures per run-step)",
                a.vectorize,
                spec.batched_steps()
            )
        } else {
            String::new()
        }
    );
    crate::outln!(
        "{:>6}  {:>10}  {:>12}  {:>8}  {:>9}  {:>8}  {:>13}  {:>12}  {:>12}",
        "batch",
        "runs/graph",
        "us/run-step",
        "GFLOP/s",
        "floor us",
        "x floor",
        "hot floor us",
        "x hot floor",
        "autograd us"
    );
    for r in rows {
        let autograd = r
            .autograd_us_per_step
            .map_or("-".to_string(), |v| format!("{v:.0}"));
        crate::outln!(
            "{:>6}  {:>10}  {:>12.0}  {:>8.1}  {:>9.0}  {:>8.2}  {:>13.0}  {:>12.2}  {:>12}",
            r.batch,
            r.vectorize,
            r.us_per_step,
            r.gflops,
            r.matmul_floor_us,
            r.x_floor,
            r.hot_floor_us,
            r.x_hot_floor,
            autograd
        );
    }
    Ok(Exit::Ok)
}
