use super::*;
use crate::config::{InitScale, RunConfig};
use crate::report::theory::prediction;
use crate::report::theory::{plain_layer_predictions, res_layer_predictions};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn the_default_block_reproduces_the_original_recursion() {
    for depth in [1, 5, 20] {
        for scale in [1.0 / (depth as f64).sqrt(), 1.0, 0.3] {
            for residual in [false, true] {
                let v = Variant::default_block(residual, depth, 64, scale);
                assert!(v.is_default_block() && v.differences().is_empty());
                let new = v.layer_predictions().unwrap();
                let old = if residual {
                    res_layer_predictions(depth, scale)
                } else {
                    plain_layer_predictions(depth, scale)
                };
                assert_eq!(new.len(), old.len());
                for (n, o) in new.iter().zip(&old) {
                    assert_eq!(n.layer, o.layer);
                    for (a, b) in [
                        (n.mean, o.mean),
                        (n.std, o.std),
                        (n.second_moment, o.second_moment),
                    ] {
                        assert!(
                            close(a, b, 1e-12),
                            "{residual} {depth} {scale}: {n:?} vs {o:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rezero_at_zero_is_the_identity() {
    for activation in [Activation::Relu, Activation::Tanh, Activation::Gelu] {
        let v = Variant {
            gate: Gate::Rezero,
            gate_init: 0.0,
            activation,
            norm: Norm::LayerNorm,
            ..Variant::default_block(true, 20, 64, 1.0)
        };
        assert_eq!(v.coefficient(), 0.0);
        for (m, q) in v.moments() {
            assert_eq!((m, q), (INPUT_M0, INPUT_Q0));
        }
        let p = v.layer_predictions().unwrap();
        assert!(p.iter().all(|p| p.std == (1.0f64 / 3.0).sqrt()));
    }
    // A PlainMLP has no gate and no branch scale: they change nothing.
    let plain = Variant::default_block(false, 5, 64, 1.0);
    let gated = Variant {
        gate: Gate::Rezero,
        branch_scale: 0.1,
        ..plain
    };
    assert_eq!(plain.moments(), gated.moments());
}

#[test]
fn variant_settings_enter_the_recursion_as_documented() {
    let base = Variant::default_block(false, 3, 64, 0.5);
    // kaiming_uniform and orthogonal have He's variance; torch_default a sixth of it.
    for init in [WeightInit::KaimingUniform, WeightInit::Orthogonal] {
        let v = Variant {
            weight_init: init,
            ..base
        };
        assert_eq!(v.moments(), base.moments());
    }
    let torch = Variant {
        weight_init: WeightInit::TorchDefault,
        ..base
    };
    assert!(close(
        torch.weight_variance() * 6.0,
        base.weight_variance(),
        1e-15
    ));
    let biased = Variant {
        bias_init: BiasInit::TorchDefault,
        ..base
    };
    assert!(close(biased.bias_variance(), 1.0 / 192.0, 1e-15));
    // A linear last layer of a PlainMLP: mean 0, second moment v_w q.
    let linear_out = Variant {
        output_relu: false,
        ..base
    };
    let (m, q) = linear_out.moments()[3];
    assert_eq!(m, 0.0);
    assert!(close(q, 0.5 * base.moments()[2].1, 1e-15));
    // LayerNorm: the linear map sees a unit second moment whatever the input's.
    let ln = Variant {
        norm: Norm::LayerNorm,
        ..base
    };
    let (_, q1) = ln.moments()[1];
    assert!(close(q1, 0.25 * (1.0 / 3.0) / (1.0 / 3.0 + LN_EPS), 1e-15));
    assert!(ln.moments()[2..].iter().all(|&(_, q)| close(q, 0.25, 1e-4)));
    let res = Variant {
        branch_scale: 0.5,
        gate: Gate::Rezero,
        gate_init: 0.5,
        ..Variant::default_block(true, 3, 64, 1.0)
    };
    assert_eq!(res.coefficient(), 0.25);
    assert_eq!(
        res.differences(),
        ["branch_scale=0.5", "gate=rezero from 0.5"]
    );
    assert!(!res.is_default_block());
    assert!(Variant {
        init_scale: f64::NAN,
        ..base
    }
    .layer_predictions()
    .is_none());
}

/// How a variant's predicted std is checked against the seeds at a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    /// Within 20% of the seeds' median at every layer.
    Median,
    /// The variant has no theory ([`Variant::no_theory`]) and its recursion misses by
    /// more than 20% at some layer: if it stops missing, its curve can be drawn again.
    Misses,
}

/// Per-seed pooled std of every layer's output (layers 1..=depth), measured with the
/// crate's own forward pass at init on a batch of 256 inputs.
fn measured_std(cfg: &RunConfig, seeds: u64) -> Vec<Vec<f64>> {
    use crate::experiment::{block::Trace, model, streams};
    (0..seeds)
        .map(|seed| {
            let cfg = RunConfig {
                seed,
                ..cfg.clone()
            };
            let (params, _) = model::init_params(&cfg);
            let x = streams::train_batch(seed, 0, 256, cfg.width);
            let arch = model::Arch::of(&cfg);
            let trace = Trace::forward(arch, &params, &x).expect("forward pass");
            (0..cfg.depth)
                .map(|l| model::mean_std(trace.output_of(l)).1)
                .collect()
        })
        .collect()
}

/// Every variant's recursion against the crate's forward pass: depth 10, width 64,
/// 32 seeds, a batch of 256 inputs. Checked: the predicted per-layer pooled std within 20%
/// of the seeds' median at every layer (finite-width scatter at depth 10 is small enough
/// for the median; no band needed). Measured theory / median, min–max over the 10 layers,
/// when this test was written (`s` the init scale, `L` the depth):
///
/// | variant | PlainMLP | ResMLP |
/// |---|---|---|
/// | ReLU (default block), `s = 1` / `1/sqrt(L)` | 0.99–1.08 | 0.98–1.00 |
/// | tanh, `s = 1` | 1.00–1.01 | 1.00–1.01 |
/// | tanh, `s = 1/sqrt(L)` | 1.00–1.03 | 1.00–1.01 |
/// | GELU, `s = 1` | **0.67**–1.00 (no theory) | 0.96–1.01 |
/// | GELU, `s = 1/sqrt(L)` | 1.00–1.03 | 1.00–1.00 |
/// | LayerNorm, `s = 1/sqrt(L)` | 0.99–1.00 | 1.00–1.00 |
/// | LayerNorm, `s = 1` | 0.99–1.00 | 1.00–1.00 |
/// | `torch_default` weights and bias, `s = 1` | 1.01–1.07 | 0.97–1.00 |
/// | `kaiming_uniform`, `s = 1` | 1.00–1.15 | 0.99–1.09 |
/// | `orthogonal`, `s = 1` | 1.00–1.07 | 0.98–1.06 |
/// | linear last layer, `s = 1` | 0.99–1.12 | 0.97–1.06 |
/// | linear activation, `s = 1/sqrt(2)` | 1.00–1.03 | 1.00–1.02 |
/// | `branch_scale = 1/sqrt(L)`, `s = 1` | | 0.98–1.00 |
/// | ReZero from 0.5, `s = 1` | | 0.98–1.00 |
/// | ReZero from 0 (the identity) | | 1.00–1.00 |
/// | GELU + LayerNorm + `torch_default` bias, `s = 1` | | 1.00–1.00 |
///
/// The PlainMLP with GELU at `s = 1` is the one miss (see the module docs); it is kept
/// here as [`Check::Misses`] so that the test says when it stops missing.
#[test]
fn every_variant_matches_the_crates_forward_pass() {
    use crate::analysis::stats::quantile_sorted;
    use Check::*;
    let depth = 10;
    let small = InitScale::Expr("1/sqrt(depth)".into());
    let one = InitScale::Value(1.0);
    let cfg = |residual: bool, scale: &InitScale| RunConfig {
        depth,
        width: 64,
        residual,
        init_scale: scale.clone(),
        ..RunConfig::default()
    };
    let mut cases: Vec<(&str, RunConfig, Check)> = Vec::new();
    let mut case = |name: &'static str, c: RunConfig, check: Check| cases.push((name, c, check));
    case("plain relu s=1", cfg(false, &one), Median);
    case("res relu s=1/sqrt(L)", cfg(true, &small), Median);
    for (name, act) in [("tanh", Activation::Tanh), ("gelu", Activation::Gelu)] {
        for (res, arm) in [(false, "plain"), (true, "res")] {
            for (scale, sname) in [(&one, "s=1"), (&small, "s=1/sqrt(L)")] {
                let label: &'static str =
                    Box::leak(format!("{arm} {name} {sname}").into_boxed_str());
                let plain_gelu = !res && act == Activation::Gelu;
                case(
                    label,
                    RunConfig {
                        activation: act,
                        ..cfg(res, scale)
                    },
                    if plain_gelu && scale == &one {
                        Misses
                    } else {
                        Median
                    },
                );
            }
        }
    }
    for (res, arm) in [(false, "plain"), (true, "res")] {
        let l = |s: &str| -> &'static str { Box::leak(format!("{arm} {s}").into_boxed_str()) };
        case(
            l("layernorm relu s=1/sqrt(L)"),
            RunConfig {
                norm: Norm::LayerNorm,
                ..cfg(res, &small)
            },
            Median,
        );
        case(
            l("layernorm relu s=1"),
            RunConfig {
                norm: Norm::LayerNorm,
                ..cfg(res, &one)
            },
            Median,
        );
        case(
            l("torch_default weights+bias s=1"),
            RunConfig {
                weight_init: WeightInit::TorchDefault,
                bias_init: BiasInit::TorchDefault,
                ..cfg(res, &one)
            },
            Median,
        );
        case(
            l("kaiming_uniform s=1"),
            RunConfig {
                weight_init: WeightInit::KaimingUniform,
                ..cfg(res, &one)
            },
            Median,
        );
        case(
            l("orthogonal s=1"),
            RunConfig {
                weight_init: WeightInit::Orthogonal,
                ..cfg(res, &one)
            },
            Median,
        );
        case(
            l("linear output s=1"),
            RunConfig {
                output_relu: false,
                ..cfg(res, &one)
            },
            Median,
        );
        case(
            l("linear activation s=1/sqrt(2)"),
            RunConfig {
                activation: Activation::Linear,
                ..cfg(res, &InitScale::Value(std::f64::consts::FRAC_1_SQRT_2))
            },
            Median,
        );
    }
    case(
        "res branch_scale 1/sqrt(L) s=1",
        RunConfig {
            branch_scale: small.clone(),
            ..cfg(true, &one)
        },
        Median,
    );
    case(
        "res rezero from 0.5 s=1",
        RunConfig {
            gate: Gate::Rezero,
            gate_init: 0.5,
            ..cfg(true, &one)
        },
        Median,
    );
    case(
        "res rezero from 0",
        RunConfig {
            gate: Gate::Rezero,
            ..cfg(true, &one)
        },
        Median,
    );
    case(
        "res gelu layernorm torch_default bias s=1",
        RunConfig {
            activation: Activation::Gelu,
            norm: Norm::LayerNorm,
            bias_init: BiasInit::TorchDefault,
            ..cfg(true, &one)
        },
        Median,
    );
    let mut failures = Vec::new();
    for (name, c, check) in &cases {
        let variant = Variant::of(c);
        assert_eq!(
            variant.no_theory().is_some(),
            !variant.residual && variant.activation == Activation::Gelu,
            "{name}"
        );
        let theory: Vec<LayerPrediction> = variant
            .moments()
            .into_iter()
            .enumerate()
            .map(|(l, (m, q))| prediction(l, m, q))
            .collect();
        let measured = measured_std(c, 32);
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        let mut within = true;
        for l in 1..=depth {
            let mut v: Vec<f64> = measured.iter().map(|s| s[l - 1]).collect();
            v.sort_by(f64::total_cmp);
            let (p10, med, p90) = (
                quantile_sorted(&v, 0.1),
                quantile_sorted(&v, 0.5),
                quantile_sorted(&v, 0.9),
            );
            let t = theory[l].std;
            let r = t / med;
            lo = lo.min(r);
            hi = hi.max(r);
            if (r - 1.0).abs() > 0.2 {
                within = false;
                if *check == Median {
                    failures.push(format!(
                        "{name}, layer {l}: theory {t:.4e}, median {med:.4e}, 10-90% [{p10:.4e}, {p90:.4e}]"
                    ));
                }
            }
        }
        if *check == Misses && within {
            failures.push(format!(
                "{name}: marked as having no theory, but it is within 20% of the median at every layer"
            ));
        }
        println!("{name}: theory/median {lo:.3}–{hi:.3} ({check:?})");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
