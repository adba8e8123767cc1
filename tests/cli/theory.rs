//! The mean-field theory curves of the model variants: every group whose variant has an
//! activation theory gets a prediction in the activation figure's reading, the one
//! without (the PlainMLP with GELU) is named with the reason, and the gradient theory is
//! drawn for the default block only.

use crate::util::*;

const VARIANTS: &str = r#"name = "variants"
[model]
depth = 4
width = 16
init_scale = 1.0
[train]
batch_size = 16
steps = 2
[task]
eval_size = 64
[probe]
eval_every = 1
probe_every = 1
[grid]
residual = [false, true]
activation = ["relu", "tanh", "gelu"]
seed = { start = 0, count = 2 }
"#;

/// The reading line of `label` in the activation section of `md`.
fn reading<'a>(section: &'a str, label: &str) -> &'a str {
    let start = format!("- **{label}**:");
    section
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no reading for {label} in\n{section}"))
}

/// The number after `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> f64 {
    let rest = &line[line
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {line}"))
        + prefix.len()..];
    let end = rest.find([')', ';', ' ']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("a number in {rest}"))
}

#[test]
fn variant_theory_curves_and_the_groups_without_one() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "variants.toml", VARIANTS);
    ok(run_in(dir.path(), &["run", "variants.toml", "--quiet"]));
    let sweep = dir.path().join("runs/variants");
    let md = std::fs::read_to_string(sweep.join("report.md")).unwrap();
    let section = |heading: &str| {
        let start = md
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} in report.md"));
        let rest = &md[start..];
        let end = rest[4..].find("\n### ").map_or(rest.len(), |e| e + 4);
        rest[..end].to_string()
    };
    let activations = section("### Activations, layer by layer");
    let prediction = "mean-field prediction ";
    let mut predicted = Vec::new();
    for label in [
        "PlainMLP, activation=relu",
        "ResMLP, activation=relu",
        "PlainMLP, activation=tanh",
        "ResMLP, activation=tanh",
        "ResMLP, activation=gelu",
    ] {
        let line = reading(&activations, label);
        let p = number_after(line, prediction);
        assert!(p.is_finite() && p > 0.0, "{line}");
        predicted.push(p);
    }
    // Each variant has its own recursion: ReLU and tanh predict different values.
    assert_ne!(predicted[0], predicted[2]);
    assert_ne!(predicted[1], predicted[3]);
    let plain_gelu = reading(&activations, "PlainMLP, activation=gelu");
    assert!(
        plain_gelu.contains("no mean-field prediction"),
        "{plain_gelu}"
    );
    assert!(
        activations.contains(
            "- No mean-field curve is drawn for **PlainMLP, activation=gelu**: the mean-field recursion \
             misses a PlainMLP with GELU at finite width"
        ),
        "{activations}"
    );
    assert_eq!(activations.matches("No mean-field curve").count(), 1);

    // The gradient theory: the default block's PlainMLP only.
    let gradients = section("### Gradients, layer by layer");
    assert!(
        gradients.contains(
            "- No gradient theory is drawn for **PlainMLP, activation=gelu** and **PlainMLP, \
             activation=tanh**: it is derived for the default ReLU block"
        ),
        "{gradients}"
    );
    let theory = section("### Gradient theory at initialisation");
    assert!(
        theory.contains("- **PlainMLP, activation=relu**:"),
        "{theory}"
    );
    assert!(!theory.contains("activation=tanh") && !theory.contains("activation=gelu"));
    assert!(sweep.join("plots/activations.png").is_file());
}
