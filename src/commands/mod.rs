//! The commands behind the CLI: each takes its parsed arguments, does its work through the
//! library and prints its human output. `main.rs` only dispatches and maps errors.

pub mod analysis;
pub mod bench;
pub mod run;
pub mod slurm;
pub mod train;
pub mod verify;

use std::fmt;

/// An error in what the user asked for (bad flags, bad sweep file, impossible values):
/// exit code 2, and nothing was written.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand: a [`BadInput`] as an `anyhow::Error`.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    BadInput(msg.into()).into()
}

/// What a successful command asks the process to exit with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything done.
    Ok,
    /// Interrupted by the user (Ctrl-C): exit code 130.
    Interrupted,
    /// Finished, but some runs failed (or `--strict` found a problem): exit code 1.
    SomeFailed,
}

/// Pins candle's math to the calling thread: matrix products (gemm, sized by
/// `RAYON_NUM_THREADS`) and large element-wise ops (`CANDLE_NUM_THREADS`). Parallelism
/// comes from running many runs at once instead. Must run before any other thread starts.
pub fn pin_math_threads() {
    // SAFETY-equivalent note: called first thing in `main`, while the process has one thread.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
}
