//! The Distant Identity experiment: data and init streams, the two networks, the
//! optimizers, the instrumented training loop (one run, or many runs vectorized in one
//! batched graph), per-run metrics and the step benchmark.
//!
//! Task: inputs `x ~ U(-1,1)^width`, target `x`, loss MSE over batch and units. A fresh
//! batch every step, a fixed held-out eval batch per seed.

pub mod arch;
pub mod batched;
pub mod bench;
pub mod block;
pub mod jacobian;
pub mod kernels;
pub mod landscape;
pub mod lesion;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod probes;
pub mod shatter;
pub mod streams;
pub mod train;
pub mod units;

pub use batched::{BatchKey, BatchedTrainer};
pub use metrics::RunMetrics;
pub use train::{
    Collect, Ending, Fingerprints, LayerRecord, Observer, StepRecord, TrainState, Trainer,
};
