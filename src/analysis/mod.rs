//! Analysis of stored runs: statistics, tables, comparisons.
//!
//! - [`stats`]: pure statistics over seeds (summaries, t and bootstrap CIs, paired comparisons).
//! - [`tables`]: [`tables::collect`] reads every complete run from disk into polars
//!   tables (`tables/{runs,steps,layers,summary}.parquet`, `summary.csv`, `summary.md`).
//! - [`summary`]: grouping over seeds and the summary's frame and text.
//! - [`query`](mod@query): SQL over those tables and the output writers.
//! - [`compare`]: `resweep compare`'s fairness audit and paired statistics between the
//!   arms of one setting.
//! - [`verify`]: `resweep verify`'s checks: run seals and checkpoints, and the tables
//!   against the run directories.
//! - [`landscape`]: `resweep landscape`'s runs, slice files and `landscape.parquet`
//!   (the slices themselves are computed by `experiment::landscape`).
//! - `columns` (private): the runs-table column(s) of each run setting, used by both
//!   [`tables`] and [`summary`].
//!
//! Imports go one way: `stats` and `columns` at the bottom, then [`summary`], then
//! [`tables`], then [`query`](mod@query), [`compare`] and [`verify`].
mod columns;
pub mod compare;
mod frozen;
pub mod landscape;
pub mod probe_tables;
pub mod query;
pub mod sql;
pub mod staged;
pub mod stats;
mod student_t;
pub mod summary;
pub mod tables;
pub mod verify;

#[cfg(test)]
pub(crate) mod testutil;

pub use query::{query, write_output, Format};
pub use summary::{SummaryRow, SUMMARY_METRICS};
pub use tables::{collect, summary_markdown, summary_table, table_path, Collected, TABLE_NAMES};
