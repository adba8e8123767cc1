//! `resweep list`: the sweeps under a runs directory, with their run counts, status,
//! size on disk and last change.

use super::{bad_input, Exit};
use crate::cli::ListArgs;
use crate::store::{RunStatus, SweepDir};
use crate::sweep::SweepSpec;
use std::path::Path;
use std::time::SystemTime;

/// Bytes and the newest modification time under `path`.
fn size_and_mtime(path: &Path) -> (u64, Option<SystemTime>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, None);
    };
    let mut bytes = if meta.is_file() { meta.len() } else { 0 };
    let mut newest = meta.modified().ok();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            let (b, m) = size_and_mtime(&entry.path());
            bytes += b;
            newest = newest.max(m);
        }
    }
    (bytes, newest)
}

fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < units.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{x:.1} {}", units[u])
    }
}

/// Runs `resweep list`.
pub fn list(a: &ListArgs) -> anyhow::Result<Exit> {
    let root = &a.runs_dir;
    if !root.is_dir() {
        return Err(bad_input(format!(
            "{} does not exist: pass the directory holding your sweeps with --runs-dir (default runs)",
            root.display()
        )));
    }
    let mut names: Vec<String> = std::fs::read_dir(root)?
        .flatten()
        .filter(|e| e.path().join("sweep.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort_by(|x, y| crate::format::natural_cmp(x, y));
    let header: Vec<String> = ["sweep", "runs", "done", "status", "size", "last change"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for name in &names {
        let dir = SweepDir::new(root, name);
        let (bytes, newest) = size_and_mtime(dir.root());
        let changed = newest
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        let (runs, done, status) = match SweepSpec::from_file(&dir.frozen_sweep())
            .ok()
            .and_then(|s| s.expand().ok())
        {
            None => (None, None, "unreadable sweep.toml".to_string()),
            Some(configs) => {
                let mut counts = std::collections::BTreeMap::<&str, usize>::new();
                for c in &configs {
                    let st = dir.run(&c.run_id()).status();
                    let word = match st {
                        RunStatus::Done { .. } => "done",
                        other => other.word(),
                    };
                    *counts.entry(word).or_default() += 1;
                }
                let done = counts.get("done").copied().unwrap_or(0);
                let status = if done == configs.len() {
                    "complete".to_string()
                } else {
                    counts
                        .iter()
                        .filter(|(k, _)| **k != "done")
                        .map(|(k, v)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (Some(configs.len()), Some(done), status)
            }
        };
        let show = |n: Option<usize>| n.map_or("?".into(), |n| n.to_string());
        rows.push(vec![
            name.clone(),
            show(runs),
            show(done),
            status.clone(),
            human_bytes(bytes),
            changed.clone(),
        ]);
        json.push(serde_json::json!({
            "sweep": name, "dir": dir.root().display().to_string(), "runs": runs,
            "done": done, "status": status, "bytes": bytes, "last_change": changed,
        }));
    }
    if a.json {
        crate::dataln!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(Exit::Ok);
    }
    if names.is_empty() {
        crate::outln!("no sweeps in {}", root.display());
        return Ok(Exit::Ok);
    }
    crate::out!("{}", crate::table::aligned(&header, &rows));
    Ok(Exit::Ok)
}
