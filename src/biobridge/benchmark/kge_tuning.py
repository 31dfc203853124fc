"""A fair tuning budget for the KG-embedding baselines: each PyKEEN model's settings are chosen on the
validation heads of one split (``kge_search_split``, by default transductive seed 42), never on test queries.

The candidates are the config's ``kge`` settings plus ``kge_search_samples`` points drawn (seeded) from the
grid ``kge_search`` (lists of values per ``KGESettings`` field, e.g. embedding_dim, epochs, lr,
num_negs_per_pos). Each is trained on the validation split's training part and scored by its mean MRR over the
benchmark's tasks on the validation heads; the best is used for every protocol and seed. The search is cached
in ``<out>/kge_tuning/<model>.json`` (every candidate's settings, validation MRR and training time), written
after each candidate, so an interrupted search resumes with the candidates it has not finished.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from biobridge.artifacts import json_safe, read_json, write_json
from biobridge.benchmark.config import BenchmarkConfig
from biobridge.benchmark.data import BenchmarkData
from biobridge.evaluation.evaluator import evaluate
from biobridge.kg.split import load_or_create_validation_split

__all__ = ["search_candidates", "tuned_kge_settings"]

log = logging.getLogger(__name__)

VALIDATION_FRACTION = 0.05


def search_candidates(config: BenchmarkConfig, model: str) -> list[dict[str, Any]]:
    """The config's KGE settings, then ``kge_search_samples`` distinct grid points (seeded); the settings alone
    for a model in ``kge_search_skip``."""
    base = dict(config.kge)
    if not searched(config, model):
        return [base]
    keys = sorted(config.kge_search)
    grid = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(config.kge_search[k] for k in keys))
    ]
    grid = [{**base, **point} for point in grid if {**base, **point} != base]
    rng = np.random.Generator(np.random.PCG64(0))
    picked = rng.choice(len(grid), size=min(config.kge_search_samples, len(grid)), replace=False)
    return [base] + [grid[i] for i in sorted(picked)]


def searched(config: BenchmarkConfig, model: str) -> bool:
    """Whether ``model``'s settings are chosen by the search (else the config's ``kge`` settings are used)."""
    return bool(config.kge_search and config.kge_search_samples and model not in config.kge_search_skip)


def tuned_kge_settings(
    data: BenchmarkData, config: BenchmarkConfig, model: str, tasks, out_dir: Path
) -> dict:
    """The settings of ``model`` for this benchmark: the best search candidate (see the module docstring)."""
    candidates = search_candidates(config, model)
    if len(candidates) == 1:
        return candidates[0]
    path = Path(out_dir) / "kge_tuning" / f"{model.lower()}.json"
    protocol, seed = config.kge_search_split
    split, split_dir = data.split(protocol, int(seed), config.test_fraction)
    validation, _ = load_or_create_validation_split(data.kg, split, split_dir, VALIDATION_FRACTION)
    validation_hash = validation.content_hash()
    # the search is resumable: every finished candidate is written at once and reused by a later run
    done = _finished_candidates(path, validation_hash)
    from biobridge.baselines.kge import KGEScorer, KGESettings

    for settings in candidates:
        if _key(settings) in done:
            continue
        started = time.perf_counter()
        scorer = KGEScorer(
            data.kg,
            validation,
            KGESettings(model=model, seed=int(seed), num_threads=config.num_threads, **settings),
            name=model.lower(),
        )
        result = evaluate(
            data.kg,
            validation,
            [scorer],
            tasks=tasks,
            candidate_policy=config.candidate_policy,
            scorable=data.table.has_embedding(np.arange(data.kg.num_nodes)),
        )
        mrrs = [t["methods"][model.lower()].get("mrr") for t in result.tasks.values()]
        mrr = (
            float(np.mean([m for m in mrrs if m is not None]))
            if any(m is not None for m in mrrs)
            else float("nan")
        )
        done[_key(settings)] = json_safe(
            {"settings": settings, "validation_mrr": mrr, "seconds": round(time.perf_counter() - started, 1)}
        )
        log.info("kge tuning %s %s: validation MRR %.4f", model, settings, mrr)
        _write_search(path, model, (protocol, seed), validation_hash, candidates, done, None)
    tried = [done[_key(c)] for c in candidates]
    best = max(tried, key=lambda t: -1.0 if np.isnan(t["validation_mrr"]) else t["validation_mrr"])[
        "settings"
    ]
    _write_search(path, model, (protocol, seed), validation_hash, candidates, done, best)
    return best


def _key(settings: dict) -> str:
    return json.dumps(json_safe(settings), sort_keys=True)


def _finished_candidates(path: Path, validation_hash: str) -> dict[str, dict]:
    """The candidates already tried on this validation split (from ``path``), by settings."""
    if not path.exists():
        return {}
    saved = read_json(path)
    if saved.get("validation_hash") != validation_hash:
        return {}
    return {_key(t["settings"]): t for t in saved.get("tried", [])}


def _write_search(path, model, split, validation_hash, candidates, done, best) -> None:
    write_json(
        path,
        json_safe(
            {
                "model": model,
                "split": list(split),
                "validation_hash": validation_hash,
                "validation_fraction": VALIDATION_FRACTION,
                "candidates_settings": candidates,
                "tried": [done[_key(c)] for c in candidates if _key(c) in done],
                "best": best,
            }
        ),
    )
