"""Aggregation of per-(seed, method) results into one protocol's table: mean +- sample std over seeds per
task, averages over tasks (per seed, then over seeds), statuses, timings and the bridges' relative gains.

``runs`` maps seed -> method -> the record ``biobridge.benchmark.runner`` writes (its ``evaluation`` is an
``EvaluationResult.to_dict()``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biobridge.evaluation.tasks import PAPER_TASKS

__all__ = ["aggregate", "relative_gains"]

Runs = dict[int, dict[str, dict[str, Any]]]
METRICS = ("mrr", "hits@10")


def _mean_std(values: list[float]) -> dict[str, Any]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(np.mean(vals)), "std": std, "n": len(vals)}


def aggregate(
    runs: Runs, methods: Sequence[str], kinds: dict[str, str], notes: dict[str, str] | None = None
) -> dict[str, Any]:
    """The aggregated table of one protocol (see the module docstring). ``kinds``: method -> kind (bridge,
    hybrid, fusion, kge, baseline); ``notes``: method -> what was reduced."""
    seeds = sorted(runs)
    seeds_of = {m: [s for s in seeds if m in runs[s]] for m in methods}
    task_counts = _task_counts(runs, seeds, methods)
    per_task = {
        name: {"counts": counts, "methods": {m: _task_entry(runs, seeds_of[m], m, name) for m in methods}}
        for name, counts in task_counts.items()
    }
    scored = [
        n
        for n in task_counts
        if task_counts[n]["n_queries"] > 0
        and all(per_task[n]["methods"][m]["status"] in ("ok", "not_applicable") for m in methods)
    ]
    paper_names = {t.name for t in PAPER_TASKS}
    groups = {"all": scored, "paper": [n for n in scored if n in paper_names]}
    agg = {
        "seeds": seeds,
        "methods": list(methods),
        "tasks": per_task,
        "averages": {g: _averages(runs, seeds_of, methods, per_task, names) for g, names in groups.items()},
        "kinds": {m: kinds[m] for m in methods},
        "seeds_per_method": seeds_of,
    }
    agg["gains"] = relative_gains(agg)
    agg["notes"] = {m: note for m, note in (notes or {}).items() if m in methods and note}
    agg["timings_s"] = {
        m: {
            "fit": _mean_std([runs[s][m]["fit_seconds"] for s in seeds_of[m]]),
            "eval": _mean_std([runs[s][m]["eval_seconds"] for s in seeds_of[m]]),
        }
        for m in methods
    }
    return agg


def _task_counts(runs: Runs, seeds: list[int], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Task name -> its query and candidate counts, in the order tasks first appear."""
    counts: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        for method in methods:
            for name, t in runs[seed].get(method, {}).get("evaluation", {}).get("tasks", {}).items():
                counts.setdefault(
                    name, {"n_queries": t["counts"]["n_queries"], "n_candidates": t["counts"]["n_candidates"]}
                )
    return counts


def _task_entry(runs: Runs, seeds: list[int], method: str, task: str) -> dict[str, Any]:
    entries = [
        runs[s][method]["evaluation"]["tasks"].get(task, {}).get("methods", {}).get(method, {}) for s in seeds
    ]
    statuses = {e.get("status", "missing") for e in entries}
    if statuses == {"ok"}:
        status = "ok"
    else:
        status = "not_applicable" if "not_applicable" in statuses else "/".join(sorted(statuses))
    ok = [e for e in entries if e.get("status") == "ok"]
    return {
        "status": status,
        **{key: _mean_std([e.get(key) for e in ok]) for key in METRICS},
        "per_seed_mrr": [e.get("mrr") for e in entries],
    }


def _averages(runs: Runs, seeds_of, methods, per_task, names: list[str]) -> dict[str, Any]:
    """Per method: the mean over ``names`` of each seed's metric, then mean +- std over seeds."""
    out: dict[str, Any] = {"tasks": names}
    for method in methods:
        if not names or any(per_task[n]["methods"][method]["status"] != "ok" for n in names):
            out[method] = {"status": "not_applicable", **{key: _mean_std([]) for key in METRICS}}
            continue
        entry: dict[str, Any] = {"status": "ok"}
        for key in METRICS:
            per_seed = [
                float(
                    np.mean(
                        [runs[s][method]["evaluation"]["tasks"][n]["methods"][method][key] for n in names]
                    )
                )
                for s in seeds_of[method]
            ]
            entry[key] = _mean_std(per_seed)
            entry[f"per_seed_{key}"] = per_seed
        out[method] = entry
    return out


def relative_gains(agg: dict[str, Any]) -> dict[str, Any]:
    """For each bridge, hybrid and fusion: (its average MRR - the best baseline's) / the best baseline's,
    against the best KGE model and against the best non-KGE baseline, on the averages over all tasks and over
    the paper's tasks; plus the tasks where it beats popularity and feature-kNN, and every non-KGE baseline."""
    kinds = agg["kinds"]
    out: dict[str, Any] = {}
    for bridge in [m for m, k in kinds.items() if k in ("bridge", "fusion", "hybrid")]:
        out[bridge] = {group: _gain(avg, bridge, kinds) for group, avg in agg["averages"].items()}
        for label, names in (
            ("non_kge", [o for o, k in kinds.items() if k == "baseline"]),
            ("knn_and_popularity", [o for o in ("popularity", "feature-knn") if o in kinds]),
        ):
            wins, losses = [], []
            for name, t in agg["tasks"].items():
                m = t["methods"]
                b = m[bridge]["mrr"]["mean"]
                others = [m[o]["mrr"]["mean"] for o in names if m[o]["status"] == "ok"]
                if b is None or not others:
                    continue
                (wins if b > max(others) else losses).append(name)
            out[bridge][f"beats_{label}_on"] = wins
            out[bridge][f"loses_to_{label}_on"] = losses
    return out


def _gain(avg: dict[str, Any], bridge: str, kinds: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    b = avg.get(bridge, {}).get("mrr", {}).get("mean")
    for label, kind in (("kge", "kge"), ("non_kge", "baseline")):
        cands = {
            m: avg[m]["mrr"]["mean"]
            for m, k in kinds.items()
            if k == kind and avg.get(m, {}).get("status") == "ok"
        }
        if b is None or not cands:
            entry[f"best_{label}"] = None
            entry[f"gain_over_best_{label}"] = None
            continue
        best = max(cands, key=cands.get)
        entry[f"best_{label}"] = best
        entry[f"best_{label}_mrr"] = cands[best]
        entry[f"gain_over_best_{label}"] = (b - cands[best]) / cands[best] if cands[best] > 0 else None
    entry["bridge_mrr"] = b
    return entry
