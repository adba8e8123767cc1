//! Black-box tests of the `resweep` binary, gathered in one test binary (one link of the
//! whole stack instead of one per file).

mod analysis;
mod bad_input;
mod bench;
mod fairness;
mod html;
mod integrity;
mod landscape;
mod list;
mod microworld;
mod output;
mod overrides;
mod physics;
mod progress;
mod query;
mod readings;
mod report;
mod resume;
mod shards;
mod sweeps;
mod tables;
mod theory;
mod train;
mod util;
mod variants;
mod vectorized;
mod weights;
