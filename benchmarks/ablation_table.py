"""The ablation table of docs/benchmarks.md from the result records of ``benchmarks/ablations.sh``:

    python benchmarks/ablation_table.py OUT/runs/inductive-seed42

One row per method: MRR on the 8 paper tasks and their mean; for a bridge, its training cost as the number of
triples it trained on (deterministic) and the seconds it took (noisy: the machine's load); for a hybrid, the
seconds its weights took to tune on the validation heads."""

import json
import sys
from pathlib import Path

from biobridge.evaluation.tasks import PAPER_TASKS


def cost(record: dict) -> str:
    details = record["details"]
    if record["kind"] == "hybrid":
        return f"tuning {details['tuning_seconds']:.0f} s"
    if record["kind"] != "bridge":
        return ""
    training = details["training"]
    batch = details["run_config"]["train"]["batch_size"]
    return f"{training['steps'] * batch / 1e3:,.0f}k triples, {training['seconds']:.0f} s"


def main(runs_dir: Path) -> None:
    names = [t.name for t in PAPER_TASKS]
    print("| method | " + " | ".join(names) + " | mean | cost |")
    print("|---|" + "---:|" * (len(names) + 1) + "---|")
    for path in sorted(runs_dir.glob("*.json")):
        record = json.loads(path.read_text())
        method, tasks = record["method"], record["evaluation"]["tasks"]
        vals = [
            tasks[n]["methods"][method].get("mrr") if tasks[n]["methods"][method]["status"] == "ok" else None
            for n in names
        ]
        mean = f"{sum(vals) / len(vals):.3f}" if all(v is not None for v in vals) else "n/a"
        cells = ["n/a" if v is None else f"{v:.3f}" for v in vals]
        print(f"| {method} | " + " | ".join(cells) + f" | {mean} | {cost(record)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
