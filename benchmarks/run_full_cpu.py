"""The full-KG benchmark as run for docs/benchmarks.md on a 2-core CPU, in phases so the most informative
results come first; every (protocol, seed, method) result is cached and the run resumes where it stopped.

    python benchmarks/run_full_cpu.py WORKDIR OUT

Phase 1: the cpu bridge, the hybrid, the fusion and the non-KGE baselines; phase 2: TransE, DistMult, ComplEx,
RotatE; finally the tables, plots, JSON and the docs/benchmarks.md section from the cache.
"""

import logging
import sys
from pathlib import Path

from biobridge.benchmark import load_benchmark_config, run_benchmark

CONFIG = load_benchmark_config(Path(__file__).with_name("full_cpu.toml"))
# (methods, seeds); TransD / TransR were left out of the full-KG run (kge_models above) to fit the session's
# CPU budget
PHASES = [
    (
        [
            "biobridge-cpu",
            "biobridge-hybrid",
            "biobridge-cpu+knn",
            "popularity",
            "feature-knn",
            "graph-context",
        ],
        (42, 43, 44),
    ),
    (["transe", "distmult", "complex", "rotate"], (42, 43, 44)),
]

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    workdir, out = sys.argv[1], sys.argv[2]
    for methods, seeds in PHASES:
        for seed in seeds:
            for protocol in ("transductive", "inductive", "paper"):
                run_benchmark(
                    workdir, protocols=[protocol], seeds=[seed], config=CONFIG, out_dir=out, methods=methods
                )
    run_benchmark(workdir, config=CONFIG, out_dir=out, methods=["popularity"], docs_path="docs/benchmarks.md")
