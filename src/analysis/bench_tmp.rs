use crate::analysis::testutil;
use rayon::prelude::*;

#[test]
#[ignore]
fn gen_big() {
    let root = std::path::PathBuf::from("/tmp/resweep-bench");
    let toml = "name = \"big\"\n[model]\ndepth = 20\nwidth = 64\n[train]\nsteps = 1000\n[probe]\neval_every = 50\nprobe_every = 50\n[grid]\nresidual = [false, true]\nseed = { start = 0, count = 5000 }\n";
    let spec = crate::sweep::SweepSpec::parse(toml, "t").unwrap();
    let dir = crate::store::SweepDir::new(&root, "big");
    std::fs::create_dir_all(dir.root()).unwrap();
    std::fs::write(dir.frozen_sweep(), toml).unwrap();
    let configs = spec.expand().unwrap();
    configs.par_iter().for_each(|c| {
        testutil::write_complete(&dir, c, None);
    });
}

#[test]
#[ignore]
fn collect_big() {
    let dir = crate::store::SweepDir::open(std::path::Path::new("/tmp/resweep-bench/big")).unwrap();
    let t = std::time::Instant::now();
    let c = crate::analysis::collect(&dir).unwrap();
    eprintln!(
        "collect: {:?} runs {} steps {} layers {}",
        t.elapsed(),
        c.complete(),
        c.steps_rows,
        c.layers_rows
    );
    let t = std::time::Instant::now();
    let df = crate::analysis::query(&dir, "SELECT r.residual, avg(s.train_loss) AS m FROM steps s JOIN runs r USING (run_id) WHERE s.step = 500 GROUP BY r.residual").unwrap();
    eprintln!("query: {:?} {df}", t.elapsed());
}
