"""The full-KG benchmark as run for docs/benchmarks.md on a shared 2-core CPU, with the reductions stated
in the generated tables: one (protocol, seed) slice at a time, cached and resumable.

    python benchmarks/run_full_cpu.py WORKDIR OUT [SEEDS...]
"""

import logging
import sys
from dataclasses import replace

from biobridge.evaluation.benchmark import BridgeVariant, default_config, run_benchmark

CPU_TRIPLES = 20_000
CONFIG = replace(
    default_config(),
    bridges=(
        BridgeVariant(
            "biobridge-cpu",
            "cpu",
            {"train.max_triples_per_epoch": CPU_TRIPLES},
            f"cpu preset REDUCED: 3 epochs of {CPU_TRIPLES:,} sampled training triples each",
        ),
        BridgeVariant(
            "biobridge-paper",
            "paper",
            {"train.epochs": 1, "train.max_triples_per_epoch": 8192},
            "paper preset REDUCED for CPU: 1 epoch of 8,192 triples (2 steps; the paper: 10 full epochs)",
        ),
    ),
    kge_models=("TransE", "RotatE"),
    kge={"embedding_dim": 64, "epochs": 2, "batch_size": 8192, "lr": 1e-2, "num_negs_per_pos": 2},
    tasks="paper",
)
MAIN = ["biobridge-cpu", "biobridge-cpu+knn", "transe", "rotate", "popularity", "feature-knn"]

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    workdir, out = sys.argv[1], sys.argv[2]
    seeds = [int(s) for s in sys.argv[3:]] or [42, 43, 44]
    what = "main"
    if seeds and seeds[0] < 0:  # -1: the paper preset on seed 42 only
        what, seeds = "paper-preset", [42]
    for seed in seeds:
        for protocol in ("transductive", "paper", "inductive"):
            run_benchmark(
                workdir,
                protocols=[protocol],
                seeds=[seed],
                config=CONFIG,
                out_dir=out,
                methods=MAIN if what == "main" else ["biobridge-paper"],
            )
