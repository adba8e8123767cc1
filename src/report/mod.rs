//! Figures: pure drawing functions (data in, PNG out) and the mean-field theory curves
//! drawn beside the measured statistics.

pub mod plots;
pub mod theory;
