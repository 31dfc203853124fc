"""What the retrieval-augmented bridge costs in training: the `cpu` preset's optimizer step with and without
`model.context_k`, alternated in one process (same seed, same batches), and the one-off context build.

    python benchmarks/context_cost.py WORKDIR [--k 10] [--steps 15]

Prints JSON: the median step seconds of each, their ratio, and the set-up seconds (the context build is in
the context run's set-up). Ratios from one run; the machine's load is the caller's to state.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from perf import load_with_split


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args(argv)

    from biobridge.bridge.train import step_function
    from biobridge.config import preset, with_overrides

    kg, table, split = load_with_split(args.workdir)
    variants = {"plain": {}, f"context_k={args.k}": {"model.context_k": args.k}}
    steps, setup = {}, {}
    for name, overrides in variants.items():
        start = time.perf_counter()
        steps[name] = step_function(kg, split, table, with_overrides(preset("cpu"), overrides), seed=0)
        setup[name] = round(time.perf_counter() - start, 2)
        steps[name]()  # warm-up
    times = {name: [] for name in variants}
    for _ in range(args.steps):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    plain, ctx = median.values()
    print(
        json.dumps(
            {
                "median_step_s": {k: round(v, 4) for k, v in median.items()},
                "step_ratio": round(ctx / plain, 3),
                "setup_s": setup,
                "steps": args.steps,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
