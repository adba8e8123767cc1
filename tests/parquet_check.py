#!/usr/bin/env python3
"""Independent check of resweep's parquet tables with pyarrow (not polars).

Usage: python3 tests/parquet_check.py runs/<sweep>

Reads tables/{runs,steps,layers,summary}.parquet with pyarrow, checks their schemas, and
cross-checks every value against the run directories' own files (result.json,
steps.jsonl, layers.jsonl). Prints one line per table and exits non-zero on any mismatch.
"""
import datetime
import json
import math
import pathlib
import sys

import pyarrow.parquet as pq


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def main(sweep_dir):
    root = pathlib.Path(sweep_dir)
    tables = {n: pq.read_table(root / "tables" / f"{n}.parquet") for n in ("runs", "steps", "layers", "summary")}
    errors = []

    runs = tables["runs"].to_pylist()
    expect_types = {"run_id": "string", "sweep": "string", "depth": "int64", "residual": "bool",
                    "init_scale": "double", "seed": "int64", "momentum": "double",
                    "final_eval_loss": "double", "init_hash": "string",
                    "finished_at": "timestamp[us, tz=UTC]"}
    schema = {f.name: str(f.type) for f in tables["runs"].schema}
    for col, ty in expect_types.items():
        if schema.get(col) not in (ty, "large_string" if ty == "string" else ty):
            errors.append(f"runs.{col}: type {schema.get(col)}, expected {ty}")
    sweep_name = root.name  # runs/<name>: the directory is the sweep's name

    for row in runs:
        result = json.loads((root / "runs" / row["run_id"] / "result.json").read_text())
        cfg, m = result["config"], result["metrics"]
        for key in ("depth", "width", "residual", "seed", "batch_size", "steps"):
            if row[key] != cfg[key]:
                errors.append(f"{row['run_id']}: {key} {row[key]} != {cfg[key]}")
        for key in ("initial_train_loss", "final_eval_loss", "best_eval_loss", "grad_norm_first_init"):
            if not same(row[key], m.get(key)):
                errors.append(f"{row['run_id']}: {key} {row[key]} != {m.get(key)}")
        for key in ("init_hash", "data_hash"):
            if row[key] != result["fingerprints"][key]:
                errors.append(f"{row['run_id']}: {key} differs")
        # Settings that do not apply are null: momentum means nothing to Adam.
        want_momentum = cfg["momentum"] if cfg["optimizer"] == "sgd" else None
        if not same(row["momentum"], want_momentum):
            errors.append(f"{row['run_id']}: momentum {row['momentum']}, expected {want_momentum}")
        if row["sweep"] != sweep_name:
            errors.append(f"{row['run_id']}: sweep {row['sweep']!r}, expected {sweep_name!r}")
        finished = datetime.datetime.fromisoformat(result["finished_at"].replace("Z", "+00:00"))
        if row["finished_at"] != finished:
            errors.append(f"{row['run_id']}: finished_at {row['finished_at']} != {finished}")

    by_run = {}
    for s in tables["steps"].to_pylist():
        by_run.setdefault(s["run_id"], []).append(s)
    n_steps = 0
    for run_id, rows in by_run.items():
        lines = [json.loads(l) for l in (root / "runs" / run_id / "steps.jsonl").read_text().splitlines()]
        if len(lines) != len(rows):
            errors.append(f"{run_id}: {len(rows)} step rows, {len(lines)} lines")
            continue
        for r, l in zip(rows, lines):
            n_steps += 1
            if r["step"] != l["step"] or not same(r["train_loss"], l.get("train_loss")) or not same(r["eval_loss"], l.get("eval_loss")):
                errors.append(f"{run_id} step {l['step']}: {r} != {l}")
                break

    n_layers = 0
    layers = {}
    for s in tables["layers"].to_pylist():
        layers.setdefault(s["run_id"], []).append(s)
    for run_id, rows in layers.items():
        lines = [json.loads(l) for l in (root / "runs" / run_id / "layers.jsonl").read_text().splitlines()]
        for r, l in zip(rows, lines):
            n_layers += 1
            if any(not same(r[k], l[k]) for k in l):
                errors.append(f"{run_id} layer row {l}: {r}")
                break

    summary = tables["summary"].to_pylist()
    for s in summary:
        if s["n"] < 1 or not (s["min"] <= s["mean"] <= s["max"] or math.isnan(s["mean"])):
            errors.append(f"summary row inconsistent: {s}")

    print(f"runs: {len(runs)} rows, steps: {n_steps} rows, layers: {n_layers} rows, summary: {len(summary)} rows (pyarrow {__import__('pyarrow').__version__})")
    for e in errors[:20]:
        print("MISMATCH", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
