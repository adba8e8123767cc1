#!/usr/bin/env python3
"""Independent check of resweep's parquet tables with pyarrow (not polars).

Usage: python3 tests/parquet_check.py runs/<sweep>

Reads tables/{runs,steps,layers,summary}.parquet and the probe tables
(probes, probe_layers, lesions, spectrum, shatter, autocorr) with pyarrow, checks their
schemas, and cross-checks every value against the run directories' own files
(result.json, steps.jsonl, layers.jsonl, probes.json), recomputing the derived probe
columns (quantiles, ratios, the line's t) independently; and tables/landscape.parquet,
when `resweep landscape` wrote it, against the slice files in landscape/. Prints one
line per table and exits non-zero on any mismatch.
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
            if r["step"] != l["step"] or any(not same(r[k], l.get(k)) for k in ("train_loss", "eval_loss", "eval_offset", "eval_input_dependent")):
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
            # The activity histogram is one list in layers.jsonl, ten columns in the table.
            for k, v in enumerate(l.pop("activity", None) or [None] * 10):
                l[f"activity_{k}"] = v
            if any(not same(r[k], l.get(k)) for k in r if k != "run_id"):
                errors.append(f"{run_id} layer row {l}: {r}")
                break

    summary = tables["summary"].to_pylist()
    for s in summary:
        if s["n"] < 1 or not (s["min"] <= s["mean"] <= s["max"] or math.isnan(s["mean"])):
            errors.append(f"summary row inconsistent: {s}")

    n_probe = check_probes(root, errors)

    print(f"probes: {n_probe} rows checked across the six probe tables")
    print(f"runs: {len(runs)} rows, steps: {n_steps} rows, layers: {n_layers} rows, summary: {len(summary)} rows (pyarrow {__import__('pyarrow').__version__})")

    # landscape.parquet (written by `resweep landscape`, when it was run): every slice's
    # grid points against its slice file.
    landscape = root / "tables" / "landscape.parquet"
    if landscape.is_file():
        table = pq.read_table(landscape)
        types = {f.name: str(f.type) for f in table.schema}
        for col, ty in {"run_id": "string", "when": "string", "i": "int64", "j": "int64",
                        "a": "double", "b": "double", "loss": "double"}.items():
            if types.get(col) not in (ty, "large_string" if ty == "string" else ty, "string_view" if ty == "string" else ty):
                errors.append(f"landscape.{col}: type {types.get(col)}, expected {ty}")
        slices = {}
        for r in table.to_pylist():
            slices.setdefault((r["run_id"], r["when"]), []).append(r)
        for (run_id, when), rows in slices.items():
            s = json.loads((root / "landscape" / f"{run_id}.{when}.json").read_text())
            grid = s["grid"]
            if len(rows) != grid * grid:
                errors.append(f"landscape {run_id} {when}: {len(rows)} rows, grid {grid}")
                continue
            for r in rows:
                if not same(r["loss"], s["loss"][r["j"] * grid + r["i"]]):
                    errors.append(f"landscape {run_id} {when} ({r['i']}, {r['j']}): {r['loss']} != slice file")
                    break
        print(f"landscape: {table.num_rows} rows, {len(slices)} slices")
    for e in errors[:20]:
        print("MISMATCH", e)
    return 1 if errors else 0


def close(a, b, rel=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def quantile(sorted_values, q):
    """numpy's default (linear) quantile of ascending values."""
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def check_probes(root, errors):
    """The probe tables against each run's probes.json; returns the rows checked."""
    names = ("probes", "probe_layers", "lesions", "spectrum", "shatter", "autocorr")
    rows = {}
    for n in names:
        for r in pq.read_table(root / "tables" / f"{n}.parquet").to_pylist():
            rows.setdefault((n, r["run_id"], r["when"]), []).append(r)
    checked = 0
    for run_dir in sorted((root / "runs").iterdir()):
        path = run_dir / "probes.json"
        if not (run_dir / "result.json").exists() or not path.exists():
            continue
        probes = json.loads(path.read_text())
        for when in ("init", "final"):
            snap = probes.get(when)
            key = lambda n: rows.get((n, run_dir.name, when), [])
            if snap is None:
                if any(key(n) for n in names):
                    errors.append(f"{run_dir.name} {when}: rows for a missing snapshot")
                continue
            jac, les = snap["jacobian"], snap["lesions"]
            (p,) = key("probes") or [None]
            if p is None:
                errors.append(f"{run_dir.name} {when}: no probes row")
                continue
            sv = sorted(jac["singular_values"])
            want = {"step": snap["step"], "jac_min": sv[0], "jac_max": sv[-1],
                    "jac_q10": quantile(sv, 0.1), "jac_q50": quantile(sv, 0.5), "jac_q90": quantile(sv, 0.9),
                    "jac_effective_rank": jac["effective_rank"], "jac_numerical_rank": jac["numerical_rank"],
                    "jac_mean_log": jac["mean_log"], "intact_loss": les["intact"],
                    "shatter_lag1": snap["shatter"]["autocorr"][0]}
            if les["intact"] > 0:
                want["lesion_mean_ratio"] = sum(les["single"]) / len(les["single"]) / les["intact"]
            for k, v in want.items():
                if not close(p[k], v, 1e-9):
                    errors.append(f"{run_dir.name} {when}: probes.{k} {p[k]} != {v}")
            for r in key("probe_layers"):
                l = r["layer"] - 1
                ratio = les["single"][l] / les["intact"] if les["intact"] > 0 else None
                if not (close(r["lesion_loss"], les["single"][l]) and close(r["partial_gain"], jac["partial_gain"][l])
                        and close(r["branch_ratio"], snap["branch_ratio"][l]) and close(r["lesion_ratio"], ratio)):
                    errors.append(f"{run_dir.name} {when} layer {l + 1}: {r}")
            if len(key("probe_layers")) != len(les["single"]):
                errors.append(f"{run_dir.name} {when}: {len(key('probe_layers'))} probe_layers rows")
            for r, want_r in zip(key("lesions"), les["random"]):
                if r["k"] != want_r["k"] or r["layers"] != ",".join(map(str, want_r["layers"])) or not close(r["loss"], want_r["loss"]):
                    errors.append(f"{run_dir.name} {when} lesion k={want_r['k']}: {r}")
            spec = key("spectrum")
            if [r["singular_value"] for r in spec] != jac["singular_values"]:
                errors.append(f"{run_dir.name} {when}: spectrum rows differ")
            g = snap["shatter"]["gradient"]
            sh = key("shatter")
            if [r["gradient"] for r in sh] != g or any(not close(r["t"], -1 + 2 * r["point"] / (len(g) - 1)) for r in sh):
                errors.append(f"{run_dir.name} {when}: shatter rows differ")
            if [r["autocorr"] for r in key("autocorr")] != snap["shatter"]["autocorr"]:
                errors.append(f"{run_dir.name} {when}: autocorr rows differ")
            checked += sum(len(key(n)) for n in names)
    return checked


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
