"""The full-KG benchmark as run for docs/benchmarks.md on a 2-core CPU, in phases so the most informative
results come first; every (protocol, seed, method) result is cached and the run resumes where it stopped.

    python benchmarks/run_full_cpu.py WORKDIR OUT

Phase 1: the cpu bridge, the hybrid, the fusion and the non-KGE baselines; phase 2: TransE, DistMult, ComplEx,
RotatE; phase 3: the slower TransD/TransR and the reduced paper preset; finally the tables, plots, JSON and the
docs/benchmarks.md section from the cache.
"""

import logging
import sys
from dataclasses import replace

from biobridge.evaluation.benchmark import BridgeVariant, default_config, run_benchmark

CONFIG = replace(
    default_config(),
    bridges=(
        default_config().bridges[0],  # the cpu preset as shipped (2 epochs), 5 % validation heads held back
        BridgeVariant(
            "biobridge-paper",
            "paper",
            {"train.epochs": 1, "train.max_triples_per_epoch": 8192},
            "paper preset REDUCED for CPU: 1 epoch of 8,192 triples (2 steps; the paper: 10 full epochs)",
        ),
    ),
    kge={"embedding_dim": 64, "epochs": 15, "batch_size": 8192, "lr": 1e-2, "num_negs_per_pos": 2},
    tasks="paper",
)
# (methods, seeds): the slow TransD/TransR and the reduced paper preset ran on seed 42 only within the session's
# CPU budget; the tables aggregate every method over the seeds it ran on (listed under each table)
PHASES = [
    (["biobridge-cpu", "biobridge-hybrid", "biobridge-cpu+knn", "popularity", "feature-knn", "graph-context"],
     (42, 43, 44)),
    (["transe", "distmult", "complex", "rotate"], (42, 43, 44)),
    (["transd", "transr", "biobridge-paper"], (42,)),
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
