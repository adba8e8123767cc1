//! Figures and the report: pure drawing functions (data in, PNG out), the mean-field theory
//! curves drawn beside the measured statistics, and the assembly of `report.md`.

pub mod build;
pub mod plots;
pub mod theory;
