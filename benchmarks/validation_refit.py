"""How much validation to hold out for the hybrid's weights, and does retraining the bridge on every training head
afterwards ("refit") help? Test MRR of the 8 paper tasks, per (protocol, seed), for hybrids tuned on two benchmark
outputs (each OUT holds a `biobridge benchmark` run of the `cpu` hybrid under OUT/models/PROTOCOL-seedSEED/
biobridge-cpu, trained without its validation heads), each scored twice: with its own bridge, and with a bridge of
the same preset and seed trained on the whole training split (`retriever.kind = "bridge"`; trained once per split
under REFIT_DIR, reused when present) in its place, the tuned weights and votes unchanged.

    python benchmarks/validation_refit.py WORKDIR OUT_A OUT_B REFIT_DIR transductive:43 inductive:42 ...
        [--json RESULT.json]

Session 17 ran it with OUT_A the 5 % benchmark output and OUT_B the same config with the bridge's
`retriever.validation_fraction = 0.1` (docs/benchmarks.md, status). Nothing here is tuned on test: the script
only reads the test MRR of settings fixed beforehand.
"""

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from biobridge import pipeline
from biobridge.benchmark.data import load_benchmark_data
from biobridge.bridge.run import TrainedRun
from biobridge.config import preset, with_overrides
from biobridge.evaluation.evaluator import evaluate
from biobridge.retrieval.retriever import build_retriever


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("out_a", type=Path)
    parser.add_argument("out_b", type=Path)
    parser.add_argument("refit_dir", type=Path)
    parser.add_argument("runs", nargs="+", help="PROTOCOL:SEED")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = load_benchmark_data(args.workdir, None, False)
    tasks = data.tasks("paper")
    scorable = data.table.has_embedding(np.arange(data.kg.num_nodes))
    result: dict[str, dict] = {}
    for item in args.runs:
        protocol, seed = item.split(":")
        split, split_dir = data.split(protocol, int(seed), 0.1)
        config = with_overrides(preset("cpu"), {"train.seed": int(seed), "retriever.kind": "bridge"})
        refit = pipeline.train(
            data.workdir.root,
            config,
            split_dir=split_dir,
            out_dir=args.refit_dir / f"{protocol}-seed{seed}",
            progress=False,
            reuse=True,
        ).load_model()
        rows = {}
        for out in (args.out_a, args.out_b):
            tuned = TrainedRun.open(out / "models" / f"{protocol}-seed{seed}" / "biobridge-cpu")
            for label, model in (("own bridge", tuned.load_model()), ("refit bridge", refit)):
                scorer = build_retriever(tuned, model, data.kg, split, data.table, data.store)
                scorer.name = f"{out.name}, {label}"
                res = evaluate(data.kg, split, [scorer], tasks=tasks, scorable=scorable)
                rows[scorer.name] = {t.name: res.tasks[t.name]["methods"][scorer.name]["mrr"] for t in tasks}
        result[item] = rows
        print(item, json.dumps(rows), flush=True)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
