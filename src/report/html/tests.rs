use super::data::{num, thin, MAX_POINTS};
use super::*;
use crate::report::plots::{Band, Panel};
use polars::prelude::*;

fn bands_figure() -> Figure {
    Figure::Bands {
        title: "Loss".into(),
        panels: vec![Panel {
            title: "Training loss".into(),
            x_label: "step".into(),
            y_label: "MSE".into(),
            log_y: true,
            bands: vec![Band {
                label: "ResMLP </script>".into(),
                xs: vec![0.0, 1.0],
                mean: vec![2.0, 1.0],
                std: vec![0.5, f64::NAN],
                n: 3,
                range: None,
            }],
            curves: vec![],
            notes: vec![],
        }],
    }
}

fn page(live: Option<Live>, md: &str, figures: &[DrawnFigure]) -> String {
    let runs = df!("run_id" => ["r1"], "final_eval_loss" => [0.25f64], "seed" => [0i64]).unwrap();
    let groups = vec![Group {
        label: "ResMLP".into(),
        depthless: "ResMLP".into(),
        depth: 20,
        runs: vec!["r1".into()],
    }];
    render(&Input {
        sweep: "s",
        md,
        figures,
        groups: &groups,
        runs: &runs,
        steps: None,
        layers: None,
        comparison: None,
        axes: &[],
        live,
    })
    .unwrap()
}

#[test]
fn the_page_is_self_contained_stable_and_live_only_while_running() {
    let fig = DrawnFigure {
        path: "plots/loss.png".into(),
        link: "plots/loss.png".into(),
        alt: "Loss".into(),
        figures: vec![bands_figure()],
    };
    let md =
        "# r\n\n## Figures\n\n![Loss](plots/loss.png)\n\n- **x**: 1\n\n## Reproducibility\n\n- y\n";
    let a = page(None, md, std::slice::from_ref(&fig));
    assert_eq!(
        a,
        page(None, md, std::slice::from_ref(&fig)),
        "same data, same bytes"
    );
    assert!(a.contains("Content-Security-Policy"));
    assert!(a.contains("default-src 'none'"));
    assert!(a.contains("<figure class=\"chart\" data-figure=\"0\""));
    assert!(
        !a.contains("<img"),
        "a captured figure is drawn, not linked"
    );
    assert!(a.contains("\"live\":null"));
    assert!(!a.contains("id=\"live\""));
    // The label's `</script>` cannot end the data element early.
    assert_eq!(
        a.matches("</script>").count(),
        3,
        "data, uPlot, page script"
    );
    // The page's own sections come before the reproducibility section.
    let runs = a.find("<h2 id=\"runs\">Runs</h2>").unwrap();
    assert!(
        runs < a
            .find("<h2 id=\"reproducibility\">Reproducibility</h2>")
            .unwrap()
    );
    assert!(a.contains("data-v=\"2.5e-1\""), "exact sort keys");
    let live = page(Some(Live { total: 4 }), md, std::slice::from_ref(&fig));
    let data = &live[live.find("\"live\":{").expect("live data")..];
    let data = &data[..data.find('}').unwrap()];
    assert!(
        data.contains("\"reload_ms\":10000") && data.contains("\"total\":4"),
        "{data}"
    );
    assert!(live.contains("1 of 4 runs are complete"));
}

#[test]
fn a_figure_without_inputs_keeps_its_png_inlined() {
    let t = tempfile::tempdir().unwrap();
    let png = t.path().join("x.png");
    std::fs::write(&png, b"\x89PNG").unwrap();
    let fig = DrawnFigure {
        path: png,
        link: "plots/x.png".into(),
        alt: "X".into(),
        figures: vec![],
    };
    let p = page(None, "![X](plots/x.png)\n", &[fig]);
    assert!(p.contains("<img alt=\"X\" src=\"data:image/png;base64,iVBORw==\">"));
    let missing = render(&Input {
        sweep: "s",
        md: "![Y](plots/y.png)\n",
        figures: &[],
        groups: &[],
        runs: &DataFrame::empty(),
        steps: None,
        layers: None,
        comparison: None,
        axes: &[],
        live: None,
    });
    assert!(missing.is_err(), "an image that was not drawn is an error");
}

#[test]
fn long_curves_are_thinned_keeping_their_extremes() {
    let short: Vec<f64> = (0..MAX_POINTS).map(|i| i as f64).collect();
    assert_eq!(thin(&short).len(), MAX_POINTS);
    let mut long: Vec<f64> = (0..100_000).map(|i| 1.0 + (i % 7) as f64).collect();
    long[54_321] = 1e9;
    long[77_777] = f64::NAN;
    let idx = thin(&long);
    assert!(idx.len() <= MAX_POINTS + 2, "{}", idx.len());
    assert!(idx.contains(&54_321), "the spike survives");
    assert!(idx.contains(&0) && idx.contains(&99_999));
    assert!(idx.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(num(f64::NAN), serde_json::Value::Null);
    assert_eq!(num(0.123456789).to_string(), "0.1234568");
    assert_eq!(num(1.0 / 3.0e14).to_string(), "3.333333e-15");
}
