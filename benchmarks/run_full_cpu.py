"""The full-KG benchmark as run for docs/benchmarks.md on a 2-core CPU, in phases so the most informative
results come first; every (protocol, seed, method) result is cached and the run resumes where it stopped.

    python benchmarks/run_full_cpu.py WORKDIR OUT

Phase 1: the cpu bridge, its hybrid (the shipped retriever) and the model-free baselines, 3 protocols x 3 seeds;
phase 2: RotatE, DistMult, TransE, ComplEx, TransD (each one's settings tuned on transductive seed 42's validation heads) and TransR (base settings) under
the transductive protocol, the one where a KGE model sees the test heads; finally the tables, plots, JSON and the docs/benchmarks.md
section from the cache.
"""

import logging
import sys
from pathlib import Path

from biobridge.benchmark import load_benchmark_config, run_benchmark

CONFIG = load_benchmark_config(Path(__file__).with_name("full_cpu.toml"))
# (methods, protocols)
PHASES = [
    (
        [
            "biobridge-cpu",
            "biobridge-hybrid",
            "homology-knn",
            "tanimoto-knn",
            "feature-knn",
            "graph-context",
            "popularity",
        ],
        ("transductive", "inductive", "paper"),
    ),
    (["rotate", "distmult", "transe", "complex", "transd", "transr"], ("transductive",)),
]

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    workdir, out = sys.argv[1], sys.argv[2]
    for methods, protocols in PHASES:
        for seed in (42, 43, 44):
            for protocol in protocols:
                run_benchmark(
                    workdir, protocols=[protocol], seeds=[seed], config=CONFIG, out_dir=out, methods=methods
                )
    run_benchmark(workdir, config=CONFIG, out_dir=out, methods=["popularity"], docs_path="docs/benchmarks.md")
