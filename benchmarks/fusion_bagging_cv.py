"""Does the bagged choice of a hybrid's weights generalise better than the single best point? Measured inside
the validation queries only (never the test split): repeated 2-fold cross-validation over each task's
validation queries, weights chosen on one half (best grid point + hill-climb, or bagged) and scored on the other.

    python benchmarks/fusion_bagging_cv.py WORKDIR MODEL_DIR [--protocol transductive] [--seed 43]
        [--tasks paper] [--repeats 4] [--bagging 100] [--json OUT.json]

MODEL_DIR: a hybrid run of the `cpu` preset on that split (trained there if missing; `biobridge benchmark`
keeps one per split under OUT/models/PROTOCOL-seedSEED/biobridge-cpu). The validation parts of each task's
weight tuning are captured while the run is tuned again; the CV then reuses them. Queries a gate sets apart
(proteins without a sequence hit) are left out, as their weights are tuned separately.
"""

import argparse
import json
import logging
from pathlib import Path

import numpy as np

import biobridge.baselines.tuned_fusion as tf
from biobridge import pipeline
from biobridge.config import preset, with_overrides
from biobridge.evaluation.ranks import GoldCells
from biobridge.evaluation.tasks import PAPER_TASKS


def capture(workdir: str, model_dir: str, protocol: str, seed: int) -> dict[str, tuple]:
    """Each task's (parts, gold, applicable, usable grid, step, names) of its first weight tuning."""
    captured: dict[str, tuple] = {}
    real_tune, real_silent = tf._tune, tf._silent_rows
    current = {}

    def silent_rows(gate, task, q_nodes, min_group):
        current["task"] = task.name
        return real_silent(gate, task, q_nodes, min_group)

    def tune(parts, gold, applicable, usable, step, names, rows=None, bagging=0, seed=0):
        if current.get("task") not in captured:
            rows_ = np.ones(len(gold), bool) if rows is None else rows
            captured[current["task"]] = (tf._rows(parts, rows_), gold[rows_], applicable, usable, step, names)
        return real_tune(parts, gold, applicable, usable, step, names, rows, bagging, seed)

    tf._tune, tf._silent_rows = tune, silent_rows
    try:
        config = with_overrides(preset("cpu"), {"train.seed": seed})  # as `biobridge benchmark` trains it
        pipeline.train(workdir, config, protocol, seed, out_dir=Path(model_dir), progress=False, reuse=True)
        if not captured:  # reused as tuned: tune again to capture the parts
            (Path(model_dir) / "retriever.json").unlink()
            pipeline.train(
                workdir, config, protocol, seed, out_dir=Path(model_dir), progress=False, resume=True
            )
    finally:
        tf._tune, tf._silent_rows = real_tune, real_silent
    return captured


def held_out_mrr(data: tuple, bagging: int, repeats: int) -> float:
    parts, gold, applicable, usable, step, names = data
    n, out = len(gold), []
    for r in range(repeats):
        order = np.random.default_rng(1000 + r).permutation(n)
        halves = [np.isin(np.arange(n), order[i::2]) for i in (0, 1)]
        rr = []
        for a, b in ((halves[0], halves[1]), (halves[1], halves[0])):
            w = tf._tune(tf._rows(parts, a), gold[a], applicable, usable, step, names, None, bagging, r)[
                "weights"
            ]
            rr.append(1.0 / tf._mixed_ranks(tf._rows(parts, b), w, GoldCells.of(gold[b]))[1])
        out.append(float(np.concatenate(rr).mean()))
    return float(np.mean(out))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/fusion_bagging_cv.py")
    parser.add_argument("workdir")
    parser.add_argument("model_dir")
    parser.add_argument("--protocol", default="transductive")
    parser.add_argument("--seed", type=int, default=43)
    parser.add_argument("--tasks", choices=["paper", "all"], default="paper")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--bagging", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    captured = capture(args.workdir, args.model_dir, args.protocol, args.seed)
    rows = []
    for task, data in sorted(captured.items()):
        if args.tasks == "paper" and task not in {t.name for t in PAPER_TASKS}:
            continue
        single, bagged = held_out_mrr(data, 0, args.repeats), held_out_mrr(data, args.bagging, args.repeats)
        rows.append({"task": task, "queries": len(data[1]), "single_best": single, "bagged": bagged})
        print(
            f"{task:28s} {len(data[1]):5d} single best {single:.4f}  bagged {bagged:.4f}  {bagged - single:+.4f}"
        )
    diff = np.array([r["bagged"] - r["single_best"] for r in rows])
    print(
        f"bagged - single best: mean {diff.mean():+.4f}, higher on {(diff > 1e-9).sum()} of {len(rows)} tasks"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "tasks": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
