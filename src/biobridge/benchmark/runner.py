"""The run loop: every method of a config on every (protocol, seed) split, each result cached on disk.

``run_benchmark`` writes, under ``out_dir``::

    runs/<protocol>-seed<seed>/<method>.json   one method on one split: metrics per task, settings, timings
                                               (reused when the split hash and the settings' fingerprint match)
    models/<protocol>-seed<seed>/<bridge>/     the bridges, ordinary run directories (``biobridge.bridge.run``)
    <protocol>.md / .csv / .png                tasks x methods, mean +- std over seeds (``report``)
    benchmark.json                             every setting, seed, version, wall time and aggregated number

and, when ``docs_path`` is given, regenerates the benchmark section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import hash_strings, json_safe, read_json, write_json, write_text
from biobridge.benchmark.aggregate import aggregate
from biobridge.benchmark.config import BenchmarkConfig, load_benchmark_config
from biobridge.benchmark.data import BenchmarkData, load_benchmark_data
from biobridge.benchmark.methods import Method, MethodContext, method_registry
from biobridge.benchmark.report import plot_protocol, protocol_csv, protocol_markdown, write_docs
from biobridge.evaluation.evaluator import evaluate
from biobridge.evaluation.tasks import Task

__all__ = ["run_benchmark"]

log = logging.getLogger(__name__)

RESULT_VERSION = 1


def run_benchmark(
    workdir: str | Path,
    config: BenchmarkConfig | None = None,
    protocols: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    methods: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    docs_path: str | Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or reuse) every method on every (protocol, seed) split and write tables, plots and JSON.

    ``config`` defaults to the ``full`` preset; ``protocols``, ``seeds`` and ``methods`` (names as in
    ``config.method_names``) narrow it. A method's result on a split is reused from ``out_dir/runs`` when the
    split hash and the method's settings match (``force=True`` recomputes the selected methods); reused
    results are reported even when their method is not selected this time. Returns the summary that is also
    written to ``benchmark.json``.
    """
    config, registry, selected = _selection(config, protocols, seeds, methods)
    workdir = Path(workdir)
    out_dir = (
        Path(out_dir)
        if out_dir
        else workdir / ("benchmark" if config.name == "full" else f"benchmark-{config.name}")
    )
    started = time.perf_counter()
    data = load_benchmark_data(workdir, config.max_nodes_per_type, progress)
    tasks = data.tasks(config.tasks)
    runs: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}
    splits_info: dict[str, dict[str, Any]] = {}
    for protocol in config.protocols:
        runs[protocol] = {}
        for seed in config.seeds:
            split, split_dir = data.split(protocol, seed, config.test_fraction)
            splits_info[f"{protocol}-seed{seed}"] = {
                "dir": str(split_dir),
                "hash": split.content_hash(),
                **{k: v for k, v in split.counts().items() if k != "per_relation"},
            }
            ctx = MethodContext(
                data,
                split,
                split_dir,
                seed,
                out_dir / "models" / f"{protocol}-seed{seed}",
                tasks,
                config,
                registry,
                progress,
            )
            runs[protocol][seed] = _run_split(
                ctx, selected, out_dir / "runs" / f"{protocol}-seed{seed}", force
            )
    summary = _summary(config, registry, selected, runs, data, splits_info)
    _write_tables(summary, out_dir, config.candidate_policy)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["seconds_per_run"] = {
        f"{p}-seed{s}": {
            m: {"fit": r["fit_seconds"], "eval": r["eval_seconds"]} for m, r in by_method.items()
        }
        for p, by_seed in runs.items()
        for s, by_method in by_seed.items()
    }
    write_json(out_dir / "benchmark.json", json_safe(summary))
    if docs_path:
        write_docs(summary, out_dir, Path(docs_path))
    log.info("benchmark written to %s (%.0f s)", out_dir, summary["wall_seconds"])
    summary["out_dir"] = str(out_dir)
    return summary


def _selection(config, protocols, seeds, methods) -> tuple[BenchmarkConfig, dict[str, Method], list[str]]:
    """The config narrowed to ``protocols`` and ``seeds``, its method registry and the selected methods
    (checked; PyKEEN required when a KGE model is selected)."""
    config = config or load_benchmark_config("full")
    if protocols is not None:
        config = replace(config, protocols=tuple(protocols))
    if seeds is not None:
        config = replace(config, seeds=tuple(int(s) for s in seeds))
    registry = method_registry(config)
    selected = list(methods) if methods else list(registry)
    bad = [m for m in selected if m not in registry]
    if bad:
        raise ValueError(f"unknown methods {bad}; known: {list(registry)}")
    if any(registry[m].kind == "kge" for m in selected):
        from biobridge.baselines.kge import require_pykeen

        require_pykeen()
    if config.num_threads:
        import torch

        torch.set_num_threads(config.num_threads)
    return config, registry, selected


