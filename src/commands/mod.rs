//! The commands behind the CLI: each takes its parsed arguments, does its work through the
//! library and prints its human output. [`Exit::code`] and [`failure`] turn what a command
//! returns into the process's exit code and error message; `main.rs` only dispatches.

pub mod analysis;
pub mod bench;
pub mod landscape;
pub mod list;
pub mod live;
pub mod run;
pub mod slurm;
pub mod status;
pub mod train;
pub mod verify;

pub use crate::error::{bad_diagnostic, bad_input, BadInput};

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

impl Exit {
    /// The process exit code: 0, 130 or 1.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Interrupted => 130,
            Exit::SomeFailed => 1,
        }
    }
}

/// What a failed command prints and exits with: a [`BadInput`] as its diagnostic with
/// exit code 2, anything else as `error: ` and the whole cause chain with exit code 1.
pub fn failure(e: &anyhow::Error) -> (String, u8) {
    match e.downcast_ref::<BadInput>() {
        Some(bad) => (bad.diagnostic(), 2),
        None => (format!("error: {e:#}"), 1),
    }
}

/// Pins candle's math to the calling thread: matrix products (gemm, sized by
/// `RAYON_NUM_THREADS`) and large element-wise ops (`CANDLE_NUM_THREADS`). Parallelism
/// comes from running many runs at once instead. Must run before any other thread starts.
pub fn pin_math_threads() {
    // SAFETY-equivalent note: called first thing in `main`, while the process has one thread.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
}
