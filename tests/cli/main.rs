//! Black-box tests of the `resweep` binary, gathered in one test binary (one link of the
//! whole stack instead of one per file).

mod analysis;
mod bad_input;
mod bench;
mod html;
mod integrity;
mod landscape;
mod microworld;
mod physics;
mod readings;
mod report;
mod resume;
mod shards;
mod sweeps;
mod train;
mod util;
mod vectorized;
mod weights;
