"""The paper's comparison as data and a thin runner: a benchmark config (TOML presets ``quick`` and
``full`` in ``presets/``, or a user's file) names bridges, hybrids, fusions, KGE models and baselines; one
registry builds each method on a split (bridges are trained through ``biobridge.pipeline``); the runner
evaluates every method on the same queries of every (protocol, seed) split and caches each result;
``aggregate`` and ``report`` turn the results into tables, plots, JSON and the docs section.

    config.py     BenchmarkConfig, BridgeVariant, HybridSpec, FusionSpec; load_benchmark_config
    data.py       the working directory a benchmark trains in (a seeded subset of it, when asked)
    methods.py    the method registry
    runner.py     run_benchmark
    aggregate.py  mean +- std over seeds, averages, relative gains
    report.py     Markdown, CSV, plots, the docs section
"""

from biobridge.benchmark.config import (
    BenchmarkConfig,
    BridgeVariant,
    FusionSpec,
    HybridSpec,
    load_benchmark_config,
)
from biobridge.benchmark.runner import run_benchmark

__all__ = [
    "BenchmarkConfig",
    "BridgeVariant",
    "FusionSpec",
    "HybridSpec",
    "load_benchmark_config",
    "run_benchmark",
]
