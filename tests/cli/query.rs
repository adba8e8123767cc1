//! `resweep query` in SQL's words: refused statements, clashing names, syntax errors and
//! a missing query are one line and exit code 2; unaliased expressions are named as
//! written; the README's join examples run; results without ORDER BY come in natural
//! order.

use crate::util::*;

fn finished() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("sql", 20, 2));
    ok(run_in(dir.path(), &["run", "s.toml", "-q"]));
    dir
}

fn csv(dir: &std::path::Path, sql: &str) -> String {
    ok(run_in(dir, &["query", "runs/sql", sql, "--format", "csv"]))
}

#[test]
fn bad_queries_are_one_line_in_sql_words_and_exit_2() {
    let dir = finished();
    let before = std::fs::read(dir.path().join("runs/sql/tables/runs.parquet")).unwrap();
    for (args, expect) in [
        (vec!["query", "runs/sql", "DROP TABLE runs"], "DROP TABLE changes data and is refused"),
        (vec!["query", "runs/sql", "INSERT INTO runs VALUES (1)"], "INSERT INTO changes data"),
        (vec!["query", "runs/sql", "DELETE FROM steps"], "DELETE FROM changes data"),
        (vec!["query", "runs/sql", "CREATE TABLE t AS SELECT 1"], "CREATE TABLE changes data"),
        (vec!["query", "runs/sql", "SHOW TABLES"], "SHOW TABLES is not supported"),
        (
            vec!["query", "runs/sql", "SELECT depth, depth FROM runs"],
            "two result columns are named `depth` (select items 1 and 2): give one another name with AS",
        ),
        (
            vec!["query", "runs/sql", "SELEC * FROM runs"],
            "syntax error at line 1, column 1: expected an SQL statement, found SELEC",
        ),
        (vec!["query", "runs/sql", "SELECT 1; DROP TABLE runs"], "2 statements"),
        (
            vec!["query", "runs/sql", "SELECT seed FROM runs HAVING seed > 1"],
            "HAVING clause not valid outside of GROUP BY",
        ),
        (vec!["query", "runs/sql"], "missing SQL after `runs/sql`"),
        (vec!["query"], "missing SQL: e.g. resweep query \"SELECT"),
    ] {
        let o = run_in(dir.path(), &args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        for dump in ["Ident {", "CompoundIdentifier", ".alias(", "Expected:"] {
            assert!(!err.contains(dump), "{args:?}: {err}");
        }
    }
    let after = std::fs::read(dir.path().join("runs/sql/tables/runs.parquet")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn result_columns_are_named_as_sql_writes_them() {
    let dir = finished();
    let out = csv(
        dir.path(),
        "SELECT residual, avg(final_eval_loss), count(*), max(seed) + 1 FROM runs GROUP BY residual ORDER BY avg(final_eval_loss) DESC",
    );
    assert_eq!(
        out.lines().next(),
        Some("residual,avg(final_eval_loss),count(*),max(seed) + 1")
    );
    assert_eq!(out.lines().count(), 3);
    // Two qualified columns of one name keep their qualifiers.
    let out = csv(
        dir.path(),
        "SELECT r.seed, s.step AS seed2, r.run_id FROM runs r JOIN steps s USING (run_id) WHERE s.step = 0 ORDER BY r.run_id",
    );
    assert_eq!(out.lines().next(), Some("seed,seed2,run_id"));
    let out = csv(
        dir.path(),
        "SELECT a.seed, b.seed FROM runs a JOIN runs b USING (run_id) ORDER BY a.run_id LIMIT 1",
    );
    assert_eq!(out.lines().next(), Some("a.seed,b.seed"));
}

#[test]
fn the_readmes_join_examples_run() {
    let dir = finished();
    // Loss curve per arm: steps joined with runs.
    let out = csv(
        dir.path(),
        "SELECT r.residual, s.step, avg(s.train_loss) AS loss FROM steps s JOIN runs r USING (run_id) GROUP BY r.residual, s.step ORDER BY r.residual, s.step",
    );
    assert_eq!(out.lines().count(), 1 + 2 * 21, "{out}");
    // Gradient at layer 1 at init, per arm: layers joined with runs, filtered.
    let out = csv(
        dir.path(),
        "SELECT r.residual, avg(l.grad_norm) AS grad FROM layers l JOIN runs r ON l.run_id = r.run_id WHERE l.layer = 1 AND l.step = 0 GROUP BY r.residual ORDER BY r.residual",
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    // Paired seeds: the two arms of a seed side by side.
    let out = csv(
        dir.path(),
        "SELECT p.seed, p.final_eval_loss AS plain, q.final_eval_loss AS res FROM runs p JOIN runs q ON p.seed = q.seed WHERE NOT p.residual AND q.residual ORDER BY p.seed",
    );
    assert_eq!(out.lines().next(), Some("seed,plain,res"));
    assert_eq!(out.lines().count(), 3, "{out}");
    // The summary table, filtered.
    let out = csv(
        dir.path(),
        "SELECT residual, mean, ci_low, ci_high FROM summary WHERE metric = 'final_eval_loss' ORDER BY residual",
    );
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn results_without_order_by_come_in_natural_order() {
    let dir = tempfile::tempdir().unwrap();
    // Depths listed out of order, so neither the grid nor text order is natural order.
    sweep_file(
        dir.path(),
        "s.toml",
        r#"name = "sql"
[model]
width = 8
[train]
batch_size = 16
steps = 10
[task]
eval_size = 32
[probe]
eval_every = 10
probe_every = 10
[grid]
depth = [24, 4, 12]
residual = [false, true]
seed = { start = 0, count = 2 }
"#,
    );
    ok(run_in(dir.path(), &["run", "s.toml", "-q"]));
    let rows = |sql: &str| -> Vec<Vec<String>> {
        csv(dir.path(), sql)
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let col = |rows: &[Vec<String>], i: usize| -> Vec<String> {
        rows.iter().map(|r| r[i].clone()).collect()
    };
    let numbers = |v: &[String]| -> Vec<i64> { v.iter().map(|s| s.parse().unwrap()).collect() };
    // A plain SELECT keeps the table's order: runs by id, digits compared as numbers.
    let plain = rows("SELECT depth, residual, seed, run_id FROM runs");
    assert_eq!(plain.len(), 12);
    let ids = col(&plain, 3);
    let mut natural = ids.clone();
    natural.sort_by(|a, b| resweep::format::natural_cmp(a, b));
    assert_eq!(ids, natural);
    let depths = numbers(&col(&plain, 0));
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");
    // Grouped and distinct rows have no order of their own: natural order, every time
    // (polars hands groups back in whatever order its threads finish).
    for _ in 0..5 {
        let grouped = rows("SELECT depth, avg(final_eval_loss), count(*) FROM runs GROUP BY depth");
        assert_eq!(numbers(&col(&grouped, 0)), [4, 12, 24]);
        let two = rows("SELECT residual, depth, count(*) FROM runs GROUP BY residual, depth");
        let keys: Vec<(String, i64)> = two
            .iter()
            .map(|r| (r[0].clone(), r[1].parse().unwrap()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by_key(|(res, d)| (res == "true", *d));
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 6);
        let distinct = rows("SELECT DISTINCT run_id FROM steps");
        assert_eq!(col(&distinct, 0), ids);
    }
    // ORDER BY is the user's: untouched.
    let desc = rows("SELECT depth, count(*) FROM runs GROUP BY depth ORDER BY depth DESC");
    assert_eq!(numbers(&col(&desc, 0)), [24, 12, 4]);
}
