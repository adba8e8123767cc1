//! resweep: exact, fair, resumable parameter sweeps of the Distant Identity experiment
//! (a deep PlainMLP against a ResMLP), trained with candle.
//!
//! The modules form layers, and each uses only the layers below it (no module imports
//! one above it, and no two modules import each other):
//!
//! 1. [`config`] (every run setting, declared once; a run's canonical form and id),
//!    [`format`](mod@format) (how numbers are written), [`error`] (typed errors such as bad input),
//!    [`table`] (aligned terminal tables), [`output`] (standard output and error that
//!    never panic: `outln!`, `errln!`).
//! 2. [`sweep`] (a sweep file → the runs it plans) and [`experiment`] (training one run).
//! 3. [`store`] (run directories on disk, holding the experiment's records).
//! 4. [`runner`] (trains planned runs in parallel through [`experiment`], into [`store`]).
//! 5. [`analysis`] (reads the store into polars tables; statistics, comparisons).
//! 6. [`report`] (plots and report.md from the analysis).
//! 7. [`cli`] and [`commands`] (the edge: parse the command line, call the library, print,
//!    and turn results and errors into exit codes).
//!
//! Data follows the same path: sweep file → plan → training → run directories → tables →
//! report.

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod experiment;
pub mod format;
pub mod output;
pub mod report;
pub mod runner;
pub mod store;
pub mod sweep;
pub mod table;
