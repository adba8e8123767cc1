//! A run's headline metrics, computed from its step and layer records (never from the
//! trainer's memory, so a resumed run and an uninterrupted one get the same numbers).

use super::train::{LayerRecord, StepRecord};
use serde::{Deserialize, Serialize};

/// How many of the last training losses `final_train_loss` averages.
pub const FINAL_TRAIN_WINDOW: usize = 10;

/// Headline metrics of one run. Losses are `None` where the run never produced a finite
/// value (for instance a run that diverged at step 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Training loss at step 0 (initial weights).
    pub initial_train_loss: Option<f64>,
    /// Eval loss at step 0.
    pub initial_eval_loss: Option<f64>,
    /// Eval loss at the last recorded eval.
    pub final_eval_loss: Option<f64>,
    /// Mean of the last `FINAL_TRAIN_WINDOW` finite training losses.
    pub final_train_loss: Option<f64>,
    /// Lowest eval loss seen.
    pub best_eval_loss: Option<f64>,
    /// `final_eval_loss / initial_eval_loss`.
    pub loss_reduction: Option<f64>,
    /// The step whose loss was not finite, if the run diverged.
    pub diverged_step: Option<usize>,
    /// Last step recorded.
    pub last_step: usize,
    /// Weight-gradient norm of layer 1 at step 0.
    pub grad_norm_first_init: Option<f64>,
    /// Weight-gradient norm of layer L at step 0.
    pub grad_norm_last_init: Option<f64>,
    /// Weight-gradient norm of layer 1 at the last probe.
    pub grad_norm_first_final: Option<f64>,
    /// Weight-gradient norm of layer L at the last probe.
    pub grad_norm_last_final: Option<f64>,
    /// Activation std of layer L at step 0.
    pub act_std_last_init: Option<f64>,
    /// Activation std of layer L at the last probe.
    pub act_std_last_final: Option<f64>,
}

impl RunMetrics {
    /// Computes the metrics of a run of `depth` layers from its records.
    pub fn from_records(
        depth: usize,
        steps: &[StepRecord],
        layers: &[LayerRecord],
        diverged_step: Option<usize>,
    ) -> RunMetrics {
        let first_step = steps.iter().find(|s| s.step == 0);
        let evals: Vec<f64> = steps.iter().filter_map(|s| s.eval_loss).collect();
        let trains: Vec<f64> = steps.iter().filter_map(|s| s.train_loss).collect();
        let window = &trains[trains.len().saturating_sub(FINAL_TRAIN_WINDOW)..];
        let initial_eval_loss = first_step.and_then(|s| s.eval_loss);
        let final_eval_loss = steps.iter().rev().find_map(|s| s.eval_loss);
        let probe_steps = (
            layers.iter().map(|l| l.step).min(),
            layers.iter().map(|l| l.step).max(),
        );
        let at = |step: Option<usize>, layer: usize, f: fn(&LayerRecord) -> f64| {
            step.and_then(|s| layers.iter().find(|l| l.step == s && l.layer == layer))
                .map(f)
                .filter(|v| v.is_finite())
        };
        RunMetrics {
            initial_train_loss: first_step.and_then(|s| s.train_loss),
            initial_eval_loss,
            final_eval_loss,
            final_train_loss: (!window.is_empty())
                .then(|| window.iter().sum::<f64>() / window.len() as f64),
            best_eval_loss: evals.iter().copied().reduce(f64::min),
            loss_reduction: initial_eval_loss.zip(final_eval_loss).map(|(i, f)| f / i),
            diverged_step,
            last_step: steps.last().map_or(0, |s| s.step),
            grad_norm_first_init: at(probe_steps.0.filter(|&s| s == 0), 1, |l| l.grad_norm),
            grad_norm_last_init: at(probe_steps.0.filter(|&s| s == 0), depth, |l| l.grad_norm),
            grad_norm_first_final: at(probe_steps.1, 1, |l| l.grad_norm),
            grad_norm_last_final: at(probe_steps.1, depth, |l| l.grad_norm),
            act_std_last_init: at(probe_steps.0.filter(|&s| s == 0), depth, |l| l.act_std),
            act_std_last_final: at(probe_steps.1, depth, |l| l.act_std),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_from_hand_records() {
        let steps: Vec<StepRecord> = (0..=12)
            .map(|t| StepRecord {
                step: t,
                train_loss: Some(12.0 - t as f64),
                eval_loss: (t % 6 == 0).then_some(100.0 / (t + 1) as f64),
                ..StepRecord::default()
            })
            .collect();
        let layer = |step, layer, g| LayerRecord {
            step,
            layer,
            grad_norm: g,
            bias_grad_norm: 0.0,
            act_mean: 0.0,
            act_std: g * 2.0,
            sparsity: 0.5,
            weight_norm: 1.0,
            ..LayerRecord::default()
        };
        let layers = vec![
            layer(0, 1, 1.0),
            layer(0, 2, 2.0),
            layer(12, 1, 3.0),
            layer(12, 2, 4.0),
        ];
        let m = RunMetrics::from_records(2, &steps, &layers, None);
        assert_eq!(m.initial_train_loss, Some(12.0));
        assert_eq!(m.initial_eval_loss, Some(100.0));
        assert_eq!(m.final_eval_loss, Some(100.0 / 13.0));
        // last 10 train losses: 9..=0 -> mean 4.5
        assert_eq!(m.final_train_loss, Some(4.5));
        assert_eq!(m.best_eval_loss, Some(100.0 / 13.0));
        assert_eq!(m.loss_reduction, Some(1.0 / 13.0));
        assert_eq!(m.grad_norm_first_init, Some(1.0));
        assert_eq!(m.grad_norm_last_init, Some(2.0));
        assert_eq!(m.grad_norm_first_final, Some(3.0));
        assert_eq!(m.grad_norm_last_final, Some(4.0));
        assert_eq!(m.act_std_last_final, Some(8.0));
        assert_eq!(m.last_step, 12);
    }
}
