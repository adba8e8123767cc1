//! resweep: exact, fair, resumable parameter sweeps of the Distant Identity experiment
//! (a deep PlainMLP against a ResMLP), trained with candle.
//!
//! Data flows one way (see the README's architecture section):
//! sweep file → [`sweep`] (plan) → [`runner`] (train in parallel, via [`experiment`]) →
//! [`store`] (run directories on disk) → [`analysis`] (polars tables, statistics) →
//! [`report`] (plots and report.md). [`commands`] holds what each CLI command does.

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod experiment;
pub mod format;
pub mod report;
pub mod runner;
pub mod store;
pub mod sweep;
pub mod table;