def _write_tables(summary: dict[str, Any], out_dir: Path, candidate_policy: str) -> None:
    for protocol, agg in summary["protocols"].items():
        write_text(out_dir / f"{protocol}.md", protocol_markdown(protocol, agg, candidate_policy))
        write_text(out_dir / f"{protocol}.csv", protocol_csv(agg))
        plot_protocol(protocol, agg, out_dir / f"{protocol}.png")


def _fingerprint(method: Method, config: BenchmarkConfig, tasks: list[Task], data: BenchmarkData) -> str:
    """Identity of a result: the method's settings, the candidate policy, the tasks and the data it read (the
    nodes with embeddings decide queries and candidates for every method; the embeddings themselves matter to
    every method but popularity and the KG embeddings)."""
    payload = {
        "data": data.identity(embeddings=method.kind != "kge" and method.name != "popularity"),
        "settings": method.settings,
        "policy": config.candidate_policy,
        "tasks": [t.name for t in tasks],
    }
    return hash_strings([json.dumps(payload, sort_keys=True, default=str)])[:16]


def _run_split(
    ctx: MethodContext, selected: list[str], runs_dir: Path, force: bool
) -> dict[str, dict[str, Any]]:
    """Method -> result record on one split: reused from ``runs_dir`` or computed (and written) when
    selected."""
    records: dict[str, dict[str, Any]] = {}
    for name, method in ctx.registry.items():
        path = runs_dir / f"{name}.json"
        fingerprint = _fingerprint(method, ctx.config, ctx.tasks, ctx.data)
        if path.exists() and not (force and name in selected):
            saved = read_json(path)
            if (
                saved.get("split_hash") == ctx.split.content_hash()
                and saved.get("fingerprint") == fingerprint
            ):
                log.info("reusing %s", path)
                records[name] = saved
                continue
        if name not in selected:
            continue
        log.info("== %s seed %d: %s", ctx.split.protocol, ctx.seed, name)
        record = _run_method(ctx, method)
        record["fingerprint"] = fingerprint
        write_json(path, json_safe(record))
        records[name] = record
    return records


def _run_method(ctx: MethodContext, method: Method) -> dict[str, Any]:
    started = time.perf_counter()
    scorer, details = ctx.build(method.name)
    fit_seconds = time.perf_counter() - started
    eval_start = time.perf_counter()
    table = ctx.data.table
    result = evaluate(
        ctx.data.kg,
        ctx.split,
        [scorer],
        tasks=ctx.tasks,
        candidate_policy=ctx.config.candidate_policy,
        scorable=table.has_embedding(np.arange(ctx.data.kg.num_nodes)),
    )
    eval_seconds = time.perf_counter() - eval_start
    if method.kind == "kge" and getattr(scorer, "n_unseen_queries", 0):
        details["n_unseen_queries_scored_as_ties"] = int(scorer.n_unseen_queries)
    return {
        "version": RESULT_VERSION,
        "method": method.name,
        "kind": method.kind,
        "protocol": ctx.split.protocol,
        "seed": int(ctx.seed),
        "split_hash": ctx.split.content_hash(),
        "settings": method.settings,
        "details": details,
        "fit_seconds": round(fit_seconds, 2),
        "eval_seconds": round(eval_seconds, 2),
        "evaluation": json.loads(json.dumps(result.to_dict(), default=str)),
    }


def _summary(config, registry, selected, runs, data: BenchmarkData, splits_info) -> dict[str, Any]:
    reported = [m for m in registry if any(m in r for p in runs.values() for r in p.values())]
    kinds = {m: registry[m].kind for m in registry}
    notes = {b.name: b.note for b in config.bridges}
    summary = {
        "format": "biobridge-benchmark",
        "version": RESULT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": _command_line(config, selected, list(registry)),
        "config": config.to_dict(),
        "methods": reported,
        "data": data.info,
        "splits": splits_info,
        "versions": _versions(),
        "machine": _machine(),
        "protocols": {},
    }
    for protocol in config.protocols:
        present = [m for m in reported if any(m in r for r in runs[protocol].values())]
        summary["protocols"][protocol] = aggregate(runs[protocol], present, kinds, notes)
    return summary


def _command_line(config: BenchmarkConfig, methods: Sequence[str], all_methods: list[str]) -> str:
    parts = ["biobridge benchmark"]
    if config.name == "quick":
        parts.append("--quick")
    elif config.name != "full":
        parts.append(f"--config {config.name}")
    parts += [f"--protocol {p}" for p in config.protocols]
    parts += [f"--seed {s}" for s in config.seeds]
    if list(methods) != all_methods:
        parts += [f"--method {m}" for m in methods]
    return " ".join(parts)


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("biobridge", "torch", "numpy", "scipy", "pykeen", "faiss-cpu"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
