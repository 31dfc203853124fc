"""The measured runs of docs/applications.md, one step at a time:

    python benchmarks/applications.py STEP --workdir W [--epochs N --threads T ...]

Steps: ``train`` (the bridge, WORKDIR/model), ``train-minus`` (without ``indication``,
WORKDIR/model_minus_indication), ``similarity``, ``unseen``, ``design``. Results: WORKDIR/applications/.
"""

import argparse
import json
import logging
import time
from pathlib import Path

from biobridge import pipeline
from biobridge.applications.design_evaluation import heldout_design_experiment
from biobridge.applications.similarity import similarity_benchmark
from biobridge.applications.unseen_relation import train_without_relation, unseen_relation_experiment
from biobridge.artifacts import write_json
from biobridge.config import preset, with_overrides
from biobridge.retrieval.bridge import Bridge


def run_step(args) -> object:
    wd = pipeline.Workdir(args.workdir)
    config = with_overrides(preset("cpu"), {"train.epochs": args.epochs, "train.num_threads": args.threads})
    if args.step == "train":
        return pipeline.train(wd.root, config, progress=False, reuse=True).training
    if args.step == "train-minus":
        return train_without_relation(wd.root, config, "indication", progress=False, reuse=True).training
    if args.step == "similarity":
        loaded = pipeline.load_run(wd.root)
        return similarity_benchmark(
            loaded.kg, loaded.split, loaded.table, loaded.model, n_pairs=args.n_pairs, seed=args.seed
        )
    if args.step == "unseen":
        result = unseen_relation_experiment(wd.root, wd.root / "model_minus_indication", wd.model)
        result.to_json(wd.root / "applications" / "unseen_relation_metrics.json")
        print(result.to_markdown())
        return {"table": result.format_table(), "markdown": result.to_markdown()}
    bridge = Bridge.from_pretrained(wd.root / "model_minus_indication")
    return heldout_design_experiment(
        bridge,
        n_diseases=args.n_diseases,
        seed=args.seed,
        n=30,
        n_brics=1000,
        n_mutations=300,
        time_budget_s=20,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/applications.py")
    parser.add_argument("step", choices=["train", "train-minus", "similarity", "unseen", "design"])
    parser.add_argument("--workdir", "-w", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-pairs", type=int, default=5000)
    parser.add_argument("--n-diseases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    result = run_step(args)
    summary = {"step": args.step, "seconds": round(time.perf_counter() - started, 1), "result": result}
    write_json(Path(args.workdir) / "applications" / f"{args.step}.json", summary)
    print(json.dumps(summary, indent=2, default=str)[:6000])


if __name__ == "__main__":
    main()
